//! `open`: the reader's side. Fetches the age ciphertext of an item (from a
//! server with an API token, or from the configured database when run on the
//! server itself), decrypts it with the reader's own identity file, and writes the
//! plaintext to stdout only: never to a file, never to the log.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::CliError;
use super::server::open_state;
use crate::clock::Clock;
use crate::config::Config;
use crate::items;
use crate::vault;

#[derive(Args, Debug)]
pub struct OpenArgs {
    /// Your age identity file (as written by age-keygen), or a key backup from
    /// the console (protected by a passphrase, asked for on the terminal)
    #[arg(long, value_name = "FILE")]
    pub identity: PathBuf,
    /// Read the backup's passphrase from this file instead of the terminal
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Fetch from this server (https://…) instead of the configured database
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// API token (from `quietline token create`); prefer --token-file
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_file")]
    pub token: Option<String>,
    /// File holding the API token
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The item number
    pub item: i64,
}

pub async fn run(args: OpenArgs, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    // Read the identity first: a wrong path should fail before any request.
    let identities = vault::read_identities(&args.identity, || passphrase(&args))?;
    let ciphertext = match &args.server {
        Some(server) => {
            // The token would cross the network readable by anyone on the path.
            if !server.starts_with("https://") && !super::provider::is_loopback_url(server) {
                return Err(CliError(format!(
                    "--server {server} is not https: the API token would be sent in clear (plain http only to \
                     this machine, e.g. http://127.0.0.1:8080)"
                )));
            }
            let token = match (&args.token, &args.token_file) {
                (Some(t), _) => Zeroizing::new(t.trim().to_string()),
                (None, Some(file)) => Zeroizing::new(
                    std::fs::read_to_string(file)
                        .map_err(|e| CliError(format!("--token-file {}: {e}", file.display())))?
                        .trim()
                        .to_string(),
                ),
                (None, None) => return Err(CliError("--server needs --token or --token-file".into())),
            };
            fetch(server, &token, args.item).await?
        }
        None => {
            let state = open_state(config, Clock::system()).await?;
            let result = items::ciphertext(&state.db, &state.vault, args.item).await;
            state.db.close().await;
            result?
        }
    };
    let plaintext = vault::open_as_reader(&ciphertext, &identities).map_err(|e| match e {
        vault::VaultError::NotAReader => CliError(format!("item {}: {e}", args.item)),
        other => CliError(format!("item {}: {other}", args.item)),
    })?;
    out.write_all(&plaintext)?;
    out.flush()?;
    Ok(())
}

/// `GET {server}/api/v1/items/{id}/ciphertext` with the token.
async fn fetch(server: &str, token: &str, item: i64) -> Result<Vec<u8>, CliError> {
    // ring is the one TLS provider compiled in; installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("{}/api/v1/items/{item}/ciphertext", server.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .user_agent(concat!("quietline/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CliError(format!("HTTP client: {e}")))?;
    let response = client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| CliError(format!("cannot reach {server}: {}", e.without_url())))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| CliError(format!("reading from {server}: {}", e.without_url())))?;
    if status.is_success() {
        return Ok(body.to_vec());
    }
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| status.to_string());
    Err(CliError(format!("item {item}: {message} ({})", status.as_u16())))
}

/// The passphrase of a key backup: from `--passphrase-file`, or typed on the
/// terminal without echo.
fn passphrase(args: &OpenArgs) -> Result<SecretString, vault::VaultError> {
    let fail = |why: String| vault::VaultError::BadRecipient(why);
    if let Some(file) = &args.passphrase_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(file).map_err(|e| fail(format!("--passphrase-file {}: {e}", file.display())))?,
        );
        return Ok(SecretString::from(text.trim_end_matches(['\n', '\r']).to_string()));
    }
    let prompt = format!("passphrase for {}: ", args.identity.display());
    read_hidden(&prompt).map_err(|e| {
        fail(format!(
            "{} is protected by a passphrase and none could be read ({e}); use --passphrase-file",
            args.identity.display()
        ))
    })
}

/// Reads one line from the terminal with echo off, restoring the terminal after.
fn read_hidden(prompt: &str) -> std::io::Result<SecretString> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty")?;
    let fd = tty.as_raw_fd();
    // SAFETY: tcgetattr and tcsetattr only read and write the struct passed,
    // for a descriptor we hold open.
    let saved = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let saved = t;
        t.c_lflag &= !libc::ECHO;
        t.c_lflag |= libc::ECHONL;
        if libc::tcsetattr(fd, libc::TCSANOW, &t) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        saved
    };
    let mut writer = &tty;
    let _ = writer.write_all(prompt.as_bytes());
    let _ = writer.flush();
    let mut line = Zeroizing::new(String::new());
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    // SAFETY: as above; the saved settings come from tcgetattr.
    unsafe {
        libc::tcsetattr(fd, libc::TCSANOW, &saved);
    }
    read?;
    Ok(SecretString::from(line.trim_end_matches(['\n', '\r']).to_string()))
}
