//! `presence`: one group of `--members` members, `--online` of them
//! connected and counting the presence pushes they get, and `--senders`
//! other members coming online and going offline, `--rate` times a second
//! in all, for `--duration` seconds — first with nobody watching them, then
//! with every connected member watching all of them — then the connected
//! members asking `GroupOnline` at `--rate` a second. Everyone shows their
//! presence to everyone. Reports the server's CPU per coming-and-going
//! with and without watchers (the difference is what presence costs), the
//! pushes, the CPU per `GroupOnline`, and the bytes written in each phase:
//! going offline writes nothing of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::group::{build, connect_readers, READER};
use super::report::Report;
use super::Bench;
use crate::client::{Client, ClientError};
use crate::protocol::{Audience, GroupOnlineRequest, PresenceRequest, PrivacyRequest, Push};

/// The wait between building the group and the first phase.
const SETTLE: Duration = Duration::from_secs(5);

/// What one phase cost the server.
struct Phase {
    /// Comings and goings, or `GroupOnline` calls.
    done: u64,
    seconds: f64,
    cpu_secs: f64,
    written: Option<u64>,
}

pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let args = b.args;
    let members = args.members.max(2);
    let online = args.online.clamp(1, members - 1);
    let senders = args.senders.clamp(1, members - online);
    let name = |i: usize| format!("{}-prs{members}-{i}", args.prefix);
    let group = build(b, members, &name).await?;
    let everyone = PrivacyRequest { presence: Some(Audience::Everyone), ..PrivacyRequest::default() };

    let mut readers = Vec::new();
    for reader in connect_readers(b, online, &name).await {
        let reader = reader?;
        reader.call(&everyone).await?;
        readers.push(reader);
    }
    // The members who come and go are the ones after the connected ones.
    let comers: Vec<String> = (online..online + senders).map(name).collect();
    let mut ids = Vec::new();
    for comer in &comers {
        let (client, account) = b.accounts.connect(&b.server, comer, READER).await?;
        client.call(&everyone).await?;
        ids.push(account.user_id);
    }

    // The disk is still busy with what building the group stored.
    tokio::time::sleep(SETTLE).await;
    let alone = come_and_go(b, &comers).await?;
    let pushed_alone = presence_pushes(&mut readers).await;
    for reader in &readers {
        reader.call(&PresenceRequest { users: ids.clone(), watch: true }).await?;
    }
    presence_pushes(&mut readers).await;
    let watched = come_and_go(b, &comers).await?;
    let pushed = presence_pushes(&mut readers).await;
    let (counts, last) = ask_counts(b, &readers, group).await?;

    let mut report = Report::new("presence", "");
    report.seconds = alone.seconds + watched.seconds + counts.seconds;
    report.count("members", members as u64).count("online", online as u64).count("coming and going", senders as u64);
    report.count("comings and goings, nobody watching", alone.done).count("pushes then", pushed_alone);
    // Each coming and each going is told to every watcher, as it is when
    // the push goes: a device back before its going was told makes none.
    report.count("comings and goings, watched", watched.done);
    report.count("pushes, at most", 2 * watched.done * online as u64).count("pushes", pushed);
    report.count("GroupOnline calls", counts.done).count("last count online", u64::from(last));
    let per = |phase: &Phase| phase.cpu_secs * 1e6 / phase.done.max(1) as f64;
    if alone.cpu_secs > 0.0 {
        report.figure("server CPU per coming and going, nobody watching, µs", per(&alone));
        report.figure("server CPU per coming and going, watched, µs", per(&watched));
        report.figure("server CPU per presence signal to all watchers, µs", (per(&watched) - per(&alone)) / 2.0);
        report.figure("server CPU per GroupOnline, µs", per(&counts));
    }
    for (label, phase) in [("nobody watching", &alone), ("watched", &watched), ("GroupOnline", &counts)] {
        if let Some(written) = phase.written {
            report.count(&format!("server bytes written, {label}"), written);
        }
    }
    Ok(report)
}

/// The presence pushes the readers got since the last call, once those on
/// their way arrived (each reader buffers up to 8,192 pushes).
async fn presence_pushes(readers: &mut [Client]) -> u64 {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut pushed = 0;
    for reader in readers {
        while let Ok(push) = reader.push_within(Duration::from_millis(1)).await {
            if let Push::Presence(_) = push {
                pushed += 1;
            }
        }
    }
    pushed
}

/// Each of `comers` connects a device and hangs up again, `--rate` times
/// a second in all, for `--duration` seconds.
async fn come_and_go(b: &mut Bench<'_>, comers: &[String]) -> Result<Phase, ClientError> {
    let every = Duration::from_secs_f64(comers.len() as f64 / b.args.rate.unwrap_or(20.0).max(0.1));
    let until = Instant::now() + Duration::from_secs(b.args.duration);
    b.probe.start();
    let started = Instant::now();
    let (server, accounts) = (&b.server, &b.accounts);
    let done = futures_util::future::join_all(comers.iter().map(|comer| async move {
        let mut tick = tokio::time::interval(every);
        let mut done = 0u64;
        while Instant::now() < until {
            tick.tick().await;
            let (client, _) = accounts.connect(server, comer, READER).await?;
            client.heartbeat().await?;
            drop(client);
            done += 1;
        }
        Ok::<u64, ClientError>(done)
    }))
    .await
    .into_iter()
    .sum::<Result<u64, ClientError>>()?;
    Ok(measured(b, done, started))
}

/// The connected members ask `GroupOnline`, `--rate` times a second in all,
/// for `--duration` seconds; returns the phase and the last count.
async fn ask_counts(b: &mut Bench<'_>, askers: &[Client], group: u64) -> Result<(Phase, u32), ClientError> {
    let every = Duration::from_secs_f64(askers.len() as f64 / b.args.rate.unwrap_or(20.0).max(0.1));
    let until = Instant::now() + Duration::from_secs(b.args.duration);
    let last = Arc::new(AtomicU64::new(0));
    b.probe.start();
    let started = Instant::now();
    let done = futures_util::future::join_all(askers.iter().map(|asker| {
        let last = last.clone();
        async move {
            let mut tick = tokio::time::interval(every);
            let mut done = 0u64;
            while Instant::now() < until {
                tick.tick().await;
                let counted = asker.call(&GroupOnlineRequest { group_id: group }).await?;
                last.store(u64::from(counted.online), Ordering::Relaxed);
                done += 1;
            }
            Ok::<u64, ClientError>(done)
        }
    }))
    .await
    .into_iter()
    .sum::<Result<u64, ClientError>>()?;
    let phase = measured(b, done, started);
    Ok((phase, last.load(Ordering::Relaxed) as u32))
}

fn measured(b: &Bench<'_>, done: u64, started: Instant) -> Phase {
    let usage = b.probe.finish();
    Phase {
        done,
        seconds: started.elapsed().as_secs_f64(),
        cpu_secs: usage.as_ref().map_or(0.0, |u| u.after.cpu_secs - u.before.cpu_secs),
        written: usage.and_then(|u| u.written_bytes),
    }
}
