-- Metrics: the dashboard's history (three tiers of min/avg/max rows),
-- alert rules and every alert transition.
CREATE TABLE metric_names (
    id    INTEGER PRIMARY KEY,
    name  TEXT    NOT NULL UNIQUE
) STRICT;

-- tier 0: raw samples (min = avg = max), 1: one-minute steps, 2: one-hour
-- steps; ts_ms is the sample's time or the step's start.
CREATE TABLE metric_points (
    tier    INTEGER NOT NULL,
    metric  INTEGER NOT NULL,
    ts_ms   INTEGER NOT NULL,
    min     REAL    NOT NULL,
    avg     REAL    NOT NULL,
    max     REAL    NOT NULL,
    PRIMARY KEY (tier, metric, ts_ms)
) STRICT, WITHOUT ROWID;
CREATE INDEX metric_points_by_age ON metric_points(tier, ts_ms);

CREATE TABLE alert_rules (
    name               TEXT    PRIMARY KEY,
    metric             TEXT    NOT NULL,
    op                 TEXT    NOT NULL,
    threshold          REAL    NOT NULL,
    for_ms             INTEGER NOT NULL,
    severity           TEXT    NOT NULL,
    silenced_until_ms  INTEGER NOT NULL DEFAULT 0,
    created_at_ms      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE alert_transitions (
    id          INTEGER PRIMARY KEY,
    rule        TEXT    NOT NULL,
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    value       REAL    NOT NULL,
    ts_ms       INTEGER NOT NULL,
    silenced    INTEGER NOT NULL
) STRICT;
CREATE INDEX alert_transitions_by_rule ON alert_transitions(rule, id);
