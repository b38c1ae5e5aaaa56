//! Group commit for arriving calls. Every incoming-call webhook writes a call row
//! and a rate-limit attempt; written one transaction each, a surge spends its
//! time beginning and committing (and, on SQLite, queuing for the one writer).
//! Here the arrivals that come in while a transaction is being written wait for
//! the next one, which writes all of them with two statements. A webhook is
//! answered only after the transaction holding its call has committed, as before;
//! alone, an arrival is written at once.

use std::collections::HashMap;

use sqlx::{Any, Executor};
use tokio::sync::{mpsc, oneshot};

use super::Db;
use super::calls::{Attempts, LegKey, end, insert_legs};
use crate::states::{CallState, Outcome};

/// At most this many arrivals per transaction (seven parameters each).
const BATCH: usize = 64;
/// Pending legs per insert (five parameters each): within every database's
/// limit on parameters.
const LEGS_PER_STATEMENT: usize = 128;

/// A call that has just rung the hotline.
pub struct Arrival {
    pub sid: String,
    pub caller_token: Option<String>,
    /// Blocked or over the rate limit: recorded as ended, outcome `refused`.
    pub refused: bool,
    /// What the call does next, written with it.
    pub next: Next,
    pub at: i64,
    pub hour: i64,
}

/// Where a new call goes, decided before it is written.
pub enum Next {
    /// The language menu, or the key a withheld number presses first.
    Menu,
    /// Its first tier rings (a one-language line): `volunteers` get pending legs.
    Ring { language: String, tier: i64, deadline: i64, volunteers: Vec<i64> },
    /// Nobody can be rung: straight to voicemail.
    Voicemail { language: String, outcome: Outcome },
}

type Reply = oneshot::Sender<Result<Option<i64>, sqlx::Error>>;

/// The writer's inbox. Cloning is cheap; the writer stops when the last clone goes.
#[derive(Clone)]
pub struct Arrivals {
    inbox: mpsc::Sender<(Arrival, Reply)>,
}

impl Arrivals {
    /// Starts the writer on the current runtime.
    pub fn start(db: Db) -> Arrivals {
        let (inbox, mut rx) = mpsc::channel::<(Arrival, Reply)>(4 * BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                write(&db, std::mem::take(&mut batch)).await;
            }
        });
        Arrivals { inbox }
    }

    /// Records the call; its id, or `None` when a call with this SID was already
    /// recorded (the provider retried the webhook).
    pub async fn record(&self, arrival: Arrival) -> Result<Option<i64>, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send((arrival, reply)).await.map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn write(db: &Db, batch: Vec<(Arrival, Reply)>) {
    let arrivals: Vec<&Arrival> = batch.iter().map(|(a, _)| a).collect();
    match write_together(db, &arrivals).await {
        Ok(ids) => {
            for (arrival, reply) in batch {
                let _ = reply.send(Ok(ids.get(&arrival.sid).copied()));
            }
        }
        // The database is away or full: every arrival of the batch fails alike,
        // at once, rather than each trying again and waiting its own time out.
        Err(e) if super::outage(&e).is_some() => {
            let message = e.to_string();
            let mut first = Some(e);
            for (_, reply) in batch {
                let error = first.take().unwrap_or_else(|| sqlx::Error::Io(std::io::Error::other(message.clone())));
                let _ = reply.send(Err(error));
            }
        }
        // One bad arrival must not cost the others their calls, and each webhook
        // deserves its own answer: write them one by one (skipping webhooks that
        // have already given up waiting).
        Err(e) => {
            if batch.len() == 1 {
                if let Some((_, reply)) = batch.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
                return;
            }
            for (arrival, reply) in batch.into_iter().filter(|(_, reply)| !reply.is_closed()) {
                let result = write_together(db, &[&arrival]).await.map(|ids| ids.get(&arrival.sid).copied());
                let _ = reply.send(result);
            }
        }
    }
}

/// One transaction: the new calls (a SID seen before is left alone), then an
/// attempt for each new call with a caller token, then the refused ones ended.
/// The call rows keep no caller token: the rate limit needs it for ten minutes
/// (the attempts, swept after), not for the call record's day.
async fn write_together(db: &Db, arrivals: &[&Arrival]) -> Result<HashMap<String, i64>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let values = placeholders(arrivals.len(), 7);
    let sql = format!(
        "INSERT INTO calls (provider_sid, state, created_hour, language, tier, tier_deadline, outcome) VALUES {values} \
         ON CONFLICT (provider_sid) DO NOTHING RETURNING id, provider_sid"
    );
    let mut insert = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql));
    for a in arrivals {
        let (state, language, tier, deadline, outcome) = match (&a.next, a.refused) {
            (_, true) => (CallState::Ended, None, 0, None, None),
            (Next::Menu, false) => (CallState::Menu, None, 0, None, None),
            (Next::Ring { language, tier, deadline, .. }, false) => {
                (CallState::Ringing, Some(language.as_str()), *tier, Some(*deadline), None)
            }
            (Next::Voicemail { language, outcome }, false) => {
                (CallState::Voicemail, Some(language.as_str()), 0, None, Some(outcome.as_str()))
            }
        };
        insert = insert
            .bind(a.sid.as_str())
            .bind(state.as_str())
            .bind(a.hour)
            .bind(language)
            .bind(tier)
            .bind(deadline)
            .bind(outcome);
    }
    let ids: HashMap<String, i64> = insert.fetch_all(&mut *tx).await?.into_iter().map(|(id, sid)| (sid, id)).collect();
    let attempts: Vec<(&str, i64)> = arrivals
        .iter()
        .filter(|a| ids.contains_key(&a.sid))
        .filter_map(|a| a.caller_token.as_deref().map(|t| (t, a.at)))
        .collect();
    if !attempts.is_empty() {
        insert_attempts(&mut *tx, &attempts).await?;
    }
    let mut legs = Vec::new();
    for a in arrivals.iter().filter(|a| !a.refused) {
        if let (Next::Ring { tier, volunteers, .. }, Some(id)) = (&a.next, ids.get(&a.sid)) {
            legs.extend(volunteers.iter().map(|v| LegKey { call: *id, volunteer: *v, tier: *tier, attempt: 0 }));
        }
    }
    for chunk in legs.chunks(LEGS_PER_STATEMENT) {
        insert_legs(&mut *tx, chunk).await?;
    }
    for a in arrivals.iter().filter(|a| a.refused) {
        if let Some(id) = ids.get(&a.sid) {
            end(&mut *tx, *id, Outcome::Refused, a.at).await?;
        }
    }
    tx.commit().await?;
    Ok(ids)
}

async fn insert_attempts<'e>(ex: impl Executor<'e, Database = Any>, rows: &[(&str, i64)]) -> Result<(), sqlx::Error> {
    let sql =
        format!("INSERT INTO {} (caller_token, at) VALUES {}", Attempts::Calls.table(), placeholders(rows.len(), 2));
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (token, at) in rows {
        insert = insert.bind(*token).bind(*at);
    }
    insert.execute(ex).await?;
    Ok(())
}

/// `($1, $2), ($3, $4)` for two rows of two columns.
fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_number_every_value_once() {
        assert_eq!(placeholders(1, 4), "($1, $2, $3, $4)");
        assert_eq!(placeholders(2, 2), "($1, $2), ($3, $4)");
    }
}
