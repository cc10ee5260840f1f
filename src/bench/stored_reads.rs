//! `stored`: reads on a server started on a seeded data directory (`kith
//! bench dm --seed-data-dir`): `History` pages walked back from the newest
//! message of `--pairs` seeded conversations for `--duration` seconds, then
//! a new device of the first seeded user catching up from the start: `Sync`,
//! then `History` for the conversations it names in `limited`. With the
//! server's pid, its memory before and after.

use std::time::{Duration, Instant};

use super::report::{histogram, Report};
use super::Bench;
use crate::client::{message_of, ClientError};
use crate::protocol::{Direction, FindUserRequest, HistoryRequest, SyncRequest, Target};

/// Messages per `History` page, as a client shows a screenful.
const PAGE: u16 = 50;

pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let prefix = &args.prefix;
    let mut readers = Vec::with_capacity(args.pairs);
    for i in 0..args.pairs {
        let (client, _) = accounts.connect(server, &format!("{prefix}-s-{i}"), 0).await?;
        let peer = client.call(&FindUserRequest { username: format!("{prefix}-r-{i}") }).await?.user_id;
        // Each reader walks back from the newest message of its conversation.
        readers.push((client, Target::User(peer), 0u64));
    }

    b.probe.start();
    let started = Instant::now();
    let mut pages = histogram();
    let mut read = 0u64;
    while started.elapsed() < Duration::from_secs(args.duration) {
        for (client, with, anchor) in &mut readers {
            let request = HistoryRequest { with: *with, direction: Direction::Before, anchor: *anchor, limit: PAGE };
            let t = Instant::now();
            let page = client.call(&request).await?;
            let _ = pages.record((t.elapsed().as_micros() as u64).max(1));
            read += page.messages.len() as u64;
            // At the oldest message, start again from the newest.
            *anchor = page.messages.first().filter(|_| page.more).map_or(0, |m| m.id);
        }
    }
    let history_secs = started.elapsed().as_secs_f64();

    // A device the first seeded user never used: its log from the start,
    // then, as a client does, the conversations `Sync` named in `limited`
    // (past the offline cap or the message window) pulled with `History`.
    let (device, account) = accounts.connect(server, &format!("{prefix}-s-0"), 1).await?;
    let t = Instant::now();
    let (mut after, mut updates, mut messages, mut named) = (0, 0u64, 0u64, Vec::new());
    loop {
        let page = device.call(&SyncRequest { after, limit: 100 }).await?;
        updates += page.updates.len() as u64;
        messages += page.updates.iter().filter_map(message_of).count() as u64;
        named.extend(page.limited);
        match (page.more, page.updates.last()) {
            (true, Some(last)) => after = last.id,
            _ => break,
        }
    }
    let mut pulled = 0u64;
    for limited in &named {
        let mut anchor = limited.older_than;
        loop {
            let request = HistoryRequest { with: limited.with, direction: Direction::Before, anchor, limit: 100 };
            let page = device.call(&request).await?;
            pulled += page.messages.len() as u64;
            match (page.more, page.messages.first()) {
                (true, Some(oldest)) => anchor = oldest.id,
                _ => break,
            }
        }
    }
    let synced = t.elapsed();

    let mut report = Report::new("stored", "");
    report.seconds = started.elapsed().as_secs_f64();
    report
        .count("conversations read", readers.len() as u64)
        .count("history pages", pages.len())
        .count("messages in them", read)
        .rate("history page rate", pages.len() as f64 / history_secs.max(1e-9))
        .latency("history page of 50", &pages)
        .count("sync: user", account.user_id)
        .count("sync: updates", updates)
        .count("sync: messages", messages)
        .count("sync: conversations named", named.len() as u64)
        .count("history after sync: messages", pulled)
        .figure("catch-up from the start ms", synced.as_secs_f64() * 1000.0);
    Ok(report)
}
