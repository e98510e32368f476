//! What only PostgreSQL has to show: organizations' blogs side by side in
//! the shared tables, and writers of several nodes at once (each thread
//! here writes over a connection of its own, as nodes do).

use std::convert::Infallible;
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;
use crate::BlogDb;
use crate::blog::BlogStore;
use crate::{Error, Pg};

fn pg() -> Pg {
    Pg::connect(&crate::pg::testing::database()).unwrap()
}

fn blog(pg: &Pg, org: i64) -> BlogDb {
    BlogDb::Postgres {
        pg: pg.clone(),
        org,
    }
}

fn write<T>(db: &BlogDb, f: impl FnOnce(&mut dyn BlogStore) -> Result<T>) -> Result<T> {
    db.write(|b| f(b).map(Ok::<T, Infallible>)).map(|out| {
        let Ok(value) = out;
        value
    })
}

fn read<T>(db: &BlogDb, f: impl FnOnce(&mut dyn BlogStore) -> Result<T>) -> T {
    db.read(f).unwrap()
}

fn account(db: &BlogDb, name: &str) -> Account {
    write(db, |b| {
        b.create_account(name, &format!("{name}@example.com"), "h")
    })
    .unwrap()
    .unwrap()
}

fn post(db: &BlogDb, author: i64, title: &str, tags: &[&str]) -> Article {
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    write(db, |b| {
        b.create_article(&NewArticle {
            author_id: author,
            slug_base: title,
            title,
            description: "d",
            body: "b",
            tags: &tags,
        })
    })
    .unwrap()
}

const FIRST20: Page = Page::Offset {
    limit: 20,
    offset: 0,
};

#[test]
fn each_organization_sees_only_its_own_blog() {
    let pg = pg();
    let (one, two) = (blog(&pg, 1), blog(&pg, 2));
    // Accounts are shared: signed up on one blog, known to both.
    let alice = account(&one, "alice");
    let bob = account(&two, "bob");
    assert_eq!(read(&two, |b| b.account(alice.id)), Some(alice.clone()));
    assert_eq!(
        write(&two, |b| b.create_account("alice", "x@example.com", "h")).unwrap(),
        Err(Taken::Name)
    );
    let ones = post(&one, alice.id, "hello", &["rust", "shared"]);
    post(&one, alice.id, "other", &[]);
    let twos = post(&two, bob.id, "hello", &["go", "shared"]);
    let twos_second = post(&two, bob.id, "hello", &[]);
    assert_eq!(
        (
            ones.slug.as_str(),
            twos.slug.as_str(),
            twos_second.slug.as_str()
        ),
        ("hello", "hello", "hello-2"),
        "slugs are numbered within an organization"
    );
    assert_eq!(
        read(&one, |b| b.article("hello", None)).unwrap().id,
        ones.id
    );
    assert_eq!(
        read(&two, |b| b.article("hello", None)).unwrap().id,
        twos.id
    );
    assert!(read(&one, |b| b.article("hello-2", None)).is_none());
    assert_eq!(read(&one, |b| b.article_count()), 2);
    assert_eq!(read(&two, |b| b.article_count()), 2);
    assert_eq!(read(&blog(&pg, 3), |b| b.article_count()), 0);
    assert_eq!(read(&one, |b| b.tags()), ["rust", "shared"]);
    assert_eq!(read(&two, |b| b.tags()), ["go", "shared"]);
    let shared = ArticleFilter {
        tag: Some("shared".into()),
        ..ArticleFilter::default()
    };
    let page = read(&one, |b| b.list_articles(&shared, FIRST20, None));
    assert_eq!((page.total, page.articles[0].id), (1, ones.id));
    let all = read(&two, |b| {
        b.list_articles(&ArticleFilter::default(), FIRST20, None)
    });
    assert_eq!(
        all.articles.iter().map(|a| a.id).collect::<Vec<_>>(),
        [twos_second.id, twos.id]
    );
    let by_alice = ArticleFilter {
        author: Some("alice".into()),
        ..ArticleFilter::default()
    };
    assert_eq!(
        read(&two, |b| b.list_articles(&by_alice, FIRST20, None)).total,
        0
    );

    // Favourites, follows and comments are the organization's too.
    write(&one, |b| {
        b.set_favorite(bob.id, ones.id, true)?;
        b.set_following(alice.id, bob.id, true)
    })
    .unwrap();
    assert_eq!(
        read(&one, |b| b.article("hello", Some(bob.id)))
            .unwrap()
            .favorites_count,
        1
    );
    let seen_in_two = read(&two, |b| b.article("hello", Some(bob.id))).unwrap();
    assert_eq!(
        (seen_in_two.favorites_count, seen_in_two.favorited),
        (0, false)
    );
    assert!(
        read(&one, |b| b.profile("bob", Some(alice.id)))
            .unwrap()
            .following
    );
    assert!(
        !read(&two, |b| b.profile("bob", Some(alice.id)))
            .unwrap()
            .following
    );
    let feed = ArticleFilter {
        feed_of: Some(alice.id),
        ..ArticleFilter::default()
    };
    assert_eq!(
        read(&two, |b| b.list_articles(&feed, FIRST20, None)).total,
        0
    );
    let comment = write(&one, |b| b.create_comment(ones.id, bob.id, None, "hi")).unwrap();
    assert!(read(&one, |b| b.comment_exists(ones.id, comment.id)));
    assert!(!read(&two, |b| b.comment_exists(ones.id, comment.id)));
    assert!(read(&two, |b| b.comments(ones.id, None)).is_empty());

    // Another organization's article cannot be reached by its id.
    assert!(!write(&two, |b| b.delete_article(ones.id)).unwrap());
    assert!(write(&two, |b| b.set_favorite(bob.id, ones.id, true)).is_err());
    assert!(
        write(&two, |b| b.update_article(
            ones.id,
            &ArticleChanges::default(),
            bob.id
        ))
        .is_err()
    );
    assert_eq!(
        write(&two, |b| b.delete_comment(comment.id)).unwrap(),
        CommentRemoval::Removed,
        "nothing there to delete"
    );
    assert_eq!(read(&one, |b| b.comments(ones.id, None)).len(), 1);

    // Idempotency keys are the organization's.
    let response = StoredResponse {
        fingerprint: vec![1],
        status: 201,
        body: vec![2],
    };
    write(&one, |b| b.store_response(alice.id, "k", &response)).unwrap();
    write(&two, |b| b.store_response(alice.id, "k", &response)).unwrap();
    assert_eq!(write(&two, |b| b.forget_responses(i64::MAX)).unwrap(), 1);
    assert_eq!(
        read(&one, |b| b.stored_response(alice.id, "k")),
        Some(response)
    );
}

#[test]
fn one_title_posted_at_once_by_two_nodes_gets_two_slugs() {
    let pg = pg();
    let db = blog(&pg, 1);
    let alice = account(&db, "alice");
    let start = Barrier::new(2);
    let inside = AtomicUsize::new(0);
    let slugs: Vec<String> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    write(&db, |b| {
                        // Give the other writer a moment to get this far
                        // too: without the organization's lock both
                        // would, and both would pick the same free slug.
                        inside.fetch_add(1, Ordering::SeqCst);
                        let until = Instant::now() + Duration::from_millis(500);
                        while inside.load(Ordering::SeqCst) < 2 && Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        b.create_article(&NewArticle {
                            author_id: alice.id,
                            slug_base: "hello",
                            title: "Hello",
                            description: "d",
                            body: "b",
                            tags: &[],
                        })
                    })
                })
            })
            .collect();
        writers
            .into_iter()
            .map(|w| w.join().unwrap().unwrap().slug)
            .collect()
    });
    let mut sorted = slugs.clone();
    sorted.sort();
    assert_eq!(sorted, ["hello", "hello-2"], "{slugs:?}");
}

#[test]
fn the_write_lock_is_per_organization() {
    let pg = pg();
    let try_lock = |org: i64| {
        pg.tenant(org, |tx| {
            tx.batch_execute("SET LOCAL lock_timeout = '200ms'")?;
            lock_writes(tx, org)
        })
    };
    let (entered, holding) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let pg_ref = &pg;
        let holder = s.spawn(move || {
            write(&blog(pg_ref, 1), |_| {
                entered.send(()).unwrap();
                Ok(released.recv_timeout(Duration::from_secs(10)).is_ok())
            })
            .unwrap()
        });
        holding.recv().unwrap();
        // Organization 1's writes wait for the holder; 2's do not.
        let err = try_lock(1).unwrap_err();
        assert!(
            matches!(&err, Error::Postgres(e)
                if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE)),
            "{err}"
        );
        try_lock(2).unwrap();
        try_lock(crate::pg::tenant::MAIN_SITE).unwrap();
        release.send(()).unwrap();
        assert!(holder.join().unwrap(), "the holder was not kept waiting");
    });
    // Released with the transaction.
    try_lock(1).unwrap();
}

#[test]
fn lock_keys_are_organization_ids() {
    assert_eq!(lock_key(0), 0);
    assert_eq!(lock_key(42), 42);
    assert_eq!(lock_key(i64::from(i32::MAX)), i32::MAX);
    // Beyond 32 bits: folded, deterministic.
    assert_eq!(lock_key(1 << 32), 1);
    assert_eq!(lock_key((1 << 32) + 3), lock_key((1 << 32) + 3));
}

/// Two organizations' sign-ups (two locks, two connections) racing for
/// what only one account may have: both pass the checks, the unique
/// index refuses the second, which hears which field is taken; its
/// transaction stays usable.
fn race_for_an_account(
    name: impl Fn(i64) -> String + Sync,
    email: impl Fn(i64) -> String + Sync,
) -> Vec<Result<Account, Taken>> {
    let pg = pg();
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        let racers: Vec<_> = [1, 2]
            .map(|org| {
                let (pg, start, name, email) = (&pg, &start, &name, &email);
                s.spawn(move || {
                    start.wait();
                    write(&blog(pg, org), |b| {
                        let out = b.create_account(&name(org), &email(org), "h")?;
                        // Hold the transaction open a moment: the other
                        // racer has passed its checks by now, and its
                        // insert waits for this one's commit.
                        std::thread::sleep(Duration::from_millis(300));
                        if out.is_err() {
                            // Still usable, and the winner is there.
                            assert!(
                                b.account_by_email(&email(3 - org))?.is_some()
                                    || b.user_id(&name(3 - org))?.is_some()
                            );
                        }
                        Ok(out)
                    })
                    .unwrap()
                })
            })
            .into_iter()
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

#[test]
fn two_nodes_signing_up_one_name_at_once_hear_it_is_taken() {
    let results = race_for_an_account(|_| "alice".into(), |org| format!("a{org}@example.com"));
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.contains(&Err(Taken::Name)), "{results:?}");
}

#[test]
fn two_nodes_signing_up_one_email_at_once_hear_it_is_taken() {
    let results = race_for_an_account(
        |org| format!("user{org}"),
        |org| {
            if org == 1 {
                "Same@example.com"
            } else {
                "same@EXAMPLE.com"
            }
            .into()
        },
    );
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.contains(&Err(Taken::Email)), "{results:?}");
}

#[test]
fn an_email_taken_meanwhile_by_another_organization_is_taken() {
    let pg = pg();
    let (one, two) = (blog(&pg, 1), blog(&pg, 2));
    let alice = account(&one, "alice");
    let bob = account(&two, "bob");
    let start = Barrier::new(2);
    let change = AccountChanges {
        email: Some("new@example.com".into()),
        ..AccountChanges::default()
    };
    let results: Vec<_> = std::thread::scope(|s| {
        let racers: Vec<_> = [(&one, alice.id), (&two, bob.id)]
            .map(|(db, id)| {
                let (start, change) = (&start, &change);
                s.spawn(move || {
                    start.wait();
                    write(db, |b| {
                        let out = b.update_account(id, change)?;
                        std::thread::sleep(Duration::from_millis(300));
                        // Refused or not, the transaction is usable.
                        assert!(b.account(id)?.is_some());
                        Ok(out.map(|a| a.id))
                    })
                    .unwrap()
                })
            })
            .into_iter()
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.contains(&Err(Taken::Email)), "{results:?}");
}

#[test]
fn clearing_one_organization_leaves_the_others() {
    let pg = pg();
    let (one, two) = (blog(&pg, 1), blog(&pg, 2));
    let alice = account(&one, "alice");
    for db in [&one, &two] {
        let art = post(db, alice.id, "hello", &["rust"]);
        write(db, |b| {
            b.set_favorite(alice.id, art.id, true)?;
            b.set_following(alice.id, alice.id, true)?;
            let root = b.create_comment(art.id, alice.id, None, "root")?;
            b.create_comment(art.id, alice.id, Some(root.id), "reply")?;
            b.store_response(
                alice.id,
                "k",
                &StoredResponse {
                    fingerprint: vec![1],
                    status: 201,
                    body: vec![],
                },
            )
        })
        .unwrap();
    }
    post(&one, alice.id, "second", &[]);
    assert_eq!(write(&one, |b| b.clear()).unwrap(), 2);
    assert_eq!(read(&one, |b| b.article_count()), 0);
    assert!(read(&one, |b| b.tags()).is_empty());
    assert!(read(&one, |b| b.stored_response(alice.id, "k")).is_none());
    // Organization 2's blog is whole.
    let art = read(&two, |b| b.article("hello", Some(alice.id))).unwrap();
    assert_eq!((art.favorites_count, art.favorited), (1, true));
    assert!(art.author.following);
    assert_eq!(read(&two, |b| b.tags()), ["rust"]);
    assert_eq!(read(&two, |b| b.comments(art.id, None)).len(), 2);
    assert!(read(&two, |b| b.stored_response(alice.id, "k")).is_some());
    let counts: Vec<i64> = pg
        .tenant(2, |tx| {
            [
                "blog_articles",
                "blog_tags",
                "blog_article_tags",
                "blog_favorites",
                "blog_comments",
                "blog_follows",
                "blog_idempotency",
            ]
            .iter()
            .map(|t| {
                Ok(tx
                    .query_one(&format!("SELECT count(*) FROM {t}"), &[])?
                    .get(0))
            })
            .collect()
        })
        .unwrap();
    assert_eq!(counts, [1, 1, 1, 1, 2, 1, 1]);
    // The shared accounts stay.
    assert_eq!(read(&one, |b| b.account(alice.id)), Some(alice));
}

#[test]
fn tags_sort_by_their_bytes_whatever_the_database_collation() {
    // A database whose default collation is a language's (ICU English),
    // as a production server's often is: "a" before "B" there.
    let server = crate::pg::testing::server();
    let name = format!("agora_db_test_{}_icu", std::process::id());
    let mut admin = postgres::Client::connect(server, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
        ))
        .unwrap();
    let pg = Pg::connect(&crate::pg::testing::with_dbname(server, &name)).unwrap();
    let language_first: bool = pg
        .with(|c| Ok(c.query_one("SELECT 'a' < 'B'", &[])?.get(0)))
        .unwrap();
    assert!(language_first, "the database should sort like English");
    let db = blog(&pg, 1);
    let alice = account(&db, "alice");
    let art = post(&db, alice.id, "one", &["b", "a", "B", "é", "Z"]);
    assert_eq!(
        art.tags,
        ["B", "Z", "a", "b", "é"],
        "as SQLite and Rust sort"
    );
    post(&db, alice.id, "two", &["b"]);
    assert_eq!(read(&db, |b| b.tags()), ["b", "B", "Z", "a", "é"]);
}
