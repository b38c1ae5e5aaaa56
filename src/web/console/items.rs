//! What a volunteer can read: their sealed items (what exists, who reads it,
//! when it goes), each on a page of its own where the script opens it in the
//! browser (text shown, voicemail played from memory), and API tokens for
//! `quietline open` where it cannot.

use axum::extract::{Path, State};
use axum::response::Html;
use maud::{Markup, html};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{ConsoleSession, Result, SessionForm, csrf, page, read_elsewhere, when};
use crate::AppState;
use crate::accounts::sessions::Session;
use crate::items::{ItemClass, Readable};
use crate::web::error::ApiError;

pub async fn items(State(state): State<AppState>, ConsoleSession(s): ConsoleSession) -> Result<Html<String>> {
    Ok(page("My items", Some(&s), items_body(&state, &s, None).await?))
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    lifetime: String,
}

pub async fn new_token(
    State(state): State<AppState>,
    SessionForm { session: s, form }: SessionForm<TokenForm>,
) -> Result<Html<String>> {
    let lifetime = Some(form.lifetime.trim()).filter(|l| !l.is_empty());
    let token = crate::accounts::create_own_token(&state, &s.volunteer, lifetime).await?;
    let notice = html! {
        "Your API token (shown once; keep it in a file only you can read): "
        code id="api-token" { (token.token.expose_secret()) }
        ", works until " (token.expires_at.display_utc()) "."
    };
    Ok(page("My items", Some(&s), items_body(&state, &s, Some(notice)).await?))
}

async fn items_body(state: &AppState, s: &Session, notice: Option<Markup>) -> Result<Markup> {
    let items = crate::items::readable_by(&state.db, &s.volunteer, state.vault.clock().now()).await?;
    Ok(html! {
        h1 { "What you can read" }
        p {
            "Everything here is sealed to your keys: the server cannot read it. Open an item to read or play it in              this browser, with the key this device holds (see " a href="/console/keys" { "Keys" } ")."
        }
        @if items.is_empty() {
            p { "Nothing is addressed to you right now." }
        } @else {
            ul class="cards" {
                @for i in &items {
                    li { (summary(i)) }
                }
            }
        }
        @if let Some(n) = notice { p role="status" { (n) } }
        h2 { "On another computer" }
        (read_elsewhere(state, None))
        form method="post" action="/console/tokens" {
            (csrf(s))
            label for="lifetime" { "An API token for quietline open, valid for (e.g. 30d, at most 90d)" }
            input id="lifetime" name="lifetime" value="30d";
            button type="submit" { "Create a token" }
        }
    })
}

/// What an item is, in words: `Voicemail #12, incident #3`.
fn kind_of(i: &Readable) -> &'static str {
    match ItemClass::parse(&i.class) {
        Some(ItemClass::Voicemail) => "Voicemail",
        Some(ItemClass::Note) if i.incident.is_some() => "Field note",
        Some(ItemClass::Note) => "Note",
        Some(ItemClass::Intake) => "Text",
        Some(ItemClass::IncidentDetails) => "Incident details",
        _ => "Item",
    }
}

/// One item in a list: a link to its page, what it is about, who reads it.
pub fn summary(i: &Readable) -> Markup {
    html! {
        a href={ "/console/items/" (i.id) } { strong { (kind_of(i)) " #" (i.id) } }
        @match (i.incident, i.thread) {
            (Some(id), _) => { " on " a href={ "/console/incidents/" (id) } { "incident #" (id) } },
            (_, Some(t)) => { " in text thread #" (t) },
            _ => {},
        }
        br;
        small { "sealed to " (i.readers.join(", ")) "; deleted " (when(i.expires_at)) }
    }
}

/// An element the script opens in place: text shown, audio played from memory.
pub fn openable(i: &Readable) -> Markup {
    let kind = if ItemClass::parse(&i.class) == Some(ItemClass::Voicemail) { "audio" } else { "text" };
    html! {
        div class="item" data-ql-item data-item-id=(i.id) data-kind=(kind)
            data-ciphertext-url={ "/api/v1/items/" (i.id) "/ciphertext" } {
            (summary(i))
            p data-ql-status role="status" {}
            button type="button" data-ql-open hidden { "Open here" }
        }
    }
}

/// One item's page.
pub async fn item(
    State(state): State<AppState>,
    ConsoleSession(s): ConsoleSession,
    Path(id): Path<i64>,
) -> Result<Html<String>> {
    let items = crate::items::readable_by(&state.db, &s.volunteer, state.vault.clock().now()).await?;
    // Also for items that do not exist: nobody learns which ids are in use.
    let Some(i) = items.into_iter().find(|i| i.id == id) else {
        return Err(ApiError::NotFound(format!("item #{id} is not one you can read (or it has expired)")).into());
    };
    let body = html! {
        h1 { (kind_of(&i)) " #" (i.id) }
        (openable(&i))
        p data-ql-needs-script hidden {
            "It is opened in this browser only: nothing of it is stored here or sent anywhere, and it is gone when              you leave the page."
        }
        (read_elsewhere(&state, Some(i.id)))
        p { a href="/console/items" { "Everything you can read" } }
    };
    Ok(page(&format!("{} #{}", kind_of(&i), i.id), Some(&s), body))
}
