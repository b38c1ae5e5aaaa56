//! Public text intake: a text from a number not on the roster opens an intake
//! thread, or continues the sender's thread while their caller token matches.
//!
//! The thread holds the sender's caller token (a keyed hash), the sender's number
//! sealed for the server (so dispatchers can reply without ever seeing it), and
//! every text in both directions, sealed to the on-shift dispatchers and the legal
//! team. Dispatchers get each text relayed with the thread number, or, with
//! `relay_content = false`, a content-free alert and the item number to open.

use std::time::Duration;

use super::Result;
use super::command::{self, Command};
use crate::AppState;
use crate::audit::{self, Actor};
use crate::clock::UnixTime;
use crate::flow::{FlowError, Texts};
use crate::items::{self, Content, ItemClass, ItemError};
use crate::language::Language;
use crate::outbound;
use crate::phone::PhoneNumber;
use crate::roster::{self, Volunteer};
use crate::states::ThreadState;
use crate::store::calls::{self as call_db, Attempts};
use crate::store::intake as field;
use crate::store::items::{self as item_db, Link};

/// The window of the text rate limit.
const RATE_WINDOW: Duration = Duration::from_secs(600);

/// The language a text asks for: its first word as a configured language's code
/// or own name (`ES`, `español`), or the whole text being one.
pub fn language_keyword(body: &str, state: &AppState) -> Option<Language> {
    let first = body.split_whitespace().next()?.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    state
        .config
        .languages
        .iter()
        .find(|lang| {
            let name = state.config.speech(lang).name.to_lowercase();
            first == lang.as_str() || first == name || first == strip_accents(&name)
        })
        .cloned()
}

fn strip_accents(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c => c,
        })
        .collect()
}

/// A text from the public.
pub async fn incoming(state: &AppState, from: &PhoneNumber, body: &str, has_media: bool) -> Result<Texts> {
    let now = state.vault.clock().now();
    let token = state.vault.caller_token_off_thread(from).await.map_err(|e| FlowError::Other(e.to_string()))?;
    let token = token.as_str();
    let thread = field::of_token(state.db.pool(), token, now.0).await?;
    let keyword = language_keyword(body, state);
    let lang = keyword
        .clone()
        .or_else(|| thread.as_ref().and_then(|t| Language::parse(&t.language).ok()))
        .filter(|l| state.config.languages.contains(l))
        .unwrap_or_else(|| state.config.default_language().clone());
    let speech = state.config.speech(&lang);

    // Carrier keywords keep their meaning: the carrier itself stops and restarts
    // our texts to them; we only stop offering replies.
    match command::carrier_keyword(body) {
        Some(Command::Stop) => {
            let mut stopped = 0;
            for from_state in [ThreadState::Open, ThreadState::Replied, ThreadState::Handled] {
                stopped +=
                    field::set_token_state(state.db.pool(), token, from_state, ThreadState::OptedOut, now.0).await?;
            }
            if let Some(t) = thread.as_ref().filter(|_| stopped > 0) {
                audit::record(state, Actor::Public, "intake.stop", "intake", Some(t.id)).await;
                let text = format!("quietline: text #{} sent STOP; replies will not reach them.", t.id);
                outbound::text_dispatchers(state, &text).await;
            }
            return Ok(Texts::none());
        }
        Some(Command::Start) => {
            field::set_token_state(state.db.pool(), token, ThreadState::OptedOut, ThreadState::Open, now.0).await?;
            return Ok(Texts::none());
        }
        Some(Command::Help) => return Ok(Texts::one(&speech.sms_help)),
        _ => {}
    }

    let since = now.0 - RATE_WINDOW.as_secs() as i64;
    let (blocked, recent) = call_db::block_and_attempts(state.db.pool(), Attempts::Texts, token, now.0, since).await?;
    if blocked {
        tracing::debug!("a text from a blocked sender was dropped");
        return Ok(Texts::none());
    }
    call_db::insert_attempt(state.db.pool(), Attempts::Texts, token, now.0).await?;
    let limit = i64::from(state.config.sms.rate_limit);
    if recent >= limit {
        tracing::debug!("a text over the rate limit was dropped");
        // Said once, not to every text of a flood.
        return Ok(if recent == limit { Texts::one(&speech.sms_limit) } else { Texts::none() });
    }

    let expires = now.plus(state.config.retention.intake);
    let (thread_id, is_new) = match &thread {
        Some(t) => {
            // Written again: waiting for a reply once more.
            let new_state = if t.state == ThreadState::OptedOut { t.state } else { ThreadState::Open };
            let lang_code = if keyword.is_some() { lang.as_str() } else { t.language.as_str() };
            extend(state, t.id, lang_code, new_state, expires).await?;
            (t.id, false)
        }
        None => {
            let id = field::insert(state.db.pool(), token, lang.as_str(), now.hour().0, expires.0).await?;
            items::store_for_server_linked(
                &state.db,
                &state.vault,
                ItemClass::IntakeSender,
                from.as_str().as_bytes(),
                expires,
                Some(Link::Thread(id)),
            )
            .await
            .map_err(|e| FlowError::Other(e.to_string()))?;
            audit::record(state, Actor::Public, "intake.open", "intake", Some(id)).await;
            (id, true)
        }
    };

    let item = match keep(state, thread_id, body, None, expires).await {
        Ok(item) => Some(item.id),
        Err(ItemError::Vault(crate::vault::VaultError::NoReaders)) => {
            tracing::warn!("a public text was not kept: nobody on shift or in the legal team has a key");
            None
        }
        Err(e) => return Err(FlowError::Other(e.to_string())),
    };

    let photos = if has_media { " (a photo or file came with it and was not kept)" } else { "" };
    let alert = if state.config.sms.relay_content {
        let quoted = quoted(body);
        zeroize::Zeroizing::new(format!(
            "Public text #{thread_id} ({lang}){photos}, from the public, not a page: \u{ab}{}\u{bb} \
             Reply: R {thread_id} <text>",
            quoted.as_str()
        ))
    } else {
        let open = match item {
            Some(i) => format!("read it at {}", state.item_page(i)),
            None => "it could not be kept: nobody has a key".to_string(),
        };
        zeroize::Zeroizing::new(format!(
            "quietline: new text in #{thread_id} ({lang}){photos}; {open}. Reply: R {thread_id} <text>"
        ))
    };
    let relayed = outbound::text_dispatchers(state, &alert).await;
    if relayed == 0 {
        tracing::warn!("a public text reached no dispatcher: nobody is on shift");
    }
    Ok(if is_new { Texts::one(&format!("{}\n{}", speech.sms_ack, speech.sms_safety)) } else { Texts::none() })
}

/// A public text as it is relayed: on one line, inside guillemets it cannot
/// close, so it can never pass for a page ("quietline #77 north… Reply Y 77")
/// or for a second message.
pub fn quoted(body: &str) -> zeroize::Zeroizing<String> {
    let mut out = zeroize::Zeroizing::new(String::with_capacity(body.len()));
    for word in body.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().map(|c| match c {
            '\u{ab}' | '\u{bb}' | '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        }));
    }
    out
}

/// Seals a text into a thread, for the on-shift dispatchers, the legal team and
/// `also` (the dispatcher who wrote a reply).
async fn keep(
    state: &AppState,
    thread_id: i64,
    text: &str,
    also: Option<&Volunteer>,
    expires: UnixTime,
) -> std::result::Result<items::StoredItem, ItemError> {
    let roster = roster::list(&state.db).await.map_err(|e| match e {
        roster::RosterError::Store(e) => ItemError::Store(e),
        other => ItemError::Invalid(other.to_string()),
    })?;
    let mut readers = roster::on_shift_dispatchers(&roster);
    readers.extend(roster::legal_team(&roster));
    readers.extend(also);
    let link = Some(Link::Thread(thread_id));
    items::store_linked(
        &state.db,
        &state.vault,
        ItemClass::Intake,
        Content::Plaintext(text.as_bytes()),
        &readers,
        expires,
        link,
    )
    .await
}

/// A thread goes on: it and the sender's number now expire at `expires`.
async fn extend(state: &AppState, id: i64, language: &str, thread_state: ThreadState, expires: UnixTime) -> Result<()> {
    field::update(state.db.pool(), id, language, thread_state, expires.0).await?;
    for item in item_db::linked(state.db.pool(), Link::Thread(id)).await? {
        if item.class == ItemClass::IntakeSender.as_str()
            && let Err(e) = items::reseal(&state.db, &state.vault, item.id, expires).await
        {
            tracing::warn!(error = %e, "an intake sender's number could not be kept with the thread");
        }
    }
    Ok(())
}

/// Why a reply did not go.
pub enum ReplyError {
    /// Explained to the dispatcher.
    Refused(String),
    Failed(FlowError),
}

impl From<sqlx::Error> for ReplyError {
    fn from(e: sqlx::Error) -> Self {
        ReplyError::Failed(FlowError::Store(e))
    }
}

/// `R 7 <text>`: a dispatcher's reply reaches the sender of thread 7 from the
/// hotline number, and is kept in the thread like the sender's texts.
pub async fn reply(
    state: &AppState,
    thread_id: i64,
    by: &Volunteer,
    text: &str,
) -> std::result::Result<(), ReplyError> {
    let now = state.vault.clock().now();
    let Some(thread) = field::get(state.db.pool(), thread_id).await?.filter(|t| t.expires_at > now.0) else {
        return Err(ReplyError::Refused(format!("There is no text #{thread_id} (or it has expired).")));
    };
    if thread.state == ThreadState::OptedOut {
        return Err(ReplyError::Refused(format!("#{thread_id} texted STOP: they cannot get replies.")));
    }
    let sender = item_db::linked(state.db.pool(), Link::Thread(thread_id))
        .await?
        .into_iter()
        .find(|i| i.class == ItemClass::IntakeSender.as_str());
    let number = match sender {
        Some(item) => items::open_for_server(&state.db, &state.vault, item.id, ItemClass::IntakeSender).await.ok(),
        None => None,
    };
    let Some(number) = number.and_then(|n| PhoneNumber::parse(&String::from_utf8_lossy(&n)).ok()) else {
        return Err(ReplyError::Refused(format!("The sender of #{thread_id} can no longer be reached.")));
    };
    if !outbound::text(state, &number, text).await {
        return Err(ReplyError::Refused(format!("The reply to #{thread_id} could not be sent; try again.")));
    }
    audit::record(state, Actor::Volunteer(by), "intake.reply", "intake", Some(thread_id)).await;
    // A reply keeps a thread going, except one marked handled: that one still goes
    // as `intake handled` said.
    let expires = if thread.state == ThreadState::Handled {
        UnixTime(thread.expires_at)
    } else {
        let expires = now.plus(state.config.retention.intake);
        extend(state, thread_id, &thread.language, ThreadState::Replied, expires).await.map_err(ReplyError::Failed)?;
        expires
    };
    if let Err(e) = keep(state, thread_id, text, Some(by), expires).await {
        tracing::warn!(error = %e, "a reply was sent but could not be kept in its thread");
    }
    Ok(())
}

/// A dispatcher marks a thread handled: it and everything in it now expire
/// `retention_intake_handled` from now, unless they expire sooner anyway.
pub async fn handled(state: &AppState, thread_id: i64, by: Actor<'_>) -> std::result::Result<UnixTime, FlowError> {
    let now = state.vault.clock().now();
    let Some(thread) = field::get(state.db.pool(), thread_id).await?.filter(|t| t.expires_at > now.0) else {
        return Err(FlowError::NotFound(format!("there is no text thread #{thread_id} (or it has expired)")));
    };
    let until = UnixTime(thread.expires_at.min(now.plus(state.config.retention.intake_handled).0));
    let new_state = if thread.state == ThreadState::OptedOut { ThreadState::OptedOut } else { ThreadState::Handled };
    field::update(state.db.pool(), thread_id, &thread.language, new_state, until.0).await?;
    for item in item_db::linked(state.db.pool(), Link::Thread(thread_id)).await? {
        if item.expires_at > until.0
            && let Err(e) = items::reseal(&state.db, &state.vault, item.id, until).await
        {
            tracing::warn!(error = %e, "an intake item could not be moved to its shorter lifetime");
        }
    }
    audit::record(state, by, "intake.handled", "intake", Some(thread_id)).await;
    Ok(until)
}
