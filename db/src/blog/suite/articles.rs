//! The suite's articles: slugs, lists and pages, favourites, tags, and
//! text kept verbatim (on both backends, as the rest of the suite).

use super::*;

crate::on_both_backends!(
    slugs_are_numbered_on_collision_and_follow_renames,
    many_articles_with_one_title_still_get_unique_slugs,
    lists_filter_page_and_count_before_paging,
    cursors_walk_every_article_once_even_when_new_ones_arrive,
    favorites_keep_the_count_and_filter,
    tags_are_listed_while_used,
    tags_are_sorted_by_their_bytes,
    sql_looking_and_unicode_text_is_stored_verbatim,
);

fn slugs_are_numbered_on_collision_and_follow_renames(db: &Storage) {
    let a = account(db, "alice");
    let first = post(db, a.id, "hello", &[]);
    let second = post(db, a.id, "hello", &[]);
    let third = post(db, a.id, "hello", &[]);
    assert_eq!(
        (
            first.slug.as_str(),
            second.slug.as_str(),
            third.slug.as_str()
        ),
        ("hello", "hello-2", "hello-3")
    );
    assert_eq!(
        read(db, |b| b.article_owner("hello-2")),
        Some((second.id, a.id))
    );
    assert_eq!(read(db, |b| b.article_owner("hello-4")), None);
    // Renaming to a title with the same slug keeps the numbered one.
    let same = ArticleChanges {
        title: Some(("Hello!", "hello")),
        ..ArticleChanges::default()
    };
    let kept = write(db, |b| b.update_article(third.id, &same, a.id)).unwrap();
    assert_eq!(kept.slug, "hello-3");
    assert_eq!(kept.title, "Hello!");
    assert_eq!(
        (kept.description.as_str(), kept.body.as_deref()),
        ("d", Some("b"))
    );
    // A new title renames; the old slug is free again.
    let rename = ArticleChanges {
        title: Some(("Goodbye", "goodbye")),
        body: Some("new body"),
        ..ArticleChanges::default()
    };
    let renamed = write(db, |b| b.update_article(first.id, &rename, a.id)).unwrap();
    assert_eq!(renamed.slug, "goodbye");
    assert_eq!(renamed.body.as_deref(), Some("new body"));
    assert!(renamed.updated_at_ms >= first.updated_at_ms);
    assert!(read(db, |b| b.article("hello", None)).is_none());
    assert_eq!(post(db, a.id, "hello", &[]).slug, "hello");
    // Renamed to a taken slug: numbered, skipping its own.
    let onto = ArticleChanges {
        title: Some(("Hello", "hello")),
        ..ArticleChanges::default()
    };
    let moved = write(db, |b| b.update_article(first.id, &onto, a.id)).unwrap();
    assert_eq!(moved.slug, "hello-4");
    // An article that does not exist is an error.
    assert!(write(db, |b| b.update_article(first.id + 100, &onto, a.id)).is_err());
}

fn many_articles_with_one_title_still_get_unique_slugs(db: &Storage) {
    let a = account(db, "alice");
    let mut slugs = HashSet::new();
    for _ in 0..60 {
        assert!(slugs.insert(post(db, a.id, "same", &[]).slug));
    }
    assert!(slugs.contains("same-50"));
    assert_eq!(read(db, |b| b.article_count()), 60);
}

fn lists_filter_page_and_count_before_paging(db: &Storage) {
    let (a, b) = (account(db, "alice"), account(db, "bob"));
    let mut ids = Vec::new();
    for i in 0..5 {
        let tags: &[&str] = if i % 2 == 0 { &["rust", "db"] } else { &["go"] };
        ids.push(post(db, if i < 3 { a.id } else { b.id }, &format!("p{i}"), tags).id);
    }
    let all = list(db, &ArticleFilter::default(), FIRST20, None);
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
        db,
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
    assert_eq!(page.next_before, Some(ids[2]));

    let by_bob = ArticleFilter {
        author: Some("bob".into()),
        ..ArticleFilter::default()
    };
    assert_eq!(list(db, &by_bob, FIRST20, None).total, 2);
    let nobody = ArticleFilter {
        author: Some("nobody".into()),
        ..ArticleFilter::default()
    };
    assert_eq!(list(db, &nobody, FIRST20, None).total, 0);
    // Every filter given must hold.
    let bobs_rust = ArticleFilter {
        tag: Some("rust".into()),
        author: Some("bob".into()),
        ..ArticleFilter::default()
    };
    let both = list(db, &bobs_rust, FIRST20, None);
    assert_eq!(both.total, 1);
    assert_eq!(both.articles[0].id, ids[4]);

    // Past the end: empty, with the total.
    let past = list(
        db,
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
        list(db, &ArticleFilter::default(), huge, None)
            .articles
            .is_empty()
    );

    // The feed: authors alice follows.
    write(db, |blog| blog.set_following(a.id, b.id, true)).unwrap();
    let feed = ArticleFilter {
        feed_of: Some(a.id),
        ..ArticleFilter::default()
    };
    let feed = list(db, &feed, FIRST20, Some(a.id));
    assert_eq!(feed.total, 2);
    assert!(feed.articles.iter().all(|x| x.author.following));
    let nobodys_feed = ArticleFilter {
        feed_of: Some(b.id),
        ..ArticleFilter::default()
    };
    assert_eq!(list(db, &nobodys_feed, FIRST20, Some(b.id)).total, 0);
}

fn cursors_walk_every_article_once_even_when_new_ones_arrive(db: &Storage) {
    let a = account(db, "alice");
    for i in 0..7 {
        post(db, a.id, &format!("p{i}"), &["t"]);
    }
    for filter in [
        ArticleFilter::default(),
        ArticleFilter {
            tag: Some("t".into()),
            ..ArticleFilter::default()
        },
    ] {
        let late = rows(db, "blog_articles") - 7;
        let mut seen = Vec::new();
        let mut page = Page::Offset {
            limit: 3,
            offset: 0,
        };
        loop {
            let got = list(db, &filter, page, None);
            let arrived = i64::from(!seen.is_empty());
            assert_eq!(got.total, 7 + late + arrived);
            seen.extend(got.articles.iter().map(|x| x.slug.clone()));
            if seen.len() == 3 {
                // A new article after the first page does not shift the rest.
                post(db, a.id, "late", &["t"]);
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
        if late == 0 {
            assert_eq!(seen, expected);
        } else {
            // The second walk starts with the first's late article.
            assert_eq!(seen[1..], expected[..]);
        }
    }
}

fn favorites_keep_the_count_and_filter(db: &Storage) {
    let (a, b) = (account(db, "alice"), account(db, "bob"));
    let art = post(db, a.id, "fav", &[]);
    for _ in 0..2 {
        write(db, |blog| blog.set_favorite(b.id, art.id, true)).unwrap();
    }
    write(db, |blog| blog.set_favorite(a.id, art.id, true)).unwrap();
    let seen = read(db, |blog| blog.article("fav", Some(b.id))).unwrap();
    assert_eq!((seen.favorites_count, seen.favorited), (2, true));
    let fans = ArticleFilter {
        favorited_by: Some("bob".into()),
        ..ArticleFilter::default()
    };
    assert_eq!(list(db, &fans, FIRST20, None).total, 1);
    let listed = list(db, &ArticleFilter::default(), FIRST20, Some(b.id));
    assert!(listed.articles[0].favorited);
    for _ in 0..2 {
        write(db, |blog| blog.set_favorite(b.id, art.id, false)).unwrap();
    }
    let seen = read(db, |blog| blog.article("fav", Some(b.id))).unwrap();
    assert_eq!((seen.favorites_count, seen.favorited), (1, false));
    assert_eq!(list(db, &fans, FIRST20, None).total, 0);
}

fn tags_are_listed_while_used(db: &Storage) {
    let a = account(db, "alice");
    post(db, a.id, "one", &["rust", "sql"]);
    let two = post(db, a.id, "two", &["rust"]);
    assert_eq!(read(db, |b| b.tags()), vec!["rust", "sql"]);
    let retag = vec!["zig".to_owned()];
    let changes = ArticleChanges {
        tags: Some(&retag),
        ..ArticleChanges::default()
    };
    let two = write(db, |b| b.update_article(two.id, &changes, a.id)).unwrap();
    assert_eq!(two.tags, vec!["zig"]);
    let one_id = read(db, |b| b.article_owner("one")).unwrap().0;
    assert!(write(db, |b| b.delete_article(one_id)).unwrap());
    assert!(!write(db, |b| b.delete_article(one_id)).unwrap());
    assert_eq!(read(db, |b| b.tags()), vec!["zig"]);
    assert_eq!(read(db, |b| b.article_count()), 1);
}

fn tags_are_sorted_by_their_bytes(db: &Storage) {
    let a = account(db, "alice");
    // Not the order of a language's collation: upper case first.
    let art = post(db, a.id, "one", &["b", "a", "B", "é", "Z"]);
    assert_eq!(art.tags, vec!["B", "Z", "a", "b", "é"]);
    post(db, a.id, "two", &["b"]);
    assert_eq!(read(db, |b| b.tags()), vec!["b", "B", "Z", "a", "é"]);
}

fn sql_looking_and_unicode_text_is_stored_verbatim(db: &Storage) {
    let a = account(db, "alice");
    let evil = "Robert'); DROP TABLE blog_articles;-- ☃ 日本語 $1 ?1 %s";
    let tags = vec![evil.to_owned()];
    let art = write(db, |b| {
        b.create_article(&NewArticle {
            author_id: a.id,
            slug_base: "x",
            title: evil,
            description: evil,
            body: evil,
            tags: &tags,
        })
    })
    .unwrap();
    let back = read(db, |b| b.article(&art.slug, None)).unwrap();
    assert_eq!(back.title, evil);
    assert_eq!(back.body.as_deref(), Some(evil));
    assert_eq!(back.tags, vec![evil.to_owned()]);
    let by_tag = ArticleFilter {
        tag: Some(evil.to_owned()),
        ..ArticleFilter::default()
    };
    assert_eq!(list(db, &by_tag, FIRST20, None).total, 1);
    let by_author = ArticleFilter {
        author: Some(evil.to_owned()),
        ..ArticleFilter::default()
    };
    assert_eq!(list(db, &by_author, FIRST20, None).total, 0);

    // A NUL character: SQLite keeps it; PostgreSQL's text cannot hold
    // one and refuses the write (an error, nothing stored).
    let nul = "before\u{0}after";
    let stored = write(db, |b| {
        b.create_article(&NewArticle {
            author_id: a.id,
            slug_base: "nul",
            title: nul,
            description: nul,
            body: nul,
            tags: &[],
        })
    });
    match db {
        Storage::Sqlite(_) => assert_eq!(stored.unwrap().body.as_deref(), Some(nul)),
        Storage::Postgres(_) => {
            assert!(matches!(stored, Err(Error::Postgres(_))), "{stored:?}");
            assert!(read(db, |b| b.article("nul", None)).is_none());
        }
    }
}
