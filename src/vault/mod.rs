//! The vault: everything cryptographic, and the only module that touches key
//! material.
//!
//! - Content is sealed twice: with age to its readers' public keys (the server
//!   holds no private key for it), then under the key of the retention epoch in
//!   which it expires ([`Sealed`]). When the epoch ends its key is destroyed, and
//!   every copy of the blob, backups included, becomes unreadable by anyone.
//! - Epoch keys and caller-token window keys live in the [`Keystore`], a directory
//!   outside the database that must never be backed up.
//! - The [`ServerKey`] seals what the server itself must read back (volunteer
//!   phone numbers, for dialing).
//! - [`CallerToken`]s are keyed hashes of caller numbers under a window key.
//!
//! The vault never removes the age layer of content: readers do that on their own
//! machines with `quietline open`.

mod caller;
mod keystore;
mod sealed;
mod server_key;

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use zeroize::Zeroizing;

pub use caller::{CallerToken, TOKEN_MEMORY_KIB, TOKEN_PASSES};
pub use keystore::{EPOCH_SECS, EpochId, KeyName, Keystore};
pub use sealed::Sealed;
pub use server_key::{SERVER_KEY_FILE, ServerKey};

use crate::clock::{Clock, UnixTime};
use crate::phone::PhoneNumber;

/// The keystore's directory inside the data dir.
pub const KEYSTORE_DIR: &str = "keystore";

/// The longest caller-token window: a token may join calls for at most a week.
pub const MAX_CALLER_WINDOW: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug)]
pub enum VaultError {
    /// Nothing is stored that nobody could read; the caller picks other readers.
    NoReaders,
    /// The item's epoch key is gone: nobody can read it any more.
    Expired,
    /// Asked to seal something whose lifetime has already ended.
    LifetimeEnded,
    /// A key file does not hold a valid key; only that key's items are affected.
    KeyCorrupt(String),
    KeystoreMissing(PathBuf),
    ServerKey(String),
    /// Ciphertext that is truncated, altered, or not what it claims to be.
    Malformed(&'static str),
    /// None of the given identities is a reader of the item.
    NotAReader,
    BadRecipient(String),
    /// The data dir's disk is full: a new key could not be written (nothing was).
    DiskFull(String),
    Io(String),
}

impl VaultError {
    fn io(path: &Path, e: std::io::Error) -> VaultError {
        if e.kind() == std::io::ErrorKind::StorageFull {
            return VaultError::DiskFull(path.display().to_string());
        }
        VaultError::Io(format!("{}: {e}", path.display()))
    }
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultError::NoReaders => f.write_str("no reader has an age key: nothing would be able to read this"),
            VaultError::Expired => f.write_str("expired: its key has been destroyed and nobody can read it"),
            VaultError::LifetimeEnded => f.write_str("its lifetime has already ended"),
            VaultError::KeyCorrupt(what) => write!(f, "keystore file is corrupt: {what}"),
            VaultError::KeystoreMissing(dir) => write!(f, "keystore directory {} is missing", dir.display()),
            VaultError::ServerKey(why) => write!(f, "server key: {why}"),
            VaultError::Malformed(why) => f.write_str(why),
            VaultError::NotAReader => f.write_str("this identity is not one of the item's readers"),
            VaultError::BadRecipient(why) => f.write_str(why),
            VaultError::DiskFull(path) => write!(f, "keystore: the disk is full, {path} could not be written"),
            VaultError::Io(why) => write!(f, "keystore: {why}"),
        }
    }
}

impl std::error::Error for VaultError {}

/// A reader's public age X25519 key (`age1…`). The server stores public keys only.
#[derive(Clone)]
pub struct AgeRecipient {
    text: String,
    key: age::x25519::Recipient,
}

impl AgeRecipient {
    pub fn parse(input: &str) -> Result<AgeRecipient, String> {
        let text = input.trim().to_string();
        let key = age::x25519::Recipient::from_str(&text)
            .map_err(|why| format!("not an age public key ({why}); expected age1… as age-keygen prints it"))?;
        Ok(AgeRecipient { text, key })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for AgeRecipient {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Debug for AgeRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgeRecipient({})", self.text)
    }
}

/// Caller tokens computed at once: each holds [`TOKEN_MEMORY_KIB`] of memory, so a
/// surge of a thousand callers computes them in turn instead of all at once.
const CONCURRENT_TOKENS: usize = 2;

/// Keys and sealing for one data dir.
pub struct Vault {
    keystore: Keystore,
    server: ServerKey,
    caller_window: Duration,
    clock: Clock,
    token_slots: tokio::sync::Semaphore,
    /// Memory for caller tokens, one per token computed at once.
    token_memory: std::sync::Mutex<Vec<caller::TokenMemory>>,
}

impl Vault {
    /// Opens the keystore (which must exist) and the server key (created on first
    /// use unless given in the config).
    pub fn open(
        data_dir: &Path,
        server_key: Option<&SecretString>,
        caller_window: Duration,
        clock: Clock,
    ) -> Result<Vault, VaultError> {
        let keystore = Keystore::open(&data_dir.join(KEYSTORE_DIR))?;
        let server = ServerKey::load_or_create(data_dir, server_key)?;
        Ok(Vault {
            keystore,
            server,
            caller_window,
            clock,
            token_slots: tokio::sync::Semaphore::new(CONCURRENT_TOKENS),
            token_memory: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn keystore(&self) -> &Keystore {
        &self.keystore
    }

    pub fn server(&self) -> &ServerKey {
        &self.server
    }

    /// Encrypts `plaintext` to `readers` with age, then seals it under the key of
    /// the epoch in which `expires_at` falls.
    pub fn seal(&self, plaintext: &[u8], readers: &[AgeRecipient], expires_at: UnixTime) -> Result<Sealed, VaultError> {
        if readers.is_empty() {
            return Err(VaultError::NoReaders);
        }
        let ciphertext = age_encrypt(plaintext, readers.iter().map(|r| &r.key as &dyn age::Recipient))?;
        self.seal_epoch(&ciphertext, expires_at)
    }

    /// Seals something only the server itself must read back (a callback number),
    /// to the server key and under the epoch key: gone with its epoch like content.
    pub fn seal_for_server(&self, plaintext: &[u8], expires_at: UnixTime) -> Result<Sealed, VaultError> {
        let ciphertext = age_encrypt(plaintext, std::iter::once(self.server.recipient() as &dyn age::Recipient))?;
        self.seal_epoch(&ciphertext, expires_at)
    }

    /// Opens what [`Vault::seal_for_server`] sealed.
    pub fn open_for_server(&self, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let ciphertext = self.age_ciphertext(sealed)?;
        self.server.open(&ciphertext)
    }

    /// Seals content a client encrypted with age itself. The server cannot check
    /// who can read it, only that it is an age file.
    pub fn seal_age(&self, age_ciphertext: &[u8], expires_at: UnixTime) -> Result<Sealed, VaultError> {
        age::Decryptor::new_buffered(age_ciphertext).map_err(|_| VaultError::Malformed("not an age file"))?;
        self.seal_epoch(age_ciphertext, expires_at)
    }

    /// Moves sealed content under the epoch key of a new expiry, without reading
    /// it: the age layer stays as it is. For lifetimes that start late (a note's
    /// runs from its incident's close) or are cut short (an intake marked handled).
    pub fn reseal(&self, sealed: &Sealed, expires_at: UnixTime) -> Result<Sealed, VaultError> {
        let ciphertext = self.age_ciphertext(sealed)?;
        self.seal_epoch(&ciphertext, expires_at)
    }

    fn seal_epoch(&self, age_ciphertext: &[u8], expires_at: UnixTime) -> Result<Sealed, VaultError> {
        let epoch = EpochId::for_expiry(expires_at);
        let key = self.keystore.get_or_create(KeyName::Epoch(epoch), self.clock.now())?;
        Sealed::seal(&key, epoch, age_ciphertext)
    }

    /// Removes the epoch layer and returns the age ciphertext, for a reader to
    /// decrypt on their own machine. `Expired` when the epoch has ended, whether
    /// or not its key is gone yet (another instance sharing the keystore may have
    /// destroyed the file while this one still holds the key in memory).
    pub fn age_ciphertext(&self, sealed: &Sealed) -> Result<Vec<u8>, VaultError> {
        let name = KeyName::Epoch(sealed.epoch());
        if name.ends_at() <= self.clock.now() {
            return Err(VaultError::Expired);
        }
        let key = self.keystore.get(name)?.ok_or(VaultError::Expired)?;
        sealed.open(&key)
    }

    /// The caller's token for the current window, computed here and now (a few
    /// milliseconds of one core; see [`Vault::caller_token_off_thread`]).
    pub fn caller_token(&self, number: &PhoneNumber) -> Result<CallerToken, VaultError> {
        let now = self.clock.now();
        let key = self.keystore.get_or_create(self.caller_window_at(now), now)?;
        let memory = self.token_memory.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut memory = memory.unwrap_or_else(caller::TokenMemory::new);
        let token = CallerToken::compute(&key, number.as_str(), &mut memory);
        let mut pool = self.token_memory.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < CONCURRENT_TOKENS {
            pool.push(memory);
        }
        Ok(token)
    }

    /// [`Vault::caller_token`] off the async threads, a few at a time.
    pub async fn caller_token_off_thread(
        self: &std::sync::Arc<Self>,
        number: &PhoneNumber,
    ) -> Result<CallerToken, VaultError> {
        let _turn = self.token_slots.acquire().await.map_err(|e| VaultError::Io(e.to_string()))?;
        let vault = self.clone();
        let number = number.clone();
        tokio::task::spawn_blocking(move || vault.caller_token(&number))
            .await
            .unwrap_or_else(|e| Err(VaultError::Io(format!("caller token task failed: {e}"))))
    }

    /// The caller-token window that contains `at`.
    fn caller_window_at(&self, at: UnixTime) -> KeyName {
        let window_secs = self.caller_window.as_secs() as i64;
        KeyName::CallerWindow { window_secs, index: at.0.div_euclid(window_secs) }
    }

    /// The current caller-token window: its index and when it ends.
    pub fn current_window(&self) -> (i64, UnixTime) {
        let name = self.caller_window_at(self.clock.now());
        match name {
            KeyName::CallerWindow { index, .. } => (index, name.ends_at()),
            _ => unreachable!("a caller window"),
        }
    }

    /// Keyed hashes of `value` for the sign-in limit buckets (`domain` keeps
    /// aliases, networks and enrollment apart): under this window's limit key
    /// first, then, while it lives, the last window's, so that failures counted
    /// just before a window boundary still count after it. A typed alias or a
    /// network never lands on disk in clear or as a plain hash.
    pub fn limit_buckets(&self, domain: &str, value: &str) -> Result<Vec<String>, VaultError> {
        let now = self.clock.now();
        let window_secs = self.caller_window.as_secs() as i64;
        let index = now.0.div_euclid(window_secs);
        let bucket = |key: &keystore::Key| {
            let token = CallerToken::compute_in(key, format!("{domain}/v2|").as_bytes(), value);
            format!("{domain}:{}", &token.as_str()[..32])
        };
        let current = self.keystore.get_or_create(KeyName::Limits { window_secs, index }, now)?;
        let mut out = vec![bucket(&current)];
        let previous = KeyName::Limits { window_secs, index: index - 1 };
        if previous.ends_at() > now
            && let Some(key) = self.keystore.get(previous)?
        {
            out.push(bucket(&key));
        }
        Ok(out)
    }

    /// Destroys every key whose epoch or window has ended.
    pub fn destroy_ended_keys(&self) -> Result<Vec<KeyName>, VaultError> {
        self.keystore.destroy_ended(self.clock.now())
    }
}

/// Decrypts an age ciphertext with a reader's identities, on the reader's side.
pub fn open_as_reader(
    age_ciphertext: &[u8],
    identities: &[Box<dyn age::Identity + Send + Sync>],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    age_decrypt(age_ciphertext, identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
}

/// Reads an age identity file (as `age-keygen` writes it).
pub fn read_identity_file(path: &Path) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>, VaultError> {
    read_identities(path, || Err(VaultError::BadRecipient(format!("{} is protected by a passphrase", path.display()))))
}

/// The most work a passphrase-protected file may ask of us: age's own default
/// (2^18) with room to spare; more would let a crafted file hang the reader.
const MAX_SCRYPT_LOG_N: u8 = 22;

/// Reads an age identity file, plain (as `age-keygen` writes it) or protected by
/// a passphrase (an age file, armored or not, as `age -p` and the console's key
/// backup write it); `passphrase` is asked only for the latter.
pub fn read_identities(
    path: &Path,
    passphrase: impl FnOnce() -> Result<secrecy::SecretString, VaultError>,
) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>, VaultError> {
    let shown = path.display();
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| VaultError::Io(format!("identity file {shown}: {e}")))?);
    let protected =
        bytes.starts_with(b"age-encryption.org/") || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----");
    let plain = if protected {
        let mut identity = age::scrypt::Identity::new(passphrase()?);
        identity.set_max_work_factor(MAX_SCRYPT_LOG_N);
        let armored = age::armor::ArmoredReader::new(&bytes[..]);
        let decryptor = age::Decryptor::new(armored)
            .map_err(|_| VaultError::BadRecipient(format!("{shown} is not a readable age file")))?;
        let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                VaultError::BadRecipient(format!("wrong passphrase for {shown}"))
            }
            age::DecryptError::ExcessiveWork { .. } => {
                VaultError::BadRecipient(format!("{shown} asks for more work than any backup of ours"))
            }
            _ => VaultError::BadRecipient(format!("{shown} is not protected by a passphrase alone")),
        })?;
        let mut out = Zeroizing::new(Vec::new());
        reader
            .read_to_end(&mut out)
            .map_err(|_| VaultError::BadRecipient(format!("{shown} is damaged or cut short")))?;
        out
    } else {
        bytes
    };
    let file = age::IdentityFile::from_buffer(&plain[..])
        .map_err(|e| VaultError::BadRecipient(format!("{shown} holds no age identity ({e})")))?;
    let identities = file
        .into_identities()
        .map_err(|_| VaultError::BadRecipient(format!("{shown} holds no usable age identity")))?;
    if identities.is_empty() {
        return Err(VaultError::BadRecipient(format!("{shown} holds no age identity")));
    }
    Ok(identities)
}

fn age_encrypt<'a>(
    plaintext: &[u8],
    recipients: impl Iterator<Item = &'a dyn age::Recipient>,
) -> Result<Vec<u8>, VaultError> {
    let encryptor = age::Encryptor::with_recipients(recipients)
        .map_err(|_| VaultError::BadRecipient("no usable recipient".into()))?;
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    let mut writer = encryptor.wrap_output(&mut out).map_err(|e| VaultError::Io(e.to_string()))?;
    writer.write_all(plaintext).map_err(|e| VaultError::Io(e.to_string()))?;
    // Without finish() the last chunk is never written and the file is truncated.
    writer.finish().map_err(|e| VaultError::Io(e.to_string()))?;
    Ok(out)
}

fn age_decrypt<'a>(
    ciphertext: &[u8],
    identities: impl Iterator<Item = &'a dyn age::Identity>,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let decryptor = age::Decryptor::new_buffered(ciphertext).map_err(|_| VaultError::Malformed("not an age file"))?;
    let mut reader = decryptor.decrypt(identities).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => VaultError::NotAReader,
        _ => VaultError::Malformed("age header is damaged"),
    })?;
    // The plaintext is never longer than the ciphertext: one allocation, so no
    // copy of it is left behind in a freed buffer.
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    reader.read_to_end(&mut out).map_err(|_| VaultError::Malformed("age ciphertext is truncated or damaged"))?;
    Ok(out)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        vault: Vault,
        clock: Clock,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(KEYSTORE_DIR)).unwrap();
        let clock = Clock::manual(UnixTime(1_795_478_400));
        let vault = Vault::open(dir.path(), None, Duration::from_secs(86_400), clock.clone()).unwrap();
        Fixture { _dir: dir, vault, clock }
    }

    fn reader() -> (age::x25519::Identity, AgeRecipient) {
        let id = age::x25519::Identity::generate();
        let r = AgeRecipient::parse(&id.to_public().to_string()).unwrap();
        (id, r)
    }

    fn boxed(id: age::x25519::Identity) -> Vec<Box<dyn age::Identity + Send + Sync>> {
        vec![Box::new(id)]
    }

    #[test]
    fn sealed_content_opens_for_each_reader_and_nobody_else() {
        let f = fixture();
        let (a, ra) = reader();
        let (b, rb) = reader();
        let (c, _) = reader();
        let expires = f.clock.now().plus(Duration::from_secs(86_400));
        let sealed = f.vault.seal(b"two vans on 5th", &[ra, rb], expires).unwrap();
        assert_eq!(sealed.epoch(), EpochId::for_expiry(expires));
        let age_bytes = f.vault.age_ciphertext(&sealed).unwrap();
        assert!(age_bytes.starts_with(b"age-encryption.org/v1\n"), "binary age format, not armor");
        assert_eq!(&open_as_reader(&age_bytes, &boxed(a)).unwrap()[..], b"two vans on 5th");
        assert_eq!(&open_as_reader(&age_bytes, &boxed(b)).unwrap()[..], b"two vans on 5th");
        assert!(matches!(open_as_reader(&age_bytes, &boxed(c)), Err(VaultError::NotAReader)));
    }

    #[test]
    fn zero_readers_are_refused() {
        let f = fixture();
        assert!(matches!(
            f.vault.seal(b"x", &[], f.clock.now().plus(Duration::from_secs(60))),
            Err(VaultError::NoReaders)
        ));
    }

    #[test]
    fn after_the_epoch_ends_the_item_is_expired_not_corrupt() {
        let f = fixture();
        let (a, ra) = reader();
        let expires = f.clock.now().plus(Duration::from_secs(3 * 3600));
        let sealed = f.vault.seal(b"note", &[ra], expires).unwrap();
        f.clock.advance(Duration::from_secs(3 * 3600 - 1));
        assert!(f.vault.destroy_ended_keys().unwrap().is_empty());
        assert!(f.vault.age_ciphertext(&sealed).is_ok());
        f.clock.advance(Duration::from_secs(3600));
        assert_eq!(f.vault.destroy_ended_keys().unwrap(), [KeyName::Epoch(sealed.epoch())]);
        assert!(matches!(f.vault.age_ciphertext(&sealed), Err(VaultError::Expired)));
        drop(a);
    }

    #[test]
    fn tampered_and_truncated_blobs_are_reported_as_such() {
        let f = fixture();
        let (_, ra) = reader();
        let sealed = f.vault.seal(b"note", &[ra], f.clock.now().plus(Duration::from_secs(3600))).unwrap();
        let mut bytes = sealed.as_bytes().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = Sealed::from_bytes(bytes.clone()).unwrap();
        assert!(matches!(f.vault.age_ciphertext(&tampered), Err(VaultError::Malformed(_))));
        // Moving a blob to another epoch breaks the binding too.
        let mut moved = sealed.as_bytes().to_vec();
        moved[8] ^= 1;
        assert!(matches!(
            f.vault.age_ciphertext(&Sealed::from_bytes(moved).unwrap()),
            Err(VaultError::Expired | VaultError::Malformed(_))
        ));
        assert!(matches!(Sealed::from_bytes(bytes[..20].to_vec()), Err(VaultError::Malformed(_))));
        assert!(matches!(Sealed::from_bytes(vec![9; 64]), Err(VaultError::Malformed(_))));
    }

    #[test]
    fn pre_encrypted_content_must_be_an_age_file() {
        let f = fixture();
        let later = f.clock.now().plus(Duration::from_secs(3600));
        assert!(matches!(f.vault.seal_age(b"plain text", later), Err(VaultError::Malformed(_))));
        let (a, ra) = reader();
        let ct = age_encrypt(b"from a client", std::iter::once(&ra.key as &dyn age::Recipient)).unwrap();
        let sealed = f.vault.seal_age(&ct, later).unwrap();
        let back = f.vault.age_ciphertext(&sealed).unwrap();
        assert_eq!(&open_as_reader(&back, &boxed(a)).unwrap()[..], b"from a client");
    }

    #[test]
    fn caller_tokens_match_within_a_window_and_not_across() {
        let f = fixture();
        let n = PhoneNumber::parse("+14155550123").unwrap();
        let m = PhoneNumber::parse("+14155550124").unwrap();
        let t1 = f.vault.caller_token(&n).unwrap();
        assert_eq!(t1, f.vault.caller_token(&n).unwrap());
        assert_ne!(t1, f.vault.caller_token(&m).unwrap());
        f.clock.advance(Duration::from_secs(86_400));
        let t2 = f.vault.caller_token(&n).unwrap();
        assert_ne!(t1, t2, "a new window gives an unlinkable token");
        let destroyed = f.vault.destroy_ended_keys().unwrap();
        assert!(destroyed.iter().any(|k| matches!(k, KeyName::CallerWindow { .. })));
    }

    #[test]
    fn server_key_seals_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let k1 = ServerKey::load_or_create(dir.path(), None).unwrap();
        let sealed = k1.seal(b"+14155550100").unwrap();
        let k2 = ServerKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(&k2.open(&sealed).unwrap()[..], b"+14155550100");
        assert_eq!(k1.phone_lookup("+14155550100"), k2.phone_lookup("+14155550100"));
        assert_ne!(k1.phone_lookup("+14155550100"), k1.phone_lookup("+14155550101"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(SERVER_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let other = tempfile::tempdir().unwrap();
        let k3 = ServerKey::load_or_create(other.path(), None).unwrap();
        assert!(k3.open(&sealed).is_err());
        assert!(ServerKey::load_or_create(dir.path(), Some(&SecretString::from("nonsense"))).is_err());
    }

    #[test]
    fn bad_recipients_are_refused() {
        let (_, r) = reader();
        let mut typo = r.as_str().to_string();
        typo.replace_range(10..11, if &typo[10..11] == "q" { "p" } else { "q" });
        assert!(AgeRecipient::parse(&typo).is_err(), "a one-character typo breaks the checksum");
        assert!(AgeRecipient::parse("age1").is_err());
        assert!(AgeRecipient::parse("ssh-ed25519 AAAA").is_err());
    }
}
