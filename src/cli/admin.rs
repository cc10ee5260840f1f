//! Operator commands: `kith user …`, `stats`, `online`, `backup`, `restore`.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::Value;

use super::ConfigArgs;
use crate::admin::{local, Command};
use crate::config::Config;
use crate::service::{media, migrate};
use crate::storage::Store;

/// Environment variable a password may come from instead of a prompt.
const PASSWORD_ENV: &str = "KITH_PASSWORD";

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user (password from a prompt or KITH_PASSWORD).
    Add {
        /// Username.
        username: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List users.
    List(Listing),
    /// Disable a user: disconnected at once, cannot log in.
    Disable {
        /// Username.
        username: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Enable a disabled user.
    Enable {
        /// Username.
        username: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Delete a user for good: disconnected at once, their profile,
    /// friendships, memberships and logs erased (see PROTOCOL's DeleteAccount).
    Delete {
        /// Username.
        username: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Set a new password (prompt or KITH_PASSWORD); revokes the user's tokens.
    ResetPassword {
        /// Username.
        username: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Write one user's profile, devices and messages to a JSON-lines file.
    Export {
        /// Username.
        username: String,
        /// Output file [default: USERNAME.jsonl].
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Also copy the files the user uploaded into this directory, each
        /// named by its media id (the export's `media` lines list them).
        #[arg(long)]
        files: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum MediaCommand {
    /// Bytes of files each user stores against their quota, largest first.
    Du(Listing),
}

#[derive(Debug, Subcommand)]
pub(crate) enum PushCommand {
    /// Devices with a push endpoint, and how their last wake-up since the
    /// start went.
    List(Listing),
    /// The server's VAPID public key (base64url), as UnifiedPush apps and
    /// distributors take it.
    Key {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// A listing command's options: a table for people, or JSON for scripts.
#[derive(Debug, Args)]
pub(crate) struct Listing {
    /// Print JSON instead of a table (times as Unix milliseconds).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

impl Listing {
    /// Runs the command; prints its JSON, or hands it to `table`.
    pub(super) fn show(&self, command: Command, table: impl FnOnce(&Value)) -> Result<(), String> {
        let data = run_json(&load(&self.config)?, command)?;
        match self.json {
            true => println!("{}", serde_json::to_string_pretty(&data).map_err(|e| e.to_string())?),
            false => table(&data),
        }
        Ok(())
    }
}

/// A time in Unix milliseconds as RFC 3339 in UTC, to the second
/// (`2026-11-30T18:03:08Z`).
/// A JSON value as a table cell: a string without its quotes, anything
/// else as JSON, so that width and alignment apply to it.
pub(super) fn cell(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

/// Unix milliseconds as RFC 3339 UTC, for tables.
pub(super) fn utc(ms: &Value) -> String {
    let seconds = ms.as_u64().unwrap_or_default() / 1000;
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).unwrap_or(i64::MAX))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms} ms"))
}

pub(super) fn load(args: &ConfigArgs) -> Result<Config, String> {
    args.load().map_err(|e| e.to_string())
}

/// Runs a command to completion on a small runtime.
fn run(config: &Config, command: Command, sink: &mut dyn Write) -> Result<Value, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(local::run(config, command, sink))
}

pub(super) fn run_json(config: &Config, command: Command) -> Result<Value, String> {
    run(config, command, &mut std::io::sink())
}

/// Reads a new password from KITH_PASSWORD or, on a terminal, a prompt
/// (asked twice). Never from the command line, where `ps` would show it.
fn new_password() -> Result<String, String> {
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!("no terminal to prompt on; pass the password in {PASSWORD_ENV}"));
    }
    let first = rpassword::prompt_password("New password: ").map_err(|e| e.to_string())?;
    let second = rpassword::prompt_password("Repeat it: ").map_err(|e| e.to_string())?;
    if first != second {
        return Err("the passwords differ".into());
    }
    Ok(first)
}

pub(super) fn user(command: UserCommand) -> Result<(), String> {
    match command {
        UserCommand::Add { username, config } => {
            let config = load(&config)?;
            let password = new_password()?;
            let data = run_json(&config, Command::UserAdd { username: username.clone(), password })?;
            println!("created user {} (id {})", cell(&data["username"]), data["user_id"]);
        }
        UserCommand::List(listing) => listing.show(Command::UserList, |data| {
            println!("{:>8}  {:<32}  {:<20}  state", "id", "username", "created (UTC)");
            for u in data.as_array().into_iter().flatten() {
                let state = if u["disabled"] == Value::Bool(true) { "disabled" } else { "active" };
                let name = u["username"].as_str().unwrap_or_default();
                println!("{:>8}  {name:<32}  {:<20}  {state}", cell(&u["user_id"]), utc(&u["created_at"]));
            }
        })?,
        UserCommand::Disable { username, config } => {
            run_json(&load(&config)?, Command::UserDisable { username: username.clone() })?;
            println!("user {username} disabled and disconnected");
        }
        UserCommand::Enable { username, config } => {
            run_json(&load(&config)?, Command::UserEnable { username: username.clone() })?;
            println!("user {username} enabled");
        }
        UserCommand::Delete { username, config } => {
            let data = run_json(&load(&config)?, Command::UserDelete { username })?;
            println!("user {} (id {}) deleted and erased", cell(&data["username"]), data["user_id"]);
        }
        UserCommand::ResetPassword { username, config } => {
            let config = load(&config)?;
            let password = new_password()?;
            let data = run_json(&config, Command::UserResetPassword { username: username.clone(), password })?;
            println!("password of {username} reset; {} device token(s) revoked", data["tokens_revoked"]);
        }
        UserCommand::Export { username, output, files, config } => {
            let config = load(&config)?;
            let output = output.unwrap_or_else(|| PathBuf::from(format!("{username}.jsonl")));
            let bytes =
                write_file(&output, |file| run(&config, Command::UserExport { username: username.clone() }, file))?;
            println!("exported {username} to {} ({bytes} bytes)", output.display());
            if let Some(dir) = files {
                let copied = copy_uploads(&output, &dir)?;
                println!("copied {copied} file(s) to {}", dir.display());
            }
        }
    }
    Ok(())
}

/// Copies the file of every `media` line of an export into `dir`, named by
/// its media id; returns how many.
fn copy_uploads(export: &Path, dir: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(export).map_err(|e| format!("{}: {e}", export.display()))?;
    crate::storage::private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut copied = 0;
    for line in text.lines() {
        let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) else { continue };
        let Some(media) = record.get("media") else { continue };
        let (Some(id), Some(from)) = (media["id"].as_u64(), media["file"].as_str()) else { continue };
        let to = dir.join(id.to_string());
        std::fs::copy(from, &to).map_err(|e| format!("{from} -> {}: {e}", to.display()))?;
        copied += 1;
    }
    Ok(copied)
}

pub(super) fn stats(listing: &Listing) -> Result<(), String> {
    listing.show(Command::Stats, |data| {
        for key in [
            "users",
            "deleted_users",
            "conversations",
            "messages",
            "updates",
            "retry_keys",
            "friendships",
            "friend_requests",
            "blocks",
            "invitations",
            "groups",
            "group_members",
            "group_messages",
            "media_files",
            "media_bytes",
            "moments",
            "moment_likes",
            "moment_comments",
            "push_endpoints",
            "pushes_sent_since_start",
            "pushes_failed_since_start",
            "disk_bytes",
            "users_online",
            "users_active_30d",
            "sessions_online",
        ] {
            println!("{key:<16} {}", data[key]);
        }
    })
}

pub(super) fn media_usage(listing: &Listing) -> Result<(), String> {
    listing.show(Command::MediaUsage, |data| {
        println!("{:>8}  {:<32}  {:>14}  {:>6}", "user", "username", "bytes", "files");
        for u in data.as_array().cloned().unwrap_or_default() {
            println!(
                "{:>8}  {:<32}  {:>14}  {:>6}",
                cell(&u["user_id"]),
                cell(&u["username"]),
                cell(&u["bytes"]),
                cell(&u["files"])
            );
        }
    })
}

pub(super) fn push(command: &PushCommand) -> Result<(), String> {
    let listing = match command {
        PushCommand::Key { config } => {
            let config = load(config)?;
            let key = crate::service::push::public_key(&config.data_dir).map_err(|e| e.to_string())?;
            let key = key.ok_or("no VAPID key yet: the server makes it on its first start with push.enabled")?;
            println!("{key}");
            return Ok(());
        }
        PushCommand::List(listing) => listing,
    };
    listing.show(Command::PushList, |data| {
        let devices = data.as_array().cloned().unwrap_or_default();
        println!(
            "{:>8}  {:<24}  {:<28}  {:<9}  {:<20}  last result",
            "user", "device", "push host", "connected", "last (UTC)"
        );
        for d in &devices {
            println!(
                "{:>8}  {:<24}  {:<28}  {:<9}  {:<20}  {}",
                cell(&d["user_id"]),
                cell(&d["device_id"]),
                cell(&d["host"]),
                cell(&d["connected"]),
                utc(&d["last_at"]),
                cell(&d["last_result"])
            );
        }
        println!("{} device(s) with a push endpoint", devices.len());
    })
}

pub(super) fn online(listing: &Listing) -> Result<(), String> {
    listing.show(Command::Online, |data| {
        let sessions = data.as_array().cloned().unwrap_or_default();
        println!(
            "{:>8}  {:<24}  {:<8}  {:<8}  {:<5}  {:<20}  peer",
            "user", "device", "type", "client", "via", "since (UTC)"
        );
        for s in &sessions {
            println!(
                "{:>8}  {:<24}  {:<8}  {:<8}  {:<5}  {:<20}  {}",
                cell(&s["user_id"]),
                cell(&s["device_id"]),
                cell(&s["device_type"]),
                cell(&s["client_type"]),
                cell(&s["transport"]),
                utc(&s["since"]),
                cell(&s["peer"])
            );
        }
        println!("{} session(s)", sessions.len());
    })
}

pub(super) fn backup(config: &ConfigArgs, file: &Path) -> Result<(), String> {
    let config = load(config)?;
    let bytes = write_file(file, |sink| run(&config, Command::Backup, sink))?;
    println!("backup written to {} ({bytes} bytes)", file.display());
    Ok(())
}

/// Refuses an offline command while a server runs on the data directory.
fn stopped(config: &Config, doing: &str) -> Result<(), String> {
    match std::os::unix::net::UnixStream::connect(crate::admin::control::socket_path(&config.data_dir)) {
        Ok(_) => Err(format!("the server is running on this data directory; stop it before {doing}")),
        Err(_) => Ok(()),
    }
}

pub(super) fn compact(config: &ConfigArgs) -> Result<(), String> {
    let config = load(config)?;
    stopped(&config, "compacting")?;
    let done = crate::storage::compact::compact(&config.data_dir, &config.storage).map_err(|e| e.to_string())?;
    println!(
        "compacted {} entries in {}: {} bytes on disk before, {} after",
        done.entries,
        config.data_dir.display(),
        done.before,
        done.after
    );
    Ok(())
}

pub(super) fn restore(config: &ConfigArgs, file: &Path) -> Result<(), String> {
    let config = load(config)?;
    stopped(&config, "restoring")?;
    let input = File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    crate::storage::private_dir(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    let files = media::Files::open(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    let mut restore_file = |hash: &[u8; 32], _: u64, content: &mut dyn std::io::Read| files.restore(hash, content);
    let restored = Store::restore(&config.data_dir, input, migrate::current_version(), &mut restore_file);
    let restored = restored.map_err(|e| {
        let _ = std::fs::remove_dir_all(config.data_dir.join("media"));
        e.to_string()
    })?;
    // Opening the store brings a backup of an older layout up to date now,
    // rather than at the server's next start; then what it holds is checked,
    // and that every file it names came back.
    let checked = Store::open(&config.data_dir, &config.storage, migrate::MIGRATIONS)
        .map_err(|e| e.to_string())
        .and_then(|store| migrate::check(&store).map(|()| store))
        .and_then(|store| {
            let named = media::contents(&store).map_err(|e| e.to_string())?;
            match files.missing(&named).first() {
                Some(hash) => Err(format!("the file {} is missing", crate::hex::hex(*hash))),
                None => Ok(store.version()),
            }
        });
    let version = match checked {
        Ok(version) => version,
        Err(problem) => {
            let _ = std::fs::remove_dir_all(config.data_dir.join("sled"));
            let _ = std::fs::remove_dir_all(config.data_dir.join("media"));
            return Err(format!(
                "the backup holds data no kith could have written, so nothing was restored: {problem}"
            ));
        }
    };
    println!(
        "restored {} entries in {} trees and {} files into {}",
        restored.entries,
        restored.trees,
        restored.files,
        config.data_dir.display()
    );
    if restored.schema < version {
        println!("migrated the data from schema version {} to {version}", restored.schema);
    }
    Ok(())
}

/// Writes a file through `fill` under a temporary name and renames it into
/// place only on success, so a failed command never leaves a partial file.
/// The file is the user's alone (0600), and the temporary one is created
/// fresh in the target's directory: an existing file or a symlink planted
/// there is refused, never followed.
fn write_file(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<Value, String>) -> Result<u64, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let partial = path.with_extension("partial");
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&partial).map_err(|e| {
            match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    format!("{} already exists (left by an interrupted run?); remove it and retry", partial.display())
                }
                _ => format!("{}: {e}", partial.display()),
            }
        })?;
    let result = fill(&mut file).and_then(|v| {
        file.sync_all().map_err(|e| e.to_string())?;
        Ok(v)
    });
    match result {
        Ok(data) => {
            std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(data["bytes"].as_u64().unwrap_or(0))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}
