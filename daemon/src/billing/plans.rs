//! The plans, their limits and prices, and the checks against them. Pure
//! and I/O-free: usage comes in as numbers.

use std::fmt;

/// A plan. Ordered from cheapest to dearest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plan {
    /// 3 members, 100 articles, no charge.
    Free,
    /// 25 members, unlimited articles.
    Team,
    /// Unlimited, and a custom domain.
    Business,
}

/// What a plan limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Members plus pending invitations.
    Members,
    /// Articles in the organization's blog.
    Articles,
    /// A custom domain (a feature: allowed or not).
    CustomDomain,
}

impl Limit {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Members => "members",
            Limit::Articles => "articles",
            Limit::CustomDomain => "custom_domain",
        }
    }
}

/// Length of a billing period: 30 days, in seconds (the mock provider
/// bills every 30 days; proration is by the second).
pub const PERIOD_SECS: i64 = 30 * 24 * 3600;

impl Plan {
    /// Every plan, cheapest first.
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Team, Plan::Business];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Team => "team",
            Plan::Business => "business",
        }
    }

    /// The plan named `s`.
    pub fn parse(s: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The price of one period, in cents.
    pub fn price_cents(self) -> i64 {
        match self {
            Plan::Free => 0,
            Plan::Team => 4_900,
            Plan::Business => 19_900,
        }
    }

    /// The most of `limit` this plan allows; `None` is unlimited.
    pub fn allows(self, limit: Limit) -> Option<i64> {
        match (self, limit) {
            (Plan::Free, Limit::Members) => Some(3),
            (Plan::Free, Limit::Articles) => Some(100),
            (Plan::Team, Limit::Members) => Some(25),
            (Plan::Free | Plan::Team, Limit::CustomDomain) => Some(0),
            (Plan::Team, Limit::Articles) | (Plan::Business, _) => None,
        }
    }

    /// The cheapest plan that allows `wanted` of `limit`.
    pub fn cheapest_allowing(limit: Limit, wanted: i64) -> Plan {
        Plan::ALL
            .into_iter()
            .find(|p| p.allows(limit).is_none_or(|max| wanted <= max))
            .unwrap_or(Plan::Business)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: `limit` is at `usage` and `plan` allows `allowed`; `lifts`
/// is the cheapest plan with room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    /// What is limited.
    pub limit: Limit,
    /// The current plan.
    pub plan: Plan,
    /// Its limit.
    pub allowed: i64,
    /// Current usage (what exists now).
    pub usage: i64,
    /// The cheapest plan that allows one more (or, for a downgrade, the
    /// current usage).
    pub lifts: Plan,
}

impl OverLimit {
    /// One line for people.
    pub fn message(&self) -> String {
        match self.limit {
            Limit::CustomDomain => format!(
                "the {} plan has no custom domain; the {} plan has one",
                self.plan, self.lifts
            ),
            limit => format!(
                "the {} plan allows {} {}, and this organization has {}; the {} plan lifts this limit",
                self.plan,
                self.allowed,
                limit.as_str(),
                self.usage,
                self.lifts
            ),
        }
    }
}

impl OverLimit {
    /// As the API answers it: `status` (402 over a limit, 409 for a plan
    /// change that does not fit) with `{"errors": {"plan": [message]},
    /// "limit": {name, plan, limit, usage, upgradeTo}}`.
    pub fn into_error(self, status: u16) -> crate::blog::Error {
        let detail = serde_json::json!({
            "name": self.limit.as_str(),
            "plan": self.plan.as_str(),
            "limit": self.allowed,
            "usage": self.usage,
            "upgradeTo": self.lifts.as_str(),
        });
        crate::blog::Error::Refused(Box::new(crate::blog::Refusal {
            status,
            field: "plan",
            message: self.message(),
            detail: Some(("limit", detail)),
        }))
    }
}

/// Refuses adding `adding` more of `limit` to `usage` on `plan`.
///
/// # Errors
/// The [`OverLimit`], naming the cheapest plan with room.
pub fn check_add(plan: Plan, limit: Limit, usage: i64, adding: i64) -> Result<(), OverLimit> {
    match plan.allows(limit) {
        Some(max) if usage + adding > max => Err(OverLimit {
            limit,
            plan,
            allowed: max,
            usage,
            lifts: Plan::cheapest_allowing(limit, usage + adding),
        }),
        _ => Ok(()),
    }
}

/// Refuses moving to `to` while using `members` and `articles` (and a
/// custom domain, if `domain`): the first limit `to` cannot hold.
///
/// # Errors
/// The [`OverLimit`] of plan `to`, naming the cheapest plan that holds
/// the current usage.
pub fn check_fits(to: Plan, members: i64, articles: i64, domain: bool) -> Result<(), OverLimit> {
    for (limit, usage) in [
        (Limit::Members, members),
        (Limit::Articles, articles),
        (Limit::CustomDomain, i64::from(domain)),
    ] {
        if let Some(max) = to.allows(limit)
            && usage > max
        {
            return Err(OverLimit {
                limit,
                plan: to,
                allowed: max,
                usage,
                lifts: Plan::cheapest_allowing(limit, usage),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_the_plan_that_lifts_them() {
        assert_eq!(check_add(Plan::Free, Limit::Members, 2, 1), Ok(()));
        let over = check_add(Plan::Free, Limit::Members, 3, 1).unwrap_err();
        assert_eq!((over.allowed, over.usage, over.lifts), (3, 3, Plan::Team));
        assert!(
            over.message().contains("free plan allows 3 members"),
            "{}",
            over.message()
        );
        let over = check_add(Plan::Team, Limit::Members, 25, 1).unwrap_err();
        assert_eq!(over.lifts, Plan::Business);
        let over = check_add(Plan::Free, Limit::Articles, 100, 1).unwrap_err();
        assert_eq!(over.lifts, Plan::Team);
        assert_eq!(check_add(Plan::Team, Limit::Articles, 10_000, 1), Ok(()));
        assert_eq!(check_add(Plan::Business, Limit::Members, 10_000, 1), Ok(()));
        assert_eq!(check_add(Plan::Business, Limit::CustomDomain, 0, 1), Ok(()));
        let over = check_add(Plan::Team, Limit::CustomDomain, 0, 1).unwrap_err();
        assert_eq!(over.lifts, Plan::Business);
    }

    #[test]
    fn a_downgrade_must_fit_the_usage() {
        assert_eq!(check_fits(Plan::Free, 3, 100, false), Ok(()));
        let over = check_fits(Plan::Free, 4, 0, false).unwrap_err();
        assert_eq!(
            (over.limit, over.usage, over.lifts),
            (Limit::Members, 4, Plan::Team)
        );
        let over = check_fits(Plan::Free, 1, 101, false).unwrap_err();
        assert_eq!(over.limit, Limit::Articles);
        let over = check_fits(Plan::Team, 26, 0, false).unwrap_err();
        assert_eq!(over.lifts, Plan::Business);
        let over = check_fits(Plan::Team, 1, 0, true).unwrap_err();
        assert_eq!(over.limit, Limit::CustomDomain);
        assert_eq!(Plan::parse("team"), Some(Plan::Team));
        assert_eq!(Plan::parse("gold"), None);
    }
}
