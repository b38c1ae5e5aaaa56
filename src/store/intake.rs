//! Queries on public text threads.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use crate::states::{ThreadState, unknown};

#[derive(Debug, Clone)]
pub struct ThreadRow {
    pub id: i64,
    pub caller_token: String,
    pub language: String,
    pub state: ThreadState,
    pub created_hour: i64,
    pub expires_at: i64,
}

fn thread_from_row(row: &AnyRow) -> Result<ThreadRow, sqlx::Error> {
    let state: String = row.try_get("state")?;
    Ok(ThreadRow {
        id: row.try_get("id")?,
        caller_token: row.try_get("caller_token")?,
        language: row.try_get("language")?,
        state: ThreadState::parse(&state).ok_or_else(|| unknown("thread state", &state))?,
        created_hour: row.try_get("created_hour")?,
        expires_at: row.try_get("expires_at")?,
    })
}

const THREAD_COLUMNS: &str = "SELECT id, caller_token, language, state, created_hour, expires_at FROM intake_threads";

/// A new thread for a caller token. Two first texts at once, or a thread that
/// expired but is not swept yet, end up in the one row the token may have.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Any>,
    caller_token: &str,
    language: &str,
    created_hour: i64,
    expires_at: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO intake_threads (caller_token, language, state, created_hour, expires_at) \
         VALUES ($1, $2, $5, $3, $4) \
         ON CONFLICT (caller_token) DO UPDATE SET language = excluded.language, state = excluded.state, \
         created_hour = excluded.created_hour, expires_at = excluded.expires_at RETURNING id",
    )
    .bind(caller_token)
    .bind(language)
    .bind(created_hour)
    .bind(expires_at)
    .bind(ThreadState::Open.as_str())
    .fetch_one(ex)
    .await
}

pub async fn get<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<Option<ThreadRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{THREAD_COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(thread_from_row)
        .transpose()
}

/// The newest unexpired thread of a caller token.
pub async fn of_token<'e>(
    ex: impl Executor<'e, Database = Any>,
    caller_token: &str,
    now: i64,
) -> Result<Option<ThreadRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{THREAD_COLUMNS} WHERE caller_token = $1 AND expires_at > $2 ORDER BY id DESC LIMIT 1"
    )))
    .bind(caller_token)
    .bind(now)
    .fetch_optional(ex)
    .await?
    .as_ref()
    .map(thread_from_row)
    .transpose()
}

/// Unexpired threads, newest first.
pub async fn list<'e>(ex: impl Executor<'e, Database = Any>, now: i64) -> Result<Vec<ThreadRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{THREAD_COLUMNS} WHERE expires_at > $1 ORDER BY id DESC")))
        .bind(now)
        .fetch_all(ex)
        .await?
        .iter()
        .map(thread_from_row)
        .collect()
}

pub async fn update<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    language: &str,
    state: ThreadState,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE intake_threads SET language = $1, state = $2, expires_at = $3 WHERE id = $4")
        .bind(language)
        .bind(state.as_str())
        .bind(expires_at)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Marks every unexpired thread of a caller token (STOP and START).
pub async fn set_token_state<'e>(
    ex: impl Executor<'e, Database = Any>,
    caller_token: &str,
    from: ThreadState,
    to: ThreadState,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("UPDATE intake_threads SET state = $1 WHERE caller_token = $2 AND state = $3 AND expires_at > $4")
            .bind(to.as_str())
            .bind(caller_token)
            .bind(from.as_str())
            .bind(now)
            .execute(ex)
            .await?;
    Ok(done.rows_affected())
}
