//! Instances dying mid-surge. On PostgreSQL two `quietline serve` processes share
//! one database and one data dir (server key and keystore) behind the stand-in's
//! balancer; one is killed with SIGKILL while calls and notes pour in. On SQLite,
//! which serves one instance, the one server is killed and started again. Either
//! way: every caller is bridged once or reaches voicemail, no caller is bridged
//! twice, every acknowledged note is kept and readable, and the sweeper of the
//! server left standing does its work.

use std::time::{Duration, Instant};

use crate::both;
use crate::support::provider::{CallerScript, Person, StandIn};
use crate::support::{Backend, PUBLIC_URL, ServerProcess, TestEnv, eventually, new_reader};

const CALLS: usize = 12;

/// POSTs a note to one server directly; its id when the server acknowledged it.
async fn post_note(http: &reqwest::Client, server: std::net::SocketAddr, token: &str, text: &str) -> Option<i64> {
    let answer = http
        .post(format!("http://{server}/api/v1/items"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
        .ok()?;
    if answer.status() != 201 {
        eprintln!("note answered {}: {}", answer.status(), answer.text().await.unwrap_or_default());
        return None;
    }
    let body: serde_json::Value = answer.json().await.ok()?;
    body["id"].as_i64()
}

both!(an_instance_killed_mid_surge_loses_no_caller_and_no_note);
async fn an_instance_killed_mid_surge_loses_no_caller_and_no_note(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let standin = StandIn::start().await;
    let attorney = new_reader(env.dir.path(), "abogada");
    let phones = ["+14155550130", "+14155550131", "+14155550132", "+14155550133"];
    env.dispatchers_on_shift(&standin, &phones, Person::PressesOne { answer_ms: 80, press_ms: 40 }).await;
    env.add_volunteer("abogada", "+14155550139", "attorney", "en", Some(&attorney.public)).await;
    let token = env.api_token("abogada").await;

    let vars = env.hotline_vars(&standin);
    let mut first = ServerProcess::spawn(&vars, &["serve"]);
    // PostgreSQL: a second instance beside the first. SQLite: it is refused.
    let second = match backend {
        Backend::Postgres => Some(ServerProcess::spawn(&vars, &["serve"])),
        Backend::Sqlite => {
            let refused = crate::support::run_binary(&vars, &["serve"]);
            assert!(!refused.status.success());
            assert!(refused.stderr.contains("SQLite serves one instance"), "{}", refused.stderr);
            None
        }
    };
    let mut targets = vec![format!("http://{}", first.addr)];
    if let Some(s) = &second {
        targets.push(format!("http://{}", s.addr));
    }
    standin.balance(PUBLIC_URL, &targets);

    // The surge: calls and notes, spread over the servers, and a SIGKILL halfway.
    let http = reqwest::Client::new();
    let mut callers = Vec::new();
    let mut acknowledged = Vec::new();
    let mut restarted = None;
    for i in 0..CALLS {
        let from = format!("+1415555{:04}", 2000 + i);
        callers.push(standin.place_call(&from, CallerScript { gathers: vec![None, None], talk_ms: 300 }));
        let server = match &second {
            Some(s) if i % 2 == 1 => s.addr,
            _ => first.addr,
        };
        if let Some(id) = post_note(&http, server, &token, &format!("note {i} from the field")).await {
            acknowledged.push((id, format!("note {i} from the field")));
        }
        if i == CALLS / 2 {
            let killed = std::process::Command::new("kill").args(["-KILL", &first.pid().to_string()]).status().unwrap();
            assert!(killed.success());
            first.wait(Duration::from_secs(10));
            if backend == Backend::Sqlite {
                // The one server comes back on the same data dir.
                let again = ServerProcess::spawn(&vars, &["serve"]);
                standin.balance(PUBLIC_URL, &[format!("http://{}", again.addr)]);
                restarted = Some(again);
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let survivor = second.as_ref().or(restarted.as_ref()).expect("a server left standing");

    // Every caller's call ends: bridged once, or a message left.
    let deadline = Instant::now() + Duration::from_secs(120);
    for sid in &callers {
        while standin.call(sid).is_none_or(|c| c.status != "completed") {
            assert!(Instant::now() < deadline, "call {sid} never ended; events:\n{}", standin.events().join("\n"));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let events = standin.events();
    for sid in &callers {
        let bridged = events.iter().filter(|e| e.ends_with(&format!("bridged with {sid}"))).count();
        let message = events.iter().any(|e| e.starts_with(&format!("{sid} leaves a message")));
        assert!(bridged <= 1, "{sid} was bridged {bridged} times:\n{}", events.join("\n"));
        assert!(bridged == 1 || message, "{sid} was neither bridged nor left a message:\n{}", events.join("\n"));
    }
    assert!(events.iter().any(|e| e.contains("bridged with")), "some callers reached a volunteer");

    // Every acknowledged note is there, for its reader, from the survivor.
    assert!(acknowledged.len() >= CALLS / 2, "most notes were acknowledged: {}", acknowledged.len());
    for (id, text) in &acknowledged {
        assert_eq!(attorney.read_note(&http, survivor.addr, &token, *id).await, *text);
    }

    // The survivor's sweeper works on: a note with a one-second life goes.
    let brief = http
        .post(format!("http://{}/api/v1/items", survivor.addr))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "text": "brief", "lifetime": "1s" }))
        .send()
        .await
        .unwrap();
    assert_eq!(brief.status(), 201);
    let brief: serde_json::Value = brief.json().await.unwrap();
    let brief_id = brief["id"].as_i64().unwrap();
    let state = env.state().await;
    let swept =
        eventually(|| async { quietline::store::items::get(state.db.pool(), brief_id).await.unwrap().is_none() }).await;
    assert!(swept, "the survivor's sweeper deleted the expired note");
}
