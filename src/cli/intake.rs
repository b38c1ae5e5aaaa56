//! `intake`: public text threads from the server's command line: list them
//! (never the sender, never the texts), mark one handled.

use std::io::Write;

use clap::Subcommand;

use super::CliError;
use super::server::open_state;
use crate::audit::Actor;
use crate::clock::{Clock, UnixTime};
use crate::config::Config;
use crate::dispatch;
use crate::sms::intake;

#[derive(Subcommand, Debug)]
pub enum IntakeCommand {
    /// Text threads from the public that have not expired: number, language, state
    List,
    /// Mark a thread handled: it expires after retention_intake_handled
    Handled { id: i64 },
}

pub async fn run(cmd: IntakeCommand, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let state = open_state(config, Clock::system()).await?;
    let result = async {
        match cmd {
            IntakeCommand::List => {
                let threads = dispatch::threads(&state).await.map_err(|e| CliError(e.to_string()))?;
                if threads.is_empty() {
                    writeln!(out, "no text threads")?;
                }
                for t in threads {
                    let items = t.items.iter().map(i64::to_string).collect::<Vec<_>>();
                    writeln!(
                        out,
                        "#{:<5} {:<3} {:<10} deleted {}  texts (items): {}",
                        t.id,
                        t.language,
                        t.state.as_str(),
                        UnixTime(t.expires_at).display_utc(),
                        items.join(" ")
                    )?;
                }
            }
            IntakeCommand::Handled { id } => {
                let until = intake::handled(&state, id, Actor::Operator).await.map_err(|e| CliError(e.to_string()))?;
                writeln!(out, "#{id} handled; it is deleted {}", until.display_utc())?;
            }
        }
        Ok::<(), CliError>(())
    }
    .await;
    state.db.close().await;
    result
}
