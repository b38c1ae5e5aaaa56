//! Field operations by SMS, end to end through the provider stand-in: shifts by
//! text, public intake relayed without the sender's number and answered from the
//! hotline, incidents paging their zone, the first K accepts, escalation on a
//! moved clock, sealed field notes, provider records deleted, forged webhooks
//! refused, and a flood of hostile texts answered with valid TwiML.

use std::time::Duration;

use quietline::store::{incidents, intake};

use crate::both;
use crate::support::holds;
use crate::support::line::{Line, line_with};
use crate::support::provider::{CallerScript, HOTLINE, Person};
use crate::support::{Backend, Reader, captured_log, eventually, new_reader};

const PUBLIC: &str = "+14155550177";
const PUBLIC_DIGITS: &str = "4155550177";
const INTAKE_TEXT: &str = "Hay agentes en la lavandería de la calle Ocho, tres camionetas";
const NOTE_TEXT: &str = "Badge 4471 took a man in a grey hoodie from the laundromat";

/// Adds a volunteer with zones and, optionally, a key; on shift if asked.
async fn member(line: &Line, alias: &str, phone: &str, roles: &str, zones: &str, key: Option<&Reader>, on: bool) {
    let mut args =
        vec!["volunteer", "add", "--alias", alias, "--phone", phone, "--roles", roles, "--languages", "en,es"];
    args.extend(["--zones", zones]);
    if let Some(k) = key {
        args.extend(["--age-recipient", k.public.as_str()]);
    }
    line.cli(&args).await.unwrap_or_else(|e| panic!("adding {alias}: {e}"));
    if on {
        line.cli(&["shift", "on", alias]).await.unwrap();
    }
}

fn reader(line: &Line, name: &str) -> Reader {
    new_reader(line.env.dir.path(), name)
}

/// `quietline open` with a reader's identity.
async fn open_as(line: &Line, who: &Reader, item: i64) -> Result<String, String> {
    line.cli(&["open", "--identity", who.file.to_str().unwrap(), &item.to_string()]).await
}

/// The first number in a text after `marker`, e.g. `Note #` → 12.
fn number_after(text: &str, marker: &str) -> i64 {
    let rest = &text[text.find(marker).unwrap_or_else(|| panic!("{marker:?} in {text:?}")) + marker.len()..];
    rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
}

/// A command that waits for its one-time code (NEW, R): sends it, reads the
/// code from the answer to the number on the roster, and confirms with it.
/// Returns the answer to the confirmation.
async fn confirmed(line: &Line, from: &str, command: &str) -> Vec<String> {
    let asked = line.standin.text(from, command).await;
    assert!(asked.len() == 1 && asked[0].starts_with("Reply OK "), "{command:?} did not ask for a code: {asked:?}");
    let code: String = asked[0]["Reply OK ".len()..].chars().take_while(char::is_ascii_digit).collect();
    line.standin.text(from, &format!("OK {code}")).await
}

/// Waits until `number` has been sent a text containing `needle`; returns it.
async fn text_to(line: &Line, number: &str, needle: &str) -> String {
    let found = eventually(|| async { line.standin.texts_to(number).iter().any(|t| t.contains(needle)) }).await;
    assert!(found, "no text to {number} with {needle:?}; got {:?}", line.standin.texts_to(number));
    line.standin.texts_to(number).into_iter().find(|t| t.contains(needle)).unwrap()
}

/// Every message record at the stand-in, inbound and outbound, is deleted
/// through the scrub queue once its minute has passed.
async fn assert_every_message_deleted(line: &Line) {
    line.env.clock.advance(Duration::from_secs(61));
    let all_gone = eventually(|| async {
        quietline::outbound::scrub(&line.state).await;
        let deleted: Vec<String> = line.standin.deleted().into_iter().map(|(_, sid)| sid).collect();
        line.standin.records().iter().all(|m| deleted.contains(&m.sid))
    })
    .await;
    let deleted: Vec<String> = line.standin.deleted().into_iter().map(|(_, sid)| sid).collect();
    let left: Vec<_> = line.standin.records().into_iter().filter(|m| !deleted.contains(&m.sid)).collect();
    assert!(all_gone, "message records left at the provider: {left:?}");
    assert!(line.standin.records().len() > 3, "the check above saw messages");
}

async fn database_bytes(line: &Line) -> Vec<u8> {
    crate::support::database_bytes(&line.env, &line.state).await
}

fn system_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Moves the server's manual clock up to the system clock that commands run on.
fn catch_up_with_system_clock(line: &Line) {
    let behind = system_now() - line.state.vault.clock().now().0;
    if behind > 0 {
        line.env.clock.advance(Duration::from_secs(behind as u64 + 1));
    }
}

async fn assert_no_canaries(line: &Line, canaries: &[&str]) {
    let db = database_bytes(line).await;
    assert!(db.len() > 1000, "the scan reads the database");
    let log = captured_log();
    assert!(log.contains("route=/telephony/sms"), "the log is captured");
    for canary in canaries {
        assert!(!holds(&db, canary), "the database holds {canary:?}");
        assert!(!log.contains(canary), "the log holds {canary:?}");
    }
}

both!(shifts_by_text_change_who_is_rung);
async fn shifts_by_text_change_who_is_rung(backend: Backend) {
    let line = line_with(backend, "en", &[]).await;
    member(&line, "ana", "+14155550101", "dispatcher", "north", None, false).await;
    line.standin.person("+14155550101", Person::PressesOne { answer_ms: 20, press_ms: 20 });

    let reply = line.standin.text("+14155550101", "  on ").await;
    assert_eq!(reply.len(), 1);
    assert!(reply[0].starts_with("You are ON shift (dispatcher; zones north)"), "{reply:?}");
    let sid = line.standin.place_call(PUBLIC, CallerScript { gathers: vec![], talk_ms: 50 });
    line.until_ended(&sid).await;
    assert_eq!(line.call_row(&sid).await.outcome, Some(quietline::states::Outcome::Answered));
    assert!(line.leg_to("+14155550101").is_some());

    let reply = line.standin.text("+14155550101", "OFF").await;
    assert!(reply[0].starts_with("You are OFF shift"), "{reply:?}");
    let second = line.standin.place_call("+14155550178", CallerScript { gathers: vec![None, None], talk_ms: 0 });
    line.until_ended(&second).await;
    assert_ne!(line.call_row(&second).await.outcome, Some(quietline::states::Outcome::Answered));
    let legs = line.standin.calls().into_iter().filter(|c| !c.inbound && c.to == "+14155550101").count();
    assert_eq!(legs, 1, "off shift, ana was not rung again");

    // STATUS, HELP and noise answer without echoing anything.
    let reply = line.standin.text("+14155550101", "status").await;
    assert!(reply[0].contains("OFF shift") && reply[0].contains("Open incidents in your zones: 0"), "{reply:?}");
    let reply = line.standin.text("+14155550101", "where is the van with plates XYZ123?").await;
    assert_eq!(reply, ["Not a quietline command. Text HELP for the list."]);
    let reply = line.standin.text("+14155550101", "HELP").await;
    assert!(reply[0].contains("NOTE 12 <text>"), "{reply:?}");
    let audit = line.cli(&["audit"]).await.unwrap();
    assert!(audit.contains("shift.on") && audit.contains("shift.off"), "{audit}");

    // Revoked (a lost phone, say): texts from the number are no longer commands.
    line.cli(&["volunteer", "revoke", "ana"]).await.unwrap();
    assert!(line.standin.text("+14155550101", "ON").await.is_empty());
    assert!(!quietline::roster::get(&line.state.db, "ana").await.unwrap().on_shift);
}

both!(public_texts_reach_dispatchers_without_the_number_and_replies_reach_the_sender);
async fn public_texts_reach_dispatchers_without_the_number_and_replies_reach_the_sender(backend: Backend) {
    captured_log();
    let line = line_with(backend, "en,es", &[]).await;
    let ana_key = reader(&line, "ana");
    let tomas_key = reader(&line, "tomas");
    let obs_key = reader(&line, "olga");
    member(&line, "ana", "+14155550101", "dispatcher", "north", Some(&ana_key), true).await;
    member(&line, "beto", "+14155550102", "dispatcher", "north", None, false).await;
    member(&line, "tomas", "+14155550103", "attorney", "north", Some(&tomas_key), false).await;
    member(&line, "olga", "+14155550104", "observer", "north", Some(&obs_key), true).await;

    // A first text, asking for Spanish, opens thread #1 and is acknowledged in Spanish.
    let reply = line.standin.text(PUBLIC, &format!("ES {INTAKE_TEXT}")).await;
    assert_eq!(reply.len(), 1, "{reply:?}");
    assert!(reply[0].starts_with("Recibimos su mensaje.") && reply[0].contains("Por su seguridad"), "{reply:?}");
    let relay = text_to(&line, "+14155550101", "Public text #").await;
    let thread = number_after(&relay, "Public text #");
    assert!(relay.contains("(es)") && relay.contains(INTAKE_TEXT), "{relay}");
    assert!(relay.contains(&format!("Reply: R {thread} <text>")), "{relay}");
    assert!(!relay.contains(PUBLIC_DIGITS), "{relay}");
    // Off shift and observers get nothing.
    assert!(line.standin.texts_to("+14155550102").is_empty());
    assert!(line.standin.texts_to("+14155550104").is_empty());

    // A second text continues the thread, without a second acknowledgement.
    let reply = line.standin.text(PUBLIC, "y una patrulla").await;
    assert!(reply.is_empty(), "{reply:?}");
    let relays = eventually(|| async { line.standin.texts_to("+14155550101").len() == 2 }).await;
    assert!(relays);
    assert!(line.standin.texts_to("+14155550101")[1].starts_with(&format!("Public text #{thread} (es)")));

    // Ana replies; the sender gets it from the hotline number, and ana a confirmation.
    let reply = confirmed(&line, "+14155550101", &format!("R {thread} Vamos en camino. No se acerque.")).await;
    assert_eq!(reply, [format!("Sent to text #{thread}.")]);
    let got = line.standin.records();
    assert!(got.iter().any(|m| m.to == PUBLIC && m.from == HOTLINE && m.body == "Vamos en camino. No se acerque."));

    // The thread is sealed: ana and the attorney read it, the observer cannot.
    let items = line.cli(&["intake", "list"]).await.unwrap();
    // Replied to, so no longer waiting for a reply.
    assert!(items.contains(&format!("#{thread}")) && items.contains("es") && items.contains("replied"), "{items}");
    let first_item: i64 =
        items.split("texts (items): ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(open_as(&line, &ana_key, first_item).await.unwrap(), format!("ES {INTAKE_TEXT}"));
    assert_eq!(open_as(&line, &tomas_key, first_item).await.unwrap(), format!("ES {INTAKE_TEXT}"));
    assert!(open_as(&line, &obs_key, first_item).await.is_err());

    // An observer cannot reply, and a thread that does not exist is said so.
    let reply = line.standin.text("+14155550104", &format!("R {thread} hello")).await;
    assert_eq!(reply, ["Only dispatchers reply to texts."]);
    let reply = confirmed(&line, "+14155550101", "R 999 hello").await;
    assert!(reply[0].starts_with("There is no text #999"), "{reply:?}");

    // A photo is not kept, and its record is deleted with the message.
    let (status, xml) = line.standin.text_with_media(PUBLIC, "foto", 1).await;
    assert_eq!(status, 200, "{xml}");
    let relay = text_to(&line, "+14155550101", "was not kept").await;
    assert!(relay.contains("photo"), "{relay}");

    // STOP keeps its carrier meaning: no reply, and no more replies offered.
    assert!(line.standin.text(PUBLIC, "STOP").await.is_empty());
    let reply = confirmed(&line, "+14155550101", &format!("R {thread} seguimos aquí")).await;
    assert!(reply[0].contains("texted STOP"), "{reply:?}");
    assert!(line.standin.text(PUBLIC, "START").await.is_empty());

    // Handled: the thread and its texts now expire within a day.
    let out = line.cli(&["intake", "handled", &thread.to_string()]).await.unwrap();
    assert!(out.contains(&format!("#{thread} handled")), "{out}");
    let row = intake::get(line.state.db.pool(), thread).await.unwrap().unwrap();
    assert!(row.expires_at <= system_now() + 86_400, "handled threads go within 24 h");
    assert!(row.expires_at > system_now() + 86_000);
    assert_eq!(open_as(&line, &ana_key, first_item).await.unwrap(), format!("ES {INTAKE_TEXT}"), "still readable");

    assert_every_message_deleted(&line).await;
    let deleted = line.standin.deleted();
    assert!(deleted.iter().any(|(kind, _)| kind == "media"), "{deleted:?}");
    assert_no_canaries(&line, &[PUBLIC, PUBLIC_DIGITS, INTAKE_TEXT, "Vamos en camino"]).await;
}

both!(without_relay_dispatchers_get_a_content_free_alert_to_open);
async fn without_relay_dispatchers_get_a_content_free_alert_to_open(backend: Backend) {
    let line = line_with(backend, "en", &[("QUIETLINE_RELAY_CONTENT", "false")]).await;
    let ana_key = reader(&line, "ana");
    member(&line, "ana", "+14155550101", "dispatcher", "north", Some(&ana_key), true).await;
    let reply = line.standin.text(PUBLIC, INTAKE_TEXT).await;
    assert!(reply[0].starts_with("We received your message."), "{reply:?}");
    let alert = text_to(&line, "+14155550101", "read it at ").await;
    assert!(!alert.contains("lavandería") && !alert.contains(PUBLIC_DIGITS), "{alert}");
    let item = number_after(&alert, &format!("{}/console/items/", line.url));
    assert_eq!(open_as(&line, &ana_key, item).await.unwrap(), INTAKE_TEXT);
}

both!(without_the_location_by_sms_observers_get_a_link_and_the_server_keeps_no_copy);
async fn without_the_location_by_sms_observers_get_a_link_and_the_server_keeps_no_copy(backend: Backend) {
    let line = line_with(backend, "en", &[("QUIETLINE_DISPATCH_LOCATION_BY_SMS", "false")]).await;
    let key = reader(&line, "dani");
    member(&line, "dani", "+14155550100", "dispatcher", "north", Some(&key), true).await;
    member(&line, "o1", "+14155550111", "observer", "north", None, true).await;
    let reply = confirmed(&line, "+14155550100", "NEW north detention 1200 Mission St, back door").await;
    assert_eq!(reply, ["Opened #1; 1 observer(s) paged."]);
    let page = text_to(&line, "+14155550111", "quietline #1 north (detention)").await;
    assert!(page.contains(&format!("{}/console/incidents/1", line.url)) && !page.contains("Mission"), "{page}");
    let linked = quietline::store::items::linked(line.state.db.pool(), quietline::store::items::Link::Incident(1))
        .await
        .unwrap();
    let classes: Vec<&str> = linked.iter().map(|i| i.class.as_str()).collect();
    assert_eq!(classes, ["incident_details"], "only the sealed details are kept");
    let details = open_as(&line, &key, linked[0].id).await.unwrap();
    assert!(details.starts_with("1200 Mission St, back door"), "{details}");

    // A word that is not a known zone is refused without being repeated or kept.
    let reply = line.standin.text("+14155550100", "NEW 1200-mission-st van outside").await;
    assert_eq!(reply, ["Unknown zone; zones: north. Write it as NEW <zone> <where, what>."]);
    assert_eq!(incidents::list(line.state.db.pool()).await.unwrap().len(), 1);

    // Open, the details are kept ahead of their expiry; forgotten for a week, the
    // incident is closed by the sweeper and its lifetime starts.
    line.env.clock.advance(Duration::from_secs(6 * 86_400 + 12 * 3600));
    let report = quietline::retention::sweep(&line.state).await.unwrap();
    assert_eq!((report.kept_alive, report.incidents_closed), (1, 0), "{report:?}");
    let now = line.state.vault.clock().now().0;
    let item = quietline::store::items::get(line.state.db.pool(), linked[0].id).await.unwrap().unwrap();
    assert!(item.expires_at >= now + 2 * 86_400, "kept at least two days ahead");
    assert!(open_as(&line, &key, linked[0].id).await.is_ok(), "still readable after resealing");
    line.env.clock.advance(Duration::from_secs(86_400));
    let report = quietline::retention::sweep(&line.state).await.unwrap();
    assert_eq!(report.incidents_closed, 1, "{report:?}");
    let row = incidents::get(line.state.db.pool(), 1).await.unwrap().unwrap();
    assert_eq!(row.status, quietline::states::IncidentStatus::Closed);
    let audit = line.cli(&["audit"]).await.unwrap();
    assert!(audit.lines().any(|l| l.contains("system") && l.contains("incident.close")), "{audit}");
}

both!(two_instances_hand_out_each_dispatch_slot_once);
async fn two_instances_hand_out_each_dispatch_slot_once(backend: Backend) {
    let env = crate::support::TestEnv::new(backend).await;
    let phones: Vec<String> = (0..6).map(|i| format!("+1415555012{i}")).collect();
    for (i, phone) in phones.iter().enumerate() {
        env.add_volunteer(&format!("o{i}"), phone, "observer", "en", None).await;
        // On shift, so that opening an incident pages them: only the paged may accept.
        env.cli(&["shift", "on", &format!("o{i}")]).await.unwrap();
    }
    let a = env.state().await;
    let b = env.state().await;
    let observers = quietline::roster::list(&a.db).await.unwrap();
    for round in 0..5 {
        let report = quietline::dispatch::NewReport {
            zone: quietline::roster::Zone::parse("north").unwrap(),
            kind: quietline::dispatch::Kind::Sighting,
            location: "somewhere",
            description: "",
        };
        let id = quietline::dispatch::open(&a, report, quietline::audit::Actor::Operator).await.unwrap().id;
        let mut tasks = Vec::new();
        for (i, v) in observers.iter().enumerate() {
            let state = if i % 2 == 0 { a.clone() } else { b.clone() };
            let v = v.clone();
            tasks.push(tokio::spawn(async move { quietline::dispatch::accept(&state, id, &v).await.unwrap() }));
        }
        let mut assigned = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), quietline::dispatch::Accepted::Assigned { .. }) {
                assigned += 1;
            }
        }
        assert_eq!(assigned, 2, "round {round}: exactly dispatch_observers are assigned");
        let row = incidents::get(a.db.pool(), id).await.unwrap().unwrap();
        assert_eq!(row.assigned, 2);
        let states = incidents::dispatches_of(a.db.pool(), id).await.unwrap();
        assert_eq!(states.iter().filter(|(_, s)| *s == quietline::states::DispatchState::Accepted).count(), 2);
        assert_eq!(states.iter().filter(|(_, s)| *s == quietline::states::DispatchState::Covered).count(), 4);
    }
    // A paging step is taken by one instance only.
    let id = incidents::insert(
        a.db.pool(),
        &incidents::NewIncident {
            zone: "north",
            kind: "other",
            needed: 1,
            opened_by: None,
            created_hour: 0,
            page_deadline: 0,
        },
    )
    .await
    .unwrap();
    let (x, y) = tokio::join!(
        incidents::advance_page(a.db.pool(), id, 0, 1, Some(5)),
        incidents::advance_page(b.db.pool(), id, 0, 1, Some(5))
    );
    assert!(x.unwrap() ^ y.unwrap(), "exactly one instance escalates");
}

both!(an_incident_pages_its_zone_assigns_the_first_k_escalates_and_keeps_notes_sealed);
async fn an_incident_pages_its_zone_assigns_the_first_k_escalates_and_keeps_notes_sealed(backend: Backend) {
    captured_log();
    let line = line_with(
        backend,
        "en",
        &[
            ("QUIETLINE_DISPATCH_OBSERVERS", "2"),
            ("QUIETLINE_DISPATCH_TIMEOUT", "5m"),
            ("QUIETLINE_ZONES", "north,south"),
        ],
    )
    .await;
    let keys: Vec<Reader> = ["o1", "o2", "tomas", "dani"].iter().map(|n| reader(&line, n)).collect();
    member(&line, "dani", "+14155550100", "dispatcher", "north", Some(&keys[3]), true).await;
    member(&line, "o1", "+14155550111", "observer", "north", Some(&keys[0]), true).await;
    member(&line, "o2", "+14155550112", "observer", "north", Some(&keys[1]), true).await;
    member(&line, "o3", "+14155550113", "observer", "north,south", None, true).await;
    member(&line, "o4", "+14155550114", "observer", "north", None, false).await;
    member(&line, "o5", "+14155550115", "observer", "south", None, true).await;
    member(&line, "tomas", "+14155550103", "attorney", "north", Some(&keys[2]), false).await;

    // A dispatcher opens an incident from the field.
    let reply = confirmed(&line, "+14155550100", "NEW north 5th and Main, two vans").await;
    assert_eq!(reply.len(), 1);
    let id = number_after(&reply[0], "Opened #");
    assert!(reply[0].ends_with("3 observer(s) paged."), "{reply:?}");
    for on_zone in ["+14155550111", "+14155550112", "+14155550113"] {
        let page = text_to(&line, on_zone, &format!("quietline #{id} north")).await;
        assert!(page.contains("5th and Main, two vans") && page.contains(&format!("Reply Y {id}")), "{page}");
    }
    assert!(line.standin.texts_to("+14155550114").is_empty(), "off shift: not paged");
    assert!(line.standin.texts_to("+14155550115").is_empty(), "other zone: not paged");

    // The first two accepts are assigned; the third hears it is covered.
    let one = line.standin.text("+14155550111", &format!("Y {id}")).await;
    assert!(one[0].starts_with(&format!("You are going to #{id} (1 of 2)")), "{one:?}");
    let two = line.standin.text("+14155550112", &format!("y #{id}")).await;
    assert!(two[0].starts_with(&format!("You are going to #{id} (2 of 2)")), "{two:?}");
    let three = line.standin.text("+14155550113", &format!("Y{id}")).await;
    assert_eq!(three, [format!("#{id} is covered, thank you.")]);
    let row = incidents::get(line.state.db.pool(), id).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.assigned, row.page_deadline), ("dispatched", 2, None));
    text_to(&line, "+14155550100", "o1 is going (1 of 2)").await;
    // The paging copy of the location went with the last slot.
    let linked = quietline::store::items::linked(line.state.db.pool(), quietline::store::items::Link::Incident(id))
        .await
        .unwrap();
    assert!(linked.iter().all(|i| i.class != "dispatch_location"), "{linked:?}");
    assert!(linked.iter().any(|i| i.class == "incident_details"));

    // On scene, a note: sealed to the author and the legal team, never echoed.
    let at = line.standin.text("+14155550111", &format!("AT {id}")).await;
    assert!(at[0].starts_with(&format!("On scene at #{id}")), "{at:?}");
    let saved = line.standin.text("+14155550111", &format!("NOTE {id} {NOTE_TEXT}")).await;
    assert!(saved[0].contains(&format!("on #{id} saved; deleted 30 days after #{id} closes")), "{saved:?}");
    assert!(!saved[0].contains("4471") && !saved[0].contains("hoodie"), "{saved:?}");
    let note = number_after(&saved[0], "Note #");
    assert_eq!(open_as(&line, &keys[0], note).await.unwrap(), NOTE_TEXT, "the author reads it");
    assert_eq!(open_as(&line, &keys[2], note).await.unwrap(), NOTE_TEXT, "the attorney reads it");
    assert!(open_as(&line, &keys[1], note).await.is_err(), "another observer cannot");
    // An observer not assigned cannot write one.
    let refused = line.standin.text("+14155550113", &format!("NOTE {id} I was there too")).await;
    assert_eq!(refused, [format!("You are not assigned to #{id}.")]);

    // Closing starts the note's 30 days; the note stays readable.
    let closed = line.cli(&["incident", "close", &id.to_string()]).await.unwrap();
    assert!(closed.contains(&format!("#{id} closed")), "{closed}");
    let row = incidents::get(line.state.db.pool(), id).await.unwrap().unwrap();
    let closed_at = row.closed_at.expect("closed");
    assert_eq!(row.expires_at, Some(closed_at + 7 * 86_400));
    let item = quietline::store::items::get(line.state.db.pool(), note).await.unwrap().unwrap();
    assert_eq!(item.expires_at, closed_at + 30 * 86_400, "the note's 30 days run from the close");
    assert_eq!(open_as(&line, &keys[2], note).await.unwrap(), NOTE_TEXT);
    text_to(&line, "+14155550111", &format!("quietline #{id} is closed")).await;
    let late = line.standin.text("+14155550112", &format!("note {id} left at 3pm")).await;
    assert!(late[0].contains("deleted on "), "{late:?}");
    let again = line.standin.text("+14155550113", &format!("Y {id}")).await;
    assert_eq!(again, [format!("#{id} has ended.")]);

    // A second incident, from the command line, in the south: nobody accepts.
    let details = line.env.dir.path().join("details.txt");
    std::fs::write(&details, "Bus stop on 3rd\nthree agents questioning people\n").unwrap();
    let out = line
        .cli(&["incident", "new", "--zone", "south", "--kind", "checkpoint", "--details", details.to_str().unwrap()])
        .await
        .unwrap();
    let second = number_after(&out, "opened #");
    assert!(out.contains("2 observer(s) paged"), "{out}");
    text_to(&line, "+14155550115", &format!("quietline #{second} south (checkpoint): Bus stop on 3rd")).await;
    assert!(!line.standin.texts_to("+14155550111").iter().any(|t| t.contains(&format!("#{second} "))));
    // Five minutes later, every zone is paged (those on shift, not yet paged). The
    // command ran on the system clock: the server's clock catches up first.
    catch_up_with_system_clock(&line);
    line.env.clock.advance(Duration::from_secs(301));
    let page = text_to(&line, "+14155550111", &format!("quietline #{second} south")).await;
    assert!(page.contains("Bus stop on 3rd") && !page.contains("questioning"), "{page}");
    text_to(&line, "+14155550112", &format!("quietline #{second} south")).await;
    assert!(line.standin.texts_to("+14155550114").is_empty(), "off shift: still not paged");
    // Five more, and the dispatchers hear that nobody accepted.
    line.env.clock.advance(Duration::from_secs(301));
    text_to(&line, "+14155550100", &format!("quietline #{second} south: no observer has accepted")).await;
    let false_alarm = line.cli(&["incident", "false-alarm", &second.to_string()]).await.unwrap();
    assert!(false_alarm.contains("marked a false alarm"), "{false_alarm}");

    // Every step left an audit event, and none of them any content.
    let audit = line.cli(&["audit", "--limit", "100"]).await.unwrap();
    for action in [
        "incident.open",
        "dispatch.page",
        "dispatch.accept",
        "dispatch.covered",
        "dispatch.on_scene",
        "note.add",
        "incident.close",
        "dispatch.escalate",
        "dispatch.unanswered",
        "incident.false_alarm",
    ] {
        assert!(audit.contains(action), "{action} missing from:\n{audit}");
    }
    assert!(!audit.contains("Main") && !audit.contains("4471"), "{audit}");

    assert_every_message_deleted(&line).await;
    assert_no_canaries(&line, &[NOTE_TEXT, "hoodie", "left at 3pm", "questioning people"]).await;
}

both!(forged_or_unsigned_texts_change_nothing);
async fn forged_or_unsigned_texts_change_nothing(backend: Backend) {
    let line = line_with(backend, "en", &[]).await;
    member(&line, "ana", "+14155550101", "dispatcher", "north", None, true).await;
    let url = format!("{}/telephony/sms", line.url);
    let params = |from: &str, body: &str| {
        vec![
            ("MessageSid".to_string(), "SM0123456789abcdef0123456789abcdef".to_string()),
            ("From".to_string(), from.to_string()),
            ("To".to_string(), HOTLINE.to_string()),
            ("Body".to_string(), body.to_string()),
        ]
    };
    let signed_elsewhere = quietline::telephony::signature::sign(
        crate::support::provider::AUTH_TOKEN.as_bytes(),
        "https://attacker.example/telephony/sms",
        &params("+14155550101", "OFF"),
    );
    for (from, body) in [("+14155550101", "OFF"), (PUBLIC, "fake report"), ("+14155550101", "NEW north fake")] {
        assert_eq!(line.standin.raw_webhook(&url, &params(from, body), None).await, 403);
        assert_eq!(line.standin.raw_webhook(&url, &params(from, body), Some("bm90IGEgc2lnbmF0dXJl")).await, 403);
        assert_eq!(line.standin.raw_webhook(&url, &params(from, body), Some(&signed_elsewhere)).await, 403);
    }
    let status_url = format!("{}/telephony/sms/status", line.url);
    assert_eq!(line.standin.raw_webhook(&status_url, &params(PUBLIC, ""), None).await, 403);

    let ana = quietline::roster::get(&line.state.db, "ana").await.unwrap();
    assert!(ana.on_shift, "the forged OFF changed nothing");
    let now = line.state.vault.clock().now().0;
    assert!(intake::list(line.state.db.pool(), now).await.unwrap().is_empty());
    assert!(incidents::list(line.state.db.pool()).await.unwrap().is_empty());
    assert!(line.standin.messages().is_empty(), "nothing was sent");
    let (pending, _) = quietline::store::sweep::pending_deletions(line.state.db.pool(), now).await.unwrap();
    assert_eq!(pending, 0, "nothing was queued");
}

/// A small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const HOSTILE: &[&str] = &[
    "'; DROP TABLE incidents; --",
    "\" OR 1=1 --",
    "1); DELETE FROM volunteers; --",
    "<Response><Dial>+15555550100</Dial></Response>",
    "]]><Hangup/><![CDATA[",
    "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
    "&amp;&lt;&#0;&#x1F;",
    "{{7*7}} ${jndi:ldap://x/a} %s%s%n",
    "\u{202E}gnp.exe\u{200B}\u{FEFF}",
    "Z\u{0351}\u{0362}\u{0334}\u{0336}a\u{0315}l\u{0358}g\u{0361}o",
    "🚨🚓👮‍♀️🏳️‍🌈 ملاحظة 注意 झटका",
    "\u{0}\u{1}\u{7}\u{8}\u{b}\u{c}\u{1b}[31m\u{7f}",
    "\r\n\r\nHTTP/1.1 200 OK\r\n",
    "STOP",
    "HELP",
    "START",
    "",
    "   ",
];

const PREFIXES: &[&str] =
    &["", "", "NOTE 1 ", "R 1 ", "NEW north ", "Y ", "N ", "AT ", "DONE ", "ON ", "note #", "r ", "ES ", "new ", "OK "];

fn hostile_body(rng: &mut Rng) -> String {
    let mut body = rng.pick(PREFIXES).to_string();
    match rng.below(6) {
        0 => body.push_str(rng.pick(HOSTILE)),
        1 => {
            // A long body, up to 10 KB.
            let unit = rng.pick(HOSTILE);
            let unit = if unit.is_empty() { "x" } else { unit };
            while body.len() < 10_000 {
                body.push_str(unit);
            }
        }
        2 => {
            // Random code points, control characters included.
            for _ in 0..rng.below(200) {
                let c = char::from_u32((rng.next() % 0x2_FFFF) as u32).unwrap_or('\u{FFFD}');
                body.push(c);
            }
        }
        3 => body.push_str(&(rng.next() % 100_000).to_string()),
        4 => body.push_str(&"9".repeat(1 + rng.below(40))),
        _ => {
            body.push_str(rng.pick(HOSTILE));
            body.push(' ');
            body.push_str(rng.pick(HOSTILE));
        }
    }
    body
}

both!(thousands_of_hostile_texts_get_valid_twiml_and_never_break_the_server);
async fn thousands_of_hostile_texts_get_valid_twiml_and_never_break_the_server(backend: Backend) {
    // Without the one-time codes, so that a flood's NEW and R reach every path
    // behind them (the codes have tests of their own).
    let line = line_with(backend, "en,es", &[("QUIETLINE_SMS_CONFIRM", "false")]).await;
    let key = reader(&line, "ana");
    member(&line, "ana", "+14155550101", "dispatcher,observer", "north", Some(&key), true).await;
    member(&line, "olga", "+14155550104", "observer", "north", None, true).await;
    let opened = line.standin.text("+14155550101", "NEW north the first incident").await;
    assert!(opened[0].starts_with("Opened #1"), "{opened:?}");
    let senders = ["+14155550101", "+14155550104", PUBLIC, "+14155550178", "+442079460000", "", "12345", "+1", "abc"];

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut with_reply = 0;
    for i in 0..2000 {
        let from = senders[rng.below(senders.len())];
        let body = hostile_body(&mut rng);
        let (status, xml) = line.standin.text_with_media(from, &body, rng.below(3) / 2).await;
        assert_eq!(status, 200, "text {i} from {from:?} ({} bytes): {xml}", body.len());
        let doc = quietline::telephony::read::parse(&xml).unwrap_or_else(|e| panic!("text {i}: {e}: {xml}"));
        for verb in &doc.children {
            assert_eq!(verb.name, "Message", "text {i}: {xml}");
            assert!(!verb.text.is_empty() && verb.text.chars().count() <= 1600, "text {i}: {xml}");
            // Commands never echo what came after the keyword.
            if body.len() > 40 && from == "+14155550104" {
                let tail: String = body.chars().skip(12).take(20).collect();
                assert!(tail.trim().len() < 8 || !verb.text.contains(&tail), "text {i} echoed: {xml}");
            }
        }
        with_reply += usize::from(!doc.children.is_empty());
    }
    // The flood went down every path: commands, refusals, intake, new incidents.
    assert!(with_reply > 300, "only {with_reply} texts got a reply");
    let now = line.state.vault.clock().now().0;
    assert!(!intake::list(line.state.db.pool(), now).await.unwrap().is_empty());
    assert!(incidents::list(line.state.db.pool()).await.unwrap().len() > 5);
    let public = [PUBLIC, "+14155550178", "+442079460000"];
    let replied = line.standin.messages().iter().any(|(to, _, _)| public.contains(&to.as_str()));
    assert!(replied, "a dispatcher's reply reached a public sender");

    // The server is intact: the roster, the incident, and a plain command.
    let ready = reqwest::get(format!("{}/readyz", line.url)).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(quietline::roster::list(&line.state.db).await.unwrap().len(), 2);
    assert!(incidents::get(line.state.db.pool(), 1).await.unwrap().is_some());
    captured_log();
    let status = line.standin.text("+14155550104", "STATUS").await;
    assert!(status[0].starts_with("You are "), "{status:?}");
    let log = captured_log();
    assert!(!log.contains("panicked"), "a handler panicked");
}
