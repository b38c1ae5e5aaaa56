//! Queries on SMS commands held for their one-time code.

use sqlx::{Any, Executor};

/// Holds a command for a volunteer, replacing any they had waiting.
pub async fn replace(
    db: &super::Db,
    volunteer_id: i64,
    code_hash: &str,
    sealed: &[u8],
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM sms_confirmations WHERE volunteer_id = $1").bind(volunteer_id).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO sms_confirmations (volunteer_id, code_hash, sealed, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(volunteer_id)
        .bind(code_hash)
        .bind(sealed)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Takes (deletes and returns) the volunteer's held command, if it is still live:
/// `(code hash, sealed command)`. One try per code.
pub async fn take<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    now: i64,
) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM sms_confirmations WHERE volunteer_id = $1 AND expires_at > $2 RETURNING code_hash, sealed",
    )
    .bind(volunteer_id)
    .bind(now)
    .fetch_optional(ex)
    .await
}
