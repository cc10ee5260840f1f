//! The command line: `kith serve`, operator commands, configuration and
//! certificate utilities, and the load generator.

mod admin;
mod invite;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigError, LogFormat, DEFAULT_TOML};
use crate::transport::cert::{self, Certificate};

/// kith: a self-hosted instant-messaging server.
#[derive(Debug, Parser)]
#[command(name = "kith", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ConfigArgs),
    /// Certificate utilities.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Configuration utilities.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check a configuration file and report the first problem.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Load-test a running server and report throughput, latency and memory.
    Bench(crate::bench::BenchArgs),
    /// Manage users.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Invitations to register, each with a join link and QR code.
    #[command(subcommand)]
    Invite(invite::InviteCommand),
    /// Users, conversations, messages and disk use.
    Stats(admin::Listing),
    /// Who is connected, on which devices (needs the running server).
    Online(admin::Listing),
    /// Files kept by the server.
    #[command(subcommand)]
    Media(admin::MediaCommand),
    /// Wake-ups of phones through UnifiedPush: devices, results, the VAPID key.
    #[command(subcommand)]
    Push(admin::PushCommand),
    /// Write a consistent backup to FILE; safe while the server runs.
    Backup {
        /// Backup file to write.
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Restore a backup into an empty data directory (server stopped).
    Restore {
        /// Backup file to read.
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Rewrite the database into fresh files holding only its live entries
    /// (server stopped): after sweeps removed many keys, it frees the
    /// memory and disk sled keeps for their pages.
    Compact {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print the version.
    Version,
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Print the SHA-256 fingerprint of the server certificate, for clients to pin.
    Fingerprint {
        /// Print the SHA-256 of the certificate's public key (SubjectPublicKeyInfo)
        /// instead, in hex and as Android pins it (`sha256/<base64>`): a pin that
        /// survives renewing the certificate with the same key.
        #[arg(long)]
        public_key: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Issue a new self-signed certificate with the same key, so public-key
    /// pins and join links stay valid; the server takes it on reload (SIGHUP).
    Renew {
        /// A name or address the certificate is also for (repeatable).
        #[arg(long = "name")]
        names: Vec<String>,
        /// Replace the key too: every pin and join link changes.
        #[arg(long)]
        new_key: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the fully commented default configuration.
    Default {
        /// With the packaged paths (/var/lib/kith), as in /etc/kith/kith.toml.
        #[arg(long)]
        packaged: bool,
    },
}

/// Where the configuration comes from; flags win over the file.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, short, env = "KITH_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TCP+TLS listen address, or "off".
    #[arg(long)]
    listen_tls: Option<String>,
    /// QUIC listen address, or "off".
    #[arg(long)]
    listen_quic: Option<String>,
    /// Plain-TCP listen address (loopback unless --allow-remote-plain-tcp), or "off".
    #[arg(long)]
    listen_tcp: Option<String>,
    /// Allow the plain-TCP listener on a non-loopback address (unencrypted!).
    #[arg(long)]
    allow_remote_plain_tcp: bool,
    /// Certificate chain (PEM).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Private key (PEM).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Any other setting, as section.key=value (repeatable), e.g. limits.max_inflight=64.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

impl ConfigArgs {
    pub(crate) fn load(&self) -> Result<Config, ConfigError> {
        let quoted = |key: &str, value: &str| format!("{key}={}", toml::Value::String(value.to_string()));
        let path = |key: &str, value: &PathBuf| quoted(key, &value.display().to_string());
        let mut overrides = Vec::new();
        overrides.extend(self.data_dir.as_ref().map(|v| path("data_dir", v)));
        overrides.extend(self.listen_tls.as_ref().map(|v| quoted("listen.tls", v)));
        overrides.extend(self.listen_quic.as_ref().map(|v| quoted("listen.quic", v)));
        overrides.extend(self.listen_tcp.as_ref().map(|v| quoted("listen.tcp", v)));
        if self.allow_remote_plain_tcp {
            overrides.push("listen.allow_remote_plain_tcp=true".into());
        }
        overrides.extend(self.cert.as_ref().map(|v| path("tls.cert", v)));
        overrides.extend(self.key.as_ref().map(|v| path("tls.key", v)));
        overrides
            .extend(self.log_format.map(|f| quoted("log.format", if f == LogFormat::Json { "json" } else { "text" })));
        overrides.extend(self.set.iter().cloned());
        Config::load(self.config.as_deref(), &overrides)
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    private_files();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => args.load().map_err(|e| e.to_string()).and_then(|config| serve::serve(config, &args)),
        Command::Cert(CertCommand::Fingerprint { public_key, config }) => {
            config.load().map_err(|e| e.to_string()).and_then(|c| print_fingerprint(c, public_key))
        }
        Command::Cert(CertCommand::Renew { names, new_key, config }) => {
            config.load().map_err(|e| e.to_string()).and_then(|c| renew_certificate(c, &names, new_key))
        }
        Command::Config(ConfigCommand::Default { packaged }) => {
            match packaged {
                true => print!("{}", crate::config::packaged_toml()),
                false => print!("{DEFAULT_TOML}"),
            }
            Ok(())
        }
        Command::CheckConfig { file } => Config::load(Some(&file), &[])
            .map(|_| println!("{}: ok", file.display()))
            .map_err(|e| format!("{}: {e}", file.display())),
        Command::Bench(args) => crate::bench::main(args),
        Command::User(command) => admin::user(command),
        Command::Invite(command) => invite::invite(command),
        Command::Stats(listing) => admin::stats(&listing),
        Command::Online(listing) => admin::online(&listing),
        Command::Media(admin::MediaCommand::Du(listing)) => admin::media_usage(&listing),
        Command::Push(command) => admin::push(&command),
        Command::Backup { file, config } => admin::backup(&config, &file),
        Command::Restore { file, config } => admin::restore(&config, &file),
        Command::Compact { config } => admin::compact(&config),
        Command::Version => {
            println!("kith {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kith: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Everything kith writes — the database, keys, backups, exports — holds
/// secrets (password and token hashes, messages), so files are created for
/// its own user only, whatever umask it was started with. (The control
/// socket is opened to its group explicitly, see `admin::control`.)
fn private_files() {
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::umask(0o077);
    }
}

fn print_fingerprint(config: Config, public_key: bool) -> Result<(), String> {
    let certificate = Certificate::load(&config.tls.cert, &config.tls.key).map_err(|e| e.to_string())?;
    if !public_key {
        println!("SHA256:{}", cert::format_fingerprint(&certificate.fingerprint()));
        return Ok(());
    }
    let fp = certificate.public_key_fingerprint().map_err(|e| format!("{}: {e}", config.tls.cert.display()))?;
    println!("SHA256:{}", cert::format_fingerprint(&fp));
    println!("{}", cert::okhttp_pin(&fp));
    Ok(())
}

fn renew_certificate(config: Config, names: &[String], new_key: bool) -> Result<(), String> {
    cert::renew(&config.tls.cert, &config.tls.key, names, new_key).map_err(|e| e.to_string())?;
    let certificate = Certificate::load(&config.tls.cert, &config.tls.key).map_err(|e| e.to_string())?;
    let public_key = certificate.public_key_fingerprint().map_err(|e| e.to_string())?;
    println!("certificate SHA256:{}", cert::format_fingerprint(&certificate.fingerprint()));
    println!("public key  SHA256:{} ({})", cert::format_fingerprint(&public_key), cert::okhttp_pin(&public_key));
    println!("reload the server (SIGHUP, systemctl reload kith) to serve it");
    Ok(())
}
