//! `kith bench`: the load generator, built on the project's own client.
//!
//! Every scenario registers (or reuses) its own users, drives a running
//! server over TLS, QUIC or plain TCP, and reports throughput, latency
//! percentiles, errors and — given the server's pid on this machine — the
//! server's memory and CPU. `docs/BENCHMARKS.md` lists the figures measured
//! with it and the commands that produced them.

mod accounts;
mod connections;
mod conversations;
mod feed;
mod group;
mod login;
mod media;
mod micro;
mod presence;
mod push;
pub mod report;
mod resilience;
mod retention;
mod signals;
mod social;
mod stored;
mod stored_reads;
mod sync;
mod traffic;
mod typing;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use crate::client::{quic_endpoint, Client, ClientError, ConnectOptions, Transport};
use crate::transport::cert::parse_fingerprint;
pub use accounts::Tokens;
use report::{ProcessSample, Report, ServerUsage};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// N authenticated idle connections held for a while; server memory per connection.
    Connections,
    /// P sender/receiver pairs with a window of unacknowledged messages each.
    Dm,
    /// One sender to R users with D online devices each: the push path.
    Fanout,
    /// A K-message backlog received by a device coming online.
    Sync,
    /// Password logins per second, then token authentications per second.
    Login,
    /// Pairs chatting, then the same with `--stalled` receivers that never read.
    Slow,
    /// Pairs chatting, then the same while one address floods with idle
    /// sockets and silent TLS handshakes (`--flood` of each).
    Flood,
    /// Nickname-prefix searches over a seeded directory, then friend request
    /// → accept round trips (`--seed-data-dir` seeds the directory first).
    Social,
    /// One group of `--members` members online, `--senders` of them sending.
    Group,
    /// The conversation list of a user with `--conversations` conversations:
    /// first-page latency, then one `MarkRead` per conversation.
    Conversations,
    /// Pairs chatting, then the same while the server purges a backlog of
    /// `--messages` expired messages.
    Retention,
    /// The pure hot paths (frames, bodies, keys, ids) timed in this
    /// process, no server needed.
    Micro,
    /// `--files` uploads and downloads of `--file-kib` KiB, then pairs
    /// chatting alone and beside transfers.
    Media,
    /// One group of `--members` members, `--online` of them connected, and
    /// `--senders` of those typing at `--rate` signals a second in all.
    Typing,
    /// One group of `--members` members, `--online` of them connected and
    /// watching `--senders` others come and go, `--rate` times a second in
    /// all; then `GroupOnline` at `--rate` a second.
    Presence,
    /// One group of `--members` members, `--online` of them connected, and
    /// `--senders` of those reacting, then editing, at `--rate` a second in
    /// all; then the owner mentioning everyone at that rate.
    Signals,
    /// The moments feed of a user with `--friends` friends who each posted
    /// `--moments` moments: first-page latency, then the next pages.
    Feed,
    /// Against a server on a seeded directory (`dm --seed-data-dir`):
    /// `History` pages deep in `--pairs` seeded conversations for
    /// `--duration` seconds, then a new device's `Sync` from the start.
    Stored,
}

/// Which transport to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportKind {
    /// TCP with TLS.
    Tls,
    /// QUIC.
    Quic,
    /// Plain TCP.
    Tcp,
}

/// `kith bench` options.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenario to run.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Server address (TLS/TCP port, or the UDP port for QUIC).
    #[arg(long, default_value = "127.0.0.1:7420")]
    pub server: SocketAddr,
    /// Transport.
    #[arg(long, value_enum, default_value = "tls")]
    pub transport: TransportKind,
    /// Server certificate fingerprint (from `kith cert fingerprint`); needed for TLS and QUIC.
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// Server process id, to report its memory and CPU (local servers only).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Prefix of the bench users' names.
    #[arg(long, default_value = "bench")]
    pub prefix: String,
    /// Cache of bench users' tokens, so later runs skip password logins.
    #[arg(long)]
    pub accounts: Option<PathBuf>,
    /// Seconds of sending (dm, fanout), of holding connections
    /// (connections), or of timing the hot paths (micro).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Sender/receiver pairs (dm).
    #[arg(long, default_value_t = 50)]
    pub pairs: usize,
    /// Unacknowledged messages each sender keeps in flight (dm, fanout, sync).
    #[arg(long, default_value_t = 32)]
    pub window: usize,
    /// Message size in bytes (at least 8).
    #[arg(long, default_value_t = 200)]
    pub size: usize,
    /// Total send rate in messages per second; unlimited if absent (dm,
    /// fanout). Typing: signals a second (100); presence: comings and
    /// goings, then `GroupOnline` calls, a second (20); signals: actions
    /// a second (100).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Recipients (fanout).
    #[arg(long, default_value_t = 20)]
    pub recipients: usize,
    /// Online devices per recipient, 1–4 (fanout).
    #[arg(long, default_value_t = 4)]
    pub devices: usize,
    /// Connections to open (connections).
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Loopback source addresses to spread connections over (127.0.0.1, .2, …);
    /// each carries at most the server's per-IP limit.
    #[arg(long, default_value_t = 1)]
    pub source_ips: usize,
    /// Backlog size (sync, retention); messages to seed (dm with `--seed-data-dir`).
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
    /// Logins to perform (login).
    #[arg(long, default_value_t = 200)]
    pub logins: usize,
    /// Receivers that never read (slow).
    #[arg(long, default_value_t = 1)]
    pub stalled: usize,
    /// Give every receiver a second phone, asleep, whose push endpoint never
    /// answers (dm; the server must list 127.0.0.1 in `push.local_hosts`).
    #[arg(long)]
    pub stalled_push: bool,
    /// Idle sockets and silent TLS handshakes, each (flood).
    #[arg(long, default_value_t = 1000)]
    pub flood: usize,
    /// Searches to make, one at a time (social).
    #[arg(long, default_value_t = 2_000)]
    pub searches: usize,
    /// Seed this new data directory, then exit; no server may be running on
    /// it. Social: `--users` accounts and profiles; dm: `--pairs`
    /// conversations holding `--messages` messages of `--size` bytes.
    #[arg(long)]
    pub seed_data_dir: Option<PathBuf>,
    /// dm with `--seed-data-dir`: the seeded messages were sent evenly over
    /// this many days up to now, as on a server that has run that long
    /// (0: all now), so what the server forgets with age can be measured.
    /// Ids start at 2025-01-01: messages dated before it take its first ids.
    #[arg(long, default_value_t = 0)]
    pub days: u64,
    /// Tokens to seed (social).
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// Members of the group, each online on one device (group; typing,
    /// presence and signals: `--online` of them).
    #[arg(long, default_value_t = 500)]
    pub members: usize,
    /// Members sending from a second device (group), typing (typing),
    /// coming and going (presence), or reacting and editing (signals).
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Members connected and counting the pushes they get (typing,
    /// presence), or reading (signals).
    #[arg(long, default_value_t = 200)]
    pub online: usize,
    /// Peers who each write to the listing user (conversations).
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    /// Groups the listing user owns, with a message each (conversations).
    #[arg(long, default_value_t = 0)]
    pub groups: usize,
    /// First-page lists to time, one at a time (conversations, feed).
    #[arg(long, default_value_t = 2000)]
    pub lists: usize,
    /// Messages a member of the listing user's first group sends and
    /// recalls before the lists are timed: recall marks every unread count
    /// above the user's read position looks at (conversations).
    #[arg(long, default_value_t = 0)]
    pub recalls: usize,
    /// Files to upload and download back (media).
    #[arg(long, default_value_t = 10)]
    pub files: usize,
    /// Size of each file in KiB (media).
    #[arg(long, default_value_t = 1024)]
    pub file_kib: usize,
    /// Friends of the reader, each posting moments (feed).
    #[arg(long, default_value_t = 1000)]
    pub friends: usize,
    /// Moments each friend posts (feed).
    #[arg(long, default_value_t = 50)]
    pub moments: usize,
    /// Concurrent logins or connection set-ups.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

/// Where the bench connects, spreading connections over source addresses.
pub struct Server {
    addr: SocketAddr,
    transport: Transport,
    sources: Vec<(IpAddr, Option<quinn::Endpoint>)>,
    next: AtomicUsize,
}

impl Server {
    fn new(args: &BenchArgs) -> Result<Server, String> {
        let fingerprint = || {
            args.fingerprint
                .as_deref()
                .and_then(parse_fingerprint)
                .ok_or_else(|| "--fingerprint is required for tls and quic (see `kith cert fingerprint`)".to_string())
        };
        let transport = match args.transport {
            TransportKind::Tcp => Transport::Tcp,
            TransportKind::Tls => Transport::Tls { fingerprint: fingerprint()? },
            TransportKind::Quic => Transport::Quic { fingerprint: fingerprint()? },
        };
        let mut sources = Vec::new();
        if args.source_ips > 1 {
            if !args.server.ip().is_loopback() || !args.server.is_ipv4() {
                return Err("--source-ips needs an IPv4 loopback server address".into());
            }
            for i in 0..args.source_ips.min(250) {
                let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + i as u8));
                let endpoint = match &transport {
                    Transport::Quic { fingerprint } => {
                        Some(quic_endpoint(SocketAddr::new(ip, 0), *fingerprint).map_err(|e| e.to_string())?)
                    }
                    _ => None,
                };
                sources.push((ip, endpoint));
            }
        }
        Ok(Server { addr: args.server, transport, sources, next: AtomicUsize::new(0) })
    }

    /// The server address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The transport, with its pinned fingerprint.
    pub fn transport(&self) -> Transport {
        self.transport.clone()
    }

    /// Opens a connection from the next source address.
    pub async fn connect(&self) -> Result<Client, ClientError> {
        if self.sources.is_empty() {
            return Client::connect(self.addr, &self.transport).await;
        }
        let (ip, endpoint) = &self.sources[self.next.fetch_add(1, Ordering::Relaxed) % self.sources.len()];
        let options = ConnectOptions { local_ip: Some(*ip), quic_endpoint: endpoint.clone() };
        Client::connect_with(self.addr, &self.transport, &options).await
    }
}

/// What every scenario works with.
pub struct Bench<'a> {
    /// The command-line options.
    args: &'a BenchArgs,
    /// Where to connect.
    server: Server,
    /// Bench users and their tokens.
    accounts: Tokens,
    /// The server process, when its pid is known.
    probe: ServerProbe,
}

/// Measures the server process around a run.
pub struct ServerProbe {
    pid: Option<u32>,
    before: Option<(ProcessSample, Instant)>,
}

impl Bench<'_> {
    /// The server's process id, when it was given.
    fn server_pid(&self) -> Option<u32> {
        self.args.server_pid
    }
}

impl ServerProbe {
    fn new(pid: Option<u32>) -> ServerProbe {
        ServerProbe { pid, before: None }
    }

    /// Marks the start of the measured part.
    pub fn start(&mut self) {
        self.before = self.pid.and_then(ProcessSample::read).map(|s| (s, Instant::now()));
    }

    /// Usage since [`ServerProbe::start`].
    pub fn finish(&self) -> Option<ServerUsage> {
        let (before, at) = self.before?;
        let after = ProcessSample::read(self.pid?)?;
        Some(ServerUsage::between(before, after, at.elapsed()))
    }
}

/// Runs `kith bench` and prints its report.
pub fn main(args: BenchArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let report = runtime.block_on(run(&args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        print!("{}", report.text());
    }
    Ok(())
}

/// Runs one scenario.
pub async fn run(args: &BenchArgs) -> Result<Report, String> {
    if args.size < 8 {
        return Err("--size must be at least 8 (the send timestamp)".into());
    }
    match (args.scenario, &args.seed_data_dir) {
        (Scenario::Social, Some(dir)) => return social::seed(dir, &args.prefix, args.users).await,
        (Scenario::Dm, Some(dir)) => return stored::seed(dir, args).await,
        _ => {}
    }
    // The one scenario without a server: no address, pin or accounts.
    if args.scenario == Scenario::Micro {
        return Ok(micro::run(args.duration));
    }
    let mut bench = Bench {
        args,
        server: Server::new(args)?,
        accounts: Tokens::load(args.accounts.clone()),
        probe: ServerProbe::new(args.server_pid),
    };
    let b = &mut bench;
    let result = match args.scenario {
        Scenario::Dm => traffic::dm(b).await,
        Scenario::Fanout => traffic::fanout(b).await,
        Scenario::Sync => sync::run(b).await,
        Scenario::Login => login::run(b).await,
        Scenario::Connections => connections::run(b).await,
        Scenario::Slow => resilience::slow(b).await,
        Scenario::Flood => resilience::flood(b).await,
        Scenario::Social => social::run(b).await,
        Scenario::Group => group::run(b).await,
        Scenario::Conversations => conversations::run(b).await,
        Scenario::Retention => retention::run(b).await,
        Scenario::Media => media::run(b).await,
        Scenario::Typing => typing::run(b).await,
        Scenario::Presence => presence::run(b).await,
        Scenario::Signals => signals::run(b).await,
        Scenario::Feed => feed::run(b).await,
        Scenario::Stored => stored_reads::run(b).await,
        Scenario::Micro => Ok(micro::run(args.duration)), // returned above
    };
    if let Err(e) = bench.accounts.save() {
        eprintln!("kith bench: could not save the accounts cache: {e}");
    }
    let mut report = result.map_err(|e| e.to_string())?;
    report.transport = format!("{:?}", args.transport).to_lowercase();
    report.server = bench.probe.finish();
    Ok(report)
}

/// A progress bar for a run of `len` steps, drawn only on a terminal.
fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Opens a stopped server's data directory in process, fills it with
/// `fill` and closes it again: what `fill` returned, the seconds it took
/// and the bytes the database then occupies (the `--seed-data-dir` runs).
async fn seed_directory<T, F, Fut>(data_dir: &std::path::Path, fill: F) -> Result<(T, f64, u64), String>
where
    F: FnOnce(std::sync::Arc<crate::service::Services>) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let config = crate::config::Config { data_dir: data_dir.to_path_buf(), ..crate::config::Config::default() };
    let (services, background) = crate::service::Services::open(&config).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let filled = fill(services.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let disk = services.disk_bytes().await.map_err(|e| e.to_string());
    drop(services);
    let _ = tokio::task::spawn_blocking(move || background.join()).await;
    Ok((filled?, seconds, disk?))
}

/// Runs `f` over `items` with at most `concurrency` at once.
async fn concurrently<T, R, F, Fut>(items: Vec<T>, concurrency: usize, what: &str, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R>,
{
    use futures_util::StreamExt;
    let bar = progress(items.len() as u64, what);
    let out = futures_util::stream::iter(items)
        .map(|item| {
            let bar = bar.clone();
            let fut = f(item);
            async move {
                let r = fut.await;
                bar.inc(1);
                r
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    out
}

/// Runs a set-up call again while the server answers `RateLimited` (its
/// login and registration throttles protect it from exactly the bursts a
/// load generator makes), for up to a minute.
async fn past_throttle<T, Fut>(mut call: impl FnMut() -> Fut) -> Result<T, ClientError>
where
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match call().await {
            Err(e) if e.code() == Some(crate::protocol::ErrorCode::RateLimited) && Instant::now() < deadline => {
                let wait = e.retry_after().unwrap_or(Duration::from_millis(50));
                tokio::time::sleep(wait.min(Duration::from_secs(2))).await;
            }
            other => return other,
        }
    }
}

/// Makes `asker` (user `asker_id`) and `answerer` (user `answerer_id`)
/// friends, so their messages pass the server's default friends-only rule.
/// The side that would send many requests answers instead, so no bench user
/// runs into the daily request limit; friends already (a reused data
/// directory) is fine.
async fn befriend(asker: &Client, answerer: &Client, answerer_id: u64) -> Result<(), ClientError> {
    use crate::protocol::{AddFriendRequest, AnswerFriendRequest, ErrorCode, RequestState};
    let asked = match asker.call(&AddFriendRequest { user_id: answerer_id, message: String::new() }).await {
        Err(e) if e.code() == Some(ErrorCode::Conflict) => return Ok(()),
        other => other?,
    };
    if asked.state == RequestState::Pending {
        answerer.call(&AnswerFriendRequest { request_id: asked.id, accept: true }).await?;
    }
    Ok(())
}

/// Time since `epoch` in microseconds, the clock the scenarios stamp messages with.
/// A bench group's fields: open to anyone, no history for new members.
fn open_group(name: String) -> crate::protocol::GroupFields {
    crate::protocol::GroupFields {
        name,
        avatar: 0,
        introduction: String::new(),
        announcement: String::new(),
        join_policy: crate::protocol::JoinPolicy::Open,
        history_visible: false,
    }
}

fn micros_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// Waits a moment for in-flight work to settle.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}
