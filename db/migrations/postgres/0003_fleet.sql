-- The fleet's nodes and who is connected to which (issue 18,
-- docs/FLEET.md, "Presence"). Each daemon registers a row under a name
-- of its own for its lifetime and refreshes heartbeat_at every second;
-- a row whose heartbeat is older than the dead-after time is a dead node,
-- and whichever node notices first deletes it and, by cascade, its
-- users' connections. Times are the server's (now()), so nodes' clocks
-- need not agree.
CREATE TABLE fleet_nodes (
    id           TEXT        PRIMARY KEY,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A user connected to a node (one row however many terminals).
CREATE TABLE chat_online (
    node_id   TEXT NOT NULL REFERENCES fleet_nodes(id) ON DELETE CASCADE,
    user_name TEXT NOT NULL REFERENCES users(name),
    PRIMARY KEY (node_id, user_name)
);
CREATE INDEX chat_online_by_user ON chat_online(user_name);
