//! The stored form of content: an age ciphertext (readable by its readers only)
//! sealed again under the key of the retention epoch in which it expires.
//!
//! Layout, version 1:
//! `[1u8][epoch id: i64 big-endian][nonce: 24 bytes][XChaCha20-Poly1305(age bytes) + tag]`
//! with `"quietline/sealed/v1" || epoch id` as associated data, so a blob cannot be
//! moved to another epoch.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::VaultError;
use super::keystore::{EpochId, KEY_LEN};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 8 + NONCE_LEN;
const AAD_PREFIX: &[u8] = b"quietline/sealed/v1";

/// An opaque sealed blob. Its bytes go to the database as they are; they never go
/// to a log or an error message (`Debug` shows only the length and epoch).
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    /// Checks the framing of stored bytes; the contents are checked on opening.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Sealed, VaultError> {
        if bytes.first() != Some(&VERSION) {
            return Err(VaultError::Malformed("unknown sealed format version"));
        }
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(VaultError::Malformed("sealed item is truncated"));
        }
        Ok(Sealed(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn epoch(&self) -> EpochId {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.0[1..9]);
        EpochId(i64::from_be_bytes(id))
    }

    pub(super) fn seal(key: &[u8; KEY_LEN], epoch: EpochId, age_ciphertext: &[u8]) -> Result<Sealed, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| VaultError::Io(format!("random: {e}")))?;
        let aad = aad(epoch);
        let body = XChaCha20Poly1305::new(key.into())
            .encrypt(&XNonce::from(nonce), Payload { msg: age_ciphertext, aad: &aad })
            .map_err(|_| VaultError::Malformed("encryption failed"))?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.push(VERSION);
        out.extend_from_slice(&epoch.0.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(Sealed(out))
    }

    /// Removes the epoch layer, giving back the age ciphertext.
    pub(super) fn open(&self, key: &[u8; KEY_LEN]) -> Result<Vec<u8>, VaultError> {
        let epoch = self.epoch();
        let nonce: [u8; NONCE_LEN] = self.0[9..HEADER_LEN].try_into().expect("length checked in from_bytes");
        XChaCha20Poly1305::new(key.into())
            .decrypt(&XNonce::from(nonce), Payload { msg: &self.0[HEADER_LEN..], aad: &aad(epoch) })
            .map_err(|_| VaultError::Malformed("sealed item is damaged or was altered"))
    }
}

fn aad(epoch: EpochId) -> Vec<u8> {
    let mut aad = AAD_PREFIX.to_vec();
    aad.extend_from_slice(&epoch.0.to_be_bytes());
    aad
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes, epoch {})", self.0.len(), self.epoch().0)
    }
}
