//! `/api/v1/me`: the caller, their shift, what they can read, and API tokens
//! for their own command line.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::volunteers::{ShiftIn, VolunteerOut};
use super::{ApiJson, ApiPath, BadBody, JsonResult, Named, SignedIn};
use crate::AppState;
use crate::audit::Actor;
use crate::items::Readable;
use crate::web::auth::Authorized;
use crate::web::error::{ApiError, ErrorBody};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(my_shift))
        .routes(routes!(my_items))
        .routes(routes!(my_token))
        .routes(routes!(my_keys, add_my_key))
        .routes(routes!(remove_my_key))
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, description = "Who you are", body = VolunteerOut), SignedIn))]
async fn me(auth: Authorized) -> JsonResult<VolunteerOut> {
    Ok(Json(VolunteerOut::from(auth.who()?)))
}

/// Go on or off shift.
#[utoipa::path(put, path = "/api/v1/me/shift", request_body = ShiftIn, responses(
    (status = 200, description = "Your shift now", body = VolunteerOut), SignedIn, BadBody))]
async fn my_shift(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<ShiftIn>,
) -> JsonResult<VolunteerOut> {
    let who = auth.who()?;
    let now = crate::accounts::change_shift(&state, who, input.on, Actor::Volunteer(who)).await?;
    Ok(Json(VolunteerOut::from(&now)))
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

impl From<Readable> for ItemOut {
    fn from(i: Readable) -> Self {
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
    (status = 200, description = "Items you can read", body = [ItemOut]), SignedIn))]
async fn my_items(State(state): State<AppState>, auth: Authorized) -> JsonResult<Vec<ItemOut>> {
    let now = state.vault.clock().now();
    let items = crate::items::readable_by(&state.db, auth.who()?, now).await?;
    Ok(Json(items.into_iter().map(ItemOut::from).collect()))
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
    (status = 422, description = "A lifetime that is not a duration or longer than 90d", body = ErrorBody),
    SignedIn))]
async fn my_token(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<TokenIn>,
) -> Result<(StatusCode, Json<TokenOut>), ApiError> {
    let token = crate::accounts::create_own_token(&state, auth.who()?, input.lifetime.as_deref()).await?;
    let out = TokenOut { token: token.token.expose_secret().to_string(), expires_at: token.expires_at.0 };
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Serialize, ToSchema)]
pub struct KeyOut {
    pub id: i64,
    /// The device's public age key (`age1…`).
    pub recipient: String,
    /// The device's name, as its owner gave it.
    pub label: String,
    pub created_at: i64,
}

impl From<crate::keys::DeviceKey> for KeyOut {
    fn from(k: crate::keys::DeviceKey) -> Self {
        KeyOut { id: k.id, recipient: k.recipient, label: k.label, created_at: k.created_at.0 }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct KeyIn {
    /// The public age key a device made for itself (`age1…`): never the private one.
    recipient: String,
    /// A name for the device ("my phone"), at most 60 characters.
    label: String,
}

/// The public keys of your devices: whatever is sealed to you is sealed to each.
#[utoipa::path(get, path = "/api/v1/me/keys", responses(
    (status = 200, description = "Your devices' keys, oldest first", body = [KeyOut]), SignedIn))]
async fn my_keys(State(state): State<AppState>, auth: Authorized) -> JsonResult<Vec<KeyOut>> {
    let keys = crate::keys::list(&state, auth.who()?).await?;
    Ok(Json(keys.into_iter().map(KeyOut::from).collect()))
}

/// Register the public key one of your devices made; from now on what is sealed
/// to you is sealed to it too. A key you registered already comes back with 200.
#[utoipa::path(post, path = "/api/v1/me/keys", request_body = KeyIn, responses(
    (status = 201, description = "Registered", body = KeyOut),
    (status = 200, description = "You had registered it already", body = KeyOut),
    (status = 409, description = "You have as many keys as one volunteer may", body = ErrorBody),
    (status = 422, description = "Not an age public key, or no usable device name", body = ErrorBody),
    SignedIn))]
async fn add_my_key(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<KeyIn>,
) -> Result<(StatusCode, Json<KeyOut>), ApiError> {
    let registered = crate::keys::register(&state, auth.who()?, &input.recipient, &input.label).await?;
    let status = if registered.new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(KeyOut::from(registered.key))))
}

/// Remove one of your keys (a lost or given-away device): nothing sealed from now
/// on opens with it.
#[utoipa::path(delete, path = "/api/v1/me/keys/{id}", params(("id" = i64, Path)), responses(
    (status = 204, description = "Removed"), SignedIn, Named))]
async fn remove_my_key(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    crate::keys::remove(&state, auth.who()?, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
