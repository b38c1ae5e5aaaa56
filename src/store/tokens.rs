//! Queries on API tokens. Only a hash of each token is stored.

use sqlx::{Any, Executor};

pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    token_hash: &str,
    scope: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO api_tokens (volunteer_id, token_hash, scope, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(volunteer_id)
        .bind(token_hash)
        .bind(scope)
        .bind(expires_at)
        .execute(ex)
        .await?;
    Ok(())
}

/// The volunteer a live token with this hash and scope belongs to, unless they
/// are revoked.
pub async fn volunteer_for<'e>(
    ex: impl Executor<'e, Database = Any>,
    token_hash: &str,
    scope: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT t.volunteer_id FROM api_tokens t JOIN volunteers v ON v.id = t.volunteer_id \
         WHERE t.token_hash = $1 AND t.scope = $2 AND t.expires_at > $3 AND v.revoked = 0",
    )
    .bind(token_hash)
    .bind(scope)
    .bind(now)
    .fetch_optional(ex)
    .await
}

pub async fn delete_for_volunteer<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE volunteer_id = $1").bind(volunteer_id).execute(ex).await?;
    Ok(done.rows_affected())
}
