//! Queries on calls, their volunteer legs, caller attempts and blocks, and the
//! queue of deletions owed at the provider.
//!
//! The conditional updates here (`claim`, `advance_tier`, `to_voicemail`,
//! `end`) are what keep one call from being bridged twice or escalated twice when
//! several app instances share one database: each changes a row only if it is still
//! in the state the caller saw, and reports whether it did.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

pub use super::legs::{
    LegKey, LegRow, answer_leg, busy_volunteers, end_legs, insert_legs, is_pending_leg, leg, leg_ended, legs_of,
    set_leg_state,
};
use crate::states::{CallState, LegState, Outcome, RecordKind, unknown};

#[derive(Debug, Clone)]
pub struct CallRow {
    pub id: i64,
    pub provider_sid: String,
    pub caller_token: Option<String>,
    pub language: Option<String>,
    pub state: CallState,
    pub tier: i64,
    pub tier_deadline: Option<i64>,
    pub answered_by: Option<i64>,
    pub outcome: Option<Outcome>,
}

fn call_from_row(row: &AnyRow) -> Result<CallRow, sqlx::Error> {
    let state: String = row.try_get("state")?;
    let outcome: Option<String> = row.try_get("outcome")?;
    Ok(CallRow {
        id: row.try_get("id")?,
        provider_sid: row.try_get("provider_sid")?,
        caller_token: row.try_get("caller_token")?,
        language: row.try_get("language")?,
        state: CallState::parse(&state).ok_or_else(|| unknown("call state", &state))?,
        tier: row.try_get("tier")?,
        tier_deadline: row.try_get("tier_deadline")?,
        answered_by: row.try_get("answered_by")?,
        outcome: outcome.map(|o| Outcome::parse(&o).ok_or_else(|| unknown("call outcome", &o))).transpose()?,
    })
}

const CALL_COLUMNS: &str =
    "SELECT id, provider_sid, caller_token, language, state, tier, tier_deadline, answered_by, outcome FROM calls";

/// Inserts a call; an existing call with this provider id is an error. (The
/// incoming-call webhook writes through `store::arrivals`, which takes
/// duplicates in its stride.)
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Any>,
    provider_sid: &str,
    caller_token: Option<&str>,
    state: CallState,
    created_hour: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO calls (provider_sid, caller_token, state, created_hour) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(provider_sid)
    .bind(caller_token)
    .bind(state.as_str())
    .bind(created_hour)
    .fetch_one(ex)
    .await
}

pub async fn get<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<Option<CallRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{CALL_COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(call_from_row)
        .transpose()
}

pub async fn get_by_sid<'e>(ex: impl Executor<'e, Database = Any>, sid: &str) -> Result<Option<CallRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{CALL_COLUMNS} WHERE provider_sid = $1")))
        .bind(sid)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(call_from_row)
        .transpose()
}

/// Language chosen: the call starts ringing `tier` until `deadline`.
pub async fn start_ringing<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    language: &str,
    tier: i64,
    deadline: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calls SET language = $1, state = $5, tier = $2, tier_deadline = $3 WHERE id = $4 AND state = $6",
    )
    .bind(language)
    .bind(tier)
    .bind(deadline)
    .bind(id)
    .bind(CallState::Ringing.as_str())
    .bind(CallState::Menu.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_language<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    language: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE calls SET language = $1 WHERE id = $2").bind(language).bind(id).execute(ex).await?;
    Ok(())
}

/// The first volunteer to press 1 takes the call; false for everyone after.
pub async fn claim<'e>(ex: impl Executor<'e, Database = Any>, id: i64, volunteer_id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calls SET state = $3, answered_by = $1, outcome = $4, tier_deadline = NULL WHERE id = $2 AND state = $5",
    )
    .bind(volunteer_id)
    .bind(id)
    .bind(CallState::Bridged.as_str())
    .bind(Outcome::Answered.as_str())
    .bind(CallState::Ringing.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Undoes a claim whose bridge never happened (the taker's line dropped before
/// the caller was put through): the call rings again, its tier until
/// `deadline`. False if the call is no longer that volunteer's.
pub async fn reopen<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    volunteer_id: i64,
    deadline: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calls SET state = $4, answered_by = NULL, outcome = NULL, tier_deadline = $1 \
         WHERE id = $2 AND state = $5 AND answered_by = $3",
    )
    .bind(deadline)
    .bind(id)
    .bind(volunteer_id)
    .bind(CallState::Ringing.as_str())
    .bind(CallState::Bridged.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves a ringing call from tier `from` to tier `to`; false if someone else did,
/// or the call was taken meanwhile.
pub async fn advance_tier<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    from: i64,
    to: i64,
    deadline: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE calls SET tier = $1, tier_deadline = $2 WHERE id = $3 AND state = $5 AND tier = $4")
        .bind(to)
        .bind(deadline)
        .bind(id)
        .bind(from)
        .bind(CallState::Ringing.as_str())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Sends a call that is not yet answered to voicemail; false if it was taken.
pub async fn to_voicemail<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    outcome: Outcome,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calls SET state = $3, outcome = $1, tier_deadline = NULL WHERE id = $2 AND state IN ($4, $5)",
    )
    .bind(outcome.as_str())
    .bind(id)
    .bind(CallState::Voicemail.as_str())
    .bind(CallState::Menu.as_str())
    .bind(CallState::Ringing.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_outcome<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    outcome: Outcome,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE calls SET outcome = $1 WHERE id = $2").bind(outcome.as_str()).bind(id).execute(ex).await?;
    Ok(())
}

/// Marks a call ended (once); `outcome` is kept only if none was recorded.
pub async fn end<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    outcome: Outcome,
    ended_at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calls SET state = $4, outcome = COALESCE(outcome, $1), ended_at = $2, tier_deadline = NULL \
         WHERE id = $3 AND state <> $4",
    )
    .bind(outcome.as_str())
    .bind(ended_at)
    .bind(id)
    .bind(CallState::Ended.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ringing calls whose tier deadline has passed: `(id, tier, deadline)`.
pub async fn due<'e>(ex: impl Executor<'e, Database = Any>, now: i64) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, tier, tier_deadline FROM calls WHERE state = $2 AND tier_deadline <= $1")
        .bind(now)
        .bind(CallState::Ringing.as_str())
        .fetch_all(ex)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("tier")?, r.try_get("tier_deadline")?))).collect()
}

/// Where a call's ringing starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingFrom {
    /// The caller has just chosen a language (or the line has one).
    Menu,
    /// Tier `n` rang and gave up.
    Tier(i64),
}

/// A tier starts ringing, in one transaction: the call moves on from `from` to
/// `tier` until `deadline` and the `legs` are recorded (pending), the tier
/// before marked over. False, with nothing written, if another request or
/// instance moved the call first.
pub async fn ring_tier(
    db: &super::Db,
    call_id: i64,
    from: RingFrom,
    language: &str,
    tier: i64,
    deadline: i64,
    legs: &[LegKey],
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let moved = match from {
        RingFrom::Menu => start_ringing(&mut *tx, call_id, language, tier, deadline).await?,
        RingFrom::Tier(t) => {
            let moved = advance_tier(&mut *tx, call_id, t, tier, deadline).await?;
            if moved {
                end_legs(&mut *tx, call_id).await?;
            }
            moved
        }
    };
    if !moved {
        tx.rollback().await?;
        return Ok(false);
    }
    insert_legs(&mut *tx, legs).await?;
    tx.commit().await?;
    Ok(true)
}

/// The first volunteer to press 1 takes the call, in one transaction: only
/// from a leg of the tier ringing now that has picked up (a press from a leg
/// left behind by the ringing takes nothing), and their leg is accepted. False
/// (nothing written) for everyone after.
pub async fn take(db: &super::Db, call_id: i64, volunteer_id: i64, leg_sid: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE calls SET state = $3, answered_by = $1, outcome = $4, tier_deadline = NULL \
         WHERE id = $2 AND state = $5 AND tier = \
         (SELECT tier FROM call_legs WHERE sid = $6 AND call_id = $2 AND volunteer_id = $1 AND state = $7)",
    )
    .bind(volunteer_id)
    .bind(call_id)
    .bind(CallState::Bridged.as_str())
    .bind(Outcome::Answered.as_str())
    .bind(CallState::Ringing.as_str())
    .bind(leg_sid)
    .bind(LegState::Answered.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    set_leg_state(&mut *tx, leg_sid, LegState::Accepted).await?;
    tx.commit().await?;
    Ok(true)
}

/// The caller's leg ended: the call is over with `outcome` (unless one was
/// recorded), every leg with it, and the provider's records of the caller's leg
/// and of every named leg are queued for deletion, in one transaction.
pub async fn caller_left(
    db: &super::Db,
    call_id: i64,
    outcome: Outcome,
    now: i64,
    delete_at: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    end(&mut *tx, call_id, outcome, now).await?;
    end_legs(&mut *tx, call_id).await?;
    let provider_sid: String =
        sqlx::query_scalar("SELECT provider_sid FROM calls WHERE id = $1").bind(call_id).fetch_one(&mut *tx).await?;
    enqueue_deletion(&mut *tx, RecordKind::Call, &provider_sid, delete_at).await?;
    // Legs whose own end was never reported.
    sqlx::query(
        "INSERT INTO provider_deletions (kind, sid, not_before) \
         SELECT $1, sid, $2 FROM call_legs WHERE call_id = $3 AND sid NOT LIKE 'pending-%' \
         ON CONFLICT (sid) DO NOTHING",
    )
    .bind(RecordKind::Call.as_str())
    .bind(delete_at)
    .bind(call_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A ringing call waits at `tier` until `deadline` (everyone who could take it
/// is on another call).
pub async fn hold_tier<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    tier: i64,
    deadline: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE calls SET tier_deadline = $1 WHERE id = $2 AND state = $4 AND tier = $3")
        .bind(deadline)
        .bind(id)
        .bind(tier)
        .bind(CallState::Ringing.as_str())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves an overdue tier's deadline to `next` so that one instance, once, acts
/// on it; false if another did first or the call moved on.
pub async fn postpone_tier<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    tier: i64,
    seen: i64,
    next: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calls SET tier_deadline = $1 WHERE id = $2 AND state = $5 AND tier = $3 AND tier_deadline = $4",
    )
    .bind(next)
    .bind(id)
    .bind(tier)
    .bind(seen)
    .bind(CallState::Ringing.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Rate-limit attempts: calls and texts are counted apart, so texting does not
/// use up someone's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempts {
    Calls,
    Texts,
}

impl Attempts {
    pub fn table(self) -> &'static str {
        match self {
            Attempts::Calls => "call_attempts",
            Attempts::Texts => "text_attempts",
        }
    }
}

pub async fn insert_attempt<'e>(
    ex: impl Executor<'e, Database = Any>,
    kind: Attempts,
    token: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {} (caller_token, at) VALUES ($1, $2)", kind.table())))
        .bind(token)
        .bind(at)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn insert_block<'e>(
    ex: impl Executor<'e, Database = Any>,
    token: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO caller_blocks (caller_token, expires_at) VALUES ($1, $2) \
         ON CONFLICT (caller_token) DO UPDATE SET expires_at = excluded.expires_at",
    )
    .bind(token)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// A blocked number, sealed, with the caller-token window whose token is in
/// `caller_blocks` already.
pub async fn insert_block_entry<'e>(
    ex: impl Executor<'e, Database = Any>,
    sealed: &[u8],
    expires_at: i64,
    window_index: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO caller_block_list (sealed, expires_at, window_index) VALUES ($1, $2, $3)")
        .bind(sealed)
        .bind(expires_at)
        .bind(window_index)
        .execute(ex)
        .await?;
    Ok(())
}

/// Live blocks without a token for window `index` yet: `(id, sealed, expires_at)`.
pub async fn blocks_behind<'e>(
    ex: impl Executor<'e, Database = Any>,
    index: i64,
    now: i64,
) -> Result<Vec<(i64, Vec<u8>, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, sealed, expires_at FROM caller_block_list WHERE window_index < $1 AND expires_at > $2 ORDER BY id",
    )
    .bind(index)
    .bind(now)
    .fetch_all(ex)
    .await
}

pub async fn set_block_window<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    index: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE caller_block_list SET window_index = $1 WHERE id = $2 AND window_index < $1")
        .bind(index)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Whether the caller is blocked, and how many calls or texts they made since
/// `since`: what a webhook from the public checks, in one round trip.
pub async fn block_and_attempts<'e>(
    ex: impl Executor<'e, Database = Any>,
    kind: Attempts,
    token: &str,
    now: i64,
    since: i64,
) -> Result<(bool, i64), sqlx::Error> {
    let (blocks, attempts): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT (SELECT COUNT(*) FROM caller_blocks WHERE caller_token = $1 AND expires_at > $2), \
                (SELECT COUNT(*) FROM {} WHERE caller_token = $1 AND at >= $3)",
        kind.table()
    )))
    .bind(token)
    .bind(now)
    .bind(since)
    .fetch_one(ex)
    .await?;
    Ok((blocks > 0, attempts))
}

#[derive(Debug, Clone)]
pub struct DeletionRow {
    pub id: i64,
    pub kind: RecordKind,
    pub sid: String,
    pub attempts: i64,
    pub first_failed_at: Option<i64>,
}

/// Queues a deletion at the provider (once per SID).
pub async fn enqueue_deletion<'e>(
    ex: impl Executor<'e, Database = Any>,
    kind: RecordKind,
    sid: &str,
    not_before: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO provider_deletions (kind, sid, not_before) VALUES ($1, $2, $3) ON CONFLICT (sid) DO NOTHING",
    )
    .bind(kind.as_str())
    .bind(sid)
    .bind(not_before)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn due_deletions<'e>(
    ex: impl Executor<'e, Database = Any>,
    now: i64,
    limit: i64,
) -> Result<Vec<DeletionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, kind, sid, attempts, first_failed_at FROM provider_deletions \
         WHERE not_before <= $1 ORDER BY not_before LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            Ok(DeletionRow {
                id: r.try_get("id")?,
                kind: RecordKind::parse(&kind).ok_or_else(|| unknown("record kind", &kind))?,
                sid: r.try_get("sid")?,
                attempts: r.try_get("attempts")?,
                first_failed_at: r.try_get("first_failed_at")?,
            })
        })
        .collect()
}

pub async fn deletion_done<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM provider_deletions WHERE id = $1").bind(id).execute(ex).await?;
    Ok(())
}

pub async fn deletion_failed<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    now: i64,
    retry_at: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE provider_deletions SET attempts = attempts + 1, not_before = $1, \
         first_failed_at = COALESCE(first_failed_at, $2), last_error = $3 WHERE id = $4",
    )
    .bind(retry_at)
    .bind(now)
    .bind(error)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Every pending deletion's SID, for tests and the exposure report.
pub async fn pending_deletions<'e>(ex: impl Executor<'e, Database = Any>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT sid FROM provider_deletions ORDER BY id").fetch_all(ex).await
}

/// How many calls are in a state (`Ringing`: waiting for a volunteer; `Bridged`:
/// in progress).
pub async fn count_in_state<'e>(ex: impl Executor<'e, Database = Any>, state: CallState) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM calls WHERE state = $1").bind(state.as_str()).fetch_one(ex).await
}
