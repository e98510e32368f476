//! `agora jobs …`: the background job queue from the command line —
//! enqueue, inspect, steer, watch, and work a queue with any program.
//!
//! Exit status (docs/CLI.md): 0 done, 1 nothing to report (no jobs, no
//! such job, no dead jobs to retry, no recurring jobs), 2 an error (bad
//! values, unknown queues, a refused action), 130 interrupted (`watch`,
//! `work`). `print` holds the JSON shape of each thing and its text form;
//! `work` runs commands per job.

pub mod args;
mod print;
mod work;

use std::io::IsTerminal as _;

use agora_wire::jobs::{JOBS_TOPIC, JobState, NewCron, NewJob};
use agora_wire::{BaseOp, Client, ErrorCode, Event, JobsEvent, JobsOp, JobsReply, Op, Reply};
use anyhow::Context as _;
use serde_json::json;

use args::{CronCommand, EnqueueArgs, JobsCommand, TargetArgs};

use crate::credentials::Store;
use crate::output;
use crate::session;

/// Runs one jobs subcommand.
pub async fn run(addr: &str, cmd: JobsCommand, json: bool) -> anyhow::Result<u8> {
    // Arguments are read (and checked) before connecting.
    let enqueue = match &cmd {
        JobsCommand::Enqueue(args) => Some(new_job(args)?),
        _ => None,
    };
    let token = Store::load()?
        .token_for(addr)
        .with_context(|| format!("not signed in on {addr}: run `agora login NAME` first"))?;
    let (client, _) = session::connect(addr, Some(token.clone())).await?;
    let jobs = Jobs { addr, client };
    match cmd {
        JobsCommand::Enqueue(_) => {
            let job = enqueue.context("no job")?;
            let JobsReply::Enqueued { ids, existing } =
                jobs.ask(JobsOp::Enqueue { jobs: vec![job] }).await?
            else {
                return Err(jobs.unexpected());
            };
            let id = ids.first().copied().context("no id in the answer")?;
            let existed = existing.contains(&id);
            if json {
                output::json(&json!({ "id": id, "existing": existed }))?;
            } else {
                println!("{id}");
                if existed && std::io::stderr().is_terminal() {
                    eprintln!("(a job with that unique key was already waiting or running)");
                }
            }
        }
        JobsCommand::List(args) => {
            let state = args.state.as_deref().and_then(JobState::parse);
            return jobs
                .list(state, args.queue, args.kind, args.limit, json)
                .await;
        }
        JobsCommand::Dead { queue, limit } => {
            return jobs
                .list(Some(JobState::Dead), queue, None, limit, json)
                .await;
        }
        JobsCommand::Show { id } => {
            return jobs.one(JobsOp::Get { id }, json, print::job_text).await;
        }
        JobsCommand::Cancel { id } => {
            return jobs
                .one(JobsOp::Cancel { id }, json, |j| {
                    format!("cancelled job {} ({})\n", j.id, j.kind)
                })
                .await;
        }
        JobsCommand::Retry(target) => {
            let op = JobsOp::Retry {
                id: target.id,
                all_dead: target.all_dead,
                queue: target.queue.clone(),
            };
            return jobs.count(op, &target, "retried", json).await;
        }
        JobsCommand::Discard(target) => {
            let op = JobsOp::Discard {
                id: target.id,
                all_dead: target.all_dead,
                queue: target.queue.clone(),
            };
            return jobs.count(op, &target, "discarded", json).await;
        }
        JobsCommand::Stats => {
            let JobsReply::Stats { states, queues } = jobs.ask(JobsOp::Stats).await? else {
                return Err(jobs.unexpected());
            };
            if json {
                let list: Vec<_> = queues.iter().map(print::queue).collect();
                output::json(&json!({ "states": print::states(&states), "queues": list }))?;
            } else {
                println!("{}", print::states_text(&states));
                if !queues.is_empty() {
                    println!();
                    print!("{}", print::queues_text(&queues));
                }
            }
        }
        JobsCommand::Queues => {
            let JobsReply::Stats { queues, .. } = jobs.ask(JobsOp::Stats).await? else {
                return Err(jobs.unexpected());
            };
            if json {
                let list: Vec<_> = queues.iter().map(print::queue).collect();
                output::json(&json!({ "queues": list }))?;
            } else if !queues.is_empty() {
                print!("{}", print::queues_text(&queues));
            } else if std::io::stderr().is_terminal() {
                eprintln!(
                    "no queues yet: a queue appears with its first job (agora jobs enqueue KIND --queue NAME)"
                );
            }
            return Ok(u8::from(queues.is_empty()));
        }
        JobsCommand::Pause { queue } => {
            return jobs
                .queue_set(queue, Some(true), None, None, json, "paused")
                .await;
        }
        JobsCommand::Resume { queue } => {
            return jobs
                .queue_set(queue, Some(false), None, None, json, "resumed")
                .await;
        }
        JobsCommand::Limit {
            queue,
            concurrency,
            rate,
        } => {
            return jobs
                .queue_set(queue, None, concurrency, rate, json, "limited")
                .await;
        }
        JobsCommand::Watch { queue } => return jobs.watch(queue, json).await,
        JobsCommand::Work(args) => return work::run(addr, token, jobs.client, args, json).await,
        JobsCommand::Cron(cmd) => return jobs.cron(cmd, json).await,
    }
    Ok(0)
}

/// A job from `enqueue`'s flags.
fn new_job(args: &EnqueueArgs) -> anyhow::Result<NewJob> {
    Ok(NewJob {
        kind: args.kind.clone(),
        queue: Some(args.queue.clone()),
        args: args.args.as_deref().map(read_json).transpose()?,
        priority: Some(args.priority),
        run_at_ms: args.at,
        delay_ms: args.delay.map(|d| d.as_millis() as u64),
        max_attempts: Some(args.max_attempts),
        unique_key: args.unique_key.clone(),
        timeout_ms: args.timeout.map(|d| d.as_millis() as u64),
        tags: args.tags.clone(),
    })
}

/// `--args`: JSON text, `@FILE`, or `@-` for standard input; checked here
/// so a typo is refused before anything is sent.
fn read_json(arg: &str) -> anyhow::Result<String> {
    let text = match arg.strip_prefix('@') {
        Some("-") => String::from_utf8(crate::stdin::read_piped(
            "--args @- reads standard input, which is a terminal; pipe the JSON in",
        )?)
        .context("--args: standard input is not UTF-8")?,
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("--args: cannot read {path}"))?
        }
        None => arg.to_owned(),
    };
    if text.len() > agora_wire::jobs::MAX_ARGS {
        anyhow::bail!(
            "--args is {} bytes; the limit is 1 MiB ({} bytes)",
            text.len(),
            agora_wire::jobs::MAX_ARGS
        );
    }
    serde_json::from_str::<serde::de::IgnoredAny>(&text)
        .map_err(|err| anyhow::anyhow!("--args is not valid JSON: {err}"))?;
    Ok(text)
}

/// A connection and the daemon's address, for messages.
struct Jobs<'a> {
    addr: &'a str,
    client: Client,
}

impl Jobs<'_> {
    async fn ask(&self, op: JobsOp) -> anyhow::Result<JobsReply> {
        match self.request(op.into()).await? {
            Reply::Jobs(reply) => Ok(reply),
            Reply::Base(agora_wire::BaseReply::Done) => Ok(JobsReply::Count { count: 0 }),
            _ => Err(self.unexpected()),
        }
    }

    async fn request(&self, op: Op) -> anyhow::Result<Reply> {
        self.client
            .request(op)
            .await
            .map_err(|e| session::explain(self.addr, e, true))
    }

    /// Like `ask`, but "not found" is `None` (exit 1), not an error.
    async fn ask_found(&self, op: JobsOp) -> anyhow::Result<Option<JobsReply>> {
        match self.client.request(op).await {
            Ok(Reply::Jobs(reply)) => Ok(Some(reply)),
            Ok(Reply::Base(agora_wire::BaseReply::Done)) => Ok(Some(JobsReply::Count { count: 1 })),
            Ok(_) => Err(self.unexpected()),
            Err(agora_wire::Error::Server(body)) if body.code == ErrorCode::NotFound => {
                if std::io::stderr().is_terminal() {
                    eprintln!("{}", body.message);
                }
                Ok(None)
            }
            Err(e) => Err(session::explain(self.addr, e, true)),
        }
    }

    fn unexpected(&self) -> anyhow::Error {
        anyhow::anyhow!("{}: unexpected reply", self.addr)
    }

    async fn list(
        &self,
        state: Option<JobState>,
        queue: Option<String>,
        kind: Option<String>,
        limit: u32,
        json: bool,
    ) -> anyhow::Result<u8> {
        let JobsReply::List { jobs, more } = self
            .ask(JobsOp::List {
                state,
                queue,
                kind,
                before: None,
                limit: Some(limit),
            })
            .await?
        else {
            return Err(self.unexpected());
        };
        if json {
            let list: Vec<_> = jobs.iter().map(print::job).collect();
            output::json(&json!({ "jobs": list, "more": more }))?;
        } else if !jobs.is_empty() {
            print!("{}", print::jobs_text(&jobs));
            if more && std::io::stderr().is_terminal() {
                eprintln!("(more jobs match: raise --limit to see them)");
            }
        }
        Ok(u8::from(jobs.is_empty()))
    }

    /// A command answered with one job (`show`, `cancel`): `null` and exit
    /// 1 when there is no such job.
    async fn one(
        &self,
        op: JobsOp,
        json: bool,
        text: impl Fn(&agora_wire::jobs::Job) -> String,
    ) -> anyhow::Result<u8> {
        let Some(reply) = self.ask_found(op).await? else {
            if json {
                output::json(&serde_json::Value::Null)?;
            }
            return Ok(1);
        };
        let JobsReply::Job { job } = reply else {
            return Err(self.unexpected());
        };
        if json {
            output::json(&print::job(&job))?;
        } else {
            print!("{}", text(&job));
        }
        Ok(0)
    }

    /// `retry` and `discard`: how many jobs; exit 1 when none (no such
    /// job, or no dead jobs).
    async fn count(
        &self,
        op: JobsOp,
        target: &TargetArgs,
        verb: &str,
        json: bool,
    ) -> anyhow::Result<u8> {
        let count = match self.ask_found(op).await? {
            Some(JobsReply::Count { count }) => count,
            Some(_) => return Err(self.unexpected()),
            None => 0,
        };
        if json {
            output::json(&json!({ verb: count }))?;
        } else if count > 0 {
            println!("{verb} {}", output::count(count as usize, "job", "jobs"));
        } else if target.all_dead && std::io::stderr().is_terminal() {
            eprintln!("no dead jobs");
        }
        Ok(u8::from(count == 0))
    }

    async fn queue_set(
        &self,
        queue: String,
        paused: Option<bool>,
        concurrency: Option<u32>,
        rate: Option<u32>,
        json: bool,
        verb: &str,
    ) -> anyhow::Result<u8> {
        let JobsReply::Queue { queue } = self
            .ask(JobsOp::QueueSet {
                queue,
                paused,
                concurrency,
                rate,
            })
            .await?
        else {
            return Err(self.unexpected());
        };
        if json {
            output::json(&print::queue(&queue))?;
        } else {
            let limit = |n: u32| {
                if n == 0 {
                    "none".to_owned()
                } else {
                    n.to_string()
                }
            };
            println!(
                "{verb} queue {}: {}, concurrency {}, rate {}/s",
                queue.name,
                if queue.paused { "paused" } else { "running" },
                limit(queue.concurrency),
                limit(queue.rate)
            );
        }
        Ok(0)
    }

    async fn cron(&self, cmd: CronCommand, json: bool) -> anyhow::Result<u8> {
        match cmd {
            CronCommand::Add {
                name,
                expr,
                kind,
                queue,
                args,
                priority,
                max_attempts,
                timeout,
                catch_up,
            } => {
                let job = NewJob {
                    kind,
                    queue: Some(queue),
                    args: args.as_deref().map(read_json).transpose()?,
                    priority: Some(priority),
                    max_attempts: Some(max_attempts),
                    timeout_ms: timeout.map(|d| d.as_millis() as u64),
                    ..NewJob::default()
                };
                let JobsReply::Cron { cron } = self
                    .ask(JobsOp::CronAdd {
                        cron: NewCron {
                            name,
                            expr,
                            job,
                            catch_up,
                        },
                    })
                    .await?
                else {
                    return Err(self.unexpected());
                };
                if json {
                    output::json(&print::cron(&cron))?;
                } else {
                    println!(
                        "added {}: next run at {} UTC",
                        cron.name,
                        print::time(cron.next_run_ms)
                    );
                }
                Ok(0)
            }
            CronCommand::List => {
                let JobsReply::Crons { crons } = self.ask(JobsOp::CronList).await? else {
                    return Err(self.unexpected());
                };
                if json {
                    let list: Vec<_> = crons.iter().map(print::cron).collect();
                    output::json(&json!({ "crons": list }))?;
                } else if !crons.is_empty() {
                    print!("{}", print::crons_text(&crons));
                }
                Ok(u8::from(crons.is_empty()))
            }
            CronCommand::Rm { name } => {
                let removed = self
                    .ask_found(JobsOp::CronRemove { name: name.clone() })
                    .await?
                    .is_some();
                if json {
                    output::json(&json!({ "name": name, "removed": removed }))?;
                } else if removed {
                    println!("removed {name}");
                }
                Ok(u8::from(!removed))
            }
        }
    }

    /// Prints state changes until Ctrl-C; with --json one object per line,
    /// each with a `type` (`change` or `queue`).
    async fn watch(&self, queue: Option<String>, json: bool) -> anyhow::Result<u8> {
        if let Some(q) = &queue {
            // An unknown queue is refused now, not silently never shown.
            self.ask(JobsOp::List {
                state: None,
                queue: Some(q.clone()),
                kind: None,
                before: None,
                limit: Some(1),
            })
            .await?;
        }
        let pushes = self
            .client
            .pushes()
            .await
            .context("push stream already taken")?;
        self.request(
            BaseOp::Subscribe {
                topics: vec![JOBS_TOPIC.into()],
            }
            .into(),
        )
        .await?;
        let queue = queue.map(|q| q.to_ascii_lowercase());
        session::follow(self.addr, &self.client, pushes, |push| {
            let Event::Jobs(event) = push.event else {
                return Ok(None);
            };
            let lines: Vec<String> = match event {
                JobsEvent::Changed { changes } => changes
                    .iter()
                    .filter(|c| queue.as_ref().is_none_or(|q| *q == c.queue))
                    .map(|c| {
                        if json {
                            print::change_line(c).to_string()
                        } else {
                            print::change_text(c)
                        }
                    })
                    .collect(),
                JobsEvent::Queue { queue: info } => {
                    if queue.as_ref().is_some_and(|q| *q != info.name) {
                        return Ok(None);
                    }
                    vec![if json {
                        json!({ "type": "queue", "queue": print::queue(&info) }).to_string()
                    } else {
                        format!(
                            "{} queue {} {}",
                            print::clock_now(),
                            info.name,
                            if info.paused { "paused" } else { "running" }
                        )
                    }]
                }
            };
            Ok((!lines.is_empty()).then(|| lines.join("\n")))
        })
        .await
    }
}
