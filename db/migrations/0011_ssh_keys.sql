-- SSH public keys bound to accounts (docs/SSH.md). The fingerprint
-- (OpenSSH's SHA256:… form) is the key's identity: one key, one account.
CREATE TABLE ssh_keys (
    fingerprint   TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    algorithm     TEXT    NOT NULL,
    public_key    TEXT    NOT NULL,
    comment       TEXT    NOT NULL DEFAULT '',
    created_at_ms INTEGER NOT NULL,
    last_used_ms  INTEGER
) STRICT;
CREATE INDEX ssh_keys_user ON ssh_keys (user_id);
