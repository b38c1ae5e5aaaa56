//! The one typed configuration, loaded from defaults, then an optional TOML file,
//! then `QUIETLINE_*` environment variables (each layer overriding the one before).
//!
//! Every setting has one name: `listen` in the file is `QUIETLINE_LISTEN` in the
//! environment; a table `[retention]` with `call = "24h"` is
//! `QUIETLINE_RETENTION_CALL`. Any setting can be read from a file instead by
//! naming the file in `QUIETLINE_<NAME>_FILE`, which is how secrets arrive from
//! systemd credentials. Unknown settings are reported as warnings; a value that
//! does not parse stops start-up with a message naming the setting.
//!
//! Each setting is one entry of [`SETTINGS`] (its name, default, description and
//! how it is applied); the fields it fills are grouped by what they steer.

mod load;
mod settings;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::language::{Language, Speech};
use crate::phone::PhoneNumber;

pub use load::{IpNet, parse_duration, sqlite_url};
pub use settings::{SETTINGS, Setting};

/// Name of the config file looked for in the data directory.
pub const CONFIG_FILE_NAME: &str = "quietline.toml";
/// Prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "QUIETLINE_";
pub const DEFAULT_PROVIDER_API_BASE: &str = "https://api.twilio.com";

pub struct Config {
    /// Directory for the SQLite file, the keystore and the config file; created 0700.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; may carry a password, so kept secret.
    database_url: Option<SecretString>,
    pub listen: SocketAddr,
    /// A second listener for the onion service, where no client address is known.
    pub listen_onion: Option<SocketAddr>,
    /// The base URL the phone provider calls, e.g. `https://hotline.example.org`
    /// (no trailing slash). Webhook signatures are checked against it.
    pub public_url: Option<String>,
    /// Languages the hotline answers in; the first is the default.
    pub languages: Vec<Language>,
    /// The zones incidents may be in; empty means any zone name.
    pub zones: Vec<crate::roster::Zone>,
    /// How long shutdown waits for requests in flight before giving up on them.
    pub shutdown_grace: Duration,
    /// Log filter: `info`, or directives such as `quietline=debug,warn`.
    pub log: String,
    /// The server's age identity, when not kept in the data dir's `server.key`.
    pub server_key: Option<SecretString>,
    pub provider: Provider,
    pub ringing: Ringing,
    pub dispatch: Dispatching,
    pub sms: Texting,
    pub accounts: Accounts,
    pub http: Http,
    pub retention: Retention,
    /// Overrides of spoken texts: `(language, key, text)`.
    text_overrides: Vec<(Language, String, String)>,
}

/// The phone provider's account and the hotline's number.
pub struct Provider {
    pub hotline_number: Option<PhoneNumber>,
    pub account_sid: Option<String>,
    pub auth_token: Option<SecretString>,
    pub api_base: String,
    /// REST-created calls per second the account allows (the provider's default is 1).
    pub call_rate: u32,
}

/// Who is rung, for how long, and who is refused first.
pub struct Ringing {
    /// How long one tier of volunteers rings before the next tier is tried.
    pub timeout: Duration,
    /// How many volunteers of a tier ring at once.
    pub parallel: usize,
    /// Calls from one caller token within 10 minutes before the line refuses more.
    pub caller_rate_limit: u32,
    /// Callers with a withheld number, together, put through within 10 minutes.
    pub withheld_rate_limit: u32,
    /// The longest voicemail recorded.
    pub voicemail_max_length: Duration,
}

/// Paging observers to incidents.
pub struct Dispatching {
    /// How many observers an incident wants (the first to accept are assigned).
    pub observers: u32,
    /// How long paging waits for an accept before widening.
    pub timeout: Duration,
    /// Whether the incident's location goes out in the paging SMS.
    pub location_by_sms: bool,
    /// Incidents still open this long after they were opened are closed.
    pub auto_close: Duration,
}

/// Texts from the public and from volunteers.
pub struct Texting {
    /// Whether public texts are relayed to dispatchers with their content.
    pub relay_content: bool,
    /// Texts from one sender within 10 minutes that are relayed; more are refused.
    pub rate_limit: u32,
    /// Whether commands that act on others (NEW, R) wait for a one-time code.
    pub confirm: bool,
}

/// Enrollment and sign-in.
pub struct Accounts {
    /// How long an enrollment code works.
    pub enrollment_code_lifetime: Duration,
    /// The header a reverse proxy sets to the client's address, believed (for
    /// sign-in limits only) from `trusted_proxies`.
    pub client_ip_header: Option<String>,
    pub trusted_proxies: Vec<IpNet>,
}

/// Connections.
#[derive(Debug, Clone, Copy)]
pub struct Http {
    /// How long a client may take to send a request's head.
    pub header_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections open at once (the idle longest make room for new ones).
    pub max_connections: usize,
}

/// Lifetimes of the data classes of DESIGN.md. There is no "forever": every
/// value is a positive duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Call records, from the end of the call; then folded into daily counts.
    pub call: Duration,
    /// How long caller tokens match: their window key is destroyed after it.
    pub caller_token: Duration,
    /// A caller's number kept for a call back.
    pub callback: Duration,
    /// Voicemail.
    pub voicemail: Duration,
    /// Notes volunteers write (the longest a note may be kept); field notes from
    /// their incident's close.
    pub note: Duration,
    /// Public text intake: from the last text of a thread.
    pub intake: Duration,
    /// Public text intake once a dispatcher marked the thread handled.
    pub intake_handled: Duration,
    /// Incidents and their details, from the close.
    pub incident: Duration,
    /// Audit events.
    pub audit: Duration,
    /// How often the retention sweeper runs.
    pub sweep_interval: Duration,
}

impl Retention {
    /// `(setting, lifetime)` for each class, for the report and the warnings.
    pub fn entries(&self) -> [(&'static str, Duration); 9] {
        [
            ("retention_call", self.call),
            ("retention_caller_token", self.caller_token),
            ("retention_callback", self.callback),
            ("retention_voicemail", self.voicemail),
            ("retention_note", self.note),
            ("retention_intake", self.intake),
            ("retention_intake_handled", self.intake_handled),
            ("retention_incident", self.incident),
            ("retention_audit", self.audit),
        ]
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets and numbers are left out on purpose.
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("provider_api_base", &self.provider.api_base)
            .field("languages", &self.languages)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("log", &self.log)
            .field("caller_token_window", &self.retention.caller_token)
            .finish_non_exhaustive()
    }
}

/// A configuration and the warnings met while loading it (unknown keys and the
/// like), to be logged once logging is set up from that same configuration.
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// A message that names the setting at fault and never repeats a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Defaults only: what runs out of the box (every setting's default applied).
    pub fn defaults() -> Self {
        let mut config = Config {
            data_dir: PathBuf::new(),
            database_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            listen_onion: None,
            public_url: None,
            languages: Vec::new(),
            zones: Vec::new(),
            shutdown_grace: Duration::ZERO,
            log: String::new(),
            server_key: None,
            provider: Provider {
                hotline_number: None,
                account_sid: None,
                auth_token: None,
                api_base: String::new(),
                call_rate: 0,
            },
            ringing: Ringing {
                timeout: Duration::ZERO,
                parallel: 0,
                caller_rate_limit: 0,
                withheld_rate_limit: 0,
                voicemail_max_length: Duration::ZERO,
            },
            dispatch: Dispatching {
                observers: 0,
                timeout: Duration::ZERO,
                location_by_sms: false,
                auto_close: Duration::ZERO,
            },
            sms: Texting { relay_content: false, rate_limit: 0, confirm: false },
            accounts: Accounts {
                enrollment_code_lifetime: Duration::ZERO,
                client_ip_header: None,
                trusted_proxies: Vec::new(),
            },
            http: Http { header_timeout: Duration::ZERO, idle_timeout: Duration::ZERO, max_connections: 0 },
            retention: Retention {
                call: Duration::ZERO,
                caller_token: Duration::ZERO,
                callback: Duration::ZERO,
                voicemail: Duration::ZERO,
                note: Duration::ZERO,
                intake: Duration::ZERO,
                intake_handled: Duration::ZERO,
                incident: Duration::ZERO,
                audit: Duration::ZERO,
                sweep_interval: Duration::ZERO,
            },
            text_overrides: Vec::new(),
        };
        for setting in SETTINGS {
            if let Some(default) = setting.default {
                (setting.apply)(&mut config, default).expect("every default parses");
            }
        }
        config
    }

    /// What the hotline says in `lang`: built-in texts with the config's overrides.
    pub fn speech(&self, lang: &Language) -> Speech {
        let mut speech = Speech::builtin(lang);
        for (l, key, text) in &self.text_overrides {
            if l == lang {
                speech.set(key, text.clone());
            }
        }
        speech
    }

    /// The database URL: the configured one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> SecretString {
        match &self.database_url {
            Some(url) => url.clone(),
            None => SecretString::from(sqlite_url(&self.data_dir.join("quietline.db"))),
        }
    }

    /// A zone an incident may be in: a valid name, and one of `zones` when set.
    pub fn zone(&self, input: &str) -> Result<crate::roster::Zone, String> {
        let zone = crate::roster::Zone::parse(input)?;
        if !self.zones.is_empty() && !self.zones.contains(&zone) {
            let names: Vec<&str> = self.zones.iter().map(|z| z.as_str()).collect();
            return Err(format!("{input:?} is not one of the zones ({})", names.join(", ")));
        }
        Ok(zone)
    }

    /// The default language: the first configured one.
    pub fn default_language(&self) -> &Language {
        &self.languages[0]
    }
}
