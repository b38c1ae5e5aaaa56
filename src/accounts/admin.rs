//! What a coordinator does to other volunteers' accounts, each change with its
//! audit event: adding someone with their first enrollment code, a new code,
//! revoking every sign-in, removing them. The API, the console and the command
//! line call these; none of them writes its own version.

use secrecy::SecretString;

use super::AccountError;
use super::sessions;
use crate::AppState;
use crate::audit::{self, Actor};
use crate::clock::UnixTime;
use crate::roster::{self, NewVolunteer, Volunteer};

/// A one-time enrollment code, to show once.
pub struct NewCode {
    pub alias: String,
    pub code: SecretString,
    pub expires_at: UnixTime,
}

/// A fresh enrollment code for `v` (the old one stops working).
pub async fn new_enrollment_code(state: &AppState, v: &Volunteer, by: Actor<'_>) -> Result<NewCode, AccountError> {
    let code = sessions::issue_enrollment_code(state, v, by).await?;
    let expires_at = state.vault.clock().now().plus(state.config.accounts.enrollment_code_lifetime);
    Ok(NewCode { alias: v.alias.to_string(), code, expires_at })
}

/// Adds a volunteer, off shift, and makes their first enrollment code.
pub async fn add_volunteer(state: &AppState, new: NewVolunteer, by: &Volunteer) -> Result<NewCode, AccountError> {
    let v = roster::add(&state.db, &state.vault, new).await?;
    audit::record(state, Actor::Volunteer(by), "volunteer.add", "volunteer", Some(v.id)).await;
    new_enrollment_code(state, &v, Actor::Volunteer(by)).await
}

/// A coordinator never revokes or removes themselves: another coordinator must,
/// so a network cannot lock out its last coordinator by a slip.
fn not_yourself(by: &Volunteer, target: &Volunteer) -> Result<(), AccountError> {
    if by.id == target.id {
        return Err(AccountError::Yourself);
    }
    Ok(())
}

/// Revokes the volunteer called `alias`: every session and API token ends now.
pub async fn revoke_volunteer(state: &AppState, alias: &str, by: &Volunteer) -> Result<(), AccountError> {
    let v = roster::get(&state.db, alias).await?;
    not_yourself(by, &v)?;
    sessions::revoke(state, &v, Actor::Volunteer(by)).await
}

/// Removes the volunteer called `alias`, with their sessions, tokens and the
/// items only they could read.
pub async fn remove_volunteer(state: &AppState, alias: &str, by: &Volunteer) -> Result<(), AccountError> {
    let v = roster::get(&state.db, alias).await?;
    not_yourself(by, &v)?;
    roster::remove(&state.db, alias).await?;
    audit::record(state, Actor::Volunteer(by), "volunteer.remove", "volunteer", Some(v.id)).await;
    Ok(())
}
