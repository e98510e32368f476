//! The organizations repository's suite ([`super::OrgStore`]), run once
//! per backend: SQLite's `Orgs` and PostgreSQL's `PgOrgs` must agree.
//! Each step is a transaction of its own ([`Storage::orgs`]), as the
//! daemon makes one per request: a refused change is rolled back whole.

use std::convert::Infallible;

use super::*;
use crate::{Access, Storage};

crate::on_both_backends!(
    creating_makes_the_creator_owner_and_slugs_are_unique,
    invitations_are_answered_once_by_their_invitee_before_they_expire,
    an_organization_always_keeps_an_owner,
    a_deleted_organization_is_restorable_until_purged_after_the_grace,
    a_refused_change_is_rolled_back_whole,
);

/// Three accounts: alice, bob and carol.
fn users(db: &Storage) -> (i64, i64, i64) {
    db.users(Access::Write, |u| {
        Ok((
            u.create("alice", "h")?.id,
            u.create("bob", "h")?.id,
            u.create("carol", "h")?.id,
        ))
    })
    .unwrap()
}

/// `f` in a transaction of its own (`access`), never refused.
fn with<T>(db: &Storage, access: Access, f: impl FnOnce(&mut dyn OrgStore) -> Result<T>) -> T {
    db.orgs(access, |o| Ok(Ok::<_, Infallible>(f(o)?)))
        .unwrap()
        .unwrap_or_else(|never| match never {})
}

fn read<T>(db: &Storage, f: impl FnOnce(&mut dyn OrgStore) -> Result<T>) -> T {
    with(db, Access::Read, f)
}

fn write<T>(db: &Storage, f: impl FnOnce(&mut dyn OrgStore) -> Result<T>) -> T {
    with(db, Access::Write, f)
}

/// A change in a write transaction of its own: kept when accepted,
/// rolled back when refused.
fn change<T>(
    db: &Storage,
    f: impl FnOnce(&mut dyn OrgStore) -> Answer<T>,
) -> std::result::Result<T, Refusal> {
    db.orgs(Access::Write, f).unwrap()
}

fn creating_makes_the_creator_owner_and_slugs_are_unique(db: &Storage) {
    let (alice, bob, _) = users(db);
    let acme = change(db, |o| o.create("acme", "Acme", alice)).unwrap();
    assert_eq!(acme.plan, "free");
    assert_eq!(read(db, |o| o.role(acme.id, alice)), Some(Role::Owner));
    assert_eq!(read(db, |o| o.role(acme.id, bob)), None);
    assert_eq!(
        change(db, |o| o.create("acme", "Other", bob)),
        Err(Refusal::SlugTaken)
    );
    assert!(matches!(
        change(db, |o| o.create("www", "W", bob)),
        Err(Refusal::BadSlug(_))
    ));
    assert_eq!(read(db, |o| o.by_slug("acme")), Some(acme.clone()));
    assert_eq!(read(db, |o| o.all()), vec![acme.clone()]);
    assert_eq!(
        read(db, |o| o.of_user(alice)),
        vec![(acme.clone(), Role::Owner)]
    );
    assert!(read(db, |o| o.of_user(bob)).is_empty());
    let zeta = change(db, |o| o.create("zeta", "Zeta", alice)).unwrap();
    let beta = change(db, |o| o.create("b-eta", "Beta", alice)).unwrap();
    let mine: Vec<String> = read(db, |o| o.of_user(alice))
        .into_iter()
        .map(|(org, _)| org.slug)
        .collect();
    assert_eq!(mine, ["acme", "b-eta", "zeta"], "by slug, byte order");
    let ids: Vec<i64> = read(db, |o| o.all()).iter().map(|o| o.id).collect();
    assert_eq!(ids, [acme.id, zeta.id, beta.id], "by id");
    assert!(write(db, |o| o.mark_deleted(acme.id)));
    assert!(!write(db, |o| o.mark_deleted(acme.id)), "deleted once");
    assert_eq!(read(db, |o| o.by_slug("acme")), None);
    assert_eq!(read(db, |o| o.all()).len(), 2);
    // A deleted organization's slug stays taken.
    assert_eq!(
        change(db, |o| o.create("acme", "Again", bob)),
        Err(Refusal::SlugTaken)
    );
}

fn invitations_are_answered_once_by_their_invitee_before_they_expire(db: &Storage) {
    let (alice, bob, carol) = users(db);
    let acme = change(db, |o| o.create("acme", "Acme", alice)).unwrap();
    assert_eq!(
        change(db, |o| o.invite(
            acme.id,
            "nobody",
            Role::Author,
            alice,
            "t0",
            10
        )),
        Err(Refusal::NoSuchUser)
    );
    assert_eq!(
        change(db, |o| o.invite(
            acme.id,
            "alice",
            Role::Author,
            alice,
            "t0",
            10
        )),
        Err(Refusal::AlreadyMember)
    );
    let invitation = change(db, |o| {
        o.invite(acme.id, "bob", Role::Author, alice, "t1", 1_000)
    })
    .unwrap();
    assert_eq!(
        invitation,
        Invitation {
            token: "t1".into(),
            org_id: acme.id,
            user_id: bob,
            role: Role::Author,
            expires_at_ms: 1_000,
        }
    );
    assert_eq!(read(db, |o| o.seats(acme.id, 5)), (1, 1));
    assert_eq!(read(db, |o| o.seats(acme.id, 1_001)), (1, 0), "expired");
    assert_eq!(
        change(db, |o| o.answer("t1", carol, true, 5)),
        Err(Refusal::NoSuchInvitation)
    );
    assert_eq!(
        change(db, |o| o.answer("nope", bob, true, 5)),
        Err(Refusal::NoSuchInvitation)
    );
    assert_eq!(
        change(db, |o| o.answer("t1", bob, true, 2_000)),
        Err(Refusal::InvitationExpired)
    );
    let (org, role) = change(db, |o| o.answer("t1", bob, true, 5)).unwrap();
    assert_eq!((org, role), (acme.clone(), Role::Author));
    assert_eq!(read(db, |o| o.role(acme.id, bob)), Some(Role::Author));
    assert_eq!(
        read(db, |o| o.member(acme.id, bob)),
        Some(Member {
            user_id: bob,
            name: "bob".into(),
            bio: None,
            image: None,
            role: Role::Author,
            joined_at_ms: 5,
        })
    );
    assert_eq!(read(db, |o| o.member(acme.id, carol)), None);
    assert_eq!(
        change(db, |o| o.answer("t1", bob, true, 5)),
        Err(Refusal::InvitationAnswered)
    );
    change(db, |o| {
        o.invite(acme.id, "carol", Role::Viewer, alice, "t2", 1_000)
    })
    .unwrap();
    change(db, |o| o.answer("t2", carol, false, 5)).unwrap();
    assert_eq!(read(db, |o| o.role(acme.id, carol)), None);
    assert_eq!(read(db, |o| o.seats(acme.id, 5)), (2, 0));
    // A second invitation of one person: the first accepted makes the
    // second answer "a member already".
    change(db, |o| {
        o.invite(acme.id, "carol", Role::Viewer, alice, "t3", 1_000)
    })
    .unwrap();
    change(db, |o| {
        o.invite(acme.id, "carol", Role::Admin, alice, "t4", 1_000)
    })
    .unwrap();
    change(db, |o| o.answer("t3", carol, true, 6)).unwrap();
    assert_eq!(
        change(db, |o| o.answer("t4", carol, true, 6)),
        Err(Refusal::AlreadyMember)
    );
    let names: Vec<String> = read(db, |o| o.members(acme.id))
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    // Invitations of a deleted organization cannot be answered.
    let globex = change(db, |o| o.create("globex", "Globex", alice)).unwrap();
    change(db, |o| {
        o.invite(globex.id, "bob", Role::Viewer, alice, "t6", 1_000)
    })
    .unwrap();
    assert!(write(db, |o| o.mark_deleted(globex.id)));
    assert_eq!(
        change(db, |o| o.answer("t6", bob, true, 7)),
        Err(Refusal::NoSuchInvitation)
    );
}

fn an_organization_always_keeps_an_owner(db: &Storage) {
    let (alice, bob, carol) = users(db);
    let acme = change(db, |o| o.create("acme", "Acme", alice)).unwrap();
    change(db, |o| {
        o.invite(acme.id, "bob", Role::Admin, alice, "t", 1_000)
    })
    .unwrap();
    change(db, |o| o.answer("t", bob, true, 0)).unwrap();
    assert_eq!(
        change(db, |o| o.remove(acme.id, alice)),
        Err(Refusal::LastOwner)
    );
    assert_eq!(
        change(db, |o| o.set_role(acme.id, alice, Role::Admin)),
        Err(Refusal::LastOwner)
    );
    assert_eq!(
        change(db, |o| o.set_role(acme.id, carol, Role::Admin)),
        Err(Refusal::NotMember)
    );
    assert_eq!(
        change(db, |o| o.transfer(acme.id, alice, carol)),
        Err(Refusal::NotMember)
    );
    change(db, |o| o.transfer(acme.id, alice, bob)).unwrap();
    assert_eq!(read(db, |o| o.role(acme.id, bob)), Some(Role::Owner));
    assert_eq!(read(db, |o| o.role(acme.id, alice)), Some(Role::Admin));
    assert_eq!(
        change(db, |o| o.remove(acme.id, bob)),
        Err(Refusal::LastOwner)
    );
    // Two owners: either may step down, not both.
    change(db, |o| o.set_role(acme.id, alice, Role::Owner)).unwrap();
    change(db, |o| o.set_role(acme.id, bob, Role::Viewer)).unwrap();
    assert_eq!(
        change(db, |o| o.set_role(acme.id, alice, Role::Author)),
        Err(Refusal::LastOwner)
    );
    change(db, |o| o.remove(acme.id, bob)).unwrap();
    assert_eq!(
        change(db, |o| o.remove(acme.id, bob)),
        Err(Refusal::NotMember)
    );
    let members = read(db, |o| o.members(acme.id));
    assert_eq!(members.len(), 1);
    assert_eq!((members[0].user_id, members[0].role), (alice, Role::Owner));
}

fn a_deleted_organization_is_restorable_until_purged_after_the_grace(db: &Storage) {
    let (alice, _, _) = users(db);
    let acme = change(db, |o| o.create("acme", "Acme", alice)).unwrap();
    let globex = change(db, |o| o.create("globex", "Globex", alice)).unwrap();
    assert!(write(db, |o| o.mark_deleted_at(acme.id, 1_000)));
    assert!(write(db, |o| o.mark_deleted_at(globex.id, 5_000)));
    assert!(
        !write(db, |o| o.mark_deleted_at(acme.id, 6_000)),
        "deleted once"
    );
    // Due: deleted at or before the cut-off, not purged.
    assert!(read(db, |o| o.due_for_purge(999)).is_empty());
    assert_eq!(read(db, |o| o.due_for_purge(1_000)), vec![acme.id]);
    assert_eq!(
        read(db, |o| o.due_for_purge(5_000)),
        vec![acme.id, globex.id]
    );
    // Restoring brings it back with its members.
    assert_eq!(
        read(db, |o| o.deleted_by_slug("globex")).map(|o| o.id),
        Some(globex.id)
    );
    assert_eq!(read(db, |o| o.deleted_by_slug("acme")), Some(acme.clone()));
    assert_eq!(read(db, |o| o.deleted_by_slug("nothing")), None);
    assert!(write(db, |o| o.restore(globex.id)));
    assert!(!write(db, |o| o.restore(globex.id)), "live already");
    assert_eq!(read(db, |o| o.deleted_by_slug("globex")), None);
    assert_eq!(
        read(db, |o| o.by_slug("globex")).map(|o| o.id),
        Some(globex.id)
    );
    assert_eq!(read(db, |o| o.role(globex.id, alice)), Some(Role::Owner));
    assert_eq!(read(db, |o| o.due_for_purge(i64::MAX)), vec![acme.id]);
    let with_files: Vec<i64> = read(db, |o| o.with_files()).iter().map(|o| o.id).collect();
    assert_eq!(with_files, vec![acme.id, globex.id]);
    // Purged: gone for good, never restored, never due again.
    write(db, |o| o.mark_purged(acme.id, 9_000));
    assert!(read(db, |o| o.due_for_purge(i64::MAX)).is_empty());
    assert_eq!(read(db, |o| o.deleted_by_slug("acme")), None);
    assert!(!write(db, |o| o.restore(acme.id)));
    assert_eq!(read(db, |o| o.by_slug("acme")), None);
    let with_files: Vec<i64> = read(db, |o| o.with_files()).iter().map(|o| o.id).collect();
    assert_eq!(with_files, vec![globex.id]);
    assert_eq!(
        change(db, |o| o.create("acme", "Again", alice)),
        Err(Refusal::SlugTaken)
    );
    // A live organization is never marked purged.
    write(db, |o| o.mark_purged(globex.id, 9_000));
    assert_eq!(read(db, |o| o.with_files()).len(), 1);
}

fn a_refused_change_is_rolled_back_whole(db: &Storage) {
    let (alice, bob, _) = users(db);
    let acme = change(db, |o| o.create("acme", "Acme", alice)).unwrap();
    // The daemon's invite: the invitation, then the plan's seats in the
    // same transaction; over the plan, nothing is kept.
    let refused = db
        .orgs(Access::Write, |o| {
            o.invite(acme.id, "bob", Role::Author, alice, "t", 1_000)?
                .unwrap();
            assert_eq!(o.seats(acme.id, 0)?, (1, 1));
            Ok(Err::<(), _>("over the plan"))
        })
        .unwrap();
    assert_eq!(refused, Err("over the plan"));
    assert_eq!(read(db, |o| o.seats(acme.id, 0)), (1, 0));
    assert_eq!(
        change(db, |o| o.answer("t", bob, true, 0)),
        Err(Refusal::NoSuchInvitation)
    );
    // An accepted answer over the plan: the invitation stays pending.
    change(db, |o| {
        o.invite(acme.id, "bob", Role::Author, alice, "t", 1_000)
    })
    .unwrap();
    let refused = db
        .orgs(Access::Write, |o| {
            o.answer("t", bob, true, 0)?.unwrap();
            assert_eq!(o.seats(acme.id, 0)?, (2, 0));
            Ok(Err::<(), _>("over the plan"))
        })
        .unwrap();
    assert_eq!(refused, Err("over the plan"));
    assert_eq!(read(db, |o| o.seats(acme.id, 0)), (1, 1));
    assert_eq!(read(db, |o| o.role(acme.id, bob)), None);
    change(db, |o| o.answer("t", bob, true, 0)).unwrap();
    assert_eq!(read(db, |o| o.role(acme.id, bob)), Some(Role::Author));
}
