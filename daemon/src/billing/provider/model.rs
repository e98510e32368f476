//! The mock provider's books: customers (each on its own test clock),
//! checkout sessions, subscriptions and invoices, and the events each
//! change produces. Synchronous and I/O-free: every operation answers the
//! events to deliver, and time only moves when a test clock is advanced
//! ([`Books::advance`]), which runs what fell due in order: trial ends and
//! renewals at period end, payment retries on the dunning schedule,
//! cancellations at period end.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::billing::lifecycle::{Happening, Status, next};
use crate::billing::plans::{PERIOD_SECS, Plan};
use crate::billing::proration;

/// When a failed invoice is tried again: days after the first failure.
/// After the last retry fails the invoice is uncollectible and the
/// subscription unpaid.
pub const DUNNING_DAYS: [i64; 3] = [3, 5, 7];

const DAY: i64 = 24 * 3600;

/// Test card numbers, as providers have them.
pub mod cards {
    /// Always succeeds.
    pub const GOOD: &str = "4242424242424242";
    /// Declined at checkout.
    pub const DECLINED: &str = "4000000000000002";
    /// Accepted at checkout; every later charge fails.
    pub const FAILS_LATER: &str = "4000000000000341";
}

/// An event to deliver: `type` and the object as it was then.
#[derive(Debug, Clone)]
pub struct Event {
    /// `evt_…`.
    pub id: String,
    /// `invoice.paid`, …
    pub kind: &'static str,
    /// When (the customer's clock), unix seconds.
    pub created: i64,
    /// The object's snapshot.
    pub object: Value,
}

impl Event {
    /// The wire form.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "event",
            "type": self.kind,
            "created": self.created,
            "data": { "object": self.object },
        })
    }
}

/// A refusal, as the provider's API answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// One line.
    pub message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
    }
}

struct Customer {
    id: String,
    org: String,
    clock: String,
    card: Option<String>,
    /// Credit (negative) carried to the next invoice, cents.
    balance: i64,
}

struct Session {
    id: String,
    customer: String,
    plan: Plan,
    trial_days: i64,
    subscription: Option<String>,
}

struct Subscription {
    id: String,
    customer: String,
    plan: Plan,
    status: Status,
    start: i64,
    end: i64,
    trial_end: Option<i64>,
    cancel_at_period_end: bool,
    version: i64,
}

#[derive(Clone)]
struct Line {
    description: String,
    amount: i64,
    plan: Plan,
    proration: bool,
    start: i64,
    end: i64,
}

struct Invoice {
    id: String,
    customer: String,
    subscription: String,
    status: &'static str,
    lines: Vec<Line>,
    total: i64,
    amount_due: i64,
    amount_paid: i64,
    attempts: i64,
    first_failure: Option<i64>,
    next_attempt: Option<i64>,
    created: i64,
    version: i64,
}

/// Everything the mock provider knows.
#[derive(Default)]
pub struct Books {
    counter: u64,
    version: i64,
    clocks: BTreeMap<String, i64>,
    customers: BTreeMap<String, Customer>,
    sessions: BTreeMap<String, Session>,
    subscriptions: BTreeMap<String, Subscription>,
    invoices: BTreeMap<String, Invoice>,
}

impl Books {
    fn id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{:06}", self.counter)
    }

    fn bump(&mut self) -> i64 {
        self.version += 1;
        self.version
    }

    fn event(&mut self, kind: &'static str, created: i64, object: Value) -> Event {
        Event {
            id: self.id("evt"),
            kind,
            created,
            object,
        }
    }

    fn now_of(&self, customer: &str) -> i64 {
        self.customers
            .get(customer)
            .and_then(|c| self.clocks.get(&c.clock))
            .copied()
            .unwrap_or(0)
    }

    /// A customer for organization `org`, on a new test clock frozen at
    /// `now` (unix seconds).
    pub fn create_customer(&mut self, org: &str, now: i64) -> Value {
        let id = self.id("cus");
        let clock = self.id("clock");
        self.clocks.insert(clock.clone(), now);
        let customer = Customer {
            id: id.clone(),
            org: org.to_owned(),
            clock,
            card: None,
            balance: 0,
        };
        let out = customer_json(&customer);
        self.customers.insert(id, customer);
        out
    }

    /// A checkout session for `customer` to subscribe to `plan`.
    ///
    /// # Errors
    /// An unknown customer, a plan that is not sold.
    pub fn create_session(
        &mut self,
        customer: &str,
        plan: &str,
        trial_days: i64,
    ) -> Result<Value, ApiError> {
        if !self.customers.contains_key(customer) {
            return Err(refuse(404, format!("no such customer {customer}")));
        }
        let plan = match Plan::parse(plan) {
            Some(Plan::Free) | None => {
                return Err(refuse(
                    400,
                    format!("plan {plan:?} is not sold (team, business)"),
                ));
            }
            Some(p) => p,
        };
        if !(0..=365).contains(&trial_days) {
            return Err(refuse(400, "trial_days must be 0 to 365"));
        }
        let id = self.id("cs");
        let session = Session {
            id: id.clone(),
            customer: customer.to_owned(),
            plan,
            trial_days,
            subscription: None,
        };
        let out = session_json(&session);
        self.sessions.insert(id, session);
        Ok(out)
    }

    /// The session `id`.
    pub fn session(&self, id: &str) -> Option<Value> {
        self.sessions.get(id).map(session_json)
    }

    /// Completes checkout session `id` with `card`, as if the card form
    /// were submitted: the subscription starts (trialing, or active and
    /// invoiced at once without a trial).
    ///
    /// # Errors
    /// Unknown or completed session (404, 409), a declined card (402).
    pub fn complete_session(
        &mut self,
        id: &str,
        card: &str,
    ) -> Result<(Value, Vec<Event>), ApiError> {
        let Some(session) = self.sessions.get(id) else {
            return Err(refuse(404, format!("no such checkout session {id}")));
        };
        if session.subscription.is_some() {
            return Err(refuse(409, "this checkout session is complete already"));
        }
        if card == cards::DECLINED || card.len() < 12 || !card.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse(402, "your card was declined"));
        }
        let (customer, plan, trial_days) =
            (session.customer.clone(), session.plan, session.trial_days);
        if let Some(c) = self.customers.get_mut(&customer) {
            c.card = Some(card.to_owned());
        }
        let now = self.now_of(&customer);
        let sub_id = self.id("sub");
        let version = self.bump();
        let (status, end, trial_end) = if trial_days > 0 {
            let end = now + trial_days * DAY;
            (Status::Trialing, end, Some(end))
        } else {
            (Status::Active, now + PERIOD_SECS, None)
        };
        self.subscriptions.insert(
            sub_id.clone(),
            Subscription {
                id: sub_id.clone(),
                customer: customer.clone(),
                plan,
                status,
                start: now,
                end,
                trial_end,
                cancel_at_period_end: false,
                version,
            },
        );
        if let Some(s) = self.sessions.get_mut(id) {
            s.subscription = Some(sub_id.clone());
        }
        let session_obj = self.sessions.get(id).map(session_json).unwrap_or_default();
        let mut events = vec![self.event("checkout.session.completed", now, session_obj.clone())];
        let sub = self.sub_json(&sub_id);
        events.push(self.event("customer.subscription.created", now, sub));
        if trial_days == 0 {
            let line = Line {
                description: format!("{plan} plan, 1 period"),
                amount: plan.price_cents(),
                plan,
                proration: false,
                start: now,
                end,
            };
            events.extend(self.invoice_and_charge(&sub_id, vec![line], now));
        }
        Ok((
            json!({ "session": session_obj, "subscription": self.sub_json(&sub_id) }),
            events,
        ))
    }

    /// The subscription `id`.
    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.subscriptions
            .contains_key(id)
            .then(|| self.sub_json(id))
    }

    /// Changes subscription `id`: its plan (prorated at once: an invoice
    /// with a credit for the old plan's unused time and a charge for the
    /// new one's, charged now; during a trial the plan just changes),
    /// and/or whether it cancels at period end.
    ///
    /// # Errors
    /// Unknown (404), ended (409), a plan that is not sold (400).
    pub fn update_subscription(
        &mut self,
        id: &str,
        plan: Option<&str>,
        cancel_at_period_end: Option<bool>,
    ) -> Result<(Value, Vec<Event>), ApiError> {
        let Some(sub) = self.subscriptions.get(id) else {
            return Err(refuse(404, format!("no such subscription {id}")));
        };
        if matches!(sub.status, Status::Canceled | Status::Unpaid) {
            return Err(refuse(
                409,
                format!(
                    "the subscription is {}; start a new one",
                    sub.status.as_str()
                ),
            ));
        }
        let plan = match plan {
            None => None,
            Some(p) => match Plan::parse(p) {
                Some(Plan::Free) | None => {
                    return Err(refuse(
                        400,
                        format!("plan {p:?} is not sold (team, business)"),
                    ));
                }
                Some(p) => Some(p),
            },
        };
        let now = self.now_of(&sub.customer);
        let (old, status, start, end) = (sub.plan, sub.status, sub.start, sub.end);
        let version = self.bump();
        let sub = self.subscriptions.get_mut(id).expect("checked above");
        sub.version = version;
        if let Some(cancel) = cancel_at_period_end {
            sub.cancel_at_period_end = cancel;
        }
        let mut events = Vec::new();
        let mut lines = Vec::new();
        if let Some(new) = plan
            && new != old
        {
            sub.plan = new;
            if status != Status::Trialing {
                lines = proration::lines(
                    (old.as_str(), old.price_cents()),
                    (new.as_str(), new.price_cents()),
                    start,
                    end,
                    now,
                )
                .into_iter()
                .zip([old, new])
                .map(|(l, plan)| Line {
                    description: l.description,
                    amount: l.amount,
                    plan,
                    proration: true,
                    start: now,
                    end,
                })
                .collect();
            }
        }
        let snapshot = self.sub_json(id);
        events.push(self.event("customer.subscription.updated", now, snapshot));
        if !lines.is_empty() {
            events.extend(self.invoice_and_charge(id, lines, now));
        }
        Ok((self.sub_json(id), events))
    }

    /// Sets `customer`'s card (a later charge uses it).
    ///
    /// # Errors
    /// Unknown customer (404), a declined card (402).
    pub fn set_card(&mut self, customer: &str, card: &str) -> Result<Value, ApiError> {
        if card == cards::DECLINED || card.len() < 12 || !card.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse(402, "your card was declined"));
        }
        let Some(c) = self.customers.get_mut(customer) else {
            return Err(refuse(404, format!("no such customer {customer}")));
        };
        c.card = Some(card.to_owned());
        Ok(customer_json(c))
    }

    /// `customer`'s invoices, oldest first.
    pub fn invoices(&self, customer: &str) -> Vec<Value> {
        self.invoices
            .values()
            .filter(|i| i.customer == customer)
            .map(invoice_json)
            .collect()
    }

    /// Test clock `id`'s time, if it exists.
    pub fn clock(&self, id: &str) -> Option<i64> {
        self.clocks.get(id).copied()
    }

    /// Moves test clock `id` to `to` (unix seconds), running everything
    /// that falls due on the way, in order.
    ///
    /// # Errors
    /// Unknown clock (404); backwards (400).
    pub fn advance(&mut self, id: &str, to: i64) -> Result<Vec<Event>, ApiError> {
        let Some(&now) = self.clocks.get(id) else {
            return Err(refuse(404, format!("no such test clock {id}")));
        };
        if to < now {
            return Err(refuse(400, "a test clock only moves forward"));
        }
        let customers: Vec<String> = self
            .customers
            .values()
            .filter(|c| c.clock == id)
            .map(|c| c.id.clone())
            .collect();
        let mut events = Vec::new();
        // Each step handles the earliest thing due; 10,000 steps is over
        // 800 years of monthly renewals.
        for _ in 0..10_000 {
            let due_period = self
                .subscriptions
                .values()
                .filter(|s| customers.contains(&s.customer) && s.status.is_live() && s.end <= to)
                .map(|s| (s.end, 0, s.id.clone()))
                .min();
            let due_retry = self
                .invoices
                .values()
                .filter(|i| customers.contains(&i.customer) && i.status == "open")
                .filter_map(|i| {
                    i.next_attempt
                        .filter(|t| *t <= to)
                        .map(|t| (t, 1, i.id.clone()))
                })
                .min();
            let Some((at, kind, which)) = due_period.into_iter().chain(due_retry).min() else {
                break;
            };
            self.clocks.insert(id.to_owned(), at);
            if kind == 0 {
                events.extend(self.period_end(&which, at));
            } else {
                events.extend(self.retry(&which, at));
            }
        }
        self.clocks.insert(id.to_owned(), to);
        Ok(events)
    }

    fn period_end(&mut self, id: &str, at: i64) -> Vec<Event> {
        let version = self.bump();
        let Some(sub) = self.subscriptions.get_mut(id) else {
            return Vec::new();
        };
        sub.version = version;
        if sub.cancel_at_period_end {
            sub.status = Status::Canceled;
            let snapshot = self.sub_json(id);
            return vec![self.event("customer.subscription.deleted", at, snapshot)];
        }
        let plan = sub.plan;
        sub.start = sub.end;
        sub.end = sub.start + PERIOD_SECS;
        let (start, end) = (sub.start, sub.end);
        let line = Line {
            description: format!("{plan} plan, 1 period"),
            amount: plan.price_cents(),
            plan,
            proration: false,
            start,
            end,
        };
        self.invoice_and_charge(id, vec![line], at)
    }

    /// Makes an invoice of `lines` for subscription `sub` and charges it;
    /// the subscription follows the payment (lifecycle).
    fn invoice_and_charge(&mut self, sub: &str, lines: Vec<Line>, at: i64) -> Vec<Event> {
        let Some(customer) = self.subscriptions.get(sub).map(|s| s.customer.clone()) else {
            return Vec::new();
        };
        let total: i64 = lines.iter().map(|l| l.amount).sum();
        let balance = self.customers.get(&customer).map_or(0, |c| c.balance);
        // A credit balance (negative) pays what it can; a net credit adds to it.
        let amount_due = (total + balance).max(0);
        let new_balance = (total + balance).min(0);
        if let Some(c) = self.customers.get_mut(&customer) {
            c.balance = new_balance;
        }
        let id = self.id("in");
        let version = self.bump();
        self.invoices.insert(
            id.clone(),
            Invoice {
                id: id.clone(),
                customer,
                subscription: sub.to_owned(),
                status: "open",
                lines,
                total,
                amount_due,
                amount_paid: 0,
                attempts: 0,
                first_failure: None,
                next_attempt: None,
                created: at,
                version,
            },
        );
        let snapshot = self.invoice_value(&id);
        let mut events = vec![self.event("invoice.finalized", at, snapshot)];
        events.extend(self.retry(&id, at));
        events
    }

    /// One payment attempt on invoice `id` at `at`.
    fn retry(&mut self, id: &str, at: i64) -> Vec<Event> {
        let version = self.bump();
        let Some(inv) = self.invoices.get_mut(id) else {
            return Vec::new();
        };
        let card_ok = self
            .customers
            .get(&inv.customer)
            .and_then(|c| c.card.as_deref())
            .is_some_and(|card| card != cards::FAILS_LATER);
        inv.version = version;
        let sub = inv.subscription.clone();
        let (kind, happening) = if inv.amount_due == 0 || card_ok {
            if inv.amount_due > 0 {
                inv.attempts += 1;
            }
            inv.status = "paid";
            inv.amount_paid = inv.amount_due;
            inv.next_attempt = None;
            ("invoice.paid", Happening::PaymentSucceeded)
        } else {
            inv.attempts += 1;
            let first = *inv.first_failure.get_or_insert(at);
            let done = usize::try_from(inv.attempts - 1).unwrap_or(usize::MAX);
            match DUNNING_DAYS.get(done) {
                Some(days) => {
                    inv.next_attempt = Some(first + days * DAY);
                    ("invoice.payment_failed", Happening::PaymentFailed)
                }
                None => {
                    inv.next_attempt = None;
                    inv.status = "uncollectible";
                    ("invoice.marked_uncollectible", Happening::RetriesExhausted)
                }
            }
        };
        let snapshot = self.invoice_value(id);
        let mut events = vec![self.event(kind, at, snapshot)];
        let version = self.bump();
        if let Some(s) = self.subscriptions.get_mut(&sub)
            && let Some(status) = next(s.status, happening)
            && status != s.status
        {
            s.status = status;
            s.version = version;
            let snapshot = self.sub_json(&sub);
            events.push(self.event("customer.subscription.updated", at, snapshot));
        }
        events
    }

    fn sub_json(&self, id: &str) -> Value {
        let Some(s) = self.subscriptions.get(id) else {
            return Value::Null;
        };
        let org = self
            .customers
            .get(&s.customer)
            .map(|c| c.org.clone())
            .unwrap_or_default();
        json!({
            "id": s.id,
            "object": "subscription",
            "customer": s.customer,
            "plan": s.plan.as_str(),
            "status": s.status.as_str(),
            "current_period_start": s.start,
            "current_period_end": s.end,
            "trial_end": s.trial_end,
            "cancel_at_period_end": s.cancel_at_period_end,
            "version": s.version,
            "metadata": { "org": org },
        })
    }

    fn invoice_value(&self, id: &str) -> Value {
        self.invoices.get(id).map_or(Value::Null, invoice_json)
    }
}

fn customer_json(c: &Customer) -> Value {
    json!({
        "id": c.id,
        "object": "customer",
        "test_clock": c.clock,
        "balance": c.balance,
        "metadata": { "org": c.org },
    })
}

fn session_json(s: &Session) -> Value {
    json!({
        "id": s.id,
        "object": "checkout.session",
        "customer": s.customer,
        "plan": s.plan.as_str(),
        "trial_days": s.trial_days,
        "status": if s.subscription.is_some() { "complete" } else { "open" },
        "subscription": s.subscription,
    })
}

fn invoice_json(i: &Invoice) -> Value {
    let lines: Vec<Value> = i
        .lines
        .iter()
        .map(|l| {
            json!({
                "description": l.description,
                "amount": l.amount,
                "plan": l.plan.as_str(),
                "proration": l.proration,
                "period": { "start": l.start, "end": l.end },
            })
        })
        .collect();
    json!({
        "id": i.id,
        "object": "invoice",
        "customer": i.customer,
        "subscription": i.subscription,
        "status": i.status,
        "currency": "usd",
        "total": i.total,
        "amount_due": i.amount_due,
        "amount_paid": i.amount_paid,
        "attempt_count": i.attempts,
        "next_payment_attempt": i.next_attempt,
        "created": i.created,
        "lines": lines,
        "version": i.version,
    })
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
