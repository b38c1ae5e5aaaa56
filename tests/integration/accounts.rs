//! Accounts and the console, through the router in process: enrollment with a
//! one-time code and TOTP, sign-in that looks the same for unknown aliases, replayed
//! codes refused, limits, session expiry on a moved clock, CSRF on every change,
//! revocation, and every route walked with every role and anonymously against the
//! authorization table. No response ever carries a phone number.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use quietline::AppState;
use quietline::accounts::totp::Secret;
use quietline::web::auth::{Access, ROUTES};
use secrecy::ExposeSecret;
use tower::ServiceExt;

use crate::both;
use crate::support::outage::WritesRefused;
use crate::support::{Backend, TestEnv};

const PASSWORD: &str = "river glass orbit 19";
const CALLER: &str = "+14155550177";
const CALLER_DIGITS: &str = "4155550177";

/// A response, with the headers the tests look at.
struct Answer {
    status: StatusCode,
    body: String,
    headers: axum::http::HeaderMap,
}

/// Someone using the server: a cookie jar of one session and its CSRF token.
#[derive(Clone, Default)]
struct Client {
    cookie: Option<String>,
    csrf: Option<String>,
}

async fn send(state: &AppState, client: &Client, method: Method, path: &str, body: Option<&str>, form: bool) -> Answer {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(c) = &client.cookie {
        r = r.header("cookie", format!("__Host-ql_session={c}"));
    }
    if let Some(t) = &client.csrf {
        r = r.header("x-csrf-token", t.as_str());
    }
    let content_type = if form { "application/x-www-form-urlencoded" } else { "application/json" };
    let request = match body {
        Some(b) => r.header("content-type", content_type).body(Body::from(b.to_string())).unwrap(),
        None => r.body(Body::empty()).unwrap(),
    };
    let response = quietline::app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    Answer { status, body: String::from_utf8_lossy(&bytes).into_owned(), headers }
}

fn session_cookie(a: &Answer) -> Option<String> {
    let set = a.headers.get("set-cookie")?.to_str().ok()?;
    assert!(set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict"), "{set}");
    Some(set.split(';').next()?.strip_prefix("__Host-ql_session=")?.to_string())
}

/// The volunteer's authenticator, read back the way the server keeps it.
async fn authenticator(state: &AppState, alias: &str) -> Secret {
    let v = quietline::roster::get(&state.db, alias).await.unwrap();
    let creds = quietline::store::accounts::credentials(state.db.pool(), v.id).await.unwrap().unwrap();
    Secret::from_bytes(state.vault.server().open(&creds.totp_sealed.unwrap()).unwrap())
}

fn code_now(state: &AppState, secret: &Secret) -> String {
    let now = state.vault.clock().now().0;
    format!("{:06}", secret.code_at_step(now.div_euclid(30)))
}

/// Adds a volunteer and enrolls them fully through the API; returns their client.
async fn enrolled(env: &TestEnv, state: &AppState, alias: &str, phone: &str, roles: &str) -> Client {
    env.try_add_volunteer(alias, phone, roles, "en", None).await.unwrap();
    let v = quietline::roster::get(&state.db, alias).await.unwrap();
    let code = quietline::accounts::sessions::issue_enrollment_code(state, &v, quietline::audit::Actor::Operator)
        .await
        .unwrap();
    let body = serde_json::json!({ "alias": alias, "code": code.expose_secret(), "password": PASSWORD }).to_string();
    let a = send(state, &Client::default(), Method::POST, "/api/v1/enrollment", Some(&body), false).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let json: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert!(json["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/quietline:"));
    let mut client = Client { cookie: session_cookie(&a), csrf: json["csrf"].as_str().map(str::to_string) };
    // Until the authenticator is confirmed, nothing else is allowed.
    let early = send(state, &client, Method::GET, "/api/v1/me", None, false).await;
    assert_eq!(early.status, StatusCode::FORBIDDEN, "{}", early.body);
    let secret = authenticator(state, alias).await;
    let body = serde_json::json!({ "code": code_now(state, &secret) }).to_string();
    let a = send(state, &client, Method::POST, "/api/v1/enrollment/totp", Some(&body), false).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    let me = send(state, &client, Method::GET, "/api/v1/me", None, false).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    client.csrf = json["csrf"].as_str().map(str::to_string);
    client
}

/// A fresh session by signing in, on the next TOTP step (codes are single-use).
async fn sign_in(env: &TestEnv, state: &AppState, alias: &str) -> Client {
    env.clock.advance(Duration::from_secs(30));
    let secret = authenticator(state, alias).await;
    let body =
        serde_json::json!({ "alias": alias, "password": PASSWORD, "code": code_now(state, &secret) }).to_string();
    let a = send(state, &Client::default(), Method::POST, "/api/v1/session", Some(&body), false).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let json: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    Client { cookie: session_cookie(&a), csrf: json["csrf"].as_str().map(str::to_string) }
}

both!(enrollment_sign_in_replay_and_limits);
async fn enrollment_sign_in_replay_and_limits(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    enrolled(&env, &state, "ana", "+14155550101", "dispatcher").await;
    let secret = authenticator(&state, "ana").await;

    // A code works once: the same code again, even within its 30 seconds, is refused.
    env.clock.advance(Duration::from_secs(30));
    let code = code_now(&state, &secret);
    let body = serde_json::json!({ "alias": "ana", "password": PASSWORD, "code": code }).to_string();
    let first = send(&state, &Client::default(), Method::POST, "/api/v1/session", Some(&body), false).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let replay = send(&state, &Client::default(), Method::POST, "/api/v1/session", Some(&body), false).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "a replayed code is refused");

    // Unknown alias, wrong password, wrong code: one answer for all.
    let cases = [
        serde_json::json!({ "alias": "nobody", "password": PASSWORD, "code": "123456" }),
        serde_json::json!({ "alias": "ana", "password": "wrong password 1", "code": code_now(&state, &secret) }),
        serde_json::json!({ "alias": "ana", "password": PASSWORD, "code": "000000" }),
    ];
    let mut bodies = Vec::new();
    for c in &cases {
        let a = send(&state, &Client::default(), Method::POST, "/api/v1/session", Some(&c.to_string()), false).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        bodies.push(a.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");

    // After five failures for one alias, even the right code is refused for a while.
    for _ in 0..3 {
        let c = serde_json::json!({ "alias": "ana", "password": "wrong password 1", "code": "111111" });
        send(&state, &Client::default(), Method::POST, "/api/v1/session", Some(&c.to_string()), false).await;
    }
    env.clock.advance(Duration::from_secs(30));
    let good = serde_json::json!({ "alias": "ana", "password": PASSWORD, "code": code_now(&state, &secret) });
    let limited =
        send(&state, &Client::default(), Method::POST, "/api/v1/session", Some(&good.to_string()), false).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.body);
    env.clock.advance(Duration::from_secs(16 * 60));
    let good = serde_json::json!({ "alias": "ana", "password": PASSWORD, "code": code_now(&state, &secret) });
    let later = send(&state, &Client::default(), Method::POST, "/api/v1/session", Some(&good.to_string()), false).await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.body);

    // A used enrollment code does not work again, and weak passwords are refused.
    let v = quietline::roster::get(&state.db, "ana").await.unwrap();
    let code = quietline::accounts::sessions::issue_enrollment_code(&state, &v, quietline::audit::Actor::Operator)
        .await
        .unwrap();
    let weak = serde_json::json!({ "alias": "ana", "code": code.expose_secret(), "password": "password1234" });
    let a = send(&state, &Client::default(), Method::POST, "/api/v1/enrollment", Some(&weak.to_string()), false).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("too easy to guess"), "{}", a.body);

    // An unknown alias and a wrong code get the same answer, even with a weak password.
    let probe = |alias: &str| serde_json::json!({ "alias": alias, "code": "AAAA-BBBB-CCCC", "password": "short" });
    let unknown =
        send(&state, &Client::default(), Method::POST, "/api/v1/enrollment", Some(&probe("zed").to_string()), false)
            .await;
    let known =
        send(&state, &Client::default(), Method::POST, "/api/v1/enrollment", Some(&probe("ana").to_string()), false)
            .await;
    assert_eq!((unknown.status, &unknown.body), (known.status, &known.body));

    // Guessing enrollment codes stops after five tries for an alias (one used above).
    for _ in 0..4 {
        let guess = serde_json::json!({ "alias": "ana", "code": "AAAA-BBBB-CCCC", "password": PASSWORD });
        let a =
            send(&state, &Client::default(), Method::POST, "/api/v1/enrollment", Some(&guess.to_string()), false).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let right = serde_json::json!({ "alias": "ana", "code": code.expose_secret(), "password": PASSWORD });
    let a = send(&state, &Client::default(), Method::POST, "/api/v1/enrollment", Some(&right.to_string()), false).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "even the right code waits: {}", a.body);
}

both!(sessions_expire_and_revocation_ends_them_at_once);
async fn sessions_expire_and_revocation_ends_them_at_once(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    let ana = enrolled(&env, &state, "ana", "+14155550101", "dispatcher").await;

    // Idle for 31 minutes: gone.
    env.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(send(&state, &ana, Method::GET, "/api/v1/me", None, false).await.status, StatusCode::UNAUTHORIZED);

    // Used every 20 minutes, a session still ends after 12 hours.
    let ana = sign_in(&env, &state, "ana").await;
    for _ in 0..(12 * 3) {
        assert_eq!(send(&state, &ana, Method::GET, "/api/v1/me", None, false).await.status, StatusCode::OK);
        env.clock.advance(Duration::from_secs(20 * 60));
    }
    assert_eq!(send(&state, &ana, Method::GET, "/api/v1/me", None, false).await.status, StatusCode::UNAUTHORIZED);

    // The dashboard's own refresh does not keep an idle session alive.
    let ana = sign_in(&env, &state, "ana").await;
    env.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(send(&state, &ana, Method::GET, "/console?auto=1", None, false).await.status, StatusCode::OK);
    env.clock.advance(Duration::from_secs(15 * 60));
    let idle = send(&state, &ana, Method::GET, "/console?auto=1", None, false).await;
    assert_eq!(idle.status, StatusCode::SEE_OTHER, "35 minutes without anyone at the screen");

    // An API token reads items; it cannot manage anything or make more tokens.
    let v = quietline::roster::get(&state.db, "ana").await.unwrap();
    let t = quietline::accounts::create_token(&state.db, &v, Duration::from_secs(3600), state.vault.clock().now())
        .await
        .unwrap();
    for (method, path) in
        [(Method::POST, "/api/v1/me/tokens"), (Method::GET, "/api/v1/dashboard"), (Method::POST, "/api/v1/incidents")]
    {
        let r = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", t.expose_secret()))
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        assert_eq!(quietline::app(state.clone()).oneshot(r).await.unwrap().status(), StatusCode::FORBIDDEN, "{path}");
    }

    // Revocation: two sessions and an API token all stop working at once.
    let one = sign_in(&env, &state, "ana").await;
    let two = sign_in(&env, &state, "ana").await;
    let v = quietline::roster::get(&state.db, "ana").await.unwrap();
    let token = quietline::accounts::create_token(&state.db, &v, Duration::from_secs(3600), state.vault.clock().now())
        .await
        .unwrap();
    let bearer = |path: &str| {
        Request::get(path)
            .header("authorization", format!("Bearer {}", token.expose_secret()))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(quietline::app(state.clone()).oneshot(bearer("/api/v1/me")).await.unwrap().status(), StatusCode::OK);
    env.cli(&["volunteer", "revoke", "ana"]).await.unwrap();
    let revoked = quietline::roster::get(&state.db, "ana").await.unwrap();
    assert!(!revoked.on_shift);
    assert!(quietline::store::accounts::is_revoked(state.db.pool(), revoked.id).await.unwrap());
    for c in [&one, &two] {
        assert_eq!(send(&state, c, Method::GET, "/api/v1/me", None, false).await.status, StatusCode::UNAUTHORIZED);
    }
    let after = quietline::app(state.clone()).oneshot(bearer("/api/v1/me")).await.unwrap().status();
    assert_eq!(after, StatusCode::UNAUTHORIZED);
    // And they cannot sign in again without a new enrollment code.
    env.clock.advance(Duration::from_secs(30));
    let body = serde_json::json!({ "alias": "ana", "password": PASSWORD, "code": "123456" }).to_string();
    let a = send(&state, &Client::default(), Method::POST, "/api/v1/session", Some(&body), false).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

both!(changes_without_the_csrf_token_are_refused);
async fn changes_without_the_csrf_token_are_refused(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    let ana = enrolled(&env, &state, "ana", "+14155550101", "dispatcher").await;
    let forged = Client { cookie: ana.cookie.clone(), csrf: None };
    let wrong = Client { cookie: ana.cookie.clone(), csrf: Some("0".repeat(32)) };
    for c in [&forged, &wrong] {
        let a = send(&state, c, Method::PUT, "/api/v1/me/shift", Some(r#"{"on": true}"#), false).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
        let a = send(&state, c, Method::POST, "/console/shift", Some("on=true"), true).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
        let a = send(&state, c, Method::POST, "/console/shift", Some("on=true&csrf=nope"), true).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    }
    assert!(!quietline::roster::get(&state.db, "ana").await.unwrap().on_shift, "nothing changed");
    let ok = send(&state, &ana, Method::PUT, "/api/v1/me/shift", Some(r#"{"on": true}"#), false).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let csrf = ana.csrf.clone().unwrap();
    // A form from another site is refused, also the public ones.
    let cross = Request::post("/console/sign-in")
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("alias=ana&password=x&code=1"))
        .unwrap();
    assert_eq!(quietline::app(state.clone()).oneshot(cross).await.unwrap().status(), StatusCode::FORBIDDEN);
    let form =
        send(&state, &forged, Method::POST, "/console/shift", Some(&format!("on=false&csrf={csrf}")), true).await;
    assert_eq!(form.status, StatusCode::SEE_OTHER, "{}", form.body);
    assert!(!quietline::roster::get(&state.db, "ana").await.unwrap().on_shift);

    // A volunteer makes their own API token for `quietline open`; it works as a bearer.
    let a = send(&state, &ana, Method::POST, "/api/v1/me/tokens", Some(r#"{"lifetime": "7d"}"#), false).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let token: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let bearer = Request::get("/api/v1/me")
        .header("authorization", format!("Bearer {}", token["token"].as_str().unwrap()))
        .body(Body::empty())
        .unwrap();
    assert_eq!(quietline::app(state.clone()).oneshot(bearer).await.unwrap().status(), StatusCode::OK);
    let too_long = send(&state, &ana, Method::POST, "/api/v1/me/tokens", Some(r#"{"lifetime": "365d"}"#), false).await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A path for a route template: incident 1 exists, the alias does not.
fn concrete(template: &str) -> String {
    template.replace("{id}", "1").replace("{alias}", "nobody-here")
}

fn sample_body(method: &Method, path: &str) -> Option<(&'static str, bool)> {
    if *method == Method::GET {
        return None;
    }
    if path.starts_with("/console") {
        return Some((
            "on=true&action=verify&code=1&alias=x&password=x&password2=x&zone=north&kind=other&location=x&phone=x&roles=x&languages=en&zones=north",
            true,
        ));
    }
    Some(("{}", false))
}

both!(every_route_with_every_role_follows_the_table);
async fn every_route_with_every_role_follows_the_table(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    let roles = ["coordinator", "dispatcher", "observer", "attorney"];
    let mut clients: Vec<(String, String, Client)> = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let alias = format!("{role}-1");
        let client = enrolled(&env, &state, &alias, &format!("+1415555011{i}"), role).await;
        clients.push((alias, role.to_string(), client));
    }
    // Something for the routes to find: an incident, a call, a public text.
    let report = quietline::dispatch::NewReport {
        zone: quietline::roster::Zone::parse("north").unwrap(),
        kind: quietline::dispatch::Kind::Sighting,
        location: "somewhere",
        description: "",
    };
    quietline::dispatch::open(&state, report, quietline::audit::Actor::Operator).await.unwrap();
    quietline::calls::incoming(&state, "CA00000000000000000000000000000001", CALLER).await.unwrap();
    let sender = quietline::phone::PhoneNumber::parse(CALLER).unwrap();
    quietline::sms::intake::incoming(&state, &sender, "a text", false).await.unwrap();

    let sign_outs = ["/api/v1/session", "/api/v1/sessions", "/console/sign-out", "/console/sign-out-everywhere"];
    let mut bodies = String::new();
    let mut checked = 0;
    for (method, template, access) in ROUTES {
        let path = concrete(template);
        let sample = sample_body(method, &path);
        // Anonymous.
        let anon =
            send(&state, &Client::default(), method.clone(), &path, sample.map(|s| s.0), sample.is_some_and(|s| s.1))
                .await;
        let refused = |a: &Answer| {
            a.status == StatusCode::UNAUTHORIZED
                || (a.status == StatusCode::SEE_OTHER
                    && a.headers.get("location").is_some_and(|l| l == "/console/sign-in"))
        };
        match access {
            // A public route may answer 401 for a failed sign-in, never "sign in first".
            Access::Public => assert!(
                !anon.body.contains("sign in first")
                    && anon.headers.get("location").is_none_or(|l| l != "/console/sign-in"),
                "{method} {template} is public but refused: {}",
                anon.status
            ),
            _ => assert!(refused(&anon), "{method} {template} let an anonymous client in: {}", anon.status),
        }
        // Every role, each with a fresh session when the route ends sessions.
        for (alias, role, stored) in clients.iter_mut() {
            let ends_sessions = sign_outs.contains(template) && *method != Method::GET;
            let client = if ends_sessions { sign_in(&env, &state, alias).await } else { stored.clone() };
            let mut body = sample.map(|s| s.0.to_string());
            if let (Some(b), true) = (&mut body, path.starts_with("/console")) {
                b.push_str(&format!("&csrf={}", client.csrf.clone().unwrap()));
            }
            let a = send(&state, &client, method.clone(), &path, body.as_deref(), sample.is_some_and(|s| s.1)).await;
            let by_table = a.body.contains("your roles do not allow this");
            let expected_allowed = match access {
                Access::Roles(allowed) => allowed.iter().any(|r| r.as_str() == role),
                _ => true,
            };
            assert!(
                !refused(&a) || *access == Access::Public || ends_sessions,
                "{method} {template} as {role}: signed out? {}",
                a.status
            );
            assert_eq!(
                !by_table,
                expected_allowed,
                "{method} {template} as {role}: status {} body {}",
                a.status,
                &a.body[..a.body.len().min(200)]
            );
            assert_ne!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {template} as {role}: {}", a.body);
            if template.starts_with("/console") && a.status == StatusCode::OK {
                let csp = a.headers.get("content-security-policy").unwrap().to_str().unwrap();
                assert!(csp.starts_with("default-src 'none'; script-src 'self';"), "{csp}");
                assert_eq!(a.headers.get("x-frame-options").unwrap(), "DENY");
                assert_eq!(a.headers.get("referrer-policy").unwrap(), "no-referrer");
                if !template.ends_with(".css") && !template.ends_with(".js") {
                    assert_eq!(a.headers.get("cache-control").unwrap(), "no-store");
                    // The one script is ours, from this server; nothing inline.
                    let scripts = a.body.matches("<script").count();
                    let ours =
                        a.body.matches(r#"<script type="module" src="/console/static/quietline.js"></script>"#).count();
                    assert_eq!(scripts, ours, "{template}: a script other than quietline.js");
                }
            }
            bodies.push_str(&a.body);
            checked += 1;
            if ends_sessions {
                // "Everywhere" ended the stored session too.
                *stored = sign_in(&env, &state, alias).await;
            }
        }
    }
    assert_eq!(checked, ROUTES.len() * roles.len());
    // No page or answer carried a number: the caller's, or a volunteer's.
    for number in [CALLER, CALLER_DIGITS, "4155550110", "4155550111"] {
        assert!(!bodies.contains(number), "a response carried {number}");
    }
    assert!(bodies.contains("coordinator-1"), "the roster was in the responses, so the scan can see text");
}

both!(the_openapi_document_describes_every_api_route);
async fn the_openapi_document_describes_every_api_route(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    let a = send(&state, &Client::default(), Method::GET, "/api/v1/openapi.json", None, false).await;
    assert_eq!(a.status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (method, template, _) in
        ROUTES.iter().filter(|(_, t, _)| t.starts_with("/api/") && !t.ends_with("openapi.json"))
    {
        let op = &doc["paths"][*template][method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        assert!(
            op["responses"].as_object().unwrap().keys().any(|k| k.starts_with('4')),
            "{template}: errors described"
        );
    }
    // And the other way round: every operation the document (the router) has is in the table.
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            assert!(quietline::web::auth::access(&method, path).is_some(), "{method} {path} is not in the table");
        }
    }
}

both!(behind_a_local_proxy_the_limit_counts_the_forwarded_network);
async fn behind_a_local_proxy_the_limit_counts_the_forwarded_network(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state_with(&[("QUIETLINE_CLIENT_IP_HEADER", "X-Forwarded-For")]).await;
    let attempt = |client: &'static str, alias: String| {
        let state = state.clone();
        async move {
            let body = serde_json::json!({ "alias": alias, "password": "wrong password 1", "code": "123456" });
            let mut r = Request::post("/api/v1/session")
                .header("content-type", "application/json")
                .header("x-forwarded-for", format!("10.9.9.9, {client}"))
                .body(Body::from(body.to_string()))
                .unwrap();
            let proxy: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
            r.extensions_mut().insert(axum::extract::ConnectInfo(proxy));
            quietline::app(state).oneshot(r).await.unwrap().status()
        }
    };
    // Twenty failures from one network, each for another alias (so no alias limit).
    for i in 0..20 {
        assert_eq!(attempt("198.51.100.7", format!("guess{i}")).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(attempt("198.51.100.99", "guess-next".into()).await, StatusCode::TOO_MANY_REQUESTS, "same /24");
    assert_eq!(attempt("203.0.113.9", "guess-next".into()).await, StatusCode::UNAUTHORIZED, "another network");
}

both!(console_and_api_answer_an_outage_alike);
async fn console_and_api_answer_an_outage_alike(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    let ana = enrolled(&env, &state, "ana", "+14155550131", "dispatcher").await;
    let csrf = ana.csrf.clone().unwrap();
    // Writes refused, reads still answered: the session is found, the change is not kept.
    let refused = WritesRefused::start(&env, &["sessions", "incidents"]).await;
    let pairs = [
        ((Method::POST, "/console/sign-out", format!("csrf={csrf}")), (Method::DELETE, "/api/v1/session", None)),
        (
            (Method::POST, "/console/incidents", format!("csrf={csrf}&zone=north&kind=other&location=x")),
            (Method::POST, "/api/v1/incidents", Some(r#"{"zone": "north", "location": "x"}"#)),
        ),
    ];
    for ((cm, cpath, form), (am, apath, json)) in pairs {
        let console = send(&state, &ana, cm, cpath, Some(&form), true).await;
        let api = send(&state, &ana, am, apath, json, false).await;
        assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE, "{apath}: {}", api.body);
        assert_eq!(console.status, api.status, "{cpath}: {}", console.body);
        assert!(console.body.contains("nothing was stored"), "{cpath}: {}", console.body);
    }
    refused.end().await;
    // The database gone altogether: signing in on either gets the same answer.
    state.db.close().await;
    let form = "alias=ana&password=x&code=123456";
    let console = send(&state, &Client::default(), Method::POST, "/console/sign-in", Some(form), true).await;
    let json = r#"{"alias": "ana", "password": "x", "code": "123456"}"#;
    let api = send(&state, &Client::default(), Method::POST, "/api/v1/session", Some(json), false).await;
    assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE, "{}", api.body);
    assert_eq!(console.status, api.status, "{}", console.body);
}

both!(the_console_shows_the_configured_note_lifetime);
async fn the_console_shows_the_configured_note_lifetime(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state_with(&[("QUIETLINE_RETENTION_NOTE", "12d")]).await;
    let ana = enrolled(&env, &state, "ana", "+14155550131", "dispatcher").await;
    let key = crate::support::new_reader(env.dir.path(), "ana").public;
    let key = quietline::vault::AgeRecipient::parse(&key).unwrap();
    quietline::roster::replace_keys(&state.db, &state.vault, "ana", &key).await.unwrap();
    let opened =
        send(&state, &ana, Method::POST, "/api/v1/incidents", Some(r#"{"zone": "north", "location": "x"}"#), false)
            .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let id = serde_json::from_str::<serde_json::Value>(&opened.body).unwrap()["id"].as_i64().unwrap();
    let note =
        send(&state, &ana, Method::POST, &format!("/api/v1/incidents/{id}/notes"), Some(r#"{"text": "seen"}"#), false)
            .await;
    assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
    let page = send(&state, &ana, Method::GET, &format!("/console/incidents/{id}"), None, false).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("deleted 12 days after the incident closes"), "{}", page.body);
    assert!(!page.body.contains("30 days"), "{}", page.body);
}
