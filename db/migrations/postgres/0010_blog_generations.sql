-- Each blog's write generation (docs/FLEET.md, "The blog and
-- organizations across nodes"): every blog write transaction bumps its
-- organization's counter (0: the main site) after taking the blog's write
-- lock, in the same transaction as the write. A node caches an anonymous
-- response with the generation it read before computing it, and serves it
-- only while the counter still says that generation: one indexed lookup
-- instead of the query, and never a page older than a write acknowledged
-- on any node.
--
-- Not a tenant table: it holds no content, only counters, and a node
-- reads it outside tenant transactions (one statement per cached read).
-- The tenant role may write it (a tenant transaction bumps its own
-- organization's; another's would only cost that organization a cache
-- miss).
CREATE TABLE blog_generations (
    org_id     BIGINT PRIMARY KEY,
    generation BIGINT NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON blog_generations TO agora_tenant;
