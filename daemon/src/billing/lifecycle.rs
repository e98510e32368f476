//! A subscription's lifecycle, as payment providers have it:
//!
//! ```text
//!   checkout ──► trialing ──(trial ends, paid)──► active ◄──(paid)── past_due
//!                   │                              │  ▲                │  │
//!                   │                   (renewal fails)└─(renewal paid)│  │
//!                   │                              ▼                   │  │
//!                   └──(trial ends, payment fails)─► past_due ◄────────┘  │
//!                                                    (retries exhausted)──► unpaid
//!   any live state ──(period ends with cancel_at_period_end)──► canceled
//! ```
//!
//! [`next`] is the whole machine; the mock provider drives it, and the
//! plan's limits apply while [`Status::is_live`]. Pure.

/// Where a subscription is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// In its free trial.
    Trialing,
    /// Paid up.
    Active,
    /// The last invoice failed; retries are scheduled (dunning).
    PastDue,
    /// Retries exhausted; the invoice is uncollectible.
    Unpaid,
    /// Ended. Terminal.
    Canceled,
}

/// What happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    /// An invoice (first, renewal, proration or a retry) was paid.
    PaymentSucceeded,
    /// An invoice's payment failed, with retries left.
    PaymentFailed,
    /// The last retry failed.
    RetriesExhausted,
    /// The period ended with `cancel_at_period_end` set, or it was
    /// cancelled at once.
    Canceled,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 5] = [
        Status::Trialing,
        Status::Active,
        Status::PastDue,
        Status::Unpaid,
        Status::Canceled,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Trialing => "trialing",
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Unpaid => "unpaid",
            Status::Canceled => "canceled",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the subscription's plan applies (its limits, its
    /// features): trialing, active and past_due (grace while dunning
    /// runs). Unpaid and canceled fall back to the free plan.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Trialing | Status::Active | Status::PastDue)
    }
}

/// The status after `what` happens in `from`; `None` when it cannot
/// happen there (a canceled subscription stays canceled).
pub fn next(from: Status, what: Happening) -> Option<Status> {
    use Happening as H;
    use Status as S;
    match (from, what) {
        (S::Canceled, _) => None,
        (_, H::Canceled) => Some(S::Canceled),
        (_, H::PaymentSucceeded) => Some(S::Active),
        (S::Trialing | S::Active | S::PastDue, H::PaymentFailed) => Some(S::PastDue),
        (S::PastDue, H::RetriesExhausted) => Some(S::Unpaid),
        (S::Unpaid, H::PaymentFailed | H::RetriesExhausted) => Some(S::Unpaid),
        (S::Trialing | S::Active, H::RetriesExhausted) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Happening as H;
    use Status as S;

    #[test]
    fn the_happy_path_and_dunning() {
        assert_eq!(next(S::Trialing, H::PaymentSucceeded), Some(S::Active));
        assert_eq!(next(S::Trialing, H::PaymentFailed), Some(S::PastDue));
        assert_eq!(next(S::Active, H::PaymentSucceeded), Some(S::Active));
        assert_eq!(next(S::Active, H::PaymentFailed), Some(S::PastDue));
        assert_eq!(next(S::PastDue, H::PaymentFailed), Some(S::PastDue));
        assert_eq!(next(S::PastDue, H::PaymentSucceeded), Some(S::Active));
        assert_eq!(next(S::PastDue, H::RetriesExhausted), Some(S::Unpaid));
        assert_eq!(next(S::Unpaid, H::PaymentSucceeded), Some(S::Active));
        assert_eq!(next(S::Active, H::RetriesExhausted), None);
    }

    #[test]
    fn canceled_is_terminal_and_reachable_from_everywhere_else() {
        for from in Status::ALL {
            let canceled = next(from, H::Canceled);
            if from == S::Canceled {
                assert_eq!(canceled, None);
            } else {
                assert_eq!(canceled, Some(S::Canceled), "{from:?}");
            }
        }
        for what in [H::PaymentSucceeded, H::PaymentFailed, H::RetriesExhausted] {
            assert_eq!(next(S::Canceled, what), None);
        }
    }

    #[test]
    fn only_live_states_keep_the_plan() {
        let live: Vec<_> = Status::ALL.into_iter().filter(|s| s.is_live()).collect();
        assert_eq!(live, vec![S::Trialing, S::Active, S::PastDue]);
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
