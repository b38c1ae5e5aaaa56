//! `token create` and `token revoke`: API tokens for a volunteer's own command line.

use std::io::Write;

use clap::Subcommand;
use secrecy::ExposeSecret;

use super::CliError;
use super::server::open_state;
use crate::clock::Clock;
use crate::config::{Config, parse_duration};
use crate::roster;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token (shown once) for `quietline open --server … --token …`
    Create {
        alias: String,
        /// How long it works, e.g. 12h or 30d (at most 90d)
        #[arg(long, default_value = "30d")]
        lifetime: String,
    },
    /// End every token of a volunteer at once
    Revoke { alias: String },
}

pub async fn run(command: TokenCommand, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let lifetime = match &command {
        TokenCommand::Create { lifetime, .. } => {
            let d = parse_duration(lifetime).map_err(|e| CliError(format!("--lifetime: {e}")))?;
            if d > crate::accounts::MAX_TOKEN_LIFETIME {
                return Err(CliError("--lifetime: at most 90d".into()));
            }
            Some(d)
        }
        TokenCommand::Revoke { .. } => None,
    };
    let state = open_state(config, Clock::system()).await?;
    let result = async {
        match (&command, lifetime) {
            (TokenCommand::Create { alias, .. }, Some(lifetime)) => {
                let v = roster::get(&state.db, alias).await?;
                let now = state.vault.clock().now();
                let token = crate::accounts::create_token(&state.db, &v, lifetime, now).await?;
                writeln!(out, "{}", token.expose_secret())?;
                writeln!(
                    out,
                    "# token for {}, valid until {}; it is not shown again",
                    v.alias,
                    now.plus(lifetime).display_utc()
                )?;
            }
            (TokenCommand::Revoke { alias }, _) => {
                let v = roster::get(&state.db, alias).await?;
                let n = crate::accounts::revoke_tokens(&state.db, &v).await?;
                writeln!(out, "revoked {n} token(s) of {}", v.alias)?;
            }
            _ => unreachable!("lifetime is parsed for create only"),
        }
        Ok::<(), CliError>(())
    }
    .await;
    state.db.close().await;
    result
}
