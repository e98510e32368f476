//! The blog repository's suite ([`super::BlogStore`]), run once per
//! backend: SQLite's `Blog` and PostgreSQL's `PgBlog` must agree. Each
//! test gets a fresh database and uses the main site's blog
//! ([`Storage::blog`]); organizations side by side are PostgreSQL's
//! own tests (`pg/blog/tests.rs`). Accounts, follows, comments, kept
//! responses and clearing are here, articles in `suite/articles.rs`.

use std::collections::HashSet;
use std::convert::Infallible;

use super::*;
use crate::{Access, Storage};

mod articles;

crate::on_both_backends!(
    accounts_say_which_field_is_taken_and_emails_ignore_case,
    account_changes_touch_only_the_fields_given,
    protocol_accounts_have_no_email_until_they_set_one,
    follows_are_idempotent_and_seen_by_the_viewer_only,
    comments_show_their_authors_as_the_viewer_sees_them,
    deleting_a_comment_with_replies_keeps_the_thread,
    a_deep_reply_chain_goes_with_its_article,
    idempotent_responses_are_kept_once_and_forgotten_later,
    clearing_empties_the_blog_but_keeps_the_accounts,
);

/// Runs `f` in one write transaction of the main site's blog, committed
/// when it returns `Ok` (rolled back on `Err`).
fn write<T>(db: &Storage, f: impl FnOnce(&mut dyn BlogStore) -> Result<T>) -> Result<T> {
    db.blog()
        .write(|b| f(b).map(Ok::<T, Infallible>))
        .map(|out| {
            let Ok(value) = out;
            value
        })
}

/// Runs `f` on a read snapshot of the main site's blog.
fn read<T>(db: &Storage, f: impl FnOnce(&mut dyn BlogStore) -> Result<T>) -> T {
    db.blog().read(f).unwrap()
}

fn account(db: &Storage, name: &str) -> Account {
    write(db, |b| {
        b.create_account(name, &format!("{name}@example.com"), "hash")
    })
    .unwrap()
    .unwrap()
}

fn post(db: &Storage, author: i64, base: &str, tags: &[&str]) -> Article {
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    write(db, |b| {
        b.create_article(&NewArticle {
            author_id: author,
            slug_base: base,
            title: base,
            description: "d",
            body: "b",
            tags: &tags,
        })
    })
    .unwrap()
}

fn list(db: &Storage, filter: &ArticleFilter, page: Page, viewer: Option<i64>) -> ArticlePage {
    read(db, |b| b.list_articles(filter, page, viewer))
}

/// How many rows `table` holds (the main site's, on PostgreSQL).
fn rows(db: &Storage, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    match db {
        Storage::Sqlite(db) => db
            .read(|c| Ok(c.query_row(&sql, [], |r| r.get(0))?))
            .unwrap(),
        Storage::Postgres(pg) => pg
            .tenant(crate::pg::tenant::MAIN_SITE, |tx| {
                Ok(tx.query_one(&sql, &[])?.get(0))
            })
            .unwrap(),
    }
}

const FIRST20: Page = Page::Offset {
    limit: 20,
    offset: 0,
};

fn accounts_say_which_field_is_taken_and_emails_ignore_case(db: &Storage) {
    let alice = account(db, "alice");
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert_eq!(alice.password_hash, "hash");
    let again = write(db, |b| b.create_account("alice", "other@example.com", "h")).unwrap();
    assert_eq!(again, Err(Taken::Name));
    let again = write(db, |b| b.create_account("bob", "ALICE@example.com", "h")).unwrap();
    assert_eq!(again, Err(Taken::Email));
    let found = read(db, |b| b.account_by_email("Alice@Example.COM"));
    assert_eq!(found.map(|a| a.id), Some(alice.id));
    assert_eq!(read(db, |b| b.user_id("alice")), Some(alice.id));
    assert_eq!(read(db, |b| b.user_id("nobody")), None);
    assert_eq!(read(db, |b| b.account(alice.id)), Some(alice.clone()));

    let bob = account(db, "bob");
    let clash = AccountChanges {
        email: Some("ALICE@example.com".into()),
        ..AccountChanges::default()
    };
    assert_eq!(
        write(db, |b| b.update_account(bob.id, &clash)).unwrap(),
        Err(Taken::Email)
    );
    // One's own email in another case is not someone else's.
    let own = AccountChanges {
        email: Some("BOB@example.com".into()),
        ..AccountChanges::default()
    };
    let bob = write(db, |b| b.update_account(bob.id, &own))
        .unwrap()
        .unwrap();
    assert_eq!(bob.email.as_deref(), Some("BOB@example.com"));
    let changes = AccountChanges {
        bio: Some(Some("hi".into())),
        image: Some(Some("http://x/y.png".into())),
        ..AccountChanges::default()
    };
    let bob = write(db, |b| b.update_account(bob.id, &changes))
        .unwrap()
        .unwrap();
    assert_eq!(bob.bio.as_deref(), Some("hi"));
    let clear = AccountChanges {
        bio: Some(None),
        ..AccountChanges::default()
    };
    let bob = write(db, |b| b.update_account(bob.id, &clear))
        .unwrap()
        .unwrap();
    assert_eq!(bob.bio, None);
    assert_eq!(bob.image.as_deref(), Some("http://x/y.png"));
}

fn account_changes_touch_only_the_fields_given(db: &Storage) {
    let alice = account(db, "alice");
    let nothing = write(db, |b| {
        b.update_account(alice.id, &AccountChanges::default())
    })
    .unwrap()
    .unwrap();
    assert_eq!(nothing, alice);
    let password = AccountChanges {
        password_hash: Some("new-hash".into()),
        ..AccountChanges::default()
    };
    let changed = write(db, |b| b.update_account(alice.id, &password))
        .unwrap()
        .unwrap();
    assert_eq!(
        changed,
        Account {
            password_hash: "new-hash".into(),
            ..alice.clone()
        }
    );
    assert_eq!(read(db, |b| b.account(alice.id)), Some(changed));
    // An account that does not exist is an error, not a refusal.
    assert!(write(db, |b| b.update_account(alice.id + 100, &password)).is_err());
    let profile = read(db, |b| b.profile("alice", None)).unwrap();
    assert_eq!(
        (
            profile.id,
            profile.name.as_str(),
            profile.bio,
            profile.image
        ),
        (alice.id, "alice", None, None)
    );
    assert_eq!(read(db, |b| b.profile("nobody", None)), None);
}

fn protocol_accounts_have_no_email_until_they_set_one(db: &Storage) {
    let user = db.users(Access::Write, |u| u.create("carol", "h")).unwrap();
    let acc = read(db, |b| b.account(user.id)).unwrap();
    assert_eq!(acc.email, None);
    // Several accounts without an email do not clash.
    db.users(Access::Write, |u| u.create("dave", "h")).unwrap();
    // Nor does a sign-up with an email.
    account(db, "erin");
}

fn follows_are_idempotent_and_seen_by_the_viewer_only(db: &Storage) {
    let (a, b) = (account(db, "alice"), account(db, "bob"));
    for _ in 0..2 {
        write(db, |blog| blog.set_following(a.id, b.id, true)).unwrap();
    }
    let seen = |viewer| {
        read(db, |blog| blog.profile("bob", viewer))
            .unwrap()
            .following
    };
    assert!(seen(Some(a.id)));
    assert!(!seen(Some(b.id)));
    assert!(!seen(None));
    for _ in 0..2 {
        write(db, |blog| blog.set_following(a.id, b.id, false)).unwrap();
    }
    assert!(!seen(Some(a.id)));
}

fn comments_show_their_authors_as_the_viewer_sees_them(db: &Storage) {
    let (a, b) = (account(db, "alice"), account(db, "bob"));
    let art = post(db, a.id, "t", &[]);
    write(db, |blog| blog.set_following(a.id, b.id, true)).unwrap();
    let made = write(db, |blog| blog.create_comment(art.id, b.id, None, "hi")).unwrap();
    assert_eq!((made.body.as_str(), made.parent_id), ("hi", None));
    assert!(!made.deleted);
    let author = made.author.clone().unwrap();
    assert_eq!(
        (author.id, author.following),
        (b.id, false),
        "bob is the viewer"
    );
    let seen = read(db, |blog| blog.comment(art.id, made.id, Some(a.id))).unwrap();
    assert!(seen.author.unwrap().following);
    assert_eq!(
        read(db, |blog| blog.comment(art.id + 1, made.id, None)),
        None
    );
    assert_eq!(
        read(db, |blog| blog.comment_author(art.id, made.id)),
        Some(b.id)
    );
    assert!(read(db, |blog| blog.comment_exists(art.id, made.id)));
    assert!(!read(db, |blog| blog.comment_exists(art.id, made.id + 1)));
    let reply = write(db, |blog| {
        blog.create_comment(art.id, a.id, Some(made.id), "hello")
    })
    .unwrap();
    assert_eq!(reply.parent_id, Some(made.id));
    let all = read(db, |blog| blog.comments(art.id, None));
    assert_eq!(
        all.iter().map(|c| c.id).collect::<Vec<_>>(),
        [made.id, reply.id]
    );
    assert!(all.iter().all(|c| !c.author.as_ref().unwrap().following));
}

fn deleting_a_comment_with_replies_keeps_the_thread(db: &Storage) {
    let (a, b) = (account(db, "alice"), account(db, "bob"));
    let art = post(db, a.id, "t", &[]);
    let add = |author: i64, parent: Option<i64>, body: &str| {
        write(db, |blog| blog.create_comment(art.id, author, parent, body)).unwrap()
    };
    let root = add(a.id, None, "root");
    let reply = add(b.id, Some(root.id), "reply");
    let nested = add(a.id, Some(reply.id), "nested");
    assert_eq!(
        write(db, |blog| blog.delete_comment(root.id)).unwrap(),
        CommentRemoval::Tombstoned
    );
    let all = read(db, |blog| blog.comments(art.id, None));
    assert_eq!(all.len(), 3);
    assert!(all[0].deleted && all[0].author.is_none() && all[0].body.is_empty());
    assert_eq!(
        read(db, |blog| blog.comment_author(art.id, root.id)),
        None,
        "a tombstone has no author to delete it again"
    );
    assert!(
        read(db, |blog| blog.comment_exists(art.id, root.id)),
        "a tombstone may still be replied to"
    );
    // Deleting the only reply chain removes the tombstone above it too.
    assert_eq!(
        write(db, |blog| blog.delete_comment(reply.id)).unwrap(),
        CommentRemoval::Tombstoned
    );
    assert_eq!(
        write(db, |blog| blog.delete_comment(nested.id)).unwrap(),
        CommentRemoval::Removed
    );
    assert!(read(db, |blog| blog.comments(art.id, None)).is_empty());
    // A live comment above a removed reply stays.
    let root = add(a.id, None, "root");
    let reply = add(b.id, Some(root.id), "reply");
    assert_eq!(
        write(db, |blog| blog.delete_comment(reply.id)).unwrap(),
        CommentRemoval::Removed
    );
    let left = read(db, |blog| blog.comments(art.id, None));
    assert_eq!(left.iter().map(|c| c.id).collect::<Vec<_>>(), [root.id]);
    assert_eq!(
        write(db, |blog| blog.delete_comment(reply.id)).unwrap(),
        CommentRemoval::Removed,
        "one already gone"
    );
}

fn a_deep_reply_chain_goes_with_its_article(db: &Storage) {
    let a = account(db, "alice");
    let art = post(db, a.id, "deep", &[]);
    let other = post(db, a.id, "other", &[]);
    write(db, |blog| {
        let mut parent = None;
        for _ in 0..3000 {
            parent = Some(blog.create_comment(art.id, a.id, parent, "x")?.id);
        }
        blog.create_comment(other.id, a.id, None, "stays")?;
        Ok(())
    })
    .unwrap();
    assert!(write(db, |blog| blog.delete_article(art.id)).unwrap());
    assert_eq!(rows(db, "blog_comments"), 1);
}

fn idempotent_responses_are_kept_once_and_forgotten_later(db: &Storage) {
    let stored = StoredResponse {
        fingerprint: vec![1, 2, 3, 0, 255],
        status: 201,
        body: b"{}".to_vec(),
    };
    write(db, |b| b.store_response(7, "k", &stored)).unwrap();
    let again = write(db, |b| b.store_response(7, "k", &stored)).unwrap_err();
    assert!(matches!(again, Error::Conflict(_)), "{again:?}");
    // The one that lost reads the winner's in its own transaction, as
    // the daemon's Keep::store does.
    let other = StoredResponse {
        status: 200,
        ..stored.clone()
    };
    let winner = write(db, |b| match b.store_response(7, "k", &other) {
        Err(Error::Conflict(_)) => b.stored_response(7, "k"),
        unexpected => panic!("{unexpected:?}"),
    })
    .unwrap();
    assert_eq!(winner, Some(stored.clone()));
    // Another user's key of the same name is another key.
    write(db, |b| b.store_response(8, "k", &stored)).unwrap();
    assert_eq!(read(db, |b| b.stored_response(7, "k")), Some(stored));
    assert_eq!(read(db, |b| b.stored_response(7, "other")), None);
    assert_eq!(
        write(db, |b| b.forget_responses(now_ms() - 60_000)).unwrap(),
        0
    );
    assert_eq!(write(db, |b| b.forget_responses(now_ms() + 1)).unwrap(), 2);
    assert_eq!(read(db, |b| b.stored_response(7, "k")), None);
}

fn clearing_empties_the_blog_but_keeps_the_accounts(db: &Storage) {
    let (a, b) = (account(db, "alice"), account(db, "bob"));
    let one = post(db, a.id, "one", &["rust"]);
    post(db, b.id, "two", &["go"]);
    write(db, |blog| {
        blog.set_following(a.id, b.id, true)?;
        blog.set_favorite(b.id, one.id, true)?;
        let root = blog.create_comment(one.id, b.id, None, "root")?;
        let reply = blog.create_comment(one.id, a.id, Some(root.id), "reply")?;
        blog.create_comment(one.id, b.id, Some(reply.id), "nested")?;
        blog.store_response(
            a.id,
            "k",
            &StoredResponse {
                fingerprint: vec![1],
                status: 201,
                body: vec![],
            },
        )
    })
    .unwrap();
    assert_eq!(write(db, |blog| blog.clear()).unwrap(), 2);
    for table in [
        "blog_articles",
        "blog_tags",
        "blog_article_tags",
        "blog_favorites",
        "blog_comments",
        "blog_follows",
        "blog_idempotency",
    ] {
        assert_eq!(rows(db, table), 0, "{table}");
    }
    assert_eq!(read(db, |blog| blog.account(a.id)), Some(a.clone()));
    assert!(
        !read(db, |blog| blog.profile("bob", Some(a.id)))
            .unwrap()
            .following
    );
    assert_eq!(write(db, |blog| blog.clear()).unwrap(), 0);
    // The blog works as new.
    assert_eq!(post(db, a.id, "one", &["rust"]).slug, "one");
    assert_eq!(read(db, |blog| blog.tags()), vec!["rust"]);
}
