//! The provider's REST API (Twilio's 2010-04-01 paths under the configured base):
//! place and steer calls, fetch and delete recordings, send and delete messages.
//! HTTP basic auth with the account SID and auth token.
//!
//! Numbers, SIDs and bodies never reach the log from here; errors carry the HTTP
//! status and the provider's error code only.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::Config;
use crate::outbound::{Carrier, NewCall, Pending, ProviderError};
use crate::states::RecordKind;

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

/// The SID in the provider's answer to a create.
async fn created_sid(response: reqwest::Response) -> Result<String, ProviderError> {
    let created: Created = response.json().await.map_err(|e| ProviderError {
        status: 200,
        code: None,
        message: format!("unreadable answer: {e}"),
    })?;
    Ok(created.sid)
}

fn unreadable(e: reqwest::Error) -> ProviderError {
    ProviderError { status: 200, code: None, message: format!("unreadable answer: {}", e.without_url()) }
}

fn date_of(response: &reqwest::Response) -> Option<std::time::SystemTime> {
    let value = response.headers().get(reqwest::header::DATE)?.to_str().ok()?;
    httpdate::parse_http_date(value).ok()
}

/// Where the provider sends a number's calls and texts: the fields of its
/// incoming-phone-numbers resource that `provider connect` sets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct NumberWebhooks {
    #[serde(default)]
    pub voice_url: Option<String>,
    #[serde(default)]
    pub voice_method: Option<String>,
    #[serde(default)]
    pub status_callback: Option<String>,
    #[serde(default)]
    pub status_callback_method: Option<String>,
    #[serde(default)]
    pub sms_url: Option<String>,
    #[serde(default)]
    pub sms_method: Option<String>,
}

impl NumberWebhooks {
    /// The webhooks of a server whose public base URL is `public`.
    pub fn for_server(public: &str) -> NumberWebhooks {
        let post = || Some("POST".to_string());
        NumberWebhooks {
            voice_url: Some(format!("{public}/telephony/voice")),
            voice_method: post(),
            status_callback: Some(format!("{public}/telephony/status")),
            status_callback_method: post(),
            sms_url: Some(format!("{public}/telephony/sms")),
            sms_method: post(),
        }
    }

    /// `(name, now, wanted)` for each webhook that differs from `wanted`.
    pub fn differences(&self, wanted: &NumberWebhooks) -> Vec<(&'static str, String, String)> {
        let show = |v: &Option<String>| v.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| "(not set)".into());
        let method = |v: &Option<String>| v.as_deref().unwrap_or("POST").to_ascii_uppercase();
        let mut out = Vec::new();
        for (name, now, want, now_m, want_m) in [
            ("voice", &self.voice_url, &wanted.voice_url, &self.voice_method, &wanted.voice_method),
            (
                "status",
                &self.status_callback,
                &wanted.status_callback,
                &self.status_callback_method,
                &wanted.status_callback_method,
            ),
            ("messaging", &self.sms_url, &wanted.sms_url, &self.sms_method, &wanted.sms_method),
        ] {
            if now != want || method(now_m) != method(want_m) {
                out.push((
                    name,
                    format!("{} {}", method(now_m), show(now)),
                    format!("{} {}", method(want_m), show(want)),
                ));
            }
        }
        out
    }
}

/// A number of the account, with its webhooks.
#[derive(Debug, Clone, Deserialize)]
pub struct IncomingNumber {
    /// `PN…`
    pub sid: String,
    /// E.164.
    pub phone_number: String,
    #[serde(flatten)]
    pub webhooks: NumberWebhooks,
    /// A TwiML application the number's calls go to instead of `voice_url`.
    #[serde(default)]
    pub voice_application_sid: Option<String>,
    /// A SIP trunk the number's calls go to instead of `voice_url`.
    #[serde(default)]
    pub trunk_sid: Option<String>,
}

impl IncomingNumber {
    /// What takes the number's calls instead of its voice webhook, if anything.
    pub fn voice_elsewhere(&self) -> Option<&'static str> {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        if set(&self.trunk_sid) {
            Some("a SIP trunk")
        } else if set(&self.voice_application_sid) {
            Some("a TwiML application")
        } else {
            None
        }
    }
}

#[derive(Deserialize)]
struct NumberList {
    incoming_phone_numbers: Vec<IncomingNumber>,
}

/// The account as the provider describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// `Trial` or `Full`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// An answer and the provider's clock (its `Date` header), for the skew check.
pub struct Dated<T> {
    pub value: T,
    pub date: Option<std::time::SystemTime>,
}

#[derive(Clone)]
pub struct Provider {
    http: reqwest::Client,
    base: String,
    account_sid: String,
    auth_token: SecretString,
}

impl Provider {
    /// A client for the configured provider, if the account is configured.
    pub fn from_config(config: &Config) -> Option<Provider> {
        Self::with_timeout(config, Duration::from_secs(15))
    }

    /// A client whose requests give up after `timeout` (checks want an answer soon).
    pub fn with_timeout(config: &Config, timeout: Duration) -> Option<Provider> {
        let account_sid = config.provider.account_sid.clone()?;
        let auth_token = config.provider.auth_token.clone()?;
        // ring is the one TLS provider compiled in; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("quietline/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok()?;
        Some(Provider { http, base: config.provider.api_base.clone(), account_sid, auth_token })
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/2010-04-01/Accounts/{}/{tail}", self.base, self.account_sid)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ProviderError> {
        let response = request
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .send()
            .await
            .map_err(|e| ProviderError { status: 0, code: None, message: e.without_url().to_string() })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body: Option<ErrorBody> = response.json().await.ok();
        Err(ProviderError {
            status,
            code: body.as_ref().and_then(|b| b.code),
            message: body.and_then(|b| b.message).unwrap_or_else(|| "no message".into()),
        })
    }

    /// The account (a read-only request: checks the credentials and the clock).
    pub async fn account(&self) -> Result<Dated<Account>, ProviderError> {
        let url = format!("{}/2010-04-01/Accounts/{}.json", self.base, self.account_sid);
        let response = self.send(self.http.get(url)).await?;
        let date = date_of(&response);
        let value = response.json().await.map_err(unreadable)?;
        Ok(Dated { value, date })
    }

    /// The account's number `e164` with its webhooks, if the account has it. The
    /// provider's filter matches patterns, so the answer is compared exactly here.
    pub async fn find_number(&self, e164: &str) -> Result<Option<IncomingNumber>, ProviderError> {
        let query = serde_urlencoded::to_string([("PhoneNumber", e164)]).unwrap_or_default();
        let request = self.http.get(format!("{}?{query}", self.url("IncomingPhoneNumbers.json")));
        let list: NumberList = self.send(request).await?.json().await.map_err(unreadable)?;
        Ok(list.incoming_phone_numbers.into_iter().find(|n| n.phone_number == e164))
    }

    /// Points a number's voice, status and messaging webhooks at `hooks`, and
    /// takes it off a TwiML application that would take its calls instead.
    pub async fn set_webhooks(&self, number_sid: &str, hooks: &NumberWebhooks) -> Result<(), ProviderError> {
        let field = |v: &Option<String>| v.clone().unwrap_or_default();
        let form = [
            ("VoiceApplicationSid", String::new()),
            ("VoiceUrl", field(&hooks.voice_url)),
            ("VoiceMethod", field(&hooks.voice_method)),
            ("StatusCallback", field(&hooks.status_callback)),
            ("StatusCallbackMethod", field(&hooks.status_callback_method)),
            ("SmsUrl", field(&hooks.sms_url)),
            ("SmsMethod", field(&hooks.sms_method)),
        ];
        let url = self.url(&format!("IncomingPhoneNumbers/{number_sid}.json"));
        self.send(self.http.post(url).form(&form)).await?;
        Ok(())
    }
}

/// The REST requests of the call flow, as Twilio's API takes them.
impl Carrier for Provider {
    fn place_call<'a>(&'a self, call: &'a NewCall<'a>) -> Pending<'a, String> {
        Box::pin(async move {
            let timeout = call.timeout.to_string();
            let form = [
                ("To", call.to),
                ("From", call.from),
                ("Url", call.answered),
                ("Method", "POST"),
                ("StatusCallback", call.status),
                ("StatusCallbackMethod", "POST"),
                ("Timeout", timeout.as_str()),
            ];
            created_sid(self.send(self.http.post(self.url("Calls.json")).form(&form)).await?).await
        })
    }

    fn redirect_call<'a>(&'a self, sid: &'a str, url: &'a str) -> Pending<'a, ()> {
        Box::pin(async move {
            let form = [("Url", url), ("Method", "POST")];
            self.send(self.http.post(self.url(&format!("Calls/{sid}.json"))).form(&form)).await?;
            Ok(())
        })
    }

    /// The download buffer is overwritten once copied; the HTTP library's own
    /// read buffers are out of reach.
    fn fetch_recording<'a>(&'a self, sid: &'a str) -> Pending<'a, zeroize::Zeroizing<Vec<u8>>> {
        Box::pin(async move {
            let response = self.send(self.http.get(self.url(&format!("Recordings/{sid}.wav")))).await?;
            let bytes = response.bytes().await.map_err(|e| ProviderError {
                status: 200,
                code: None,
                message: e.without_url().to_string(),
            })?;
            let audio = zeroize::Zeroizing::new(bytes.to_vec());
            crate::secret::zeroize_body(bytes);
            Ok(audio)
        })
    }

    fn send_text<'a>(&'a self, from: &'a str, to: &'a str, body: &'a str) -> Pending<'a, String> {
        Box::pin(async move {
            let form = [("From", from), ("To", to), ("Body", body)];
            created_sid(self.send(self.http.post(self.url("Messages.json")).form(&form)).await?).await
        })
    }

    fn delete<'a>(&'a self, kind: RecordKind, sid: &'a str) -> Pending<'a, ()> {
        Box::pin(async move {
            let path = match kind {
                RecordKind::Call => format!("Calls/{sid}.json"),
                RecordKind::Recording => format!("Recordings/{sid}.json"),
                RecordKind::Message => format!("Messages/{sid}.json"),
                // `SM…/ME…`: one attachment of a message.
                RecordKind::Media => match sid.split_once('/') {
                    Some((message, media)) => format!("Messages/{message}/Media/{media}.json"),
                    None => return Err(ProviderError { status: 400, code: None, message: "bad media id".into() }),
                },
            };
            match self.send(self.http.delete(self.url(&path))).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_gone() => Ok(()),
                Err(e) => Err(e),
            }
        })
    }
}
