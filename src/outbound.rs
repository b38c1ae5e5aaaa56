//! What we ask of the phone provider, in our own words: ring a number, move a
//! call on, send a text, fetch a recording, delete a record. The
//! call flow, dispatch and texts go through here and know nothing else of the
//! provider; `telephony::provider` is the one [`Carrier`] today.
//!
//! Every record the provider keeps because of us (calls, messages, recordings)
//! is queued here for deletion, and [`scrub`] works that queue.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::AppState;
use crate::flow::{self, Callback};
use crate::phone::PhoneNumber;
use crate::roster::{self, Role, Volunteer};
use crate::states::RecordKind;
use crate::store::calls as db;

/// A provider's record is deleted once the provider has finished with it.
const DELETE_AFTER_SECS: i64 = 60;

/// What the provider refused, with its own error code when it gave one.
#[derive(Debug)]
pub struct ProviderError {
    /// HTTP status, or 0 when the provider could not be reached.
    pub status: u16,
    /// The provider's error code, e.g. 20009 for "still being processed".
    pub code: Option<i64>,
    /// Why the request did not reach the provider, or its own message. Never
    /// shown for provider answers: it may quote a number.
    pub message: String,
}

impl ProviderError {
    /// The provider refused because the resource is still in use, or could not
    /// answer: try later.
    pub fn is_retryable(&self) -> bool {
        self.status == 0 || self.status == 429 || self.status >= 500 || self.code == Some(20009)
    }

    /// The provider refused before doing anything (429: over the account's
    /// rate; 503: unavailable): asking again cannot do it twice.
    pub fn placed_nothing(&self) -> bool {
        self.status == 429 || self.status == 503
    }

    /// The resource is already gone: deleting it again is done, not failed.
    pub fn is_gone(&self) -> bool {
        self.status == 404
    }
}

impl fmt::Display for ProviderError {
    /// Status and error code only: the provider's own messages quote the numbers
    /// they refuse ("The 'To' number +1… is not valid"), and this goes to the log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status, self.code) {
            (0, _) => write!(f, "provider unreachable: {}", self.message),
            (s, None) if (200..300).contains(&s) => f.write_str("the provider's answer could not be read"),
            (s, Some(c)) => write!(f, "provider answered {s} (error {c})"),
            (s, None) => write!(f, "provider answered {s}"),
        }
    }
}

impl std::error::Error for ProviderError {}

/// A call we place: `to` is rung from `from`; `answered` is asked what the
/// callee hears, `status` hears how the call goes.
pub struct NewCall<'a> {
    pub to: &'a str,
    pub from: &'a str,
    /// Absolute URL asked when the callee answers.
    pub answered: &'a str,
    /// Absolute URL told of the call's progress.
    pub status: &'a str,
    /// Seconds to ring before giving up.
    pub timeout: u32,
}

/// A provider answer, some time later.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// A phone provider's REST API, as the call flow needs it.
pub trait Carrier: Send + Sync {
    /// Places a call; returns its id.
    fn place_call<'a>(&'a self, call: &'a NewCall<'a>) -> Pending<'a, String>;
    /// Moves a live call to what `url` answers.
    fn redirect_call<'a>(&'a self, sid: &'a str, url: &'a str) -> Pending<'a, ()>;
    /// Sends a text; returns its id.
    fn send_text<'a>(&'a self, from: &'a str, to: &'a str, body: &'a str) -> Pending<'a, String>;
    /// A recording's audio, in a buffer overwritten when dropped.
    fn fetch_recording<'a>(&'a self, sid: &'a str) -> Pending<'a, zeroize::Zeroizing<Vec<u8>>>;
    /// Deletes a record; one already gone counts as deleted.
    fn delete<'a>(&'a self, kind: RecordKind, sid: &'a str) -> Pending<'a, ()>;
}

/// Why something could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the phone provider and hotline_number must be configured")]
    NotConfigured,
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl From<SendError> for flow::FlowError {
    fn from(e: SendError) -> Self {
        flow::FlowError::Other(e.to_string())
    }
}

/// Calls created through the provider's REST API go out at the account's call
/// rate: beyond it the provider queues them (for up to a day), where a call
/// back would ring long after the volunteer gave up. Each instance keeps to the
/// rate itself, so that a call back either rings in its turn or fails here,
/// where it can be said.
pub struct CallPace {
    next: tokio::sync::Mutex<tokio::time::Instant>,
    interval: std::time::Duration,
}

impl CallPace {
    pub fn new(calls_per_second: u32) -> CallPace {
        CallPace {
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            interval: std::time::Duration::from_secs(1) / calls_per_second.max(1),
        }
    }

    /// Waits for this call's turn.
    async fn turn(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(tokio::time::Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// How often a call the provider refused without placing it (429: over the
/// rate; 503: unavailable) is asked for.
const RING_ATTEMPTS: u32 = 3;

/// Rings `to` from the hotline number through the REST API (call backs):
/// `answered` says what they hear when they pick up, `status` hears how the
/// call goes. Returns the call's id. A refusal that placed nothing is tried
/// again in a later turn; any other failure is returned at once, so that
/// nobody is rung twice.
pub async fn ring(
    state: &AppState,
    to: &PhoneNumber,
    answered: Callback,
    status: Callback,
    timeout: u32,
) -> Result<String, SendError> {
    let (Some(carrier), Some(hotline)) = (&state.provider, &state.config.provider.hotline_number) else {
        return Err(SendError::NotConfigured);
    };
    let call = NewCall {
        to: to.as_str(),
        from: hotline.as_str(),
        answered: &state.public(&answered.path()),
        status: &state.public(&status.path()),
        timeout,
    };
    let mut attempt = 1;
    loop {
        state.call_pace.turn().await;
        match carrier.place_call(&call).await {
            Ok(sid) => return Ok(sid),
            Err(e) if e.placed_nothing() && attempt < RING_ATTEMPTS => {
                tracing::warn!(error = %e, "the provider refused a call without placing it; asking again");
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Moves a live call on to what `to` answers.
pub async fn redirect(state: &AppState, sid: &str, to: Callback) -> Result<(), SendError> {
    let Some(carrier) = &state.provider else { return Err(SendError::NotConfigured) };
    Ok(carrier.redirect_call(sid, &state.public(&to.path())).await?)
}

/// A recording's audio.
pub async fn recording(state: &AppState, sid: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, SendError> {
    let Some(carrier) = &state.provider else { return Err(SendError::NotConfigured) };
    Ok(carrier.fetch_recording(sid).await?)
}

/// Sends a text from the hotline number; true when the provider took it. The
/// message record is queued for deletion.
pub async fn text(state: &AppState, to: &PhoneNumber, text: &str) -> bool {
    let (Some(carrier), Some(hotline)) = (&state.provider, &state.config.provider.hotline_number) else {
        return false;
    };
    let body = zeroize::Zeroizing::new(flow::clip(text));
    match carrier.send_text(hotline.as_str(), to.as_str(), &body).await {
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
pub async fn text_volunteer(state: &AppState, v: &Volunteer, body: &str) -> bool {
    match v.phone(&state.vault) {
        Ok(phone) => text(state, &phone, body).await,
        Err(_) => {
            tracing::warn!("a volunteer's number cannot be unsealed; text skipped");
            false
        }
    }
}

/// A text to every on-shift dispatcher; returns how many got it.
pub async fn text_dispatchers(state: &AppState, body: &str) -> usize {
    let Ok(roster) = roster::list(&state.db).await else { return 0 };
    let mut sent = 0;
    for v in roster.iter().filter(|v| v.active_on_shift() && v.has_role(Role::Dispatcher)) {
        if text_volunteer(state, v, body).await {
            sent += 1;
        }
    }
    sent
}

/// Queues a provider record for deletion; failures are logged.
pub async fn forget(state: &AppState, kind: RecordKind, sid: &str) {
    let now = state.vault.clock().now();
    if let Err(e) = db::enqueue_deletion(state.db.pool(), kind, sid, now.0 + DELETE_AFTER_SECS).await {
        tracing::error!(error = %e, "a provider record could not be queued for deletion");
    }
}

/// One pass of the provider deletion queue: deletions that are due are tried; a
/// refusal ("still in progress") or an outage is retried with backoff. Returns
/// how many were done.
pub async fn scrub(state: &AppState) -> usize {
    let Some(carrier) = &state.provider else { return 0 };
    let now = state.vault.clock().now();
    let Ok(due) = db::due_deletions(state.db.pool(), now.0, 50).await else { return 0 };
    let mut done = 0;
    for d in due {
        match carrier.delete(d.kind, &d.sid).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_repeat_the_providers_message() {
        let e = ProviderError {
            status: 400,
            code: Some(21211),
            message: "The 'To' number +14155550123 is not a valid phone number.".into(),
        };
        assert_eq!(e.to_string(), "provider answered 400 (error 21211)");
        assert!(!e.is_retryable());
        let busy = ProviderError { status: 400, code: Some(20009), message: String::new() };
        assert!(busy.is_retryable());
        assert!(ProviderError { status: 404, code: None, message: String::new() }.is_gone());
    }
}
