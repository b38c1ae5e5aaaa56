//! Incidents as people see them: status, who was paged or is going, how many
//! notes and when they go, never the details. Lists are read in a few queries
//! whatever their length: the incidents, their dispatches, their notes and
//! the roster once each.

use super::{DispatchError, NoteExpiry, Result};
use crate::AppState;
use crate::items::ItemClass;
use crate::roster::{self, Volunteer};
use crate::states::{DispatchState, IncidentStatus};
use crate::store::incidents::{self as field, IncidentRow};
use crate::store::items as item_db;

/// One incident as the server sees it.
pub struct IncidentView {
    pub id: i64,
    pub zone: String,
    pub kind: String,
    pub status: IncidentStatus,
    pub needed: i64,
    pub assigned: i64,
    pub opened_hour: i64,
    pub closed_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// `(alias, state)` of everyone paged or assigned.
    pub observers: Vec<(String, DispatchState)>,
    pub notes: usize,
    /// When the first note is deleted, if there is one.
    pub first_note_expires_at: Option<i64>,
    /// When the notes go, in words people read (none while there are no notes).
    pub note_expiry: Option<NoteExpiry>,
}

/// Every incident `who` may see, newest first: all of them for staff (see
/// [`Volunteer::is_staff`]), otherwise those they were paged for.
pub async fn visible_to(state: &AppState, who: &Volunteer) -> Result<Vec<IncidentView>> {
    let mut incidents = field::list(state.db.pool()).await?;
    if !who.is_staff() {
        let mine = field::paged_for(state.db.pool(), who.id).await?;
        incidents.retain(|i| mine.contains(&i.id));
    }
    views(state, incidents).await
}

/// One incident, if `who` may see it; to anyone else it does not exist.
pub async fn view_for(state: &AppState, who: &Volunteer, id: i64) -> Result<IncidentView> {
    let incident = field::get(state.db.pool(), id).await?.ok_or(DispatchError::NotFound(id))?;
    if !who.is_staff() && field::dispatch_state(state.db.pool(), id, who.id).await?.is_none() {
        return Err(DispatchError::NotFound(id));
    }
    Ok(views(state, vec![incident]).await?.remove(0))
}

/// One incident, for the operator.
pub async fn view(state: &AppState, id: i64) -> Result<IncidentView> {
    let incident = field::get(state.db.pool(), id).await?.ok_or(DispatchError::NotFound(id))?;
    Ok(views(state, vec![incident]).await?.remove(0))
}

/// Every incident not yet deleted, newest first, for the operator.
pub async fn all(state: &AppState) -> Result<Vec<IncidentView>> {
    views(state, field::list(state.db.pool()).await?).await
}

/// The incidents still being worked.
pub async fn open_incidents(state: &AppState) -> Result<Vec<IncidentView>> {
    views(state, field::list_open(state.db.pool()).await?).await
}

async fn views(state: &AppState, incidents: Vec<IncidentRow>) -> Result<Vec<IncidentView>> {
    if incidents.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = incidents.iter().map(|i| i.id).collect();
    let dispatches = field::dispatches_of_all(state.db.pool(), &ids).await?;
    let notes = item_db::of_incidents(state.db.pool(), &ids, ItemClass::Note.as_str()).await?;
    let roster = roster::list(&state.db).await?;
    let alias = |id: i64| roster.iter().find(|v| v.id == id).map(|v| v.alias.to_string()).unwrap_or_default();
    let note_life = state.config.retention.note;
    Ok(incidents
        .into_iter()
        .map(|i| {
            let observers =
                dispatches.iter().filter(|(inc, _, _)| *inc == i.id).map(|(_, v, s)| (alias(*v), *s)).collect();
            let mine: Vec<i64> = notes.iter().filter(|(inc, _)| *inc == i.id).map(|(_, n)| n.expires_at).collect();
            let first = mine.iter().copied().min();
            let note_expiry = match (first, i.closed_at) {
                (None, _) => None,
                (Some(t), Some(_)) => Some(NoteExpiry::At(crate::clock::UnixTime(t))),
                (Some(_), None) => Some(NoteExpiry::AfterClose(note_life)),
            };
            IncidentView {
                id: i.id,
                zone: i.zone,
                kind: i.kind,
                status: i.status,
                needed: i.needed,
                assigned: i.assigned,
                opened_hour: i.created_hour,
                closed_at: i.closed_at,
                expires_at: i.expires_at,
                observers,
                notes: mine.len(),
                first_note_expires_at: first,
                note_expiry,
            }
        })
        .collect())
}
