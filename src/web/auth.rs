//! Who may call what: one table, enforced by one extractor.
//!
//! Every console and API route is listed in [`ROUTES`] with the access it needs.
//! Handlers take [`Authorized`], which looks the matched route up, authenticates
//! the caller (a session cookie; on `/api`, also an API token), checks the stage
//! of the session and the roles, and for a session changing something through
//! the API, the `X-CSRF-Token` header. A route missing from the table is refused:
//! the default is no. Console forms carry their CSRF token as a field, checked by
//! [`ConsoleForm`].

use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::AppState;
use crate::accounts::sessions::{self, COOKIE, Session, Stage};
use crate::roster::{Role, Volunteer};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A session that may still be enrolling its authenticator.
    Enrolling,
    /// Any volunteer, fully signed in.
    SignedIn,
    /// A volunteer holding one of these roles.
    Roles(&'static [Role]),
}

/// The roles of [`Volunteer::can_dispatch`], [`Volunteer::is_coordinator`] and
/// [`Volunteer::is_observer`], as the table lists them (a test keeps them equal).
const DISPATCH: &[Role] = &[Role::Dispatcher, Role::Coordinator];
const COORDINATOR: &[Role] = &[Role::Coordinator];
const OBSERVER: &[Role] = &[Role::Observer];

/// The authorization table: every console and API route.
pub const ROUTES: &[(Method, &str, Access)] = &[
    (Method::GET, "/api/v1/openapi.json", Access::Public),
    (Method::POST, "/api/v1/session", Access::Public),
    (Method::POST, "/api/v1/enrollment", Access::Public),
    (Method::POST, "/api/v1/enrollment/totp", Access::Enrolling),
    (Method::DELETE, "/api/v1/session", Access::SignedIn),
    (Method::DELETE, "/api/v1/sessions", Access::SignedIn),
    (Method::GET, "/api/v1/me", Access::SignedIn),
    (Method::PUT, "/api/v1/me/shift", Access::SignedIn),
    (Method::GET, "/api/v1/me/items", Access::SignedIn),
    (Method::POST, "/api/v1/me/tokens", Access::SignedIn),
    (Method::GET, "/api/v1/me/keys", Access::SignedIn),
    (Method::POST, "/api/v1/me/keys", Access::SignedIn),
    (Method::DELETE, "/api/v1/me/keys/{id}", Access::SignedIn),
    (Method::GET, "/api/v1/dashboard", Access::Roles(DISPATCH)),
    (Method::GET, "/api/v1/incidents", Access::SignedIn),
    (Method::POST, "/api/v1/incidents", Access::Roles(DISPATCH)),
    (Method::GET, "/api/v1/incidents/{id}", Access::SignedIn),
    (Method::POST, "/api/v1/incidents/{id}/status", Access::Roles(DISPATCH)),
    (Method::POST, "/api/v1/incidents/{id}/dispatch", Access::Roles(OBSERVER)),
    (Method::POST, "/api/v1/incidents/{id}/notes", Access::SignedIn),
    (Method::GET, "/api/v1/incidents/{id}/notes/recipients", Access::SignedIn),
    (Method::GET, "/api/v1/intake", Access::Roles(DISPATCH)),
    (Method::POST, "/api/v1/intake/{id}/replies", Access::Roles(DISPATCH)),
    (Method::POST, "/api/v1/intake/{id}/handled", Access::Roles(DISPATCH)),
    (Method::POST, "/api/v1/items", Access::SignedIn),
    (Method::GET, "/api/v1/items/{id}/ciphertext", Access::SignedIn),
    (Method::GET, "/api/v1/volunteers", Access::Roles(COORDINATOR)),
    (Method::POST, "/api/v1/volunteers", Access::Roles(COORDINATOR)),
    (Method::DELETE, "/api/v1/volunteers/{alias}", Access::Roles(COORDINATOR)),
    (Method::PUT, "/api/v1/volunteers/{alias}/shift", Access::Roles(COORDINATOR)),
    (Method::POST, "/api/v1/volunteers/{alias}/revoke", Access::Roles(COORDINATOR)),
    (Method::POST, "/api/v1/volunteers/{alias}/enrollment", Access::Roles(COORDINATOR)),
    (Method::GET, "/api/v1/exposure", Access::Roles(COORDINATOR)),
    (Method::GET, "/api/v1/audit", Access::Roles(COORDINATOR)),
    (Method::GET, "/", Access::Public),
    (Method::GET, "/console/static/console.css", Access::Public),
    (Method::GET, "/console/static/quietline.js", Access::Public),
    (Method::GET, "/console/sign-in", Access::Public),
    (Method::POST, "/console/sign-in", Access::Public),
    (Method::GET, "/console/enroll", Access::Public),
    (Method::POST, "/console/enroll", Access::Public),
    (Method::GET, "/console/enroll/totp", Access::Enrolling),
    (Method::POST, "/console/enroll/totp", Access::Enrolling),
    (Method::GET, "/console", Access::SignedIn),
    (Method::POST, "/console/shift", Access::SignedIn),
    (Method::POST, "/console/sign-out", Access::SignedIn),
    (Method::POST, "/console/sign-out-everywhere", Access::SignedIn),
    (Method::GET, "/console/items", Access::SignedIn),
    (Method::GET, "/console/items/{id}", Access::SignedIn),
    (Method::GET, "/console/keys", Access::SignedIn),
    (Method::POST, "/console/keys", Access::SignedIn),
    (Method::POST, "/console/keys/{id}/remove", Access::SignedIn),
    (Method::POST, "/console/tokens", Access::SignedIn),
    (Method::GET, "/console/incidents/{id}", Access::SignedIn),
    (Method::POST, "/console/incidents", Access::Roles(DISPATCH)),
    (Method::POST, "/console/incidents/{id}/status", Access::Roles(DISPATCH)),
    (Method::POST, "/console/incidents/{id}/dispatch", Access::Roles(OBSERVER)),
    (Method::GET, "/console/roster", Access::Roles(COORDINATOR)),
    (Method::POST, "/console/roster", Access::Roles(COORDINATOR)),
    (Method::POST, "/console/roster/{alias}/shift", Access::Roles(COORDINATOR)),
    (Method::POST, "/console/roster/{alias}/enrollment", Access::Roles(COORDINATOR)),
    (Method::POST, "/console/roster/{alias}/revoke", Access::Roles(COORDINATOR)),
    (Method::POST, "/console/roster/{alias}/remove", Access::Roles(COORDINATOR)),
    (Method::GET, "/console/exposure", Access::Roles(COORDINATOR)),
    (Method::GET, "/console/audit", Access::Roles(COORDINATOR)),
];

/// What an API token may do: read and submit sealed items, and say whose it is.
/// Everything else needs a session with its second factor, so a token left in a
/// file can neither manage the roster nor make more tokens.
pub const TOKEN_ROUTES: &[(Method, &str)] = &[
    (Method::GET, "/api/v1/me"),
    (Method::GET, "/api/v1/me/items"),
    (Method::POST, "/api/v1/items"),
    (Method::GET, "/api/v1/items/{id}/ciphertext"),
    (Method::GET, "/api/v1/exposure"),
];

/// The access a route needs, if it is in the table.
pub fn access(method: &Method, route: &str) -> Option<Access> {
    ROUTES.iter().find(|(m, r, _)| m == method && *r == route).map(|(_, _, a)| *a)
}

/// How the caller proved who they are.
#[derive(Clone)]
pub enum Via {
    Session(Box<Session>),
    Token,
}

/// A caller the table lets through. `volunteer` is `None` on public routes when
/// nobody is signed in.
pub struct Authorized {
    /// What the route needed.
    pub access: Access,
    pub volunteer: Option<Volunteer>,
    pub via: Option<Via>,
}

impl Authorized {
    /// The volunteer; on routes that are not public there always is one.
    pub fn who(&self) -> Result<&Volunteer, ApiError> {
        self.volunteer.as_ref().ok_or(ApiError::Unauthorized)
    }

    pub fn session(&self) -> Option<&Session> {
        match &self.via {
            Some(Via::Session(s)) => Some(s),
            _ => None,
        }
    }
}

/// The session cookie: `HttpOnly; Secure; SameSite=Strict`, for the whole site.
pub fn session_cookie(token: &SecretString) -> HeaderValue {
    let value = format!(
        "{COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        token.expose_secret(),
        sessions::ABSOLUTE.as_secs()
    );
    HeaderValue::from_str(&value).expect("a cookie of hex digits")
}

/// The session cookie, emptied and expired: what signing out sends.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("__Host-ql_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// Every value of the cookie `name` the request carries.
pub fn cookie_values<'h>(headers: &'h HeaderMap, name: &str) -> Vec<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .collect()
}

/// The dashboard's own refresh: not a sign that someone is at the screen.
fn is_auto_refresh(parts: &Parts) -> bool {
    parts.uri.query().is_some_and(|q| q.split('&').any(|p| p == "auto=1"))
}

/// A form posted from another site: browsers say so in `Sec-Fetch-Site`, or by an
/// `Origin` that is not this server's.
fn cross_site(parts: &Parts) -> bool {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin.split("://").nth(1) != Some(host),
        _ => false,
    }
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let route = parts.extensions.get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
        // HEAD is answered by the GET handler, and needs what GET needs.
        let method = if parts.method == Method::HEAD { Method::GET } else { parts.method.clone() };
        let Some(access) = access(&method, &route) else {
            tracing::error!(route = %route, "a route is missing from the authorization table; refused");
            return Err(ApiError::Forbidden("not allowed".into()));
        };
        let api = route.starts_with("/api/");
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let cookies = cookie_values(&parts.headers, COOKIE);
        // Two session cookies: one was planted (or left over); which is meant
        // cannot be known, so neither is used.
        if cookies.len() > 1 {
            return Err(ApiError::BadRequest("the request carries two session cookies; sign in again".into()));
        }
        let (volunteer, via) = match (bearer, cookies.first().copied()) {
            (Some(token), _) if api => {
                if !TOKEN_ROUTES.iter().any(|(m, r)| *m == method && *r == route) {
                    return Err(ApiError::Forbidden("an API token cannot do this; sign in".into()));
                }
                match crate::accounts::authenticate(&state.db, token, state.vault.clock().now()).await? {
                    Some(v) => (Some(v), Some(Via::Token)),
                    None => return Err(ApiError::Unauthorized),
                }
            }
            (_, Some(cookie)) => match sessions::lookup(state, cookie, !is_auto_refresh(parts)).await? {
                Some(s) => (Some(s.volunteer.clone()), Some(Via::Session(Box::new(s)))),
                None => (None, None),
            },
            _ => (None, None),
        };
        let stage = match &via {
            Some(Via::Session(s)) => Some(s.stage),
            Some(Via::Token) => Some(Stage::Full),
            None => None,
        };
        match access {
            Access::Public => {}
            Access::Enrolling => {
                if stage.is_none() {
                    return Err(ApiError::Unauthorized);
                }
            }
            Access::SignedIn | Access::Roles(_) => {
                match stage {
                    None => return Err(ApiError::Unauthorized),
                    Some(Stage::Totp) => return Err(ApiError::Enrolling),
                    Some(Stage::Full) => {}
                }
                if let (Access::Roles(roles), Some(v)) = (access, &volunteer)
                    && !roles.iter().any(|r| v.has_role(*r))
                {
                    return Err(ApiError::Forbidden("your roles do not allow this".into()));
                }
            }
        }
        // A session changing something through the API proves it is not a forged
        // cross-site request by sending its CSRF token as a header.
        if api
            && is_unsafe(&parts.method)
            && access != Access::Public
            && let Some(Via::Session(s)) = &via
        {
            let sent = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
            if !crate::secret::constant_eq(sent, &s.csrf) {
                return Err(ApiError::Forbidden("missing or wrong X-CSRF-Token".into()));
            }
        }
        Ok(Authorized { access, volunteer, via })
    }
}

/// The client's network (`/24` or `/48`), when known: the connection's peer, or,
/// for a connection from one of `trusted_proxies`, the last address in
/// `client_ip_header`. On the onion service's listener nothing is known (every
/// visitor arrives from the Tor daemon) and no header is believed: sign-in
/// limits there are per alias. Used for sign-in limits only, and kept only hashed.
pub struct ClientNetwork(pub Option<String>);

impl FromRequestParts<AppState> for ClientNetwork {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if parts.extensions.get::<super::listen::Onion>().is_some() {
            return Ok(ClientNetwork(None));
        }
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|p| p.0.ip());
        let trusted = |ip: std::net::IpAddr| state.config.accounts.trusted_proxies.iter().any(|n| n.contains(ip));
        let forwarded = match (&state.config.accounts.client_ip_header, peer) {
            (Some(header), Some(ip)) if trusted(ip) => parts
                .headers
                .get(header.as_str())
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok()),
            _ => None,
        };
        Ok(ClientNetwork(forwarded.or(peer).map(sessions::network_of)))
    }
}

/// A console form: the caller as [`Authorized`] decides, the fields, and the
/// form's `csrf` field checked against the session's token (every console form
/// has one; public forms are checked against nothing but SameSite).
pub struct ConsoleForm<T> {
    pub auth: Authorized,
    pub form: T,
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for ConsoleForm<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        // Also the public forms (sign-in, enrollment): nobody may be signed in to
        // an account by another site.
        if cross_site(&parts) {
            return Err(ApiError::Forbidden("this form must be sent from this site".into()));
        }
        let auth = Authorized::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .map_err(|_| ApiError::BadRequest("the form is too large".into()))?;
        if auth.access != Access::Public
            && let Some(session) = auth.session()
        {
            let field: CsrfField = serde_urlencoded::from_bytes(&bytes).unwrap_or(CsrfField { csrf: String::new() });
            if !crate::secret::constant_eq(&field.csrf, &session.csrf) {
                return Err(ApiError::Forbidden("this form has expired; reload the page and try again".into()));
            }
        }
        let form = serde_urlencoded::from_bytes::<T>(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("the form could not be read: {e}")));
        crate::secret::zeroize_body(bytes);
        drop(parts);
        Ok(ConsoleForm { auth, form: form? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_role_lists_match_the_role_predicates() {
        for role in Role::ALL {
            let v = crate::roster::test_volunteer(1, &[role], &["en"], true, false);
            assert_eq!(DISPATCH.contains(&role), v.can_dispatch(), "{role}");
            assert_eq!(COORDINATOR.contains(&role), v.is_coordinator(), "{role}");
            assert_eq!(OBSERVER.contains(&role), v.is_observer(), "{role}");
        }
    }
}
