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
use crate::states::ThreadState;

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
            (needs_now(d))
            section aria-labelledby="open" {
                h2 id="open" { "Open incidents" }
                (incident_table("Open incidents", &d.open_incidents))
            }
            section aria-labelledby="texts" {
                h2 id="texts" { "Text threads" }
                @if d.threads.is_empty() {
                    p { "None." }
                } @else {
                    ul class="cards" {
                        @for t in &d.threads {
                            li {
                                strong { "Text #" (t.id) } " (" (t.language) ", " (thread_state(t.state)) ")"
                                br;
                                @for item in &t.items {
                                    a class="chip" href={ "/console/items/" (item) } { "#" (item) }
                                    " "
                                }
                                br;
                                small { "deleted " (when(t.expires_at)) }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="new" {
                h2 id="new" { "Open an incident" }
                (new_incident_form(&state, &s))
            }
            section aria-labelledby="live" {
                h2 id="live" { "On shift" }
                p id="on-shift" { @if d.on_shift.is_empty() { "nobody" } @else { (d.on_shift.join(", ")) } }
                p { "Calls in progress: " (d.calls_in_progress) ". Voicemails held: " (d.voicemails) "." }
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

/// What needs someone now, first and standing out: callers waiting, voicemail
/// nobody has heard, incidents still wanting observers, texts without a reply.
fn needs_now(d: &dispatch::Dashboard) -> Markup {
    let wanting: Vec<_> = d.wanting_observers().collect();
    let texts: Vec<_> = d.threads.iter().filter(|t| t.state == ThreadState::Open).collect();
    let calm = d.calls_waiting == 0 && d.unheard_voicemails == 0 && wanting.is_empty() && texts.is_empty();
    html! {
        section class="now" aria-labelledby="now" {
            h2 id="now" { "Needs someone now" }
            @if calm {
                p { "Nothing is waiting." }
            } @else {
                ul class="attention" {
                    @if d.calls_waiting > 0 {
                        li class="urgent" { strong { (d.calls_waiting) } " caller(s) waiting for a volunteer" }
                    }
                    @if d.unheard_voicemails > 0 {
                        li { a href="/console/items" { strong { (d.unheard_voicemails) } " voicemail(s) nobody has heard" } }
                    }
                    @for i in &wanting {
                        li {
                            a href={ "/console/incidents/" (i.id) } {
                                strong { "#" (i.id) } " " (i.zone) ", " (i.kind) ": " (i.assigned) " of " (i.needed) " observers"
                            }
                        }
                    }
                    @for t in &texts {
                        li {
                            @match t.items.last() {
                                Some(item) => a href={ "/console/items/" (item) } { strong { "Text #" (t.id) } " waiting for a reply" },
                                None => { strong { "Text #" (t.id) } " waiting for a reply" },
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A thread's state in words.
fn thread_state(s: ThreadState) -> &'static str {
    match s {
        ThreadState::Open => "waiting for a reply",
        ThreadState::Replied => "replied",
        ThreadState::Handled => "handled",
        ThreadState::OptedOut => "sent STOP",
    }
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
