//! `/api/v1/intake`: public text threads, replies to them, marking them handled.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::incidents::TextIn;
use super::{ApiJson, ApiPath, JsonResult, Named, SignedIn};
use crate::AppState;
use crate::audit::Actor;
use crate::dispatch::{self, ThreadView};
use crate::sms::intake;
use crate::web::auth::Authorized;
use crate::web::error::{ApiError, ErrorBody};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_intake)).routes(routes!(intake_reply)).routes(routes!(intake_handled))
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

impl From<ThreadView> for ThreadOut {
    fn from(t: ThreadView) -> Self {
        ThreadOut {
            id: t.id,
            language: t.language,
            state: t.state.as_str().to_string(),
            expires_at: t.expires_at,
            items: t.items,
        }
    }
}

/// Public text threads that have not expired.
#[utoipa::path(get, path = "/api/v1/intake", responses(
    (status = 200, description = "Threads, newest first", body = [ThreadOut]), SignedIn))]
async fn list_intake(State(state): State<AppState>, _auth: Authorized) -> JsonResult<Vec<ThreadOut>> {
    Ok(Json(dispatch::threads(&state).await?.into_iter().map(ThreadOut::from).collect()))
}

/// Reply to a thread: the text reaches the sender from the hotline number.
#[utoipa::path(post, path = "/api/v1/intake/{id}/replies", params(("id" = i64, Path)), request_body = TextIn,
    responses(
    (status = 204, description = "Sent"),
    (status = 409, description = "The thread expired, opted out, or the text could not be sent", body = ErrorBody),
    (status = 422, description = "The body is not a text", body = ErrorBody),
    SignedIn, Named))]
async fn intake_reply(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<TextIn>,
) -> Result<StatusCode, ApiError> {
    intake::reply(&state, id, auth.who()?, input.text.expose_secret()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct HandledOut {
    expires_at: i64,
}

/// Mark a thread handled: it goes after `retention_intake_handled`.
#[utoipa::path(post, path = "/api/v1/intake/{id}/handled", params(("id" = i64, Path)), responses(
    (status = 200, description = "Handled", body = HandledOut), SignedIn, Named))]
async fn intake_handled(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
) -> JsonResult<HandledOut> {
    let until = intake::handled(&state, id, Actor::Volunteer(auth.who()?)).await?;
    Ok(Json(HandledOut { expires_at: until.0 }))
}
