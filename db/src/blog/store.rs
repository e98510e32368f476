//! [`BlogStore`]: the blog repository's interface, implemented by SQLite's
//! [`Blog`] (one file per organization) and PostgreSQL's
//! `pg::blog::PgBlog` (every organization's rows in shared tables, kept
//! apart by row-level security). `crate::BlogDb` (in `storage.rs`) is one
//! organization's blog on either backend, which the daemon holds per
//! request.
//!
//! One suite (`blog/suite.rs`) runs on both backends.

use super::{
    Account, AccountChanges, Article, ArticleChanges, ArticleFilter, ArticlePage, Blog, Comment,
    CommentRemoval, NewArticle, Page, Profile, StoredResponse, Taken,
};
use crate::Result;
use crate::orgs::Member;

/// The blog's queries, on one backend, inside one transaction (the
/// caller's: [`crate::BlogDb::read`] and [`crate::BlogDb::write`]). Every method
/// behaves as [`Blog`]'s of the same name documents.
#[allow(missing_docs)]
pub trait BlogStore {
    /// Makes `member`'s profile visible to the blog's joins: SQLite's
    /// tenant files mirror the shared accounts; on PostgreSQL the accounts
    /// are the shared table itself and this does nothing.
    fn mirror_member(&mut self, member: &Member) -> Result<()>;
    fn account(&mut self, id: i64) -> Result<Option<Account>>;
    fn account_by_email(&mut self, email: &str) -> Result<Option<Account>>;
    fn user_id(&mut self, name: &str) -> Result<Option<i64>>;
    fn create_account(
        &mut self,
        name: &str,
        email: &str,
        password_hash: &str,
    ) -> Result<std::result::Result<Account, Taken>>;
    fn update_account(
        &mut self,
        id: i64,
        changes: &AccountChanges,
    ) -> Result<std::result::Result<Account, Taken>>;
    fn profile(&mut self, name: &str, viewer: Option<i64>) -> Result<Option<Profile>>;
    fn set_following(&mut self, follower: i64, followee: i64, follow: bool) -> Result<()>;
    fn article(&mut self, slug: &str, viewer: Option<i64>) -> Result<Option<Article>>;
    fn article_owner(&mut self, slug: &str) -> Result<Option<(i64, i64)>>;
    fn create_article(&mut self, new: &NewArticle<'_>) -> Result<Article>;
    fn update_article(
        &mut self,
        id: i64,
        changes: &ArticleChanges<'_>,
        viewer: i64,
    ) -> Result<Article>;
    fn delete_article(&mut self, id: i64) -> Result<bool>;
    fn set_favorite(&mut self, user: i64, article_id: i64, favorite: bool) -> Result<()>;
    fn list_articles(
        &mut self,
        filter: &ArticleFilter,
        page: Page,
        viewer: Option<i64>,
    ) -> Result<ArticlePage>;
    fn article_count(&mut self) -> Result<i64>;
    fn tags(&mut self) -> Result<Vec<String>>;
    fn comments(&mut self, article_id: i64, viewer: Option<i64>) -> Result<Vec<Comment>>;
    fn comment(&mut self, article_id: i64, id: i64, viewer: Option<i64>)
    -> Result<Option<Comment>>;
    fn comment_author(&mut self, article_id: i64, id: i64) -> Result<Option<i64>>;
    fn create_comment(
        &mut self,
        article_id: i64,
        author_id: i64,
        parent_id: Option<i64>,
        body: &str,
    ) -> Result<Comment>;
    fn comment_exists(&mut self, article_id: i64, id: i64) -> Result<bool>;
    fn delete_comment(&mut self, id: i64) -> Result<CommentRemoval>;
    fn stored_response(&mut self, scope: i64, key: &str) -> Result<Option<StoredResponse>>;
    fn store_response(&mut self, scope: i64, key: &str, response: &StoredResponse) -> Result<()>;
    fn forget_responses(&mut self, before_ms: i64) -> Result<usize>;
    /// Deletes every row of this blog's own tables (articles, tags,
    /// favourites, comments, follows, kept responses; not the accounts)
    /// and says how many articles went: purging a deleted organization
    /// on PostgreSQL, where its rows share the tables with everyone's.
    fn clear(&mut self) -> Result<u64>;
}

/// Forwards each [`BlogStore`] method to [`Blog`]'s inherent one.
macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        impl BlogStore for Blog<'_> {
            $(fn $name(&mut self, $($arg: $ty),*) -> Result<$out> {
                Blog::$name(self, $($arg),*)
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
