//! The command line: one file per group of subcommands. Every command runs on the
//! configured database directly; they are meant for the server's operator.

mod audit;
mod block;
mod callback;
pub mod doctor;
mod incident;
mod intake;
mod open;
pub(crate) mod provider;
mod server;
mod simulate;
mod token;
mod volunteer;

pub use server::open_state;

use std::fmt;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Parser, Debug)]
#[command(name = "quietline", version, about = "Backend for rights hotlines", long_about = None)]
pub struct Cli {
    /// Config file (default: quietline.toml in the data dir, if present)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (initializes a fresh data dir and database by itself)
    Serve,
    /// Create the data dir, a commented config file and the database schema
    Init,
    /// Apply database migrations that have not been applied yet
    Migrate,
    /// Check the installation: files, database, public URL, provider, clock (run after every change)
    Doctor,
    /// The phone provider: point the hotline number at this server
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Manage the roster
    #[command(subcommand)]
    Volunteer(volunteer::VolunteerCommand),
    /// Put a volunteer on or off shift
    #[command(subcommand)]
    Shift(volunteer::ShiftCommand),
    /// API tokens for volunteers' own command lines
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Decrypt a sealed item with your age identity; plaintext goes to stdout only
    Open(open::OpenArgs),
    /// Refuse calls from a number for a while (the number is not stored)
    Block(block::BlockArgs),
    /// Call a caller back who asked for it, masked behind the hotline number
    Callback(callback::CallbackArgs),
    /// Incidents: open, page observers, verify, close
    #[command(subcommand)]
    Incident(incident::IncidentCommand),
    /// Text threads from the public
    #[command(subcommand)]
    Intake(intake::IntakeCommand),
    /// Recent audit events (who did what, to the hour; no content)
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// What the network holds right now, class by class: the subpoena question
    Exposure {
        #[arg(long)]
        json: bool,
    },
    /// Run one retention sweep now (the server sweeps every minute by itself)
    Sweep,
    /// Scripted calls against a running server, to check a deployment or train
    #[command(subcommand)]
    Simulate(simulate::SimulateCommand),
}

/// A failure to report to the operator in one line.
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

macro_rules! cli_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError(e.to_string())
            }
        }
    )*};
}

cli_error_from!(
    crate::roster::RosterError,
    crate::items::ItemError,
    crate::vault::VaultError,
    crate::store::ConnectError,
    sqlx::migrate::MigrateError,
    sqlx::Error,
    std::io::Error,
    serde_json::Error,
    crate::retention::SweepError,
    crate::OpenError,
    crate::data_dir::DataDirError,
    crate::flow::FlowError
);

/// Runs one command, writing its report to `out`.
pub async fn run(command: Command, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    match command {
        Command::Serve => server::serve(config).await,
        Command::Init => server::init(config, out).await,
        Command::Migrate => server::migrate(&config, out).await,
        Command::Doctor => doctor::run(config, out).await,
        Command::Provider(cmd) => provider::run(cmd, config, out).await,
        Command::Volunteer(cmd) => volunteer::run(cmd, config, out).await,
        Command::Shift(cmd) => volunteer::shift(cmd, config, out).await,
        Command::Token(cmd) => token::run(cmd, config, out).await,
        Command::Open(args) => open::run(args, config, out).await,
        Command::Block(args) => block::run(args, config, out).await,
        Command::Callback(args) => callback::run(args, config, out).await,
        Command::Simulate(cmd) => simulate::run(cmd, config, out).await,
        Command::Exposure { json } => server::exposure(config, json, out).await,
        Command::Sweep => server::sweep(config, out).await,
        Command::Incident(cmd) => incident::run(cmd, config, out).await,
        Command::Intake(cmd) => intake::run(cmd, config, out).await,
        Command::Audit { limit } => audit::run(limit, config, out).await,
    }
}
