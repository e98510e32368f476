-- The blog's sign-up and settings on PostgreSQL (issue 18, docs/FLEET.md,
-- "Tenants"): the blog's queries run as agora_tenant (0005_tenants.sql),
-- which could only read the accounts. Accounts are shared by every
-- organization, not tenant rows (users has no org_id and no row-level
-- security): one person signs up once and belongs to several blogs. So
-- the blog writes them directly, and the grants say exactly what it may
-- write, column by column:
--
-- * sign-up (agora_db::pg::blog, create_account) inserts a name, a
--   password hash, a creation time and an email; the id comes from the
--   identity column's sequence, which needs USAGE;
-- * settings (update_account) change the email, bio, image and password
--   hash of an existing account.
--
-- Nothing else: the tenant role cannot delete an account, rename one, or
-- touch chat's columns (last_seen_ms, away_message).
GRANT INSERT (name, password_hash, created_at_ms, email) ON users TO agora_tenant;
GRANT UPDATE (email, bio, image, password_hash) ON users TO agora_tenant;
GRANT USAGE ON SEQUENCE users_id_seq TO agora_tenant;
