//! `provider connect`: points the hotline number's voice, status and messaging
//! webhooks at this server, through the provider's incoming-phone-numbers
//! resource, instead of copying three URLs into its web console by hand.

use std::io::Write;

use clap::{Args, Subcommand};

use super::CliError;
use crate::config::Config;
use crate::outbound::ProviderError;
use crate::telephony::provider::{NumberWebhooks, Provider};

#[derive(Subcommand, Debug)]
pub enum ProviderCommand {
    /// Point the hotline number's webhooks at public_url (shows what changes)
    Connect(ConnectArgs),
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Show what would change without changing it
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(command: ProviderCommand, config: Config, out: &mut dyn Write) -> Result<(), CliError> {
    let ProviderCommand::Connect(args) = command;
    let public = public_url_for_provider(&config).map_err(CliError)?;
    let number = config.provider.hotline_number.as_ref().ok_or_else(|| CliError("set hotline_number first".into()))?;
    let provider = Provider::from_config(&config)
        .ok_or_else(|| CliError("set provider_account_sid and provider_auth_token first".into()))?;
    let found = provider.find_number(number.as_str()).await.map_err(|e| CliError(explain(&config, &e)))?;
    let found = found.ok_or_else(|| {
        CliError("hotline_number is not a number of this provider account: check the setting and the account".into())
    })?;
    if found.trunk_sid.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(CliError(
            "the hotline number's calls go to a SIP trunk, not to webhooks: take it off the trunk in the \
             provider's console, then run this again"
                .into(),
        ));
    }
    let wanted = NumberWebhooks::for_server(public);
    let mut changes = found.webhooks.differences(&wanted);
    if found.voice_elsewhere().is_some() {
        changes.push(("calls", "to a TwiML application".into(), "to the voice webhook".into()));
    }
    if changes.is_empty() {
        writeln!(out, "the hotline number's webhooks already point at {public}; nothing to change")?;
        return Ok(());
    }
    for (name, now, want) in &changes {
        writeln!(out, "{name:<10} {now}\n{:<10} -> {want}", "")?;
    }
    if args.dry_run {
        writeln!(out, "dry run: nothing changed ({} webhook(s) would change)", changes.len())?;
        return Ok(());
    }
    provider.set_webhooks(&found.sid, &wanted).await.map_err(|e| CliError(explain(&config, &e)))?;
    writeln!(out, "changed {} webhook(s) of the hotline number; run `quietline doctor` to check", changes.len())?;
    Ok(())
}

/// `public_url`, if the provider may be pointed at it: https, or plain http on
/// loopback for a drill against a local stand-in.
pub fn public_url_for_provider(config: &Config) -> Result<&str, String> {
    let public = config.public_url.as_deref().ok_or("set public_url first: it is what the provider calls")?;
    if public.starts_with("https://") || is_loopback_url(public) {
        Ok(public)
    } else {
        Err(format!(
            "public_url {public} is not https: the provider would send callers' numbers and texts unencrypted \
             (plain http is allowed on loopback only, for drills)"
        ))
    }
}

/// `http://127.0.0.1…`, `http://localhost…` or `http://[::1]…`.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A provider failure in one line that names the likely cause.
pub fn explain(config: &Config, e: &ProviderError) -> String {
    match e.status {
        0 => format!("the provider at {} did not answer ({})", config.provider.api_base, e.message),
        401 | 403 => format!(
            "the provider refused provider_account_sid or provider_auth_token ({}{})",
            e.status,
            e.code.map(|c| format!(", error {c}")).unwrap_or_default()
        ),
        404 => "the provider does not know this account (provider_account_sid)".to_string(),
        _ => format!("the provider refused the request: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_url;

    #[test]
    fn loopback_urls() {
        for url in ["http://127.0.0.1:8080", "http://localhost:9000/x", "http://[::1]:80", "http://127.9.9.9"] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in ["http://hotline.example.org", "https://127.0.0.1", "http://10.0.0.1:80", "http://localhost.evil"] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
