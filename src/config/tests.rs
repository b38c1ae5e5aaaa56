//! Loading, layering, parsing and bounds of the settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

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
    assert_eq!(c.provider.api_base, DEFAULT_PROVIDER_API_BASE);
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
    assert_eq!(c.provider.hotline_number.unwrap().as_str(), "+14155550100");
}

#[test]
fn secrets_come_from_files_without_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let c = load(&[("QUIETLINE_PROVIDER_AUTH_TOKEN_FILE", token.to_str().unwrap())]).unwrap().config;
    assert_eq!(c.provider.auth_token.unwrap().expose_secret(), "s3cret-token");
}

#[test]
fn both_a_value_and_its_file_is_an_error() {
    let err = load(&[("QUIETLINE_PROVIDER_AUTH_TOKEN", "a"), ("QUIETLINE_PROVIDER_AUTH_TOKEN_FILE", "/nonexistent")])
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
    assert!(warned.warnings.iter().any(|w| w.contains("language so has no built-in texts")), "{:?}", warned.warnings);
}

#[test]
fn lifetimes_are_configurable_never_zero_and_short_ones_warn() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.toml");
    std::fs::write(&file, "[retention]\ncall = \"30s\"\nnote = \"7d\"\ncaller_token = \"2d\"\n").unwrap();
    let loaded = Config::load_from(Some(&file), env(&[])).unwrap();
    assert_eq!(loaded.config.retention.call, Duration::from_secs(30));
    assert_eq!(loaded.config.retention.note, Duration::from_secs(7 * 86_400));
    assert_eq!(loaded.config.retention.caller_token, Duration::from_secs(2 * 86_400));
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
    assert_eq!(c.dispatch.timeout, Duration::from_secs(86_400));
}

#[test]
fn trusted_proxies_are_addresses_and_networks() {
    let c = load(&[("QUIETLINE_TRUSTED_PROXIES", "10.0.0.0/24, ::1, 172.31.0.2")]).unwrap().config;
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert!(c.accounts.trusted_proxies.iter().any(|n| n.contains(ip("10.0.0.77"))));
    assert!(!c.accounts.trusted_proxies.iter().any(|n| n.contains(ip("10.0.1.1"))));
    assert!(c.accounts.trusted_proxies.iter().any(|n| n.contains(ip("::1"))));
    assert!(c.accounts.trusted_proxies.iter().any(|n| n.contains(ip("::ffff:172.31.0.2"))), "IPv4 seen through IPv6");
    let default = load(&[]).unwrap().config;
    assert!(default.accounts.trusted_proxies.iter().any(|n| n.contains(ip("127.0.0.1"))));
    assert!(!default.accounts.trusted_proxies.iter().any(|n| n.contains(ip("127.0.0.2"))));
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
    for s in SETTINGS {
        let var = format!("`{ENV_PREFIX}{}`", s.name.to_ascii_uppercase());
        assert!(readme.contains(&var), "README lacks {var}");
        assert!(readme.contains(&format!("`{}`", s.name)), "README lacks `{}`", s.name);
    }
}

#[test]
fn sqlite_urls_escape_awkward_paths() {
    assert_eq!(sqlite_url(Path::new("/srv/q/quietline.db")), "sqlite:///srv/q/quietline.db?mode=rwc");
    assert_eq!(sqlite_url(Path::new("/a b/#?.db")), "sqlite:///a%20b/%23%3F.db?mode=rwc");
}
