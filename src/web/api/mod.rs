//! `/api/v1`: the JSON API, for the console's people and the command line.
//!
//! Callers authenticate with a session cookie (from `POST /api/v1/session` or the
//! console; changes then need the `X-CSRF-Token` header) or an API token
//! (`Authorization: Bearer qlt_…`, from `quietline token create`). Who may call
//! what is the table in `web::auth`; handlers only turn requests into calls of
//! the domain and its answers into JSON. No response carries a phone number.
//!
//! One file per resource; each registers its routes with their OpenAPI entries
//! once (`routes!`), and the document served at `/api/v1/openapi.json` is
//! collected from them.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path};
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::{IntoResponses, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::error::{ApiError, ErrorBody};
use crate::AppState;

mod admin;
mod dashboard;
mod incidents;
mod intake;
mod items;
mod me;
mod session;
mod volunteers;

pub fn routes() -> Router<AppState> {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(session::routes())
        .merge(me::routes())
        .merge(dashboard::routes())
        .merge(incidents::routes())
        .merge(intake::routes())
        .merge(items::routes())
        .merge(volunteers::routes())
        .merge(admin::routes())
        .split_for_parts();
    let document = Bytes::from(serde_json::to_vec(&doc).expect("the OpenAPI document serializes"));
    router.route(
        "/api/v1/openapi.json",
        get(move || {
            let document = document.clone();
            async move { ([(CONTENT_TYPE, "application/json")], document) }
        }),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(title = "quietline", description = "The hotline's JSON API. No response carries a phone number."),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

// The answer sets below are only described, never built: handlers answer
// with `ApiError`, whose statuses they list.

/// What any route for a signed-in caller may answer instead of doing it.
#[derive(IntoResponses)]
#[allow(dead_code)]
enum SignedIn {
    /// Not signed in, or an API token that does not work.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Still enrolling, not for your roles or for an API token, or a change
    /// sent without the session's `X-CSRF-Token`.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// The database or disk cannot take the request now: nothing was stored.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// What a route with a number or alias in its path may answer instead.
#[derive(IntoResponses)]
#[allow(dead_code)]
enum Named {
    /// Not a number, or not an alias.
    #[response(status = 400)]
    BadPath(ErrorBody),
    /// Nothing of that number or alias (or not yours to see).
    #[response(status = 404)]
    NotFound(ErrorBody),
}

/// A JSON body that is not what the route takes.
#[derive(IntoResponses)]
#[response(status = 422)]
#[allow(dead_code)]
struct BadBody(ErrorBody);

/// A JSON body whose rejection is our error type: 422 with a reason in plain words.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
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

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// A JSON answer, typed.
type JsonResult<T> = Result<Json<T>, ApiError>;
