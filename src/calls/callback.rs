//! Masked call backs: the server rings the volunteer from the hotline number;
//! when they press 1 the caller is dialled, also from the hotline number, so
//! neither sees the other's.

use super::ringing::ACCEPT_TIMEOUT_SECS;
use super::{Result, volunteer_speech};
use crate::AppState;
use crate::flow::{Callback, FlowError, Step, Voice};
use crate::items::{self, ItemClass};
use crate::outbound;
use crate::roster::Volunteer;
use crate::states::RecordKind;
use crate::store::calls as db;

/// How long the caller's phone rings when a volunteer calls them back.
const DIAL_TIMEOUT_SECS: u32 = 30;

/// Starts a masked call back of item `item` (a sealed number) by ringing
/// `volunteer`. Returns the volunteer leg's id.
pub async fn start_callback(state: &AppState, item: i64, volunteer: &Volunteer) -> Result<String> {
    if state.provider.is_none() || state.config.provider.hotline_number.is_none() {
        return Err(FlowError::Other("the phone provider and hotline_number must be configured".into()));
    }
    if state.config.public_url.is_none() {
        return Err(FlowError::Other("public_url must be configured".into()));
    }
    // Fail now, not once the volunteer has picked up, if the number is gone.
    items::open_for_server(&state.db, &state.vault, item, ItemClass::Callback)
        .await
        .map_err(|e| FlowError::Other(format!("call back #{item}: {e}")))?;
    let phone = volunteer.phone(&state.vault)?;
    let answered = Callback::CallbackAnswered { item, volunteer: volunteer.id };
    let timeout = state.config.ringing.timeout.as_secs() as u32;
    Ok(outbound::ring(state, &phone, answered, Callback::Status { call: None }, timeout).await?)
}

/// `POST /telephony/voice/callback`: the volunteer picked up a call back.
pub async fn callback_answered(state: &AppState, item: i64, volunteer_id: Option<i64>) -> Result<Voice> {
    let s = volunteer_speech(state, volunteer_id).await?;
    Ok(Voice::new()
        .then(Step::Gather {
            then: Callback::CallbackAccept { item, volunteer: volunteer_id },
            digits: 1,
            timeout: ACCEPT_TIMEOUT_SECS,
            prompts: vec![Step::Say { voice: s.voice.clone(), text: s.callback_whisper.clone() }],
        })
        .hangup())
}

/// `POST /telephony/voice/callback/accept`: 1 dials the caller from the hotline.
pub async fn callback_accept(
    state: &AppState,
    item: i64,
    volunteer_id: Option<i64>,
    digits: Option<&str>,
) -> Result<Voice> {
    let s = volunteer_speech(state, volunteer_id).await?;
    let Some(hotline) = &state.config.provider.hotline_number else {
        return Ok(Voice::new().say(&s.voice, &s.unavailable).hangup());
    };
    if digits.map(str::trim) != Some("1") {
        return Ok(Voice::new().say(&s.voice, &s.goodbye).hangup());
    }
    let number = match items::open_for_server(&state.db, &state.vault, item, ItemClass::Callback).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "a call back could not be placed");
            return Ok(Voice::new().say(&s.voice, &s.unavailable).hangup());
        }
    };
    let number = zeroize::Zeroizing::new(String::from_utf8_lossy(&number).to_string());
    Ok(Voice::new()
        .then(Step::Dial {
            number: number.to_string(),
            caller_id: hotline.as_str().to_string(),
            timeout: DIAL_TIMEOUT_SECS,
            then: Callback::CallbackDone { item },
        })
        .hangup())
}

/// `POST /telephony/voice/callback/done`: the call back ended (`connected` when
/// the caller picked up). Both legs are queued for deletion at the provider, and
/// a connected call back needs no number any more.
pub async fn callback_done(
    state: &AppState,
    item: i64,
    leg_sid: &str,
    dialed_sid: Option<&str>,
    connected: bool,
) -> Result<Voice> {
    let now = state.vault.clock().now();
    for sid in std::iter::once(leg_sid).chain(dialed_sid) {
        if !sid.is_empty() {
            db::enqueue_deletion(state.db.pool(), RecordKind::Call, sid, now.0 + 60).await?;
        }
    }
    if connected {
        crate::store::items::delete(state.db.pool(), item).await?;
        tracing::debug!("call back connected; its number is deleted");
    }
    Ok(Voice::new().hangup())
}
