//! `/api/v1/incidents`: opening incidents, what people may see of them, status
//! changes, observers' answers and field notes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use super::{ApiJson, ApiPath, JsonResult, Named, SignedIn};
use crate::AppState;
use crate::audit::Actor;
use crate::dispatch::views::{self, IncidentView};
use crate::dispatch::{self, Answer, Kind, NewReport, NoteExpiry, StatusChange};
use crate::web::auth::Authorized;
use crate::web::error::{ApiError, ErrorBody};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents, open_incident))
        .routes(routes!(get_incident))
        .routes(routes!(incident_status))
        .routes(routes!(incident_dispatch))
        .routes(routes!(incident_note))
        .routes(routes!(note_recipients))
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

impl From<IncidentView> for IncidentOut {
    fn from(i: IncidentView) -> Self {
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

/// Incidents you may see.
#[utoipa::path(get, path = "/api/v1/incidents", responses(
    (status = 200, description = "Incidents, newest first", body = [IncidentOut]), SignedIn))]
async fn list_incidents(State(state): State<AppState>, auth: Authorized) -> JsonResult<Vec<IncidentOut>> {
    let all = views::visible_to(&state, auth.who()?).await?;
    Ok(Json(all.into_iter().map(IncidentOut::from).collect()))
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
    (status = 422, description = "Unknown zone or kind, or no location", body = ErrorBody),
    SignedIn))]
async fn open_incident(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<NewIncidentIn>,
) -> Result<(StatusCode, Json<OpenedOut>), ApiError> {
    let who = auth.who()?;
    let zone = dispatch::known_zone(&state, &input.zone).await?;
    let kind = Kind::parse(input.kind.as_deref().unwrap_or("other")).map_err(ApiError::Unprocessable)?;
    let description = Zeroizing::new(input.description.unwrap_or_default());
    let location = Zeroizing::new(input.location);
    let report = NewReport { zone, kind, location: &location, description: &description };
    let opened = dispatch::open(&state, report, Actor::Volunteer(who)).await?;
    let out = OpenedOut { id: opened.id, paged: opened.paged, details_item: opened.details_item };
    Ok((StatusCode::CREATED, Json(out)))
}

/// One incident: status, observers, notes and when they go.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", params(("id" = i64, Path)), responses(
    (status = 200, description = "The incident", body = IncidentOut), SignedIn, Named))]
async fn get_incident(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
) -> JsonResult<IncidentOut> {
    Ok(Json(IncidentOut::from(views::view_for(&state, auth.who()?, id).await?)))
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
    (status = 409, description = "The incident has ended", body = ErrorBody),
    (status = 422, description = "Unknown action, or not possible now", body = ErrorBody),
    SignedIn, Named))]
async fn incident_status(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ActionIn>,
) -> JsonResult<IncidentOut> {
    let who = auth.who()?;
    dispatch::change_status(&state, id, StatusChange::parse(&input.action)?, Actor::Volunteer(who)).await?;
    Ok(Json(IncidentOut::from(views::view_for(&state, who, id).await?)))
}

/// An observer accepts, declines, arrives or leaves.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/dispatch", params(("id" = i64, Path)), request_body = ActionIn,
    responses(
    (status = 200, description = "The incident now", body = IncidentOut),
    (status = 409, description = "The incident has ended, or every slot is taken", body = ErrorBody),
    (status = 422, description = "Unknown action", body = ErrorBody),
    SignedIn, Named))]
async fn incident_dispatch(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ActionIn>,
) -> JsonResult<IncidentOut> {
    dispatch::answer(&state, id, auth.who()?, Answer::parse(&input.action)?).await?;
    Ok(Json(IncidentOut::from(views::view(&state, id).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct TextIn {
    #[schema(value_type = String)]
    pub text: SecretString,
}

#[derive(Serialize, ToSchema)]
pub struct NoteOut {
    id: i64,
    /// Unix seconds, or absent while the incident is open (its notes go
    /// `retention_note` after the close).
    expires_at: Option<i64>,
}

/// A note's body: JSON `{"text": …}` the server seals at once, or an age file
/// the author's device sealed to [`note_recipients`] (the server never reads it).
pub enum NoteBody {
    Text(TextIn),
    Sealed(Bytes),
}

impl<S: Send + Sync> FromRequest<S> for NoteBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let age = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/age"));
        if age {
            let bytes = Bytes::from_request(request, state)
                .await
                .map_err(|e| ApiError::BadRequest(format!("the body could not be read: {}", e.body_text())))?;
            return Ok(NoteBody::Sealed(bytes));
        }
        Ok(NoteBody::Text(ApiJson::<TextIn>::from_request(request, state).await?.0))
    }
}

/// A field note: sealed at once to you and the legal team, or sealed already on
/// your device (`application/age`, to the keys of `…/notes/recipients`).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", params(("id" = i64, Path)),
    request_body(content((TextIn = "application/json"), ("application/age"))),
    responses(
    (status = 201, description = "Stored", body = NoteOut),
    (status = 400, description = "Not an age file", body = ErrorBody),
    (status = 409, description = "The incident's notes have all expired", body = ErrorBody),
    (status = 422, description = "Nobody who should read it has a key", body = ErrorBody),
    SignedIn, Named))]
async fn incident_note(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
    body: NoteBody,
) -> Result<(StatusCode, Json<NoteOut>), ApiError> {
    let saved = match &body {
        NoteBody::Text(input) => {
            dispatch::add_note(&state, id, auth.who()?, input.text.expose_secret().as_bytes()).await?
        }
        NoteBody::Sealed(age) => dispatch::add_sealed_note(&state, id, auth.who()?, age).await?,
    };
    let expires_at = match saved.expiry {
        NoteExpiry::At(t) => Some(t.0),
        NoteExpiry::AfterClose(_) => None,
    };
    Ok((StatusCode::CREATED, Json(NoteOut { id: saved.id, expires_at })))
}

#[derive(Serialize, ToSchema)]
pub struct RecipientsOut {
    /// Public age keys (`age1…`): seal to every one of them.
    recipients: Vec<String>,
}

/// The keys a note you write on this incident is sealed to (yours and the
/// legal team's), for sealing it on your own device.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/notes/recipients", params(("id" = i64, Path)), responses(
    (status = 200, description = "Seal to these", body = RecipientsOut),
    (status = 409, description = "The incident's notes have all expired", body = ErrorBody),
    (status = 422, description = "Nobody who should read it has a key", body = ErrorBody),
    SignedIn, Named))]
async fn note_recipients(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
) -> JsonResult<RecipientsOut> {
    Ok(Json(RecipientsOut { recipients: dispatch::note_recipients(&state, id, auth.who()?).await? }))
}
