//! Request durations as Prometheus histograms: one per protocol operation
//! (a fixed array indexed like [`agora_wire::Op::index`]) and one per HTTP
//! method and route (made on first use). Recording is a few relaxed atomic
//! adds; rendering sums the buckets into Prometheus's cumulative form.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Bucket upper bounds, in microseconds: 100 µs to 10 s, about 2.5× apart
/// (a cache hit is under the first, a blog write with fsync near 1–5 ms, a
/// long-poll claim up to the last).
pub const BOUNDS_US: [u64; 15] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 10_000_000,
];

/// [`BOUNDS_US`] in seconds, as the `le` labels say them, and `+Inf` for
/// the last bucket (written out once here rather than formatted at every
/// scrape; a test checks they match).
const LE: [&str; BOUNDS_US.len() + 1] = [
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "10", "+Inf",
];

/// One histogram: a count per bucket (not cumulative; the last counts what
/// is over every bound), the sum of durations and the count.
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.partition_point(|bound| *bound < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Writes `name_bucket`, `name_sum` and `name_count` samples with
    /// `labels` (`key="value",…`, no braces).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bucket, le) in self.buckets.iter().zip(LE) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        // The count is the +Inf bucket's, read once above; reading the
        // counter again could disagree with it under concurrent writes.
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// HTTP request durations by method and route (the route pattern, e.g.
/// `/api/articles/{slug}`, so the label set stays small).
/// Keyed by route, then method, so that a request already seen is looked
/// up by `&str` without allocating.
#[derive(Default)]
pub struct HttpLatency {
    by_route: RwLock<HashMap<String, HashMap<String, Arc<Histogram>>>>,
}

impl HttpLatency {
    /// Records one request.
    pub fn observe(&self, method: &str, route: &str, took: Duration) {
        let known = self
            .by_route
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(route)
            .and_then(|methods| methods.get(method))
            .cloned();
        let histogram = match known {
            Some(h) => h,
            None => self
                .by_route
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .entry(route.to_owned())
                .or_default()
                .entry(method.to_owned())
                .or_default()
                .clone(),
        };
        histogram.observe(took);
    }

    /// Every (method, route) seen, in order, with its histogram.
    pub fn snapshot(&self) -> Vec<((String, String), Arc<Histogram>)> {
        let mut all: Vec<_> = self
            .by_route
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flat_map(|(route, methods)| {
                methods
                    .iter()
                    .map(|(method, h)| ((method.clone(), route.clone()), h.clone()))
            })
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

/// A label value as Prometheus's text format wants it quoted.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(100)); // le 0.0001: bounds are inclusive
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60)); // over every bound
        let mut out = String::new();
        h.render(&mut out, "x", "op=\"a\"");
        assert!(
            out.contains("x_bucket{op=\"a\",le=\"0.0001\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{op=\"a\",le=\"0.00025\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("x_bucket{op=\"a\",le=\"0.005\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{op=\"a\",le=\"10\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{op=\"a\",le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_count{op=\"a\"} 4\n"), "{out}");
        assert!(out.contains("x_sum{op=\"a\"} 60.003201\n"), "{out}");
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn http_routes_get_one_histogram_each() {
        let l = HttpLatency::default();
        l.observe("GET", "/api/articles", Duration::from_millis(1));
        l.observe("GET", "/api/articles", Duration::from_millis(2));
        l.observe("POST", "/api/articles", Duration::from_millis(2));
        let all = l.snapshot();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, ("GET".to_owned(), "/api/articles".to_owned()));
        assert_eq!(all[0].1.count(), 2);
    }

    #[test]
    fn the_le_labels_are_the_bounds_in_seconds() {
        for (us, le) in BOUNDS_US.iter().zip(LE) {
            assert_eq!(format!("{}", *us as f64 / 1e6), le);
        }
        assert_eq!(LE[BOUNDS_US.len()], "+Inf");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
