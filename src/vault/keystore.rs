//! The keystore: a directory of small key files, outside the database, so that a
//! database backup holds only sealed blobs. Each key belongs to a span of time
//! (a retention epoch, or a caller-token window) and is destroyed when that span
//! has ended: overwritten, synced, unlinked, and the directory synced.
//!
//! Keys are created lazily, written to a temporary file (0600, synced) and then
//! hard-linked into place, which fails if another process got there first; the
//! loser reads the winner's key. A key is never replaced, so nothing sealed under
//! it can be orphaned by a race.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::VaultError;
use crate::clock::UnixTime;

/// Length of every epoch or window key.
pub const KEY_LEN: usize = 32;
const MAGIC: &[u8; 4] = b"QLK1";
const FILE_LEN: usize = 4 + KEY_LEN + 8;

pub type Key = Arc<Zeroizing<[u8; KEY_LEN]>>;

/// Length of a retention epoch: one hour. Items expiring within the same hour
/// share a key, so a key outlives the last item sealed under it by at most an hour,
/// and a 30-day lifetime needs at most 721 small files.
pub const EPOCH_SECS: i64 = 3600;

/// A retention epoch: the hour `[(id - 1) * 3600, id * 3600)` in which items expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EpochId(pub i64);

impl EpochId {
    /// The epoch an item expiring at `t` belongs to: its key is destroyed at the
    /// first full hour at or after `t`.
    pub fn for_expiry(t: UnixTime) -> EpochId {
        EpochId(t.0.div_euclid(EPOCH_SECS) + i64::from(t.0.rem_euclid(EPOCH_SECS) != 0))
    }

    /// When this epoch's key is destroyed.
    pub fn ends_at(self) -> UnixTime {
        UnixTime(self.0.saturating_mul(EPOCH_SECS))
    }
}

/// What a key file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyName {
    /// Seals content expiring in this epoch.
    Epoch(EpochId),
    /// Keys caller tokens during window `index` of `window_secs` seconds.
    CallerWindow { window_secs: i64, index: i64 },
    /// Keys the sign-in limit buckets of window `index`; outlives the window by
    /// [`LIMITS_GRACE_SECS`], so a boundary grants no fresh allowance.
    Limits { window_secs: i64, index: i64 },
}

/// How long a window's sign-in limit key outlives the window: longer than the
/// limits' own 15 minutes.
pub const LIMITS_GRACE_SECS: i64 = 3600;

impl KeyName {
    pub fn ends_at(self) -> UnixTime {
        match self {
            KeyName::Epoch(e) => e.ends_at(),
            KeyName::CallerWindow { window_secs, index } => {
                UnixTime(index.saturating_add(1).saturating_mul(window_secs))
            }
            KeyName::Limits { window_secs, index } => {
                UnixTime(index.saturating_add(1).saturating_mul(window_secs).saturating_add(LIMITS_GRACE_SECS))
            }
        }
    }

    fn file_name(self) -> String {
        match self {
            KeyName::Epoch(e) => format!("epoch-{}.key", e.0),
            KeyName::CallerWindow { window_secs, index } => format!("caller-{window_secs}s-{index}.key"),
            KeyName::Limits { window_secs, index } => format!("limits-{window_secs}s-{index}.key"),
        }
    }

    fn parse_file_name(name: &str) -> Option<KeyName> {
        let stem = name.strip_suffix(".key")?;
        if let Some(id) = stem.strip_prefix("epoch-") {
            return Some(KeyName::Epoch(EpochId(id.parse().ok()?)));
        }
        if let Some(rest) = stem.strip_prefix("limits-") {
            let (secs, index) = rest.split_once("s-")?;
            return Some(KeyName::Limits { window_secs: secs.parse().ok()?, index: index.parse().ok()? });
        }
        let rest = stem.strip_prefix("caller-")?;
        let (secs, index) = rest.split_once("s-")?;
        Some(KeyName::CallerWindow { window_secs: secs.parse().ok()?, index: index.parse().ok()? })
    }

    fn describe(self) -> String {
        match self {
            KeyName::Epoch(e) => format!("epoch key {} (ends {})", e.0, e.ends_at().display_utc()),
            KeyName::CallerWindow { index, .. } => {
                format!("caller-token key {index} (ends {})", self.ends_at().display_utc())
            }
            KeyName::Limits { index, .. } => {
                format!("sign-in limit key {index} (ends {})", self.ends_at().display_utc())
            }
        }
    }
}

pub struct Keystore {
    dir: PathBuf,
    /// Keys already read, so sealing does not hit the disk each time. A destroyed
    /// key leaves the cache in the same step.
    cache: Mutex<HashMap<KeyName, Key>>,
}

impl Keystore {
    /// Opens an existing keystore directory.
    pub fn open(dir: &Path) -> Result<Keystore, VaultError> {
        if !dir.is_dir() {
            return Err(VaultError::KeystoreMissing(dir.to_path_buf()));
        }
        Ok(Keystore { dir: dir.to_path_buf(), cache: Mutex::new(HashMap::new()) })
    }

    fn check_dir(&self) -> Result<(), VaultError> {
        if self.dir.is_dir() { Ok(()) } else { Err(VaultError::KeystoreMissing(self.dir.clone())) }
    }

    /// The key, if it exists. A missing key is `None`: its span has ended and it
    /// was destroyed (or it never existed).
    pub fn get(&self, name: KeyName) -> Result<Option<Key>, VaultError> {
        if let Some(key) = self.cache.lock().expect("keystore cache").get(&name) {
            return Ok(Some(key.clone()));
        }
        self.check_dir()?;
        let path = self.dir.join(name.file_name());
        let mut bytes = Zeroizing::new(Vec::with_capacity(FILE_LEN));
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes).map_err(|e| VaultError::io(&path, e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(VaultError::io(&path, e)),
        }
        let key = decode_key_file(&bytes).ok_or_else(|| VaultError::KeyCorrupt(name.describe()))?;
        self.cache.lock().expect("keystore cache").insert(name, key.clone());
        Ok(Some(key))
    }

    /// The key, created if needed. Refuses to create a key whose span has already
    /// ended at `now`: it would be destroyed at once.
    pub fn get_or_create(&self, name: KeyName, now: UnixTime) -> Result<Key, VaultError> {
        if let Some(key) = self.get(name)? {
            return Ok(key);
        }
        if name.ends_at() <= now {
            return Err(VaultError::LifetimeEnded);
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(&mut key[..]).map_err(|e| VaultError::Io(format!("random: {e}")))?;
        let mut contents = Zeroizing::new(Vec::with_capacity(FILE_LEN));
        contents.extend_from_slice(MAGIC);
        contents.extend_from_slice(&key[..]);
        contents.extend_from_slice(&Sha256::digest(&key[..])[..8]);
        let path = self.dir.join(name.file_name());
        match write_new_file(&self.dir, &path, &contents) {
            Ok(()) => {
                let key: Key = Arc::new(key);
                self.cache.lock().expect("keystore cache").insert(name, key.clone());
                Ok(key)
            }
            // Another process or thread created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                self.get(name)?.ok_or_else(|| VaultError::KeyCorrupt(name.describe()))
            }
            Err(e) => Err(VaultError::io(&path, e)),
        }
    }

    /// Destroys every key whose span has ended at `now`, and any temporary file a
    /// crash left behind. Returns the names destroyed.
    pub fn destroy_ended(&self, now: UnixTime) -> Result<Vec<KeyName>, VaultError> {
        self.check_dir()?;
        let mut destroyed = Vec::new();
        let mut changed = false;
        for entry in fs::read_dir(&self.dir).map_err(|e| VaultError::io(&self.dir, e))? {
            let entry = entry.map_err(|e| VaultError::io(&self.dir, e))?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else { continue };
            let path = entry.path();
            if file_name.starts_with(".tmp-") {
                if remove_leftover(&path).map_err(|e| VaultError::io(&path, e))? {
                    changed = true;
                }
                continue;
            }
            let Some(name) = KeyName::parse_file_name(file_name) else { continue };
            if name.ends_at() <= now {
                self.cache.lock().expect("keystore cache").remove(&name);
                shred(&path).map_err(|e| VaultError::io(&path, e))?;
                destroyed.push(name);
                changed = true;
            }
        }
        if changed {
            sync_dir(&self.dir).map_err(|e| VaultError::io(&self.dir, e))?;
        }
        // Keys another process destroyed (a keystore shared by several instances)
        // leave this one's memory too.
        self.cache.lock().expect("keystore cache").retain(|name, _| name.ends_at() > now);
        Ok(destroyed)
    }

    /// Every key present, for the exposure report and tests.
    pub fn live(&self) -> Result<Vec<KeyName>, VaultError> {
        self.check_dir()?;
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| VaultError::io(&self.dir, e))? {
            let entry = entry.map_err(|e| VaultError::io(&self.dir, e))?;
            if let Some(name) = entry.file_name().to_str().and_then(KeyName::parse_file_name) {
                names.push(name);
            }
        }
        Ok(names)
    }
}

fn decode_key_file(bytes: &[u8]) -> Option<Key> {
    if bytes.len() != FILE_LEN || &bytes[..4] != MAGIC {
        return None;
    }
    let key = &bytes[4..4 + KEY_LEN];
    if Sha256::digest(key)[..8] != bytes[4 + KEY_LEN..] {
        return None;
    }
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(key);
    Some(Arc::new(out))
}

/// Writes `contents` to `path` only if `path` does not exist yet, atomically:
/// a synced 0600 temporary file, hard-linked into place, then the directory synced.
pub(super) fn write_new_file(dir: &Path, path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".tmp-{}", u64::from_le_bytes(suffix)));
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    drop(file);
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    // The temporary name goes either way; its bytes are the key, so shred it if
    // the link failed (on success the key lives on under its real name).
    let cleanup = if linked.is_ok() { fs::remove_file(&tmp) } else { shred(&tmp) };
    linked?;
    cleanup?;
    sync_dir(dir)
}

/// How old a temporary key file must be before the sweeper takes it for a
/// crash's leftover. Writing one takes milliseconds.
const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes a temporary key file that a crash left behind; returns whether it
/// did. A young one is being written by this or another instance: left alone.
/// One that is also linked under a key's name *is* that key (the crash came
/// between linking it and removing the temporary name): only the temporary name
/// goes, because zeroing it would zero the key. Found when a sweep running
/// beside a key's creation did exactly that, and the restarted server then read
/// the day's caller-token key as corrupt.
fn remove_leftover(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let age = meta.modified()?.elapsed().unwrap_or_default();
    if age < LEFTOVER_AGE {
        return Ok(false);
    }
    if meta.nlink() > 1 {
        fs::remove_file(path)?
    } else {
        shred(path)?
    }
    Ok(true)
}

/// Overwrites a file with zeros, syncs it, and unlinks it.
fn shred(path: &Path) -> std::io::Result<()> {
    let len = fs::metadata(path)?.len() as usize;
    let mut file = OpenOptions::new().write(true).open(path)?;
    file.write_all(&vec![0u8; len])?;
    file.sync_all()?;
    drop(file);
    fs::remove_file(path)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_cover_the_hour_in_which_items_expire() {
        assert_eq!(EpochId::for_expiry(UnixTime(3600)), EpochId(1));
        assert_eq!(EpochId::for_expiry(UnixTime(3601)), EpochId(2));
        assert_eq!(EpochId::for_expiry(UnixTime(7200)), EpochId(2));
        assert_eq!(EpochId(2).ends_at(), UnixTime(7200));
    }

    #[test]
    fn file_names_round_trip() {
        for name in [
            KeyName::Epoch(EpochId(493_188)),
            KeyName::CallerWindow { window_secs: 86_400, index: 20_415 },
            KeyName::Limits { window_secs: 86_400, index: 20_415 },
        ] {
            assert_eq!(KeyName::parse_file_name(&name.file_name()), Some(name));
        }
        assert_eq!(KeyName::parse_file_name("notes.txt"), None);
        assert_eq!(KeyName::parse_file_name("epoch-x.key"), None);
    }

    #[test]
    fn keys_are_created_once_read_back_and_destroyed_after_their_span() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::open(dir.path()).unwrap();
        let name = KeyName::Epoch(EpochId(10));
        let now = UnixTime(9 * 3600);
        let k1 = ks.get_or_create(name, now).unwrap();
        let k2 = ks.get_or_create(name, now).unwrap();
        assert_eq!(k1[..], k2[..]);
        // A second handle (another process) reads the same key from disk.
        let other = Keystore::open(dir.path()).unwrap();
        assert_eq!(other.get(name).unwrap().unwrap()[..], k1[..]);
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join("epoch-10.key");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

        assert!(ks.destroy_ended(UnixTime(10 * 3600 - 1)).unwrap().is_empty());
        assert_eq!(ks.destroy_ended(UnixTime(10 * 3600)).unwrap(), [name]);
        assert!(!path.exists());
        assert!(ks.get(name).unwrap().is_none(), "the cache forgets a destroyed key");
        assert!(matches!(ks.get_or_create(name, UnixTime(10 * 3600)), Err(VaultError::LifetimeEnded)));
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none(), "no temporary files left");
    }

    #[test]
    fn a_corrupt_key_file_affects_only_its_own_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::open(dir.path()).unwrap();
        let now = UnixTime(0);
        ks.get_or_create(KeyName::Epoch(EpochId(5)), now).unwrap();
        fs::write(dir.path().join("epoch-6.key"), b"garbage").unwrap();
        let fresh = Keystore::open(dir.path()).unwrap();
        assert!(matches!(fresh.get(KeyName::Epoch(EpochId(6))), Err(VaultError::KeyCorrupt(_))));
        assert!(fresh.get(KeyName::Epoch(EpochId(5))).unwrap().is_some());
    }

    #[test]
    fn the_sweep_never_zeroes_a_key_through_its_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Keystore::open(dir.path()).unwrap();
        let name = KeyName::CallerWindow { window_secs: 86_400, index: 20_415 };
        let key = store.get_or_create(name, UnixTime(0)).unwrap();
        let real = dir.path().join(name.file_name());
        // A temporary name still linked to the key (the moment between linking
        // and unlinking it, or a crash there), and one being written now.
        let linked = dir.path().join(".tmp-1");
        fs::hard_link(&real, &linked).unwrap();
        fs::write(dir.path().join(".tmp-2"), b"half").unwrap();
        store.destroy_ended(UnixTime(0)).unwrap();
        assert!(linked.exists() && dir.path().join(".tmp-2").exists(), "young temporary files are left alone");
        // Both are old now: a crash's leftovers.
        let old = std::time::SystemTime::now() - LEFTOVER_AGE - std::time::Duration::from_secs(1);
        for tmp in [&linked, &dir.path().join(".tmp-2")] {
            fs::File::options().write(true).open(tmp).unwrap().set_modified(old).unwrap();
        }
        store.destroy_ended(UnixTime(0)).unwrap();
        assert!(!linked.exists() && !dir.path().join(".tmp-2").exists(), "old leftovers are removed");
        let fresh = Keystore::open(dir.path()).unwrap();
        assert_eq!(fresh.get(name).unwrap().expect("the key is still there")[..], key[..]);
    }

    #[test]
    fn a_missing_directory_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let ks_dir = dir.path().join("keystore");
        assert!(matches!(Keystore::open(&ks_dir), Err(VaultError::KeystoreMissing(_))));
        fs::create_dir(&ks_dir).unwrap();
        let ks = Keystore::open(&ks_dir).unwrap();
        fs::remove_dir(&ks_dir).unwrap();
        let err = ks.get_or_create(KeyName::Epoch(EpochId(3)), UnixTime(0)).unwrap_err();
        assert!(matches!(err, VaultError::KeystoreMissing(_)), "{err}");
        assert!(!ks_dir.exists(), "a missing keystore is not silently recreated");
    }
}
