//! Calls end to end through the provider stand-in: language menu, press-1
//! acceptance, voicemail boxes that never take a call, tier escalation, voicemail
//! sealed and deleted at the provider, the scrub queue, forged requests, and two
//! instances racing for one call.

use std::time::Duration;

use quietline::store::calls as calls_db;

use crate::both;
use crate::support::line::{Line, line, settings};
use crate::support::provider::{self, CallerScript, Person};
use crate::support::{Backend, TestEnv, eventually};

const CALLER: &str = "+14155550177";
const CALLER_DIGITS: &str = "4155550177";

both!(menu_then_the_first_to_press_one_is_bridged);
async fn menu_then_the_first_to_press_one_is_bridged(backend: Backend) {
    let line = line(backend, "en,es").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "es", Person::PressesOne { answer_ms: 50, press_ms: 50 }).await;
    line.volunteer("beto", "+14155550102", "dispatcher", "es,en", Person::PressesOne { answer_ms: 400, press_ms: 50 })
        .await;
    line.volunteer("caro", "+14155550103", "dispatcher", "es", Person::VoicemailBox { answer_ms: 20 }).await;
    line.volunteer("dan", "+14155550104", "dispatcher", "en", Person::PressesOne { answer_ms: 10, press_ms: 10 }).await;

    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![Some("2")], talk_ms: 200 });
    line.until_ended(&sid).await;
    let events = line.standin.events().join("\n");

    // The menu spoke each option in its own language; the caller then heard Spanish.
    assert!(events.contains("[en-US] For English, press 1."), "{events}");
    assert!(events.contains("[es-US] Para español, oprima 2."), "{events}");
    let row = line.call_row(&sid).await;
    assert_eq!(row.language.as_deref(), Some("es"));
    assert_eq!(row.state, quietline::states::CallState::Ended);
    assert_eq!(row.outcome, Some(quietline::states::Outcome::Answered));
    assert_eq!(line.alias_of(row.answered_by).await.as_deref(), Some("ana"));

    let ana = line.leg_to("+14155550101").unwrap();
    assert_eq!(line.standin.call(&sid).unwrap().bridged_with.as_deref(), Some(ana.sid.as_str()), "{events}");
    // Dan speaks only English: never rung for a Spanish call in the first tier.
    assert!(line.leg_to("+14155550104").is_none(), "{events}");
    // Caro's voicemail box picked up and never took the call.
    let caro = line.leg_to("+14155550103").unwrap();
    assert!(caro.bridged_with.is_none());
    // Beto did not get the caller either: taken or cancelled.
    let beto = line.leg_to("+14155550102").unwrap();
    assert!(beto.bridged_with.is_none(), "{events}");
    // The volunteer's whisper came in their language and named the caller's.
    assert!(events.contains(&format!("{} hears [es-US] Llamada de quietline, en español.", ana.sid)), "{events}");
    // The caller saw the hotline number only on the volunteer side.
    assert!(line.standin.calls().iter().filter(|c| !c.inbound).all(|c| c.from == provider::HOTLINE));
    assert!(line.standin.twiml_seen() > 5);
}

both!(voicemail_boxes_never_take_a_call_and_the_next_tier_rings);
async fn voicemail_boxes_never_take_a_call_and_the_next_tier_rings(backend: Backend) {
    let line = line(backend, "en").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::VoicemailBox { answer_ms: 10 }).await;
    line.volunteer("coord", "+14155550105", "coordinator", "en", Person::PressesOne { answer_ms: 30, press_ms: 30 })
        .await;
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![], talk_ms: 100 });
    line.until_ended(&sid).await;
    let row = line.call_row(&sid).await;
    assert_eq!(line.alias_of(row.answered_by).await.as_deref(), Some("coord"));
    assert_eq!(row.tier, 1, "the overflow tier took it");
    let events = line.standin.events().join("\n");
    let ana = line.leg_to("+14155550101").unwrap();
    assert!(events.contains(&format!("{} answered by a voicemail box", ana.sid)), "{events}");
    assert!(ana.bridged_with.is_none());
}

both!(a_taker_whose_line_drops_before_the_bridge_does_not_strand_the_caller);
async fn a_taker_whose_line_drops_before_the_bridge_does_not_strand_the_caller(backend: Backend) {
    let line = line(backend, "en").await;
    line.volunteer(
        "ana",
        "+14155550101",
        "dispatcher",
        "en",
        Person::DropsAfterPressingOne { answer_ms: 9, press_ms: 9 },
    )
    .await;
    line.volunteer("coord", "+14155550105", "coordinator", "en", Person::PressesOne { answer_ms: 30, press_ms: 30 })
        .await;
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![], talk_ms: 100 });
    line.until_ended(&sid).await;
    let events = line.standin.events().join("\n");
    let ana = line.leg_to("+14155550101").unwrap();
    assert!(events.contains(&format!("{} drops before the bridge", ana.sid)), "{events}");
    assert!(ana.bridged_with.is_none());
    // The caller, still held, was rung on to the next tier and put through there.
    let coord = line.leg_to("+14155550105").expect("the next tier rang");
    assert_eq!(line.standin.call(&sid).unwrap().bridged_with.as_deref(), Some(coord.sid.as_str()), "{events}");
    let row = line.call_row(&sid).await;
    assert_eq!(line.alias_of(row.answered_by).await.as_deref(), Some("coord"));
    assert_eq!(row.outcome, Some(quietline::states::Outcome::Answered));
}

both!(an_unanswered_tier_rings_out_and_the_next_rings);
async fn an_unanswered_tier_rings_out_and_the_next_rings(backend: Backend) {
    let line = line(backend, "en").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::NeverAnswers).await;
    line.volunteer("coord", "+14155550105", "coordinator", "en", Person::PressesOne { answer_ms: 10, press_ms: 10 })
        .await;
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![], talk_ms: 100 });
    line.until("the first tier rings", |s| s.calls().iter().any(|c| c.to == "+14155550101")).await;
    assert!(line.leg_to("+14155550105").is_none(), "the coordinator waits for the next tier");
    // The provider's <Dial> times out and reports it; the next tier rings.
    line.until_ended(&sid).await;
    let row = line.call_row(&sid).await;
    assert_eq!(line.alias_of(row.answered_by).await.as_deref(), Some("coord"));
    let ana = line.leg_to("+14155550101").unwrap();
    assert_eq!(ana.status, "no-answer", "the unanswered leg stopped ringing with the dial");
    let events = line.standin.events().join("\n");
    assert!(events.contains(&format!("{sid} dial ended, nobody connected")), "{events}");
}

both!(with_nobody_on_shift_the_caller_leaves_a_sealed_voicemail);
async fn with_nobody_on_shift_the_caller_leaves_a_sealed_voicemail(backend: Backend) {
    let line = line(backend, "en,es").await;
    let attorney = age::x25519::Identity::generate();
    let key = attorney.to_public().to_string();
    line.env.add_volunteer("abogada", "+14155550109", "attorney", "es", Some(&key)).await;
    // Press 2 (Spanish), then 1 for a call back, then speak.
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![Some("2"), Some("1")], talk_ms: 0 });
    line.until_ended(&sid).await;
    line.until("the recording is sealed and deleted", |s| s.deleted().iter().any(|(k, _)| k == "recording")).await;
    let events = line.standin.events().join("\n");
    assert!(events.contains("[es-US] En este momento nadie puede contestar."), "{events}");
    let row = line.call_row(&sid).await;
    assert_eq!(row.outcome, Some(quietline::states::Outcome::CallbackRequested));

    // The voicemail is sealed to the legal team and opens with the attorney's key.
    use sqlx::Row;
    let rows =
        sqlx::query("SELECT id, class FROM sealed_items ORDER BY id").fetch_all(line.state.db.pool()).await.unwrap();
    let classes: Vec<String> = rows.iter().map(|r| r.get::<String, _>("class")).collect();
    assert_eq!(classes, ["callback", "voicemail"]);
    let voicemail_id: i64 = rows[1].get("id");
    let ciphertext = quietline::items::ciphertext(&line.state.db, &line.state.vault, voicemail_id).await.unwrap();
    let ids: Vec<Box<dyn age::Identity + Send + Sync>> = vec![Box::new(attorney)];
    let audio = quietline::vault::open_as_reader(&ciphertext, &ids).unwrap();
    assert!(audio.starts_with(b"RIFF-fake-wav-from-"));
    // The callback number is sealed for the server, and nowhere in clear.
    let callback_id: i64 = rows[0].get("id");
    let number = quietline::items::open_for_server(
        &line.state.db,
        &line.state.vault,
        callback_id,
        quietline::items::ItemClass::Callback,
    )
    .await
    .unwrap();
    assert_eq!(&number[..], CALLER.as_bytes());
    if backend == Backend::Sqlite {
        line.state.db.checkpoint().await.unwrap();
        for suffix in ["", "-wal"] {
            let bytes = std::fs::read(format!("{}{suffix}", line.env.sqlite_file().display())).unwrap_or_default();
            assert!(!bytes.windows(CALLER_DIGITS.len()).any(|w| w == CALLER_DIGITS.as_bytes()));
        }
    }
}

both!(when_every_tier_gives_up_the_held_caller_is_moved_to_voicemail);
async fn when_every_tier_gives_up_the_held_caller_is_moved_to_voicemail(backend: Backend) {
    let line = line(backend, "en").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::NeverAnswers).await;
    let key = age::x25519::Identity::generate().to_public().to_string();
    line.env.cli(&["volunteer", "set-key", "ana", &key]).await.unwrap();
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![None], talk_ms: 0 });
    line.until("the first tier rings", |s| s.calls().iter().any(|c| c.to == "+14155550101")).await;
    line.env.clock.advance(Duration::from_secs(31));
    line.until_ended(&sid).await;
    let events = line.standin.events().join("\n");
    assert!(events.contains("Nobody can answer right now"), "{events}");
    assert!(events.contains(&format!("{sid} leaves a message")), "{events}");
    assert_eq!(line.call_row(&sid).await.outcome, Some(quietline::states::Outcome::Voicemail));
    // The on-shift dispatcher gets a content-free alert, and its record is deleted too.
    line.until("the alert is sent", |s| s.messages().iter().any(|(to, _, _)| to == "+14155550101")).await;
    let (_, from, body) = line.standin.messages().into_iter().find(|(to, _, _)| to == "+14155550101").unwrap();
    assert_eq!(from, provider::HOTLINE);
    assert!(body.starts_with("quietline: new voicemail (en) #"), "{body}");
    // It links to the page where a reader plays it on their own device.
    let item: String =
        body["quietline: new voicemail (en) #".len()..].chars().take_while(char::is_ascii_digit).collect();
    assert!(body.ends_with(&format!("/console/items/{item}")), "{body}");
    assert!(!body.contains(CALLER_DIGITS));
}

both!(a_caller_who_presses_nothing_hears_the_menu_twice_then_the_first_language);
async fn a_caller_who_presses_nothing_hears_the_menu_twice_then_the_first_language(backend: Backend) {
    let line = line(backend, "es,en").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "es", Person::PressesOne { answer_ms: 10, press_ms: 10 }).await;
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![None, None], talk_ms: 50 });
    line.until_ended(&sid).await;
    let events = line.standin.events();
    let menus = events.iter().filter(|e| e.contains("Para español, oprima 1.")).count();
    assert_eq!(menus, 2, "{events:?}");
    let row = line.call_row(&sid).await;
    assert_eq!(row.language.as_deref(), Some("es"), "the first configured language is the default");
    assert_eq!(line.alias_of(row.answered_by).await.as_deref(), Some("ana"));
}

both!(forged_and_unsigned_webhooks_change_nothing);
async fn forged_and_unsigned_webhooks_change_nothing(backend: Backend) {
    let line = line(backend, "en").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::PressesOne { answer_ms: 10, press_ms: 10 }).await;
    let url = format!("{}/telephony/voice", line.url);
    let params: Vec<(String, String)> = vec![
        ("CallSid".into(), "CA00000000000000000000000000000bad".into()),
        ("From".into(), CALLER.into()),
        ("To".into(), provider::HOTLINE.into()),
    ];
    assert_eq!(line.standin.raw_webhook(&url, &params, None).await, 403);
    assert_eq!(line.standin.raw_webhook(&url, &params, Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA=")).await, 403);
    let wrong_key = quietline::telephony::signature::sign(b"someone-else", &url, &params);
    assert_eq!(line.standin.raw_webhook(&url, &params, Some(&wrong_key)).await, 403);
    // Signed for another URL (a replay against another endpoint).
    let other = quietline::telephony::signature::sign(provider::AUTH_TOKEN.as_bytes(), &format!("{url}/x"), &params);
    assert_eq!(line.standin.raw_webhook(&url, &params, Some(&other)).await, 403);
    for path in ["/telephony/status", "/telephony/voice/volunteer/accept?call=1", "/telephony/recording?call=1"] {
        assert_eq!(line.standin.raw_webhook(&format!("{}{path}", line.url), &params, None).await, 403, "{path}");
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls").fetch_one(line.state.db.pool()).await.unwrap();
    assert_eq!(n, 0, "nothing recorded");
    assert!(line.standin.calls().is_empty(), "nobody rung");
    // The genuine article goes through.
    let (status, _) = line.standin.webhook(&url, &params).await;
    assert_eq!(status, 200);
}

both!(provider_records_are_deleted_with_retries_that_survive_a_restart);
async fn provider_records_are_deleted_with_retries_that_survive_a_restart(backend: Backend) {
    let line = line(backend, "en").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::PressesOne { answer_ms: 10, press_ms: 10 }).await;
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![], talk_ms: 50 });
    line.until_ended(&sid).await;
    let ana = line.leg_to("+14155550101").unwrap();
    // From here on the test works the queue itself, without the call loop's ticks.
    line.tasks[1].abort();
    // The status callbacks of both legs queue their deletion.
    let both_queued = eventually(|| async {
        let pending = calls_db::pending_deletions(line.state.db.pool()).await.unwrap();
        pending.contains(&sid) && pending.contains(&ana.sid)
    })
    .await;
    let pending = calls_db::pending_deletions(line.state.db.pool()).await.unwrap();
    assert!(both_queued, "{pending:?}");

    // The provider refuses the first attempts ("still being processed").
    line.standin.refuse_next_deletes(10);
    line.env.clock.advance(Duration::from_secs(61));
    assert_eq!(quietline::outbound::scrub(&line.state).await, 0);
    assert_eq!(calls_db::pending_deletions(line.state.db.pool()).await.unwrap().len(), pending.len());

    // A restart: a new state over the same database and data dir picks the queue up.
    line.standin.refuse_next_deletes(0);
    let restarted = line.env.state_with(&settings(&line.url, &line.standin, "en")).await;
    assert_eq!(quietline::outbound::scrub(&restarted).await, 0, "backoff: not due yet");
    line.env.clock.advance(Duration::from_secs(130));
    assert_eq!(quietline::outbound::scrub(&restarted).await, pending.len());
    assert!(calls_db::pending_deletions(restarted.db.pool()).await.unwrap().is_empty());
    let deleted: Vec<String> = line.standin.deleted().into_iter().map(|(_, s)| s).collect();
    assert!(deleted.contains(&sid) && deleted.contains(&ana.sid), "{deleted:?}");
}

both!(two_instances_never_give_one_call_to_two_volunteers);
async fn two_instances_never_give_one_call_to_two_volunteers(backend: Backend) {
    let env = TestEnv::new(backend).await;
    for (alias, phone) in [("ana", "+14155550101"), ("beto", "+14155550102")] {
        env.add_volunteer(alias, phone, "dispatcher", "en", None).await;
    }
    let a = env.state().await;
    let b = env.state().await;
    let ana = quietline::roster::get(&a.db, "ana").await.unwrap();
    let beto = quietline::roster::get(&b.db, "beto").await.unwrap();
    for round in 0..20 {
        let id = calls_db::insert(a.db.pool(), &format!("CA{round:032}"), None, quietline::states::CallState::Menu, 0)
            .await
            .unwrap();
        assert!(calls_db::start_ringing(a.db.pool(), id, "en", 0, 10).await.unwrap());
        let (x, y) = tokio::join!(calls_db::claim(a.db.pool(), id, ana.id), calls_db::claim(b.db.pool(), id, beto.id));
        assert!(x.unwrap() ^ y.unwrap(), "round {round}: exactly one instance wins the claim");
        // Escalation is claimed once too.
        let (x, y) = tokio::join!(
            calls_db::advance_tier(a.db.pool(), id, 0, 1, 20),
            calls_db::advance_tier(b.db.pool(), id, 0, 1, 20)
        );
        assert!(!x.unwrap() && !y.unwrap(), "a bridged call never escalates");
    }
}

/// The `/telephony/voice` webhook for a new call from `from`; returns the TwiML.
async fn ring_in(line: &Line, n: u32, from: &str) -> String {
    let params: Vec<(String, String)> = vec![
        ("CallSid".into(), format!("CA{n:032}")),
        ("From".into(), from.into()),
        ("To".into(), provider::HOTLINE.into()),
    ];
    let (status, body) = line.standin.webhook(&format!("{}/telephony/voice", line.url), &params).await;
    assert_eq!(status, 200, "{body}");
    crate::support::twiml::assert_never_silent(&crate::support::twiml::parse(&body), &body);
    body
}

both!(floods_and_blocked_callers_hear_a_short_message);
async fn floods_and_blocked_callers_hear_a_short_message(backend: Backend) {
    let line = line(backend, "en,es").await;
    for n in 0..5 {
        assert!(ring_in(&line, n, CALLER).await.contains("<Gather"), "call {n} reaches the menu");
    }
    let sixth = ring_in(&line, 5, CALLER).await;
    assert!(sixth.contains("We cannot take your call right now") && sixth.contains("<Hangup/>"), "{sixth}");
    assert!(ring_in(&line, 6, "+14155550199").await.contains("<Gather"), "another caller is not affected");
    // A withheld number is asked to press a key first (see the security tests).
    assert!(ring_in(&line, 10, "anonymous").await.contains("To reach a volunteer, press 7."));

    let out = line.env.cli(&["block", "+1 415 555 0198", "--for", "3d"]).await.unwrap();
    assert!(out.starts_with("blocked until"), "{out}");
    let blocked = ring_in(&line, 20, "+14155550198").await;
    assert!(blocked.contains("We cannot take your call right now"), "{blocked}");
    // The next caller-token window: the block is carried into it.
    line.env.clock.advance(Duration::from_secs(86_400));
    quietline::blocks::refresh(&line.state).await.unwrap();
    assert!(ring_in(&line, 22, "+14155550198").await.contains("We cannot take your call right now"));
    // Days later the block is over.
    line.env.clock.advance(Duration::from_secs(3 * 86_400));
    quietline::blocks::refresh(&line.state).await.unwrap();
    assert!(ring_in(&line, 21, "+14155550198").await.contains("<Gather"));
    let err = line.env.cli(&["block", "555-0198"]).await.unwrap_err();
    assert!(err.contains("number"), "{err}");
}

both!(a_dispatcher_calls_back_behind_the_hotline_number);
async fn a_dispatcher_calls_back_behind_the_hotline_number(backend: Backend) {
    let line = line(backend, "en").await;
    // Nobody on shift: the caller asks for a call back and leaves a message.
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![Some("1")], talk_ms: 0 });
    line.until_ended(&sid).await;
    let item: i64 = sqlx::query_scalar("SELECT id FROM sealed_items WHERE class = 'callback'")
        .fetch_one(line.state.db.pool())
        .await
        .unwrap();
    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::PressesOne { answer_ms: 10, press_ms: 10 }).await;
    let out = line
        .env
        .cli_with(&["callback", &item.to_string(), "--volunteer", "ana"], &settings(&line.url, &line.standin, "en"))
        .await
        .unwrap();
    assert!(out.contains("ringing ana"), "{out}");
    line.until("the caller is dialled", |s| s.calls().iter().any(|c| c.to == CALLER && !c.inbound)).await;
    let dialed = line.standin.calls().into_iter().find(|c| c.to == CALLER && !c.inbound).unwrap();
    assert_eq!(dialed.from, provider::HOTLINE, "the caller sees the hotline number");
    let ana_leg = line.leg_to("+14155550101").unwrap();
    assert_eq!(ana_leg.from, provider::HOTLINE, "the volunteer sees the hotline number");
    // Once connected, the number is not kept.
    eventually(|| async { quietline::store::items::get(line.state.db.pool(), item).await.unwrap().is_none() }).await;
    assert!(quietline::store::items::get(line.state.db.pool(), item).await.unwrap().is_none());
    let err = line
        .env
        .cli_with(&["callback", &item.to_string(), "--volunteer", "ana"], &settings(&line.url, &line.standin, "en"))
        .await
        .unwrap_err();
    assert!(err.contains("no such item"), "{err}");
}

both!(two_servers_on_one_database_ring_each_tier_once_and_bridge_once);
async fn two_servers_on_one_database_ring_each_tier_once_and_bridge_once(backend: Backend) {
    let line = line(backend, "en").await;
    // A second server on the same database, data dir and clock, with its own call loop.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url_b = format!("http://{}", listener.local_addr().unwrap());
    let b = line.env.state_with(&settings(&url_b, &line.standin, "en")).await;
    let server_b = tokio::spawn({
        let b = b.clone();
        async move { quietline::serve(listener, b, std::future::pending()).await.unwrap() }
    });
    let ticker_b = tokio::spawn(quietline::ticks::run(b.clone()));

    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::NeverAnswers).await;
    line.volunteer("coord", "+14155550105", "coordinator", "en", Person::PressesOne { answer_ms: 30, press_ms: 10 })
        .await;
    line.volunteer("over", "+14155550106", "coordinator", "en", Person::PressesOne { answer_ms: 30, press_ms: 10 })
        .await;
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![], talk_ms: 100 });
    line.until("the first tier rings", |s| s.calls().iter().any(|c| c.to == "+14155550101")).await;
    // Both servers' loops see the deadline pass at the same moment.
    line.env.clock.advance(Duration::from_secs(31));
    line.until_ended(&sid).await;
    server_b.abort();
    ticker_b.abort();

    let legs: Vec<_> = line.standin.calls().into_iter().filter(|c| !c.inbound).collect();
    for phone in ["+14155550101", "+14155550105", "+14155550106"] {
        assert_eq!(legs.iter().filter(|c| c.to == phone).count(), 1, "{phone} rung once; legs: {legs:?}");
    }
    let bridged: Vec<_> = legs.iter().filter(|c| c.bridged_with.as_deref() == Some(sid.as_str())).collect();
    assert_eq!(bridged.len(), 1, "exactly one volunteer bridged; events:\n{}", line.standin.events().join("\n"));
    let row = line.call_row(&sid).await;
    assert_eq!(row.outcome, Some(quietline::states::Outcome::Answered));
}

both!(the_simulator_walks_a_call_and_reports_each_step);
async fn the_simulator_walks_a_call_and_reports_each_step(backend: Backend) {
    let line = line(backend, "en,es").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "es", Person::NeverAnswers).await;
    let settings = settings(&line.url, &line.standin, "en,es");
    let out = line
        .env
        .cli_with(&["simulate", "call", "--from", "+14155550177", "--digits", "2", "--hold", "2s"], &settings)
        .await
        .unwrap();
    for step in [
        "→ POST /telephony/voice",
        "hears [en-US] For English, press 1.",
        "hears [es-US] Para español, oprima 2.",
        "presses 2",
        "the server rings 1 volunteer phone(s) at once, showing +14155550000 (the simulator rings none)",
        "hears [es-US] Gracias por llamar.",
        "still holding after 2s; hanging up",
        "call ended",
    ] {
        assert!(out.contains(step), "{step:?} missing from:\n{out}");
    }
    // Hanging up ends the call and the leg that was ringing.
    let state = line.env.state().await;
    let ended = crate::support::eventually(|| async {
        let calls = quietline::store::calls::count_in_state(state.db.pool(), quietline::states::CallState::Ended);
        calls.await.unwrap() == 1
    })
    .await;
    assert!(ended, "the simulated call is over at the server");

    line.env.cli(&["shift", "off", "ana"]).await.unwrap();
    let out =
        line.env.cli_with(&["simulate", "call", "--from", "+14155550177", "--digits", "1,-"], &settings).await.unwrap();
    assert!(out.contains("Nobody can answer right now"), "{out}");
    assert!(out.contains("would leave a message here"), "{out}");
    assert!(out.contains("the server hangs up"), "{out}");

    // A wrong token is reported as the server refusing the signature.
    let mut wrong = settings.to_vec();
    wrong.retain(|(k, _)| *k != "QUIETLINE_PROVIDER_AUTH_TOKEN");
    wrong.push(("QUIETLINE_PROVIDER_AUTH_TOKEN", "not-the-token"));
    let err = line.env.cli_with(&["simulate", "call", "--from", "+14155550177"], &wrong).await.unwrap_err();
    assert!(err.contains("signature refused"), "{err}");
}
