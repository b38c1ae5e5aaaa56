//! Retention: every data class expires on schedule.
//!
//! The sweeper runs at start-up (catching up after downtime) and every
//! `sweep_interval` (a minute). It first destroys the keys whose time has ended,
//! on every instance and whether or not the database answers; then it ends calls
//! that never got their final status, folds call records older than their
//! lifetime into daily counts and deletes them (in one transaction, so each call
//! is counted once), and deletes expired items, blocks, tokens and rate-limit
//! attempts.
//! Every step deletes by deadline, so a sweep interrupted anywhere is completed
//! by the next one and never removes what should stay.
//!
//! On SQLite, `secure_delete` overwrites deleted rows and a checkpoint after each
//! sweep that deleted anything truncates the WAL. On PostgreSQL dead tuples and
//! WAL segments keep bytes until vacuum and WAL recycling (the sweeper vacuums the
//! swept tables after large sweeps); there, the destroyed epoch keys are what make
//! deleted content unreadable.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::Connection;

use crate::AppState;
use crate::clock::UnixTime;
use crate::items::ItemClass;
use crate::store::calls::Attempts;
use crate::store::{Backend, sweep};
use crate::vault::{KeyName, Vault, VaultError};

/// Rate-limit attempts are needed for ten minutes.
const ATTEMPT_WINDOW_SECS: i64 = 600;
/// After a sweep deleting more rows than this, PostgreSQL vacuums the swept tables.
const VACUUM_AFTER: u64 = 1000;
/// The PostgreSQL advisory lock that lets one instance sweep at a time. A session
/// lock: if the sweeping instance dies, its connection closes and the lock goes.
pub const SWEEP_LOCK: i64 = 0x7175_6965_746c_0001;

/// What one sweep removed.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SweepReport {
    /// False when another instance held the sweep lock.
    pub ran: bool,
    pub calls_ended_as_lost: u64,
    pub calls_folded: u64,
    pub items: u64,
    pub blocks: u64,
    pub tokens: u64,
    pub attempts: u64,
    pub incidents: u64,
    pub threads: u64,
    pub audit: u64,
    /// Expired sessions and enrollment codes, old failed sign-ins.
    pub sessions: u64,
    /// Incidents left open past `incident_auto_close`, closed now.
    pub incidents_closed: usize,
    /// Items of open incidents moved to a later epoch (their lifetime starts at the close).
    pub kept_alive: usize,
    pub keys: usize,
}

impl SweepReport {
    fn rows(&self) -> u64 {
        self.calls_folded
            + self.items
            + self.blocks
            + self.tokens
            + self.attempts
            + self.incidents
            + self.threads
            + self.audit
            + self.sessions
    }
}

#[derive(Debug)]
pub enum SweepError {
    Store(sqlx::Error),
    Vault(VaultError),
}

impl std::fmt::Display for SweepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SweepError::Store(e) => write!(f, "database error: {e}"),
            SweepError::Vault(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SweepError {}

impl From<sqlx::Error> for SweepError {
    fn from(e: sqlx::Error) -> Self {
        SweepError::Store(e)
    }
}

/// One sweep.
pub async fn sweep(state: &AppState) -> Result<SweepReport, SweepError> {
    // Ended keys go first, on every instance, whatever the database does: a
    // database that is locked by a backup, unreachable, or swept by another
    // instance must not keep expired content readable in any copy. (The rows go
    // below; without their keys they are unreadable already.)
    let started = std::time::Instant::now();
    let keys = destroy_keys(&state.vault).await.map_err(SweepError::Vault)?.len();
    // Incidents next (they reseal items and need connections of their own; their
    // conditional updates make a second instance doing the same harmless).
    let incidents_closed = crate::dispatch::close_forgotten(state).await;
    let kept_alive = crate::dispatch::keep_open_items_alive(state).await;
    let now = state.vault.clock().now();
    let backend = state.db.backend();
    let mut conn = state.db.pool().acquire().await?;
    if backend == Backend::Postgres {
        let got: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(SWEEP_LOCK).fetch_one(&mut *conn).await?;
        if !got {
            return Ok(SweepReport { keys, ..SweepReport::default() });
        }
    }
    let result = sweep_rows(&mut conn, state, now).await;
    if backend == Backend::Postgres {
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(SWEEP_LOCK).execute(&mut *conn).await;
    }
    drop(conn);
    let mut report = result?;
    report.ran = true;
    report.incidents_closed = match incidents_closed {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "closing forgotten incidents failed; retried at the next sweep");
            0
        }
    };
    report.kept_alive = match kept_alive {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "keeping open incidents' items alive failed; retried at the next sweep");
            0
        }
    };
    if report.rows() > 0 {
        state.db.checkpoint().await?;
        if backend == Backend::Postgres && report.rows() > VACUUM_AFTER {
            for table in ["sealed_items", "calls", "call_legs", "call_attempts", "text_attempts", "audit_events"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM {table}"))).execute(state.db.pool()).await?;
            }
        }
    }
    report.keys = keys;
    if report.rows() > 0 || report.keys > 0 {
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            count = report.rows() + report.keys as u64,
            latency_ms = ms,
            "sweep removed expired rows and keys"
        );
    }
    Ok(report)
}

async fn sweep_rows(
    conn: &mut sqlx::pool::PoolConnection<sqlx::Any>,
    state: &AppState,
    now: UnixTime,
) -> Result<SweepReport, SweepError> {
    let mut report =
        SweepReport { calls_ended_as_lost: sweep::end_lost_calls(&mut **conn, now.0).await?, ..Default::default() };
    let cutoff = now.0 - state.config.retention.call.as_secs() as i64;
    let mut tx = match state.db.backend() {
        Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => conn.begin().await?,
    };
    sweep::fold_calls(&mut *tx, cutoff).await?;
    report.calls_folded = sweep::delete_folded_calls(&mut *tx, cutoff).await?;
    tx.commit().await?;
    report.items = sweep::delete_expired_items(&state.db, now.0).await?;
    report.blocks = sweep::delete_expired_blocks(conn, now.0).await?;
    report.tokens = sweep::delete_expired_tokens(&mut **conn, now.0).await?;
    for kind in [Attempts::Calls, Attempts::Texts] {
        report.attempts += sweep::delete_old_attempts(&mut **conn, kind, now.0 - ATTEMPT_WINDOW_SECS).await?;
    }
    report.incidents = sweep::delete_expired_incidents(&mut **conn, now.0).await?;
    report.threads = sweep::delete_expired_threads(&mut **conn, now.0).await?;
    let audit_cutoff = now.0 - state.config.retention.audit.as_secs() as i64;
    report.audit = sweep::delete_old_audit(&mut **conn, audit_cutoff).await?;
    let idle_before = now.0 - crate::accounts::sessions::IDLE.as_secs() as i64;
    let failures_before = now.0 - crate::accounts::sessions::FAILURE_WINDOW.as_secs() as i64;
    report.sessions = crate::store::accounts::sweep(conn, now.0, idle_before, failures_before).await?;
    Ok(report)
}

/// Destroys ended keys; file I/O with fsyncs, so off the async threads.
async fn destroy_keys(vault: &Arc<Vault>) -> Result<Vec<KeyName>, VaultError> {
    let vault = vault.clone();
    tokio::task::spawn_blocking(move || vault.destroy_ended_keys())
        .await
        .unwrap_or_else(|e| Err(VaultError::Io(format!("sweeper task failed: {e}"))))
}

/// Sweeps now and then every `sweep_interval` until the task is dropped. A failed
/// sweep is logged and retried at the next tick; it never stops the server.
pub async fn run_sweeper(state: AppState) {
    let mut tick = tokio::time::interval(state.config.retention.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&state).await {
            tracing::warn!(error = %e, "sweep failed; retrying at the next tick");
        }
    }
}

/// One data class in the exposure report.
#[derive(Debug, Clone, Serialize)]
pub struct ClassExposure {
    pub class: &'static str,
    pub count: i64,
    /// Age of the oldest, in seconds (to the hour), when known.
    pub oldest_age_secs: Option<i64>,
    /// When the next one expires (unix seconds), when known.
    pub next_expiry: Option<i64>,
    /// Who can read what is held: `server`, `readers only`, `nobody`, or `aggregate`.
    pub readable_by: &'static str,
    pub lifetime: String,
}

/// What the network holds right now: counts, ages and readers, never content or
/// identifiers.
#[derive(Debug, Clone, Serialize)]
pub struct Exposure {
    pub generated_at: i64,
    pub summary: String,
    pub classes: Vec<ClassExposure>,
    pub pending_provider_deletions: i64,
    pub provider_deletions_failing_over_a_day: i64,
    pub live_epoch_keys: usize,
    pub live_caller_token_keys: usize,
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else {
        format!("{s}s")
    }
}

pub async fn exposure(state: &AppState) -> Result<Exposure, SweepError> {
    let now = state.vault.clock().now();
    let pool = state.db.pool();
    let r = &state.config.retention;
    let age = |c: &sweep::ClassCount| c.oldest.map(|t| (now.0 - t).max(0));
    let mut classes = Vec::new();
    let calls = sweep::calls(pool, r.call.as_secs() as i64).await?;
    classes.push(ClassExposure {
        class: "call",
        count: calls.count,
        oldest_age_secs: age(&calls),
        next_expiry: calls.next_expiry,
        readable_by: "server (hour, language, outcome, answering volunteer; no numbers)",
        lifetime: human(r.call),
    });
    for class in ItemClass::ALL {
        let c = sweep::items_of_class(pool, class.as_str()).await?;
        let readers = "readers only (sealed with age to them)";
        let server = "server (sealed under the server key)";
        let (readable_by, lifetime) = match class {
            ItemClass::Note => (readers, format!("{}; field notes from the close", human(r.note))),
            ItemClass::Voicemail => (readers, human(r.voicemail)),
            ItemClass::Callback => (server, human(r.callback)),
            ItemClass::Intake => (readers, format!("{} ({} once handled)", human(r.intake), human(r.intake_handled))),
            ItemClass::IntakeSender => (server, format!("{}, with its thread", human(r.intake))),
            ItemClass::IncidentDetails => (readers, format!("{} from the close", human(r.incident))),
            ItemClass::DispatchLocation => (server, "while paging".to_string()),
        };
        classes.push(ClassExposure {
            class: class.as_str(),
            count: c.count,
            oldest_age_secs: age(&c),
            next_expiry: c.next_expiry,
            readable_by,
            lifetime,
        });
    }
    let rows = [
        (
            "incident",
            sweep::incidents(pool).await?,
            "server (zone, kind, status, assigned observers; details are sealed items)",
            format!("{} from the close", human(r.incident)),
        ),
        (
            "intake thread",
            sweep::threads(pool).await?,
            "server (language, state, caller token; texts are sealed items)",
            human(r.intake),
        ),
        (
            "audit event",
            sweep::audit(pool, r.audit.as_secs() as i64).await?,
            "coordinators (actor, action, object id, hour; no content)",
            human(r.audit),
        ),
    ];
    for (class, c, readable_by, lifetime) in rows {
        let oldest_age_secs = age(&c);
        classes.push(ClassExposure {
            class,
            count: c.count,
            oldest_age_secs,
            next_expiry: c.next_expiry,
            readable_by,
            lifetime,
        });
    }
    let blocks = sweep::blocks(pool).await?;
    classes.push(ClassExposure {
        class: "caller block",
        count: blocks.count,
        oldest_age_secs: None,
        next_expiry: blocks.next_expiry,
        readable_by: "nobody (caller tokens: keyed hashes, not numbers)",
        lifetime: human(state.config.retention.caller_token),
    });
    classes.push(ClassExposure {
        class: "volunteer",
        count: sweep::volunteers(pool).await?,
        oldest_age_secs: None,
        next_expiry: None,
        readable_by: "server (numbers sealed under the server key)",
        lifetime: "until removed".into(),
    });
    classes.push(ClassExposure {
        class: "daily counts",
        count: sweep::daily_count_days(pool).await?,
        oldest_age_secs: None,
        next_expiry: None,
        readable_by: "aggregate only",
        lifetime: "kept".into(),
    });
    let (pending, failing) = sweep::pending_deletions(pool, now.0).await?;
    let keys = state.vault.keystore().live().map_err(SweepError::Vault)?;
    let epochs = keys.iter().filter(|k| matches!(k, KeyName::Epoch(_))).count();
    let content: i64 = classes.iter().filter(|c| c.readable_by.starts_with("readers only")).map(|c| c.count).sum();
    let server: i64 = classes
        .iter()
        .filter(|c| matches!(c.class, "call" | "callback" | "intake_sender" | "dispatch_location"))
        .map(|c| c.count)
        .sum();
    let summary = format!(
        "If a subpoena arrived now, we could hand over: {content} sealed item(s) that only their readers can open \
         (none after their lifetime), {server} call record(s), call-back and reply number(s) and paging \
         location(s) the server can read, the zone, kind and status of incidents, the roster, an audit trail \
         without content, and aggregate daily counts. No caller numbers, no IP addresses, no content in clear."
    );
    Ok(Exposure {
        generated_at: now.0,
        summary,
        classes,
        pending_provider_deletions: pending,
        provider_deletions_failing_over_a_day: failing,
        live_epoch_keys: epochs,
        live_caller_token_keys: keys.len() - epochs,
    })
}

/// The report as text for `quietline exposure`.
pub fn render(e: &Exposure) -> String {
    let mut out = format!("{}\n\n", e.summary);
    out.push_str(&format!(
        "{:<17} {:>6}  {:<12} {:<22} {:<32} READABLE BY\n",
        "CLASS", "COUNT", "OLDEST", "NEXT EXPIRES", "LIFETIME"
    ));
    for c in &e.classes {
        let oldest = c
            .oldest_age_secs
            .map(|s| human(Duration::from_secs((s / 3600 * 3600).max(0) as u64)))
            .unwrap_or_else(|| "-".into());
        let oldest = if c.oldest_age_secs.is_some_and(|s| s < 3600) { "<1h".to_string() } else { oldest };
        let next = c.next_expiry.map(|t| UnixTime(t).display_utc()).unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<17} {:>6}  {:<12} {:<22} {:<32} {}\n",
            c.class, c.count, oldest, next, c.lifetime, c.readable_by
        ));
    }
    out.push_str(&format!(
        "\nprovider deletions pending: {} ({} failing for over a day)\nlive keys: {} epoch, {} caller-token window\n",
        e.pending_provider_deletions,
        e.provider_deletions_failing_over_a_day,
        e.live_epoch_keys,
        e.live_caller_token_keys
    ));
    out
}
