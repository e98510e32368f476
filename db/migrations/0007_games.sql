-- Games: every game from the moment it exists (a challenge waiting, or a
-- pairing), its result and move list once finished (replays), and one
-- Glicko-2 rating per user and game type. Players are user names (already
-- folded to lower case, like users.name). A game left 'waiting' or
-- 'in_progress' by a crash is marked aborted when the daemon starts.
CREATE TABLE games (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL,
    first         TEXT    NOT NULL,  -- moves first
    second        TEXT    NOT NULL,
    initial_ms    INTEGER NOT NULL,
    increment_ms  INTEGER NOT NULL,
    status        TEXT    NOT NULL,  -- waiting | in_progress | finished
    reason        TEXT,              -- win | draw | resign | timeout | abandoned | aborted
    winner        TEXT,
    moves         TEXT    NOT NULL DEFAULT '',  -- space-separated, in order
    first_before  REAL,              -- ratings before and after (rated games)
    first_after   REAL,
    second_before REAL,
    second_after  REAL,
    created_at_ms INTEGER NOT NULL,
    ended_at_ms   INTEGER
) STRICT;

CREATE INDEX games_status ON games (status);

CREATE TABLE game_ratings (
    user       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    rating     REAL    NOT NULL,
    deviation  REAL    NOT NULL,
    volatility REAL    NOT NULL,
    played     INTEGER NOT NULL DEFAULT 0,
    won        INTEGER NOT NULL DEFAULT 0,
    lost       INTEGER NOT NULL DEFAULT 0,
    drawn      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user, kind)
) STRICT;

CREATE INDEX game_ratings_best ON game_ratings (kind, rating DESC);
