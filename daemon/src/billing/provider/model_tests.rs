use super::*;

const T0: i64 = 1_700_000_000;

fn subscribed(trial_days: i64, card: &str) -> (Books, String, String, String) {
    let mut b = Books::default();
    let cus = b.create_customer("acme", T0);
    let (cus, clock) = (
        cus["id"].as_str().unwrap().to_owned(),
        cus["test_clock"].as_str().unwrap().to_owned(),
    );
    let cs = b.create_session(&cus, "team", trial_days).unwrap();
    let (out, _) = b
        .complete_session(cs["id"].as_str().unwrap(), card)
        .unwrap();
    let sub = out["subscription"]["id"].as_str().unwrap().to_owned();
    (b, cus, clock, sub)
}

fn status(b: &Books, sub: &str) -> String {
    b.subscription(sub).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind).collect()
}

#[test]
fn a_trial_becomes_active_and_renews() {
    let (mut b, cus, clock, sub) = subscribed(14, cards::GOOD);
    assert_eq!(status(&b, &sub), "trialing");
    assert!(b.invoices(&cus).is_empty(), "no invoice during the trial");
    let events = b.advance(&clock, T0 + 14 * DAY).unwrap();
    assert_eq!(
        kinds(&events),
        [
            "invoice.finalized",
            "invoice.paid",
            "customer.subscription.updated"
        ]
    );
    assert_eq!(status(&b, &sub), "active");
    let events = b.advance(&clock, T0 + 14 * DAY + PERIOD_SECS).unwrap();
    assert_eq!(kinds(&events), ["invoice.finalized", "invoice.paid"]);
    let invoices = b.invoices(&cus);
    assert_eq!(invoices.len(), 2);
    assert!(
        invoices
            .iter()
            .all(|i| i["status"] == "paid" && i["amount_paid"] == 4_900)
    );
}

#[test]
fn a_failing_card_goes_past_due_then_recovers_or_ends_unpaid() {
    let (mut b, cus, clock, sub) = subscribed(14, cards::FAILS_LATER);
    let end = T0 + 14 * DAY;
    let events = b.advance(&clock, end).unwrap();
    assert_eq!(
        kinds(&events),
        [
            "invoice.finalized",
            "invoice.payment_failed",
            "customer.subscription.updated"
        ]
    );
    assert_eq!(status(&b, &sub), "past_due");
    assert_eq!(b.invoices(&cus)[0]["next_payment_attempt"], end + 3 * DAY);
    // The first retry fails too; then the card is fixed and the second pays.
    b.advance(&clock, end + 3 * DAY).unwrap();
    assert_eq!(status(&b, &sub), "past_due");
    assert_eq!(b.invoices(&cus)[0]["attempt_count"], 2);
    b.set_card(&cus, cards::GOOD).unwrap();
    let events = b.advance(&clock, end + 5 * DAY).unwrap();
    assert_eq!(
        kinds(&events),
        ["invoice.paid", "customer.subscription.updated"]
    );
    assert_eq!(status(&b, &sub), "active");

    let (mut b, cus, clock, sub) = subscribed(14, cards::FAILS_LATER);
    b.advance(&clock, end + 7 * DAY).unwrap();
    assert_eq!(status(&b, &sub), "unpaid");
    let inv = &b.invoices(&cus)[0];
    assert_eq!(
        (inv["status"].as_str(), inv["attempt_count"].as_i64()),
        (Some("uncollectible"), Some(4))
    );
    // Unpaid does not renew, and cannot be changed.
    assert!(b.advance(&clock, end + 100 * DAY).unwrap().is_empty());
    assert_eq!(
        b.update_subscription(&sub, Some("business"), None)
            .unwrap_err()
            .status,
        409
    );
}

#[test]
fn an_upgrade_half_way_is_prorated_on_one_invoice() {
    let (mut b, cus, clock, sub) = subscribed(0, cards::GOOD);
    assert_eq!(status(&b, &sub), "active");
    b.advance(&clock, T0 + PERIOD_SECS / 2).unwrap();
    let (after, events) = b.update_subscription(&sub, Some("business"), None).unwrap();
    assert_eq!(after["plan"], "business");
    assert_eq!(
        kinds(&events),
        [
            "customer.subscription.updated",
            "invoice.finalized",
            "invoice.paid"
        ]
    );
    let invoices = b.invoices(&cus);
    let lines = invoices[1]["lines"].as_array().unwrap();
    let amounts: Vec<i64> = lines
        .iter()
        .map(|l| l["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [-2_450, 9_950]);
    assert_eq!(invoices[1]["amount_due"], 7_500);
    // A downgrade right after nets a credit, carried to the next invoice.
    let (_, _) = b.update_subscription(&sub, Some("team"), None).unwrap();
    let invoices = b.invoices(&cus);
    assert_eq!(invoices[2]["total"], -9_950 + 2_450);
    assert_eq!(invoices[2]["amount_due"], 0);
    b.advance(&clock, T0 + PERIOD_SECS).unwrap();
    let renewal = &b.invoices(&cus)[3];
    assert_eq!(renewal["total"], 4_900);
    assert_eq!(renewal["amount_due"], 0, "the credit pays the renewal");
}

#[test]
fn cancel_at_period_end_and_resume() {
    let (mut b, _cus, clock, sub) = subscribed(0, cards::GOOD);
    b.update_subscription(&sub, None, Some(true)).unwrap();
    b.update_subscription(&sub, None, Some(false)).unwrap();
    b.advance(&clock, T0 + PERIOD_SECS).unwrap();
    assert_eq!(status(&b, &sub), "active", "resumed: it renewed");
    b.update_subscription(&sub, None, Some(true)).unwrap();
    let events = b.advance(&clock, T0 + 2 * PERIOD_SECS).unwrap();
    assert_eq!(kinds(&events), ["customer.subscription.deleted"]);
    assert_eq!(status(&b, &sub), "canceled");
}

#[test]
fn bad_requests_are_refused() {
    let mut b = Books::default();
    let cus = b.create_customer("acme", T0);
    let cus = cus["id"].as_str().unwrap().to_owned();
    assert_eq!(
        b.create_session("cus_x", "team", 0).unwrap_err().status,
        404
    );
    assert_eq!(b.create_session(&cus, "free", 0).unwrap_err().status, 400);
    assert_eq!(b.create_session(&cus, "gold", 0).unwrap_err().status, 400);
    let cs = b.create_session(&cus, "team", 0).unwrap();
    let cs = cs["id"].as_str().unwrap();
    assert_eq!(
        b.complete_session(cs, cards::DECLINED).unwrap_err().status,
        402
    );
    b.complete_session(cs, cards::GOOD).unwrap();
    assert_eq!(b.complete_session(cs, cards::GOOD).unwrap_err().status, 409);
    assert_eq!(b.advance("clock_x", T0).unwrap_err().status, 404);
    let clock = b.customers[&cus].clock.clone();
    assert_eq!(b.advance(&clock, T0 - 1).unwrap_err().status, 400);
}

#[test]
fn versions_only_grow() {
    let (mut b, _cus, clock, sub) = subscribed(14, cards::GOOD);
    let mut last = 0;
    let mut events = b.advance(&clock, T0 + 14 * DAY).unwrap();
    events.extend(
        b.update_subscription(&sub, Some("business"), None)
            .unwrap()
            .1,
    );
    for e in events
        .iter()
        .filter(|e| e.object["object"] == "subscription")
    {
        let v = e.object["version"].as_i64().unwrap();
        assert!(v > last, "{v} after {last}");
        last = v;
    }
}
