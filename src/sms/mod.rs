//! Texts: the inbound SMS webhook's logic, volunteer commands, and sending.
//!
//! A text from a number on the roster is a command; from anyone else it is public
//! intake (see [`intake`]). The answer to a text is returned as [`Texts`] for
//! `telephony` to send back (their status callback tells us their ids); texts we
//! start go through [`outbound`](crate::outbound). Every message record, inbound
//! and outbound, is queued for deletion at the provider.
//!
//! Texts are content: they are never logged, never echoed in an error, and a
//! command that cannot be understood gets help, not a repeat of what was sent.

pub mod command;
pub mod confirm;
pub mod intake;

use crate::AppState;
use crate::accounts;
use crate::audit::{self, Actor};
use crate::dispatch::{self, Accepted, DispatchError, Kind, NewReport};
use crate::flow::{self, FlowError, Texts};
use crate::outbound;
use crate::phone::PhoneNumber;
use crate::roster::{self, Role, Volunteer};
use crate::states::{DispatchState, RecordKind};
use crate::store::incidents as field;
use command::Command;

type Result<T> = std::result::Result<T, FlowError>;

/// One inbound text, as the provider describes it; `telephony` has checked the
/// form of its ids.
pub struct Inbound<'a> {
    pub sid: &'a str,
    pub from: &'a str,
    pub body: &'a str,
    /// Media attachment ids (`ME…`), for deletion; their content is never fetched.
    pub media: Vec<String>,
}

/// `POST /telephony/sms`: one inbound text.
pub async fn incoming(state: &AppState, sms: Inbound<'_>) -> Result<Texts> {
    // Acted on once: a captured text sent again, signature and all, is ignored.
    if !flow::first_time(state, "sms", sms.sid).await? {
        tracing::warn!("a text was received again (a retry or a replay) and ignored");
        return Ok(Texts::none());
    }
    // Whatever happens next, the provider's copies must go.
    outbound::forget(state, RecordKind::Message, sms.sid).await;
    for media in &sms.media {
        outbound::forget(state, RecordKind::Media, &format!("{}/{media}", sms.sid)).await;
    }
    let Ok(from) = PhoneNumber::parse(sms.from) else {
        // Short codes and alphanumeric senders cannot be answered or linked.
        tracing::debug!("a text from a sender that is not a phone number was ignored");
        return Ok(Texts::none());
    };
    match roster::find_by_phone(&state.db, &state.vault, &from).await? {
        Some(volunteer) if crate::store::accounts::is_revoked(state.db.pool(), volunteer.id).await? => {
            // A revoked volunteer's phone may be in someone else's hands.
            tracing::debug!("a text from a revoked volunteer was ignored");
            Ok(Texts::none())
        }
        Some(volunteer) => volunteer_command(state, &volunteer, sms.body).await,
        None => intake::incoming(state, &from, sms.body, !sms.media.is_empty()).await,
    }
}

/// `POST /telephony/sms/status`: a message we sent changed status; its record is
/// queued for deletion (deleting too early is refused and retried).
pub async fn status(state: &AppState, sid: &str) {
    outbound::forget(state, RecordKind::Message, sid).await;
}

const HELP: &str = "quietline: ON / OFF shift. STATUS. Y 12 / N 12 accept or decline #12. AT 12 on scene. \
                    DONE 12 leaving. NOTE 12 <text> field note. Dispatchers: NEW <zone> <where, what>, \
                    R 7 <text> reply to text #7 (both then ask for OK and a code we send back).";

async fn volunteer_command(state: &AppState, v: &Volunteer, body: &str) -> Result<Texts> {
    let cmd = command::parse(body);
    let text = match cmd {
        Command::Stop => {
            // The carrier stops our texts to them: they cannot be paged, so off shift.
            accounts::change_shift(state, v, false, Actor::Volunteer(v)).await?;
            return Ok(Texts::none());
        }
        Command::Start => return Ok(Texts::none()),
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
                    let when = saved.expiry.of_incident(id);
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
            if !v.can_dispatch() {
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
            if !v.can_dispatch() {
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
    Ok(Texts::one(&text))
}

/// Holds a command for its one-time code and says how to confirm it.
async fn hold(state: &AppState, v: &Volunteer, command: &confirm::Held, what: &str) -> Result<String> {
    let code = confirm::hold(state, v, command).await.map_err(FlowError::Other)?;
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
        DispatchError::Store(e) => Err(FlowError::Store(e)),
        DispatchError::NotFound(id) => Ok(format!("There is no incident #{id}.")),
        DispatchError::Ended(id) => Ok(format!("#{id} has ended.")),
        DispatchError::NotAllowed(why) | DispatchError::Invalid(why) => Ok(capitalized(&why)),
        other => Err(FlowError::Other(other.to_string())),
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
    if !v.can_dispatch() {
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
