//! Reading the layers (defaults, the TOML file, the environment) and the
//! parsers every setting's value goes through.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{CONFIG_FILE_NAME, Config, ConfigError, ENV_PREFIX, Loaded, SETTINGS};
use crate::language::{Language, SPEECH_KEYS};

/// Environment variables under this prefix belong to the test harness, not the server.
const TEST_ENV_PREFIX: &str = "QUIETLINE_TEST_";

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
        warnings.extend(config.warnings());
        Ok(Loaded { config, warnings })
    }

    /// What is allowed but worth saying: plain http, lifetimes for drills only,
    /// languages without texts.
    fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(url) = &self.public_url
            && url.starts_with("http://")
        {
            warnings.push(
                "public_url is http, not https: provider webhooks will cross the network unencrypted".to_string(),
            );
        }
        let short: Vec<&str> =
            self.retention.entries().into_iter().filter(|(_, d)| d.as_secs() < 3600).map(|(name, _)| name).collect();
        if !short.is_empty() {
            warnings.push(format!("lifetimes under one hour (for tests and drills only): {}", short.join(", ")));
        }
        for lang in &self.languages {
            let builtin = matches!(lang.as_str(), "en" | "es");
            if !builtin && !self.text_overrides.iter().any(|(l, _, _)| l == lang) {
                warnings.push(format!(
                    "language {lang} has no built-in texts and none in [texts.{lang}]: callers will hear English"
                ));
            }
        }
        warnings
    }

    fn apply(
        &mut self,
        key: &str,
        value: &str,
        source: Source<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        let result = match SETTINGS.iter().find(|s| s.name == key) {
            Some(setting) => (setting.apply)(self, value),
            None if key.starts_with("texts_") => self.set_text(&key["texts_".len()..], value),
            None => {
                warnings.push(format!("unknown setting {} ignored", source.name(key)));
                return Ok(());
            }
        };
        // The parsers of secret settings (database_url, provider_auth_token) never
        // echo the value, so the reason is safe to show.
        result.map_err(|reason| ConfigError(format!("invalid value for {}: {reason}", source.name(key))))
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

    /// Sets the database URL (kept secret: it may hold a password).
    pub(super) fn set_database_url(&mut self, url: String) {
        self.database_url = Some(secrecy::SecretString::from(url));
    }
}

/// Gathers `QUIETLINE_*` variables into `key -> (variable name, value)`, reading
/// `_FILE` variants from their files.
fn collect_env(
    env: impl IntoIterator<Item = (String, String)>,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, (String, String)>, ConfigError> {
    let known = |key: &str| SETTINGS.iter().any(|s| s.name == key);
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

pub(super) fn non_empty(value: &str) -> Result<&str, String> {
    let v = value.trim();
    if v.is_empty() { Err("it is empty".to_string()) } else { Ok(v) }
}

pub(super) fn parse_database_url(value: &str) -> Result<String, String> {
    let v = value.trim();
    // The value may hold a password: describe the problem, never echo it.
    if v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://") {
        Ok(v.to_string())
    } else {
        Err("it must start with sqlite:// or postgres://".to_string())
    }
}

pub(super) fn parse_base_url(value: &str) -> Result<String, String> {
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

pub(super) fn parse_networks(value: &str) -> Result<Vec<IpNet>, String> {
    value.split(',').map(str::trim).filter(|p| !p.is_empty()).map(IpNet::parse).collect()
}

pub(super) fn parse_header_name(value: &str) -> Result<String, String> {
    let v = value.trim().to_ascii_lowercase();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("{value:?} is not a header name such as X-Forwarded-For"));
    }
    Ok(v)
}

pub(super) fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!("{value:?} is neither true nor false")),
    }
}

pub(super) fn parse_zones(value: &str) -> Result<Vec<crate::roster::Zone>, String> {
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

pub(super) fn parse_count(value: &str, min: u32, max: u32) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{value:?} is not a whole number from {min} to {max}")),
    }
}

pub(super) const MINUTE: Duration = Duration::from_secs(60);
pub(super) const DAY: Duration = Duration::from_secs(86_400);
/// The longest lifetime of any data class: a year.
pub const MAX_LIFETIME: Duration = Duration::from_secs(366 * 86_400);

/// A duration from `min` to `max`: every duration setting has bounds, so no sum
/// or product of them can overflow or mean "forever".
pub(super) fn bounded(value: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let d = parse_duration(value)?;
    if d < min || d > max {
        return Err(format!("{value:?} is out of range: from {}s to {}s", min.as_secs(), max.as_secs()));
    }
    Ok(d)
}

/// A data class's lifetime: at most [`MAX_LIFETIME`].
pub(super) fn lifetime(value: &str) -> Result<Duration, String> {
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
