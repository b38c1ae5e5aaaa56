//! `callback`: a dispatcher calls a caller back, masked: the server rings the
//! volunteer from the hotline number, then the caller, who also sees the hotline.

use std::io::Write;

use clap::Args;

use super::CliError;
use super::server::open_state;
use crate::clock::Clock;
use crate::config::Config;
use crate::roster;

#[derive(Args, Debug)]
pub struct CallbackArgs {
    /// The call-back item number (from the alert SMS)
    pub item: i64,
    /// Who makes the call
    #[arg(long)]
    pub volunteer: String,
}

pub async fn run(args: CallbackArgs, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let state = open_state(config, Clock::system()).await?;
    let result = async {
        let volunteer = roster::get(&state.db, &args.volunteer).await?;
        crate::calls::start_callback(&state, args.item, &volunteer).await.map_err(|e| CliError(e.to_string()))?;
        writeln!(out, "ringing {} now; they press 1 to be connected to the caller", volunteer.alias)?;
        Ok::<(), CliError>(())
    }
    .await;
    state.db.close().await;
    result
}
