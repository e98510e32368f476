//! Alert rules and their state machine, with Prometheus's semantics:
//!
//! ```text
//!            holds                   held for `for`
//!   ok ───────────────▶ pending ─────────────────────▶ firing
//!    ▲                     │ stops holding                │ stops holding
//!    └─────────────────────┘                              ▼
//!   (resolved behaves as ok: holds again → pending) ◀── resolved
//! ```
//!
//! A rule with `for` 0 goes from ok straight to firing. A missing metric
//! does not hold. A silence mutes announcements (chat, jobs) but not the
//! evaluation nor the history, as Alertmanager's silences do. Time is an
//! argument everywhere, so the tests need no clock.

use std::collections::{BTreeMap, HashMap};

use agora_wire::metrics::{Alert, AlertState};

/// A comparison between a metric and a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Cmp {
    /// Every comparison, as written.
    pub const ALL: [(&str, Cmp); 6] = [
        (">", Cmp::Gt),
        (">=", Cmp::Ge),
        ("<", Cmp::Lt),
        ("<=", Cmp::Le),
        ("==", Cmp::Eq),
        ("!=", Cmp::Ne),
    ];

    /// The comparison written `s`.
    pub fn parse(s: &str) -> Option<Cmp> {
        Cmp::ALL.iter().find(|(t, _)| *t == s).map(|(_, c)| *c)
    }

    /// As written.
    pub fn as_str(self) -> &'static str {
        Cmp::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("?", |(t, _)| t)
    }

    /// Whether `value` compared with `threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Cmp::Gt => value > threshold,
            Cmp::Ge => value >= threshold,
            Cmp::Lt => value < threshold,
            Cmp::Le => value <= threshold,
            Cmp::Eq => value == threshold,
            Cmp::Ne => value != threshold,
        }
    }
}

/// One rule and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// The metric watched.
    pub metric: String,
    /// The comparison.
    pub cmp: Cmp,
    /// The threshold.
    pub threshold: f64,
    /// How long the condition must hold before firing, ms.
    pub for_ms: u64,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// Muted until then (0: not muted).
    pub silenced_until_ms: u64,
    /// The state now.
    pub state: AlertState,
    /// Since when.
    pub since_ms: u64,
    /// When the condition started holding (pending or firing).
    pub active_since_ms: Option<u64>,
    /// The metric's latest value.
    pub value: Option<f64>,
}

/// A state change of one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The rule's name.
    pub rule: String,
    /// Before.
    pub from: AlertState,
    /// After.
    pub to: AlertState,
    /// The value that decided it (0 when the metric was missing).
    pub value: f64,
    /// When.
    pub ts_ms: u64,
    /// Whether the rule was silenced then.
    pub silenced: bool,
}

impl Rule {
    /// A new rule, in state ok.
    pub fn new(
        name: String,
        metric: String,
        cmp: Cmp,
        threshold: f64,
        for_ms: u64,
        severity: String,
    ) -> Rule {
        Rule {
            name,
            metric,
            cmp,
            threshold,
            for_ms,
            severity,
            silenced_until_ms: 0,
            state: AlertState::Ok,
            since_ms: 0,
            active_since_ms: None,
            value: None,
        }
    }

    /// Whether the rule is muted at `now_ms`.
    pub fn silenced(&self, now_ms: u64) -> bool {
        now_ms < self.silenced_until_ms
    }

    /// Evaluates the rule against `value` at `now_ms`; the change, if any.
    pub fn step(&mut self, now_ms: u64, value: Option<f64>) -> Option<Change> {
        self.value = value;
        let holds = value.is_some_and(|v| self.cmp.holds(v, self.threshold));
        let from = self.state;
        let to = match (from, holds) {
            (AlertState::Ok | AlertState::Resolved, true) => {
                self.active_since_ms = Some(now_ms);
                if self.for_ms == 0 {
                    AlertState::Firing
                } else {
                    AlertState::Pending
                }
            }
            (AlertState::Pending, true) => {
                let since = self.active_since_ms.unwrap_or(now_ms);
                if now_ms.saturating_sub(since) >= self.for_ms {
                    AlertState::Firing
                } else {
                    AlertState::Pending
                }
            }
            (AlertState::Pending, false) => {
                self.active_since_ms = None;
                AlertState::Ok
            }
            (AlertState::Firing, false) => {
                self.active_since_ms = None;
                AlertState::Resolved
            }
            (state, _) => state,
        };
        if to == from {
            if self.since_ms == 0 {
                self.since_ms = now_ms;
            }
            return None;
        }
        self.state = to;
        self.since_ms = now_ms;
        Some(Change {
            rule: self.name.clone(),
            from,
            to,
            value: value.unwrap_or(0.0),
            ts_ms: now_ms,
            silenced: self.silenced(now_ms),
        })
    }

    /// The rule as the wire shows it.
    pub fn to_wire(&self, now_ms: u64) -> Alert {
        Alert {
            name: self.name.clone(),
            metric: self.metric.clone(),
            op: self.cmp.as_str().to_owned(),
            threshold: self.threshold,
            for_ms: self.for_ms,
            severity: self.severity.clone(),
            state: self.state,
            since_ms: self.since_ms,
            value: self.value,
            silenced_until_ms: self.silenced(now_ms).then_some(self.silenced_until_ms),
        }
    }
}

/// Every rule, by name.
#[derive(Debug, Default)]
pub struct Engine {
    rules: BTreeMap<String, Rule>,
}

impl Engine {
    /// Adds (or replaces) a rule.
    pub fn insert(&mut self, rule: Rule) {
        self.rules.insert(rule.name.clone(), rule);
    }

    /// Removes a rule; whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        self.rules.remove(name).is_some()
    }

    /// A rule by name.
    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules.get(name)
    }

    /// A rule by name, to change.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Rule> {
        self.rules.get_mut(name)
    }

    /// Every rule, by name.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.values()
    }

    /// Every rule as the wire shows it: firing first, then pending, then
    /// the rest, each by name.
    pub fn to_wire(&self, now_ms: u64) -> Vec<Alert> {
        let mut list: Vec<Alert> = self.rules.values().map(|r| r.to_wire(now_ms)).collect();
        let rank = |s: AlertState| match s {
            AlertState::Firing => 0,
            AlertState::Pending => 1,
            _ => 2,
        };
        list.sort_by(|a, b| rank(a.state).cmp(&rank(b.state)).then(a.name.cmp(&b.name)));
        list
    }

    /// Evaluates every rule against one sample's `values` at `now_ms`.
    pub fn evaluate(&mut self, now_ms: u64, values: &BTreeMap<String, f64>) -> Vec<Change> {
        self.rules
            .values_mut()
            .filter_map(|rule| {
                let value = values.get(&rule.metric).copied();
                rule.step(now_ms, value)
            })
            .collect()
    }

    /// How many rules are in each state.
    pub fn counts(&self) -> HashMap<AlertState, usize> {
        let mut counts = HashMap::new();
        for rule in self.rules.values() {
            *counts.entry(rule.state).or_default() += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlertState::*;

    fn values(v: f64) -> BTreeMap<String, f64> {
        BTreeMap::from([("cpu.total".to_owned(), v)])
    }

    fn engine(for_ms: u64) -> Engine {
        let mut e = Engine::default();
        e.insert(Rule::new(
            "hot".into(),
            "cpu.total".into(),
            Cmp::Gt,
            90.0,
            for_ms,
            "warning".into(),
        ));
        e
    }

    fn states(changes: &[Change]) -> Vec<(AlertState, AlertState)> {
        changes.iter().map(|c| (c.from, c.to)).collect()
    }

    #[test]
    fn pending_becomes_firing_only_after_the_duration() {
        let mut e = engine(60_000);
        assert!(e.evaluate(0, &values(10.0)).is_empty());
        assert_eq!(states(&e.evaluate(1_000, &values(95.0))), [(Ok, Pending)]);
        assert!(
            e.evaluate(30_000, &values(99.0)).is_empty(),
            "still pending"
        );
        assert!(e.evaluate(60_999, &values(99.0)).is_empty(), "1 ms short");
        let fired = e.evaluate(61_000, &values(99.0));
        assert_eq!(states(&fired), [(Pending, Firing)]);
        assert_eq!(fired[0].value, 99.0);
        assert!(e.evaluate(62_000, &values(99.0)).is_empty(), "stays firing");
        assert_eq!(
            states(&e.evaluate(63_000, &values(50.0))),
            [(Firing, Resolved)]
        );
        assert!(
            e.evaluate(64_000, &values(50.0)).is_empty(),
            "stays resolved"
        );
        assert_eq!(
            states(&e.evaluate(65_000, &values(95.0))),
            [(Resolved, Pending)]
        );
        assert_eq!(e.get("hot").unwrap().since_ms, 65_000);
    }

    #[test]
    fn flapping_restarts_the_clock() {
        let mut e = engine(10_000);
        let mut fired = Vec::new();
        // Above for 9 s, below for 1 s, again and again: never 10 s in a row.
        for round in 0..5u64 {
            let start = round * 10_000;
            for s in 0..9 {
                fired.extend(e.evaluate(start + s * 1_000, &values(95.0)));
            }
            fired.extend(e.evaluate(start + 9_000, &values(10.0)));
        }
        assert!(fired.iter().all(|c| c.to != Firing), "{fired:?}");
        assert_eq!(fired.len(), 10, "ok→pending and pending→ok, five times");
    }

    #[test]
    fn zero_duration_fires_at_once_and_missing_metrics_do_not_hold() {
        let mut e = engine(0);
        assert_eq!(states(&e.evaluate(5, &values(91.0))), [(Ok, Firing)]);
        assert_eq!(
            states(&e.evaluate(6, &BTreeMap::new())),
            [(Firing, Resolved)],
            "the metric went away"
        );
    }

    #[test]
    fn silences_mute_but_do_not_stop_evaluation() {
        let mut e = engine(0);
        e.get_mut("hot").unwrap().silenced_until_ms = 10_000;
        let c = e.evaluate(1_000, &values(95.0));
        assert_eq!(states(&c), [(Ok, Firing)]);
        assert!(c[0].silenced);
        assert_eq!(e.to_wire(1_000)[0].silenced_until_ms, Some(10_000));
        let c = e.evaluate(10_000, &values(10.0));
        assert!(!c[0].silenced, "the silence is over");
        assert_eq!(e.to_wire(10_000)[0].silenced_until_ms, None);
    }

    #[test]
    fn comparisons() {
        for (text, cmp) in Cmp::ALL {
            assert_eq!(Cmp::parse(text), Some(cmp));
            assert_eq!(cmp.as_str(), text);
        }
        assert_eq!(Cmp::parse("=>"), None);
        assert!(Cmp::Ge.holds(1.0, 1.0) && !Cmp::Gt.holds(1.0, 1.0));
        assert!(Cmp::Lt.holds(0.5, 1.0) && Cmp::Le.holds(1.0, 1.0));
        assert!(Cmp::Eq.holds(2.0, 2.0) && Cmp::Ne.holds(2.0, 3.0));
    }

    #[test]
    fn firing_alerts_are_listed_first() {
        let mut e = engine(0);
        e.insert(Rule::new(
            "a-calm".into(),
            "mem.used_pct".into(),
            Cmp::Gt,
            99.0,
            0,
            "info".into(),
        ));
        e.evaluate(1, &values(95.0));
        let names: Vec<_> = e.to_wire(1).into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["hot", "a-calm"]);
        assert_eq!(e.counts()[&Firing], 1);
    }
}
