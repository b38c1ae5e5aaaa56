//! The roster through the CLI code path: add, list, shift, remove, and bad input
//! that must change nothing.

use crate::both;
use crate::support::{Backend, TestEnv};

const KEY: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

fn list_json(out: &str) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(out).expect("json").as_array().unwrap().clone()
}

async fn listed(env: &TestEnv) -> Vec<serde_json::Value> {
    list_json(&env.cli(&["volunteer", "list", "--json"]).await.unwrap())
}

async fn add(env: &TestEnv, alias: &str, phone: &str, roles: &str) -> Result<String, String> {
    env.cli(&[
        "volunteer",
        "add",
        "--alias",
        alias,
        "--phone",
        phone,
        "--roles",
        roles,
        "--languages",
        "en,es",
        "--zones",
        "north,south",
    ])
    .await
}

both!(roster_crud);
async fn roster_crud(backend: Backend) {
    let env = TestEnv::new(backend).await;
    assert!(env.cli(&["volunteer", "list"]).await.unwrap().contains("roster is empty"));

    let out = add(&env, "Maria", "+1 415 555 0100", "dispatcher,coordinator").await.unwrap();
    assert!(out.contains("added maria"), "{out}");
    env.cli(&[
        "volunteer",
        "add",
        "--alias",
        "tomas",
        "--phone",
        "+14155550101",
        "--roles",
        "observer",
        "--languages",
        "es",
        "--zones",
        "south",
        "--age-recipient",
        KEY,
    ])
    .await
    .unwrap();
    add(&env, "ana", "+525512345678", "attorney").await.unwrap();

    let rows = listed(&env).await;
    let aliases: Vec<&str> = rows.iter().map(|r| r["alias"].as_str().unwrap()).collect();
    assert_eq!(aliases, ["ana", "maria", "tomas"]);
    let maria = &rows[1];
    assert_eq!(maria["roles"], serde_json::json!(["dispatcher", "coordinator"]));
    assert_eq!(maria["languages"], serde_json::json!(["en", "es"]));
    assert_eq!(maria["zones"], serde_json::json!(["north", "south"]));
    assert_eq!(maria["on_shift"], false);
    assert_eq!(maria["phone_hint"], "…00");
    assert_eq!(rows[2]["keys"], serde_json::json!([KEY]));

    let table = env.cli(&["volunteer", "list"]).await.unwrap();
    assert!(table.lines().next().unwrap().starts_with("ALIAS"), "{table}");
    assert!(!table.contains("4155550100"), "the table must not print phone numbers:\n{table}");

    assert!(env.cli(&["shift", "on", "MARIA"]).await.unwrap().contains("maria is now on shift"));
    env.cli(&["shift", "on", "tomas"]).await.unwrap();
    env.cli(&["shift", "off", "tomas"]).await.unwrap();
    let on: Vec<bool> = listed(&env).await.iter().map(|r| r["on_shift"].as_bool().unwrap()).collect();
    assert_eq!(on, [false, true, false]);

    assert!(env.cli(&["volunteer", "remove", "tomas"]).await.unwrap().contains("removed tomas"));
    let aliases: Vec<String> = listed(&env).await.iter().map(|r| r["alias"].as_str().unwrap().to_string()).collect();
    assert_eq!(aliases, ["ana", "maria"]);
    // The removed volunteer's number is free for someone new.
    add(&env, "tomas2", "+14155550101", "observer").await.unwrap();
}

both!(bad_input_changes_nothing);
async fn bad_input_changes_nothing(backend: Backend) {
    let env = TestEnv::new(backend).await;
    add(&env, "maria", "+14155550100", "dispatcher").await.unwrap();
    env.cli(&["shift", "on", "maria"]).await.unwrap();
    let before = listed(&env).await;

    let cases: [(&str, &str, &str, &str); 6] = [
        ("maria", "+14155550199", "dispatcher", "already on the roster"),
        ("MARIA", "+14155550199", "dispatcher", "already on the roster"),
        ("lucia", "+1 415 555 0100", "dispatcher", "phone number already belongs"),
        ("lucia", "415-555-0100", "dispatcher", "E.164"),
        ("lucia", "+14155550199", "dispatcher,admin", "unknown role"),
        ("lu cia", "+14155550199", "dispatcher", "not an alias"),
    ];
    for (alias, phone, roles, expected) in cases {
        let err = add(&env, alias, phone, roles).await.expect_err(alias);
        assert!(err.contains(expected), "{alias}/{phone}/{roles}: {err:?} should say {expected:?}");
    }
    let err = env.try_add_volunteer("lucia", "+14155550199", "observer", "en", Some("age1qqqq")).await.unwrap_err();
    assert!(err.contains("age public key"), "{err}");

    let err = env.cli(&["volunteer", "remove", "nobody"]).await.unwrap_err();
    assert!(err.contains("no volunteer called \"nobody\""), "{err}");
    let err = env.cli(&["shift", "off", "nobody"]).await.unwrap_err();
    assert!(err.contains("no volunteer called"), "{err}");

    assert_eq!(listed(&env).await, before, "failed commands must leave the roster as it was");
}

both!(migrations_apply_once_from_empty);
async fn migrations_apply_once_from_empty(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let first = env.cli(&["migrate"]).await.unwrap();
    let all = quietline::store::MIGRATIONS_SQLITE.len();
    assert_eq!(all, quietline::store::MIGRATIONS_POSTGRES.len());
    assert!(first.starts_with(&format!("{all} migration(s) applied")), "{first}");
    let again = env.cli(&["migrate"]).await.unwrap();
    assert!(again.starts_with("0 migration(s) applied"), "{again}");

    let init = env.cli(&["init"]).await.unwrap();
    assert!(init.contains("0 migration(s) applied"), "{init}");
    let file = env.data_dir().join("quietline.toml");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    // The template parses and, being all comments, changes nothing.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("# languages = \"\""));
    std::fs::write(&file, format!("{text}\nlanguages = \"en,es\"\n")).unwrap();
    assert_eq!(env.config().languages.len(), 2);
    let init = env.cli(&["init"]).await.unwrap();
    assert!(init.contains("kept as it was"), "{init}");
    assert!(std::fs::read_to_string(&file).unwrap().ends_with("languages = \"en,es\"\n"));
}
