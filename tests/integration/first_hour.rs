//! An operator's first hour: `/` leads into the console, `provider connect`
//! points the hotline number at the server through the stand-in's
//! incoming-phone-numbers resource, and `doctor` names what is wrong in one line
//! per check (a wrong token, a number the account lacks, plain http, a skewed
//! clock, a provider that does not answer, a data dir others can read). Neither
//! prints a secret or a number.

use std::os::unix::fs::PermissionsExt;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use crate::both;
use crate::support::provider::{self, StandIn};
use crate::support::{Backend, TestEnv};

const PUBLIC: &str = "https://hotline.example.org";

/// The settings of a server at `public` on the stand-in's account.
fn settings<'a>(standin: &'a StandIn, public: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("QUIETLINE_PUBLIC_URL", public),
        ("QUIETLINE_HOTLINE_NUMBER", provider::HOTLINE),
        ("QUIETLINE_PROVIDER_ACCOUNT_SID", provider::ACCOUNT_SID),
        ("QUIETLINE_PROVIDER_AUTH_TOKEN", provider::AUTH_TOKEN),
        ("QUIETLINE_PROVIDER_API_BASE", &standin.base),
    ]
}

fn with<'a>(mut base: Vec<(&'static str, &'a str)>, key: &'static str, value: &'a str) -> Vec<(&'static str, &'a str)> {
    base.retain(|(k, _)| *k != key);
    base.push((key, value));
    base
}

/// Nothing a command prints may carry the auth token or a digit run of the number.
fn assert_no_secrets(text: &str) {
    assert!(!text.contains(provider::AUTH_TOKEN), "the auth token was printed:\n{text}");
    assert!(!text.contains(&provider::HOTLINE[2..]), "the hotline number was printed:\n{text}");
}

/// `doctor`'s lines (its output) and whether it passed, through the CLI code path.
async fn doctor(env: &TestEnv, settings: &[(&str, &str)]) -> (String, bool) {
    let args = ["quietline", "doctor"];
    let parsed = <quietline::cli::Cli as clap::Parser>::try_parse_from(args).unwrap();
    let mut out = Vec::new();
    let result = quietline::cli::run(parsed.command, env.config_with(settings), &mut out).await;
    let text = String::from_utf8(out).unwrap();
    assert_no_secrets(&text);
    if let Err(e) = &result {
        assert!(e.to_string().ends_with("check(s) failed"), "{e}");
    }
    (text, result.is_ok())
}

fn line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(name)))
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{text}"))
}

both!(provider_connect_points_the_number_here_and_doctor_agrees);
async fn provider_connect_points_the_number_here_and_doctor_agrees(backend: Backend) {
    let env = TestEnv::new(backend).await;
    env.cli(&["init"]).await.unwrap();
    let standin = StandIn::start().await;
    standin.own_number("+14155550999", "https://someone-else.example/voice");
    standin.own_number(provider::HOTLINE, "https://old.example.org/voice");
    let settings = settings(&standin, PUBLIC);

    // Before: doctor says where the number points, and fails.
    let (before, ok) = doctor(&env, &settings).await;
    assert!(!ok, "{before}");
    assert!(line(&before, "number").starts_with("FAIL"), "{before}");
    assert!(line(&before, "number").contains("provider connect"), "{before}");

    let dry = env.cli_with(&["provider", "connect", "--dry-run"], &settings).await.unwrap();
    assert!(dry.contains("dry run: nothing changed (3 webhook(s) would change)"), "{dry}");
    assert_eq!(standin.number(provider::HOTLINE).unwrap().voice_url, "https://old.example.org/voice");

    let out = env.cli_with(&["provider", "connect"], &settings).await.unwrap();
    assert_no_secrets(&out);
    assert!(out.contains("POST https://old.example.org/voice"), "{out}");
    assert!(out.contains(&format!("-> POST {PUBLIC}/telephony/voice")), "{out}");
    assert!(out.contains(&format!("-> POST {PUBLIC}/telephony/status")), "{out}");
    assert!(out.contains(&format!("-> POST {PUBLIC}/telephony/sms")), "{out}");
    let number = standin.number(provider::HOTLINE).unwrap();
    assert_eq!(number.voice_url, format!("{PUBLIC}/telephony/voice"));
    assert_eq!(number.status_callback, format!("{PUBLIC}/telephony/status"));
    assert_eq!(number.sms_url, format!("{PUBLIC}/telephony/sms"));
    assert_eq!((number.voice_method.as_str(), number.sms_method.as_str()), ("POST", "POST"));
    // The other number of the account, which the provider's pattern filter also
    // matched, is left alone.
    assert_eq!(standin.number("+14155550999").unwrap().voice_url, "https://someone-else.example/voice");
    let again = env.cli_with(&["provider", "connect"], &settings).await.unwrap();
    assert!(again.contains("nothing to change"), "{again}");

    // After: every check passes; the default call rate is a warning, not a failure.
    let (after, ok) = doctor(&env, &settings).await;
    assert!(ok, "{after}");
    for name in ["config", "data dir", "keystore", "server key", "backups", "database", "public url", "provider"] {
        assert!(line(&after, name).starts_with("ok"), "{name}:\n{after}");
    }
    assert!(line(&after, "number").starts_with("ok"), "{after}");
    assert!(line(&after, "clock").starts_with("ok"), "{after}");
    assert!(line(&after, "call rate").starts_with("warn"), "{after}");
    let raised = with(settings.clone(), "QUIETLINE_PROVIDER_CALL_RATE", "10");
    let (raised, _) = doctor(&env, &raised).await;
    assert!(line(&raised, "call rate").starts_with("ok"), "{raised}");
}

#[tokio::test]
async fn a_wrong_token_a_missing_number_and_plain_http_each_fail_in_one_line() {
    let env = TestEnv::new(Backend::Sqlite).await;
    env.cli(&["init"]).await.unwrap();
    let standin = StandIn::start().await;
    standin.own_number(provider::HOTLINE, "");
    let good = settings(&standin, PUBLIC);

    let wrong = with(good.clone(), "QUIETLINE_PROVIDER_AUTH_TOKEN", "not-the-token");
    let err = env.cli_with(&["provider", "connect"], &wrong).await.unwrap_err();
    assert_eq!(err, "the provider refused provider_account_sid or provider_auth_token (401, error 20003)");
    let (text, ok) = doctor(&env, &wrong).await;
    assert!(!ok);
    assert_eq!(
        line(&text, "provider"),
        "FAIL  provider   the provider refused provider_account_sid or provider_auth_token (401, error 20003)"
    );

    let elsewhere = with(good.clone(), "QUIETLINE_HOTLINE_NUMBER", "+14155550998");
    let err = env.cli_with(&["provider", "connect"], &elsewhere).await.unwrap_err();
    assert!(err.starts_with("hotline_number is not a number of this provider account"), "{err}");
    assert!(!err.contains("4155550998"), "{err}");
    let (text, _) = doctor(&env, &elsewhere).await;
    assert!(!text.contains("4155550998"), "{text}");
    assert_eq!(line(&text, "number"), "FAIL  number     hotline_number is not a number of this provider account");

    let plain = with(good.clone(), "QUIETLINE_PUBLIC_URL", "http://hotline.example.org");
    let err = env.cli_with(&["provider", "connect"], &plain).await.unwrap_err();
    assert!(err.starts_with("public_url http://hotline.example.org is not https"), "{err}");
    assert!(standin.number(provider::HOTLINE).unwrap().voice_url.is_empty(), "nothing changed");
    let (text, _) = doctor(&env, &plain).await;
    assert!(
        line(&text, "public url").starts_with("FAIL  public url public_url http://hotline.example.org is not https")
    );

    // Loopback is allowed for drills, and doctor says it is one.
    let drill = with(good.clone(), "QUIETLINE_PUBLIC_URL", "http://127.0.0.1:8080");
    env.cli_with(&["provider", "connect"], &drill).await.unwrap();
    assert_eq!(standin.number(provider::HOTLINE).unwrap().voice_url, "http://127.0.0.1:8080/telephony/voice");
    let (text, _) = doctor(&env, &drill).await;
    assert!(line(&text, "public url").starts_with("warn"), "{text}");
}

#[tokio::test]
async fn a_skewed_clock_and_a_silent_provider_fail_in_one_line() {
    let env = TestEnv::new(Backend::Sqlite).await;
    env.cli(&["init"]).await.unwrap();
    let standin = StandIn::start().await;
    standin.own_number(provider::HOTLINE, "");
    let good = settings(&standin, PUBLIC);
    env.cli_with(&["provider", "connect"], &good).await.unwrap();

    standin.skew_clock(-120);
    let (text, ok) = doctor(&env, &good).await;
    assert!(!ok, "{text}");
    let clock = line(&text, "clock");
    assert!(clock.starts_with("FAIL  clock      120 s ahead of the provider's"), "{clock}");
    standin.skew_clock(0);

    // A provider that takes the connection and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_base = format!("http://{}", silent.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let quiet = with(good.clone(), "QUIETLINE_PROVIDER_API_BASE", &silent_base);
    let (text, ok) = doctor(&env, &quiet).await;
    hold.abort();
    assert!(!ok);
    assert_eq!(
        line(&text, "provider"),
        format!("FAIL  provider   the provider at {silent_base} did not answer within 5 s")
    );
    assert!(!text.contains("clock"), "nothing to compare the clock with:\n{text}");
}

#[tokio::test]
async fn doctor_finds_a_data_dir_others_can_read_and_a_trial_account() {
    let env = TestEnv::new(Backend::Sqlite).await;
    env.cli(&["init"]).await.unwrap();
    let standin = StandIn::start().await;
    standin.own_number(provider::HOTLINE, "");
    standin.set_account_type("Trial");
    let good = settings(&standin, PUBLIC);
    let keystore = env.data_dir().join("keystore");
    std::fs::set_permissions(&keystore, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (text, ok) = doctor(&env, &good).await;
    assert!(!ok);
    assert!(line(&text, "keystore").contains("is mode 755: others can read it (chmod 700)"), "{text}");
    assert!(line(&text, "provider").starts_with("warn") && text.contains("trial account"), "{text}");
}

#[test]
fn doctor_reports_a_config_that_does_not_load_as_its_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::run_binary(
        &[
            ("QUIETLINE_DATA_DIR".into(), dir.path().join("data").display().to_string()),
            ("QUIETLINE_RING_TIMEOUT".into(), "soon".into()),
        ],
        &["doctor"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(out.stdout.starts_with("FAIL  config     invalid value for QUIETLINE_RING_TIMEOUT"), "{}", out.stdout);
}

both!(the_root_leads_into_the_console);
async fn the_root_leads_into_the_console(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    let get = |path: &'static str, cookie: Option<String>| {
        let state = state.clone();
        async move {
            let mut r = Request::get(path);
            if let Some(c) = cookie {
                r = r.header("cookie", format!("__Host-ql_session={c}"));
            }
            let response = quietline::app(state).oneshot(r.body(Body::empty()).unwrap()).await.unwrap();
            let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
            (response.status(), location)
        }
    };
    assert_eq!(get("/", None).await, (StatusCode::SEE_OTHER, Some("/console".into())));
    // Where /console sends someone not signed in.
    assert_eq!(get("/console", None).await, (StatusCode::SEE_OTHER, Some("/console/sign-in".into())));
    assert_eq!(get("/console/sign-in", None).await.0, StatusCode::OK);
    // Signed in, the same two steps end on the dashboard.
    env.add_volunteer("ana", "+14155550101", "dispatcher", "en", None).await;
    let cookie = crate::support::sign_in_session(&env, &state, "ana").await;
    assert_eq!(get("/", Some(cookie.clone())).await, (StatusCode::SEE_OTHER, Some("/console".into())));
    assert_eq!(get("/console", Some(cookie)).await.0, StatusCode::OK);
}
