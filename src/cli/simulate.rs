//! `simulate call`: a scripted caller against a running server.

use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use secrecy::ExposeSecret;

use super::CliError;
use crate::config::{Config, parse_duration};
use crate::phone::PhoneNumber;
use crate::telephony::simulate::{self, Script};

#[derive(Subcommand, Debug)]
pub enum SimulateCommand {
    /// Ring the server as a caller would and print every step
    Call(CallArgs),
}

#[derive(Args, Debug)]
pub struct CallArgs {
    /// The server's public URL (default: public_url from the config)
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The caller's number, E.164
    #[arg(long, value_name = "E164")]
    pub from: String,
    /// Keys pressed at successive menus, e.g. 2 or 2,1 (- lets a menu time out)
    #[arg(long, default_value = "")]
    pub digits: String,
    /// How long to hold before hanging up
    #[arg(long, default_value = "30s")]
    pub hold: String,
}

pub async fn run(command: SimulateCommand, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let SimulateCommand::Call(args) = command;
    let from = PhoneNumber::parse(&args.from).map_err(|e| CliError(format!("--from: {e}")))?;
    let hold: Duration = parse_duration(&args.hold).map_err(|e| CliError(format!("--hold: {e}")))?;
    let server = args
        .server
        .or_else(|| config.public_url.clone())
        .ok_or_else(|| CliError("give --server or set public_url".into()))?;
    let token = config
        .provider
        .auth_token
        .as_ref()
        .ok_or_else(|| CliError("provider_auth_token must be set: the simulator signs like the provider".into()))?;
    let digits = args
        .digits
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| if d == "-" { None } else { Some(d.to_string()) })
        .collect();
    let script = Script {
        server: server.trim_end_matches('/').to_string(),
        auth_token: token.expose_secret().to_string(),
        account_sid: config.provider.account_sid.clone().unwrap_or_else(|| "AC-simulator".into()),
        hotline: config.provider.hotline_number.as_ref().map(|n| n.as_str().to_string()).unwrap_or_default(),
        from: from.as_str().to_string(),
        digits,
        hold,
    };
    simulate::call(script, out).await.map_err(|e| CliError(format!("simulation failed: {e}")))
}
