//! Ways to take the ground from under a running server: its PostgreSQL connection
//! cut, its SQLite file held locked by another process, its data dir on a disk
//! that fills up.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::{AnyConnection, Connection, Executor};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP forwarder between the server and PostgreSQL. While cut, every open
/// connection is closed and new ones are closed as soon as they arrive: to the
/// server the database has gone away.
pub struct DbProxy {
    pub addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl DbProxy {
    pub async fn start(upstream: String) -> DbProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let pipes: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (cut2, pipes2) = (cut.clone(), pipes.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if cut2.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let upstream = upstream.clone();
                pipes2.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        DbProxy { addr, cut, pipes, accept }
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url_through(&self, url: &str) -> String {
        let (head, rest) = url.split_once('@').expect("a postgres URL with a user");
        let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
        format!("{head}@{}{path}", self.addr)
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// The host and port of a `postgres://user@host:port/db` URL.
pub fn pg_host_port(url: &str) -> String {
    let rest = url.split_once('@').expect("a postgres URL with a user").1;
    let authority = rest.split('/').next().unwrap();
    if authority.contains(':') { authority.to_string() } else { format!("{authority}:5432") }
}

/// Another process's connection holding a SQLite database's write lock, as an
/// operator's `sqlite3` session or a stuck backup would. Dropping it lets go.
pub struct SqliteLock {
    conn: AnyConnection,
}

impl SqliteLock {
    pub async fn take(file: &Path) -> SqliteLock {
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(&format!("sqlite://{}", file.display())).await.unwrap();
        conn.execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE").await.unwrap();
        SqliteLock { conn }
    }

    pub async fn release(mut self) {
        self.conn.execute("ROLLBACK").await.unwrap();
        self.conn.close().await.unwrap();
    }
}

/// A small tmpfs mounted on a directory (needs root, as CI has): a disk that can
/// be filled in a moment. Unmounted when dropped.
pub struct SmallDisk {
    pub dir: PathBuf,
    filler: PathBuf,
}

impl SmallDisk {
    pub fn mount(dir: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a {size} tmpfs on {} failed (this test needs root): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir: dir.to_path_buf(), filler: dir.join("filler") }
    }

    /// Writes a file until the disk refuses more; returns the bytes written.
    pub fn fill(&self) -> u64 {
        use std::io::Write;
        let mut file = std::fs::File::create(&self.filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // Whatever the last partial block left.
        while let Ok(n) = file.write(&block[..512]) {
            if n == 0 {
                break;
            }
            written += n as u64;
        }
        written
    }

    pub fn free(&self) {
        std::fs::remove_file(&self.filler).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Writes refused while reads still work, as when the database's disk fills up
/// or another process holds its file locked: on SQLite another connection holds
/// the write lock (writes wait out the busy timeout, then fail); on PostgreSQL
/// triggers refuse writes to `tables` with SQLSTATE 53100, disk full.
pub enum WritesRefused {
    Sqlite(SqliteLock),
    Postgres { conn: AnyConnection, tables: Vec<String> },
}

impl WritesRefused {
    pub async fn start(env: &super::TestEnv, tables: &[&str]) -> WritesRefused {
        let Some((_, url)) = env.env().into_iter().find(|(k, _)| k == "QUIETLINE_DATABASE_URL") else {
            return WritesRefused::Sqlite(SqliteLock::take(&env.sqlite_file()).await);
        };
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        conn.execute(
            "CREATE OR REPLACE FUNCTION qlt_refuse_writes() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$",
        )
        .await
        .unwrap();
        for table in tables {
            let sql = format!(
                "CREATE TRIGGER qlt_refuse_writes BEFORE INSERT OR UPDATE OR DELETE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION qlt_refuse_writes()"
            );
            conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
        }
        WritesRefused::Postgres { conn, tables: tables.iter().map(|t| t.to_string()).collect() }
    }

    pub async fn end(self) {
        match self {
            WritesRefused::Sqlite(lock) => lock.release().await,
            WritesRefused::Postgres { mut conn, tables } => {
                for table in tables {
                    let sql = format!("DROP TRIGGER qlt_refuse_writes ON {table}");
                    conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
                }
                conn.close().await.unwrap();
            }
        }
    }
}
