//! The server key: an age X25519 identity that seals the operational secrets the
//! server itself must use (volunteer phone numbers, for dialing), and from which
//! the key for looking up a volunteer by number is derived.
//!
//! It lives in `server.key` in the data dir (0600, written like `age-keygen`
//! writes it) or comes from the `server_key` setting (`QUIETLINE_SERVER_KEY_FILE`,
//! e.g. a systemd credential). A database backup without it holds no number.

use std::path::Path;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::VaultError;
use super::keystore::write_new_file;

pub const SERVER_KEY_FILE: &str = "server.key";

pub struct ServerKey {
    identity: age::x25519::Identity,
    recipient: age::x25519::Recipient,
    lookup_key: Zeroizing<[u8; 32]>,
}

impl ServerKey {
    /// Loads the key given in the config, or the data dir's `server.key`, creating
    /// the latter on first start.
    pub fn load_or_create(data_dir: &Path, configured: Option<&SecretString>) -> Result<ServerKey, VaultError> {
        if let Some(text) = configured {
            return ServerKey::parse(text.expose_secret(), "the server_key setting");
        }
        let path = data_dir.join(SERVER_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                ServerKey::parse(&text, &path.display().to_string())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let identity = age::x25519::Identity::generate();
                let contents = Zeroizing::new(format!(
                    "# quietline server key: seals volunteer phone numbers at rest.\n\
                     # Keep it with the server; without it those numbers cannot be read.\n\
                     # public key: {}\n{}\n",
                    identity.to_public(),
                    identity.to_string().expose_secret()
                ));
                match write_new_file(data_dir, &path, contents.as_bytes()) {
                    Ok(()) => Ok(ServerKey::from_identity(identity)),
                    // Created concurrently by another process: use that one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        ServerKey::load_or_create(data_dir, None)
                    }
                    Err(e) => Err(VaultError::io(&path, e)),
                }
            }
            Err(e) => Err(VaultError::io(&path, e)),
        }
    }

    fn parse(text: &str, source: &str) -> Result<ServerKey, VaultError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .ok_or_else(|| VaultError::ServerKey(format!("{source} holds no AGE-SECRET-KEY-1… line")))?;
        let identity = age::x25519::Identity::from_str(line)
            .map_err(|_| VaultError::ServerKey(format!("{source} holds a malformed age secret key")))?;
        Ok(ServerKey::from_identity(identity))
    }

    fn from_identity(identity: age::x25519::Identity) -> ServerKey {
        let secret = identity.to_string();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"quietline/volunteer-phone-lookup-key/v1");
        let mut lookup_key = Zeroizing::new([0u8; 32]);
        lookup_key.copy_from_slice(&mac.finalize().into_bytes());
        let recipient = identity.to_public();
        ServerKey { identity, recipient, lookup_key }
    }

    pub(super) fn recipient(&self) -> &age::x25519::Recipient {
        &self.recipient
    }

    /// Seals a small secret to the server itself (no epoch: it lives as long as
    /// the roster entry it belongs to).
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        super::age_encrypt(plaintext, std::iter::once(&self.recipient as &dyn age::Recipient))
    }

    pub fn open(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        super::age_decrypt(ciphertext, std::iter::once(&self.identity as &dyn age::Identity))
    }

    /// A keyed hash to find a volunteer by phone number without storing it in
    /// clear. Not a caller token: volunteers are known people, and this key does
    /// not rotate.
    pub fn phone_lookup(&self, e164: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.lookup_key[..]).expect("any key length");
        mac.update(b"volunteer-phone/v1|");
        mac.update(e164.as_bytes());
        super::hex(&mac.finalize().into_bytes())
    }
}
