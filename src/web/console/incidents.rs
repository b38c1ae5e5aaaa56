//! Incidents: one incident's page (status, observers, notes and when they go,
//! the forms its viewer may use), opening one, changing its status, an
//! observer's answer.

use axum::extract::{Path, State};
use axum::response::{Html, Redirect};
use maud::{Markup, html};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::items::openable;
use super::{ConsoleSession, Result, SessionForm, column_heads, csrf, page, read_elsewhere, when};
use crate::AppState;
use crate::audit::Actor;
use crate::dispatch::views::{self, IncidentView};
use crate::dispatch::{self, Answer, Kind, NewReport, NoteExpiry, StatusChange};
use crate::web::error::ApiError;

/// A table of incidents, or a line saying there are none.
pub fn incident_table(caption: &str, rows: &[IncidentView]) -> Markup {
    html! {
        @if rows.is_empty() {
            p { (caption) ": none." }
        } @else {
            table {
                caption { (caption) }
                (column_heads(&["Incident", "Zone", "Kind", "Status", "Observers"]))
                tbody {
                    @for i in rows {
                        tr {
                            td data-label="Incident" { a href={ "/console/incidents/" (i.id) } { "#" (i.id) } }
                            td data-label="Zone" { (i.zone) }
                            td data-label="Kind" { (i.kind) }
                            td data-label="Status" { (i.status.label()) }
                            td data-label="Observers" { (i.assigned) " of " (i.needed) }
                        }
                    }
                }
            }
        }
    }
}

/// What the page says of the notes: how many, who reads them, when they go.
fn notes_line(i: &IncidentView) -> String {
    let n = i.notes;
    match &i.note_expiry {
        None => "No notes.".to_string(),
        Some(at @ NoteExpiry::At(_)) => {
            format!("{n} note(s), sealed to their authors and the legal team; the first is deleted {at}.")
        }
        Some(after) => format!("{n} note(s), sealed to their authors and the legal team; deleted {after}."),
    }
}

pub async fn incident(
    State(state): State<AppState>,
    ConsoleSession(s): ConsoleSession,
    Path(id): Path<i64>,
) -> Result<Html<String>> {
    let v = &s.volunteer;
    let i = views::view_for(&state, v, id).await?;
    let open = i.status.is_open();
    let readable: Vec<_> = crate::items::readable_by(&state.db, v, state.vault.clock().now())
        .await?
        .into_iter()
        .filter(|item| item.incident == Some(id))
        .collect();
    let assigned = i.observers.iter().any(|(alias, st)| *alias == v.alias.as_str() && st.is_assigned());
    let may_write = i.expires_at.is_none_or(|t| t > state.vault.clock().now().0) && (v.is_staff() || assigned);
    let body = html! {
        h1 { "Incident #" (id) }
        dl {
            dt { "Zone" } dd { (i.zone) }
            dt { "Kind" } dd { (i.kind) }
            dt { "Status" } dd id="status" { (i.status.label()) }
            dt { "Observers" } dd { (i.assigned) " of " (i.needed) " assigned" }
            dt { "Opened" } dd { "in the hour of " (when(i.opened_hour)) }
            @if let Some(t) = i.expires_at { dt { "Deleted" } dd { (when(t)) } }
        }
        h2 { "Observers" }
        @if i.observers.is_empty() {
            p { "Nobody paged yet." }
        } @else {
            ul { @for (alias, state) in &i.observers { li { (alias) ": " (state.label()) } } }
        }
        h2 { "Notes" }
        p { (notes_line(&i)) }
        @if readable.is_empty() {
            p { "Nothing of this incident is sealed to you." }
        } @else {
            @for item in &readable { (openable(item)) }
            (read_elsewhere(&state, readable.first().map(|i| i.id)))
        }
        @if may_write {
            form data-ql-seal data-ql-needs-script hidden
                data-recipients-url={ "/api/v1/incidents/" (id) "/notes/recipients" }
                data-upload-url={ "/api/v1/incidents/" (id) "/notes" } {
                label for="note" { "A field note (sealed in this browser to you and the legal team)" }
                textarea id="note" name="text" rows="4" {}
                p data-ql-status role="status" {}
                button type="submit" { "Seal and save the note" }
            }
            p data-ql-no-script { "Write notes by text: " code { "NOTE " (id) " <what you saw>" } "." }
        }
        @if open && v.can_dispatch() {
            h2 { "Change status" }
            form method="post" action={ "/console/incidents/" (id) "/status" } {
                (csrf(&s))
                button name="action" value="verify" { "Verified" }
                button name="action" value="close" { "Close" }
                button name="action" value="false_alarm" { "False alarm" }
            }
        }
        @if open && v.is_observer() {
            h2 { "Your dispatch" }
            form method="post" action={ "/console/incidents/" (id) "/dispatch" } {
                (csrf(&s))
                button name="action" value="accept" { "I am going" }
                button name="action" value="decline" { "I cannot go" }
                button name="action" value="arrive" { "On scene" }
                button name="action" value="leave" { "Leaving" }
            }
        }
    };
    Ok(page(&format!("Incident #{id}"), Some(&s), body))
}

#[derive(Deserialize)]
pub struct IncidentForm {
    zone: String,
    kind: String,
    location: String,
    #[serde(default)]
    description: String,
}

pub async fn new_incident(
    State(state): State<AppState>,
    SessionForm { session, form: f }: SessionForm<IncidentForm>,
) -> Result<Redirect> {
    let zone = dispatch::known_zone(&state, &f.zone).await?;
    let kind = Kind::parse(&f.kind).map_err(ApiError::Unprocessable)?;
    let location = Zeroizing::new(f.location);
    let description = Zeroizing::new(f.description);
    let report = NewReport { zone, kind, location: &location, description: &description };
    let opened = dispatch::open(&state, report, Actor::Volunteer(&session.volunteer)).await?;
    Ok(Redirect::to(&format!("/console/incidents/{}", opened.id)))
}

#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
}

pub async fn incident_status(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { session, form }: SessionForm<ActionForm>,
) -> Result<Redirect> {
    let change = StatusChange::parse(&form.action)?;
    dispatch::change_status(&state, id, change, Actor::Volunteer(&session.volunteer)).await?;
    Ok(Redirect::to(&format!("/console/incidents/{id}")))
}

pub async fn incident_dispatch(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { session, form }: SessionForm<ActionForm>,
) -> Result<Redirect> {
    dispatch::answer(&state, id, &session.volunteer, Answer::parse(&form.action)?).await?;
    Ok(Redirect::to(&format!("/console/incidents/{id}")))
}
