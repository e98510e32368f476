//! The base service: what every connection has — `ping`, accounts
//! (`register`, `login`, `whoami`), topic subscriptions, and the `sessions`
//! topic.
//!
//! [`Base`] answers the operations; signing in runs every service's
//! [`Lifecycle`] hooks through [`Hooks`], so chat subscribes the session to
//! its rooms without this module knowing chat exists. [`Sessions`] is the
//! base service's own lifecycle: it announces sessions on
//! [`SESSIONS_TOPIC`] and drops their topic subscriptions.

use std::sync::Arc;

use agora_wire::base::SESSIONS_TOPIC;
use agora_wire::names::validate_topic;
use agora_wire::{BaseEvent, BaseOp, BaseReply, ErrorBody, OrgRole, UserInfo};
use futures::FutureExt as _;
use futures::future::BoxFuture;

use crate::accounts::{Accounts, SignedIn};
use crate::hub::Hub;
use crate::service::{Hooks, Lifecycle, Routed, Service, signed_in};
use crate::session::Session;

/// The most topics one `subscribe` or `unsubscribe` may name.
const MAX_TOPICS: usize = 64;

/// The base service's handle. Cheap to clone.
#[derive(Clone)]
pub struct Base {
    accounts: Accounts,
    hub: Arc<Hub>,
    hooks: Hooks,
}

impl Base {
    /// The service over `accounts` and `hub`; sign-ins run `hooks`.
    pub fn new(accounts: Accounts, hub: Arc<Hub>, hooks: Hooks) -> Base {
        Base {
            accounts,
            hub,
            hooks,
        }
    }

    /// Sign-up, sign-in and tokens (also used by the RESP and HTTP sides).
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Runs `f` with the daemon's storage (the accounts' backend) and
    /// the signed-in user, or answers `unauthorized`.
    fn with_user<F, Fut>(&self, session: &Arc<Session>, f: F) -> Routed
    where
        F: FnOnce(agora_db::Storage, UserInfo) -> Fut,
        Fut: std::future::Future<Output = Result<BaseReply, ErrorBody>> + Send + 'static,
    {
        match signed_in(session) {
            Ok(user) => Routed::later(f(self.accounts.storage().clone(), user)),
            Err(err) => Routed::done(Err::<BaseReply, _>(err)),
        }
    }

    /// Signs the session in as `signed.user`. Signing in again as someone
    /// else first signs the previous user out of this session.
    async fn sign_in(&self, session: &Arc<Session>, signed: SignedIn) -> BaseReply {
        let same = session.user().is_some_and(|u| u.id == signed.user.id);
        if !same {
            if session.user().is_some() {
                self.hooks.signing_out(session);
            }
            session.set_user(signed.user.clone());
            self.hooks.signed_in(session).await;
        }
        BaseReply::Session {
            user: signed.user,
            token: signed.token,
            expires_at_ms: signed.expires_at_ms,
        }
    }
}

impl Service for Base {
    type Op = BaseOp;

    fn route(&self, op: BaseOp, session: &Arc<Session>) -> Routed {
        match op {
            BaseOp::Ping => Routed::done(Ok(BaseReply::Pong {
                server_time_ms: crate::now_ms(),
            })),
            BaseOp::Register { name, password } => {
                let (base, session) = (self.clone(), session.clone());
                Routed::later(async move {
                    let signed = base.accounts.register(&name, &password).await?;
                    base.hooks.user_created(&signed.user);
                    Ok(base.sign_in(&session, signed).await)
                })
            }
            BaseOp::Login { name, password } => {
                let (base, session) = (self.clone(), session.clone());
                Routed::later(async move {
                    let signed = base.accounts.login(&name, &password).await?;
                    Ok(base.sign_in(&session, signed).await)
                })
            }
            BaseOp::Whoami => Routed::done(Ok(BaseReply::Whoami {
                user: session.user(),
                session: session.info(),
            })),
            BaseOp::Orgs => {
                let user = match signed_in(session) {
                    Ok(user) => user,
                    Err(err) => return Routed::done(Err::<BaseReply, _>(err)),
                };
                let storage = self.accounts.storage().clone();
                Routed::later(async move {
                    let orgs = crate::service::blocking(move || {
                        storage.orgs(agora_db::Access::Read, |repo| {
                            repo.of_user(user.id).map(Ok::<_, std::convert::Infallible>)
                        })
                    })
                    .await?
                    .map_err(crate::service::internal)?
                    .unwrap_or_else(|never| match never {});
                    Ok(BaseReply::Orgs {
                        orgs: orgs
                            .into_iter()
                            .map(|(org, role)| OrgRole {
                                slug: org.slug,
                                name: org.name,
                                role: role.as_str().to_owned(),
                            })
                            .collect(),
                    })
                })
            }
            BaseOp::SshKeyAdd { key } => self.with_user(session, move |storage, user| async move {
                let key = crate::ssh::keys::add(&storage, user, &key).await?;
                Ok(BaseReply::SshKey { key })
            }),
            BaseOp::SshKeyList => self.with_user(session, |storage, user| async move {
                let keys = crate::ssh::keys::list(&storage, user).await?;
                Ok(BaseReply::SshKeys { keys })
            }),
            BaseOp::SshKeyRemove { fingerprint } => {
                self.with_user(session, move |storage, user| async move {
                    crate::ssh::keys::remove(&storage, user, fingerprint).await?;
                    Ok(BaseReply::Done)
                })
            }
            BaseOp::Subscribe { topics } => Routed::done(check_topics(&topics).map(|()| {
                self.hub.subscribe(session, &topics);
                BaseReply::Subscribed {
                    topics: session.add_topics(&topics),
                }
            })),
            BaseOp::Unsubscribe { topics } => Routed::done(check_topics(&topics).map(|()| {
                self.hub.unsubscribe(session.id, &topics);
                BaseReply::Subscribed {
                    topics: session.remove_topics(&topics),
                }
            })),
        }
    }

    fn is_barrier(op: &BaseOp) -> bool {
        matches!(op, BaseOp::Register { .. } | BaseOp::Login { .. })
    }
}

fn check_topics(topics: &[String]) -> Result<(), ErrorBody> {
    if topics.is_empty() {
        return Err(ErrorBody::bad_request("name at least one topic"));
    }
    if topics.len() > MAX_TOPICS {
        return Err(ErrorBody::bad_request(format!(
            "at most {MAX_TOPICS} topics per request"
        )));
    }
    topics
        .iter()
        .try_for_each(|t| validate_topic(t))
        .map_err(ErrorBody::bad_request)
}

/// The base service's lifecycle: sessions announced on [`SESSIONS_TOPIC`]
/// as they open, sign in and close; their topic subscriptions dropped when
/// they sign out or close.
pub struct Sessions {
    hub: Arc<Hub>,
}

impl Sessions {
    /// Announces on `hub`.
    pub fn new(hub: Arc<Hub>) -> Sessions {
        Sessions { hub }
    }

    fn announce(&self, event: BaseEvent) {
        self.hub.publish(SESSIONS_TOPIC, event);
    }

    fn drop_topics(&self, session: &Session) {
        let topics = session.topics();
        self.hub.unsubscribe(session.id, &topics);
        session.remove_topics(&topics);
    }
}

impl Lifecycle for Sessions {
    fn opened<'a>(&'a self, session: &'a Arc<Session>) -> BoxFuture<'a, ()> {
        self.announce(BaseEvent::SessionOpened {
            session: session.info(),
        });
        futures::future::ready(()).boxed()
    }

    fn signed_in<'a>(&'a self, session: &'a Arc<Session>) -> BoxFuture<'a, ()> {
        self.opened(session)
    }

    fn signing_out(&self, session: &Session) {
        self.drop_topics(session);
    }

    fn closed(&self, session: &Session) {
        self.drop_topics(session);
        self.announce(BaseEvent::SessionClosed {
            session: session.info(),
        });
    }
}
