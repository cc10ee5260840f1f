//! `connections`: N authenticated connections held idle; the server's memory
//! per connection.

use std::time::{Duration, Instant};

use super::report::{ProcessSample, Report};
use super::{concurrently, settle, Bench};
use crate::client::ClientError;

/// Devices per bench user: one per device type, so none pushes another off.
const DEVICES: usize = 4;

/// Runs the scenario.
pub async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let prefix = &args.prefix;
    let slots: Vec<(usize, usize)> = (0..args.connections).map(|i| (i / DEVICES, i % DEVICES)).collect();
    let connect = |(user, device): (usize, usize)| async move {
        accounts.connect(server, &format!("{prefix}-c-{user}"), device).await.map(|(client, _)| client)
    };

    // First make sure every device has a token (password logins are slow and
    // their memory is not what this measures); then measure from a baseline.
    let warm = concurrently(slots.clone(), args.concurrency, "tokens", connect).await;
    let failed = warm.iter().filter(|r| r.is_err()).count();
    drop(warm);
    if let Err(e) = accounts.save() {
        eprintln!("kith bench: could not save the accounts cache: {e}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let baseline = args.server_pid.and_then(ProcessSample::read);
    b.probe.start();
    let started = Instant::now();
    let held = concurrently(slots, args.concurrency, "connecting", connect).await;
    let open_time = started.elapsed();
    let errors = held.iter().filter(|r| r.is_err()).count() as u64;
    let clients: Vec<_> = held.into_iter().flatten().collect();
    settle().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = args.server_pid.and_then(ProcessSample::read);

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
        .count("token set-up failures", failed as u64)
        .count("connect errors", errors)
        .count("held", clients.len() as u64)
        .count("alive after hold", alive)
        .rate("connects", clients.len() as f64 / open_time.as_secs_f64());
    if let (Some(before), Some(after)) = (baseline, loaded) {
        let per = after.rss_bytes.saturating_sub(before.rss_bytes) as f64 / clients.len().max(1) as f64;
        report.figure("server KiB per connection", per / 1024.0);
    }
    Ok(report)
}
