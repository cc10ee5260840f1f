//! `signals`: the durable chat signals in one group of `--members` members,
//! `--online` of them connected (reading and dropping what they get), and
//! `--senders` of those acting from a second device, `--rate` actions a
//! second in all, for `--duration` seconds each: reactions (each sender
//! puts 👍 on the next sender's message and takes it off again), edits
//! (each sender rewrites their own message), and @everyone from the owner
//! (a message that enters every member's update log, however large the
//! group). Reports per kind the durable-acknowledgement latency, the
//! server's CPU per action and the bytes it wrote per action.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::group::{build, connect_readers, SENDER};
use super::report::{histogram, Report};
use super::Bench;
use crate::client::{new_client_msg_id, Client, ClientError};
use crate::protocol::{EditRequest, MessageKind, ReactRequest, SendRequest, Target};

/// The wait between building the group and the first kind.
const SETTLE: Duration = Duration::from_secs(5);

/// The mention that names every member.
const EVERYONE: u64 = 0;

/// One kind of action, as the bench makes it.
#[derive(Clone, Copy)]
enum Kind {
    React,
    Edit,
    MentionEveryone,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::React => "reactions",
            Kind::Edit => "edits",
            Kind::MentionEveryone => "@everyone",
        }
    }
}

pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let args = b.args;
    let members = args.members.max(2);
    let online = args.online.clamp(1, members);
    let senders = args.senders.clamp(1, online);
    let name = |i: usize| format!("{}-sig{members}-{i}", args.prefix);
    let group = build(b, members, &name).await?;
    let mut readers = Vec::new();
    for reader in connect_readers(b, online, &name).await {
        let mut reader = reader?;
        reader.discard_pushes();
        readers.push(reader);
    }
    // Member 0 owns the group: only the owner and admins may mention everyone.
    let mut acting = Vec::new();
    let mut said = Vec::new();
    for i in 0..senders {
        let (mut client, _) = b.accounts.connect(&b.server, &name(i), SENDER).await?;
        client.discard_pushes();
        said.push(client.send_text_to(Target::Group(group), "react to me").await?.message_id);
        acting.push(client);
    }
    tokio::time::sleep(SETTLE).await;

    let mut report = Report::new("signals", "");
    report.count("members", members as u64).count("online", online as u64).count("senders", senders as u64);
    for kind in [Kind::React, Kind::Edit, Kind::MentionEveryone] {
        let actors = match kind {
            Kind::MentionEveryone => &acting[..1],
            _ => &acting[..],
        };
        let (done, latency, seconds) = act(b, kind, actors, group, &said).await?;
        let usage = b.probe.finish();
        let label = kind.label();
        report.seconds += seconds;
        report.count(label, done).rate(label, done as f64 / seconds.max(1e-9));
        report.latency(&format!("{label}: call -> durable answer"), &latency);
        if let Some(usage) = usage {
            let cpu = usage.after.cpu_secs - usage.before.cpu_secs;
            report.figure(&format!("{label}: server CPU per action, µs"), cpu * 1e6 / done.max(1) as f64);
            if let Some(written) = usage.written_bytes {
                report
                    .figure(&format!("{label}: server bytes written per action"), written as f64 / done.max(1) as f64);
            }
        }
    }
    drop(readers);
    Ok(report)
}

/// `actors` make `kind` of action, `--rate` a second in all, for
/// `--duration` seconds; returns how many, their latencies and the time.
async fn act(
    b: &mut Bench<'_>,
    kind: Kind,
    actors: &[Client],
    group: u64,
    said: &[u64],
) -> Result<(u64, Histogram<u64>, f64), ClientError> {
    let every = Duration::from_secs_f64(actors.len() as f64 / b.args.rate.unwrap_or(100.0).max(0.1));
    let until = Instant::now() + Duration::from_secs(b.args.duration);
    let with = Target::Group(group);
    b.probe.start();
    let started = Instant::now();
    let runs = futures_util::future::join_all(actors.iter().enumerate().map(|(i, actor)| async move {
        let mut tick = tokio::time::interval(every);
        let mut latency = histogram();
        let mut done = 0u64;
        while Instant::now() < until {
            tick.tick().await;
            let at = Instant::now();
            match kind {
                Kind::React => {
                    let message_id = said[(i + 1) % said.len()];
                    let react = ReactRequest { with, message_id, emoji: "👍".into(), add: done.is_multiple_of(2) };
                    actor.call(&react).await?;
                }
                Kind::Edit => {
                    let content = format!("edited {done}").into_bytes();
                    actor.call(&EditRequest { with, message_id: said[i], content }).await?;
                }
                Kind::MentionEveryone => {
                    let send = SendRequest {
                        to: with,
                        client_msg_id: new_client_msg_id(),
                        kind: MessageKind::Text,
                        content: b"@everyone".to_vec(),
                        extra: None,
                        reply_to: 0,
                        mentions: vec![EVERYONE],
                    };
                    actor.call(&send).await?;
                }
            }
            let _ = latency.record(at.elapsed().as_micros() as u64);
            done += 1;
        }
        Ok::<_, ClientError>((done, latency))
    }))
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut all = histogram();
    let mut done = 0;
    for run in runs {
        let (count, latency) = run?;
        done += count;
        let _ = all.add(&latency);
    }
    Ok((done, all, seconds))
}
