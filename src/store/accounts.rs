//! Queries on credentials, enrollment codes, sessions and failed sign-ins.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

/// What signing in checks, for one volunteer.
pub struct Credentials {
    pub password_hash: Option<String>,
    pub totp_sealed: Option<Vec<u8>>,
    pub totp_confirmed: bool,
    pub totp_last_step: i64,
    pub revoked: bool,
}

pub async fn credentials<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
) -> Result<Option<Credentials>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT password_hash, totp_sealed, totp_confirmed, totp_last_step, revoked FROM volunteers WHERE id = $1",
    )
    .bind(volunteer_id)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok(Credentials {
            password_hash: r.try_get(0)?,
            totp_sealed: r.try_get(1)?,
            totp_confirmed: r.try_get::<i64, _>(2)? == 1,
            totp_last_step: r.try_get(3)?,
            revoked: r.try_get::<i64, _>(4)? == 1,
        })
    })
    .transpose()
}

/// A new password; the authenticator must be enrolled (again) after it.
pub async fn set_password<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE volunteers SET password_hash = $1, totp_sealed = NULL, totp_confirmed = 0, totp_last_step = 0 \
         WHERE id = $2",
    )
    .bind(password_hash)
    .bind(volunteer_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// An authenticator secret waiting for its first code.
pub async fn set_pending_totp<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    sealed: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE volunteers SET totp_sealed = $1, totp_confirmed = 0, totp_last_step = 0 WHERE id = $2")
        .bind(sealed)
        .bind(volunteer_id)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn confirm_totp<'e>(ex: impl Executor<'e, Database = Any>, volunteer_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE volunteers SET totp_confirmed = 1 WHERE id = $1").bind(volunteer_id).execute(ex).await?;
    Ok(())
}

/// Records that a code of `step` was used, if no code of this or a later step
/// was: the one statement that makes a code single-use, on any instance.
pub async fn use_totp_step<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    step: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE volunteers SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
        .bind(step)
        .bind(volunteer_id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A sign-in's code of `step`, recorded only while the account is still the one
/// that was verified: not revoked, and with the password hash that matched. A
/// revocation (or a new password) that landed while the password was being
/// checked makes this false, and no session is made.
pub async fn use_sign_in_step<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    step: i64,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE volunteers SET totp_last_step = $1 \
         WHERE id = $2 AND totp_last_step < $1 AND revoked = 0 AND totp_confirmed = 1 AND password_hash = $3",
    )
    .bind(step)
    .bind(volunteer_id)
    .bind(password_hash)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the volunteer's row for this transaction before anything else of theirs
/// (on PostgreSQL a row lock; SQLite's write transaction holds the whole file),
/// so that enrollment and revocation, which both start here, never deadlock.
pub async fn lock_volunteer<'e>(ex: impl Executor<'e, Database = Any>, volunteer_id: i64) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE volunteers SET revoked = revoked WHERE id = $1").bind(volunteer_id).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets a volunteer's password and authenticator: they must enroll again.
pub async fn clear_credentials<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE volunteers SET password_hash = NULL, totp_sealed = NULL, totp_confirmed = 0, totp_last_step = 0 \
         WHERE id = $1",
    )
    .bind(volunteer_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Sets a volunteer's one enrollment code (replacing an earlier one).
pub async fn set_enrollment_code<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    code_hash: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enrollment_codes (volunteer_id, code_hash, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (volunteer_id) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at",
    )
    .bind(volunteer_id)
    .bind(code_hash)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether a code matches a volunteer's live enrollment code (without using it).
pub async fn enrollment_code_matches<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    code_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM enrollment_codes WHERE volunteer_id = $1 AND code_hash = $2 AND expires_at > $3",
    )
    .bind(volunteer_id)
    .bind(code_hash)
    .bind(now)
    .fetch_one(ex)
    .await?;
    Ok(n == 1)
}

pub async fn delete_enrollment_code<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM enrollment_codes WHERE volunteer_id = $1").bind(volunteer_id).execute(ex).await?;
    Ok(())
}

/// Marks a volunteer revoked (and off shift), or clears the mark when they enroll again.
pub async fn set_revoked<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    revoked: bool,
) -> Result<(), sqlx::Error> {
    let sql = if revoked {
        "UPDATE volunteers SET revoked = 1, on_shift = 0 WHERE id = $1"
    } else {
        "UPDATE volunteers SET revoked = 0 WHERE id = $1"
    };
    sqlx::query(sql).bind(volunteer_id).execute(ex).await?;
    Ok(())
}

pub async fn is_revoked<'e>(ex: impl Executor<'e, Database = Any>, volunteer_id: i64) -> Result<bool, sqlx::Error> {
    let n: Option<i64> = sqlx::query_scalar("SELECT revoked FROM volunteers WHERE id = $1")
        .bind(volunteer_id)
        .fetch_optional(ex)
        .await?;
    Ok(n == Some(1))
}

/// Uses up a volunteer's enrollment code if it matches and is live.
pub async fn take_enrollment_code<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
    code_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM enrollment_codes WHERE volunteer_id = $1 AND code_hash = $2 AND expires_at > $3")
            .bind(volunteer_id)
            .bind(code_hash)
            .bind(now)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: i64,
    pub volunteer_id: i64,
    pub csrf_token: String,
    pub stage: String,
    pub last_seen: i64,
    pub expires_at: i64,
}

fn session_from_row(r: &AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        id: r.try_get(0)?,
        volunteer_id: r.try_get(1)?,
        csrf_token: r.try_get(2)?,
        stage: r.try_get(3)?,
        last_seen: r.try_get(4)?,
        expires_at: r.try_get(5)?,
    })
}

pub struct NewSession<'a> {
    pub volunteer_id: i64,
    pub token_hash: &'a str,
    pub csrf_token: &'a str,
    pub stage: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

pub async fn insert_session<'e>(
    ex: impl Executor<'e, Database = Any>,
    new: &NewSession<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO sessions (volunteer_id, token_hash, csrf_token, stage, last_seen, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(new.volunteer_id)
    .bind(new.token_hash)
    .bind(new.csrf_token)
    .bind(new.stage)
    .bind(new.now)
    .bind(new.expires_at)
    .fetch_one(ex)
    .await
}

/// The session with this token hash, if its volunteer is not revoked.
pub async fn session_by_hash<'e>(
    ex: impl Executor<'e, Database = Any>,
    token_hash: &str,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query(
        "SELECT s.id, s.volunteer_id, s.csrf_token, s.stage, s.last_seen, s.expires_at FROM sessions s \
         JOIN volunteers v ON v.id = s.volunteer_id WHERE s.token_hash = $1 AND v.revoked = 0",
    )
    .bind(token_hash)
    .fetch_optional(ex)
    .await?
    .as_ref()
    .map(session_from_row)
    .transpose()
}

pub async fn touch_session<'e>(ex: impl Executor<'e, Database = Any>, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id = $2").bind(now).bind(id).execute(ex).await?;
    Ok(())
}

pub async fn set_session_stage<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: i64,
    stage: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET stage = $1 WHERE id = $2").bind(stage).bind(id).execute(ex).await?;
    Ok(())
}

pub async fn delete_session<'e>(ex: impl Executor<'e, Database = Any>, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(ex).await?;
    Ok(())
}

pub async fn delete_sessions_of<'e>(
    ex: impl Executor<'e, Database = Any>,
    volunteer_id: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sessions WHERE volunteer_id = $1").bind(volunteer_id).execute(ex).await?;
    Ok(done.rows_affected())
}

pub async fn insert_failure<'e>(
    ex: impl Executor<'e, Database = Any>,
    bucket: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failures (bucket, at) VALUES ($1, $2)").bind(bucket).bind(at).execute(ex).await?;
    Ok(())
}

pub async fn count_failures<'e>(
    ex: impl Executor<'e, Database = Any>,
    bucket: &str,
    since: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE bucket = $1 AND at >= $2")
        .bind(bucket)
        .bind(since)
        .fetch_one(ex)
        .await
}

/// Sessions past their lifetime or idle since `idle_before`, expired codes, and
/// failures older than `failures_before`.
pub async fn sweep(
    conn: &mut sqlx::AnyConnection,
    now: i64,
    idle_before: i64,
    failures_before: i64,
) -> Result<u64, sqlx::Error> {
    let mut n = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen <= $2")
        .bind(now)
        .bind(idle_before)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    n += sqlx::query("DELETE FROM enrollment_codes WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    n += sqlx::query("DELETE FROM login_failures WHERE at < $1")
        .bind(failures_before)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n)
}
