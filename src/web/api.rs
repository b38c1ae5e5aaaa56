//! `/api/v1`: the JSON API. For now, sealed items: submit one, fetch the age
//! ciphertext of one you are a reader of. Callers authenticate with an API token
//! (`Authorization: Bearer qlt_…`) created by `quietline token create`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{CONTENT_TYPE, HeaderMap};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::AppState;
use crate::items::{self, Content, ItemClass};
use crate::roster::{self, Volunteer};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/items", post(create_item))
        .route("/api/v1/items/{id}/ciphertext", get(item_ciphertext))
        .route("/api/v1/exposure", get(exposure))
}

/// The volunteer behind a valid API token.
pub struct ApiVolunteer(pub Volunteer);

impl FromRequestParts<AppState> for ApiVolunteer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        match crate::accounts::authenticate(&state.db, token.trim(), state.vault.clock().now()).await? {
            Some(v) => Ok(ApiVolunteer(v)),
            None => Err(ApiError::Unauthorized),
        }
    }
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

#[derive(Serialize)]
struct CreatedItem {
    id: i64,
    expires_at: i64,
    expires: String,
    readers: Vec<String>,
}

/// `POST /api/v1/items`: a note, either as JSON `{"text": …}` that the server seals
/// to its readers, or as an age file (`Content-Type: application/age`) the client
/// encrypted itself. Readers default to the author and the legal team.
async fn create_item(
    State(state): State<AppState>,
    ApiVolunteer(author): ApiVolunteer,
    Query(query): Query<NewItemQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let class = ItemClass::Note;
    let stored = if content_type.starts_with("application/json") {
        let json: NewItemJson = serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!("expected {{\"text\": …}} (line {}, column {})", e.line(), e.column()))
        })?;
        let readers = resolve_readers(&state, &author, json.readers.as_deref()).await?;
        let lifetime = parse_lifetime(json.lifetime.as_deref(), state.config.retention.note)?;
        let refs: Vec<&Volunteer> = readers.iter().collect();
        let text = json.text.expose_secret().as_bytes();
        items::store(&state.db, &state.vault, class, Content::Plaintext(text), &refs, lifetime).await?
    } else if content_type.starts_with("application/age") || content_type.starts_with("application/octet-stream") {
        let names: Option<Vec<String>> =
            query.readers.as_deref().map(|r| r.split(',').map(|s| s.trim().to_string()).collect());
        let readers = resolve_readers(&state, &author, names.as_deref()).await?;
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
            let mut out = Vec::with_capacity(names.len());
            for name in names.iter().filter(|n| !n.is_empty()) {
                let v = roster::get(&state.db, name).await?;
                if v.age_recipient.is_none() {
                    return Err(ApiError::Unprocessable(format!("{} has no age key registered", v.alias)));
                }
                out.push(v);
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

/// `GET /api/v1/items/{id}/ciphertext`: the age ciphertext, for a reader.
async fn item_ciphertext(
    State(state): State<AppState>,
    ApiVolunteer(reader): ApiVolunteer,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let bytes = items::ciphertext_for_reader(&state.db, &state.vault, id, &reader).await?;
    let mut response = bytes.into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/age"));
    response.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /api/v1/exposure`: the exposure report, for coordinators.
async fn exposure(State(state): State<AppState>, ApiVolunteer(who): ApiVolunteer) -> Result<Response, ApiError> {
    if !who.has_role(crate::roster::Role::Coordinator) {
        return Err(ApiError::Forbidden("the exposure report is for coordinators".into()));
    }
    let report = crate::retention::exposure(&state).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut response = Json(report).into_response();
    response.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    Ok(response)
}
