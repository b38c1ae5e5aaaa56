//! Device keys: the public age key each of a volunteer's devices made for
//! itself. The private key never leaves the device (the console's script keeps
//! it in the browser); the server holds the public half only. Whatever is sealed
//! to a volunteer from then on is sealed to every one of their keys, and
//! revoking the volunteer deletes them all.

use crate::AppState;
use crate::audit::{self, Actor};
use crate::clock::UnixTime;
use crate::roster::Volunteer;
use crate::store::{accounts as account_db, device_keys as db};
use crate::vault::AgeRecipient;

/// Keys one volunteer may hold: a phone, a laptop, a spare and a few more.
/// Every key makes every item sealed to them longer by one stanza.
pub const MAX_KEYS: usize = 10;
/// The longest device name ("Ana's phone").
pub const MAX_LABEL_CHARS: usize = 60;
/// The name of a key registered at enrollment.
pub const ENROLLMENT_LABEL: &str = "registered at enrollment";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Input that breaks a rule; the reason is safe to show.
    #[error("{0}")]
    Invalid(String),
    #[error("there is no such key")]
    NotFound,
    #[error("a revoked volunteer registers no key: they enroll again first")]
    Revoked,
    #[error("a volunteer has at most {MAX_KEYS} device keys: remove one first")]
    TooMany,
    #[error("database error: {0}")]
    Store(#[from] sqlx::Error),
}

/// One device's key, as its owner sees it.
#[derive(Debug, Clone)]
pub struct DeviceKey {
    pub id: i64,
    pub recipient: String,
    pub label: String,
    pub created_at: UnixTime,
}

impl From<db::DeviceKeyRow> for DeviceKey {
    fn from(row: db::DeviceKeyRow) -> Self {
        DeviceKey { id: row.id, recipient: row.recipient, label: row.label, created_at: UnixTime(row.created_at) }
    }
}

/// A key registered, or found registered already (`new` false).
#[derive(Debug)]
pub struct Registered {
    pub key: DeviceKey,
    pub new: bool,
}

/// A device's name as the volunteer typed it: one line, not too long.
pub fn parse_label(input: &str) -> Result<String, KeyError> {
    let label = input.trim();
    if label.is_empty() {
        return Err(KeyError::Invalid("name the device (\"my phone\"), so you can tell its key later".into()));
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(KeyError::Invalid(format!("a device name is at most {MAX_LABEL_CHARS} characters")));
    }
    if label.chars().any(char::is_control) {
        return Err(KeyError::Invalid("a device name is one line of text".into()));
    }
    Ok(label.to_string())
}

/// Registers the public key `recipient` of one of `v`'s devices. Registering a
/// key they have already is no error: the key comes back with `new` false.
pub async fn register(state: &AppState, v: &Volunteer, recipient: &str, label: &str) -> Result<Registered, KeyError> {
    let recipient = AgeRecipient::parse(recipient).map_err(KeyError::Invalid)?;
    let label = parse_label(label)?;
    let now = state.vault.clock().now();
    // The volunteer's row first, as revocation takes it: a revocation either
    // commits before (and this sees it) or after (and deletes this key too).
    let mut tx = state.db.begin_write().await?;
    account_db::lock_volunteer(&mut *tx, v.id).await?;
    if account_db::is_revoked(&mut *tx, v.id).await? {
        tx.rollback().await?;
        return Err(KeyError::Revoked);
    }
    let existing = db::list_for(&mut *tx, v.id).await?;
    if let Some(row) = existing.iter().find(|k| k.recipient == recipient.as_str()) {
        let key = DeviceKey::from(row.clone());
        tx.rollback().await?;
        return Ok(Registered { key, new: false });
    }
    if existing.len() >= MAX_KEYS {
        tx.rollback().await?;
        return Err(KeyError::TooMany);
    }
    let id = db::insert(&mut *tx, v.id, recipient.as_str(), &label, now.0)
        .await?
        .ok_or_else(|| KeyError::Invalid("that key was registered at the same moment; reload".into()))?;
    tx.commit().await?;
    audit::record(state, Actor::Volunteer(v), "key.add", "volunteer", Some(v.id)).await;
    Ok(Registered {
        key: DeviceKey { id, recipient: recipient.as_str().to_string(), label, created_at: now },
        new: true,
    })
}

/// `v`'s keys, oldest first.
pub async fn list(state: &AppState, v: &Volunteer) -> Result<Vec<DeviceKey>, KeyError> {
    Ok(db::list_for(state.db.pool(), v.id).await?.into_iter().map(DeviceKey::from).collect())
}

/// Removes one of `v`'s keys (a device lost or given away): nothing sealed from
/// now on can be opened with it. What was sealed before stays sealed to it.
pub async fn remove(state: &AppState, v: &Volunteer, id: i64) -> Result<(), KeyError> {
    if !db::delete(state.db.pool(), v.id, id).await? {
        return Err(KeyError::NotFound);
    }
    audit::record(state, Actor::Volunteer(v), "key.remove", "volunteer", Some(v.id)).await;
    Ok(())
}
