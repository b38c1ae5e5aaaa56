//! Passwords: argon2id with the crate's defaults (19 MiB, 2 passes, the OWASP
//! minimum), hashed off the async threads. A minimum length, and a guessability
//! estimate by zxcvbn (dictionaries of common passwords, names, words, keyboard
//! patterns, dates and l33t substitutions) that must put a password beyond 10^10
//! guesses, with the alias and the hotline's own words counted against it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use secrecy::{ExposeSecret, SecretString};

pub const MIN_LEN: usize = 12;
/// How many argon2 computations may run at once (see `AppState::hash_slots`).
pub const CONCURRENT_HASHES: usize = 2;
pub const MAX_LEN: usize = 128;

/// Words of a hotline's own that attackers who know it would try first.
const OWN_WORDS: &[&str] = &[
    "quietline",
    "hotline",
    "volunteer",
    "observer",
    "dispatcher",
    "coordinator",
    "attorney",
    "solidarity",
    "sanctuary",
    "rapidresponse",
    "knowyourrights",
    "abolishice",
    "iceout",
    "nomoreraids",
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
    if password.to_lowercase().contains(&alias.to_lowercase()) {
        return Err("the password must not contain your alias".into());
    }
    let mut inputs = vec![alias];
    inputs.extend_from_slice(OWN_WORDS);
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if estimate.score() < zxcvbn::Score::Four {
        let why = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()).or_else(|| f.suggestions().first().map(|s| s.to_string())))
            .unwrap_or_else(|| "it would be found with too few guesses".to_string());
        return Err(format!(
            "that password is too easy to guess ({}); a few unrelated words make a strong one",
            why.trim_end_matches('.').to_lowercase()
        ));
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
        assert!(check_rules("ana-is-my-name-1", "ana").unwrap_err().contains("alias"));
        for weak in
            ["password1234", "aaaaaaaaaaaaaaab", "qwertyuiop12", "quietline2026!", "Sanctuary123!", "123456789012"]
        {
            let why = check_rules(weak, "ana").unwrap_err();
            assert!(why.starts_with("that password is too easy to guess ("), "{weak}: {why}");
        }
        assert!(check_rules("river glass orbit 19", "ana").is_ok());
        assert!(check_rules("copper lantern meadow 42", "ana").is_ok());
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
