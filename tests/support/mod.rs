//! Test harness: a fresh data dir and database per test, on SQLite or on
//! PostgreSQL, and helpers to drive the CLI code path, the router in process, or
//! the real binary on a real listener.
//!
//! PostgreSQL tests need `QUIETLINE_TEST_DATABASE_URL` (for example
//! `postgres://postgres@127.0.0.1:5432/test`): each test creates its own database
//! there and drops it afterwards.

#![allow(dead_code)]

pub mod line;
pub mod outage;
pub mod provider;
pub mod twiml;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use quietline::AppState;
use quietline::cli::{self, Cli};
use quietline::clock::{Clock, UnixTime};
use quietline::config::Config;

/// A reader's key pair: the identity file on disk and the public key.
pub struct Reader {
    pub file: std::path::PathBuf,
    pub public: String,
}

pub fn new_reader(dir: &std::path::Path, name: &str) -> Reader {
    use secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let file = dir.join(format!("{name}.key"));
    std::fs::write(&file, format!("{}\n", identity.to_string().expose_secret())).unwrap();
    Reader { file, public: identity.to_public().to_string() }
}

impl Reader {
    /// A note as this reader decrypts it, fetched from a server's API with `token`.
    pub async fn read_note(&self, http: &reqwest::Client, server: SocketAddr, token: &str, id: i64) -> String {
        let answer =
            http.get(format!("http://{server}/api/v1/items/{id}/ciphertext")).bearer_auth(token).send().await.unwrap();
        assert_eq!(answer.status(), 200, "note {id}");
        let ciphertext = answer.bytes().await.unwrap();
        let identities = quietline::vault::read_identity_file(&self.file).unwrap();
        String::from_utf8_lossy(&quietline::vault::open_as_reader(&ciphertext, &identities).unwrap()).into_owned()
    }
}

pub const PG_ENV: &str = "QUIETLINE_TEST_DATABASE_URL";

/// Everything the in-process servers of this test binary log, through the same
/// subscriber and allow-list the binary installs (debug level for quietline).
/// Installed on first use; tests scan it for what must never be logged.
pub fn captured_log() -> String {
    static LOG: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    let buffer = LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        quietline::logging::init_with_writer("debug", move || LogSink(sink.clone()), false)
            .expect("one global subscriber per test binary");
        buffer
    });
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a test body once per backend: `both!(name)` makes `name::sqlite` and
/// `name::postgres` from `async fn name(backend: Backend)`. The PostgreSQL variant
/// is `#[ignore]`d so that a plain `cargo test` reports it as skipped rather than
/// passed; CI runs it with `--include-ignored`, where a missing database fails.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "PostgreSQL: set QUIETLINE_TEST_DATABASE_URL and run with --include-ignored"]
            async fn postgres() {
                super::$name($crate::support::Backend::Postgres).await
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The public URL of servers started with [`TestEnv::hotline_vars`]: the
/// stand-in signs webhooks for it and its balancer forwards them.
pub const PUBLIC_URL: &str = "http://hotline.test";

/// A data dir and a database of its own, and a manual clock for what runs in
/// process (the real binary reads the system clock).
pub struct TestEnv {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub clock: Clock,
    pg: Option<PgDatabase>,
}

/// The manual clock starts at the current hour, so that what the CLI does on the
/// system clock (tokens, blocks) lines up with what the server does on this one.
fn start_of_this_hour() -> UnixTime {
    UnixTime(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64).hour()
}

impl TestEnv {
    pub async fn new(backend: Backend) -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await),
        };
        TestEnv { backend, dir, clock: Clock::manual(start_of_this_hour()), pg }
    }

    /// The data dir the server is told to use (not yet created).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// The `QUIETLINE_*` variables that point a server or command at this env.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("QUIETLINE_DATA_DIR".to_string(), self.data_dir().display().to_string()),
            ("QUIETLINE_LISTEN".to_string(), "127.0.0.1:0".to_string()),
            ("QUIETLINE_SHUTDOWN_GRACE".to_string(), "5s".to_string()),
        ];
        if let Some(pg) = &self.pg {
            env.push(("QUIETLINE_DATABASE_URL".to_string(), pg.url.clone()));
        }
        env
    }

    pub fn config(&self) -> Config {
        self.config_with(&[])
    }

    pub fn config_with(&self, extra: &[(&str, &str)]) -> Config {
        let mut env = self.env();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::load_from(None, env).expect("test config").config
    }

    /// Runs a command through the same code path as the binary, returning stdout.
    pub async fn cli(&self, args: &[&str]) -> Result<String, String> {
        self.cli_with(args, &[]).await
    }

    /// Like `cli`, with more settings in the environment.
    pub async fn cli_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Result<String, String> {
        let mut argv = vec!["quietline"];
        argv.extend_from_slice(args);
        let parsed = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        cli::run(parsed.command, self.config_with(extra), &mut out).await.map_err(|e| e.to_string())?;
        Ok(String::from_utf8(out).expect("utf-8 output"))
    }

    /// Adds a volunteer in zone `north` through the CLI code path.
    pub async fn add_volunteer(&self, alias: &str, phone: &str, roles: &str, languages: &str, key: Option<&str>) {
        self.try_add_volunteer(alias, phone, roles, languages, key)
            .await
            .unwrap_or_else(|e| panic!("adding {alias}: {e}"));
    }

    /// Like `add_volunteer`, returning the command's error instead of failing.
    pub async fn try_add_volunteer(
        &self,
        alias: &str,
        phone: &str,
        roles: &str,
        languages: &str,
        key: Option<&str>,
    ) -> Result<String, String> {
        let mut args = vec![
            "volunteer",
            "add",
            "--alias",
            alias,
            "--phone",
            phone,
            "--roles",
            roles,
            "--languages",
            languages,
            "--zones",
            "north",
        ];
        if let Some(k) = key {
            args.extend(["--age-recipient", k]);
        }
        self.cli(&args).await
    }

    /// Dispatchers `d0`, `d1`, … with these numbers, on shift, each picking up as
    /// `person` says at the stand-in.
    pub async fn dispatchers_on_shift(&self, standin: &provider::StandIn, phones: &[&str], person: provider::Person) {
        for (i, phone) in phones.iter().enumerate() {
            let alias = format!("d{i}");
            self.add_volunteer(&alias, phone, "dispatcher", "en", None).await;
            self.cli(&["shift", "on", &alias]).await.unwrap();
            standin.person(phone, person);
        }
    }

    /// A one-day API token for `alias`, made with `quietline token create`.
    pub async fn api_token(&self, alias: &str) -> String {
        let out = self.cli(&["token", "create", alias, "--lifetime", "1d"]).await.unwrap();
        out.split_whitespace().find(|w| w.starts_with("qlt_")).expect("a token").to_string()
    }

    /// Opens the data dir, database and vault as the server does, on the manual clock.
    pub async fn state(&self) -> AppState {
        self.state_with(&[]).await
    }

    pub async fn state_with(&self, extra: &[(&str, &str)]) -> AppState {
        cli::open_state(self.config_with(extra), self.clock.clone()).await.expect("open state")
    }

    /// The SQLite database file, for scanning raw bytes.
    pub fn sqlite_file(&self) -> std::path::PathBuf {
        self.data_dir().join("quietline.db")
    }

    /// Starts the real binary: `quietline serve` with this env.
    pub fn spawn_server(&self) -> ServerProcess {
        ServerProcess::spawn(&self.env(), &["serve"])
    }

    /// Settings for the real binary as a hotline behind the stand-in's balancer:
    /// call `standin.balance(PUBLIC_URL, …)` with the servers' addresses.
    /// PostgreSQL's transaction ids taken so far: every transaction that writes
    /// takes one and reads take none, so the difference over a run counts
    /// commits (the benchmarks' commits per call). `None` on SQLite.
    pub async fn write_transactions(&self, state: &AppState) -> Option<i64> {
        if self.backend != Backend::Postgres {
            return None;
        }
        sqlx::query_scalar::<_, String>("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
            .fetch_one(state.db.pool())
            .await
            .ok()
            .and_then(|x| x.parse().ok())
    }

    pub fn hotline_vars(&self, standin: &provider::StandIn) -> Vec<(String, String)> {
        let mut vars = self.env();
        for (k, v) in [
            ("QUIETLINE_PUBLIC_URL", PUBLIC_URL),
            ("QUIETLINE_HOTLINE_NUMBER", provider::HOTLINE),
            ("QUIETLINE_PROVIDER_ACCOUNT_SID", provider::ACCOUNT_SID),
            ("QUIETLINE_PROVIDER_AUTH_TOKEN", provider::AUTH_TOKEN),
            ("QUIETLINE_PROVIDER_API_BASE", &standin.base),
            ("QUIETLINE_RING_TIMEOUT", "3s"),
            ("QUIETLINE_RING_PARALLEL", "2"),
            ("QUIETLINE_SWEEP_INTERVAL", "1s"),
        ] {
            vars.push((k.to_string(), v.to_string()));
        }
        vars
    }

    /// Runs the real binary to completion with this env plus `extra`.
    pub fn run_binary(&self, args: &[&str], extra: &[(&str, &str)]) -> BinaryOutput {
        let mut env = self.env();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        run_binary(&env, args)
    }
}

pub struct BinaryOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

pub fn binary() -> Command {
    // QUIETLINE_PROFILE_WITH="heaptrack -o /tmp/surge" runs the server under a
    // profiler (the benchmarks' heap profile); never set in tests.
    let mut cmd = match std::env::var("QUIETLINE_PROFILE_WITH") {
        Ok(wrapper) if !wrapper.trim().is_empty() => {
            let mut words = wrapper.split_whitespace();
            let mut cmd = Command::new(words.next().unwrap());
            cmd.args(words).arg(env!("CARGO_BIN_EXE_quietline"));
            cmd
        }
        _ => Command::new(env!("CARGO_BIN_EXE_quietline")),
    };
    // Nothing from the developer's own environment leaks into the server under test.
    cmd.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd
}

pub fn run_binary(env: &[(String, String)], args: &[&str]) -> BinaryOutput {
    let out = binary().envs(env.iter().cloned()).args(args).output().expect("run quietline");
    BinaryOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running `quietline` process; its stderr (the log) is collected as it comes.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl ServerProcess {
    pub fn spawn(env: &[(String, String)], args: &[&str]) -> ServerProcess {
        let mut child = binary()
            .envs(env.iter().cloned())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn quietline");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(" listening ")
                    && let Some(addr) = line.split_whitespace().find_map(|w| w.strip_prefix("listen="))
                {
                    let _ = addr_tx.send(addr.parse::<SocketAddr>().expect("listen address"));
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match addr_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start; log:\n{}", log.lock().unwrap());
            }
        };
        ServerProcess { child, addr, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success(), "kill -TERM failed");
        self.wait(Duration::from_secs(20))
    }

    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Give the reader thread a moment to drain what was written last.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a test waits for something that happens in the background (a call
/// playing out, a callback arriving): generous, because CI machines are slow when
/// busy, and a wait that ends early costs nothing.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `check` every 20 ms until it holds or [`PATIENCE`] runs out; returns
/// whether it held.
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A plain HTTP/1.1 request over a fresh TCP connection; returns status and body.
pub fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// A database of one test's own on the PostgreSQL server named by
/// `QUIETLINE_TEST_DATABASE_URL`, dropped when the test ends (also on panic).
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create() -> PgDatabase {
        let admin_url = std::env::var(PG_ENV).unwrap_or_else(|_| {
            panic!("{PG_ENV} is not set: PostgreSQL tests need a server, e.g. postgres://postgres@127.0.0.1:5432/test")
        });
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("qlt_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), nanos);
        let url = with_database(&admin_url, &name);
        pg_admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
        PgDatabase { admin_url, name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop may run inside a runtime (or while unwinding): use a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(pg_admin(&admin_url, &sql));
        })
        .join();
    }
}

async fn pg_admin(admin_url: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {PG_ENV}: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut conn).await.expect(sql);
    let _ = conn.close().await;
}

/// The URL with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// Enrolls `alias` (already on the roster) through the account functions the
/// console uses, authenticator included; returns the session cookie's value.
pub async fn sign_in_session(_env: &TestEnv, state: &AppState, alias: &str) -> String {
    use quietline::accounts::sessions::{self, Enrollment};
    use secrecy::{ExposeSecret, SecretString};
    let v = quietline::roster::get(&state.db, alias).await.unwrap();
    let code = sessions::issue_enrollment_code(state, &v, quietline::audit::Actor::Operator).await.unwrap();
    let enrollment = Enrollment {
        alias: alias.to_string(),
        code,
        password: SecretString::from("river glass orbit 19"),
        age_recipient: None,
    };
    let started = sessions::enroll(state, enrollment, None).await.unwrap();
    let token = started.token.expose_secret().to_string();
    let session = sessions::lookup(state, &token, true).await.unwrap().expect("the new session");
    let secret = sessions::pending_totp(state, &session).await.unwrap();
    let step = state.vault.clock().now().0.div_euclid(30);
    sessions::confirm_totp(state, &session, &format!("{:06}", secret.code_at_step(step))).await.unwrap();
    token
}

/// What the database holds, as bytes to scan: the SQLite files, or every row of
/// every table as text on PostgreSQL.
pub async fn database_bytes(env: &TestEnv, state: &AppState) -> Vec<u8> {
    state.db.checkpoint().await.unwrap();
    match env.backend {
        Backend::Sqlite => {
            let db = env.sqlite_file();
            let mut bytes = std::fs::read(&db).unwrap();
            for extra in [db.with_extension("db-wal"), db.with_extension("db-shm")] {
                bytes.extend(std::fs::read(extra).unwrap_or_default());
            }
            bytes
        }
        Backend::Postgres => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(state.db.pool())
            .await
            .unwrap();
            let mut bytes = Vec::new();
            for t in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT CAST(x AS TEXT) FROM {t} x")))
                        .fetch_all(state.db.pool())
                        .await
                        .unwrap();
                assert!(!t.is_empty());
                for r in rows {
                    bytes.extend(r.into_bytes());
                }
            }
            bytes
        }
    }
}

/// Whether `needle` is anywhere in `haystack`, byte for byte.
pub fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
