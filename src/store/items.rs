//! Queries on sealed content items and their readers.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

pub struct ItemRow {
    pub id: i64,
    pub class: String,
    pub created_hour: i64,
    pub expires_at: i64,
    pub sealed: Vec<u8>,
}

fn from_row(row: &AnyRow) -> Result<ItemRow, sqlx::Error> {
    Ok(ItemRow {
        id: row.try_get("id")?,
        class: row.try_get("class")?,
        created_hour: row.try_get("created_hour")?,
        expires_at: row.try_get("expires_at")?,
        sealed: row.try_get("sealed")?,
    })
}

pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Any>,
    class: &str,
    created_hour: i64,
    expires_at: i64,
    epoch: i64,
    sealed: &[u8],
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO sealed_items (class, created_hour, expires_at, epoch, sealed) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(class)
    .bind(created_hour)
    .bind(expires_at)
    .bind(epoch)
    .bind(sealed)
    .fetch_one(ex)
    .await
}

pub async fn add_reader<'e>(
    ex: impl Executor<'e, Database = Any>,
    item_id: i64,
    volunteer_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sealed_item_readers (item_id, volunteer_id) VALUES ($1, $2)")
        .bind(item_id)
        .bind(volunteer_id)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn get<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<Option<ItemRow>, sqlx::Error> {
    sqlx::query("SELECT id, class, created_hour, expires_at, sealed FROM sealed_items WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn is_reader<'e>(
    ex: impl Executor<'e, Database = Any>,
    item_id: i64,
    volunteer_id: i64,
) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sealed_item_readers WHERE item_id = $1 AND volunteer_id = $2")
            .bind(item_id)
            .bind(volunteer_id)
            .fetch_one(ex)
            .await?;
    Ok(n > 0)
}

/// Deletes the items whose only reader is this volunteer: once they are gone
/// nobody could use them.
pub async fn delete_sole_reader_items<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM sealed_items WHERE id IN ( \
           SELECT r.item_id FROM sealed_item_readers r WHERE r.volunteer_id = $1 \
           AND NOT EXISTS (SELECT 1 FROM sealed_item_readers o \
                           WHERE o.item_id = r.item_id AND o.volunteer_id <> $1))",
    )
    .bind(volunteer_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// How many items are stored.
pub async fn count<'e>(ex: impl Executor<'e, Database = Any>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM sealed_items").fetch_one(ex).await
}

/// Deletes one item (its reader entries go with it).
pub async fn delete<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM sealed_items WHERE id = $1").bind(id).execute(ex).await?.rows_affected() > 0)
}

/// What an item belongs to: an incident (its details and field notes) or an
/// intake thread (its texts and the sender's sealed number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Incident(i64),
    Thread(i64),
}

pub async fn link<'e>(ex: impl Executor<'e, Database = Any>, id: i64, link: Link) -> Result<(), sqlx::Error> {
    let sql = match link {
        Link::Incident(_) => "UPDATE sealed_items SET incident_id = $1 WHERE id = $2",
        Link::Thread(_) => "UPDATE sealed_items SET thread_id = $1 WHERE id = $2",
    };
    let (Link::Incident(parent) | Link::Thread(parent)) = link;
    sqlx::query(sql).bind(parent).bind(id).execute(ex).await?;
    Ok(())
}

/// An item's place in time, without its content.
#[derive(Debug, Clone)]
pub struct ItemMeta {
    pub id: i64,
    pub class: String,
    pub created_hour: i64,
    pub expires_at: i64,
}

fn meta_from_row(r: &AnyRow) -> Result<ItemMeta, sqlx::Error> {
    Ok(ItemMeta { id: r.try_get(0)?, class: r.try_get(1)?, created_hour: r.try_get(2)?, expires_at: r.try_get(3)? })
}

/// The items linked to an incident or a thread, oldest first.
pub async fn linked<'e>(ex: impl Executor<'e, Database = Any>, link: Link) -> Result<Vec<ItemMeta>, sqlx::Error> {
    let sql = match link {
        Link::Incident(_) => {
            "SELECT id, class, created_hour, expires_at FROM sealed_items WHERE incident_id = $1 ORDER BY id"
        }
        Link::Thread(_) => {
            "SELECT id, class, created_hour, expires_at FROM sealed_items WHERE thread_id = $1 ORDER BY id"
        }
    };
    let (Link::Incident(parent) | Link::Thread(parent)) = link;
    sqlx::query(sql).bind(parent).fetch_all(ex).await?.iter().map(meta_from_row).collect()
}

/// Items of incidents still open whose expiry comes before `before`: their
/// lifetime only starts when the incident closes, so they are kept alive.
pub async fn of_open_incidents_expiring<'e>(
    ex: impl Executor<'e, Database = Any>,
    before: i64,
) -> Result<Vec<ItemMeta>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT s.id, s.class, s.created_hour, s.expires_at FROM sealed_items s \
         JOIN incidents i ON i.id = s.incident_id \
         WHERE i.status IN {} AND s.expires_at < $1 ORDER BY s.id",
        super::incidents::name_list(crate::states::IncidentStatus::OPEN.iter().map(|s| s.as_str()))
    )))
    .bind(before)
    .fetch_all(ex)
    .await?
    .iter()
    .map(meta_from_row)
    .collect()
}

/// Replaces an item's sealed bytes and expiry (the content was resealed under
/// another epoch), if its expiry is still the one the caller read. False when the
/// item is gone or was resealed meanwhile.
pub async fn replace_sealed<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    was_expiring_at: i64,
    expires_at: i64,
    epoch: i64,
    sealed: &[u8],
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sealed_items SET expires_at = $1, epoch = $2, sealed = $3 WHERE id = $4 AND expires_at = $5",
    )
    .bind(expires_at)
    .bind(epoch)
    .bind(sealed)
    .bind(id)
    .bind(was_expiring_at)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The volunteer ids that may fetch an item.
pub async fn readers<'e>(ex: impl Executor<'e, Database = Any>, item_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT volunteer_id FROM sealed_item_readers WHERE item_id = $1 ORDER BY volunteer_id")
        .bind(item_id)
        .fetch_all(ex)
        .await
}

/// An item a volunteer may fetch, with what it belongs to.
#[derive(Debug, Clone)]
pub struct ReadableItem {
    pub meta: ItemMeta,
    pub incident_id: Option<i64>,
    pub thread_id: Option<i64>,
}

/// The unexpired items a volunteer is a reader of, newest first.
pub async fn readable_by<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    now: i64,
) -> Result<Vec<ReadableItem>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.id, s.class, s.created_hour, s.expires_at, s.incident_id, s.thread_id FROM sealed_items s \
         JOIN sealed_item_readers r ON r.item_id = s.id WHERE r.volunteer_id = $1 AND s.expires_at > $2 \
         ORDER BY s.id DESC LIMIT 500",
    )
    .bind(volunteer_id)
    .bind(now)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| Ok(ReadableItem { meta: meta_from_row(r)?, incident_id: r.try_get(4)?, thread_id: r.try_get(5)? }))
        .collect()
}

/// How many unexpired items of a class there are.
/// Notes that one of an item's readers fetched it.
pub async fn mark_opened<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sealed_items SET opened = 1 WHERE id = $1 AND opened = 0").bind(id).execute(ex).await?;
    Ok(())
}

/// Live items of `class` no reader has fetched yet.
pub async fn count_unopened<'e>(
    ex: impl Executor<'e, Database = Any>,
    class: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM sealed_items WHERE class = $1 AND expires_at > $2 AND opened = 0")
        .bind(class)
        .bind(now)
        .fetch_one(ex)
        .await
}

pub async fn count_live<'e>(ex: impl Executor<'e, Database = Any>, class: &str, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM sealed_items WHERE class = $1 AND expires_at > $2")
        .bind(class)
        .bind(now)
        .fetch_one(ex)
        .await
}

/// `(incident id, item)` for the items of `class` linked to any of these
/// incidents, oldest first: what a list of incidents shows, in one query.
pub async fn of_incidents<'e>(
    ex: impl Executor<'e, Database = Any>,
    incident_ids: &[i64],
    class: &str,
) -> Result<Vec<(i64, ItemMeta)>, sqlx::Error> {
    linked_to_any(ex, "incident_id", incident_ids, class).await
}

/// `(thread id, item)` for the items of `class` linked to any of these threads.
pub async fn of_threads<'e>(
    ex: impl Executor<'e, Database = Any>,
    thread_ids: &[i64],
    class: &str,
) -> Result<Vec<(i64, ItemMeta)>, sqlx::Error> {
    linked_to_any(ex, "thread_id", thread_ids, class).await
}

/// `column` is one of the two link columns, never input; the ids are numbers.
async fn linked_to_any<'e>(
    ex: impl Executor<'e, Database = Any>,
    column: &'static str,
    ids: &[i64],
    class: &str,
) -> Result<Vec<(i64, ItemMeta)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, class, created_hour, expires_at, {column} FROM sealed_items \
         WHERE class = $1 AND {column} IN ({}) ORDER BY id",
        ids.join(", ")
    )))
    .bind(class)
    .fetch_all(ex)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(4)?, meta_from_row(r)?))).collect()
}

/// `(item id, alias)` of the readers of these items, by alias.
pub async fn reader_aliases<'e>(
    ex: impl Executor<'e, Database = Any>,
    item_ids: &[i64],
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    if item_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = item_ids.iter().map(i64::to_string).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT r.item_id, v.alias FROM sealed_item_readers r JOIN volunteers v ON v.id = r.volunteer_id \
         WHERE r.item_id IN ({}) ORDER BY v.alias",
        ids.join(", ")
    )))
    .fetch_all(ex)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}
