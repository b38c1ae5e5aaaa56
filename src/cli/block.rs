//! `block`: refuse a caller for a while, by caller token. The number is given once
//! on the command line and never stored: the block holds the caller's token for
//! each window it covers, and goes when those windows' keys do.

use std::io::Write;

use clap::Args;

use super::CliError;
use super::server::open_state;
use crate::clock::{Clock, UnixTime};
use crate::config::{Config, parse_duration};
use crate::phone::PhoneNumber;
use crate::store::calls;

/// The longest block: a month.
const MAX_BLOCK_DAYS: u64 = 30;

#[derive(Args, Debug)]
pub struct BlockArgs {
    /// The caller's number, E.164 (not stored)
    pub number: String,
    /// How long, e.g. 24h or 7d (at most 30d)
    #[arg(long = "for", default_value = "24h", value_name = "DURATION")]
    pub duration: String,
}

pub async fn run(args: BlockArgs, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let number = PhoneNumber::parse(&args.number).map_err(|e| CliError(format!("number: {e}")))?;
    let duration = parse_duration(&args.duration).map_err(|e| CliError(format!("--for: {e}")))?;
    if duration.as_secs() > MAX_BLOCK_DAYS * 86_400 {
        return Err(CliError(format!("--for: at most {MAX_BLOCK_DAYS}d")));
    }
    let window = config.caller_token_window.as_secs() as i64;
    let state = open_state(config, Clock::system()).await?;
    let result = async {
        let now = state.vault.clock().now();
        let until = now.plus(duration);
        let mut windows = 0;
        let mut index = now.0.div_euclid(window);
        while index * window < until.0 {
            let start = UnixTime((index * window).max(now.0));
            let token = state.vault.caller_token_at(&number, start)?;
            let ends = ((index + 1) * window).min(until.0);
            calls::insert_block(state.db.pool(), token.as_str(), ends).await?;
            windows += 1;
            index += 1;
        }
        writeln!(
            out,
            "blocked until {} ({windows} caller-token window(s)); the number itself is not stored",
            until.display_utc()
        )?;
        Ok::<(), CliError>(())
    }
    .await;
    state.db.close().await;
    result
}
