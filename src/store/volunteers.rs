//! Queries on the `volunteers` table.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

/// A roster row as stored: lists are comma-separated text, validated by `roster`;
/// the phone number is sealed under the server key and found by a keyed hash.
#[derive(Clone)]
pub struct VolunteerRow {
    pub id: i64,
    pub alias: String,
    pub phone_sealed: Vec<u8>,
    pub phone_lookup: String,
    pub roles: String,
    pub languages: String,
    pub zones: String,
    pub on_shift: bool,
    pub overflow: bool,
    /// The public keys of the volunteer's devices, space-separated, oldest
    /// first (read from `device_keys`; written there, never here).
    pub recipients: Option<String>,
    /// Revoked by a coordinator: reads nothing new, rung and paged for nothing.
    pub revoked: bool,
}

fn from_row(row: &AnyRow) -> Result<VolunteerRow, sqlx::Error> {
    Ok(VolunteerRow {
        id: row.try_get("id")?,
        alias: row.try_get("alias")?,
        phone_sealed: row.try_get("phone_sealed")?,
        phone_lookup: row.try_get("phone_lookup")?,
        roles: row.try_get("roles")?,
        languages: row.try_get("languages")?,
        zones: row.try_get("zones")?,
        on_shift: row.try_get::<i64, _>("on_shift")? != 0,
        overflow: row.try_get::<i64, _>("overflow")? != 0,
        recipients: row.try_get("recipients")?,
        revoked: row.try_get::<i64, _>("revoked")? != 0,
    })
}

// Rows whose number is still in `legacy_phone` are left out until sealed at start-up.
const SELECT: &str = "SELECT id, alias, phone_sealed, phone_lookup, roles, languages, zones, on_shift, \
     overflow, revoked, (SELECT string_agg(k.recipient, ' ' ORDER BY k.id) FROM device_keys k \
     WHERE k.volunteer_id = volunteers.id) AS recipients FROM volunteers WHERE phone_sealed IS NOT NULL";

/// Inserts a volunteer (the `id` of `row` is ignored) and returns the new id.
pub async fn insert<'e>(ex: impl Executor<'e, Database = Any>, row: &VolunteerRow) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO volunteers \
         (alias, phone_sealed, phone_lookup, roles, languages, zones, on_shift, overflow) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&row.alias)
    .bind(&row.phone_sealed)
    .bind(&row.phone_lookup)
    .bind(&row.roles)
    .bind(&row.languages)
    .bind(&row.zones)
    .bind(i64::from(row.on_shift))
    .bind(i64::from(row.overflow))
    .fetch_one(ex)
    .await
}

pub async fn find_by_alias<'e>(
    ex: impl Executor<'e, Database = Any>,
    alias: &str,
) -> Result<Option<VolunteerRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} AND alias = $1")))
        .bind(alias)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn find_by_id<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
) -> Result<Option<VolunteerRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} AND id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn find_by_phone_lookup<'e>(
    ex: impl Executor<'e, Database = Any>,
    lookup: &str,
) -> Result<Option<VolunteerRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} AND phone_lookup = $1")))
        .bind(lookup)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The whole roster, ordered by alias.
pub async fn list<'e>(ex: impl Executor<'e, Database = Any>) -> Result<Vec<VolunteerRow>, sqlx::Error> {
    list_where(ex, "").await
}

/// Those on shift: all that routing a call looks at.
pub async fn list_on_shift<'e>(ex: impl Executor<'e, Database = Any>) -> Result<Vec<VolunteerRow>, sqlx::Error> {
    list_where(ex, "AND on_shift = 1 AND revoked = 0").await
}

/// Those who can be rung for a call now, without their device keys: ringing
/// seals nothing, and in a surge every call reads this.
pub async fn list_ringable<'e>(ex: impl Executor<'e, Database = Any>) -> Result<Vec<VolunteerRow>, sqlx::Error> {
    sqlx::query(
        "SELECT id, alias, phone_sealed, phone_lookup, roles, languages, zones, on_shift, overflow, revoked, \
         CAST(NULL AS TEXT) AS recipients FROM volunteers \
         WHERE phone_sealed IS NOT NULL AND on_shift = 1 AND revoked = 0 ORDER BY alias",
    )
    .fetch_all(ex)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

async fn list_where<'e>(
    ex: impl Executor<'e, Database = Any>,
    condition: &'static str,
) -> Result<Vec<VolunteerRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} {condition} ORDER BY alias")))
        .fetch_all(ex)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Deletes a volunteer by id; their tokens and reader entries go with them
/// (foreign keys with ON DELETE CASCADE).
pub async fn delete<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM volunteers WHERE id = $1").bind(id).execute(ex).await?;
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

/// `(id, number)` of rows still holding a number in clear from before the vault.
pub async fn legacy_phones<'e>(ex: impl Executor<'e, Database = Any>) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT id, legacy_phone FROM volunteers WHERE legacy_phone IS NOT NULL").fetch_all(ex).await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("legacy_phone")?))).collect()
}

/// Replaces a clear number with its sealed form and lookup hash.
pub async fn seal_legacy_phone<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    sealed: &[u8],
    lookup: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE volunteers SET phone_sealed = $1, phone_lookup = $2, legacy_phone = NULL WHERE id = $3")
        .bind(sealed)
        .bind(lookup)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}
