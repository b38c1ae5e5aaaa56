//! The call state machine on its own: a real SQLite database and vault, the
//! manual clock, and a carrier that records what it was asked to do instead of
//! reaching a provider. What the caller and the volunteers hear is read from the
//! returned [`Voice`], never from rendered markup.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::clock::{Clock, UnixTime};
use crate::config::Config;
use crate::flow::LegProgress;
use crate::outbound::{Carrier, NewCall, Pending};
use crate::roster::NewVolunteer;
use crate::states::LegState;
use crate::states::RecordKind;

/// What the call flow asked of the provider.
#[derive(Default)]
struct Asked {
    /// `(sid, to, answered callback URL)` of every call placed.
    placed: Vec<(String, String, String)>,
    redirected: Vec<(String, String)>,
}

#[derive(Default)]
struct Recorder(Mutex<Asked>);

impl Carrier for Recorder {
    fn place_call<'a>(&'a self, call: &'a NewCall<'a>) -> Pending<'a, String> {
        let mut asked = self.0.lock().unwrap();
        let sid = format!("CA{:032x}", 0xbeef_0000 + asked.placed.len());
        asked.placed.push((sid.clone(), call.to.to_string(), call.answered.to_string()));
        Box::pin(async move { Ok(sid) })
    }

    fn redirect_call<'a>(&'a self, sid: &'a str, url: &'a str) -> Pending<'a, ()> {
        self.0.lock().unwrap().redirected.push((sid.to_string(), url.to_string()));
        Box::pin(async { Ok(()) })
    }

    fn send_text<'a>(&'a self, _from: &'a str, _to: &'a str, _body: &'a str) -> Pending<'a, String> {
        Box::pin(async { Ok(format!("SM{:032x}", 1)) })
    }

    fn fetch_recording<'a>(&'a self, _sid: &'a str) -> Pending<'a, zeroize::Zeroizing<Vec<u8>>> {
        Box::pin(async { Ok(zeroize::Zeroizing::new(b"RIFF".to_vec())) })
    }

    fn delete<'a>(&'a self, _kind: RecordKind, _sid: &'a str) -> Pending<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

const PUBLIC: &str = "https://hotline.example.org";
const CALLER: &str = "+14155550100";

struct Line {
    state: AppState,
    asked: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

impl Line {
    /// A line speaking `languages`, ringing two volunteers of a tier at once.
    async fn new(languages: &str) -> Line {
        let dir = tempfile::tempdir().unwrap();
        let env = [
            ("QUIETLINE_DATA_DIR", dir.path().to_str().unwrap()),
            ("QUIETLINE_PUBLIC_URL", PUBLIC),
            ("QUIETLINE_HOTLINE_NUMBER", "+14155550199"),
            ("QUIETLINE_LANGUAGES", languages),
            ("QUIETLINE_RING_TIMEOUT", "20s"),
            ("QUIETLINE_RING_PARALLEL", "2"),
        ];
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let config: Config = Config::load_from(None, env).unwrap().config;
        let clock = Clock::manual(UnixTime(1_900_000_000));
        let mut state = AppState::open(config, clock).await.unwrap();
        let asked = Arc::new(Recorder::default());
        state.provider = Some(asked.clone());
        Line { state, asked, _dir: dir }
    }

    /// A volunteer on shift; returns their id.
    async fn volunteer(&self, alias: &str, phone: &str, roles: &str, languages: &str) -> i64 {
        let new = NewVolunteer::parse(alias, phone, roles, languages, "north", None).unwrap();
        let v = roster::add(&self.state.db, &self.state.vault, new).await.unwrap();
        roster::set_shift(&self.state.db, alias, true).await.unwrap();
        v.id
    }

    fn placed(&self) -> Vec<(String, String, String)> {
        self.asked.0.lock().unwrap().placed.clone()
    }

    async fn call(&self, id: i64) -> db::CallRow {
        db::get(self.state.db.pool(), id).await.unwrap().unwrap()
    }

    async fn call_by_sid(&self, sid: &str) -> db::CallRow {
        db::get_by_sid(self.state.db.pool(), sid).await.unwrap().unwrap()
    }
}

fn sid(n: u32) -> String {
    format!("CA{n:032x}")
}

/// The first step of what is heard, and any gather's callback.
fn gathers_to(voice: &Voice) -> Option<Callback> {
    voice.0.iter().find_map(|s| match s {
        Step::Gather { then, .. } => Some(*then),
        _ => None,
    })
}

fn said(voice: &Voice) -> Vec<String> {
    fn walk(steps: &[Step], out: &mut Vec<String>) {
        for s in steps {
            match s {
                Step::Say { text, .. } => out.push(text.clone()),
                Step::Gather { prompts, .. } => walk(prompts, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&voice.0, &mut out);
    out
}

/// The phones a voice rings at once: `(number, volunteer, tier)`, and where the
/// ringing's end is reported.
fn rings(voice: &Voice) -> (Vec<(String, i64, i64)>, Option<Callback>) {
    for step in &voice.0 {
        if let Step::Ring { numbers, then, .. } = step {
            let phones = numbers
                .iter()
                .map(|n| match n.answered {
                    Callback::VolunteerAnswered { volunteer, tier, .. } => (n.number.clone(), volunteer, tier),
                    other => panic!("a ringing phone answers at {other:?}"),
                })
                .collect();
            return (phones, Some(*then));
        }
    }
    (Vec::new(), None)
}

fn numbers(voice: &Voice) -> Vec<String> {
    rings(voice).0.into_iter().map(|(n, _, _)| n).collect()
}

/// The first ringing of a volunteer's leg in a tier.
fn key(call: i64, volunteer: i64, tier: i64) -> LegKey {
    LegKey { call, volunteer, tier, attempt: 0 }
}

/// A provider id for a dialled leg.
fn leg_sid(n: u32) -> String {
    format!("CA{:032x}", 0xd1a1_0000 + n)
}

#[tokio::test]
async fn one_language_rings_the_first_tier_at_once_from_the_callers_leg() {
    let line = Line::new("en").await;
    let ana = line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    let ben = line.volunteer("ben", "+14155550112", "dispatcher", "en").await;
    let voice = incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let call = line.call_by_sid(&sid(1)).await;
    let (phones, then) = rings(&voice);
    assert_eq!(phones, [("+14155550111".to_string(), ana, 0), ("+14155550112".to_string(), ben, 0)]);
    assert_eq!(then, Some(Callback::RingEnded { call: call.id, tier: 0 }));
    let s = speech(&line.state, line.state.config.default_language());
    assert_eq!(said(&voice), [s.hold], "the caller hears the hold message, then ringback");
    assert!(voice.0.iter().any(|st| matches!(st, Step::Ring { caller_id, .. } if caller_id == "+14155550199")));
    assert_eq!((call.state, call.tier), (CallState::Ringing, 0));
    let legs = db::legs_of(line.state.db.pool(), call.id).await.unwrap();
    assert_eq!(legs.len(), 2);
    assert!(legs.iter().all(|l| db::is_pending_leg(&l.sid) && l.state == LegState::Ringing));
    assert!(line.placed().is_empty(), "no call is created through the REST API");
    // The provider retried the webhook: the same phones, nobody rung twice.
    let again = incoming(&line.state, &sid(1), CALLER).await.unwrap();
    assert_eq!(numbers(&again), numbers(&voice));
    assert_eq!(db::legs_of(line.state.db.pool(), call.id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_first_to_press_one_takes_the_call_and_is_put_through() {
    let line = Line::new("en").await;
    let ana = line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    let ben = line.volunteer("ben", "+14155550112", "dispatcher", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    let (ana_leg, ben_leg) = (leg_sid(1), leg_sid(2));

    let whisper = volunteer_answered(&line.state, key(id, ben, 0), &ben_leg).await.unwrap();
    assert_eq!(gathers_to(&whisper), Some(Callback::VolunteerPressed { call: id }));
    assert!(matches!(whisper.0.last(), Some(Step::Hangup)), "no key: not put through");
    assert_eq!(db::leg(line.state.db.pool(), &ben_leg).await.unwrap().unwrap().state, LegState::Answered);
    // A voicemail box plays, records and never presses: no key is not a yes.
    let nothing = volunteer_pressed(&line.state, id, &ben_leg, None).await.unwrap();
    assert!(matches!(nothing.0.last(), Some(Step::Hangup)));
    assert_eq!(line.call(id).await.state, CallState::Ringing);

    volunteer_answered(&line.state, key(id, ana, 0), &ana_leg).await.unwrap();
    let taken = volunteer_pressed(&line.state, id, &ben_leg, Some("1")).await.unwrap();
    assert!(taken.0.is_empty(), "an answer without a hang-up puts them through");
    let call = line.call(id).await;
    assert_eq!((call.state, call.answered_by), (CallState::Bridged, Some(ben)));
    let late = volunteer_pressed(&line.state, id, &ana_leg, Some("1")).await.unwrap();
    let s = speech(&line.state, line.state.config.default_language());
    assert_eq!(said(&late), vec![s.taken.clone()]);
    assert!(matches!(late.0.last(), Some(Step::Hangup)));
    // A phone that picks up now hears the same.
    let after = volunteer_answered(&line.state, key(id, ana, 0), &leg_sid(3)).await.unwrap();
    assert_eq!(said(&after), vec![s.taken]);
    assert!(line.placed().is_empty(), "the provider hangs up the others itself");
    // The conversation over, the caller hears goodbye.
    let bye = ring_ended(&line.state, id, 0, RingResult::Talked, 0).await.unwrap();
    assert!(matches!(bye.0.last(), Some(Step::Hangup)));
}

#[tokio::test]
async fn a_tier_that_rings_out_rings_the_next_then_voicemail() {
    let line = Line::new("en").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    line.volunteer("cora", "+14155550113", "coordinator", "en").await;
    let first = incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let call = line.call_by_sid(&sid(1)).await;
    // Tier 0: the dispatcher who speaks English (the coordinator is tier 1).
    assert_eq!(numbers(&first), ["+14155550111"]);
    let second = ring_ended(&line.state, call.id, 0, RingResult::NobodyPutThrough, 0).await.unwrap();
    assert_eq!(numbers(&second), ["+14155550113"]);
    assert_eq!(rings(&second).1, Some(Callback::RingEnded { call: call.id, tier: 1 }));
    assert_eq!(line.call(call.id).await.tier, 1);
    let legs = db::legs_of(line.state.db.pool(), call.id).await.unwrap();
    assert!(legs.iter().filter(|l| l.tier == 0).all(|l| l.state == LegState::Ended), "tier 0 is over");

    let prompt = ring_ended(&line.state, call.id, 1, RingResult::NobodyPutThrough, 0).await.unwrap();
    assert_eq!(line.call(call.id).await.state, CallState::Voicemail);
    assert_eq!(gathers_to(&prompt), Some(Callback::VoicemailChoice { call: call.id }));
    assert!(matches!(prompt.0.last(), Some(Step::Record { .. })));
    // A late report of tier 0 rings nobody again.
    let late = ring_ended(&line.state, call.id, 0, RingResult::NobodyPutThrough, 0).await.unwrap();
    assert!(numbers(&late).is_empty());
    assert_eq!(gathers_to(&late), Some(Callback::VoicemailChoice { call: call.id }));
    assert!(line.placed().is_empty() && line.asked.0.lock().unwrap().redirected.is_empty());
}

#[tokio::test]
async fn a_ringing_that_never_reports_is_moved_on_once_by_a_tick() {
    let line = Line::new("en").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let call = line.call_by_sid(&sid(1)).await;
    assert_eq!(escalate_due(&line.state).await.unwrap(), 0, "not due before the timeout and its grace");
    line.state.vault.clock().advance(Duration::from_secs(25));
    assert_eq!(escalate_due(&line.state).await.unwrap(), 0, "the report may still come");
    line.state.vault.clock().advance(Duration::from_secs(6));
    assert_eq!(escalate_due(&line.state).await.unwrap(), 1);
    assert_eq!(escalate_due(&line.state).await.unwrap(), 0, "once, whatever the instances");
    let redirected = line.asked.0.lock().unwrap().redirected.clone();
    assert_eq!(redirected, [(sid(1), format!("{PUBLIC}{}", Callback::RingEnded { call: call.id, tier: 0 }.path()))]);
}

#[tokio::test]
async fn when_every_leg_of_a_tier_ends_only_the_provider_moves_on() {
    let line = Line::new("en").await;
    let ana = line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    status(&line.state, &leg_sid(1), Some(key(id, ana, 0)), LegProgress::Going).await.unwrap();
    let leg = db::legs_of(line.state.db.pool(), id).await.unwrap().remove(0);
    assert_eq!(leg.state, LegState::Ringing, "a leg still ringing changes nothing");
    status(&line.state, &leg_sid(1), Some(key(id, ana, 0)), LegProgress::Finished).await.unwrap();
    let leg = db::leg(line.state.db.pool(), &leg_sid(1)).await.unwrap().expect("named by its webhook");
    assert_eq!(leg.state, LegState::Ended);
    let queued = db::pending_deletions(line.state.db.pool()).await.unwrap();
    assert!(queued.contains(&leg_sid(1)), "its record is deleted at the provider");
    assert_eq!(line.call(id).await.state, CallState::Ringing, "the <Dial> reports its own end");
}

#[tokio::test]
async fn nobody_on_shift_goes_straight_to_voicemail() {
    let line = Line::new("en").await;
    let voice = incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let call = line.call_by_sid(&sid(1)).await;
    assert_eq!(gathers_to(&voice), Some(Callback::VoicemailChoice { call: call.id }));
    assert_eq!((call.state, call.outcome), (CallState::Voicemail, Some(Outcome::NoOneOnShift)));
    assert!(line.placed().is_empty());
}

#[tokio::test]
async fn two_languages_ask_first_and_a_retried_webhook_is_answered_the_same() {
    let line = Line::new("en,es").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "es").await;
    let menu = incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    assert_eq!(gathers_to(&menu), Some(Callback::Language { call: id, attempt: 1 }));
    assert_eq!(said(&incoming(&line.state, &sid(1), CALLER).await.unwrap()), said(&menu), "a retry");
    assert_eq!(said(&menu).len(), 2, "one option per language");

    let ringing = choose_language(&line.state, id, 1, Some("2")).await.unwrap();
    assert_eq!(numbers(&ringing), ["+14155550111"]);
    assert_eq!(line.call(id).await.language.as_deref(), Some("es"));
    // The menu answered again (a provider retry) rings the same phone, once.
    let again = choose_language(&line.state, id, 1, Some("2")).await.unwrap();
    assert_eq!(numbers(&again), ["+14155550111"]);
    assert_eq!(db::legs_of(line.state.db.pool(), id).await.unwrap().len(), 1, "and rings nobody twice");
}

#[tokio::test]
async fn a_withheld_number_presses_seven_first() {
    let line = Line::new("en").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    let asked = incoming(&line.state, &sid(1), "anonymous").await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    assert_eq!(gathers_to(&asked), Some(Callback::Challenge { call: id, attempt: 1 }));
    assert!(rings(&asked).0.is_empty());
    let again = challenge_answered(&line.state, id, 1, Some("3")).await.unwrap();
    assert_eq!(gathers_to(&again), Some(Callback::Challenge { call: id, attempt: 2 }));
    let refused = challenge_answered(&line.state, id, 2, None).await.unwrap();
    assert_eq!(said(&refused), said(&refuse(&line.state)));
    assert_eq!(line.call(id).await.outcome, Some(Outcome::Refused));

    incoming(&line.state, &sid(2), "anonymous").await.unwrap();
    let id = line.call_by_sid(&sid(2)).await.id;
    assert_eq!(numbers(&challenge_answered(&line.state, id, 1, Some("7")).await.unwrap()), ["+14155550111"]);
}

#[tokio::test]
async fn a_taker_whose_line_drops_before_the_bridge_gives_the_call_back() {
    let line = Line::new("en").await;
    let ana = line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    line.volunteer("cora", "+14155550113", "coordinator", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    let leg = leg_sid(1);
    volunteer_answered(&line.state, key(id, ana, 0), &leg).await.unwrap();
    volunteer_pressed(&line.state, id, &leg, Some("1")).await.unwrap();
    assert_eq!(line.call(id).await.state, CallState::Bridged);
    // Their line ends before the provider puts them through; the ringing ends
    // with nobody put through, and the caller is rung on.
    status(&line.state, &leg, Some(key(id, ana, 0)), LegProgress::Finished).await.unwrap();
    let next = ring_ended(&line.state, id, 0, RingResult::NobodyPutThrough, 0).await.unwrap();
    assert_eq!(numbers(&next), ["+14155550113"]);
    let call = line.call(id).await;
    assert_eq!((call.state, call.tier, call.answered_by), (CallState::Ringing, 1, None));
}

#[tokio::test]
async fn a_voicemail_box_that_picks_up_first_has_the_others_rung_again() {
    let line = Line::new("en").await;
    let ana = line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    let ben = line.volunteer("ben", "+14155550112", "dispatcher", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    // Ana's voicemail box picks up first (the provider hangs up Ben's phone),
    // hears the whisper, presses nothing and hangs up.
    volunteer_answered(&line.state, key(id, ana, 0), &leg_sid(1)).await.unwrap();
    status(&line.state, &leg_sid(2), Some(key(id, ben, 0)), LegProgress::Finished).await.unwrap();
    status(&line.state, &leg_sid(1), Some(key(id, ana, 0)), LegProgress::Finished).await.unwrap();
    assert_eq!(db::leg(line.state.db.pool(), &leg_sid(1)).await.unwrap().unwrap().state, LegState::Declined);
    line.state.vault.clock().advance(Duration::from_secs(6));
    let again = ring_ended(&line.state, id, 0, RingResult::NobodyPutThrough, 0).await.unwrap();
    // Ben rings again in the same tier, for what is left of its 20 s.
    assert_eq!(rings(&again).0, [("+14155550112".to_string(), ben, 0)]);
    let Some(Step::Ring { timeout, numbers: phones, .. }) = again.0.iter().find(|s| matches!(s, Step::Ring { .. }))
    else {
        panic!("a ring")
    };
    assert_eq!(*timeout, 14);
    assert!(matches!(phones[0].answered, Callback::VolunteerAnswered { attempt: 1, .. }));
    assert_eq!(line.call(id).await.tier, 0);
    let whisper = volunteer_answered(&line.state, LegKey { attempt: 1, ..key(id, ben, 0) }, &leg_sid(3)).await.unwrap();
    assert_eq!(gathers_to(&whisper), Some(Callback::VolunteerPressed { call: id }));
    assert!(volunteer_pressed(&line.state, id, &leg_sid(3), Some("1")).await.unwrap().0.is_empty());
    assert_eq!(line.call(id).await.answered_by, Some(ben));
    // With nobody left who never picked up, the tier is over.
    let line2 = Line::new("en").await;
    let solo = line2.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    line2.volunteer("cora", "+14155550113", "coordinator", "en").await;
    incoming(&line2.state, &sid(1), CALLER).await.unwrap();
    let id2 = line2.call_by_sid(&sid(1)).await.id;
    volunteer_answered(&line2.state, key(id2, solo, 0), &leg_sid(1)).await.unwrap();
    status(&line2.state, &leg_sid(1), Some(key(id2, solo, 0)), LegProgress::Finished).await.unwrap();
    let next = ring_ended(&line2.state, id2, 0, RingResult::NobodyPutThrough, 0).await.unwrap();
    assert_eq!(numbers(&next), ["+14155550113"], "the next tier");
}

#[tokio::test]
async fn the_callers_own_leg_ending_ends_the_call_and_its_legs() {
    let line = Line::new("en").await;
    let ana = line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    status(&line.state, &sid(1), None, LegProgress::Finished).await.unwrap();
    let call = line.call(id).await;
    assert_eq!((call.state, call.outcome), (CallState::Ended, Some(Outcome::Abandoned)));
    let legs = db::legs_of(line.state.db.pool(), id).await.unwrap();
    assert!(legs.iter().all(|l| l.state == LegState::Ended));
    let queued = db::pending_deletions(line.state.db.pool()).await.unwrap();
    assert!(queued.contains(&sid(1)) && !queued.iter().any(|s| db::is_pending_leg(s)));
    // A volunteer picking up now hears that the call is gone.
    let late = volunteer_answered(&line.state, key(id, ana, 0), &leg_sid(1)).await.unwrap();
    assert!(gathers_to(&late).is_none());
}

#[tokio::test]
async fn a_caller_holds_while_everyone_is_on_another_call_then_rings_them() {
    let line = Line::new("en").await;
    let ana = line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let first = line.call_by_sid(&sid(1)).await.id;
    // Ana is being rung for the first caller: the second holds, and tries again.
    let held = incoming(&line.state, &sid(2), "+14155550101").await.unwrap();
    let second = line.call_by_sid(&sid(2)).await.id;
    assert!(rings(&held).0.is_empty());
    assert!(
        matches!(held.0.last(), Some(Step::Redirect { to: Callback::RingAgain { call, tier: -1, waited: 1 } }) if *call == second)
    );
    let s = speech(&line.state, line.state.config.default_language());
    assert_eq!(said(&held), std::slice::from_ref(&s.hold));
    assert_eq!(line.call(second).await.state, CallState::Ringing, "not voicemail");
    let again = ring_ended(&line.state, second, -1, RingResult::NobodyPutThrough, 1).await.unwrap();
    assert!(matches!(again.0.last(), Some(Step::Redirect { to: Callback::RingAgain { waited: 2, .. } })));
    // The first caller hangs up: Ana is free, and the next try rings her.
    status(&line.state, &sid(1), None, LegProgress::Finished).await.unwrap();
    assert_eq!(line.call(first).await.state, CallState::Ended);
    let rung = ring_ended(&line.state, second, -1, RingResult::NobodyPutThrough, 2).await.unwrap();
    assert_eq!(rings(&rung).0, [("+14155550111".to_string(), ana, 0)]);
    // Past as long as the tiers would have rung, a waiting caller goes to voicemail.
    incoming(&line.state, &sid(3), "+14155550102").await.unwrap();
    let third = line.call_by_sid(&sid(3)).await.id;
    let out = ring_ended(&line.state, third, -1, RingResult::NobodyPutThrough, 8).await.unwrap();
    assert_eq!(gathers_to(&out), Some(Callback::VoicemailChoice { call: third }));
}

#[tokio::test]
async fn a_press_from_a_leg_left_behind_takes_nothing_and_a_late_report_reopens_nothing() {
    let line = Line::new("en").await;
    let ana = line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    let cora = line.volunteer("cora", "+14155550113", "coordinator", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    volunteer_answered(&line.state, key(id, ana, 0), &leg_sid(1)).await.unwrap();
    // Tier 0's ringing ends while Ana still hears the whisper; tier 1 rings.
    let next = ring_ended(&line.state, id, 0, RingResult::NobodyPutThrough, 0).await.unwrap();
    assert_eq!(numbers(&next), ["+14155550113"]);
    // Ana presses 1 now: her leg was left behind, it takes nothing.
    let late = volunteer_pressed(&line.state, id, &leg_sid(1), Some("1")).await.unwrap();
    assert!(matches!(late.0.last(), Some(Step::Hangup)));
    assert_eq!((line.call(id).await.state, line.call(id).await.tier), (CallState::Ringing, 1));
    volunteer_answered(&line.state, key(id, cora, 1), &leg_sid(2)).await.unwrap();
    assert!(volunteer_pressed(&line.state, id, &leg_sid(2), Some("1")).await.unwrap().0.is_empty());
    // The provider asks again for Cora's press: she is still put through.
    assert!(volunteer_pressed(&line.state, id, &leg_sid(2), Some("1")).await.unwrap().0.is_empty());
    // A late report of tier 0 leaves Cora's call as it is.
    ring_ended(&line.state, id, 0, RingResult::NobodyPutThrough, 0).await.unwrap();
    let call = line.call(id).await;
    assert_eq!((call.state, call.answered_by), (CallState::Bridged, Some(cora)));
}

#[tokio::test]
async fn a_taker_whose_line_drops_has_the_tiers_other_phones_rung_again() {
    let line = Line::new("en").await;
    let ana = line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    let ben = line.volunteer("ben", "+14155550112", "dispatcher", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    // Ana picks up first (the provider hangs up Ben's phone) and presses 1; her
    // line drops before she is put through.
    volunteer_answered(&line.state, key(id, ana, 0), &leg_sid(1)).await.unwrap();
    status(&line.state, &leg_sid(2), Some(key(id, ben, 0)), LegProgress::Finished).await.unwrap();
    volunteer_pressed(&line.state, id, &leg_sid(1), Some("1")).await.unwrap();
    status(&line.state, &leg_sid(1), Some(key(id, ana, 0)), LegProgress::Finished).await.unwrap();
    let again = ring_ended(&line.state, id, 0, RingResult::NobodyPutThrough, 0).await.unwrap();
    assert_eq!(rings(&again).0, [("+14155550112".to_string(), ben, 0)], "a full ringing for Ben");
    let call = line.call(id).await;
    assert_eq!((call.state, call.answered_by), (CallState::Ringing, None));
}
