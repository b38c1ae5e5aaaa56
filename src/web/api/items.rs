//! `/api/v1/items`: sealed notes in (JSON the server seals, or an age file the
//! client sealed), and an item's ciphertext out, to one of its readers.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderMap};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiPath, SignedIn};
use crate::AppState;
use crate::items::{self, Content, ItemClass};
use crate::roster::{self, Volunteer};
use crate::web::auth::Authorized;
use crate::web::error::{ApiError, ErrorBody};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_item)).routes(routes!(item_ciphertext))
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
    (status = 422, description = "A reader cannot read sealed items (the same answer whatever the reason)", body = ErrorBody),
    SignedIn))]
async fn create_item(
    State(state): State<AppState>,
    auth: Authorized,
    query: Result<Query<NewItemQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedItem>), ApiError> {
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
    Ok((StatusCode::CREATED, Json(created)))
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
    (status = 410, description = "Expired: nobody can read it any more", body = ErrorBody),
    SignedIn))]
async fn item_ciphertext(
    State(state): State<AppState>,
    auth: Authorized,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let bytes = items::ciphertext_for_reader(&state.db, &state.vault, id, auth.who()?).await?;
    Ok(([(CONTENT_TYPE, "application/age")], bytes).into_response())
}
