//! Articles: create, read, update and delete by slug, lists with filters
//! and offset or cursor paging, the feed, favourites and tags; and
//! [`Keep`], how a POST's response is stored with its effect for
//! Idempotency-Key retries.

use agora_db::blog::{
    Article, ArticleChanges, ArticleFilter, ArticlePage, BlogStore, NewArticle, Page,
    StoredResponse,
};
use agora_wire::names::validate_user_name;

use super::error::Problems;
use super::{Blog, Error, Store, rules};

/// Where to keep a POST's response: in the same transaction as its
/// effect, so a retry finds both or neither (see
/// docs/BLOG.md, "Idempotency-Key").
#[derive(Debug, Clone)]
pub struct Keep {
    /// The user the key belongs to.
    pub scope: i64,
    /// The client's Idempotency-Key.
    pub key: String,
    /// SHA-256 of the method, path and body.
    pub fingerprint: Vec<u8>,
    /// The status the response will have.
    pub status: u16,
}

impl Keep {
    /// Stores `body` as the response for this key inside the caller's
    /// transaction. When a concurrent request with the same key stored
    /// one first, answers [`Error::Replay`] with it, which rolls this
    /// transaction (and its effect) back.
    ///
    /// # Errors
    /// [`Error::Replay`], or a storage error.
    pub fn store(&self, blog: &mut dyn BlogStore, body: Vec<u8>) -> Result<(), Error> {
        let response = StoredResponse {
            fingerprint: self.fingerprint.clone(),
            status: self.status,
            body,
        };
        match blog.store_response(self.scope, &self.key, &response) {
            Ok(()) => Ok(()),
            Err(agora_db::Error::Conflict(_)) => {
                match blog.stored_response(self.scope, &self.key)? {
                    Some(first) => Err(Error::Replay(first)),
                    None => Err(Error::internal("idempotency key vanished")),
                }
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// Renders a value as the response body kept by a [`Keep`].
pub type Render<T> = fn(&T) -> Vec<u8>;

/// A new article as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct NewArticleInput {
    /// Required.
    pub title: Option<String>,
    /// Required.
    pub description: Option<String>,
    /// Required.
    pub body: Option<String>,
    /// Optional.
    pub tags: Option<Vec<String>>,
}

/// Changes to an article; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UpdateArticleInput {
    /// A new title (renames the slug).
    pub title: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new body.
    pub body: Option<String>,
    /// New tags (an extension: the spec's UpdateArticle has none).
    pub tags: Option<Vec<String>>,
}

/// Which page of which list: filters, then offset or cursor.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Which articles.
    pub filter: ArticleFilter,
    /// Which slice.
    pub page: Page,
}

impl ListQuery {
    /// Reads `tag`, `author`, `favorited`, `limit`, `offset` and `cursor`
    /// from query parameters (others are ignored; a repeated one counts
    /// once, the last).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad number or cursor, or a cursor with an
    /// offset.
    pub fn parse(params: &[(String, String)]) -> Result<ListQuery, Error> {
        let get = |name: &str| {
            params
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let mut problems = Problems::default();
        let limit = match get("limit") {
            None => rules::DEFAULT_LIMIT,
            Some(text) => problems
                .check(
                    "limit",
                    text.parse::<u32>()
                        .ok()
                        .filter(|n| (1..=rules::MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            format!("must be a whole number from 1 to {}", rules::MAX_LIMIT)
                        }),
                )
                .unwrap_or(rules::DEFAULT_LIMIT),
        };
        let offset = get("offset").map(|text| {
            problems
                .check(
                    "offset",
                    text.parse::<u64>()
                        .ok()
                        .filter(|n| i64::try_from(*n).is_ok())
                        .ok_or_else(|| "must be a whole number, 0 or more".to_owned()),
                )
                .unwrap_or(0)
        });
        let cursor =
            get("cursor").and_then(|text| problems.check("cursor", rules::parse_cursor(text)));
        if offset.is_some() && get("cursor").is_some() {
            problems.add("cursor", "can't be combined with offset");
        }
        problems.finish()?;
        let name = |n: &str| validate_user_name(n).unwrap_or_else(|_| n.to_owned());
        Ok(ListQuery {
            filter: ArticleFilter {
                tag: get("tag").map(str::to_owned),
                author: get("author").map(name),
                favorited_by: get("favorited").map(name),
                feed_of: None,
            },
            page: match cursor {
                Some(before_id) => Page::Before { limit, before_id },
                None => Page::Offset {
                    limit,
                    offset: offset.unwrap_or(0),
                },
            },
        })
    }
}

fn check_new(input: NewArticleInput) -> Result<(String, String, String, Vec<String>), Error> {
    let mut problems = Problems::default();
    let mut required = |field: &str, value: Option<String>, chars: usize, bytes: usize| match value
    {
        None => {
            problems.add(field, "can't be blank");
            None
        }
        Some(v) => problems
            .check(field, rules::text(&v, chars, bytes))
            .map(|()| v),
    };
    let title = required("title", input.title, rules::MAX_TITLE, rules::MAX_TITLE * 4);
    let description = required(
        "description",
        input.description,
        rules::MAX_DESCRIPTION,
        rules::MAX_DESCRIPTION * 4,
    );
    let body = required("body", input.body, rules::MAX_BODY, rules::MAX_BODY);
    let tags = problems.check("tagList", rules::tags(&input.tags.unwrap_or_default()));
    problems.finish()?;
    match (title, description, body, tags) {
        (Some(t), Some(d), Some(b), Some(tags)) => Ok((t, d, b, tags)),
        _ => Err(Error::internal("article checks passed without values")),
    }
}

/// A check run inside an article's creating transaction, before the
/// insert (e.g. a plan's article limit): what it counts cannot change
/// before the insert commits, so two creations at the limit cannot both
/// pass it.
pub type CreateCheck = Box<dyn FnMut(&mut dyn BlogStore) -> Result<(), Error> + Send>;

impl Blog {
    /// Creates an article by `author`, once `check` (if any) passes in the
    /// same transaction; keeps its response (rendered by `render`) when
    /// `keep` says so.
    ///
    /// # Errors
    /// [`Error::Invalid`] for bad fields; [`Error::Replay`] when a
    /// concurrent retry won; `check`'s.
    pub async fn create_article(
        &self,
        store: &Store,
        author: i64,
        input: NewArticleInput,
        keep: Option<(Keep, Render<Article>)>,
        mut check: Option<CreateCheck>,
    ) -> Result<Article, Error> {
        let (title, description, body, tags) = check_new(input)?;
        let slug_base = rules::slugify(&title);
        store
            .write(move |blog| {
                if let Some(check) = check.as_mut() {
                    check(blog)?;
                }
                let article = blog.create_article(&NewArticle {
                    author_id: author,
                    slug_base: &slug_base,
                    title: &title,
                    description: &description,
                    body: &body,
                    tags: &tags,
                })?;
                if let Some((keep, render)) = &keep {
                    keep.store(blog, render(&article))?;
                }
                Ok(article)
            })
            .await
    }

    /// The article at `slug` as `viewer` sees it.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn article(
        &self,
        store: &Store,
        slug: &str,
        viewer: Option<i64>,
    ) -> Result<Article, Error> {
        let slug = slug.to_owned();
        store
            .read(move |blog| blog.article(&slug, viewer))
            .await?
            .ok_or(Error::NotFound("article"))
    }

    /// Changes the article at `slug`, which must be `viewer`'s.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`], [`Error::Invalid`].
    pub async fn update_article(
        &self,
        store: &Store,
        viewer: i64,
        slug: &str,
        input: UpdateArticleInput,
    ) -> Result<Article, Error> {
        let mut problems = Problems::default();
        let mut optional = |field: &str, value: &Option<String>, chars: usize, bytes: usize| {
            if let Some(v) = value {
                problems.check(field, rules::text(v, chars, bytes));
            }
        };
        optional(
            "title",
            &input.title,
            rules::MAX_TITLE,
            rules::MAX_TITLE * 4,
        );
        optional(
            "description",
            &input.description,
            rules::MAX_DESCRIPTION,
            rules::MAX_DESCRIPTION * 4,
        );
        optional("body", &input.body, rules::MAX_BODY, rules::MAX_BODY);
        let tags = input
            .tags
            .as_ref()
            .and_then(|t| problems.check("tagList", rules::tags(t)));
        if input.title.is_none()
            && input.description.is_none()
            && input.body.is_none()
            && input.tags.is_none()
        {
            problems.add("article", "give at least one field to change");
        }
        problems.finish()?;
        let slug = slug.to_owned();
        store
            .write(move |blog| {
                let id = owned_article(blog, &slug, viewer)?;
                let title = input.title.as_deref().map(|t| (t, rules::slugify(t)));
                let changes = ArticleChanges {
                    title: title.as_ref().map(|(t, s)| (*t, s.as_str())),
                    description: input.description.as_deref(),
                    body: input.body.as_deref(),
                    tags: tags.as_deref(),
                };
                Ok(blog.update_article(id, &changes, viewer)?)
            })
            .await
    }

    /// Deletes the article at `slug`, which must be `viewer`'s unless
    /// they are a `moderator` (an organization's admin).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`].
    pub async fn delete_article(
        &self,
        store: &Store,
        viewer: i64,
        moderator: bool,
        slug: &str,
    ) -> Result<(), Error> {
        let slug = slug.to_owned();
        store
            .write(move |blog| {
                let id = match blog.article_owner(&slug)? {
                    Some((id, _)) if moderator => id,
                    _ => owned_article(blog, &slug, viewer)?,
                };
                blog.delete_article(id)?;
                Ok(())
            })
            .await
    }

    /// Marks the article at `slug` as `viewer`'s favourite (or not).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn favorite(
        &self,
        store: &Store,
        viewer: i64,
        slug: &str,
        favorite: bool,
    ) -> Result<Article, Error> {
        let slug = slug.to_owned();
        store
            .write(move |blog| {
                let Some((id, _)) = blog.article_owner(&slug)? else {
                    return Err(Error::NotFound("article"));
                };
                blog.set_favorite(viewer, id, favorite)?;
                blog.article(&slug, Some(viewer))?
                    .ok_or(Error::NotFound("article"))
            })
            .await
    }

    /// One page of a list, as `viewer` sees it.
    ///
    /// # Errors
    /// Storage errors only.
    pub async fn list_articles(
        &self,
        store: &Store,
        query: ListQuery,
        viewer: Option<i64>,
    ) -> Result<ArticlePage, Error> {
        store
            .read(move |blog| blog.list_articles(&query.filter, query.page, viewer))
            .await
    }

    /// The tags in use.
    ///
    /// # Errors
    /// Storage errors only.
    pub async fn tags(&self, store: &Store) -> Result<Vec<String>, Error> {
        store.read(|blog| blog.tags()).await
    }
}

/// The id of the article at `slug` when it is `viewer`'s.
pub(crate) fn owned_article(
    blog: &mut dyn BlogStore,
    slug: &str,
    viewer: i64,
) -> Result<i64, Error> {
    match blog.article_owner(slug)? {
        None => Err(Error::NotFound("article")),
        Some((_, author)) if author != viewer => {
            Err(Error::Forbidden("only its author may change an article"))
        }
        Some((id, _)) => Ok(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<ListQuery, Error> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ListQuery::parse(&owned)
    }

    #[test]
    fn list_parameters() {
        let d = q(&[]).unwrap();
        assert_eq!(
            d.page,
            Page::Offset {
                limit: 20,
                offset: 0
            }
        );
        let p = q(&[("limit", "5"), ("offset", "10"), ("author", "Alice")]).unwrap();
        assert_eq!(
            p.page,
            Page::Offset {
                limit: 5,
                offset: 10
            }
        );
        assert_eq!(p.filter.author.as_deref(), Some("alice"));
        let c = q(&[("cursor", &rules::cursor(9)), ("limit", "3")]).unwrap();
        assert_eq!(
            c.page,
            Page::Before {
                limit: 3,
                before_id: 9
            }
        );
        for bad in [
            &[("limit", "0")][..],
            &[("limit", "101")],
            &[("limit", "x")],
            &[("offset", "-1")],
            &[("offset", "99999999999999999999")],
            &[("cursor", "nope")],
            &[("cursor", "YTE6OQ"), ("offset", "0")],
        ] {
            assert!(matches!(q(bad), Err(Error::Invalid(_))), "{bad:?}");
        }
    }
}
