//! Queries on the legs of calls: the volunteers a call rings, written pending
//! with the tier and the time they are rung in it, named with the provider's id
//! once their first webhook brings it (`answer_leg`, `leg_ended`), and how each
//! leg goes.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::calls::enqueue_deletion;
use crate::states::{CallState, LegState, RecordKind, unknown};

#[derive(Debug, Clone)]
pub struct LegRow {
    pub sid: String,
    pub call_id: i64,
    pub volunteer_id: Option<i64>,
    pub tier: i64,
    pub state: LegState,
}

fn leg_from_row(row: &AnyRow) -> Result<LegRow, sqlx::Error> {
    let state: String = row.try_get("state")?;
    Ok(LegRow {
        sid: row.try_get("sid")?,
        call_id: row.try_get("call_id")?,
        volunteer_id: row.try_get("volunteer_id")?,
        tier: row.try_get("tier")?,
        state: LegState::parse(&state).ok_or_else(|| unknown("leg state", &state))?,
    })
}

pub async fn leg<'e>(ex: impl Executor<'e, Database = Any>, sid: &str) -> Result<Option<LegRow>, sqlx::Error> {
    sqlx::query("SELECT sid, call_id, volunteer_id, tier, state FROM call_legs WHERE sid = $1")
        .bind(sid)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(leg_from_row)
        .transpose()
}

pub async fn legs_of<'e>(ex: impl Executor<'e, Database = Any>, call_id: i64) -> Result<Vec<LegRow>, sqlx::Error> {
    sqlx::query("SELECT sid, call_id, volunteer_id, tier, state FROM call_legs WHERE call_id = $1")
        .bind(call_id)
        .fetch_all(ex)
        .await?
        .iter()
        .map(leg_from_row)
        .collect()
}

/// Sets a leg's state unless it is already over.
pub async fn set_leg_state<'e>(
    ex: impl Executor<'e, Database = Any>,
    sid: &str,
    state: LegState,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE call_legs SET state = $1 WHERE sid = $2 AND state NOT IN ($3, $4)")
        .bind(state.as_str())
        .bind(sid)
        .bind(LegState::Ended.as_str())
        .bind(LegState::Declined.as_str())
        .execute(ex)
        .await?;
    Ok(())
}

/// Which leg a ringing webhook is about: the volunteer rung for a call in a
/// tier, and which time this is that they are rung in it (a tier's phones are
/// rung again when one of them picked up and did not take the call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegKey {
    pub call: i64,
    pub volunteer: i64,
    pub tier: i64,
    pub attempt: u32,
}

impl LegKey {
    /// The id the leg goes by from the moment it is rung until its first
    /// webhook brings the provider's own: a `<Dial>` names its legs only when
    /// they call back.
    pub fn pending_sid(&self) -> String {
        format!("pending-{}-{}-{}-{}", self.call, self.volunteer, self.tier, self.attempt)
    }

    /// The attempt a pending id names.
    pub fn attempt_of(sid: &str) -> Option<u32> {
        sid.strip_prefix("pending-")?.rsplit('-').next()?.parse().ok()
    }
}

/// A leg the provider never named (it never rang, or its webhooks never came):
/// there is nothing of it to delete at the provider.
pub fn is_pending_leg(sid: &str) -> bool {
    sid.starts_with("pending-")
}

/// Pending legs, in one statement.
pub async fn insert_legs<'e>(ex: impl Executor<'e, Database = Any>, legs: &[LegKey]) -> Result<(), sqlx::Error> {
    if legs.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..legs.len())
        .map(|i| format!("(${}, ${}, ${}, ${}, ${})", 5 * i + 1, 5 * i + 2, 5 * i + 3, 5 * i + 4, 5 * i + 5))
        .collect();
    let sql = format!("INSERT INTO call_legs (sid, call_id, volunteer_id, tier, state) VALUES {}", values.join(", "));
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for key in legs {
        insert = insert
            .bind(key.pending_sid())
            .bind(key.call)
            .bind(key.volunteer)
            .bind(key.tier)
            .bind(LegState::Ringing.as_str());
    }
    insert.execute(ex).await?;
    Ok(())
}

/// A volunteer picked up: their leg, named with the provider's id, is answered.
/// `None` if it was never rung or is already over.
pub async fn answer_leg(pool: &sqlx::Pool<Any>, key: LegKey, sid: &str) -> Result<Option<LegRow>, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE call_legs SET sid = $1, state = $2 \
         WHERE sid IN ($3, $1) AND call_id = $4 AND volunteer_id = $5 AND state IN ($6, $2)",
    )
    .bind(sid)
    .bind(LegState::Answered.as_str())
    .bind(key.pending_sid())
    .bind(key.call)
    .bind(key.volunteer)
    .bind(LegState::Ringing.as_str())
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    leg(pool, sid).await
}

/// A volunteer's leg ended: named (if this is its first webhook), over
/// (declined if it had picked up: the tier's other phones were hung up then,
/// and ring again unless the call was put through), and its record
/// queued for deletion at the provider, in one transaction.
pub async fn leg_ended(db: &super::Db, key: LegKey, sid: &str, delete_at: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE call_legs SET sid = $1, state = CASE WHEN state IN ($2, $7) THEN $3 ELSE $4 END \
         WHERE sid IN ($5, $1) AND call_id = $6 AND state NOT IN ($3, $4)",
    )
    .bind(sid)
    .bind(LegState::Answered.as_str())
    .bind(LegState::Declined.as_str())
    .bind(LegState::Ended.as_str())
    .bind(key.pending_sid())
    .bind(key.call)
    .bind(LegState::Accepted.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        enqueue_deletion(&mut *tx, RecordKind::Call, sid, delete_at).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every leg of a call still ringing or answering is over: the provider ended
/// them with the ringing (a `<Dial>` hangs up its legs when it ends).
pub async fn end_legs<'e>(ex: impl Executor<'e, Database = Any>, call_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE call_legs SET state = $1 WHERE call_id = $2 AND state IN ($3, $4)")
        .bind(LegState::Ended.as_str())
        .bind(call_id)
        .bind(LegState::Ringing.as_str())
        .bind(LegState::Answered.as_str())
        .execute(ex)
        .await?;
    Ok(())
}

/// Volunteers being rung for, or talking on, a call that has not ended.
pub async fn busy_volunteers<'e>(ex: impl Executor<'e, Database = Any>) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT l.volunteer_id FROM call_legs l JOIN calls c ON c.id = l.call_id \
         WHERE l.state NOT IN ($1, $3) AND c.state <> $2 AND l.volunteer_id IS NOT NULL",
    )
    .bind(LegState::Ended.as_str())
    .bind(CallState::Ended.as_str())
    .bind(LegState::Declined.as_str())
    .fetch_all(ex)
    .await
}
