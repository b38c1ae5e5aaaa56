//! The deletions the retention sweeper makes (expired items in batches, the rest
//! one statement each), and the counts the exposure report reads. Every deletion
//! is by a deadline, so running one twice, or after an interruption, deletes
//! nothing that should stay.

use sqlx::{Any, Executor, Row};

use super::Db;
use crate::states::{CallState, Outcome};

/// Calls that never got their final status callback are ended as lost after a day.
pub async fn end_lost_calls<'e>(ex: impl Executor<'e, Database = Any>, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calls SET state = $3, outcome = COALESCE(outcome, $4), ended_at = $1, \
         tier_deadline = NULL WHERE state <> $3 AND created_hour < $2",
    )
    .bind(now)
    .bind(now - 86_400)
    .bind(CallState::Ended.as_str())
    .bind(Outcome::Lost.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// Adds calls that ended before `cutoff` to the daily counts. Run in the same
/// transaction as [`delete_folded_calls`], so a call is counted exactly once.
pub async fn fold_calls<'e>(ex: impl Executor<'e, Database = Any>, cutoff: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO daily_counts (day, language, outcome, calls) \
         SELECT created_hour - (created_hour % 86400), COALESCE(language, ''), COALESCE(outcome, 'unknown'), COUNT(*) \
         FROM calls WHERE state = $2 AND ended_at <= $1 \
         GROUP BY created_hour - (created_hour % 86400), COALESCE(language, ''), COALESCE(outcome, 'unknown') \
         ON CONFLICT (day, language, outcome) DO UPDATE SET calls = daily_counts.calls + excluded.calls",
    )
    .bind(cutoff)
    .bind(CallState::Ended.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

pub async fn delete_folded_calls<'e>(ex: impl Executor<'e, Database = Any>, cutoff: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM calls WHERE state = $2 AND ended_at <= $1")
        .bind(cutoff)
        .bind(CallState::Ended.as_str())
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}

/// Items deleted per write transaction by the sweep.
const ITEM_BATCH: u64 = 100;

/// Deletes expired items a batch at a time, each batch a short write
/// transaction of its own: a sweep of 100 000 items in one statement held every
/// other writer (new calls among them) back for a third of a second.
pub async fn delete_expired_items(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let mut tx = db.begin_write().await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM sealed_items WHERE id IN \
             (SELECT id FROM sealed_items WHERE expires_at <= $1 LIMIT {ITEM_BATCH})"
        )))
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        total += done;
        if done < ITEM_BATCH {
            return Ok(total);
        }
    }
}

/// Blocks past their end: the tokens, the sealed numbers, webhooks seen, and SMS
/// commands never confirmed.
pub async fn delete_expired_blocks(conn: &mut sqlx::AnyConnection, now: i64) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    for table in ["caller_blocks", "caller_block_list", "webhooks_seen", "sms_confirmations"] {
        let sql = format!("DELETE FROM {table} WHERE expires_at <= $1");
        n += sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).execute(&mut *conn).await?.rows_affected();
    }
    Ok(n)
}

pub async fn delete_expired_tokens<'e>(ex: impl Executor<'e, Database = Any>, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE expires_at <= $1").bind(now).execute(ex).await?;
    Ok(done.rows_affected())
}

pub async fn delete_old_attempts<'e>(
    ex: impl Executor<'e, Database = Any>,
    kind: super::calls::Attempts,
    before: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {} WHERE at < $1", kind.table())))
        .bind(before)
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}

/// Closed incidents past their lifetime (their dispatch entries go with them).
pub async fn delete_expired_incidents<'e>(ex: impl Executor<'e, Database = Any>, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM incidents WHERE expires_at <= $1").bind(now).execute(ex).await?;
    Ok(done.rows_affected())
}

pub async fn delete_expired_threads<'e>(ex: impl Executor<'e, Database = Any>, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM intake_threads WHERE expires_at <= $1").bind(now).execute(ex).await?;
    Ok(done.rows_affected())
}

pub async fn delete_old_audit<'e>(ex: impl Executor<'e, Database = Any>, before: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM audit_events WHERE at_hour < $1").bind(before).execute(ex).await?;
    Ok(done.rows_affected())
}

/// Count, oldest time and next expiry of one class, for the exposure report.
#[derive(Debug, Clone, Default)]
pub struct ClassCount {
    pub count: i64,
    pub oldest: Option<i64>,
    pub next_expiry: Option<i64>,
}

fn class_count(row: &sqlx::any::AnyRow) -> Result<ClassCount, sqlx::Error> {
    Ok(ClassCount { count: row.try_get(0)?, oldest: row.try_get(1)?, next_expiry: row.try_get(2)? })
}

pub async fn items_of_class<'e>(ex: impl Executor<'e, Database = Any>, class: &str) -> Result<ClassCount, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*), MIN(created_hour), MIN(expires_at) FROM sealed_items WHERE class = $1")
        .bind(class)
        .fetch_one(ex)
        .await?;
    class_count(&row)
}

/// Call records: their lifetime runs from the end of the call.
pub async fn calls<'e>(ex: impl Executor<'e, Database = Any>, lifetime: i64) -> Result<ClassCount, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*), MIN(created_hour), MIN(ended_at) + $1 FROM calls")
        .bind(lifetime)
        .fetch_one(ex)
        .await?;
    class_count(&row)
}

pub async fn blocks<'e>(ex: impl Executor<'e, Database = Any>) -> Result<ClassCount, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*), NULL, MIN(expires_at) FROM caller_blocks").fetch_one(ex).await?;
    Ok(ClassCount { count: row.try_get(0)?, oldest: None, next_expiry: row.try_get(2)? })
}

pub async fn volunteers<'e>(ex: impl Executor<'e, Database = Any>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM volunteers").fetch_one(ex).await
}

pub async fn daily_count_days<'e>(ex: impl Executor<'e, Database = Any>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(DISTINCT day) FROM daily_counts").fetch_one(ex).await
}

/// Pending provider deletions: how many, and how many have failed for over a day.
pub async fn pending_deletions<'e>(ex: impl Executor<'e, Database = Any>, now: i64) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*), COUNT(first_failed_at) - COUNT(CASE WHEN first_failed_at > $1 THEN 1 END) \
         FROM provider_deletions",
    )
    .bind(now - 86_400)
    .fetch_one(ex)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Incidents: open ones have no expiry yet.
pub async fn incidents<'e>(ex: impl Executor<'e, Database = Any>) -> Result<ClassCount, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*), MIN(created_hour), MIN(expires_at) FROM incidents").fetch_one(ex).await?;
    class_count(&row)
}

pub async fn threads<'e>(ex: impl Executor<'e, Database = Any>) -> Result<ClassCount, sqlx::Error> {
    let row =
        sqlx::query("SELECT COUNT(*), MIN(created_hour), MIN(expires_at) FROM intake_threads").fetch_one(ex).await?;
    class_count(&row)
}

pub async fn audit<'e>(ex: impl Executor<'e, Database = Any>, lifetime: i64) -> Result<ClassCount, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*), MIN(at_hour), MIN(at_hour) + $1 FROM audit_events")
        .bind(lifetime)
        .fetch_one(ex)
        .await?;
    class_count(&row)
}
