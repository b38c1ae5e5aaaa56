//! The vault end to end: items sealed to their readers, fetched by readers only,
//! opened with `quietline open`; the reference age CLI as an independent peer;
//! epoch destruction against a backup; numbers sealed at rest; bad input.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use quietline::AppState;
use quietline::items::{self, Content, ItemClass, ItemError};
use quietline::roster;
use quietline::vault::VaultError;
use tower::ServiceExt;

use crate::both;
use crate::support::{Backend, TestEnv, new_reader};

async fn add(env: &TestEnv, alias: &str, phone: &str, roles: &str, key: Option<&str>) {
    env.add_volunteer(alias, phone, roles, "en", key).await;
}

async fn request(state: &AppState, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = quietline::app(state.clone()).oneshot(req).await.unwrap();
    let status = response.status();
    (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
}

async fn token(state: &AppState, alias: &str) -> String {
    let v = roster::get(&state.db, alias).await.unwrap();
    let t = quietline::accounts::create_token(&state.db, &v, Duration::from_secs(86_400), state.vault.clock().now())
        .await
        .unwrap();
    t.expose_secret().to_string()
}

fn get_ciphertext(id: i64, token: Option<&str>) -> Request<Body> {
    let mut r = Request::get(format!("/api/v1/items/{id}/ciphertext"));
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    r.body(Body::empty()).unwrap()
}

const NOTE: &str = "Detained at 5th and Main, 2 unmarked vans, A-number 123-456-789";

both!(items_reach_their_readers_and_nobody_else);
async fn items_reach_their_readers_and_nobody_else(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let keys = env.dir.path();
    let (maria, ana, tomas) = (new_reader(keys, "maria"), new_reader(keys, "ana"), new_reader(keys, "tomas"));
    add(&env, "maria", "+14155550101", "dispatcher", Some(&maria.public)).await;
    add(&env, "ana", "+14155550102", "attorney", Some(&ana.public)).await;
    add(&env, "tomas", "+14155550103", "observer", Some(&tomas.public)).await;
    add(&env, "lucia", "+14155550104", "coordinator", None).await;
    let state = env.state().await;
    let tomas_token = token(&state, "tomas").await;

    // The observer writes a note: it goes to them and the legal team with a key.
    let body = serde_json::json!({ "text": NOTE }).to_string();
    let req = Request::post("/api/v1/items")
        .header("authorization", format!("Bearer {tomas_token}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let (status, body) = request(&state, req).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let created: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(created["readers"], serde_json::json!(["ana", "tomas"]));
    let id = created["id"].as_i64().unwrap();
    let expected_expiry = state.vault.clock().now().0 + 30 * 86_400;
    assert_eq!(created["expires_at"].as_i64().unwrap(), expected_expiry);

    // Ana reads it through the API and her own identity.
    let ana_token = token(&state, "ana").await;
    let (status, ciphertext) = request(&state, get_ciphertext(id, Some(&ana_token))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ciphertext.starts_with(b"age-encryption.org/v1\n"));
    assert!(!ciphertext.windows(9).any(|w| w == b"Detained "), "the server returns ciphertext only");
    let ids = quietline::vault::read_identity_file(&ana.file).unwrap();
    assert_eq!(&quietline::vault::open_as_reader(&ciphertext, &ids).unwrap()[..], NOTE.as_bytes());

    // Maria is no reader; no token and a forged token are refused; ids cannot be probed.
    let maria_token = token(&state, "maria").await;
    assert_eq!(request(&state, get_ciphertext(id, Some(&maria_token))).await.0, StatusCode::FORBIDDEN);
    assert_eq!(request(&state, get_ciphertext(id, None)).await.0, StatusCode::UNAUTHORIZED);
    let forged = format!("qlt_{}", "0".repeat(64));
    assert_eq!(request(&state, get_ciphertext(id, Some(&forged))).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(request(&state, get_ciphertext(id + 1000, Some(&ana_token))).await.0, StatusCode::FORBIDDEN);

    // `quietline open` on the server: the identity decides.
    let item = id.to_string();
    let out = env.cli(&["open", "--identity", tomas.file.to_str().unwrap(), &item]).await.unwrap();
    assert_eq!(out, NOTE);
    let err = env.cli(&["open", "--identity", maria.file.to_str().unwrap(), &item]).await.unwrap_err();
    assert!(err.contains("not one of the item's readers"), "{err}");

    // Naming readers: one without a key is refused and nothing is stored.
    let before = quietline::store::items::count(state.db.pool()).await.unwrap();
    let req = Request::post("/api/v1/items")
        .header("authorization", format!("Bearer {tomas_token}"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::json!({ "text": "x", "readers": ["lucia"] }).to_string()))
        .unwrap();
    let (status, body) = request(&state, req).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("every reader must be a volunteer who can read sealed items"));
    assert!(!String::from_utf8_lossy(&body).contains("lucia"), "the answer names nobody");
    assert_eq!(quietline::store::items::count(state.db.pool()).await.unwrap(), before);

    // Removing the only reader of an item removes the item; shared items stay.
    let lone = items::store(
        &state.db,
        &state.vault,
        ItemClass::Note,
        Content::Plaintext(b"only maria"),
        &[&roster::get(&state.db, "maria").await.unwrap()],
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    let out = env.cli(&["volunteer", "remove", "maria"]).await.unwrap();
    assert!(out.contains("1 item(s) only they could read"), "{out}");
    assert!(quietline::store::items::get(state.db.pool(), lone.id).await.unwrap().is_none());
    assert!(quietline::store::items::get(state.db.pool(), id).await.unwrap().is_some());
    assert_eq!(request(&state, get_ciphertext(id, Some(&maria_token))).await.0, StatusCode::UNAUTHORIZED);
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (install the Debian package `age`)"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

both!(the_reference_age_cli_reads_our_items_and_we_accept_its_own);
async fn the_reference_age_cli_reads_our_items_and_we_accept_its_own(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let key = env.dir.path().join("ref.key");
    run(Command::new("age-keygen").arg("-o").arg(&key));
    let public = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .expect("age-keygen writes the public key as a comment");
    add(&env, "ana", "+14155550102", "attorney", Some(&public)).await;
    let state = env.state().await;
    let ana = roster::get(&state.db, "ana").await.unwrap();

    // Ours -> the reference CLI.
    let stored = items::store(
        &state.db,
        &state.vault,
        ItemClass::Note,
        Content::Plaintext(NOTE.as_bytes()),
        &[&ana],
        Duration::from_secs(86_400),
    )
    .await
    .unwrap();
    let ciphertext = items::ciphertext_for_reader(&state.db, &state.vault, stored.id, &ana).await.unwrap();
    let file = env.dir.path().join("ours.age");
    std::fs::write(&file, &ciphertext).unwrap();
    let out = run(Command::new("age").arg("-d").arg("-i").arg(&key).arg(&file));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), NOTE);

    // The reference CLI -> ours: a client submits pre-encrypted content.
    let theirs = env.dir.path().join("theirs.age");
    let plain = env.dir.path().join("plain.txt");
    std::fs::write(&plain, "written on the observer's own laptop").unwrap();
    run(Command::new("age").arg("-r").arg(&public).arg("-o").arg(&theirs).arg(&plain));
    std::fs::remove_file(&plain).unwrap();
    let ana_token = token(&state, "ana").await;
    let req = Request::post("/api/v1/items?readers=ana&lifetime=2d")
        .header("authorization", format!("Bearer {ana_token}"))
        .header("content-type", "application/age")
        .body(Body::from(std::fs::read(&theirs).unwrap()))
        .unwrap();
    let (status, body) = request(&state, req).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["id"].as_i64().unwrap();

    // ... and a reader opens it from their own machine over HTTP.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(quietline::serve(listener, state.clone(), async {
        let _ = stop_rx.await;
    }));
    let token_file = env.dir.path().join("token");
    std::fs::write(&token_file, format!("{ana_token}\n")).unwrap();
    let out = env
        .cli(&[
            "open",
            "--identity",
            key.to_str().unwrap(),
            "--server",
            &url,
            "--token-file",
            token_file.to_str().unwrap(),
            &id.to_string(),
        ])
        .await
        .unwrap();
    assert_eq!(out, "written on the observer's own laptop");
    let err = env
        .cli(&["open", "--identity", key.to_str().unwrap(), "--server", &url, "--token", "qlt_nope", &id.to_string()])
        .await
        .unwrap_err();
    assert!(err.contains("401"), "{err}");
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();

    // Plain text posted as an age file is refused and nothing is stored.
    let before = quietline::store::items::count(state.db.pool()).await.unwrap();
    let req = Request::post("/api/v1/items?readers=ana")
        .header("authorization", format!("Bearer {ana_token}"))
        .header("content-type", "application/age")
        .body(Body::from("not encrypted at all"))
        .unwrap();
    let (status, body) = request(&state, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
    assert_eq!(quietline::store::items::count(state.db.pool()).await.unwrap(), before);
}

both!(a_backup_cannot_be_read_once_the_epoch_is_destroyed);
async fn a_backup_cannot_be_read_once_the_epoch_is_destroyed(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let ana = new_reader(env.dir.path(), "ana");
    add(&env, "ana", "+14155550102", "attorney", Some(&ana.public)).await;
    let state = env.state().await;
    let v = roster::get(&state.db, "ana").await.unwrap();
    let stored = items::store(
        &state.db,
        &state.vault,
        ItemClass::Note,
        Content::Plaintext(NOTE.as_bytes()),
        &[&v],
        Duration::from_secs(2 * 86_400),
    )
    .await
    .unwrap();

    // The backup: the database file itself on SQLite, the stored row on PostgreSQL.
    let backup_blob = match backend {
        Backend::Sqlite => {
            state.db.checkpoint().await.unwrap();
            let copy = env.dir.path().join("backup.db");
            std::fs::copy(env.sqlite_file(), &copy).unwrap();
            let backup =
                quietline::store::Db::connect(&secrecy::SecretString::from(quietline::config::sqlite_url(&copy)))
                    .await
                    .unwrap();
            let row = quietline::store::items::get(backup.pool(), stored.id).await.unwrap().unwrap();
            backup.close().await;
            row.sealed
        }
        Backend::Postgres => quietline::store::items::get(state.db.pool(), stored.id).await.unwrap().unwrap().sealed,
    };
    let sealed = quietline::vault::Sealed::from_bytes(backup_blob).unwrap();
    assert!(state.vault.age_ciphertext(&sealed).is_ok(), "readable before its lifetime ends");

    // Past the lifetime and the end of its epoch, the key goes.
    env.clock.advance(Duration::from_secs(2 * 86_400 + 3600));
    let destroyed = state.vault.destroy_ended_keys().unwrap();
    assert!(destroyed.contains(&quietline::vault::KeyName::Epoch(sealed.epoch())));
    assert!(matches!(state.vault.age_ciphertext(&sealed), Err(VaultError::Expired)));
    assert!(matches!(items::ciphertext(&state.db, &state.vault, stored.id).await, Err(ItemError::Expired)));
    let err = env.cli(&["open", "--identity", ana.file.to_str().unwrap(), &stored.id.to_string()]).await.unwrap_err();
    assert!(err.contains("expired"), "{err}");
    // No key file for that epoch is left anywhere in the keystore.
    let keystore = env.data_dir().join("keystore");
    let names: Vec<String> =
        std::fs::read_dir(&keystore).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(!names.contains(&format!("epoch-{}.key", sealed.epoch().0)), "{names:?}");
}

both!(volunteer_numbers_are_sealed_at_rest);
async fn volunteer_numbers_are_sealed_at_rest(backend: Backend) {
    let env = TestEnv::new(backend).await;
    add(&env, "maria", "+1 415 555 0123", "dispatcher", None).await;
    let state = env.state().await;
    let maria = roster::get(&state.db, "maria").await.unwrap();
    assert_eq!(maria.phone(&state.vault).unwrap().as_str(), "+14155550123");
    let phone = quietline::phone::PhoneNumber::parse("+14155550123").unwrap();
    let found = roster::find_by_phone(&state.db, &state.vault, &phone).await.unwrap().unwrap();
    assert_eq!(found.alias.as_str(), "maria");
    assert_no_clear_number(&env, &state, "4155550123").await;
}

/// No column of the roster, and on SQLite no byte of the database files, holds
/// the digits.
async fn assert_no_clear_number(env: &TestEnv, state: &AppState, digits: &str) {
    use sqlx::Row;
    let rows = sqlx::query("SELECT alias, phone_sealed, phone_lookup, legacy_phone FROM volunteers")
        .fetch_all(state.db.pool())
        .await
        .unwrap();
    for row in rows {
        let sealed: Vec<u8> = row.try_get("phone_sealed").unwrap();
        let lookup: String = row.try_get("phone_lookup").unwrap();
        let legacy: Option<String> = row.try_get("legacy_phone").unwrap();
        assert!(!sealed.windows(digits.len()).any(|w| w == digits.as_bytes()));
        assert!(!lookup.contains(digits));
        assert_eq!(legacy, None);
    }
    if env.backend == Backend::Sqlite {
        state.db.checkpoint().await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", env.sqlite_file().display()));
            if let Ok(bytes) = std::fs::read(&path) {
                assert!(
                    !bytes.windows(digits.len()).any(|w| w == digits.as_bytes()),
                    "{} holds the number",
                    path.display()
                );
            }
        }
    }
}

both!(numbers_stored_in_clear_by_an_earlier_version_are_sealed_on_upgrade);
async fn numbers_stored_in_clear_by_an_earlier_version_are_sealed_on_upgrade(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let config = env.config();
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let db = quietline::store::Db::connect(&config.database_url()).await.unwrap();
    db.migrate_to(1).await.unwrap();
    sqlx::query(
        "INSERT INTO volunteers (alias, phone, roles, languages, zones, on_shift) \
         VALUES ('maria', '+14155550123', 'dispatcher', 'en', 'north', 1)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    db.close().await;

    let state = env.state().await;
    let maria = roster::get(&state.db, "maria").await.unwrap();
    assert!(maria.on_shift);
    assert_eq!(maria.phone(&state.vault).unwrap().as_str(), "+14155550123");
    assert_no_clear_number(&env, &state, "4155550123").await;
    // A duplicate of the migrated number is still caught.
    let err = env.try_add_volunteer("other", "+14155550123", "observer", "en", None).await.unwrap_err();
    assert!(err.contains("already belongs"), "{err}");
}

both!(bad_keys_and_keystores_give_specific_errors_and_change_nothing);
async fn bad_keys_and_keystores_give_specific_errors_and_change_nothing(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let ana = new_reader(env.dir.path(), "ana");
    add(&env, "ana", "+14155550102", "attorney", Some(&ana.public)).await;

    // A one-character typo in a recipient is caught by its checksum.
    let mut typo = ana.public.clone();
    let c = if &typo[20..21] == "q" { "p" } else { "q" };
    typo.replace_range(20..21, c);
    let err = env.cli(&["volunteer", "set-key", "ana", &typo]).await.unwrap_err();
    assert!(err.contains("not an age public key"), "{err}");
    let listed = env.cli(&["volunteer", "list", "--json"]).await.unwrap();
    assert!(listed.contains(&ana.public), "the old key is kept");
    let err = env.cli(&["volunteer", "set-key", "nobody", &ana.public]).await.unwrap_err();
    assert!(err.contains("no volunteer called"), "{err}");

    let state = env.state().await;
    let v = roster::get(&state.db, "ana").await.unwrap();
    let store = |lifetime: u64| {
        let (db, vault, v) = (state.db.clone(), state.vault.clone(), v.clone());
        async move {
            items::store(&db, &vault, ItemClass::Note, Content::Plaintext(b"x"), &[&v], Duration::from_secs(lifetime))
                .await
        }
    };
    let first = store(3600 * 5).await.unwrap();
    let second = store(3600 * 30).await.unwrap();

    // A corrupt key file affects only its own epoch, and is reported as corrupt.
    let epoch_of = |id: i64| {
        let db = state.db.clone();
        async move {
            let row = quietline::store::items::get(db.pool(), id).await.unwrap().unwrap();
            quietline::vault::Sealed::from_bytes(row.sealed).unwrap().epoch()
        }
    };
    let key_file = env.data_dir().join("keystore").join(format!("epoch-{}.key", epoch_of(first.id).await.0));
    std::fs::write(&key_file, b"not a key").unwrap();
    let fresh = env.state().await; // no cached keys
    let err = items::ciphertext(&fresh.db, &fresh.vault, first.id).await.unwrap_err();
    assert!(err.to_string().contains("keystore file is corrupt"), "{err}");
    assert!(items::ciphertext(&fresh.db, &fresh.vault, second.id).await.is_ok());
    let t = token(&fresh, "ana").await;
    assert_eq!(request(&fresh, get_ciphertext(first.id, Some(&t))).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(request(&fresh, get_ciphertext(second.id, Some(&t))).await.0, StatusCode::OK);

    // A tampered blob is reported as damaged, not as expired.
    let row = quietline::store::items::get(fresh.db.pool(), second.id).await.unwrap().unwrap();
    let mut bytes = row.sealed.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    let err = fresh.vault.age_ciphertext(&quietline::vault::Sealed::from_bytes(bytes).unwrap()).unwrap_err();
    assert!(err.to_string().contains("damaged or was altered"), "{err}");

    // With the keystore directory gone, sealing fails with that reason and stores nothing.
    let before = quietline::store::items::count(fresh.db.pool()).await.unwrap();
    std::fs::rename(env.data_dir().join("keystore"), env.dir.path().join("moved-keystore")).unwrap();
    let err = items::store(
        &fresh.db,
        &fresh.vault,
        ItemClass::Note,
        Content::Plaintext(b"y"),
        &[&v],
        Duration::from_secs(86_400 * 3),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("keystore directory"), "{err}");
    assert!(err.to_string().contains("is missing"), "{err}");
    assert_eq!(quietline::store::items::count(fresh.db.pool()).await.unwrap(), before);
}

/// The reference CLI asks for a passphrase on the terminal only: it is typed
/// into a pseudo-terminal (`script`, util-linux) ahead of its prompt.
fn age_with_passphrase(args: &str, passphrase: &str, times: usize) {
    let input = format!("{passphrase}\n").repeat(times);
    let mut child = Command::new("script")
        .args(["-qec", &format!("age {args}"), "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs age on a pseudo-terminal");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "age {args}: {}", String::from_utf8_lossy(&out.stdout));
}

both!(quietline_open_reads_a_key_backup_protected_by_a_passphrase);
async fn quietline_open_reads_a_key_backup_protected_by_a_passphrase(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let ana = new_reader(env.dir.path(), "ana");
    add(&env, "ana", "+14155550102", "attorney", Some(&ana.public)).await;
    let state = env.state().await;
    let v = roster::get(&state.db, "ana").await.unwrap();
    let stored = items::store(
        &state.db,
        &state.vault,
        ItemClass::Note,
        Content::Plaintext(NOTE.as_bytes()),
        &[&v],
        // A day: the command reads on the system clock, the item was stored on
        // the test's clock (this hour's start), and an hour could pass the
        // boundary mid-test.
        Duration::from_secs(86_400),
    )
    .await
    .unwrap();
    // The identity file as the console's backup holds it, protected with age -p
    // (armored, as the console writes it, and binary).
    let pass = "copper lantern meadow 42";
    let armored = env.dir.path().join("backup.age");
    let binary = env.dir.path().join("backup.bin.age");
    let id = ana.file.display();
    age_with_passphrase(&format!("-p -a -o '{}' '{id}'", armored.display()), pass, 2);
    age_with_passphrase(&format!("-p -o '{}' '{id}'", binary.display()), pass, 2);
    let pass_file = env.dir.path().join("pass");
    std::fs::write(&pass_file, format!("{pass}\n")).unwrap();
    for backup in [&armored, &binary] {
        let out = env
            .cli(&[
                "open",
                "--identity",
                backup.to_str().unwrap(),
                "--passphrase-file",
                pass_file.to_str().unwrap(),
                &stored.id.to_string(),
            ])
            .await
            .unwrap();
        assert_eq!(out, NOTE);
    }

    // A wrong passphrase, a file cut short, no passphrase at all: one line each.
    let wrong = env.dir.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    let env = &env;
    let open = |identity: &std::path::Path, pass: &std::path::Path| {
        let args = [
            "open".to_string(),
            "--identity".into(),
            identity.display().to_string(),
            "--passphrase-file".into(),
            pass.display().to_string(),
            stored.id.to_string(),
        ];
        async move { env.cli(&args.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap_err() }
    };
    let err = open(&armored, &wrong).await;
    assert!(err.contains("wrong passphrase"), "{err}");
    let cut = env.dir.path().join("cut.age");
    let bytes = std::fs::read(&binary).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let err = open(&cut, &pass_file).await;
    assert!(err.contains("damaged or cut short"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
}
