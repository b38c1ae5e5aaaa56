//! The call and text flow in its own words, with no provider's: what a caller
//! hears and is asked ([`Voice`], a list of [`Step`]s), where their answer goes
//! ([`Callback`], one of this server's endpoints), and what a texter is answered
//! ([`Texts`]). `calls` and `sms` return these; `telephony` renders them as the
//! provider's markup (TwiML), and another provider's renderer would read the same.

use std::fmt;

use crate::AppState;

/// The server endpoints a provider calls back during a call or text. One place
/// names their paths: the webhook routes are registered at these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// A caller rang the hotline.
    Incoming,
    /// The answer to the language menu (or its time-out).
    Language { call: i64, attempt: u32 },
    /// The answer of a caller with a withheld number to "press 7".
    Challenge { call: i64, attempt: u32 },
    /// What a held caller hears, asked again and again.
    Wait { call: i64 },
    /// The held caller left the queue (calls held by an earlier release).
    QueueEnd { call: i64 },
    /// The ringing of `tier` ended: someone talked to the caller, or nobody took it.
    RingEnded { call: i64, tier: i64 },
    /// The caller has waited `waited` times for someone to come free after `tier`.
    RingAgain { call: i64, tier: i64, waited: u32 },
    /// A volunteer rung for `call` in `tier` (the `attempt`-th time in it) picked
    /// up (the screen of their leg).
    VolunteerAnswered { call: i64, volunteer: i64, tier: i64, attempt: u32 },
    /// A volunteer pressed a key (or not) after the whisper.
    VolunteerPressed { call: i64 },
    /// The caller is moved to voicemail.
    Voicemail { call: i64 },
    /// The caller's key at the voicemail prompt (1: a call back).
    VoicemailChoice { call: i64 },
    /// The recording ended.
    VoicemailDone { call: i64 },
    /// The recording is ready to be fetched.
    Recording { call: i64 },
    /// A leg of a call changed state.
    Status { call: Option<i64> },
    /// The leg ringing `volunteer` for `call` in `tier` (its `attempt`) changed state.
    LegStatus { call: i64, volunteer: i64, tier: i64, attempt: u32 },
    /// A volunteer picked up a call back.
    CallbackAnswered { item: i64, volunteer: i64 },
    /// The volunteer's key for a call back.
    CallbackAccept { item: i64, volunteer: Option<i64> },
    /// A call back ended.
    CallbackDone { item: i64 },
    /// A text came in.
    Text,
    /// A text we sent changed status.
    TextStatus,
}

impl Callback {
    /// The path and query of the endpoint, relative to the public URL.
    pub fn path(self) -> String {
        match self {
            Callback::Incoming => "/telephony/voice".into(),
            Callback::Language { call, attempt } => format!("/telephony/voice/language?call={call}&attempt={attempt}"),
            Callback::Challenge { call, attempt } => {
                format!("/telephony/voice/challenge?call={call}&attempt={attempt}")
            }
            Callback::Wait { call } => format!("/telephony/voice/wait?call={call}"),
            Callback::QueueEnd { call } => format!("/telephony/voice/queue-end?call={call}"),
            Callback::VolunteerAnswered { call, volunteer, tier, attempt } => {
                format!("/telephony/voice/volunteer?call={call}&volunteer={volunteer}&tier={tier}&attempt={attempt}")
            }
            Callback::RingEnded { call, tier } => format!("/telephony/voice/ring-end?call={call}&tier={tier}"),
            Callback::RingAgain { call, tier, waited } => {
                format!("/telephony/voice/ring-end?call={call}&tier={tier}&waited={waited}")
            }
            Callback::VolunteerPressed { call } => format!("/telephony/voice/volunteer/accept?call={call}"),
            Callback::Voicemail { call } => format!("/telephony/voice/voicemail?call={call}"),
            Callback::VoicemailChoice { call } => format!("/telephony/voice/voicemail/choice?call={call}"),
            Callback::VoicemailDone { call } => format!("/telephony/voice/voicemail/done?call={call}"),
            Callback::Recording { call } => format!("/telephony/recording?call={call}"),
            Callback::Status { call: Some(call) } => format!("/telephony/status?call={call}"),
            Callback::Status { call: None } => "/telephony/status".into(),
            Callback::LegStatus { call, volunteer, tier, attempt } => {
                format!("/telephony/status?call={call}&volunteer={volunteer}&tier={tier}&attempt={attempt}")
            }
            Callback::CallbackAnswered { item, volunteer } => {
                format!("/telephony/voice/callback?item={item}&volunteer={volunteer}")
            }
            Callback::CallbackAccept { item, volunteer: Some(v) } => {
                format!("/telephony/voice/callback/accept?item={item}&volunteer={v}")
            }
            Callback::CallbackAccept { item, volunteer: None } => {
                format!("/telephony/voice/callback/accept?item={item}")
            }
            Callback::CallbackDone { item } => format!("/telephony/voice/callback/done?item={item}"),
            Callback::Text => "/telephony/sms".into(),
            Callback::TextStatus => "/telephony/sms/status".into(),
        }
    }
}

/// How a [`Step::Ring`] ended, as the provider reports it to its `then`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingResult {
    /// Someone was put through, and that conversation is over.
    Talked,
    /// Nobody was put through: no answer, busy, failed, or every callee's
    /// answer hung up.
    NobodyPutThrough,
}

/// How a call's leg goes, as the provider reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegProgress {
    /// Still ringing or talking.
    Going,
    /// Over, whatever the reason (completed, busy, no answer, failed, cancelled).
    Finished,
}

/// One thing that happens on the line.
#[derive(Clone, PartialEq, Eq)]
pub enum Step {
    /// Speak `text` with the voice of `voice`, a full BCP-47 tag such as `es-US`.
    Say {
        voice: String,
        text: String,
    },
    Pause {
        seconds: u32,
    },
    /// Collect `digits` keys, speaking `prompts` meanwhile; the keys go to `then`.
    Gather {
        then: Callback,
        digits: u32,
        timeout: u32,
        prompts: Vec<Step>,
    },
    /// Leave the queue (what a wait answer says to end the holding).
    Leave,
    /// Ring every one of `numbers` at once from this call, showing `caller_id`
    /// (the hotline, never the caller). The first to pick up stops the others
    /// ringing and hears what their `answered` says before anything else; they
    /// are put through to this call if that ends without hanging up. `then`
    /// hears how the ringing ended: after `timeout` seconds with nobody picking
    /// up, when the one who picked up hung up, or when the conversation is over.
    Ring {
        numbers: Vec<Ringing>,
        caller_id: String,
        timeout: u32,
        then: Callback,
    },
    /// Call `number` out, showing `caller_id`; `then` hears how it ended.
    Dial {
        number: String,
        caller_id: String,
        timeout: u32,
        then: Callback,
    },
    /// Record a message of at most `max_length` seconds; `then` after it,
    /// `ready` once the recording can be fetched.
    Record {
        then: Callback,
        max_length: u32,
        ready: Callback,
    },
    /// Go on with what `to` answers.
    Redirect {
        to: Callback,
    },
    Hangup,
}

/// One phone of a [`Step::Ring`].
#[derive(Clone, PartialEq, Eq)]
pub struct Ringing {
    pub number: String,
    /// Asked when the callee picks up, before they are put through.
    pub answered: Callback,
    /// Told when their leg ends.
    pub status: Callback,
}

/// What a call hears next.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Voice(pub Vec<Step>);

impl Voice {
    pub fn new() -> Voice {
        Voice(Vec::new())
    }

    pub fn then(mut self, step: Step) -> Voice {
        self.0.push(step);
        self
    }

    pub fn say(self, voice: &str, text: &str) -> Voice {
        self.then(Step::Say { voice: voice.to_string(), text: text.to_string() })
    }

    pub fn hangup(self) -> Voice {
        self.then(Step::Hangup)
    }
}

/// No `Debug` for what a caller hears: a dialled number may be in it.
impl fmt::Debug for Voice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Voice({} step(s))", self.0.len())
    }
}

/// The longest text we send; the provider refuses more than 1600 characters.
pub const MAX_TEXT_CHARS: usize = 1200;

/// The texts a sender is answered with (none: no answer).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Texts(pub Vec<String>);

impl Texts {
    pub fn none() -> Texts {
        Texts(Vec::new())
    }

    /// One text, cut to what one message may carry.
    pub fn one(text: &str) -> Texts {
        Texts(vec![clip(text)])
    }
}

/// No `Debug`: the answers quote commands and name incidents.
impl fmt::Debug for Texts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Texts({})", self.0.len())
    }
}

/// Cuts a text to what one message may carry, at a character boundary.
pub fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_TEXT_CHARS {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX_TEXT_CHARS - 1).collect();
    out.push('…');
    out
}

/// How long a webhook's id is remembered against replays: the provider's retry
/// window is minutes; a day covers it with room to spare.
pub const REPLAY_WINDOW_SECS: i64 = 86_400;

/// True the first time the step `step` of the provider event `id` is seen; a
/// replayed signed request gets false and must change nothing.
pub async fn first_time(state: &AppState, step: &str, id: &str) -> Result<bool, FlowError> {
    let now = state.vault.clock().now();
    let key = format!("{step}:{id}");
    Ok(crate::store::webhooks::first_time(state.db.pool(), &key, now.0 + REPLAY_WINDOW_SECS).await?)
}

/// Why a call or text could not be handled: the caller then hears the fallback
/// message, the texter a short apology.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("database error: {0}")]
    Store(#[from] sqlx::Error),
    /// What was asked for does not exist (or has expired); safe to show.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

impl From<crate::roster::RosterError> for FlowError {
    fn from(e: crate::roster::RosterError) -> Self {
        match e {
            crate::roster::RosterError::Store(e) => FlowError::Store(e),
            other => FlowError::Other(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_have_their_paths() {
        assert_eq!(Callback::Language { call: 3, attempt: 2 }.path(), "/telephony/voice/language?call=3&attempt=2");
        assert_eq!(Callback::Status { call: None }.path(), "/telephony/status");
        assert_eq!(
            Callback::CallbackAccept { item: 4, volunteer: Some(7) }.path(),
            "/telephony/voice/callback/accept?item=4&volunteer=7"
        );
    }

    #[test]
    fn long_texts_are_clipped_at_a_character() {
        let long = "ñ".repeat(MAX_TEXT_CHARS + 5);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_TEXT_CHARS);
        assert!(clipped.ends_with('…'));
        assert_eq!(clip("short"), "short");
    }
}
