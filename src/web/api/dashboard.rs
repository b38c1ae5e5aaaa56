//! `/api/v1/dashboard`: the live picture for dispatchers.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::incidents::IncidentOut;
use super::{JsonResult, SignedIn};
use crate::AppState;
use crate::dispatch::{self, Dashboard};
use crate::web::auth::Authorized;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dashboard))
}

#[derive(Serialize, ToSchema)]
pub struct DashboardOut {
    pub on_shift: Vec<String>,
    pub calls_waiting: i64,
    pub calls_in_progress: i64,
    pub voicemails: i64,
    /// Voicemails no reader has fetched yet.
    pub unheard_voicemails: i64,
    /// Text threads waiting for a reply.
    pub open_text_threads: i64,
    pub open_incidents: Vec<IncidentOut>,
}

impl From<Dashboard> for DashboardOut {
    fn from(d: Dashboard) -> Self {
        DashboardOut {
            open_text_threads: d.open_text_threads() as i64,
            on_shift: d.on_shift,
            calls_waiting: d.calls_waiting,
            calls_in_progress: d.calls_in_progress,
            voicemails: d.voicemails,
            unheard_voicemails: d.unheard_voicemails,
            open_incidents: d.open_incidents.into_iter().map(IncidentOut::from).collect(),
        }
    }
}

/// The live picture for dispatchers: who is on shift, calls, voicemail, texts, incidents.
#[utoipa::path(get, path = "/api/v1/dashboard", responses(
    (status = 200, description = "The dashboard", body = DashboardOut), SignedIn))]
async fn dashboard(State(state): State<AppState>, _auth: Authorized) -> JsonResult<DashboardOut> {
    Ok(Json(DashboardOut::from(dispatch::dashboard(&state).await?)))
}
