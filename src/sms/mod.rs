//! Texts: the inbound SMS webhook's logic, volunteer commands, and sending.
//!
//! A text from a number on the roster is a command; from anyone else it is public
//! intake (see [`intake`]). Replies go back as TwiML `<Message>`s whose status
//! callback tells us their id; texts we start go through the provider's REST API.
//! Every message record, inbound and outbound, is queued for deletion at the
//! provider.
//!
//! Texts are content: they are never logged, never echoed in an error, and a
//! command that cannot be understood gets help, not a repeat of what was sent.

pub mod command;
pub mod confirm;
pub mod intake;

use std::fmt;

use crate::AppState;
use crate::accounts;
use crate::audit::{self, Actor};
use crate::dispatch::{self, Accepted, DispatchError, Kind, NewReport, NoteExpiry};
use crate::phone::PhoneNumber;
use crate::roster::{self, Role, Volunteer};
use crate::states::DispatchState;
use crate::states::RecordKind;
use crate::store::{calls as call_db, incidents as field};
use crate::telephony::twiml::{Twiml, Verb};
use command::Command;

/// Messages are deleted at the provider once it has finished with them.
const DELETE_AFTER_SECS: i64 = 60;
/// The longest text we send; the provider refuses more than 1600 characters.
pub const MAX_SMS_CHARS: usize = 1200;

/// One inbound text, as the provider describes it.
pub struct Inbound<'a> {
    pub sid: &'a str,
    pub from: &'a str,
    pub body: &'a str,
    /// Media attachment ids (`ME…`), for deletion; their content is never fetched.
    pub media: Vec<String>,
}

#[derive(Debug)]
pub enum SmsError {
    Store(sqlx::Error),
    Other(String),
}

impl fmt::Display for SmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmsError::Store(e) => write!(f, "database error: {e}"),
            SmsError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for SmsError {}

impl From<sqlx::Error> for SmsError {
    fn from(e: sqlx::Error) -> Self {
        SmsError::Store(e)
    }
}

impl From<roster::RosterError> for SmsError {
    fn from(e: roster::RosterError) -> Self {
        match e {
            roster::RosterError::Store(e) => SmsError::Store(e),
            other => SmsError::Other(other.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, SmsError>;

/// A provider message id: letters and digits only, since it goes into REST paths.
pub fn valid_sid(sid: &str) -> bool {
    (2..=64).contains(&sid.len()) && sid.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A provider id as the provider makes them: a two-letter prefix (`SM`, `MM`,
/// `CA`, `RE`) and 32 hex digits.
pub fn provider_id(sid: &str, prefixes: &[&str]) -> bool {
    sid.len() == 34 && prefixes.iter().any(|p| sid.starts_with(p)) && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// How long a webhook's id is remembered against replays: the provider's retry
/// window is minutes; a day covers it with room to spare.
pub const REPLAY_WINDOW_SECS: i64 = 86_400;

/// True the first time a step with this provider id is seen; a replayed signed
/// request gets false and must change nothing.
pub async fn first_time(state: &AppState, step: &str, sid: &str) -> Result<bool> {
    let now = state.vault.clock().now();
    let key = format!("{step}:{sid}");
    Ok(crate::store::webhooks::first_time(state.db.pool(), &key, now.0 + REPLAY_WINDOW_SECS).await?)
}

/// Queues a provider record for deletion; failures are logged.
pub async fn forget(state: &AppState, kind: RecordKind, sid: &str) {
    let now = state.vault.clock().now();
    if let Err(e) = call_db::enqueue_deletion(state.db.pool(), kind, sid, now.0 + DELETE_AFTER_SECS).await {
        tracing::error!(error = %e, "a provider record could not be queued for deletion");
    }
}

/// A reply to the sender of the webhook being answered.
pub fn answer(state: &AppState, text: &str) -> Twiml {
    Twiml::new().push(Verb::Message { text: clip(text), action: state.public("/telephony/sms/status") })
}

/// Cuts a text to what one message may carry, at a character boundary.
pub fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_SMS_CHARS {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX_SMS_CHARS - 1).collect();
    out.push('…');
    out
}

/// Sends a text from the hotline number; true when the provider took it. The
/// message record is queued for deletion.
pub async fn send(state: &AppState, to: &PhoneNumber, text: &str) -> bool {
    let (Some(provider), Some(hotline)) = (&state.provider, &state.config.provider.hotline_number) else {
        return false;
    };
    let body = zeroize::Zeroizing::new(clip(text));
    match provider.send_sms(hotline.as_str(), to.as_str(), &body).await {
        Ok(sid) => {
            forget(state, RecordKind::Message, &sid).await;
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "a text could not be sent");
            false
        }
    }
}

/// Sends a text to a volunteer.
pub async fn send_to(state: &AppState, v: &Volunteer, text: &str) -> bool {
    match v.phone(&state.vault) {
        Ok(phone) => send(state, &phone, text).await,
        Err(_) => {
            tracing::warn!("a volunteer's number cannot be unsealed; text skipped");
            false
        }
    }
}

/// A text to every on-shift dispatcher; returns how many got it.
pub async fn to_dispatchers(state: &AppState, text: &str) -> usize {
    let Ok(roster) = roster::list(&state.db).await else { return 0 };
    let mut sent = 0;
    for v in roster.iter().filter(|v| v.active_on_shift() && v.has_role(Role::Dispatcher)) {
        if send_to(state, v, text).await {
            sent += 1;
        }
    }
    sent
}

/// `POST /telephony/sms`: one inbound text.
pub async fn incoming(state: &AppState, sms: Inbound<'_>) -> Result<Twiml> {
    // Acted on once: a captured text sent again, signature and all, is ignored.
    if !provider_id(sms.sid, &["SM", "MM"]) {
        tracing::warn!("a text without a well-formed message id was ignored");
        return Ok(Twiml::new());
    }
    if !first_time(state, "sms", sms.sid).await? {
        tracing::warn!("a text was received again (a retry or a replay) and ignored");
        return Ok(Twiml::new());
    }
    // Whatever happens next, the provider's copies must go.
    forget(state, RecordKind::Message, sms.sid).await;
    for media in sms.media.iter().filter(|m| valid_sid(m)) {
        forget(state, RecordKind::Media, &format!("{}/{media}", sms.sid)).await;
    }
    let Ok(from) = PhoneNumber::parse(sms.from) else {
        // Short codes and alphanumeric senders cannot be answered or linked.
        tracing::debug!("a text from a sender that is not a phone number was ignored");
        return Ok(Twiml::new());
    };
    match roster::find_by_phone(&state.db, &state.vault, &from).await? {
        Some(volunteer) if crate::store::accounts::is_revoked(state.db.pool(), volunteer.id).await? => {
            // A revoked volunteer's phone may be in someone else's hands.
            tracing::debug!("a text from a revoked volunteer was ignored");
            Ok(Twiml::new())
        }
        Some(volunteer) => volunteer_command(state, &volunteer, sms.body).await,
        None => intake::incoming(state, &from, sms.body, !sms.media.is_empty()).await,
    }
}

/// `POST /telephony/sms/status`: a message we sent changed status; its record is
/// queued for deletion (deleting too early is refused and retried).
pub async fn status(state: &AppState, sid: &str) {
    if valid_sid(sid) {
        forget(state, RecordKind::Message, sid).await;
    }
}

const HELP: &str = "quietline: ON / OFF shift. STATUS. Y 12 / N 12 accept or decline #12. AT 12 on scene. \
                    DONE 12 leaving. NOTE 12 <text> field note. Dispatchers: NEW <zone> <where, what>, \
                    R 7 <text> reply to text #7 (both then ask for OK and a code we send back).";

async fn volunteer_command(state: &AppState, v: &Volunteer, body: &str) -> Result<Twiml> {
    let cmd = command::parse(body);
    let text = match cmd {
        Command::Stop => {
            // The carrier stops our texts to them: they cannot be paged, so off shift.
            accounts::change_shift(state, v, false, Actor::Volunteer(v)).await?;
            return Ok(Twiml::new());
        }
        Command::Start => return Ok(Twiml::new()),
        Command::Help => HELP.to_string(),
        Command::On | Command::Off => {
            let on = cmd == Command::On;
            let fresh = accounts::change_shift(state, v, on, Actor::Volunteer(v)).await?;
            status_text(state, &fresh).await?
        }
        Command::Status => status_text(state, v).await?,
        Command::Accept(id) => match dispatch::accept(state, id, v).await {
            Ok(Accepted::Assigned { n, needed }) => format!(
                "You are going to #{id} ({n} of {needed}). Text AT {id} on scene, DONE {id} when you leave, \
                 NOTE {id} <text> for notes."
            ),
            Ok(Accepted::Already) => format!("You are already on #{id}."),
            Ok(Accepted::Covered) => format!("#{id} is covered, thank you."),
            Err(e) => refusal(e)?,
        },
        Command::Decline(id) => match dispatch::decline(state, id, v).await {
            Ok(()) => format!("Noted: you are not going to #{id}."),
            Err(e) => refusal(e)?,
        },
        Command::AtScene(id) => match dispatch::arrive_or_leave(state, id, v, true).await {
            Ok(()) => format!("On scene at #{id}. Stay safe; NOTE {id} <text> for notes."),
            Err(e) => refusal(e)?,
        },
        Command::Done(id) => match dispatch::arrive_or_leave(state, id, v, false).await {
            Ok(()) => format!("Left #{id}. Thank you."),
            Err(e) => refusal(e)?,
        },
        Command::Note(id, text) => {
            let text = zeroize::Zeroizing::new(text);
            match dispatch::add_note(state, id, v, text.as_bytes()).await {
                Ok(saved) => {
                    let when = match saved.expiry {
                        NoteExpiry::AfterClose(d) => format!("{} days after #{id} closes", d.as_secs() / 86_400),
                        NoteExpiry::At(t) => format!("on {}", t.display_utc()),
                    };
                    let mut reply = format!("Note #{} on #{id} saved; deleted {when}.", saved.id);
                    if !saved.author_reads {
                        reply.push_str(" You have no key registered: only the legal team can read it.");
                    }
                    reply
                }
                Err(DispatchError::NoReaders) => {
                    "Not saved: nobody who could read it has a key registered. Tell a coordinator.".to_string()
                }
                Err(e) => refusal(e)?,
            }
        }
        Command::Reply(thread, text) => {
            let text = zeroize::Zeroizing::new(text);
            if !(v.has_role(Role::Dispatcher) || v.has_role(Role::Coordinator)) {
                "Only dispatchers reply to texts.".to_string()
            } else if state.config.sms.confirm {
                let what = format!("send your reply to text #{thread}");
                hold(state, v, &confirm::Held::Reply { thread, text }, &what).await?
            } else {
                send_reply(state, v, thread, &text).await?
            }
        }
        Command::New { zone, text } => {
            let text = zeroize::Zeroizing::new(text);
            if !(v.has_role(Role::Dispatcher) || v.has_role(Role::Coordinator)) {
                "Only dispatchers open incidents.".to_string()
            } else if state.config.sms.confirm {
                match dispatch::known_zone(state, &zone).await {
                    Ok(known) => {
                        let roster = roster::list(&state.db).await?;
                        let observers = roster
                            .iter()
                            .filter(|o| o.active_on_shift() && o.has_role(Role::Observer) && o.zones.contains(&known))
                            .count();
                        let what = format!(
                            "open an incident in {known} and page {observers} observer(s)",
                            known = known.as_str()
                        );
                        hold(state, v, &confirm::Held::New { zone, text }, &what).await?
                    }
                    Err(DispatchError::Invalid(why)) => {
                        format!("{}. Write it as NEW <zone> <where, what>.", capitalized(&why).trim_end_matches('.'))
                    }
                    Err(e) => refusal(e)?,
                }
            } else {
                new_incident(state, v, &zone, &text).await?
            }
        }
        Command::Confirm(code) => match confirm::take(state, v, &code).await? {
            Some(confirm::Held::New { zone, text }) => new_incident(state, v, &zone, &text).await?,
            Some(confirm::Held::Reply { thread, text }) => send_reply(state, v, thread, &text).await?,
            None => "That code is not right or has expired; nothing was done. Send the command again.".to_string(),
        },
        Command::Incomplete(usage) => format!("Write it as: {usage}. Text HELP for all commands."),
        Command::Unknown => "Not a quietline command. Text HELP for the list.".to_string(),
    };
    Ok(answer(state, &text))
}

/// Holds a command for its one-time code and says how to confirm it.
async fn hold(state: &AppState, v: &Volunteer, command: &confirm::Held, what: &str) -> Result<String> {
    let code = confirm::hold(state, v, command).await.map_err(SmsError::Other)?;
    audit::record(state, Actor::Volunteer(v), "sms.confirm_asked", "volunteer", Some(v.id)).await;
    Ok(format!(
        "Reply OK {code} within {} minutes to {what}. If you did not send this, ignore it and tell a coordinator.",
        confirm::CODE_LIFETIME.as_secs() / 60
    ))
}

async fn send_reply(state: &AppState, v: &Volunteer, thread: i64, text: &str) -> Result<String> {
    match intake::reply(state, thread, v, text).await {
        Ok(()) => Ok(format!("Sent to text #{thread}.")),
        Err(intake::ReplyError::Refused(why)) => Ok(why),
        Err(intake::ReplyError::Failed(e)) => Err(e),
    }
}

/// Turns a refusal into the reply that explains it; database failures propagate.
fn refusal(e: DispatchError) -> Result<String> {
    match e {
        DispatchError::Store(e) => Err(SmsError::Store(e)),
        DispatchError::NotFound(id) => Ok(format!("There is no incident #{id}.")),
        DispatchError::Ended(id) => Ok(format!("#{id} has ended.")),
        DispatchError::NotAllowed(why) | DispatchError::Invalid(why) => Ok(capitalized(&why)),
        other => Err(SmsError::Other(other.to_string())),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str().trim_end_matches('.')),
        None => String::new(),
    }
}

async fn new_incident(state: &AppState, v: &Volunteer, zone: &str, text: &str) -> Result<String> {
    if !(v.has_role(Role::Dispatcher) || v.has_role(Role::Coordinator)) {
        return Ok("Only dispatchers open incidents.".to_string());
    }
    let zone = match dispatch::known_zone(state, zone).await {
        Ok(z) => z,
        Err(DispatchError::Invalid(why)) => {
            return Ok(format!("{}. Write it as NEW <zone> <where, what>.", capitalized(&why).trim_end_matches('.')));
        }
        Err(e) => return refusal(e),
    };
    // An optional kind first: `NEW north detention 5th and Main`.
    let (kind, location) = match text.split_once(char::is_whitespace) {
        Some((word, rest)) if Kind::parse(word).is_ok() && !rest.trim().is_empty() => {
            (Kind::parse(word).unwrap_or(Kind::Other), rest.trim())
        }
        _ => (Kind::Other, text),
    };
    let report = NewReport { zone, kind, location, description: "" };
    match dispatch::open(state, report, Actor::Volunteer(v)).await {
        Ok(opened) => {
            let mut reply = match opened.paged {
                0 => format!("Opened #{}; no observer is on shift: dispatchers alerted.", opened.id),
                n => format!("Opened #{}; {n} observer(s) paged.", opened.id),
            };
            if opened.details_item.is_none() {
                reply.push_str(" Its details were not kept: nobody has a key registered.");
            }
            Ok(reply)
        }
        Err(e) => refusal(e),
    }
}

/// What STATUS answers: shift, roles, zones, open incidents there, own dispatches.
async fn status_text(state: &AppState, v: &Volunteer) -> Result<String> {
    let roles: Vec<&str> = v.roles.iter().map(|r| r.as_str()).collect();
    let zones: Vec<&str> = v.zones.iter().map(|z| z.as_str()).collect();
    let open = field::list_open(state.db.pool()).await?;
    let mine: Vec<String> =
        open.iter().filter(|i| v.zones.iter().any(|z| z.as_str() == i.zone)).map(|i| format!("#{}", i.id)).collect();
    let mut text = format!(
        "You are {} shift ({}; zones {}). Open incidents in your zones: {}",
        if v.on_shift { "ON" } else { "OFF" },
        roles.join(", "),
        zones.join(", "),
        mine.len()
    );
    if !mine.is_empty() {
        text.push_str(&format!(" ({})", mine.iter().take(5).cloned().collect::<Vec<_>>().join(" ")));
    }
    text.push('.');
    let mut assigned = Vec::new();
    for i in &open {
        if let Some(s) = field::dispatch_state(state.db.pool(), i.id, v.id).await?
            && matches!(s, DispatchState::Accepted | DispatchState::OnScene)
        {
            assigned.push(format!("#{}", i.id));
        }
    }
    if !assigned.is_empty() {
        text.push_str(&format!(" You are assigned to {}.", assigned.join(" ")));
    }
    Ok(text)
}
