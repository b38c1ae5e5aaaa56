//! The one typed configuration, loaded from defaults, then an optional TOML file,
//! then `QUIETLINE_*` environment variables (each layer overriding the one before).
//!
//! Every setting has one name: `listen` in the file is `QUIETLINE_LISTEN` in the
//! environment; a table `[retention]` with `call = "24h"` is
//! `QUIETLINE_RETENTION_CALL`. Any setting can be read from a file instead by
//! naming the file in `QUIETLINE_<NAME>_FILE`, which is how secrets arrive from
//! systemd credentials. Unknown settings are reported as warnings; a value that
//! does not parse stops start-up with a message naming the setting.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::language::{self, Language, SPEECH_KEYS, Speech};
use crate::phone::PhoneNumber;

/// Name of the config file looked for in the data directory.
pub const CONFIG_FILE_NAME: &str = "quietline.toml";
/// Prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "QUIETLINE_";
/// Environment variables under this prefix belong to the test harness, not the server.
const TEST_ENV_PREFIX: &str = "QUIETLINE_TEST_";

pub const DEFAULT_PROVIDER_API_BASE: &str = "https://api.twilio.com";

pub struct Config {
    /// Directory for the SQLite file, the keystore and the config file; created 0700.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; may carry a password, so kept secret.
    database_url: Option<SecretString>,
    pub listen: SocketAddr,
    /// The base URL the phone provider calls, e.g. `https://hotline.example.org`
    /// (no trailing slash). Webhook signatures are checked against it.
    pub public_url: Option<String>,
    pub hotline_number: Option<PhoneNumber>,
    pub provider_account_sid: Option<String>,
    pub provider_auth_token: Option<SecretString>,
    pub provider_api_base: String,
    /// REST-created calls per second the provider account allows (its default is 1).
    pub provider_call_rate: u32,
    /// Languages the hotline answers in; the first is the default.
    pub languages: Vec<Language>,
    /// How long shutdown waits for requests in flight before giving up on them.
    pub shutdown_grace: Duration,
    /// Log filter: `info`, or directives such as `quietline=debug,warn`.
    pub log: String,
    /// The server's age identity, when not kept in the data dir's `server.key`.
    pub server_key: Option<SecretString>,
    /// How long caller tokens match: their window key is destroyed after it.
    pub caller_token_window: Duration,
    /// How long one tier of volunteers rings before the next tier is tried.
    pub ring_timeout: Duration,
    /// How many volunteers of a tier ring at once.
    pub ring_parallel: usize,
    /// Calls from one caller token within 10 minutes before the line refuses more.
    pub caller_rate_limit: u32,
    /// The longest voicemail recorded.
    pub voicemail_max_length: Duration,
    /// How long each data class is kept.
    pub retention: Retention,
    /// The zones incidents may be in; empty means any zone name.
    pub zones: Vec<crate::roster::Zone>,
    /// How many observers an incident wants (the first to accept are assigned).
    pub dispatch_observers: u32,
    /// How long paging waits for an accept before widening.
    pub dispatch_timeout: Duration,
    /// Whether the incident's location goes out in the paging SMS.
    pub dispatch_location_by_sms: bool,
    /// Whether public texts are relayed to dispatchers with their content.
    pub relay_content: bool,
    /// Incidents still open this long after they were opened are closed.
    pub incident_auto_close: Duration,
    /// How long an enrollment code works.
    pub enrollment_code_lifetime: Duration,
    /// How often the retention sweeper runs.
    pub sweep_interval: Duration,
    /// The header a reverse proxy on this machine sets to the client's address,
    /// read (for sign-in limits only) when the connection comes from loopback.
    pub client_ip_header: Option<String>,
    /// Texts from one sender within 10 minutes that are relayed; more are refused.
    pub text_rate_limit: u32,
    /// Callers with a withheld or anonymous number, all together, put through
    /// within 10 minutes (after they pressed the challenge key).
    pub withheld_rate_limit: u32,
    /// Whether SMS commands that act on others (NEW, R) wait for the one-time
    /// code sent back to the volunteer's number.
    pub sms_confirm: bool,
    /// Addresses of reverse proxies whose `client_ip_header` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// A second listener for the onion service, where no client address is known.
    pub listen_onion: Option<SocketAddr>,
    /// How long a client may take to send a request's head.
    pub http_header_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request.
    pub http_idle_timeout: Duration,
    /// Connections open at once (the idle longest make room for new ones).
    pub http_max_connections: usize,
    /// Overrides of spoken texts: `(language, key, text)`.
    text_overrides: Vec<(Language, String, String)>,
}

/// Lifetimes of the data classes of DESIGN.md that exist so far. There is no
/// "forever": every value is a positive duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Call records, from the end of the call; then folded into daily counts.
    pub call: Duration,
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
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            call: Duration::from_secs(86_400),
            callback: Duration::from_secs(86_400),
            voicemail: Duration::from_secs(72 * 3600),
            note: Duration::from_secs(30 * 86_400),
            intake: Duration::from_secs(72 * 3600),
            intake_handled: Duration::from_secs(86_400),
            incident: Duration::from_secs(7 * 86_400),
            audit: Duration::from_secs(30 * 86_400),
        }
    }
}

impl Retention {
    /// `(setting, lifetime)` for each class, for the report and the warnings.
    pub fn entries(&self) -> [(&'static str, Duration); 8] {
        [
            ("retention_call", self.call),
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
            .field("provider_api_base", &self.provider_api_base)
            .field("languages", &self.languages)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("log", &self.log)
            .field("caller_token_window", &self.caller_token_window)
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

/// Every setting, with a one-line description, in the order the README lists them.
pub const SETTINGS: &[(&str, &str)] = &[
    ("data_dir", "directory for the database file, keystore and config (default ./quietline-data)"),
    ("database_url", "sqlite://… or postgres://… (default: SQLite file quietline.db in the data dir)"),
    ("listen", "address and port to listen on (default 127.0.0.1:8080)"),
    ("public_url", "https base URL the phone provider calls, e.g. https://hotline.example.org"),
    ("hotline_number", "the hotline's phone number in E.164, e.g. +14155550100"),
    ("provider_account_sid", "phone provider account id (AC…)"),
    ("provider_auth_token", "phone provider auth token; signs webhooks (secret)"),
    ("provider_api_base", "phone provider REST API base (default https://api.twilio.com)"),
    (
        "provider_call_rate",
        "REST-created calls per second the provider account allows (default 1, the provider's default)",
    ),
    ("languages", "languages answered, first is default (default en; e.g. en,es)"),
    ("shutdown_grace", "how long shutdown waits for requests in flight (default 30s)"),
    ("log", "log filter (default info); turning up other crates may log sensitive data"),
    ("server_key", "the server's age identity (default: server.key in the data dir, created on first start)"),
    ("caller_token_window", "how long caller tokens link calls from one number (default 24h, at most 7d)"),
    ("ring_timeout", "how long one tier of volunteers rings before the next (default 30s)"),
    ("ring_parallel", "how many volunteers of a tier ring at once (default 5)"),
    ("caller_rate_limit", "calls from one caller within 10 minutes before the line refuses more (default 5)"),
    ("voicemail_max_length", "the longest voicemail recorded (default 120s)"),
    ("retention_call", "how long call records are kept after the call, then folded into daily counts (default 24h)"),
    ("retention_caller_token", "the same as caller_token_window: how long caller tokens link calls (default 24h)"),
    ("retention_callback", "how long a caller's number is kept for a call back (default 24h)"),
    ("retention_voicemail", "how long voicemail is kept (default 72h)"),
    ("retention_note", "how long a note is kept; field notes from their incident's close (default 30d)"),
    ("retention_intake", "how long public text intake is kept after a thread's last text (default 72h)"),
    ("retention_intake_handled", "how long an intake thread is kept once marked handled (default 24h)"),
    ("retention_incident", "how long an incident and its details are kept after it closes (default 7d)"),
    ("retention_audit", "how long audit events are kept (default 30d)"),
    ("zones", "zones incidents may be in, e.g. north,south (default: any zone name)"),
    ("dispatch_observers", "how many observers an incident wants; the first to accept go (default 2)"),
    ("dispatch_timeout", "how long paging waits for an accept before paging every zone, then dispatchers (default 5m)"),
    ("dispatch_location_by_sms", "whether the paging SMS carries the incident's location (default true)"),
    (
        "relay_content",
        "whether public texts reach dispatchers with their content, or as a content-free alert (default true)",
    ),
    ("incident_auto_close", "incidents still open this long after opening are closed by the sweeper (default 7d)"),
    ("enrollment_code_lifetime", "how long a volunteer's one-time enrollment code works (default 24h)"),
    (
        "client_ip_header",
        "header a reverse proxy on this machine sets to the client address, e.g. X-Forwarded-For; used only for sign-in limits (default none)",
    ),
    ("sweep_interval", "how often the retention sweeper runs (default 60s, at most 1h)"),
    ("text_rate_limit", "texts from one sender within 10 minutes that are relayed (default 10)"),
    (
        "withheld_rate_limit",
        "callers with a withheld number, all together, put through within 10 minutes after the challenge (default 10)",
    ),
    ("sms_confirm", "whether SMS commands that act on others (NEW, R) wait for a one-time code (default true)"),
    (
        "trusted_proxies",
        "addresses of reverse proxies whose client_ip_header is believed (default 127.0.0.1/32,::1/128)",
    ),
    ("listen_onion", "a second listener for the onion service; no client address is known there (default none)"),
    ("http_header_timeout", "how long a client may take to send a request's head (default 10s)"),
    ("http_idle_timeout", "how long a keep-alive connection may wait for its next request (default 60s)"),
    ("http_max_connections", "connections open at once; the idle longest make room for new ones (default 512)"),
];

/// Where a value came from, for error messages.
enum Source<'a> {
    File(&'a Path),
    Env(&'a str),
}

impl Source<'_> {
    fn name(&self, key: &str) -> String {
        match self {
            Source::File(path) => format!("`{key}` in {}", path.display()),
            Source::Env(var) => (*var).to_string(),
        }
    }
}

impl Config {
    /// Defaults only: what runs out of the box.
    pub fn defaults() -> Self {
        Config {
            data_dir: PathBuf::from("quietline-data"),
            database_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            hotline_number: None,
            provider_account_sid: None,
            provider_auth_token: None,
            provider_api_base: DEFAULT_PROVIDER_API_BASE.to_string(),
            provider_call_rate: 1,
            languages: vec![Language::parse("en").expect("built-in language code")],
            shutdown_grace: Duration::from_secs(30),
            log: "info".to_string(),
            server_key: None,
            caller_token_window: Duration::from_secs(86_400),
            ring_timeout: Duration::from_secs(30),
            ring_parallel: 5,
            caller_rate_limit: 5,
            voicemail_max_length: Duration::from_secs(120),
            retention: Retention::default(),
            zones: Vec::new(),
            dispatch_observers: 2,
            dispatch_timeout: Duration::from_secs(300),
            dispatch_location_by_sms: true,
            relay_content: true,
            incident_auto_close: Duration::from_secs(7 * 86_400),
            enrollment_code_lifetime: Duration::from_secs(86_400),
            sweep_interval: Duration::from_secs(60),
            client_ip_header: None,
            text_rate_limit: 10,
            withheld_rate_limit: 10,
            sms_confirm: true,
            trusted_proxies: vec![
                IpNet::parse("127.0.0.1/32").expect("loopback"),
                IpNet::parse("::1/128").expect("loopback"),
            ],
            listen_onion: None,
            http_header_timeout: Duration::from_secs(10),
            http_idle_timeout: Duration::from_secs(60),
            http_max_connections: 512,
            text_overrides: Vec::new(),
        }
    }

    /// Loads from the process environment and `file` (or the data dir's
    /// `quietline.toml` when `file` is `None`).
    pub fn load(file: Option<&Path>) -> Result<Loaded, ConfigError> {
        let env = std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::load_from(file, env)
    }

    /// Loads from the given environment instead of the process's, so that tests
    /// need not change global state.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let mut config = Config::defaults();
        let mut warnings = Vec::new();
        let env = collect_env(env, &mut warnings)?;

        // The data dir decides where the default config file is, so it is looked
        // up in the environment before the file is read.
        let data_dir_for_file = match env.get("data_dir") {
            Some((_, value)) => PathBuf::from(value),
            None => config.data_dir.clone(),
        };
        let (file_path, explicit) = match file {
            Some(path) => (path.to_path_buf(), true),
            None => (data_dir_for_file.join(CONFIG_FILE_NAME), false),
        };
        match std::fs::read_to_string(&file_path) {
            Ok(text) => {
                let pairs = flatten_toml(&text, &file_path)?;
                for (key, value) in pairs {
                    config.apply(&key, &value, Source::File(&file_path), &mut warnings)?;
                }
            }
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConfigError(format!("cannot read config file {}: {e}", file_path.display())));
            }
        }

        for (key, (var, value)) in &env {
            config.apply(key, value, Source::Env(var), &mut warnings)?;
        }

        config.data_dir = std::path::absolute(&config.data_dir)
            .map_err(|e| ConfigError(format!("data_dir {}: {e}", config.data_dir.display())))?;
        if let Some(url) = &config.public_url
            && url.starts_with("http://")
        {
            warnings.push(
                "public_url is http, not https: provider webhooks will cross the network unencrypted".to_string(),
            );
        }
        let short: Vec<&str> = config
            .retention
            .entries()
            .into_iter()
            .chain([("retention_caller_token", config.caller_token_window)])
            .filter(|(_, d)| d.as_secs() < 3600)
            .map(|(name, _)| name)
            .collect();
        if !short.is_empty() {
            warnings.push(format!("lifetimes under one hour (for tests and drills only): {}", short.join(", ")));
        }
        for lang in &config.languages {
            let builtin = matches!(lang.as_str(), "en" | "es");
            if !builtin && !config.text_overrides.iter().any(|(l, _, _)| l == lang) {
                warnings.push(format!(
                    "language {lang} has no built-in texts and none in [texts.{lang}]: callers will hear English"
                ));
            }
        }
        Ok(Loaded { config, warnings })
    }

    fn apply(
        &mut self,
        key: &str,
        value: &str,
        source: Source<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        let result = match key {
            "data_dir" => non_empty(value).map(|v| self.data_dir = PathBuf::from(v)),
            "database_url" => parse_database_url(value).map(|v| self.database_url = Some(SecretString::from(v))),
            "listen" => value
                .trim()
                .parse()
                .map(|v| self.listen = v)
                .map_err(|_| format!("{value:?} is not an address and port such as 127.0.0.1:8080")),
            "public_url" => parse_base_url(value).map(|v| self.public_url = Some(v)),
            "hotline_number" => {
                PhoneNumber::parse(value).map(|v| self.hotline_number = Some(v)).map_err(|e| e.to_string())
            }
            "provider_account_sid" => non_empty(value).map(|v| self.provider_account_sid = Some(v.to_string())),
            "provider_auth_token" => {
                non_empty(value).map(|v| self.provider_auth_token = Some(SecretString::from(v.to_string())))
            }
            "provider_api_base" => parse_base_url(value).map(|v| self.provider_api_base = v),
            "provider_call_rate" => parse_count(value, 1, 1000).map(|v| self.provider_call_rate = v),
            "languages" => language::parse_list(value).map(|v| self.languages = v),
            "shutdown_grace" => bounded(value, Duration::from_secs(1), 10 * MINUTE).map(|v| self.shutdown_grace = v),
            "log" => crate::logging::parse_filter(value).map(|_| self.log = value.trim().to_string()),
            "server_key" => non_empty(value).map(|v| self.server_key = Some(SecretString::from(v.to_string()))),
            "caller_token_window" => self.apply_caller_window(value),
            "ring_timeout" => bounded(value, Duration::from_secs(1), 10 * MINUTE).map(|v| self.ring_timeout = v),
            "ring_parallel" => parse_count(value, 1, 50).map(|v| self.ring_parallel = v as usize),
            "caller_rate_limit" => parse_count(value, 1, 1000).map(|v| self.caller_rate_limit = v),
            "voicemail_max_length" => parse_duration(value).and_then(|d| {
                if d.as_secs() > 3600 {
                    Err("at most 3600s".to_string())
                } else {
                    self.voicemail_max_length = d;
                    Ok(())
                }
            }),
            "retention_call" => lifetime(value).map(|d| self.retention.call = d),
            "retention_caller_token" => self.apply_caller_window(value),
            "retention_callback" => lifetime(value).map(|d| self.retention.callback = d),
            "retention_voicemail" => lifetime(value).map(|d| self.retention.voicemail = d),
            "retention_note" => lifetime(value).map(|d| self.retention.note = d),
            "retention_intake" => lifetime(value).map(|d| self.retention.intake = d),
            "retention_intake_handled" => lifetime(value).map(|d| self.retention.intake_handled = d),
            "retention_incident" => lifetime(value).map(|d| self.retention.incident = d),
            "retention_audit" => lifetime(value).map(|d| self.retention.audit = d),
            "zones" => parse_zones(value).map(|v| self.zones = v),
            "dispatch_observers" => parse_count(value, 1, 20).map(|v| self.dispatch_observers = v),
            "dispatch_timeout" => bounded(value, Duration::from_secs(1), DAY).map(|v| self.dispatch_timeout = v),
            "dispatch_location_by_sms" => parse_bool(value).map(|v| self.dispatch_location_by_sms = v),
            "relay_content" => parse_bool(value).map(|v| self.relay_content = v),
            "incident_auto_close" => {
                bounded(value, Duration::from_secs(1), 90 * DAY).map(|v| self.incident_auto_close = v)
            }
            "enrollment_code_lifetime" => {
                bounded(value, Duration::from_secs(1), 30 * DAY).map(|v| self.enrollment_code_lifetime = v)
            }
            "sweep_interval" => parse_duration(value).and_then(|d| {
                if d.as_secs() > 3600 {
                    Err("at most 1h: expired content must not wait longer to go".to_string())
                } else {
                    self.sweep_interval = d;
                    Ok(())
                }
            }),
            "client_ip_header" => parse_header_name(value).map(|v| self.client_ip_header = Some(v)),
            "text_rate_limit" => parse_count(value, 1, 1000).map(|v| self.text_rate_limit = v),
            "withheld_rate_limit" => parse_count(value, 1, 1000).map(|v| self.withheld_rate_limit = v),
            "sms_confirm" => parse_bool(value).map(|v| self.sms_confirm = v),
            "trusted_proxies" => parse_networks(value).map(|v| self.trusted_proxies = v),
            "listen_onion" => value
                .trim()
                .parse()
                .map(|v| self.listen_onion = Some(v))
                .map_err(|_| format!("{value:?} is not an address and port such as 127.0.0.1:8081")),
            "http_header_timeout" => {
                bounded(value, Duration::from_secs(1), 5 * MINUTE).map(|v| self.http_header_timeout = v)
            }
            "http_idle_timeout" => {
                bounded(value, Duration::from_secs(1), 60 * MINUTE).map(|v| self.http_idle_timeout = v)
            }
            "http_max_connections" => parse_count(value, 16, 100_000).map(|v| self.http_max_connections = v as usize),
            _ if key.starts_with("texts_") => self.set_text(&key["texts_".len()..], value),
            _ => {
                warnings.push(format!("unknown setting {} ignored", source.name(key)));
                return Ok(());
            }
        };
        // The parsers of secret settings (database_url, provider_auth_token) never
        // echo the value, so the reason is safe to show.
        result.map_err(|reason| ConfigError(format!("invalid value for {}: {reason}", source.name(key))))
    }

    fn apply_caller_window(&mut self, value: &str) -> Result<(), String> {
        let d = parse_duration(value)?;
        if d > crate::vault::MAX_CALLER_WINDOW {
            return Err(format!("{value:?} is longer than 7d: caller tokens may link calls for a week at most"));
        }
        self.caller_token_window = d;
        Ok(())
    }

    /// `texts_<language>_<key>`, e.g. `[texts.ht] hold = "…"`.
    fn set_text(&mut self, rest: &str, value: &str) -> Result<(), String> {
        let (lang, key) = rest.split_once('_').ok_or("write it as [texts.<language>] <key> = \"…\"")?;
        let lang = Language::parse(lang)?;
        if !SPEECH_KEYS.contains(&key) {
            return Err(format!("unknown text {key:?}; texts are {}", SPEECH_KEYS.join(", ")));
        }
        let text = non_empty(value)?.to_string();
        self.text_overrides.push((lang, key.to_string(), text));
        Ok(())
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

/// Gathers `QUIETLINE_*` variables into `key -> (variable name, value)`, reading
/// `_FILE` variants from their files.
fn collect_env(
    env: impl IntoIterator<Item = (String, String)>,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, (String, String)>, ConfigError> {
    let known = |key: &str| SETTINGS.iter().any(|(k, _)| *k == key);
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut vars: Vec<(String, String)> =
        env.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX) && !k.starts_with(TEST_ENV_PREFIX)).collect();
    vars.sort();
    for (var, value) in vars {
        let name = var[ENV_PREFIX.len()..].to_ascii_lowercase();
        let (key, value) = match name.strip_suffix("_file") {
            Some(base) if known(base) => {
                let text = std::fs::read_to_string(value.trim())
                    .map_err(|e| ConfigError(format!("cannot read {var} ({}): {e}", value.trim())))?;
                // Files written by editors and `echo` end in a newline; a secret never does.
                let text = text.strip_suffix('\n').unwrap_or(&text);
                let text = text.strip_suffix('\r').unwrap_or(text);
                (base.to_string(), text.to_string())
            }
            _ => (name, value),
        };
        if let Some((other, _)) = out.get(&key) {
            return Err(ConfigError(format!("{other} and {var} are both set; keep one")));
        }
        if !known(&key) {
            warnings.push(format!("unknown setting {var} ignored"));
            continue;
        }
        out.insert(key, (var, value));
    }
    Ok(out)
}

/// Turns a TOML document into `key -> text` pairs, nested tables joined with `_`.
fn flatten_toml(text: &str, path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        // toml's own Display draws a multi-line caret diagram; one line is kinder.
        let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1).unwrap_or(1);
        ConfigError(format!("config file {} is not valid TOML (line {line}): {}", path.display(), e.message().trim()))
    })?;
    let mut out = Vec::new();
    flatten_into(&table, "", path, &mut out)?;
    Ok(out)
}

fn flatten_into(
    table: &toml::Table,
    prefix: &str,
    path: &Path,
    out: &mut Vec<(String, String)>,
) -> Result<(), ConfigError> {
    for (name, value) in table {
        let key = format!("{prefix}{name}");
        let text = match value {
            toml::Value::Table(inner) => {
                flatten_into(inner, &format!("{key}_"), path, out)?;
                continue;
            }
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => parts.push(s.clone()),
                        _ => {
                            return Err(ConfigError(format!(
                                "invalid value for `{key}` in {}: a list may hold only strings",
                                path.display()
                            )));
                        }
                    }
                }
                parts.join(",")
            }
            _ => {
                return Err(ConfigError(format!(
                    "invalid value for `{key}` in {}: write it as a string",
                    path.display()
                )));
            }
        };
        out.push((key, text));
    }
    Ok(())
}

fn non_empty(value: &str) -> Result<&str, String> {
    let v = value.trim();
    if v.is_empty() { Err("it is empty".to_string()) } else { Ok(v) }
}

fn parse_database_url(value: &str) -> Result<String, String> {
    let v = value.trim();
    // The value may hold a password: describe the problem, never echo it.
    if v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://") {
        Ok(v.to_string())
    } else {
        Err("it must start with sqlite:// or postgres://".to_string())
    }
}

fn parse_base_url(value: &str) -> Result<String, String> {
    let v = value.trim().trim_end_matches('/');
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(|| format!("{value:?} must start with https:// (or http:// for local tests)"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(format!("{value:?} is not a base URL such as https://hotline.example.org"));
    }
    Ok(v.to_string())
}

/// An address or network: `127.0.0.1`, `10.0.0.0/8`, `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let bad = || format!("{text:?} is not an address or network such as 10.0.0.2 or 10.0.0.0/24");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let addr: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let bits = |ip: std::net::IpAddr| -> (u128, u8) {
            match ip {
                std::net::IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
                std::net::IpAddr::V6(a) => match a.to_ipv4_mapped() {
                    Some(v4) => (u128::from(u32::from(v4)), 32),
                    None => (u128::from(a), 128),
                },
            }
        };
        let (net, width) = bits(self.addr);
        let (candidate, candidate_width) = bits(ip);
        if width != candidate_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        shift >= 128 || (net >> shift) == (candidate >> shift)
    }
}

fn parse_networks(value: &str) -> Result<Vec<IpNet>, String> {
    value.split(',').map(str::trim).filter(|p| !p.is_empty()).map(IpNet::parse).collect()
}

fn parse_header_name(value: &str) -> Result<String, String> {
    let v = value.trim().to_ascii_lowercase();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("{value:?} is not a header name such as X-Forwarded-For"));
    }
    Ok(v)
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!("{value:?} is neither true nor false")),
    }
}

fn parse_zones(value: &str) -> Result<Vec<crate::roster::Zone>, String> {
    let mut zones: Vec<crate::roster::Zone> = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let zone = crate::roster::Zone::parse(part)?;
        if zones.contains(&zone) {
            return Err(format!("zone {part:?} is listed twice"));
        }
        zones.push(zone);
    }
    Ok(zones)
}

fn parse_count(value: &str, min: u32, max: u32) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{value:?} is not a whole number from {min} to {max}")),
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);
/// The longest lifetime of any data class: a year.
pub const MAX_LIFETIME: Duration = Duration::from_secs(366 * 86_400);

/// A duration from `min` to `max`: every duration setting has bounds, so no sum
/// or product of them can overflow or mean "forever".
fn bounded(value: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let d = parse_duration(value)?;
    if d < min || d > max {
        return Err(format!("{value:?} is out of range: from {}s to {}s", min.as_secs(), max.as_secs()));
    }
    Ok(d)
}

/// A data class's lifetime: at most [`MAX_LIFETIME`].
fn lifetime(value: &str) -> Result<Duration, String> {
    bounded(value, Duration::from_secs(1), MAX_LIFETIME)
}

/// Parses `90s`, `15m`, `24h`, `7d`. Zero is refused: nothing here means "never".
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{value:?} is not a duration such as 90s, 15m, 24h or 7d"))?;
    let seconds = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => {
            return Err(format!("{value:?} needs a unit: s, m, h or d (e.g. 90s, 24h, 7d)"));
        }
    };
    match seconds {
        Some(0) => Err(format!("{value:?} is zero")),
        Some(s) => Ok(Duration::from_secs(s)),
        None => Err(format!("{value:?} is too long")),
    }
}

/// A SQLite URL for a file path, with the path percent-encoded where a URL needs it
/// and `mode=rwc` so the file is created on first start.
pub fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b' ' | b'"' | b'#' | b'<' | b'>' | b'?' | b'`' | b'{' | b'}' | b'%' | 0..=0x1f | 0x7f.. => {
                url.push_str(&format!("%{b:02X}"))
            }
            _ => url.push(*b as char),
        }
    }
    url.push_str("?mode=rwc");
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        // An empty dir as data dir so that no stray quietline.toml is read.
        let dir = tempfile::tempdir().unwrap();
        let mut all = env(pairs);
        if !pairs.iter().any(|(k, _)| *k == "QUIETLINE_DATA_DIR") {
            all.push(("QUIETLINE_DATA_DIR".into(), dir.path().display().to_string()));
        }
        Config::load_from(None, all)
    }

    #[test]
    fn defaults_run_out_of_the_box() {
        let loaded = load(&[]).unwrap();
        let c = loaded.config;
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.languages[0].as_str(), "en");
        assert_eq!(c.provider_api_base, DEFAULT_PROVIDER_API_BASE);
        assert!(c.database_url().expose_secret().starts_with("sqlite:///"));
        assert!(c.database_url().expose_secret().ends_with("/quietline.db?mode=rwc"));
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nlanguages = [\"en\", \"es\"]\nshutdown_grace = \"5s\"\n")
            .unwrap();
        let c = Config::load_from(
            Some(&file),
            env(&[("QUIETLINE_LISTEN", "127.0.0.1:9100"), ("QUIETLINE_DATA_DIR", "/tmp/x")]),
        )
        .unwrap()
        .config;
        assert_eq!(c.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.languages.len(), 2);
        assert_eq!(c.shutdown_grace, Duration::from_secs(5));
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn config_file_in_data_dir_is_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE_NAME), "hotline_number = \"+14155550100\"\n").unwrap();
        let c = Config::load_from(None, env(&[("QUIETLINE_DATA_DIR", dir.path().to_str().unwrap())])).unwrap().config;
        assert_eq!(c.hotline_number.unwrap().as_str(), "+14155550100");
    }

    #[test]
    fn secrets_come_from_files_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cret-token\n").unwrap();
        let c = load(&[("QUIETLINE_PROVIDER_AUTH_TOKEN_FILE", token.to_str().unwrap())]).unwrap().config;
        assert_eq!(c.provider_auth_token.unwrap().expose_secret(), "s3cret-token");
    }

    #[test]
    fn both_a_value_and_its_file_is_an_error() {
        let err =
            load(&[("QUIETLINE_PROVIDER_AUTH_TOKEN", "a"), ("QUIETLINE_PROVIDER_AUTH_TOKEN_FILE", "/nonexistent")])
                .err()
                .unwrap();
        assert!(err.0.contains("QUIETLINE_PROVIDER_AUTH_TOKEN"), "{err}");
    }

    #[test]
    fn unknown_keys_warn_and_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "lisen = \"x\"\n[retention]\nfoo = \"1h\"\n").unwrap();
        let loaded = Config::load_from(
            Some(&file),
            env(&[("QUIETLINE_COLOUR", "blue"), ("QUIETLINE_TEST_DATABASE_URL", "postgres://x")]),
        )
        .unwrap();
        let w = loaded.warnings.join("\n");
        assert!(w.contains("`lisen`"), "{w}");
        assert!(w.contains("`retention_foo`"), "{w}");
        assert!(w.contains("QUIETLINE_COLOUR"), "{w}");
        assert!(!w.contains("QUIETLINE_TEST_"), "test harness variables are not the server's: {w}");
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let cases = [
            ("QUIETLINE_LISTEN", "localhost", "QUIETLINE_LISTEN"),
            ("QUIETLINE_LANGUAGES", "english", "QUIETLINE_LANGUAGES"),
            ("QUIETLINE_HOTLINE_NUMBER", "555-0100", "QUIETLINE_HOTLINE_NUMBER"),
            ("QUIETLINE_SHUTDOWN_GRACE", "30", "QUIETLINE_SHUTDOWN_GRACE"),
            ("QUIETLINE_SHUTDOWN_GRACE", "0s", "QUIETLINE_SHUTDOWN_GRACE"),
            ("QUIETLINE_PUBLIC_URL", "hotline.example.org", "QUIETLINE_PUBLIC_URL"),
            ("QUIETLINE_LOG", "quietline=loud", "QUIETLINE_LOG"),
            ("QUIETLINE_CALLER_TOKEN_WINDOW", "8d", "QUIETLINE_CALLER_TOKEN_WINDOW"),
        ];
        for (var, value, named) in cases {
            let err = load(&[(var, value)]).err().unwrap_or_else(|| panic!("{var}={value} accepted"));
            assert!(err.0.contains(named), "{err}");
        }
    }

    #[test]
    fn secret_values_are_not_echoed_in_errors() {
        let err = load(&[("QUIETLINE_DATABASE_URL", "mysql://user:hunter2@db/x")]).err().unwrap();
        assert!(err.0.contains("QUIETLINE_DATABASE_URL"));
        assert!(!err.0.contains("hunter2"), "{err}");
    }

    #[test]
    fn unreadable_explicit_config_file_is_an_error() {
        let err = Config::load_from(Some(Path::new("/nonexistent/q.toml")), env(&[])).err().unwrap();
        assert!(err.0.contains("/nonexistent/q.toml"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "listen = \n").unwrap();
        let err = Config::load_from(Some(&file), env(&[])).err().unwrap();
        assert!(err.0.contains("not valid TOML"), "{err}");
    }

    #[test]
    fn spoken_texts_are_built_in_and_overridable_per_language() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(
            &file,
            "languages = [\"en\", \"ht\"]\n[texts.ht]\nvoice = \"fr-FR\"\nhold = \"Tanpri rete sou liy la.\"\n\
             [texts.en]\ngoodbye = \"Take care.\"\n",
        )
        .unwrap();
        let loaded = Config::load_from(Some(&file), env(&[])).unwrap();
        let c = &loaded.config;
        let ht = c.speech(&Language::parse("ht").unwrap());
        assert_eq!((ht.voice.as_str(), ht.hold.as_str()), ("fr-FR", "Tanpri rete sou liy la."));
        assert_eq!(ht.goodbye, "Thank you. Goodbye.", "what is not overridden falls back to English");
        assert_eq!(c.speech(&Language::parse("en").unwrap()).goodbye, "Take care.");
        assert_eq!(c.speech(&Language::parse("es").unwrap()).voice, "es-US");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

        std::fs::write(&file, "[texts.ht]\nholdd = \"x\"\n").unwrap();
        let err = Config::load_from(Some(&file), env(&[])).err().unwrap();
        assert!(err.0.contains("texts_ht_holdd") && err.0.contains("unknown text"), "{err}");
        let warned = load(&[("QUIETLINE_LANGUAGES", "en,so")]).unwrap();
        assert!(
            warned.warnings.iter().any(|w| w.contains("language so has no built-in texts")),
            "{:?}",
            warned.warnings
        );
    }

    #[test]
    fn lifetimes_are_configurable_never_zero_and_short_ones_warn() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "[retention]\ncall = \"30s\"\nnote = \"7d\"\ncaller_token = \"2d\"\n").unwrap();
        let loaded = Config::load_from(Some(&file), env(&[])).unwrap();
        assert_eq!(loaded.config.retention.call, Duration::from_secs(30));
        assert_eq!(loaded.config.retention.note, Duration::from_secs(7 * 86_400));
        assert_eq!(loaded.config.caller_token_window, Duration::from_secs(2 * 86_400));
        assert!(loaded.warnings.iter().any(|w| w.contains("under one hour") && w.contains("retention_call")));
        let err = load(&[("QUIETLINE_RETENTION_VOICEMAIL", "0h")]).err().unwrap();
        assert!(err.0.contains("QUIETLINE_RETENTION_VOICEMAIL") && err.0.contains("zero"), "{err}");
        let err = load(&[("QUIETLINE_RETENTION_NOTE", "forever")]).err().unwrap();
        assert!(err.0.contains("QUIETLINE_RETENTION_NOTE"), "{err}");
    }

    #[test]
    fn every_duration_has_bounds_so_none_can_overflow() {
        // A dispatch timeout of centuries once panicked when doubled.
        for (var, value) in [
            ("QUIETLINE_DISPATCH_TIMEOUT", "99999999999d"),
            ("QUIETLINE_DISPATCH_TIMEOUT", "2d"),
            ("QUIETLINE_RING_TIMEOUT", "11m"),
            ("QUIETLINE_RETENTION_NOTE", "400d"),
            ("QUIETLINE_INCIDENT_AUTO_CLOSE", "91d"),
            ("QUIETLINE_SHUTDOWN_GRACE", "1h"),
            ("QUIETLINE_HTTP_HEADER_TIMEOUT", "6m"),
        ] {
            let err = load(&[(var, value)]).err().unwrap_or_else(|| panic!("{var}={value} accepted"));
            assert!(err.0.contains(var) && err.0.contains("out of range"), "{err}");
        }
        let c = load(&[("QUIETLINE_DISPATCH_TIMEOUT", "1d")]).unwrap().config;
        assert_eq!(c.dispatch_timeout, Duration::from_secs(86_400));
    }

    #[test]
    fn trusted_proxies_are_addresses_and_networks() {
        let c = load(&[("QUIETLINE_TRUSTED_PROXIES", "10.0.0.0/24, ::1, 172.31.0.2")]).unwrap().config;
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(c.trusted_proxies.iter().any(|n| n.contains(ip("10.0.0.77"))));
        assert!(!c.trusted_proxies.iter().any(|n| n.contains(ip("10.0.1.1"))));
        assert!(c.trusted_proxies.iter().any(|n| n.contains(ip("::1"))));
        assert!(c.trusted_proxies.iter().any(|n| n.contains(ip("::ffff:172.31.0.2"))), "IPv4 seen through IPv6");
        let default = load(&[]).unwrap().config;
        assert!(default.trusted_proxies.iter().any(|n| n.contains(ip("127.0.0.1"))));
        assert!(!default.trusted_proxies.iter().any(|n| n.contains(ip("127.0.0.2"))));
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "example.org", "10.0.0/8", "::1/129"] {
            assert!(load(&[("QUIETLINE_TRUSTED_PROXIES", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        for bad in ["", "7", "d", "1w", "-1h", "1.5h", "0d", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn readme_documents_every_setting() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        for (key, _) in SETTINGS {
            let var = format!("`{ENV_PREFIX}{}`", key.to_ascii_uppercase());
            assert!(readme.contains(&var), "README lacks {var}");
            assert!(readme.contains(&format!("`{key}`")), "README lacks `{key}`");
        }
    }

    #[test]
    fn sqlite_urls_escape_awkward_paths() {
        assert_eq!(sqlite_url(Path::new("/srv/q/quietline.db")), "sqlite:///srv/q/quietline.db?mode=rwc");
        assert_eq!(sqlite_url(Path::new("/a b/#?.db")), "sqlite:///a%20b/%23%3F.db?mode=rwc");
    }
}
