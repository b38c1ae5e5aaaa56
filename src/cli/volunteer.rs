//! `volunteer …` and `shift …`: the roster from the server's command line.

use std::io::Write;

use clap::Subcommand;
use serde::Serialize;

use super::CliError;
use super::server::open_state;
use crate::clock::Clock;
use crate::config::Config;
use crate::roster::{self, NewVolunteer, Volunteer};
use crate::vault::{AgeRecipient, Vault};

#[derive(Subcommand, Debug)]
pub enum VolunteerCommand {
    /// Add a volunteer (off shift)
    Add {
        #[arg(long)]
        alias: String,
        /// Phone number in E.164, e.g. +14155550100
        #[arg(long)]
        phone: String,
        /// Comma-separated: coordinator, dispatcher, observer, attorney
        #[arg(long)]
        roles: String,
        /// Comma-separated language codes, e.g. en,es
        #[arg(long)]
        languages: String,
        /// Comma-separated zone names, e.g. north,south
        #[arg(long)]
        zones: String,
        /// The volunteer's age public key (age1…), for reading sealed content
        #[arg(long, value_name = "AGE1…")]
        age_recipient: Option<String>,
        /// Also ring them for callers of any language when the first tier is not answered
        #[arg(long)]
        overflow: bool,
    },
    /// List the roster
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a volunteer and everything only they could use
    Remove { alias: String },
    /// Make an age key (age1…) the volunteer's only one: keys their devices registered are dropped
    SetKey { alias: String, recipient: String },
    /// A new one-time enrollment code (the volunteer sets a password and an authenticator with it)
    Enroll { alias: String },
    /// End a volunteer's sessions and API tokens now; they must enroll again
    Revoke { alias: String },
}

#[derive(Subcommand, Debug)]
pub enum ShiftCommand {
    /// Put a volunteer on shift: they are rung and paged
    On { alias: String },
    /// Take a volunteer off shift
    Off { alias: String },
}

pub async fn run(command: VolunteerCommand, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    // Validate everything typed before touching the data dir or the database.
    let parsed = match &command {
        VolunteerCommand::Add { alias, phone, roles, languages, zones, age_recipient, overflow } => {
            let mut new = NewVolunteer::parse(alias, phone, roles, languages, zones, age_recipient.as_deref())?;
            new.overflow = *overflow;
            Some(new)
        }
        VolunteerCommand::SetKey { recipient, .. } => {
            AgeRecipient::parse(recipient).map_err(CliError)?;
            None
        }
        _ => None,
    };
    let state = open_state(config, Clock::system()).await?;
    let result = run_on(command, parsed, &state, out).await;
    state.db.close().await;
    result
}

async fn run_on(
    command: VolunteerCommand,
    parsed: Option<NewVolunteer>,
    state: &crate::AppState,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let (db, vault, config) = (&state.db, &*state.vault, &*state.config);
    match command {
        VolunteerCommand::Add { .. } => {
            let new = parsed.expect("parsed above");
            let v = roster::add(db, vault, new).await?;
            writeln!(out, "added {} ({}), off shift", v.alias, join(&v.roles))?;
            let unserved: Vec<&str> =
                v.languages.iter().filter(|l| !config.languages.contains(l)).map(|l| l.as_str()).collect();
            if !unserved.is_empty() {
                writeln!(
                    out,
                    "note: the hotline does not offer {} (languages = {}); calls will not be routed by it",
                    unserved.join(","),
                    join(&config.languages)
                )?;
            }
            if !v.has_key() {
                writeln!(out, "note: no age key yet; add one with `quietline volunteer set-key {} age1…`", v.alias)?;
            }
            print_code(state, &v, out).await?;
        }
        VolunteerCommand::Enroll { alias } => {
            let v = roster::get(db, &alias).await?;
            print_code(state, &v, out).await?;
        }
        VolunteerCommand::Revoke { alias } => {
            let v = roster::get(db, &alias).await?;
            crate::accounts::sessions::revoke(state, &v, crate::audit::Actor::Operator)
                .await
                .map_err(|e| CliError(e.to_string()))?;
            writeln!(
                out,
                "{} is signed out everywhere; their API tokens are revoked; they must enroll again",
                v.alias
            )?;
        }
        VolunteerCommand::List { json } => {
            let list = roster::list(db).await?;
            if json {
                let rows = list.iter().map(|v| ListedVolunteer::new(v, vault)).collect::<Result<Vec<_>, _>>()?;
                serde_json::to_writer_pretty(&mut *out, &rows)?;
                writeln!(out)?;
            } else {
                print_table(&list, out)?;
            }
        }
        VolunteerCommand::Remove { alias } => {
            let items = roster::remove(db, &alias).await?;
            db.checkpoint().await?;
            let alias = alias.trim().to_ascii_lowercase();
            writeln!(out, "removed {alias}, their tokens, and {items} item(s) only they could read")?;
        }
        VolunteerCommand::SetKey { alias, recipient } => {
            let recipient = AgeRecipient::parse(&recipient).map_err(CliError)?;
            let before = roster::get(db, &alias).await?;
            roster::replace_keys(db, vault, &alias, &recipient).await?;
            let action = if before.has_key() { "key.replace" } else { "key.set" };
            crate::audit::record(state, crate::audit::Actor::Operator, action, "volunteer", Some(before.id)).await;
            let alias = alias.trim().to_ascii_lowercase();
            writeln!(out, "{alias} now reads with {}", recipient.as_str())?;
        }
    }
    Ok(())
}

async fn print_code(state: &crate::AppState, v: &roster::Volunteer, out: &mut dyn Write) -> Result<(), CliError> {
    use secrecy::ExposeSecret;
    let code = crate::accounts::admin::new_enrollment_code(state, v, crate::audit::Actor::Operator)
        .await
        .map_err(|e| CliError(e.to_string()))?;
    writeln!(
        out,
        "enrollment code for {}: {} (works once, until {}; they enroll at <public_url>/console/enroll)",
        code.alias,
        code.code.expose_secret(),
        code.expires_at.display_utc()
    )?;
    Ok(())
}

pub async fn shift(command: ShiftCommand, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let (alias, on) = match &command {
        ShiftCommand::On { alias } => (alias, true),
        ShiftCommand::Off { alias } => (alias, false),
    };
    let state = open_state(config, Clock::system()).await?;
    let done = match roster::get(&state.db, alias).await {
        Ok(v) => crate::accounts::change_shift(&state, &v, on, crate::audit::Actor::Operator).await.map(|_| ()),
        Err(e) => Err(e),
    };
    state.db.close().await;
    done?;
    let alias = alias.trim().to_ascii_lowercase();
    writeln!(out, "{alias} is now {}", if on { "on shift" } else { "off shift" })?;
    Ok(())
}

/// The roster as `volunteer list --json` prints it: the phone number is masked.
#[derive(Serialize)]
struct ListedVolunteer<'a> {
    alias: &'a str,
    roles: Vec<&'a str>,
    languages: Vec<&'a str>,
    zones: Vec<&'a str>,
    on_shift: bool,
    overflow: bool,
    phone_hint: String,
    /// The public keys of the volunteer's devices.
    keys: Vec<&'a str>,
}

impl<'a> ListedVolunteer<'a> {
    fn new(v: &'a Volunteer, vault: &Vault) -> Result<Self, CliError> {
        Ok(ListedVolunteer {
            alias: v.alias.as_str(),
            roles: v.roles.iter().map(|r| r.as_str()).collect(),
            languages: v.languages.iter().map(|l| l.as_str()).collect(),
            zones: v.zones.iter().map(|z| z.as_str()).collect(),
            on_shift: v.on_shift,
            overflow: v.overflow,
            phone_hint: v.phone(vault)?.masked(),
            keys: v.keys.iter().map(|k| k.as_str()).collect(),
        })
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn print_table(list: &[Volunteer], out: &mut dyn Write) -> std::io::Result<()> {
    if list.is_empty() {
        return writeln!(out, "the roster is empty; add someone with `quietline volunteer add`");
    }
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|v| {
            [
                v.alias.to_string(),
                join(&v.roles),
                join(&v.languages),
                v.zones.iter().map(|z| z.as_str()).collect::<Vec<_>>().join(","),
                if v.on_shift { "on".into() } else { "off".into() },
                v.keys.len().to_string(),
            ]
        })
        .collect();
    let header = ["ALIAS", "ROLES", "LANGUAGES", "ZONES", "SHIFT", "KEYS"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s
    };
    writeln!(out, "{}", line(&header))?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        writeln!(out, "{}", line(&cells))?;
    }
    Ok(())
}
