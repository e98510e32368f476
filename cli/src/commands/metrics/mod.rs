//! `agora metrics …` and `agora alerts …`: the dashboard's data for
//! scripts and terminals.
//!
//! Exit status (docs/CLI.md): 0 done, 1 nothing to show (no history for
//! the metric, no rules, no transitions), 2 an error, 130 a `watch`
//! stopped by Ctrl-C. `print` holds the JSON shape of each thing and its
//! text form.

pub mod args;
mod print;

use std::io::IsTerminal as _;

use agora_wire::metrics::METRICS_TOPIC;
use agora_wire::{Client, Event, MetricsOp, MetricsReply, Op, Reply};
use anyhow::Context as _;
use serde_json::json;

use crate::credentials::Store;
use crate::output;
use crate::session;
use args::{AlertsCommand, MetricsCommand, SortBy, parse_condition};

/// Connects with the saved sign-in.
async fn connect(addr: &str) -> anyhow::Result<Client> {
    let token = Store::load()?
        .token_for(addr)
        .with_context(|| format!("not signed in on {addr}: run `agora login NAME` first"))?;
    let (client, _) = session::connect(addr, Some(token)).await?;
    Ok(client)
}

async fn ask(client: &Client, addr: &str, op: MetricsOp) -> anyhow::Result<Reply> {
    client
        .request(Op::from(op))
        .await
        .map_err(|e| session::explain(addr, e, true))
}

fn unexpected(addr: &str) -> anyhow::Error {
    anyhow::anyhow!("{addr}: unexpected reply")
}

fn nothing_if(empty: bool) -> u8 {
    u8::from(empty)
}

/// Runs one `agora metrics` subcommand.
pub async fn run(addr: &str, cmd: MetricsCommand, json: bool) -> anyhow::Result<u8> {
    let client = connect(addr).await?;
    match cmd {
        MetricsCommand::Now => {
            let Reply::Metrics(MetricsReply::Sample { sample }) =
                ask(&client, addr, MetricsOp::Now).await?
            else {
                return Err(unexpected(addr));
            };
            if json {
                output::json(&print::sample(&sample))?;
            } else {
                print!("{}", print::now_text(&sample));
            }
            Ok(0)
        }
        MetricsCommand::History {
            metric,
            since,
            step,
            csv,
        } => {
            anyhow::ensure!(!(csv && json), "--csv and --json: pick one");
            let to_ms = now_ms();
            let since_ms = since.as_millis() as u64;
            let step_ms = step.map_or((since_ms / 60).max(1000), |s| s.as_millis() as u64);
            anyhow::ensure!(
                step_ms >= 1000,
                "--step must be at least 1s (it is {step_ms}ms)"
            );
            anyhow::ensure!(
                since_ms / step_ms <= 10_000,
                "--since over --step is more than 10,000 points: use a larger --step"
            );
            let Reply::Metrics(MetricsReply::Series {
                metric,
                step_ms,
                points,
            }) = ask(
                &client,
                addr,
                MetricsOp::Range {
                    metric,
                    from_ms: to_ms.saturating_sub(since_ms),
                    to_ms,
                    step_ms,
                },
            )
            .await?
            else {
                return Err(unexpected(addr));
            };
            if json {
                output::json(&json!({
                    "metric": metric,
                    "step_ms": step_ms,
                    "points": points.iter().map(print::point).collect::<Vec<_>>(),
                }))?;
            } else if csv {
                print!("{}", print::points_csv(&points));
            } else if !points.is_empty() {
                print!("{}", print::points_text(&metric, &points));
            } else if std::io::stderr().is_terminal() {
                eprintln!(
                    "no history for {metric} in that range (see `agora metrics now` for the names)"
                );
            }
            Ok(nothing_if(points.is_empty()))
        }
        MetricsCommand::Kill { pid, signal } => {
            let op = MetricsOp::Signal {
                pid,
                signal: signal.to_owned(),
            };
            let Reply::Base(agora_wire::BaseReply::Done) = ask(&client, addr, op).await? else {
                return Err(unexpected(addr));
            };
            if json {
                output::json(&json!({ "pid": pid, "signal": signal, "sent": true }))?;
            } else {
                println!("sent SIG{signal} to {pid}");
            }
            Ok(0)
        }
        MetricsCommand::Top { sort, limit } => {
            let Reply::Metrics(MetricsReply::Sample { sample }) =
                ask(&client, addr, MetricsOp::Now).await?
            else {
                return Err(unexpected(addr));
            };
            let mut procs = sample.processes;
            match sort {
                SortBy::Cpu => procs.sort_by(|a, b| b.cpu_pct.total_cmp(&a.cpu_pct)),
                SortBy::Mem => procs.sort_by_key(|p| std::cmp::Reverse(p.rss_bytes)),
                SortBy::Pid => procs.sort_by_key(|p| p.pid),
                SortBy::Name => procs.sort_by(|a, b| a.name.cmp(&b.name)),
            }
            procs.truncate(limit as usize);
            if json {
                output::json(&json!({
                    "processes": procs.iter().map(print::process).collect::<Vec<_>>()
                }))?;
            } else if !procs.is_empty() {
                print!("{}", print::top_text(&procs));
            }
            Ok(nothing_if(procs.is_empty()))
        }
        MetricsCommand::Watch => {
            let pushes = client.pushes().await.context("push stream already taken")?;
            ask(&client, addr, MetricsOp::Watch { view: "cli".into() }).await?;
            session::follow(addr, &client, pushes, |push| {
                if push.topic != METRICS_TOPIC {
                    return Ok(None);
                }
                let Event::Metrics(event) = push.event else {
                    return Ok(None);
                };
                Ok(if json {
                    Some(print::event_json(&event).to_string())
                } else {
                    print::event_text(&event)
                })
            })
            .await
        }
    }
}

/// Runs one `agora alerts` subcommand.
pub async fn alerts(addr: &str, cmd: AlertsCommand, json: bool) -> anyhow::Result<u8> {
    // Bad input is refused before connecting.
    let add = match &cmd {
        AlertsCommand::Add { condition, .. } => {
            Some(parse_condition(condition).map_err(|e| anyhow::anyhow!("CONDITION: {e}"))?)
        }
        _ => None,
    };
    let client = connect(addr).await?;
    match cmd {
        AlertsCommand::List => {
            let Reply::Metrics(MetricsReply::Alerts { alerts }) =
                ask(&client, addr, MetricsOp::AlertList).await?
            else {
                return Err(unexpected(addr));
            };
            if json {
                output::json(&json!({
                    "alerts": alerts.iter().map(print::alert).collect::<Vec<_>>()
                }))?;
            } else if !alerts.is_empty() {
                for a in &alerts {
                    println!("{}", print::alert_text(a));
                }
            } else if std::io::stderr().is_terminal() {
                eprintln!("no alert rules; add one with `agora alerts add NAME 'cpu.total > 90'`");
            }
            Ok(nothing_if(alerts.is_empty()))
        }
        AlertsCommand::Add {
            name,
            for_,
            severity,
            ..
        } => {
            let (metric, op, threshold) = add.expect("parsed above");
            let Reply::Metrics(MetricsReply::Alert { alert }) = ask(
                &client,
                addr,
                MetricsOp::AlertAdd {
                    name,
                    metric,
                    op,
                    threshold,
                    for_ms: for_.as_millis() as u64,
                    severity: severity.name().into(),
                },
            )
            .await?
            else {
                return Err(unexpected(addr));
            };
            if json {
                output::json(&print::alert(&alert))?;
            } else {
                println!("added {}", print::alert_text(&alert));
            }
            Ok(0)
        }
        AlertsCommand::Rm { name } => {
            ask(&client, addr, MetricsOp::AlertRm { name: name.clone() }).await?;
            if json {
                output::json(&json!({ "name": name, "removed": true }))?;
            } else {
                println!("removed {name}");
            }
            Ok(0)
        }
        AlertsCommand::Silence { name, for_ } => {
            let Reply::Metrics(MetricsReply::Alert { alert }) = ask(
                &client,
                addr,
                MetricsOp::AlertSilence {
                    name,
                    for_ms: for_.as_millis() as u64,
                },
            )
            .await?
            else {
                return Err(unexpected(addr));
            };
            if json {
                output::json(&print::alert(&alert))?;
            } else {
                println!("{}", print::alert_text(&alert));
            }
            Ok(0)
        }
        AlertsCommand::History { name, limit } => {
            let Reply::Metrics(MetricsReply::History { transitions }) = ask(
                &client,
                addr,
                MetricsOp::AlertHistory {
                    name,
                    limit: Some(limit),
                },
            )
            .await?
            else {
                return Err(unexpected(addr));
            };
            if json {
                output::json(&json!({
                    "transitions": transitions.iter().map(print::transition).collect::<Vec<_>>()
                }))?;
            } else {
                for t in &transitions {
                    println!("{}", print::transition_text(t));
                }
            }
            Ok(nothing_if(transitions.is_empty()))
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
