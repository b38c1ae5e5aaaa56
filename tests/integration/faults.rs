//! Faults, on the real binary behind the provider stand-in: the server killed
//! mid-surge and started again, its database gone for ten seconds, its data
//! dir's disk full. Callers always hear something from us, never the provider's
//! error; what was acknowledged stays; the server comes back by itself.

use std::time::{Duration, Instant};

use crate::both;
use crate::support::outage::{DbProxy, SmallDisk, SqliteLock, pg_host_port};
use crate::support::provider::{CallerScript, Person, StandIn};
use crate::support::{Backend, PUBLIC_URL, Reader, ServerProcess, TestEnv, eventually, new_reader};

/// What the caller hears when call handling fails (the default English text).
const FALLBACK: &str = "We cannot take your call right now";

struct Hotline {
    env: TestEnv,
    standin: StandIn,
    attorney: Reader,
    token: String,
    http: reqwest::Client,
}

/// Two dispatchers on shift who press 1, an attorney with a key and an API token.
async fn hotline(env: TestEnv) -> Hotline {
    let standin = StandIn::start().await;
    let attorney = new_reader(env.dir.path(), "abogada");
    let presses_one = Person::PressesOne { answer_ms: 50, press_ms: 30 };
    env.dispatchers_on_shift(&standin, &["+14155550141", "+14155550142"], presses_one).await;
    env.add_volunteer("abogada", "+14155550149", "attorney", "en", Some(&attorney.public)).await;
    let token = env.api_token("abogada").await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    Hotline { env, standin, attorney, token, http }
}

impl Hotline {
    fn start(&self, vars: &[(String, String)]) -> ServerProcess {
        let server = ServerProcess::spawn(vars, &["serve"]);
        self.standin.balance(PUBLIC_URL, &[format!("http://{}", server.addr)]);
        server
    }

    /// The note's text as its reader decrypts it, from the server's API.
    async fn read_note(&self, server: &ServerProcess, id: i64) -> String {
        self.attorney.read_note(&self.http, server.addr, &self.token, id).await
    }

    /// POSTs a note; the status and the answer's body.
    async fn try_note(&self, server: &ServerProcess, text: &str, lifetime: Option<&str>) -> (u16, serde_json::Value) {
        let mut body = serde_json::json!({ "text": text });
        if let Some(l) = lifetime {
            body["lifetime"] = l.into();
        }
        let answer = self
            .http
            .post(format!("http://{}/api/v1/items", server.addr))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap_or_default())
    }

    async fn status_of(&self, server: &ServerProcess, path: &str) -> u16 {
        match self.http.get(format!("http://{}{path}", server.addr)).send().await {
            Ok(answer) => answer.status().as_u16(),
            Err(_) => 0,
        }
    }

    /// Places a call that takes the first option and talks briefly; waits until
    /// it has ended and says whether the caller reached a volunteer. A call that
    /// ends otherwise must have heard the fallback message.
    async fn call(&self, from: &str) -> bool {
        let placed = Instant::now();
        let sid = self.standin.place_call(from, CallerScript { gathers: vec![Some("1")], talk_ms: 100 });
        while self.standin.call(&sid).is_none_or(|c| c.status != "completed") {
            // The provider gives up on a webhook after 15 s and plays its own error.
            assert!(placed.elapsed() < Duration::from_secs(60), "call {sid} never ended:\n{}", self.events());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let events = self.standin.events();
        let bridged = events.iter().any(|e| e.ends_with(&format!("bridged with {sid}")));
        let fallback = events.iter().any(|e| e.starts_with(&format!("{sid} hears")) && e.contains(FALLBACK));
        assert!(bridged || fallback, "{sid} neither reached a volunteer nor heard the fallback:\n{}", self.events());
        bridged
    }

    fn events(&self) -> String {
        self.standin.events().join("\n")
    }
}

both!(killed_mid_surge_and_restarted_keeps_what_it_acknowledged);
async fn killed_mid_surge_and_restarted_keeps_what_it_acknowledged(backend: Backend) {
    let line = hotline(TestEnv::new(backend).await).await;
    let vars = line.env.hotline_vars(&line.standin);
    let mut server = line.start(&vars);
    let state = line.env.state().await;

    // Calls that ended before the surge: their provider records wait in the
    // scrub queue, due a minute after the call.
    for i in 0..2 {
        assert!(line.call(&format!("+141555503{i:02}")).await, "a caller before the surge reached a volunteer");
    }
    let queued = quietline::store::calls::pending_deletions(state.db.pool()).await.unwrap();
    assert!(queued.len() >= 2, "the ended calls' records are queued for deletion: {queued:?}");
    assert!(line.standin.deleted().is_empty(), "nothing is deleted before its minute is up");

    // The surge: callers ringing in and four writers posting notes, every fourth
    // with a two-second life, until the server dies under them.
    let surge: Vec<String> = (0..16)
        .map(|i| {
            line.standin.place_call(&format!("+141555504{i:02}"), CallerScript { gathers: vec![None], talk_ms: 200 })
        })
        .collect();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (http, token, addr) = (line.http.clone(), line.token.clone(), server.addr);
        writers.spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0.. {
                let brief = n % 4 == 0;
                let text = format!("writer {w} note {n}");
                let body = if brief {
                    serde_json::json!({ "text": text, "lifetime": "2s" })
                } else {
                    serde_json::json!({ "text": text })
                };
                let Ok(answer) =
                    http.post(format!("http://{addr}/api/v1/items")).bearer_auth(&token).json(&body).send().await
                else {
                    break; // the server is gone
                };
                if answer.status() == 201 {
                    let id = answer.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
                    acknowledged.push((id, text, brief));
                }
            }
            acknowledged
        });
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let killed = std::process::Command::new("kill").args(["-KILL", &server.pid().to_string()]).status().unwrap();
    assert!(killed.success());
    server.wait(Duration::from_secs(10));
    let acknowledged: Vec<(i64, String, bool)> = writers.join_all().await.into_iter().flatten().collect();
    let (brief, kept): (Vec<_>, Vec<_>) = acknowledged.into_iter().partition(|(_, _, brief)| *brief);
    assert!(!brief.is_empty() && !kept.is_empty(), "notes of both lifetimes were acknowledged before the kill");

    // While the server is down the brief notes' lives end, and the queued
    // deletions fall due (moved forward here rather than waiting the minute).
    sqlx::query("UPDATE provider_deletions SET not_before = 0").execute(state.db.pool()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let server = line.start(&vars);
    // The restart's sweep: no note outlives its life.
    let swept = eventually(|| async {
        for (id, _, _) in &brief {
            if quietline::store::items::get(state.db.pool(), *id).await.unwrap().is_some() {
                return false;
            }
        }
        true
    })
    .await;
    assert!(swept, "notes whose lives ended while the server was down are gone after the restart");
    for (id, _, _) in &brief {
        let answer = line
            .http
            .get(format!("http://{}/api/v1/items/{id}/ciphertext", server.addr))
            .bearer_auth(&line.token)
            .send()
            .await;
        let status = answer.unwrap().status();
        assert!(status == 403 || status == 404, "note {id} is not served after its life: {status}");
    }
    // Every acknowledged note is there for its reader.
    for (id, text, _) in &kept {
        assert_eq!(line.read_note(&server, *id).await, *text);
    }
    // The scrub queue picks up where it was.
    let scrubbed = eventually(|| async {
        let deleted: Vec<String> = line.standin.deleted().into_iter().map(|(_, sid)| sid).collect();
        queued.iter().all(|sid| deleted.contains(sid))
    })
    .await;
    assert!(scrubbed, "the deletions queued before the kill were done after the restart");
    // And every caller of the surge was answered or heard the fallback, one way or
    // another: the calls all end.
    let deadline = Instant::now() + Duration::from_secs(120);
    for sid in &surge {
        while line.standin.call(sid).is_none_or(|c| c.status != "completed") {
            assert!(Instant::now() < deadline, "call {sid} never ended:\n{}", line.events());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

both!(database_gone_for_ten_seconds_callers_hear_us_and_the_server_recovers);
async fn database_gone_for_ten_seconds_callers_hear_us_and_the_server_recovers(backend: Backend) {
    let line = hotline(TestEnv::new(backend).await).await;
    let mut vars = line.env.hotline_vars(&line.standin);
    // PostgreSQL through a proxy that can cut it off; SQLite as it is.
    let proxy = match backend {
        Backend::Postgres => {
            let url = vars.iter_mut().find(|(k, _)| k == "QUIETLINE_DATABASE_URL").expect("a database URL");
            let proxy = DbProxy::start(pg_host_port(&url.1)).await;
            url.1 = proxy.url_through(&url.1);
            Some(proxy)
        }
        Backend::Sqlite => None,
    };
    let server = line.start(&vars);
    assert!(line.call("+14155550501").await, "before the outage a caller reaches a volunteer");
    assert_eq!(line.status_of(&server, "/readyz").await, 200);

    let outage = Instant::now();
    let lock = match &proxy {
        Some(p) => {
            p.cut();
            None
        }
        None => Some(SqliteLock::take(&line.env.sqlite_file()).await),
    };
    let unready = eventually(|| async { line.status_of(&server, "/readyz").await == 503 }).await;
    assert!(unready, "/readyz reports the database");
    // Callers during the outage hear our fallback message, never a provider error.
    let bridged = line.call("+14155550502").await;
    assert!(!bridged, "without a database nobody is rung");
    let (status, body) = line.try_note(&server, "written during the outage", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("nothing was stored"), "{body}");
    assert_eq!(line.status_of(&server, "/healthz").await, 200, "the process itself answers");
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(outage.elapsed())).await;

    // The database is back: nobody restarts anything.
    match (&proxy, lock) {
        (Some(p), _) => p.restore(),
        (None, Some(lock)) => lock.release().await,
        (None, None) => unreachable!(),
    }
    let ready = eventually(|| async { line.status_of(&server, "/readyz").await == 200 }).await;
    assert!(ready, "/readyz is ready again once the database is back");
    assert!(line.call("+14155550503").await, "after the outage a caller reaches a volunteer again");
    let (status, body) = line.try_note(&server, "written after the outage", None).await;
    assert_eq!(status, 201, "{body}");
    let log = server.log();
    assert!(log.contains("caller sent to a fallback message"), "the log says what happened:\n{log}");
}

both!(a_full_disk_refuses_writes_clearly_and_corrupts_nothing);
async fn a_full_disk_refuses_writes_clearly_and_corrupts_nothing(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let disk = SmallDisk::mount(&env.data_dir(), "8m");
    let line = hotline(env).await;
    let vars = line.env.hotline_vars(&line.standin);
    let server = line.start(&vars);
    let mut stored = Vec::new();
    for i in 0..5 {
        let text = format!("before the disk filled {i}");
        let (status, body) = line.try_note(&server, &text, None).await;
        assert_eq!(status, 201, "{body}");
        stored.push((body["id"].as_i64().unwrap(), text));
    }
    assert!(line.call("+14155550601").await);

    assert!(disk.fill() > 0);
    // A note that needs a new key (a lifetime no note has had) cannot be kept:
    // a clear refusal, on either backend.
    let (status, body) = line.try_note(&server, "needs a new key", Some("9d")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("disk is full"), "{body}");
    // Other writes go on until the disk refuses them too (SQLite keeps its file
    // on this disk; PostgreSQL its own elsewhere): every answer is a note kept or
    // a clear refusal.
    let mut refused = false;
    for i in 0..400 {
        let text = format!("while the disk is full {i} {}", "x".repeat(2000));
        let (status, body) = line.try_note(&server, &text, None).await;
        match status {
            201 => stored.push((body["id"].as_i64().unwrap(), text)),
            503 => {
                assert!(body["error"].as_str().unwrap().contains("disk is full"), "{body}");
                refused = true;
                break;
            }
            other => panic!("a note on a full disk answered {other}: {body}"),
        }
    }
    assert!(refused || backend == Backend::Postgres, "SQLite on a full disk refused a write");
    // The server keeps answering: health, and callers (a volunteer, or the fallback).
    assert_eq!(line.status_of(&server, "/healthz").await, 200);
    line.call("+14155550602").await;
    // Nothing already stored was damaged.
    for (id, text) in &stored {
        assert_eq!(line.read_note(&server, *id).await, *text);
    }
    let keystore = disk.dir.join(quietline::vault::KEYSTORE_DIR);
    let leftovers: Vec<_> = std::fs::read_dir(&keystore)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no half-written key is left: {leftovers:?}");

    // Space again: everything works, and the database is sound.
    disk.free();
    let (status, body) = line.try_note(&server, "after the disk was freed", Some("9d")).await;
    assert_eq!(status, 201, "{body}\n{}", server.log());
    assert_eq!(line.read_note(&server, body["id"].as_i64().unwrap()).await, "after the disk was freed");
    assert!(line.call("+14155550603").await, "after space is freed a caller reaches a volunteer");
    if backend == Backend::Sqlite {
        let state = line.env.state().await;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(state.db.pool()).await.unwrap();
        assert_eq!(check, "ok");
    }
    let log = server.log();
    assert!(log.contains("disk is full"), "the log says why:\n{log}");
    drop(server);
    drop(disk);
}
