//! A scripted caller for `quietline simulate call`: it rings a running server the
//! way the provider would (signed webhooks with the configured auth token), follows
//! the TwiML it gets back, checks each answer against the documented verbs, and
//! prints every step. Operators use it to check a deployment and to train
//! volunteers. The volunteers' phones are rung by the provider from the caller's
//! leg (`<Dial>`), and here the simulator is the provider: it reports how many
//! phones the server would ring, rings none, and hangs up after `hold`.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use super::read::{self, Node};
use super::signature;

pub struct Script {
    /// The server's public base URL.
    pub server: String,
    pub auth_token: String,
    pub account_sid: String,
    pub hotline: String,
    pub from: String,
    /// Keys pressed at successive menus; an empty slot lets a menu time out.
    pub digits: VecDeque<Option<String>>,
    /// How long to wait while volunteers would ring before hanging up.
    pub hold: Duration,
}

struct Caller<'a> {
    script: Script,
    sid: String,
    http: reqwest::Client,
    out: &'a mut dyn Write,
}

/// Plays one call; returns an error if the server answered something a provider
/// would refuse (a bad status, malformed or undocumented TwiML, silence).
pub async fn call(script: Script, out: &mut dyn Write) -> Result<(), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut n = [0u8; 16];
    getrandom::fill(&mut n).map_err(|e| e.to_string())?;
    let sid = format!("CA{}", crate::vault::hex(&n));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().map_err(|e| e.to_string())?;
    let mut caller = Caller { script, sid, http, out };
    let first = format!("{}/telephony/voice", caller.script.server);
    let result = caller.follow(first, Vec::new()).await;
    // However it ended, tell the server the call is over so nobody keeps ringing.
    let status_url = format!("{}/telephony/status", caller.script.server);
    let ended = caller.post(&status_url, vec![("CallStatus".into(), "completed".into())]).await;
    caller.say(&format!("call ended{}", if ended.is_ok() { "" } else { " (the server did not take the status)" }));
    result
}

impl Caller<'_> {
    fn say(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
    }

    async fn post(&mut self, url: &str, extra: Vec<(String, String)>) -> Result<String, String> {
        let mut params = vec![
            ("AccountSid".to_string(), self.script.account_sid.clone()),
            ("CallSid".to_string(), self.sid.clone()),
            ("From".to_string(), self.script.from.clone()),
            ("To".to_string(), self.script.hotline.clone()),
            ("Direction".to_string(), "inbound".to_string()),
            ("CallStatus".to_string(), "in-progress".to_string()),
        ];
        for (k, v) in extra {
            params.retain(|(name, _)| *name != k);
            params.push((k, v));
        }
        let sig = signature::sign(self.script.auth_token.as_bytes(), url, &params);
        let response = self
            .http
            .post(url)
            .header(super::SIGNATURE_HEADER, sig)
            .form(&params)
            .send()
            .await
            .map_err(|e| format!("cannot reach the server: {}", e.without_url()))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!(
                "the server answered {status}{}",
                if status == 403 { " (signature refused: check public_url and provider_auth_token)" } else { "" }
            ));
        }
        Ok(body)
    }

    async fn follow(&mut self, url: String, extra: Vec<(String, String)>) -> Result<(), String> {
        let mut next = Some((url, extra));
        while let Some((url, extra)) = next.take() {
            let path = url.strip_prefix(&self.script.server).unwrap_or(&url).to_string();
            self.say(&format!("→ POST {path}"));
            let body = self.post(&url, extra).await?;
            let doc = read::parse(&body).map_err(|e| format!("the server's TwiML would be refused: {e}"))?;
            if read::ends_in_silence(&doc) {
                return Err("the server's answer ends in silence".into());
            }
            next = self.play(&doc).await?;
        }
        Ok(())
    }

    async fn play(&mut self, doc: &Node) -> Result<Option<(String, Vec<(String, String)>)>, String> {
        for verb in &doc.children {
            match verb.name.as_str() {
                "Say" => self.say(&format!("  hears [{}] {}", verb.attr("language").unwrap_or("?"), verb.text)),
                "Pause" | "Play" => {}
                "Gather" => {
                    for say in verb.children.iter().filter(|c| c.name == "Say") {
                        self.say(&format!("  hears [{}] {}", say.attr("language").unwrap_or("?"), say.text));
                    }
                    match self.script.digits.pop_front().flatten() {
                        Some(d) => {
                            self.say(&format!("  presses {d}"));
                            let action = verb.attr("action").unwrap_or_default().to_string();
                            return Ok(Some((action, vec![("Digits".into(), d)])));
                        }
                        None => self.say("  presses nothing"),
                    }
                }
                "Redirect" => return Ok(Some((verb.text.clone(), Vec::new()))),
                "Dial" => return self.ring(verb).await,
                "Record" => {
                    self.say("  would leave a message here (the simulator sends no audio)");
                    let action = verb.attr("action").unwrap_or_default().to_string();
                    return Ok(Some((action, vec![("RecordingDuration".into(), "0".into())])));
                }
                "Hangup" => {
                    self.say("  the server hangs up");
                    return Ok(None);
                }
                other => self.say(&format!("  <{other}>")),
            }
        }
        Ok(None)
    }

    async fn ring(&mut self, verb: &Node) -> Result<Option<(String, Vec<(String, String)>)>, String> {
        let phones = verb.children.iter().filter(|c| c.name == "Number").count();
        self.say(&format!(
            "  the server rings {phones} volunteer phone(s) at once, showing {} (the simulator rings none)",
            verb.attr("callerId").unwrap_or("no caller ID")
        ));
        tokio::time::sleep(self.script.hold).await;
        self.say(&format!("  still holding after {}s; hanging up", self.script.hold.as_secs()));
        Ok(None)
    }
}
