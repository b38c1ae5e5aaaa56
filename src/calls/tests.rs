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
use crate::states::RecordKind;

/// What the call flow asked of the provider.
#[derive(Default)]
struct Asked {
    /// `(sid, to, answered callback URL)` of every call placed.
    placed: Vec<(String, String, String)>,
    ended: Vec<String>,
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

    fn end_call<'a>(&'a self, sid: &'a str, _answered: bool) -> Pending<'a, ()> {
        self.0.lock().unwrap().ended.push(sid.to_string());
        Box::pin(async { Ok(()) })
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

    /// Waits for the ringing started in the background to place (and record)
    /// `n` calls.
    async fn rung(&self, n: usize) -> Vec<(String, String, String)> {
        for _ in 0..200 {
            let placed = self.placed();
            let mut recorded = 0;
            for (sid, _, _) in &placed {
                if db::leg(self.state.db.pool(), sid).await.unwrap().is_some() {
                    recorded += 1;
                }
            }
            if recorded >= n {
                return placed;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} call(s) placed, got {:?}", self.placed());
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

fn holds(voice: &Voice) -> bool {
    matches!(voice.0.as_slice(), [Step::Hold { .. }])
}

#[tokio::test]
async fn one_language_holds_the_caller_and_rings_the_first_tier() {
    let line = Line::new("en").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    line.volunteer("ben", "+14155550112", "dispatcher", "en").await;
    let voice = incoming(&line.state, &sid(1), CALLER).await.unwrap();
    assert!(holds(&voice), "{:?}", voice.0.first().map(|_| ()));
    let call = line.call_by_sid(&sid(1)).await;
    let placed = line.rung(2).await;
    let to: Vec<&str> = placed.iter().map(|(_, to, _)| to.as_str()).collect();
    assert_eq!(to, ["+14155550111", "+14155550112"]);
    assert!(placed[0].2.starts_with(PUBLIC));
    assert!(placed[0].2.ends_with(&Callback::VolunteerAnswered { call: call.id }.path()));
    let call = line.call(call.id).await;
    assert_eq!((call.state, call.tier), (CallState::Ringing, 0));
}

#[tokio::test]
async fn the_first_to_press_one_takes_the_call_and_the_others_stop_ringing() {
    let line = Line::new("en").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    let ben = line.volunteer("ben", "+14155550112", "dispatcher", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    let placed = line.rung(2).await;
    let (ana_leg, ben_leg) = (&placed[0].0, &placed[1].0);

    let whisper = volunteer_answered(&line.state, id, ben_leg).await.unwrap();
    assert_eq!(gathers_to(&whisper), Some(Callback::VolunteerPressed { call: id }));
    // A voicemail box plays, records and never presses: no key is not a yes.
    let nothing = volunteer_pressed(&line.state, id, ben_leg, None).await.unwrap();
    assert!(matches!(nothing.0.last(), Some(Step::Hangup)));
    assert_eq!(line.call(id).await.state, CallState::Ringing);

    let taken = volunteer_pressed(&line.state, id, ben_leg, Some("1")).await.unwrap();
    assert!(matches!(taken.0.first(), Some(Step::TakeHeld { name }) if *name == queue_name(id)));
    let call = line.call(id).await;
    assert_eq!((call.state, call.answered_by), (CallState::Bridged, Some(ben)));
    let late = volunteer_pressed(&line.state, id, ana_leg, Some("1")).await.unwrap();
    let s = speech(&line.state, line.state.config.default_language());
    assert_eq!(said(&late), vec![s.taken]);
    for _ in 0..200 {
        if line.asked.0.lock().unwrap().ended.contains(ana_leg) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(line.asked.0.lock().unwrap().ended.contains(ana_leg), "the other leg is cancelled");
}

#[tokio::test]
async fn a_tier_that_times_out_rings_the_next_then_voicemail() {
    let line = Line::new("en").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    line.volunteer("cora", "+14155550113", "coordinator", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let call = line.call_by_sid(&sid(1)).await;
    // Tier 0: the dispatcher who speaks English (the coordinator is tier 1).
    assert_eq!(line.rung(1).await.len(), 1);
    assert_eq!(escalate_due(&line.state).await.unwrap(), 0, "not due before the deadline");

    line.state.vault.clock().advance(Duration::from_secs(21));
    escalate_due(&line.state).await.unwrap();
    let placed = line.placed();
    assert_eq!(placed.len(), 2);
    assert_eq!(placed[1].1, "+14155550113");
    assert!(line.asked.0.lock().unwrap().ended.contains(&placed[0].0), "tier 0 stops ringing");
    assert_eq!(line.call(call.id).await.tier, 1);

    line.state.vault.clock().advance(Duration::from_secs(21));
    escalate_due(&line.state).await.unwrap();
    let call = line.call(call.id).await;
    assert_eq!(call.state, CallState::Voicemail);
    let redirected = line.asked.0.lock().unwrap().redirected.clone();
    assert_eq!(redirected, [(sid(1), format!("{PUBLIC}{}", Callback::Voicemail { call: call.id }.path()))]);
    // Should the redirect be lost, the next wait answer leaves the queue.
    assert!(matches!(wait(&line.state, call.id).await.unwrap().0.as_slice(), [Step::Leave]));
    let prompt = voicemail(&line.state, call.id).await.unwrap();
    assert_eq!(gathers_to(&prompt), Some(Callback::VoicemailChoice { call: call.id }));
    assert!(matches!(prompt.0.last(), Some(Step::Record { .. })));
}

#[tokio::test]
async fn when_every_leg_of_a_tier_ends_the_next_rings_at_once() {
    let line = Line::new("en").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    line.volunteer("cora", "+14155550113", "coordinator", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let placed = line.rung(1).await;
    status(&line.state, &placed[0].0, LegProgress::Going).await.unwrap();
    assert_eq!(line.placed().len(), 1, "a leg still ringing changes nothing");
    status(&line.state, &placed[0].0, LegProgress::Finished).await.unwrap();
    assert_eq!(line.placed().len(), 2, "the busy or declined tier moves on without waiting");
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

    let held = choose_language(&line.state, id, 1, Some("2")).await.unwrap();
    assert!(holds(&held));
    assert_eq!(line.call(id).await.language.as_deref(), Some("es"));
    assert_eq!(line.rung(1).await[0].1, "+14155550111");
    // The menu answered again (a provider retry) keeps the caller held.
    assert!(holds(&choose_language(&line.state, id, 1, Some("2")).await.unwrap()));
    assert_eq!(line.placed().len(), 1, "and rings nobody twice");
}

#[tokio::test]
async fn a_withheld_number_presses_seven_first() {
    let line = Line::new("en").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    let asked = incoming(&line.state, &sid(1), "anonymous").await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    assert_eq!(gathers_to(&asked), Some(Callback::Challenge { call: id, attempt: 1 }));
    assert!(line.placed().is_empty());
    let again = challenge_answered(&line.state, id, 1, Some("3")).await.unwrap();
    assert_eq!(gathers_to(&again), Some(Callback::Challenge { call: id, attempt: 2 }));
    let refused = challenge_answered(&line.state, id, 2, None).await.unwrap();
    assert_eq!(said(&refused), said(&refuse(&line.state)));
    assert_eq!(line.call(id).await.outcome, Some(Outcome::Refused));

    incoming(&line.state, &sid(2), "anonymous").await.unwrap();
    let id = line.call_by_sid(&sid(2)).await.id;
    assert!(holds(&challenge_answered(&line.state, id, 1, Some("7")).await.unwrap()));
    assert_eq!(line.rung(1).await.len(), 1);
}

#[tokio::test]
async fn a_taker_whose_line_drops_before_the_bridge_is_replaced() {
    let line = Line::new("en").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    line.volunteer("cora", "+14155550113", "coordinator", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    let leg = line.rung(1).await[0].0.clone();
    volunteer_answered(&line.state, id, &leg).await.unwrap();
    volunteer_pressed(&line.state, id, &leg, Some("1")).await.unwrap();
    assert_eq!(line.call(id).await.state, CallState::Bridged);
    // Their line ends before the provider bridges them: the caller still waits.
    status(&line.state, &leg, LegProgress::Finished).await.unwrap();
    let heard = wait(&line.state, id).await.unwrap();
    assert!(matches!(heard.0.last(), Some(Step::Pause { .. })), "the caller keeps hearing the hold message");
    let call = line.call(id).await;
    assert_eq!(call.state, CallState::Ringing, "the call rings on");
    escalate_due(&line.state).await.unwrap();
    assert_eq!(line.placed().last().unwrap().1, "+14155550113");
}

#[tokio::test]
async fn the_callers_own_leg_ending_ends_the_call_and_its_legs() {
    let line = Line::new("en").await;
    line.volunteer("ana", "+14155550111", "dispatcher", "en").await;
    incoming(&line.state, &sid(1), CALLER).await.unwrap();
    let id = line.call_by_sid(&sid(1)).await.id;
    let leg = line.rung(1).await[0].0.clone();
    status(&line.state, &sid(1), LegProgress::Finished).await.unwrap();
    let call = line.call(id).await;
    assert_eq!((call.state, call.outcome), (CallState::Ended, Some(Outcome::Abandoned)));
    assert!(line.asked.0.lock().unwrap().ended.contains(&leg));
    // A volunteer picking up now hears that the call is gone.
    let late = volunteer_answered(&line.state, id, &leg).await.unwrap();
    assert!(gathers_to(&late).is_none());
}
