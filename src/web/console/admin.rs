//! The exposure report and the audit trail, for coordinators.

use axum::extract::State;
use axum::response::Html;
use maud::html;

use super::{ConsoleSession, Result, column_heads, page, when};
use crate::AppState;

pub async fn exposure(State(state): State<AppState>, ConsoleSession(s): ConsoleSession) -> Result<Html<String>> {
    let report = crate::retention::exposure(&state).await?;
    let body = html! {
        h1 { "Exposure" }
        p { (report.summary) }
        pre { (crate::retention::render(&report)) }
    };
    Ok(page("Exposure", Some(&s), body))
}

pub async fn audit(State(state): State<AppState>, ConsoleSession(s): ConsoleSession) -> Result<Html<String>> {
    let events = crate::audit::recent(&state, 200).await?;
    let body = html! {
        h1 { "Audit" }
        p { "Who did what, to the hour. No content is ever recorded." }
        table {
            caption { "Recent events" }
            (column_heads(&["Hour", "Who", "Action", "Object"]))
            tbody {
                @for e in &events {
                    tr {
                        td data-label="Hour" { (when(e.hour)) }
                        td data-label="Who" { (e.actor) }
                        td data-label="Action" { (e.action) }
                        td data-label="Object" { (e.object) " " @if let Some(id) = e.object_id { "#" (id) } }
                    }
                }
            }
        }
    };
    Ok(page("Audit", Some(&s), body))
}
