use std::collections::BTreeMap;

use agora_wire::metrics::{Alert, AlertState, Point, ProcessInfo, Sample, Transition, Viewer};
use agora_wire::{Event, MetricsEvent, MetricsOp, MetricsReply, Op, Reply};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;

/// A fixed sample at `ts_ms`: 4 cores, memory, disks, networks, agora's
/// figures, and a process table.
pub fn sample(ts_ms: u64, i: u64) -> Sample {
    let wave = |phase: u64| ((i + phase) % 20) as f64 * 5.0;
    let mut values = BTreeMap::new();
    values.insert("cpu.total".to_owned(), wave(0));
    for c in 0..4 {
        values.insert(format!("cpu.core.{c}"), wave(c * 3));
    }
    for (k, v) in [
        ("cpu.cores", 4.0),
        ("load.1", 0.52),
        ("load.5", 0.48),
        ("load.15", 0.40),
        ("mem.total_bytes", 16.0 * 1024.0 * 1024.0 * 1024.0),
        ("mem.used_bytes", 6.0 * 1024.0 * 1024.0 * 1024.0),
        ("mem.used_pct", 37.5),
        ("swap.total_bytes", 2.0 * 1024.0 * 1024.0 * 1024.0),
        ("swap.used_bytes", 0.0),
        ("swap.used_pct", 0.0),
        ("disk./.used_pct", 45.0),
        ("disk./.total_bytes", 250.0 * 1024.0 * 1024.0 * 1024.0),
        ("disk./.read_bps", 1024.0 * wave(1)),
        ("disk./.write_bps", 4096.0 * wave(2)),
        ("net.eth0.rx_bps", 2048.0 * wave(3)),
        ("net.eth0.tx_bps", 512.0 * wave(4)),
        ("procs.count", 123.0),
        ("cgroup.mem.limit_bytes", 8.0 * 1024.0 * 1024.0 * 1024.0),
        ("cgroup.mem.used_bytes", 1024.0 * 1024.0 * 1024.0),
        ("cgroup.cpu.limit_cores", 2.0),
        ("agora.connections", 3.0),
    ] {
        values.insert(k.to_owned(), v);
    }
    let processes = (0..30)
        .map(|n| ProcessInfo {
            pid: 100 + n,
            name: format!("proc{n:02}"),
            user: if n % 3 == 0 { "root" } else { "alice" }.into(),
            cpu_pct: f64::from(30 - n) * 2.0,
            rss_bytes: (u64::from(n) * 10) << 20,
            state: "Sleep".into(),
            cmd: format!("/usr/bin/proc{n:02} --flag {n}"),
        })
        .collect();
    Sample {
        ts_ms,
        values,
        processes,
    }
}

pub const T0: u64 = 1_796_036_400_000;

pub fn alerts() -> Vec<Alert> {
    let alert = |name: &str, state, value| Alert {
        name: name.into(),
        metric: "cpu.total".into(),
        op: ">".into(),
        threshold: 90.0,
        for_ms: 60_000,
        severity: "warning".into(),
        state,
        since_ms: T0,
        value: Some(value),
        silenced_until_ms: None,
    };
    vec![
        alert("calm", AlertState::Ok, 10.0),
        alert("hot", AlertState::Firing, 97.5),
        alert("warm", AlertState::Pending, 91.0),
    ]
}

/// A tab shown, connected as alice, with a minute of samples.
pub fn watching() -> DashboardState {
    let mut s = DashboardState::new();
    s.on_connected(Some("alice"));
    s.on_show();
    let out = s.take_outbox();
    assert_eq!(out.len(), 1);
    assert!(matches!(&out[0].op, Op::Metrics(MetricsOp::Watch { view }) if view == "tui"));
    let recent = (0..60).map(|i| sample(T0 + i * 1000, i)).collect();
    s.on_reply(
        out[0].tag,
        Ok(Reply::Metrics(MetricsReply::Watching {
            recent,
            alerts: alerts(),
            viewers: vec![
                Viewer {
                    session: 1,
                    user: "alice".into(),
                    since_ms: T0,
                    view: "tui".into(),
                },
                Viewer {
                    session: 2,
                    user: "bob".into(),
                    since_ms: T0 + 5_000,
                    view: "web".into(),
                },
            ],
        })),
    );
    s
}

fn press(s: &mut DashboardState, code: KeyCode) -> KeyOutcome {
    s.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn draw(s: &mut DashboardState, w: u16, h: u16) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    s.on_resize(Rect::new(0, 0, w, h));
    terminal
        .draw(|f| s.render(f.area(), f.buffer_mut()))
        .unwrap();
    terminal.backend().clone()
}

#[test]
fn snapshot_80x24() {
    let mut s = watching();
    insta::assert_snapshot!("dashboard_80x24", draw(&mut s, 80, 24));
}

#[test]
fn snapshot_160x48_with_cursor() {
    let mut s = watching();
    s.on_resize(Rect::new(0, 0, 160, 48));
    for _ in 0..40 {
        press(&mut s, KeyCode::Char('h'));
    }
    let backend = draw(&mut s, 160, 48);
    insta::assert_snapshot!("dashboard_160x48", backend);
}

#[test]
fn alerts_firing_first_and_changes_apply() {
    let mut s = watching();
    let names: Vec<_> = s.alerts().iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["hot", "warm", "calm"]);
    let mut calm = alerts().remove(0);
    calm.state = AlertState::Firing;
    s.on_push(Event::Metrics(MetricsEvent::AlertChanged {
        transition: Some(Transition {
            id: 1,
            rule: "calm".into(),
            from: AlertState::Ok,
            to: AlertState::Firing,
            value: 99.0,
            ts_ms: T0,
            silenced: false,
        }),
        alert: Some(Box::new(calm)),
        name: "calm".into(),
        node: None,
    }));
    let names: Vec<_> = s.alerts().iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["calm", "hot", "warm"]);
    s.on_push(Event::Metrics(MetricsEvent::AlertChanged {
        transition: None,
        alert: None,
        name: "hot".into(),
        node: None,
    }));
    assert_eq!(s.alerts().len(), 2);
    // Another node's rule of the same name is listed beside this one's.
    let mut theirs = alerts().remove(0);
    theirs.state = AlertState::Firing;
    s.on_push(Event::Metrics(MetricsEvent::AlertChanged {
        transition: None,
        alert: Some(Box::new(theirs)),
        name: "calm".into(),
        node: Some("n2".into()),
    }));
    let names: Vec<_> = s.alerts().iter().map(|a| a.name.as_str()).collect();
    assert!(
        names.contains(&"calm@n2") && names.contains(&"calm"),
        "{names:?}"
    );
}

#[test]
fn presence_follows_being_shown() {
    let mut s = watching();
    assert!(s.watching());
    let now = std::time::Instant::now();
    s.on_tick(now, true);
    assert!(s.take_outbox().is_empty(), "already watching");
    s.on_tick(now, false);
    let out = s.take_outbox();
    assert!(matches!(out[0].op, Op::Metrics(MetricsOp::Unwatch)));
    assert!(!s.watching());
    // Samples that still arrive while hidden are not kept.
    let before = s.latest().unwrap().ts_ms;
    s.on_push(Event::Metrics(MetricsEvent::Tick {
        sample: sample(T0 + 100_000, 1),
    }));
    assert_eq!(s.latest().unwrap().ts_ms, before);
    s.on_show();
    assert!(matches!(
        s.take_outbox()[0].op,
        Op::Metrics(MetricsOp::Watch { .. })
    ));
    s.on_push(Event::Metrics(MetricsEvent::Viewers { viewers: vec![] }));
    assert!(s.viewers().is_empty());
}

#[test]
fn not_signed_in_asks_nothing_and_says_so() {
    let mut s = DashboardState::new();
    s.on_connected(None);
    s.on_show();
    assert!(s.take_outbox().is_empty());
    let text = format!("{:?}", draw(&mut s, 80, 24));
    assert!(text.contains("sign in (F2)"), "{text}");
}

#[test]
fn metric_window_and_cursor() {
    let mut s = watching();
    s.on_resize(Rect::new(0, 0, 80, 24));
    assert_eq!(s.chart(), ("cpu.total", Window::Minute));
    assert_eq!(s.points().len(), 60);
    assert_eq!(press(&mut s, KeyCode::Char('m')), KeyOutcome::Consumed);
    assert_eq!(s.chart().0, "disk./.read_bps", "the next name");
    press(&mut s, KeyCode::Char('M'));
    assert_eq!(s.chart().0, "cpu.total");
    // The cursor starts at the right end: the newest sample.
    press(&mut s, KeyCode::Char(']'));
    assert_eq!(s.cursor_point(), Some((T0 + 59_000, 95.0)));
    for _ in 0..200 {
        press(&mut s, KeyCode::Char('h'));
    }
    assert_eq!(s.cursor_point(), Some((T0, 0.0)), "the oldest");
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.cursor_point(), None);
    // A history window asks for the range, one point a column.
    press(&mut s, KeyCode::Char('w'));
    press(&mut s, KeyCode::Char('w'));
    assert_eq!(s.chart().1, Window::Hour);
    let out = s.take_outbox();
    let Some(Outgoing {
        tag,
        op:
            Op::Metrics(MetricsOp::Range {
                metric,
                from_ms,
                to_ms,
                step_ms,
            }),
    }) = out.last().cloned()
    else {
        panic!("{out:?}")
    };
    assert_eq!(metric, "cpu.total");
    assert_eq!(to_ms - 1 - from_ms, 3_600_000);
    assert_eq!(step_ms, 46_000, "an hour over 78 columns, whole seconds");
    assert!(s.points().is_empty(), "until the history arrives");
    s.on_reply(
        tag,
        Ok(Reply::Metrics(MetricsReply::Series {
            metric,
            step_ms,
            points: vec![
                Point {
                    ts_ms: from_ms,
                    min: 1.0,
                    avg: 2.0,
                    max: 3.0,
                },
                Point {
                    ts_ms: to_ms - 1,
                    min: 4.0,
                    avg: 5.0,
                    max: 6.0,
                },
            ],
        })),
    );
    assert_eq!(s.points(), [(from_ms, 2.0), (to_ms - 1, 5.0)]);
    press(&mut s, KeyCode::Char('W'));
    press(&mut s, KeyCode::Char('W'));
    assert_eq!(s.chart().1, Window::Minute);
    press(&mut s, KeyCode::Char('W'));
    assert_eq!(s.chart().1, Window::Minute, "no shorter window");
}

#[test]
fn processes_sort_filter_and_scroll() {
    let mut s = watching();
    let pids = |s: &DashboardState| s.processes().iter().map(|p| p.pid).collect::<Vec<_>>();
    assert_eq!(pids(&s)[0], 100, "busiest first");
    press(&mut s, KeyCode::Char('s'));
    assert_eq!(pids(&s)[0], 129, "most memory first");
    press(&mut s, KeyCode::Char('s'));
    assert_eq!(pids(&s)[..2], [100, 101]);
    press(&mut s, KeyCode::Char('s'));
    assert_eq!(s.processes()[0].name, "proc00");
    press(&mut s, KeyCode::Char('/'));
    assert!(s.types_text());
    for c in "FLAG 2".chars() {
        press(&mut s, KeyCode::Char(c));
    }
    press(&mut s, KeyCode::Enter);
    assert!(!s.types_text());
    assert_eq!(s.filter().0, "FLAG 2");
    assert_eq!(
        pids(&s),
        [102, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129]
    );
    press(&mut s, KeyCode::Char('G'));
    press(&mut s, KeyCode::Char('k'));
    assert_eq!(s.selected, 9);
    press(&mut s, KeyCode::Char('g'));
    assert_eq!(s.selected, 0);
    // Esc while typing keeps the old filter.
    press(&mut s, KeyCode::Char('/'));
    press(&mut s, KeyCode::Char('x'));
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.filter().0, "FLAG 2");
    // Keys the tab does not use go to the shell.
    assert_eq!(press(&mut s, KeyCode::Char('q')), KeyOutcome::NotConsumed);
    assert_eq!(press(&mut s, KeyCode::Left), KeyOutcome::NotConsumed);
}

#[test]
fn x_asks_before_sending_a_signal_to_the_selected_process() {
    let mut s = watching();
    assert!(s.take_outbox().is_empty());
    // Busiest first: proc00 (pid 100), then proc01.
    press(&mut s, KeyCode::Char('j'));
    assert_eq!(press(&mut s, KeyCode::Char('x')), KeyOutcome::Consumed);
    assert_eq!(
        s.prompt().unwrap().question(),
        "Send SIGTERM to 101 (proc01)? y/n"
    );
    // Every key is the prompt's while it is open: q does not quit, the
    // arrows pick the signal rather than the tab.
    assert_eq!(press(&mut s, KeyCode::Char('q')), KeyOutcome::Consumed);
    press(&mut s, KeyCode::Left);
    assert_eq!(s.prompt().unwrap().signal(), "CONT");
    press(&mut s, KeyCode::Right);
    press(&mut s, KeyCode::Right);
    assert_eq!(
        s.prompt().unwrap().question(),
        "Send SIGKILL to 101 (proc01)? y/n"
    );
    assert!(s.take_outbox().is_empty(), "nothing sent before y");
    insta::assert_snapshot!("dashboard_signal_prompt", draw(&mut s, 80, 24));

    // n: nothing sent.
    press(&mut s, KeyCode::Char('n'));
    assert!(s.prompt().is_none());
    assert!(s.take_outbox().is_empty());
    assert_eq!(s.notice(), Some("no signal sent"));

    // y: the op goes out, and the answer is shown.
    press(&mut s, KeyCode::Char('x'));
    press(&mut s, KeyCode::Right);
    press(&mut s, KeyCode::Char('y'));
    let out = s.take_outbox();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].op,
        Op::Metrics(MetricsOp::Signal {
            pid: 101,
            signal: "KILL".into()
        })
    );
    s.on_reply(out[0].tag, Ok(Reply::Base(agora_wire::BaseReply::Done)));
    assert_eq!(s.notice(), Some("sent SIGKILL to 101 (proc01)"));

    // A refusal is the daemon's one line.
    press(&mut s, KeyCode::Char('x'));
    press(&mut s, KeyCode::Enter);
    let out = s.take_outbox();
    let why = "only the daemon's operators may send signals (--operators); alice is not one";
    s.on_reply(out[0].tag, Err(why.into()));
    assert_eq!(s.notice(), Some(why));
    // The dashboard itself still shows.
    assert!(s.latest().is_some());
    let screen = format!("{}", draw(&mut s, 80, 24));
    assert!(screen.contains("only the daemon's operators"), "{screen}");
}
