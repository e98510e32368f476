//! The leak tests at the database's level: row-level security keeps
//! organizations apart even for queries that forget to.

use super::*;
use crate::Error;

/// A migrated database, an account, and one article in each of
/// organizations 1 and 2 (same slug): (pg, user id, article ids).
fn two_tenants() -> (Pg, i64, i64, i64) {
    let pg = Pg::connect(&crate::pg::testing::database()).unwrap();
    let user: i64 = pg
        .with(|c| {
            let row = c.query_one(
                "INSERT INTO users (name, password_hash, created_at_ms) VALUES ('ann', 'x', 0) \
                 RETURNING id",
                &[],
            )?;
            Ok(row.get(0))
        })
        .unwrap();
    let article = |org: i64, title: &str| {
        pg.tenant(org, |tx| {
            let row = tx.query_one(
                "INSERT INTO blog_articles (org_id, slug, author_id, title, description, body, \
                 created_at_ms, updated_at_ms) VALUES ($1, 'hello', $2, $3, '', '', 0, 0) \
                 RETURNING id",
                &[&org, &user, &title],
            )?;
            Ok(row.get::<_, i64>(0))
        })
        .unwrap()
    };
    let (a1, a2) = (article(1, "one's"), article(2, "two's"));
    (pg, user, a1, a2)
}

fn count(tx: &mut Transaction<'_>, table: &str) -> i64 {
    tx.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .unwrap()
        .get(0)
}

fn refused(err: Error) -> String {
    let text = err.to_string();
    assert!(matches!(err, Error::Postgres(_)), "{text}");
    text
}

#[test]
fn each_organization_sees_and_changes_only_its_own_rows() {
    let (pg, user, a1, a2) = two_tenants();
    let titles = |org| {
        pg.tenant(org, |tx| {
            // No WHERE on purpose: the policy is the filter.
            Ok(tx
                .query("SELECT title FROM blog_articles", &[])?
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>())
        })
        .unwrap()
    };
    assert_eq!(titles(1), ["one's"]);
    assert_eq!(titles(2), ["two's"]);
    assert!(titles(3).is_empty());
    let touched = pg
        .tenant(2, |tx| {
            let updated = tx.execute(
                "UPDATE blog_articles SET title = 'mine' WHERE id = $1",
                &[&a1],
            )?;
            let deleted = tx.execute("DELETE FROM blog_articles WHERE id = $1", &[&a1])?;
            let everything = tx.execute("UPDATE blog_articles SET body = 'all'", &[])?;
            Ok((updated, deleted, everything))
        })
        .unwrap();
    assert_eq!(touched, (0, 0, 1), "two changed only its own article");
    assert_eq!(titles(1), ["one's"]);
    let favourites = pg
        .tenant(1, |tx| {
            tx.execute(
                "INSERT INTO blog_favorites (org_id, user_id, article_id) VALUES (1, $1, $2)",
                &[&user, &a1],
            )?;
            Ok(count(tx, "blog_favorites"))
        })
        .unwrap();
    assert_eq!(favourites, 1);
    assert_eq!(
        pg.tenant(2, |tx| Ok(count(tx, "blog_favorites"))).unwrap(),
        0
    );
    let _ = a2;
}

#[test]
fn a_write_into_another_organization_is_refused() {
    let (pg, user, a1, a2) = two_tenants();
    let err = pg
        .tenant(1, |tx| {
            tx.execute(
                "INSERT INTO blog_tags (org_id, name) VALUES (2, 'planted')",
                &[],
            )?;
            Ok(())
        })
        .unwrap_err();
    assert!(refused(err).contains("row-level security"));
    let err = pg
        .tenant(1, |tx| {
            tx.execute("UPDATE blog_articles SET org_id = 2 WHERE id = $1", &[&a1])?;
            Ok(())
        })
        .unwrap_err();
    assert!(refused(err).contains("row-level security"));
    // A row of one's own pointing at another's: the key carries org_id.
    let err = pg
        .tenant(1, |tx| {
            tx.execute(
                "INSERT INTO blog_comments (org_id, article_id, author_id, body, created_at_ms, \
                 updated_at_ms) VALUES (1, $1, $2, 'hi', 0, 0)",
                &[&a2, &user],
            )?;
            Ok(())
        })
        .unwrap_err();
    assert!(refused(err).contains("foreign key"));
    assert_eq!(pg.tenant(2, |tx| Ok(count(tx, "blog_tags"))).unwrap(), 0);
}

#[test]
fn without_the_setting_nothing_is_visible_or_writable() {
    let (pg, _, _, _) = two_tenants();
    let seen = pg
        .with(|c| {
            let mut tx = c.transaction()?;
            tx.batch_execute("SET LOCAL ROLE agora_tenant")?;
            let n = count(&mut tx, "blog_articles");
            tx.commit()?;
            Ok(n)
        })
        .unwrap();
    assert_eq!(seen, 0);
    let err = pg
        .with(|c| {
            let mut tx = c.transaction()?;
            tx.batch_execute("SET LOCAL ROLE agora_tenant")?;
            tx.execute("INSERT INTO blog_tags (org_id, name) VALUES (1, 'x')", &[])?;
            tx.commit()?;
            Ok(())
        })
        .unwrap_err();
    assert!(refused(err).contains("row-level security"));
}

#[test]
fn the_tenant_role_cannot_turn_security_off_and_nothing_outlives_the_transaction() {
    let (pg, _, _, _) = two_tenants();
    for sql in [
        "ALTER TABLE blog_articles DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE blog_articles NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant ON blog_articles",
    ] {
        let err = pg
            .tenant(1, |tx| {
                tx.batch_execute(sql)?;
                Ok(())
            })
            .unwrap_err();
        assert!(refused(err).contains("owner"), "{sql}");
    }
    let err = pg
        .tenant(1, |tx| {
            tx.batch_execute("SET LOCAL row_security = off")?;
            Ok(tx
                .query_one("SELECT count(*) FROM blog_articles", &[])?
                .get::<_, i64>(0))
        })
        .unwrap_err();
    assert!(refused(err).contains("row-level security"));
    let (superuser, bypass): (bool, bool) = pg
        .with(|c| {
            let r = c.query_one(
                "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1",
                &[&ROLE],
            )?;
            Ok((r.get(0), r.get(1)))
        })
        .unwrap();
    assert_eq!((superuser, bypass), (false, false));
    // The pool's connection is itself again afterwards.
    pg.tenant(1, |_| Ok(())).unwrap();
    let (user, org): (String, Option<String>) = pg
        .with(|c| {
            let r = c.query_one(
                "SELECT current_user::text, nullif(current_setting('app.org_id', true), '')",
                &[],
            )?;
            Ok((r.get(0), r.get(1)))
        })
        .unwrap();
    assert_ne!(user, ROLE);
    assert_eq!(org, None);
}
