//! The provider edge: webhooks (signature check first, parsing, TwiML answers) and
//! the provider's REST API. Provider specifics stop here: what a webhook carries
//! is read into plain values for `calls` and `sms`, and what they answer
//! ([`flow`](crate::flow)) is rendered as TwiML.

pub mod provider;
pub mod read;
pub mod signature;
pub mod simulate;
pub mod twiml;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::ExposeSecret;
use std::time::Duration;

use crate::AppState;
use crate::calls;
use crate::flow::{FlowError, LegProgress, RingResult, Texts, Voice};
use twiml::Twiml;

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/telephony/voice", post(voice))
        .route("/telephony/voice/language", post(language))
        .route("/telephony/voice/challenge", post(challenge))
        .route("/telephony/voice/wait", post(wait))
        .route("/telephony/voice/queue-end", post(queue_end))
        .route("/telephony/voice/ring-end", post(ring_end))
        .route("/telephony/voice/volunteer", post(volunteer))
        .route("/telephony/voice/volunteer/accept", post(accept))
        .route("/telephony/voice/voicemail", post(voicemail))
        .route("/telephony/voice/voicemail/choice", post(voicemail_choice))
        .route("/telephony/voice/voicemail/done", post(voicemail_done))
        .route("/telephony/voice/callback", post(callback))
        .route("/telephony/voice/callback/accept", post(callback_accept))
        .route("/telephony/voice/callback/done", post(callback_done))
        .route("/telephony/recording", post(recording))
        .route("/telephony/status", post(status))
        .route("/telephony/sms", post(sms))
        .route("/telephony/sms/status", post(sms_status))
}

/// A provider request whose signature checked out, with its parameters. Handlers
/// that take this cannot run for a forged or unsigned request. The parameters
/// (numbers, texts) are overwritten when it is dropped.
pub struct Webhook {
    params: Vec<(String, String)>,
    /// Parameters of the URL we gave the provider (`call`, `attempt`), covered by
    /// the signature like the body.
    query: Vec<(String, String)>,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl Webhook {
    /// Overwrites every parameter; the strings are left empty.
    fn wipe(&mut self) {
        use zeroize::Zeroize;
        for (k, v) in self.params.iter_mut() {
            k.zeroize();
            v.zeroize();
        }
    }
}

impl Webhook {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn query_number<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.query.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse().ok())
    }

    /// The call id in our own callback URL; its absence is a malformed request.
    fn call_id(&self) -> Result<i64, StatusCode> {
        self.query_number("call").ok_or(StatusCode::BAD_REQUEST)
    }
}

/// Why a webhook was turned away: no detail goes back to the sender.
pub enum Rejected {
    Forbidden,
    NotConfigured,
}

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        match self {
            Rejected::Forbidden => (StatusCode::FORBIDDEN, "forbidden\n").into_response(),
            Rejected::NotConfigured => {
                (StatusCode::SERVICE_UNAVAILABLE, "telephony is not configured\n").into_response()
            }
        }
    }
}

impl FromRequest<AppState> for Webhook {
    type Rejection = Rejected;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (Some(base), Some(token)) = (&state.config.public_url, &state.config.provider.auth_token) else {
            tracing::error!("a provider webhook arrived but public_url or provider_auth_token is not set");
            return Err(Rejected::NotConfigured);
        };
        let path_and_query = request.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
        let query: Vec<(String, String)> =
            serde_urlencoded::from_str(request.uri().query().unwrap_or("")).map_err(|_| Rejected::Forbidden)?;
        // Signed against the configured public URL, never the Host header.
        let url = format!("{base}{path_and_query}");
        let signature = request
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or(Rejected::Forbidden)?;
        let is_form = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = Bytes::from_request(request, state).await.map_err(|_| Rejected::Forbidden)?;
        let token = token.expose_secret().as_bytes();
        let (ok, params) = if is_form {
            let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).map_err(|_| Rejected::Forbidden)?;
            (signature::verify_form(token, &url, &params, &signature), params)
        } else {
            (signature::verify_body(token, &url, &body, &signature), Vec::new())
        };
        crate::secret::zeroize_body(body);
        if !ok {
            tracing::warn!("provider webhook with a bad or missing signature refused");
            return Err(Rejected::Forbidden);
        }
        Ok(Webhook { params, query })
    }
}

/// How long call handling (waiting for its turn included) may take before the
/// caller is given the fallback message instead. The provider waits 15 s and then
/// plays its own error; a database that hangs rather than refuses must not get
/// that far. Not shorter: in a surge of a thousand callers some wait several
/// seconds for their turn, and a caller would rather hear the menu late than be
/// turned away.
const DEADLINE: Duration = Duration::from_secs(10);

/// Turns of call handling. A surge of a thousand callers would otherwise have a
/// thousand requests each holding rows, buffers and a place in the database's
/// queue: measured (`benches/callflow.rs`), the peak memory of such a surge went
/// from 180–220 MiB to ~120 MiB with a limit.
pub struct CallSlots {
    /// Calls already under way (menu choices, the queue, volunteers answering and
    /// pressing 1, voicemail).
    under_way: tokio::sync::Semaphore,
    /// New callers, apart from those under way: in a surge the volunteer pressing
    /// 1 for a caller already held must not queue behind a thousand callers just
    /// ringing in. With one pool for both, every step of every call waited its
    /// turn behind the arrivals, and under a little more load nobody was put
    /// through at all. Not fewer than 32: 16 cost PostgreSQL a fifth of its
    /// webhook throughput (each arrival waits on a read round trip).
    arrivals: tokio::sync::Semaphore,
}

impl Default for CallSlots {
    fn default() -> Self {
        CallSlots { under_way: tokio::sync::Semaphore::new(32), arrivals: tokio::sync::Semaphore::new(32) }
    }
}

/// Which of the [`CallSlots`] a webhook waits for.
#[derive(Clone, Copy)]
enum Turn {
    Arrival,
    UnderWay,
}

/// Runs call handling (after its turn) within [`DEADLINE`], and turns a failure
/// into something the caller can still hear: never a provider error tone.
async fn answer(state: &AppState, turn: Turn, work: impl Future<Output = Result<Voice, FlowError>>) -> Response {
    let slots = match turn {
        Turn::Arrival => &state.call_slots.arrivals,
        Turn::UnderWay => &state.call_slots.under_way,
    };
    let result = tokio::time::timeout(DEADLINE, async {
        let _slot = slots.acquire().await;
        work.await
    })
    .await
    .unwrap_or_else(|_| Err(FlowError::Other("no answer within the webhook deadline".into())));
    let voice = result.unwrap_or_else(|e| {
        tracing::error!(error = %e, "call handling failed; caller sent to a fallback message");
        calls::refuse(state)
    });
    render(state, &voice)
}

fn base(state: &AppState) -> &str {
    state.config.public_url.as_deref().unwrap_or("")
}

fn render(state: &AppState, voice: &Voice) -> Response {
    Twiml::voice(voice, base(state)).into_response()
}

fn render_texts(state: &AppState, texts: &Texts) -> Response {
    Twiml::texts(texts, base(state)).into_response()
}

/// A provider id as the provider makes them: a two-letter prefix (`SM`, `MM`,
/// `CA`, `RE`) and 32 hex digits.
fn provider_id(sid: &str, prefixes: &[&str]) -> bool {
    sid.len() == 34 && prefixes.iter().any(|p| sid.starts_with(p)) && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A provider id that goes into REST paths: letters and digits only.
fn plain_sid(sid: &str) -> bool {
    (2..=64).contains(&sid.len()) && sid.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A call status the provider reports: the call is over or still going.
fn progress(call_status: &str) -> LegProgress {
    match call_status {
        "completed" | "busy" | "failed" | "no-answer" | "canceled" => LegProgress::Finished,
        _ => LegProgress::Going,
    }
}

async fn voice(State(state): State<AppState>, hook: Webhook) -> Response {
    let sid = hook.get("CallSid").unwrap_or("").to_string();
    let from = hook.get("From").unwrap_or("");
    answer(&state, Turn::Arrival, calls::incoming(&state, &sid, from)).await
}

async fn language(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    let attempt = hook.query_number("attempt").unwrap_or(1);
    let work = calls::choose_language(&state, hook.call_id()?, attempt, hook.get("Digits"));
    Ok(answer(&state, Turn::UnderWay, work).await)
}

async fn challenge(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    let attempt = hook.query_number("attempt").unwrap_or(1);
    let work = calls::challenge_answered(&state, hook.call_id()?, attempt, hook.get("Digits"));
    Ok(answer(&state, Turn::UnderWay, work).await)
}

async fn wait(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    Ok(answer(&state, Turn::UnderWay, calls::wait(&state, hook.call_id()?)).await)
}

async fn queue_end(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    let bridged = hook.get("QueueResult") == Some("bridged");
    Ok(answer(&state, Turn::UnderWay, calls::queue_end(&state, hook.call_id()?, bridged)).await)
}

/// The leg of a ringing tier a webhook is about, from our own URL.
fn leg_of(hook: &Webhook) -> Option<calls::LegKey> {
    Some(calls::LegKey {
        call: hook.query_number("call")?,
        volunteer: hook.query_number("volunteer")?,
        tier: hook.query_number("tier")?,
        attempt: hook.query_number("attempt").unwrap_or(0),
    })
}

async fn volunteer(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    let sid = hook.get("CallSid").unwrap_or("");
    if !plain_sid(sid) {
        return Err(StatusCode::BAD_REQUEST);
    }
    let key = leg_of(&hook).ok_or(StatusCode::BAD_REQUEST)?;
    Ok(answer(&state, Turn::UnderWay, calls::volunteer_answered(&state, key, sid)).await)
}

/// The end of a tier's ringing (`<Dial>`'s action): `DialBridged` says whether
/// anyone was put through; a redirect by a tick brings no parameters at all.
async fn ring_end(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    let tier = hook.query_number("tier").ok_or(StatusCode::BAD_REQUEST)?;
    let talked = hook.get("DialBridged") == Some("true") && hook.get("DialCallStatus") == Some("completed");
    let result = if talked { RingResult::Talked } else { RingResult::NobodyPutThrough };
    let waited = hook.query_number("waited").unwrap_or(0);
    Ok(answer(&state, Turn::UnderWay, calls::ring_ended(&state, hook.call_id()?, tier, result, waited)).await)
}

async fn accept(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    let sid = hook.get("CallSid").unwrap_or("");
    let work = calls::volunteer_pressed(&state, hook.call_id()?, sid, hook.get("Digits"));
    Ok(answer(&state, Turn::UnderWay, work).await)
}

async fn voicemail(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    Ok(answer(&state, Turn::UnderWay, calls::voicemail(&state, hook.call_id()?)).await)
}

async fn voicemail_choice(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    let from = hook.get("From").unwrap_or("");
    let work = calls::voicemail_choice(&state, hook.call_id()?, hook.get("Digits"), from);
    Ok(answer(&state, Turn::UnderWay, work).await)
}

async fn voicemail_done(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    Ok(answer(&state, Turn::UnderWay, calls::voicemail_done(&state, hook.call_id()?)).await)
}

fn item_id(hook: &Webhook) -> Result<i64, StatusCode> {
    hook.query_number("item").ok_or(StatusCode::BAD_REQUEST)
}

async fn callback(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    let volunteer = hook.query_number("volunteer");
    Ok(answer(&state, Turn::UnderWay, calls::callback_answered(&state, item_id(&hook)?, volunteer)).await)
}

async fn callback_accept(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    let volunteer = hook.query_number("volunteer");
    let work = calls::callback_accept(&state, item_id(&hook)?, volunteer, hook.get("Digits"));
    Ok(answer(&state, Turn::UnderWay, work).await)
}

async fn callback_done(State(state): State<AppState>, hook: Webhook) -> Result<Response, StatusCode> {
    let sid = hook.get("CallSid").unwrap_or("");
    let connected = hook.get("DialCallStatus") == Some("completed");
    let work = calls::callback_done(&state, item_id(&hook)?, sid, hook.get("DialCallSid"), connected);
    Ok(answer(&state, Turn::UnderWay, work).await)
}

async fn recording(State(state): State<AppState>, hook: Webhook) -> StatusCode {
    let Ok(call_id) = hook.call_id() else { return StatusCode::BAD_REQUEST };
    let sid = hook.get("RecordingSid").unwrap_or("");
    if sid.is_empty() {
        return StatusCode::BAD_REQUEST;
    }
    if !provider_id(sid, &["RE"]) {
        tracing::error!("recording callback failed: a recording callback without a well-formed recording id");
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let completed = hook.get("RecordingStatus").unwrap_or("completed") == "completed";
    match calls::recording_ready(&state, call_id, sid, completed).await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(e) => {
            tracing::error!(error = %e, "recording callback failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

async fn status(State(state): State<AppState>, hook: Webhook) -> StatusCode {
    let sid = hook.get("CallSid").unwrap_or("");
    if !plain_sid(sid) {
        return StatusCode::BAD_REQUEST;
    }
    let call_status = progress(hook.get("CallStatus").unwrap_or(""));
    match calls::status(&state, sid, leg_of(&hook), call_status).await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(e) => {
            tracing::error!(error = %e, "status callback failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

async fn sms(State(state): State<AppState>, hook: Webhook) -> Response {
    let sid = hook.get("MessageSid").unwrap_or("");
    if !provider_id(sid, &["SM", "MM"]) {
        tracing::warn!("a text without a well-formed message id was ignored");
        return render_texts(&state, &Texts::none());
    }
    let count: usize = hook.get("NumMedia").and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    // The attachment ids are the last segments of their URLs; nothing is fetched.
    let media = (0..count.min(10))
        .filter_map(|i| hook.get(&format!("MediaUrl{i}")))
        .filter_map(|url| url.rsplit('/').next().map(str::to_string))
        .filter(|id| plain_sid(id))
        .collect();
    let inbound =
        crate::sms::Inbound { sid, from: hook.get("From").unwrap_or(""), body: hook.get("Body").unwrap_or(""), media };
    let handled = match tokio::time::timeout(DEADLINE, crate::sms::incoming(&state, inbound)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("no answer within the webhook deadline".to_string()),
    };
    match handled {
        Ok(texts) => render_texts(&state, &texts),
        Err(e) => {
            tracing::error!(error = %e, "a text could not be handled");
            render_texts(&state, &Texts::one("quietline could not handle that text just now. Please try again."))
        }
    }
}

async fn sms_status(State(state): State<AppState>, hook: Webhook) -> StatusCode {
    let sid = hook.get("MessageSid").unwrap_or("");
    if plain_sid(sid) {
        crate::sms::status(&state, sid).await;
    }
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_webhooks_parameters_are_wiped() {
        let mut hook = super::Webhook {
            params: vec![("From".into(), "+14155550123".into()), ("Body".into(), "two vans".into())],
            query: vec![],
        };
        let before: Vec<(*const u8, usize)> = hook.params.iter().map(|(_, v)| (v.as_ptr(), v.capacity())).collect();
        hook.wipe();
        assert!(hook.params.iter().all(|(k, v)| k.is_empty() && v.is_empty()));
        // zeroize keeps the allocation and overwrites it in place.
        for ((_, v), (ptr, cap)) in hook.params.iter().zip(before) {
            assert_eq!((v.as_ptr(), v.capacity()), (ptr, cap));
            // SAFETY: the allocation is still owned by `v` (same pointer and capacity).
            let bytes = unsafe { std::slice::from_raw_parts(ptr, cap) };
            assert!(bytes.iter().all(|b| *b == 0), "{bytes:?}");
        }
    }
}
