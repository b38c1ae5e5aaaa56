//! Caller tokens: `HMAC-SHA256(window key, "caller/v1|" + E.164 number)`.
//!
//! The window key lives in the keystore and is destroyed when its window ends,
//! so tokens match within a window (rate limits, blocks, an intake thread) and
//! join nothing after it. A plain hash of a number is never computed anywhere:
//! every 10-digit number can be hashed in minutes.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::keystore::KEY_LEN;

/// A caller's identity for one window, as 64 hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CallerToken(String);

impl CallerToken {
    pub(super) fn compute(window_key: &[u8; KEY_LEN], e164: &str) -> CallerToken {
        Self::compute_in(window_key, b"caller/v1|", e164)
    }

    /// The same construction for another kind of identifier, kept apart by `domain`.
    pub(super) fn compute_in(window_key: &[u8; KEY_LEN], domain: &[u8], value: &str) -> CallerToken {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(window_key).expect("any key length");
        mac.update(domain);
        mac.update(value.as_bytes());
        CallerToken(super::hex(&mac.finalize().into_bytes()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CallerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short enough to tell two apart in a test failure, too short to match on.
        write!(f, "CallerToken({}…)", &self.0[..6.min(self.0.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answer, computed independently:
    /// `python3 -c 'import hmac,hashlib; print(hmac.new(bytes(range(32)), b"caller/v1|+14155550123", hashlib.sha256).hexdigest())'`
    #[test]
    fn known_answer() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            CallerToken::compute(&key, "+14155550123").as_str(),
            "7192128c04e44b632a8a5880a28afe8ecbfd6a2068fb1be0fcefbdff523df50b"
        );
    }

    #[test]
    fn equal_numbers_match_within_a_key_and_not_across_keys() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        let a = CallerToken::compute(&k1, "+14155550123");
        assert_eq!(a, CallerToken::compute(&k1, "+14155550123"));
        assert_ne!(a, CallerToken::compute(&k1, "+14155550124"));
        assert_ne!(a, CallerToken::compute(&k2, "+14155550123"));
        assert!(!format!("{a:?}").contains(&a.as_str()[..12]));
    }
}
