//! `connections`: N authenticated connections held idle; the server's memory
//! per connection.
//!
//! Memory is measured from a baseline taken before this run opens any
//! connection. Devices without a cached token need a password login first,
//! and those connections (and argon2's 19 MiB per hash) leave memory in the
//! server's allocator that would then hide the cost being measured — so a
//! run that had to log in says so, and the clean figure comes from a second
//! run against a freshly started server with the same `--accounts` file.

use std::time::{Duration, Instant};

use super::report::{ProcessSample, Report};
use super::{concurrently, settle, Bench};
use crate::client::ClientError;

/// Devices per bench user: one per device type, so none pushes another off.
const DEVICES: usize = 4;

const MIB: f64 = 1024.0 * 1024.0;

/// Runs the scenario.
pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let prefix = &args.prefix;
    let username = |user: usize| format!("{prefix}-c-{user}");
    let slots: Vec<(usize, usize)> = (0..args.connections).map(|i| (i / DEVICES, i % DEVICES)).collect();
    let connect = |(user, device): (usize, usize)| {
        let name = username(user);
        async move { accounts.connect(server, &name, device).await.map(|(client, _)| client) }
    };

    let baseline = args.server_pid.and_then(ProcessSample::read);
    // Devices with no cached token log in now, before the measured part;
    // their connections close again but their memory stays in the baseline
    // below, which is then no clean figure (see the module comment).
    let missing: Vec<(usize, usize)> =
        slots.iter().copied().filter(|(user, device)| !accounts.has_token(&username(*user), *device)).collect();
    let warm = concurrently(missing, args.concurrency, "tokens", connect).await;
    let failed = warm.iter().filter(|r| r.is_err()).count();
    drop(warm);
    if let Err(e) = accounts.save() {
        eprintln!("kith bench: could not save the accounts cache: {e}");
    }
    let set_up_logins = accounts.logins();
    if set_up_logins > 0 {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let before = args.server_pid.and_then(ProcessSample::read);

    b.probe.start();
    let started = Instant::now();
    let held = concurrently(slots, args.concurrency, "connecting", connect).await;
    let open_time = started.elapsed();
    let errors = held.iter().filter(|r| r.is_err()).count() as u64;
    let clients: Vec<_> = held.into_iter().flatten().collect();
    settle().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = args.server_pid.and_then(ProcessSample::read);
    // Tokens the server refused (a fresh data directory) meant password
    // logins while measuring.
    let measured_logins = accounts.logins() - set_up_logins;

    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    let alive = concurrently(clients.iter().collect(), args.concurrency, "checking", |c| c.heartbeat())
        .await
        .into_iter()
        .filter(Result::is_ok)
        .count() as u64;

    let mut report = Report::new("connections", "");
    report.seconds = started.elapsed().as_secs_f64();
    report
        .count("requested", args.connections as u64)
        .count("password logins before the measurement", set_up_logins)
        .count("password logins while measuring", measured_logins)
        .count("token set-up failures", failed as u64)
        .count("connect errors", errors)
        .count("held", clients.len() as u64)
        .count("alive after hold", alive)
        .rate("connects", clients.len() as f64 / open_time.as_secs_f64());
    if let (Some(baseline), Some(before), Some(after)) = (baseline, before, loaded) {
        let per = after.rss_bytes.saturating_sub(before.rss_bytes) as f64 / clients.len().max(1) as f64;
        report
            .figure("server RSS at start, MiB", baseline.rss_bytes as f64 / MIB)
            .figure("server RSS before connecting, MiB", before.rss_bytes as f64 / MIB)
            .figure("server RSS holding them, MiB", after.rss_bytes as f64 / MIB)
            .figure("server peak RSS, MiB", after.peak_rss_bytes as f64 / MIB)
            .figure("server KiB per connection", per / 1024.0);
    }
    if set_up_logins + measured_logins > 0 {
        eprintln!(
            "kith bench: {} password logins ran on this server, so its allocator already held memory the \
             connections then reuse: KiB per connection reads low. For a clean figure, restart the server \
             on the same data directory and run again with the same --accounts file.",
            set_up_logins + measured_logins
        );
    }
    Ok(report)
}
