//! Sealed content items: what volunteers write and callers leave, stored sealed by
//! the vault together with the list of volunteers allowed to fetch the ciphertext.
//!
//! The server reads an item's class, creation hour and expiry; never its content.
//! Fetching returns the age ciphertext (the epoch layer removed), which only a
//! reader's own identity opens.

use std::time::Duration;

use crate::clock::UnixTime;
use crate::roster::Volunteer;
use crate::store::items::Link;
use crate::store::{Db, items};
use crate::vault::{AgeRecipient, Sealed, Vault, VaultError};

/// What kind of content an item holds; each class has its own lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemClass {
    /// A note written by a volunteer; a field note when linked to an incident.
    Note,
    /// A caller's voicemail, for on-shift dispatchers and the legal team.
    Voicemail,
    /// A caller's number, kept for a call back; only the server reads it.
    Callback,
    /// A text in a public intake thread (from the sender, or a dispatcher's reply).
    Intake,
    /// The number of an intake thread's sender, for replies; only the server reads it.
    IntakeSender,
    /// An incident's details: where, and what was seen.
    IncidentDetails,
    /// An incident's location while observers are being paged by SMS; only the
    /// server reads it, and it goes as soon as paging ends.
    DispatchLocation,
}

impl ItemClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemClass::Note => "note",
            ItemClass::Voicemail => "voicemail",
            ItemClass::Callback => "callback",
            ItemClass::Intake => "intake",
            ItemClass::IntakeSender => "intake_sender",
            ItemClass::IncidentDetails => "incident_details",
            ItemClass::DispatchLocation => "dispatch_location",
        }
    }

    pub const ALL: [ItemClass; 7] = [
        ItemClass::Note,
        ItemClass::Voicemail,
        ItemClass::Callback,
        ItemClass::Intake,
        ItemClass::IntakeSender,
        ItemClass::IncidentDetails,
        ItemClass::DispatchLocation,
    ];

    pub fn parse(name: &str) -> Option<ItemClass> {
        ItemClass::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Whether only the server reads this class back (sealed to the server key).
    pub fn server_readable(self) -> bool {
        matches!(self, ItemClass::Callback | ItemClass::IntakeSender | ItemClass::DispatchLocation)
    }
}

/// Content to store: plaintext the server seals to the readers, or an age file a
/// client already encrypted to them.
pub enum Content<'a> {
    Plaintext(&'a [u8]),
    Age(&'a [u8]),
}

#[derive(Debug)]
pub struct StoredItem {
    pub id: i64,
    pub expires_at: UnixTime,
    pub readers: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ItemError {
    #[error("no such item")]
    NotFound,
    #[error("you are not one of this item's readers")]
    NotAReader,
    #[error("this item has expired: nobody can read it any more")]
    Expired,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Vault(VaultError),
    #[error("database error: {0}")]
    Store(#[from] sqlx::Error),
}

impl From<VaultError> for ItemError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Expired => ItemError::Expired,
            other => ItemError::Vault(other),
        }
    }
}

/// Seals `content` for `readers` (those without a key, and revoked ones, are skipped; none left is
/// an error, so the caller can choose other readers) and stores it.
pub async fn store(
    db: &Db,
    vault: &Vault,
    class: ItemClass,
    content: Content<'_>,
    readers: &[&Volunteer],
    lifetime: Duration,
) -> Result<StoredItem, ItemError> {
    if lifetime.is_zero() {
        return Err(ItemError::Invalid("a lifetime must be longer than zero".into()));
    }
    let expires_at = vault.clock().now().plus(lifetime);
    store_linked(db, vault, class, content, readers, expires_at, None).await
}

/// Like [`store`], with an explicit expiry and the incident or thread the item
/// belongs to.
pub async fn store_linked(
    db: &Db,
    vault: &Vault,
    class: ItemClass,
    content: Content<'_>,
    readers: &[&Volunteer],
    expires_at: UnixTime,
    link: Option<Link>,
) -> Result<StoredItem, ItemError> {
    let now = vault.clock().now();
    if expires_at <= now {
        return Err(ItemError::Invalid("an item must expire in the future".into()));
    }
    // Whoever is revoked reads nothing that arrives after: skipped here, whatever
    // list the caller built.
    let mut keyed: Vec<&Volunteer> = readers.iter().copied().filter(|v| v.can_read()).collect();
    keyed.sort_by_key(|v| v.id);
    keyed.dedup_by_key(|v| v.id);
    let recipients: Vec<AgeRecipient> = keyed.iter().flat_map(|v| v.keys.iter().cloned()).collect();
    let sealed = match content {
        Content::Plaintext(text) => vault.seal(text, &recipients, expires_at)?,
        Content::Age(_) if recipients.is_empty() => return Err(ItemError::Vault(VaultError::NoReaders)),
        Content::Age(ciphertext) => vault.seal_age(ciphertext, expires_at)?,
    };
    let mut tx = db.begin_write().await?;
    let id = items::insert(&mut *tx, class.as_str(), now.hour().0, expires_at.0, sealed.epoch().0, sealed.as_bytes())
        .await?;
    if let Some(link) = link {
        items::link(&mut *tx, id, link).await?;
    }
    for reader in &keyed {
        items::add_reader(&mut *tx, id, reader.id).await?;
    }
    tx.commit().await?;
    let mut aliases: Vec<String> = keyed.iter().map(|v| v.alias.to_string()).collect();
    aliases.sort();
    Ok(StoredItem { id, expires_at, readers: aliases })
}

/// Stores something only the server reads back (a callback number).
pub async fn store_for_server(
    db: &Db,
    vault: &Vault,
    class: ItemClass,
    plaintext: &[u8],
    lifetime: Duration,
) -> Result<i64, ItemError> {
    let expires_at = vault.clock().now().plus(lifetime);
    store_for_server_linked(db, vault, class, plaintext, expires_at, None).await
}

/// Like [`store_for_server`], with an explicit expiry and a link.
pub async fn store_for_server_linked(
    db: &Db,
    vault: &Vault,
    class: ItemClass,
    plaintext: &[u8],
    expires_at: UnixTime,
    link: Option<Link>,
) -> Result<i64, ItemError> {
    let now = vault.clock().now();
    let sealed = vault.seal_for_server(plaintext, expires_at)?;
    let mut tx = db.begin_write().await?;
    let id = items::insert(&mut *tx, class.as_str(), now.hour().0, expires_at.0, sealed.epoch().0, sealed.as_bytes())
        .await?;
    if let Some(link) = link {
        items::link(&mut *tx, id, link).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Moves an item to a new expiry by resealing it under that hour's epoch key. The
/// age layer is untouched: the server never reads the content to do this.
///
/// Compare-and-swap on the expiry: when another writer resealed the item in the
/// meantime, this reads it again and tries once more, so no write is lost.
pub async fn reseal(db: &Db, vault: &Vault, id: i64, expires_at: UnixTime) -> Result<(), ItemError> {
    for _ in 0..3 {
        let row = items::get(db.pool(), id).await?.ok_or(ItemError::NotFound)?;
        if row.expires_at == expires_at.0 {
            return Ok(());
        }
        if row.expires_at <= vault.clock().now().0 {
            return Err(ItemError::Expired);
        }
        let sealed = vault.reseal(&Sealed::from_bytes(row.sealed)?, expires_at)?;
        if items::replace_sealed(db.pool(), id, row.expires_at, expires_at.0, sealed.epoch().0, sealed.as_bytes())
            .await?
        {
            return Ok(());
        }
    }
    Err(ItemError::Invalid("the item kept changing while it was being resealed".into()))
}

/// Opens a server-readable item of `class`.
pub async fn open_for_server(
    db: &Db,
    vault: &Vault,
    id: i64,
    class: ItemClass,
) -> Result<zeroize::Zeroizing<Vec<u8>>, ItemError> {
    let row = items::get(db.pool(), id).await?.ok_or(ItemError::NotFound)?;
    if row.class != class.as_str() {
        return Err(ItemError::NotFound);
    }
    if row.expires_at <= vault.clock().now().0 {
        return Err(ItemError::Expired);
    }
    let sealed = Sealed::from_bytes(row.sealed)?;
    Ok(vault.open_for_server(&sealed)?)
}

/// An item a volunteer can read: what exists and when it goes, never what it says.
pub struct Readable {
    pub id: i64,
    pub class: String,
    pub created_hour: i64,
    pub expires_at: i64,
    pub incident: Option<i64>,
    pub thread: Option<i64>,
    /// The aliases it is sealed to.
    pub readers: Vec<String>,
}

/// The unexpired items `who` is a reader of, newest first, with their readers.
pub async fn readable_by(db: &Db, who: &Volunteer, now: UnixTime) -> Result<Vec<Readable>, ItemError> {
    let found = items::readable_by(db.pool(), who.id, now.0).await?;
    let ids: Vec<i64> = found.iter().map(|i| i.meta.id).collect();
    let readers = items::reader_aliases(db.pool(), &ids).await?;
    Ok(found
        .into_iter()
        .map(|i| Readable {
            readers: readers.iter().filter(|(item, _)| *item == i.meta.id).map(|(_, a)| a.clone()).collect(),
            id: i.meta.id,
            class: i.meta.class,
            created_hour: i.meta.created_hour,
            expires_at: i.meta.expires_at,
            incident: i.incident_id,
            thread: i.thread_id,
        })
        .collect())
}

/// The age ciphertext of an item, for one of its readers.
pub async fn ciphertext_for_reader(db: &Db, vault: &Vault, id: i64, reader: &Volunteer) -> Result<Vec<u8>, ItemError> {
    if !items::is_reader(db.pool(), id, reader.id).await? {
        // Also for items that do not exist, so ids cannot be probed.
        return Err(ItemError::NotAReader);
    }
    let bytes = ciphertext(db, vault, id).await?;
    // For "not yet heard" on the dashboard; a failure here must not keep the
    // reader from their item.
    if let Err(e) = items::mark_opened(db.pool(), id).await {
        tracing::debug!(error = %e, "an item could not be marked opened");
    }
    Ok(bytes)
}

/// The age ciphertext of an item, for the operator on the server: the reader's
/// identity, not this function, decides whether it opens.
pub async fn ciphertext(db: &Db, vault: &Vault, id: i64) -> Result<Vec<u8>, ItemError> {
    let row = items::get(db.pool(), id).await?.ok_or(ItemError::NotFound)?;
    if row.expires_at <= vault.clock().now().0 {
        return Err(ItemError::Expired);
    }
    let sealed = Sealed::from_bytes(row.sealed)?;
    Ok(vault.age_ciphertext(&sealed)?)
}
