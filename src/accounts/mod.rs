//! Volunteer credentials: passwords and authenticators, sessions (see
//! [`sessions`]), and API tokens for the command line, created by the operator,
//! scoped, expiring, and stored only as a SHA-256 hash (a token is 32 random
//! bytes, so a fast hash is enough; passwords get argon2).

pub mod password;
pub mod sessions;
pub mod slots;
pub mod totp;

use std::time::Duration;

use secrecy::SecretString;
use sha2::{Digest, Sha256};

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
