//! Queries on incidents, the observers dispatched to them, public intake threads
//! and the audit trail.
//!
//! Like the call queries, the transitions that must happen once across instances
//! (taking a dispatch slot, stepping up the paging, closing) are conditional
//! updates that report whether they changed the row.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

/// The statuses of an incident still being worked.
pub const OPEN_STATUSES: &str = "('reported', 'verified', 'dispatched')";

#[derive(Debug, Clone)]
pub struct IncidentRow {
    pub id: i64,
    pub zone: String,
    pub kind: String,
    pub status: String,
    pub needed: i64,
    pub assigned: i64,
    pub page_tier: i64,
    pub page_deadline: Option<i64>,
    pub opened_by: Option<i64>,
    pub created_hour: i64,
    pub closed_at: Option<i64>,
    pub expires_at: Option<i64>,
}

fn incident_from_row(row: &AnyRow) -> Result<IncidentRow, sqlx::Error> {
    Ok(IncidentRow {
        id: row.try_get("id")?,
        zone: row.try_get("zone")?,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        needed: row.try_get("needed")?,
        assigned: row.try_get("assigned")?,
        page_tier: row.try_get("page_tier")?,
        page_deadline: row.try_get("page_deadline")?,
        opened_by: row.try_get("opened_by")?,
        created_hour: row.try_get("created_hour")?,
        closed_at: row.try_get("closed_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

const INCIDENT_COLUMNS: &str = "SELECT id, zone, kind, status, needed, assigned, page_tier, page_deadline, \
                                opened_by, created_hour, closed_at, expires_at FROM incidents";

pub struct NewIncident<'a> {
    pub zone: &'a str,
    pub kind: &'a str,
    pub needed: i64,
    pub opened_by: Option<i64>,
    pub created_hour: i64,
    pub page_deadline: i64,
}

pub async fn insert_incident<'e>(
    ex: impl Executor<'e, Database = Any>,
    new: &NewIncident<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO incidents (zone, kind, status, needed, page_tier, page_deadline, opened_by, created_hour) \
         VALUES ($1, $2, 'reported', $3, 0, $4, $5, $6) RETURNING id",
    )
    .bind(new.zone)
    .bind(new.kind)
    .bind(new.needed)
    .bind(new.page_deadline)
    .bind(new.opened_by)
    .bind(new.created_hour)
    .fetch_one(ex)
    .await
}

pub async fn get_incident<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
) -> Result<Option<IncidentRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{INCIDENT_COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(incident_from_row)
        .transpose()
}

/// Every incident not yet deleted, newest first.
pub async fn list_incidents<'e>(ex: impl Executor<'e, Database = Any>) -> Result<Vec<IncidentRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{INCIDENT_COLUMNS} ORDER BY id DESC")))
        .fetch_all(ex)
        .await?
        .iter()
        .map(incident_from_row)
        .collect()
}

/// Incidents still being worked.
pub async fn open_incidents<'e>(ex: impl Executor<'e, Database = Any>) -> Result<Vec<IncidentRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{INCIDENT_COLUMNS} WHERE status IN {OPEN_STATUSES} ORDER BY id")))
        .fetch_all(ex)
        .await?
        .iter()
        .map(incident_from_row)
        .collect()
}

/// `reported` becomes `verified`; false when it was not `reported`.
pub async fn verify<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE incidents SET status = 'verified' WHERE id = $1 AND status = 'reported'")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends an open incident as `closed` or `false_alarm`; paging stops. False when it
/// was already ended.
pub async fn close<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    status: &str,
    closed_at: i64,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE incidents SET status = $1, closed_at = $2, expires_at = $3, page_deadline = NULL \
         WHERE id = $4 AND status IN {OPEN_STATUSES}"
    )))
    .bind(status)
    .bind(closed_at)
    .bind(expires_at)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes one of the incident's observer slots, if one is free: the incident is
/// then `dispatched` and paging stops. Returns how many are assigned now, or
/// `None` when every slot was taken (or the incident has ended). One statement,
/// so two instances can never hand out the same slot.
pub async fn take_slot<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "UPDATE incidents SET assigned = assigned + 1, status = 'dispatched', page_deadline = NULL \
         WHERE id = $1 AND assigned < needed AND status IN {OPEN_STATUSES} RETURNING assigned"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Gives a slot back (an assigned observer who cannot go after all). When nobody
/// is left assigned, paging starts again at tier `tier` with this `deadline`.
pub async fn release_slot<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    deadline: i64,
    tier: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE incidents SET assigned = assigned - 1, \
         page_deadline = CASE WHEN assigned = 1 THEN $2 ELSE page_deadline END, \
         page_tier = CASE WHEN assigned = 1 THEN $3 ELSE page_tier END \
         WHERE id = $1 AND assigned > 0",
    )
    .bind(id)
    .bind(deadline)
    .bind(tier)
    .execute(ex)
    .await?;
    Ok(())
}

/// Steps the paging of an incident from tier `from` to `to`, with a new deadline
/// (`None`: paging is over). Only one instance wins each step.
pub async fn advance_page<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    from: i64,
    to: i64,
    deadline: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE incidents SET page_tier = $1, page_deadline = $2 \
         WHERE id = $3 AND page_tier = $4 AND assigned = 0 AND status IN {OPEN_STATUSES}"
    )))
    .bind(to)
    .bind(deadline)
    .bind(id)
    .bind(from)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Incidents whose paging deadline has passed with nobody assigned: `(id, tier)`.
pub async fn due_pages<'e>(ex: impl Executor<'e, Database = Any>, now: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, page_tier FROM incidents WHERE page_deadline <= $1 AND assigned = 0 \
         AND status IN {OPEN_STATUSES} ORDER BY id"
    )))
    .bind(now)
    .fetch_all(ex)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Records that a volunteer was paged, unless they already have a dispatch entry.
pub async fn add_paged<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_id: i64,
    volunteer_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO dispatches (incident_id, volunteer_id, state) VALUES ($1, $2, 'paged') \
         ON CONFLICT (incident_id, volunteer_id) DO NOTHING",
    )
    .bind(incident_id)
    .bind(volunteer_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets a volunteer's dispatch state, creating the entry if needed.
pub async fn set_dispatch<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_id: i64,
    volunteer_id: i64,
    state: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO dispatches (incident_id, volunteer_id, state) VALUES ($1, $2, $3) \
         ON CONFLICT (incident_id, volunteer_id) DO UPDATE SET state = excluded.state",
    )
    .bind(incident_id)
    .bind(volunteer_id)
    .bind(state)
    .execute(ex)
    .await?;
    Ok(())
}

/// Marks a paged volunteer as accepting an incident, unless they already are (or
/// have been and left), or were never paged for it: false then. Taken before a
/// slot, in the same transaction, so a `Y` sent twice at once cannot take two.
pub async fn claim_acceptance<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_id: i64,
    volunteer_id: i64,
) -> Result<bool, sqlx::Error> {
    let row: Option<String> = sqlx::query_scalar(
        "UPDATE dispatches SET state = 'accepted' WHERE incident_id = $1 AND volunteer_id = $2 \
         AND state NOT IN ('accepted', 'on_scene', 'done') RETURNING state",
    )
    .bind(incident_id)
    .bind(volunteer_id)
    .fetch_optional(ex)
    .await?;
    Ok(row.is_some())
}

/// Moves a volunteer's dispatch from one of `from` to `to`; false when it was in
/// none of them. `from` is a fixed list of state names.
pub async fn move_dispatch<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_id: i64,
    volunteer_id: i64,
    from: &[&str],
    to: &str,
) -> Result<bool, sqlx::Error> {
    let from: Vec<String> = from.iter().map(|s| format!("'{s}'")).collect();
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE dispatches SET state = $1 WHERE incident_id = $2 AND volunteer_id = $3 AND state IN ({})",
        from.join(", ")
    )))
    .bind(to)
    .bind(incident_id)
    .bind(volunteer_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Open incidents opened before `hour` (for closing the forgotten ones).
pub async fn open_before<'e>(ex: impl Executor<'e, Database = Any>, hour: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM incidents WHERE status IN {OPEN_STATUSES} AND created_hour < $1 ORDER BY id"
    )))
    .bind(hour)
    .fetch_all(ex)
    .await
}

pub async fn dispatch_state<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_id: i64,
    volunteer_id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT state FROM dispatches WHERE incident_id = $1 AND volunteer_id = $2")
        .bind(incident_id)
        .bind(volunteer_id)
        .fetch_optional(ex)
        .await
}

/// `(volunteer id, state)` of everyone paged for or assigned to an incident.
pub async fn dispatches_of<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query("SELECT volunteer_id, state FROM dispatches WHERE incident_id = $1 ORDER BY volunteer_id")
        .bind(incident_id)
        .fetch_all(ex)
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

#[derive(Debug, Clone)]
pub struct ThreadRow {
    pub id: i64,
    pub caller_token: String,
    pub language: String,
    pub state: String,
    pub created_hour: i64,
    pub expires_at: i64,
}

fn thread_from_row(row: &AnyRow) -> Result<ThreadRow, sqlx::Error> {
    Ok(ThreadRow {
        id: row.try_get("id")?,
        caller_token: row.try_get("caller_token")?,
        language: row.try_get("language")?,
        state: row.try_get("state")?,
        created_hour: row.try_get("created_hour")?,
        expires_at: row.try_get("expires_at")?,
    })
}

const THREAD_COLUMNS: &str = "SELECT id, caller_token, language, state, created_hour, expires_at FROM intake_threads";

/// A new thread for a caller token. Two first texts at once, or a thread that
/// expired but is not swept yet, end up in the one row the token may have.
pub async fn insert_thread<'e>(
    ex: impl Executor<'e, Database = Any>,
    caller_token: &str,
    language: &str,
    created_hour: i64,
    expires_at: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO intake_threads (caller_token, language, state, created_hour, expires_at) \
         VALUES ($1, $2, 'open', $3, $4) \
         ON CONFLICT (caller_token) DO UPDATE SET language = excluded.language, state = 'open', \
         created_hour = excluded.created_hour, expires_at = excluded.expires_at RETURNING id",
    )
    .bind(caller_token)
    .bind(language)
    .bind(created_hour)
    .bind(expires_at)
    .fetch_one(ex)
    .await
}

pub async fn get_thread<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<Option<ThreadRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{THREAD_COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(thread_from_row)
        .transpose()
}

/// The newest unexpired thread of a caller token.
pub async fn thread_of_token<'e>(
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
pub async fn list_threads<'e>(ex: impl Executor<'e, Database = Any>, now: i64) -> Result<Vec<ThreadRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{THREAD_COLUMNS} WHERE expires_at > $1 ORDER BY id DESC")))
        .bind(now)
        .fetch_all(ex)
        .await?
        .iter()
        .map(thread_from_row)
        .collect()
}

pub async fn update_thread<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    language: &str,
    state: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE intake_threads SET language = $1, state = $2, expires_at = $3 WHERE id = $4")
        .bind(language)
        .bind(state)
        .bind(expires_at)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Marks every unexpired thread of a caller token (STOP and START).
pub async fn set_token_threads_state<'e>(
    ex: impl Executor<'e, Database = Any>,
    caller_token: &str,
    from: &str,
    to: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("UPDATE intake_threads SET state = $1 WHERE caller_token = $2 AND state = $3 AND expires_at > $4")
            .bind(to)
            .bind(caller_token)
            .bind(from)
            .bind(now)
            .execute(ex)
            .await?;
    Ok(done.rows_affected())
}

pub async fn insert_audit<'e>(
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
pub async fn recent_audit<'e>(ex: impl Executor<'e, Database = Any>, limit: i64) -> Result<Vec<AuditRow>, sqlx::Error> {
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
