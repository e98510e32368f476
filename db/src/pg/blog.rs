//! The blog repository on the fleet's PostgreSQL: `PgBlog`, every
//! organization's rows in shared tables kept apart by row-level security
//! (schema `postgres/0005_tenants.sql`; docs/FLEET.md, "Tenants").

use postgres::Transaction;

use crate::Result;
use crate::blog::{
    Account, AccountChanges, Article, ArticleChanges, ArticleFilter, ArticlePage, BlogStore,
    Comment, CommentRemoval, NewArticle, Page, Profile, StoredResponse, Taken,
};
use crate::orgs::Member;

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

/// Takes organization `org`'s blog write lock for the rest of `tx`.
///
/// # Errors
/// Database errors.
pub fn lock_writes(tx: &mut Transaction<'_>, org: i64) -> Result<()> {
    let _ = (tx, org);
    todo!()
}

impl BlogStore for PgBlog<'_, '_> {
    fn mirror_member(&mut self, member: &Member) -> Result<()> {
        todo!()
    }
    fn account(&mut self, id: i64) -> Result<Option<Account>> {
        todo!()
    }
    fn account_by_email(&mut self, email: &str) -> Result<Option<Account>> {
        todo!()
    }
    fn user_id(&mut self, name: &str) -> Result<Option<i64>> {
        todo!()
    }
    fn create_account(&mut self, name: &str, email: &str, password_hash: &str) -> Result<std::result::Result<Account, Taken>> {
        todo!()
    }
    fn update_account(&mut self, id: i64, changes: &AccountChanges) -> Result<std::result::Result<Account, Taken>> {
        todo!()
    }
    fn profile(&mut self, name: &str, viewer: Option<i64>) -> Result<Option<Profile>> {
        todo!()
    }
    fn set_following(&mut self, follower: i64, followee: i64, follow: bool) -> Result<()> {
        todo!()
    }
    fn article(&mut self, slug: &str, viewer: Option<i64>) -> Result<Option<Article>> {
        todo!()
    }
    fn article_owner(&mut self, slug: &str) -> Result<Option<(i64, i64)>> {
        todo!()
    }
    fn create_article(&mut self, new: &NewArticle<'_>) -> Result<Article> {
        todo!()
    }
    fn update_article(&mut self, id: i64, changes: &ArticleChanges<'_>, viewer: i64) -> Result<Article> {
        todo!()
    }
    fn delete_article(&mut self, id: i64) -> Result<bool> {
        todo!()
    }
    fn set_favorite(&mut self, user: i64, article_id: i64, favorite: bool) -> Result<()> {
        todo!()
    }
    fn list_articles(&mut self, filter: &ArticleFilter, page: Page, viewer: Option<i64>) -> Result<ArticlePage> {
        todo!()
    }
    fn article_count(&mut self) -> Result<i64> {
        todo!()
    }
    fn tags(&mut self) -> Result<Vec<String>> {
        todo!()
    }
    fn comments(&mut self, article_id: i64, viewer: Option<i64>) -> Result<Vec<Comment>> {
        todo!()
    }
    fn comment(&mut self, article_id: i64, id: i64, viewer: Option<i64>) -> Result<Option<Comment>> {
        todo!()
    }
    fn comment_author(&mut self, article_id: i64, id: i64) -> Result<Option<i64>> {
        todo!()
    }
    fn create_comment(&mut self, article_id: i64, author_id: i64, parent_id: Option<i64>, body: &str) -> Result<Comment> {
        todo!()
    }
    fn comment_exists(&mut self, article_id: i64, id: i64) -> Result<bool> {
        todo!()
    }
    fn delete_comment(&mut self, id: i64) -> Result<CommentRemoval> {
        todo!()
    }
    fn stored_response(&mut self, scope: i64, key: &str) -> Result<Option<StoredResponse>> {
        todo!()
    }
    fn store_response(&mut self, scope: i64, key: &str, response: &StoredResponse) -> Result<()> {
        todo!()
    }
    fn forget_responses(&mut self, before_ms: i64) -> Result<usize> {
        todo!()
    }
}
