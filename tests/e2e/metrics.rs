//! The metrics service end to end: `/metrics` checked by `promtool check
//! metrics` (Debian's prometheus package, installed by .ci/run) and by a
//! parser of the text format; alerts posted into #alerts by the daemon
//! and kept, with their history, across `kill -9`; live samples and
//! presence over the protocol.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use agora_wire::metrics::METRICS_TOPIC;
use agora_wire::{Event, MetricsEvent, MetricsOp, MetricsReply, Reply};
use serde_json::Value;

use crate::support::{Daemon, Home, rt, saved_token, wait_for};

const FAST: &[&str] = &["--metrics-interval", "200ms"];

fn json_of(home: &Home, addr: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--addr", addr, "--json"];
    all.extend_from_slice(args);
    let out = home.run(&all, None);
    let code = out.status.code().unwrap_or(-1);
    let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code, value)
}

/// The exposition once a sample is in it.
fn exposition(daemon: &Daemon) -> String {
    let rt = rt();
    wait_for("a sample in /metrics", Duration::from_secs(15), || {
        let (status, body) = rt.block_on(daemon.http_get("/metrics"));
        (status == 200 && body.contains("agora_system_cpu_usage_ratio{cpu=\"total\"}"))
            .then_some(body)
    })
}

/// The families of a text exposition: name → (type, samples as (labels,
/// value)). Panics on anything the format does not allow.
fn parse(text: &str) -> BTreeMap<String, (String, Vec<(String, f64)>)> {
    let mut families: BTreeMap<String, (String, Vec<(String, f64)>)> = BTreeMap::new();
    let mut helped = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.is_empty(), "{line}");
            assert!(helped.insert(name.to_owned()), "two HELP lines for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(helped.contains(name), "TYPE before HELP: {line}");
            assert!(
                families
                    .insert(name.to_owned(), (kind.to_owned(), Vec::new()))
                    .is_none(),
                "two TYPE lines for {name}"
            );
        } else {
            assert!(!line.starts_with('#'), "{line}");
            let (series, value) = line.rsplit_once(' ').expect("name value");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => {
                    assert!(labels.ends_with('}'), "{line}");
                    (name, labels.trim_end_matches('}').to_owned())
                }
                None => (series, String::new()),
            };
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            // A histogram's samples are NAME_bucket, NAME_sum, NAME_count.
            let (family, labels) = match families.get(name) {
                Some(_) => (name, labels),
                None => {
                    let (base, part) = ["_bucket", "_sum", "_count"]
                        .into_iter()
                        .find_map(|suffix| Some((name.strip_suffix(suffix)?, suffix)))
                        .unwrap_or_else(|| panic!("a sample before its TYPE: {line}"));
                    assert_eq!(
                        families.get(base).map(|f| f.0.as_str()),
                        Some("histogram"),
                        "{line}"
                    );
                    (base, format!("{part}|{labels}"))
                }
            };
            let family = families.get_mut(family).expect("checked above");
            family.1.push((labels, value));
        }
    }
    families
}

#[test]
fn prometheus_exposition_passes_promtool_and_a_parser() {
    let home = Home::new();
    let daemon = Daemon::start(&home, FAST);
    // A protocol request and HTTP requests, for the duration histograms.
    let ping = home.run(
        &["--addr", &daemon.addr, "ping", "-c", "2", "-i", "0"],
        None,
    );
    assert!(ping.status.success(), "{ping:?}");
    rt().block_on(async {
        assert_eq!(daemon.http_get("/api/articles").await.0, 200);
        assert_eq!(daemon.http_get("/no/such/page").await.0, 404);
    });
    let body = exposition(&daemon);

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus, installed by .ci/run)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{body}"
    );

    let families = parse(&body);
    for (name, (kind, samples)) in &families {
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name} is a {kind}"
        );
        for (labels, value) in samples {
            assert!(value.is_finite(), "{name}{{{labels}}} = {value}");
            if name.ends_with("_total") || name.ends_with("_bytes") {
                assert!(*value >= 0.0, "{name}{{{labels}}} = {value}");
            }
            if name.ends_with("_ratio") {
                assert!((0.0..=1.0).contains(value), "{name}{{{labels}}} = {value}");
            }
        }
    }
    for family in [
        "agora_system_cpu_usage_ratio",
        "agora_system_load1",
        "agora_system_memory_bytes",
        "agora_system_network_receive_bytes_total",
        "agora_process_resident_memory_bytes",
        "agora_alerts",
        "agora_dashboard_viewers",
        "agora_requests_total",
    ] {
        assert!(
            families.get(family).is_some_and(|f| !f.1.is_empty()),
            "{family} missing:\n{body}"
        );
    }
    // Histograms: cumulative buckets, +Inf equal to the count, per series.
    for name in [
        "agora_request_duration_seconds",
        "agora_http_request_duration_seconds",
    ] {
        let samples = &families[name].1;
        let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut counts: BTreeMap<String, f64> = BTreeMap::new();
        for (labels, value) in samples {
            let (part, labels) = labels.split_once('|').unwrap();
            match part {
                "_bucket" => {
                    let (rest, le) = labels.rsplit_once(",le=").unwrap();
                    series.entry(rest.to_owned()).or_default().push(*value);
                    if le == "\"+Inf\"" {
                        counts.entry(format!("inf|{rest}")).or_insert(*value);
                    }
                }
                "_count" => {
                    counts.insert(format!("count|{labels}"), *value);
                }
                _ => {}
            }
        }
        for (labels, buckets) in &series {
            assert!(
                buckets.windows(2).all(|w| w[0] <= w[1]),
                "{name}{{{labels}}}"
            );
            assert_eq!(
                counts.get(&format!("inf|{labels}")),
                counts.get(&format!("count|{labels}")),
                "{name}{{{labels}}}"
            );
        }
        let want = if name == "agora_http_request_duration_seconds" {
            ["route=\"/api/articles\"", "route=\"unmatched\""].as_slice()
        } else {
            ["op=\"ping\""].as_slice()
        };
        for label in want {
            assert!(
                series.keys().any(|l| l.contains(label)),
                "{name}: no series with {label}:\n{body}"
            );
        }
    }
    assert!(
        families["agora_request_duration_seconds"]
            .1
            .iter()
            .any(|(l, v)| l.starts_with("_count|") && l.contains("op=\"ping\"") && *v >= 2.0),
        "two pings counted"
    );

    let memory = &families["agora_system_memory_bytes"].1;
    let total = memory.iter().find(|(l, _)| l.contains("total")).unwrap().1;
    let used = memory
        .iter()
        .find(|(l, _)| l.contains("\"used\""))
        .unwrap()
        .1;
    assert!(total > 0.0 && used <= total, "{memory:?}");
}

#[test]
fn alerts_fire_into_the_alerts_room_and_survive_kill_9() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, FAST);
    let addr = daemon.addr.clone();
    home.register(&addr, "alice", "alice-password");
    assert_eq!(json_of(&home, &addr, &["chat", "join", "alerts"]).0, 0);
    let (code, rule) = json_of(
        &home,
        &addr,
        &[
            "alerts",
            "add",
            "always",
            "cpu.total >= 0",
            "--for",
            "0s",
            "--severity",
            "critical",
        ],
    );
    assert_eq!(code, 0, "{rule}");
    assert_eq!(rule["state"], "ok");
    // The daemon posts it into #alerts as user "agora".
    let posted = wait_for("the alert in #alerts", Duration::from_secs(15), || {
        let (_, history) = json_of(&home, &addr, &["chat", "history", "alerts"]);
        history["messages"]
            .as_array()?
            .iter()
            .find(|m| m["from"] == "agora")
            .cloned()
    });
    let text = posted["text"].as_str().unwrap();
    assert!(
        text.starts_with("[FIRING] always (critical): cpu.total >= 0"),
        "{text}"
    );
    let (code, history) = json_of(&home, &addr, &["alerts", "history", "always"]);
    assert_eq!(code, 0);
    assert_eq!(history["transitions"][0]["from"], "ok");
    assert_eq!(history["transitions"][0]["to"], "firing");

    // kill -9: the rule, its state's history and the history of samples
    // stay.
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    let daemon = Daemon::start_on(&home, &addr, FAST);
    let (code, list) = json_of(&home, &daemon.addr, &["alerts", "list"]);
    assert_eq!(code, 0);
    assert_eq!(list["alerts"][0]["name"], "always");
    let (code, history) = json_of(&home, &daemon.addr, &["alerts", "history", "always"]);
    assert_eq!(code, 0);
    assert!(!history["transitions"].as_array().unwrap().is_empty());
    // Fires again after the restart (state is not persisted: it starts ok).
    wait_for("firing again", Duration::from_secs(15), || {
        let (_, list) = json_of(&home, &daemon.addr, &["alerts", "list"]);
        (list["alerts"][0]["state"] == "firing").then_some(())
    });
}

#[test]
fn live_samples_reach_watchers_and_late_joiners_get_the_last_minute() {
    let home = Home::new();
    let daemon = Daemon::start(&home, FAST);
    home.register(&daemon.addr, "alice", "alice-password");
    let token = saved_token(&home, &daemon.addr);
    rt().block_on(async {
        let first = daemon.client(Some(token.clone())).await;
        let mut pushes = first.pushes().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let Reply::Metrics(MetricsReply::Watching {
            recent, viewers, ..
        }) = first
            .request(MetricsOp::Watch { view: "e2e".into() })
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(recent.len() >= 3, "the samples so far: {}", recent.len());
        assert!(recent.windows(2).all(|w| w[0].ts_ms < w[1].ts_ms));
        assert_eq!(viewers.len(), 1);
        // Samples keep coming, a fresh one each interval.
        let mut ticks = Vec::new();
        while ticks.len() < 3 {
            let push = tokio::time::timeout(Duration::from_secs(5), pushes.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(push.topic, METRICS_TOPIC);
            if let Event::Metrics(MetricsEvent::Tick { sample }) = push.event {
                let cpu = sample.values["cpu.total"];
                assert!((0.0..=100.0).contains(&cpu));
                ticks.push(sample.ts_ms);
            }
        }
        assert!(ticks.windows(2).all(|w| w[1] > w[0]));
        // A second viewer is announced to the first; closing it too.
        let second = daemon.client(Some(token.clone())).await;
        second
            .request(MetricsOp::Watch { view: "web".into() })
            .await
            .unwrap();
        viewers_become(&mut pushes, 2).await;
        drop(second);
        viewers_become(&mut pushes, 1).await;
    });
}

/// Waits for a viewers event listing `want` viewers.
async fn viewers_become(pushes: &mut agora_wire::Pushes, want: usize) {
    loop {
        let push = tokio::time::timeout(Duration::from_secs(5), pushes.recv())
            .await
            .expect("a push within 5 s")
            .expect("open");
        if let Event::Metrics(MetricsEvent::Viewers { viewers }) = push.event
            && viewers.len() == want
        {
            return;
        }
    }
}

/// `agora.jobs.*` come from the job queue, and an alert on one of them
/// (`agora.jobs.dead`) is enqueued as an `alert.notify` job into the
/// `--alerts-job-queue`, its args the transition.
#[test]
fn an_alert_on_dead_jobs_is_enqueued_as_a_job() {
    let home = Home::new();
    let daemon = Daemon::start(
        &home,
        &["--metrics-interval", "200ms", "--alerts-job-queue", "pager"],
    );
    let addr = daemon.addr.clone();
    home.register(&addr, "alice", "alice-password");
    let (code, rule) = json_of(
        &home,
        &addr,
        &[
            "alerts",
            "add",
            "dead-jobs",
            "agora.jobs.dead > 0",
            "--for",
            "0s",
        ],
    );
    assert_eq!(code, 0, "{rule}");
    // Nothing dead yet: the gauge is there, at 0, and the queue is empty.
    let now = wait_for("a sample", Duration::from_secs(15), || {
        let (code, now) = json_of(&home, &addr, &["metrics", "now"]);
        (code == 0).then_some(now)
    });
    assert_eq!(now["values"]["agora.jobs.dead"], 0.0, "{now}");
    assert_ne!(
        json_of(&home, &addr, &["jobs", "list", "--queue", "pager"]).0,
        0
    );
    // A job that fails its only attempt goes dead.
    let (code, out) = json_of(
        &home,
        &addr,
        &[
            "jobs",
            "enqueue",
            "fail",
            "--queue",
            "work",
            "--max-attempts",
            "1",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let job = wait_for("the alert's job", Duration::from_secs(20), || {
        let (code, list) = json_of(&home, &addr, &["jobs", "list", "--queue", "pager"]);
        (code == 0).then_some(())?;
        list["jobs"].as_array()?.first().cloned()
    });
    assert_eq!(job["kind"], "alert.notify", "{job}");
    let args: Value = match &job["args"] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    assert_eq!(args["rule"], "dead-jobs", "{args}");
    assert_eq!(args["from"], "ok");
    assert_eq!(args["to"], "firing");
    assert_eq!(args["metric"], "agora.jobs.dead");
    assert_eq!(args["value"], 1.0);
    let (_, now) = json_of(&home, &addr, &["metrics", "now"]);
    assert_eq!(now["values"]["agora.jobs.dead"], 1.0, "{now}");
}

/// `agora metrics kill`: an operator's signal kills a real process; anyone
/// else hears one line and the process lives on.
#[test]
fn an_operator_signals_a_process_and_others_are_refused() {
    use std::os::unix::process::ExitStatusExt as _;
    let alice = Home::new();
    let bob = Home::new();
    let daemon = Daemon::start(&alice, &["--operators", "alice"]);
    alice.register(&daemon.addr, "alice", "alice-password");
    bob.register(&daemon.addr, "bob", "bob-password");
    let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    let pid = child.id().to_string();

    let out = bob.run(&["--addr", &daemon.addr, "metrics", "kill", &pid], None);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("only the daemon's operators may send signals (--operators); bob is not one"),
        "{said}"
    );
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(child.try_wait().unwrap().is_none(), "still running");

    let (code, sent) = json_of(&alice, &daemon.addr, &["metrics", "kill", &pid]);
    assert_eq!(code, 0, "{sent}");
    assert_eq!(
        sent,
        serde_json::json!({"pid": child.id(), "signal": "TERM", "sent": true})
    );
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}

/// deploy/grafana/agora.json: every query is PromQL promtool accepts (the
/// dashboard's variables filled in) and names only metrics a daemon (one
/// in a cluster, having served a protocol and an HTTP request) exports.
#[test]
fn the_grafana_dashboard_queries_what_the_daemon_exports() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/grafana/agora.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    assert!(exprs.len() >= 10, "{exprs:?}");

    // PromQL: as recording rules, which promtool parses.
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "1m")
            .replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: agora:dashboard_{i}\n        expr: {}\n",
            serde_json::to_string(&expr).unwrap()
        ));
    }
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, rules).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The metrics: all in a clustered daemon's exposition.
    let home = Home::new();
    let mut args = FAST.to_vec();
    args.extend(["--cluster", "dash", "--cluster-listen", "127.0.0.1:0"]);
    let daemon = Daemon::start(&home, &args);
    let ping = home.run(&["--addr", &daemon.addr, "ping", "-c", "1"], None);
    assert!(ping.status.success(), "{ping:?}");
    rt().block_on(async {
        assert_eq!(daemon.http_get("/healthz").await.0, 200);
    });
    let families = parse(&exposition(&daemon));
    for expr in &exprs {
        for metric in metric_names(expr) {
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| {
                    metric
                        .strip_suffix(s)
                        .filter(|base| families.get(*base).is_some_and(|f| f.0 == "histogram"))
                })
                .unwrap_or(&metric);
            assert!(
                families.contains_key(family),
                "{metric} (in {expr}) is not in /metrics"
            );
        }
    }
}

/// The metric names (`agora_…`) an expression uses.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("agora_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}
