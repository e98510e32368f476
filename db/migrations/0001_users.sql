-- Accounts. Names are stored already folded to lower case by the caller
-- (agora_wire::names::validate_user_name), so UNIQUE is enough.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL
) STRICT;
