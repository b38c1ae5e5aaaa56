//! `serve`, `init` and `migrate`: bringing a data dir and database to life.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;

use super::CliError;
use crate::AppState;
use crate::config::{CONFIG_FILE_NAME, Config, SETTINGS};
use crate::store::{Db, redact_url};

/// Creates the data dir with 0700 permissions, or tightens an existing one: it
/// holds the SQLite file and, later, the keystore.
pub fn prepare_data_dir(dir: &Path) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError(format!("data dir {}: {e}", dir.display()));
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(CliError(format!(
            "data dir {} is not a directory",
            dir.display()
        ))),
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(fail)?;
                tracing::warn!(data_dir = %dir.display(), "data dir was readable by others; set to 0700");
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail),
        Err(e) => Err(fail(e)),
    }
}

/// Opens the configured database and brings its schema up to date.
pub async fn open_database(config: &Config) -> Result<Db, CliError> {
    prepare_data_dir(&config.data_dir)?;
    let db = Db::connect(&config.database_url()).await?;
    db.migrate().await?;
    Ok(db)
}

pub async fn serve(config: Config) -> Result<(), CliError> {
    let started = Instant::now();
    let db = open_database(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| CliError(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr()?;
    let backend = db.backend().name();
    let state = AppState {
        config: Arc::new(config),
        db: db.clone(),
    };
    tracing::info!(
        listen = %addr,
        backend,
        startup_ms = started.elapsed().as_millis() as u64,
        version = env!("CARGO_PKG_VERSION"),
        "listening"
    );
    crate::serve(listener, state, crate::shutdown_signal()).await?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

pub async fn init(config: &Config, out: &mut dyn Write) -> Result<(), CliError> {
    prepare_data_dir(&config.data_dir)?;
    writeln!(out, "data dir   {} (0700)", config.data_dir.display())?;
    let file = config.data_dir.join(CONFIG_FILE_NAME);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
    {
        Ok(mut f) => {
            f.write_all(config_template().as_bytes())?;
            f.sync_all()?;
            writeln!(
                out,
                "config     {} (written; every line is commented out)",
                file.display()
            )?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            writeln!(out, "config     {} (kept as it was)", file.display())?;
        }
        Err(e) => return Err(CliError(format!("cannot write {}: {e}", file.display()))),
    }
    let db = Db::connect(&config.database_url()).await?;
    let applied = db.migrate().await?;
    use secrecy::ExposeSecret;
    writeln!(
        out,
        "database   {} ({} migration(s) applied)",
        redact_url(config.database_url().expose_secret()),
        applied
    )?;
    db.close().await;
    Ok(())
}

pub async fn migrate(config: &Config, out: &mut dyn Write) -> Result<(), CliError> {
    prepare_data_dir(&config.data_dir)?;
    let db = Db::connect(&config.database_url()).await?;
    let applied = db.migrate().await?;
    writeln!(out, "{applied} migration(s) applied; schema is up to date")?;
    db.close().await;
    Ok(())
}

fn config_template() -> String {
    let mut text = String::from(
        "# quietline configuration.\n\
         # Each setting may also come from the environment as QUIETLINE_<NAME> (which wins\n\
         # over this file), or from a file named by QUIETLINE_<NAME>_FILE (for secrets).\n\
         # Durations are written like 90s, 15m, 24h, 7d.\n\n",
    );
    for (key, description) in SETTINGS {
        text.push_str(&format!("# {description}\n# {key} = \"\"\n\n"));
    }
    text
}
