//! A call, from the first ring to the provider scrub: the state machine behind
//! the voice webhooks.
//!
//! All state lives in the database, so any instance (or a restarted one) can serve
//! any webhook and continue any call. Transitions that must happen once (a
//! volunteer taking the call, a tier escalating, voicemail) are conditional updates
//! in `store::calls`.
//!
//! The caller's number is used in memory while a webhook is handled: it becomes a
//! caller token, and is stored (sealed, server-readable, 24 h) only when the caller
//! asks for a call back.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use crate::AppState;
use crate::items::{self, Content, ItemClass};
use crate::language::{Language, Speech};
use crate::phone::PhoneNumber;
use crate::roster::{self, Volunteer};
use crate::routing;
use crate::states::{CallState, LegState, Outcome, RecordKind};
use crate::store::arrivals::Arrival;
use crate::store::calls as db;
use crate::telephony::provider::NewCall;
use crate::telephony::twiml::{Twiml, Verb};

/// The window of the per-caller rate limit.
const RATE_WINDOW: Duration = Duration::from_secs(600);
/// How long a caller hears the hold message before the wait URL is asked again.
const HOLD_PAUSE_SECS: u32 = 8;
/// How long a volunteer has to press 1 once the whisper has played.
const ACCEPT_TIMEOUT_SECS: u32 = 8;

#[derive(Debug)]
pub enum CallError {
    Store(sqlx::Error),
    Other(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Store(e) => write!(f, "database error: {e}"),
            CallError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CallError {}

impl From<sqlx::Error> for CallError {
    fn from(e: sqlx::Error) -> Self {
        CallError::Store(e)
    }
}

impl From<roster::RosterError> for CallError {
    fn from(e: roster::RosterError) -> Self {
        match e {
            roster::RosterError::Store(e) => CallError::Store(e),
            other => CallError::Other(other.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, CallError>;

fn queue_name(call_id: i64) -> String {
    format!("ql-{call_id}")
}

impl AppState {
    /// An absolute URL on the public base the provider calls.
    pub fn public(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.config.public_url.as_deref().unwrap_or(""))
    }

    fn speech(&self, lang: &Language) -> Speech {
        self.config.speech(lang)
    }

    fn language_of(&self, code: Option<&str>) -> Language {
        code.and_then(|c| Language::parse(c).ok())
            .filter(|l| self.config.languages.contains(l))
            .unwrap_or_else(|| self.config.default_language().clone())
    }
}

/// A short message and hang-up, in the default language.
fn refuse(state: &AppState) -> Twiml {
    let s = state.speech(state.config.default_language());
    Twiml::new().say(&s.voice, &s.unavailable).hangup()
}

/// `POST /telephony/voice`: a caller rings the hotline.
pub async fn incoming(state: &AppState, call_sid: &str, from: &str) -> Result<Twiml> {
    let now = state.vault.clock().now();
    // Withheld, anonymous and malformed caller IDs get no token (nothing links
    // them); they are asked to press a key first, and limited together.
    let token = match PhoneNumber::parse(from) {
        Ok(number) => {
            Some(state.vault.caller_token_off_thread(&number).await.map_err(|e| CallError::Other(e.to_string()))?)
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
    let arrival = Arrival {
        sid: call_sid.to_string(),
        caller_token: token.as_ref().map(|t| t.as_str().to_string()),
        refused,
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
                .ok_or_else(|| CallError::Other("a duplicate call vanished".into()))?;
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
    menu_or_ring(state, id, 1).await
}

/// The key a caller with a withheld number presses to be put through. Robocalls
/// and floods of them do not press.
const CHALLENGE_DIGIT: &str = "7";
/// Calls of every withheld number together count against one limit, kept as
/// rate-limit attempts under this name instead of a caller token.
const WITHHELD: &str = "withheld";

/// "To reach a volunteer, press 7", in every language the line speaks.
fn challenge(state: &AppState, call_id: i64, attempt: u32) -> Twiml {
    let prompts = state
        .config
        .languages
        .iter()
        .map(|lang| {
            let s = state.speech(lang);
            Verb::Say { language: s.voice, text: s.challenge.replace("{digit}", CHALLENGE_DIGIT) }
        })
        .collect();
    let action = state.public(&format!("/telephony/voice/challenge?call={call_id}&attempt={attempt}"));
    Twiml::new()
        .push(Verb::Gather { action: action.clone(), num_digits: 1, timeout: 6, prompts })
        .push(Verb::Redirect { url: action })
}

/// `POST /telephony/voice/challenge`: a withheld caller pressed a key, or did not.
/// The right key goes on to the menu or the ringing while the withheld callers
/// of the last ten minutes, together, stay under `withheld_rate_limit`; anything
/// else is asked once more, then hears the short message.
pub async fn challenge_answered(state: &AppState, call_id: i64, attempt: u32, digits: Option<&str>) -> Result<Twiml> {
    let Some(call) = db::get(state.db.pool(), call_id).await? else { return Ok(refuse(state)) };
    if call.state != CallState::Menu {
        return Ok(if call.state == CallState::Ended { refuse(state) } else { hold(state, call_id) });
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
async fn menu_or_ring(state: &AppState, call_id: i64, attempt: u32) -> Result<Twiml> {
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
            let s = state.speech(lang);
            Verb::Say { language: s.voice, text: s.menu_option.replace("{digit}", &(i + 1).to_string()) }
        })
        .collect();
    let action = state.public(&format!("/telephony/voice/language?call={call_id}&attempt={attempt}"));
    Ok(Twiml::new()
        .push(Verb::Gather { action: action.clone(), num_digits: 1, timeout: 5, prompts })
        // No key pressed: the same action without digits repeats or defaults.
        .push(Verb::Redirect { url: action }))
}

/// `POST /telephony/voice/language`: the menu's answer, or its time-out.
pub async fn choose_language(state: &AppState, call_id: i64, attempt: u32, digits: Option<&str>) -> Result<Twiml> {
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

/// Language known: hold the caller and ring the first tier, or go to voicemail.
async fn start(state: &AppState, call_id: i64, lang: &Language) -> Result<Twiml> {
    let Some(call) = db::get(state.db.pool(), call_id).await? else {
        return Ok(refuse(state));
    };
    if call.state != CallState::Menu {
        // A retried webhook for a call already under way.
        return Ok(match call.state {
            CallState::Ringing | CallState::Bridged => hold(state, call_id),
            _ => voicemail_prompt(state, call_id, lang),
        });
    }
    let roster = roster::on_shift(&state.db).await?;
    if !routing::anyone_on_shift(&roster) || state.provider.is_none() {
        db::set_language(state.db.pool(), call_id, lang.as_str()).await?;
        db::to_voicemail(state.db.pool(), call_id, Outcome::NoOneOnShift).await?;
        return Ok(voicemail_prompt(state, call_id, lang));
    }
    // Tier -1 with a passed deadline: the first escalation rings tier 0 at once,
    // here or, should this task die, from the next tick of any instance.
    if !db::start_ringing(state.db.pool(), call_id, lang.as_str(), -1, 0).await? {
        return Ok(hold(state, call_id));
    }
    let ringer = state.clone();
    tokio::spawn(async move {
        if let Err(e) = escalate(&ringer, call_id, -1).await {
            tracing::error!(error = %e, "ringing the first tier failed");
        }
    });
    Ok(hold(state, call_id))
}

/// Holds the caller in the call's queue; the wait URL speaks the hold message.
fn hold(state: &AppState, call_id: i64) -> Twiml {
    Twiml::new().push(Verb::Enqueue {
        name: queue_name(call_id),
        wait_url: state.public(&format!("/telephony/voice/wait?call={call_id}")),
        action: state.public(&format!("/telephony/voice/queue-end?call={call_id}")),
    })
}

/// `POST /telephony/voice/wait`: what a held caller hears, asked again and again.
pub async fn wait(state: &AppState, call_id: i64) -> Result<Twiml> {
    let call = db::get(state.db.pool(), call_id).await?;
    let Some(call) = call else { return Ok(Twiml::new().push(Verb::Leave)) };
    if call.state == CallState::Voicemail || call.state == CallState::Ended {
        return Ok(Twiml::new().push(Verb::Leave));
    }
    if call.state == CallState::Bridged
        && let Some(taker) = call.answered_by
    {
        // The caller still waits, so nobody was put through. If the taker's line
        // has ended, it dropped between pressing 1 and the bridge: ring on.
        let legs = db::legs_of(state.db.pool(), call_id).await?;
        let theirs: Vec<LegState> = legs.iter().filter(|l| l.volunteer_id == Some(taker)).map(|l| l.state).collect();
        let taker_gone = !theirs.is_empty() && theirs.iter().all(|s| *s == LegState::Ended);
        if taker_gone && db::reopen(state.db.pool(), call_id, taker, state.vault.clock().now().0).await? {
            tracing::warn!("a volunteer's line dropped before the bridge; the call rings on");
        }
    }
    let lang = state.language_of(call.language.as_deref());
    let s = state.speech(&lang);
    Ok(Twiml::new().say(&s.voice, &s.hold).push(Verb::Pause { seconds: HOLD_PAUSE_SECS }))
}

/// `POST /telephony/voice/queue-end`: the caller left the queue. Bridged calls end
/// here; a caller who left because nobody answered goes to voicemail.
pub async fn queue_end(state: &AppState, call_id: i64, queue_result: Option<&str>) -> Result<Twiml> {
    let call = db::get(state.db.pool(), call_id).await?;
    let lang = state.language_of(call.as_ref().and_then(|c| c.language.as_deref()));
    match (queue_result, call.as_ref().map(|c| c.state)) {
        (Some("bridged"), _) | (_, Some(CallState::Bridged)) => {
            let s = state.speech(&lang);
            Ok(Twiml::new().say(&s.voice, &s.goodbye).hangup())
        }
        _ => {
            db::to_voicemail(state.db.pool(), call_id, Outcome::Voicemail).await?;
            Ok(voicemail_prompt(state, call_id, &lang))
        }
    }
}

/// Rings the next tier of a call that has been ringing tier `from` (or starts
/// ringing, from -1). Only one instance wins the step; the others do nothing.
pub async fn escalate(state: &AppState, call_id: i64, from: i64) -> Result<()> {
    let Some(call) = db::get(state.db.pool(), call_id).await? else { return Ok(()) };
    if call.state != CallState::Ringing || call.tier != from {
        return Ok(());
    }
    let lang = state.language_of(call.language.as_deref());
    let roster = roster::on_shift(&state.db).await?;
    let busy: HashSet<i64> = db::busy_volunteers(state.db.pool()).await?.into_iter().collect();
    let legs = db::legs_of(state.db.pool(), call_id).await?;
    let rung: HashSet<i64> = legs.iter().filter_map(|l| l.volunteer_id).collect();
    let start_tier = u32::try_from(from + 1).unwrap_or(0);
    let next = routing::next_tier(&roster, start_tier, &lang, &busy, &rung, state.config.ringing.parallel);
    let now = state.vault.clock().now();
    match next {
        Some((tier, people)) => {
            let deadline = now.plus(state.config.ringing.timeout).0;
            if !db::advance_tier(state.db.pool(), call_id, from, i64::from(tier), deadline).await? {
                return Ok(());
            }
            end_unanswered(state, &legs).await;
            let placed = ring(state, call_id, tier, &people).await;
            if placed == 0 {
                // Every number of this tier failed: try the next one at once.
                db::expire_tier_now(state.db.pool(), call_id, i64::from(tier), now.0).await?;
            }
            Ok(())
        }
        None => {
            if send_to_voicemail(state, &call).await? {
                end_unanswered(state, &legs).await;
            }
            Ok(())
        }
    }
}

/// The legs of a tier that gave up stop ringing.
async fn end_unanswered(state: &AppState, legs: &[db::LegRow]) {
    for leg in legs.iter().filter(|l| matches!(l.state, LegState::Ringing | LegState::Answered)) {
        end_leg(state, leg).await;
    }
}

/// Places one outbound call per volunteer; returns how many were placed. A number
/// the provider refuses is skipped, never fatal to the tier.
async fn ring(state: &AppState, call_id: i64, tier: u32, people: &[&Volunteer]) -> usize {
    let (Some(provider), Some(hotline)) = (&state.provider, &state.config.provider.hotline_number) else {
        return 0;
    };
    let mut placed = 0;
    for v in people {
        let Ok(phone) = v.phone(&state.vault) else {
            tracing::warn!("a volunteer's number cannot be unsealed; skipped");
            continue;
        };
        let new = NewCall {
            to: phone.as_str(),
            from: hotline.as_str(),
            url: &state.public(&format!("/telephony/voice/volunteer?call={call_id}")),
            status_callback: &state.public(&format!("/telephony/status?call={call_id}")),
            timeout: state.config.ringing.timeout.as_secs() as u32,
        };
        match provider.create_call(&new).await {
            Ok(sid) => {
                if let Err(e) = db::insert_leg(state.db.pool(), &sid, call_id, v.id, i64::from(tier)).await {
                    tracing::error!(error = %e, "a placed leg could not be recorded");
                }
                placed += 1;
            }
            Err(e) => tracing::warn!(error = %e, "ringing a volunteer failed; skipped"),
        }
    }
    placed
}

async fn end_leg(state: &AppState, leg: &db::LegRow) {
    let _ = db::set_leg_state(state.db.pool(), &leg.sid, LegState::Ended).await;
    if let Some(provider) = &state.provider
        && let Err(e) = provider.end_call(&leg.sid, leg.state == LegState::Answered).await
    {
        tracing::debug!(error = %e, "ending a volunteer leg");
    }
}

/// No tier left: move the held caller to voicemail now (the wait URL's `<Leave/>`
/// does it too, should this redirect fail).
async fn send_to_voicemail(state: &AppState, call: &db::CallRow) -> Result<bool> {
    if !db::to_voicemail(state.db.pool(), call.id, Outcome::Voicemail).await? {
        return Ok(false);
    }
    if let Some(provider) = &state.provider {
        let url = state.public(&format!("/telephony/voice/voicemail?call={}", call.id));
        if let Err(e) = provider.redirect_call(&call.provider_sid, &url).await {
            tracing::warn!(error = %e, "redirect to voicemail failed; the wait URL will move the caller");
        }
    }
    Ok(true)
}

/// Ringing calls whose tier ran out: escalate each (one instance per step).
pub async fn escalate_due(state: &AppState) -> Result<usize> {
    let now = state.vault.clock().now();
    let due = db::due(state.db.pool(), now.0).await?;
    for (id, tier) in &due {
        escalate(state, *id, *tier).await?;
    }
    Ok(due.len())
}

/// `POST /telephony/voice/volunteer`: a volunteer picked up. They hear the whisper
/// and must press 1; a voicemail box never does, so it never takes the call.
pub async fn volunteer_answered(state: &AppState, call_id: i64, leg_sid: &str) -> Result<Twiml> {
    let call = db::get(state.db.pool(), call_id).await?;
    let leg = db::leg(state.db.pool(), leg_sid).await?;
    let vs = volunteer_speech(state, leg.as_ref().and_then(|l| l.volunteer_id)).await?;
    let (Some(call), Some(_)) = (call, leg) else {
        return Ok(Twiml::new().say(&vs.voice, &vs.taken).hangup());
    };
    if call.state != CallState::Ringing {
        return Ok(Twiml::new().say(&vs.voice, &vs.taken).hangup());
    }
    db::set_leg_state(state.db.pool(), leg_sid, LegState::Answered).await?;
    let caller_lang = state.language_of(call.language.as_deref());
    let whisper = vs.whisper.replace("{language}", &state.speech(&caller_lang).name);
    let action = state.public(&format!("/telephony/voice/volunteer/accept?call={call_id}"));
    Ok(Twiml::new()
        .push(Verb::Gather {
            action,
            num_digits: 1,
            timeout: ACCEPT_TIMEOUT_SECS,
            prompts: vec![
                Verb::Say { language: vs.voice.clone(), text: whisper.clone() },
                Verb::Pause { seconds: 1 },
                Verb::Say { language: vs.voice.clone(), text: whisper },
            ],
        })
        .hangup())
}

/// `POST /telephony/voice/volunteer/accept`: the volunteer pressed a key. The first
/// to press 1 takes the call; everyone else hears that it is taken.
pub async fn volunteer_pressed(state: &AppState, call_id: i64, leg_sid: &str, digits: Option<&str>) -> Result<Twiml> {
    let leg = db::leg(state.db.pool(), leg_sid).await?;
    let volunteer_id = leg.as_ref().and_then(|l| l.volunteer_id);
    let vs = volunteer_speech(state, volunteer_id).await?;
    let (Some(leg), Some(volunteer_id)) = (leg, volunteer_id) else {
        return Ok(Twiml::new().say(&vs.voice, &vs.taken).hangup());
    };
    if digits.map(str::trim) != Some("1") || leg.call_id != call_id {
        return Ok(Twiml::new().say(&vs.voice, &vs.goodbye).hangup());
    }
    if !db::claim(state.db.pool(), call_id, volunteer_id).await? {
        return Ok(Twiml::new().say(&vs.voice, &vs.taken).hangup());
    }
    db::set_leg_state(state.db.pool(), leg_sid, LegState::Accepted).await?;
    tracing::debug!("call answered by a volunteer");
    // The others stop ringing.
    let others: Vec<db::LegRow> = db::legs_of(state.db.pool(), call_id)
        .await?
        .into_iter()
        .filter(|l| l.sid != leg_sid && matches!(l.state, LegState::Ringing | LegState::Answered))
        .collect();
    let canceller = state.clone();
    tokio::spawn(async move {
        for other in &others {
            end_leg(&canceller, other).await;
        }
    });
    Ok(Twiml::new().push(Verb::DialQueue { name: queue_name(call_id) }).hangup())
}

/// What the caller hears when nobody can answer: record a message, or press 1
/// first to ask for a call back.
pub fn voicemail_prompt(state: &AppState, call_id: i64, lang: &Language) -> Twiml {
    let s = state.speech(lang);
    Twiml::new()
        .push(Verb::Gather {
            action: state.public(&format!("/telephony/voice/voicemail/choice?call={call_id}")),
            num_digits: 1,
            timeout: 3,
            prompts: vec![Verb::Say { language: s.voice.clone(), text: s.voicemail.clone() }],
        })
        .push(record(state, call_id))
}

fn record(state: &AppState, call_id: i64) -> Verb {
    Verb::Record {
        action: state.public(&format!("/telephony/voice/voicemail/done?call={call_id}")),
        max_length: state.config.ringing.voicemail_max_length.as_secs() as u32,
        recording_status_callback: state.public(&format!("/telephony/recording?call={call_id}")),
    }
}

/// `POST /telephony/voice/voicemail`: the redirect target once no tier is left.
pub async fn voicemail(state: &AppState, call_id: i64) -> Result<Twiml> {
    let call = db::get(state.db.pool(), call_id).await?;
    let lang = state.language_of(call.and_then(|c| c.language).as_deref());
    Ok(voicemail_prompt(state, call_id, &lang))
}

/// `POST /telephony/voice/voicemail/choice`: 1 asks for a call back (the number
/// is sealed for 24 h, readable by the server only), then the recording starts.
pub async fn voicemail_choice(state: &AppState, call_id: i64, digits: Option<&str>, from: &str) -> Result<Twiml> {
    let call = db::get(state.db.pool(), call_id).await?;
    let lang = state.language_of(call.as_ref().and_then(|c| c.language.as_deref()));
    let s = state.speech(&lang);
    let mut twiml = Twiml::new();
    // One call back per call, however often this request is sent.
    let first = |state: &AppState| {
        let state = state.clone();
        async move { crate::sms::first_time(&state, "voicemail-choice", &call_id.to_string()).await }
    };
    if digits.map(str::trim) == Some("1")
        && let Ok(number) = PhoneNumber::parse(from)
        && first(state).await.map_err(|e| CallError::Other(e.to_string()))?
    {
        match items::store_for_server(
            &state.db,
            &state.vault,
            ItemClass::Callback,
            number.as_str().as_bytes(),
            state.config.retention.callback,
        )
        .await
        {
            Ok(item) => {
                db::set_outcome(state.db.pool(), call_id, Outcome::CallbackRequested).await?;
                crate::sms::to_dispatchers(state, &format!("quietline: call back requested ({}) #{item}", lang)).await;
                twiml = twiml.say(&s.voice, &s.callback_noted);
            }
            Err(e) => tracing::error!(error = %e, "a callback number could not be sealed"),
        }
    }
    Ok(twiml.push(record(state, call_id)))
}

/// `POST /telephony/voice/voicemail/done`: after the recording.
pub async fn voicemail_done(state: &AppState, call_id: i64) -> Result<Twiml> {
    let call = db::get(state.db.pool(), call_id).await?;
    let lang = state.language_of(call.and_then(|c| c.language).as_deref());
    let s = state.speech(&lang);
    Ok(Twiml::new().say(&s.voice, &s.goodbye).hangup())
}

/// `POST /telephony/recording`: a voicemail is ready at the provider. Download it,
/// seal it to on-shift dispatchers and the legal team, delete it at the provider,
/// and send dispatchers a content-free alert.
pub async fn recording_ready(state: &AppState, call_id: i64, recording_sid: &str, status: &str) -> Result<()> {
    let now = state.vault.clock().now();
    if !crate::sms::provider_id(recording_sid, &["RE"]) {
        return Err(CallError::Other("a recording callback without a well-formed recording id".into()));
    }
    if !crate::sms::first_time(state, "recording", recording_sid).await.map_err(|e| CallError::Other(e.to_string()))? {
        tracing::warn!("a recording callback arrived again (a retry or a replay) and was ignored");
        return Ok(());
    }
    // Whatever happens next, the recording must go from the provider.
    db::enqueue_deletion(state.db.pool(), RecordKind::Recording, recording_sid, now.0).await?;
    if status != "completed" {
        return Ok(());
    }
    let Some(provider) = &state.provider else { return Ok(()) };
    let audio = match provider.fetch_recording(recording_sid).await {
        Ok(audio) => audio,
        Err(e) => {
            tracing::error!(error = %e, "a voicemail could not be downloaded; it will be deleted unheard");
            return Ok(());
        }
    };
    let call = db::get(state.db.pool(), call_id).await?;
    let lang = state.language_of(call.as_ref().and_then(|c| c.language.as_deref()));
    let roster = roster::list(&state.db).await?;
    let mut readers = roster::on_shift_dispatchers(&roster);
    readers.extend(roster::legal_team(&roster));
    let stored = items::store(
        &state.db,
        &state.vault,
        ItemClass::Voicemail,
        Content::Plaintext(&audio),
        &readers,
        state.config.retention.voicemail,
    )
    .await;
    match stored {
        Ok(item) => {
            if let Some(call) = &call
                && call.outcome != Some(Outcome::CallbackRequested)
            {
                db::set_outcome(state.db.pool(), call_id, Outcome::Voicemail).await?;
            }
            crate::sms::to_dispatchers(state, &format!("quietline: new voicemail ({lang}) #{}", item.id)).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "a voicemail could not be kept: no reader has an age key");
            crate::sms::to_dispatchers(
                state,
                "quietline: a voicemail arrived but nobody on shift or in the legal team has a key",
            )
            .await;
        }
    }
    scrub(state).await;
    Ok(())
}

/// `POST /telephony/status`: a leg changed state.
pub async fn status(state: &AppState, call_sid: &str, status: &str) -> Result<()> {
    let now = state.vault.clock().now();
    let finished = matches!(status, "completed" | "busy" | "failed" | "no-answer" | "canceled");
    if let Some(call) = db::get_by_sid(state.db.pool(), call_sid).await? {
        // The caller's own leg.
        if finished {
            let outcome = if call.state == CallState::Bridged { Outcome::Answered } else { Outcome::Abandoned };
            db::end(state.db.pool(), call.id, outcome, now.0).await?;
            for leg in db::legs_of(state.db.pool(), call.id).await? {
                if matches!(leg.state, LegState::Ringing | LegState::Answered) {
                    end_leg(state, &leg).await;
                }
                db::enqueue_deletion(state.db.pool(), RecordKind::Call, &leg.sid, now.0 + 60).await?;
            }
            db::enqueue_deletion(state.db.pool(), RecordKind::Call, call_sid, now.0 + 60).await?;
        }
        return Ok(());
    }
    let Some(leg) = db::leg(state.db.pool(), call_sid).await? else { return Ok(()) };
    if !finished {
        return Ok(());
    }
    db::set_leg_state(state.db.pool(), call_sid, LegState::Ended).await?;
    db::enqueue_deletion(state.db.pool(), RecordKind::Call, call_sid, now.0 + 60).await?;
    // Every leg of the ringing tier has ended without anyone taking the call:
    // escalate now rather than at the deadline.
    if let Some(call) = db::get(state.db.pool(), leg.call_id).await?
        && call.state == CallState::Ringing
        && call.tier == leg.tier
    {
        let legs = db::legs_of(state.db.pool(), call.id).await?;
        if legs.iter().filter(|l| l.tier == call.tier).all(|l| l.state == LegState::Ended) {
            db::expire_tier_now(state.db.pool(), call.id, call.tier, now.0).await?;
            escalate(state, call.id, call.tier).await?;
        }
    }
    Ok(())
}

/// One pass of the provider scrub queue: deletions that are due are tried; a
/// refusal ("still in progress", error 20009) or an outage is retried with backoff.
pub async fn scrub(state: &AppState) -> usize {
    let Some(provider) = &state.provider else { return 0 };
    let now = state.vault.clock().now();
    let Ok(due) = db::due_deletions(state.db.pool(), now.0, 50).await else { return 0 };
    let mut done = 0;
    for d in due {
        let kind = d.kind;
        match provider.delete(kind, &d.sid).await {
            Ok(()) => {
                if db::deletion_done(state.db.pool(), d.id).await.is_ok() {
                    done += 1;
                }
            }
            Err(e) => {
                let backoff = 60i64.saturating_mul(1 << d.attempts.clamp(0, 6));
                let _ = db::deletion_failed(state.db.pool(), d.id, now.0, now.0 + backoff, &e.to_string()).await;
                let failing_since = d.first_failed_at.unwrap_or(now.0);
                if now.0 - failing_since > 86_400 {
                    tracing::warn!(error = %e, "a provider deletion has failed for more than a day");
                } else {
                    tracing::debug!(error = %e, "a provider deletion will be retried");
                }
            }
        }
    }
    done
}

/// The call-keeping loop: escalates ring tiers and incident paging whose time ran
/// out every second and works the scrub queue every five, until the task is
/// dropped. (Old rate-limit attempts go with the retention sweeper.)
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        if let Err(e) = escalate_due(&state).await {
            tracing::warn!(error = %e, "escalation pass failed");
        }
        if let Err(e) = crate::dispatch::escalate_due(&state).await {
            tracing::warn!(error = %e, "dispatch escalation pass failed");
        }
        if n % 3600 == 3599 {
            let (answered, failed) = state.webhooks.take();
            if answered > 0 {
                tracing::info!(count = answered, "provider webhooks answered in the last hour ({failed} failed)");
            }
        }
        if let Err(e) = crate::blocks::refresh(&state).await {
            tracing::warn!(error = %e, "carrying blocks into a new caller-token window failed");
        }
        if n.is_multiple_of(5) {
            scrub(&state).await;
        }
        n += 1;
    }
}

/// Starts a masked call back: the server rings the volunteer from the hotline
/// number; when they press 1 the caller is dialled, also from the hotline number.
/// Returns the volunteer leg's SID.
pub async fn start_callback(state: &AppState, item: i64, volunteer: &Volunteer) -> Result<String> {
    let (Some(provider), Some(hotline)) = (&state.provider, &state.config.provider.hotline_number) else {
        return Err(CallError::Other("the phone provider and hotline_number must be configured".into()));
    };
    if state.config.public_url.is_none() {
        return Err(CallError::Other("public_url must be configured".into()));
    }
    // Fail now, not once the volunteer has picked up, if the number is gone.
    items::open_for_server(&state.db, &state.vault, item, ItemClass::Callback)
        .await
        .map_err(|e| CallError::Other(format!("call back #{item}: {e}")))?;
    let phone = volunteer.phone(&state.vault)?;
    let new = NewCall {
        to: phone.as_str(),
        from: hotline.as_str(),
        url: &state.public(&format!("/telephony/voice/callback?item={item}&volunteer={}", volunteer.id)),
        status_callback: &state.public("/telephony/status"),
        timeout: state.config.ringing.timeout.as_secs() as u32,
    };
    let sid = provider.create_call(&new).await.map_err(|e| CallError::Other(e.to_string()))?;
    Ok(sid)
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
    Ok(state.speech(&lang))
}

/// `POST /telephony/voice/callback`: the volunteer picked up a call back.
pub async fn callback_answered(state: &AppState, item: i64, volunteer_id: Option<i64>) -> Result<Twiml> {
    let s = volunteer_speech(state, volunteer_id).await?;
    let mut action = format!("/telephony/voice/callback/accept?item={item}");
    if let Some(v) = volunteer_id {
        action.push_str(&format!("&volunteer={v}"));
    }
    Ok(Twiml::new()
        .push(Verb::Gather {
            action: state.public(&action),
            num_digits: 1,
            timeout: ACCEPT_TIMEOUT_SECS,
            prompts: vec![Verb::Say { language: s.voice.clone(), text: s.callback_whisper.clone() }],
        })
        .hangup())
}

/// `POST /telephony/voice/callback/accept`: 1 dials the caller from the hotline.
pub async fn callback_accept(
    state: &AppState,
    item: i64,
    volunteer_id: Option<i64>,
    digits: Option<&str>,
) -> Result<Twiml> {
    let s = volunteer_speech(state, volunteer_id).await?;
    let Some(hotline) = &state.config.provider.hotline_number else {
        return Ok(Twiml::new().say(&s.voice, &s.unavailable).hangup());
    };
    if digits.map(str::trim) != Some("1") {
        return Ok(Twiml::new().say(&s.voice, &s.goodbye).hangup());
    }
    let number = match items::open_for_server(&state.db, &state.vault, item, ItemClass::Callback).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "a call back could not be placed");
            return Ok(Twiml::new().say(&s.voice, &s.unavailable).hangup());
        }
    };
    let number = zeroize::Zeroizing::new(String::from_utf8_lossy(&number).to_string());
    Ok(Twiml::new()
        .push(Verb::DialNumber {
            number: number.to_string(),
            caller_id: hotline.as_str().to_string(),
            timeout: 30,
            action: state.public(&format!("/telephony/voice/callback/done?item={item}")),
        })
        .hangup())
}

/// `POST /telephony/voice/callback/done`: the call back ended. Both legs are queued
/// for deletion at the provider, and a connected call back needs no number any more.
pub async fn callback_done(
    state: &AppState,
    item: i64,
    leg_sid: &str,
    dialed_sid: Option<&str>,
    dial_status: Option<&str>,
) -> Result<Twiml> {
    let now = state.vault.clock().now();
    for sid in std::iter::once(leg_sid).chain(dialed_sid) {
        if !sid.is_empty() {
            db::enqueue_deletion(state.db.pool(), RecordKind::Call, sid, now.0 + 60).await?;
        }
    }
    if dial_status == Some("completed") {
        crate::store::items::delete(state.db.pool(), item).await?;
        tracing::debug!("call back connected; its number is deleted");
    }
    Ok(Twiml::new().hangup())
}
