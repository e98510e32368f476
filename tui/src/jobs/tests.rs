//! The Jobs tab: state transitions on the tab itself, and whole screens at
//! 80x24 through the app (TestBackend + insta).

use std::time::{Duration, Instant};

use agora_wire::jobs::{AttemptError, Job, JobChange, JobState, QueueInfo, StateCounts};
use agora_wire::{BaseOp, BaseReply, Event, JobsEvent, JobsOp, JobsReply, Op, Reply};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::view::{short, sparkline, time};
use super::*;
use crate::app::{App, ServerEvent};
use crate::tabs::TabId;

fn press(state: &mut JobsState, code: KeyCode) -> KeyOutcome {
    state.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn job(id: u64, state: JobState, queue: &str, kind: &str) -> Job {
    Job {
        id,
        queue: queue.into(),
        kind: kind.into(),
        args: r#"{"to":"bob@example.com"}"#.into(),
        priority: 5,
        state,
        attempt: 0,
        max_attempts: 20,
        run_at_ms: 1_780_000_000_000,
        inserted_at_ms: 1_780_000_000_000,
        scheduled_at_ms: 1_780_000_000_000,
        attempted_at_ms: None,
        finished_at_ms: None,
        errors: vec![],
        result: None,
        unique_key: None,
        timeout_ms: None,
        tags: vec![],
    }
}

/// A queue with `states` and a throughput ramp.
fn queue(name: &str, paused: bool, states: StateCounts) -> QueueInfo {
    QueueInfo {
        name: name.into(),
        paused,
        states,
        throughput: (0..60)
            .map(|i| if i < 40 { 0 } else { (i - 39) * 10 })
            .collect(),
        ..QueueInfo::default()
    }
}

fn counts() -> StateCounts {
    StateCounts {
        scheduled: 1,
        available: 12,
        running: 2,
        retryable: 1,
        completed: 1520,
        dead: 2,
        cancelled: 0,
    }
}

fn dead_job() -> Job {
    let mut j = job(41, JobState::Dead, "mail", "email.send");
    j.attempt = 3;
    j.max_attempts = 3;
    j.attempted_at_ms = Some(1_780_000_060_000);
    j.finished_at_ms = Some(1_780_000_061_000);
    j.errors = (1..=3)
        .map(|a| AttemptError {
            attempt: a,
            at_ms: 1_780_000_000_000 + u64::from(a) * 20_000,
            message: format!("exit status 1: smtp: connection refused ({a})"),
        })
        .collect();
    j
}

fn list() -> Vec<Job> {
    let mut done = job(43, JobState::Completed, "reports", "report.daily");
    done.attempt = 1;
    done.result = Some(r#"{"rows":3}"#.into());
    vec![
        job(44, JobState::Available, "mail", "email.send"),
        done,
        job(42, JobState::Running, "mail", "email.send"),
        dead_job(),
    ]
}

/// Answers the tab's requests like a daemon with [`list`] and two queues.
fn answer(op: &Op) -> Result<Reply, String> {
    Ok(match op {
        Op::Base(BaseOp::Subscribe { .. }) => Reply::Base(BaseReply::Done),
        Op::Jobs(JobsOp::Stats) => JobsReply::Stats {
            states: counts(),
            queues: vec![
                queue(
                    "mail",
                    false,
                    StateCounts {
                        available: 12,
                        running: 2,
                        dead: 2,
                        ..StateCounts::default()
                    },
                ),
                queue(
                    "reports",
                    true,
                    StateCounts {
                        scheduled: 1,
                        retryable: 1,
                        ..StateCounts::default()
                    },
                ),
            ],
        }
        .into(),
        Op::Jobs(JobsOp::List { state, .. }) => JobsReply::List {
            jobs: list()
                .into_iter()
                .filter(|j| state.is_none_or(|s| j.state == s))
                .collect(),
            more: false,
        }
        .into(),
        Op::Jobs(JobsOp::Get { id }) => JobsReply::Job {
            job: Box::new(list().into_iter().find(|j| j.id == *id).ok_or("no job")?),
        }
        .into(),
        Op::Jobs(JobsOp::Retry { .. } | JobsOp::Discard { .. }) => {
            JobsReply::Count { count: 2 }.into()
        }
        other => return Err(format!("unexpected {}", other.name())),
    })
}

fn serve_tab(state: &mut JobsState) -> Vec<Op> {
    let mut ops = Vec::new();
    loop {
        let out = state.take_outbox();
        if out.is_empty() {
            return ops;
        }
        for Outgoing { tag, op } in out {
            state.on_reply(tag, answer(&op));
            ops.push(op);
        }
    }
}

fn connected_tab() -> (JobsState, Instant) {
    let mut s = JobsState::new();
    let t0 = Instant::now();
    s.on_tick(t0, true);
    s.on_connected(Some("alice"));
    s.on_show();
    serve_tab(&mut s);
    (s, t0)
}

#[test]
fn showing_subscribes_and_fetches_the_figures() {
    let mut s = JobsState::new();
    s.on_tick(Instant::now(), true);
    assert!(s.take_outbox().is_empty(), "nothing before connecting");
    s.on_connected(Some("alice"));
    assert!(s.take_outbox().is_empty(), "nothing until shown");
    s.on_show();
    let ops = serve_tab(&mut s);
    assert_eq!(
        ops[0],
        Op::Base(BaseOp::Subscribe {
            topics: vec!["jobs".into()]
        })
    );
    assert!(ops.contains(&Op::Jobs(JobsOp::Stats)), "{ops:?}");
    assert!(
        ops.iter()
            .any(|op| matches!(op, Op::Jobs(JobsOp::List { state: None, .. }))),
        "{ops:?}"
    );
    assert_eq!(s.counts(), Some(&counts()));
    assert_eq!(s.queues().len(), 2);
    assert_eq!(s.jobs().map(<[Job]>::len), Some(4));
}

#[test]
fn pushes_refresh_at_most_every_half_second_and_only_while_shown() {
    let (mut s, t0) = connected_tab();
    let change = || {
        Event::Jobs(JobsEvent::Changed {
            changes: vec![JobChange {
                id: 45,
                queue: "mail".into(),
                kind: "email.send".into(),
                state: Some(JobState::Available),
                attempt: 0,
            }],
        })
    };
    // A burst of pushes, hidden: nothing asked.
    for _ in 0..100 {
        s.on_push(change());
    }
    s.on_tick(t0 + Duration::from_millis(600), false);
    assert!(s.take_outbox().is_empty());
    // Shown: one refresh for the whole burst.
    s.on_tick(t0 + Duration::from_millis(700), true);
    let ops = serve_tab(&mut s);
    assert_eq!(
        ops.iter()
            .filter(|op| matches!(op, Op::Jobs(JobsOp::List { .. })))
            .count(),
        1
    );
    // Another push right after: waits for the half second to pass.
    s.on_push(change());
    s.on_tick(t0 + Duration::from_millis(900), true);
    assert!(
        !serve_tab(&mut s)
            .iter()
            .any(|op| matches!(op, Op::Jobs(JobsOp::List { .. })))
    );
    s.on_tick(t0 + Duration::from_millis(1300), true);
    assert!(
        serve_tab(&mut s)
            .iter()
            .any(|op| matches!(op, Op::Jobs(JobsOp::List { .. })))
    );
    // A queue's setting arrives with its push.
    let mut mail = s.queues()[0].clone();
    mail.paused = true;
    s.on_push(Event::Jobs(JobsEvent::Queue {
        queue: Box::new(mail),
    }));
    assert!(s.queues()[0].paused);
}

#[test]
fn filters_cycle_and_list_again() {
    let (mut s, _) = connected_tab();
    press(&mut s, KeyCode::Char('s'));
    let ops = serve_tab(&mut s);
    assert!(
        ops.iter().any(|op| matches!(
            op,
            Op::Jobs(JobsOp::List {
                state: Some(JobState::Scheduled),
                ..
            })
        )),
        "{ops:?}"
    );
    for _ in 0..5 {
        press(&mut s, KeyCode::Char('s'));
    }
    serve_tab(&mut s);
    assert_eq!(s.filters().0, Some(JobState::Dead));
    assert_eq!(s.jobs().unwrap()[0].id, 41);
    // The kind filter is typed, q included.
    press(&mut s, KeyCode::Char('/'));
    assert!(s.types_text());
    for c in "email.sendq".chars() {
        press(&mut s, KeyCode::Char(c));
    }
    press(&mut s, KeyCode::Backspace);
    press(&mut s, KeyCode::Enter);
    let ops = serve_tab(&mut s);
    assert!(
        ops.iter().any(|op| matches!(
            op,
            Op::Jobs(JobsOp::List { kind: Some(k), state: Some(JobState::Dead), .. }) if k == "email.send"
        )),
        "{ops:?}"
    );
    // A queue picked in the table filters the list; x clears everything.
    press(&mut s, KeyCode::Char('v'));
    assert_eq!(s.focus(), Focus::Queues);
    press(&mut s, KeyCode::Char('j'));
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.focus(), Focus::Jobs);
    assert_eq!(s.filters().1, Some("reports"));
    press(&mut s, KeyCode::Char('x'));
    assert_eq!(s.filters().0, None);
    assert_eq!(s.filters().1, None);
    assert_eq!(s.filters().2, "");
}

#[test]
fn actions_go_out_and_bulk_ones_ask_first() {
    let (mut s, _) = connected_tab();
    // The fourth job is the dead one.
    press(&mut s, KeyCode::Char('G'));
    press(&mut s, KeyCode::Char('r'));
    let ops = serve_tab(&mut s);
    assert!(ops.contains(&Op::Jobs(JobsOp::Retry {
        id: Some(41),
        all_dead: false,
        queue: None
    })));
    assert_eq!(s.message(), Some("retry job 41: 2 jobs"));
    press(&mut s, KeyCode::Char('c'));
    assert!(
        s.take_outbox()
            .iter()
            .any(|o| o.op == Op::Jobs(JobsOp::Cancel { id: 41 }))
    );
    // Discard every dead job: asked, refused, asked again, done.
    press(&mut s, KeyCode::Char('D'));
    assert_eq!(
        s.confirm(),
        Some(&Confirm::DiscardDead(None)),
        "bulk actions ask first"
    );
    assert!(s.take_outbox().is_empty());
    press(&mut s, KeyCode::Char('n'));
    assert_eq!(s.confirm(), None);
    assert!(s.take_outbox().is_empty());
    press(&mut s, KeyCode::Char('D'));
    press(&mut s, KeyCode::Char('y'));
    let ops = serve_tab(&mut s);
    assert!(ops.contains(&Op::Jobs(JobsOp::Discard {
        id: None,
        all_dead: true,
        queue: None
    })));
    // Pause the selected queue (reports is paused: resumed).
    press(&mut s, KeyCode::Char('v'));
    press(&mut s, KeyCode::End);
    press(&mut s, KeyCode::Char('p'));
    assert!(s.take_outbox().iter().any(|o| o.op
        == Op::Jobs(JobsOp::QueueSet {
            queue: "reports".into(),
            paused: Some(false),
            concurrency: None,
            rate: None
        })));
    // Errors show on the status line.
    press(&mut s, KeyCode::Char('p'));
    let out = s.take_outbox();
    s.on_reply(out[0].tag, Err("no queue named \"reports\"".into()));
    assert_eq!(
        s.message(),
        Some("resume queue reports: no queue named \"reports\"")
    );
}

#[test]
fn the_detail_opens_with_the_latest_job_and_closes() {
    let (mut s, _) = connected_tab();
    press(&mut s, KeyCode::End);
    press(&mut s, KeyCode::Enter);
    let ops = serve_tab(&mut s);
    assert!(ops.contains(&Op::Jobs(JobsOp::Get { id: 41 })));
    assert_eq!(s.detail().map(|j| j.errors.len()), Some(3));
    assert_eq!(press(&mut s, KeyCode::Esc), KeyOutcome::Consumed);
    assert!(s.detail().is_none());
    // Esc with nothing open is the shell's.
    assert_eq!(press(&mut s, KeyCode::Esc), KeyOutcome::NotConsumed);
}

#[test]
fn helpers_draw_counts_sparklines_and_times() {
    assert_eq!(sparkline(&[0, 1, 2, 4, 8]), " ▁▂▄█");
    assert_eq!(sparkline(&[0, 0]), "  ");
    assert_eq!(short(999), "999");
    assert_eq!(short(12_345), "12.3k");
    assert_eq!(short(2_500_000), "2.5M");
    assert_eq!(time(0), "1970-01-01 00:00:00");
    assert_eq!(time(1_780_000_061_000), "2026-05-28 20:27:41");
    assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00");
}

/// The app signed in as alice on the Jobs tab, with the daemon answered.
fn app_scene() -> App {
    let mut app = App::new("127.0.0.1:7070", None);
    app.on_server(ServerEvent::Connected {
        session: 42,
        user: Some("alice".into()),
    });
    app.select_tab(TabId::Jobs);
    app.on_tick(Instant::now());
    serve(&mut app);
    app
}

fn serve(app: &mut App) {
    loop {
        let out = app.take_outbox();
        if out.is_empty() {
            return;
        }
        for crate::app::Outgoing { tag, op } in out {
            app.on_server(ServerEvent::Reply {
                tag,
                result: answer(&op),
            });
        }
    }
}

fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal.draw(|f| crate::ui::render(app, f)).expect("draw");
    let buf = terminal.backend().buffer();
    let area = buf.area;
    (area.top()..area.bottom())
        .map(|y| {
            let row: String = (area.left()..area.right())
                .map(|x| buf[(x, y)].symbol())
                .collect();
            row.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn key(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

#[test]
fn snapshot_jobs_overview() {
    let app = app_scene();
    let text = screen(&app);
    assert!(text.contains("done 1520"), "{text}");
    assert!(text.contains("paused"), "{text}");
    assert!(text.contains("email.send"), "{text}");
    insta::assert_snapshot!("jobs_overview", text);
}

#[test]
fn snapshot_jobs_detail_of_a_dead_job() {
    let mut app = app_scene();
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Enter);
    serve(&mut app);
    let text = screen(&app);
    assert!(text.contains("Job 41"), "{text}");
    assert!(text.contains("connection refused (3)"), "{text}");
    insta::assert_snapshot!("jobs_detail", text);
}

#[test]
fn snapshot_jobs_bulk_confirmation_over_the_dead_queue() {
    let mut app = app_scene();
    key(&mut app, KeyCode::Char('v'));
    key(&mut app, KeyCode::Enter);
    serve(&mut app);
    key(&mut app, KeyCode::Char('R'));
    let text = screen(&app);
    assert!(text.contains("Retry queue mail's dead jobs? y/n"), "{text}");
    insta::assert_snapshot!("jobs_confirm", text);
    // Before the first answer, the tab says loading rather than 0.
    let mut app = App::new("127.0.0.1:7070", None);
    app.on_server(ServerEvent::Connected {
        session: 42,
        user: Some("alice".into()),
    });
    app.select_tab(TabId::Jobs);
    let text = screen(&app);
    assert!(text.contains("loading…"), "{text}");
    assert!(!text.contains("avail 0"), "{text}");
}

#[test]
fn snapshot_jobs_help_fits_the_screen() {
    let mut app = app_scene();
    app.handle_key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE));
    let text = screen(&app);
    assert!(text.contains("Jobs tab"), "{text}");
    for (keys, what) in KEYS {
        assert!(text.contains(keys.trim()), "{keys} missing:\n{text}");
        assert!(text.contains(what), "{what} missing:\n{text}");
    }
    insta::assert_snapshot!("jobs_help", text);
}
