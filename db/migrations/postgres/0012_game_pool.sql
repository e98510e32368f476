-- Matchmaking across a fleet (docs/FLEET.md, "Games across nodes"): the
-- players waiting for a game, whichever node they queued on. A node
-- pairs them under one advisory lock (the daemon's pure pools decide who
-- plays whom) and hosts the games it pairs; the players follow them
-- through the relay (0011). An entry belongs to the node its player
-- queued on: it leaves with the player's last session there, and a node
-- that is gone from fleet_nodes has its entries ignored and deleted.
CREATE TABLE game_pool (
    user_name    TEXT PRIMARY KEY,
    node         TEXT NOT NULL,
    kinds        TEXT[] NOT NULL,
    ratings      DOUBLE PRECISION[] NOT NULL,
    initial_ms   BIGINT NOT NULL,
    increment_ms BIGINT NOT NULL,
    since_ms     BIGINT NOT NULL,
    CHECK (cardinality(kinds) = cardinality(ratings))
);
