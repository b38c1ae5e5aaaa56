//! TOTP (RFC 6238): HMAC-SHA1, 6 digits, 30-second steps, what every
//! authenticator app expects. A code is accepted for the current step and one on
//! either side (clock drift); the step it matched is returned so the caller can
//! refuse it a second time.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::Zeroizing;

pub const STEP_SECS: i64 = 30;
const DIGITS: u32 = 6;
/// 160 bits, the size RFC 4226 recommends for HMAC-SHA1.
pub const SECRET_LEN: usize = 20;

/// An authenticator secret. No `Debug`, zeroized on drop.
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn generate() -> Result<Secret, getrandom::Error> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_LEN]);
        getrandom::fill(&mut bytes)?;
        Ok(Secret(bytes))
    }

    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Secret {
        Secret(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Base32 (RFC 4648, no padding), as authenticator apps take it.
    pub fn base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32(&self.0))
    }

    /// The `otpauth://` URI a QR code carries.
    pub fn uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let label = format!("{}:{}", percent(issuer), percent(account));
        Zeroizing::new(format!(
            "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            self.base32().as_str(),
            percent(issuer)
        ))
    }

    /// The code for one step.
    pub fn code_at_step(&self, step: i64) -> u32 {
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[19] & 0x0f);
        let bin =
            u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
        bin % 10u32.pow(DIGITS)
    }

    /// The step a code matches at `unix_secs` (±1 step), if any.
    pub fn matching_step(&self, code: &str, unix_secs: i64) -> Option<i64> {
        let code = code.trim().replace(' ', "");
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let wanted: u32 = code.parse().ok()?;
        let now = unix_secs.div_euclid(STEP_SECS);
        // Every candidate is computed, so timing does not tell which one matched.
        let mut found = None;
        for step in [now - 1, now, now + 1] {
            if self.code_at_step(step) == wanted && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn percent(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> Secret {
        Secret::from_bytes(Zeroizing::new(b"12345678901234567890".to_vec()))
    }

    /// RFC 6238 appendix B, SHA-1, last six of the eight digits.
    #[test]
    fn rfc6238_vectors() {
        let s = rfc_secret();
        for (time, eight) in [
            (59i64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(s.code_at_step(time / STEP_SECS), eight % 1_000_000, "t={time}");
        }
    }

    #[test]
    fn codes_match_within_one_step_only() {
        let s = rfc_secret();
        let t = 1_234_567_890;
        let code = format!("{:06}", s.code_at_step(t / STEP_SECS));
        assert_eq!(s.matching_step(&code, t), Some(t / STEP_SECS));
        assert_eq!(s.matching_step(&code, t + 30), Some(t / STEP_SECS));
        assert_eq!(s.matching_step(&code, t + 95), None);
        assert_eq!(s.matching_step("12345", t), None);
        assert_eq!(s.matching_step("abcdef", t), None);
    }

    #[test]
    fn base32_and_uri() {
        assert_eq!(base32(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32(b"f"), "MY");
        let uri = rfc_secret().uri("quietline", "ana maria");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/quietline:ana%20maria?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=quietline\
             &algorithm=SHA1&digits=6&period=30"
        );
    }
}
