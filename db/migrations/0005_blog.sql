-- Blog (RealWorld API): profile fields on the shared accounts, follows,
-- articles with tags and favourites, threaded comments, and the
-- responses kept for Idempotency-Key retries.
--
-- Accounts created over the protocol have no email (NULL) until they set
-- one with PUT /api/user; emails are unique regardless of case.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN bio   TEXT;
ALTER TABLE users ADD COLUMN image TEXT;
CREATE UNIQUE INDEX users_by_email ON users(email COLLATE NOCASE);

CREATE TABLE blog_follows (
    follower_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    followee_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX blog_follows_by_followee ON blog_follows(followee_id, follower_id);

-- Newest first is id order: ids only grow (a deleted newest id may be
-- reused, which keeps the order). favorites_count is kept in step with
-- blog_favorites in the same transaction, so lists need no COUNT.
CREATE TABLE blog_articles (
    id              INTEGER PRIMARY KEY,
    slug            TEXT    NOT NULL UNIQUE,
    author_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title           TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    favorites_count INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX blog_articles_by_author ON blog_articles(author_id, id);

CREATE TABLE blog_tags (
    id   INTEGER PRIMARY KEY,
    name TEXT    NOT NULL UNIQUE
) STRICT;

CREATE TABLE blog_article_tags (
    article_id INTEGER NOT NULL REFERENCES blog_articles(id) ON DELETE CASCADE,
    tag_id     INTEGER NOT NULL REFERENCES blog_tags(id),
    PRIMARY KEY (article_id, tag_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX blog_article_tags_by_tag ON blog_article_tags(tag_id, article_id);

CREATE TABLE blog_favorites (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    article_id INTEGER NOT NULL REFERENCES blog_articles(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, article_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX blog_favorites_by_article ON blog_favorites(article_id, user_id);

-- A comment with replies is never removed: deleting it blanks its body
-- (deleted = 1; the author is hidden) so the thread stays whole. A
-- tombstone whose last reply goes is removed with it. parent_id has no
-- ON DELETE action: a cascade down a reply chain thousands deep would
-- exceed SQLite's trigger depth, so deleting an article unlinks its
-- comments first (agora_db::blog).
CREATE TABLE blog_comments (
    id            INTEGER PRIMARY KEY,
    article_id    INTEGER NOT NULL REFERENCES blog_articles(id) ON DELETE CASCADE,
    parent_id     INTEGER REFERENCES blog_comments(id),
    author_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    body          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX blog_comments_by_article ON blog_comments(article_id, id);
CREATE INDEX blog_comments_by_parent ON blog_comments(parent_id);

-- Responses to POSTs sent with an Idempotency-Key, stored in the same
-- transaction as their effect, so a retry after a crash finds either
-- both or neither. `scope` is the user; `fingerprint` a SHA-256 of the
-- method, path and body.
CREATE TABLE blog_idempotency (
    scope         INTEGER NOT NULL,
    key           TEXT    NOT NULL,
    fingerprint   BLOB    NOT NULL,
    status        INTEGER NOT NULL,
    body          BLOB    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX blog_idempotency_by_age ON blog_idempotency(created_at_ms);
