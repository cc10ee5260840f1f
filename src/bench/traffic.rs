//! Message traffic: the `dm`, `fanout` and `group` scenarios share one engine.
//!
//! Senders keep a bounded window of unacknowledged messages each (optionally
//! paced to a total rate); every message carries its send time in its first
//! eight bytes, so receivers measure send → delivery latency, and count
//! deliveries by id to check that each message arrives exactly once per
//! recipient device.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use super::report::{histogram, Report};
use super::{concurrently, micros_since, progress, Bench, BenchArgs, Server, Tokens};
use crate::client::{message_of, new_client_msg_id, Client, ClientError};
use crate::protocol::{MessageKind, Push, SendReply, SendRequest, Target};

/// How long to wait for the last deliveries after sending stops.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(super) struct Sender {
    client: Arc<Client>,
    targets: Vec<Target>,
    /// Message size for this sender, instead of `--size`.
    size: Option<usize>,
}

#[derive(Default)]
struct Sent {
    sent: u64,
    acked: u64,
    errors: u64,
    acked_to: HashMap<Target, u64>,
    ack_latency: Option<Histogram<u64>>,
}

/// Connections carrying traffic: senders, the devices that should receive,
/// and how many of those devices a message to each target reaches.
pub(super) struct Traffic {
    pub(super) senders: Vec<Sender>,
    pub(super) receivers: Vec<Client>,
    pub(super) devices: HashMap<Target, u64>,
}

impl Sender {
    /// A sender writing messages of `size` bytes to `targets` in turn.
    pub(super) fn new(client: Client, targets: Vec<Target>, size: Option<usize>) -> Sender {
        Sender { client: Arc::new(client), targets, size }
    }
}

/// What one run of traffic measured.
pub(super) struct Run {
    seconds: f64,
    sent: u64,
    acked: u64,
    errors: u64,
    expected: u64,
    unique: u64,
    duplicates: u64,
    latency: Histogram<u64>,
    ack_latency: Histogram<u64>,
}

impl Run {
    /// Messages delivered per second.
    pub(super) fn delivered_per_sec(&self) -> f64 {
        self.unique as f64 / self.seconds.max(1e-9)
    }

    /// 99th percentile send → delivery latency, ms.
    pub(super) fn p99_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.99) as f64 / 1000.0
    }

    /// Adds this run's figures to a report, names prefixed with `label`.
    pub(super) fn add_to(&self, report: &mut Report, label: &str) {
        let name = |n: &str| if label.is_empty() { n.to_string() } else { format!("{label}: {n}") };
        report.seconds += self.seconds;
        report
            .count(&name("sent"), self.sent)
            .count(&name("acknowledged"), self.acked)
            .count(&name("send errors"), self.errors)
            .count(&name("deliveries expected"), self.expected)
            .count(&name("delivered (unique)"), self.unique)
            .count(&name("duplicates"), self.duplicates)
            .count(&name("missing"), self.expected.saturating_sub(self.unique))
            .rate(&name("delivered"), self.delivered_per_sec())
            .rate(&name("acknowledged"), self.acked as f64 / self.seconds.max(1e-9))
            .latency(&name("send -> delivery"), &self.latency)
            .latency(&name("send -> durable ack"), &self.ack_latency);
    }
}

/// P sender/receiver pairs named `{prefix}-{tag}s-i` / `{prefix}-{tag}r-i`.
pub(super) async fn pairs(
    args: &BenchArgs,
    server: &Server,
    accounts: &Tokens,
    tag: &str,
    count: usize,
) -> Result<Traffic, ClientError> {
    let prefix = &args.prefix;
    let connected = concurrently((0..count).collect(), args.concurrency, "connecting", |i| async move {
        let (sender, sender_account) = accounts.connect(server, &format!("{prefix}-{tag}s-{i}"), 0).await?;
        let (receiver, account) = accounts.connect(server, &format!("{prefix}-{tag}r-{i}"), 0).await?;
        super::befriend(&receiver, &sender, sender_account.user_id).await?;
        Ok::<_, ClientError>((sender, receiver, account.user_id))
    })
    .await;
    let mut traffic = Traffic { senders: Vec::new(), receivers: Vec::new(), devices: HashMap::new() };
    for pair in connected {
        let (sender, receiver, user) = pair?;
        traffic.senders.push(Sender::new(sender, vec![Target::User(user)], None));
        traffic.receivers.push(receiver);
        traffic.devices.insert(Target::User(user), 1);
    }
    Ok(traffic)
}

/// `dm`: P pairs, each sender writing to its own receiver.
pub(super) async fn dm(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let traffic = pairs(args, server, accounts, "", args.pairs).await?;
    let stall = match args.stalled_push {
        true => Some(super::push::stall(args, server, accounts, "", args.pairs).await?),
        false => None,
    };
    let mut report = Report::new("dm", "");
    report.count("pairs", args.pairs as u64);
    b.probe.start();
    drive(args, traffic, &[]).await.1.add_to(&mut report, "");
    if let Some(stall) = stall {
        report.count("receivers with a stalled push endpoint", args.pairs as u64);
        report.count("wake-ups posted into the stall", stall.taken());
    }
    Ok(report)
}

/// `fanout`: one sender, R recipients with D online devices each.
pub(super) async fn fanout(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let prefix = &args.prefix;
    let per_user = args.devices.clamp(1, 4);
    let (sender, sender_account) = accounts.connect(server, &format!("{prefix}-fan-sender"), 0).await?;
    let (asked, sender_id) = (&sender, sender_account.user_id);
    let slots: Vec<(usize, usize)> = (0..args.recipients).flat_map(|r| (0..per_user).map(move |d| (r, d))).collect();
    let connected = concurrently(slots, args.concurrency, "connecting", |(r, d)| async move {
        let connected = accounts.connect(server, &format!("{prefix}-fan-{r}"), d).await?;
        if d == 0 {
            super::befriend(&connected.0, asked, sender_id).await?;
        }
        Ok::<_, ClientError>(connected)
    })
    .await;
    let mut traffic = Traffic { senders: Vec::new(), receivers: Vec::new(), devices: HashMap::new() };
    for c in connected {
        let (client, account) = c?;
        *traffic.devices.entry(Target::User(account.user_id)).or_default() += 1;
        traffic.receivers.push(client);
    }
    let mut targets: Vec<Target> = traffic.devices.keys().copied().collect();
    targets.sort_unstable_by_key(|t| match t {
        Target::User(id) | Target::Group(id) => *id,
    });
    let mut report = Report::new("fanout", "");
    report.count("recipients", targets.len() as u64).count("devices per recipient", per_user as u64);
    traffic.senders.push(Sender::new(sender, targets, None));
    b.probe.start();
    drive(args, traffic, &[]).await.1.add_to(&mut report, "");
    Ok(report)
}

/// Runs the traffic for `--duration` seconds, plus `extra` senders whose
/// targets nobody reads. Returns the connections for another run.
pub(super) async fn drive(args: &BenchArgs, traffic: Traffic, extra: &[Sender]) -> (Traffic, Run) {
    let Traffic { senders, receivers, devices } = traffic;
    let epoch = Instant::now();
    let stop = CancellationToken::new();
    let delivered = Arc::new(AtomicU64::new(0));
    let receiving: Vec<_> = receivers
        .into_iter()
        .map(|client| tokio::spawn(receive(client, epoch, stop.clone(), delivered.clone())))
        .collect();

    let duration = Duration::from_secs(args.duration);
    let bar = progress(args.duration, "sending");
    let ticker = {
        let (bar, delivered) = (bar.clone(), delivered.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                bar.inc(1);
                bar.set_message(format!("{} delivered", delivered.load(Ordering::Relaxed)));
            }
        })
    };
    let per_sender_rate = args.rate.map(|r| r / senders.len() as f64);
    let sending: Vec<_> = senders
        .iter()
        .chain(extra)
        .cloned()
        .map(|s| {
            let size = s.size.unwrap_or(args.size);
            tokio::spawn(send(s, epoch, duration, args.window, size, per_sender_rate))
        })
        .collect();
    let mut total = Sent { ack_latency: Some(histogram()), ..Sent::default() };
    for task in sending {
        let Ok(part) = task.await else { continue };
        total.sent += part.sent;
        total.acked += part.acked;
        total.errors += part.errors;
        for (user, n) in part.acked_to {
            *total.acked_to.entry(user).or_default() += n;
        }
        if let (Some(all), Some(h)) = (total.ack_latency.as_mut(), part.ack_latency.as_ref()) {
            let _ = all.add(h);
        }
    }
    ticker.abort();
    bar.finish_and_clear();

    let expected: u64 = total.acked_to.iter().map(|(t, n)| n * devices.get(t).copied().unwrap_or(0)).sum();
    let drain_until = Instant::now() + DRAIN;
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = epoch.elapsed();
    stop.cancel();
    let mut run = Run {
        seconds: elapsed.as_secs_f64(),
        sent: total.sent,
        acked: total.acked,
        errors: total.errors,
        expected,
        unique: 0,
        duplicates: 0,
        latency: histogram(),
        ack_latency: total.ack_latency.unwrap_or_else(histogram),
    };
    let mut receivers = Vec::new();
    for task in receiving {
        if let Ok((client, h, dups, count)) = task.await {
            let _ = run.latency.add(&h);
            run.duplicates += dups;
            run.unique += count;
            receivers.push(client);
        }
    }
    (Traffic { senders, receivers, devices }, run)
}

async fn send(
    sender: Sender,
    epoch: Instant,
    duration: Duration,
    window: usize,
    size: usize,
    rate: Option<f64>,
) -> Sent {
    let mut out = Sent { ack_latency: Some(histogram()), ..Sent::default() };
    let mut inflight = FuturesUnordered::new();
    let mut pace = rate.map(|r| tokio::time::interval(Duration::from_secs_f64(1.0 / r.max(0.001))));
    let end = epoch + duration;
    let mut next = 0usize;
    loop {
        let sending = Instant::now() < end;
        if !sending && inflight.is_empty() {
            break;
        }
        let room = sending && inflight.len() < window.max(1);
        // Completed sends are taken first; the futures must be polled to be
        // sent at all, so waiting for the pace never stops them.
        tokio::select! {
            biased;
            Some((to, result, took)) = inflight.next(), if !inflight.is_empty() => match result {
                Err(_) => out.errors += 1,
                Ok(_) => {
                    out.acked += 1;
                    *out.acked_to.entry(to).or_default() += 1;
                    if let Some(h) = out.ack_latency.as_mut() {
                        let _ = h.record((Duration::as_micros(&took) as u64).max(1));
                    }
                }
            },
            () = tick(pace.as_mut()), if room => {
                let to = sender.targets[next % sender.targets.len()];
                next += 1;
                let mut content = micros_since(epoch).to_be_bytes().to_vec();
                content.resize(size, b'x');
                let request = SendRequest {
                    to,
                    client_msg_id: new_client_msg_id(),
                    kind: MessageKind::Text,
                    content,
                    extra: None,
                    reply_to: 0,
                    mentions: Vec::new(),
                };
                let client = sender.client.clone();
                let started = Instant::now();
                out.sent += 1;
                inflight.push(async move {
                    let result: Result<SendReply, ClientError> = client.call(&request).await;
                    (to, result, started.elapsed())
                });
            }
            () = tokio::time::sleep_until(end.into()), if !room && inflight.is_empty() => {}
        }
    }
    out
}

/// Waits for the next pacing tick, or not at all without pacing.
async fn tick(pace: Option<&mut tokio::time::Interval>) {
    if let Some(pace) = pace {
        pace.tick().await;
    }
}

/// How often a receiving connection tells the server it is alive.
const HEARTBEAT: Duration = Duration::from_secs(60);

async fn receive(
    mut client: Client,
    epoch: Instant,
    stop: CancellationToken,
    delivered: Arc<AtomicU64>,
) -> (Client, Histogram<u64>, u64, u64) {
    let mut latency = histogram();
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    // A receiver only reads: without a heartbeat the server would close it
    // as idle after `idle_timeout_secs` (180 s) of a long run.
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.tick().await;
    loop {
        let push = tokio::select! {
            () = stop.cancelled() => break,
            _ = beat.tick() => {
                let _ = client.heartbeat().await;
                continue;
            }
            push = client.next_push() => push,
        };
        match push.as_ref().map(|p| match p {
            Push::Update(update) => message_of(update),
            Push::Disconnect(_) | Push::Typing(_) | Push::Presence(_) => None,
        }) {
            Some(Some(m)) => {
                if !seen.insert(m.id) {
                    duplicates += 1;
                    continue;
                }
                delivered.fetch_add(1, Ordering::Relaxed);
                if let Some(stamp) = m.content.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes) {
                    let _ = latency.record(micros_since(epoch).saturating_sub(stamp).max(1));
                }
            }
            Some(_) => {}
            None => break,
        }
    }
    (client, latency, duplicates, seen.len() as u64)
}
