//! `incident`: field operations from the server's command line: open an
//! incident and page observers, list and show them, verify, close. Incident
//! details are read from a file or stdin, never from the command line, where
//! shell history and the process list would keep them.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use super::CliError;
use super::server::open_state;
use crate::audit::Actor;
use crate::clock::{Clock, UnixTime};
use crate::config::Config;
use crate::dispatch::{self, Kind, NewReport};

#[derive(Subcommand, Debug)]
pub enum IncidentCommand {
    /// Open an incident and page on-shift observers in its zone
    New(NewArgs),
    /// Incidents not yet deleted: zone, kind, status, observers, notes
    List,
    /// One incident: observers and their state, notes and when they expire
    Show { id: i64 },
    /// Mark a reported incident as verified
    Verify { id: i64 },
    /// Close an incident; its lifetime and its notes' lifetime start now
    Close { id: i64 },
    /// Close an incident as a false alarm
    FalseAlarm { id: i64 },
}

#[derive(Args, Debug)]
pub struct NewArgs {
    #[arg(long)]
    pub zone: String,
    /// sighting, detention, checkpoint or other
    #[arg(long, default_value = "other")]
    pub kind: String,
    /// Where the details come from: the first line is the location (it may go to
    /// observers by SMS), the rest what was seen (sealed only). `-` is stdin.
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub details: PathBuf,
}

fn read_details(path: &PathBuf) -> Result<Zeroizing<String>, CliError> {
    let mut text = Zeroizing::new(String::new());
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map_err(|e| CliError(format!("reading details from stdin: {e}")))?;
    } else {
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|e| CliError(format!("--details {}: {e}", path.display())))?;
    }
    Ok(text)
}

pub async fn run(cmd: IncidentCommand, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    // Check what can be checked before touching the database.
    let new = match &cmd {
        IncidentCommand::New(args) => {
            let zone = config.zone(&args.zone).map_err(|e| CliError(format!("--zone: {e}")))?;
            let kind = Kind::parse(&args.kind).map_err(|e| CliError(format!("--kind: {e}")))?;
            let details = read_details(&args.details)?;
            if details.trim().is_empty() {
                return Err(CliError("the details are empty: the first line must say where".into()));
            }
            Some((zone, kind, details))
        }
        _ => None,
    };
    let state = open_state(config, Clock::system()).await?;
    let result = async {
        match cmd {
            IncidentCommand::New(_) => {
                let (zone, kind, details) = new.expect("parsed above");
                // The same rule as by SMS: a zone the network knows.
                let zone =
                    dispatch::known_zone(&state, zone.as_str()).await.map_err(|e| CliError(format!("--zone: {e}")))?;
                let (location, description) = details.trim().split_once('\n').unwrap_or((details.trim(), ""));
                let report = NewReport { zone, kind, location, description };
                let opened =
                    dispatch::open(&state, report, Actor::Operator).await.map_err(|e| CliError(e.to_string()))?;
                match opened.paged {
                    0 => writeln!(out, "opened #{}; no observer is on shift: the dispatchers were alerted", opened.id)?,
                    n => writeln!(out, "opened #{}; {n} observer(s) paged", opened.id)?,
                }
                match opened.details_item {
                    Some(item) => writeln!(out, "details sealed as item {item}")?,
                    None => writeln!(out, "details not kept: nobody on shift or in the legal team has a key")?,
                }
            }
            IncidentCommand::List => {
                let incidents = dispatch::views::all(&state).await.map_err(|e| CliError(e.to_string()))?;
                if incidents.is_empty() {
                    writeln!(out, "no incidents")?;
                }
                for i in incidents {
                    writeln!(
                        out,
                        "#{:<5} {:<12} {:<10} {:<11} observers {}/{}  notes {}",
                        i.id,
                        i.zone,
                        i.kind,
                        i.status.as_str(),
                        i.assigned,
                        i.needed,
                        i.notes
                    )?;
                }
            }
            IncidentCommand::Show { id } => {
                let i = dispatch::views::view(&state, id).await.map_err(|e| CliError(e.to_string()))?;
                writeln!(out, "#{} {} {} {}", i.id, i.zone, i.kind, i.status.as_str())?;
                writeln!(out, "opened in the hour of {}", UnixTime(i.opened_hour).display_utc())?;
                if let Some(t) = i.expires_at {
                    writeln!(out, "deleted {}", UnixTime(t).display_utc())?;
                }
                writeln!(out, "observers wanted {}, assigned {}", i.needed, i.assigned)?;
                for (alias, st) in &i.observers {
                    writeln!(out, "  {alias:<20} {}", st.as_str())?;
                }
                match &i.note_expiry {
                    None => writeln!(out, "no notes")?,
                    Some(when @ dispatch::NoteExpiry::At(_)) => {
                        writeln!(out, "{} note(s); the first is deleted {when}", i.notes)?
                    }
                    Some(when) => writeln!(out, "{} note(s); deleted {when}", i.notes)?,
                }
            }
            IncidentCommand::Verify { id } => {
                dispatch::verify(&state, id, Actor::Operator).await.map_err(|e| CliError(e.to_string()))?;
                writeln!(out, "#{id} verified")?;
            }
            IncidentCommand::Close { id } | IncidentCommand::FalseAlarm { id } => {
                let false_alarm = matches!(cmd, IncidentCommand::FalseAlarm { .. });
                let until = dispatch::close(&state, id, false_alarm, Actor::Operator)
                    .await
                    .map_err(|e| CliError(e.to_string()))?;
                let what = if false_alarm { "marked a false alarm" } else { "closed" };
                writeln!(
                    out,
                    "#{id} {what}; it is deleted {}, its notes after {}",
                    until.display_utc(),
                    crate::clock::in_words(state.config.retention.note)
                )?;
            }
        }
        Ok::<(), CliError>(())
    }
    .await;
    state.db.close().await;
    result
}
