//! Queries on the legs of calls: the volunteers a call rings, named with the
//! provider's id once their first webhook brings it, and how each leg goes.

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

/// Sets a leg's state unless it has already ended.
pub async fn set_leg_state<'e>(
    ex: impl Executor<'e, Database = Any>,
    sid: &str,
    state: LegState,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE call_legs SET state = $1 WHERE sid = $2 AND state <> $3")
        .bind(state.as_str())
        .bind(sid)
        .bind(LegState::Ended.as_str())
        .execute(ex)
        .await?;
    Ok(())
}

/// The id a leg goes by from the moment it is rung until its first webhook
/// brings the provider's own: a `<Dial>` names its legs only when they call back.
pub fn pending_leg_sid(call_id: i64, volunteer_id: i64, tier: i64) -> String {
    format!("pending-{call_id}-{volunteer_id}-{tier}")
}

/// A leg the provider never named (it never rang, or its webhooks never came):
/// there is nothing of it to delete at the provider.
pub fn is_pending_leg(sid: &str) -> bool {
    sid.starts_with("pending-")
}

/// The pending legs of one tier, in one statement.
pub async fn insert_pending_legs<'e>(
    ex: impl Executor<'e, Database = Any>,
    call_id: i64,
    tier: i64,
    volunteers: &[i64],
) -> Result<(), sqlx::Error> {
    insert_legs(ex, &volunteers.iter().map(|v| (call_id, *v, tier)).collect::<Vec<_>>()).await
}

/// Pending legs `(call, volunteer, tier)`, in one statement.
pub async fn insert_legs<'e>(
    ex: impl Executor<'e, Database = Any>,
    legs: &[(i64, i64, i64)],
) -> Result<(), sqlx::Error> {
    if legs.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..legs.len())
        .map(|i| format!("(${}, ${}, ${}, ${}, ${})", 5 * i + 1, 5 * i + 2, 5 * i + 3, 5 * i + 4, 5 * i + 5))
        .collect();
    let sql = format!("INSERT INTO call_legs (sid, call_id, volunteer_id, tier, state) VALUES {}", values.join(", "));
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (call_id, volunteer_id, tier) in legs {
        insert = insert
            .bind(pending_leg_sid(*call_id, *volunteer_id, *tier))
            .bind(*call_id)
            .bind(*volunteer_id)
            .bind(*tier)
            .bind(LegState::Ringing.as_str());
    }
    insert.execute(ex).await?;
    Ok(())
}

/// The leg of `volunteer` in `tier` of a call, named with the provider's id the
/// first time one of its webhooks brings it (later ones find it by that id).
/// `None` for a leg that was never rung.
pub async fn attach_leg<'e, E>(
    ex: E,
    call_id: i64,
    volunteer_id: i64,
    tier: i64,
    sid: &str,
) -> Result<Option<LegRow>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    sqlx::query("UPDATE call_legs SET sid = $1 WHERE sid = $2 AND call_id = $3")
        .bind(sid)
        .bind(pending_leg_sid(call_id, volunteer_id, tier))
        .bind(call_id)
        .execute(ex)
        .await?;
    let leg = leg(ex, sid).await?;
    Ok(leg.filter(|l| l.call_id == call_id && l.volunteer_id == Some(volunteer_id)))
}

/// A volunteer picked up: their leg, named with the provider's id, is answered.
/// `None` if it was never rung or is already over.
pub async fn answer_leg(
    pool: &sqlx::Pool<Any>,
    call_id: i64,
    volunteer_id: i64,
    tier: i64,
    sid: &str,
) -> Result<Option<LegRow>, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE call_legs SET sid = $1, state = $2 \
         WHERE sid IN ($3, $1) AND call_id = $4 AND volunteer_id = $5 AND state IN ($6, $2)",
    )
    .bind(sid)
    .bind(LegState::Answered.as_str())
    .bind(pending_leg_sid(call_id, volunteer_id, tier))
    .bind(call_id)
    .bind(volunteer_id)
    .bind(LegState::Ringing.as_str())
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    leg(pool, sid).await
}

/// A volunteer's leg ended: named (if this is its first webhook), over, and its
/// record queued for deletion at the provider, in one transaction.
pub async fn leg_ended(
    db: &super::Db,
    call_id: i64,
    volunteer_id: i64,
    tier: i64,
    sid: &str,
    delete_at: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("UPDATE call_legs SET sid = $1, state = $2 WHERE sid IN ($3, $1) AND call_id = $4")
        .bind(sid)
        .bind(LegState::Ended.as_str())
        .bind(pending_leg_sid(call_id, volunteer_id, tier))
        .bind(call_id)
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
         WHERE l.state <> $1 AND c.state <> $2 AND l.volunteer_id IS NOT NULL",
    )
    .bind(LegState::Ended.as_str())
    .bind(CallState::Ended.as_str())
    .fetch_all(ex)
    .await
}
