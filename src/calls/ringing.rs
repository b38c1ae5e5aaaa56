//! Ringing: a call's tiers of volunteers rung one after another, the whisper
//! and press-1 that let a person (never a voicemail box) take the call, and legs
//! that end.

use std::collections::HashSet;

use super::{Result, queue_name, speech, volunteer_speech};
use crate::AppState;
use crate::flow::{Callback, LegProgress, Step, Voice};
use crate::outbound;
use crate::roster::{self, Volunteer};
use crate::routing;
use crate::states::{CallState, LegState, Outcome, RecordKind};
use crate::store::calls as db;

/// How long a volunteer has to press 1 once the whisper has played.
pub(super) const ACCEPT_TIMEOUT_SECS: u32 = 8;

/// Rings the next tier of a call that has been ringing tier `from` (or starts
/// ringing, from -1). Only one instance wins the step; the others do nothing.
pub async fn escalate(state: &AppState, call_id: i64, from: i64) -> Result<()> {
    let Some(call) = db::get(state.db.pool(), call_id).await? else { return Ok(()) };
    if call.state != CallState::Ringing || call.tier != from {
        return Ok(());
    }
    let lang = super::language_of(state, call.language.as_deref());
    let roster = roster::on_shift(&state.db).await?;
    let busy: HashSet<i64> = db::busy_volunteers(state.db.pool()).await?.into_iter().collect();
    let legs = db::legs_of(state.db.pool(), call_id).await?;
    let rung: HashSet<i64> = legs.iter().filter_map(|l| l.volunteer_id).collect();
    let start_tier = u32::try_from(from + 1).unwrap_or(0);
    let next = routing::next_tier(&roster, start_tier, &lang, &busy, &rung, state.config.ringing.parallel);
    let now = state.vault.clock().now();
    match next {
        Some((tier, people)) => {
            let deadline = now.plus(state.config.ringing.timeout).0;
            if !db::advance_tier(state.db.pool(), call_id, from, i64::from(tier), deadline).await? {
                return Ok(());
            }
            end_unanswered(state, &legs).await;
            let placed = ring(state, call_id, tier, &people).await;
            if placed == 0 {
                // Every number of this tier failed: try the next one at once.
                db::expire_tier_now(state.db.pool(), call_id, i64::from(tier), now.0).await?;
            }
            Ok(())
        }
        None => {
            if send_to_voicemail(state, &call).await? {
                end_unanswered(state, &legs).await;
            }
            Ok(())
        }
    }
}

/// The legs of a tier that gave up stop ringing.
async fn end_unanswered(state: &AppState, legs: &[db::LegRow]) {
    for leg in legs.iter().filter(|l| matches!(l.state, LegState::Ringing | LegState::Answered)) {
        end_leg(state, leg).await;
    }
}

/// Places one outbound call per volunteer; returns how many were placed. A number
/// the provider refuses is skipped, never fatal to the tier.
async fn ring(state: &AppState, call_id: i64, tier: u32, people: &[&Volunteer]) -> usize {
    let mut placed = 0;
    for v in people {
        let Ok(phone) = v.phone(&state.vault) else {
            tracing::warn!("a volunteer's number cannot be unsealed; skipped");
            continue;
        };
        let answered = Callback::VolunteerAnswered { call: call_id };
        let status = Callback::Status { call: Some(call_id) };
        match outbound::ring(state, &phone, answered, status, state.config.ringing.timeout.as_secs() as u32).await {
            Ok(sid) => {
                if let Err(e) = db::insert_leg(state.db.pool(), &sid, call_id, v.id, i64::from(tier)).await {
                    tracing::error!(error = %e, "a placed leg could not be recorded");
                }
                placed += 1;
            }
            Err(e) => tracing::warn!(error = %e, "ringing a volunteer failed; skipped"),
        }
    }
    placed
}

pub(super) async fn end_leg(state: &AppState, leg: &db::LegRow) {
    let _ = db::set_leg_state(state.db.pool(), &leg.sid, LegState::Ended).await;
    outbound::hang_up(state, &leg.sid, leg.state == LegState::Answered).await;
}

/// No tier left: move the held caller to voicemail now (the wait callback's
/// `Leave` does it too, should this redirect fail).
async fn send_to_voicemail(state: &AppState, call: &db::CallRow) -> Result<bool> {
    if !db::to_voicemail(state.db.pool(), call.id, Outcome::Voicemail).await? {
        return Ok(false);
    }
    if let Err(e) = outbound::redirect(state, &call.provider_sid, Callback::Voicemail { call: call.id }).await {
        tracing::warn!(error = %e, "redirect to voicemail failed; the wait callback will move the caller");
    }
    Ok(true)
}

/// Ringing calls whose tier ran out: escalate each (one instance per step).
pub async fn escalate_due(state: &AppState) -> Result<usize> {
    let now = state.vault.clock().now();
    let due = db::due(state.db.pool(), now.0).await?;
    for (id, tier) in &due {
        escalate(state, *id, *tier).await?;
    }
    Ok(due.len())
}

/// `POST /telephony/voice/volunteer`: a volunteer picked up. They hear the whisper
/// and must press 1; a voicemail box never does, so it never takes the call.
pub async fn volunteer_answered(state: &AppState, call_id: i64, leg_sid: &str) -> Result<Voice> {
    let call = db::get(state.db.pool(), call_id).await?;
    let leg = db::leg(state.db.pool(), leg_sid).await?;
    let vs = volunteer_speech(state, leg.as_ref().and_then(|l| l.volunteer_id)).await?;
    let (Some(call), Some(_)) = (call, leg) else {
        return Ok(Voice::new().say(&vs.voice, &vs.taken).hangup());
    };
    if call.state != CallState::Ringing {
        return Ok(Voice::new().say(&vs.voice, &vs.taken).hangup());
    }
    db::set_leg_state(state.db.pool(), leg_sid, LegState::Answered).await?;
    let caller_lang = super::language_of(state, call.language.as_deref());
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

/// `POST /telephony/voice/volunteer/accept`: the volunteer pressed a key. The first
/// to press 1 takes the call; everyone else hears that it is taken.
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
    if !db::claim(state.db.pool(), call_id, volunteer_id).await? {
        return Ok(Voice::new().say(&vs.voice, &vs.taken).hangup());
    }
    db::set_leg_state(state.db.pool(), leg_sid, LegState::Accepted).await?;
    tracing::debug!("call answered by a volunteer");
    // The others stop ringing.
    let others: Vec<db::LegRow> = db::legs_of(state.db.pool(), call_id)
        .await?
        .into_iter()
        .filter(|l| l.sid != leg_sid && matches!(l.state, LegState::Ringing | LegState::Answered))
        .collect();
    let canceller = state.clone();
    tokio::spawn(async move {
        for other in &others {
            end_leg(&canceller, other).await;
        }
    });
    Ok(Voice::new().then(Step::TakeHeld { name: queue_name(call_id) }).hangup())
}

/// `POST /telephony/status`: a leg (the caller's, or one we placed) changed state.
pub async fn status(state: &AppState, call_sid: &str, progress: LegProgress) -> Result<()> {
    let now = state.vault.clock().now();
    let finished = progress == LegProgress::Finished;
    if let Some(call) = db::get_by_sid(state.db.pool(), call_sid).await? {
        // The caller's own leg.
        if finished {
            let outcome = if call.state == CallState::Bridged { Outcome::Answered } else { Outcome::Abandoned };
            db::end(state.db.pool(), call.id, outcome, now.0).await?;
            for leg in db::legs_of(state.db.pool(), call.id).await? {
                if matches!(leg.state, LegState::Ringing | LegState::Answered) {
                    end_leg(state, &leg).await;
                }
                db::enqueue_deletion(state.db.pool(), RecordKind::Call, &leg.sid, now.0 + 60).await?;
            }
            db::enqueue_deletion(state.db.pool(), RecordKind::Call, call_sid, now.0 + 60).await?;
        }
        return Ok(());
    }
    let Some(leg) = db::leg(state.db.pool(), call_sid).await? else { return Ok(()) };
    if !finished {
        return Ok(());
    }
    db::set_leg_state(state.db.pool(), call_sid, LegState::Ended).await?;
    db::enqueue_deletion(state.db.pool(), RecordKind::Call, call_sid, now.0 + 60).await?;
    // Every leg of the ringing tier has ended without anyone taking the call:
    // escalate now rather than at the deadline.
    if let Some(call) = db::get(state.db.pool(), leg.call_id).await?
        && call.state == CallState::Ringing
        && call.tier == leg.tier
    {
        let legs = db::legs_of(state.db.pool(), call.id).await?;
        if legs.iter().filter(|l| l.tier == call.tier).all(|l| l.state == LegState::Ended) {
            db::expire_tier_now(state.db.pool(), call.id, call.tier, now.0).await?;
            escalate(state, call.id, call.tier).await?;
        }
    }
    Ok(())
}
