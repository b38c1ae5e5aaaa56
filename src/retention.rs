//! Retention: what expires, and the sweeper that makes it go.
//!
//! For now the sweeper destroys keys whose epoch or window has ended (at start-up,
//! catching up after downtime, then every minute), which makes every sealed item of
//! that epoch unreadable in every copy.

use std::sync::Arc;
use std::time::Duration;

use crate::vault::{KeyName, Vault, VaultError};

/// How often the sweeper runs.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// One pass: destroys ended keys. File I/O with fsyncs, so off the async threads.
pub async fn sweep(vault: &Arc<Vault>) -> Result<Vec<KeyName>, VaultError> {
    let vault = vault.clone();
    tokio::task::spawn_blocking(move || vault.destroy_ended_keys())
        .await
        .unwrap_or_else(|e| Err(VaultError::Io(format!("sweeper task failed: {e}"))))
}

/// Sweeps now and then every [`SWEEP_INTERVAL`] until the task is dropped. A failed
/// pass is logged and retried at the next tick; it never stops the server.
pub async fn run_sweeper(vault: Arc<Vault>) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sweep(&vault).await {
            Ok(destroyed) if !destroyed.is_empty() => {
                tracing::info!(count = destroyed.len(), "destroyed ended keys");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed; retrying at the next tick"),
        }
    }
}
