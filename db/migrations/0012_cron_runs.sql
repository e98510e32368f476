-- The cron slots that have run: a slot's row is inserted in the
-- transaction that enqueues its job, so its primary key makes a slot run
-- once. On one daemon the writer's single transaction already did; the
-- same table on a fleet's PostgreSQL (postgres/0004_jobs.sql) is what
-- stops two nodes that both read a slot due (docs/FLEET.md). Rows older
-- than the jobs' retention are pruned with the jobs.
CREATE TABLE job_cron_runs (
    name    TEXT    NOT NULL,
    slot_ms INTEGER NOT NULL,
    PRIMARY KEY (name, slot_ms)
) STRICT, WITHOUT ROWID;
