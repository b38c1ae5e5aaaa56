//! Passwords: argon2id with the crate's defaults (19 MiB, 2 passes, the OWASP
//! minimum), hashed off the async threads. A minimum length and a short list of
//! passwords every attacker tries first.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use secrecy::{ExposeSecret, SecretString};

pub const MIN_LEN: usize = 12;
/// How many argon2 computations may run at once (see `AppState::hash_slots`).
pub const CONCURRENT_HASHES: usize = 2;
pub const MAX_LEN: usize = 128;

/// Passwords attackers try first (the top of public breach lists), and words a
/// hotline's own people would reach for. Compared in lowercase.
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "password1234",
    "password12345",
    "passwordpassword",
    "qwertyuiop12",
    "qwertyuiopas",
    "iloveyou1234",
    "111111111111",
    "000000000000",
    "123123123123",
    "abc123abc123",
    "aaaaaaaaaaaa",
    "letmein12345",
    "welcome12345",
    "changeme1234",
    "administrator",
    "football1234",
    "baseball1234",
    "sunshine1234",
    "princess1234",
    "monkey123456",
    "dragon123456",
    "trustno1trustno1",
    "qwerty123456",
    "1q2w3e4r5t6y",
    "zaq12wsxcde3",
    "passw0rd1234",
    "p@ssw0rd1234",
    "contraseña123",
    "contrasena123",
    "quietline123",
    "quietline1234",
    "hotline12345",
    "hotline123456",
    "volunteer123",
    "volunteer1234",
    "observer1234",
    "dispatcher12",
    "coordinator1",
    "solidarity12",
    "nomoreraids1",
    "abolishice123",
    "iceoutnow1234",
    "sanctuary123",
    "rapidresponse",
    "knowyourrights",
];

/// Checks a new password against the rules; the reason is safe to show.
pub fn check_rules(password: &str, alias: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(format!("the password must be at least {MIN_LEN} characters"));
    }
    if len > MAX_LEN {
        return Err(format!("the password must be at most {MAX_LEN} characters"));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) || lower.contains(&alias.to_lowercase()) {
        return Err("that password is too easy to guess; choose a longer, less common one".into());
    }
    if password.chars().collect::<std::collections::HashSet<_>>().len() < 4 {
        return Err("that password is too easy to guess; choose a longer, less common one".into());
    }
    Ok(())
}

/// Hashes a password (PHC string) in a blocking task.
pub async fn hash(password: SecretString) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| format!("random: {e}"))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("hashing task: {e}"))?
}

/// A valid hash of a password nobody has, checked when the account does not
/// exist or has no password, so that answer takes as long as any other.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4hZ9U7M3q8QmC8s7B4w2fE0n0Z3u5M7p5wq3oOQe1rY";

/// Whether `password` matches `stored`; always runs one argon2 verification.
pub async fn verify(stored: Option<String>, password: SecretString) -> bool {
    let has_account = stored.is_some();
    let stored = stored.unwrap_or_else(|| DUMMY.to_string());
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else { return false };
        let ok = Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok();
        ok && has_account
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(check_rules("short", "ana").is_err());
        assert!(check_rules("password1234", "ana").is_err());
        assert!(check_rules("ana-is-my-name-1", "ana").is_err());
        assert!(check_rules("aaaaaaaaaaaaaaab", "ana").is_err());
        assert!(check_rules("river glass orbit 19", "ana").is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_and_the_dummy_never_does() {
        let h = hash(SecretString::from("river glass orbit 19")).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Some(h.clone()), SecretString::from("river glass orbit 19")).await);
        assert!(!verify(Some(h), SecretString::from("river glass orbit 20")).await);
        assert!(PasswordHash::new(DUMMY).is_ok(), "the dummy hash parses, so it costs a real verification");
        assert!(!verify(None, SecretString::from("anything at all")).await);
    }
}
