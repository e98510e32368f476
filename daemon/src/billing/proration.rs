//! Proration on a plan change: credit for the unused part of the old
//! plan's period, a charge for the same part on the new plan, both as
//! line items of one invoice. By the second, rounded to the nearest cent
//! (half away from zero). Pure.

/// One proration line: `amount` cents (negative is a credit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What it is for, for people.
    pub description: String,
    /// Cents; negative is a credit.
    pub amount: i64,
}

/// `price × part / whole`, rounded to the nearest cent.
fn share(price: i64, part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    let (p, part, whole) = (i128::from(price), i128::from(part), i128::from(whole));
    let n = p * part;
    let q = (2 * n.abs() + whole) / (2 * whole);
    (if n < 0 { -q } else { q }) as i64
}

/// The lines for moving from a plan priced `old` to one priced `new`
/// (cents per period) at `now` in the period `[start, end)` (seconds).
/// Outside the period there is nothing left to prorate.
pub fn lines(old: (&str, i64), new: (&str, i64), start: i64, end: i64, now: i64) -> Vec<Line> {
    let now = now.clamp(start, end);
    let left = end - now;
    let whole = end - start;
    if left == 0 {
        return Vec::new();
    }
    vec![
        Line {
            description: format!("Unused time on {} after the change", old.0),
            amount: -share(old.1, left, whole),
        },
        Line {
            description: format!("Remaining time on {} after the change", new.0),
            amount: share(new.1, left, whole),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_way_credits_half_and_charges_half() {
        let l = lines(("team", 4_900), ("business", 19_900), 0, 1000, 500);
        assert_eq!(l[0].amount, -2_450);
        assert_eq!(l[1].amount, 9_950);
        assert_eq!(l.iter().map(|l| l.amount).sum::<i64>(), 7_500);
    }

    #[test]
    fn a_downgrade_nets_a_credit() {
        let l = lines(("business", 19_900), ("team", 4_900), 0, 1000, 250);
        assert_eq!(l[0].amount, -14_925);
        assert_eq!(l[1].amount, 3_675);
    }

    #[test]
    fn rounding_and_the_edges() {
        // A third of 4,900 is 1,633.33…: rounds to 1,633; two thirds to 3,267.
        let l = lines(("team", 4_900), ("team", 4_900), 0, 3, 2);
        assert_eq!(l[0].amount, -1_633);
        let l = lines(("team", 4_900), ("business", 19_900), 0, 3, 1);
        assert_eq!((l[0].amount, l[1].amount), (-3_267, 13_267));
        // At the very start: the whole period; at or after the end: nothing.
        let l = lines(("team", 4_900), ("business", 19_900), 0, 1000, 0);
        assert_eq!((l[0].amount, l[1].amount), (-4_900, 19_900));
        assert!(lines(("team", 4_900), ("business", 19_900), 0, 1000, 1000).is_empty());
        assert!(lines(("team", 4_900), ("business", 19_900), 0, 1000, 5000).is_empty());
        assert_eq!(share(5, 1, 2), 3, "half a cent rounds away from zero");
        assert_eq!(share(-5, 1, 2), -3);
    }
}
