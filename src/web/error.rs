//! The one error type of the web layer. Client errors say what was wrong in plain
//! words; internal errors become a 500 with a fixed message and are logged once,
//! without content.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::items::ItemError;
use crate::roster::RosterError;
use crate::vault::VaultError;

#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    Forbidden(String),
    NotFound(String),
    Gone(String),
    Unprocessable(String),
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.as_str()),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "a valid API token is needed"),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.as_str()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m.as_str()),
            ApiError::Gone(m) => (StatusCode::GONE, m.as_str()),
            ApiError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m.as_str()),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error; the operator can find it in the log")
            }
        };
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
            ItemError::Vault(other) => ApiError::Internal(other.to_string()),
            ItemError::Store(other) => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<RosterError> for ApiError {
    fn from(e: RosterError) -> Self {
        match e {
            RosterError::Invalid(m) => ApiError::BadRequest(m),
            RosterError::NotFound(_) => ApiError::NotFound(e.to_string()),
            RosterError::AliasTaken(_) | RosterError::PhoneTaken => ApiError::Unprocessable(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}
