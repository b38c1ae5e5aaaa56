//! Ringing: a call's tiers of volunteers, every phone of a tier rung at once
//! from the caller's own leg ([`Step::Ring`], the provider's `<Dial>` of several
//! numbers), the whisper and press-1 that let a person (never a voicemail box)
//! take the call, and what follows when a tier gives up.
//!
//! Ringing from the caller's leg is what keeps a surge fast: the provider places
//! the legs of a `<Dial>` at once, while calls created through its REST API go
//! out at the account's call rate (one per second unless raised). REST calls are
//! left to call backs a volunteer starts (see `callback`).
//!
//! The provider names a `<Dial>`'s legs only when they call back, so a tier's
//! legs are written pending, with the tier and the time they ring in it, and
//! take the provider's id from their first webhook (`store::legs`).
//!
//! The first phone of a `<Dial>` to pick up has the provider hang up the others
//! (twilio.com/docs/voice/twiml/number): when that one was a voicemail box or a
//! volunteer who did not press 1, the others ring again (`ring_again`).

use std::collections::HashSet;

use super::{Result, language_of, speech, volunteer_speech};
use crate::AppState;
use crate::flow::{Callback, LegProgress, RingResult, Ringing, Step, Voice};
use crate::language::Language;
use crate::outbound;
use crate::roster::{self, Volunteer};
use crate::routing;
use crate::states::{CallState, LegState, Outcome, RecordKind};
use crate::store::calls::{self as db, RingFrom};

/// How long a volunteer has to press 1 once the whisper has played.
pub(super) const ACCEPT_TIMEOUT_SECS: u32 = 8;
/// The provider dials at most this many numbers at once.
pub const MAX_AT_ONCE: usize = 10;
/// How long past a tier's timeout its `<Dial>` may take to report before a
/// tick moves the caller on by itself.
const REPORT_GRACE_SECS: i64 = 10;
/// How long a caller holds before the phones are tried again, when everyone
/// who could take the call is on another one.
const BUSY_WAIT_SECS: u32 = 5;
/// The shortest ringing worth a `<Dial>`.
const MIN_RING_SECS: u32 = 5;

/// The people of one tier, rung together: the `attempt`-th time this tier
/// rings for the call (a tier rings again when one of its phones picked up and
/// did not take the call, since the provider hung up the others then).
pub(super) struct Round {
    pub tier: i64,
    pub attempt: u32,
    pub people: Vec<Volunteer>,
}

impl Round {
    fn legs(&self, call: i64) -> Vec<db::LegKey> {
        self.people
            .iter()
            .map(|v| db::LegKey { call, volunteer: v.id, tier: self.tier, attempt: self.attempt })
            .collect()
    }
}

/// Who is busy now (on, or being rung for, another call) and who was rung
/// for this one already.
pub(super) async fn busy_and_rung(state: &AppState, call_id: Option<i64>) -> Result<(HashSet<i64>, HashSet<i64>)> {
    let busy: HashSet<i64> = db::busy_volunteers(state.db.pool()).await?.into_iter().collect();
    let rung: HashSet<i64> = match call_id {
        Some(id) => db::legs_of(state.db.pool(), id).await?.iter().filter_map(|l| l.volunteer_id).collect(),
        None => HashSet::new(),
    };
    Ok((busy, rung))
}

/// The first tier after `from` (-1: from the start) with someone to ring: on
/// shift, speaking the language, not in `busy` and not rung for this call.
pub(super) fn next_round(
    state: &AppState,
    roster: &[Volunteer],
    lang: &Language,
    from: i64,
    busy: &HashSet<i64>,
    rung: &HashSet<i64>,
) -> Option<Round> {
    let start = u32::try_from(from + 1).unwrap_or(0);
    let max = state.config.ringing.parallel.min(MAX_AT_ONCE);
    routing::next_tier(roster, start, lang, busy, rung, max).map(|(tier, people)| Round {
        tier: i64::from(tier),
        attempt: 0,
        people: people.into_iter().cloned().collect(),
    })
}

/// What the caller hears while everyone who could take the call is on another:
/// the hold message, a pause, and the phones tried again.
pub(super) fn wait_voice(state: &AppState, call_id: i64, lang: &Language, tier: i64, waited: u32) -> Voice {
    let s = speech(state, lang);
    Voice::new()
        .say(&s.voice, &s.hold)
        .then(Step::Pause { seconds: BUSY_WAIT_SECS })
        .then(Step::Redirect { to: Callback::RingAgain { call: call_id, tier, waited } })
}

/// How many times a caller waits for someone to come free before voicemail:
/// as long as every tier's ringing would have taken.
fn max_waits(state: &AppState) -> u32 {
    let ringing = state.config.ringing.timeout.as_secs() * u64::from(routing::TIERS);
    u32::try_from(ringing / u64::from(BUSY_WAIT_SECS)).unwrap_or(u32::MAX).max(1)
}

/// The deadline of a caller waiting for someone to come free.
pub(super) fn wait_deadline(state: &AppState) -> i64 {
    state.vault.clock().now().0 + i64::from(BUSY_WAIT_SECS) + REPORT_GRACE_SECS
}

/// When a tier that starts ringing now is overdue: its timeout, and the grace
/// its report may take.
pub(super) fn deadline(state: &AppState) -> i64 {
    state.vault.clock().now().plus(state.config.ringing.timeout).0 + REPORT_GRACE_SECS
}

/// What the caller hears while `round` rings: the hold message, then every
/// phone of the tier at once, showing the hotline number (never the caller's).
/// Only these volunteers' numbers are unsealed.
pub(super) fn ring_voice(state: &AppState, call_id: i64, lang: &Language, round: &Round) -> Voice {
    ring_voice_for(state, call_id, lang, round, state.config.ringing.timeout.as_secs() as u32)
}

/// [`ring_voice`], ringing for `timeout` seconds.
fn ring_voice_for(state: &AppState, call_id: i64, lang: &Language, round: &Round, timeout: u32) -> Voice {
    let s = speech(state, lang);
    let then = Callback::RingEnded { call: call_id, tier: round.tier };
    let voice = Voice::new().say(&s.voice, &s.hold);
    let numbers: Vec<Ringing> = round
        .people
        .iter()
        .filter_map(|v| match v.phone(&state.vault) {
            Ok(phone) => {
                let (volunteer, tier, attempt) = (v.id, round.tier, round.attempt);
                Some(Ringing {
                    number: phone.as_str().to_string(),
                    answered: Callback::VolunteerAnswered { call: call_id, volunteer, tier, attempt },
                    status: Callback::LegStatus { call: call_id, volunteer, tier, attempt },
                })
            }
            Err(_) => {
                tracing::warn!("a volunteer's number cannot be unsealed; skipped");
                None
            }
        })
        .collect();
    match (&state.config.provider.hotline_number, numbers.is_empty()) {
        (Some(hotline), false) => {
            voice.then(Step::Ring { numbers, caller_id: hotline.as_str().to_string(), timeout, then })
        }
        // Nobody of this tier can be dialled: on to the next at once.
        _ => voice.then(Step::Redirect { to: then }),
    }
}

/// Moves a call on from `from` to the next tier with someone to ring, or to
/// voicemail after the last; once, whoever asks. When everyone who could take
/// the call is on another, the caller holds and the phones are tried again a
/// few seconds later (`waited` times so far), for as long as the tiers' ringing
/// would have lasted, before voicemail. What the caller hears next.
pub(super) async fn ring_next(
    state: &AppState,
    call_id: i64,
    lang: &Language,
    from: RingFrom,
    waited: u32,
) -> Result<Voice> {
    let from_tier = match from {
        RingFrom::Menu => -1,
        RingFrom::Tier(t) => t,
    };
    match next_step(state, Some(call_id), lang, from_tier, waited).await? {
        NextStep::Ring(round) => {
            let legs = round.legs(call_id);
            if !db::ring_tier(&state.db, call_id, from, lang.as_str(), round.tier, deadline(state), &legs).await? {
                return moved_on(state, call_id).await;
            }
            Ok(ring_voice(state, call_id, lang, &round))
        }
        NextStep::Hold => {
            let pool = state.db.pool();
            let holding = match from {
                RingFrom::Menu => db::start_ringing(pool, call_id, lang.as_str(), -1, wait_deadline(state)).await?,
                RingFrom::Tier(t) => db::hold_tier(pool, call_id, t, wait_deadline(state)).await?,
            };
            if !holding {
                return moved_on(state, call_id).await;
            }
            Ok(wait_voice(state, call_id, lang, from_tier, waited + 1))
        }
        NextStep::Voicemail(outcome) => {
            if from == RingFrom::Menu {
                db::set_language(state.db.pool(), call_id, lang.as_str()).await?;
            }
            if !db::to_voicemail(state.db.pool(), call_id, outcome).await? {
                return moved_on(state, call_id).await;
            }
            db::end_legs(state.db.pool(), call_id).await?;
            Ok(super::voicemail::prompt(state, call_id, lang))
        }
    }
}

/// Where a call goes after tier `from` (-1: from the start), `waited` holds so far.
pub(super) enum NextStep {
    /// These phones ring.
    Ring(Round),
    /// Everyone who could take the call is on another one: hold, and try again.
    Hold,
    /// Nobody can take it: voicemail, with this outcome.
    Voicemail(Outcome),
}

/// The one decision behind every ringing: the next tier with someone free to
/// ring; else a hold while someone who could take the call is busy (for as long
/// as the tiers would have rung); else voicemail. `call_id` is `None` for a
/// call not written yet (a one-language arrival).
pub(super) async fn next_step(
    state: &AppState,
    call_id: Option<i64>,
    lang: &Language,
    from_tier: i64,
    waited: u32,
) -> Result<NextStep> {
    let roster = roster::ringable(&state.db).await?;
    if !routing::anyone_on_shift(&roster) || state.provider.is_none() {
        return Ok(NextStep::Voicemail(Outcome::NoOneOnShift));
    }
    let (busy, rung) = busy_and_rung(state, call_id).await?;
    if let Some(round) = next_round(state, &roster, lang, from_tier, &busy, &rung) {
        return Ok(NextStep::Ring(round));
    }
    if waited < max_waits(state) && next_round(state, &roster, lang, from_tier, &HashSet::new(), &rung).is_some() {
        return Ok(NextStep::Hold);
    }
    Ok(NextStep::Voicemail(Outcome::Voicemail))
}

/// The answer for a caller whose call another request (a retried webhook, a
/// second instance) has already moved on: what that request would have said.
pub(super) async fn moved_on(state: &AppState, call_id: i64) -> Result<Voice> {
    let Some(call) = db::get(state.db.pool(), call_id).await? else { return Ok(super::refuse(state)) };
    let lang = language_of(state, call.language.as_deref());
    match call.state {
        CallState::Ringing => {
            // The tier rings again for this caller: its legs not yet named.
            let legs = db::legs_of(state.db.pool(), call_id).await?;
            let pending: Vec<&db::LegRow> = legs
                .iter()
                .filter(|l| l.tier == call.tier && l.state == LegState::Ringing && db::is_pending_leg(&l.sid))
                .collect();
            let attempt = pending.iter().filter_map(|l| db::LegKey::attempt_of(&l.sid)).max().unwrap_or(0);
            let ids: HashSet<i64> = pending.iter().filter_map(|l| l.volunteer_id).collect();
            let people = roster::ringable(&state.db).await?.into_iter().filter(|v| ids.contains(&v.id)).collect();
            Ok(ring_voice(state, call_id, &lang, &Round { tier: call.tier, attempt, people }))
        }
        // Taken, yet the caller is here: the ringing's end decides (a taker
        // whose line dropped gives the call back).
        CallState::Bridged => {
            Ok(Voice::new().then(Step::Redirect { to: Callback::RingEnded { call: call_id, tier: call.tier } }))
        }
        CallState::Voicemail => Ok(super::voicemail::prompt(state, call_id, &lang)),
        CallState::Menu | CallState::Ended => Ok(super::refuse(state)),
    }
}

/// `POST /telephony/voice/ring-end`: the ringing of `tier` ended. After a
/// conversation the caller hears goodbye; otherwise the call moves on to the
/// next tier or voicemail. A taker whose line dropped between pressing 1 and
/// being put through gives the call back first.
pub async fn ring_ended(state: &AppState, call_id: i64, tier: i64, result: RingResult, waited: u32) -> Result<Voice> {
    let Some(mut call) = db::get(state.db.pool(), call_id).await? else { return Ok(super::refuse(state)) };
    let lang = language_of(state, call.language.as_deref());
    if result == RingResult::Talked {
        let s = speech(state, &lang);
        return Ok(Voice::new().say(&s.voice, &s.goodbye).hangup());
    }
    // The ringing of the tier ringing now ended with nobody put through: a
    // taker whose line dropped before that gives the call back. (A late report
    // of a tier left behind reopens nothing.)
    if call.state == CallState::Bridged
        && call.tier == tier
        && let Some(taker) = call.answered_by
    {
        // The tier's other phones get a full ringing again.
        if db::reopen(state.db.pool(), call_id, taker, deadline(state)).await? {
            tracing::warn!("a volunteer's line dropped before the caller was put through; the call rings on");
        }
        call = match db::get(state.db.pool(), call_id).await? {
            Some(c) => c,
            None => return Ok(super::refuse(state)),
        };
    }
    match call.state {
        CallState::Ringing if call.tier == tier => {
            if let Some((round, seconds)) = ring_again(state, &call).await? {
                db::insert_legs(state.db.pool(), &round.legs(call_id)).await?;
                return Ok(ring_voice_for(state, call_id, &lang, &round, seconds));
            }
            ring_next(state, call_id, &lang, RingFrom::Tier(tier), waited).await
        }
        // A late or repeated report of a tier already left behind.
        _ => moved_on(state, call_id).await,
    }
}

fn now(state: &AppState) -> i64 {
    state.vault.clock().now().0
}

/// The tier again, when one of its phones picked up and hung up without taking
/// the call (a voicemail box, a volunteer who did not press 1) while the tier
/// still had time: the provider hung up the others when that one picked up, so
/// they ring again, for what is left of the tier's time (the seconds returned).
/// `None` when nobody picked up (the tier timed out, or every phone failed) or
/// no time is left.
async fn ring_again(state: &AppState, call: &db::CallRow) -> Result<Option<(Round, u32)>> {
    let left = call.tier_deadline.unwrap_or(0) - REPORT_GRACE_SECS - now(state);
    let Some(seconds) = u32::try_from(left).ok().filter(|s| *s >= MIN_RING_SECS) else {
        return Ok(None);
    };
    let legs: Vec<db::LegRow> =
        db::legs_of(state.db.pool(), call.id).await?.into_iter().filter(|l| l.tier == call.tier).collect();
    if !legs.iter().any(|l| matches!(l.state, LegState::Declined | LegState::Accepted)) {
        return Ok(None);
    }
    // Those of the tier never picked up; anyone who picked up is left out.
    let picked_up: HashSet<i64> = legs
        .iter()
        .filter(|l| matches!(l.state, LegState::Declined | LegState::Accepted | LegState::Answered))
        .filter_map(|l| l.volunteer_id)
        .collect();
    let again: HashSet<i64> = legs.iter().filter_map(|l| l.volunteer_id).filter(|v| !picked_up.contains(v)).collect();
    let (busy, _) = busy_and_rung(state, None).await?;
    let people: Vec<Volunteer> = roster::ringable(&state.db)
        .await?
        .into_iter()
        .filter(|v| again.contains(&v.id) && !busy.contains(&v.id))
        .collect();
    if people.is_empty() {
        return Ok(None);
    }
    let attempt = legs.iter().filter_map(|l| db::LegKey::attempt_of(&l.sid)).max().unwrap_or(0) + 1;
    Ok(Some((Round { tier: call.tier, attempt, people }, seconds)))
}

/// Ringing calls whose `<Dial>` never reported its end (a provider fault, or
/// the caller's leg moved by an instance that died): the caller is moved on
/// through the provider, once across instances, and again a timeout later
/// should that not take. Returns how many were moved.
pub async fn escalate_due(state: &AppState) -> Result<usize> {
    let now = state.vault.clock().now();
    let mut moved = 0;
    for (id, tier, seen) in db::due(state.db.pool(), now.0).await? {
        if !db::postpone_tier(state.db.pool(), id, tier, seen, deadline(state)).await? {
            continue;
        }
        let Some(call) = db::get(state.db.pool(), id).await? else { continue };
        tracing::warn!("a tier's ringing never reported its end; moving the caller on");
        match outbound::redirect(state, &call.provider_sid, Callback::RingEnded { call: id, tier }).await {
            Ok(()) => moved += 1,
            // The provider refuses for good (the call is over, its end never
            // reported): the call ends here, and its volunteers are free again.
            Err(outbound::SendError::Provider(e)) if !e.is_retryable() => {
                tracing::warn!(error = %e, "an overdue caller's call is over at the provider; ended here");
                db::caller_left(&state.db, id, Outcome::Abandoned, now.0, now.0 + 60).await?;
            }
            Err(e) => tracing::warn!(error = %e, "moving an overdue caller on failed; tried again later"),
        }
    }
    Ok(moved)
}

/// `POST /telephony/voice/volunteer`: a volunteer picked up, before being put
/// through. They hear the whisper and must press 1; a voicemail box never does,
/// so it never takes the call. Hanging up here leaves them out: the tier's other
/// phones ring on.
pub async fn volunteer_answered(state: &AppState, key: db::LegKey, leg_sid: &str) -> Result<Voice> {
    let (call_id, volunteer_id, tier) = (key.call, key.volunteer, key.tier);
    let vs = volunteer_speech(state, Some(volunteer_id)).await?;
    let taken = || Voice::new().say(&vs.voice, &vs.taken).hangup();
    let Some(call) = db::get(state.db.pool(), call_id).await? else { return Ok(taken()) };
    if call.state != CallState::Ringing || call.tier != tier {
        return Ok(taken());
    }
    if db::answer_leg(state.db.pool(), key, leg_sid).await?.is_none() {
        return Ok(taken());
    }
    let caller_lang = language_of(state, call.language.as_deref());
    let whisper = vs.whisper.replace("{language}", &speech(state, &caller_lang).name);
    Ok(Voice::new()
        .then(Step::Gather {
            then: Callback::VolunteerPressed { call: call_id },
            digits: 1,
            timeout: ACCEPT_TIMEOUT_SECS,
            prompts: vec![
                Step::Say { voice: vs.voice.clone(), text: whisper.clone() },
                Step::Pause { seconds: 1 },
                Step::Say { voice: vs.voice.clone(), text: whisper },
            ],
        })
        .hangup())
}

/// `POST /telephony/voice/volunteer/accept`: the volunteer pressed a key. The
/// first to press 1 takes the call (across instances: a conditional update)
/// and is put through when this answer ends without hanging up; the provider
/// then stops the tier's other phones. Everyone else hears that it is taken.
pub async fn volunteer_pressed(state: &AppState, call_id: i64, leg_sid: &str, digits: Option<&str>) -> Result<Voice> {
    let leg = db::leg(state.db.pool(), leg_sid).await?;
    let volunteer_id = leg.as_ref().and_then(|l| l.volunteer_id);
    let vs = volunteer_speech(state, volunteer_id).await?;
    let (Some(leg), Some(volunteer_id)) = (leg, volunteer_id) else {
        return Ok(Voice::new().say(&vs.voice, &vs.taken).hangup());
    };
    if digits.map(str::trim) != Some("1") || leg.call_id != call_id {
        return Ok(Voice::new().say(&vs.voice, &vs.goodbye).hangup());
    }
    if !db::take(&state.db, call_id, volunteer_id, leg_sid).await? {
        // The provider asked again for a press that already took the call.
        let ours = db::get(state.db.pool(), call_id).await?.is_some_and(|c| c.answered_by == Some(volunteer_id));
        if !(ours && leg.state == LegState::Accepted) {
            return Ok(Voice::new().say(&vs.voice, &vs.taken).hangup());
        }
    }
    tracing::debug!("call answered by a volunteer");
    // Nothing more to hear: the end of this answer puts them through.
    Ok(Voice::new())
}

/// `POST /telephony/status`: a leg changed state. `leg` names a volunteer's leg
/// of a ringing tier (call, volunteer, tier); without it, the caller's own leg.
pub async fn status(state: &AppState, call_sid: &str, leg: Option<db::LegKey>, progress: LegProgress) -> Result<()> {
    if progress != LegProgress::Finished {
        return Ok(());
    }
    let now = state.vault.clock().now();
    let delete_at = now.0 + 60;
    if let Some(key) = leg {
        db::leg_ended(&state.db, key, call_sid, delete_at).await?;
        return Ok(());
    }
    if let Some(call) = db::get_by_sid(state.db.pool(), call_sid).await? {
        // The caller's own leg: the provider ends the legs it was dialling.
        let outcome = if call.state == CallState::Bridged { Outcome::Answered } else { Outcome::Abandoned };
        db::caller_left(&state.db, call.id, outcome, now.0, delete_at).await?;
        return Ok(());
    }
    // A leg of a call back, or of a call placed by an earlier release.
    if db::leg(state.db.pool(), call_sid).await?.is_some() {
        db::set_leg_state(state.db.pool(), call_sid, LegState::Ended).await?;
        db::enqueue_deletion(state.db.pool(), RecordKind::Call, call_sid, delete_at).await?;
    }
    Ok(())
}
