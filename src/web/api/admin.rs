//! `/api/v1/exposure` and `/api/v1/audit`: what the network holds, and who did
//! what, for coordinators.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{JsonResult, SignedIn};
use crate::AppState;
use crate::audit::{self, Event};
use crate::retention::{self, Exposure};
use crate::web::auth::Authorized;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(exposure)).routes(routes!(audit))
}

/// What the network holds right now, class by class.
#[utoipa::path(get, path = "/api/v1/exposure", responses(
    (status = 200, description = "The exposure report", body = serde_json::Value), SignedIn))]
async fn exposure(State(state): State<AppState>, _auth: Authorized) -> JsonResult<Exposure> {
    Ok(Json(retention::exposure(&state).await?))
}

#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    pub hour: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub object_id: Option<i64>,
}

impl From<Event> for AuditOut {
    fn from(e: Event) -> Self {
        AuditOut { hour: e.hour, actor: e.actor, action: e.action, object: e.object, object_id: e.object_id }
    }
}

/// Recent audit events (no content).
#[utoipa::path(get, path = "/api/v1/audit", responses(
    (status = 200, description = "Newest first", body = [AuditOut]), SignedIn))]
async fn audit(State(state): State<AppState>, _auth: Authorized) -> JsonResult<Vec<AuditOut>> {
    Ok(Json(audit::recent(&state, 200).await?.into_iter().map(AuditOut::from).collect()))
}
