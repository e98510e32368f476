//! Comments: flat (the RealWorld shape) or as a tree of replies, to any
//! depth. A reply names its parent (`parentId`); deleting a comment that
//! has replies keeps the thread, blanking the body and hiding the author.
//!
//! Trees are put together here without recursion ([`Thread`]), and the
//! HTTP layer writes them out the same way, so a reply chain thousands
//! deep costs no stack.

use agora_db::blog::{Comment, CommentRemoval};

use super::articles::{Keep, Render};
use super::{Blog, Error, Store, rules};

/// The comments of one article arranged as a tree: indexes into the list
/// they were made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// Top-level comments (and any whose parent is missing), in order.
    pub roots: Vec<usize>,
    /// The replies of each comment, in order.
    pub replies: Vec<Vec<usize>>,
}

impl Thread {
    /// Arranges `comments` (oldest first) as a tree.
    pub fn of(comments: &[Comment]) -> Thread {
        let index: std::collections::HashMap<i64, usize> = comments
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        let mut thread = Thread {
            roots: Vec::new(),
            replies: vec![Vec::new(); comments.len()],
        };
        for (i, c) in comments.iter().enumerate() {
            match c.parent_id.and_then(|p| index.get(&p)) {
                Some(&parent) => thread.replies[parent].push(i),
                None => thread.roots.push(i),
            }
        }
        thread
    }
}

impl Blog {
    /// Every comment of the article at `slug`, oldest first, tombstones
    /// included.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown article.
    pub async fn comments(
        &self,
        store: &Store,
        slug: &str,
        viewer: Option<i64>,
    ) -> Result<Vec<Comment>, Error> {
        let slug = slug.to_owned();
        store
            .read(move |blog| {
                let Some((id, _)) = blog.article_owner(&slug)? else {
                    return Ok(None);
                };
                blog.comments(id, viewer).map(Some)
            })
            .await?
            .ok_or(Error::NotFound("article"))
    }

    /// Adds `viewer`'s comment to the article at `slug`, as a reply to
    /// `parent` when given.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown article; [`Error::Invalid`] for
    /// a blank or long body or a parent not on this article.
    pub async fn add_comment(
        &self,
        store: &Store,
        viewer: i64,
        slug: &str,
        body: Option<String>,
        parent: Option<i64>,
        keep: Option<(Keep, Render<Comment>)>,
    ) -> Result<Comment, Error> {
        let body = match body {
            None => return Err(Error::invalid("body", "can't be blank")),
            Some(b) => {
                rules::text(&b, rules::MAX_COMMENT, rules::MAX_COMMENT)
                    .map_err(|m| Error::invalid("body", m))?;
                b
            }
        };
        let slug = slug.to_owned();
        store
            .write(move |blog| {
                let Some((article, _)) = blog.article_owner(&slug)? else {
                    return Err(Error::NotFound("article"));
                };
                if let Some(parent) = parent
                    && !blog.comment_exists(article, parent)?
                {
                    return Err(Error::invalid(
                        "parentId",
                        "is not a comment on this article",
                    ));
                }
                let comment = blog.create_comment(article, viewer, parent, &body)?;
                if let Some((keep, render)) = &keep {
                    keep.store(blog, render(&comment))?;
                }
                Ok(comment)
            })
            .await
    }

    /// Deletes comment `id` of the article at `slug`; it must be
    /// `viewer`'s unless they are a `moderator` (an organization's admin).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown article or comment (a tombstone
    /// counts as gone); [`Error::Forbidden`] for someone else's.
    pub async fn delete_comment(
        &self,
        store: &Store,
        viewer: i64,
        moderator: bool,
        slug: &str,
        id: i64,
    ) -> Result<CommentRemoval, Error> {
        let slug = slug.to_owned();
        store
            .write(move |blog| {
                let Some((article, _)) = blog.article_owner(&slug)? else {
                    return Err(Error::NotFound("article"));
                };
                match blog.comment_author(article, id)? {
                    None => Err(Error::NotFound("comment")),
                    Some(author) if author != viewer && !moderator => {
                        Err(Error::Forbidden("only its author may delete a comment"))
                    }
                    Some(_) => Ok(blog.delete_comment(id)?),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: i64, parent: Option<i64>) -> Comment {
        Comment {
            id,
            parent_id: parent,
            body: String::new(),
            created_at_ms: 0,
            updated_at_ms: 0,
            deleted: false,
            author: None,
        }
    }

    #[test]
    fn a_thread_keeps_order_and_nests_replies() {
        let list = [
            c(1, None),
            c(2, Some(1)),
            c(3, None),
            c(4, Some(2)),
            c(5, Some(1)),
            c(6, Some(99)),
        ];
        let t = Thread::of(&list);
        assert_eq!(t.roots, vec![0, 2, 5]);
        assert_eq!(t.replies[0], vec![1, 4]);
        assert_eq!(t.replies[1], vec![3]);
        assert!(t.replies[2].is_empty());
    }
}
