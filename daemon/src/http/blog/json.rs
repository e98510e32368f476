//! The API's JSON: each thing in the RealWorld shape (camelCase, RFC 3339
//! timestamps with milliseconds), plus the extensions (`nextCursor` on
//! lists, `parentId`, `deleted` and, nested, `replies` on comments).
//! Unset bios and images are `""`: the spec has them as strings.

use agora_db::blog::{Account, Article, ArticlePage, Comment, Profile};
use serde::Serialize;

use crate::blog::comments::Thread;
use crate::blog::rules::{cursor, timestamp};

/// `{"user": …}` for the signed-in user.
#[derive(Serialize)]
pub struct UserOut<'a> {
    email: &'a str,
    token: &'a str,
    username: &'a str,
    bio: &'a str,
    image: &'a str,
}

/// The user object of `account` with `token`.
pub fn user<'a>(account: &'a Account, token: &'a str) -> serde_json::Value {
    serde_json::json!({ "user": UserOut {
        email: account.email.as_deref().unwrap_or(""),
        token,
        username: &account.name,
        bio: account.bio.as_deref().unwrap_or(""),
        image: account.image.as_deref().unwrap_or(""),
    }})
}

/// A profile as the spec has it.
#[derive(Serialize)]
pub struct ProfileOut<'a> {
    username: &'a str,
    bio: &'a str,
    image: &'a str,
    following: bool,
}

/// The profile object.
pub fn profile(p: &Profile) -> ProfileOut<'_> {
    ProfileOut {
        username: &p.name,
        bio: p.bio.as_deref().unwrap_or(""),
        image: p.image.as_deref().unwrap_or(""),
        following: p.following,
    }
}

/// An article; lists leave `body` out, as the spec says.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArticleOut<'a> {
    slug: &'a str,
    title: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    tag_list: &'a [String],
    created_at: String,
    updated_at: String,
    favorited: bool,
    favorites_count: i64,
    author: ProfileOut<'a>,
}

/// The article object.
pub fn article(a: &Article) -> ArticleOut<'_> {
    ArticleOut {
        slug: &a.slug,
        title: &a.title,
        description: &a.description,
        body: a.body.as_deref(),
        tag_list: &a.tags,
        created_at: timestamp(a.created_at_ms),
        updated_at: timestamp(a.updated_at_ms),
        favorited: a.favorited,
        favorites_count: a.favorites_count,
        author: profile(&a.author),
    }
}

/// `{"article": …}` as bytes (also what an Idempotency-Key keeps).
pub fn article_body(a: &Article) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "article": article(a) })).unwrap_or_default()
}

/// `{"articles": […], "articlesCount": n, "nextCursor": …}`.
pub fn article_list(page: &ArticlePage) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ListOut<'a> {
        articles: Vec<ArticleOut<'a>>,
        articles_count: i64,
        next_cursor: Option<String>,
    }
    serde_json::to_vec(&ListOut {
        articles: page.articles.iter().map(article).collect(),
        articles_count: page.total,
        next_cursor: page.next_before.map(cursor),
    })
    .unwrap_or_default()
}

/// A comment: the spec's fields plus `parentId` and `deleted`. A deleted
/// comment that still has replies (shown only in trees) has body
/// `"[deleted]"` and author `null`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentOut<'a> {
    id: i64,
    created_at: String,
    updated_at: String,
    body: &'a str,
    author: Option<ProfileOut<'a>>,
    parent_id: Option<i64>,
    deleted: bool,
}

/// The comment object.
pub fn comment(c: &Comment) -> CommentOut<'_> {
    CommentOut {
        id: c.id,
        created_at: timestamp(c.created_at_ms),
        updated_at: timestamp(c.updated_at_ms),
        body: if c.deleted { "[deleted]" } else { &c.body },
        author: c.author.as_ref().map(profile),
        parent_id: c.parent_id,
        deleted: c.deleted,
    }
}

/// `{"comment": …}` as bytes (also what an Idempotency-Key keeps).
pub fn comment_body(c: &Comment) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "comment": comment(c) })).unwrap_or_default()
}

/// `{"comments": […]}` flat, in the spec's shape: deleted comments are
/// left out (their replies keep their `parentId`).
pub fn comment_list(comments: &[Comment]) -> Vec<u8> {
    let list: Vec<CommentOut<'_>> = comments
        .iter()
        .filter(|c| !c.deleted)
        .map(comment)
        .collect();
    serde_json::to_vec(&serde_json::json!({ "comments": list })).unwrap_or_default()
}

/// `{"comments": […]}` as a tree: top-level comments, each with its
/// `replies`, to any depth. Written with an explicit stack, never
/// recursion, so depth costs heap, not stack.
pub fn comment_tree(comments: &[Comment]) -> Vec<u8> {
    let thread = Thread::of(comments);
    let mut out = Vec::with_capacity(64 + comments.len() * 256);
    out.extend_from_slice(b"{\"comments\":[");
    // Each frame: a list of comment indexes and how far it is written.
    let mut stack: Vec<(&[usize], usize)> = vec![(&thread.roots, 0)];
    while let Some((list, pos)) = stack.last_mut() {
        if let Some(&i) = list.get(*pos) {
            if *pos > 0 {
                out.push(b',');
            }
            *pos += 1;
            let object = serde_json::to_vec(&comment(&comments[i])).unwrap_or_default();
            // `{…}` without its closing brace, then the replies.
            out.extend_from_slice(&object[..object.len().saturating_sub(1)]);
            out.extend_from_slice(b",\"replies\":[");
            stack.push((&thread.replies[i], 0));
        } else {
            stack.pop();
            out.push(b']');
            if !stack.is_empty() {
                out.push(b'}');
            }
        }
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: i64, parent: Option<i64>, deleted: bool) -> Comment {
        Comment {
            id,
            parent_id: parent,
            body: format!("c{id}"),
            created_at_ms: 0,
            updated_at_ms: 0,
            deleted,
            author: None,
        }
    }

    #[test]
    fn trees_nest_and_flat_lists_leave_tombstones_out() {
        let list = [
            c(1, None, true),
            c(2, Some(1), false),
            c(3, None, false),
            c(4, Some(2), false),
        ];
        let tree: serde_json::Value = serde_json::from_slice(&comment_tree(&list)).unwrap();
        let roots = tree["comments"].as_array().unwrap();
        assert_eq!(roots.len(), 2);
        assert_eq!(roots[0]["body"], "[deleted]");
        assert_eq!(roots[0]["author"], serde_json::Value::Null);
        assert_eq!(roots[0]["replies"][0]["id"], 2);
        assert_eq!(roots[0]["replies"][0]["replies"][0]["id"], 4);
        assert_eq!(roots[1]["replies"], serde_json::json!([]));
        let flat: serde_json::Value = serde_json::from_slice(&comment_list(&list)).unwrap();
        let ids: Vec<i64> = flat["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![2, 3, 4]);
        let empty: serde_json::Value = serde_json::from_slice(&comment_tree(&[])).unwrap();
        assert_eq!(empty, serde_json::json!({ "comments": [] }));
    }

    #[test]
    fn a_very_deep_tree_is_written_without_recursion() {
        let depth = 100_000;
        let list: Vec<Comment> = (1..=depth)
            .map(|i| c(i, (i > 1).then(|| i - 1), false))
            .collect();
        let bytes = comment_tree(&list);
        let opens = bytes.windows(10).filter(|w| w == b"\"replies\":").count();
        assert_eq!(opens as i64, depth);
        assert!(bytes.ends_with(&b"]}".repeat(2)));
    }
}
