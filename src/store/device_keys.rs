//! Queries on `device_keys`: the public age keys of each volunteer's devices.

use sqlx::{Any, Executor, Row};

/// One device's key as stored.
#[derive(Debug, Clone)]
pub struct DeviceKeyRow {
    pub id: i64,
    pub recipient: String,
    pub label: String,
    pub created_at: i64,
}

/// Adds a key; `None` when the volunteer has it already.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    recipient: &str,
    label: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO device_keys (volunteer_id, recipient, label, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (volunteer_id, recipient) DO NOTHING RETURNING id",
    )
    .bind(volunteer_id)
    .bind(recipient)
    .bind(label)
    .bind(now)
    .fetch_optional(ex)
    .await
}

/// A volunteer's keys, oldest first.
pub async fn list_for<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
) -> Result<Vec<DeviceKeyRow>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT id, recipient, label, created_at FROM device_keys WHERE volunteer_id = $1 ORDER BY id")
            .bind(volunteer_id)
            .fetch_all(ex)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(DeviceKeyRow {
                id: r.try_get("id")?,
                recipient: r.try_get("recipient")?,
                label: r.try_get("label")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Deletes one of a volunteer's keys; false if they have no such key.
pub async fn delete<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM device_keys WHERE id = $1 AND volunteer_id = $2")
        .bind(id)
        .bind(volunteer_id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes every key of a volunteer; returns how many.
pub async fn delete_all_for<'e>(ex: impl Executor<'e, Database = Any>, volunteer_id: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM device_keys WHERE volunteer_id = $1")
        .bind(volunteer_id)
        .execute(ex)
        .await?
        .rows_affected())
}
