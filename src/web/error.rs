//! The one error type of the web layer. Client errors say what was wrong in plain
//! words; a database or disk that cannot take a request now is a 503 saying so;
//! internal errors become a 500 with a fixed message and are logged once,
//! without content.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::accounts::sessions::AccountError;
use crate::dispatch::DispatchError;
use crate::flow::FlowError;
use crate::items::ItemError;
use crate::retention::SweepError;
use crate::roster::RosterError;
use crate::sms::intake::ReplyError;
use crate::store::Outage;
use crate::vault::VaultError;

#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    /// Signed in, but the authenticator is still to be enrolled.
    Enrolling,
    /// Sign-in failed: one answer for every reason.
    SignInFailed,
    TooMany(String),
    Conflict(String),
    Forbidden(String),
    NotFound(String),
    Gone(String),
    Unprocessable(String),
    /// The database or disk cannot take the request now; nothing was stored.
    Unavailable(String),
    Internal(String),
}

/// Every error answer: `{"error": "what was wrong, in plain words"}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::SignInFailed => StatusCode::UNAUTHORIZED,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Forbidden(_) | ApiError::Enrolling => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told (never the detail of an internal error).
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthorized => "sign in first (or send a valid API token)".into(),
            ApiError::Enrolling => "finish enrolling your authenticator first".into(),
            ApiError::SignInFailed => AccountError::SignInFailed.to_string(),
            ApiError::Internal(_) => "internal error; the operator can find it in the log".into(),
            ApiError::BadRequest(m)
            | ApiError::TooMany(m)
            | ApiError::Conflict(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Gone(m)
            | ApiError::Unprocessable(m)
            | ApiError::Unavailable(m) => m.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let message = self.message();
        let mut response = (status, Json(ErrorBody { error: message })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ItemError> for ApiError {
    fn from(e: ItemError) -> Self {
        match e {
            ItemError::NotFound => ApiError::NotFound(e.to_string()),
            ItemError::NotAReader => ApiError::Forbidden(e.to_string()),
            ItemError::Expired => ApiError::Gone(e.to_string()),
            ItemError::Invalid(m) => ApiError::BadRequest(m),
            ItemError::Vault(VaultError::NoReaders) => ApiError::Unprocessable(VaultError::NoReaders.to_string()),
            ItemError::Vault(VaultError::Malformed(m)) => ApiError::BadRequest(m.to_string()),
            ItemError::Vault(e @ VaultError::DiskFull(_)) => {
                tracing::error!(error = %e, "a new key could not be written");
                Outage::DiskFull.into()
            }
            ItemError::Vault(other) => ApiError::Internal(other.to_string()),
            ItemError::Store(e) => e.into(),
        }
    }
}

impl From<crate::keys::KeyError> for ApiError {
    fn from(e: crate::keys::KeyError) -> Self {
        use crate::keys::KeyError;
        match e {
            KeyError::Invalid(m) => ApiError::Unprocessable(m),
            KeyError::NotFound => ApiError::NotFound(e.to_string()),
            KeyError::Revoked => ApiError::Forbidden(e.to_string()),
            KeyError::TooMany => ApiError::Conflict(e.to_string()),
            KeyError::Store(e) => e.into(),
        }
    }
}

impl From<Outage> for ApiError {
    fn from(outage: Outage) -> Self {
        ApiError::Unavailable(format!("{outage}: nothing was stored; try again later"))
    }
}

/// A database error: an outage (unreachable, locked, disk full) is the client's
/// "try again later"; anything else is ours.
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match crate::store::reported_outage(&e) {
            Some(outage) => outage.into(),
            None => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<RosterError> for ApiError {
    fn from(e: RosterError) -> Self {
        match e {
            RosterError::Invalid(m) => ApiError::BadRequest(m),
            RosterError::NotFound(_) => ApiError::NotFound(e.to_string()),
            RosterError::AliasTaken(_) | RosterError::PhoneTaken => ApiError::Unprocessable(e.to_string()),
            RosterError::Store(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::SignInFailed => ApiError::SignInFailed,
            AccountError::TooManyAttempts => ApiError::TooMany(e.to_string()),
            AccountError::Invalid(m) => ApiError::Unprocessable(m),
            AccountError::Yourself => ApiError::Conflict(e.to_string()),
            AccountError::Unavailable(outage) => outage.into(),
            AccountError::Roster(e) => e.into(),
            AccountError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<DispatchError> for ApiError {
    fn from(e: DispatchError) -> Self {
        match e {
            DispatchError::Invalid(m) => ApiError::Unprocessable(m),
            DispatchError::NotFound(_) => ApiError::NotFound(e.to_string()),
            DispatchError::Ended(_) => ApiError::Conflict(e.to_string()),
            DispatchError::NotAllowed(m) => ApiError::Forbidden(m),
            DispatchError::Covered(_) => ApiError::Conflict(e.to_string()),
            DispatchError::NoReaders => ApiError::Unprocessable(e.to_string()),
            DispatchError::Item(e) => e.into(),
            DispatchError::Store(e) => e.into(),
            DispatchError::Roster(e) => e.into(),
        }
    }
}

impl From<SweepError> for ApiError {
    fn from(e: SweepError) -> Self {
        match e {
            SweepError::Store(e) => e.into(),
            SweepError::Vault(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::Store(e) => e.into(),
            FlowError::NotFound(m) => ApiError::NotFound(m),
            FlowError::Other(m) => ApiError::Internal(m),
        }
    }
}

impl From<ReplyError> for ApiError {
    fn from(e: ReplyError) -> Self {
        match e {
            ReplyError::Refused(why) => ApiError::Conflict(why),
            ReplyError::Failed(e) => e.into(),
        }
    }
}
