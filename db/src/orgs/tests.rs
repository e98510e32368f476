use super::*;
use crate::Db;
use crate::users::Users;

fn setup() -> (Db, i64, i64, i64) {
    let db = Db::open_in_memory().unwrap();
    let ids = db
        .write(|c| {
            let u = Users::new(c);
            Ok((
                u.create("alice", "h")?.id,
                u.create("bob", "h")?.id,
                u.create("carol", "h")?.id,
            ))
        })
        .unwrap();
    (db, ids.0, ids.1, ids.2)
}

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
fn creating_makes_the_creator_owner_and_slugs_are_unique() {
    let (db, alice, bob, _) = setup();
    db.write(|c| {
        let orgs = Orgs::new(c);
        let acme = orgs.create("acme", "Acme", alice)?.unwrap();
        assert_eq!(acme.plan, "free");
        assert_eq!(orgs.role(acme.id, alice)?, Some(Role::Owner));
        assert_eq!(orgs.role(acme.id, bob)?, None);
        assert_eq!(orgs.create("acme", "Other", bob)?, Err(Refusal::SlugTaken));
        assert!(matches!(
            orgs.create("www", "W", bob)?,
            Err(Refusal::BadSlug(_))
        ));
        assert_eq!(orgs.of_user(alice)?.len(), 1);
        assert!(orgs.of_user(bob)?.is_empty());
        assert!(orgs.mark_deleted(acme.id)?);
        assert_eq!(orgs.by_slug("acme")?, None);
        assert!(orgs.all()?.is_empty());
        // A deleted organization's slug stays taken.
        assert_eq!(orgs.create("acme", "Again", bob)?, Err(Refusal::SlugTaken));
        Ok(())
    })
    .unwrap();
}

#[test]
fn invitations_are_answered_once_by_their_invitee_before_they_expire() {
    let (db, alice, bob, carol) = setup();
    db.write(|c| {
        let orgs = Orgs::new(c);
        let acme = orgs.create("acme", "Acme", alice)?.unwrap();
        assert_eq!(
            orgs.invite(acme.id, "nobody", Role::Author, alice, "t0", 10)?,
            Err(Refusal::NoSuchUser)
        );
        assert_eq!(
            orgs.invite(acme.id, "alice", Role::Author, alice, "t0", 10)?,
            Err(Refusal::AlreadyMember)
        );
        orgs.invite(acme.id, "bob", Role::Author, alice, "t1", 1_000)?
            .unwrap();
        assert_eq!(
            orgs.answer("t1", carol, true, 5)?,
            Err(Refusal::NoSuchInvitation)
        );
        assert_eq!(
            orgs.answer("nope", bob, true, 5)?,
            Err(Refusal::NoSuchInvitation)
        );
        assert_eq!(
            orgs.answer("t1", bob, true, 2_000)?,
            Err(Refusal::InvitationExpired)
        );
        let (org, role) = orgs.answer("t1", bob, true, 5)?.unwrap();
        assert_eq!((org.id, role), (acme.id, Role::Author));
        assert_eq!(orgs.role(acme.id, bob)?, Some(Role::Author));
        assert_eq!(
            orgs.answer("t1", bob, true, 5)?,
            Err(Refusal::InvitationAnswered)
        );
        orgs.invite(acme.id, "carol", Role::Viewer, alice, "t2", 1_000)?
            .unwrap();
        orgs.answer("t2", carol, false, 5)?.unwrap();
        assert_eq!(orgs.role(acme.id, carol)?, None);
        Ok(())
    })
    .unwrap();
}

#[test]
fn an_organization_always_keeps_an_owner() {
    let (db, alice, bob, carol) = setup();
    db.write(|c| {
        let orgs = Orgs::new(c);
        let acme = orgs.create("acme", "Acme", alice)?.unwrap();
        orgs.invite(acme.id, "bob", Role::Admin, alice, "t", 1_000)?
            .unwrap();
        orgs.answer("t", bob, true, 0)?.unwrap();
        assert_eq!(orgs.remove(acme.id, alice)?, Err(Refusal::LastOwner));
        assert_eq!(
            orgs.set_role(acme.id, alice, Role::Admin)?,
            Err(Refusal::LastOwner)
        );
        assert_eq!(
            orgs.transfer(acme.id, alice, carol)?,
            Err(Refusal::NotMember)
        );
        orgs.transfer(acme.id, alice, bob)?.unwrap();
        assert_eq!(orgs.role(acme.id, bob)?, Some(Role::Owner));
        assert_eq!(orgs.role(acme.id, alice)?, Some(Role::Admin));
        assert_eq!(orgs.remove(acme.id, bob)?, Err(Refusal::LastOwner));
        orgs.remove(acme.id, alice)?.unwrap();
        assert_eq!(orgs.remove(acme.id, alice)?, Err(Refusal::NotMember));
        let members = orgs.members(acme.id)?;
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].role, Role::Owner);
        Ok(())
    })
    .unwrap();
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

#[test]
fn a_deleted_organization_is_restorable_until_purged_after_the_grace() {
    let (db, alice, _, _) = setup();
    db.write(|c| {
        let orgs = Orgs::new(c);
        let acme = orgs.create("acme", "Acme", alice)?.unwrap();
        let globex = orgs.create("globex", "Globex", alice)?.unwrap();
        assert!(orgs.mark_deleted_at(acme.id, 1_000)?);
        assert!(orgs.mark_deleted_at(globex.id, 5_000)?);
        assert!(!orgs.mark_deleted_at(acme.id, 6_000)?, "deleted once");
        // Due: deleted at or before the cut-off, not purged.
        assert!(orgs.due_for_purge(999)?.is_empty());
        assert_eq!(orgs.due_for_purge(1_000)?, vec![acme.id]);
        assert_eq!(orgs.due_for_purge(5_000)?, vec![acme.id, globex.id]);
        // Restoring brings it back with its members.
        assert_eq!(
            orgs.deleted_by_slug("globex")?.map(|o| o.id),
            Some(globex.id)
        );
        assert!(orgs.restore(globex.id)?);
        assert!(!orgs.restore(globex.id)?, "live already");
        assert_eq!(orgs.by_slug("globex")?.map(|o| o.id), Some(globex.id));
        assert_eq!(orgs.role(globex.id, alice)?, Some(Role::Owner));
        assert_eq!(orgs.due_for_purge(i64::MAX)?, vec![acme.id]);
        // Purged: gone for good, never restored, never due again.
        orgs.mark_purged(acme.id, 9_000)?;
        assert!(orgs.due_for_purge(i64::MAX)?.is_empty());
        assert_eq!(orgs.deleted_by_slug("acme")?, None);
        assert!(!orgs.restore(acme.id)?);
        assert_eq!(orgs.by_slug("acme")?, None);
        let with_files: Vec<i64> = orgs.with_files()?.iter().map(|o| o.id).collect();
        assert_eq!(with_files, vec![globex.id]);
        assert_eq!(
            orgs.create("acme", "Again", alice)?,
            Err(Refusal::SlugTaken)
        );
        Ok(())
    })
    .unwrap();
}
