//! Signed webhooks acted on once. A signature proves the provider made a request,
//! not that it is new: a request captured and sent again carries the same valid
//! signature. Each step that must not happen twice records its provider id here.

use sqlx::{Any, Executor};

/// Records `key` (a provider id and the step it is for); false when it was
/// already recorded, that is, when this request is a replay.
pub async fn first_time<'e>(
    ex: impl Executor<'e, Database = Any>,
    key: &str,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("INSERT INTO webhooks_seen (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(key)
        .bind(expires_at)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}
