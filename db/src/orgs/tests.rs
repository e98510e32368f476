//! What only SQLite has: slug rules aside (no database), a tenant file's
//! schema and its mirror of the shared accounts. The repository's
//! behaviour is `suite.rs`, on both backends.

use super::*;
use crate::Db;

#[test]
fn slugs_follow_dns_label_rules() {
    for good in ["acme", "a", "a-b", "x1", &"a".repeat(63)] {
        assert_eq!(check_slug(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "-a",
        "a-",
        "A",
        "a.b",
        "a_b",
        "é",
        "xn--abc",
        &"a".repeat(64),
    ] {
        assert!(check_slug(bad).is_err(), "{bad}");
    }
    for reserved in RESERVED {
        assert!(check_slug(reserved).unwrap_err().contains("reserved"));
    }
}

#[test]
fn a_tenant_file_has_the_blog_schema_and_mirrors_members() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("1.db");
    let tenant = Db::open_tenant(&path, crate::Schema::Migrate).unwrap();
    let member = Member {
        user_id: 42,
        name: "alice".into(),
        bio: Some("hi".into()),
        image: None,
        role: Role::Author,
        joined_at_ms: 1,
    };
    tenant
        .write(|c| {
            Mirror::new(c).upsert(&member)?;
            Mirror::new(c).upsert(&Member {
                bio: None,
                ..member.clone()
            })
        })
        .unwrap();
    let profile = tenant
        .read(|c| crate::blog::Blog::new(c).profile("alice", None))
        .unwrap()
        .unwrap();
    assert_eq!(profile.bio, None);
    // Not the shared schema: no chat, no organizations.
    let tables: i64 = tenant
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('orgs', 'chat_messages')",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(tables, 0);
    drop(tenant);
    std::fs::write(&path, b"this is not a database, just some bytes...").unwrap();
    let _ = std::fs::remove_file(dir.path().join("1.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("1.db-shm"));
    let err = Db::open_tenant(&path, crate::Schema::Migrate)
        .err()
        .expect("a corrupt file is refused");
    assert!(err.to_string().contains("1.db"), "{err}");
}
