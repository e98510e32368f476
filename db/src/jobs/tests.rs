//! The jobs repository on SQLite only: its query plan. Behaviour is the
//! suite's (`suite.rs`, on both backends).

use crate::Db;

#[test]
fn the_claim_is_one_statement_on_the_partial_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("agora.db")).unwrap();
    let plan: Vec<String> = db
        .read(|c| {
            let mut stmt = c.prepare(
                "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE state = 'available' AND queue = ?1 \
                 AND builtin = ?2 ORDER BY priority, run_at_ms, id LIMIT ?3",
            )?;
            let rows = stmt.query_map(rusqlite::params!["q", 0, 1], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("jobs_available"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
}
