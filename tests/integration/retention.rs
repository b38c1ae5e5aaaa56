//! Retention, proven on the raw files: canary content in every class that can
//! hold content (notes, voicemail, call-back numbers, public texts and their
//! senders, incident locations, field notes), a backup copy, the clock moved past every lifetime, one sweep,
//! then a byte scan of the database files and the keystore.

use std::path::Path;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use quietline::audit::Actor;
use quietline::dispatch::{self, Kind, NewReport};
use quietline::items::{self, Content, ItemClass};
use quietline::roster::{self, Zone};
use quietline::vault::{Sealed, VaultError};

use crate::both;
use crate::support::{Backend, TestEnv};

const NOTE: &[u8] = b"CANARY-NOTE Maria Lopez DOB 1990-04-02 A-number 201-555-019";
const AUDIO: &[u8] = b"RIFF-CANARY-VOICEMAIL-AUDIO-0123456789";
const CALLER: &str = "+14155550142";
const CALLER_DIGITS: &str = "4155550142";
const CALLBACK: &str = "+14155550143";
const CALLBACK_DIGITS: &str = "4155550143";
const INTAKE: &[u8] = b"CANARY-INTAKE they took my father Jose at the bus stop";
const SENDER: &str = "+14155550144";
const SENDER_DIGITS: &str = "4155550144";
const LOCATION: &str = "CANARY-LOCATION 1200 Mission St, back door";
const FIELD_NOTE: &[u8] = b"CANARY-FIELD-NOTE plates 7ABC123, badge 4471";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default()
}

both!(after_every_lifetime_nothing_readable_is_left);
async fn after_every_lifetime_nothing_readable_is_left(backend: Backend) {
    crate::support::captured_log(); // from here on, this binary's log is kept for the scan
    let env = TestEnv::new(backend).await;
    let attorney = age::x25519::Identity::generate();
    let key = attorney.to_public().to_string();
    env.add_volunteer("abogada", "+14155550109", "attorney,coordinator", "en", Some(&key)).await;
    let state = env.state_with(&[("QUIETLINE_LANGUAGES", "en,es")]).await;
    let reader = roster::get(&state.db, "abogada").await.unwrap();

    // 1. Canaries in every class that can hold content or a number.
    let lifetime = Duration::from_secs(30 * 86_400);
    items::store(&state.db, &state.vault, ItemClass::Note, Content::Plaintext(NOTE), &[&reader], lifetime)
        .await
        .unwrap();
    items::store(
        &state.db,
        &state.vault,
        ItemClass::Voicemail,
        Content::Plaintext(AUDIO),
        &[&reader],
        Duration::from_secs(72 * 3600),
    )
    .await
    .unwrap();
    items::store_for_server(
        &state.db,
        &state.vault,
        ItemClass::Callback,
        CALLBACK.as_bytes(),
        Duration::from_secs(86_400),
    )
    .await
    .unwrap();
    quietline::calls::incoming(&state, "CA0000000000000000000000000000c0de", CALLER).await.unwrap();
    let ended = quietline::flow::LegProgress::Finished;
    quietline::calls::status(&state, "CA0000000000000000000000000000c0de", None, ended).await.unwrap();
    env.cli(&["block", CALLER, "--for", "2d"]).await.unwrap();
    // A public text, and an incident with details and a field note, closed.
    let sender = quietline::phone::PhoneNumber::parse(SENDER).unwrap();
    let text = std::str::from_utf8(INTAKE).unwrap();
    quietline::sms::intake::incoming(&state, &sender, text, false).await.unwrap();
    let report =
        NewReport { zone: Zone::parse("north").unwrap(), kind: Kind::Detention, location: LOCATION, description: "" };
    let incident = dispatch::open(&state, report, Actor::Operator).await.unwrap();
    dispatch::add_note(&state, incident.id, &reader, FIELD_NOTE).await.unwrap();
    dispatch::close(&state, incident.id, false, Actor::Operator).await.unwrap();
    let token = quietline::accounts::create_token(
        &state.db,
        &reader,
        Duration::from_secs(7 * 86_400),
        state.vault.clock().now(),
    )
    .await
    .unwrap();

    use sqlx::Row;
    let blobs: Vec<Vec<u8>> = sqlx::query("SELECT sealed FROM sealed_items")
        .fetch_all(state.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("sealed"))
        .collect();
    // Note, voicemail, callback, intake text and sender, incident details, field
    // note (the paging copy of the location went at the close).
    assert_eq!(blobs.len(), 7);
    let keystore = env.data_dir().join("keystore");
    let keys: Vec<Vec<u8>> = files_under(&keystore).iter().map(|p| std::fs::read(p).unwrap()[4..36].to_vec()).collect();
    assert!(keys.len() >= 4, "epoch keys for three expiries and a caller window: {}", keys.len());
    let before = quietline::retention::exposure(&state).await.unwrap();
    assert!(
        before.summary.starts_with("If a subpoena arrived now, we could hand over: 5 sealed item(s)"),
        "{}",
        before.summary
    );

    // The backup: a copy of the database file (SQLite), the stored blobs (PostgreSQL).
    let backup = env.dir.path().join("backup.db");
    if backend == Backend::Sqlite {
        state.db.checkpoint().await.unwrap();
        std::fs::copy(env.sqlite_file(), &backup).unwrap();
        // The scan below can see what it looks for: the blobs are in the file now.
        let bytes = std::fs::read(env.sqlite_file()).unwrap();
        assert!(blobs.iter().all(|b| contains(&bytes, &b[40..72])), "the scan must find stored blobs");
    }

    // 2. Past every lifetime, one sweep.
    env.clock.advance(Duration::from_secs(31 * 86_400 + 2 * 3600));
    let report = quietline::retention::sweep(&state).await.unwrap();
    assert!(report.ran);
    assert_eq!((report.items, report.calls_folded), (7, 1), "{report:?}");
    assert_eq!((report.incidents, report.threads), (1, 1), "{report:?}");
    assert!(report.audit > 0, "{report:?}");
    assert!(report.keys >= keys.len(), "{report:?}");
    assert_eq!(report.tokens, 1);
    // A second sweep finds nothing left to do.
    let again = quietline::retention::sweep(&state).await.unwrap();
    assert_eq!((again.items, again.calls_folded, again.keys), (0, 0, 0));

    // 3. The raw files hold none of it.
    if backend == Backend::Sqlite {
        let mut scanned = 0;
        let db = env.sqlite_file();
        for path in [db.clone(), db.with_extension("db-wal"), db.with_extension("db-shm")]
            .into_iter()
            .chain(files_under(&keystore))
        {
            let Ok(bytes) = std::fs::read(&path) else { continue };
            scanned += 1;
            let name = path.display().to_string();
            for canary in [
                NOTE,
                AUDIO,
                CALLER.as_bytes(),
                CALLER_DIGITS.as_bytes(),
                CALLBACK.as_bytes(),
                CALLBACK_DIGITS.as_bytes(),
                INTAKE,
                SENDER_DIGITS.as_bytes(),
                LOCATION.as_bytes(),
                FIELD_NOTE,
                token.expose_secret().as_bytes(),
            ] {
                assert!(!contains(&bytes, canary), "{name} holds {:?}", String::from_utf8_lossy(canary));
            }
            for blob in &blobs {
                assert!(!contains(&bytes, &blob[40..72]), "{name} holds a sealed blob");
            }
            for key in &keys {
                assert!(!contains(&bytes, key), "{name} holds a destroyed key");
            }
        }
        assert!(scanned >= 1);
    }
    assert!(files_under(&keystore).is_empty(), "every key has ended");
    // Nor does the log: the sweep was logged, the canaries were not.
    let log = crate::support::captured_log();
    assert!(log.contains("sweep removed expired rows and keys"), "the log is captured: {log}");
    for canary in [
        NOTE,
        AUDIO,
        CALLER.as_bytes(),
        CALLER_DIGITS.as_bytes(),
        CALLBACK_DIGITS.as_bytes(),
        INTAKE,
        SENDER_DIGITS.as_bytes(),
        LOCATION.as_bytes(),
        FIELD_NOTE,
    ] {
        assert!(!contains(log.as_bytes(), canary), "the log holds {:?}", String::from_utf8_lossy(canary));
    }

    // 4. The backup cannot be opened by anyone, the reader included.
    let backup_blobs = if backend == Backend::Sqlite {
        let old = quietline::store::Db::connect(&secrecy::SecretString::from(quietline::config::sqlite_url(&backup)))
            .await
            .unwrap();
        let rows: Vec<Vec<u8>> = sqlx::query("SELECT sealed FROM sealed_items")
            .fetch_all(old.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("sealed"))
            .collect();
        old.close().await;
        rows
    } else {
        blobs.clone()
    };
    assert_eq!(backup_blobs.len(), 7);
    for blob in backup_blobs {
        let sealed = Sealed::from_bytes(blob).unwrap();
        assert!(matches!(state.vault.age_ciphertext(&sealed), Err(VaultError::Expired)));
        assert!(matches!(state.vault.open_for_server(&sealed), Err(VaultError::Expired)));
    }

    // The exposure report shows nothing held but the roster and the counts.
    let after = quietline::retention::exposure(&state).await.unwrap();
    for c in &after.classes {
        let expected = match c.class {
            "volunteer" | "daily counts" => 1,
            _ => 0,
        };
        assert_eq!(c.count, expected, "{}: {c:?}", c.class);
    }
    assert_eq!((after.live_epoch_keys, after.live_caller_token_keys), (0, 0));
    assert!(after.summary.contains("hand over: 0 sealed item(s)"), "{}", after.summary);
    let text = quietline::retention::render(&after);
    assert!(!text.contains(CALLER_DIGITS) && !text.contains("abogada"), "{text}");
}

both!(one_instance_sweeps_at_a_time_and_a_dead_sweepers_lock_goes);
async fn one_instance_sweeps_at_a_time_and_a_dead_sweepers_lock_goes(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let a = env.state().await;
    let b = env.state().await;
    let (x, y) = tokio::join!(quietline::retention::sweep(&a), quietline::retention::sweep(&b));
    assert!(x.unwrap().ran || y.unwrap().ran, "contention never fails a sweep");
    if backend == Backend::Postgres {
        // Another instance holds the lock: this one stands aside.
        use sqlx::Connection;
        let url = a.config.database_url();
        let mut other = sqlx::AnyConnection::connect(secrecy::ExposeSecret::expose_secret(&url)).await.unwrap();
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(quietline::retention::SWEEP_LOCK)
            .execute(&mut other)
            .await
            .unwrap();
        assert!(!quietline::retention::sweep(&a).await.unwrap().ran);
        // That instance dies: its connection closes, and with it the lock.
        drop(other);
        let ran = crate::support::eventually(|| async { quietline::retention::sweep(&a).await.unwrap().ran }).await;
        assert!(ran, "the lock of a dead sweeper goes with its connection");
    }
}

both!(the_exposure_report_is_for_coordinators_only);
async fn the_exposure_report_is_for_coordinators_only(backend: Backend) {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let env = TestEnv::new(backend).await;
    env.add_volunteer("ximena", "+14155550105", "coordinator", "en", None).await;
    env.add_volunteer("obs", "+14155550106", "observer", "en", None).await;
    let state = env.state().await;
    let get = |token: Option<String>| {
        let state = state.clone();
        async move {
            let mut r = Request::get("/api/v1/exposure");
            if let Some(t) = token {
                r = r.header("authorization", format!("Bearer {t}"));
            }
            let response = quietline::app(state).oneshot(r.body(Body::empty()).unwrap()).await.unwrap();
            let status = response.status();
            (status, response.into_body().collect().await.unwrap().to_bytes())
        }
    };
    let token = |alias: &'static str| {
        let state = state.clone();
        async move {
            let v = roster::get(&state.db, alias).await.unwrap();
            let t =
                quietline::accounts::create_token(&state.db, &v, Duration::from_secs(3600), state.vault.clock().now())
                    .await
                    .unwrap();
            t.expose_secret().to_string()
        }
    };
    assert_eq!(get(None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(Some(token("obs").await)).await.0, StatusCode::FORBIDDEN);
    let (status, body) = get(Some(token("ximena").await)).await;
    assert_eq!(status, StatusCode::OK);
    let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(report["summary"].as_str().unwrap().starts_with("If a subpoena arrived now"));
    let volunteers = report["classes"].as_array().unwrap().iter().find(|c| c["class"] == "volunteer").unwrap();
    assert_eq!(volunteers["count"], 2);
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains("ximena") && !text.contains("4155550105"), "no identifiers in the report: {text}");
}
