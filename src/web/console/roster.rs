//! The roster for coordinators: every volunteer (never a number), adding one
//! with their enrollment code, shifts, new codes, revoking, removing.

use axum::extract::{Path, State};
use axum::response::{Html, Redirect};
use maud::{Markup, html};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::dashboard::ShiftForm;
use super::{ConsoleSession, Empty, Result, SessionForm, column_heads, csrf, page};
use crate::AppState;
use crate::accounts::admin::{self, NewCode};
use crate::accounts::sessions::Session;
use crate::audit::Actor;
use crate::roster::{self, NewVolunteer, Volunteer};

fn joined<T>(items: &[T], name: impl Fn(&T) -> &str) -> String {
    items.iter().map(name).collect::<Vec<_>>().join(", ")
}

fn volunteer_row(v: &Volunteer, s: &Session) -> Markup {
    let to = |what: &str| format!("/console/roster/{}/{what}", v.alias);
    html! {
        tr {
            th scope="row" { (v.alias) }
            td data-label="Roles" { (joined(&v.roles, |r| r.as_str())) }
            td data-label="Languages" { (joined(&v.languages, |l| l.as_str())) }
            td data-label="Zones" { (joined(&v.zones, |z| z.as_str())) }
            td data-label="Shift" { (if v.on_shift { "on" } else { "off" }) }
            td data-label="Keys" { (v.keys.len()) }
            td data-label="Actions" {
                form method="post" action=(to("shift")) {
                    (csrf(s))
                    input type="hidden" name="on" value=(!v.on_shift);
                    button { (if v.on_shift { "Off shift" } else { "On shift" }) }
                }
                form method="post" action=(to("enrollment")) { (csrf(s)) button { "New enrollment code" } }
                form method="post" action=(to("revoke")) { (csrf(s)) button { "Revoke sign-ins" } }
                form method="post" action=(to("remove")) { (csrf(s)) button { "Remove" } }
            }
        }
    }
}

async fn roster_view(state: &AppState, s: &Session, code: Option<&NewCode>) -> Result<Html<String>> {
    let roster = roster::list(&state.db).await?;
    let body = html! {
        h1 { "Roster" }
        @if let Some(code) = code {
            p role="status" {
                "Enrollment code for " strong { (code.alias) } ": "
                code id="enrollment-code" { (code.code.expose_secret()) }
                " (shown once; it works until " (code.expires_at.display_utc()) "). They enroll at "
                code { "/console/enroll" } "."
            }
        }
        table {
            caption { "Volunteers (numbers are sealed and never shown)" }
            (column_heads(&["Alias", "Roles", "Languages", "Zones", "Shift", "Keys", "Actions"]))
            tbody { @for v in &roster { (volunteer_row(v, s)) } }
        }
        h2 { "Add a volunteer" }
        form method="post" action="/console/roster" {
            (csrf(s))
            label for="alias" { "Alias" }
            input id="alias" name="alias" required;
            label for="phone" { "Phone (E.164, sealed at once)" }
            input id="phone" name="phone" type="tel" required;
            label for="roles" { "Roles (comma-separated)" }
            input id="roles" name="roles" required;
            label for="languages" { "Languages" }
            input id="languages" name="languages" value="en" required;
            label for="zones" { "Zones" }
            input id="zones" name="zones" required;
            button type="submit" { "Add and make an enrollment code" }
        }
    };
    Ok(page("Roster", Some(s), body))
}

pub async fn roster_page(State(state): State<AppState>, ConsoleSession(s): ConsoleSession) -> Result<Html<String>> {
    roster_view(&state, &s, None).await
}

#[derive(Deserialize)]
pub struct VolunteerForm {
    alias: String,
    phone: String,
    roles: String,
    languages: String,
    zones: String,
}

pub async fn add_volunteer(
    State(state): State<AppState>,
    SessionForm { session: s, form: f }: SessionForm<VolunteerForm>,
) -> Result<Html<String>> {
    let new = NewVolunteer::parse(&f.alias, &f.phone, &f.roles, &f.languages, &f.zones, None)?;
    let code = admin::add_volunteer(&state, new, &s.volunteer).await?;
    roster_view(&state, &s, Some(&code)).await
}

pub async fn roster_shift(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    SessionForm { session, form }: SessionForm<ShiftForm>,
) -> Result<Redirect> {
    let v = roster::get(&state.db, &alias).await?;
    crate::accounts::change_shift(&state, &v, form.on, Actor::Volunteer(&session.volunteer)).await?;
    Ok(Redirect::to("/console/roster"))
}

pub async fn roster_code(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    SessionForm { session: s, .. }: SessionForm<Empty>,
) -> Result<Html<String>> {
    let v = roster::get(&state.db, &alias).await?;
    let code = admin::new_enrollment_code(&state, &v, Actor::Volunteer(&s.volunteer)).await?;
    roster_view(&state, &s, Some(&code)).await
}

pub async fn roster_revoke(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    SessionForm { session, .. }: SessionForm<Empty>,
) -> Result<Redirect> {
    admin::revoke_volunteer(&state, &alias, &session.volunteer).await?;
    Ok(Redirect::to("/console/roster"))
}

pub async fn roster_remove(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    SessionForm { session, .. }: SessionForm<Empty>,
) -> Result<Redirect> {
    admin::remove_volunteer(&state, &alias, &session.volunteer).await?;
    Ok(Redirect::to("/console/roster"))
}
