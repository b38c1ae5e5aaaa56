//! Device keys: several per volunteer, each a recipient of what is sealed to
//! them from then on; removed keys and revoked volunteers read nothing new; the
//! one key of earlier versions carried over by the migration.

use std::borrow::Cow;
use std::time::Duration;

use quietline::items::{self, Content, ItemClass};
use quietline::keys::{self, KeyError};
use quietline::roster;
use quietline::store::Db;

use crate::both;
use crate::support::{Backend, TestEnv};

fn identity() -> (age::x25519::Identity, String) {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    (id, public)
}

/// What a holder of `identity` reads of item `id` (the server's epoch layer
/// removed as the API does), or `None` when it is not sealed to them.
async fn read(env_state: &quietline::AppState, id: i64, identity: &age::x25519::Identity) -> Option<Vec<u8>> {
    let sealed = items::ciphertext(&env_state.db, &env_state.vault, id).await.unwrap();
    let identities: Vec<Box<dyn age::Identity + Send + Sync>> = vec![Box::new(identity.clone())];
    quietline::vault::open_as_reader(&sealed, &identities).ok().map(|plain| plain.to_vec())
}

async fn every_device_of_a_volunteer_reads_what_is_sealed_to_them(backend: Backend) {
    let env = TestEnv::new(backend).await;
    env.add_volunteer("ana", "+14155550101", "attorney", "en", None).await;
    let state = env.state().await;
    let ana = roster::get(&state.db, "ana").await.unwrap();
    assert!(!ana.can_read(), "no key yet");

    let (phone, phone_public) = identity();
    let (laptop, laptop_public) = identity();
    let first = keys::register(&state, &ana, &phone_public, "phone").await.unwrap();
    assert!(first.new);
    let again = keys::register(&state, &ana, &phone_public, "phone again").await.unwrap();
    assert!(!again.new, "the same key twice is one key");
    assert_eq!(again.key.id, first.key.id);
    keys::register(&state, &ana, &laptop_public, "laptop").await.unwrap();
    let listed: Vec<String> = keys::list(&state, &ana).await.unwrap().into_iter().map(|k| k.label).collect();
    assert_eq!(listed, ["phone", "laptop"]);

    let ana = roster::get(&state.db, "ana").await.unwrap();
    assert_eq!(ana.keys.len(), 2);
    let note = b"two vans at 5th and Main";
    let stored = items::store(
        &state.db,
        &state.vault,
        ItemClass::Note,
        Content::Plaintext(note),
        &[&ana],
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    assert_eq!(read(&state, stored.id, &phone).await.as_deref(), Some(&note[..]));
    assert_eq!(read(&state, stored.id, &laptop).await.as_deref(), Some(&note[..]));

    // The laptop is given away: what is sealed after is not for it; what was
    // sealed before stays readable on it (it was sealed to it).
    keys::remove(&state, &ana, listed_id(&state, &ana, "laptop").await).await.unwrap();
    let ana = roster::get(&state.db, "ana").await.unwrap();
    let later = items::store(
        &state.db,
        &state.vault,
        ItemClass::Note,
        Content::Plaintext(b"later"),
        &[&ana],
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    assert_eq!(read(&state, later.id, &phone).await.as_deref(), Some(&b"later"[..]));
    assert_eq!(read(&state, later.id, &laptop).await, None);
    assert!(matches!(keys::remove(&state, &ana, 999_999).await, Err(KeyError::NotFound)));
}
both!(every_device_of_a_volunteer_reads_what_is_sealed_to_them);

async fn listed_id(state: &quietline::AppState, v: &roster::Volunteer, label: &str) -> i64 {
    keys::list(state, v).await.unwrap().into_iter().find(|k| k.label == label).unwrap().id
}

async fn bad_keys_and_names_change_nothing(backend: Backend) {
    let env = TestEnv::new(backend).await;
    env.add_volunteer("ana", "+14155550101", "attorney", "en", None).await;
    let state = env.state().await;
    let ana = roster::get(&state.db, "ana").await.unwrap();
    let (_, public) = identity();
    for (key, label) in
        [("age1notakey", "phone"), (public.as_str(), ""), (public.as_str(), "a\nb"), (public.as_str(), &"x".repeat(61))]
    {
        let e = keys::register(&state, &ana, key, label).await.unwrap_err();
        assert!(matches!(e, KeyError::Invalid(_)), "{key} {label:?}: {e}");
    }
    assert!(keys::list(&state, &ana).await.unwrap().is_empty());
    for i in 0..keys::MAX_KEYS {
        keys::register(&state, &ana, &identity().1, &format!("device {i}")).await.unwrap();
    }
    assert!(matches!(keys::register(&state, &ana, &public, "one more").await, Err(KeyError::TooMany)));
    assert_eq!(keys::list(&state, &ana).await.unwrap().len(), keys::MAX_KEYS);
}
both!(bad_keys_and_names_change_nothing);

async fn revocation_deletes_every_device_key(backend: Backend) {
    let env = TestEnv::new(backend).await;
    env.add_volunteer("ana", "+14155550101", "dispatcher", "en", None).await;
    let state = env.state().await;
    let ana = roster::get(&state.db, "ana").await.unwrap();
    keys::register(&state, &ana, &identity().1, "phone").await.unwrap();
    keys::register(&state, &ana, &identity().1, "laptop").await.unwrap();
    env.cli(&["volunteer", "revoke", "ana"]).await.unwrap();
    let ana = roster::get(&state.db, "ana").await.unwrap();
    assert!(ana.keys.is_empty() && !ana.can_read());
    assert!(keys::list(&state, &ana).await.unwrap().is_empty());
    assert!(matches!(keys::register(&state, &ana, &identity().1, "phone").await, Err(KeyError::Revoked)));
    // The coordinator's `volunteer set-key` makes one key the only one.
    let (_, public) = identity();
    env.cli(&["volunteer", "set-key", "ana", &public]).await.unwrap();
    let ana = roster::get(&state.db, "ana").await.unwrap();
    assert_eq!(ana.keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(), [public.as_str()]);
}
both!(revocation_deletes_every_device_key);

/// A database of the previous version, with a volunteer's one key: after the
/// migration it is their first device key, and nothing else changed.
async fn the_single_key_of_earlier_versions_becomes_a_device_key(backend: Backend) {
    let env = TestEnv::new(backend).await;
    std::fs::create_dir_all(env.data_dir()).unwrap();
    let db = Db::connect(&env.config().database_url()).await.unwrap();
    let list = match backend {
        Backend::Sqlite => quietline::store::migrations::MIGRATIONS_SQLITE,
        Backend::Postgres => quietline::store::migrations::MIGRATIONS_POSTGRES,
    };
    let before: Vec<sqlx::migrate::Migration> = list
        .iter()
        .filter(|(version, _, _)| *version < 8)
        .map(|(version, name, sql)| {
            use sqlx::SqlSafeStr;
            sqlx::migrate::Migration::new(
                *version,
                Cow::Borrowed(*name),
                sqlx::migrate::MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    sqlx::migrate::Migrator::with_migrations(before).run(db.pool()).await.unwrap();
    let (_, public) = identity();
    sqlx::query(
        "INSERT INTO volunteers (alias, phone_sealed, phone_lookup, roles, languages, zones, age_recipient) \
         VALUES ('ana', $1, 'lookup', 'attorney', 'en', 'north', $2), \
                ('ben', $1, 'lookup-b', 'dispatcher', 'en', 'north', NULL)",
    )
    .bind(b"sealed".to_vec())
    .bind(&public)
    .execute(db.pool())
    .await
    .unwrap();
    assert_eq!(db.migrate().await.unwrap(), list.len() - 7);
    let ana = roster::get(&db, "ana").await.unwrap();
    assert_eq!(ana.keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(), [public.as_str()]);
    assert!(roster::get(&db, "ben").await.unwrap().keys.is_empty());
    db.close().await;
}
both!(the_single_key_of_earlier_versions_becomes_a_device_key);
