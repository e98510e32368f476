//! The blog repository on a real SQLite file.

use super::*;
use crate::Db;

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("agora.db")).unwrap();
    (dir, db)
}

fn account(db: &Db, name: &str) -> Account {
    db.write(|c| Blog::new(c).create_account(name, &format!("{name}@example.com"), "hash"))
        .unwrap()
        .unwrap()
}

fn post(db: &Db, author: i64, base: &str, tags: &[&str]) -> Article {
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    db.write(|c| {
        Blog::new(c).create_article(&NewArticle {
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

fn list(db: &Db, filter: &ArticleFilter, page: Page, viewer: Option<i64>) -> ArticlePage {
    db.read(|c| Blog::new(c).list_articles(filter, page, viewer))
        .unwrap()
}

const FIRST20: Page = Page::Offset {
    limit: 20,
    offset: 0,
};

#[test]
fn accounts_say_which_field_is_taken_and_emails_ignore_case() {
    let (_dir, db) = db();
    let alice = account(&db, "alice");
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    let again = db
        .write(|c| Blog::new(c).create_account("alice", "other@example.com", "h"))
        .unwrap();
    assert_eq!(again, Err(Taken::Name));
    let again = db
        .write(|c| Blog::new(c).create_account("bob", "ALICE@example.com", "h"))
        .unwrap();
    assert_eq!(again, Err(Taken::Email));
    let found = db
        .read(|c| Blog::new(c).account_by_email("Alice@Example.COM"))
        .unwrap();
    assert_eq!(found.map(|a| a.id), Some(alice.id));

    let bob = account(&db, "bob");
    let clash = AccountChanges {
        email: Some("alice@example.com".into()),
        ..AccountChanges::default()
    };
    assert_eq!(
        db.write(|c| Blog::new(c).update_account(bob.id, &clash))
            .unwrap(),
        Err(Taken::Email)
    );
    let changes = AccountChanges {
        bio: Some(Some("hi".into())),
        image: Some(Some("http://x/y.png".into())),
        ..AccountChanges::default()
    };
    let bob = db
        .write(|c| Blog::new(c).update_account(bob.id, &changes))
        .unwrap()
        .unwrap();
    assert_eq!(bob.bio.as_deref(), Some("hi"));
    let clear = AccountChanges {
        bio: Some(None),
        ..AccountChanges::default()
    };
    let bob = db
        .write(|c| Blog::new(c).update_account(bob.id, &clear))
        .unwrap()
        .unwrap();
    assert_eq!(bob.bio, None);
    assert_eq!(bob.image.as_deref(), Some("http://x/y.png"));
}

#[test]
fn protocol_accounts_have_no_email_until_they_set_one() {
    let (_dir, db) = db();
    let user = db
        .write(|c| crate::users::Users::new(c).create("carol", "h"))
        .unwrap();
    let acc = db.read(|c| Blog::new(c).account(user.id)).unwrap().unwrap();
    assert_eq!(acc.email, None);
    // Several accounts without an email do not clash.
    db.write(|c| crate::users::Users::new(c).create("dave", "h"))
        .unwrap();
}

#[test]
fn follows_are_idempotent_and_seen_by_the_viewer_only() {
    let (_dir, db) = db();
    let (a, b) = (account(&db, "alice"), account(&db, "bob"));
    for _ in 0..2 {
        db.write(|c| Blog::new(c).set_following(a.id, b.id, true))
            .unwrap();
    }
    let seen = |viewer| {
        db.read(|c| Blog::new(c).profile("bob", viewer))
            .unwrap()
            .unwrap()
            .following
    };
    assert!(seen(Some(a.id)));
    assert!(!seen(Some(b.id)));
    assert!(!seen(None));
    db.write(|c| Blog::new(c).set_following(a.id, b.id, false))
        .unwrap();
    assert!(!seen(Some(a.id)));
}

#[test]
fn slugs_are_numbered_on_collision_and_follow_renames() {
    let (_dir, db) = db();
    let a = account(&db, "alice");
    let first = post(&db, a.id, "hello", &[]);
    let second = post(&db, a.id, "hello", &[]);
    let third = post(&db, a.id, "hello", &[]);
    assert_eq!(
        (
            first.slug.as_str(),
            second.slug.as_str(),
            third.slug.as_str()
        ),
        ("hello", "hello-2", "hello-3")
    );
    // Renaming to a title with the same slug keeps the numbered one.
    let same = ArticleChanges {
        title: Some(("Hello!", "hello")),
        ..ArticleChanges::default()
    };
    let kept = db
        .write(|c| Blog::new(c).update_article(third.id, &same, a.id))
        .unwrap();
    assert_eq!(kept.slug, "hello-3");
    assert_eq!(kept.title, "Hello!");
    // A new title renames; the old slug is free again.
    let rename = ArticleChanges {
        title: Some(("Goodbye", "goodbye")),
        ..ArticleChanges::default()
    };
    let renamed = db
        .write(|c| Blog::new(c).update_article(first.id, &rename, a.id))
        .unwrap();
    assert_eq!(renamed.slug, "goodbye");
    assert!(
        db.read(|c| Blog::new(c).article("hello", None))
            .unwrap()
            .is_none()
    );
    assert_eq!(post(&db, a.id, "hello", &[]).slug, "hello");
}

#[test]
fn many_articles_with_one_title_still_get_unique_slugs() {
    let (_dir, db) = db();
    let a = account(&db, "alice");
    let mut slugs = std::collections::HashSet::new();
    for _ in 0..60 {
        assert!(slugs.insert(post(&db, a.id, "same", &[]).slug));
    }
}

#[test]
fn lists_filter_page_and_count_before_paging() {
    let (_dir, db) = db();
    let (a, b) = (account(&db, "alice"), account(&db, "bob"));
    let mut ids = Vec::new();
    for i in 0..5 {
        let tags: &[&str] = if i % 2 == 0 { &["rust", "db"] } else { &["go"] };
        ids.push(post(&db, if i < 3 { a.id } else { b.id }, &format!("p{i}"), tags).id);
    }
    let all = list(&db, &ArticleFilter::default(), FIRST20, None);
    assert_eq!(all.total, 5);
    let got: Vec<i64> = all.articles.iter().map(|x| x.id).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(got, newest_first);
    assert!(all.articles.iter().all(|x| x.body.is_none()));
    assert_eq!(all.articles[0].tags, vec!["db", "rust"]);
    assert_eq!(all.next_before, None);

    let rust = ArticleFilter {
        tag: Some("rust".into()),
        ..ArticleFilter::default()
    };
    let page = list(
        &db,
        &rust,
        Page::Offset {
            limit: 1,
            offset: 1,
        },
        None,
    );
    assert_eq!(page.total, 3, "the count is before paging");
    assert_eq!(page.articles.len(), 1);
    assert_eq!(page.articles[0].id, ids[2]);

    let by_bob = ArticleFilter {
        author: Some("bob".into()),
        ..ArticleFilter::default()
    };
    assert_eq!(list(&db, &by_bob, FIRST20, None).total, 2);
    let nobody = ArticleFilter {
        author: Some("nobody".into()),
        ..ArticleFilter::default()
    };
    assert_eq!(list(&db, &nobody, FIRST20, None).total, 0);

    // Past the end: empty, with the total.
    let past = list(
        &db,
        &ArticleFilter::default(),
        Page::Offset {
            limit: 20,
            offset: 99,
        },
        None,
    );
    assert!(past.articles.is_empty());
    assert_eq!(past.total, 5);
    let huge = Page::Offset {
        limit: 20,
        offset: u64::MAX,
    };
    assert!(
        list(&db, &ArticleFilter::default(), huge, None)
            .articles
            .is_empty()
    );

    // The feed: authors alice follows.
    db.write(|c| Blog::new(c).set_following(a.id, b.id, true))
        .unwrap();
    let feed = ArticleFilter {
        feed_of: Some(a.id),
        ..ArticleFilter::default()
    };
    let feed = list(&db, &feed, FIRST20, Some(a.id));
    assert_eq!(feed.total, 2);
    assert!(feed.articles.iter().all(|x| x.author.following));
}

#[test]
fn cursors_walk_every_article_once_even_when_new_ones_arrive() {
    let (_dir, db) = db();
    let a = account(&db, "alice");
    for i in 0..7 {
        post(&db, a.id, &format!("p{i}"), &[]);
    }
    let mut seen = Vec::new();
    let mut page = Page::Offset {
        limit: 3,
        offset: 0,
    };
    loop {
        let got = list(&db, &ArticleFilter::default(), page, None);
        assert_eq!(got.total, 7 + i64::from(!seen.is_empty()));
        seen.extend(got.articles.iter().map(|x| x.slug.clone()));
        if seen.len() == 3 {
            // A new article after the first page does not shift the rest.
            post(&db, a.id, "late", &[]);
        }
        match got.next_before {
            Some(before_id) => {
                page = Page::Before {
                    limit: 3,
                    before_id,
                }
            }
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("p{i}")).collect();
    assert_eq!(seen, expected);
}

#[test]
fn favorites_keep_the_count_and_filter() {
    let (_dir, db) = db();
    let (a, b) = (account(&db, "alice"), account(&db, "bob"));
    let art = post(&db, a.id, "fav", &[]);
    for _ in 0..2 {
        db.write(|c| Blog::new(c).set_favorite(b.id, art.id, true))
            .unwrap();
    }
    db.write(|c| Blog::new(c).set_favorite(a.id, art.id, true))
        .unwrap();
    let seen = db
        .read(|c| Blog::new(c).article("fav", Some(b.id)))
        .unwrap()
        .unwrap();
    assert_eq!((seen.favorites_count, seen.favorited), (2, true));
    let fans = ArticleFilter {
        favorited_by: Some("bob".into()),
        ..ArticleFilter::default()
    };
    assert_eq!(list(&db, &fans, FIRST20, None).total, 1);
    for _ in 0..2 {
        db.write(|c| Blog::new(c).set_favorite(b.id, art.id, false))
            .unwrap();
    }
    let seen = db
        .read(|c| Blog::new(c).article("fav", Some(b.id)))
        .unwrap()
        .unwrap();
    assert_eq!((seen.favorites_count, seen.favorited), (1, false));
}

#[test]
fn tags_are_listed_while_used() {
    let (_dir, db) = db();
    let a = account(&db, "alice");
    post(&db, a.id, "one", &["rust", "sql"]);
    let two = post(&db, a.id, "two", &["rust"]);
    assert_eq!(
        db.read(|c| Blog::new(c).tags()).unwrap(),
        vec!["rust", "sql"]
    );
    let retag = vec!["zig".to_owned()];
    let changes = ArticleChanges {
        tags: Some(&retag),
        ..ArticleChanges::default()
    };
    db.write(|c| Blog::new(c).update_article(two.id, &changes, a.id))
        .unwrap();
    let one_id = db
        .read(|c| Blog::new(c).article_owner("one"))
        .unwrap()
        .unwrap()
        .0;
    db.write(|c| Blog::new(c).delete_article(one_id)).unwrap();
    assert_eq!(db.read(|c| Blog::new(c).tags()).unwrap(), vec!["zig"]);
}

#[test]
fn deleting_a_comment_with_replies_keeps_the_thread() {
    let (_dir, db) = db();
    let (a, b) = (account(&db, "alice"), account(&db, "bob"));
    let art = post(&db, a.id, "t", &[]);
    let add = |author: i64, parent: Option<i64>, body: &str| {
        db.write(|c| Blog::new(c).create_comment(art.id, author, parent, body))
            .unwrap()
    };
    let root = add(a.id, None, "root");
    let reply = add(b.id, Some(root.id), "reply");
    let nested = add(a.id, Some(reply.id), "nested");
    assert_eq!(
        db.write(|c| Blog::new(c).delete_comment(root.id)).unwrap(),
        CommentRemoval::Tombstoned
    );
    let all = db.read(|c| Blog::new(c).comments(art.id, None)).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all[0].deleted && all[0].author.is_none() && all[0].body.is_empty());
    assert_eq!(
        db.read(|c| Blog::new(c).comment_author(art.id, root.id))
            .unwrap(),
        None,
        "a tombstone has no author to delete it again"
    );
    // Deleting the only reply chain removes the tombstone above it too.
    assert_eq!(
        db.write(|c| Blog::new(c).delete_comment(reply.id)).unwrap(),
        CommentRemoval::Tombstoned
    );
    assert_eq!(
        db.write(|c| Blog::new(c).delete_comment(nested.id))
            .unwrap(),
        CommentRemoval::Removed
    );
    assert!(
        db.read(|c| Blog::new(c).comments(art.id, None))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_deep_reply_chain_goes_with_its_article() {
    let (_dir, db) = db();
    let a = account(&db, "alice");
    let art = post(&db, a.id, "deep", &[]);
    db.write(|c| {
        let blog = Blog::new(c);
        let mut parent = None;
        for _ in 0..3000 {
            parent = Some(blog.create_comment(art.id, a.id, parent, "x")?.id);
        }
        Ok(())
    })
    .unwrap();
    assert!(db.write(|c| Blog::new(c).delete_article(art.id)).unwrap());
    let left: i64 = db
        .read(|c| Ok(c.query_row("SELECT count(*) FROM blog_comments", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn sql_looking_and_unicode_text_is_stored_verbatim() {
    let (_dir, db) = db();
    let a = account(&db, "alice");
    let evil = "Robert'); DROP TABLE blog_articles;-- ☃ 日本語 \u{0}";
    let tags = vec![evil.to_owned()];
    let art = db
        .write(|c| {
            Blog::new(c).create_article(&NewArticle {
                author_id: a.id,
                slug_base: "x",
                title: evil,
                description: evil,
                body: evil,
                tags: &tags,
            })
        })
        .unwrap();
    let back = db
        .read(|c| Blog::new(c).article(&art.slug, None))
        .unwrap()
        .unwrap();
    assert_eq!(back.title, evil);
    assert_eq!(back.body.as_deref(), Some(evil));
    assert_eq!(back.tags, vec![evil.to_owned()]);
    let by_tag = ArticleFilter {
        tag: Some(evil.to_owned()),
        ..ArticleFilter::default()
    };
    assert_eq!(list(&db, &by_tag, FIRST20, None).total, 1);
}

#[test]
fn idempotent_responses_are_kept_once_and_forgotten_later() {
    let (_dir, db) = db();
    let stored = StoredResponse {
        fingerprint: vec![1, 2, 3],
        status: 201,
        body: b"{}".to_vec(),
    };
    db.write(|c| Blog::new(c).store_response(7, "k", &stored))
        .unwrap();
    let again = db
        .write(|c| Blog::new(c).store_response(7, "k", &stored))
        .unwrap_err();
    assert!(matches!(again, Error::Conflict(_)), "{again:?}");
    // Another user's key of the same name is another key.
    db.write(|c| Blog::new(c).store_response(8, "k", &stored))
        .unwrap();
    assert_eq!(
        db.read(|c| Blog::new(c).stored_response(7, "k")).unwrap(),
        Some(stored)
    );
    assert_eq!(
        db.write(|c| Blog::new(c).forget_responses(now_ms() + 1))
            .unwrap(),
        2
    );
    assert_eq!(
        db.read(|c| Blog::new(c).stored_response(7, "k")).unwrap(),
        None
    );
}
