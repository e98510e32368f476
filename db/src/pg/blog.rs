//! The blog repository on the fleet's PostgreSQL: [`PgBlog`], every
//! organization's rows in shared tables kept apart by row-level security
//! (schema `postgres/0005_tenants.sql`; docs/FLEET.md, "Tenants"). The
//! same [`BlogStore`] as SQLite's [`crate::blog::Blog`], tested by the
//! same suite (`blog/suite.rs`); what only PostgreSQL has to show
//! (organizations side by side, nodes racing) is in `pg/blog/tests.rs`.
//!
//! Every row written carries the organization's id (the policy's WITH
//! CHECK refuses any other), and every query names it too: the policy
//! would filter anyway, but the indexes lead with `org_id`.
//!
//! Where the backends differ:
//! * writes to one organization's blog take turns across the fleet
//!   ([`lock_writes`], as SQLite's one writer per file), so its
//!   check-then-write steps (a free slug, a taken name) hold; but the
//!   accounts are shared by every organization, so a sign-up also relies
//!   on the unique indexes of `users` (another organization's sign-up
//!   holds another lock) and reads their refusal as "taken";
//! * ids come from sequences shared by all organizations: one blog's ids
//!   grow (newest first is still descending id) but have gaps, and a
//!   deleted newest id is never reused;
//! * text cannot hold NUL characters (PostgreSQL refuses the write);
//! * emails are compared with `lower()` (Unicode case folding), SQLite's
//!   NOCASE folds ASCII letters only.

use postgres::Transaction;

use crate::Result;
use crate::blog::{
    Account, AccountChanges, Article, ArticleChanges, ArticleFilter, ArticlePage, BlogStore,
    Comment, CommentRemoval, NewArticle, Page, Profile, StoredResponse, Taken,
};
use crate::orgs::Member;

mod accounts;
mod articles;
mod comments;

/// The first key of the blog's advisory write locks, "blog" in ASCII;
/// the second is the organization ([`lock_writes`]). The two-key lock
/// space does not overlap the one-key space the migrations lock in.
pub const WRITE_LOCK: i32 = 0x626c_6f67;

/// Blog queries inside one tenant transaction (`Pg::tenant_read` /
/// `Pg::tenant_write`) for organization `org`.
pub struct PgBlog<'a, 't> {
    tx: &'a mut Transaction<'t>,
    org: i64,
}

impl<'a, 't> PgBlog<'a, 't> {
    /// The repository inside `tx`, a tenant transaction for `org`.
    pub fn new(tx: &'a mut Transaction<'t>, org: i64) -> Self {
        PgBlog { tx, org }
    }
}

/// Takes organization `org`'s blog write lock for the rest of `tx`
/// (`pg_advisory_xact_lock(WRITE_LOCK, org)`, released at commit or
/// rollback): one organization's writes take turns across the fleet, as
/// SQLite's one writer per file; different organizations' do not wait
/// for each other. Then bumps the blog's generation (`blog_generations`),
/// committed with the write: what every node's cache of responses checks
/// ([`generation`]).
///
/// # Errors
/// Database errors.
pub fn lock_writes(tx: &mut Transaction<'_>, org: i64) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&WRITE_LOCK, &lock_key(org)],
    )?;
    tx.execute(
        "INSERT INTO blog_generations (org_id, generation) VALUES ($1, 1) \
         ON CONFLICT (org_id) DO UPDATE SET generation = blog_generations.generation + 1",
        &[&org],
    )?;
    Ok(())
}

/// Organization `org`'s blog generation: how many write transactions it
/// has committed (0 before the first). One statement, outside any tenant
/// transaction.
///
/// # Errors
/// Database errors.
pub fn generation(client: &mut postgres::Client, org: i64) -> Result<i64> {
    Ok(client
        .query_opt(
            "SELECT generation FROM blog_generations WHERE org_id = $1",
            &[&org],
        )?
        .map_or(Ok(0), |row| row.try_get(0))?)
}

/// The lock's second key: the organization's id when it fits in 32 bits
/// (always, in practice), else its halves folded together (two such
/// organizations would only take turns more often).
fn lock_key(org: i64) -> i32 {
    i32::try_from(org).unwrap_or((org ^ (org >> 32)) as i32)
}

/// Forwards each [`BlogStore`] method to [`PgBlog`]'s inherent one (in
/// `accounts.rs`, `articles.rs` and `comments.rs`).
macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        impl BlogStore for PgBlog<'_, '_> {
            $(fn $name(&mut self, $($arg: $ty),*) -> Result<$out> {
                PgBlog::$name(self, $($arg),*)
            })*
        }
    };
}

forward! {
    mirror_member(member: &Member) -> ();
    account(id: i64) -> Option<Account>;
    account_by_email(email: &str) -> Option<Account>;
    user_id(name: &str) -> Option<i64>;
    create_account(name: &str, email: &str, password_hash: &str)
        -> std::result::Result<Account, Taken>;
    update_account(id: i64, changes: &AccountChanges) -> std::result::Result<Account, Taken>;
    profile(name: &str, viewer: Option<i64>) -> Option<Profile>;
    set_following(follower: i64, followee: i64, follow: bool) -> ();
    article(slug: &str, viewer: Option<i64>) -> Option<Article>;
    article_owner(slug: &str) -> Option<(i64, i64)>;
    create_article(new: &NewArticle<'_>) -> Article;
    update_article(id: i64, changes: &ArticleChanges<'_>, viewer: i64) -> Article;
    delete_article(id: i64) -> bool;
    set_favorite(user: i64, article_id: i64, favorite: bool) -> ();
    list_articles(filter: &ArticleFilter, page: Page, viewer: Option<i64>) -> ArticlePage;
    article_count() -> i64;
    tags() -> Vec<String>;
    comments(article_id: i64, viewer: Option<i64>) -> Vec<Comment>;
    comment(article_id: i64, id: i64, viewer: Option<i64>) -> Option<Comment>;
    comment_author(article_id: i64, id: i64) -> Option<i64>;
    create_comment(article_id: i64, author_id: i64, parent_id: Option<i64>, body: &str)
        -> Comment;
    comment_exists(article_id: i64, id: i64) -> bool;
    delete_comment(id: i64) -> CommentRemoval;
    stored_response(scope: i64, key: &str) -> Option<StoredResponse>;
    store_response(scope: i64, key: &str, response: &StoredResponse) -> ();
    forget_responses(before_ms: i64) -> usize;
    clear() -> u64;
}

#[cfg(test)]
mod tests;
