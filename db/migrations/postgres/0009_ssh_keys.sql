-- SSH public keys bound to accounts, shared by every node of a fleet
-- (docs/SSH.md, docs/FLEET.md): a key added through one node signs its
-- owner in over SSH on every node. The same columns as SQLite's
-- 0011_ssh_keys.sql. The fingerprint (OpenSSH's SHA256:… form) is the
-- key's identity: one key, one account, fleet-wide (the primary key; two
-- nodes adding one key for two accounts at once: one wins, the other is
-- told another account holds it, pg::ssh_keys).
CREATE TABLE ssh_keys (
    fingerprint   TEXT   PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    algorithm     TEXT   NOT NULL,
    public_key    TEXT   NOT NULL,
    comment       TEXT   NOT NULL DEFAULT '',
    created_at_ms BIGINT NOT NULL,
    last_used_ms  BIGINT
);
CREATE INDEX ssh_keys_user ON ssh_keys (user_id);
