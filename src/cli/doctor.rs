//! `doctor`: checks an installation before a caller finds out what is wrong.
//! One line per check (`ok`, `warn` or `FAIL`), and a non-zero exit if any
//! check failed. Nothing here changes anything, and no secret, phone number or
//! token is printed.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use secrecy::ExposeSecret;

use super::CliError;
use super::provider::{explain, is_loopback_url, public_url_for_provider};
use crate::config::Config;
use crate::store::{Db, redact_url};
use crate::telephony::provider::{NumberWebhooks, Provider};
use crate::vault::{KEYSTORE_DIR, SERVER_KEY_FILE};

/// How far our clock may be from the provider's: webhook signatures carry no
/// time, but retention epochs, caller-token windows and TOTP codes all do.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5);
/// How long the provider gets to answer a check.
const PROVIDER_PATIENCE: Duration = Duration::from_secs(5);
/// Where the deploy guide's backups go: the keystore must never be under them.
pub const BACKED_UP: &[&str] = &["/var/backups", "/backup", "/backups"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

/// One check's line.
pub struct Check {
    pub verdict: Verdict,
    pub name: &'static str,
    pub detail: String,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check { verdict: Verdict::Ok, name, detail: detail.into() }
    }
    fn warn(name: &'static str, detail: impl Into<String>) -> Check {
        Check { verdict: Verdict::Warn, name, detail: detail.into() }
    }
    fn fail(name: &'static str, detail: impl Into<String>) -> Check {
        Check { verdict: Verdict::Fail, name, detail: detail.into() }
    }

    pub fn line(&self) -> String {
        let mark = match self.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        format!("{mark}  {:<10} {}", self.name, self.detail)
    }
}

/// The line `doctor` prints when the configuration itself does not load.
pub fn config_failed(error: &str) -> String {
    Check::fail("config", error).line()
}

pub async fn run(config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let mut failed = 0;
    let mut report = |check: Check, out: &mut dyn Write| -> Result<(), CliError> {
        if check.verdict == Verdict::Fail {
            failed += 1;
        }
        writeln!(out, "{}", check.line())?;
        Ok(())
    };
    report(Check::ok("config", "loaded"), out)?;
    for check in files(&config) {
        report(check, out)?;
    }
    report(database(&config).await, out)?;
    report(public_url(&config), out)?;
    for check in provider(&config).await {
        report(check, out)?;
    }
    report(call_rate(&config), out)?;
    if failed > 0 {
        return Err(CliError(format!("{failed} check(s) failed")));
    }
    Ok(())
}

/// The data dir, keystore and server key: present, ours, and closed to others.
fn files(config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let dir = &config.data_dir;
    checks.push(private("data dir", dir, true));
    let keystore = dir.join(KEYSTORE_DIR);
    let mut keystore_check = private("keystore", &keystore, true);
    if keystore_check.verdict == Verdict::Ok {
        let loose: Vec<String> = std::fs::read_dir(&keystore)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.metadata().is_ok_and(|m| m.mode() & 0o077 != 0 || m.uid() != euid()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if !loose.is_empty() {
            keystore_check = Check::fail(
                "keystore",
                format!("{} key file(s) readable by others or not owned by this user", loose.len()),
            );
        }
    }
    checks.push(keystore_check);
    checks.push(match config.server_key {
        Some(_) => Check::ok("server key", "from the server_key setting"),
        None => private("server key", &dir.join(SERVER_KEY_FILE), false),
    });
    checks.push(backups(&keystore));
    checks
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A directory (0700) or file (0600) owned by the user running this.
fn private(name: &'static str, path: &Path, is_dir: bool) -> Check {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Check::fail(name, format!("{shown} does not exist: run `quietline init` (or serve) first"));
        }
        Err(e) => return Check::fail(name, format!("{shown}: {e}")),
    };
    if meta.is_dir() != is_dir {
        let what = if is_dir { "a directory" } else { "a file" };
        return Check::fail(name, format!("{shown} is not {what}"));
    }
    if meta.uid() != euid() {
        return Check::fail(
            name,
            format!(
                "{shown} belongs to uid {}, not to this user (uid {}): run doctor as the service's user",
                meta.uid(),
                euid()
            ),
        );
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        let wanted = if is_dir { "700" } else { "600" };
        return Check::fail(name, format!("{shown} is mode {mode:o}: others can read it (chmod {wanted})"));
    }
    Check::ok(name, format!("{shown} ({mode:o}, this user's)"))
}

/// The keystore outside every directory the deploy guide backs up.
fn backups(keystore: &Path) -> Check {
    let real = std::fs::canonicalize(keystore).unwrap_or_else(|_| keystore.to_path_buf());
    match BACKED_UP.iter().find(|b| real.starts_with(b)) {
        Some(b) => Check::fail(
            "backups",
            format!(
                "the keystore is inside {b}, which backups copy: a backed-up keystore keeps expired content readable"
            ),
        ),
        None => Check::ok("backups", format!("the keystore is outside {}", BACKED_UP.join(", "))),
    }
}

/// The database answers, and every migration of this version is applied.
async fn database(config: &Config) -> Check {
    let url = config.database_url();
    let shown = redact_url(url.expose_secret());
    if url.expose_secret().starts_with("sqlite:") {
        let file = config.data_dir.join("quietline.db");
        if !file.exists() {
            return Check::fail("database", format!("{} does not exist: run `quietline init` first", file.display()));
        }
    }
    let db = match tokio::time::timeout(Duration::from_secs(10), Db::connect(&url)).await {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => return Check::fail("database", e.to_string()),
        Err(_) => return Check::fail("database", format!("{shown} did not answer within 10 s")),
    };
    let pending = db.pending_migrations().await;
    db.close().await;
    match pending {
        Ok(0) => Check::ok("database", format!("{shown} ({} backend; migrations applied)", db.backend().name())),
        Ok(n) => Check::fail("database", format!("{n} migration(s) not applied: run `quietline migrate`")),
        Err(e) => Check::fail("database", format!("{shown}: {e}")),
    }
}

fn public_url(config: &Config) -> Check {
    match public_url_for_provider(config) {
        Ok(url) if is_loopback_url(url) => {
            Check::warn("public url", format!("{url} is plain http on loopback: fine for a drill, not for callers"))
        }
        Ok(url) => Check::ok("public url", url.to_string()),
        Err(e) => Check::fail("public url", e),
    }
}

/// The credentials, the clock, and the number's webhooks, with read-only requests.
async fn provider(config: &Config) -> Vec<Check> {
    let Some(provider) = Provider::with_timeout(config, PROVIDER_PATIENCE) else {
        return vec![Check::fail("provider", "set provider_account_sid and provider_auth_token")];
    };
    let mut checks = Vec::new();
    let account = match provider.account().await {
        Ok(a) => a,
        Err(e) => {
            let why = if e.status == 0 {
                format!(
                    "the provider at {} did not answer within {} s",
                    config.provider.api_base,
                    PROVIDER_PATIENCE.as_secs()
                )
            } else {
                explain(config, &e)
            };
            return vec![Check::fail("provider", why)];
        }
    };
    checks.push(match (account.value.status.as_str(), account.value.kind.as_str()) {
        ("active", "Trial") => Check::warn(
            "provider",
            "the credentials work, but this is a trial account: it calls verified numbers only, 5 calls at once",
        ),
        ("active", kind) => Check::ok("provider", format!("the credentials work ({kind} account, active)")),
        (status, _) => Check::fail("provider", format!("the account is {status}: calls and texts will fail")),
    });
    checks.push(clock(account.date, SystemTime::now()));
    checks.push(webhooks(config, &provider).await);
    checks
}

/// Our clock against the provider's `Date` header.
pub fn clock(theirs: Option<SystemTime>, ours: SystemTime) -> Check {
    let Some(theirs) = theirs else {
        return Check::warn("clock", "the provider's answer had no Date header to compare with");
    };
    let (skew, word) = match ours.duration_since(theirs) {
        Ok(ahead) => (ahead, "ahead of"),
        Err(e) => (e.duration(), "behind"),
    };
    // The header has whole seconds: allow for the one it rounds away.
    if skew <= MAX_CLOCK_SKEW + Duration::from_secs(1) {
        Check::ok("clock", format!("within {} s of the provider's", MAX_CLOCK_SKEW.as_secs()))
    } else {
        Check::fail(
            "clock",
            format!(
                "{} s {word} the provider's: retention epochs, caller-token windows and sign-in codes go wrong \
                 (set up NTP, e.g. systemd-timesyncd)",
                skew.as_secs()
            ),
        )
    }
}

async fn webhooks(config: &Config, provider: &Provider) -> Check {
    let Some(number) = &config.provider.hotline_number else {
        return Check::fail("number", "set hotline_number");
    };
    let found = match provider.find_number(number.as_str()).await {
        Ok(Some(n)) => n,
        Ok(None) => return Check::fail("number", "hotline_number is not a number of this provider account"),
        Err(e) => return Check::fail("number", explain(config, &e)),
    };
    if let Some(elsewhere) = found.voice_elsewhere() {
        return Check::fail("number", format!("its calls go to {elsewhere}, not to this server"));
    }
    let Some(public) = config.public_url.as_deref() else {
        return Check::fail("number", "set public_url to check where the number's webhooks point");
    };
    let wanted = NumberWebhooks::for_server(public);
    let wrong = found.webhooks.differences(&wanted);
    if wrong.is_empty() {
        return Check::ok("number", format!("its voice, status and messaging webhooks point at {public}"));
    }
    let names: Vec<&str> = wrong.iter().map(|(name, _, _)| *name).collect();
    Check::fail(
        "number",
        format!("its {} webhook(s) point elsewhere: run `quietline provider connect`", names.join(", ")),
    )
}

/// REST-created calls go out at the account's rate (1 per second by default).
/// A tier's phones ring from the caller's leg and are not held to it; call
/// backs are.
fn call_rate(config: &Config) -> Check {
    let rate = config.provider.call_rate;
    if rate == 1 {
        Check::warn(
            "call rate",
            "the account is on the provider's default rate of 1 call per second: hotline calls ring every \
             phone of a tier at once, but call backs started together go out one per second; ask the \
             provider to raise the rate, then set provider_call_rate"
                .to_string(),
        )
    } else {
        Check::ok("call rate", format!("{rate} calls per second (provider_call_rate)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_check_allows_a_few_seconds_either_way() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(clock(Some(now - Duration::from_secs(3)), now).verdict, Verdict::Ok);
        assert_eq!(clock(Some(now + Duration::from_secs(6)), now).verdict, Verdict::Ok);
        let ahead = clock(Some(now - Duration::from_secs(42)), now);
        assert_eq!(ahead.verdict, Verdict::Fail);
        assert!(ahead.detail.starts_with("42 s ahead of"), "{}", ahead.detail);
        assert!(clock(Some(now + Duration::from_secs(90)), now).detail.starts_with("90 s behind"));
        assert_eq!(clock(None, now).verdict, Verdict::Warn);
    }

    #[test]
    fn the_keystore_under_a_backup_directory_fails() {
        assert_eq!(backups(Path::new("/var/backups/quietline/keystore")).verdict, Verdict::Fail);
        assert_eq!(backups(Path::new("/var/lib/quietline/keystore")).verdict, Verdict::Ok);
    }
}
