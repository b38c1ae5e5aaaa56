//! Enrollment, sign-in and sessions.
//!
//! - Enrollment: a one-time code from a coordinator (or `quietline volunteer
//!   enroll`), then a password, then an authenticator: until its first code is
//!   accepted, the session can do nothing but finish enrolling.
//! - Sign-in: alias, password and a TOTP code. Every failure gives the same
//!   answer after one argon2 verification, whether or not the alias exists. Codes
//!   are single-use (the step is recorded in one conditional update). Failures
//!   are limited per alias and per keyed hash of the client's network.
//! - Sessions: a random token in an `HttpOnly; Secure; SameSite=Strict` cookie,
//!   stored as a SHA-256 hash; 30 minutes idle, 12 hours at most.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::password;
use super::totp::{self, Secret};
use crate::AppState;
use crate::audit::{self, Actor};
use crate::roster::{self, Volunteer};
use crate::store::accounts as db;
use crate::vault::AgeRecipient;

pub const IDLE: Duration = Duration::from_secs(30 * 60);
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// The session cookie. `__Host-` makes the browser refuse it unless it is Secure,
/// for this exact host and the whole site: no subdomain or other path can set
/// or shadow it.
pub const COOKIE: &str = "__Host-ql_session";
/// The window of the sign-in limits.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins per alias, then per client network, within the window.
const MAX_FAILURES_ACCOUNT: i64 = 5;
const MAX_FAILURES_NETWORK: i64 = 20;
/// Touching a session's last-seen time at most this often keeps writes down.
const TOUCH_EVERY_SECS: i64 = 60;

/// The stage a session is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Password set; the authenticator is still to be enrolled.
    Totp,
    Full,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Totp => "totp",
            Stage::Full => "full",
        }
    }
}

/// A live session and its volunteer.
#[derive(Clone)]
pub struct Session {
    pub id: i64,
    pub volunteer: Volunteer,
    pub stage: Stage,
    pub csrf: String,
}

/// A new session: the token goes into the cookie and nowhere else.
pub struct Started {
    pub token: SecretString,
    pub csrf: String,
    pub stage: Stage,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Sign-in failed: one message for every reason.
    #[error("alias, password or code is not right")]
    SignInFailed,
    /// Too many failures: wait.
    #[error("too many failed attempts; wait 15 minutes and try again")]
    TooManyAttempts,
    /// Input that breaks a rule; the reason is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// The database cannot take the request now (unreachable, locked, disk full).
    #[error("{0}")]
    Unavailable(crate::store::Outage),
    /// A coordinator asked to revoke or remove themselves.
    #[error("you cannot revoke or remove yourself; ask another coordinator")]
    Yourself,
    /// The roster could not answer (its database errors keep their outage).
    #[error("{0}")]
    Roster(#[from] roster::RosterError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        match crate::store::reported_outage(&e) {
            Some(outage) => AccountError::Unavailable(outage),
            None => AccountError::Internal(e.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, AccountError>;

pub fn sha256_hex(text: &str) -> String {
    crate::vault::hex(&Sha256::digest(text.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    getrandom::fill(&mut buf).map_err(|e| AccountError::Internal(format!("random: {e}")))?;
    Ok(crate::vault::hex(&buf))
}

/// A fresh enrollment code for a volunteer, replacing any earlier one. Shown once;
/// its issue is an audit event.
pub async fn issue_enrollment_code(state: &AppState, v: &Volunteer, by: Actor<'_>) -> Result<SecretString> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut raw = Zeroizing::new([0u8; 12]);
    getrandom::fill(&mut raw[..]).map_err(|e| AccountError::Internal(format!("random: {e}")))?;
    let mut code = Zeroizing::new(String::new());
    for (i, b) in raw.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
    }
    let expires = state.vault.clock().now().plus(state.config.accounts.enrollment_code_lifetime);
    db::set_enrollment_code(state.db.pool(), v.id, &sha256_hex(&normalize_code(&code)), expires.0).await?;
    audit::record(state, by, "account.enrollment_code", "volunteer", Some(v.id)).await;
    Ok(SecretString::from(code.to_string()))
}

fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// What a volunteer sends to enroll.
pub struct Enrollment {
    pub alias: String,
    pub code: SecretString,
    pub password: SecretString,
    pub age_recipient: Option<String>,
}

/// Enrollment, first half: code and password. The session that comes back can
/// only finish enrolling (the authenticator). `network` is the client's network,
/// for the hash slots.
pub async fn enroll(state: &AppState, e: Enrollment, network: Option<&str>) -> Result<Started> {
    let recipient = match e.age_recipient.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Some(AgeRecipient::parse(r).map_err(AccountError::Invalid)?),
        None => None,
    };
    let failed = || AccountError::Invalid("that enrollment code is not right or has expired".into());
    let now = state.vault.clock().now();
    // Codes are long, but guessing is limited anyway: 5 wrong codes per alias per window.
    let buckets = limit_buckets(state, "e", &e.alias)?;
    let since = now.0 - FAILURE_WINDOW.as_secs() as i64;
    if count_failures(state, &buckets, since).await? >= MAX_FAILURES_ACCOUNT {
        return Err(AccountError::TooManyAttempts);
    }
    // Unknown alias and wrong code give one answer, so the roster cannot be probed;
    // only someone holding the code hears about the password rules.
    let code_hash = sha256_hex(&normalize_code(e.code.expose_secret()));
    let v = match roster::get(&state.db, &e.alias).await {
        Ok(v) if db::enrollment_code_matches(state.db.pool(), v.id, &code_hash, now.0).await? => v,
        _ => {
            db::insert_failure(state.db.pool(), &buckets[0], now.0).await?;
            return Err(failed());
        }
    };
    password::check_rules(e.password.expose_secret(), v.alias.as_str()).map_err(AccountError::Invalid)?;
    let hash = {
        let _slot = state.hash_slots.acquire(&slot_key(state, network)?).await;
        password::hash(e.password).await.map_err(AccountError::Internal)?
    };
    // The code is used up in the transaction that sets the password, so that a
    // revocation while the password was being hashed (it deletes the code) wins.
    let mut tx = state.db.begin_write().await?;
    db::lock_volunteer(&mut *tx, v.id).await?;
    if !db::take_enrollment_code(&mut *tx, v.id, &code_hash, now.0).await? {
        tx.rollback().await?;
        return Err(failed());
    }
    db::set_password(&mut *tx, v.id, &hash).await?;
    db::set_revoked(&mut *tx, v.id, false).await?;
    // A new password ends every other session and every API token.
    db::delete_sessions_of(&mut *tx, v.id).await?;
    crate::store::tokens::delete_for_volunteer(&mut *tx, v.id).await?;
    let key_added = match &recipient {
        Some(r) => crate::store::device_keys::insert(&mut *tx, v.id, r.as_str(), crate::keys::ENROLLMENT_LABEL, now.0)
            .await?
            .is_some(),
        None => false,
    };
    let started = insert_session(&mut tx, &v, Stage::Totp, now).await?;
    tx.commit().await?;
    audit::record(state, Actor::Volunteer(&v), "account.enroll", "volunteer", Some(v.id)).await;
    if key_added {
        audit::record(state, Actor::Volunteer(&v), "key.add", "volunteer", Some(v.id)).await;
    }
    Ok(started)
}

/// The authenticator secret being enrolled: created on first use, the same until
/// confirmed, so a reload shows the same QR code.
pub async fn pending_totp(state: &AppState, session: &Session) -> Result<Secret> {
    let creds = db::credentials(state.db.pool(), session.volunteer.id).await?.ok_or(AccountError::SignInFailed)?;
    // Only a session that is enrolling may see or set a secret: a signed-in one
    // must never replace the authenticator it signed in with.
    if session.stage != Stage::Totp || creds.totp_confirmed {
        return Err(AccountError::Invalid("the authenticator is already enrolled".into()));
    }
    if let Some(sealed) = creds.totp_sealed.filter(|_| !creds.totp_confirmed) {
        let bytes = state.vault.server().open(&sealed).map_err(|e| AccountError::Internal(e.to_string()))?;
        return Ok(Secret::from_bytes(bytes));
    }
    let secret = Secret::generate().map_err(|e| AccountError::Internal(format!("random: {e}")))?;
    let sealed = state.vault.server().seal(secret.as_bytes()).map_err(|e| AccountError::Internal(e.to_string()))?;
    db::set_pending_totp(state.db.pool(), session.volunteer.id, &sealed).await?;
    Ok(secret)
}

/// Enrollment, second half: the first code from the authenticator. The session
/// becomes a full one.
pub async fn confirm_totp(state: &AppState, session: &Session, code: &str) -> Result<()> {
    let secret = pending_totp(state, session).await?;
    let now = state.vault.clock().now();
    let step = secret
        .matching_step(code, now.0)
        .ok_or_else(|| AccountError::Invalid("that code is not right; check the time on your phone".into()))?;
    if !db::use_totp_step(state.db.pool(), session.volunteer.id, step).await? {
        return Err(AccountError::Invalid("that code was used already; wait for the next one".into()));
    }
    db::confirm_totp(state.db.pool(), session.volunteer.id).await?;
    db::set_session_stage(state.db.pool(), session.id, Stage::Full.as_str()).await?;
    audit::record(state, Actor::Volunteer(&session.volunteer), "account.totp", "volunteer", Some(session.volunteer.id))
        .await;
    Ok(())
}

/// Sign-in. `network` is the client's network (`203.0.113.0/24`), when known.
pub async fn sign_in(
    state: &AppState,
    alias: &str,
    pass: SecretString,
    code: &str,
    network: Option<&str>,
) -> Result<Started> {
    let now = state.vault.clock().now();
    let since = now.0 - FAILURE_WINDOW.as_secs() as i64;
    let account_buckets = limit_buckets(state, "a", alias)?;
    let network_buckets = match network {
        Some(n) => limit_buckets(state, "n", n)?,
        None => Vec::new(),
    };
    let mut limited = count_failures(state, &account_buckets, since).await? >= MAX_FAILURES_ACCOUNT;
    if !network_buckets.is_empty() {
        limited |= count_failures(state, &network_buckets, since).await? >= MAX_FAILURES_NETWORK;
    }
    let failed = |limited: bool| {
        let (account, network) = (account_buckets[0].clone(), network_buckets.first().cloned());
        async move {
            db::insert_failure(state.db.pool(), &account, now.0).await?;
            if let Some(b) = network {
                db::insert_failure(state.db.pool(), &b, now.0).await?;
            }
            tracing::info!("a sign-in failed");
            Err(if limited { AccountError::TooManyAttempts } else { AccountError::SignInFailed })
        }
    };
    // Over a limit: refused before any hashing, so refused sign-ins take no hash
    // slot from anyone.
    if limited {
        return failed(true).await;
    }
    // One argon2 verification on every other path, known alias or not; a few at a
    // time, one per client network. The credentials are read once the slot is
    // ours, so a revocation that landed while this sign-in waited is seen.
    let _slot = state.hash_slots.acquire(&slot_key(state, network)?).await;
    let volunteer = roster::get(&state.db, alias).await.ok();
    let creds = match &volunteer {
        Some(v) => db::credentials(state.db.pool(), v.id).await?,
        None => None,
    };
    let verified_hash = creds.as_ref().and_then(|c| c.password_hash.clone());
    let password_ok = password::verify(verified_hash.clone(), pass).await;
    let step = match (&creds, password_ok) {
        (Some(c), true) if c.totp_confirmed && !c.revoked => {
            let secret = c.totp_sealed.as_ref().and_then(|s| state.vault.server().open(s).ok()).map(Secret::from_bytes);
            secret.and_then(|s| s.matching_step(code, now.0))
        }
        _ => None,
    };
    let (Some(v), Some(step), Some(hash)) = (volunteer, step, verified_hash) else {
        return failed(false).await;
    };
    // The code is used and the session made in one transaction, and only if the
    // account is still the one verified above: not revoked, the same password.
    let mut tx = state.db.begin_write().await?;
    if !db::use_sign_in_step(&mut *tx, v.id, step, &hash).await? {
        tx.rollback().await?;
        return failed(false).await;
    }
    let started = insert_session(&mut tx, &v, Stage::Full, now).await?;
    tx.commit().await?;
    audit::record(state, Actor::Volunteer(&v), "account.sign_in", "volunteer", Some(v.id)).await;
    Ok(started)
}

async fn insert_session(
    tx: &mut crate::store::WriteTx,
    v: &Volunteer,
    stage: Stage,
    now: crate::clock::UnixTime,
) -> Result<Started> {
    let token = Zeroizing::new(format!("qls_{}", random_hex(32)?));
    let csrf = random_hex(16)?;
    let new = db::NewSession {
        volunteer_id: v.id,
        token_hash: &sha256_hex(&token),
        csrf_token: &csrf,
        stage: stage.as_str(),
        now: now.0,
        expires_at: now.plus(ABSOLUTE).0,
    };
    db::insert_session(&mut **tx, &new).await?;
    Ok(Started { token: SecretString::from(token.to_string()), csrf, stage })
}

/// The sign-in limit buckets of what was typed (an alias, a network), under the
/// current window's key and the last one's while it lives.
fn limit_buckets(state: &AppState, domain: &str, typed: &str) -> Result<Vec<String>> {
    let value = if domain == "n" { typed.to_string() } else { typed.trim().to_lowercase() };
    state.vault.limit_buckets(domain, &value).map_err(|e| AccountError::Internal(e.to_string()))
}

async fn count_failures(state: &AppState, buckets: &[String], since: i64) -> Result<i64> {
    let mut n = 0;
    for b in buckets {
        n += db::count_failures(state.db.pool(), b, since).await?;
    }
    Ok(n)
}

/// Whose turn a hash is: the client's network (keyed, as in the limits), or one
/// turn shared by every client whose network is not known.
fn slot_key(state: &AppState, network: Option<&str>) -> Result<String> {
    match network {
        Some(n) => Ok(limit_buckets(state, "n", n)?.swap_remove(0)),
        None => Ok("unknown".to_string()),
    }
}

/// The live session a cookie's token names, if any. `activity` is false for
/// requests the browser makes by itself (the dashboard's refresh): they do not
/// keep an idle session alive.
pub async fn lookup(state: &AppState, token: &str, activity: bool) -> Result<Option<Session>> {
    if !token.starts_with("qls_") || token.len() > 100 {
        return Ok(None);
    }
    let now = state.vault.clock().now().0;
    let Some(row) = db::session_by_hash(state.db.pool(), &sha256_hex(token)).await? else { return Ok(None) };
    if row.expires_at <= now || row.last_seen + IDLE.as_secs() as i64 <= now {
        db::delete_session(state.db.pool(), row.id).await?;
        return Ok(None);
    }
    let Some(volunteer) = roster::get_by_id(&state.db, row.volunteer_id).await? else { return Ok(None) };
    if activity && now - row.last_seen >= TOUCH_EVERY_SECS {
        db::touch_session(state.db.pool(), row.id, now).await?;
    }
    let stage = if row.stage == "full" { Stage::Full } else { Stage::Totp };
    Ok(Some(Session { id: row.id, volunteer, stage, csrf: row.csrf_token }))
}

pub async fn sign_out(state: &AppState, session: &Session) -> Result<()> {
    db::delete_session(state.db.pool(), session.id).await?;
    Ok(())
}

/// Ends every session and every API token of a volunteer (sign out everywhere).
pub async fn sign_out_everywhere(state: &AppState, v: &Volunteer) -> Result<u64> {
    let mut tx = state.db.begin_write().await?;
    let n = db::delete_sessions_of(&mut *tx, v.id).await?;
    crate::store::tokens::delete_for_volunteer(&mut *tx, v.id).await?;
    tx.commit().await?;
    audit::record(state, Actor::Volunteer(v), "account.sign_out_everywhere", "volunteer", Some(v.id)).await;
    Ok(n)
}

/// Revokes a volunteer without removing them: every session, API token, device
/// key and pending enrollment code ends at once, they go off shift, their texts are no
/// longer taken as commands, and they must enroll again with a new code.
pub async fn revoke(state: &AppState, v: &Volunteer, by: Actor<'_>) -> Result<()> {
    // The volunteer's row first, as enrollment does: a sign-in or enrollment in
    // flight either commits before (and its session goes below) or finds the
    // account revoked.
    let mut tx = state.db.begin_write().await?;
    db::set_revoked(&mut *tx, v.id, true).await?;
    db::clear_credentials(&mut *tx, v.id).await?;
    db::delete_sessions_of(&mut *tx, v.id).await?;
    crate::store::tokens::delete_for_volunteer(&mut *tx, v.id).await?;
    db::delete_enrollment_code(&mut *tx, v.id).await?;
    // Nothing sealed from now on reaches a device that may be in other hands.
    crate::store::device_keys::delete_all_for(&mut *tx, v.id).await?;
    tx.commit().await?;
    audit::record(state, by, "account.revoke", "volunteer", Some(v.id)).await;
    Ok(())
}

/// The network a client address belongs to: /24 for IPv4, /48 for IPv6.
pub fn network_of(addr: std::net::IpAddr) -> String {
    match addr {
        std::net::IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        std::net::IpAddr::V6(a) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// How many whole seconds a TOTP step lasts (for messages).
pub const TOTP_STEP_SECS: i64 = totp::STEP_SECS;
