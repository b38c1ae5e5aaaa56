//! The dashboard (the live picture for dispatchers, one's own dispatches for
//! observers) and going on or off shift from the header.

use axum::extract::State;
use axum::response::{Html, Redirect};
use maud::{Markup, html};
use serde::Deserialize;

use super::incidents::incident_table;
use super::{ConsoleSession, Result, SessionForm, csrf, page_with, when};
use crate::AppState;
use crate::audit::Actor;
use crate::dispatch::{self, Kind, views};

pub async fn dashboard(State(state): State<AppState>, ConsoleSession(s): ConsoleSession) -> Result<Html<String>> {
    let v = &s.volunteer;
    let live = if v.can_dispatch() { Some(dispatch::dashboard(&state).await?) } else { None };
    let mine = if v.is_observer() {
        let mut mine = views::visible_to(&state, v).await?;
        mine.retain(|i| i.status.is_open());
        Some(mine)
    } else {
        None
    };
    let body = html! {
        h1 { "Dashboard" }
        @if let Some(d) = &live {
            section aria-labelledby="live" {
                h2 id="live" { "Now" }
                ul {
                    li {
                        "On shift: "
                        span id="on-shift" { @if d.on_shift.is_empty() { "nobody" } @else { (d.on_shift.join(", ")) } }
                    }
                    li { "Calls waiting: " (d.calls_waiting) }
                    li { "Calls in progress: " (d.calls_in_progress) }
                    li { "Voicemails held: " (d.voicemails) }
                    li { "Open text threads: " (d.open_text_threads()) }
                }
            }
            section aria-labelledby="open" {
                h2 id="open" { "Open incidents" }
                (incident_table("Open incidents", &d.open_incidents))
            }
            section aria-labelledby="new" {
                h2 id="new" { "Open an incident" }
                (new_incident_form(&state, &s))
            }
            section aria-labelledby="texts" {
                h2 id="texts" { "Text threads" }
                @if d.threads.is_empty() {
                    p { "None." }
                } @else {
                    ul {
                        @for t in &d.threads {
                            li {
                                "Text #" (t.id) " (" (t.language) ", " (t.state.as_str()) "): items "
                                (t.items.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))
                                "; deleted " (when(t.expires_at))
                            }
                        }
                    }
                }
            }
        }
        @if let Some(mine) = &mine {
            section aria-labelledby="mine" {
                h2 id="mine" { "Your dispatches" }
                (incident_table("Incidents you were paged for", mine))
            }
        }
        p { a href="/console/items" { "Voicemail, notes and texts you can read" } }
    };
    // Refreshes by itself: no script needed.
    let refresh = html! { meta http-equiv="refresh" content="20; url=/console?auto=1"; };
    Ok(page_with("Dashboard", Some(&s), refresh, body))
}

fn new_incident_form(state: &AppState, s: &crate::accounts::sessions::Session) -> Markup {
    html! {
        form method="post" action="/console/incidents" {
            (csrf(s))
            label for="zone" { "Zone" }
            @if state.config.zones.is_empty() {
                input id="zone" name="zone" required;
            } @else {
                select id="zone" name="zone" { @for z in &state.config.zones { option { (z.as_str()) } } }
            }
            label for="kind" { "Kind" }
            select id="kind" name="kind" { @for k in Kind::ALL { option { (k.as_str()) } } }
            label for="location" { "Where (may go to observers by text)" }
            input id="location" name="location" required;
            label for="description" { "What was seen (sealed)" }
            textarea id="description" name="description" rows="3" {}
            button type="submit" { "Open and page observers" }
        }
    }
}

#[derive(Deserialize)]
pub struct ShiftForm {
    pub on: bool,
}

pub async fn shift(
    State(state): State<AppState>,
    SessionForm { session, form }: SessionForm<ShiftForm>,
) -> Result<Redirect> {
    let who = &session.volunteer;
    crate::accounts::change_shift(&state, who, form.on, Actor::Volunteer(who)).await?;
    Ok(Redirect::to("/console"))
}
