-- Jobs: a persistent background job queue (docs/PROTOCOL.md §9d).
-- Times are ms since the Unix epoch. `builtin` is 1 for the kinds the
-- daemon runs itself (noop, sleep, fail): those are never handed to
-- external workers, and the two kinds of claim use the same index.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    queue           TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    builtin         INTEGER NOT NULL,
    args            TEXT    NOT NULL,
    priority        INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('scheduled', 'available', 'running',
                                                      'retryable', 'completed', 'dead', 'cancelled')),
    attempt         INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    run_at_ms       INTEGER NOT NULL,
    inserted_at_ms  INTEGER NOT NULL,
    scheduled_at_ms INTEGER NOT NULL,
    attempted_at_ms INTEGER,
    finished_at_ms  INTEGER,
    lease_until_ms  INTEGER,
    errors          TEXT    NOT NULL DEFAULT '[]',
    result          TEXT,
    unique_key      TEXT,
    timeout_ms      INTEGER,
    tags            TEXT    NOT NULL DEFAULT '[]'
) STRICT;
-- The claim: highest priority, then oldest run_at, then oldest id.
CREATE INDEX jobs_available ON jobs (queue, builtin, priority, run_at_ms, id)
    WHERE state = 'available';
-- The scheduler's next wake-up and the jobs it makes available.
CREATE INDEX jobs_waiting ON jobs (run_at_ms) WHERE state IN ('scheduled', 'retryable');
-- Leases that expire.
CREATE INDEX jobs_leases ON jobs (lease_until_ms) WHERE state = 'running';
-- Unique jobs: one unfinished job per key.
CREATE UNIQUE INDEX jobs_unique ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'running', 'retryable');
-- The dead letter queue, and pruning of finished jobs.
CREATE INDEX jobs_dead ON jobs (queue, id) WHERE state = 'dead';
CREATE INDEX jobs_finished ON jobs (finished_at_ms) WHERE state IN ('completed', 'cancelled');

-- Queues exist from their first job on; their settings.
CREATE TABLE job_queues (
    name          TEXT    PRIMARY KEY,
    paused        INTEGER NOT NULL DEFAULT 0,
    concurrency   INTEGER NOT NULL DEFAULT 0,
    rate          INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Recurring jobs. A slot's job is enqueued in the same transaction that
-- moves next_run_ms past it, so a slot runs once even across restarts.
CREATE TABLE job_crons (
    name          TEXT    PRIMARY KEY,
    expr          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    queue         TEXT    NOT NULL,
    args          TEXT    NOT NULL,
    priority      INTEGER NOT NULL,
    max_attempts  INTEGER NOT NULL,
    timeout_ms    INTEGER,
    tags          TEXT    NOT NULL DEFAULT '[]',
    catch_up      INTEGER NOT NULL DEFAULT 0,
    next_run_ms   INTEGER NOT NULL,
    last_run_ms   INTEGER,
    last_job      INTEGER,
    created_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
