//! Queries on the audit trail (no content).

use sqlx::{Any, Executor, Row};

pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Any>,
    at_hour: i64,
    actor: &str,
    action: &str,
    object_kind: &str,
    object_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (at_hour, actor, action, object_kind, object_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(at_hour)
    .bind(actor)
    .bind(action)
    .bind(object_kind)
    .bind(object_id)
    .execute(ex)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub at_hour: i64,
    pub actor: String,
    pub action: String,
    pub object_kind: String,
    pub object_id: Option<i64>,
}

/// The most recent audit events, newest first.
pub async fn recent<'e>(ex: impl Executor<'e, Database = Any>, limit: i64) -> Result<Vec<AuditRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT at_hour, actor, action, object_kind, object_id FROM audit_events ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                at_hour: r.try_get(0)?,
                actor: r.try_get(1)?,
                action: r.try_get(2)?,
                object_kind: r.try_get(3)?,
                object_id: r.try_get(4)?,
            })
        })
        .collect()
}
