//! `typing`: one group of `--members` members, `--online` of them connected
//! and counting the typing pushes they get, and `--senders` of those typing
//! from a second device, `--rate` signals a second in all, for `--duration`
//! seconds. Reports signals and pushes a second, the server's CPU per
//! signal, and what it wrote to disk meanwhile against what it wrote over
//! as long a time just before, without typing: typing is never stored.
//! The server's `conversation.typing_per_minute` must allow the rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::group::{build, connect_readers, SENDER};
use super::report::{ProcessSample, Report};
use super::Bench;
use crate::client::ClientError;
use crate::protocol::{Push, Target, TypingRequest};

/// The wait between building the group and typing.
const SETTLE: Duration = Duration::from_secs(5);

pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let members = args.members.max(2);
    let online = args.online.clamp(2, members);
    let senders = args.senders.clamp(1, online);
    let name = |i: usize| format!("{}-typ{members}-{i}", args.prefix);
    let group = build(b, members, &name).await?;

    let readers = connect_readers(b, online, &name).await;
    let received = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let mut counting = Vec::new();
    for reader in readers {
        let (mut reader, received, stop) = (reader?, received.clone(), stop.clone());
        counting.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    push = reader.next_push() => match push {
                        Some(Push::Typing(_)) => _ = received.fetch_add(1, Ordering::Relaxed),
                        Some(_) => {}
                        None => return,
                    },
                }
            }
        }));
    }
    let mut typists = Vec::new();
    for i in 0..senders {
        let (mut client, _) = accounts.connect(server, &name(i), SENDER).await?;
        client.discard_pushes();
        typists.push(client);
    }

    let rate = args.rate.unwrap_or(100.0).max(0.1);
    let every = Duration::from_secs_f64(senders as f64 / rate);
    let request = TypingRequest { with: Target::Group(group), typing: true };
    // The disk is still busy with what building the group stored: the
    // bytes the server writes over as long a time without typing are the
    // yardstick for those it writes while members type.
    let pid = b.server_pid();
    let written = || pid.and_then(ProcessSample::read).and_then(|s| s.written_bytes);
    tokio::time::sleep(SETTLE).await;
    let before = written();
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    let idle = written().zip(before).map(|(after, before)| after.saturating_sub(before));
    let until = Instant::now() + Duration::from_secs(args.duration);
    b.probe.start();
    let started = Instant::now();
    let sent = futures_util::future::join_all(typists.iter().map(|typist| async move {
        let mut tick = tokio::time::interval(every);
        let mut sent = 0u64;
        while Instant::now() < until {
            tick.tick().await;
            typist.call(&request).await?;
            sent += 1;
        }
        Ok::<u64, ClientError>(sent)
    }))
    .await
    .into_iter()
    .sum::<Result<u64, ClientError>>()?;
    let elapsed = started.elapsed().as_secs_f64();
    let usage = b.probe.finish();
    // The last pushes are on their way; then the readers stop counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    for task in counting {
        let _ = task.await;
    }

    let received = received.load(Ordering::Relaxed);
    let mut report = Report::new("typing", "");
    report.seconds = elapsed;
    report.count("members", members as u64).count("online", online as u64).count("typists", senders as u64);
    // Each signal reaches every online reader but the typist's own.
    report.count("signals", sent).count("pushes expected", sent * (online as u64 - 1)).count("pushes", received);
    report.rate("signals", sent as f64 / elapsed).rate("pushes", received as f64 / elapsed);
    if let Some(usage) = usage {
        let cpu_secs = usage.after.cpu_secs - usage.before.cpu_secs;
        report.figure("server CPU per signal, µs", cpu_secs * 1e6 / sent.max(1) as f64);
        if let (Some(idle), Some(typing)) = (idle, usage.written_bytes) {
            report.count("server bytes written, as long without typing", idle);
            report.count("server bytes written while typing", typing);
        }
    }
    Ok(report)
}
