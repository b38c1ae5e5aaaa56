//! The store: the only module that speaks SQL.
//!
//! One set of queries serves SQLite and PostgreSQL through sqlx's `Any` driver:
//! `$1` placeholders, integer unix seconds, text and blob ids. Only migrations
//! (`migrations/sqlite`, `migrations/postgres`) and maintenance (the SQLite
//! pragmas below) differ between the two.

pub mod accounts;
pub mod arrivals;
pub mod audit;
pub mod calls;
pub mod confirmations;
pub mod device_keys;
pub mod incidents;
pub mod intake;
pub mod items;
pub mod legs;
pub mod migrations;
pub mod sweep;
pub mod tokens;
pub mod volunteers;
pub mod webhooks;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

pub use migrations::{MIGRATIONS_POSTGRES, MIGRATIONS_SQLITE};

/// Which database a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Pragmas every SQLite connection gets. `secure_delete` is per connection, so it
/// must be here rather than set once: deleted rows are overwritten with zeros.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; \
     PRAGMA secure_delete = ON; \
     PRAGMA temp_store = MEMORY; \
     PRAGMA foreign_keys = ON; \
     PRAGMA busy_timeout = 5000; \
     PRAGMA synchronous = FULL; \
     PRAGMA journal_size_limit = 4194304;";

/// A connection pool with the backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: this process's writers take turns here (see `begin_write`).
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// A write transaction; on SQLite it also holds this process's write turn until
/// it is committed, rolled back or dropped. Use it as a connection: `&mut *tx`.
///
/// BEGIN, COMMIT and ROLLBACK are sent here rather than through sqlx's
/// `Transaction`: when SQLite fails a statement or a COMMIT with "disk full" it
/// may end the transaction itself, and sqlx's own bookkeeping then left the
/// connection believing it was still inside one, refusing every later BEGIN.
/// A connection whose transaction did not end cleanly is closed instead of
/// going back to the pool; closing it rolls back whatever was left.
pub struct WriteTx {
    conn: Option<PoolConnection<sqlx::Any>>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.end("COMMIT").await
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.end("ROLLBACK").await
    }

    async fn end(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        let mut conn = self.conn.take().expect("an open transaction");
        let result = conn.execute(sql).await.map(|_| ());
        if result.is_err() {
            conn.close_on_drop();
        }
        result
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        // Dropped before commit: an error or a deadline cut the work short.
        if let Some(conn) = &mut self.conn {
            conn.close_on_drop();
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.conn.as_ref().expect("an open transaction")
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("an open transaction")
    }
}

/// Failure to open the database, with a message fit for an operator: the URL is
/// shown without its password.
#[derive(Debug)]
pub struct ConnectError {
    url: String,
    source: sqlx::Error,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot open the database {}: {}", self.url, self.source)
    }
}

impl std::error::Error for ConnectError {}

impl Db {
    /// Opens a pool for a `sqlite:` or `postgres:` URL. Pool sizes suit a 2-core
    /// server: SQLite serializes writers anyway, PostgreSQL gets a few more.
    pub async fn connect(url: &SecretString) -> Result<Db, ConnectError> {
        sqlx::any::install_default_drivers();
        let raw = url.expose_secret();
        let err = |source| ConnectError { url: redact_url(raw), source };
        let backend = if raw.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        if backend == Backend::Sqlite {
            private_sqlite_file(raw).map_err(|e| err(sqlx::Error::Io(e)))?;
        }
        let options: AnyConnectOptions = raw.parse().map_err(err)?;
        // One direct connection first: a pool that cannot connect only reports
        // a timeout, while this says why (refused, unknown host, bad password).
        let probe = tokio::time::timeout(Duration::from_secs(5), AnyConnection::connect_with(&options))
            .await
            .map_err(|_| err(sqlx::Error::PoolTimedOut))?
            .map_err(err)?;
        probe.close().await.map_err(err)?;
        let pool_options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5)).min_connections(1);
        let pool_options = match backend {
            Backend::Sqlite => pool_options.max_connections(4).after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            }),
            Backend::Postgres => pool_options.max_connections(10),
        };
        let pool = pool_options.connect_with(options).await.map_err(err)?;
        let writer = (backend == Backend::Sqlite).then(Arc::default);
        Ok(Db { pool, backend, writer })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the migrations not yet applied; returns how many there were.
    pub async fn migrate(&self) -> Result<usize, sqlx::migrate::MigrateError> {
        let migrator = migrations::migrator(self.backend);
        let mut conn = self.pool.acquire().await?;
        let before = applied_count(&mut conn).await;
        migrator.run(&mut *conn).await?;
        let after = applied_count(&mut conn).await;
        Ok(after.saturating_sub(before))
    }

    /// Begins a transaction that will write. On SQLite, writers of this process
    /// first queue on an in-process lock, then take the database's write lock at
    /// once (`BEGIN IMMEDIATE`): SQLite's own busy handler sleeps in steps of up
    /// to 100 ms, which under load made the slowest requests wait for nothing;
    /// and a deferred transaction that reads first and writes later fails
    /// outright when another connection wrote in between. Another process (a CLI
    /// command) still waits up to the busy timeout.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let turn = match &self.writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let mut conn = self.pool.acquire().await?;
        let begin = if self.writer.is_some() { "BEGIN IMMEDIATE" } else { "BEGIN" };
        if let Err(e) = conn.execute(begin).await {
            conn.close_on_drop();
            return Err(e);
        }
        Ok(WriteTx { conn: Some(conn), _turn: turn })
    }

    /// How many of this version's migrations the database has not applied.
    pub async fn pending_migrations(&self) -> Result<usize, sqlx::Error> {
        let migrator = migrations::migrator(self.backend);
        let mut conn = self.pool.acquire().await?;
        let exists = match self.backend {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            Backend::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations'",
        };
        let applied: Vec<i64> = if sqlx::query_scalar::<_, i64>(exists).fetch_one(&mut *conn).await? > 0 {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(&mut *conn).await?
        } else {
            Vec::new()
        };
        Ok(migrator.iter().filter(|m| !applied.contains(&m.version)).count())
    }

    /// Applies migrations up to `version` only: for upgrade tests that need the
    /// schema of an earlier release.
    pub async fn migrate_to(&self, version: i64) -> Result<(), sqlx::migrate::MigrateError> {
        let mut conn = self.pool.acquire().await?;
        migrations::migrator(self.backend).run_to(version, &mut *conn).await
    }

    /// On SQLite, moves the WAL into the database file and truncates it, so that
    /// deleted or rewritten rows (overwritten in place by `secure_delete`) leave no
    /// copy in the `-wal` file. A reader holding an old snapshot makes SQLite report
    /// "busy": retry until it succeeds. No-op on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), sqlx::Error> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        for attempt in 0..200u32 {
            let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.pool).await?;
            let busy: i64 = sqlx::Row::try_get(&row, 0)?;
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt.min(10) + 1))).await;
        }
        Err(sqlx::Error::Protocol("WAL checkpoint stayed busy; a reader holds an old snapshot".into()))
    }

    /// For readiness checks: can the server write? On PostgreSQL one round trip;
    /// on SQLite the write lock is taken and given back, because a file another
    /// process holds locked still answers reads.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.begin_write().await?.rollback().await,
            Backend::Postgres => sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the SQLite file 0600 before SQLite does (its `-wal` and `-shm` take
/// the database file's permissions), and tightens existing ones: the roster and
/// sealed content are nobody else's to read.
fn private_sqlite_file(url: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use std::str::FromStr;
    let Ok(options) = sqlx::sqlite::SqliteConnectOptions::from_str(url) else { return Ok(()) };
    let path = options.get_filename();
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return Ok(());
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            for suffix in ["", "-wal", "-shm"] {
                let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
                match std::fs::metadata(&file) {
                    Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        // A directory that does not exist yet: SQLite says so in its own words.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Why the database refused a request, when the reason is the database's
/// situation rather than the request: the answer is "try again later".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The disk under the database is full.
    DiskFull,
    /// The database cannot be reached, is locked by another process, or is
    /// shutting down.
    Unreachable,
}

impl fmt::Display for Outage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outage::DiskFull => "the server's disk is full",
            Outage::Unreachable => "the server cannot reach its database",
        })
    }
}

/// Tells an outage from a bug. SQLite result codes: 5 busy, 6 locked, 10 I/O
/// error (low byte, any extended code), 13 full; PostgreSQL SQLSTATE 53100 disk
/// full, class 08 connection, 57P01–57P03 shutting down or starting up.
pub fn outage(e: &sqlx::Error) -> Option<Outage> {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => Some(Outage::Unreachable),
        sqlx::Error::Database(db) => {
            let code = db.code()?;
            // A SQLSTATE is always five characters, many of them digits only; a
            // SQLite (extended) result code is a number of at most four digits.
            if code.len() == 5 {
                return match code.as_ref() {
                    "53100" => Some(Outage::DiskFull),
                    c if c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03") => Some(Outage::Unreachable),
                    _ => None,
                };
            }
            match code.parse::<i32>().ok()? & 0xff {
                13 => Some(Outage::DiskFull),
                5 | 6 | 10 => Some(Outage::Unreachable),
                _ => None,
            }
        }
        _ => None,
    }
}

/// [`outage`] for an error about to become an answer to a client: an outage is
/// logged here, once (its text names no value, only the database's situation).
pub fn reported_outage(e: &sqlx::Error) -> Option<Outage> {
    let found = outage(e);
    if found.is_some() {
        tracing::error!(error = %e, "database refused a request");
    }
    found
}

/// Number of applied migrations; zero before the migrations table exists.
async fn applied_count(conn: &mut sqlx::AnyConnection) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(conn)
        .await
        .map(|n| n as usize)
        .unwrap_or(0)
}

/// The URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let tail = tail.split('?').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => format!("{scheme}://{authority}{}", tail.split('?').next().unwrap_or("")),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_lose_passwords_and_parameters() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db.internal:5432/quietline?sslmode=require"),
            "postgres://app:***@db.internal:5432/quietline"
        );
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/test"), "postgres://postgres:***@127.0.0.1/test");
        assert_eq!(redact_url("sqlite:///srv/q/quietline.db?mode=rwc"), "sqlite:///srv/q/quietline.db");
    }
}
