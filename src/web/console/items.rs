//! What a volunteer can read: their sealed items (what exists, who reads it,
//! when it goes; never the content), how to open them, and API tokens for
//! `quietline open`.

use axum::extract::State;
use axum::response::Html;
use maud::{Markup, html};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{ConsoleSession, Result, SessionForm, column_heads, csrf, page, when};
use crate::AppState;
use crate::accounts::sessions::Session;

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
    let server = state.config.public_url.as_deref().unwrap_or("https://this-server");
    Ok(html! {
        h1 { "What you can read" }
        p {
            "Everything here is encrypted to you: the server cannot read it. \
             Open an item on your own computer with your age identity, for example:"
        }
        @if let Some(n) = notice { p role="status" { (n) } }
        p { code { "quietline open --identity your-key.txt --server " (server) " --token-file your-token.txt 12" } }
        form method="post" action="/console/tokens" {
            (csrf(s))
            label for="lifetime" { "An API token for quietline open, valid for (e.g. 30d, at most 90d)" }
            input id="lifetime" name="lifetime" value="30d";
            button type="submit" { "Create a token" }
        }
        @if items.is_empty() {
            p { "Nothing is addressed to you right now." }
        } @else {
            table {
                caption { "Sealed items" }
                (column_heads(&["Item", "Kind", "About", "Readers", "Deleted"]))
                tbody {
                    @for i in &items {
                        tr {
                            td { (i.id) }
                            td { (i.class.replace('_', " ")) }
                            td {
                                @match (i.incident, i.thread) {
                                    (Some(id), _) => a href={ "/console/incidents/" (id) } { "incident #" (id) },
                                    (_, Some(t)) => { "text #" (t) },
                                    _ => {},
                                }
                            }
                            td { (i.readers.join(", ")) }
                            td { (when(i.expires_at)) }
                        }
                    }
                }
            }
        }
    })
}
