//! A call, from the first ring to the provider scrub: the state machine behind
//! the voice webhooks, in the provider-neutral words of [`flow`](crate::flow).
//! Each step returns the [`Voice`] the caller (or volunteer) hears next;
//! `telephony` renders it, and `outbound` places and ends the calls we make.
//!
//! All state lives in the database, so any instance (or a restarted one) can serve
//! any webhook and continue any call. Transitions that must happen once (a
//! volunteer taking the call, a tier escalating, voicemail) are conditional updates
//! in `store::calls`.
//!
//! The caller's number is used in memory while a webhook is handled: it becomes a
//! caller token, and is stored (sealed, server-readable, 24 h) only when the caller
//! asks for a call back.
//!
//! - this file: a new call, the withheld-number key, the language menu, holding;
//! - [`ringing`]: tiers of volunteers, the whisper and press-1, legs ending;
//! - [`voicemail`]: the message box, call-back requests and recordings;
//! - [`callback`]: masked call backs a volunteer starts.

mod callback;
mod ringing;
#[cfg(test)]
mod tests;
mod voicemail;

use std::time::Duration;

pub use crate::store::calls::LegKey;
pub use callback::{callback_accept, callback_answered, callback_done, start_callback};
pub use ringing::{MAX_AT_ONCE, escalate_due, ring_ended, status, volunteer_answered, volunteer_pressed};
pub use voicemail::{recording_ready, voicemail, voicemail_choice, voicemail_done};

use crate::AppState;
use crate::flow::{Callback, FlowError, RingResult, Step, Voice};
use crate::language::{Language, Speech};
use crate::phone::PhoneNumber;
use crate::roster;
use crate::states::{CallState, Outcome};
use crate::store::arrivals::{Arrival, Next};
use crate::store::calls::{self as db, RingFrom};

type Result<T> = std::result::Result<T, FlowError>;

/// The window of the per-caller rate limit.
const RATE_WINDOW: Duration = Duration::from_secs(600);

fn speech(state: &AppState, lang: &Language) -> Speech {
    state.config.speech(lang)
}

/// The call's language as stored, or the line's default.
fn language_of(state: &AppState, code: Option<&str>) -> Language {
    code.and_then(|c| Language::parse(c).ok())
        .filter(|l| state.config.languages.contains(l))
        .unwrap_or_else(|| state.config.default_language().clone())
}

/// A short message and hang-up, in the default language: what a caller hears
/// when they are refused, and when their call cannot be handled.
pub fn refuse(state: &AppState) -> Voice {
    let s = speech(state, state.config.default_language());
    Voice::new().say(&s.voice, &s.unavailable).hangup()
}

/// `POST /telephony/voice`: a caller rings the hotline.
pub async fn incoming(state: &AppState, call_sid: &str, from: &str) -> Result<Voice> {
    let now = state.vault.clock().now();
    // Withheld, anonymous and malformed caller IDs get no token (nothing links
    // them); they are asked to press a key first, and limited together.
    let token = match PhoneNumber::parse(from) {
        Ok(number) => {
            Some(state.vault.caller_token_off_thread(&number).await.map_err(|e| FlowError::Other(e.to_string()))?)
        }
        Err(_) => None,
    };
    // One read (block and rate limit together), then the call joins the next
    // group commit (see `store::arrivals`).
    let refused = match &token {
        Some(token) => {
            let since = now.0 - RATE_WINDOW.as_secs() as i64;
            let (blocked, attempts) =
                db::block_and_attempts(state.db.pool(), db::Attempts::Calls, token.as_str(), now.0, since).await?;
            blocked || attempts >= i64::from(state.config.ringing.caller_rate_limit)
        }
        None => false,
    };
    // One language and a known number: the first tier is chosen now and written
    // with the call, in its one commit.
    let (next, round) = if !refused && token.is_some() && state.config.languages.len() == 1 {
        first_round(state).await?
    } else {
        (Next::Menu, None)
    };
    let answer = match (&next, &round) {
        (Next::Ring { .. }, Some(round)) => Some(FirstAnswer::Ring(round)),
        (Next::Ring { .. }, None) => Some(FirstAnswer::Wait),
        (Next::Voicemail { .. }, _) => Some(FirstAnswer::Voicemail),
        (Next::Menu, _) => None,
    };
    let arrival = Arrival {
        sid: call_sid.to_string(),
        caller_token: token.as_ref().map(|t| t.as_str().to_string()),
        refused,
        next,
        at: now.0,
        hour: now.hour().0,
    };
    let id = match state.arrivals.record(arrival).await? {
        Some(id) => id,
        // The provider retried the webhook, or it arrived twice at once: answer
        // as for the first time.
        None => {
            let existing = db::get_by_sid(state.db.pool(), call_sid)
                .await?
                .ok_or_else(|| FlowError::Other("a duplicate call vanished".into()))?;
            if existing.state == CallState::Ended {
                return Ok(refuse(state));
            }
            if token.is_none() {
                return Ok(challenge(state, existing.id, 1));
            }
            return menu_or_ring(state, existing.id, 1).await;
        }
    };
    if refused {
        tracing::debug!("call refused: caller blocked or over the rate limit");
        return Ok(refuse(state));
    }
    if token.is_none() {
        return Ok(challenge(state, id, 1));
    }
    let lang = state.config.default_language();
    match answer {
        Some(FirstAnswer::Ring(round)) => Ok(ringing::ring_voice(state, id, lang, round)),
        Some(FirstAnswer::Wait) => Ok(ringing::wait_voice(state, id, lang, -1, 1)),
        Some(FirstAnswer::Voicemail) => Ok(voicemail::prompt(state, id, lang)),
        None => menu_or_ring(state, id, 1).await,
    }
}

/// What a new call on a one-language line hears, decided before it is written.
enum FirstAnswer<'a> {
    Ring(&'a ringing::Round),
    Wait,
    Voicemail,
}

/// The first tier of a call on a one-language line, before the call is written:
/// who rings; nobody yet when everyone who could take it is on another call
/// (the caller holds); or voicemail when nobody can.
async fn first_round(state: &AppState) -> Result<(Next, Option<ringing::Round>)> {
    let lang = state.config.default_language();
    let language = lang.as_str().to_string();
    Ok(match ringing::next_step(state, None, lang, -1, 0).await? {
        ringing::NextStep::Ring(round) => {
            // Written with the call: attempt 0 of its first tier.
            let volunteers = round.people.iter().map(|v| v.id).collect();
            (Next::Ring { language, tier: round.tier, deadline: ringing::deadline(state), volunteers }, Some(round))
        }
        // Everyone is on another call: hold at tier -1, the phones tried again soon.
        ringing::NextStep::Hold => {
            (Next::Ring { language, tier: -1, deadline: ringing::wait_deadline(state), volunteers: Vec::new() }, None)
        }
        ringing::NextStep::Voicemail(outcome) => (Next::Voicemail { language, outcome }, None),
    })
}

/// The key a caller with a withheld number presses to be put through. Robocalls
/// and floods of them do not press.
const CHALLENGE_DIGIT: &str = "7";
/// Calls of every withheld number together count against one limit, kept as
/// rate-limit attempts under this name instead of a caller token.
const WITHHELD: &str = "withheld";

/// "To reach a volunteer, press 7", in every language the line speaks.
fn challenge(state: &AppState, call_id: i64, attempt: u32) -> Voice {
    let prompts = state
        .config
        .languages
        .iter()
        .map(|lang| {
            let s = speech(state, lang);
            Step::Say { voice: s.voice, text: s.challenge.replace("{digit}", CHALLENGE_DIGIT) }
        })
        .collect();
    let then = Callback::Challenge { call: call_id, attempt };
    Voice::new().then(Step::Gather { then, digits: 1, timeout: 6, prompts }).then(Step::Redirect { to: then })
}

/// `POST /telephony/voice/challenge`: a withheld caller pressed a key, or did not.
/// The right key goes on to the menu or the ringing while the withheld callers
/// of the last ten minutes, together, stay under `withheld_rate_limit`; anything
/// else is asked once more, then hears the short message.
pub async fn challenge_answered(state: &AppState, call_id: i64, attempt: u32, digits: Option<&str>) -> Result<Voice> {
    let Some(call) = db::get(state.db.pool(), call_id).await? else { return Ok(refuse(state)) };
    if call.state != CallState::Menu {
        return ringing::moved_on(state, call_id).await;
    }
    let now = state.vault.clock().now();
    if digits.map(str::trim) != Some(CHALLENGE_DIGIT) {
        if attempt < 2 {
            return Ok(challenge(state, call_id, attempt + 1));
        }
        db::end(state.db.pool(), call_id, Outcome::Refused, now.0).await?;
        return Ok(refuse(state));
    }
    let since = now.0 - RATE_WINDOW.as_secs() as i64;
    let (_, recent) = db::block_and_attempts(state.db.pool(), db::Attempts::Calls, WITHHELD, now.0, since).await?;
    if recent >= i64::from(state.config.ringing.withheld_rate_limit) {
        tracing::warn!("a withheld-number caller was refused: too many withheld calls in ten minutes");
        db::end(state.db.pool(), call_id, Outcome::Refused, now.0).await?;
        return Ok(refuse(state));
    }
    db::insert_attempt(state.db.pool(), db::Attempts::Calls, WITHHELD, now.0).await?;
    menu_or_ring(state, call_id, 1).await
}

/// The language menu (several languages), or straight to ringing (one).
async fn menu_or_ring(state: &AppState, call_id: i64, attempt: u32) -> Result<Voice> {
    if state.config.languages.len() == 1 {
        let lang = state.config.default_language().clone();
        return start(state, call_id, &lang).await;
    }
    let prompts = state
        .config
        .languages
        .iter()
        .enumerate()
        .map(|(i, lang)| {
            let s = speech(state, lang);
            Step::Say { voice: s.voice, text: s.menu_option.replace("{digit}", &(i + 1).to_string()) }
        })
        .collect();
    let then = Callback::Language { call: call_id, attempt };
    Ok(Voice::new()
        .then(Step::Gather { then, digits: 1, timeout: 5, prompts })
        // No key pressed: the same callback without digits repeats or defaults.
        .then(Step::Redirect { to: then }))
}

/// `POST /telephony/voice/language`: the menu's answer, or its time-out.
pub async fn choose_language(state: &AppState, call_id: i64, attempt: u32, digits: Option<&str>) -> Result<Voice> {
    let chosen = digits
        .and_then(|d| d.trim().parse::<usize>().ok())
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| state.config.languages.get(i))
        .cloned();
    match chosen {
        Some(lang) => start(state, call_id, &lang).await,
        None if attempt < 2 => menu_or_ring(state, call_id, attempt + 1).await,
        None => {
            let lang = state.config.default_language().clone();
            start(state, call_id, &lang).await
        }
    }
}

/// Language known: ring the first tier, or go to voicemail.
async fn start(state: &AppState, call_id: i64, lang: &Language) -> Result<Voice> {
    let Some(call) = db::get(state.db.pool(), call_id).await? else {
        return Ok(refuse(state));
    };
    if call.state != CallState::Menu {
        // A retried webhook for a call already under way.
        return ringing::moved_on(state, call_id).await;
    }
    ringing::ring_next(state, call_id, lang, RingFrom::Menu, 0).await
}

/// `POST /telephony/voice/wait`: a caller held in a queue by an earlier release
/// leaves it; the queue's end rings them on from here.
pub async fn wait(_state: &AppState, _call_id: i64) -> Result<Voice> {
    Ok(Voice::new().then(Step::Leave))
}

/// `POST /telephony/voice/queue-end`: a caller held by an earlier release left
/// the queue: after a conversation they hear goodbye, otherwise the call moves
/// on as a ringing's end does.
pub async fn queue_end(state: &AppState, call_id: i64, bridged: bool) -> Result<Voice> {
    let Some(call) = db::get(state.db.pool(), call_id).await? else { return Ok(refuse(state)) };
    let result = if bridged { RingResult::Talked } else { RingResult::NobodyPutThrough };
    ring_ended(state, call_id, call.tier, result, 0).await
}

/// What a volunteer hears: the first of their languages the line speaks.
async fn volunteer_speech(state: &AppState, volunteer_id: Option<i64>) -> Result<Speech> {
    let volunteer = match volunteer_id {
        Some(id) => roster::get_by_id(&state.db, id).await?,
        None => None,
    };
    let lang = volunteer
        .as_ref()
        .and_then(|v| v.languages.iter().find(|l| state.config.languages.contains(l)).cloned())
        .unwrap_or_else(|| state.config.default_language().clone());
    Ok(speech(state, &lang))
}
