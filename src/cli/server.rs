//! `serve`, `init` and `migrate`: bringing a data dir and database to life.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use std::time::Instant;

use tokio::net::TcpListener;

use super::CliError;
use crate::AppState;
use crate::clock::Clock;
use crate::config::{CONFIG_FILE_NAME, Config, SETTINGS};
use crate::store::{Db, redact_url};
use crate::vault::KEYSTORE_DIR;

/// Opens the server's state as every command does (see [`AppState::open`]).
pub async fn open_state(config: Config, clock: Clock) -> Result<AppState, CliError> {
    Ok(AppState::open(config, clock).await?)
}

/// Raises the open-file limit to what the system allows (the default soft limit of
/// 1024 is reached by a few hundred sockets and the database's files), and warns
/// when even that leaves too little room for `http_max_connections`.
fn raise_descriptor_limit(max_connections: usize) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    // Room for the database, the keystore and the provider's connections.
    let needed = max_connections as u64 + 128;
    if limit.rlim_cur < needed {
        tracing::warn!(
            count = limit.rlim_cur,
            "the open-file limit is below http_max_connections + 128; lower the setting or raise LimitNOFILE"
        );
    }
}

/// SQLite is for one server: the lock file keeps a second one off the same data dir.
fn lock_sqlite(config: &Config) -> Result<Option<std::fs::File>, CliError> {
    use secrecy::ExposeSecret;
    if !config.database_url().expose_secret().starts_with("sqlite:") {
        return Ok(None);
    }
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&config.data_dir)?;
    }
    let path = config.data_dir.join("serve.lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(CliError(format!(
            "another quietline server is running on {}: SQLite serves one instance; \
             use PostgreSQL for several",
            config.data_dir.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(CliError(format!("{}: {e}", path.display()))),
    }
}

pub async fn serve(config: Config) -> Result<(), CliError> {
    let started = Instant::now();
    let _single = lock_sqlite(&config)?;
    let state = open_state(config, Clock::system()).await?;
    let config = &state.config;
    let db = state.db.clone();
    raise_descriptor_limit(config.http.max_connections);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| CliError(format!("cannot listen on {}: {e}", config.listen)))?;
    let onion = match config.listen_onion {
        Some(at) => Some(TcpListener::bind(at).await.map_err(|e| CliError(format!("cannot listen on {at}: {e}")))?),
        None => None,
    };
    if let Some(onion) = &onion {
        tracing::info!(listen = %onion.local_addr()?, "listening for the onion service");
    }
    let addr = listener.local_addr()?;
    let backend = db.backend().name();
    tracing::info!(
        listen = %addr,
        backend,
        startup_ms = started.elapsed().as_millis() as u64,
        version = env!("CARGO_PKG_VERSION"),
        "listening"
    );
    let sweeper = tokio::spawn(crate::retention::run_sweeper(state.clone()));
    let ticks = tokio::spawn(crate::ticks::run(state.clone()));
    let served = crate::serve_with_onion(listener, onion, state, crate::shutdown_signal()).await;
    sweeper.abort();
    ticks.abort();
    served?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

pub async fn init(config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    crate::data_dir::prepare(&config.data_dir)?;
    writeln!(out, "data dir   {} (0700)", config.data_dir.display())?;
    writeln!(out, "keystore   {} (0700; never back it up)", config.data_dir.join(KEYSTORE_DIR).display())?;
    let file = config.data_dir.join(CONFIG_FILE_NAME);
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&file) {
        Ok(mut f) => {
            f.write_all(config_template().as_bytes())?;
            f.sync_all()?;
            writeln!(out, "config     {} (written; every line is commented out)", file.display())?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            writeln!(out, "config     {} (kept as it was)", file.display())?;
        }
        Err(e) => return Err(CliError(format!("cannot write {}: {e}", file.display()))),
    }
    let db = Db::connect(&config.database_url()).await?;
    let applied = db.migrate().await?;
    db.close().await;
    use secrecy::ExposeSecret;
    writeln!(
        out,
        "database   {} ({} migration(s) applied)",
        redact_url(config.database_url().expose_secret()),
        applied
    )?;
    let state = open_state(config, Clock::system()).await?;
    writeln!(
        out,
        "server key {}",
        if state.config.server_key.is_some() {
            "from the server_key setting".to_string()
        } else {
            state.config.data_dir.join(crate::vault::SERVER_KEY_FILE).display().to_string()
        }
    )?;
    state.db.close().await;
    Ok(())
}

pub async fn migrate(config: &Config, out: &mut dyn Write) -> Result<(), CliError> {
    crate::data_dir::prepare(&config.data_dir)?;
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
    for s in SETTINGS {
        let default = s.default.map(|d| format!(" (default {d})")).unwrap_or_default();
        text.push_str(&format!("# {}{default}\n# {} = \"\"\n\n", s.description, s.name));
    }
    text
}

pub async fn exposure(config: Config, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let state = open_state(config, Clock::system()).await?;
    let report = crate::retention::exposure(&state).await;
    state.db.close().await;
    let report = report?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        out.write_all(crate::retention::render(&report).as_bytes())?;
    }
    Ok(())
}

pub async fn sweep(config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let state = open_state(config, Clock::system()).await?;
    let report = crate::retention::sweep(&state).await;
    state.db.close().await;
    let r = report?;
    if !r.ran {
        writeln!(out, "another instance is sweeping right now; nothing done")?;
        return Ok(());
    }
    writeln!(
        out,
        "swept: {} call(s) folded into daily counts, {} item(s), {} block(s), {} token(s), {} attempt(s), {} key(s) destroyed",
        r.calls_folded, r.items, r.blocks, r.tokens, r.attempts, r.keys
    )?;
    Ok(())
}
