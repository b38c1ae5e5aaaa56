//! One-time codes for SMS commands that act on others. A text's sender number
//! can be forged; the answer to it still goes to the number on the roster. So
//! `NEW` (paging observers to a place) and `R` (texting the public from the
//! hotline) are held until the volunteer sends back the code that answer
//! carried: "Reply OK 4821 to page 3 observers". A spoofer never sees it.
//!
//! The held command is sealed for the server under the epoch key of its ten
//! minutes; one try per code, one held command per volunteer.

use std::time::Duration;

use zeroize::Zeroizing;

use crate::AppState;
use crate::roster::Volunteer;
use crate::store::confirmations as db;
use crate::vault::Sealed;

/// How long a held command waits for its code.
pub const CODE_LIFETIME: Duration = Duration::from_secs(600);
pub const CODE_DIGITS: usize = 4;

/// A command waiting for its code.
pub enum Held {
    New { zone: String, text: Zeroizing<String> },
    Reply { thread: i64, text: Zeroizing<String> },
}

impl Held {
    fn encode(&self) -> Zeroizing<String> {
        Zeroizing::new(match self {
            Held::New { zone, text } => format!("new\n{zone}\n{}", text.as_str()),
            Held::Reply { thread, text } => format!("reply\n{thread}\n{}", text.as_str()),
        })
    }

    fn decode(bytes: &[u8]) -> Option<Held> {
        let text = Zeroizing::new(String::from_utf8(bytes.to_vec()).ok()?);
        let mut parts = text.splitn(3, '\n');
        let (kind, what, body) = (parts.next()?, parts.next()?, parts.next()?);
        let body = Zeroizing::new(body.to_string());
        match kind {
            "new" => Some(Held::New { zone: what.to_string(), text: body }),
            "reply" => Some(Held::Reply { thread: what.parse().ok()?, text: body }),
            _ => None,
        }
    }
}

fn code_hash(volunteer: &Volunteer, code: &str) -> String {
    crate::accounts::sessions::sha256_hex(&format!("sms-confirm/v1|{}|{code}", volunteer.id))
}

/// Holds `command` for the volunteer (replacing one held before) and returns
/// the code to send back to them.
pub async fn hold(state: &AppState, volunteer: &Volunteer, command: &Held) -> Result<String, String> {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).map_err(|e| format!("random: {e}"))?;
    let code = format!("{:04}", u64::from_le_bytes(raw) % 10_000);
    let now = state.vault.clock().now();
    let expires = now.plus(CODE_LIFETIME);
    let sealed = state.vault.seal_for_server(command.encode().as_bytes(), expires).map_err(|e| e.to_string())?;
    db::replace(&state.db, volunteer.id, &code_hash(volunteer, &code), sealed.as_bytes(), expires.0)
        .await
        .map_err(|e| e.to_string())?;
    Ok(code)
}

/// What `OK <code>` confirms: the held command if the code is its own. A wrong
/// code drops the held command (one try), as does its time running out.
pub async fn take(state: &AppState, volunteer: &Volunteer, code: &str) -> Result<Option<Held>, sqlx::Error> {
    let now = state.vault.clock().now();
    let Some((hash, sealed)) = db::take(state.db.pool(), volunteer.id, now.0).await? else { return Ok(None) };
    if !crate::secret::constant_eq(&hash, &code_hash(volunteer, code)) {
        return Ok(None);
    }
    let opened = Sealed::from_bytes(sealed).and_then(|s| state.vault.open_for_server(&s));
    Ok(opened.ok().and_then(|bytes| Held::decode(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_commands_round_trip() {
        let new = Held::New { zone: "north".into(), text: Zeroizing::new("5th and Main\nthree vans".into()) };
        match Held::decode(new.encode().as_bytes()) {
            Some(Held::New { zone, text }) => {
                assert_eq!((zone.as_str(), text.as_str()), ("north", "5th and Main\nthree vans"))
            }
            _ => panic!("not a NEW"),
        }
        let reply = Held::Reply { thread: 7, text: Zeroizing::new("we are on our way".into()) };
        assert!(matches!(Held::decode(reply.encode().as_bytes()), Some(Held::Reply { thread: 7, .. })));
        assert!(Held::decode(b"delete everything\n1\nx").is_none());
    }
}
