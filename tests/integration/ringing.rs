//! Ringing under the provider's real limits, through the stand-in's model of
//! them: a tier's phones rung at once from the caller's leg (never one REST call
//! each), the first to pick up and press 1 put through and the others hung up
//! by the provider, and the faults: a dial that never reports, call backs the
//! provider refuses, an account at its concurrency cap. Then the stand-in's own
//! model, checked against what the provider documents.

use std::time::Duration;

use crate::both;
use crate::support::Backend;
use crate::support::line::{Line, line, settings};
use crate::support::provider::{self, CallerScript, Person, StandIn};

const CALLER: &str = "+14155550177";

/// The legs a caller's `round`-th dial rang.
fn legs_of_dial(line: &Line, caller: &str, round: u32) -> Vec<provider::SimCall> {
    line.standin.calls().into_iter().filter(|c| c.parent.as_ref() == Some(&(caller.to_string(), round))).collect()
}

both!(a_tier_rings_every_phone_at_once_from_the_callers_leg);
async fn a_tier_rings_every_phone_at_once_from_the_callers_leg(backend: Backend) {
    let line = line(backend, "en").await;
    for i in 0..4 {
        line.volunteer(&format!("v{i}"), &format!("+1415555011{i}"), "dispatcher", "en", Person::NeverAnswers).await;
    }
    line.volunteer("ana", "+14155550119", "dispatcher", "en", Person::PressesOne { answer_ms: 200, press_ms: 30 })
        .await;
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![], talk_ms: 100 });
    line.until_ended(&sid).await;
    let events = line.standin.events().join("\n");

    let legs = legs_of_dial(&line, &sid, 1);
    assert_eq!(legs.len(), 5, "one dial rang the whole tier: {events}");
    assert!(legs.iter().all(|l| l.from == provider::HOTLINE), "every phone sees the hotline number");
    assert_eq!(line.standin.rest_calls_created(), 0, "no call was created through the REST API");
    let bridged: Vec<_> = legs.iter().filter(|l| l.bridged_with.as_deref() == Some(sid.as_str())).collect();
    assert_eq!(bridged.len(), 1, "{events}");
    assert_eq!(bridged[0].to, "+14155550119");
    // The provider hung up the phones still ringing once Ana was put through.
    assert!(legs.iter().filter(|l| l.to != "+14155550119").all(|l| l.status == "canceled"), "{legs:#?}");
    let row = line.call_row(&sid).await;
    assert_eq!(row.outcome, Some(quietline::states::Outcome::Answered));
    // Every leg got the provider's id from its webhooks, and is queued for deletion.
    let pending = quietline::store::calls::pending_deletions(line.state.db.pool()).await.unwrap();
    for leg in &legs {
        assert!(pending.contains(&leg.sid), "{} is deleted at the provider; queued: {pending:?}", leg.sid);
    }
}

both!(the_first_to_press_one_wins_and_the_other_is_told_or_hung_up);
async fn the_first_to_press_one_wins_and_the_other_is_told_or_hung_up(backend: Backend) {
    let line = line(backend, "en").await;
    let both_quick = Person::PressesOne { answer_ms: 20, press_ms: 20 };
    line.volunteer("ana", "+14155550101", "dispatcher", "en", both_quick).await;
    line.volunteer("ben", "+14155550102", "dispatcher", "en", both_quick).await;
    for round in 0..3 {
        let sid =
            line.standin.place_call(&format!("+1415555019{round}"), CallerScript { gathers: vec![], talk_ms: 50 });
        line.until_ended(&sid).await;
        let events = line.standin.events().join("\n");
        let legs = legs_of_dial(&line, &sid, 1);
        assert_eq!(legs.len(), 2);
        let bridged = legs.iter().filter(|l| l.bridged_with.is_some()).count();
        assert_eq!(bridged, 1, "round {round}: exactly one put through:\n{events}");
        let other = legs.iter().find(|l| l.bridged_with.is_none()).unwrap();
        let taken =
            events.contains(&format!("{} hears [en-US] Someone else already took this call. Thank you.", other.sid));
        let hung_up = events.contains(&format!("{} hung up by the provider", other.sid)) || other.status == "canceled";
        let answered_late = other.status == "completed";
        assert!(taken || hung_up || answered_late, "round {round}: {other:?}\n{events}");
    }
}

both!(a_dial_that_never_reports_is_moved_on_by_a_tick);
async fn a_dial_that_never_reports_is_moved_on_by_a_tick(backend: Backend) {
    let line = line(backend, "en").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::NeverAnswers).await;
    line.volunteer("coord", "+14155550105", "coordinator", "en", Person::PressesOne { answer_ms: 10, press_ms: 10 })
        .await;
    line.standin.silence_next_dials(1);
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![], talk_ms: 100 });
    line.until("the first dial ends without a word", |s| {
        s.events().iter().any(|e| e == &format!("{sid} dial never reports"))
    })
    .await;
    assert!(line.leg_to("+14155550105").is_none(), "nothing moves while the server waits for the report");
    // The tier's timeout and its grace pass on the server's clock: a tick
    // redirects the caller, and the next tier rings.
    line.env.clock.advance(Duration::from_secs(45));
    line.until_ended(&sid).await;
    let row = line.call_row(&sid).await;
    assert_eq!(line.alias_of(row.answered_by).await.as_deref(), Some("coord"));
    let events = line.standin.events().join("\n");
    assert!(events.contains(&format!("{sid} redirected by the server")), "{events}");
    for phone in ["+14155550101", "+14155550105"] {
        let rung = line.standin.calls().iter().filter(|c| !c.inbound && c.to == phone).count();
        assert_eq!(rung, 1, "{phone} rung once:\n{events}");
    }
}

/// A caller asks for a call back with nobody on shift; returns the item.
async fn callback_asked(line: &Line, from: &str) -> i64 {
    let sid = line.standin.place_call(from, CallerScript { gathers: vec![Some("1")], talk_ms: 0 });
    line.until_ended(&sid).await;
    sqlx::query_scalar("SELECT id FROM sealed_items WHERE class = 'callback' ORDER BY id DESC LIMIT 1")
        .fetch_one(line.state.db.pool())
        .await
        .unwrap()
}

both!(a_call_back_the_provider_refuses_is_asked_again_or_fails_clearly);
async fn a_call_back_the_provider_refuses_is_asked_again_or_fails_clearly(backend: Backend) {
    let line = line(backend, "en").await;
    let first = callback_asked(&line, CALLER).await;
    let second = callback_asked(&line, "+14155550178").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::PressesOne { answer_ms: 10, press_ms: 10 }).await;
    let line = &line;
    let cli = |item: i64| async move {
        let item = item.to_string();
        line.env.cli_with(&["callback", &item, "--volunteer", "ana"], &settings(&line.url, &line.standin, "en")).await
    };
    // Over the rate, then unavailable: neither placed anything, so both are asked again.
    line.standin.refuse_next_calls(&[429, 503]);
    let out = cli(first).await.unwrap();
    assert!(out.contains("ringing ana"), "{out}");
    line.until("the caller is dialled", |s| s.calls().iter().any(|c| c.to == CALLER && !c.inbound)).await;
    let to_ana = |s: &StandIn| s.calls().iter().filter(|c| c.to == "+14155550101").count();
    assert_eq!(to_ana(&line.standin), 1, "rung once");
    assert_eq!(line.standin.rest_calls_created(), 1, "the volunteer's leg; the caller is dialled from it");

    // An error that may have placed the call is not asked again: nobody is rung twice.
    line.standin.refuse_next_calls(&[500]);
    let err = cli(second).await.unwrap_err();
    assert!(err.contains("provider answered 500"), "{err}");
    assert_eq!(to_ana(&line.standin), 1);
    assert!(quietline::store::items::get(line.state.db.pool(), second).await.unwrap().is_some(), "kept for a retry");
}

both!(an_account_at_its_concurrency_cap_fails_a_leg_and_the_caller_still_gets_through);
async fn an_account_at_its_concurrency_cap_fails_a_leg_and_the_caller_still_gets_through(backend: Backend) {
    let line = line(backend, "en").await;
    line.volunteer("ana", "+14155550101", "dispatcher", "en", Person::PressesOne { answer_ms: 30, press_ms: 10 }).await;
    line.volunteer("ben", "+14155550102", "dispatcher", "en", Person::PressesOne { answer_ms: 30, press_ms: 10 }).await;
    // The caller's leg and one more.
    line.standin.limit_concurrent_calls(2);
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![], talk_ms: 50 });
    line.until_ended(&sid).await;
    let events = line.standin.events().join("\n");
    let legs = legs_of_dial(&line, &sid, 1);
    assert_eq!(legs.len(), 2);
    assert_eq!(legs.iter().filter(|l| l.status == "failed").count(), 1, "{events}");
    assert_eq!(legs.iter().filter(|l| l.bridged_with.is_some()).count(), 1, "{events}");
    assert_eq!(line.call_row(&sid).await.outcome, Some(quietline::states::Outcome::Answered));
}

/// The stand-in's REST API as the provider documents it: calls queued at the
/// account's rate after the request's round trip, refusals with the
/// provider's error shape.
#[tokio::test]
async fn the_stand_in_places_rest_calls_at_the_call_rate_after_a_round_trip() {
    let standin = StandIn::start().await;
    standin.set_call_rate(10.0);
    standin.set_latency(Duration::from_millis(50));
    let http = reqwest::Client::new();
    let create = |to: &str| {
        let url = format!("{}/2010-04-01/Accounts/{}/Calls.json", standin.base, provider::ACCOUNT_SID);
        let form = [("To", to), ("From", provider::HOTLINE), ("Url", "http://127.0.0.1:9/answer")];
        http.post(url).basic_auth(provider::ACCOUNT_SID, Some(provider::AUTH_TOKEN)).form(&form).send()
    };
    let asked = std::time::Instant::now();
    let (a, b, c) = tokio::join!(create("+14155550101"), create("+14155550102"), create("+14155550103"));
    assert!(asked.elapsed() >= Duration::from_millis(50), "each request takes its round trip");
    for answer in [a, b, c] {
        assert_eq!(answer.unwrap().status(), 201);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut rang: Vec<std::time::Instant> = standin.calls().iter().filter_map(|c| c.rang_at).collect();
    rang.sort();
    assert_eq!(rang.len(), 3);
    for pair in rang.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(95), "placed at 10 per second: {rang:?}");
    }
    standin.refuse_next_calls(&[429]);
    let refused = create("+14155550104").await.unwrap();
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], 20429);
    assert_eq!(standin.rest_calls_created(), 3);
}
