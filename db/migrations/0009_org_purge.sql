-- A deleted organization's file is removed after a grace period
-- (`agora daemon --org-delete-grace`, docs/BLOG.md); purged_at_ms says
-- when it was. Until then its owner may restore it. Its slug stays taken
-- either way.
ALTER TABLE orgs ADD COLUMN purged_at_ms INTEGER;
