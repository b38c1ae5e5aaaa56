//! `/api/v1/session`, `/sessions` and `/enrollment`: signing in and out, and
//! enrolling with a one-time code, a password and an authenticator.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, SignedIn};
use crate::AppState;
use crate::accounts::sessions::{self, Enrollment, Stage, Started};
use crate::web::auth::{Authorized, ClientNetwork, clear_cookie, session_cookie};
use crate::web::error::{ApiError, ErrorBody};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in, sign_out))
        .routes(routes!(sign_out_everywhere))
        .routes(routes!(enroll))
        .routes(routes!(enroll_totp))
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

impl From<&Started> for SessionOut {
    fn from(s: &Started) -> Self {
        let stage = if s.stage == Stage::Full { "full" } else { "totp" };
        SessionOut { csrf: s.csrf.clone(), stage: stage.into() }
    }
}

/// The new session's cookie with its answer.
fn with_cookie(s: &Started, status: StatusCode, body: impl Serialize) -> Response {
    (status, [(SET_COOKIE, session_cookie(&s.token))], Json(body)).into_response()
}

/// Sign in with alias, password and authenticator code.
#[utoipa::path(post, path = "/api/v1/session", request_body = SignIn, responses(
    (status = 200, description = "Signed in; the session cookie is set", body = SessionOut),
    (status = 401, description = "Alias, password or code is not right", body = ErrorBody),
    (status = 422, description = "The body is not a sign-in", body = ErrorBody),
    (status = 429, description = "Too many failed attempts", body = ErrorBody),
    (status = 503, description = "The database cannot take the request now", body = ErrorBody)))]
async fn sign_in(
    State(state): State<AppState>,
    _auth: Authorized,
    ClientNetwork(network): ClientNetwork,
    ApiJson(input): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    let s = sessions::sign_in(&state, &input.alias, input.password, &input.code, network.as_deref()).await?;
    Ok(with_cookie(&s, StatusCode::OK, SessionOut::from(&s)))
}

/// Sign out this session.
#[utoipa::path(delete, path = "/api/v1/session", responses((status = 204, description = "Signed out"), SignedIn))]
async fn sign_out(State(state): State<AppState>, auth: Authorized) -> Result<Response, ApiError> {
    if let Some(s) = auth.session() {
        sessions::sign_out(&state, s).await?;
    }
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clear_cookie())]).into_response())
}

/// Sign out everywhere: every session of the caller ends.
#[utoipa::path(delete, path = "/api/v1/sessions", responses((status = 204, description = "Every session ended"), SignedIn))]
async fn sign_out_everywhere(State(state): State<AppState>, auth: Authorized) -> Result<Response, ApiError> {
    sessions::sign_out_everywhere(&state, auth.who()?).await?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clear_cookie())]).into_response())
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
    (status = 429, description = "Too many wrong codes for this alias", body = ErrorBody),
    (status = 503, description = "The database cannot take the request now", body = ErrorBody)))]
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
    let SessionOut { csrf, stage } = SessionOut::from(&s);
    let out = EnrollOut {
        csrf,
        stage,
        otpauth_uri: secret.uri("quietline", &alias).as_str().to_string(),
        secret: secret.base32().as_str().to_string(),
    };
    Ok(with_cookie(&s, StatusCode::CREATED, out))
}

#[derive(Deserialize, ToSchema)]
pub struct CodeIn {
    code: String,
}

/// Confirm the authenticator with its first code; the session becomes a full one.
#[utoipa::path(post, path = "/api/v1/enrollment/totp", request_body = CodeIn, responses(
    (status = 204, description = "Authenticator enrolled"),
    (status = 422, description = "Wrong or already used code", body = ErrorBody),
    SignedIn))]
async fn enroll_totp(
    State(state): State<AppState>,
    auth: Authorized,
    ApiJson(input): ApiJson<CodeIn>,
) -> Result<StatusCode, ApiError> {
    let session = auth.session().ok_or(ApiError::Unauthorized)?;
    sessions::confirm_totp(&state, session, &input.code).await?;
    Ok(StatusCode::NO_CONTENT)
}
