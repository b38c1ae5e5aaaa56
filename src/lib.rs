//! quietline: the backend of a rights hotline.
//!
//! The binary is a thin command line over this library; tests and the simulator
//! build the same server through [`app`] and [`serve`].

pub mod accounts;
pub mod audit;
pub mod blocks;
pub mod calls;
pub mod cli;
pub mod clock;
pub mod config;
pub mod data_dir;
pub mod dispatch;
pub mod flow;
pub mod items;
pub mod keys;
pub mod language;
pub mod logging;
pub mod outbound;
pub mod phone;
pub mod retention;
pub mod roster;
pub mod routing;
pub mod secret;
pub mod sms;
pub mod states;
pub mod store;
pub mod telephony;
pub mod ticks;
pub mod vault;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::store::Db;
use crate::vault::Vault;

/// Everything a request handler may use. Cloning is cheap.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    /// Keys and sealing; its clock is the one every expiry decision reads.
    pub vault: Arc<Vault>,
    /// The phone provider's REST API, when an account is configured.
    pub provider: Option<Arc<dyn outbound::Carrier>>,
    /// Password hashes computed at once, at most one per client network.
    pub hash_slots: Arc<accounts::slots::HashSlots>,
    /// New calls are written here, several to a transaction under load.
    pub arrivals: store::arrivals::Arrivals,
    /// Provider webhooks answered, for the hourly count in the log.
    pub webhooks: Arc<web::WebhookCounts>,
    /// Turns of call handling, so that calls under way never wait behind a
    /// surge of new callers.
    pub call_slots: Arc<telephony::CallSlots>,
    /// Calls placed through the provider's REST API keep to its call rate.
    pub call_pace: Arc<outbound::CallPace>,
}

/// Why a server could not be brought up, in one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    DataDir(#[from] data_dir::DataDirError),
    #[error(transparent)]
    Connect(#[from] store::ConnectError),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Vault(#[from] vault::VaultError),
    #[error(transparent)]
    Roster(#[from] roster::RosterError),
}

impl AppState {
    /// Brings a data dir, its database and its keys to life: creates what is
    /// missing, applies migrations, opens the vault on `clock` and seals any
    /// volunteer number still stored in clear from before the vault existed.
    pub async fn open(config: Config, clock: clock::Clock) -> Result<AppState, OpenError> {
        let keystore_created = data_dir::prepare(&config.data_dir)?;
        let db = Db::connect(&config.database_url()).await?;
        db.migrate().await?;
        if keystore_created && store::items::count(db.pool()).await? > 0 {
            tracing::warn!(
                "the keystore was missing and has been created empty: items sealed before cannot be read by anyone"
            );
        }
        let vault = Vault::open(&config.data_dir, config.server_key.as_ref(), config.retention.caller_token, clock)?;
        let sealed = roster::seal_legacy_phones(&db, &vault).await?;
        if sealed > 0 {
            tracing::info!(count = sealed, "sealed volunteer numbers stored in clear by an earlier version");
        }
        let provider =
            telephony::provider::Provider::from_config(&config).map(|p| Arc::new(p) as Arc<dyn outbound::Carrier>);
        let config_rate = config.provider.call_rate;
        Ok(AppState {
            config: Arc::new(config),
            arrivals: store::arrivals::Arrivals::start(db.clone()),
            db,
            vault: Arc::new(vault),
            provider,
            hash_slots: Arc::new(accounts::slots::HashSlots::new(accounts::password::CONCURRENT_HASHES)),
            webhooks: Arc::default(),
            call_slots: Arc::default(),
            call_pace: Arc::new(outbound::CallPace::new(config_rate)),
        })
    }

    /// An absolute URL on the public base the provider calls.
    pub fn public(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.config.public_url.as_deref().unwrap_or(""))
    }

    /// The console page where a reader opens item `id` on their own device:
    /// what alerts link to (the link says nothing the alert does not).
    pub fn item_page(&self, id: i64) -> String {
        self.public(&format!("/console/items/{id}"))
    }
}

/// The HTTP application for a state.
pub fn app(state: AppState) -> Router {
    web::router(state)
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then lets requests
/// in flight finish for up to the configured grace period.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_onion(listener, None, state, shutdown).await
}

/// Like [`serve`], with a second listener for an onion service: requests there
/// carry no client address and no header of theirs is trusted for one.
pub async fn serve_with_onion(
    listener: TcpListener,
    onion: Option<TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.config.shutdown_grace;
    let limits = web::listen::Limits {
        header_timeout: state.config.http.header_timeout,
        idle_timeout: state.config.http.idle_timeout,
        max_connections: state.config.http.max_connections,
    };
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let router = app(state);
    let main = web::listen::run(listener, router.clone(), limits, false, stopping_rx.clone());
    let onion = async {
        match onion {
            Some(l) => web::listen::run(l, router, limits, true, stopping_rx.clone()).await,
            None => Ok(()),
        }
    };
    let served = async { tokio::try_join!(main, onion).map(|_| ()) };
    tokio::pin!(served);
    tokio::select! {
        result = &mut served => return result,
        () = shutdown => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
    let _ = stopping_tx.send(true);
    tokio::select! {
        result = served => result,
        () = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown grace period passed with requests still in flight; closing them");
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the server");
            let _ = interrupt.await;
            return;
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}
