//! Queries on the `volunteers` table.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

/// A roster row as stored: lists are comma-separated text, validated by `roster`.
#[derive(Clone)]
pub struct VolunteerRow {
    pub id: i64,
    pub alias: String,
    pub phone: String,
    pub roles: String,
    pub languages: String,
    pub zones: String,
    pub on_shift: bool,
    pub age_recipient: Option<String>,
}

fn from_row(row: &AnyRow) -> Result<VolunteerRow, sqlx::Error> {
    Ok(VolunteerRow {
        id: row.try_get("id")?,
        alias: row.try_get("alias")?,
        phone: row.try_get("phone")?,
        roles: row.try_get("roles")?,
        languages: row.try_get("languages")?,
        zones: row.try_get("zones")?,
        on_shift: row.try_get::<i64, _>("on_shift")? != 0,
        age_recipient: row.try_get("age_recipient")?,
    })
}

/// Inserts a volunteer (the `id` of `row` is ignored) and returns the new id.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Any>,
    row: &VolunteerRow,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO volunteers (alias, phone, roles, languages, zones, on_shift, age_recipient) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&row.alias)
    .bind(&row.phone)
    .bind(&row.roles)
    .bind(&row.languages)
    .bind(&row.zones)
    .bind(i64::from(row.on_shift))
    .bind(&row.age_recipient)
    .fetch_one(ex)
    .await
}

pub async fn find_by_alias<'e>(
    ex: impl Executor<'e, Database = Any>,
    alias: &str,
) -> Result<Option<VolunteerRow>, sqlx::Error> {
    sqlx::query(
        "SELECT id, alias, phone, roles, languages, zones, on_shift, age_recipient \
         FROM volunteers WHERE alias = $1",
    )
    .bind(alias)
    .fetch_optional(ex)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub async fn phone_exists<'e>(
    ex: impl Executor<'e, Database = Any>,
    phone: &str,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM volunteers WHERE phone = $1")
        .bind(phone)
        .fetch_one(ex)
        .await?;
    Ok(n > 0)
}

/// The whole roster, ordered by alias.
pub async fn list<'e>(
    ex: impl Executor<'e, Database = Any>,
) -> Result<Vec<VolunteerRow>, sqlx::Error> {
    sqlx::query(
        "SELECT id, alias, phone, roles, languages, zones, on_shift, age_recipient \
         FROM volunteers ORDER BY alias",
    )
    .fetch_all(ex)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Deletes a volunteer; returns false when there was no such alias.
pub async fn delete_by_alias<'e>(
    ex: impl Executor<'e, Database = Any>,
    alias: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM volunteers WHERE alias = $1")
        .bind(alias)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Puts a volunteer on or off shift; returns false when there was no such alias.
pub async fn set_on_shift<'e>(
    ex: impl Executor<'e, Database = Any>,
    alias: &str,
    on_shift: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE volunteers SET on_shift = $1 WHERE alias = $2")
        .bind(i64::from(on_shift))
        .bind(alias)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}
