//! The blog repository: profile fields of the shared accounts, follows,
//! articles with tags and favourites, threaded comments, and the stored
//! responses of Idempotency-Key retries.
//!
//! Everything is synchronous over one `&Connection`; callers that need
//! several statements to commit together (creating an article and storing
//! its idempotent response) run them in one transaction and pass it here
//! (a `Transaction` derefs to a `Connection`). Validation (lengths, slugs
//! from titles, names) is the caller's: this module stores what it is
//! given, verbatim.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::{Error, Result, now_ms};

mod store;
pub use store::BlogStore;

/// Separates tag names inside one `group_concat` (tags may not contain
/// control characters, so this one never occurs in a name).
const TAG_SEPARATOR: char = '\u{1f}';

/// How many numbered slugs (`title`, `title-2`, … `title-50`) are tried
/// before the next free one after the newest article's id is used.
pub(crate) const NUMBERED_SLUGS: u32 = 50;

/// Whether an article whose slug is `current` keeps it when retitled to
/// a title giving `base`: it is `base` itself or `base` numbered
/// (`base-7`), so the rename would not change what the slug says.
pub(crate) fn keeps_slug(current: &str, base: &str) -> bool {
    current == base
        || current
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// An account as the blog sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Row id (the same as the protocol's user id).
    pub id: i64,
    /// The account name (the RealWorld `username`).
    pub name: String,
    /// `None` for accounts created over the protocol that never set one.
    pub email: Option<String>,
    /// Free text; `None` when never set.
    pub bio: Option<String>,
    /// A picture's URL; `None` when never set.
    pub image: Option<String>,
    /// The argon2 PHC string.
    pub password_hash: String,
}

impl Account {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
        Ok(Account {
            id: row.get("id")?,
            name: row.get("name")?,
            email: row.get("email")?,
            bio: row.get("bio")?,
            image: row.get("image")?,
            password_hash: row.get("password_hash")?,
        })
    }
}

/// Which unique field a write clashed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The account name.
    Name,
    /// The email address.
    Email,
}

/// Changes to an account; `None` leaves a field as it is. For `bio` and
/// `image`, `Some(None)` clears the field.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    /// A new email address.
    pub email: Option<String>,
    /// A new bio, or `Some(None)` to clear it.
    pub bio: Option<Option<String>>,
    /// A new image URL, or `Some(None)` to clear it.
    pub image: Option<Option<String>>,
    /// A new password hash.
    pub password_hash: Option<String>,
}

/// A user as others see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Row id.
    pub id: i64,
    /// The account name.
    pub name: String,
    /// Free text, if set.
    pub bio: Option<String>,
    /// A picture's URL, if set.
    pub image: Option<String>,
    /// Whether the viewer follows this user (false without a viewer).
    pub following: bool,
}

/// An article as read, with its author seen by the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// Row id; newest first is descending id.
    pub id: i64,
    /// Unique, derived from the title.
    pub slug: String,
    /// The title.
    pub title: String,
    /// The one-line description.
    pub description: String,
    /// The body; `None` in lists, which leave it out.
    pub body: Option<String>,
    /// Tag names, sorted.
    pub tags: Vec<String>,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Last change, ms since the epoch.
    pub updated_at_ms: i64,
    /// Whether the viewer favourited it.
    pub favorited: bool,
    /// How many users favourited it.
    pub favorites_count: i64,
    /// Who wrote it.
    pub author: Profile,
}

/// What a new article says (already validated; `slug` already free or
/// to be made free by [`Blog::create_article`]).
#[derive(Debug, Clone)]
pub struct NewArticle<'a> {
    /// The author's id.
    pub author_id: i64,
    /// The slug wanted (made unique by numbering).
    pub slug_base: &'a str,
    /// The title.
    pub title: &'a str,
    /// The description.
    pub description: &'a str,
    /// The body.
    pub body: &'a str,
    /// Tag names, without duplicates.
    pub tags: &'a [String],
}

/// Changes to an article; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ArticleChanges<'a> {
    /// A new title, with the slug it should give (made unique).
    pub title: Option<(&'a str, &'a str)>,
    /// A new description.
    pub description: Option<&'a str>,
    /// A new body.
    pub body: Option<&'a str>,
    /// New tags, replacing the old ones.
    pub tags: Option<&'a [String]>,
}

/// Which articles a list shows; every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    /// Only articles with this tag.
    pub tag: Option<String>,
    /// Only articles by this user (name).
    pub author: Option<String>,
    /// Only articles this user (name) favourited.
    pub favorited_by: Option<String>,
    /// Only articles by users this user (id) follows: the feed.
    pub feed_of: Option<i64>,
}

/// Which slice of a list: by position, or after a cursor (keyset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Skip `offset`, then at most `limit`.
    Offset {
        /// How many at most.
        limit: u32,
        /// How many to skip.
        offset: u64,
    },
    /// At most `limit` with an id below `before_id` (newest first).
    Before {
        /// How many at most.
        limit: u32,
        /// The last id of the previous page.
        before_id: i64,
    },
}

impl Page {
    pub(crate) fn limit(self) -> u32 {
        match self {
            Page::Offset { limit, .. } | Page::Before { limit, .. } => limit,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticlePage {
    /// The articles, newest first, without bodies.
    pub articles: Vec<Article>,
    /// How many articles match the filter, before paging.
    pub total: i64,
    /// The id to continue after, when more articles follow this page.
    pub next_before: Option<i64>,
}

/// A comment as read. Deleted comments that still have replies
/// (tombstones) have an empty body and no author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Row id.
    pub id: i64,
    /// The comment it answers, if any.
    pub parent_id: Option<i64>,
    /// The text ("" for a tombstone).
    pub body: String,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Last change, ms since the epoch.
    pub updated_at_ms: i64,
    /// Whether it was deleted while it had replies.
    pub deleted: bool,
    /// Who wrote it; `None` for a tombstone.
    pub author: Option<Profile>,
}

/// What deleting a comment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentRemoval {
    /// It had no replies and is gone (with tombstones left without any).
    Removed,
    /// It has replies: its body and author are gone, the thread stays.
    Tombstoned,
}

/// A response kept for an Idempotency-Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// SHA-256 of the request (method, path, body).
    pub fingerprint: Vec<u8>,
    /// The HTTP status.
    pub status: u16,
    /// The response body.
    pub body: Vec<u8>,
}

/// Blog queries over one connection.
pub struct Blog<'c> {
    conn: &'c Connection,
}

const ACCOUNT_COLUMNS: &str = "id, name, email, bio, image, password_hash";

const ARTICLE_SELECT: &str = "SELECT a.id, a.slug, a.title, a.description, a.created_at_ms, \
     a.updated_at_ms, a.favorites_count, u.id AS author_id, u.name, u.bio, u.image, \
     (SELECT group_concat(t.name, char(31)) FROM blog_article_tags x \
        JOIN blog_tags t ON t.id = x.tag_id WHERE x.article_id = a.id) AS tags, \
     EXISTS(SELECT 1 FROM blog_favorites f WHERE f.user_id = ?1 AND f.article_id = a.id) \
        AS favorited, \
     EXISTS(SELECT 1 FROM blog_follows fo WHERE fo.follower_id = ?1 AND fo.followee_id = u.id) \
        AS following";

impl<'c> Blog<'c> {
    /// The repository over `conn`.
    pub fn new(conn: &'c Connection) -> Self {
        Blog { conn }
    }

    /// Adds or refreshes `member`'s row in a tenant file's mirror of the
    /// shared accounts (see [`crate::orgs::Mirror`]).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn mirror_member(&self, member: &crate::orgs::Member) -> Result<()> {
        crate::orgs::Mirror::new(self.conn).upsert(member)
    }

    // ----- accounts and profiles -----

    /// The account with this id.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn account(&self, id: i64) -> Result<Option<Account>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = ?1"
            ))?
            .query_row([id], Account::from_row)
            .optional()?)
    }

    /// The account with this email (any case).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM users WHERE email = ?1 COLLATE NOCASE"
            ))?
            .query_row([email], Account::from_row)
            .optional()?)
    }

    /// The id of the account with this name.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn user_id(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM users WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?)
    }

    /// Creates an account with an email; says which field is taken when
    /// one is. Run on the writer, where nothing can slip in between the
    /// checks and the insert.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn create_account(
        &self,
        name: &str,
        email: &str,
        password_hash: &str,
    ) -> Result<std::result::Result<Account, Taken>> {
        if self.user_id(name)?.is_some() {
            return Ok(Err(Taken::Name));
        }
        if self.account_by_email(email)?.is_some() {
            return Ok(Err(Taken::Email));
        }
        self.conn.execute(
            "INSERT INTO users (name, password_hash, created_at_ms, email) VALUES (?1, ?2, ?3, ?4)",
            params![name, password_hash, now_ms(), email],
        )?;
        let id = self.conn.last_insert_rowid();
        Ok(Ok(self
            .account(id)?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)?))
    }

    /// Applies `changes` to account `id`; says so when the new email
    /// belongs to someone else.
    ///
    /// # Errors
    /// On SQLite errors, or when the account does not exist.
    pub fn update_account(
        &self,
        id: i64,
        changes: &AccountChanges,
    ) -> Result<std::result::Result<Account, Taken>> {
        if let Some(email) = &changes.email
            && self
                .account_by_email(email)?
                .is_some_and(|other| other.id != id)
        {
            return Ok(Err(Taken::Email));
        }
        if let Some(email) = &changes.email {
            self.conn.execute(
                "UPDATE users SET email = ?2 WHERE id = ?1",
                params![id, email],
            )?;
        }
        if let Some(bio) = &changes.bio {
            self.conn
                .execute("UPDATE users SET bio = ?2 WHERE id = ?1", params![id, bio])?;
        }
        if let Some(image) = &changes.image {
            self.conn.execute(
                "UPDATE users SET image = ?2 WHERE id = ?1",
                params![id, image],
            )?;
        }
        if let Some(hash) = &changes.password_hash {
            self.conn.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![id, hash],
            )?;
        }
        Ok(Ok(self
            .account(id)?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)?))
    }

    /// The profile of `name` as `viewer` sees it.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn profile(&self, name: &str, viewer: Option<i64>) -> Result<Option<Profile>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT u.id, u.name, u.bio, u.image, EXISTS(SELECT 1 FROM blog_follows f \
                 WHERE f.follower_id = ?2 AND f.followee_id = u.id) \
                 FROM users u WHERE u.name = ?1",
            )?
            .query_row(params![name, viewer], |r| {
                Ok(Profile {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    bio: r.get(2)?,
                    image: r.get(3)?,
                    following: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// Makes `follower` follow (or stop following) `followee`. Doing it
    /// twice is the same as once.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn set_following(&self, follower: i64, followee: i64, follow: bool) -> Result<()> {
        if follow {
            self.conn.execute(
                "INSERT OR IGNORE INTO blog_follows (follower_id, followee_id, created_at_ms) \
                 VALUES (?1, ?2, ?3)",
                params![follower, followee, now_ms()],
            )?;
        } else {
            self.conn.execute(
                "DELETE FROM blog_follows WHERE follower_id = ?1 AND followee_id = ?2",
                params![follower, followee],
            )?;
        }
        Ok(())
    }

    // ----- articles -----

    /// The article with this slug, as `viewer` sees it (with its body).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn article(&self, slug: &str, viewer: Option<i64>) -> Result<Option<Article>> {
        let sql = format!(
            "{ARTICLE_SELECT}, a.body FROM blog_articles a JOIN users u ON u.id = a.author_id \
             WHERE a.slug = ?2"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![viewer, slug], |r| article_from_row(r, true))
            .optional()?)
    }

    /// The id and author of the article with this slug.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn article_owner(&self, slug: &str) -> Result<Option<(i64, i64)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id, author_id FROM blog_articles WHERE slug = ?1")?
            .query_row([slug], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The slug of article `id`.
    fn slug_of(&self, id: i64) -> Result<String> {
        Ok(self
            .conn
            .prepare_cached("SELECT slug FROM blog_articles WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?)
    }

    /// `base`, or `base-2`, `base-3` … whichever no other article than
    /// `except` has.
    fn free_slug(&self, base: &str, except: Option<i64>) -> Result<String> {
        let mut taken = self.conn.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM blog_articles WHERE slug = ?1 AND id IS NOT ?2)",
        )?;
        let mut is_taken = |slug: &str| -> Result<bool> {
            Ok(taken.query_row(params![slug, except], |r| r.get(0))?)
        };
        for n in 1..=NUMBERED_SLUGS {
            let slug = if n == 1 {
                base.to_owned()
            } else {
                format!("{base}-{n}")
            };
            if !is_taken(&slug)? {
                return Ok(slug);
            }
        }
        // Many articles share the title: number from the newest id on,
        // which is free unless someone titled theirs like that.
        let mut n: i64 = self.conn.query_row(
            "SELECT coalesce(max(id), 0) + 1 FROM blog_articles",
            [],
            |r| r.get(0),
        )?;
        loop {
            let slug = format!("{base}-{n}");
            if !is_taken(&slug)? {
                return Ok(slug);
            }
            n += 1;
        }
    }

    /// Creates an article (slug numbered when taken) and returns it as
    /// its author sees it.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn create_article(&self, new: &NewArticle<'_>) -> Result<Article> {
        let slug = self.free_slug(new.slug_base, None)?;
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO blog_articles (slug, author_id, title, description, body, \
             created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![
                slug,
                new.author_id,
                new.title,
                new.description,
                new.body,
                now
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        self.set_tags(id, new.tags)?;
        self.article(&slug, Some(new.author_id))?
            .ok_or_else(|| rusqlite::Error::QueryReturnedNoRows.into())
    }

    fn set_tags(&self, article_id: i64, tags: &[String]) -> Result<()> {
        self.conn.execute(
            "DELETE FROM blog_article_tags WHERE article_id = ?1",
            [article_id],
        )?;
        let mut add_tag = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO blog_tags (name) VALUES (?1)")?;
        let mut link = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO blog_article_tags (article_id, tag_id) \
             SELECT ?1, id FROM blog_tags WHERE name = ?2",
        )?;
        for tag in tags {
            add_tag.execute([tag])?;
            link.execute(params![article_id, tag])?;
        }
        Ok(())
    }

    /// Applies `changes` to article `id` (a new title renames the slug)
    /// and returns it as `viewer` sees it.
    ///
    /// # Errors
    /// On SQLite errors, or when the article does not exist.
    pub fn update_article(
        &self,
        id: i64,
        changes: &ArticleChanges<'_>,
        viewer: i64,
    ) -> Result<Article> {
        let now = now_ms();
        if let Some((title, slug_base)) = changes.title {
            let current = self.slug_of(id)?;
            // A title that gives the same slug keeps the article's own
            // (possibly numbered) slug.
            let slug = if keeps_slug(&current, slug_base) {
                current
            } else {
                self.free_slug(slug_base, Some(id))?
            };
            self.conn.execute(
                "UPDATE blog_articles SET title = ?2, slug = ?3 WHERE id = ?1",
                params![id, title, slug],
            )?;
        }
        if let Some(description) = changes.description {
            self.conn.execute(
                "UPDATE blog_articles SET description = ?2 WHERE id = ?1",
                params![id, description],
            )?;
        }
        if let Some(body) = changes.body {
            self.conn.execute(
                "UPDATE blog_articles SET body = ?2 WHERE id = ?1",
                params![id, body],
            )?;
        }
        if let Some(tags) = changes.tags {
            self.set_tags(id, tags)?;
        }
        self.conn.execute(
            "UPDATE blog_articles SET updated_at_ms = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        let slug = self.slug_of(id)?;
        self.article(&slug, Some(viewer))?
            .ok_or_else(|| rusqlite::Error::QueryReturnedNoRows.into())
    }

    /// Deletes article `id` with its comments, tags and favourites.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn delete_article(&self, id: i64) -> Result<bool> {
        // Unlink replies first: see the migration on parent_id.
        self.conn.execute(
            "UPDATE blog_comments SET parent_id = NULL WHERE article_id = ?1",
            [id],
        )?;
        self.conn
            .execute("DELETE FROM blog_comments WHERE article_id = ?1", [id])?;
        Ok(self
            .conn
            .execute("DELETE FROM blog_articles WHERE id = ?1", [id])?
            > 0)
    }

    /// Marks article `article_id` as favourited by `user` (or not) and
    /// keeps its count in step. Doing it twice is the same as once.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn set_favorite(&self, user: i64, article_id: i64, favorite: bool) -> Result<()> {
        let changed = if favorite {
            self.conn.execute(
                "INSERT OR IGNORE INTO blog_favorites (user_id, article_id) VALUES (?1, ?2)",
                params![user, article_id],
            )?
        } else {
            self.conn.execute(
                "DELETE FROM blog_favorites WHERE user_id = ?1 AND article_id = ?2",
                params![user, article_id],
            )?
        };
        if changed > 0 {
            let delta: i64 = if favorite { 1 } else { -1 };
            self.conn.execute(
                "UPDATE blog_articles SET favorites_count = favorites_count + ?2 WHERE id = ?1",
                params![article_id, delta],
            )?;
        }
        Ok(())
    }

    /// One page of the articles matching `filter`, newest first, without
    /// bodies, as `viewer` sees them.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn list_articles(
        &self,
        filter: &ArticleFilter,
        page: Page,
        viewer: Option<i64>,
    ) -> Result<ArticlePage> {
        let (count_where, count_args) = filter_sql(filter, None, 0);
        let total: i64 = self
            .conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM blog_articles a {count_where}"
            ))?
            .query_row(params_from_iter(count_args.iter()), |r| r.get(0))?;
        let limit = page.limit();
        let (before, offset) = match page {
            Page::Offset { offset, .. } => (None, offset),
            Page::Before { before_id, .. } => (Some(before_id), 0),
        };
        // ?1 is the viewer (in ARTICLE_SELECT); the filters follow.
        let (where_clause, filter_args) = filter_sql(filter, before, 1);
        let mut args = Vec::with_capacity(filter_args.len() + 3);
        args.push(viewer.map_or(Value::Null, Value::Integer));
        args.extend(filter_args);
        // One more than asked for says whether a next page exists.
        args.push(Value::Integer(i64::from(limit) + 1));
        args.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
        let sql = format!(
            "{ARTICLE_SELECT} FROM blog_articles a JOIN users u ON u.id = a.author_id \
             {where_clause} ORDER BY a.id DESC LIMIT ?{} OFFSET ?{}",
            args.len() - 1,
            args.len()
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut articles = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                article_from_row(r, false)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let more = articles.len() > limit as usize;
        articles.truncate(limit as usize);
        let next_before = if more {
            articles.last().map(|a| a.id)
        } else {
            None
        };
        Ok(ArticlePage {
            articles,
            total,
            next_before,
        })
    }

    /// How many articles this blog holds (an organization's count
    /// against its plan's limit).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn article_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM blog_articles")?
            .query_row([], |r| r.get(0))?)
    }

    /// Tags used by at least one article, most used first, then by name.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn tags(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.name FROM blog_tags t JOIN blog_article_tags x ON x.tag_id = t.id \
             GROUP BY t.id ORDER BY count(*) DESC, t.name",
        )?;
        let tags = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(tags)
    }

    // ----- comments -----

    /// Every comment of article `article_id`, oldest first, tombstones
    /// included, as `viewer` sees their authors.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn comments(&self, article_id: i64, viewer: Option<i64>) -> Result<Vec<Comment>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.parent_id, c.body, c.created_at_ms, c.updated_at_ms, c.deleted, \
             u.id, u.name, u.bio, u.image, EXISTS(SELECT 1 FROM blog_follows f \
               WHERE f.follower_id = ?2 AND f.followee_id = u.id) \
             FROM blog_comments c LEFT JOIN users u ON u.id = c.author_id \
             WHERE c.article_id = ?1 ORDER BY c.id",
        )?;
        let comments = stmt
            .query_map(params![article_id, viewer], comment_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(comments)
    }

    /// Comment `id` of article `article_id` as `viewer` sees it.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn comment(
        &self,
        article_id: i64,
        id: i64,
        viewer: Option<i64>,
    ) -> Result<Option<Comment>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT c.id, c.parent_id, c.body, c.created_at_ms, c.updated_at_ms, c.deleted, \
                 u.id, u.name, u.bio, u.image, EXISTS(SELECT 1 FROM blog_follows f \
                   WHERE f.follower_id = ?3 AND f.followee_id = u.id) \
                 FROM blog_comments c LEFT JOIN users u ON u.id = c.author_id \
                 WHERE c.article_id = ?1 AND c.id = ?2",
            )?
            .query_row(params![article_id, id, viewer], comment_from_row)
            .optional()?)
    }

    /// The author of comment `id` on article `article_id`, when it exists
    /// and is not a tombstone.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn comment_author(&self, article_id: i64, id: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT author_id FROM blog_comments \
                 WHERE article_id = ?1 AND id = ?2 AND deleted = 0",
            )?
            .query_row(params![article_id, id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Adds a comment (a reply when `parent_id` is given; the caller has
    /// checked the parent belongs to the article) and returns it.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn create_comment(
        &self,
        article_id: i64,
        author_id: i64,
        parent_id: Option<i64>,
        body: &str,
    ) -> Result<Comment> {
        self.conn.execute(
            "INSERT INTO blog_comments (article_id, parent_id, author_id, body, \
             created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![article_id, parent_id, author_id, body, now_ms()],
        )?;
        let id = self.conn.last_insert_rowid();
        self.comment(article_id, id, Some(author_id))?
            .ok_or_else(|| rusqlite::Error::QueryReturnedNoRows.into())
    }

    /// Whether comment `id` exists on article `article_id` (tombstones
    /// count: one may still be replied to).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn comment_exists(&self, article_id: i64, id: i64) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM blog_comments WHERE article_id = ?1 AND id = ?2)",
            )?
            .query_row(params![article_id, id], |r| r.get(0))?)
    }

    /// Deletes comment `id`: removed when it has no replies (and with it
    /// each tombstone above it left without any), else made a tombstone.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn delete_comment(&self, id: i64) -> Result<CommentRemoval> {
        let has_replies = |id: i64| -> Result<bool> {
            Ok(self
                .conn
                .prepare_cached("SELECT EXISTS(SELECT 1 FROM blog_comments WHERE parent_id = ?1)")?
                .query_row([id], |r| r.get(0))?)
        };
        if has_replies(id)? {
            self.conn.execute(
                "UPDATE blog_comments SET deleted = 1, body = '', updated_at_ms = ?2 WHERE id = ?1",
                params![id, now_ms()],
            )?;
            return Ok(CommentRemoval::Tombstoned);
        }
        let mut parent: Option<i64> = self
            .conn
            .query_row(
                "DELETE FROM blog_comments WHERE id = ?1 RETURNING parent_id",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        // Tombstones left with no replies have nothing left to show.
        while let Some(up) = parent {
            let tombstone: bool = self
                .conn
                .query_row(
                    "SELECT deleted FROM blog_comments WHERE id = ?1",
                    [up],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(false);
            if !tombstone || has_replies(up)? {
                break;
            }
            parent = self
                .conn
                .query_row(
                    "DELETE FROM blog_comments WHERE id = ?1 RETURNING parent_id",
                    [up],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
        }
        Ok(CommentRemoval::Removed)
    }

    // ----- the whole blog -----

    /// Deletes everything this blog holds: articles with their tags,
    /// favourites and comments, the tags, follows and kept responses; not
    /// the accounts (shared, or a tenant file's mirror of them). Returns
    /// how many articles went.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn clear(&self) -> Result<u64> {
        // Unlink replies first: see the migration on parent_id.
        self.conn
            .execute("UPDATE blog_comments SET parent_id = NULL", [])?;
        for table in ["blog_comments", "blog_favorites", "blog_article_tags"] {
            self.conn.execute(&format!("DELETE FROM {table}"), [])?;
        }
        let articles = self.conn.execute("DELETE FROM blog_articles", [])?;
        for table in ["blog_tags", "blog_follows", "blog_idempotency"] {
            self.conn.execute(&format!("DELETE FROM {table}"), [])?;
        }
        Ok(articles as u64)
    }

    // ----- idempotency -----

    /// The response kept for `key` in `scope`, if any.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn stored_response(&self, scope: i64, key: &str) -> Result<Option<StoredResponse>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT fingerprint, status, body FROM blog_idempotency \
                 WHERE scope = ?1 AND key = ?2",
            )?
            .query_row(params![scope, key], |r| {
                Ok(StoredResponse {
                    fingerprint: r.get(0)?,
                    status: r.get(1)?,
                    body: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Keeps `response` for `key` in `scope`.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the key already has one (a concurrent
    /// retry won); SQLite errors.
    pub fn store_response(&self, scope: i64, key: &str, response: &StoredResponse) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO blog_idempotency (scope, key, fingerprint, status, body, created_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    scope,
                    key,
                    response.fingerprint,
                    response.status,
                    response.body,
                    now_ms()
                ],
            )
            .map_err(|err| {
                if Error::is_unique_violation(&err) {
                    Error::Conflict(format!("idempotency key {key:?}"))
                } else {
                    err.into()
                }
            })?;
        Ok(())
    }

    /// Forgets responses kept since before `before_ms`; returns how many.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn forget_responses(&self, before_ms: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "DELETE FROM blog_idempotency WHERE created_at_ms < ?1",
            [before_ms],
        )?)
    }
}

/// The WHERE clause (possibly empty) for `filter` and a cursor, over
/// `blog_articles a`, with its arguments numbered from `?{skip + 1}`.
fn filter_sql(filter: &ArticleFilter, before: Option<i64>, skip: usize) -> (String, Vec<Value>) {
    let mut args: Vec<Value> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    let mut arg = |v: Value| {
        args.push(v);
        format!("?{}", skip + args.len())
    };
    if let Some(tag) = &filter.tag {
        let p = arg(Value::Text(tag.clone()));
        conditions.push(format!(
            "a.id IN (SELECT x.article_id FROM blog_article_tags x \
             JOIN blog_tags t ON t.id = x.tag_id WHERE t.name = {p})"
        ));
    }
    if let Some(author) = &filter.author {
        let p = arg(Value::Text(author.clone()));
        conditions.push(format!(
            "a.author_id = (SELECT id FROM users WHERE name = {p})"
        ));
    }
    if let Some(fan) = &filter.favorited_by {
        let p = arg(Value::Text(fan.clone()));
        conditions.push(format!(
            "a.id IN (SELECT f.article_id FROM blog_favorites f \
             WHERE f.user_id = (SELECT id FROM users WHERE name = {p}))"
        ));
    }
    if let Some(reader) = filter.feed_of {
        let p = arg(Value::Integer(reader));
        conditions.push(format!(
            "a.author_id IN (SELECT followee_id FROM blog_follows WHERE follower_id = {p})"
        ));
    }
    if let Some(before) = before {
        let p = arg(Value::Integer(before));
        conditions.push(format!("a.id < {p}"));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (clause, args)
}

fn article_from_row(r: &Row<'_>, with_body: bool) -> rusqlite::Result<Article> {
    let tags: Option<String> = r.get("tags")?;
    let mut tags: Vec<String> = tags
        .map(|t| t.split(TAG_SEPARATOR).map(str::to_owned).collect())
        .unwrap_or_default();
    tags.sort();
    Ok(Article {
        id: r.get("id")?,
        slug: r.get("slug")?,
        title: r.get("title")?,
        description: r.get("description")?,
        body: if with_body {
            Some(r.get("body")?)
        } else {
            None
        },
        tags,
        created_at_ms: r.get("created_at_ms")?,
        updated_at_ms: r.get("updated_at_ms")?,
        favorited: r.get("favorited")?,
        favorites_count: r.get("favorites_count")?,
        author: Profile {
            id: r.get("author_id")?,
            name: r.get("name")?,
            bio: r.get("bio")?,
            image: r.get("image")?,
            following: r.get("following")?,
        },
    })
}

fn comment_from_row(r: &Row<'_>) -> rusqlite::Result<Comment> {
    let deleted: bool = r.get(5)?;
    let author_id: Option<i64> = r.get(6)?;
    let author = match author_id {
        Some(id) if !deleted => Some(Profile {
            id,
            name: r.get(7)?,
            bio: r.get(8)?,
            image: r.get(9)?,
            following: r.get(10)?,
        }),
        _ => None,
    };
    Ok(Comment {
        id: r.get(0)?,
        parent_id: r.get(1)?,
        body: r.get(2)?,
        created_at_ms: r.get(3)?,
        updated_at_ms: r.get(4)?,
        deleted,
        author,
    })
}

#[cfg(test)]
mod suite;
