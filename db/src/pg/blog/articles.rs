//! Articles: slugs numbered on collision, tags, favourites, and lists
//! with filters and offset or keyset pages.

use std::collections::HashSet;

use postgres::Row;
use postgres::types::ToSql;

use super::PgBlog;
use crate::blog::{
    Article, ArticleChanges, ArticleFilter, ArticlePage, NUMBERED_SLUGS, NewArticle, Page, Profile,
    keeps_slug,
};
use crate::{Result, now_ms};

/// An article's columns and its author's as the viewer sees them; `$1`
/// is the organization, `$2` the viewer. Tag names come sorted by their
/// bytes (`COLLATE "C"`), as Rust sorts SQLite's.
const ARTICLE_SELECT: &str = "SELECT a.id, a.slug, a.title, a.description, a.created_at_ms, \
     a.updated_at_ms, a.favorites_count, u.id AS author_id, u.name, u.bio, u.image, \
     (SELECT array_agg(t.name ORDER BY t.name COLLATE \"C\") FROM blog_article_tags x \
        JOIN blog_tags t ON t.org_id = x.org_id AND t.id = x.tag_id \
        WHERE x.org_id = a.org_id AND x.article_id = a.id) AS tags, \
     EXISTS(SELECT 1 FROM blog_favorites f \
        WHERE f.org_id = a.org_id AND f.user_id = $2 AND f.article_id = a.id) AS favorited, \
     EXISTS(SELECT 1 FROM blog_follows fo \
        WHERE fo.org_id = a.org_id AND fo.follower_id = $2 AND fo.followee_id = u.id) \
        AS following";

const ARTICLE_FROM: &str = "FROM blog_articles a JOIN users u ON u.id = a.author_id";

/// Query parameters built as the query is.
type Params = Vec<Box<dyn ToSql + Sync>>;

fn refs(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| &**p).collect()
}

impl PgBlog<'_, '_> {
    pub(super) fn article(&mut self, slug: &str, viewer: Option<i64>) -> Result<Option<Article>> {
        self.tx
            .query_opt(
                &format!(
                    "{ARTICLE_SELECT}, a.body {ARTICLE_FROM} WHERE a.org_id = $1 AND a.slug = $3"
                ),
                &[&self.org, &viewer, &slug],
            )?
            .map(|r| article_from_row(&r, true))
            .transpose()
    }

    /// Article `id` (which must exist) as `viewer` sees it.
    fn article_by_id(&mut self, id: i64, viewer: i64) -> Result<Article> {
        let row = self.tx.query_one(
            &format!("{ARTICLE_SELECT}, a.body {ARTICLE_FROM} WHERE a.org_id = $1 AND a.id = $3"),
            &[&self.org, &viewer, &id],
        )?;
        article_from_row(&row, true)
    }

    pub(super) fn article_owner(&mut self, slug: &str) -> Result<Option<(i64, i64)>> {
        self.tx
            .query_opt(
                "SELECT id, author_id FROM blog_articles WHERE org_id = $1 AND slug = $2",
                &[&self.org, &slug],
            )?
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
    }

    /// The slug of article `id`; an error when there is none.
    fn slug_of(&mut self, id: i64) -> Result<String> {
        Ok(self
            .tx
            .query_one(
                "SELECT slug FROM blog_articles WHERE org_id = $1 AND id = $2",
                &[&self.org, &id],
            )?
            .try_get(0)?)
    }

    /// `base`, or `base-2`, `base-3` … whichever no other article than
    /// `except` has (as SQLite's, asking about a batch of candidates at
    /// a time).
    fn free_slug(&mut self, base: &str, except: Option<i64>) -> Result<String> {
        let numbered: Vec<String> = (1..=NUMBERED_SLUGS)
            .map(|n| {
                if n == 1 {
                    base.to_owned()
                } else {
                    format!("{base}-{n}")
                }
            })
            .collect();
        if let Some(slug) = self.first_free(&numbered, except)? {
            return Ok(slug);
        }
        // Many articles share the title: number from the newest id on,
        // which is free unless someone titled theirs like that.
        let mut n: i64 = self
            .tx
            .query_one(
                "SELECT coalesce(max(id), 0) + 1 FROM blog_articles WHERE org_id = $1",
                &[&self.org],
            )?
            .try_get(0)?;
        let batch = i64::from(NUMBERED_SLUGS);
        loop {
            let candidates: Vec<String> = (n..n + batch).map(|n| format!("{base}-{n}")).collect();
            if let Some(slug) = self.first_free(&candidates, except)? {
                return Ok(slug);
            }
            n += batch;
        }
    }

    /// The first of `candidates` that no article but `except` has.
    fn first_free(&mut self, candidates: &[String], except: Option<i64>) -> Result<Option<String>> {
        let taken = self
            .tx
            .query(
                "SELECT slug FROM blog_articles \
                 WHERE org_id = $1 AND slug = ANY($2) AND id IS DISTINCT FROM $3",
                &[&self.org, &candidates, &except],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<HashSet<String>, _>>()?;
        Ok(candidates.iter().find(|c| !taken.contains(*c)).cloned())
    }

    pub(super) fn create_article(&mut self, new: &NewArticle<'_>) -> Result<Article> {
        let slug = self.free_slug(new.slug_base, None)?;
        let id: i64 = self
            .tx
            .query_one(
                "INSERT INTO blog_articles (org_id, slug, author_id, title, description, body, \
                 created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 RETURNING id",
                &[
                    &self.org,
                    &slug,
                    &new.author_id,
                    &new.title,
                    &new.description,
                    &new.body,
                    &now_ms(),
                ],
            )?
            .try_get(0)?;
        self.set_tags(id, new.tags)?;
        self.article_by_id(id, new.author_id)
    }

    fn set_tags(&mut self, article_id: i64, tags: &[String]) -> Result<()> {
        self.tx.execute(
            "DELETE FROM blog_article_tags WHERE org_id = $1 AND article_id = $2",
            &[&self.org, &article_id],
        )?;
        if tags.is_empty() {
            return Ok(());
        }
        self.tx.execute(
            "INSERT INTO blog_tags (org_id, name) SELECT DISTINCT $1::bigint, unnest($2::text[]) \
             ON CONFLICT (org_id, name) DO NOTHING",
            &[&self.org, &tags],
        )?;
        self.tx.execute(
            "INSERT INTO blog_article_tags (org_id, article_id, tag_id) \
             SELECT $1::bigint, $2::bigint, id FROM blog_tags WHERE org_id = $1 AND name = ANY($3) \
             ON CONFLICT DO NOTHING",
            &[&self.org, &article_id, &tags],
        )?;
        Ok(())
    }

    pub(super) fn update_article(
        &mut self,
        id: i64,
        changes: &ArticleChanges<'_>,
        viewer: i64,
    ) -> Result<Article> {
        let slug = match changes.title {
            Some((_, base)) => {
                let current = self.slug_of(id)?;
                // A title that gives the same slug keeps the article's
                // own (possibly numbered) slug.
                Some(if keeps_slug(&current, base) {
                    current
                } else {
                    self.free_slug(base, Some(id))?
                })
            }
            None => None,
        };
        // One statement; a field left out keeps its value.
        self.tx.execute(
            "UPDATE blog_articles SET title = coalesce($3::text, title), \
             slug = coalesce($4::text, slug), description = coalesce($5::text, description), \
             body = coalesce($6::text, body), updated_at_ms = $7 \
             WHERE org_id = $1 AND id = $2",
            &[
                &self.org,
                &id,
                &changes.title.map(|(title, _)| title),
                &slug,
                &changes.description,
                &changes.body,
                &now_ms(),
            ],
        )?;
        if let Some(tags) = changes.tags {
            self.set_tags(id, tags)?;
        }
        self.article_by_id(id, viewer)
    }

    pub(super) fn delete_article(&mut self, id: i64) -> Result<bool> {
        // The comments go in one statement, however deep their reply
        // chains: the parent_id foreign key (no action) is checked at its
        // end, when the whole chain is gone. Tags and favourites cascade.
        self.tx.execute(
            "DELETE FROM blog_comments WHERE org_id = $1 AND article_id = $2",
            &[&self.org, &id],
        )?;
        Ok(self.tx.execute(
            "DELETE FROM blog_articles WHERE org_id = $1 AND id = $2",
            &[&self.org, &id],
        )? > 0)
    }

    pub(super) fn set_favorite(
        &mut self,
        user: i64,
        article_id: i64,
        favorite: bool,
    ) -> Result<()> {
        let changed = if favorite {
            self.tx.execute(
                "INSERT INTO blog_favorites (org_id, user_id, article_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&self.org, &user, &article_id],
            )?
        } else {
            self.tx.execute(
                "DELETE FROM blog_favorites WHERE org_id = $1 AND user_id = $2 AND article_id = $3",
                &[&self.org, &user, &article_id],
            )?
        };
        if changed > 0 {
            let delta: i64 = if favorite { 1 } else { -1 };
            self.tx.execute(
                "UPDATE blog_articles SET favorites_count = favorites_count + $3 \
                 WHERE org_id = $1 AND id = $2",
                &[&self.org, &article_id, &delta],
            )?;
        }
        Ok(())
    }

    pub(super) fn list_articles(
        &mut self,
        filter: &ArticleFilter,
        page: Page,
        viewer: Option<i64>,
    ) -> Result<ArticlePage> {
        // $1 is the organization; the filters follow.
        let (count_where, count_args) = filter_sql(filter, None, 1);
        let mut args: Params = vec![Box::new(self.org)];
        args.extend(count_args);
        let total: i64 = self
            .tx
            .query_one(
                &format!("SELECT count(*) FROM blog_articles a WHERE a.org_id = $1{count_where}"),
                &refs(&args),
            )?
            .try_get(0)?;
        let limit = page.limit();
        let (before, offset) = match page {
            Page::Offset { offset, .. } => (None, offset),
            Page::Before { before_id, .. } => (Some(before_id), 0),
        };
        // $1 is the organization, $2 the viewer (ARTICLE_SELECT); the
        // filters follow.
        let (where_clause, filter_args) = filter_sql(filter, before, 2);
        let mut args: Params = vec![Box::new(self.org), Box::new(viewer)];
        args.extend(filter_args);
        // One more than asked for says whether a next page exists.
        args.push(Box::new(i64::from(limit) + 1));
        args.push(Box::new(i64::try_from(offset).unwrap_or(i64::MAX)));
        let sql = format!(
            "{ARTICLE_SELECT} {ARTICLE_FROM} WHERE a.org_id = $1{where_clause} \
             ORDER BY a.id DESC LIMIT ${} OFFSET ${}",
            args.len() - 1,
            args.len()
        );
        let mut articles = self
            .tx
            .query(&sql, &refs(&args))?
            .iter()
            .map(|r| article_from_row(r, false))
            .collect::<Result<Vec<_>>>()?;
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

    pub(super) fn article_count(&mut self) -> Result<i64> {
        Ok(self
            .tx
            .query_one(
                "SELECT count(*) FROM blog_articles WHERE org_id = $1",
                &[&self.org],
            )?
            .try_get(0)?)
    }

    pub(super) fn tags(&mut self) -> Result<Vec<String>> {
        self.tx
            .query(
                "SELECT t.name FROM blog_tags t \
                 JOIN blog_article_tags x ON x.org_id = t.org_id AND x.tag_id = t.id \
                 WHERE t.org_id = $1 GROUP BY t.id, t.name \
                 ORDER BY count(*) DESC, t.name COLLATE \"C\"",
                &[&self.org],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }
}

/// The conditions (each after ` AND `; none: empty) for `filter` and a
/// cursor, over `blog_articles a`, with their arguments numbered from
/// `${skip + 1}`; `$1` is the organization.
fn filter_sql(filter: &ArticleFilter, before: Option<i64>, skip: usize) -> (String, Params) {
    let mut args: Params = Vec::new();
    let mut clause = String::new();
    let mut arg = |v: Box<dyn ToSql + Sync>| {
        args.push(v);
        format!("${}", skip + args.len())
    };
    if let Some(tag) = &filter.tag {
        let p = arg(Box::new(tag.clone()));
        clause.push_str(&format!(
            " AND a.id IN (SELECT x.article_id FROM blog_article_tags x \
             JOIN blog_tags t ON t.org_id = x.org_id AND t.id = x.tag_id \
             WHERE t.org_id = $1 AND t.name = {p})"
        ));
    }
    if let Some(author) = &filter.author {
        let p = arg(Box::new(author.clone()));
        clause.push_str(&format!(
            " AND a.author_id = (SELECT id FROM users WHERE name = {p})"
        ));
    }
    if let Some(fan) = &filter.favorited_by {
        let p = arg(Box::new(fan.clone()));
        clause.push_str(&format!(
            " AND a.id IN (SELECT f.article_id FROM blog_favorites f \
             WHERE f.org_id = $1 AND f.user_id = (SELECT id FROM users WHERE name = {p}))"
        ));
    }
    if let Some(reader) = filter.feed_of {
        let p = arg(Box::new(reader));
        clause.push_str(&format!(
            " AND a.author_id IN (SELECT followee_id FROM blog_follows \
             WHERE org_id = $1 AND follower_id = {p})"
        ));
    }
    if let Some(before) = before {
        let p = arg(Box::new(before));
        clause.push_str(&format!(" AND a.id < {p}"));
    }
    (clause, args)
}

fn article_from_row(r: &Row, with_body: bool) -> Result<Article> {
    let tags: Option<Vec<String>> = r.try_get("tags")?;
    Ok(Article {
        id: r.try_get("id")?,
        slug: r.try_get("slug")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        body: if with_body {
            Some(r.try_get("body")?)
        } else {
            None
        },
        tags: tags.unwrap_or_default(),
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        favorited: r.try_get("favorited")?,
        favorites_count: r.try_get("favorites_count")?,
        author: Profile {
            id: r.try_get("author_id")?,
            name: r.try_get("name")?,
            bio: r.try_get("bio")?,
            image: r.try_get("image")?,
            following: r.try_get("following")?,
        },
    })
}
