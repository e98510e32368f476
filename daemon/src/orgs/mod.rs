//! Organizations: a multi-tenant blog. Each organization has its own
//! blog (articles, comments, tags, favourites, follows) in its own SQLite
//! file, members with a role, and invitations; accounts stay shared.
//!
//! - [`policy`]: the role × action table every request is checked against;
//! - [`tenants`]: the tenant files and the bounded LRU of open ones; a
//!   request reaches its organization's data only through a [`Tenant`];
//! - this module: [`Orgs`], the operations on the shared database
//!   (`agora_db::orgs`) that manage organizations, members and
//!   invitations, each checked against the policy.
//!
//! The HTTP side is `crate::http::blog::orgs` (the `/api/orgs` routes)
//! and `crate::http::blog::site` (which organization a request is for).

pub mod policy;
pub mod tenants;

use std::convert::Infallible;
use std::path::Path;
use std::time::Duration;

use agora_db::orgs::{Invitation, Member, Org, OrgStore, Refusal, Role};
use agora_db::{Access, Storage};
use rand::Rng;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use policy::{Action, Who};
pub use tenants::{Tenant, Tenants};

use crate::billing::plans::{self, Limit, Plan};
use crate::blog::Error;

/// How long an invitation can be answered.
pub const INVITATION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How often deleted organizations past their grace are purged and kept
/// Idempotency-Key responses expired.
const HOUSEKEEPING: Duration = Duration::from_secs(60);

/// The organizations service. Cheap to clone.
#[derive(Clone)]
pub struct Orgs {
    storage: Storage,
    tenants: Tenants,
    delete_grace: Duration,
}

/// A request's view of one organization: which, and who is asking.
#[derive(Clone)]
pub struct Seat {
    /// The organization.
    pub org: Org,
    /// The asker's column in the policy table.
    pub who: Who,
    /// The asker's membership (with the profile mirrored in the tenant).
    pub member: Option<Member>,
}

impl Seat {
    /// Refuses `action` unless the policy allows it; `own` says whether
    /// the resource is the asker's.
    ///
    /// # Errors
    /// [`Error::Denied`].
    pub fn allow(&self, action: Action, own: bool) -> Result<(), Error> {
        if policy::allows(self.who, action, own) {
            Ok(())
        } else {
            Err(Error::Denied(policy::refusal(self.who, action)))
        }
    }

    /// Whether the policy lets the asker act on others' resources too.
    pub fn moderates(&self, action: Action) -> bool {
        policy::allows(self.who, action, false)
    }
}

fn refused(field: &str, refusal: Refusal) -> Error {
    match refusal {
        Refusal::NotMember | Refusal::NoSuchInvitation => Error::NotFound(match refusal {
            Refusal::NotMember => "member",
            _ => "invitation",
        }),
        Refusal::LastOwner => Error::invalid("role", refusal.to_string()),
        other => Error::invalid(field, other.to_string()),
    }
}

impl Orgs {
    /// The service over the shared database `db`, with tenant files in
    /// `data_dir/tenants`, migrating every organization's file now: a
    /// file that fails is reported (logged with its reason) and that
    /// organization answers 503; the others, and the daemon, start.
    /// Deleted organizations' files are removed `delete_grace` after the
    /// deletion.
    ///
    /// # Errors
    /// When the organizations cannot be listed.
    pub fn open(
        storage: Storage,
        data_dir: &Path,
        handles: usize,
        cache_entries: usize,
        delete_grace: Duration,
    ) -> anyhow::Result<Orgs> {
        let handles = tenants::fit_handles(handles);
        let tenants = match &storage {
            Storage::Sqlite(_) => Tenants::new(data_dir.join("tenants"), handles, cache_entries),
            Storage::Postgres(pg) => Tenants::shared(pg.clone(), handles, cache_entries),
        };
        let ids: Vec<i64> = storage
            .orgs(Access::Read, |repo| Ok(Ok::<_, Infallible>(repo.all()?)))?
            .unwrap_or_else(|never| match never {})
            .into_iter()
            .map(|o| o.id)
            .collect();
        if !ids.is_empty() {
            tracing::info!(organizations = ids.len(), "migrating tenant files");
        }
        for (org, why) in tenants.migrate_all(&ids) {
            tracing::error!(org, %why, "tenant file cannot be migrated; this organization answers 503");
        }
        Ok(Orgs {
            storage,
            tenants,
            delete_grace,
        })
    }

    /// The tenant files.
    pub fn tenants(&self) -> &Tenants {
        &self.tenants
    }

    /// Starts the housekeeping task: every minute, deleted organizations
    /// past their grace are purged ([`Orgs::purge_deleted`]) and the open
    /// tenant files forget responses kept for Idempotency-Key longer than
    /// [`crate::blog::IDEMPOTENCY_TTL`] (as the blog does for its own).
    pub fn spawn(&self, token: CancellationToken, tracker: &TaskTracker) {
        let tenants = self.tenants.clone();
        let orgs = self.clone();
        tracker.spawn(async move {
            let mut tick = tokio::time::interval(HOUSEKEEPING);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tick.tick() => {}
                }
                orgs.purge_deleted(crate::now_ms() as i64).await;
                let before = crate::now_ms() as i64
                    - crate::blog::IDEMPOTENCY_TTL.as_millis() as i64;
                for tenant in tenants.open_now() {
                    let forgotten = tenant
                        .store()
                        .write(move |blog| Ok(blog.forget_responses(before)?))
                        .await;
                    if let Err(err) = forgotten {
                        tracing::warn!(org = tenant.org(), %err, "cannot expire idempotent responses");
                    }
                }
            }
        });
    }

    /// Removes the files of the organizations deleted longer than the
    /// grace before `now` (ms since the epoch; the caller's clock, so
    /// tests pass a later one): closes each one's handle, removes the file
    /// and its `-wal`/`-shm`, and marks it purged. A file that cannot be
    /// removed is logged and tried again at the next sweep. Answers the
    /// ids purged.
    pub async fn purge_deleted(&self, now: i64) -> Vec<i64> {
        let before = now.saturating_sub(self.delete_grace.as_millis() as i64);
        let due = match self.read(move |repo| repo.due_for_purge(before)).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!(%err, "cannot list deleted organizations to purge");
                return Vec::new();
            }
        };
        let mut purged = Vec::new();
        for org in due {
            let tenants = self.tenants.clone();
            let removed = tokio::task::spawn_blocking(move || tenants.purge(org)).await;
            match removed {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(org, %err, "cannot remove a deleted organization's file; trying again later");
                    continue;
                }
                Err(err) => {
                    tracing::warn!(org, %err, "purge task failed");
                    continue;
                }
            }
            match self
                .write(move |repo| Ok(repo.mark_purged(org, now)?))
                .await
            {
                Ok(()) => {
                    tracing::info!(
                        org,
                        "deleted organization's file removed after the grace period"
                    );
                    purged.push(org);
                }
                Err(err) => tracing::warn!(org, %err, "cannot mark an organization purged"),
            }
        }
        purged
    }

    /// Brings back the deleted organization `slug` (its owner only),
    /// while its file is kept (before the grace is over).
    ///
    /// # Errors
    /// Restoring a live organization is a no-op that answers it, so a
    /// retried restore (the first one's reply lost) succeeds like the first.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown or purged organization (and for
    /// non-members, who may not learn it existed);
    /// [`Error::Denied`] for members who are not owners.
    pub async fn restore(&self, user: i64, slug: String) -> Result<Org, Error> {
        self.write(move |repo| {
            let (org, deleted) = match repo.deleted_by_slug(&slug)? {
                Some(org) => (org, true),
                None => (
                    repo.by_slug(&slug)?
                        .ok_or(Error::NotFound("organization"))?,
                    false,
                ),
            };
            let Some(role) = repo.role(org.id, user)? else {
                return Err(Error::NotFound("organization"));
            };
            if !policy::allows(Who::Member(role), Action::DeleteOrg, false) {
                return Err(Error::Denied(policy::refusal(
                    Who::Member(role),
                    Action::DeleteOrg,
                )));
            }
            if deleted {
                repo.restore(org.id)?;
            }
            Ok(org)
        })
        .await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn OrgStore) -> agora_db::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let storage = self.storage.clone();
        let read = move || {
            storage
                .orgs(Access::Read, |repo| f(repo).map(Ok::<_, Infallible>))
                .map(|done| done.unwrap_or_else(|never| match never {}))
        };
        tokio::task::spawn_blocking(read)
            .await
            .map_err(Error::internal)?
            .map_err(Error::from)
    }

    /// Runs `f` in one write transaction, committed when it returns `Ok`:
    /// the checks a closure makes (a plan's member limit, the last owner)
    /// and its writes see one state, on SQLite under the writer's lock
    /// (`BEGIN IMMEDIATE`), on PostgreSQL under the rows' locks the
    /// repository takes, whichever node runs them.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn OrgStore) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let storage = self.storage.clone();
        tokio::task::spawn_blocking(move || storage.orgs(Access::Write, |repo| Ok(f(repo))))
            .await
            .map_err(Error::internal)?
            .map_err(Error::from)?
    }

    /// The seat of `user` (or an anonymous reader) in the organization
    /// `slug`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown or deleted organization.
    pub async fn seat(&self, slug: &str, user: Option<i64>) -> Result<Seat, Error> {
        let slug = slug.to_owned();
        let (org, member) = self
            .read(move |repo| {
                let Some(org) = repo.by_slug(&slug)? else {
                    return Ok(None);
                };
                let member = match user {
                    Some(user) => repo.member(org.id, user)?,
                    None => None,
                };
                Ok(Some((org, member)))
            })
            .await?
            .ok_or(Error::NotFound("organization"))?;
        let who = member
            .as_ref()
            .map_or(Who::Outsider, |m| Who::Member(m.role));
        Ok(Seat { org, who, member })
    }

    /// The seat's organization's blog file; a member's profile is
    /// mirrored into it on the way.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the file is missing or corrupt.
    pub async fn tenant(&self, seat: &Seat) -> Result<Tenant, Error> {
        let tenant = self.tenants.get(seat.org.id).await?;
        if let Some(member) = &seat.member {
            tenant.mirror(member).await?;
        }
        Ok(tenant)
    }

    /// Creates an organization owned by `user`, and its file.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad or taken slug or a bad name.
    pub async fn create(&self, user: i64, slug: String, name: String) -> Result<Org, Error> {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 128 {
            return Err(Error::invalid("name", "must be 1 to 128 characters"));
        }
        let (org, owner) = self
            .write(move |repo| {
                let org = repo
                    .create(&slug, &name, user)?
                    .map_err(|r| refused("slug", r))?;
                let owner = repo.member(org.id, user)?;
                Ok((org, owner))
            })
            .await?;
        let made = match self.tenants.create(org.id).await {
            Ok(tenant) => match &owner {
                Some(owner) => tenant.mirror(owner).await,
                None => Ok(()),
            },
            Err(err) => Err(err),
        };
        if let Err(err) = made {
            // Without its file the organization cannot work: undo.
            let id = org.id;
            self.write(move |repo| Ok(repo.mark_deleted(id)?)).await?;
            return Err(err);
        }
        tracing::info!(org = %org.slug, id = org.id, "organization created");
        Ok(org)
    }

    /// The organizations `user` belongs to, with their role.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn mine(&self, user: i64) -> Result<Vec<(Org, Role)>, Error> {
        self.read(move |repo| repo.of_user(user)).await
    }

    /// The members of the seat's organization.
    ///
    /// # Errors
    /// [`Error::Denied`].
    pub async fn members(&self, seat: &Seat) -> Result<Vec<Member>, Error> {
        seat.allow(Action::ListMembers, false)?;
        let org = seat.org.id;
        self.read(move |repo| repo.members(org)).await
    }

    /// Invites the account `name` with `role`; answers the invitation
    /// (its token is what the invitee accepts with).
    ///
    /// # Errors
    /// [`Error::Denied`]; [`Error::Invalid`] for an unknown user or a
    /// member.
    pub async fn invite(
        &self,
        seat: &Seat,
        by: i64,
        name: String,
        role: Role,
    ) -> Result<Invitation, Error> {
        seat.allow(Action::Invite, false)?;
        if role == Role::Owner {
            seat.allow(Action::ManageOwners, false)?;
        }
        let token: String = {
            let mut rng = rand::rng();
            (0..32)
                .map(|_| {
                    char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)])
                })
                .collect()
        };
        let org = seat.org.id;
        let now = crate::now_ms() as i64;
        let expires = now + INVITATION_TTL.as_millis() as i64;
        let name = name.trim().to_ascii_lowercase();
        let plan = Plan::parse(&seat.org.plan).unwrap_or(Plan::Free);
        self.write(move |repo| {
            let invitation = repo
                .invite(org, &name, role, by, &token, expires)?
                .map_err(|r| refused("username", r))?;
            // Members and pending invitations count against the plan.
            let (members, pending) = repo.seats(org, now)?;
            plans::check_add(plan, Limit::Members, members + pending - 1, 1)
                .map_err(|over| over.into_error(402))?;
            Ok(invitation)
        })
        .await
    }

    /// Accepts or declines the invitation `token` as `user`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown or someone else's token;
    /// [`Error::Invalid`] for an expired or answered one.
    pub async fn answer(
        &self,
        user: i64,
        token: String,
        accept: bool,
    ) -> Result<(Org, Role), Error> {
        let now = crate::now_ms() as i64;
        let (org, role, member) = self
            .write(move |repo| {
                let (org, role) = repo
                    .answer(&token, user, accept, now)?
                    .map_err(|r| refused("invitation", r))?;
                if accept {
                    // Over the plan, the whole answer is undone: the
                    // invitation stays pending until there is room.
                    let plan = Plan::parse(&org.plan).unwrap_or(Plan::Free);
                    let (members, _) = repo.seats(org.id, now)?;
                    plans::check_add(plan, Limit::Members, members - 1, 1)
                        .map_err(|over| over.into_error(402))?;
                }
                let member = repo.member(org.id, user)?;
                Ok((org, role, member))
            })
            .await?;
        if let (true, Some(member)) = (accept, member) {
            // Mirror now, so the new member's profile shows at once; a
            // failure here is repaired on their next request.
            if let Ok(tenant) = self.tenants.get(org.id).await {
                let _ = tenant.mirror(&member).await;
            }
        }
        Ok((org, role))
    }

    /// Gives the member `name` the role `role`.
    ///
    /// # Errors
    /// [`Error::Denied`], [`Error::NotFound`] for a non-member,
    /// [`Error::Invalid`] when it would leave no owner.
    pub async fn set_role(&self, seat: &Seat, name: String, role: Role) -> Result<(), Error> {
        let org = seat.org.id;
        let seat = seat.clone();
        self.write(move |repo| {
            let target = member_named(repo, org, &name)?;
            seat.allow(Action::ManageMembers, false)?;
            if target.role == Role::Owner || role == Role::Owner {
                seat.allow(Action::ManageOwners, false)?;
            }
            repo.set_role(org, target.user_id, role)?
                .map_err(|r| refused("role", r))
        })
        .await
    }

    /// Removes the member `name`; `user` removing themselves is leaving.
    ///
    /// # Errors
    /// As [`Orgs::set_role`].
    pub async fn remove(&self, seat: &Seat, user: i64, name: String) -> Result<(), Error> {
        let org = seat.org.id;
        let seat = seat.clone();
        self.write(move |repo| {
            let target = member_named(repo, org, &name)?;
            if target.user_id == user {
                seat.allow(Action::Leave, true)?;
            } else {
                seat.allow(Action::ManageMembers, false)?;
                if target.role == Role::Owner {
                    seat.allow(Action::ManageOwners, false)?;
                }
            }
            repo.remove(org, target.user_id)?
                .map_err(|r| refused("member", r))
        })
        .await
    }

    /// Makes the member `name` the owner; `user` (an owner) becomes an
    /// admin.
    ///
    /// # Errors
    /// [`Error::Denied`], [`Error::NotFound`] for a non-member.
    pub async fn transfer(&self, seat: &Seat, user: i64, name: String) -> Result<(), Error> {
        seat.allow(Action::Transfer, false)?;
        let org = seat.org.id;
        self.write(move |repo| {
            let target = member_named(repo, org, &name)?;
            repo.transfer(org, user, target.user_id)?
                .map_err(|r| refused("member", r))
        })
        .await
    }

    /// Deletes the seat's organization: `confirm` must be its slug. It is
    /// marked deleted at once (404 from then on, its slug kept taken) and
    /// its file closed; the file is removed after the grace
    /// ([`Orgs::purge_deleted`]), until when [`Orgs::restore`] brings it
    /// back.
    ///
    /// # Errors
    /// [`Error::Denied`], [`Error::Invalid`] without the confirmation.
    pub async fn delete(&self, seat: &Seat, confirm: Option<String>) -> Result<(), Error> {
        seat.allow(Action::DeleteOrg, false)?;
        if confirm.as_deref() != Some(seat.org.slug.as_str()) {
            return Err(Error::invalid(
                "confirm",
                "must be the organization's slug, to confirm the deletion",
            ));
        }
        let org = seat.org.id;
        self.write(move |repo| Ok(repo.mark_deleted(org)?)).await?;
        self.tenants.forget(org);
        tracing::info!(org = %seat.org.slug, id = org, "organization deleted");
        Ok(())
    }
}

fn member_named(repo: &mut dyn OrgStore, org: i64, name: &str) -> Result<Member, Error> {
    let name = name.trim().to_ascii_lowercase();
    let members = repo.members(org)?;
    members
        .into_iter()
        .find(|m| m.name == name)
        .ok_or(Error::NotFound("member"))
}
