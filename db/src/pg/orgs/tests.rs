//! What only PostgreSQL has to show: two nodes changing one organization
//! (or one billing row) at once. Each test holds the first node's
//! transaction open after its change, starts the second node's, checks
//! that it waits, then commits the first: the second must decide from
//! what the first committed.

use std::convert::Infallible;
use std::sync::mpsc;
use std::time::Duration;

use crate::billing::Subscription;
use crate::orgs::{Answer, Org, OrgStore, Refusal, Role};
use crate::{Access, Pg, Result, Storage};

/// A node of the fleet: its own connections to the shared database.
fn node(url: &str) -> Storage {
    Storage::Postgres(Pg::connect(url).unwrap())
}

/// `f` in a write transaction of its own, never refused.
fn write<T>(db: &Storage, f: impl FnOnce(&mut dyn OrgStore) -> Result<T>) -> T {
    db.orgs(Access::Write, |o| Ok(Ok::<_, Infallible>(f(o)?)))
        .unwrap()
        .unwrap_or_else(|never| match never {})
}

fn change<T>(
    db: &Storage,
    f: impl FnOnce(&mut dyn OrgStore) -> Answer<T>,
) -> std::result::Result<T, Refusal> {
    db.orgs(Access::Write, f).unwrap()
}

/// Runs `first` (which calls `hold` inside its transaction, after its
/// change) and, once it holds, `second`; lets `first` commit 300 ms
/// later. Answers both results and whether `second` was still running
/// then (waiting for `first`).
fn overlapping<A: Send, B: Send>(
    first: impl FnOnce(&dyn Fn()) -> A + Send,
    second: impl FnOnce() -> B + Send,
) -> (A, B, bool) {
    let (held, holding) = mpsc::channel();
    let (go, release) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let first = s.spawn(move || {
            first(&|| {
                held.send(()).unwrap();
                release.recv().unwrap();
            })
        });
        holding.recv().unwrap();
        let second = s.spawn(second);
        std::thread::sleep(Duration::from_millis(300));
        let waited = !second.is_finished();
        go.send(()).unwrap();
        (first.join().unwrap(), second.join().unwrap(), waited)
    })
}

/// alice, bob and carol; acme, owned by alice.
fn setup(db: &Storage) -> (i64, i64, i64, Org) {
    let (alice, bob, carol) = db
        .users(Access::Write, |u| {
            Ok((
                u.create("alice", "h")?.id,
                u.create("bob", "h")?.id,
                u.create("carol", "h")?.id,
            ))
        })
        .unwrap();
    let acme = change(db, |o| o.create("acme", "Acme", alice)).unwrap();
    (alice, bob, carol, acme)
}

#[test]
fn two_nodes_removing_the_last_two_owners_leave_one() {
    let url = crate::pg::testing::database();
    let (a, b) = (node(&url), node(&url));
    let (alice, bob, _, acme) = setup(&a);
    change(&a, |o| {
        o.invite(acme.id, "bob", Role::Owner, alice, "t", 1_000)
    })
    .unwrap();
    change(&a, |o| o.answer("t", bob, true, 0)).unwrap();
    let (first, second, waited) = overlapping(
        |hold| {
            change(&a, |o| {
                let out = o.remove(acme.id, alice)?;
                hold();
                Ok(out)
            })
        },
        || change(&b, |o| o.remove(acme.id, bob)),
    );
    let owners: Vec<i64> = write(&a, |o| o.members(acme.id))
        .iter()
        .filter(|m| m.role == Role::Owner)
        .map(|m| m.user_id)
        .collect();
    assert_eq!(owners, [bob], "an owner remains");
    assert_eq!((first, second), (Ok(()), Err(Refusal::LastOwner)));
    assert!(waited, "B did not wait for A's lock on the organization");
}

#[test]
fn two_nodes_accepting_invitations_for_the_last_seat_let_one_in() {
    let url = crate::pg::testing::database();
    let (a, b) = (node(&url), node(&url));
    let (alice, bob, carol, acme) = setup(&a);
    change(&a, |o| {
        o.invite(acme.id, "bob", Role::Author, alice, "tb", 1_000)
    })
    .unwrap();
    change(&a, |o| {
        o.invite(acme.id, "carol", Role::Author, alice, "tc", 1_000)
    })
    .unwrap();
    // The daemon's answer: accept, then count the seats in the same
    // transaction; a plan of two members refuses the third (rolled back).
    let accept = |o: &mut dyn OrgStore, token: &str, user: i64| {
        let (org, _) = match o.answer(token, user, true, 0)? {
            Ok(answered) => answered,
            Err(refusal) => return Ok(Err(refusal.to_string())),
        };
        let (members, _) = o.seats(org.id, 0)?;
        if members > 2 {
            return Ok(Err("no seat left".to_owned()));
        }
        Ok(Ok(()))
    };
    let (first, second, waited) = overlapping(
        |hold| {
            a.orgs(Access::Write, |o| {
                let out = accept(o, "tb", bob)?;
                hold();
                Ok(out)
            })
            .unwrap()
        },
        || b.orgs(Access::Write, |o| accept(o, "tc", carol)).unwrap(),
    );
    let members: Vec<i64> = write(&a, |o| o.members(acme.id))
        .iter()
        .map(|m| m.user_id)
        .collect();
    assert_eq!(members, [alice, bob], "only one in");
    assert_eq!((first, second), (Ok(()), Err("no seat left".to_owned())));
    assert!(waited, "B did not wait for A's lock on the organization");
    assert_eq!(
        write(&a, |o| o.seats(acme.id, 0)),
        (2, 1),
        "tc stays pending"
    );
}

fn sub(org_id: i64, version: i64, status: &str) -> Subscription {
    Subscription {
        org_id,
        id: "sub_1".into(),
        plan: "team".into(),
        status: status.into(),
        period_start: 0,
        period_end: 100,
        trial_end: None,
        cancel_at_period_end: false,
        version,
    }
}

#[test]
fn an_older_subscription_version_never_overwrites_a_newer_one_across_nodes() {
    let url = crate::pg::testing::database();
    let (a, b) = (node(&url), node(&url));
    let (_, _, _, acme) = setup(&a);
    let apply = |db: &Storage, sub: Subscription, hold: Option<&dyn Fn()>| {
        db.billing(Access::Write, |billing| {
            let stored = billing.apply_subscription(&sub)?;
            if let Some(hold) = hold {
                hold();
            }
            Ok(Ok::<_, Infallible>(stored))
        })
        .unwrap()
        .unwrap_or_else(|never| match never {})
    };
    let status = || write(&a, |o| o.subscription(acme.id)).unwrap().status;
    // Nothing stored: A inserts version 2, B's version 3 waits, then wins.
    let (first, second, waited) = overlapping(
        |hold| apply(&a, sub(acme.id, 2, "trialing"), Some(hold)),
        || apply(&b, sub(acme.id, 3, "active"), None),
    );
    assert_eq!(status(), "active");
    assert_eq!((first, second, waited), (true, true, true));
    // A stores version 5; B's version 4, arriving meanwhile, loses.
    let (first, second, waited) = overlapping(
        |hold| apply(&a, sub(acme.id, 5, "past_due"), Some(hold)),
        || apply(&b, sub(acme.id, 4, "canceled"), None),
    );
    assert_eq!(
        status(),
        "past_due",
        "an older version overwrote a newer one"
    );
    assert_eq!((first, second, waited), (true, false, true));
}

#[test]
fn two_nodes_creating_one_slug_or_taking_one_domain_or_event_get_one_each() {
    let url = crate::pg::testing::database();
    let (a, b) = (node(&url), node(&url));
    let (alice, bob, _, acme) = setup(&a);
    let (first, second, waited) = overlapping(
        |hold| {
            change(&a, |o| {
                let out = o.create("globex", "Globex", alice)?;
                hold();
                Ok(out)
            })
        },
        || change(&b, |o| o.create("globex", "Other", bob)),
    );
    let globex = first.unwrap();
    assert_eq!((second, waited), (Err(Refusal::SlugTaken), true));
    assert_eq!(write(&b, |o| o.of_user(bob)), []);
    let (first, second, waited) = overlapping(
        |hold| {
            write(&a, |o| {
                let out = o.set_custom_domain(acme.id, Some("blog.test"))?;
                hold();
                Ok(out)
            })
        },
        || {
            write(&b, |o| {
                let out = o.set_custom_domain(globex.id, Some("blog.test"))?;
                // The refusal did not abort B's transaction.
                Ok((out, o.custom_domain(globex.id)?))
            })
        },
    );
    assert_eq!((first, second, waited), (true, (false, None), true));
    assert_eq!(
        write(&a, |o| o.custom_domains()),
        [("blog.test".to_owned(), "acme".to_owned())]
    );
    let (first, second, waited) = overlapping(
        |hold| {
            write(&a, |o| {
                let out = o.record_event("evt_1", "invoice.paid")?;
                hold();
                Ok(out)
            })
        },
        || write(&b, |o| o.record_event("evt_1", "invoice.paid")),
    );
    assert_eq!((first, second, waited), (true, false, true));
}
