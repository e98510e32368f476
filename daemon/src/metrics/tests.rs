//! The service over a real SQLite file, a real hub and the real chat
//! service: alerts stored, pushed and posted; history written and read
//! back; viewers coming and going.

use std::collections::BTreeMap;
use std::time::Duration;

use agora_wire::{ChatEvent, Event, Reply, ServerFrame, UserInfo};
use tokio::sync::mpsc;

use super::*;
use crate::chat::Chat;
use crate::session::PushLimits;

struct World {
    _dir: tempfile::TempDir,
    hub: Arc<Hub>,
    metrics: Metrics,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("agora.db")).unwrap();
    let hub = Arc::new(Hub::default());
    let chat = Chat::open(
        agora_db::Storage::Sqlite(db.clone()),
        hub.clone(),
        crate::chat::Limits::default(),
    )
    .unwrap();
    let metrics = Metrics::open(MetricsConfig::default(), db, hub.clone(), None).unwrap();
    metrics.add_hook(Arc::new(notify::ChatAlerts::new(chat, "alerts".into())));
    World {
        _dir: dir,
        hub,
        metrics,
    }
}

fn session(id: u64, user: &str) -> (Arc<Session>, mpsc::UnboundedReceiver<bytes::Bytes>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let s = Arc::new(Session::new(id, "test".into(), tx, PushLimits::default()));
    s.set_user(UserInfo {
        id: id as i64,
        name: user.into(),
    });
    (s, rx)
}

fn snapshot(ts_ms: u64, cpu: f64) -> Snapshot {
    Snapshot {
        sample: Sample {
            ts_ms,
            values: BTreeMap::from([("cpu.total".to_owned(), cpu)]),
            processes: Vec::new(),
        },
        counters: BTreeMap::new(),
        took_secs: 0.0,
    }
}

async fn answer(routed: Routed) -> Result<Reply, ErrorBody> {
    match routed {
        Routed::Done(r) => r,
        Routed::Later(f) => f.await,
    }
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<bytes::Bytes>) -> Event {
    let frame = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a push within 5 s")
        .expect("open");
    match agora_wire::decode::<ServerFrame>(&frame).unwrap() {
        ServerFrame::Push(p) => p.event,
        other => panic!("not a push: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firing_alert_is_stored_pushed_and_posted_to_chat() {
    let w = world();
    let (watcher, mut watcher_rx) = session(1, "alice");
    let (room_member, mut room_rx) = session(2, "bob");
    w.hub
        .subscribe(&room_member, &[crate::chat::room_topic("alerts")]);
    let watching = answer(
        w.metrics
            .route(MetricsOp::Watch { view: "tui".into() }, &watcher),
    )
    .await
    .unwrap();
    assert!(
        matches!(watching, Reply::Metrics(MetricsReply::Watching { ref viewers, .. }) if viewers.len() == 1)
    );
    assert!(matches!(
        next_event(&mut watcher_rx).await,
        Event::Metrics(MetricsEvent::Viewers { .. })
    ));
    let added = answer(w.metrics.route(
        MetricsOp::AlertAdd {
            name: "hot".into(),
            metric: "cpu.total".into(),
            op: ">".into(),
            threshold: 90.0,
            for_ms: 2_000,
            severity: "critical".into(),
        },
        &watcher,
    ))
    .await
    .unwrap();
    assert!(matches!(added, Reply::Metrics(MetricsReply::Alert { .. })));
    assert!(matches!(
        next_event(&mut watcher_rx).await,
        Event::Metrics(MetricsEvent::AlertChanged {
            transition: None,
            ..
        })
    ));
    // Bad rules are refused with a reason.
    for (metric, op, threshold, severity) in [
        ("cpu.total", "=>", 1.0, "info"),
        ("cpu total", ">", 1.0, "info"),
        ("cpu.total", ">", f64::NAN, "info"),
        ("cpu.total", ">", 1.0, "doom"),
    ] {
        let err = answer(w.metrics.route(
            MetricsOp::AlertAdd {
                name: "bad".into(),
                metric: metric.into(),
                op: op.into(),
                threshold,
                for_ms: 0,
                severity: severity.into(),
            },
            &watcher,
        ))
        .await
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest, "{err:?}");
    }
    let dup = answer(w.metrics.route(
        MetricsOp::AlertAdd {
            name: "hot".into(),
            metric: "cpu.total".into(),
            op: ">".into(),
            threshold: 1.0,
            for_ms: 0,
            severity: "info".into(),
        },
        &watcher,
    ))
    .await
    .unwrap_err();
    assert_eq!(dup.code, ErrorCode::Conflict);

    for (ts, cpu) in [(1_000, 95.0), (2_000, 96.0), (3_000, 97.0), (4_000, 10.0)] {
        w.metrics.on_sample(snapshot(ts, cpu)).await;
    }
    let mut transitions = Vec::new();
    while transitions.len() < 3 {
        if let Event::Metrics(MetricsEvent::AlertChanged {
            transition: Some(t),
            ..
        }) = next_event(&mut watcher_rx).await
        {
            transitions.push((t.from, t.to, t.ts_ms));
        }
    }
    use AlertState::*;
    assert_eq!(
        transitions,
        [
            (Ok, Pending, 1_000),
            (Pending, Firing, 3_000),
            (Firing, Resolved, 4_000)
        ]
    );
    // Firing and resolved reach #alerts, in order.
    let mut posted = Vec::new();
    while posted.len() < 2 {
        if let Event::Chat(ChatEvent::Message { message }) = next_event(&mut room_rx).await {
            assert_eq!(message.from, notify::ALERT_SENDER);
            posted.push(message.text);
        }
    }
    assert!(
        posted[0].starts_with("[FIRING] hot (critical)"),
        "{posted:?}"
    );
    assert!(posted[1].starts_with("[RESOLVED] hot"), "{posted:?}");
    // The history has all three, newest first.
    let Reply::Metrics(MetricsReply::History { transitions }) = answer(w.metrics.route(
        MetricsOp::AlertHistory {
            name: Some("hot".into()),
            limit: None,
        },
        &watcher,
    ))
    .await
    .unwrap() else {
        panic!()
    };
    let tos: Vec<_> = transitions.iter().map(|t| t.to).collect();
    assert_eq!(tos, [Resolved, Firing, Pending]);
    // Silenced: evaluated and stored, not posted.
    let silenced = answer(w.metrics.route(
        MetricsOp::AlertSilence {
            name: "hot".into(),
            for_ms: 60_000,
        },
        &watcher,
    ))
    .await
    .unwrap();
    assert!(
        matches!(silenced, Reply::Metrics(MetricsReply::Alert { ref alert }) if alert.silenced_until_ms.is_some())
    );
    let missing = answer(w.metrics.route(
        MetricsOp::AlertSilence {
            name: "nope".into(),
            for_ms: 1,
        },
        &watcher,
    ))
    .await
    .unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);
    let now = crate::now_ms();
    w.metrics.on_sample(snapshot(now, 99.0)).await;
    w.metrics.on_sample(snapshot(now + 2_500, 99.0)).await;
    assert_eq!(w.metrics.alerts()[0].state, Firing);
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let std::result::Result::Ok(frame) = room_rx.try_recv() {
        let text = format!("{frame:?}");
        assert!(!text.contains("FIRING"), "a silenced alert was posted");
    }
    // Removing the rule; removing it again is not found.
    assert!(
        answer(
            w.metrics
                .route(MetricsOp::AlertRm { name: "hot".into() }, &watcher)
        )
        .await
        .is_ok()
    );
    let again = answer(
        w.metrics
            .route(MetricsOp::AlertRm { name: "hot".into() }, &watcher),
    )
    .await
    .unwrap_err();
    assert_eq!(again.code, ErrorCode::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_written_in_batches_and_read_by_range() {
    let w = world();
    let (s, _rx) = session(1, "alice");
    let mut down = Downsampler::default();
    let mut batch = Batch::default();
    let now = crate::now_ms();
    let start = now - now % 60_000 - 600_000;
    for i in 0..600u64 {
        let snap = snapshot(start + i * 1000, (i % 60) as f64);
        down.push(snap.sample.ts_ms, &snap.sample.values, &mut batch);
    }
    // The next minute's first sample closes the tenth.
    down.push(start + 600_000, &snapshot(0, 0.0).sample.values, &mut batch);
    w.metrics.write_batch(batch).await;
    let Reply::Metrics(MetricsReply::Series { points, .. }) = answer(w.metrics.route(
        MetricsOp::Range {
            metric: "cpu.total".into(),
            from_ms: start,
            to_ms: start + 600_000,
            step_ms: 60_000,
        },
        &s,
    ))
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(points.len(), 10);
    assert!(
        points
            .iter()
            .all(|p| p.min == 0.0 && p.max == 59.0 && p.avg == 29.5)
    );
    for (from, to, step) in [(5, 5, 1000), (0, 10_000, 999), (0, u64::MAX, 1000)] {
        let err = answer(w.metrics.route(
            MetricsOp::Range {
                metric: "cpu.total".into(),
                from_ms: from,
                to_ms: to,
                step_ms: step,
            },
            &s,
        ))
        .await
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest);
    }
    // An unknown metric has no points, not an error.
    let Reply::Metrics(MetricsReply::Series { points, .. }) = answer(w.metrics.route(
        MetricsOp::Range {
            metric: "nope".into(),
            from_ms: start,
            to_ms: start + 60_000,
            step_ms: 1_000,
        },
        &s,
    ))
    .await
    .unwrap() else {
        panic!()
    };
    assert!(points.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_come_and_go_and_late_joiners_get_the_last_minute() {
    let w = world();
    let now = crate::now_ms();
    for i in 0..90u64 {
        w.metrics
            .on_sample(snapshot(now - 89_000 + i * 1000, 1.0))
            .await;
    }
    let (a, mut a_rx) = session(1, "alice");
    let (b, _b_rx) = session(2, "bob");
    let Reply::Metrics(MetricsReply::Watching { recent, .. }) =
        answer(w.metrics.route(MetricsOp::Watch { view: "tui".into() }, &a))
            .await
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(recent.len(), 61, "the last minute, both ends included");
    let _ = next_event(&mut a_rx).await;
    answer(w.metrics.route(MetricsOp::Watch { view: "cli".into() }, &b))
        .await
        .unwrap();
    let Event::Metrics(MetricsEvent::Viewers { viewers }) = next_event(&mut a_rx).await else {
        panic!()
    };
    let who: Vec<_> = viewers
        .iter()
        .map(|v| (v.user.as_str(), v.view.as_str()))
        .collect();
    assert_eq!(who, [("alice", "tui"), ("bob", "cli")]);
    let web = w.metrics.web_viewer("carol", "web");
    assert_eq!(w.metrics.viewers().len(), 3);
    drop(web);
    w.metrics.closed(&b);
    assert_eq!(w.metrics.viewers().len(), 1);
    answer(w.metrics.route(MetricsOp::Unwatch, &a))
        .await
        .unwrap();
    assert!(w.metrics.viewers().is_empty());
    // bob's subscription is the base service's to drop when he closes.
    assert_eq!(w.hub.subscribers(METRICS_TOPIC), 1);
    let bad = answer(w.metrics.route(
        MetricsOp::Watch {
            view: String::new(),
        },
        &a,
    ))
    .await
    .unwrap_err();
    assert_eq!(bad.code, ErrorCode::BadRequest);
    // Signed out: refused.
    let (tx, _rx) = mpsc::unbounded_channel();
    let anon = Arc::new(Session::new(9, "t".into(), tx, PushLimits::default()));
    let err = answer(w.metrics.route(MetricsOp::Now, &anon))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthorized);
}
