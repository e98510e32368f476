//! Threaded comments with tombstones, the responses kept for
//! Idempotency-Key retries, and clearing a whole blog.

use postgres::Row;

use super::PgBlog;
use crate::blog::{Comment, CommentRemoval, Profile, StoredResponse};
use crate::{Error, Result, now_ms};

/// A comment's columns and its author's as the viewer sees them; the
/// query binds the viewer as `$3`.
const COMMENT_SELECT: &str = "SELECT c.id, c.parent_id, c.body, c.created_at_ms, \
     c.updated_at_ms, c.deleted, u.id, u.name, u.bio, u.image, \
     EXISTS(SELECT 1 FROM blog_follows f \
       WHERE f.org_id = c.org_id AND f.follower_id = $3 AND f.followee_id = u.id) \
     FROM blog_comments c LEFT JOIN users u ON u.id = c.author_id";

fn comment_from_row(r: &Row) -> Result<Comment> {
    let deleted: bool = r.try_get(5)?;
    let author_id: Option<i64> = r.try_get(6)?;
    let author = match author_id {
        Some(id) if !deleted => Some(Profile {
            id,
            name: r.try_get(7)?,
            bio: r.try_get(8)?,
            image: r.try_get(9)?,
            following: r.try_get(10)?,
        }),
        _ => None,
    };
    Ok(Comment {
        id: r.try_get(0)?,
        parent_id: r.try_get(1)?,
        body: r.try_get(2)?,
        created_at_ms: r.try_get(3)?,
        updated_at_ms: r.try_get(4)?,
        deleted,
        author,
    })
}

impl PgBlog<'_, '_> {
    pub(super) fn comments(
        &mut self,
        article_id: i64,
        viewer: Option<i64>,
    ) -> Result<Vec<Comment>> {
        self.tx
            .query(
                &format!(
                    "{COMMENT_SELECT} WHERE c.org_id = $1 AND c.article_id = $2 ORDER BY c.id"
                ),
                &[&self.org, &article_id, &viewer],
            )?
            .iter()
            .map(comment_from_row)
            .collect()
    }

    pub(super) fn comment(
        &mut self,
        article_id: i64,
        id: i64,
        viewer: Option<i64>,
    ) -> Result<Option<Comment>> {
        self.tx
            .query_opt(
                &format!(
                    "{COMMENT_SELECT} WHERE c.org_id = $1 AND c.article_id = $2 AND c.id = $4"
                ),
                &[&self.org, &article_id, &viewer, &id],
            )?
            .as_ref()
            .map(comment_from_row)
            .transpose()
    }

    pub(super) fn comment_author(&mut self, article_id: i64, id: i64) -> Result<Option<i64>> {
        Ok(self
            .tx
            .query_opt(
                "SELECT author_id FROM blog_comments \
                 WHERE org_id = $1 AND article_id = $2 AND id = $3 AND NOT deleted",
                &[&self.org, &article_id, &id],
            )?
            .map(|r| r.try_get::<_, Option<i64>>(0))
            .transpose()?
            .flatten())
    }

    pub(super) fn create_comment(
        &mut self,
        article_id: i64,
        author_id: i64,
        parent_id: Option<i64>,
        body: &str,
    ) -> Result<Comment> {
        let id: i64 = self
            .tx
            .query_one(
                "INSERT INTO blog_comments (org_id, article_id, parent_id, author_id, body, \
                 created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                &[
                    &self.org,
                    &article_id,
                    &parent_id,
                    &author_id,
                    &body,
                    &now_ms(),
                ],
            )?
            .try_get(0)?;
        let row = self.tx.query_one(
            &format!("{COMMENT_SELECT} WHERE c.org_id = $1 AND c.article_id = $2 AND c.id = $4"),
            &[&self.org, &article_id, &Some(author_id), &id],
        )?;
        comment_from_row(&row)
    }

    pub(super) fn comment_exists(&mut self, article_id: i64, id: i64) -> Result<bool> {
        Ok(self
            .tx
            .query_one(
                "SELECT EXISTS(SELECT 1 FROM blog_comments \
                 WHERE org_id = $1 AND article_id = $2 AND id = $3)",
                &[&self.org, &article_id, &id],
            )?
            .try_get(0)?)
    }

    fn has_replies(&mut self, id: i64) -> Result<bool> {
        Ok(self
            .tx
            .query_one(
                "SELECT EXISTS(SELECT 1 FROM blog_comments WHERE org_id = $1 AND parent_id = $2)",
                &[&self.org, &id],
            )?
            .try_get(0)?)
    }

    /// Deletes comment `id`; returns its parent, `None` when it had none
    /// or was not there.
    fn remove_comment(&mut self, id: i64) -> Result<Option<i64>> {
        Ok(self
            .tx
            .query_opt(
                "DELETE FROM blog_comments WHERE org_id = $1 AND id = $2 RETURNING parent_id",
                &[&self.org, &id],
            )?
            .map(|r| r.try_get::<_, Option<i64>>(0))
            .transpose()?
            .flatten())
    }

    pub(super) fn delete_comment(&mut self, id: i64) -> Result<CommentRemoval> {
        if self.has_replies(id)? {
            self.tx.execute(
                "UPDATE blog_comments SET deleted = true, body = '', updated_at_ms = $3 \
                 WHERE org_id = $1 AND id = $2",
                &[&self.org, &id, &now_ms()],
            )?;
            return Ok(CommentRemoval::Tombstoned);
        }
        let mut parent = self.remove_comment(id)?;
        // Tombstones left with no replies have nothing left to show.
        while let Some(up) = parent {
            let tombstone: bool = self
                .tx
                .query_opt(
                    "SELECT deleted FROM blog_comments WHERE org_id = $1 AND id = $2",
                    &[&self.org, &up],
                )?
                .map(|r| r.try_get(0))
                .transpose()?
                .unwrap_or(false);
            if !tombstone || self.has_replies(up)? {
                break;
            }
            parent = self.remove_comment(up)?;
        }
        Ok(CommentRemoval::Removed)
    }

    pub(super) fn stored_response(
        &mut self,
        scope: i64,
        key: &str,
    ) -> Result<Option<StoredResponse>> {
        let Some(row) = self.tx.query_opt(
            "SELECT fingerprint, status, body FROM blog_idempotency \
             WHERE org_id = $1 AND scope = $2 AND key = $3",
            &[&self.org, &scope, &key],
        )?
        else {
            return Ok(None);
        };
        let status: i32 = row.try_get(1)?;
        Ok(Some(StoredResponse {
            fingerprint: row.try_get(0)?,
            status: u16::try_from(status).map_err(|_| {
                Error::Schema(format!(
                    "blog_idempotency holds status {status} for key {key:?}: not an HTTP status"
                ))
            })?,
            body: row.try_get(2)?,
        }))
    }

    pub(super) fn store_response(
        &mut self,
        scope: i64,
        key: &str,
        response: &StoredResponse,
    ) -> Result<()> {
        // ON CONFLICT rather than the unique violation: the caller reads
        // the response that won in this same transaction, which an error
        // would have aborted.
        let stored = self.tx.execute(
            "INSERT INTO blog_idempotency (org_id, scope, key, fingerprint, status, body, \
             created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &self.org,
                &scope,
                &key,
                &response.fingerprint,
                &i32::from(response.status),
                &response.body,
                &now_ms(),
            ],
        )?;
        if stored == 0 {
            return Err(Error::Conflict(format!("idempotency key {key:?}")));
        }
        Ok(())
    }

    pub(super) fn forget_responses(&mut self, before_ms: i64) -> Result<usize> {
        Ok(self.tx.execute(
            "DELETE FROM blog_idempotency WHERE org_id = $1 AND created_at_ms < $2",
            &[&self.org, &before_ms],
        )? as usize)
    }

    /// Every row of this organization's blog tables (the tenant
    /// transaction's policy confines the deletes to them in any case);
    /// the shared accounts stay.
    pub(super) fn clear(&mut self) -> Result<u64> {
        let mut delete = |table: &str| -> Result<u64> {
            Ok(self.tx.execute(
                &format!("DELETE FROM {table} WHERE org_id = $1"),
                &[&self.org],
            )?)
        };
        // Children first; the comments in one statement (see
        // delete_article).
        for table in ["blog_comments", "blog_favorites", "blog_article_tags"] {
            delete(table)?;
        }
        let articles = delete("blog_articles")?;
        for table in ["blog_tags", "blog_follows", "blog_idempotency"] {
            delete(table)?;
        }
        Ok(articles)
    }
}
