//! Blocked callers. A block is kept as the caller's token of the current window
//! only: the number itself is sealed for the server under the epoch key of the
//! block's end, and when a new caller-token window starts the call loop computes
//! that window's token from it. No key of a future window is ever made, and once
//! the block ends its epoch key goes and the number with it.

use std::time::Duration;

use crate::AppState;
use crate::clock::UnixTime;
use crate::phone::PhoneNumber;
use crate::store::calls as db;
use crate::vault::{Sealed, VaultError};

/// The longest block: a month.
pub const MAX_BLOCK: Duration = Duration::from_secs(30 * 86_400);

#[derive(Debug)]
pub enum BlockError {
    TooLong,
    Vault(VaultError),
    Store(sqlx::Error),
}

impl std::fmt::Display for BlockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockError::TooLong => write!(f, "a block lasts at most {}d", MAX_BLOCK.as_secs() / 86_400),
            BlockError::Vault(e) => write!(f, "{e}"),
            BlockError::Store(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for BlockError {}

impl From<sqlx::Error> for BlockError {
    fn from(e: sqlx::Error) -> Self {
        BlockError::Store(e)
    }
}

impl From<VaultError> for BlockError {
    fn from(e: VaultError) -> Self {
        BlockError::Vault(e)
    }
}

/// Refuses calls and texts from `number` for `duration`; returns when it ends.
pub async fn block(state: &AppState, number: &PhoneNumber, duration: Duration) -> Result<UnixTime, BlockError> {
    if duration > MAX_BLOCK {
        return Err(BlockError::TooLong);
    }
    let now = state.vault.clock().now();
    let until = now.plus(duration);
    let sealed = state.vault.seal_for_server(number.as_str().as_bytes(), until)?;
    let (index, window_ends) = state.vault.current_window();
    let token = state.vault.caller_token_off_thread(number).await?;
    let mut tx = state.db.begin_write().await?;
    db::insert_block(&mut *tx, token.as_str(), until.min(window_ends).0).await?;
    db::insert_block_entry(&mut *tx, sealed.as_bytes(), until.0, index).await?;
    tx.commit().await?;
    Ok(until)
}

/// Gives every live block its token for the current window, once per window.
/// Run every tick by the call loop of each instance (the writes are idempotent).
pub async fn refresh(state: &AppState) -> Result<usize, BlockError> {
    let now = state.vault.clock().now();
    let (index, window_ends) = state.vault.current_window();
    let due = db::blocks_behind(state.db.pool(), index, now.0).await?;
    for (id, sealed, expires_at) in &due {
        let number = match Sealed::from_bytes(sealed.clone()).and_then(|s| state.vault.open_for_server(&s)) {
            Ok(bytes) => PhoneNumber::parse(&String::from_utf8_lossy(&bytes)).ok(),
            // Its epoch is over (the block has ended) or the blob is damaged.
            Err(e) => {
                tracing::warn!(error = %e, "a block could not be carried into a new window");
                None
            }
        };
        if let Some(number) = number {
            let token = state.vault.caller_token_off_thread(&number).await?;
            db::insert_block(state.db.pool(), token.as_str(), (*expires_at).min(window_ends.0)).await?;
        }
        db::set_block_window(state.db.pool(), *id, index).await?;
    }
    Ok(due.len())
}
