//! The console: small server-rendered pages for dispatchers, observers, attorneys
//! and coordinators. No framework, no script, nothing loaded from anywhere else;
//! every form carries the session's CSRF token; content stays sealed (a page says
//! an item exists, who reads it and when it goes, and how to open it).
//!
//! Who may see which page is the table in `web::auth`, like the API.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::auth::{Authorized, ClientNetwork, ConsoleForm, clear_cookie, session_cookie};
use super::error::ApiError;
use crate::AppState;
use crate::accounts::sessions::{self, Enrollment, Session, Stage};
use crate::audit::Actor;
use crate::clock::UnixTime;
use crate::dispatch::NoteExpiry;
use crate::dispatch::views::IncidentView;
use crate::roster::{self, Volunteer};
use crate::telephony::twiml::escape;

const CSS: &str = include_str!("console.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/console/static/console.css", get(css))
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/enroll", get(enroll_page).post(enroll))
        .route("/console/enroll/totp", get(totp_page).post(totp))
        .route("/console", get(dashboard))
        .route("/console/shift", post(shift))
        .route("/console/sign-out", post(sign_out))
        .route("/console/sign-out-everywhere", post(sign_out_everywhere))
        .route("/console/items", get(items))
        .route("/console/tokens", post(new_token))
        .route("/console/incidents", post(new_incident))
        .route("/console/incidents/{id}", get(incident))
        .route("/console/incidents/{id}/status", post(incident_status))
        .route("/console/incidents/{id}/dispatch", post(incident_dispatch))
        .route("/console/roster", get(roster_page).post(add_volunteer))
        .route("/console/roster/{alias}/shift", post(roster_shift))
        .route("/console/roster/{alias}/enrollment", post(roster_code))
        .route("/console/roster/{alias}/revoke", post(roster_revoke))
        .route("/console/roster/{alias}/remove", post(roster_remove))
        .route("/console/exposure", get(exposure))
        .route("/console/audit", get(audit))
}

/// An error as a page: sign-in for those not signed in, the enrollment step for
/// those still enrolling, a short message otherwise.
pub struct ConsoleError(ApiError);

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError(e)
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
            other => {
                let status = other.status();
                (status, other.message())
            }
        };
        let body = format!(
            "<h1>{}</h1><p role=\"alert\">{}</p><p><a href=\"/console\">Back</a></p>",
            status.as_u16(),
            escape(&message)
        );
        (status, page("Not possible", None, &body)).into_response()
    }
}

type Result<T> = std::result::Result<T, ConsoleError>;

/// A refusal a form shows above itself (what was wrong with the input, with
/// the status the API gives it); anything else, an outage included, is the
/// error page with the API's status.
fn refusal(e: ApiError) -> std::result::Result<ApiError, ApiError> {
    match e {
        ApiError::Unavailable(_) | ApiError::Internal(_) => Err(e),
        e => Ok(e),
    }
}

/// A whole page. `nav` adds the signed-in header and its forms.
fn page(title: &str, nav: Option<&Session>, body: &str) -> Html<String> {
    page_with(title, nav, body, "")
}

fn page_with(title: &str, nav: Option<&Session>, body: &str, head: &str) -> Html<String> {
    let header = match nav {
        Some(s) => {
            let v = &s.volunteer;
            let mut links = vec![("/console", "Dashboard"), ("/console/items", "My items")];
            if v.is_coordinator() {
                links.extend([
                    ("/console/roster", "Roster"),
                    ("/console/exposure", "Exposure"),
                    ("/console/audit", "Audit"),
                ]);
            }
            let links: String =
                links.iter().map(|(href, label)| format!("<li><a href=\"{href}\">{label}</a></li>")).collect();
            format!(
                "<header><nav aria-label=\"Main\"><ul>{links}</ul></nav>\
                 <p>Signed in as <strong>{alias}</strong> — {shift}</p>\
                 <form method=\"post\" action=\"/console/shift\">{csrf}\
                 <input type=\"hidden\" name=\"on\" value=\"{next}\">\
                 <button type=\"submit\">{label}</button></form>\
                 <form method=\"post\" action=\"/console/sign-out\">{csrf}<button type=\"submit\">Sign out</button></form>\
                 <form method=\"post\" action=\"/console/sign-out-everywhere\">{csrf}\
                 <button type=\"submit\">Sign out everywhere</button></form></header>",
                alias = escape(v.alias.as_str()),
                shift = if v.on_shift { "on shift" } else { "off shift" },
                csrf = csrf_field(s),
                next = if v.on_shift { "false" } else { "true" },
                label = if v.on_shift { "Go off shift" } else { "Go on shift" },
            )
        }
        None => String::new(),
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{head}\
         <title>{} — quietline</title><link rel=\"stylesheet\" href=\"/console/static/console.css\"></head>\
         <body>{header}<main id=\"main\">{body}</main></body></html>",
        escape(title)
    ))
}

fn csrf_field(s: &Session) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(&s.csrf))
}

fn when(t: i64) -> String {
    UnixTime(t).display_utc()
}

fn session_of(auth: &Authorized) -> std::result::Result<&Session, ApiError> {
    auth.session().ok_or(ApiError::Unauthorized)
}

/// `/`: the console, which shows the dashboard to someone signed in, the
/// enrollment step to someone enrolling, and the sign-in page to anyone else.
async fn root() -> Redirect {
    Redirect::to("/console")
}

async fn css() -> Response {
    let mut r = CSS.into_response();
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    r.headers_mut().insert("cache-control", HeaderValue::from_static("public, max-age=3600"));
    r
}

fn sign_in_form(message: Option<&str>) -> Html<String> {
    let alert = message.map(|m| format!("<p role=\"alert\">{}</p>", escape(m))).unwrap_or_default();
    page(
        "Sign in",
        None,
        &format!(
            "<h1>Sign in</h1>{alert}<form method=\"post\" action=\"/console/sign-in\">\
             <label for=\"alias\">Alias</label><input id=\"alias\" name=\"alias\" autocomplete=\"username\" required>\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <label for=\"code\">Code from your authenticator app</label>\
             <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9 ]*\" required>\
             <button type=\"submit\">Sign in</button></form>\
             <p>New here? <a href=\"/console/enroll\">Enroll with the code a coordinator gave you</a>.</p>"
        ),
    )
}

async fn sign_in_page(auth: std::result::Result<Authorized, ApiError>) -> Result<Response> {
    auth?;
    Ok(sign_in_form(None).into_response())
}

#[derive(Deserialize)]
struct SignInForm {
    alias: String,
    password: SecretString,
    code: String,
}

async fn sign_in(
    State(state): State<AppState>,
    ClientNetwork(network): ClientNetwork,
    form: std::result::Result<ConsoleForm<SignInForm>, ApiError>,
) -> Result<Response> {
    let f = form?.form;
    match sessions::sign_in(&state, &f.alias, f.password, &f.code, network.as_deref()).await {
        Ok(s) => {
            let mut r = Redirect::to("/console").into_response();
            r.headers_mut().insert(SET_COOKIE, session_cookie(&s.token));
            Ok(r)
        }
        Err(e) => {
            let e = refusal(e.into())?;
            Ok((e.status(), sign_in_form(Some(&e.message()))).into_response())
        }
    }
}

fn enroll_form(message: Option<&str>) -> Html<String> {
    let alert = message.map(|m| format!("<p role=\"alert\">{}</p>", escape(m))).unwrap_or_default();
    page(
        "Enroll",
        None,
        &format!(
            "<h1>Enroll</h1>{alert}<p>Use the one-time code a coordinator gave you. Then choose a password \
             (at least {} characters) and set up an authenticator app.</p>\
             <form method=\"post\" action=\"/console/enroll\">\
             <label for=\"alias\">Alias</label><input id=\"alias\" name=\"alias\" autocomplete=\"username\" required>\
             <label for=\"code\">Enrollment code</label><input id=\"code\" name=\"code\" required>\
             <label for=\"password\">New password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>\
             <label for=\"password2\">New password, again</label>\
             <input id=\"password2\" name=\"password2\" type=\"password\" autocomplete=\"new-password\" required>\
             <label for=\"age\">Your age public key (optional, <code>age1…</code>)</label>\
             <input id=\"age\" name=\"age_recipient\">\
             <button type=\"submit\">Continue</button></form>",
            crate::accounts::password::MIN_LEN
        ),
    )
}

async fn enroll_page(auth: std::result::Result<Authorized, ApiError>) -> Result<Response> {
    auth?;
    Ok(enroll_form(None).into_response())
}

#[derive(Deserialize)]
struct EnrollForm {
    alias: String,
    code: SecretString,
    password: SecretString,
    password2: SecretString,
    #[serde(default)]
    age_recipient: String,
}

async fn enroll(
    State(state): State<AppState>,
    ClientNetwork(network): ClientNetwork,
    form: std::result::Result<ConsoleForm<EnrollForm>, ApiError>,
) -> Result<Response> {
    let f = form?.form;
    if f.password.expose_secret() != f.password2.expose_secret() {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, enroll_form(Some("The two passwords differ."))).into_response());
    }
    let e = Enrollment { alias: f.alias, code: f.code, password: f.password, age_recipient: Some(f.age_recipient) };
    match sessions::enroll(&state, e, network.as_deref()).await {
        Ok(s) => {
            let mut r = Redirect::to("/console/enroll/totp").into_response();
            r.headers_mut().insert(SET_COOKIE, session_cookie(&s.token));
            Ok(r)
        }
        Err(e) => {
            let e = refusal(e.into())?;
            Ok((e.status(), enroll_form(Some(&e.message()))).into_response())
        }
    }
}

async fn totp_page(State(state): State<AppState>, auth: std::result::Result<Authorized, ApiError>) -> Result<Response> {
    let auth = auth?;
    let s = session_of(&auth)?;
    if s.stage == Stage::Full {
        return Ok(Redirect::to("/console").into_response());
    }
    Ok(totp_form(&state, s, None).await?.into_response())
}

async fn totp_form(
    state: &AppState,
    s: &Session,
    message: Option<&str>,
) -> std::result::Result<Html<String>, ApiError> {
    let secret = sessions::pending_totp(state, s).await?;
    let uri = secret.uri("quietline", s.volunteer.alias.as_str());
    let svg = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    let alert = message.map(|m| format!("<p role=\"alert\">{}</p>", escape(m))).unwrap_or_default();
    let body = format!(
        "<h1>Set up your authenticator</h1>{alert}<p>Scan this code with an authenticator app (any app for \
         six-digit codes), or type the key by hand. Then enter the code it shows.</p>\
         <figure><div class=\"qr\" role=\"img\" aria-label=\"QR code of your authenticator key\">{svg}</div>\
         <figcaption>Key: <code id=\"totp-secret\">{}</code></figcaption></figure>\
         <form method=\"post\" action=\"/console/enroll/totp\">{}\
         <label for=\"code\">Code from the app</label>\
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
         <button type=\"submit\">Finish</button></form>",
        escape(secret.base32().as_str()),
        csrf_field(s)
    );
    Ok(page("Authenticator", None, &body))
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn totp(
    State(state): State<AppState>,
    form: std::result::Result<ConsoleForm<CodeForm>, ApiError>,
) -> Result<Response> {
    let form = form?;
    let s = session_of(&form.auth)?;
    if s.stage == Stage::Full {
        return Ok(Redirect::to("/console").into_response());
    }
    match sessions::confirm_totp(&state, s, &form.form.code).await {
        Ok(()) => Ok(Redirect::to("/console").into_response()),
        Err(e) => {
            let e = refusal(e.into())?;
            Ok((e.status(), totp_form(&state, s, Some(&e.message())).await?).into_response())
        }
    }
}

fn incident_row(i: &IncidentView) -> String {
    format!(
        "<tr><td><a href=\"/console/incidents/{id}\">#{id}</a></td><td>{zone}</td><td>{kind}</td><td>{status}</td>\
         <td>{assigned} of {needed}</td></tr>",
        id = i.id,
        zone = escape(&i.zone),
        kind = escape(&i.kind),
        status = i.status.label(),
        assigned = i.assigned,
        needed = i.needed
    )
}

fn incident_table(caption: &str, rows: &[IncidentView]) -> String {
    if rows.is_empty() {
        return format!("<p>{}: none.</p>", escape(caption));
    }
    let body: String = rows.iter().map(incident_row).collect();
    format!(
        "<table><caption>{}</caption><thead><tr><th scope=\"col\">Incident</th><th scope=\"col\">Zone</th>\
         <th scope=\"col\">Kind</th><th scope=\"col\">Status</th><th scope=\"col\">Observers</th></tr></thead>\
         <tbody>{body}</tbody></table>",
        escape(caption)
    )
}

async fn dashboard(State(state): State<AppState>, auth: std::result::Result<Authorized, ApiError>) -> Result<Response> {
    let auth = auth?;
    let s = session_of(&auth)?;
    let v = &s.volunteer;
    let mut body = String::from("<h1>Dashboard</h1>");
    if v.can_dispatch() {
        let d = crate::dispatch::dashboard(&state).await.map_err(ApiError::from)?;
        let on_shift = if d.on_shift.is_empty() { "nobody".to_string() } else { escape(&d.on_shift.join(", ")) };
        body.push_str(&format!(
            "<section aria-labelledby=\"live\"><h2 id=\"live\">Now</h2><ul>\
             <li>On shift: <span id=\"on-shift\">{on_shift}</span></li>\
             <li>Calls waiting: {}</li><li>Calls in progress: {}</li>\
             <li>Voicemails held: {}</li><li>Open text threads: {}</li></ul></section>",
            d.calls_waiting,
            d.calls_in_progress,
            d.voicemails,
            d.open_text_threads()
        ));
        body.push_str(&format!(
            "<section aria-labelledby=\"open\"><h2 id=\"open\">Open incidents</h2>{}</section>",
            incident_table("Open incidents", &d.open_incidents)
        ));
        let zones: String = if state.config.zones.is_empty() {
            "<input id=\"zone\" name=\"zone\" required>".to_string()
        } else {
            let options: String =
                state.config.zones.iter().map(|z| format!("<option>{}</option>", escape(z.as_str()))).collect();
            format!("<select id=\"zone\" name=\"zone\">{options}</select>")
        };
        let kinds: String =
            crate::dispatch::Kind::ALL.iter().map(|k| format!("<option>{}</option>", k.as_str())).collect();
        body.push_str(&format!(
            "<section aria-labelledby=\"new\"><h2 id=\"new\">Open an incident</h2>\
             <form method=\"post\" action=\"/console/incidents\">{}\
             <label for=\"zone\">Zone</label>{zones}\
             <label for=\"kind\">Kind</label><select id=\"kind\" name=\"kind\">{kinds}</select>\
             <label for=\"location\">Where (may go to observers by text)</label>\
             <input id=\"location\" name=\"location\" required>\
             <label for=\"description\">What was seen (sealed)</label>\
             <textarea id=\"description\" name=\"description\" rows=\"3\"></textarea>\
             <button type=\"submit\">Open and page observers</button></form></section>",
            csrf_field(s)
        ));
        let list: String = d
            .threads
            .iter()
            .map(|t| {
                format!(
                    "<li>Text #{} ({}, {}): items {}; deleted {}</li>",
                    t.id,
                    escape(&t.language),
                    t.state.as_str(),
                    t.items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "),
                    when(t.expires_at)
                )
            })
            .collect();
        body.push_str(&format!(
            "<section aria-labelledby=\"texts\"><h2 id=\"texts\">Text threads</h2>{}</section>",
            if list.is_empty() { "<p>None.</p>".to_string() } else { format!("<ul>{list}</ul>") }
        ));
    }
    if v.is_observer() {
        let mut mine = crate::dispatch::views::visible_to(&state, v).await.map_err(ApiError::from)?;
        mine.retain(|i| i.status.is_open());
        body.push_str(&format!(
            "<section aria-labelledby=\"mine\"><h2 id=\"mine\">Your dispatches</h2>{}</section>",
            incident_table("Incidents you were paged for", &mine)
        ));
    }
    body.push_str("<p><a href=\"/console/items\">Voicemail, notes and texts you can read</a></p>");
    // Refreshes by itself: no script needed.
    Ok(page_with("Dashboard", Some(s), &body, "<meta http-equiv=\"refresh\" content=\"20; url=/console?auto=1\">")
        .into_response())
}

#[derive(Deserialize)]
struct ShiftForm {
    on: bool,
}

async fn shift(
    State(state): State<AppState>,
    form: std::result::Result<ConsoleForm<ShiftForm>, ApiError>,
) -> Result<Response> {
    let form = form?;
    let who = form.auth.who()?;
    crate::accounts::change_shift(&state, who, form.form.on, Actor::Volunteer(who)).await.map_err(ApiError::from)?;
    Ok(Redirect::to("/console").into_response())
}

#[derive(Deserialize)]
struct Empty {}

async fn sign_out(
    State(state): State<AppState>,
    form: std::result::Result<ConsoleForm<Empty>, ApiError>,
) -> Result<Response> {
    let form = form?;
    if let Some(s) = form.auth.session() {
        sessions::sign_out(&state, s).await.map_err(ApiError::from)?;
    }
    let mut r = Redirect::to("/console/sign-in").into_response();
    r.headers_mut().insert(SET_COOKIE, clear_cookie());
    Ok(r)
}

async fn sign_out_everywhere(
    State(state): State<AppState>,
    form: std::result::Result<ConsoleForm<Empty>, ApiError>,
) -> Result<Response> {
    let form = form?;
    sessions::sign_out_everywhere(&state, form.auth.who()?).await.map_err(ApiError::from)?;
    let mut r = Redirect::to("/console/sign-in").into_response();
    r.headers_mut().insert(SET_COOKIE, clear_cookie());
    Ok(r)
}

fn open_instructions(state: &AppState, id: i64) -> String {
    let server = state.config.public_url.as_deref().unwrap_or("https://this-server");
    format!(
        "<code>quietline open --identity your-key.txt --server {} --token-file your-token.txt {id}</code>",
        escape(server)
    )
}

async fn items(State(state): State<AppState>, auth: std::result::Result<Authorized, ApiError>) -> Result<Response> {
    let auth = auth?;
    let s = session_of(&auth)?;
    Ok(page("My items", Some(s), &items_body(&state, s, None).await?).into_response())
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    lifetime: String,
}

async fn new_token(
    State(state): State<AppState>,
    form: std::result::Result<ConsoleForm<TokenForm>, ApiError>,
) -> Result<Response> {
    let form = form?;
    let s = session_of(&form.auth)?.clone();
    let lifetime = Some(form.form.lifetime.trim()).filter(|l| !l.is_empty());
    let token = crate::accounts::create_own_token(&state, &s.volunteer, lifetime).await.map_err(ApiError::from)?;
    let notice = format!(
        "Your API token (shown once; keep it in a file only you can read): <code id=\"api-token\">{}</code>, \
         works until {}.",
        escape(token.token.expose_secret()),
        when(token.expires_at.0)
    );
    Ok(page("My items", Some(&s), &items_body(&state, &s, Some(&notice)).await?).into_response())
}

async fn items_body(state: &AppState, s: &Session, notice: Option<&str>) -> std::result::Result<String, ApiError> {
    let items = crate::items::readable_by(&state.db, &s.volunteer, state.vault.clock().now()).await?;
    let mut body = String::from(
        "<h1>What you can read</h1><p>Everything here is encrypted to you: the server cannot read it. \
         Open an item on your own computer with your age identity, for example:</p>",
    );
    if let Some(n) = notice {
        body.push_str(&format!("<p role=\"status\">{n}</p>"));
    }
    body.push_str(&format!("<p>{}</p>", open_instructions(state, 12)));
    body.push_str(&format!(
        "<form method=\"post\" action=\"/console/tokens\">{}\
         <label for=\"lifetime\">An API token for quietline open, valid for (e.g. 30d, at most 90d)</label>\
         <input id=\"lifetime\" name=\"lifetime\" value=\"30d\"><button type=\"submit\">Create a token</button></form>",
        csrf_field(s)
    ));
    if items.is_empty() {
        body.push_str("<p>Nothing is addressed to you right now.</p>");
    } else {
        let rows: String = items
            .iter()
            .map(|i| {
                let about = match (i.incident, i.thread) {
                    (Some(id), _) => format!("<a href=\"/console/incidents/{id}\">incident #{id}</a>"),
                    (_, Some(t)) => format!("text #{t}"),
                    _ => String::new(),
                };
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{about}</td><td>{}</td><td>{}</td></tr>",
                    i.id,
                    escape(&i.class.replace('_', " ")),
                    escape(&i.readers.join(", ")),
                    when(i.expires_at)
                )
            })
            .collect();
        body.push_str(&format!(
            "<table><caption>Sealed items</caption><thead><tr><th scope=\"col\">Item</th><th scope=\"col\">Kind</th>\
             <th scope=\"col\">About</th><th scope=\"col\">Readers</th><th scope=\"col\">Deleted</th></tr></thead>\
             <tbody>{rows}</tbody></table>"
        ));
    }
    Ok(body)
}

#[derive(Deserialize)]
struct IncidentForm {
    zone: String,
    kind: String,
    location: String,
    #[serde(default)]
    description: String,
}

async fn new_incident(
    State(state): State<AppState>,
    form: std::result::Result<ConsoleForm<IncidentForm>, ApiError>,
) -> Result<Response> {
    let form = form?;
    let who = form.auth.who()?;
    let f = form.form;
    let zone = crate::dispatch::known_zone(&state, &f.zone).await.map_err(ApiError::from)?;
    let kind = crate::dispatch::Kind::parse(&f.kind).map_err(ApiError::Unprocessable)?;
    let location = zeroize::Zeroizing::new(f.location);
    let description = zeroize::Zeroizing::new(f.description);
    let report = crate::dispatch::NewReport { zone, kind, location: &location, description: &description };
    let opened = crate::dispatch::open(&state, report, Actor::Volunteer(who)).await.map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("/console/incidents/{}", opened.id)).into_response())
}

async fn incident(
    State(state): State<AppState>,
    auth: std::result::Result<Authorized, ApiError>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let auth = auth?;
    let s = session_of(&auth)?;
    let v = &s.volunteer;
    let i = crate::dispatch::views::view_for(&state, v, id).await.map_err(ApiError::from)?;
    let mut body = format!(
        "<h1>Incident #{id}</h1><dl><dt>Zone</dt><dd>{}</dd><dt>Kind</dt><dd>{}</dd>\
         <dt>Status</dt><dd id=\"status\">{}</dd><dt>Observers</dt><dd>{} of {} assigned</dd>\
         <dt>Opened</dt><dd>in the hour of {}</dd>{}</dl>",
        escape(&i.zone),
        escape(&i.kind),
        i.status.label(),
        i.assigned,
        i.needed,
        when(i.opened_hour),
        i.expires_at.map(|t| format!("<dt>Deleted</dt><dd>{}</dd>", when(t))).unwrap_or_default()
    );
    let observers: String =
        i.observers.iter().map(|(alias, state)| format!("<li>{}: {}</li>", escape(alias), state.label())).collect();
    body.push_str(&format!(
        "<h2>Observers</h2>{}",
        if observers.is_empty() { "<p>Nobody paged yet.</p>".to_string() } else { format!("<ul>{observers}</ul>") }
    ));
    let n = i.notes;
    let notes = match &i.note_expiry {
        None => "No notes.".to_string(),
        Some(at @ NoteExpiry::At(_)) => {
            format!("{n} note(s), sealed to their authors and the legal team; the first is deleted {at}.")
        }
        Some(after) => format!("{n} note(s), sealed to their authors and the legal team; deleted {after}."),
    };
    body.push_str(&format!(
        "<h2>Notes</h2><p>{notes} Readers open them from <a href=\"/console/items\">their items</a>.</p>"
    ));
    let open = i.status.is_open();
    if open && (v.can_dispatch()) {
        body.push_str(&format!(
            "<h2>Change status</h2><form method=\"post\" action=\"/console/incidents/{id}/status\">{csrf}\
             <button name=\"action\" value=\"verify\">Verified</button>\
             <button name=\"action\" value=\"close\">Close</button>\
             <button name=\"action\" value=\"false_alarm\">False alarm</button></form>",
            csrf = csrf_field(s)
        ));
    }
    if open && v.is_observer() {
        body.push_str(&format!(
            "<h2>Your dispatch</h2><form method=\"post\" action=\"/console/incidents/{id}/dispatch\">{csrf}\
             <button name=\"action\" value=\"accept\">I am going</button>\
             <button name=\"action\" value=\"decline\">I cannot go</button>\
             <button name=\"action\" value=\"arrive\">On scene</button>\
             <button name=\"action\" value=\"leave\">Leaving</button></form>",
            csrf = csrf_field(s)
        ));
    }
    Ok(page(&format!("Incident #{id}"), Some(s), &body).into_response())
}

#[derive(Deserialize)]
struct ActionForm {
    action: String,
}

async fn incident_status(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: std::result::Result<ConsoleForm<ActionForm>, ApiError>,
) -> Result<Response> {
    let form = form?;
    let change = crate::dispatch::StatusChange::parse(&form.form.action).map_err(ApiError::from)?;
    crate::dispatch::change_status(&state, id, change, Actor::Volunteer(form.auth.who()?))
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("/console/incidents/{id}")).into_response())
}

async fn incident_dispatch(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: std::result::Result<ConsoleForm<ActionForm>, ApiError>,
) -> Result<Response> {
    let form = form?;
    let answer = crate::dispatch::Answer::parse(&form.form.action).map_err(ApiError::from)?;
    crate::dispatch::answer(&state, id, form.auth.who()?, answer).await.map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("/console/incidents/{id}")).into_response())
}

fn volunteer_row(v: &Volunteer, s: &Session) -> String {
    let alias = escape(v.alias.as_str());
    let csrf = csrf_field(s);
    let roles: Vec<&str> = v.roles.iter().map(|r| r.as_str()).collect();
    let zones: Vec<&str> = v.zones.iter().map(|z| z.as_str()).collect();
    let languages: Vec<&str> = v.languages.iter().map(|l| l.as_str()).collect();
    format!(
        "<tr><th scope=\"row\">{alias}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>\
         <form method=\"post\" action=\"/console/roster/{alias}/shift\">{csrf}\
         <input type=\"hidden\" name=\"on\" value=\"{}\"><button>{}</button></form>\
         <form method=\"post\" action=\"/console/roster/{alias}/enrollment\">{csrf}<button>New enrollment code</button></form>\
         <form method=\"post\" action=\"/console/roster/{alias}/revoke\">{csrf}<button>Revoke sign-ins</button></form>\
         <form method=\"post\" action=\"/console/roster/{alias}/remove\">{csrf}<button>Remove</button></form></td></tr>",
        roles.join(", "),
        languages.join(", "),
        zones.join(", "),
        if v.on_shift { "on" } else { "off" },
        if v.age_recipient.is_some() { "yes" } else { "no" },
        !v.on_shift,
        if v.on_shift { "Off shift" } else { "On shift" },
    )
}

async fn roster_page(
    State(state): State<AppState>,
    auth: std::result::Result<Authorized, ApiError>,
) -> Result<Response> {
    let auth = auth?;
    let s = session_of(&auth)?;
    Ok(page("Roster", Some(s), &roster_body(&state, s, None).await?).into_response())
}

async fn roster_body(state: &AppState, s: &Session, notice: Option<&str>) -> std::result::Result<String, ApiError> {
    let roster = roster::list(&state.db).await?;
    let rows: String = roster.iter().map(|v| volunteer_row(v, s)).collect();
    let notice = notice.map(|n| format!("<p role=\"status\">{n}</p>")).unwrap_or_default();
    Ok(format!(
        "<h1>Roster</h1>{notice}<table><caption>Volunteers (numbers are sealed and never shown)</caption>\
         <thead><tr><th scope=\"col\">Alias</th><th scope=\"col\">Roles</th><th scope=\"col\">Languages</th>\
         <th scope=\"col\">Zones</th><th scope=\"col\">Shift</th><th scope=\"col\">Key</th>\
         <th scope=\"col\">Actions</th></tr></thead><tbody>{rows}</tbody></table>\
         <h2>Add a volunteer</h2><form method=\"post\" action=\"/console/roster\">{}\
         <label for=\"alias\">Alias</label><input id=\"alias\" name=\"alias\" required>\
         <label for=\"phone\">Phone (E.164, sealed at once)</label><input id=\"phone\" name=\"phone\" type=\"tel\" required>\
         <label for=\"roles\">Roles (comma-separated)</label><input id=\"roles\" name=\"roles\" required>\
         <label for=\"languages\">Languages</label><input id=\"languages\" name=\"languages\" value=\"en\" required>\
         <label for=\"zones\">Zones</label><input id=\"zones\" name=\"zones\" required>\
         <button type=\"submit\">Add and make an enrollment code</button></form>",
        csrf_field(s)
    ))
}

#[derive(Deserialize)]
struct VolunteerForm {
    alias: String,
    phone: String,
    roles: String,
    languages: String,
    zones: String,
}

fn code_notice(code: &crate::accounts::admin::NewCode) -> String {
    format!(
        "Enrollment code for <strong>{}</strong>: <code id=\"enrollment-code\">{}</code> (shown once; it works \
         until {}). They enroll at <code>/console/enroll</code>.",
        escape(&code.alias),
        escape(code.code.expose_secret()),
        when(code.expires_at.0)
    )
}

async fn add_volunteer(
    State(state): State<AppState>,
    form: std::result::Result<ConsoleForm<VolunteerForm>, ApiError>,
) -> Result<Response> {
    let form = form?;
    let s = session_of(&form.auth)?.clone();
    let f = form.form;
    let new = roster::NewVolunteer::parse(&f.alias, &f.phone, &f.roles, &f.languages, &f.zones, None)
        .map_err(ApiError::from)?;
    let code = crate::accounts::admin::add_volunteer(&state, new, &s.volunteer).await.map_err(ApiError::from)?;
    Ok(page("Roster", Some(&s), &roster_body(&state, &s, Some(&code_notice(&code))).await?).into_response())
}

async fn roster_shift(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    form: std::result::Result<ConsoleForm<ShiftForm>, ApiError>,
) -> Result<Response> {
    let form = form?;
    let v = roster::get(&state.db, &alias).await.map_err(ApiError::from)?;
    roster::set_shift(&state.db, v.alias.as_str(), form.form.on).await.map_err(ApiError::from)?;
    let action = if form.form.on { "shift.on" } else { "shift.off" };
    crate::audit::record(&state, Actor::Volunteer(form.auth.who()?), action, "volunteer", Some(v.id)).await;
    Ok(Redirect::to("/console/roster").into_response())
}

async fn roster_code(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    form: std::result::Result<ConsoleForm<Empty>, ApiError>,
) -> Result<Response> {
    let form = form?;
    let s = session_of(&form.auth)?.clone();
    let v = roster::get(&state.db, &alias).await.map_err(ApiError::from)?;
    let code = crate::accounts::admin::new_enrollment_code(&state, &v, Actor::Volunteer(&s.volunteer))
        .await
        .map_err(ApiError::from)?;
    let out = code;
    Ok(page("Roster", Some(&s), &roster_body(&state, &s, Some(&code_notice(&out))).await?).into_response())
}

async fn roster_revoke(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    form: std::result::Result<ConsoleForm<Empty>, ApiError>,
) -> Result<Response> {
    let form = form?;
    crate::accounts::admin::revoke_volunteer(&state, &alias, form.auth.who()?).await.map_err(ApiError::from)?;
    Ok(Redirect::to("/console/roster").into_response())
}

async fn roster_remove(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    form: std::result::Result<ConsoleForm<Empty>, ApiError>,
) -> Result<Response> {
    let form = form?;
    crate::accounts::admin::remove_volunteer(&state, &alias, form.auth.who()?).await.map_err(ApiError::from)?;
    Ok(Redirect::to("/console/roster").into_response())
}

async fn exposure(State(state): State<AppState>, auth: std::result::Result<Authorized, ApiError>) -> Result<Response> {
    let auth = auth?;
    let s = session_of(&auth)?;
    let report = crate::retention::exposure(&state).await.map_err(ApiError::from)?;
    let body = format!(
        "<h1>Exposure</h1><p>{}</p><pre>{}</pre>",
        escape(&report.summary),
        escape(&crate::retention::render(&report))
    );
    Ok(page("Exposure", Some(s), &body).into_response())
}

async fn audit(State(state): State<AppState>, auth: std::result::Result<Authorized, ApiError>) -> Result<Response> {
    let auth = auth?;
    let s = session_of(&auth)?;
    let events = crate::audit::recent(&state, 200).await.map_err(ApiError::from)?;
    let rows: String = events
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
                when(e.hour),
                escape(&e.actor),
                escape(&e.action),
                escape(&e.object),
                e.object_id.map(|i| format!("#{i}")).unwrap_or_default()
            )
        })
        .collect();
    let body = format!(
        "<h1>Audit</h1><p>Who did what, to the hour. No content is ever recorded.</p>\
         <table><caption>Recent events</caption><thead><tr><th scope=\"col\">Hour</th><th scope=\"col\">Who</th>\
         <th scope=\"col\">Action</th><th scope=\"col\">Object</th></tr></thead><tbody>{rows}</tbody></table>"
    );
    Ok(page("Audit", Some(s), &body).into_response())
}
