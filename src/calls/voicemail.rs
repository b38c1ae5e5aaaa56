//! Voicemail: the message box a caller reaches when nobody can answer, the
//! call-back request (press 1), and the recording sealed once it is ready.

use super::{Result, language_of, speech};
use crate::AppState;
use crate::flow::{self, Callback, Step, Voice};
use crate::items::{self, Content, ItemClass};
use crate::language::Language;
use crate::outbound;
use crate::phone::PhoneNumber;
use crate::roster;
use crate::states::{Outcome, RecordKind};
use crate::store::calls as db;

/// What the caller hears when nobody can answer: record a message, or press 1
/// first to ask for a call back.
pub(super) fn prompt(state: &AppState, call_id: i64, lang: &Language) -> Voice {
    let s = speech(state, lang);
    Voice::new()
        .then(Step::Gather {
            then: Callback::VoicemailChoice { call: call_id },
            digits: 1,
            timeout: 3,
            prompts: vec![Step::Say { voice: s.voice.clone(), text: s.voicemail.clone() }],
        })
        .then(record(state, call_id))
}

fn record(state: &AppState, call_id: i64) -> Step {
    Step::Record {
        then: Callback::VoicemailDone { call: call_id },
        max_length: state.config.ringing.voicemail_max_length.as_secs() as u32,
        ready: Callback::Recording { call: call_id },
    }
}

/// `POST /telephony/voice/voicemail`: where the caller goes once no tier is left.
pub async fn voicemail(state: &AppState, call_id: i64) -> Result<Voice> {
    let call = db::get(state.db.pool(), call_id).await?;
    let lang = language_of(state, call.and_then(|c| c.language).as_deref());
    Ok(prompt(state, call_id, &lang))
}

/// `POST /telephony/voice/voicemail/choice`: 1 asks for a call back (the number
/// is sealed for 24 h, readable by the server only), then the recording starts.
pub async fn voicemail_choice(state: &AppState, call_id: i64, digits: Option<&str>, from: &str) -> Result<Voice> {
    let call = db::get(state.db.pool(), call_id).await?;
    let lang = language_of(state, call.as_ref().and_then(|c| c.language.as_deref()));
    let s = speech(state, &lang);
    let mut voice = Voice::new();
    // One call back per call, however often this request is sent.
    if digits.map(str::trim) == Some("1")
        && let Ok(number) = PhoneNumber::parse(from)
        && flow::first_time(state, "voicemail-choice", &call_id.to_string()).await?
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
                outbound::text_dispatchers(state, &format!("quietline: call back requested ({lang}) #{item}")).await;
                voice = voice.say(&s.voice, &s.callback_noted);
            }
            Err(e) => tracing::error!(error = %e, "a callback number could not be sealed"),
        }
    }
    Ok(voice.then(record(state, call_id)))
}

/// `POST /telephony/voice/voicemail/done`: after the recording.
pub async fn voicemail_done(state: &AppState, call_id: i64) -> Result<Voice> {
    let call = db::get(state.db.pool(), call_id).await?;
    let lang = language_of(state, call.and_then(|c| c.language).as_deref());
    let s = speech(state, &lang);
    Ok(Voice::new().say(&s.voice, &s.goodbye).hangup())
}

/// `POST /telephony/recording`: a voicemail is ready at the provider. Download it,
/// seal it to on-shift dispatchers and the legal team, delete it at the provider,
/// and send dispatchers a content-free alert. `completed` is false for a
/// recording that failed or was absent.
pub async fn recording_ready(state: &AppState, call_id: i64, recording_sid: &str, completed: bool) -> Result<()> {
    let now = state.vault.clock().now();
    if !flow::first_time(state, "recording", recording_sid).await? {
        tracing::warn!("a recording callback arrived again (a retry or a replay) and was ignored");
        return Ok(());
    }
    // Whatever happens next, the recording must go from the provider.
    db::enqueue_deletion(state.db.pool(), RecordKind::Recording, recording_sid, now.0).await?;
    if !completed || state.provider.is_none() {
        return Ok(());
    }
    let audio = match outbound::recording(state, recording_sid).await {
        Ok(audio) => audio,
        Err(e) => {
            tracing::error!(error = %e, "a voicemail could not be downloaded; it will be deleted unheard");
            return Ok(());
        }
    };
    let call = db::get(state.db.pool(), call_id).await?;
    let lang = language_of(state, call.as_ref().and_then(|c| c.language.as_deref()));
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
            let alert = format!("quietline: new voicemail ({lang}) #{}: {}", item.id, state.item_page(item.id));
            outbound::text_dispatchers(state, &alert).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "a voicemail could not be kept: no reader has an age key");
            outbound::text_dispatchers(
                state,
                "quietline: a voicemail arrived but nobody on shift or in the legal team has a key",
            )
            .await;
        }
    }
    outbound::scrub(state).await;
    Ok(())
}
