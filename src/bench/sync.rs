//! `sync`: a device that was offline while K messages arrived comes online
//! and pages through its update log with `Sync`, then pulls with `History`
//! what the offline cap left out; how long until it has every message.

use std::time::{Duration, Instant};

use super::report::Report;
use super::Bench;
use crate::client::{message_of, ClientError};
use crate::protocol::{Direction, HistoryRequest, SyncRequest};

/// Runs the scenario with a fresh receiving user, so the backlog is exactly K.
pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let prefix = &args.prefix;
    let stamp = crate::id::now_ms() % 1_000_000_000;
    let (sender, sender_account) = accounts.connect(server, &format!("{prefix}-sync-sender"), 0).await?;
    let (receiver, account) = accounts.connect(server, &format!("{prefix}-sy-{stamp}"), 0).await?;
    super::befriend(&receiver, &sender, sender_account.user_id).await?;
    drop(receiver);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let texts: Vec<String> = (0..args.messages).map(|i| format!("{i:0>width$}", width = args.size.max(8))).collect();
    let mut acked = 0u64;
    for chunk in texts.chunks(args.window.max(1)) {
        let sends = chunk.iter().map(|t| sender.send_text(account.user_id, t));
        for ack in futures_util::future::join_all(sends).await {
            ack?;
            acked += 1;
        }
    }
    let filled = started.elapsed();

    b.probe.start();
    let t0 = Instant::now();
    let client = server.connect().await?;
    let state = client.auth(&account.token).await?;
    let t_auth = Instant::now();
    // Every update of the log, each message decoded, as a client would;
    // then the messages the offline cap left in the history.
    let mut messages = Vec::new();
    let mut limited = Vec::new();
    let mut after = state.cursor;
    loop {
        let page = client.call(&SyncRequest { after, limit: 100 }).await?;
        messages.extend(page.updates.iter().filter_map(message_of));
        limited.extend(page.limited);
        match (page.more, page.updates.last()) {
            (true, Some(last)) => after = last.id,
            _ => break,
        }
    }
    let synced = Instant::now();
    let newest = messages.len();
    let ordered = messages.windows(2).all(|w| w[0].id < w[1].id);
    for gap in &limited {
        let mut anchor = gap.older_than;
        loop {
            let request = HistoryRequest { with: gap.with, direction: Direction::Before, anchor, limit: 100 };
            let page = client.call(&request).await?;
            let Some(first) = page.messages.first() else { break };
            anchor = first.id;
            let reached = first.id <= state.cursor;
            messages.extend(page.messages.into_iter().filter(|m| m.id > state.cursor));
            if reached || !page.more {
                break;
            }
        }
    }
    let done = Instant::now();
    let mut ids: Vec<u64> = messages.iter().map(|m| m.id).collect();
    ids.sort_unstable();
    ids.dedup();

    let mut report = Report::new("sync", "");
    report.seconds = (done - t0).as_secs_f64();
    report
        .count("backlog sent", acked)
        .count("backlog received", ids.len() as u64)
        .count("by Sync (the newest, up to the offline cap)", newest as u64)
        .count("by History (left out by the cap)", (ids.len() - newest) as u64)
        .count("Sync in order (1 = yes)", u64::from(ordered))
        .rate("backlog fill (durable sends)", acked as f64 / filled.as_secs_f64())
        .rate("sync", newest as f64 / (synced - t_auth).as_secs_f64())
        .figure("connect+auth+sync ms", (synced - t0).as_secs_f64() * 1000.0)
        .figure("sync only ms", (synced - t_auth).as_secs_f64() * 1000.0)
        .figure("history after the cap ms", (done - synced).as_secs_f64() * 1000.0);
    Ok(report)
}
