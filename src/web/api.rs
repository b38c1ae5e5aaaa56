//! `/api/v1`: the JSON API, for the console's people and the command line.
//!
//! Callers authenticate with a session cookie (from `POST /api/v1/session` or the
//! console; changes then need the `X-CSRF-Token` header) or an API token
//! (`Authorization: Bearer qlt_…`, from `quietline token create`). Who may call
//! what is the table in `web::auth`; handlers only filter what a caller sees
//! (observers see their own incidents). No response carries a phone number.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, HeaderMap, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::auth::{Authorized, ClientNetwork, clear_cookie, session_cookie};
use super::error::{ApiError, ErrorBody};
use crate::AppState;
use crate::accounts::sessions::{self, Enrollment, Started};
use crate::audit::Actor;
use crate::dispatch::{self, Kind, NewReport};
use crate::items::{self, Content, ItemClass};
use crate::roster::{self, Volunteer};

/// A JSON body whose rejection is our error type: 422 with a reason in plain words.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    /// Reads the body itself rather than through axum's `Json`, so that the bytes
    /// (passwords, note text) can be overwritten once parsed.
    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        if !json {
            return Err(ApiError::Unprocessable("Expected request with `Content-Type: application/json`".into()));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("the body could not be read: {}", e.body_text())))?;
        let parsed = serde_json::from_slice::<T>(&bytes)
            .map_err(|e| ApiError::Unprocessable(format!("Failed to deserialize the JSON body: {e}")));
        crate::secret::zeroize_body(bytes);
        parsed.map(ApiJson)
    }
}

/// A path parameter whose rejection is our error type: 400.
pub struct ApiPath<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/session", post(sign_in).delete(sign_out))
        .route("/api/v1/sessions", axum::routing::delete(sign_out_everywhere))
        .route("/api/v1/enrollment", post(enroll))
        .route("/api/v1/enrollment/totp", post(enroll_totp))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/shift", put(my_shift))
        .route("/api/v1/me/items", get(my_items))
        .route("/api/v1/me/tokens", post(my_token))
        .route("/api/v1/dashboard", get(dashboard))
        .route("/api/v1/incidents", get(list_incidents).post(open_incident))
        .route("/api/v1/incidents/{id}", get(get_incident))
        .route("/api/v1/incidents/{id}/status", post(incident_status))
        .route("/api/v1/incidents/{id}/dispatch", post(incident_dispatch))
        .route("/api/v1/incidents/{id}/notes", post(incident_note))
        .route("/api/v1/intake", get(list_intake))
        .route("/api/v1/intake/{id}/replies", post(intake_reply))
        .route("/api/v1/intake/{id}/handled", post(intake_handled))
        .route("/api/v1/items", post(create_item))
        .route("/api/v1/items/{id}/ciphertext", get(item_ciphertext))
        .route("/api/v1/volunteers", get(list_volunteers).post(add_volunteer))
        .route("/api/v1/volunteers/{alias}", axum::routing::delete(remove_volunteer))
        .route("/api/v1/volunteers/{alias}/shift", put(volunteer_shift))
        .route("/api/v1/volunteers/{alias}/revoke", post(revoke_volunteer))
        .route("/api/v1/volunteers/{alias}/enrollment", post(new_enrollment_code))
        .route("/api/v1/exposure", get(exposure))
        .route("/api/v1/audit", get(audit))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "quietline", description = "The hotline's JSON API. No response carries a phone number."),
    paths(
        sign_in,
        sign_out,
        sign_out_everywhere,
        enroll,
        enroll_totp,
        me,
        my_shift,
        my_items,
        my_token,
        dashboard,
        list_incidents,
        open_incident,
        get_incident,
        incident_status,
        incident_dispatch,
        incident_note,
        list_intake,
        intake_reply,
        intake_handled,
        create_item,
        item_ciphertext,
        list_volunteers,
        add_volunteer,
        remove_volunteer,
        volunteer_shift,
        revoke_volunteer,
        new_enrollment_code,
        exposure,
        audit
    )
)]
pub struct ApiDoc;

async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize, ToSchema)]
pub struct SignIn {
    alias: String,
    #[schema(value_type = String)]
    password: SecretString,
    /// The six digits from the authenticator.
    code: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionOut {
    /// Send as `X-CSRF-Token` with every change made with this session.
    csrf: String,
    /// `totp` while the authenticator is still to be enrolled, then `full`.
    stage: String,
}

fn started(s: Started, status: StatusCode, extra: Option<serde_json::Value>) -> Response {
    let stage = if s.stage == sessions::Stage::Full { "full" } else { "totp" };
    let mut body = serde_json::json!({ "csrf": s.csrf, "stage": stage });
    if let (Some(extra), Some(map)) = (extra, body.as_object_mut())
        && let Some(e) = extra.as_object()
    {
        map.extend(e.clone());
    }
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(SET_COOKIE, session_cookie(&s.token));
    no_store(response)
}

/// Sign in with alias, password and authenticator code.
#[utoipa::path(post, path = "/api/v1/session", request_body = SignIn, responses(
    (status = 200, description = "Signed in; the session cookie is set", body = SessionOut),
    (status = 401, description = "Alias, password or code is not right", body = ErrorBody),
    (status = 422, description = "The body is not a sign-in", body = ErrorBody),
    (status = 429, description = "Too many failed attempts", body = ErrorBody)))]
async fn sign_in(
    State(state): State<AppState>,
    _auth: Authorized,
    ClientNetwork(network): ClientNetwork,
    ApiJson(input): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    let s = sessions::sign_in(&state, &input.alias, input.password, &input.code, network.as_deref()).await?;
    Ok(started(s, StatusCode::OK, None))
}

/// Sign out this session.
#[utoipa::path(delete, path = "/api/v1/session", responses(
    (status = 204, description = "Signed out"),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Missing X-CSRF-Token, or not allowed", body = ErrorBody)))]
async fn sign_out(State(state): State<AppState>, auth: Authorized) -> Result<Response, ApiError> {
    if let Some(s) = auth.session() {
        sessions::sign_out(&state, s).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(SET_COOKIE, clear_cookie());
    Ok(response)
}

/// Sign out everywhere: every session of the caller ends.
#[utoipa::path(delete, path = "/api/v1/sessions", responses(
    (status = 204, description = "Every session ended"),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Missing X-CSRF-Token, or not allowed", body = ErrorBody)))]
async fn sign_out_everywhere(State(state): State<AppState>, auth: Authorized) -> Result<Response, ApiError> {
    sessions::sign_out_everywhere(&state, auth.who()?).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(SET_COOKIE, clear_cookie());
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
pub struct EnrollIn {
    alias: String,
    /// The one-time code from a coordinator.
    #[schema(value_type = String)]
    code: SecretString,
    #[schema(value_type = String)]
    password: SecretString,
    /// Your age public key (`age1…`), to read what is sealed to you.
    age_recipient: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EnrollOut {
    csrf: String,
    stage: String,
    /// For the authenticator app; confirm with a code at `/api/v1/enrollment/totp`.
    otpauth_uri: String,
    secret: String,
}

/// Enroll: enrollment code and a new password. Returns the authenticator secret.
#[utoipa::path(post, path = "/api/v1/enrollment", request_body = EnrollIn, responses(
    (status = 201, description = "Password set; enroll the authenticator next", body = EnrollOut),
    (status = 422, description = "Wrong or expired code, or a password that breaks the rules", body = ErrorBody),
    (status = 429, description = "Too many wrong codes for this alias", body = ErrorBody)))]
async fn enroll(
    State(state): State<AppState>,
    _auth: Authorized,
    ClientNetwork(network): ClientNetwork,
    ApiJson(input): ApiJson<EnrollIn>,
) -> Result<Response, ApiError> {
    let alias = input.alias.clone();
    let e = Enrollment {
        alias: input.alias,
        code: input.code,
        password: input.password,
        age_recipient: input.age_recipient,
    };
    let s = sessions::enroll(&state, e, network.as_deref()).await?;
    // The new session, to create the authenticator secret under.
    let session = sessions::lookup(&state, s.token.expose_secret(), true)
        .await?
        .ok_or_else(|| ApiError::Internal("a new session vanished".into()))?;
    let secret = sessions::pending_totp(&state, &session).await?;
    let extra = serde_json::json!({
        "otpauth_uri": secret.uri("quietline", &alias).as_str(),
        "secret": secret.base32().as_str(),
    });
    Ok(started(s, StatusCode::CREATED, Some(extra)))
}

#[derive(Deserialize, ToSchema)]
pub struct CodeIn {
    code: String,
}

/// Confirm the authenticator with its first code; the session becomes a full one.
#[utoipa::path(post, path = "/api/v1/enrollment/totp", request_body = CodeIn, responses(
    (status = 204, description = "Authenticator enrolled"),
    (status = 401, description = "No session", body = ErrorBody),
    (status = 403, description = "Missing X-CSRF-Token", body = ErrorBody),
    (status = 422, description = "Wrong or already used code", body = ErrorBody)))]
async fn enroll_totp(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<CodeIn>,
) -> Result<StatusCode, ApiError> {
    let session = auth.session().ok_or(ApiError::Unauthorized)?;
    sessions::confirm_totp(&state, session, &input.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct VolunteerOut {
    alias: String,
    roles: Vec<String>,
    languages: Vec<String>,
    zones: Vec<String>,
    on_shift: bool,
    overflow: bool,
    /// Whether an age key is registered (items can be sealed to them).
    has_key: bool,
}

impl From<&Volunteer> for VolunteerOut {
    fn from(v: &Volunteer) -> Self {
        VolunteerOut {
            alias: v.alias.to_string(),
            roles: v.roles.iter().map(|r| r.as_str().to_string()).collect(),
            languages: v.languages.iter().map(|l| l.as_str().to_string()).collect(),
            zones: v.zones.iter().map(|z| z.as_str().to_string()).collect(),
            on_shift: v.on_shift,
            overflow: v.overflow,
            has_key: v.age_recipient.is_some(),
        }
    }
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", responses(
    (status = 200, description = "Who you are", body = VolunteerOut),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Still enrolling", body = ErrorBody)))]
async fn me(auth: Authorized) -> Result<Response, ApiError> {
    Ok(no_store(Json(VolunteerOut::from(auth.who()?)).into_response()))
}

#[derive(Deserialize, ToSchema)]
pub struct ShiftIn {
    on: bool,
}

/// Go on or off shift.
#[utoipa::path(put, path = "/api/v1/me/shift", request_body = ShiftIn, responses(
    (status = 200, description = "Your shift now", body = VolunteerOut),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Missing X-CSRF-Token, or still enrolling", body = ErrorBody),
    (status = 422, description = "The body is not a shift", body = ErrorBody)))]
async fn my_shift(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<ShiftIn>,
) -> Result<Response, ApiError> {
    let who = auth.who()?;
    let now = crate::accounts::change_shift(&state, who, input.on, Actor::Volunteer(who)).await?;
    Ok(no_store(Json(VolunteerOut::from(&now)).into_response()))
}

#[derive(Serialize, ToSchema)]
pub struct ItemOut {
    pub id: i64,
    pub class: String,
    pub created_hour: i64,
    pub expires_at: i64,
    pub incident: Option<i64>,
    pub thread: Option<i64>,
    /// The aliases it is sealed to.
    pub readers: Vec<String>,
}

impl From<crate::items::Readable> for ItemOut {
    fn from(i: crate::items::Readable) -> Self {
        ItemOut {
            id: i.id,
            class: i.class,
            created_hour: i.created_hour,
            expires_at: i.expires_at,
            incident: i.incident,
            thread: i.thread,
            readers: i.readers,
        }
    }
}

/// The sealed items you are a reader of (voicemail, notes, texts): what exists
/// and when it goes. Open them with `quietline open`.
#[utoipa::path(get, path = "/api/v1/me/items", responses(
    (status = 200, description = "Items you can read", body = [ItemOut]),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Still enrolling", body = ErrorBody)))]
async fn my_items(State(state): State<AppState>, auth: Authorized) -> Result<Response, ApiError> {
    let now = state.vault.clock().now();
    let out: Vec<ItemOut> =
        items::readable_by(&state.db, auth.who()?, now).await?.into_iter().map(ItemOut::from).collect();
    Ok(no_store(Json(out).into_response()))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenIn {
    /// How long the token works, e.g. `30d` (at most 90d).
    lifetime: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenOut {
    /// Shown once; keep it in a file for `quietline open --token-file`.
    pub token: String,
    pub expires_at: i64,
}

/// Create an API token for yourself, to fetch your items with `quietline open`.
#[utoipa::path(post, path = "/api/v1/me/tokens", request_body = TokenIn, responses(
    (status = 201, description = "The token, shown once", body = TokenOut),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Missing X-CSRF-Token, or still enrolling", body = ErrorBody),
    (status = 422, description = "A lifetime that is not a duration or longer than 90d", body = ErrorBody)))]
async fn my_token(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<TokenIn>,
) -> Result<Response, ApiError> {
    let token = crate::accounts::create_own_token(&state, auth.who()?, input.lifetime.as_deref()).await?;
    let out = TokenOut { token: token.token.expose_secret().to_string(), expires_at: token.expires_at.0 };
    Ok(no_store((StatusCode::CREATED, Json(out)).into_response()))
}

#[derive(Serialize, ToSchema)]
pub struct ObserverOut {
    pub alias: String,
    pub state: String,
}

#[derive(Serialize, ToSchema)]
pub struct IncidentOut {
    pub id: i64,
    pub zone: String,
    pub kind: String,
    pub status: String,
    pub needed: i64,
    pub assigned: i64,
    pub opened_hour: i64,
    pub closed_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub observers: Vec<ObserverOut>,
    pub notes: usize,
    pub first_note_expires_at: Option<i64>,
}

impl From<dispatch::views::IncidentView> for IncidentOut {
    fn from(i: dispatch::views::IncidentView) -> Self {
        IncidentOut {
            id: i.id,
            zone: i.zone,
            kind: i.kind,
            status: i.status.as_str().to_string(),
            needed: i.needed,
            assigned: i.assigned,
            opened_hour: i.opened_hour,
            closed_at: i.closed_at,
            expires_at: i.expires_at,
            observers: i
                .observers
                .into_iter()
                .map(|(alias, state)| ObserverOut { alias, state: state.as_str().to_string() })
                .collect(),
            notes: i.notes,
            first_note_expires_at: i.first_note_expires_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DashboardOut {
    pub on_shift: Vec<String>,
    pub calls_waiting: i64,
    pub calls_in_progress: i64,
    pub voicemails: i64,
    pub open_text_threads: i64,
    pub open_incidents: Vec<IncidentOut>,
}

impl From<dispatch::Dashboard> for DashboardOut {
    fn from(d: dispatch::Dashboard) -> Self {
        DashboardOut {
            open_text_threads: d.open_text_threads() as i64,
            on_shift: d.on_shift,
            calls_waiting: d.calls_waiting,
            calls_in_progress: d.calls_in_progress,
            voicemails: d.voicemails,
            open_incidents: d.open_incidents.into_iter().map(IncidentOut::from).collect(),
        }
    }
}

/// The live picture for dispatchers: who is on shift, calls, voicemail, texts, incidents.
#[utoipa::path(get, path = "/api/v1/dashboard", responses(
    (status = 200, description = "The dashboard", body = DashboardOut),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For dispatchers and coordinators", body = ErrorBody)))]
async fn dashboard(State(state): State<AppState>, _auth: Authorized) -> Result<Response, ApiError> {
    Ok(no_store(Json(DashboardOut::from(dispatch::dashboard(&state).await?)).into_response()))
}

/// Incidents you may see.
#[utoipa::path(get, path = "/api/v1/incidents", responses(
    (status = 200, description = "Incidents, newest first", body = [IncidentOut]),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Still enrolling", body = ErrorBody)))]
async fn list_incidents(State(state): State<AppState>, auth: Authorized) -> Result<Response, ApiError> {
    let out: Vec<IncidentOut> =
        dispatch::views::visible_to(&state, auth.who()?).await?.into_iter().map(IncidentOut::from).collect();
    Ok(no_store(Json(out).into_response()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewIncidentIn {
    zone: String,
    /// sighting, detention, checkpoint or other (default).
    kind: Option<String>,
    /// Where; may go to observers by SMS.
    location: String,
    /// What was seen; sealed only.
    description: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OpenedOut {
    id: i64,
    paged: usize,
    details_item: Option<i64>,
}

/// Open an incident and page on-shift observers in its zone.
#[utoipa::path(post, path = "/api/v1/incidents", request_body = NewIncidentIn, responses(
    (status = 201, description = "Opened", body = OpenedOut),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For dispatchers and coordinators; or missing X-CSRF-Token", body = ErrorBody),
    (status = 422, description = "Unknown zone or kind, or no location", body = ErrorBody)))]
async fn open_incident(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<NewIncidentIn>,
) -> Result<Response, ApiError> {
    let who = auth.who()?;
    let zone = dispatch::known_zone(&state, &input.zone).await?;
    let kind = Kind::parse(input.kind.as_deref().unwrap_or("other")).map_err(ApiError::Unprocessable)?;
    let description = zeroize::Zeroizing::new(input.description.unwrap_or_default());
    let location = zeroize::Zeroizing::new(input.location);
    let report = NewReport { zone, kind, location: &location, description: &description };
    let opened = dispatch::open(&state, report, Actor::Volunteer(who)).await?;
    let out = OpenedOut { id: opened.id, paged: opened.paged, details_item: opened.details_item };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// One incident: status, observers, notes and when they go.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", params(("id" = i64, Path)), responses(
    (status = 200, description = "The incident", body = IncidentOut),
    (status = 400, description = "Not an incident number", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Still enrolling", body = ErrorBody),
    (status = 404, description = "No such incident, or not yours to see", body = ErrorBody)))]
async fn get_incident(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    Ok(no_store(Json(IncidentOut::from(dispatch::views::view_for(&state, auth.who()?, id).await?)).into_response()))
}

#[derive(Deserialize, ToSchema)]
pub struct ActionIn {
    /// For status: verify, close, false_alarm. For dispatch: accept, decline, arrive, leave.
    action: String,
}

/// Verify, close or mark an incident a false alarm.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/status", params(("id" = i64, Path)), request_body = ActionIn,
    responses(
    (status = 200, description = "The incident now", body = IncidentOut),
    (status = 400, description = "Not an incident number", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For dispatchers and coordinators; or missing X-CSRF-Token", body = ErrorBody),
    (status = 404, description = "No such incident", body = ErrorBody),
    (status = 409, description = "The incident has ended", body = ErrorBody),
    (status = 422, description = "Unknown action, or not possible now", body = ErrorBody)))]
async fn incident_status(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ActionIn>,
) -> Result<Response, ApiError> {
    let who = auth.who()?;
    let change = dispatch::StatusChange::parse(&input.action)?;
    dispatch::change_status(&state, id, change, Actor::Volunteer(who)).await?;
    Ok(no_store(Json(IncidentOut::from(dispatch::views::view_for(&state, who, id).await?)).into_response()))
}

/// An observer accepts, declines, arrives or leaves.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/dispatch", params(("id" = i64, Path)), request_body = ActionIn,
    responses(
    (status = 200, description = "The incident now", body = IncidentOut),
    (status = 400, description = "Not an incident number", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For observers (assigned, to arrive or leave); or missing X-CSRF-Token", body = ErrorBody),
    (status = 404, description = "No such incident", body = ErrorBody),
    (status = 409, description = "The incident has ended, or every slot is taken", body = ErrorBody),
    (status = 422, description = "Unknown action", body = ErrorBody)))]
async fn incident_dispatch(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ActionIn>,
) -> Result<Response, ApiError> {
    let who = auth.who()?;
    dispatch::answer(&state, id, who, dispatch::Answer::parse(&input.action)?).await?;
    Ok(no_store(Json(IncidentOut::from(dispatch::views::view(&state, id).await?)).into_response()))
}

#[derive(Deserialize, ToSchema)]
pub struct TextIn {
    #[schema(value_type = String)]
    text: SecretString,
}

#[derive(Serialize, ToSchema)]
pub struct NoteOut {
    id: i64,
    /// Unix seconds, or absent while the incident is open (its notes go
    /// `retention_note` after the close).
    expires_at: Option<i64>,
}

/// A field note, sealed at once to you and the legal team.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", params(("id" = i64, Path)), request_body = TextIn,
    responses(
    (status = 201, description = "Sealed", body = NoteOut),
    (status = 400, description = "Not an incident number", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Not assigned; or missing X-CSRF-Token", body = ErrorBody),
    (status = 404, description = "No such incident", body = ErrorBody),
    (status = 409, description = "The incident's notes have all expired", body = ErrorBody),
    (status = 422, description = "Nobody who should read it has a key", body = ErrorBody)))]
async fn incident_note(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<TextIn>,
) -> Result<Response, ApiError> {
    let saved = dispatch::add_note(&state, id, auth.who()?, input.text.expose_secret().as_bytes()).await?;
    let expires_at = match saved.expiry {
        dispatch::NoteExpiry::At(t) => Some(t.0),
        dispatch::NoteExpiry::AfterClose(_) => None,
    };
    Ok((StatusCode::CREATED, Json(NoteOut { id: saved.id, expires_at })).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct ThreadOut {
    pub id: i64,
    pub language: String,
    pub state: String,
    pub expires_at: i64,
    /// The sealed texts, oldest first; open them with `quietline open`.
    pub items: Vec<i64>,
}

/// Public text threads that have not expired.
#[utoipa::path(get, path = "/api/v1/intake", responses(
    (status = 200, description = "Threads, newest first", body = [ThreadOut]),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For dispatchers and coordinators", body = ErrorBody)))]
async fn list_intake(State(state): State<AppState>, _auth: Authorized) -> Result<Response, ApiError> {
    let out: Vec<ThreadOut> = dispatch::threads(&state).await?.into_iter().map(ThreadOut::from).collect();
    Ok(no_store(Json(out).into_response()))
}

impl From<dispatch::ThreadView> for ThreadOut {
    fn from(t: dispatch::ThreadView) -> Self {
        ThreadOut {
            id: t.id,
            language: t.language,
            state: t.state.as_str().to_string(),
            expires_at: t.expires_at,
            items: t.items,
        }
    }
}

/// Reply to a thread: the text reaches the sender from the hotline number.
#[utoipa::path(post, path = "/api/v1/intake/{id}/replies", params(("id" = i64, Path)), request_body = TextIn,
    responses(
    (status = 204, description = "Sent"),
    (status = 400, description = "Not a thread number", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For dispatchers and coordinators; or missing X-CSRF-Token", body = ErrorBody),
    (status = 409, description = "The thread expired, opted out, or the text could not be sent", body = ErrorBody),
    (status = 422, description = "The body is not a text", body = ErrorBody)))]
async fn intake_reply(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<TextIn>,
) -> Result<StatusCode, ApiError> {
    crate::sms::intake::reply(&state, id, auth.who()?, input.text.expose_secret()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct HandledOut {
    expires_at: i64,
}

/// Mark a thread handled: it goes after `retention_intake_handled`.
#[utoipa::path(post, path = "/api/v1/intake/{id}/handled", params(("id" = i64, Path)), responses(
    (status = 200, description = "Handled", body = HandledOut),
    (status = 400, description = "Not a thread number", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For dispatchers and coordinators; or missing X-CSRF-Token", body = ErrorBody),
    (status = 404, description = "No such thread", body = ErrorBody)))]
async fn intake_handled(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let until = crate::sms::intake::handled(&state, id, Actor::Volunteer(auth.who()?)).await.map_err(|e| match e {
        crate::sms::SmsError::Other(m) => ApiError::NotFound(m),
        e => e.into(),
    })?;
    Ok(Json(HandledOut { expires_at: until.0 }).into_response())
}

/// A note as JSON. No `Debug`: it carries the text.
#[derive(Deserialize)]
struct NewItemJson {
    text: SecretString,
    readers: Option<Vec<String>>,
    lifetime: Option<String>,
}

/// Options for a pre-encrypted (`application/age`) submission.
#[derive(Deserialize, Default)]
struct NewItemQuery {
    /// Comma-separated aliases.
    readers: Option<String>,
    lifetime: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedItem {
    id: i64,
    expires_at: i64,
    expires: String,
    readers: Vec<String>,
}

/// A note: JSON `{"text": …}` sealed by the server, or an age file
/// (`application/age`) the client encrypted itself. Readers default to the
/// author and the legal team.
#[utoipa::path(post, path = "/api/v1/items", responses(
    (status = 201, description = "Stored", body = CreatedItem),
    (status = 400, description = "Not JSON or an age file, or a bad lifetime", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Missing X-CSRF-Token, or still enrolling", body = ErrorBody),
    (status = 422, description = "A reader cannot read sealed items (the same answer whatever the reason)", body = ErrorBody),
    (status = 503, description = "Disk full or database unreachable: nothing was stored", body = ErrorBody)))]
async fn create_item(
    State(state): State<AppState>,
    auth: Authorized,
    query: Result<Query<NewItemQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let author = auth.who()?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let class = ItemClass::Note;
    let stored = if content_type.starts_with("application/json") {
        let json: NewItemJson = serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!("expected {{\"text\": …}} (line {}, column {})", e.line(), e.column()))
        })?;
        let readers = resolve_readers(&state, author, json.readers.as_deref()).await?;
        let lifetime = parse_lifetime(json.lifetime.as_deref(), state.config.retention.note)?;
        let refs: Vec<&Volunteer> = readers.iter().collect();
        let text = json.text.expose_secret().as_bytes();
        items::store(&state.db, &state.vault, class, Content::Plaintext(text), &refs, lifetime).await?
    } else if content_type.starts_with("application/age") || content_type.starts_with("application/octet-stream") {
        let names: Option<Vec<String>> =
            query.readers.as_deref().map(|r| r.split(',').map(|s| s.trim().to_string()).collect());
        let readers = resolve_readers(&state, author, names.as_deref()).await?;
        let lifetime = parse_lifetime(query.lifetime.as_deref(), state.config.retention.note)?;
        let refs: Vec<&Volunteer> = readers.iter().collect();
        items::store(&state.db, &state.vault, class, Content::Age(&body), &refs, lifetime).await?
    } else {
        return Err(ApiError::BadRequest("send application/json or application/age".into()));
    };
    let created = CreatedItem {
        id: stored.id,
        expires_at: stored.expires_at.0,
        expires: stored.expires_at.display_utc(),
        readers: stored.readers,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Readers by alias; by default the author and the legal team.
async fn resolve_readers(
    state: &AppState,
    author: &Volunteer,
    names: Option<&[String]>,
) -> Result<Vec<Volunteer>, ApiError> {
    match names {
        Some(names) => {
            // One answer whatever is wrong with a reader (not on the roster, no key,
            // revoked), so a token holder learns nothing about who exists.
            let unreadable = || {
                ApiError::Unprocessable(
                    "every reader must be a volunteer who can read sealed items (on the roster, with a key); \
                     nothing was stored"
                        .into(),
                )
            };
            let mut out = Vec::with_capacity(names.len());
            for name in names.iter().filter(|n| !n.is_empty()) {
                match roster::get(&state.db, name).await {
                    Ok(v) if v.can_read() => out.push(v),
                    Ok(_) | Err(roster::RosterError::NotFound(_) | roster::RosterError::Invalid(_)) => {
                        return Err(unreadable());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(out)
        }
        None => {
            let all = roster::list(&state.db).await?;
            let mut out: Vec<Volunteer> = roster::legal_team(&all).into_iter().cloned().collect();
            out.push(author.clone());
            Ok(out)
        }
    }
}

/// A note's lifetime: as asked, at most the configured note lifetime (the default).
fn parse_lifetime(text: Option<&str>, max: Duration) -> Result<Duration, ApiError> {
    let lifetime = match text {
        None => return Ok(max),
        Some(t) => crate::config::parse_duration(t).map_err(|e| ApiError::BadRequest(format!("lifetime: {e}")))?,
    };
    if lifetime > max {
        return Err(ApiError::BadRequest(format!("lifetime: a note is kept at most {}s here", max.as_secs())));
    }
    Ok(lifetime)
}

/// The age ciphertext of an item, for one of its readers.
#[utoipa::path(get, path = "/api/v1/items/{id}/ciphertext", params(("id" = i64, Path)), responses(
    (status = 200, description = "The age file", content_type = "application/age", body = Vec<u8>),
    (status = 400, description = "Not an item number", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "Not a reader of it (also for items that do not exist)", body = ErrorBody),
    (status = 410, description = "Expired: nobody can read it any more", body = ErrorBody)))]
async fn item_ciphertext(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let bytes = items::ciphertext_for_reader(&state.db, &state.vault, id, auth.who()?).await?;
    let mut response = bytes.into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/age"));
    Ok(no_store(response))
}

/// The roster (no phone numbers).
#[utoipa::path(get, path = "/api/v1/volunteers", responses(
    (status = 200, description = "The roster", body = [VolunteerOut]),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For coordinators", body = ErrorBody)))]
async fn list_volunteers(State(state): State<AppState>, _auth: Authorized) -> Result<Response, ApiError> {
    let roster = roster::list(&state.db).await?;
    Ok(no_store(Json(roster.iter().map(VolunteerOut::from).collect::<Vec<_>>()).into_response()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewVolunteerIn {
    alias: String,
    /// E.164; sealed with the server key, never shown again.
    phone: String,
    /// Comma-separated: coordinator, dispatcher, observer, attorney.
    roles: String,
    /// Comma-separated language codes.
    languages: String,
    /// Comma-separated zones.
    zones: String,
    age_recipient: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EnrollmentCodeOut {
    pub alias: String,
    /// Shown once: give it to the volunteer to enroll at /console/enroll.
    pub enrollment_code: String,
    pub code_expires_at: i64,
}

/// Add a volunteer; returns their one-time enrollment code.
#[utoipa::path(post, path = "/api/v1/volunteers", request_body = NewVolunteerIn, responses(
    (status = 201, description = "Added", body = EnrollmentCodeOut),
    (status = 400, description = "A field is not valid", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For coordinators; or missing X-CSRF-Token", body = ErrorBody),
    (status = 422, description = "Alias or number already on the roster, or the body is not a volunteer", body = ErrorBody)))]
async fn add_volunteer(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<NewVolunteerIn>,
) -> Result<Response, ApiError> {
    let out = add_volunteer_with(&state, auth.who()?, input).await?;
    Ok(no_store((StatusCode::CREATED, Json(out)).into_response()))
}

pub async fn add_volunteer_with(
    state: &AppState,
    by: &Volunteer,
    input: NewVolunteerIn,
) -> Result<EnrollmentCodeOut, ApiError> {
    let new = roster::NewVolunteer::parse(
        &input.alias,
        &input.phone,
        &input.roles,
        &input.languages,
        &input.zones,
        input.age_recipient.as_deref().filter(|k| !k.trim().is_empty()),
    )?;
    Ok(EnrollmentCodeOut::from(crate::accounts::admin::add_volunteer(state, new, by).await?))
}

impl From<crate::accounts::admin::NewCode> for EnrollmentCodeOut {
    fn from(c: crate::accounts::admin::NewCode) -> Self {
        EnrollmentCodeOut {
            alias: c.alias,
            enrollment_code: c.code.expose_secret().to_string(),
            code_expires_at: c.expires_at.0,
        }
    }
}

impl NewVolunteerIn {
    pub fn new(alias: String, phone: String, roles: String, languages: String, zones: String) -> Self {
        NewVolunteerIn { alias, phone, roles, languages, zones, age_recipient: None }
    }
}

/// Remove a volunteer: their sessions, tokens and items only they could read go at once.
#[utoipa::path(delete, path = "/api/v1/volunteers/{alias}", params(("alias" = String, Path)), responses(
    (status = 204, description = "Removed"),
    (status = 400, description = "Not an alias", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For coordinators; or missing X-CSRF-Token", body = ErrorBody),
    (status = 404, description = "No such volunteer", body = ErrorBody),
    (status = 409, description = "That is you", body = ErrorBody)))]
async fn remove_volunteer(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(alias): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    crate::accounts::admin::remove_volunteer(&state, &alias, auth.who()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Put a volunteer on or off shift.
#[utoipa::path(put, path = "/api/v1/volunteers/{alias}/shift", params(("alias" = String, Path)), request_body = ShiftIn,
    responses(
    (status = 200, description = "Their shift now", body = VolunteerOut),
    (status = 400, description = "Not an alias", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For coordinators; or missing X-CSRF-Token", body = ErrorBody),
    (status = 404, description = "No such volunteer", body = ErrorBody),
    (status = 422, description = "The body is not a shift", body = ErrorBody)))]
async fn volunteer_shift(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(alias): ApiPath<String>,
    ApiJson(input): ApiJson<ShiftIn>,
) -> Result<Response, ApiError> {
    let v = roster::get(&state.db, &alias).await?;
    let now = crate::accounts::change_shift(&state, &v, input.on, Actor::Volunteer(auth.who()?)).await?;
    Ok(no_store(Json(VolunteerOut::from(&now)).into_response()))
}

/// Revoke a volunteer: every session and API token ends now; they enroll again.
#[utoipa::path(post, path = "/api/v1/volunteers/{alias}/revoke", params(("alias" = String, Path)), responses(
    (status = 204, description = "Revoked"),
    (status = 400, description = "Not an alias", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For coordinators; or missing X-CSRF-Token", body = ErrorBody),
    (status = 404, description = "No such volunteer", body = ErrorBody),
    (status = 409, description = "That is you", body = ErrorBody)))]
async fn revoke_volunteer(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(alias): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    crate::accounts::admin::revoke_volunteer(&state, &alias, auth.who()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new one-time enrollment code for a volunteer (the old one stops working).
#[utoipa::path(post, path = "/api/v1/volunteers/{alias}/enrollment", params(("alias" = String, Path)), responses(
    (status = 201, description = "The code", body = EnrollmentCodeOut),
    (status = 400, description = "Not an alias", body = ErrorBody),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For coordinators; or missing X-CSRF-Token", body = ErrorBody),
    (status = 404, description = "No such volunteer", body = ErrorBody)))]
async fn new_enrollment_code(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(alias): ApiPath<String>,
) -> Result<Response, ApiError> {
    let v = roster::get(&state.db, &alias).await?;
    let code = crate::accounts::admin::new_enrollment_code(&state, &v, Actor::Volunteer(auth.who()?)).await?;
    Ok(no_store((StatusCode::CREATED, Json(EnrollmentCodeOut::from(code))).into_response()))
}

/// What the network holds right now, class by class.
#[utoipa::path(get, path = "/api/v1/exposure", responses(
    (status = 200, description = "The exposure report", body = serde_json::Value),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For coordinators", body = ErrorBody)))]
async fn exposure(State(state): State<AppState>, _auth: Authorized) -> Result<Response, ApiError> {
    let report = crate::retention::exposure(&state).await?;
    Ok(no_store(Json(report).into_response()))
}

#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    pub hour: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub object_id: Option<i64>,
}

/// Recent audit events (no content).
#[utoipa::path(get, path = "/api/v1/audit", responses(
    (status = 200, description = "Newest first", body = [AuditOut]),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 403, description = "For coordinators", body = ErrorBody)))]
async fn audit(State(state): State<AppState>, _auth: Authorized) -> Result<Response, ApiError> {
    let out: Vec<AuditOut> = crate::audit::recent(&state, 200).await?.into_iter().map(AuditOut::from).collect();
    Ok(no_store(Json(out).into_response()))
}

impl From<crate::audit::Event> for AuditOut {
    fn from(e: crate::audit::Event) -> Self {
        AuditOut { hour: e.hour, actor: e.actor, action: e.action, object: e.object, object_id: e.object_id }
    }
}
