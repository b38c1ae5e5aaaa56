//! Findings of the security review about accounts, each with the test that
//! failed before its fix: revocation that lands while a sign-in or enrollment is
//! waiting for a hash slot; tokens that outlived "sign out everywhere" and
//! re-enrollment; sign-in limits behind Tor and a proxy; limited sign-ins that
//! still hashed, and one network holding every hash slot; enrollment codes and
//! key changes without an audit event; reader errors that told which aliases
//! exist; the session cookie's prefix; and limits that reset when the
//! caller-token window rolled over.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use quietline::AppState;
use quietline::accounts::sessions::{self, AccountError, Enrollment};
use quietline::accounts::totp::Secret;
use quietline::audit::Actor;
use secrecy::{ExposeSecret, SecretString};
use tower::ServiceExt;

use crate::both;
use crate::support::{Backend, TestEnv, sign_in_session};

const PASSWORD: &str = "river glass orbit 19";

async fn authenticator(state: &AppState, alias: &str) -> Secret {
    let v = quietline::roster::get(&state.db, alias).await.unwrap();
    let creds = quietline::store::accounts::credentials(state.db.pool(), v.id).await.unwrap().unwrap();
    Secret::from_bytes(state.vault.server().open(&creds.totp_sealed.unwrap()).unwrap())
}

/// A sign-in on the next TOTP step (codes are single-use).
async fn sign_in(env: &TestEnv, state: &AppState, alias: &str, network: Option<&str>) -> Result<String, AccountError> {
    env.clock.advance(Duration::from_secs(30));
    let secret = authenticator(state, alias).await;
    let code = format!("{:06}", secret.code_at_step(state.vault.clock().now().0.div_euclid(30)));
    let started = sessions::sign_in(state, alias, SecretString::from(PASSWORD), &code, network).await?;
    Ok(started.token.expose_secret().to_string())
}

/// Holds both hash slots (from two networks, since one network gets one).
async fn hold_hash_slots(
    state: &AppState,
) -> (quietline::accounts::slots::HashSlot<'_>, quietline::accounts::slots::HashSlot<'_>) {
    (state.hash_slots.acquire("held-by-the-test-1").await, state.hash_slots.acquire("held-by-the-test-2").await)
}

both!(revocation_wins_over_a_sign_in_waiting_for_its_hash);
async fn revocation_wins_over_a_sign_in_waiting_for_its_hash(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    env.add_volunteer("ana", "+14155550101", "dispatcher", "en", None).await;
    env.add_volunteer("coord", "+14155550102", "coordinator", "en", None).await;
    sign_in_session(&env, &state, "ana").await;
    let ana = quietline::roster::get(&state.db, "ana").await.unwrap();

    // A sign-in with the right password and code waits behind a flood of hashes;
    // the phone was seized and ana is revoked meanwhile.
    env.clock.advance(Duration::from_secs(30));
    let secret = authenticator(&state, "ana").await;
    let code = format!("{:06}", secret.code_at_step(state.vault.clock().now().0.div_euclid(30)));
    let slots = hold_hash_slots(&state).await;
    let waiting = tokio::spawn({
        let state = state.clone();
        async move { sessions::sign_in(&state, "ana", SecretString::from(PASSWORD), &code, None).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the sign-in should be waiting for a hash slot");
    sessions::revoke(&state, &ana, Actor::Operator).await.unwrap();
    drop(slots);
    let result = waiting.await.unwrap();
    assert!(matches!(result, Err(AccountError::SignInFailed)), "a revoked account signed in");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE volunteer_id = $1")
        .bind(ana.id)
        .fetch_one(state.db.pool())
        .await
        .unwrap();
    assert_eq!(n, 0, "no session of a revoked volunteer exists");

    // An enrollment waiting for its hash loses to a revocation too, and the
    // volunteer stays revoked.
    let code = sessions::issue_enrollment_code(&state, &ana, Actor::Operator).await.unwrap();
    let slots = hold_hash_slots(&state).await;
    let enrolling = tokio::spawn({
        let state = state.clone();
        async move {
            let e =
                Enrollment { alias: "ana".into(), code, password: SecretString::from(PASSWORD), age_recipient: None };
            sessions::enroll(&state, e, None).await.map(|_| ())
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    sessions::revoke(&state, &ana, Actor::Operator).await.unwrap();
    drop(slots);
    assert!(enrolling.await.unwrap().is_err(), "an enrollment outlived a revocation");
    assert!(quietline::store::accounts::is_revoked(state.db.pool(), ana.id).await.unwrap());
}

both!(a_session_or_token_of_a_revoked_volunteer_never_works);
async fn a_session_or_token_of_a_revoked_volunteer_never_works(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    env.add_volunteer("ana", "+14155550101", "dispatcher", "en", None).await;
    let cookie = sign_in_session(&env, &state, "ana").await;
    let ana = quietline::roster::get(&state.db, "ana").await.unwrap();
    let token =
        quietline::accounts::create_token(&state.db, &ana, Duration::from_secs(86_400), state.vault.clock().now())
            .await
            .unwrap();
    assert!(sessions::lookup(&state, &cookie, true).await.unwrap().is_some());
    // Marked revoked by itself (as a session made in a race would find it):
    // neither the session nor the token is accepted.
    quietline::store::accounts::set_revoked(state.db.pool(), ana.id, true).await.unwrap();
    assert!(sessions::lookup(&state, &cookie, true).await.unwrap().is_none());
    let who = quietline::accounts::authenticate(&state.db, token.expose_secret(), state.vault.clock().now()).await;
    assert!(who.unwrap().is_none(), "a revoked volunteer's token authenticated");
}

both!(sign_out_everywhere_and_enrolling_again_end_every_api_token);
async fn sign_out_everywhere_and_enrolling_again_end_every_api_token(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    env.add_volunteer("ana", "+14155550101", "dispatcher", "en", None).await;
    sign_in_session(&env, &state, "ana").await;
    let ana = quietline::roster::get(&state.db, "ana").await.unwrap();
    let now = state.vault.clock().now();
    let live = |token: SecretString| {
        let state = state.clone();
        async move {
            quietline::accounts::authenticate(&state.db, token.expose_secret(), state.vault.clock().now())
                .await
                .unwrap()
                .is_some()
        }
    };
    let token = quietline::accounts::create_token(&state.db, &ana, Duration::from_secs(86_400), now).await.unwrap();
    assert!(live(token.clone()).await);
    sessions::sign_out_everywhere(&state, &ana).await.unwrap();
    assert!(!live(token).await, "a token outlived sign out everywhere");

    let token = quietline::accounts::create_token(&state.db, &ana, Duration::from_secs(86_400), now).await.unwrap();
    sign_in_session(&env, &state, "ana").await;
    assert!(!live(token).await, "a token outlived enrolling again");
}

/// Sign-in failures recorded for the network bucket of `network`.
async fn network_failures(state: &AppState, network: &str) -> i64 {
    let bucket = state.vault.limit_buckets("n", network).unwrap().swap_remove(0);
    sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE bucket = $1")
        .bind(bucket)
        .fetch_one(state.db.pool())
        .await
        .unwrap()
}

/// A failed sign-in through the real listener `addr`, with these headers.
async fn failed_sign_in(http: &reqwest::Client, addr: std::net::SocketAddr, alias: &str, forwarded: Option<&str>) {
    let mut r = http
        .post(format!("http://{addr}/api/v1/session"))
        .json(&serde_json::json!({ "alias": alias, "password": "not the password", "code": "000000" }));
    if let Some(f) = forwarded {
        r = r.header("x-forwarded-for", f);
    }
    let status = r.send().await.unwrap().status();
    assert!(status == 401 || status == 429, "{status}");
}

both!(the_onion_listener_and_untrusted_peers_give_no_client_address);
async fn the_onion_listener_and_untrusted_peers_give_no_client_address(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state_with(&[("QUIETLINE_CLIENT_IP_HEADER", "X-Forwarded-For")]).await;
    let main = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let onion = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (main_addr, onion_addr) = (main.local_addr().unwrap(), onion.local_addr().unwrap());
    let server = tokio::spawn({
        let state = state.clone();
        async move { quietline::serve_with_onion(main, Some(onion), state, std::future::pending()).await.unwrap() }
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    // Behind the proxy on this machine: the header it sets names the network.
    failed_sign_in(&http, main_addr, "x1", Some("203.0.113.9")).await;
    assert_eq!(network_failures(&state, "203.0.113.0/24").await, 1);
    assert_eq!(network_failures(&state, "127.0.0.0/24").await, 0);

    // On the onion listener nothing is known, and a header sent by the visitor
    // is not believed: no network bucket at all, the per-alias limit only.
    for i in 0..25 {
        failed_sign_in(&http, onion_addr, &format!("o{i}"), Some("198.51.100.7")).await;
    }
    assert_eq!(network_failures(&state, "198.51.100.0/24").await, 0);
    assert_eq!(network_failures(&state, "127.0.0.0/24").await, 0);
    let buckets: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT bucket) FROM login_failures WHERE bucket LIKE 'n:%'")
        .fetch_one(state.db.pool())
        .await
        .unwrap();
    assert_eq!(buckets, 1, "only the proxied request made a network bucket");
    server.abort();

    // A peer outside trusted_proxies cannot pick its own network with a header.
    let strict = env
        .state_with(&[("QUIETLINE_CLIENT_IP_HEADER", "X-Forwarded-For"), ("QUIETLINE_TRUSTED_PROXIES", "10.9.9.9")])
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { quietline::serve(listener, strict, std::future::pending()).await.unwrap() });
    failed_sign_in(&http, addr, "x2", Some("192.0.2.1")).await;
    assert_eq!(network_failures(&state, "192.0.2.0/24").await, 0, "the header of an untrusted peer was believed");
    assert_eq!(network_failures(&state, "127.0.0.0/24").await, 1, "the peer's own network counts");
    server.abort();
}

both!(a_limited_sign_in_takes_no_hash_slot_and_one_network_cannot_hold_them_all);
async fn a_limited_sign_in_takes_no_hash_slot_and_one_network_cannot_hold_them_all(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    env.add_volunteer("ana", "+14155550101", "dispatcher", "en", None).await;
    env.add_volunteer("beto", "+14155550102", "dispatcher", "en", None).await;
    sign_in_session(&env, &state, "ana").await;
    sign_in_session(&env, &state, "beto").await;
    for _ in 0..5 {
        let r = sessions::sign_in(&state, "ana", SecretString::from("wrong password 12"), "000000", None).await;
        assert!(matches!(r, Err(AccountError::SignInFailed)));
    }
    // Over the limit, with every hash slot taken: refused at once, not queued.
    let slots = hold_hash_slots(&state).await;
    let limited = tokio::time::timeout(
        Duration::from_secs(2),
        sessions::sign_in(&state, "ana", SecretString::from(PASSWORD), "000000", None),
    )
    .await
    .expect("a limited sign-in waited for a hash slot");
    assert!(matches!(limited, Err(AccountError::TooManyAttempts)));
    drop(slots);

    // Forty sign-ins from one network: another network's goes through while
    // most of them are still waiting.
    let flood: Vec<_> = (0..40)
        .map(|i| {
            let state = state.clone();
            tokio::spawn(async move {
                let alias = format!("nobody{i}");
                let _ =
                    sessions::sign_in(&state, &alias, SecretString::from(PASSWORD), "000000", Some("203.0.113.0/24"))
                        .await;
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    sign_in(&env, &state, "beto", Some("198.51.100.0/24")).await.expect("beto signs in");
    let done = flood.iter().filter(|t| t.is_finished()).count();
    assert!(done < 20, "{done} of the flood's 40 went before the other network's sign-in");
    for t in flood {
        t.await.unwrap();
    }
}

both!(enrollment_codes_and_key_changes_leave_audit_events);
async fn enrollment_codes_and_key_changes_leave_audit_events(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    env.add_volunteer("ana", "+14155550101", "dispatcher", "en", None).await;
    let ana = quietline::roster::get(&state.db, "ana").await.unwrap();
    let key = age::x25519::Identity::generate().to_public().to_string();
    let code = sessions::issue_enrollment_code(&state, &ana, Actor::Operator).await.unwrap();
    let e = Enrollment {
        alias: "ana".into(),
        code,
        password: SecretString::from(PASSWORD),
        age_recipient: Some(key.clone()),
    };
    sessions::enroll(&state, e, None).await.unwrap();
    let other = age::x25519::Identity::generate().to_public().to_string();
    env.cli(&["volunteer", "set-key", "ana", &other]).await.unwrap();
    let audit = env.cli(&["audit"]).await.unwrap();
    // `volunteer add` issued one code, the test another.
    assert_eq!(audit.matches("account.enrollment_code").count(), 2, "{audit}");
    // Enrollment added a device key; `set-key` made another the only one.
    assert!(audit.contains("key.add"), "{audit}");
    assert!(audit.contains("key.replace"), "{audit}");
}

both!(naming_readers_tells_nothing_about_who_exists);
async fn naming_readers_tells_nothing_about_who_exists(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    let key = |_: ()| age::x25519::Identity::generate().to_public().to_string();
    env.add_volunteer("ana", "+14155550101", "attorney", "en", Some(&key(()))).await;
    env.add_volunteer("nokey", "+14155550102", "attorney", "en", None).await;
    env.add_volunteer("gone", "+14155550103", "attorney", "en", Some(&key(()))).await;
    env.cli(&["volunteer", "revoke", "gone"]).await.unwrap();
    let token = env.api_token("ana").await;
    let mut answers = Vec::new();
    for reader in ["nobody-at-all", "nokey", "gone"] {
        let body = serde_json::json!({ "text": "x", "readers": [reader] }).to_string();
        let req = Request::post("/api/v1/items")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = quietline::app(state.clone()).oneshot(req).await.unwrap();
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        answers.push((status, String::from_utf8_lossy(&bytes).into_owned()));
    }
    assert_eq!(answers[0].0, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
}

both!(the_session_cookie_is_host_only_and_two_of_them_are_refused);
async fn the_session_cookie_is_host_only_and_two_of_them_are_refused(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    env.add_volunteer("ana", "+14155550101", "dispatcher", "en", None).await;
    sign_in_session(&env, &state, "ana").await;
    env.clock.advance(Duration::from_secs(30));
    let secret = authenticator(&state, "ana").await;
    let code = format!("{:06}", secret.code_at_step(state.vault.clock().now().0.div_euclid(30)));
    let body = serde_json::json!({ "alias": "ana", "password": PASSWORD, "code": code }).to_string();
    let req =
        Request::post("/api/v1/session").header("content-type", "application/json").body(Body::from(body)).unwrap();
    let response = quietline::app(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let set = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(set.starts_with("__Host-ql_session=qls_"), "{set}");
    assert!(set.contains("; Path=/;") && set.contains("Secure") && !set.contains("Domain"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();

    let me = |cookies: String| {
        let state = state.clone();
        async move {
            let req = Request::get("/api/v1/me").header("cookie", cookies).body(Body::empty()).unwrap();
            quietline::app(state).oneshot(req).await.unwrap().status()
        }
    };
    assert_eq!(me(cookie.clone()).await, StatusCode::OK);
    // A second one planted beside it (by a subdomain, or left over): neither is used.
    assert_eq!(me(format!("{cookie}; __Host-ql_session=qls_planted")).await, StatusCode::BAD_REQUEST);
    // The old name is not a session cookie any more.
    assert_eq!(me(cookie.replace("__Host-", "")).await, StatusCode::UNAUTHORIZED);
}

both!(a_caller_token_window_boundary_grants_no_fresh_allowance);
async fn a_caller_token_window_boundary_grants_no_fresh_allowance(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state_with(&[("QUIETLINE_CALLER_TOKEN_WINDOW", "1h")]).await;
    env.add_volunteer("ana", "+14155550101", "dispatcher", "en", None).await;
    sign_in_session(&env, &state, "ana").await;
    // Five failures just before the window ends, then the window rolls over.
    let to_boundary = 3600 - state.vault.clock().now().0.rem_euclid(3600);
    env.clock.advance(Duration::from_secs((to_boundary - 120).max(0) as u64));
    for _ in 0..5 {
        let r = sessions::sign_in(&state, "ana", SecretString::from("wrong password 12"), "000000", None).await;
        assert!(matches!(r, Err(AccountError::SignInFailed)));
    }
    env.clock.advance(Duration::from_secs(180));
    assert_eq!(state.vault.clock().now().0.rem_euclid(3600), 60, "a minute into the next window");
    let after = sign_in(&env, &state, "ana", None).await;
    assert!(matches!(after, Err(AccountError::TooManyAttempts)), "the new window gave a fresh allowance");
}
