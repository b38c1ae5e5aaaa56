//! `audit`: recent audit events on the server's command line (who did what,
//! to the hour; never content).

use std::io::Write;

use super::CliError;
use super::server::open_state;
use crate::clock::{Clock, UnixTime};
use crate::config::Config;

pub async fn run(limit: i64, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let state = open_state(config, Clock::system()).await?;
    let result = async {
        for e in crate::audit::recent(&state, limit).await? {
            let object = match e.object_id {
                Some(id) => format!("{} #{id}", e.object),
                None => e.object.clone(),
            };
            writeln!(out, "{}  {:<20} {:<22} {object}", UnixTime(e.hour).display_utc(), e.actor, e.action)?;
        }
        Ok::<(), CliError>(())
    }
    .await;
    state.db.close().await;
    result
}
