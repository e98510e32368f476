//! The billing repository's suite ([`super::BillingStore`]), run once per
//! backend: SQLite's `Billing` and PostgreSQL's `PgOrgs` must agree. Each
//! step is a transaction of its own ([`Storage::billing`]).

use std::convert::Infallible;

use super::*;
use crate::{Access, Storage};

crate::on_both_backends!(
    an_older_subscription_never_overwrites_a_newer_one,
    invoices_keep_the_newest_and_events_are_recorded_once,
    plans_customers_and_custom_domains_are_kept,
);

/// ann, and her organizations acme and globex.
fn setup(db: &Storage) -> (i64, i64) {
    let ann = db
        .users(Access::Write, |u| Ok(u.create("ann", "")?.id))
        .unwrap();
    db.orgs(Access::Write, |o| {
        Ok(Ok((
            o.create("acme", "Acme", ann)?.unwrap().id,
            o.create("globex", "Globex", ann)?.unwrap().id,
        )))
    })
    .unwrap()
    .unwrap_or_else(|never: Infallible| match never {})
}

/// `f` in a transaction of its own (`access`), never refused.
fn with<T>(db: &Storage, access: Access, f: impl FnOnce(&mut dyn BillingStore) -> Result<T>) -> T {
    db.billing(access, |b| Ok(Ok::<_, Infallible>(f(b)?)))
        .unwrap()
        .unwrap_or_else(|never| match never {})
}

fn read<T>(db: &Storage, f: impl FnOnce(&mut dyn BillingStore) -> Result<T>) -> T {
    with(db, Access::Read, f)
}

fn write<T>(db: &Storage, f: impl FnOnce(&mut dyn BillingStore) -> Result<T>) -> T {
    with(db, Access::Write, f)
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

fn an_older_subscription_never_overwrites_a_newer_one(db: &Storage) {
    let (acme, _) = setup(db);
    assert_eq!(read(db, |b| b.subscription(acme)), None);
    assert!(write(db, |b| b.apply_subscription(&sub(acme, 2, "active"))));
    assert!(!write(db, |b| b.apply_subscription(&sub(acme, 1, "trialing"))));
    assert!(!write(db, |b| b.apply_subscription(&sub(acme, 2, "trialing"))));
    assert_eq!(
        read(db, |b| b.subscription(acme)),
        Some(sub(acme, 2, "active"))
    );
    let newer = Subscription {
        id: "sub_2".into(),
        plan: "business".into(),
        trial_end: Some(50),
        cancel_at_period_end: true,
        ..sub(acme, 3, "past_due")
    };
    assert!(write(db, |b| b.apply_subscription(&newer)));
    assert_eq!(read(db, |b| b.subscription(acme)), Some(newer));
}

fn invoice(org_id: i64, id: &str, created: i64, version: i64, status: &str) -> Invoice {
    Invoice {
        id: id.into(),
        org_id,
        status: status.into(),
        total: 100,
        amount_due: 100,
        amount_paid: 100,
        attempt_count: 1,
        created,
        lines: "[]".into(),
        version,
    }
}

fn invoices_keep_the_newest_and_events_are_recorded_once(db: &Storage) {
    let (acme, globex) = setup(db);
    let paid = invoice(acme, "in_1", 5, 2, "paid");
    assert!(write(db, |b| b.apply_invoice(&paid)));
    assert!(!write(db, |b| b
        .apply_invoice(&invoice(acme, "in_1", 5, 1, "open"))));
    assert!(!write(db, |b| b
        .apply_invoice(&invoice(acme, "in_1", 5, 2, "void"))));
    assert_eq!(read(db, |b| b.invoices(acme)), vec![paid.clone()]);
    let later = invoice(acme, "in_2", 9, 1, "open");
    let same_time = invoice(acme, "in_10", 9, 1, "draft");
    write(db, |b| {
        b.apply_invoice(&later)?;
        b.apply_invoice(&same_time)?;
        b.apply_invoice(&invoice(globex, "in_3", 7, 1, "paid"))
    });
    // Newest first; at the same time, by id (byte order) descending.
    assert_eq!(read(db, |b| b.invoices(acme)), vec![later, same_time, paid]);
    assert!(write(db, |b| b.record_event("evt_1", "invoice.paid")));
    assert!(!write(db, |b| b.record_event("evt_1", "invoice.paid")));
    assert!(write(db, |b| b.record_event("evt_2", "invoice.paid")));
}

fn plans_customers_and_custom_domains_are_kept(db: &Storage) {
    let (acme, globex) = setup(db);
    assert_eq!(read(db, |b| b.plan(acme)), Some("free".into()));
    assert_eq!(read(db, |b| b.plan(globex + 100)), None);
    write(db, |b| b.set_plan(acme, "team"));
    assert_eq!(read(db, |b| b.plan(acme)), Some("team".into()));
    assert_eq!(read(db, |b| b.seats(acme, 0)), (1, 0));
    // One customer per organization: a second call keeps the first.
    assert_eq!(read(db, |b| b.customer(acme)), None);
    write(db, |b| b.set_customer(acme, "cus_1", Some("clock_1")));
    write(db, |b| b.set_customer(acme, "cus_9", None));
    assert_eq!(
        read(db, |b| b.customer(acme)),
        Some(("cus_1".into(), Some("clock_1".into())))
    );
    assert_eq!(read(db, |b| b.org_of_customer("cus_1")), Some(acme));
    assert_eq!(read(db, |b| b.org_of_customer("cus_9")), None);
    // A domain is one organization's.
    assert_eq!(read(db, |b| b.custom_domain(acme)), None);
    assert!(write(db, |b| b.set_custom_domain(acme, Some("blog.acme.test"))));
    assert!(write(db, |b| b.set_custom_domain(acme, Some("blog.acme.test"))));
    let taken = write(db, |b| {
        let taken = !b.set_custom_domain(globex, Some("blog.acme.test"))?;
        // The transaction goes on after the refusal.
        Ok((taken, b.custom_domain(globex)?))
    });
    assert_eq!(taken, (true, None));
    assert!(write(db, |b| b.set_custom_domain(globex, Some("globex.test"))));
    assert_eq!(
        read(db, |b| b.custom_domains()),
        vec![
            ("blog.acme.test".into(), "acme".into()),
            ("globex.test".into(), "globex".into())
        ]
    );
    assert!(write(db, |b| b.set_custom_domain(acme, None)));
    assert_eq!(read(db, |b| b.custom_domain(acme)), None);
    assert!(write(db, |b| b.set_custom_domain(globex, Some("blog.acme.test"))));
    assert_eq!(
        read(db, |b| b.custom_domains()),
        vec![("blog.acme.test".into(), "globex".into())]
    );
}
