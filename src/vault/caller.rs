//! Caller tokens: argon2id of the E.164 number, keyed by the window key (argon2's
//! secret input), with [`TOKEN_MEMORY_KIB`] of memory and [`TOKEN_PASSES`] passes.
//!
//! The window key lives in the keystore and is destroyed when its window ends,
//! so tokens match within a window (rate limits, blocks, an intake thread) and
//! join nothing after it. While the window lasts, whoever takes the running
//! server has the key too: the memory-hard function makes trying every number
//! of a country against the day's tokens cost days of computing instead of
//! minutes (see BENCHMARKS.md for the figures these parameters were chosen
//! from). A plain hash of a number is never computed anywhere.

use std::fmt;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::keystore::KEY_LEN;

/// Memory of one caller token, in KiB.
pub const TOKEN_MEMORY_KIB: u32 = 4096;
/// Passes over that memory.
pub const TOKEN_PASSES: u32 = 1;
/// Kept apart from every other use of the window key.
const TOKEN_SALT: &[u8] = b"quietline caller token v2";

/// A caller's identity for one window, as 64 hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CallerToken(String);

/// The memory one caller token is computed in, kept and used again: a fresh
/// 4 MiB for every caller was served, after the allocator's first free, from
/// per-thread arenas that kept it, and a surge's peak memory grew with the
/// threads that had computed tokens (250 MiB for 1 000 callers, against 59 MiB
/// with memory that goes back at once; `BENCHMARKS.md`). Wiped after each use.
pub(super) struct TokenMemory(Vec<Block>);

impl TokenMemory {
    pub(super) fn new() -> TokenMemory {
        TokenMemory(vec![Block::default(); TOKEN_MEMORY_KIB as usize])
    }

    fn wipe(&mut self) {
        use zeroize::Zeroize;
        self.0.iter_mut().for_each(Block::zeroize);
    }
}

impl Drop for TokenMemory {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl CallerToken {
    /// The token, computed in `memory`, which is wiped afterwards.
    pub(super) fn compute(window_key: &[u8; KEY_LEN], e164: &str, memory: &mut TokenMemory) -> CallerToken {
        let argon = argon(window_key, TOKEN_MEMORY_KIB, TOKEN_PASSES);
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into_with_memory(e164.as_bytes(), TOKEN_SALT, &mut out[..], &mut memory.0[..])
            .expect("valid argon2 input");
        memory.wipe();
        CallerToken(super::hex(&out[..]))
    }

    /// The token with other parameters, for the benchmark that chose them.
    pub fn compute_with(window_key: &[u8; KEY_LEN], e164: &str, memory_kib: u32, passes: u32) -> CallerToken {
        let argon = argon(window_key, memory_kib, passes);
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        argon.hash_password_into(e164.as_bytes(), TOKEN_SALT, &mut out[..]).expect("valid argon2 input");
        CallerToken(super::hex(&out[..]))
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

fn argon(window_key: &[u8; KEY_LEN], memory_kib: u32, passes: u32) -> Argon2<'_> {
    let params = Params::new(memory_kib, passes, 1, Some(32)).expect("valid argon2 parameters");
    Argon2::new_with_secret(window_key, Algorithm::Argon2id, Version::V0x13, params)
        .expect("a 32-byte secret is accepted")
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

    /// Known answer for the keyed HMAC used for sign-in limit buckets, computed
    /// independently:
    /// `python3 -c 'import hmac,hashlib; print(hmac.new(bytes(range(32)), b"caller/v1|+14155550123", hashlib.sha256).hexdigest())'`
    #[test]
    fn known_answer() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            CallerToken::compute_in(&key, b"caller/v1|", "+14155550123").as_str(),
            "7192128c04e44b632a8a5880a28afe8ecbfd6a2068fb1be0fcefbdff523df50b"
        );
    }

    /// The token is argon2id with the window key as its secret input: the same
    /// inputs give the same token; another key, number or memory size another.
    #[test]
    fn tokens_are_argon2id_keyed_by_the_window_key() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let a = CallerToken::compute_with(&key, "+14155550123", 64, 1);
        assert_eq!(a, CallerToken::compute_with(&key, "+14155550123", 64, 1));
        assert_ne!(a, CallerToken::compute_with(&[7u8; 32], "+14155550123", 64, 1));
        assert_ne!(a, CallerToken::compute_with(&key, "+14155550124", 64, 1));
        assert_ne!(a, CallerToken::compute_with(&key, "+14155550123", 128, 1), "the memory is part of it");
        // Without the key it is not the plain (unkeyed) argon2id of the number.
        let plain = {
            let params = Params::new(64, 1, 1, Some(32)).unwrap();
            let mut out = [0u8; 32];
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_into(b"+14155550123", TOKEN_SALT, &mut out)
                .unwrap();
            super::super::hex(&out)
        };
        assert_ne!(a.as_str(), plain);
    }

    #[test]
    fn equal_numbers_match_within_a_key_and_not_across_keys() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        let mut memory = TokenMemory::new();
        let a = CallerToken::compute(&k1, "+14155550123", &mut memory);
        assert_eq!(a, CallerToken::compute(&k1, "+14155550123", &mut memory), "memory used again gives the same");
        assert_ne!(a, CallerToken::compute(&k1, "+14155550124", &mut memory));
        assert_ne!(a, CallerToken::compute(&k2, "+14155550123", &mut memory));
        assert!(!format!("{a:?}").contains(&a.as_str()[..12]));
    }

    /// Computed in kept memory, a token is the one argon2 computes in memory
    /// of its own, and nothing derived from the number is left in that memory.
    #[test]
    fn kept_memory_gives_the_same_token_and_is_wiped() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let mut memory = TokenMemory::new();
        let token = CallerToken::compute(&key, "+14155550123", &mut memory);
        assert_eq!(token, CallerToken::compute_with(&key, "+14155550123", TOKEN_MEMORY_KIB, TOKEN_PASSES));
        let zero = Block::default();
        assert!(
            memory.0.iter().all(|b| AsRef::<[u64]>::as_ref(b) == AsRef::<[u64]>::as_ref(&zero)),
            "the blocks are wiped"
        );
    }
}
