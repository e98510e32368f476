//! A PostgreSQL transaction snapshot, read from its text: which
//! transactions' effects a read saw. A node that loads state from the
//! tables and hears of changes by notification skips the notifications
//! of transactions its load already saw (`pg::jobs::notice`).

/// A transaction snapshot (`pg_current_snapshot()`, `xmin:xmax:xip,…`):
/// which transactions' effects a read saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    xmin: u64,
    xmax: u64,
    in_progress: Vec<u64>,
}

impl Snapshot {
    /// Reads `pg_current_snapshot()`'s text.
    ///
    /// # Errors
    /// A sentence when it is not one.
    pub fn parse(text: &str) -> Result<Snapshot, String> {
        let bad = || format!("bad snapshot {text:?}");
        let mut parts = text.split(':');
        let xmin = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let xmax = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let in_progress = match parts.next() {
            None | Some("") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|x| x.parse().map_err(|_| bad()))
                .collect::<Result<_, _>>()?,
        };
        Ok(Snapshot {
            xmin,
            xmax,
            in_progress,
        })
    }

    /// Whether transaction `xid`'s effects were visible to the read
    /// (PostgreSQL's `pg_visible_in_snapshot` for a committed one).
    pub fn saw(&self, xid: u64) -> bool {
        xid < self.xmin || (xid < self.xmax && !self.in_progress.contains(&xid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_says_which_transactions_it_saw() {
        let s = Snapshot::parse("100:105:101,103").unwrap();
        assert!(s.saw(99) && s.saw(102) && s.saw(104));
        assert!(!s.saw(101) && !s.saw(103) && !s.saw(105) && !s.saw(200));
        assert!(Snapshot::parse("7:7:").unwrap().saw(6));
        assert!(Snapshot::parse("nope").is_err());
    }
}
