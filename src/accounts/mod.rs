//! Volunteer accounts: passwords and authenticators, sessions (see
//! [`sessions`]), API tokens for the command line (scoped, expiring, and stored
//! only as a SHA-256 hash: a token is 32 random bytes, so a fast hash is enough;
//! passwords get argon2), and the changes made to accounts on the roster, each
//! with its audit event: shifts ([`change_shift`]) and what coordinators do
//! ([`admin`]).

pub mod admin;
pub mod password;
pub mod sessions;
mod shift;
pub mod slots;
pub mod totp;

pub use sessions::AccountError;
pub use shift::change_shift;

use std::time::Duration;

use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::audit::{self, Actor};
use crate::clock::UnixTime;
use crate::roster::{self, RosterError, Volunteer};
use crate::store::{Db, tokens};

/// The scope of tokens that read and submit sealed items.
pub const SCOPE_API: &str = "api";

/// Tokens start with this, so they are recognizable in a config or a leak scan.
const TOKEN_PREFIX: &str = "qlt_";

fn hash_token(token: &str) -> String {
    crate::vault::hex(&Sha256::digest(token.as_bytes()))
}

/// Creates a token for a volunteer. The token is shown once and never stored.
pub async fn create_token(
    db: &Db,
    volunteer: &Volunteer,
    lifetime: Duration,
    now: UnixTime,
) -> Result<SecretString, sqlx::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| sqlx::Error::Protocol(format!("random: {e}")))?;
    let token = format!("{TOKEN_PREFIX}{}", crate::vault::hex(&bytes));
    tokens::insert(db.pool(), volunteer.id, &hash_token(&token), SCOPE_API, now.plus(lifetime).0).await?;
    Ok(SecretString::from(token))
}

/// The longest an API token may work.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(90 * 86_400);
/// How long a volunteer's own token works unless they say otherwise.
const OWN_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 86_400);

/// An API token, shown once.
pub struct IssuedToken {
    pub token: SecretString,
    pub expires_at: UnixTime,
}

/// A volunteer makes a token for their own command line (`quietline open
/// --server …`): `lifetime` as typed (`30d`, at most 90 days), 30 days by default.
pub async fn create_own_token(
    state: &AppState,
    who: &Volunteer,
    lifetime: Option<&str>,
) -> Result<IssuedToken, AccountError> {
    let lifetime = match lifetime {
        Some(t) => crate::config::parse_duration(t).map_err(|e| AccountError::Invalid(format!("lifetime: {e}")))?,
        None => OWN_TOKEN_LIFETIME,
    };
    if lifetime > MAX_TOKEN_LIFETIME {
        return Err(AccountError::Invalid("lifetime: at most 90d".into()));
    }
    let now = state.vault.clock().now();
    let token = create_token(&state.db, who, lifetime, now).await?;
    audit::record(state, Actor::Volunteer(who), "token.create", "volunteer", Some(who.id)).await;
    Ok(IssuedToken { token, expires_at: now.plus(lifetime) })
}

/// The volunteer a live token belongs to.
pub async fn authenticate(db: &Db, token: &str, now: UnixTime) -> Result<Option<Volunteer>, RosterError> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    match tokens::volunteer_for(db.pool(), &hash_token(token), SCOPE_API, now.0).await? {
        Some(id) => roster::get_by_id(db, id).await,
        None => Ok(None),
    }
}

/// Ends every token of a volunteer at once.
pub async fn revoke_tokens(db: &Db, volunteer: &Volunteer) -> Result<u64, sqlx::Error> {
    tokens::delete_for_volunteer(db.pool(), volunteer.id).await
}
