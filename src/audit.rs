//! The audit trail: who changed what, to the hour, without content. Coordinators
//! read it; the retention sweeper deletes events after `retention_audit`.

use crate::AppState;
use crate::roster::Volunteer;
use crate::store::audit as db;

/// Who acted.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Volunteer(&'a Volunteer),
    /// The operator, on the server's command line.
    Operator,
    /// The server itself (escalations, the sweeper).
    System,
    /// Someone outside the roster (public intake); never identified further.
    Public,
}

impl Actor<'_> {
    pub fn name(&self) -> String {
        match self {
            Actor::Volunteer(v) => v.alias.to_string(),
            Actor::Operator => "operator".into(),
            Actor::System => "system".into(),
            Actor::Public => "public".into(),
        }
    }
}

/// Records one event. A failure is logged, never fatal: the change it describes
/// has already happened and must not be undone for want of its record.
pub async fn record(state: &AppState, actor: Actor<'_>, action: &str, object_kind: &str, object_id: Option<i64>) {
    let hour = state.vault.clock().now().hour().0;
    if let Err(e) = db::insert(state.db.pool(), hour, &actor.name(), action, object_kind, object_id).await {
        tracing::warn!(error = %e, "an audit event could not be recorded");
    }
}

/// One event as coordinators read it.
pub struct Event {
    pub hour: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub object_id: Option<i64>,
}

/// The `limit` most recent events, newest first.
pub async fn recent(state: &AppState, limit: i64) -> Result<Vec<Event>, sqlx::Error> {
    Ok(db::recent(state.db.pool(), limit)
        .await?
        .into_iter()
        .map(|e| Event {
            hour: e.at_hour,
            actor: e.actor,
            action: e.action,
            object: e.object_kind,
            object_id: e.object_id,
        })
        .collect())
}
