//! TOTP (RFC 6238): HMAC-SHA1, 6 digits, 30-second steps, what every
//! authenticator app expects, computed by `totp-rs`. A code is accepted for the
//! current step and one on either side (clock drift); the step it matched is
//! returned so the caller can refuse it a second time.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

pub const STEP_SECS: i64 = 30;
const DIGITS: usize = 6;
/// 160 bits, the size RFC 4226 recommends for HMAC-SHA1.
pub const SECRET_LEN: usize = 20;

/// What the label and issuer of an `otpauth://` URI may keep unescaped.
const URI_SAFE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_');

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
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.0))
    }

    /// The `otpauth://` URI a QR code carries.
    pub fn uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let issuer = utf8_percent_encode(issuer, URI_SAFE).to_string();
        let account = utf8_percent_encode(account, URI_SAFE);
        Zeroizing::new(format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            self.base32().as_str(),
        ))
    }

    fn totp(&self) -> TOTP {
        // The checked constructor refuses secrets under 128 bits; ours are 160,
        // and secrets stored by an earlier version were too.
        TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, STEP_SECS as u64, self.0.to_vec())
    }

    /// The code for one step.
    pub fn code_at_step(&self, step: i64) -> u32 {
        let time = u64::try_from(step.max(0)).unwrap_or(0) * STEP_SECS as u64;
        self.totp().generate(time).parse().expect("six digits")
    }

    /// The step a code matches at `unix_secs` (±1 step), if any.
    pub fn matching_step(&self, code: &str, unix_secs: i64) -> Option<i64> {
        let code = code.trim().replace(' ', "");
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp();
        let now = unix_secs.div_euclid(STEP_SECS);
        // Every candidate is checked (in constant time), so timing does not tell
        // which one matched.
        let mut found = None;
        for step in [now - 1, now, now + 1] {
            let time = u64::try_from(step.max(0)).unwrap_or(0) * STEP_SECS as u64;
            if totp.check(&code, time) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
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
        assert_eq!(rfc_secret().base32().as_str(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(data_encoding::BASE32_NOPAD.encode(b"f"), "MY", "RFC 4648 §10, without padding");
        let uri = rfc_secret().uri("quietline", "ana maria");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/quietline:ana%20maria?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=quietline\
             &algorithm=SHA1&digits=6&period=30"
        );
    }
}
