//! Which blog a request is for: the organization-less blog of docs/BLOG.md
//! or one organization's (docs/BLOG.md, "Organizations").
//!
//! - [`locate`] (around the whole HTTP router, before routing) reads the
//!   `Host` header and a `/t/<slug>/` path prefix: `Host: acme.<domain>`
//!   and `/t/acme/api/…` (on any host) both mean organization `acme`, the
//!   prefix is stripped; the bare base domain, `www.<domain>` and every
//!   other host (an IP address, `localhost`) are the organization-less
//!   blog. A Host that is not a host name, a label under the base domain
//!   that is not a DNS label (`a.b.<domain>`, `-x.<domain>`), or a Host
//!   and a prefix naming two organizations are a 400. A Host that is an
//!   organization's custom domain (`blog.acme.com`, set with `PUT
//!   /api/orgs/{slug}/domain`; `crate::billing::domains`) is that
//!   organization, as long as its plan is business: below it the domain
//!   stays stored but answers 404.
//! - [`layer`] (outermost but the rate limiter, inside `/api`) finds the
//!   organization (404 if unknown or deleted), who is asking (their role
//!   seats them in the policy table), and opens its file (503 if missing
//!   or corrupt), and hands them to the handlers as a [`Scope`].
//! - [`Scope`], the extractor every blog handler takes: the [`Store`] to
//!   use, and [`Scope::allow`], the policy check. Without an organization
//!   the store is the daemon's database and everything is allowed as
//!   before (the blog's own author checks still apply).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::MaybeAuthUser;
use crate::blog::{Error, Store};
use crate::http::AppState;
use crate::orgs::{Action, Seat, Tenant};

/// The blog a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    /// The organization-less blog.
    Default,
    /// Organization with this slug.
    Org(String),
    /// Organization with this slug, by its custom domain (routed only
    /// while its plan allows a custom domain).
    Custom(String),
}

/// Which site `host` (a Host header's value) and `path` address under the
/// base `domain`, and the path to route (the prefix stripped).
///
/// # Errors
/// [`Error::BadRequest`] for a malformed host or a conflict.
pub fn site_of(
    domain: &str,
    host: Option<&str>,
    path: &str,
    custom: impl Fn(&str) -> Option<String>,
) -> Result<(Site, Option<String>), Error> {
    let by_host = match host {
        None => Site::Default,
        Some(host) => host_site(domain, host, custom)?,
    };
    let Some(rest) = path.strip_prefix("/t/") else {
        return Ok((by_host, None));
    };
    let (slug, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if agora_db::orgs::check_slug(slug).is_err() {
        return Err(Error::BadRequest(format!(
            "/t/{slug}/ does not name an organization (a DNS label)"
        )));
    }
    if let Site::Org(other) | Site::Custom(other) = &by_host
        && other != slug
    {
        return Err(Error::BadRequest(
            "the Host and the /t/ path name different organizations".into(),
        ));
    }
    Ok((Site::Org(slug.to_owned()), Some(format!("/{tail}"))))
}

fn host_site(
    domain: &str,
    host: &str,
    custom: impl Fn(&str) -> Option<String>,
) -> Result<Site, Error> {
    let bad = || Error::BadRequest(format!("the Host header {host:?} is not a host name"));
    if let Some(v6) = host.strip_prefix('[') {
        // [::1]:7080: an address, never an organization.
        return if v6.contains(']') {
            Ok(Site::Default)
        } else {
            Err(bad())
        };
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        Some(_) => return Err(bad()),
        None => host,
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(bad());
    }
    if name == domain {
        return Ok(Site::Default);
    }
    let Some(label) = name.strip_suffix(domain).and_then(|l| l.strip_suffix('.')) else {
        return Ok(custom(&name).map_or(Site::Default, Site::Custom));
    };
    if label == "www" {
        return Ok(Site::Default);
    }
    if label.contains('.') || agora_db::orgs::check_slug(label).is_err() {
        return Err(Error::BadRequest(format!(
            "{label:?} in the Host is not an organization's name (a DNS label)"
        )));
    }
    Ok(Site::Org(label.to_owned()))
}

/// Before routing: finds the [`Site`] and strips a `/t/<slug>` prefix.
pub async fn locate(State(shared): State<AppState>, mut req: Request, next: Next) -> Response {
    let host = match req.headers().get(header::HOST).map(|h| h.to_str()) {
        None => req.uri().host().map(str::to_owned),
        Some(Ok(h)) => Some(h.to_owned()),
        Some(Err(_)) => {
            return Error::BadRequest("the Host header is not text".into()).into_response();
        }
    };
    let path = req.uri().path().to_owned();
    // Only the blog is per organization; /healthz and the rest ignore Host.
    if !(path.starts_with("/api") || path.starts_with("/t/")) {
        return next.run(req).await;
    }
    let domains = shared.services.billing.domains();
    let custom = |host: &str| domains.slug_of(host);
    let (site, rewritten) =
        match site_of(&shared.config.blog.domain, host.as_deref(), &path, custom) {
            Ok(found) => found,
            Err(err) => return err.into_response(),
        };
    if let Some(path) = rewritten {
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        match format!("{path}{query}").parse::<Uri>() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return Error::BadRequest("malformed path".into()).into_response(),
        }
    }
    req.extensions_mut().insert(site);
    next.run(req).await
}

/// Inside `/api`: the organization, the asker's seat and the tenant file.
pub async fn layer(State(shared): State<AppState>, req: Request, next: Next) -> Response {
    let (slug, by_domain) = match req.extensions().get::<Site>().cloned() {
        Some(Site::Org(slug)) => (slug, false),
        Some(Site::Custom(slug)) => (slug, true),
        _ => return next.run(req).await,
    };
    let (mut parts, body) = req.into_parts();
    let viewer = match MaybeAuthUser::from_request_parts(&mut parts, &shared).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let orgs = &shared.services.orgs;
    // An anonymous GET whose answer the organization has cached is
    // answered without its file (see `crate::orgs::tenants`): the key is
    // the one the handlers cache under ([`cache_key`]).
    let anonymous_get = parts.method == axum::http::Method::GET && viewer.id().is_none();
    let key = if anonymous_get {
        let uri = axum::extract::OriginalUri::from_request_parts(&mut parts, &shared).await;
        uri.ok().map(|uri| cache_key(&uri))
    } else {
        None
    };
    let scope = async {
        let seat = orgs.seat(&slug, viewer.id()).await?;
        if by_domain
            && crate::billing::plan_of(&seat)
                .allows(crate::billing::plans::Limit::CustomDomain)
                .is_some()
        {
            // Stored but not routed below the business plan; the answer
            // names neither the organization nor its plan.
            return Err(Error::NotFound("organization"));
        }
        if let Some(hit) = key
            .as_deref()
            .filter(|_| seat.allow(Action::Read, false).is_ok())
            .and_then(|key| orgs.tenants().cached_response(seat.org.id, key))
        {
            let json = [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )];
            return Ok(Err((json, hit).into_response()));
        }
        let tenant = orgs.tenant(&seat).await?;
        Ok::<_, Error>(Ok(Scope {
            store: tenant.store().clone(),
            org: Some((seat, tenant)),
        }))
    };
    match scope.await {
        Ok(Ok(scope)) => {
            parts.extensions.insert(scope);
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(Err(cached)) => cached,
        Err(err) => err.into_response(),
    }
}

/// The key an anonymous GET's response is cached under: its path and
/// query as the client sent them.
pub(super) fn cache_key(uri: &axum::extract::OriginalUri) -> String {
    uri.0
        .path_and_query()
        .map_or_else(|| uri.0.path().to_owned(), |pq| pq.as_str().to_owned())
}

/// The blog storage and policy for one request.
#[derive(Clone)]
pub struct Scope {
    store: Store,
    org: Option<(Seat, Tenant)>,
}

impl Scope {
    /// The organization-less blog's scope.
    pub fn default_blog(shared: &AppState) -> Scope {
        Scope {
            store: shared.services.blog.store().clone(),
            org: None,
        }
    }

    /// The storage: the daemon's database, or the organization's file.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The organization and the asker's seat in it, if any.
    pub fn seat(&self) -> Option<&Seat> {
        self.org.as_ref().map(|(seat, _)| seat)
    }

    /// Refuses `action` when the organization's policy does; `own` says
    /// whether the resource is the asker's. Always allowed without an
    /// organization.
    ///
    /// # Errors
    /// [`Error::Denied`].
    pub fn allow(&self, action: Action, own: bool) -> Result<(), Error> {
        match self.seat() {
            Some(seat) => seat.allow(action, own),
            None => Ok(()),
        }
    }

    /// Whether the asker may act on others' resources (`action` with
    /// `own` false): an admin moderating comments. Never without an
    /// organization: there only authors change their own things.
    pub fn moderates(&self, action: Action) -> bool {
        self.seat().is_some_and(|seat| seat.moderates(action))
    }
}

impl FromRequestParts<AppState> for Scope {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        Ok(parts
            .extensions
            .get::<Scope>()
            .cloned()
            .unwrap_or_else(|| Scope::default_blog(state)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(host: Option<&str>, path: &str) -> Result<(Site, Option<String>), Error> {
        site_of("blog.localhost", host, path, |h| {
            (h == "blog.acme.com").then(|| "acme".to_owned())
        })
    }

    #[test]
    fn hosts_and_paths_pick_the_site() {
        let org = |s: &str| Site::Org(s.into());
        assert_eq!(
            site(Some("blog.localhost"), "/api").unwrap().0,
            Site::Default
        );
        assert_eq!(
            site(Some("blog.localhost:7080"), "/api").unwrap().0,
            Site::Default
        );
        assert_eq!(
            site(Some("www.blog.localhost"), "/api").unwrap().0,
            Site::Default
        );
        assert_eq!(
            site(Some("127.0.0.1:7080"), "/api").unwrap().0,
            Site::Default
        );
        assert_eq!(site(Some("[::1]:7080"), "/api").unwrap().0, Site::Default);
        assert_eq!(site(Some("example.com"), "/api").unwrap().0, Site::Default);
        assert_eq!(site(None, "/api").unwrap().0, Site::Default);
        assert_eq!(
            site(Some("acme.blog.localhost"), "/api").unwrap().0,
            org("acme")
        );
        assert_eq!(
            site(Some("ACME.Blog.Localhost.:80"), "/api").unwrap().0,
            org("acme")
        );
        assert_eq!(
            site(Some("Blog.Acme.com:443"), "/api").unwrap().0,
            Site::Custom("acme".into())
        );
        assert_eq!(
            site(Some("blog.acme.com"), "/t/acme/api").unwrap(),
            (org("acme"), Some("/api".into()))
        );
        assert_eq!(
            site(Some("127.0.0.1"), "/t/acme/api/tags").unwrap(),
            (org("acme"), Some("/api/tags".into()))
        );
        assert_eq!(
            site(Some("acme.blog.localhost"), "/t/acme/api").unwrap(),
            (org("acme"), Some("/api".into()))
        );
    }

    #[test]
    fn malformed_hosts_are_bad_requests() {
        for host in [
            "a.b.blog.localhost",
            "-x.blog.localhost",
            "api.blog.localhost",
            "bad host",
            "x:port",
            "[::1",
            "",
            "é.blog.localhost",
        ] {
            assert!(
                matches!(site(Some(host), "/api"), Err(Error::BadRequest(_))),
                "{host}"
            );
        }
        assert!(matches!(
            site(None, "/t/Bad/api"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            site(Some("acme.blog.localhost"), "/t/globex/api"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            site(Some("blog.acme.com"), "/t/globex/api"),
            Err(Error::BadRequest(_))
        ));
    }
}
