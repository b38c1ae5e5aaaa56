//! Queries on incidents and the observers dispatched to them.
//!
//! Like the call queries, the transitions that must happen once across instances
//! (taking a dispatch slot, stepping up the paging, closing) are conditional
//! updates that report whether they changed the row.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use crate::states::{DispatchState, IncidentStatus, unknown};

/// `('a', 'b')`: an SQL list of state names, for `IN`. The names are the types'
/// own, never input.
pub(super) fn name_list(names: impl Iterator<Item = &'static str>) -> String {
    let quoted: Vec<String> = names.map(|n| format!("'{n}'")).collect();
    format!("({})", quoted.join(", "))
}

/// The statuses of an incident still being worked, as an SQL list.
fn open_statuses() -> String {
    name_list(IncidentStatus::OPEN.iter().map(|s| s.as_str()))
}

#[derive(Debug, Clone)]
pub struct IncidentRow {
    pub id: i64,
    pub zone: String,
    pub kind: String,
    pub status: IncidentStatus,
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
    let status: String = row.try_get("status")?;
    Ok(IncidentRow {
        id: row.try_get("id")?,
        zone: row.try_get("zone")?,
        kind: row.try_get("kind")?,
        status: IncidentStatus::parse(&status).ok_or_else(|| unknown("incident status", &status))?,
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

pub async fn insert<'e>(ex: impl Executor<'e, Database = Any>, new: &NewIncident<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO incidents (zone, kind, status, needed, page_tier, page_deadline, opened_by, created_hour) \
         VALUES ($1, $2, $7, $3, 0, $4, $5, $6) RETURNING id",
    )
    .bind(new.zone)
    .bind(new.kind)
    .bind(new.needed)
    .bind(new.page_deadline)
    .bind(new.opened_by)
    .bind(new.created_hour)
    .bind(IncidentStatus::Reported.as_str())
    .fetch_one(ex)
    .await
}

pub async fn get<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<Option<IncidentRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{INCIDENT_COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(incident_from_row)
        .transpose()
}

/// Every incident not yet deleted, newest first.
pub async fn list<'e>(ex: impl Executor<'e, Database = Any>) -> Result<Vec<IncidentRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{INCIDENT_COLUMNS} ORDER BY id DESC")))
        .fetch_all(ex)
        .await?
        .iter()
        .map(incident_from_row)
        .collect()
}

/// Incidents still being worked.
pub async fn list_open<'e>(ex: impl Executor<'e, Database = Any>) -> Result<Vec<IncidentRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{INCIDENT_COLUMNS} WHERE status IN {} ORDER BY id", open_statuses())))
        .fetch_all(ex)
        .await?
        .iter()
        .map(incident_from_row)
        .collect()
}

/// `reported` becomes `verified`; false when it was not `reported`.
pub async fn verify<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE incidents SET status = $2 WHERE id = $1 AND status = $3")
        .bind(id)
        .bind(IncidentStatus::Verified.as_str())
        .bind(IncidentStatus::Reported.as_str())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends an open incident as `closed` or `false_alarm`; paging stops. False when it
/// was already ended.
pub async fn close<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    status: IncidentStatus,
    closed_at: i64,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE incidents SET status = $1, closed_at = $2, expires_at = $3, page_deadline = NULL \
         WHERE id = $4 AND status IN {}",
        open_statuses()
    )))
    .bind(status.as_str())
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
        "UPDATE incidents SET assigned = assigned + 1, status = $2, page_deadline = NULL \
         WHERE id = $1 AND assigned < needed AND status IN {} RETURNING assigned",
        open_statuses()
    )))
    .bind(id)
    .bind(IncidentStatus::Dispatched.as_str())
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
         WHERE id = $3 AND page_tier = $4 AND assigned = 0 AND status IN {}",
        open_statuses()
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
         AND status IN {} ORDER BY id",
        open_statuses()
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
        "INSERT INTO dispatches (incident_id, volunteer_id, state) VALUES ($1, $2, $3) \
         ON CONFLICT (incident_id, volunteer_id) DO NOTHING",
    )
    .bind(incident_id)
    .bind(volunteer_id)
    .bind(DispatchState::Paged.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets a volunteer's dispatch state, creating the entry if needed.
pub async fn set_dispatch<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_id: i64,
    volunteer_id: i64,
    state: DispatchState,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO dispatches (incident_id, volunteer_id, state) VALUES ($1, $2, $3) \
         ON CONFLICT (incident_id, volunteer_id) DO UPDATE SET state = excluded.state",
    )
    .bind(incident_id)
    .bind(volunteer_id)
    .bind(state.as_str())
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
    let assigned = DispatchState::NAMES.iter().filter(|(s, _)| s.is_assigned()).map(|(_, n)| *n);
    let row: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "UPDATE dispatches SET state = $3 WHERE incident_id = $1 AND volunteer_id = $2 \
         AND state NOT IN {} RETURNING state",
        name_list(assigned)
    )))
    .bind(incident_id)
    .bind(volunteer_id)
    .bind(DispatchState::Accepted.as_str())
    .fetch_optional(ex)
    .await?;
    Ok(row.is_some())
}

/// Moves a volunteer's dispatch from one of `from` to `to`; false when it was in
/// none of them.
pub async fn move_dispatch<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_id: i64,
    volunteer_id: i64,
    from: &[DispatchState],
    to: DispatchState,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE dispatches SET state = $1 WHERE incident_id = $2 AND volunteer_id = $3 AND state IN {}",
        name_list(from.iter().map(|s| s.as_str()))
    )))
    .bind(to.as_str())
    .bind(incident_id)
    .bind(volunteer_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Open incidents opened before `hour` (for closing the forgotten ones).
pub async fn open_before<'e>(ex: impl Executor<'e, Database = Any>, hour: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM incidents WHERE status IN {} AND created_hour < $1 ORDER BY id",
        open_statuses()
    )))
    .bind(hour)
    .fetch_all(ex)
    .await
}

fn dispatch_state_of(name: String) -> Result<DispatchState, sqlx::Error> {
    DispatchState::parse(&name).ok_or_else(|| unknown("dispatch state", &name))
}

pub async fn dispatch_state<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_id: i64,
    volunteer_id: i64,
) -> Result<Option<DispatchState>, sqlx::Error> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT state FROM dispatches WHERE incident_id = $1 AND volunteer_id = $2")
            .bind(incident_id)
            .bind(volunteer_id)
            .fetch_optional(ex)
            .await?;
    name.map(dispatch_state_of).transpose()
}

/// `(volunteer id, state)` of everyone paged for or assigned to an incident.
pub async fn dispatches_of<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_id: i64,
) -> Result<Vec<(i64, DispatchState)>, sqlx::Error> {
    let rows = sqlx::query("SELECT volunteer_id, state FROM dispatches WHERE incident_id = $1 ORDER BY volunteer_id")
        .bind(incident_id)
        .fetch_all(ex)
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, dispatch_state_of(r.try_get(1)?)?))).collect()
}

/// `(incident id, volunteer id, state)` of every dispatch of these incidents: what
/// a list of incidents shows, in one query.
pub async fn dispatches_of_all<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_ids: &[i64],
) -> Result<Vec<(i64, i64, DispatchState)>, sqlx::Error> {
    if incident_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = incident_ids.iter().map(i64::to_string).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT incident_id, volunteer_id, state FROM dispatches WHERE incident_id IN ({}) \
         ORDER BY incident_id, volunteer_id",
        ids.join(", ")
    )))
    .fetch_all(ex)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, dispatch_state_of(r.try_get(2)?)?))).collect()
}

/// The incidents a volunteer was paged for or assigned to.
pub async fn paged_for<'e>(ex: impl Executor<'e, Database = Any>, volunteer_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT incident_id FROM dispatches WHERE volunteer_id = $1 ORDER BY incident_id")
        .bind(volunteer_id)
        .fetch_all(ex)
        .await
}
