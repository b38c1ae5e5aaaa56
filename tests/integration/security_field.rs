//! Findings of the security review about calls, texts and dispatch, each with
//! the test that failed before its fix: accepts by observers never paged, slots
//! given back with no deadline, revoked readers still sealed to, connections
//! held open for ever, withheld numbers flooding the phones, keys kept while the
//! database fails, caller tokens cheap to reverse and blocks that made future
//! keys, SMS commands trusted on the sender's number alone, replayed webhooks,
//! relays that imitate pages, webhook times in the log, and the SQLite files,
//! temp store, clear-text tokens and CSP.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use quietline::dispatch::{self, DispatchError, Kind, NewReport};
use quietline::store::incidents;

use crate::both;
use crate::support::line::{Line, line, line_with};
use crate::support::provider::{self, CallerScript, Person, StandIn};
use crate::support::{Backend, TestEnv, new_reader};

async fn member(line: &Line, alias: &str, phone: &str, roles: &str, zones: &str, key: Option<&str>) {
    let mut args = vec!["volunteer", "add", "--alias", alias, "--phone", phone, "--roles", roles, "--languages", "en"];
    args.extend(["--zones", zones]);
    if let Some(k) = key {
        args.extend(["--age-recipient", k]);
    }
    line.cli(&args).await.unwrap();
    line.cli(&["shift", "on", alias]).await.unwrap();
}

fn report(zone: &str) -> NewReport<'static> {
    NewReport {
        zone: quietline::roster::Zone::parse(zone).unwrap(),
        kind: Kind::Sighting,
        location: "5th and Main",
        description: "two vans",
    }
}

both!(only_observers_paged_for_an_incident_may_answer_it);
async fn only_observers_paged_for_an_incident_may_answer_it(backend: Backend) {
    let line =
        line_with(backend, "en", &[("QUIETLINE_ZONES", "north,south"), ("QUIETLINE_DISPATCH_TIMEOUT", "5m")]).await;
    member(&line, "disp", "+14155550100", "dispatcher", "north", None).await;
    member(&line, "near", "+14155550101", "observer", "north", None).await;
    member(&line, "far", "+14155550102", "observer", "south", None).await;
    let opened = dispatch::open(&line.state, report("north"), quietline::audit::Actor::Operator).await.unwrap();
    let id = opened.id;
    let far = quietline::roster::get(&line.state.db, "far").await.unwrap();
    let near = quietline::roster::get(&line.state.db, "near").await.unwrap();

    // Never paged: every answer is the one for an incident that does not exist.
    assert!(matches!(dispatch::accept(&line.state, id, &far).await, Err(DispatchError::NotFound(n)) if n == id));
    assert!(matches!(dispatch::decline(&line.state, id, &far).await, Err(DispatchError::NotFound(_))));
    assert!(matches!(dispatch::arrive_or_leave(&line.state, id, &far, true).await, Err(DispatchError::NotFound(_))));
    let reply = line.standin.text("+14155550102", &format!("Y {id}")).await;
    let nothing = line.standin.text("+14155550102", "Y 999").await;
    assert_eq!(reply, nothing.iter().map(|t| t.replace("999", &id.to_string())).collect::<Vec<_>>());
    let row = incidents::get(line.state.db.pool(), id).await.unwrap().unwrap();
    assert_eq!((row.assigned, row.status.as_str()), (0, "reported"), "the unpaged observer took nothing");
    assert!(incidents::dispatch_state(line.state.db.pool(), id, far.id).await.unwrap().is_none());

    // The paged observer accepts, then gives the slot back: paging is on a
    // deadline again and escalates when it passes.
    assert!(matches!(dispatch::accept(&line.state, id, &near).await.unwrap(), dispatch::Accepted::Assigned { .. }));
    assert!(incidents::get(line.state.db.pool(), id).await.unwrap().unwrap().page_deadline.is_none());
    dispatch::decline(&line.state, id, &near).await.unwrap();
    let row = incidents::get(line.state.db.pool(), id).await.unwrap().unwrap();
    assert_eq!(row.assigned, 0);
    assert!(row.page_deadline.is_some(), "a slot given back left paging without a deadline");
    line.env.clock.advance(Duration::from_secs(301));
    dispatch::escalate_due(&line.state).await.unwrap();
    let row = incidents::get(line.state.db.pool(), id).await.unwrap().unwrap();
    assert_eq!(row.page_tier, 1, "paging widened to every zone");
    assert!(incidents::dispatch_state(line.state.db.pool(), id, far.id).await.unwrap().is_some(), "far is paged now");
}

both!(a_revoked_volunteer_reads_nothing_that_arrives_after);
async fn a_revoked_volunteer_reads_nothing_that_arrives_after(backend: Backend) {
    let line = line(backend, "en").await;
    let keys: Vec<_> = ["att", "disp", "coord"].iter().map(|n| new_reader(line.env.dir.path(), n)).collect();
    member(&line, "att", "+14155550101", "attorney", "north", Some(&keys[0].public)).await;
    member(&line, "disp", "+14155550102", "dispatcher", "north", Some(&keys[1].public)).await;
    member(&line, "coord", "+14155550103", "coordinator", "north", Some(&keys[2].public)).await;
    for alias in ["att", "disp"] {
        line.cli(&["volunteer", "revoke", alias]).await.unwrap();
    }
    // Their phones may be in someone else's hands: they cannot be put back on shift.
    let err = line.cli(&["shift", "on", "disp"]).await.unwrap_err();
    assert!(err.contains("revoked"), "{err}");

    // A public text, an incident's details and a field note, all after the revocation.
    line.standin.text("+14155550177", "agents at the laundromat").await;
    let opened = dispatch::open(&line.state, report("north"), quietline::audit::Actor::Operator).await.unwrap();
    let coord = quietline::roster::get(&line.state.db, "coord").await.unwrap();
    dispatch::add_note(&line.state, opened.id, &coord, b"badge 4471").await.unwrap();
    let readers: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.class, v.alias FROM sealed_items i JOIN sealed_item_readers r ON r.item_id = i.id \
         JOIN volunteers v ON v.id = r.volunteer_id ORDER BY i.id",
    )
    .fetch_all(line.state.db.pool())
    .await
    .unwrap();
    assert!(readers.iter().any(|(_, a)| a == "coord"), "{readers:?}");
    assert!(!readers.iter().any(|(_, a)| a == "att" || a == "disp"), "sealed to a revoked volunteer: {readers:?}");
    // Nor are they texted as dispatchers.
    assert!(line.standin.texts_to("+14155550102").is_empty());
}

fn connect(addr: std::net::SocketAddr) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Whether the server closed the connection (a read ends, without an answer).
fn closed_by_server(stream: &mut std::net::TcpStream) -> bool {
    let mut buf = [0u8; 256];
    matches!(stream.read(&mut buf), Ok(0) | Err(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_and_never_starve_a_webhook() {
    let line = line_with(
        Backend::Sqlite,
        "en",
        &[
            ("QUIETLINE_HTTP_HEADER_TIMEOUT", "1s"),
            ("QUIETLINE_HTTP_IDLE_TIMEOUT", "2s"),
            ("QUIETLINE_HTTP_MAX_CONNECTIONS", "20"),
        ],
    )
    .await;
    let addr: std::net::SocketAddr = line.url.trim_start_matches("http://").parse().unwrap();

    // Five clients trickle their request heads: each is cut off at the timeout.
    let started = Instant::now();
    let trickling: Vec<_> = (0..5)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = connect(addr);
                let _ = s.write_all(b"GET /healthz HTTP/1.1\r\n");
                for _ in 0..20 {
                    std::thread::sleep(Duration::from_millis(300));
                    if s.write_all(b"X-Slow: 1\r\n").is_err() {
                        break;
                    }
                }
                closed_by_server(&mut s)
            })
        })
        .collect();
    for t in trickling {
        assert!(t.join().unwrap(), "a trickled head was answered or kept open");
    }
    assert!(started.elapsed() < Duration::from_secs(8), "trickling clients were held {:?}", started.elapsed());

    // Two hundred idle sockets (ten times the cap): health and a signed webhook still get through.
    let idle: Vec<_> = (0..200).map(|_| connect(addr)).collect();
    let health =
        reqwest::Client::new().get(format!("{}/healthz", line.url)).timeout(Duration::from_secs(5)).send().await;
    assert_eq!(health.expect("healthz answered behind idle sockets").status(), 200);
    let params: Vec<(String, String)> = vec![
        ("CallSid".into(), format!("CA{:032x}", 77)),
        ("From".into(), "+14155550177".into()),
        ("To".into(), provider::HOTLINE.into()),
    ];
    let (status, body) = line.standin.webhook(&format!("{}/telephony/voice", line.url), &params).await;
    assert_eq!(status, 200, "{body}");
    drop(idle);

    // A keep-alive connection with nothing more to ask is closed after the idle timeout.
    let mut s = connect(addr);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = [0u8; 512];
    assert!(s.read(&mut answer).unwrap() > 0);
    let idle_since = Instant::now();
    assert!(closed_by_server(&mut s));
    let held = idle_since.elapsed();
    assert!(held >= Duration::from_millis(1500) && held < Duration::from_secs(6), "idle for {held:?}");
}

/// The incoming-call webhook from a withheld number; returns the TwiML.
async fn withheld_call(line: &Line, n: u32) -> (i64, String) {
    let sid = format!("CA{n:032x}");
    let params: Vec<(String, String)> = vec![
        ("CallSid".into(), sid.clone()),
        ("From".into(), "anonymous".into()),
        ("To".into(), provider::HOTLINE.into()),
    ];
    let (status, body) = line.standin.webhook(&format!("{}/telephony/voice", line.url), &params).await;
    assert_eq!(status, 200, "{body}");
    let id = quietline::store::calls::get_by_sid(line.state.db.pool(), &sid).await.unwrap().unwrap().id;
    (id, body)
}

async fn press(line: &Line, call: i64, attempt: u32, digits: Option<&str>) -> String {
    let mut params: Vec<(String, String)> = vec![("CallSid".into(), format!("CA{call:032x}"))];
    if let Some(d) = digits {
        params.push(("Digits".into(), d.into()));
    }
    let url = format!("{}/telephony/voice/challenge?call={call}&attempt={attempt}", line.url);
    let (status, body) = line.standin.webhook(&url, &params).await;
    assert_eq!(status, 200, "{body}");
    crate::support::twiml::assert_never_silent(&crate::support::twiml::parse(&body), &body);
    body
}

both!(withheld_numbers_press_a_key_first_and_share_one_limit);
async fn withheld_numbers_press_a_key_first_and_share_one_limit(backend: Backend) {
    let line = line_with(backend, "en,es", &[("QUIETLINE_WITHHELD_RATE_LIMIT", "3")]).await;
    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::NeverAnswers).await;

    // A robot presses nothing: asked twice, in every language, then a short message.
    let (id, first) = withheld_call(&line, 1).await;
    assert!(first.contains("To reach a volunteer, press 7.") && first.contains("oprima 7"), "{first}");
    assert!(press(&line, id, 1, None).await.contains("press 7"));
    let refused = press(&line, id, 2, None).await;
    assert!(refused.contains("We cannot take your call right now") && refused.contains("<Hangup/>"), "{refused}");
    let row = quietline::store::calls::get(line.state.db.pool(), id).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.outcome),
        (quietline::states::CallState::Ended, Some(quietline::states::Outcome::Refused))
    );
    assert!(line.standin.calls().iter().all(|c| c.inbound), "nobody was rung");

    // People press 7 and reach the menu, until the withheld limit is used up.
    for n in 2..5 {
        let (id, _) = withheld_call(&line, n).await;
        assert!(press(&line, id, 1, Some("7")).await.contains("For English, press 1."), "caller {n}");
    }
    let (id, _) = withheld_call(&line, 5).await;
    let over = press(&line, id, 1, Some("7")).await;
    assert!(over.contains("We cannot take your call right now"), "{over}");
    // A caller who shows their number is not affected.
    let params: Vec<(String, String)> = vec![
        ("CallSid".into(), format!("CA{:032x}", 9)),
        ("From".into(), "+14155550177".into()),
        ("To".into(), provider::HOTLINE.into()),
    ];
    let (_, body) = line.standin.webhook(&format!("{}/telephony/voice", line.url), &params).await;
    assert!(body.contains("For English, press 1."), "{body}");
}

both!(ended_keys_are_destroyed_while_the_database_is_held_by_someone_else);
async fn ended_keys_are_destroyed_while_the_database_is_held_by_someone_else(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    let reader = new_reader(env.dir.path(), "ana");
    env.add_volunteer("ana", "+14155550101", "attorney", "en", Some(&reader.public)).await;
    let ana = quietline::roster::get(&state.db, "ana").await.unwrap();
    let item = quietline::items::store(
        &state.db,
        &state.vault,
        quietline::items::ItemClass::Note,
        quietline::items::Content::Plaintext(b"expires soon"),
        &[&ana],
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    let epoch = quietline::vault::EpochId::for_expiry(item.expires_at);
    let key_file = env.data_dir().join("keystore").join(format!("epoch-{}.key", epoch.0));
    assert!(key_file.exists());
    env.clock.advance(Duration::from_secs(3 * 3600));

    // The database is taken: a backup holding SQLite's lock, or another
    // instance holding the PostgreSQL sweep lock.
    let holder = match backend {
        Backend::Sqlite => {
            let lock = crate::support::outage::SqliteLock::take(&env.sqlite_file()).await;
            let swept =
                tokio::time::timeout(Duration::from_secs(30), quietline::retention::sweep(&state)).await.unwrap();
            assert!(swept.is_err(), "the sweep should have met the lock");
            lock.release().await;
            None
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let url = env.env().into_iter().find(|(k, _)| k == "QUIETLINE_DATABASE_URL").unwrap().1;
            let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(quietline::retention::SWEEP_LOCK)
                .execute(&mut other)
                .await
                .unwrap();
            let swept = quietline::retention::sweep(&state).await.unwrap();
            assert!(!swept.ran, "another instance holds the sweep");
            Some(other)
        }
    };
    assert!(!key_file.exists(), "an ended key outlived a database the sweeper could not use");
    assert!(state.vault.keystore().get(quietline::vault::KeyName::Epoch(epoch)).unwrap().is_none(), "still in memory");
    drop(holder);
}

both!(blocks_make_no_future_keys_and_calls_keep_no_token);
async fn blocks_make_no_future_keys_and_calls_keep_no_token(backend: Backend) {
    let line = line(backend, "en").await;
    let before = line.state.vault.keystore().live().unwrap();
    let out = line.cli(&["block", "+14155550198", "--for", "30d"]).await.unwrap();
    assert!(out.starts_with("blocked until"), "{out}");
    let (current, _) = line.state.vault.current_window();
    let windows: Vec<i64> = line
        .state
        .vault
        .keystore()
        .live()
        .unwrap()
        .into_iter()
        .filter(|k| !before.contains(k))
        .filter_map(|k| match k {
            quietline::vault::KeyName::CallerWindow { index, .. } => Some(index),
            _ => None,
        })
        .collect();
    assert!(windows.iter().all(|i| *i == current), "a block made the key of a future window: {windows:?}");
    let blocked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM caller_blocks").fetch_one(line.state.db.pool()).await.unwrap();
    assert_eq!(blocked, 1, "one token, for this window only");

    // A call's row keeps no caller token; the attempt (ten minutes) has it.
    let sid = line.standin.place_call("+14155550177", CallerScript { gathers: vec![], talk_ms: 0 });
    line.until_ended(&sid).await;
    let row = line.call_row(&sid).await;
    assert!(row.caller_token.is_none());
}

/// Texts `command` from `from` and returns the one-time code the answer asks for.
async fn asked_code(line: &Line, from: &str, command: &str) -> String {
    let asked = line.standin.text(from, command).await;
    assert!(asked.len() == 1 && asked[0].starts_with("Reply OK "), "{asked:?}");
    asked[0]["Reply OK ".len()..].chars().take_while(char::is_ascii_digit).collect()
}

both!(sms_commands_that_act_on_others_wait_for_the_code_sent_back);
async fn sms_commands_that_act_on_others_wait_for_the_code_sent_back(backend: Backend) {
    let line = line(backend, "en").await;
    member(&line, "disp", "+14155550100", "dispatcher", "north", None).await;
    member(&line, "obs", "+14155550101", "observer", "north", None).await;
    let incidents = || async { incidents::list(line.state.db.pool()).await.unwrap().len() };

    // A NEW (from a forged sender, as far as the server can tell) pages nobody
    // until its code comes back: the code went to the number on the roster.
    let code = asked_code(&line, "+14155550100", "NEW north 5th and Main, two vans").await;
    assert_eq!(incidents().await, 0);
    assert!(line.standin.texts_to("+14155550101").is_empty(), "an observer was paged before the code");
    let wrong = if code == "0000" { "1111" } else { "0000" };
    let reply = line.standin.text("+14155550100", &format!("OK {wrong}")).await;
    assert!(reply[0].contains("not right or has expired"), "{reply:?}");
    // One try: the right code after a wrong one does nothing either.
    let reply = line.standin.text("+14155550100", &format!("OK {code}")).await;
    assert!(reply[0].contains("not right or has expired"), "{reply:?}");
    assert_eq!(incidents().await, 0);

    let code = asked_code(&line, "+14155550100", "NEW north 5th and Main, two vans").await;
    let reply = line.standin.text("+14155550100", &format!("OK {code}")).await;
    assert!(reply[0].starts_with("Opened #1; 1 observer(s) paged."), "{reply:?}");
    assert_eq!(incidents().await, 1);
    // The code works once.
    let reply = line.standin.text("+14155550100", &format!("OK {code}")).await;
    assert!(reply[0].contains("not right"), "{reply:?}");
    // Codes expire.
    let code = asked_code(&line, "+14155550100", "NEW north again").await;
    line.env.clock.advance(Duration::from_secs(601));
    let reply = line.standin.text("+14155550100", &format!("OK {code}")).await;
    assert!(reply[0].contains("has expired"), "{reply:?}");
    assert_eq!(incidents().await, 1);
    // Commands that act on the sender alone stay one text.
    let reply = line.standin.text("+14155550101", "Y 1").await;
    assert!(reply[0].starts_with("You are going to #1"), "{reply:?}");
}

both!(replayed_webhooks_change_nothing);
async fn replayed_webhooks_change_nothing(backend: Backend) {
    let line = line(backend, "en").await;
    let key = new_reader(line.env.dir.path(), "disp");
    member(&line, "disp", "+14155550100", "dispatcher,coordinator", "north", Some(&key.public)).await;
    let sms = format!("{}/telephony/sms", line.url);
    let params: Vec<(String, String)> = vec![
        ("MessageSid".into(), format!("SM{:032x}", 0xabc)),
        ("From".into(), "+14155550177".into()),
        ("To".into(), provider::HOTLINE.into()),
        ("Body".into(), "agents at the laundromat".into()),
        ("NumMedia".into(), "0".into()),
    ];
    let pool = line.state.db.pool().clone();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    let (first, _) = line.standin.webhook(&sms, &params).await;
    let (again, body) = line.standin.webhook(&sms, &params).await;
    assert_eq!((first, again), (200, 200));
    assert_eq!(quietline::telephony::read::parse(&body).unwrap().children.len(), 0, "{body}");
    assert_eq!(count("SELECT COUNT(*) FROM sealed_items WHERE class = 'intake'").await, 1, "one text kept once");
    // A malformed id is not acted on at all.
    let mut bad = params.clone();
    bad[0].1 = "SM-not-an-id".into();
    line.standin.webhook(&sms, &bad).await;
    assert_eq!(count("SELECT COUNT(*) FROM sealed_items WHERE class = 'intake'").await, 1);

    // A recording callback sent twice keeps one voicemail.
    line.cli(&["shift", "off", "disp"]).await.unwrap();
    let sid = line.standin.place_call("+14155550178", CallerScript { gathers: vec![None], talk_ms: 0 });
    line.until_ended(&sid).await;
    line.until("the voicemail is kept", |s| s.events().iter().any(|e| e.contains("delivered"))).await;
    let voicemails = count("SELECT COUNT(*) FROM sealed_items WHERE class = 'voicemail'").await;
    let recording =
        line.standin.events().iter().find_map(|e| e.strip_prefix("recording ").map(|r| r[..34].to_string()));
    let call = line.call_row(&sid).await.id;
    let replay: Vec<(String, String)> = vec![
        ("CallSid".into(), sid.clone()),
        ("RecordingSid".into(), recording.unwrap()),
        ("RecordingStatus".into(), "completed".into()),
    ];
    let url = format!("{}/telephony/recording?call={call}", line.url);
    let (status, _) = line.standin.webhook(&url, &replay).await;
    assert!(status < 300);
    assert_eq!(count("SELECT COUNT(*) FROM sealed_items WHERE class = 'voicemail'").await, voicemails);
}

both!(a_relayed_text_cannot_pass_for_a_page);
async fn a_relayed_text_cannot_pass_for_a_page(backend: Backend) {
    let line = line(backend, "en").await;
    let key = new_reader(line.env.dir.path(), "disp");
    member(&line, "disp", "+14155550100", "dispatcher", "north", Some(&key.public)).await;
    let forged = "quietline #77 north (detention): 5th and Main. Reply Y 77 to go, N 77 if you cannot.\n\
                  quietline #78 south (detention). \u{bb} Reply Y 78";
    line.standin.text("+14155550177", forged).await;
    let relayed = line.standin.texts_to("+14155550100");
    assert_eq!(relayed.len(), 1, "{relayed:?}");
    let relay = &relayed[0];
    assert!(relay.starts_with("Public text #1 (en), from the public, not a page: \u{ab}quietline #77"), "{relay}");
    assert!(!relay.contains('\n'), "a relay is one line: {relay}");
    assert_eq!(relay.matches('\u{bb}').count(), 1, "the quote cannot be closed from inside: {relay}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_leave_no_line_at_info_and_head_logs_no_error() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let standin = StandIn::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    standin.set_server(&url);
    let mut vars = env.env();
    vars.retain(|(k, _)| k != "QUIETLINE_LISTEN");
    for (k, v) in [
        ("QUIETLINE_LISTEN", format!("127.0.0.1:{port}")),
        ("QUIETLINE_PUBLIC_URL", url.clone()),
        ("QUIETLINE_HOTLINE_NUMBER", provider::HOTLINE.to_string()),
        ("QUIETLINE_PROVIDER_ACCOUNT_SID", provider::ACCOUNT_SID.to_string()),
        ("QUIETLINE_PROVIDER_AUTH_TOKEN", provider::AUTH_TOKEN.to_string()),
        ("QUIETLINE_PROVIDER_API_BASE", standin.base.clone()),
    ] {
        vars.push((k.to_string(), v));
    }
    // Someone to seal the voicemail to, so that nothing in the call is an error.
    let key = age::x25519::Identity::generate().to_public().to_string();
    let add = ["volunteer", "add", "--alias", "coord", "--phone", "+14155550101", "--roles", "coordinator"];
    let add =
        env.run_binary(&[&add[..], &["--languages", "en", "--zones", "north", "--age-recipient", &key]].concat(), &[]);
    assert!(add.status.success(), "{}", add.stderr);
    let mut server = crate::support::ServerProcess::spawn(&vars, &["serve"]);
    let sid = standin.place_call("+14155550177", CallerScript { gathers: vec![None], talk_ms: 0 });
    let ended = crate::support::eventually(|| async {
        standin.call(&sid).is_some_and(|c| c.status == "completed")
            && standin.events().iter().any(|e| e.starts_with("recording") && e.ends_with("delivered"))
    })
    .await;
    assert!(ended, "{}", standin.events().join("\n"));
    standin.text("+14155550178", "hello").await;
    let head = reqwest::Client::new().head(format!("{url}/console")).send().await.unwrap();
    assert!(head.status().is_success(), "HEAD follows to the sign-in page: {}", head.status());
    assert!(server.terminate().success());
    let log = server.log();
    assert!(log.contains("route=/healthz") || log.contains("listening"), "{log}");
    // Nothing per webhook at info; what a webhook does log (a warning) carries
    // the hour only, as the database does.
    for line in log.lines().filter(|l| l.contains("/telephony")) {
        assert!(!line.contains(" INFO "), "a webhook got a line at info: {line}");
        let stamp = line.split_whitespace().next().unwrap_or("");
        assert!(stamp.ends_with(":00:00Z"), "a webhook's line carries its exact time: {line}");
    }
    assert!(log.lines().any(|l| l.contains("webhook{route=/telephony")), "the check above saw webhook lines:\n{log}");
    assert!(!log.contains(" ERROR "), "{log}");
}

both!(the_sqlite_files_are_private_and_tokens_never_travel_in_clear);
async fn the_sqlite_files_are_private_and_tokens_never_travel_in_clear(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    if backend == Backend::Sqlite {
        env.add_volunteer("ana", "+14155550101", "dispatcher", "en", None).await;
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", env.sqlite_file().display());
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file} is {mode:o}");
        }
        let temp: i64 = sqlx::query_scalar("PRAGMA temp_store").fetch_one(state.db.pool()).await.unwrap();
        assert_eq!(temp, 2, "temporary tables and indices in memory, never in a file");
    }
    let key = env.dir.path().join("key.txt");
    std::fs::write(
        &key,
        format!("{}\n", secrecy::ExposeSecret::expose_secret(&age::x25519::Identity::generate().to_string())),
    )
    .unwrap();
    let args = [
        "open",
        "--identity",
        key.to_str().unwrap(),
        "--server",
        "http://hotline.example.org",
        "--token",
        "qlt_x",
        "1",
    ];
    let err = env.cli(&args).await.unwrap_err();
    assert!(err.contains("not https") && err.contains("in clear"), "{err}");
    // The console's one script comes from this server; nothing inline or
    // evaluated may run, and nothing loads from anywhere else.
    let response = quietline::app(state.clone())
        .oneshot(axum::http::Request::get("/console/sign-in").body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let csp = response.headers().get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
}

use tower::ServiceExt;
