//! A stand-in for the phone provider. It speaks the REST endpoints the server
//! uses (create, update and delete calls; fetch and delete recordings; send and
//! delete messages), signs every webhook it sends the way the provider does, reads
//! every TwiML answer with a real XML parser against the documented verbs, and
//! plays scripted people: callers choosing a language, volunteers who press 1,
//! voicemail boxes that pick up and never press anything, phones nobody answers.
//! Texts arrive as signed SMS webhooks; `<Message>` replies and REST sends become
//! message records, whose deletion the tests check.
//!
//! The provider model, as its documentation describes it:
//! - calls created through the REST API are placed at the account's call rate
//!   (1 per second unless raised), each after the request's round trip (150 ms
//!   here), and queued meanwhile (twilio.com/docs/glossary/cps);
//! - `<Dial>` legs are placed at once, not limited by that rate; a `<Dial>` of
//!   several `<Number>`s rings them all, and the first to pick up has the
//!   others hung up ("the first call to pick up is connected to the current
//!   call and the rest are hung up", twilio.com/docs/voice/twiml/number); its
//!   `<Number url>` TwiML runs on its leg before it is connected, and if that
//!   hangs up the dial ends with nobody connected; after `timeout` with nobody
//!   connected (and nobody still hearing their `url`) the `<Dial>` ends with
//!   `DialCallStatus=no-answer`, and its action
//!   hears `DialCallStatus`, `DialCallSid` and `DialBridged`
//!   (twilio.com/docs/voice/twiml/dial, .../twiml/number); the caller hears
//!   ringback meanwhile;
//! - an account may be limited in concurrent calls: a call beyond the cap fails.
//!
//! Faults on request: REST call creations answered 429 or 5xx, a `<Dial>` that
//! never reports its end.
//!
//! Time is compressed for pauses and recordings (milliseconds); a `<Dial>`
//! timeout runs in real seconds unless `set_dial_second` shortens them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use quietline::telephony::signature;

use super::twiml::{self, Node};

pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
pub const AUTH_TOKEN: &str = "standin-auth-token-0123456789abcdef";
pub const HOTLINE: &str = "+14155550000";

/// How a volunteer's phone behaves when it rings.
#[derive(Debug, Clone, Copy)]
pub enum Person {
    /// Picks up after the delay and presses 1 after another.
    PressesOne { answer_ms: u64, press_ms: u64 },
    /// Picks up, presses 1, and the line drops before the caller is put through.
    DropsAfterPressingOne { answer_ms: u64, press_ms: u64 },
    /// A voicemail box: picks up and never presses anything.
    VoicemailBox { answer_ms: u64 },
    /// Rings until cancelled.
    NeverAnswers,
}

/// What a caller does at each prompt: the digits for successive `<Gather>`s
/// (`None` lets a gather time out).
#[derive(Debug, Clone, Default)]
pub struct CallerScript {
    pub gathers: Vec<Option<&'static str>>,
    /// How long the caller stays bridged before hanging up.
    pub talk_ms: u64,
}

#[derive(Debug, Clone)]
pub struct SimCall {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub inbound: bool,
    pub status: String,
    pub status_callback: Option<String>,
    /// The other leg, once bridged.
    pub bridged_with: Option<String>,
    /// A REST redirect waiting to be followed.
    redirect: Option<String>,
    /// Ended through the REST API.
    ended_by_api: bool,
    /// The caller's leg a `<Dial>` leg belongs to, and which of its dials it was.
    pub parent: Option<(String, u32)>,
    /// When the caller rang in (inbound legs).
    pub placed_at: std::time::Instant,
    /// When this phone started ringing (outbound legs).
    pub rang_at: Option<std::time::Instant>,
}

/// A message record at the provider: inbound texts, TwiML replies and REST sends.
#[derive(Debug, Clone)]
pub struct SimMessage {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub inbound: bool,
}

#[derive(Default)]
struct Sim {
    server: String,
    calls: HashMap<String, SimCall>,
    queues: HashMap<String, VecDeque<String>>,
    people: HashMap<String, Person>,
    recordings: HashMap<String, Vec<u8>>,
    messages: Vec<SimMessage>,
    deleted: Vec<(String, String)>,
    refuse_deletes: u32,
    events: Vec<String>,
    counter: u64,
    twiml_seen: usize,
    /// How long each answered webhook took, for the call-flow benchmark.
    latencies: Vec<Duration>,
    /// Several servers behind one public URL, as a load balancer presents them.
    balance: Option<Balance>,
    /// The account's phone numbers (the incoming-phone-numbers resource).
    numbers: Vec<SimNumber>,
    /// How far the stand-in's clock (its `Date` header) is from the real one.
    clock_skew_secs: i64,
    /// `Trial` or `Full`.
    account_type: Option<&'static str>,
    /// What callers say into voicemail (a stand-in's few bytes unless set).
    voice: Option<Vec<u8>>,
    model: Model,
    /// When the next REST-created call may be placed.
    next_placement: Option<std::time::Instant>,
    /// Statuses the next REST call creations are answered with.
    refuse_calls: VecDeque<u16>,
    /// Dials whose end is never reported (their action is never requested).
    silent_dials: u32,
    /// How many `<Dial>`s each caller's leg has made.
    dials: HashMap<String, u32>,
    /// Calls created through the REST API.
    rest_calls: usize,
    /// The leg that picked up first in each dial (caller's leg, dial number).
    picked_up: HashMap<(String, u32), String>,
}

/// The provider's limits, as its documentation gives them.
#[derive(Clone, Copy)]
struct Model {
    /// REST-created calls per second.
    call_rate: f64,
    /// The round trip of a REST request.
    latency: Duration,
    /// Calls in progress at once, when the account is limited.
    max_concurrent: Option<usize>,
    /// How long a second of a `<Dial>` timeout lasts here.
    dial_second: Duration,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            call_rate: 1.0,
            latency: Duration::from_millis(150),
            max_concurrent: None,
            dial_second: Duration::from_secs(1),
        }
    }
}

/// A number of the account and where it sends calls and texts, as the
/// provider's incoming-phone-numbers resource describes it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SimNumber {
    pub sid: String,
    pub phone_number: String,
    pub voice_url: String,
    pub voice_method: String,
    pub status_callback: String,
    pub status_callback_method: String,
    pub sms_url: String,
    pub sms_method: String,
    pub voice_application_sid: Option<String>,
}

/// Requests for `public` go to the live targets in turn; a target that fails is
/// dropped and the request tried on the next, as a load balancer would.
struct Balance {
    public: String,
    targets: Vec<String>,
    dead: Vec<bool>,
    next: usize,
}

#[derive(Clone)]
pub struct StandIn {
    pub base: String,
    sim: Arc<Mutex<Sim>>,
    http: reqwest::Client,
}

impl StandIn {
    pub async fn start() -> StandIn {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = Arc::new(Mutex::new(Sim::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let standin = StandIn { base, sim, http: reqwest::Client::new() };
        let app = Router::new()
            .route("/2010-04-01/Accounts/{ac}/Calls.json", post(create_call))
            .route("/2010-04-01/Accounts/{ac}/Calls/{sid}", post(update_call).delete(delete_call))
            .route("/2010-04-01/Accounts/{ac}/Recordings/{sid}", get(fetch_recording).delete(delete_recording))
            .route("/2010-04-01/Accounts/{ac}/Messages.json", post(create_message))
            .route("/2010-04-01/Accounts/{ac}/Messages/{sid}", axum::routing::delete(delete_message))
            .route("/2010-04-01/Accounts/{ac}/Messages/{sid}/Media/{me}", axum::routing::delete(delete_media))
            .route("/2010-04-01/Accounts/{file}", get(fetch_account))
            .route("/2010-04-01/Accounts/{ac}/IncomingPhoneNumbers.json", get(list_numbers))
            .route("/2010-04-01/Accounts/{ac}/IncomingPhoneNumbers/{file}", post(update_number))
            .layer(axum::middleware::from_fn_with_state(standin.clone(), dated))
            .with_state(standin.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        standin
    }

    /// Where the server under test listens (its public URL).
    pub fn set_server(&self, url: &str) {
        self.sim.lock().unwrap().server = url.trim_end_matches('/').to_string();
    }

    /// Puts several servers behind the public URL (every one configured with it).
    pub fn balance(&self, public: &str, targets: &[String]) {
        let mut sim = self.sim.lock().unwrap();
        sim.server = public.trim_end_matches('/').to_string();
        sim.balance = Some(Balance {
            public: sim.server.clone(),
            targets: targets.to_vec(),
            dead: vec![false; targets.len()],
            next: 0,
        });
    }

    /// Where to send a request for `url`: a live target's address, or `url` itself.
    fn route(&self, url: &str) -> Option<(usize, String)> {
        let mut sim = self.sim.lock().unwrap();
        let b = sim.balance.as_mut()?;
        let tail = url.strip_prefix(b.public.as_str())?.to_string();
        for _ in 0..b.targets.len() {
            let i = b.next % b.targets.len();
            b.next += 1;
            if !b.dead[i] {
                return Some((i, format!("{}{tail}", b.targets[i])));
            }
        }
        None
    }

    fn balanced(&self) -> bool {
        self.sim.lock().unwrap().balance.is_some()
    }

    /// Tries every target again (one may have been restarted).
    fn revive(&self) {
        if let Some(b) = self.sim.lock().unwrap().balance.as_mut() {
            b.dead.iter_mut().for_each(|d| *d = false);
        }
    }

    fn mark_dead(&self, i: usize) {
        if let Some(b) = self.sim.lock().unwrap().balance.as_mut() {
            b.dead[i] = true;
        }
    }

    /// Gives the account a number, with webhooks pointing wherever `hooks` says.
    pub fn own_number(&self, phone_number: &str, voice_url: &str) -> String {
        let sid = self.next_sid("PN");
        let number = SimNumber {
            sid: sid.clone(),
            phone_number: phone_number.to_string(),
            voice_url: voice_url.to_string(),
            voice_method: "POST".into(),
            sms_method: "POST".into(),
            status_callback_method: "POST".into(),
            ..Default::default()
        };
        self.sim.lock().unwrap().numbers.push(number);
        sid
    }

    pub fn number(&self, phone_number: &str) -> Option<SimNumber> {
        self.sim.lock().unwrap().numbers.iter().find(|n| n.phone_number == phone_number).cloned()
    }

    /// Sets the stand-in's clock this far from the real one (its `Date` header).
    pub fn skew_clock(&self, secs: i64) {
        self.sim.lock().unwrap().clock_skew_secs = secs;
    }

    pub fn set_account_type(&self, kind: &'static str) {
        self.sim.lock().unwrap().account_type = Some(kind);
    }

    /// An account whose call rate was raised: REST calls per second.
    pub fn set_call_rate(&self, per_second: f64) {
        self.sim.lock().unwrap().model.call_rate = per_second;
    }

    /// The round trip of a REST request.
    pub fn set_latency(&self, latency: Duration) {
        self.sim.lock().unwrap().model.latency = latency;
    }

    /// An account limited to `n` calls in progress at once.
    pub fn limit_concurrent_calls(&self, n: usize) {
        self.sim.lock().unwrap().model.max_concurrent = Some(n);
    }

    /// How long a second of a `<Dial>` timeout lasts.
    pub fn set_dial_second(&self, d: Duration) {
        self.sim.lock().unwrap().model.dial_second = d;
    }

    /// The next REST call creations are answered with these statuses (429, 5xx).
    pub fn refuse_next_calls(&self, statuses: &[u16]) {
        self.sim.lock().unwrap().refuse_calls.extend(statuses);
    }

    /// The next `n` dials never report their end: their action is never asked.
    pub fn silence_next_dials(&self, n: u32) {
        self.sim.lock().unwrap().silent_dials += n;
    }

    /// How many calls were created through the REST API.
    pub fn rest_calls_created(&self) -> usize {
        self.sim.lock().unwrap().rest_calls
    }

    /// The audio every voicemail left from now on holds (a real recording).
    pub fn callers_say(&self, audio: Vec<u8>) {
        self.sim.lock().unwrap().voice = Some(audio);
    }

    pub fn person(&self, number: &str, person: Person) {
        self.sim.lock().unwrap().people.insert(number.to_string(), person);
    }

    pub fn refuse_next_deletes(&self, n: u32) {
        self.sim.lock().unwrap().refuse_deletes = n;
    }

    pub fn calls(&self) -> Vec<SimCall> {
        self.sim.lock().unwrap().calls.values().cloned().collect()
    }

    pub fn call(&self, sid: &str) -> Option<SimCall> {
        self.sim.lock().unwrap().calls.get(sid).cloned()
    }

    pub fn events(&self) -> Vec<String> {
        self.sim.lock().unwrap().events.clone()
    }

    /// The round-trip times of the webhooks answered since the last call.
    pub fn take_latencies(&self) -> Vec<Duration> {
        std::mem::take(&mut self.sim.lock().unwrap().latencies)
    }

    pub fn deleted(&self) -> Vec<(String, String)> {
        self.sim.lock().unwrap().deleted.clone()
    }

    /// Messages the server sent through the REST API: `(to, from, body)`.
    pub fn messages(&self) -> Vec<(String, String, String)> {
        self.records().into_iter().filter(|m| !m.inbound).map(|m| (m.to, m.from, m.body)).collect()
    }

    /// Texts sent to `number` so far, from the hotline (REST sends and replies).
    pub fn texts_to(&self, number: &str) -> Vec<String> {
        self.records().into_iter().filter(|m| !m.inbound && m.to == number).map(|m| m.body).collect()
    }

    /// Every message record, inbound and outbound.
    pub fn records(&self) -> Vec<SimMessage> {
        self.sim.lock().unwrap().messages.clone()
    }

    fn record_message(&self, from: &str, to: &str, body: &str, inbound: bool) -> String {
        let sid = self.next_sid("SM");
        let m = SimMessage { sid: sid.clone(), from: from.into(), to: to.into(), body: body.into(), inbound };
        self.sim.lock().unwrap().messages.push(m);
        sid
    }

    /// Someone texts the hotline from `from`. Returns the texts the server answered
    /// with (as `<Message>`s), each of which becomes a message record to the
    /// sender whose status is reported to the message's action URL.
    pub async fn text(&self, from: &str, body: &str) -> Vec<String> {
        let (status, xml) = self.text_with_media(from, body, 0).await;
        assert_eq!(status, 200, "the SMS webhook answered {status}: {xml}");
        self.play_replies(from, &xml).await
    }

    /// Like `text`, with `media` attachments, returning the raw answer.
    pub async fn text_with_media(&self, from: &str, body: &str, media: usize) -> (u16, String) {
        let sid = self.record_message(from, HOTLINE, body, true);
        let server = self.sim.lock().unwrap().server.clone();
        let mut params = vec![
            ("AccountSid".to_string(), ACCOUNT_SID.to_string()),
            ("MessageSid".to_string(), sid.clone()),
            ("SmsSid".to_string(), sid.clone()),
            ("From".to_string(), from.to_string()),
            ("To".to_string(), HOTLINE.to_string()),
            ("Body".to_string(), body.to_string()),
            ("NumMedia".to_string(), media.to_string()),
            ("FromCity".to_string(), "SAN FRANCISCO".to_string()),
        ];
        for i in 0..media {
            let me = self.next_sid("ME");
            params.push((
                format!("MediaUrl{i}"),
                format!("{}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media/{me}", self.base),
            ));
            params.push((format!("MediaContentType{i}"), "image/jpeg".to_string()));
        }
        self.webhook(&format!("{server}/telephony/sms"), &params).await
    }

    /// Plays a messaging answer: each `<Message>` is sent to the sender and its
    /// status reported to its action URL. Returns the texts.
    pub async fn play_replies(&self, to: &str, xml: &str) -> Vec<String> {
        let doc = twiml::parse(xml);
        let mut texts = Vec::new();
        for verb in &doc.children {
            assert_eq!(verb.name, "Message", "a messaging answer holds only <Message>s: {xml}");
            let sid = self.record_message(HOTLINE, to, &verb.text, false);
            texts.push(verb.text.clone());
            let action = verb.attr("action").expect("every reply asks for its status");
            let params = vec![
                ("AccountSid".to_string(), ACCOUNT_SID.to_string()),
                ("MessageSid".to_string(), sid),
                ("MessageStatus".to_string(), "sent".to_string()),
                ("From".to_string(), HOTLINE.to_string()),
                ("To".to_string(), to.to_string()),
            ];
            let (status, body) = self.webhook(action, &params).await;
            assert!(status < 300, "message status callback answered {status}: {body}");
        }
        texts
    }

    pub fn twiml_seen(&self) -> usize {
        self.sim.lock().unwrap().twiml_seen
    }

    fn event(&self, e: String) {
        self.sim.lock().unwrap().events.push(e);
    }

    fn next_sid(&self, prefix: &str) -> String {
        let mut sim = self.sim.lock().unwrap();
        sim.counter += 1;
        format!("{prefix}{:032x}", sim.counter)
    }

    /// Posts a signed webhook and returns status and body. Behind a balance, the
    /// request is signed for the public URL and sent to a live server.
    pub async fn webhook(&self, url: &str, params: &[(String, String)]) -> (u16, String) {
        let sig = signature::sign(AUTH_TOKEN.as_bytes(), url, params);
        let give_up = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (target, address) = match self.route(url) {
                Some((i, address)) => (Some(i), address),
                // Every server behind the balance is down: wait for one to come back.
                None if self.balanced() && std::time::Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    self.revive();
                    continue;
                }
                None => (None, url.to_string()),
            };
            let started = std::time::Instant::now();
            let sent = self.http.post(&address).header("X-Twilio-Signature", &sig).form(params).send().await;
            let result = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response.text().await.map(|body| (status, body))
                }
                Err(e) => Err(e),
            };
            if result.is_ok() {
                self.sim.lock().unwrap().latencies.push(started.elapsed());
            }
            match (result, target) {
                (Ok(answer), _) => return answer,
                // That server is gone: the balancer tries the next.
                (Err(_), Some(i)) => self.mark_dead(i),
                (Err(e), None) => panic!("webhook to {url}: {e}"),
            }
        }
    }

    fn base_params(&self, sid: &str) -> Vec<(String, String)> {
        let call = self.call(sid).expect("known call");
        let status = if call.status == "ringing" { "ringing".to_string() } else { "in-progress".to_string() };
        vec![
            ("AccountSid".into(), ACCOUNT_SID.into()),
            ("CallSid".into(), sid.into()),
            ("From".into(), call.from.clone()),
            ("To".into(), call.to.clone()),
            ("CallStatus".into(), status),
            (
                "Direction".into(),
                match (call.inbound, &call.parent) {
                    (true, _) => "inbound".into(),
                    (false, Some(_)) => "outbound-dial".into(),
                    (false, None) => "outbound-api".into(),
                },
            ),
            ("FromCity".into(), "SAN FRANCISCO".into()),
        ]
    }

    /// A caller rings the hotline from `from`; the call plays out in the
    /// background. Returns the caller leg's SID.
    pub fn place_call(&self, from: &str, script: CallerScript) -> String {
        let sid = self.next_sid("CA");
        let server = self.sim.lock().unwrap().server.clone();
        self.sim.lock().unwrap().calls.insert(
            sid.clone(),
            SimCall {
                sid: sid.clone(),
                from: from.into(),
                to: HOTLINE.into(),
                inbound: true,
                status: "in-progress".into(),
                status_callback: Some(format!("{server}/telephony/status")),
                bridged_with: None,
                redirect: None,
                ended_by_api: false,
                parent: None,
                placed_at: std::time::Instant::now(),
                rang_at: None,
            },
        );
        let me = self.clone();
        let call_sid = sid.clone();
        tokio::spawn(async move {
            let mut script = script;
            me.follow(&call_sid, &format!("{server}/telephony/voice"), vec![], &mut script).await;
            me.finish(&call_sid, "completed").await;
        });
        sid
    }

    /// The caller hangs up, wherever their call is.
    pub async fn hang_up(&self, sid: &str) {
        self.event(format!("{sid} hangs up on the line"));
        self.finish(sid, "completed").await;
    }

    /// Sends a signed webhook with the forged or missing signature cases left to
    /// the caller: here the request carries `signature` as given.
    pub async fn raw_webhook(&self, url: &str, params: &[(String, String)], signature: Option<&str>) -> u16 {
        let mut r = self.http.post(url).form(params);
        if let Some(s) = signature {
            r = r.header("X-Twilio-Signature", s);
        }
        r.send().await.unwrap().status().as_u16()
    }

    /// Requests `url` for the call and plays the TwiML it answers, following
    /// actions and redirects until the call hangs up or ends.
    async fn follow(&self, sid: &str, url: &str, extra: Vec<(String, String)>, script: &mut CallerScript) {
        let mut next: Option<(String, Vec<(String, String)>)> = Some((url.to_string(), extra));
        while let Some((url, extra)) = next.take() {
            if self.ended(sid) {
                return;
            }
            let mut params = self.base_params(sid);
            params.extend(extra);
            let (status, body) = self.webhook(&url, &params).await;
            assert_eq!(status, 200, "{url} answered {status}: {body}");
            let doc = twiml::parse(&body);
            twiml::assert_never_silent(&doc, &body);
            self.sim.lock().unwrap().twiml_seen += 1;
            next = self.play(sid, &doc, script).await;
        }
    }

    fn ended(&self, sid: &str) -> bool {
        self.call(sid)
            .is_none_or(|c| matches!(c.status.as_str(), "completed" | "canceled" | "no-answer" | "failed" | "busy"))
    }

    /// Plays one document; returns the next request to make, if any.
    async fn play(&self, sid: &str, doc: &Node, script: &mut CallerScript) -> Option<(String, Vec<(String, String)>)> {
        for verb in &doc.children {
            match verb.name.as_str() {
                "Say" => self.event(format!("{sid} hears [{}] {}", verb.attr("language").unwrap_or(""), verb.text)),
                "Play" => {}
                // A pause on the caller's own line lasts, compressed as a dial's seconds are.
                "Pause" => {
                    let seconds: u32 = verb.attr("length").and_then(|l| l.parse().ok()).unwrap_or(1);
                    let second = self.sim.lock().unwrap().model.dial_second;
                    tokio::time::sleep(second * seconds).await;
                }
                "Gather" => {
                    for say in &verb.children {
                        self.event(format!("{sid} hears [{}] {}", say.attr("language").unwrap_or(""), say.text));
                    }
                    let digits = if script.gathers.is_empty() { None } else { script.gathers.remove(0) };
                    if let Some(d) = digits {
                        self.event(format!("{sid} presses {d}"));
                        return Some((verb.attr("action").unwrap().to_string(), vec![("Digits".into(), d.into())]));
                    }
                    self.event(format!("{sid} presses nothing"));
                }
                "Redirect" => return Some((verb.text.clone(), vec![])),
                "Hangup" => {
                    self.event(format!("{sid} hangs up"));
                    return None;
                }
                "Enqueue" => return self.wait_in_queue(sid, verb, script).await,
                "Dial" if verb.children.iter().any(|n| n.name == "Number" && n.attr("url").is_some()) => {
                    return self.dial_screened(sid, verb, script).await;
                }
                "Dial" => {
                    let queue = verb.children.iter().find(|c| c.name == "Queue").map(|q| q.text.clone());
                    if let Some(q) = queue {
                        let timeout = verb.attr("timeout").and_then(|t| t.parse().ok()).unwrap_or(30);
                        self.bridge(sid, &q, Duration::from_secs(timeout)).await;
                    }
                    let number = verb.children.iter().find(|c| c.name == "Number").map(|n| n.text.clone());
                    if let Some(n) = number {
                        let dialed = self.dial_number(sid, &n, verb.attr("callerId").unwrap_or("")).await;
                        if let Some(action) = verb.attr("action") {
                            let params = vec![
                                ("DialCallSid".to_string(), dialed),
                                ("DialCallStatus".to_string(), "completed".to_string()),
                            ];
                            return Some((action.to_string(), params));
                        }
                    }
                }
                "Record" => return Some(self.record(sid, verb).await),
                other => panic!("the stand-in does not play <{other}>"),
            }
        }
        None
    }

    async fn wait_in_queue(
        &self,
        sid: &str,
        verb: &Node,
        script: &mut CallerScript,
    ) -> Option<(String, Vec<(String, String)>)> {
        let name = verb.text.clone();
        self.sim.lock().unwrap().queues.entry(name.clone()).or_default().push_back(sid.to_string());
        self.event(format!("{sid} waits in {name}"));
        let wait_url = verb.attr("waitUrl").unwrap().to_string();
        let action = verb.attr("action").unwrap().to_string();
        let mut last_wait = std::time::Instant::now() - Duration::from_secs(1);
        loop {
            if self.ended(sid) {
                return None;
            }
            if let Some(url) = self.take_redirect(sid) {
                self.leave_queue(&name, sid);
                return Some((url, vec![]));
            }
            let bridged = self.call(sid).and_then(|c| c.bridged_with);
            if let Some(other) = bridged {
                // Talk, then hang up: the queue's action hears that it was bridged.
                tokio::time::sleep(Duration::from_millis(script.talk_ms)).await;
                self.event(format!("{sid} talked with {other}"));
                self.finish(&other, "completed").await;
                return Some((action, vec![("QueueResult".into(), "bridged".into())]));
            }
            if last_wait.elapsed() > Duration::from_millis(300) {
                last_wait = std::time::Instant::now();
                let mut params = self.base_params(sid);
                params.push(("QueueSid".into(), "QU0".into()));
                let (status, body) = self.webhook(&wait_url, &params).await;
                assert_eq!(status, 200, "{body}");
                let doc = twiml::parse(&body);
                if doc.children.iter().any(|c| c.name == "Leave") {
                    self.leave_queue(&name, sid);
                    return Some((action, vec![("QueueResult".into(), "leave".into())]));
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn leave_queue(&self, name: &str, sid: &str) {
        if let Some(q) = self.sim.lock().unwrap().queues.get_mut(name) {
            q.retain(|s| s != sid);
        }
    }

    fn take_redirect(&self, sid: &str) -> Option<String> {
        self.sim.lock().unwrap().calls.get_mut(sid).and_then(|c| c.redirect.take())
    }

    /// Calls in progress now (ringing or talking), for the concurrency cap.
    fn in_progress(sim: &Sim) -> usize {
        sim.calls.values().filter(|c| matches!(c.status.as_str(), "queued" | "ringing" | "in-progress")).count()
    }

    /// `<Dial>` of several `<Number url>`s, as documented: every number rings at
    /// once; the first to pick up has the others hung up and hears their `url`'s
    /// TwiML, and is connected if it ends without `<Hangup>`. After `timeout`
    /// with nobody picking up, or when every leg has ended, the dial ends and its
    /// action hears how. The caller hears ringback meanwhile.
    async fn dial_screened(
        &self,
        sid: &str,
        verb: &Node,
        script: &mut CallerScript,
    ) -> Option<(String, Vec<(String, String)>)> {
        let (dial_second, round, silent) = {
            let mut sim = self.sim.lock().unwrap();
            let round = sim.dials.entry(sid.to_string()).or_default();
            *round += 1;
            let round = *round;
            let silent = sim.silent_dials > 0;
            if silent {
                sim.silent_dials -= 1;
            }
            (sim.model.dial_second, round, silent)
        };
        let timeout = verb.attr("timeout").and_then(|t| t.parse::<u32>().ok()).unwrap_or(30);
        let give_up = std::time::Instant::now() + dial_second * timeout;
        let caller_id = verb.attr("callerId").unwrap_or("").to_string();
        let mut legs = Vec::new();
        for number in verb.children.iter().filter(|n| n.name == "Number") {
            let leg = self.next_sid("CA");
            let to = number.text.clone();
            let failed = {
                let mut sim = self.sim.lock().unwrap();
                let over_cap = sim.model.max_concurrent.is_some_and(|cap| Self::in_progress(&sim) >= cap);
                sim.calls.insert(
                    leg.clone(),
                    SimCall {
                        sid: leg.clone(),
                        from: caller_id.clone(),
                        to: to.clone(),
                        inbound: false,
                        status: "ringing".into(),
                        status_callback: number.attr("statusCallback").map(str::to_string),
                        bridged_with: None,
                        redirect: None,
                        ended_by_api: false,
                        parent: Some((sid.to_string(), round)),
                        placed_at: std::time::Instant::now(),
                        rang_at: (!over_cap).then(std::time::Instant::now),
                    },
                );
                over_cap
            };
            if failed {
                self.event(format!("{leg} to {to} failed: the account's concurrent calls are at their cap"));
                self.finish(&leg, "failed").await;
                continue;
            }
            self.event(format!("{leg} rings {to}"));
            let me = self.clone();
            let (leg2, url, caller) = (leg.clone(), number.attr("url").unwrap().to_string(), sid.to_string());
            tokio::spawn(async move { me.dialled_person(leg2, url, caller, round).await });
            legs.push(leg);
        }
        let action = verb.attr("action").map(str::to_string);
        loop {
            if self.ended(sid) {
                self.end_legs(&legs, None).await;
                return None;
            }
            if let Some(url) = self.take_redirect(sid) {
                // A redirect ends the dial; its action is not asked.
                self.end_legs(&legs, None).await;
                return Some((url, vec![]));
            }
            let connected = self.call(sid).and_then(|c| c.bridged_with);
            if let Some(other) = connected {
                // The others are hung up as soon as one is connected.
                self.end_legs(&legs, None).await;
                tokio::time::sleep(Duration::from_millis(script.talk_ms)).await;
                self.event(format!("{sid} talked with {other}"));
                self.finish(&other, "completed").await;
                let params = vec![
                    ("DialCallStatus".to_string(), "completed".to_string()),
                    ("DialCallSid".to_string(), other),
                    ("DialBridged".to_string(), "true".to_string()),
                    ("DialCallDuration".to_string(), "1".to_string()),
                ];
                return self.dial_ended(sid, action, params, silent).await;
            }
            let all_over = legs.iter().all(|l| self.ended(l));
            let picked = self.sim.lock().unwrap().picked_up.contains_key(&(sid.to_string(), round));
            // The timeout is for answering: a callee already hearing their
            // `url`'s TwiML is not cut off by it.
            let screening = legs.iter().any(|l| self.call(l).is_some_and(|c| c.status == "in-progress"));
            let timed_out = std::time::Instant::now() >= give_up && !screening;
            if all_over || timed_out {
                self.end_legs(&legs, Some("no-answer")).await;
                self.event(format!("{sid} dial ended, nobody connected"));
                // Someone picked up and hung up in their `url`'s TwiML: how the
                // provider reports that is not documented; `DialBridged` says it.
                let status = if picked { "completed" } else { "no-answer" };
                let params = vec![
                    ("DialCallStatus".to_string(), status.to_string()),
                    ("DialBridged".to_string(), "false".to_string()),
                ];
                return self.dial_ended(sid, action, params, silent).await;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The dial is over: its action is asked, unless this dial was made never to
    /// report, in which case the caller waits on in silence for a redirect.
    async fn dial_ended(
        &self,
        sid: &str,
        action: Option<String>,
        params: Vec<(String, String)>,
        silent: bool,
    ) -> Option<(String, Vec<(String, String)>)> {
        if !silent {
            return action.map(|a| (a, params));
        }
        self.event(format!("{sid} dial never reports"));
        loop {
            if self.ended(sid) {
                return None;
            }
            if let Some(url) = self.take_redirect(sid) {
                return Some((url, vec![]));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Hangs up the legs of a dial still on the line: `canceled` when another
    /// was connected or the dial was cut short, `no-answer` at its timeout.
    async fn end_legs(&self, legs: &[String], ringing_status: Option<&str>) {
        for leg in legs {
            let Some(call) = self.call(leg) else { continue };
            if call.bridged_with.is_some() {
                continue;
            }
            let status = if call.status == "ringing" { ringing_status.unwrap_or("canceled") } else { "completed" };
            self.finish(leg, status).await;
        }
    }

    /// A callee of a screened `<Dial>`, as their script says: picks up (the
    /// first to do so in the dial has the others hung up, as documented), hears
    /// the `url`'s TwiML, and is connected if it ends without `<Hangup>`.
    async fn dialled_person(&self, leg: String, url: String, caller: String, round: u32) {
        let to = self.call(&leg).unwrap().to;
        let person = self.sim.lock().unwrap().people.get(&to).copied().unwrap_or(Person::NeverAnswers);
        let (answer_ms, press, drops) = match person {
            Person::PressesOne { answer_ms, press_ms } => (answer_ms, Some(press_ms), false),
            Person::DropsAfterPressingOne { answer_ms, press_ms } => (answer_ms, Some(press_ms), true),
            Person::VoicemailBox { answer_ms } => (answer_ms, None, false),
            // Rings until the dial ends it.
            Person::NeverAnswers => return,
        };
        tokio::time::sleep(Duration::from_millis(answer_ms)).await;
        let others: Vec<String> = {
            let mut sim = self.sim.lock().unwrap();
            let ringing = sim.calls.get(&leg).is_some_and(|c| c.status == "ringing");
            let key = (caller.clone(), round);
            if !ringing || sim.picked_up.contains_key(&key) {
                return;
            }
            sim.picked_up.insert(key.clone(), leg.clone());
            sim.calls.get_mut(&leg).unwrap().status = "in-progress".into();
            sim.calls
                .values()
                .filter(|c| c.parent.as_ref() == Some(&key) && c.sid != leg && c.status == "ringing")
                .map(|c| c.sid.clone())
                .collect()
        };
        self.event(format!("{leg} answered by {}", if press.is_some() { "a person" } else { "a voicemail box" }));
        // "The first call to pick up is connected to the current call and the
        // rest are hung up" (twilio.com/docs/voice/twiml/number).
        for other in others {
            self.event(format!("{other} hung up by the provider: {leg} picked up first"));
            self.finish(&other, "canceled").await;
        }
        let mut next = Some((url, Vec::<(String, String)>::new()));
        let mut pressed = false;
        while let Some((url, extra)) = next.take() {
            if self.ended(&leg) {
                return;
            }
            let mut params = self.base_params(&leg);
            params.push(("ParentCallSid".into(), caller.clone()));
            params.extend(extra);
            let (status, body) = self.webhook(&url, &params).await;
            assert_eq!(status, 200, "{url} answered {status}: {body}");
            let doc = twiml::parse(&body);
            self.sim.lock().unwrap().twiml_seen += 1;
            let mut hung_up = false;
            for verb in &doc.children {
                match verb.name.as_str() {
                    "Say" => self.event(format!("{leg} hears [{}] {}", verb.attr("language").unwrap_or(""), verb.text)),
                    "Pause" => {}
                    "Gather" => {
                        for say in &verb.children {
                            self.event(format!("{leg} hears [{}] {}", say.attr("language").unwrap_or(""), say.text));
                        }
                        if let (Some(ms), false) = (press, pressed) {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            pressed = true;
                            self.event(format!("{leg} presses 1"));
                            next =
                                Some((verb.attr("action").unwrap().to_string(), vec![("Digits".into(), "1".into())]));
                            break;
                        }
                        self.event(format!("{leg} presses nothing"));
                    }
                    "Redirect" => {
                        next = Some((verb.text.clone(), vec![]));
                        break;
                    }
                    "Hangup" => {
                        hung_up = true;
                        break;
                    }
                    other => panic!("the stand-in does not play <{other}> on a dialled leg"),
                }
            }
            if next.is_some() {
                continue;
            }
            if hung_up {
                self.event(format!("{leg} hangs up"));
                self.finish(&leg, "completed").await;
                return;
            }
        }
        // The screen ended without <Hangup>: connect, unless someone was first.
        if drops {
            self.event(format!("{leg} drops before the bridge"));
            self.finish(&leg, "completed").await;
            return;
        }
        let connected = {
            let mut sim = self.sim.lock().unwrap();
            let free = sim.calls.get(&caller).is_some_and(|c| c.bridged_with.is_none() && c.status == "in-progress");
            let still_here = sim.calls.get(&leg).is_some_and(|c| c.status == "in-progress");
            if free && still_here {
                sim.calls.get_mut(&caller).unwrap().bridged_with = Some(leg.clone());
                sim.calls.get_mut(&leg).unwrap().bridged_with = Some(caller.clone());
            }
            free && still_here
        };
        if connected {
            self.event(format!("{leg} bridged with {caller}"));
        } else {
            self.event(format!("{leg} hung up by the provider: another was connected first"));
            self.finish(&leg, "completed").await;
        }
    }

    /// `<Dial><Number>`: the callee answers at once, talks briefly and hangs up.
    async fn dial_number(&self, sid: &str, number: &str, caller_id: &str) -> String {
        let dialed = self.next_sid("CA");
        self.sim.lock().unwrap().calls.insert(
            dialed.clone(),
            SimCall {
                sid: dialed.clone(),
                from: caller_id.to_string(),
                to: number.to_string(),
                inbound: false,
                status: "in-progress".into(),
                status_callback: None,
                bridged_with: Some(sid.to_string()),
                redirect: None,
                ended_by_api: false,
                parent: None,
                placed_at: std::time::Instant::now(),
                rang_at: Some(std::time::Instant::now()),
            },
        );
        self.event(format!("{sid} dials {number} showing {caller_id}"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.finish(&dialed, "completed").await;
        dialed
    }

    /// A volunteer's `<Dial><Queue>`: connects them to the first caller waiting.
    /// As the provider documents it, an empty queue is waited on until someone
    /// joins or the `<Dial>` times out.
    async fn bridge(&self, volunteer_sid: &str, queue: &str, timeout: Duration) {
        let give_up = std::time::Instant::now() + timeout;
        let caller = loop {
            let caller = {
                let mut sim = self.sim.lock().unwrap();
                let caller = sim.queues.get_mut(queue).and_then(|q| q.pop_front());
                if let Some(c) = &caller {
                    sim.calls.get_mut(c).unwrap().bridged_with = Some(volunteer_sid.to_string());
                    sim.calls.get_mut(volunteer_sid).unwrap().bridged_with = Some(c.clone());
                }
                caller
            };
            if caller.is_some() || std::time::Instant::now() >= give_up || self.ended(volunteer_sid) {
                break caller;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        match caller {
            Some(c) => {
                self.event(format!("{volunteer_sid} bridged with {c}"));
                // The volunteer stays on until the caller's side ends the talk.
                while !self.ended(volunteer_sid) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            None => self.event(format!("{volunteer_sid} found nobody in {queue}")),
        }
    }

    async fn record(&self, sid: &str, verb: &Node) -> (String, Vec<(String, String)>) {
        let rsid = self.next_sid("RE");
        let voice = self.sim.lock().unwrap().voice.clone();
        let audio = voice.unwrap_or_else(|| format!("RIFF-fake-wav-from-{sid}").into_bytes());
        self.sim.lock().unwrap().recordings.insert(rsid.clone(), audio);
        self.event(format!("{sid} leaves a message {rsid}"));
        let url = format!("{}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{rsid}", self.base);
        let callback = verb.attr("recordingStatusCallback").unwrap().to_string();
        let params = vec![
            ("AccountSid".to_string(), ACCOUNT_SID.to_string()),
            ("CallSid".to_string(), sid.to_string()),
            ("RecordingSid".to_string(), rsid.clone()),
            ("RecordingUrl".to_string(), url.clone()),
            ("RecordingStatus".to_string(), "completed".to_string()),
            ("RecordingDuration".to_string(), "7".to_string()),
        ];
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let (status, body) = me.webhook(&callback, &params).await;
            assert!(status < 300, "recording callback answered {status}: {body}");
            me.event(format!("recording {rsid} delivered"));
        });
        (
            verb.attr("action").unwrap().to_string(),
            vec![("RecordingUrl".into(), url), ("RecordingSid".into(), self.next_sid("RE"))],
        )
    }

    /// Ends a call and sends its status callback.
    async fn finish(&self, sid: &str, status: &str) {
        let callback = {
            let mut sim = self.sim.lock().unwrap();
            let Some(call) = sim.calls.get_mut(sid) else { return };
            if matches!(call.status.as_str(), "completed" | "canceled" | "no-answer" | "failed" | "busy") {
                return;
            }
            call.status = status.to_string();
            call.status_callback.clone()
        };
        self.event(format!("{sid} {status}"));
        if let Some(url) = callback {
            let mut params = self.base_params(sid);
            params.retain(|(k, _)| k != "CallStatus");
            params.push(("CallStatus".into(), status.into()));
            params.push(("CallDuration".into(), "1".into()));
            let (code, body) = self.webhook(&url, &params).await;
            // The provider does not retry a status callback that failed; it notes
            // the failure in its own log. A 4xx is a request we built wrong.
            assert!(!(400..500).contains(&code), "status callback answered {code}: {body}");
            if code >= 500 {
                self.event(format!("{sid} status callback failed with {code}"));
            }
        }
    }

    /// Hears the whisper, presses 1, and hangs up on what the server answers.
    async fn drops_after_pressing_one(&self, sid: &str, answer_url: &str, press_ms: u64) {
        if self.ended(sid) {
            return;
        }
        self.sim.lock().unwrap().calls.get_mut(sid).unwrap().status = "in-progress".into();
        self.event(format!("{sid} answered by a person"));
        let (status, body) = self.webhook(answer_url, &self.base_params(sid)).await;
        assert_eq!(status, 200, "{body}");
        let doc = twiml::parse(&body);
        let action = doc.children.iter().find(|v| v.name == "Gather").and_then(|g| g.attr("action"));
        if let Some(action) = action {
            tokio::time::sleep(Duration::from_millis(press_ms)).await;
            self.event(format!("{sid} presses 1"));
            let mut params = self.base_params(sid);
            params.push(("Digits".into(), "1".into()));
            let (status, body) = self.webhook(action, &params).await;
            assert_eq!(status, 200, "{body}");
            self.event(format!("{sid} drops before the bridge"));
        }
        self.finish(sid, "completed").await;
    }

    /// An outbound call to a volunteer plays out as their script says.
    async fn ring_volunteer(&self, sid: String, answer_url: String, timeout: u64) {
        let to = self.call(&sid).unwrap().to;
        let person = self.sim.lock().unwrap().people.get(&to).copied().unwrap_or(Person::NeverAnswers);
        self.event(format!("{sid} rings {to}"));
        let (answer_ms, press) = match person {
            Person::PressesOne { answer_ms, press_ms } => (answer_ms, Some(press_ms)),
            Person::DropsAfterPressingOne { answer_ms, press_ms } => {
                tokio::time::sleep(Duration::from_millis(answer_ms)).await;
                self.drops_after_pressing_one(&sid, &answer_url, press_ms).await;
                return;
            }
            Person::VoicemailBox { answer_ms } => (answer_ms, None),
            Person::NeverAnswers => {
                let deadline = std::time::Instant::now() + Duration::from_secs(timeout);
                while std::time::Instant::now() < deadline {
                    if self.ended(&sid) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                self.finish(&sid, "no-answer").await;
                return;
            }
        };
        tokio::time::sleep(Duration::from_millis(answer_ms)).await;
        if self.ended(&sid) {
            return;
        }
        self.sim.lock().unwrap().calls.get_mut(&sid).unwrap().status = "in-progress".into();
        self.event(format!("{sid} answered by {}", if press.is_some() { "a person" } else { "a voicemail box" }));
        let mut script = CallerScript { gathers: Vec::new(), talk_ms: 0 };
        if let Some(ms) = press {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            script.gathers.push(Some("1"));
        }
        self.follow(&sid, &answer_url, vec![], &mut script).await;
        self.finish(&sid, "completed").await;
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"));
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Basic {expected}"))
}

fn error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(serde_json::json!({ "code": code, "message": message, "status": status.as_u16() }))).into_response()
}

async fn create_call(
    State(s): State<StandIn>,
    Path(ac): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) || ac != ACCOUNT_SID {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let (Some(to), Some(from), Some(url)) = (form.get("To"), form.get("From"), form.get("Url")) else {
        return error(StatusCode::BAD_REQUEST, 21201, "missing parameter");
    };
    if quietline::phone::PhoneNumber::parse(to).is_err() {
        return error(StatusCode::BAD_REQUEST, 21211, "invalid To number");
    }
    // The request's round trip, then the queue of the account's call rate:
    // beyond it calls wait their turn (they are not refused).
    let (latency, refusal) = {
        let mut sim = s.sim.lock().unwrap();
        (sim.model.latency, sim.refuse_calls.pop_front())
    };
    tokio::time::sleep(latency).await;
    if let Some(status) = refusal {
        let code = if status == 429 { 20429 } else { 20500 };
        s.event(format!("creating a call to {to} answered {status}"));
        return error(StatusCode::from_u16(status).unwrap(), code, "refused on request");
    }
    let sid = s.next_sid("CA");
    let wait = {
        let mut sim = s.sim.lock().unwrap();
        sim.rest_calls += 1;
        let now = std::time::Instant::now();
        let at = sim.next_placement.filter(|t| *t > now).unwrap_or(now);
        sim.next_placement = Some(at + Duration::from_secs_f64(1.0 / sim.model.call_rate));
        at - now
    };
    s.sim.lock().unwrap().calls.insert(
        sid.clone(),
        SimCall {
            sid: sid.clone(),
            from: from.clone(),
            to: to.clone(),
            inbound: false,
            status: "queued".into(),
            status_callback: form.get("StatusCallback").cloned(),
            bridged_with: None,
            redirect: None,
            ended_by_api: false,
            parent: None,
            placed_at: std::time::Instant::now(),
            rang_at: None,
        },
    );
    let timeout = form.get("Timeout").and_then(|t| t.parse().ok()).unwrap_or(30);
    let me = s.clone();
    let (sid2, url) = (sid.clone(), url.clone());
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let over_cap = {
            let mut sim = me.sim.lock().unwrap();
            let cap = sim.model.max_concurrent;
            let over = cap.is_some_and(|cap| StandIn::in_progress(&sim) > cap);
            if let Some(call) = sim.calls.get_mut(&sid2)
                && call.status == "queued"
            {
                call.status = "ringing".into();
                call.rang_at = Some(std::time::Instant::now());
            }
            over
        };
        if over_cap {
            me.event(format!("{sid2} failed: the account's concurrent calls are at their cap"));
            me.finish(&sid2, "failed").await;
            return;
        }
        if !me.ended(&sid2) {
            me.ring_volunteer(sid2, url, timeout).await
        }
    });
    (StatusCode::CREATED, Json(serde_json::json!({ "sid": sid, "status": "queued" }))).into_response()
}

async fn update_call(
    State(s): State<StandIn>,
    Path((ac, file)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) || ac != ACCOUNT_SID {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let latency = s.sim.lock().unwrap().model.latency;
    tokio::time::sleep(latency).await;
    let sid = file.trim_end_matches(".json").to_string();
    if s.call(&sid).is_none() {
        return error(StatusCode::NOT_FOUND, 20404, "not found");
    }
    if let Some(status) = form.get("Status") {
        s.sim.lock().unwrap().calls.get_mut(&sid).unwrap().ended_by_api = true;
        s.event(format!("{sid} ended by the server ({status})"));
        let me = s.clone();
        let status = status.clone();
        tokio::spawn(async move { me.finish(&sid, &status).await });
    } else if let Some(url) = form.get("Url") {
        s.event(format!("{sid} redirected by the server"));
        s.sim.lock().unwrap().calls.get_mut(&sid).unwrap().redirect = Some(url.clone());
    }
    (StatusCode::OK, Json(serde_json::json!({ "sid": file }))).into_response()
}

async fn delete_call(
    State(s): State<StandIn>,
    Path((ac, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    delete_record(&s, &ac, &headers, "call", file.trim_end_matches(".json"))
}

fn delete_record(s: &StandIn, ac: &str, headers: &HeaderMap, kind: &str, sid: &str) -> Response {
    if !authorized(headers) || ac != ACCOUNT_SID {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let mut sim = s.sim.lock().unwrap();
    if kind == "call"
        && let Some(c) = sim.calls.get(sid)
        && !matches!(c.status.as_str(), "completed" | "canceled" | "no-answer")
    {
        return error(StatusCode::BAD_REQUEST, 20009, "Cannot delete a call that is in progress");
    }
    if sim.refuse_deletes > 0 {
        sim.refuse_deletes -= 1;
        return error(StatusCode::BAD_REQUEST, 20009, "The resource is still being processed");
    }
    sim.deleted.push((kind.to_string(), sid.to_string()));
    if kind == "recording" {
        sim.recordings.remove(sid);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn fetch_recording(
    State(s): State<StandIn>,
    Path((ac, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) || ac != ACCOUNT_SID {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let sid = file.trim_end_matches(".wav").trim_end_matches(".mp3");
    match s.sim.lock().unwrap().recordings.get(sid) {
        Some(audio) => ([("content-type", "audio/x-wav")], audio.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, 20404, "not found"),
    }
}

async fn delete_recording(
    State(s): State<StandIn>,
    Path((ac, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    delete_record(&s, &ac, &headers, "recording", file.trim_end_matches(".json"))
}

async fn create_message(
    State(s): State<StandIn>,
    Path(ac): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) || ac != ACCOUNT_SID {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let (Some(to), Some(from), Some(body)) = (form.get("To"), form.get("From"), form.get("Body")) else {
        return error(StatusCode::BAD_REQUEST, 21604, "missing parameter");
    };
    if quietline::phone::PhoneNumber::parse(to).is_err() {
        return error(StatusCode::BAD_REQUEST, 21211, "invalid To number");
    }
    if body.chars().count() > 1600 {
        return error(StatusCode::BAD_REQUEST, 21617, "The concatenated message body exceeds the 1600 character limit");
    }
    let sid = s.record_message(from, to, body, false);
    (StatusCode::CREATED, Json(serde_json::json!({ "sid": sid }))).into_response()
}

async fn delete_message(
    State(s): State<StandIn>,
    Path((ac, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    delete_record(&s, &ac, &headers, "message", file.trim_end_matches(".json"))
}

async fn delete_media(
    State(s): State<StandIn>,
    Path((ac, sid, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    delete_record(&s, &ac, &headers, "media", &format!("{sid}/{}", file.trim_end_matches(".json")))
}

/// Every answer carries the stand-in's clock in its `Date` header, as the
/// provider's do.
async fn dated(State(s): State<StandIn>, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let skew = s.sim.lock().unwrap().clock_skew_secs;
    let now = std::time::SystemTime::now();
    let date =
        if skew >= 0 { now + Duration::from_secs(skew as u64) } else { now - Duration::from_secs(skew.unsigned_abs()) };
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(axum::http::header::DATE, axum::http::HeaderValue::from_str(&httpdate::fmt_http_date(date)).unwrap());
    response
}

async fn fetch_account(State(s): State<StandIn>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let ac = file.trim_end_matches(".json");
    if !authorized(&headers) || ac != ACCOUNT_SID {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let kind = s.sim.lock().unwrap().account_type.unwrap_or("Full");
    // The provider's answer also carries the auth token: the client must not log it.
    Json(serde_json::json!({
        "sid": ACCOUNT_SID, "status": "active", "type": kind, "auth_token": AUTH_TOKEN, "friendly_name": "stand-in"
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct NumberFilter {
    #[serde(rename = "PhoneNumber")]
    phone_number: Option<String>,
}

/// The list, filtered as the provider filters: `PhoneNumber` is a pattern, so
/// a part of a number matches.
async fn list_numbers(
    State(s): State<StandIn>,
    Path(ac): Path<String>,
    headers: HeaderMap,
    axum::extract::Query(filter): axum::extract::Query<NumberFilter>,
) -> Response {
    if !authorized(&headers) || ac != ACCOUNT_SID {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let numbers: Vec<SimNumber> = s
        .sim
        .lock()
        .unwrap()
        .numbers
        .iter()
        .filter(|n| filter.phone_number.as_deref().is_none_or(|p| n.phone_number.contains(p.trim_start_matches('+'))))
        .cloned()
        .collect();
    Json(serde_json::json!({
        "incoming_phone_numbers": numbers, "page": 0, "page_size": 50, "start": 0, "end": numbers.len(),
        "next_page_uri": null, "previous_page_uri": null
    }))
    .into_response()
}

async fn update_number(
    State(s): State<StandIn>,
    Path((ac, file)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) || ac != ACCOUNT_SID {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let sid = file.trim_end_matches(".json");
    let mut sim = s.sim.lock().unwrap();
    let Some(n) = sim.numbers.iter_mut().find(|n| n.sid == sid) else {
        return error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found");
    };
    for (key, value) in &form {
        match key.as_str() {
            "VoiceUrl" => n.voice_url = value.clone(),
            "VoiceMethod" => n.voice_method = value.clone(),
            "StatusCallback" => n.status_callback = value.clone(),
            "StatusCallbackMethod" => n.status_callback_method = value.clone(),
            "SmsUrl" => n.sms_url = value.clone(),
            "SmsMethod" => n.sms_method = value.clone(),
            "VoiceApplicationSid" => n.voice_application_sid = Some(value.clone()).filter(|v| !v.is_empty()),
            _ => return error(StatusCode::BAD_REQUEST, 21201, "unknown parameter"),
        }
    }
    Json(serde_json::to_value(&*n).unwrap()).into_response()
}
