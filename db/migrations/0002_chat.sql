-- Chat: rooms, memberships, room messages, private messages.
-- Sender and recipient names are stored as names: accounts are never
-- renamed, and history reads need no join.
ALTER TABLE users ADD COLUMN last_seen_ms INTEGER NOT NULL DEFAULT 0;

CREATE TABLE rooms (
    name          TEXT    PRIMARY KEY,
    topic         TEXT    NOT NULL DEFAULT '',
    created_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE memberships (
    room          TEXT    NOT NULL REFERENCES rooms(name),
    user_name     TEXT    NOT NULL REFERENCES users(name),
    joined_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (room, user_name)
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_by_user ON memberships(user_name);

CREATE TABLE messages (
    room    TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    sender  TEXT    NOT NULL,
    text    TEXT    NOT NULL,
    action  INTEGER NOT NULL,
    ts_ms   INTEGER NOT NULL,
    PRIMARY KEY (room, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE direct_messages (
    id        INTEGER PRIMARY KEY,
    sender    TEXT    NOT NULL,
    recipient TEXT    NOT NULL,
    text      TEXT    NOT NULL,
    action    INTEGER NOT NULL,
    ts_ms     INTEGER NOT NULL,
    read      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX direct_messages_unread ON direct_messages(recipient, read);
CREATE INDEX direct_messages_pair ON direct_messages(sender, recipient, id);
