//! Keys: the public keys of the volunteer's devices. With the script, the page
//! makes a key in this browser (the private half never leaves it), offers its
//! passphrase backup, and imports a backup made elsewhere; without it, an
//! `age1…` key from `age-keygen` can be pasted, as before.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleSession, Empty, Result, SessionForm, alert, csrf, page, refusal, when};
use crate::AppState;
use crate::accounts::sessions::Session;
use crate::keys::{self, DeviceKey};

#[derive(Deserialize)]
pub struct Welcome {
    #[serde(default)]
    new: Option<String>,
}

pub async fn keys_page(
    State(state): State<AppState>,
    ConsoleSession(s): ConsoleSession,
    axum::extract::Query(welcome): axum::extract::Query<Welcome>,
) -> Result<Html<String>> {
    let list = keys::list(&state, &s.volunteer).await?;
    let notice = welcome.new.is_some().then_some(
        "You are enrolled. One step more: make a key on this device, so that what is sealed to you can be opened here.",
    );
    Ok(page("Keys", Some(&s), body(&s, &list, notice, None)))
}

fn body(s: &Session, list: &[DeviceKey], notice: Option<&str>, problem: Option<&str>) -> Markup {
    html! {
        h1 { "Keys" }
        @if let Some(n) = notice { p role="status" { (n) } }
        (alert(problem))
        p {
            "Voicemail, notes and texts are sealed to the keys below, one per device. A key is made on the device \
             and its private half never leaves it: the server holds only the public half, and cannot open anything."
        }
        p {
            strong { "If you lose a device, " }
            "what was sealed only to its key cannot be opened by anyone. Keep its backup file and passphrase \
             somewhere safe (not on the same device); another browser, "
            code { "age -d" } " or " code { "quietline open" } " can read the backup."
        }
        section aria-labelledby="registered" {
            h2 id="registered" { "Registered to you" }
            @if list.is_empty() {
                p { "No key yet: nothing can be sealed to you, so voicemail and texts are kept for the others only." }
            } @else {
                ul class="cards" {
                    @for k in list {
                        li {
                            strong { (k.label) }
                            " " code title=(k.recipient) { (abbreviated(&k.recipient)) }
                            br;
                            "added " (when(k.created_at.0))
                            form method="post" action={ "/console/keys/" (k.id) "/remove" } {
                                (csrf(s))
                                button type="submit" { "Remove (a lost device)" }
                            }
                        }
                    }
                }
            }
        }
        div data-ql-keys data-alias=(s.volunteer.alias) data-register-url="/api/v1/me/keys" {
            p data-ql-status role="status" {}
            section data-ql-needs-script hidden aria-labelledby="this-device" {
                h2 id="this-device" { "This browser" }
                div data-ql-device-keys {}
                h3 { "Make a key on this device" }
                form data-ql-new-key {
                    label for="label" { "Name of this device" }
                    input id="label" name="label" value="my phone" maxlength="60" required;
                    label for="passphrase" { "A passphrase for its backup (at least 12 characters)" }
                    input id="passphrase" name="passphrase" type="password" autocomplete="new-password" required;
                    label for="passphrase2" { "The passphrase, again" }
                    input id="passphrase2" name="passphrase2" type="password" autocomplete="new-password" required;
                    button type="submit" { "Make the key and save its backup" }
                }
                h3 { "Use a key from a backup file" }
                form data-ql-import-key {
                    label for="backup" { "Backup file (quietline-key-….age)" }
                    input id="backup" name="backup" type="file";
                    label for="import-passphrase" { "Its passphrase" }
                    input id="import-passphrase" name="passphrase" type="password" autocomplete="off";
                    label for="import-label" { "Name of this device" }
                    input id="import-label" name="label" value="my laptop" maxlength="60";
                    button type="submit" { "Import the key" }
                }
            }
        }
        section aria-labelledby="paste" {
            h2 id="paste" { "Or register a key made elsewhere" }
            p data-ql-no-script {
                "This page's script is off, so no key can be made here. Make one with " code { "age-keygen -o key.txt" }
                " on your own computer and paste its public key (" code { "age1…" } "); read with "
                code { "quietline open --identity key.txt" } "."
            }
            form method="post" action="/console/keys" {
                (csrf(s))
                label for="recipient" { "Public key (" code { "age1…" } ")" }
                input id="recipient" name="recipient" required autocomplete="off" spellcheck="false";
                label for="paste-label" { "Name of the device that holds its private key" }
                input id="paste-label" name="label" value="my computer" maxlength="60" required;
                button type="submit" { "Register this key" }
            }
        }
    }
}

/// `age1qqq…zzzz`: enough to tell keys apart on a small screen.
fn abbreviated(recipient: &str) -> String {
    if recipient.len() <= 16 {
        return recipient.to_string();
    }
    format!("{}…{}", &recipient[..9], &recipient[recipient.len() - 6..])
}

#[derive(Deserialize)]
pub struct KeyForm {
    recipient: String,
    label: String,
}

/// A public key pasted into the form (the way without the script).
pub async fn add_key(
    State(state): State<AppState>,
    SessionForm { session: s, form }: SessionForm<KeyForm>,
) -> Result<Response> {
    match keys::register(&state, &s.volunteer, &form.recipient, &form.label).await {
        Ok(r) => {
            let list = keys::list(&state, &s.volunteer).await?;
            let said = if r.new {
                "Registered: from now on what is sealed to you is sealed to it too."
            } else {
                "That key was registered already."
            };
            Ok(page("Keys", Some(&s), body(&s, &list, Some(said), None)).into_response())
        }
        Err(e) => {
            let e = refusal(e)?;
            let list = keys::list(&state, &s.volunteer).await?;
            Ok((e.status(), page("Keys", Some(&s), body(&s, &list, None, Some(&e.message())))).into_response())
        }
    }
}

pub async fn remove_key(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { session: s, .. }: SessionForm<Empty>,
) -> Result<Response> {
    let said = match keys::remove(&state, &s.volunteer, id).await {
        Ok(()) => "Removed: nothing sealed from now on opens with that key. What was sealed to it before still does.",
        Err(e) => {
            let e = refusal(e)?;
            let list = keys::list(&state, &s.volunteer).await?;
            return Ok((e.status(), page("Keys", Some(&s), body(&s, &list, None, Some(&e.message())))).into_response());
        }
    };
    let list = keys::list(&state, &s.volunteer).await?;
    Ok((StatusCode::OK, page("Keys", Some(&s), body(&s, &list, Some(said), None))).into_response())
}
