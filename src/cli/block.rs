//! `block`: refuse a caller for a while. The number is sealed for the server
//! until the block ends (see `blocks`); only the current window's caller token is
//! stored, and the keys of future windows are never made.

use std::io::Write;

use clap::Args;

use super::CliError;
use super::server::open_state;
use crate::clock::Clock;
use crate::config::{Config, parse_duration};
use crate::phone::PhoneNumber;

#[derive(Args, Debug)]
pub struct BlockArgs {
    /// The caller's number, E.164 (sealed until the block ends)
    pub number: String,
    /// How long, e.g. 24h or 7d (at most 30d)
    #[arg(long = "for", default_value = "24h", value_name = "DURATION")]
    pub duration: String,
}

pub async fn run(args: BlockArgs, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let number = PhoneNumber::parse(&args.number).map_err(|e| CliError(format!("number: {e}")))?;
    let duration = parse_duration(&args.duration).map_err(|e| CliError(format!("--for: {e}")))?;
    if duration > crate::blocks::MAX_BLOCK {
        return Err(CliError(format!("--for: {}", crate::blocks::BlockError::TooLong)));
    }
    let state = open_state(config, Clock::system()).await?;
    let result = async {
        let until = crate::blocks::block(&state, &number, duration).await.map_err(|e| CliError(e.to_string()))?;
        crate::audit::record(&state, crate::audit::Actor::Operator, "caller.block", "caller", None).await;
        writeln!(
            out,
            "blocked until {}; the number is sealed for the server until then, and each day's caller token is \
             computed when that day's window starts",
            until.display_utc()
        )?;
        Ok::<(), CliError>(())
    }
    .await;
    state.db.close().await;
    result
}
