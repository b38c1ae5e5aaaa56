//! Every setting, once: its name (file key, and `QUIETLINE_<NAME>` in the
//! environment), its default, what it means, and how its value lands in the
//! config. The README's table lists the same names; a test holds them together.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::Config;
use super::load::{
    DAY, MINUTE, bounded, lifetime, non_empty, parse_base_url, parse_bool, parse_count, parse_database_url,
    parse_duration, parse_header_name, parse_networks, parse_zones,
};
use crate::language;
use crate::phone::PhoneNumber;

/// One setting.
pub struct Setting {
    pub name: &'static str,
    /// Applied before the file and the environment; `None`: unset.
    pub default: Option<&'static str>,
    pub description: &'static str,
    pub apply: fn(&mut Config, &str) -> Result<(), String>,
}

const fn setting(
    name: &'static str,
    default: Option<&'static str>,
    description: &'static str,
    apply: fn(&mut Config, &str) -> Result<(), String>,
) -> Setting {
    Setting { name, default, description, apply }
}

fn caller_window(value: &str) -> Result<Duration, String> {
    let d = parse_duration(value)?;
    if d > crate::vault::MAX_CALLER_WINDOW {
        return Err(format!("{value:?} is longer than 7d: caller tokens may link calls for a week at most"));
    }
    Ok(d)
}

fn address(value: &str, example: &str) -> Result<std::net::SocketAddr, String> {
    value.trim().parse().map_err(|_| format!("{value:?} is not an address and port such as {example}"))
}

/// Every setting, in the order the README lists them.
pub const SETTINGS: &[Setting] = &[
    setting("data_dir", Some("quietline-data"), "directory for the database file, keystore and config", |c, v| {
        c.data_dir = PathBuf::from(non_empty(v)?);
        Ok(())
    }),
    setting(
        "database_url",
        None,
        "sqlite://… or postgres://… (default: SQLite file quietline.db in the data dir)",
        |c, v| {
            c.set_database_url(parse_database_url(v)?);
            Ok(())
        },
    ),
    setting("listen", Some("127.0.0.1:8080"), "address and port to listen on", |c, v| {
        c.listen = address(v, "127.0.0.1:8080")?;
        Ok(())
    }),
    setting("public_url", None, "https base URL the phone provider calls, e.g. https://hotline.example.org", |c, v| {
        c.public_url = Some(parse_base_url(v)?);
        Ok(())
    }),
    setting("hotline_number", None, "the hotline's phone number in E.164, e.g. +14155550100", |c, v| {
        c.provider.hotline_number = Some(PhoneNumber::parse(v).map_err(|e| e.to_string())?);
        Ok(())
    }),
    setting("provider_account_sid", None, "phone provider account id (AC…)", |c, v| {
        c.provider.account_sid = Some(non_empty(v)?.to_string());
        Ok(())
    }),
    setting("provider_auth_token", None, "phone provider auth token; signs webhooks (secret)", |c, v| {
        c.provider.auth_token = Some(SecretString::from(non_empty(v)?.to_string()));
        Ok(())
    }),
    setting("provider_api_base", Some(super::DEFAULT_PROVIDER_API_BASE), "phone provider REST API base", |c, v| {
        c.provider.api_base = parse_base_url(v)?;
        Ok(())
    }),
    setting(
        "provider_call_rate",
        Some("1"),
        "REST-created calls per second the provider account allows (the provider's default is 1)",
        |c, v| {
            c.provider.call_rate = parse_count(v, 1, 1000)?;
            Ok(())
        },
    ),
    setting("languages", Some("en"), "languages answered, first is default (e.g. en,es)", |c, v| {
        c.languages = language::parse_list(v)?;
        Ok(())
    }),
    setting("shutdown_grace", Some("30s"), "how long shutdown waits for requests in flight", |c, v| {
        c.shutdown_grace = bounded(v, Duration::from_secs(1), 10 * MINUTE)?;
        Ok(())
    }),
    setting("log", Some("info"), "log filter; turning up other crates may log sensitive data", |c, v| {
        crate::logging::parse_filter(v)?;
        c.log = v.trim().to_string();
        Ok(())
    }),
    setting(
        "server_key",
        None,
        "the server's age identity (default: server.key in the data dir, created on first start)",
        |c, v| {
            c.server_key = Some(SecretString::from(non_empty(v)?.to_string()));
            Ok(())
        },
    ),
    setting(
        "caller_token_window",
        Some("24h"),
        "how long caller tokens link calls from one number (at most 7d)",
        |c, v| {
            c.retention.caller_token = caller_window(v)?;
            Ok(())
        },
    ),
    setting("ring_timeout", Some("30s"), "how long one tier of volunteers rings before the next", |c, v| {
        c.ringing.timeout = bounded(v, Duration::from_secs(1), 10 * MINUTE)?;
        Ok(())
    }),
    setting(
        "ring_parallel",
        Some("5"),
        "how many volunteers of a tier ring at once (the provider dials at most ten at once: more ring as ten)",
        |c, v| {
            c.ringing.parallel = parse_count(v, 1, 50)? as usize;
            Ok(())
        },
    ),
    setting(
        "caller_rate_limit",
        Some("5"),
        "calls from one caller within 10 minutes before the line refuses more",
        |c, v| {
            c.ringing.caller_rate_limit = parse_count(v, 1, 1000)?;
            Ok(())
        },
    ),
    setting("voicemail_max_length", Some("120s"), "the longest voicemail recorded", |c, v| {
        c.ringing.voicemail_max_length = bounded(v, Duration::from_secs(1), 60 * MINUTE)?;
        Ok(())
    }),
    setting(
        "retention_call",
        Some("24h"),
        "how long call records are kept after the call, then folded into daily counts",
        |c, v| {
            c.retention.call = lifetime(v)?;
            Ok(())
        },
    ),
    setting(
        "retention_caller_token",
        Some("24h"),
        "the same as caller_token_window: how long caller tokens link calls",
        |c, v| {
            c.retention.caller_token = caller_window(v)?;
            Ok(())
        },
    ),
    setting("retention_callback", Some("24h"), "how long a caller's number is kept for a call back", |c, v| {
        c.retention.callback = lifetime(v)?;
        Ok(())
    }),
    setting("retention_voicemail", Some("72h"), "how long voicemail is kept", |c, v| {
        c.retention.voicemail = lifetime(v)?;
        Ok(())
    }),
    setting(
        "retention_note",
        Some("30d"),
        "how long a note is kept; field notes from their incident's close",
        |c, v| {
            c.retention.note = lifetime(v)?;
            Ok(())
        },
    ),
    setting(
        "retention_intake",
        Some("72h"),
        "how long public text intake is kept after a thread's last text",
        |c, v| {
            c.retention.intake = lifetime(v)?;
            Ok(())
        },
    ),
    setting(
        "retention_intake_handled",
        Some("24h"),
        "how long an intake thread is kept once marked handled",
        |c, v| {
            c.retention.intake_handled = lifetime(v)?;
            Ok(())
        },
    ),
    setting(
        "retention_incident",
        Some("7d"),
        "how long an incident and its details are kept after it closes",
        |c, v| {
            c.retention.incident = lifetime(v)?;
            Ok(())
        },
    ),
    setting("retention_audit", Some("30d"), "how long audit events are kept", |c, v| {
        c.retention.audit = lifetime(v)?;
        Ok(())
    }),
    setting("zones", None, "zones incidents may be in, e.g. north,south (default: any zone name)", |c, v| {
        c.zones = parse_zones(v)?;
        Ok(())
    }),
    setting("dispatch_observers", Some("2"), "how many observers an incident wants; the first to accept go", |c, v| {
        c.dispatch.observers = parse_count(v, 1, 20)?;
        Ok(())
    }),
    setting(
        "dispatch_timeout",
        Some("5m"),
        "how long paging waits for an accept before paging every zone, then dispatchers",
        |c, v| {
            c.dispatch.timeout = bounded(v, Duration::from_secs(1), DAY)?;
            Ok(())
        },
    ),
    setting(
        "dispatch_location_by_sms",
        Some("true"),
        "whether the paging SMS carries the incident's location",
        |c, v| {
            c.dispatch.location_by_sms = parse_bool(v)?;
            Ok(())
        },
    ),
    setting(
        "relay_content",
        Some("true"),
        "whether public texts reach dispatchers with their content, or as a content-free alert",
        |c, v| {
            c.sms.relay_content = parse_bool(v)?;
            Ok(())
        },
    ),
    setting(
        "incident_auto_close",
        Some("7d"),
        "incidents still open this long after opening are closed by the sweeper",
        |c, v| {
            c.dispatch.auto_close = bounded(v, Duration::from_secs(1), 90 * DAY)?;
            Ok(())
        },
    ),
    setting(
        "enrollment_code_lifetime",
        Some("24h"),
        "how long a volunteer's one-time enrollment code works",
        |c, v| {
            c.accounts.enrollment_code_lifetime = bounded(v, Duration::from_secs(1), 30 * DAY)?;
            Ok(())
        },
    ),
    setting(
        "client_ip_header",
        None,
        "header a reverse proxy sets to the client address, e.g. X-Forwarded-For; believed from trusted_proxies, \
         for sign-in limits only",
        |c, v| {
            c.accounts.client_ip_header = Some(parse_header_name(v)?);
            Ok(())
        },
    ),
    setting("sweep_interval", Some("60s"), "how often the retention sweeper runs (at most 1h)", |c, v| {
        c.retention.sweep_interval = bounded(v, Duration::from_secs(1), 60 * MINUTE)
            .map_err(|_| format!("{v:?}: from 1s to 1h: expired content must not wait longer to go"))?;
        Ok(())
    }),
    setting("text_rate_limit", Some("10"), "texts from one sender within 10 minutes that are relayed", |c, v| {
        c.sms.rate_limit = parse_count(v, 1, 1000)?;
        Ok(())
    }),
    setting(
        "withheld_rate_limit",
        Some("10"),
        "callers with a withheld number, all together, put through within 10 minutes after the challenge",
        |c, v| {
            c.ringing.withheld_rate_limit = parse_count(v, 1, 1000)?;
            Ok(())
        },
    ),
    setting(
        "sms_confirm",
        Some("true"),
        "whether SMS commands that act on others (NEW, R) wait for a one-time code",
        |c, v| {
            c.sms.confirm = parse_bool(v)?;
            Ok(())
        },
    ),
    setting(
        "trusted_proxies",
        Some("127.0.0.1/32,::1/128"),
        "addresses of reverse proxies whose client_ip_header is believed",
        |c, v| {
            c.accounts.trusted_proxies = parse_networks(v)?;
            Ok(())
        },
    ),
    setting(
        "listen_onion",
        None,
        "a second listener for the onion service; no client address is known there",
        |c, v| {
            c.listen_onion = Some(address(v, "127.0.0.1:8081")?);
            Ok(())
        },
    ),
    setting("http_header_timeout", Some("10s"), "how long a client may take to send a request's head", |c, v| {
        c.http.header_timeout = bounded(v, Duration::from_secs(1), 5 * MINUTE)?;
        Ok(())
    }),
    setting(
        "http_idle_timeout",
        Some("60s"),
        "how long a keep-alive connection may wait for its next request",
        |c, v| {
            c.http.idle_timeout = bounded(v, Duration::from_secs(1), 60 * MINUTE)?;
            Ok(())
        },
    ),
    setting(
        "http_max_connections",
        Some("512"),
        "connections open at once; the idle longest make room for new ones",
        |c, v| {
            c.http.max_connections = parse_count(v, 16, 100_000)? as usize;
            Ok(())
        },
    ),
];
