//! Going on and off shift, with the audit event that says who did it. Every
//! way of changing a shift comes here: the API, the console (one's own and a
//! coordinator's), the SMS commands ON, OFF and STOP, and the command line.

use crate::AppState;
use crate::audit::{self, Actor};
use crate::roster::{self, RosterError, Volunteer};

/// Puts `v` on or off shift as `by` asks, and returns them as they are now. A
/// revoked volunteer cannot go on shift (see [`roster::set_shift`]).
pub async fn change_shift(state: &AppState, v: &Volunteer, on: bool, by: Actor<'_>) -> Result<Volunteer, RosterError> {
    roster::set_shift(&state.db, v.alias.as_str(), on).await?;
    audit::record(state, by, if on { "shift.on" } else { "shift.off" }, "volunteer", Some(v.id)).await;
    roster::get_by_id(&state.db, v.id).await?.ok_or_else(|| RosterError::NotFound(v.alias.to_string()))
}
