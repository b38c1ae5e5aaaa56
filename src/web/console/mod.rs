//! The console: small server-rendered pages for dispatchers, observers, attorneys
//! and coordinators. No framework and nothing loaded from anywhere else; every
//! form carries the session's CSRF token. Content reaches the page sealed: one
//! script of our own (`quietline.js`, built from `web/`) makes and keeps the
//! volunteer's key in the browser and opens and seals items there. Every page
//! works without it for what it did before, and says how to read with
//! `quietline open` instead.
//!
//! Pages are maud templates, which escape every value they splice in. One file
//! per resource; each page asks the domain for what it shows, never the API.
//! Who may see which page is the table in `web::auth`, like the API; a refusal
//! is a page with the status the API gives the same failure.

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::de::DeserializeOwned;

use super::auth::{Authorized, ConsoleForm, Via};
use super::error::ApiError;
use crate::AppState;
use crate::accounts::sessions::Session;
use crate::clock::UnixTime;

mod admin;
mod dashboard;
mod incidents;
mod items;
mod keys;
mod roster;
mod session;

const CSS: &str = include_str!("console.css");
/// Built from `web/` by `npm run build`; CI rebuilds it from the lockfile and
/// fails if a byte differs.
const SCRIPT: &str = include_str!("quietline.js");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(session::root))
        .route("/console/static/console.css", get(css))
        .route("/console/static/quietline.js", get(script))
        .route("/console/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/console/enroll", get(session::enroll_page).post(session::enroll))
        .route("/console/enroll/totp", get(session::totp_page).post(session::totp))
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/sign-out-everywhere", post(session::sign_out_everywhere))
        .route("/console", get(dashboard::dashboard))
        .route("/console/shift", post(dashboard::shift))
        .route("/console/items", get(items::items))
        .route("/console/items/{id}", get(items::item))
        .route("/console/keys", get(keys::keys_page).post(keys::add_key))
        .route("/console/keys/{id}/remove", post(keys::remove_key))
        .route("/console/tokens", post(items::new_token))
        .route("/console/incidents", post(incidents::new_incident))
        .route("/console/incidents/{id}", get(incidents::incident))
        .route("/console/incidents/{id}/status", post(incidents::incident_status))
        .route("/console/incidents/{id}/dispatch", post(incidents::incident_dispatch))
        .route("/console/roster", get(roster::roster_page).post(roster::add_volunteer))
        .route("/console/roster/{alias}/shift", post(roster::roster_shift))
        .route("/console/roster/{alias}/enrollment", post(roster::roster_code))
        .route("/console/roster/{alias}/revoke", post(roster::roster_revoke))
        .route("/console/roster/{alias}/remove", post(roster::roster_remove))
        .route("/console/exposure", get(admin::exposure))
        .route("/console/audit", get(admin::audit))
}

/// An error as a page: sign-in for those not signed in, the enrollment step for
/// those still enrolling, a short message with the API's status otherwise.
pub struct ConsoleError(ApiError);

impl<E: Into<ApiError>> From<E> for ConsoleError {
    fn from(e: E) -> Self {
        ConsoleError(e.into())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, message) = match self.0 {
            ApiError::Unauthorized => return Redirect::to("/console/sign-in").into_response(),
            ApiError::Enrolling => return Redirect::to("/console/enroll/totp").into_response(),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong; the operator can find it in the log.".into())
            }
            other => (other.status(), other.message()),
        };
        let body = html! {
            h1 { (status.as_u16()) }
            p role="alert" { (message) }
            p { a href="/console" { "Back" } }
        };
        (status, page("Not possible", None, body)).into_response()
    }
}

type Result<T> = std::result::Result<T, ConsoleError>;

/// A refusal a form shows above itself (what was wrong with the input, with
/// the status the API gives it); anything else, an outage included, is the
/// error page with the API's status.
fn refusal(e: impl Into<ApiError>) -> Result<ApiError> {
    match e.into() {
        e @ (ApiError::Unavailable(_) | ApiError::Internal(_)) => Err(ConsoleError(e)),
        e => Ok(e),
    }
}

/// Someone on a public page, let in by the table as any page is (a request
/// that carries two session cookies, for one, is refused).
pub struct Visitor;

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        Authorized::from_request_parts(parts, state).await?;
        Ok(Visitor)
    }
}

/// The session of a page that needs one; without one, the way to sign in.
pub struct ConsoleSession(pub Session);

fn session_of(auth: Authorized) -> Result<Session> {
    match auth.via {
        Some(Via::Session(s)) => Ok(*s),
        _ => Err(ApiError::Unauthorized.into()),
    }
}

impl FromRequestParts<AppState> for ConsoleSession {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        session_of(Authorized::from_request_parts(parts, state).await?).map(ConsoleSession)
    }
}

/// A form posted with a session, its CSRF field checked (see [`ConsoleForm`]).
pub struct SessionForm<T> {
    pub session: Session,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for SessionForm<T> {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self> {
        let ConsoleForm { auth, form } = ConsoleForm::from_request(request, state).await?;
        Ok(SessionForm { session: session_of(auth)?, form })
    }
}

/// A form anyone may post (signing in, enrolling); still only from this site.
pub struct PublicForm<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for PublicForm<T> {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self> {
        Ok(PublicForm(ConsoleForm::<T>::from_request(request, state).await?.form))
    }
}

/// A form with no fields but its CSRF token.
#[derive(serde::Deserialize)]
pub struct Empty {}

/// A whole page. `nav` adds the signed-in header and its forms.
fn page(title: &str, nav: Option<&Session>, body: Markup) -> Html<String> {
    page_with(title, nav, html! {}, body)
}

fn page_with(title: &str, nav: Option<&Session>, head: Markup, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                (head)
                title { (title) " — quietline" }
                link rel="stylesheet" href="/console/static/console.css";
                // Signed-in pages only: the script calls the API with the session.
                @if let Some(s) = nav {
                    meta name="csrf-token" content=(s.csrf);
                    script type="module" src="/console/static/quietline.js" {}
                }
            }
            body {
                @if let Some(s) = nav { (header(s)) }
                main id="main" { (body) }
            }
        }
    };
    Html(markup.into_string())
}

fn header(s: &Session) -> Markup {
    let v = &s.volunteer;
    let mut links = vec![("/console", "Dashboard"), ("/console/items", "My items"), ("/console/keys", "Keys")];
    if v.is_coordinator() {
        links.extend([("/console/roster", "Roster"), ("/console/exposure", "Exposure"), ("/console/audit", "Audit")]);
    }
    html! {
        header {
            nav aria-label="Main" {
                ul { @for (href, label) in links { li { a href=(href) { (label) } } } }
            }
            p { "Signed in as " strong { (v.alias) } " — " (if v.on_shift { "on shift" } else { "off shift" }) }
            form method="post" action="/console/shift" {
                (csrf(s))
                input type="hidden" name="on" value=(!v.on_shift);
                button type="submit" { (if v.on_shift { "Go off shift" } else { "Go on shift" }) }
            }
            form method="post" action="/console/sign-out" { (csrf(s)) button type="submit" { "Sign out" } }
            form method="post" action="/console/sign-out-everywhere" {
                (csrf(s))
                button type="submit" { "Sign out everywhere" }
            }
        }
    }
}

/// The hidden field every form of a signed-in page carries.
fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A table's column headings.
fn column_heads(names: &[&str]) -> Markup {
    html! { thead { tr { @for name in names { th scope="col" { (name) } } } } }
}

/// A message above a form, if there is one.
fn alert(message: Option<&str>) -> Markup {
    html! { @if let Some(m) = message { p role="alert" { (m) } } }
}

fn when(t: i64) -> String {
    UnixTime(t).display_utc()
}

/// How to read an item without the script, or on another computer.
fn read_elsewhere(state: &AppState, id: Option<i64>) -> Markup {
    let server = state.config.public_url.as_deref().unwrap_or("https://this-server");
    let item = id.map(|i| i.to_string()).unwrap_or_else(|| "12".into());
    html! {
        p data-ql-no-script {
            "Without the page's script, open items on your own computer with your age key or its backup: "
            code { "quietline open --identity your-key.txt --server " (server) " --token-file your-token.txt " (item) }
            " (an API token from " a href="/console/items" { "My items" } ")."
        }
    }
}

async fn script() -> Response {
    let mut r = SCRIPT.into_response();
    // Never cached (the security headers say no-store): a new release's script
    // is used at once.
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    r
}

async fn css() -> Response {
    let mut r = CSS.into_response();
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    r.headers_mut().insert("cache-control", HeaderValue::from_static("public, max-age=3600"));
    r
}
