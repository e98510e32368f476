-- Organizations (a multi-tenant blog): the shared half. Each
-- organization's blog data lives in its own file, tenants/<id>.db under
-- the data directory (agora_db::Db::open_tenant); this database keeps
-- who the organizations are, who belongs to which with what role, and
-- the invitations.
--
-- slug follows DNS-label rules (checked by agora_db::orgs::check_slug);
-- deleted_at_ms marks an organization deleted: it answers 404 and its
-- slug stays taken until its file is removed.
CREATE TABLE orgs (
    id            INTEGER PRIMARY KEY,
    slug          TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    plan          TEXT    NOT NULL DEFAULT 'free',
    created_at_ms INTEGER NOT NULL,
    deleted_at_ms INTEGER
) STRICT;

-- One row per member; role is one of owner, admin, author, viewer.
CREATE TABLE org_members (
    org_id        INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'author', 'viewer')),
    joined_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX org_members_by_user ON org_members(user_id, org_id);

-- An invitation is answered once (state leaves 'pending') and refused
-- after expires_at_ms.
CREATE TABLE org_invitations (
    token         TEXT    PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'author', 'viewer')),
    invited_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'accepted', 'declined'))
) STRICT, WITHOUT ROWID;
CREATE INDEX org_invitations_by_org ON org_invitations(org_id);
