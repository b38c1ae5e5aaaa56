//! The real binary: start-up on a fresh data dir, graceful shutdown, and one-line
//! errors with non-zero exits for bad input.

use std::os::unix::fs::PermissionsExt;

use crate::both;
use crate::support::{Backend, TestEnv, http};

both!(serve_initializes_a_fresh_data_dir_and_stops_on_sigterm);
async fn serve_initializes_a_fresh_data_dir_and_stops_on_sigterm(backend: Backend) {
    let env = TestEnv::new(backend).await;
    assert!(!env.data_dir().exists());
    let mut server = env.spawn_server();
    let mode = std::fs::metadata(env.data_dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "data dir must be private");
    if backend == Backend::Sqlite {
        assert!(env.data_dir().join("quietline.db").exists());
    }
    assert_eq!(http(server.addr, "GET", "/readyz", &[], ""), (200, "ready\n".to_string()));
    assert_eq!(http(server.addr, "GET", "/healthz", &[], ""), (200, "ok\n".to_string()));

    // A roster entry made by the admin CLI while the server runs is seen by both.
    let out = env.run_binary(
        &[
            "volunteer",
            "add",
            "--alias",
            "maria",
            "--phone",
            "+14155550100",
            "--roles",
            "dispatcher",
            "--languages",
            "en",
            "--zones",
            "north",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", out.stderr);

    let status = server.terminate();
    assert!(status.success(), "exit {status:?}; log:\n{}", server.log());
    let log = server.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

both!(existing_data_dir_is_tightened_to_0700);
async fn existing_data_dir_is_tightened_to_0700(backend: Backend) {
    let env = TestEnv::new(backend).await;
    std::fs::create_dir(env.data_dir()).unwrap();
    std::fs::set_permissions(env.data_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.run_binary(&["migrate"], &[]);
    assert!(out.status.success(), "{}", out.stderr);
    let mode = std::fs::metadata(env.data_dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(out.stderr.contains("set to 0700"), "{}", out.stderr);
}

/// Asserts a one-line error on stderr that contains `expected`, and the exit code.
fn assert_one_line_error(out: &crate::support::BinaryOutput, code: i32, expected: &str) {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {}", out.stderr);
    assert!(lines[0].starts_with("quietline: "), "{}", lines[0]);
    assert!(lines[0].contains(expected), "{:?} should contain {expected:?}", lines[0]);
}

#[tokio::test]
async fn bad_input_gives_one_line_errors_and_writes_nothing() {
    let env = TestEnv::new(Backend::Sqlite).await;

    let out = env.run_binary(
        &[
            "volunteer",
            "add",
            "--alias",
            "maria",
            "--phone",
            "555-0100",
            "--roles",
            "dispatcher",
            "--languages",
            "en",
            "--zones",
            "north",
        ],
        &[],
    );
    assert_one_line_error(&out, 1, "E.164");
    assert!(!env.data_dir().exists(), "nothing may be created for a refused command");

    let out = env.run_binary(&["volunteer", "list"], &[("QUIETLINE_LANGUAGES", "en,xx1")]);
    assert_one_line_error(&out, 2, "QUIETLINE_LANGUAGES");

    let out = env.run_binary(&["--config", "/nonexistent/quietline.toml", "volunteer", "list"], &[]);
    assert_one_line_error(&out, 2, "/nonexistent/quietline.toml");

    let bad_toml = env.dir.path().join("bad.toml");
    std::fs::write(&bad_toml, "listen = [").unwrap();
    let out = env.run_binary(&["--config", bad_toml.to_str().unwrap(), "serve"], &[]);
    assert_one_line_error(&out, 2, "not valid TOML");

    // A port nothing listens on: refused at once, password never shown.
    let out = env.run_binary(
        &["volunteer", "list"],
        &[("QUIETLINE_DATABASE_URL", "postgres://quietline:hunter2@127.0.0.1:9/quietline")],
    );
    assert_one_line_error(&out, 1, "cannot open the database postgres://quietline:***@127.0.0.1:9/quietline");
    assert!(!out.stderr.contains("hunter2"));
}

#[tokio::test]
async fn unknown_settings_warn_but_start() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let out = env.run_binary(&["volunteer", "list"], &[("QUIETLINE_LISTN", "127.0.0.1:1")]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stderr.contains("unknown setting QUIETLINE_LISTN ignored"), "{}", out.stderr);
}
