//! `kith invite …`: invite codes to register with, each printed as a join link
//! and a QR code a phone scans to connect with the right pin and register.

use clap::Subcommand;
use serde_json::Value;

use super::admin::{cell, load, run_json, utc, Listing};
use super::ConfigArgs;
use crate::admin::Command;

#[derive(Debug, Subcommand)]
pub(crate) enum InviteCommand {
    /// Create an invite code and print its join link and QR code.
    Create {
        /// Registrations it admits.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it stays valid: a number with s, m, h or d (`7d`); for ever if absent.
        #[arg(long, value_parser = parse_duration)]
        expires: Option<u64>,
        /// Whom it is for (shown by `kith invite list`).
        #[arg(long, default_value = "")]
        note: String,
        /// Host name or address phones reach the server at [default: registration.public_host].
        #[arg(long)]
        host: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List invite codes (no secrets).
    List(Listing),
    /// Print an invite code's join link and QR code again.
    Show {
        /// Invitation id.
        id: u64,
        /// Host name or address phones reach the server at [default: registration.public_host].
        #[arg(long)]
        host: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Revoke an invite code: it admits nobody from now on.
    Revoke {
        /// Invitation id.
        id: u64,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// `7d`, `12h`, `30m`, `90s` (or plain seconds) as seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?}: expected a number with s, m, h or d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is one of s, m, h, d")),
    };
    n.checked_mul(scale).filter(|s| *s > 0).ok_or_else(|| format!("{text:?}: out of range"))
}

pub(super) fn invite(command: InviteCommand) -> Result<(), String> {
    match command {
        InviteCommand::Create { uses, expires, note, host, config } => {
            let data = run_json(&load(&config)?, Command::InviteCreate { uses, expires_secs: expires, note, host })?;
            print_link(&data)
        }
        InviteCommand::Show { id, host, config } => {
            print_link(&run_json(&load(&config)?, Command::InviteShow { id, host })?)
        }
        InviteCommand::Revoke { id, config } => {
            run_json(&load(&config)?, Command::InviteRevoke { id })?;
            println!("invite code {id} revoked");
            Ok(())
        }
        InviteCommand::List(listing) => listing.show(Command::InviteList, |data| {
            println!("{:>20}  {:<8}  {:>4}  {:>4}  {:<20}  note", "id", "state", "left", "used", "expires (UTC)");
            for i in data.as_array().into_iter().flatten() {
                let expires =
                    if i["expires_at"].as_u64() == Some(0) { "never".to_string() } else { utc(&i["expires_at"]) };
                println!(
                    "{:>20}  {:<8}  {:>4}  {:>4}  {:<20}  {}",
                    cell(&i["id"]),
                    cell(&i["state"]),
                    cell(&i["uses_left"]),
                    cell(&i["used"]),
                    expires,
                    cell(&i["note"])
                );
            }
        }),
    }
}

/// Prints an invite code's id, link and the link as a QR code.
fn print_link(data: &Value) -> Result<(), String> {
    let link = data["link"].as_str().ok_or("the server answered no link")?;
    let code = qrcode::QrCode::new(link.as_bytes()).map_err(|e| e.to_string())?;
    let picture = code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    println!("{picture}");
    let left = data["uses_left"].as_u64().unwrap_or_default();
    println!("invite code {} ({left} {} left)", cell(&data["id"]), if left == 1 { "use" } else { "uses" });
    println!("{link}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1_800));
        assert!(parse_duration("1w").is_err() && parse_duration("d").is_err() && parse_duration("0s").is_err());
    }
}
