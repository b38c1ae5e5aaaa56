//! `/api/v1/volunteers`: the roster for coordinators (never a phone number):
//! adding, removing, shifts, revoking sign-ins, new enrollment codes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiPath, BadBody, JsonResult, Named, SignedIn};
use crate::AppState;
use crate::accounts::admin::{self, NewCode};
use crate::audit::Actor;
use crate::roster::{self, NewVolunteer, Volunteer};
use crate::web::auth::Authorized;
use crate::web::error::{ApiError, ErrorBody};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_volunteers, add_volunteer))
        .routes(routes!(remove_volunteer))
        .routes(routes!(volunteer_shift))
        .routes(routes!(revoke_volunteer))
        .routes(routes!(new_enrollment_code))
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
            has_key: v.has_key(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ShiftIn {
    pub on: bool,
}

/// The roster (no phone numbers).
#[utoipa::path(get, path = "/api/v1/volunteers", responses(
    (status = 200, description = "The roster", body = [VolunteerOut]), SignedIn))]
async fn list_volunteers(State(state): State<AppState>, _auth: Authorized) -> JsonResult<Vec<VolunteerOut>> {
    Ok(Json(roster::list(&state.db).await?.iter().map(VolunteerOut::from).collect()))
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

impl From<NewCode> for EnrollmentCodeOut {
    fn from(c: NewCode) -> Self {
        EnrollmentCodeOut {
            alias: c.alias,
            enrollment_code: c.code.expose_secret().to_string(),
            code_expires_at: c.expires_at.0,
        }
    }
}

/// Add a volunteer; returns their one-time enrollment code.
#[utoipa::path(post, path = "/api/v1/volunteers", request_body = NewVolunteerIn, responses(
    (status = 201, description = "Added", body = EnrollmentCodeOut),
    (status = 400, description = "A field is not valid", body = ErrorBody),
    (status = 422, description = "Alias or number already on the roster, or the body is not a volunteer", body = ErrorBody),
    SignedIn))]
async fn add_volunteer(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<NewVolunteerIn>,
) -> Result<(StatusCode, Json<EnrollmentCodeOut>), ApiError> {
    let new = NewVolunteer::parse(
        &input.alias,
        &input.phone,
        &input.roles,
        &input.languages,
        &input.zones,
        input.age_recipient.as_deref().filter(|k| !k.trim().is_empty()),
    )?;
    let code = admin::add_volunteer(&state, new, auth.who()?).await?;
    Ok((StatusCode::CREATED, Json(EnrollmentCodeOut::from(code))))
}

/// Remove a volunteer: their sessions, tokens and items only they could read go at once.
#[utoipa::path(delete, path = "/api/v1/volunteers/{alias}", params(("alias" = String, Path)), responses(
    (status = 204, description = "Removed"),
    (status = 409, description = "That is you", body = ErrorBody),
    SignedIn, Named))]
async fn remove_volunteer(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(alias): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    admin::remove_volunteer(&state, &alias, auth.who()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Put a volunteer on or off shift.
#[utoipa::path(put, path = "/api/v1/volunteers/{alias}/shift", params(("alias" = String, Path)), request_body = ShiftIn,
    responses((status = 200, description = "Their shift now", body = VolunteerOut), SignedIn, Named, BadBody))]
async fn volunteer_shift(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(alias): ApiPath<String>,
    ApiJson(input): ApiJson<ShiftIn>,
) -> JsonResult<VolunteerOut> {
    let v = roster::get(&state.db, &alias).await?;
    let now = crate::accounts::change_shift(&state, &v, input.on, Actor::Volunteer(auth.who()?)).await?;
    Ok(Json(VolunteerOut::from(&now)))
}

/// Revoke a volunteer: every session and API token ends now; they enroll again.
#[utoipa::path(post, path = "/api/v1/volunteers/{alias}/revoke", params(("alias" = String, Path)), responses(
    (status = 204, description = "Revoked"),
    (status = 409, description = "That is you", body = ErrorBody),
    SignedIn, Named))]
async fn revoke_volunteer(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(alias): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    admin::revoke_volunteer(&state, &alias, auth.who()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new one-time enrollment code for a volunteer (the old one stops working).
#[utoipa::path(post, path = "/api/v1/volunteers/{alias}/enrollment", params(("alias" = String, Path)), responses(
    (status = 201, description = "The code", body = EnrollmentCodeOut), SignedIn, Named))]
async fn new_enrollment_code(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(alias): ApiPath<String>,
) -> Result<(StatusCode, Json<EnrollmentCodeOut>), ApiError> {
    let v = roster::get(&state.db, &alias).await?;
    let code = admin::new_enrollment_code(&state, &v, Actor::Volunteer(auth.who()?)).await?;
    Ok((StatusCode::CREATED, Json(EnrollmentCodeOut::from(code))))
}
