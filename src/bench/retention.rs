//! `retention`: 1:1 traffic while the purge removes a large backlog.
//! One writer fills a conversation with `--messages` messages; `--pairs`
//! pairs chat for `--duration` seconds (the baseline); the backlog's
//! recipient sets a one-second retention on it; once it has expired, the
//! pairs chat again while the server purges it. Run the server with a short
//! `conversation.purge_interval_secs` (1) so the purge starts at once; the
//! server's log reports the purge's own time ("purged expired messages").

use std::time::{Duration, Instant};

use super::report::Report;
use super::{traffic, Bench};
use crate::client::ClientError;
use crate::protocol::{Direction, HistoryRequest, RetentionRequest, Target};

pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let prefix = &args.prefix;
    let stamp = crate::id::now_ms() % 1_000_000_000;
    let (writer, writer_account) = accounts.connect(server, &format!("{prefix}-rt-writer"), 0).await?;
    let (mut keeper, keeper_account) = accounts.connect(server, &format!("{prefix}-rt-{stamp}"), 0).await?;
    // Pushes of the backlog are not read here.
    keeper.discard_pushes();
    super::befriend(&keeper, &writer, writer_account.user_id).await?;

    let started = Instant::now();
    let text = "x".repeat(args.size);
    let mut backlog = 0u64;
    let mut newest = 0;
    let bar = super::progress(args.messages as u64, "backlog");
    let mut left = args.messages;
    while left > 0 {
        let n = left.min(args.window.max(1));
        let sends = (0..n).map(|_| writer.send_text(keeper_account.user_id, &text));
        for ack in futures_util::future::join_all(sends).await {
            newest = newest.max(ack?.message_id);
            backlog += 1;
        }
        bar.inc(n as u64);
        left -= n;
    }
    bar.finish_and_clear();
    let filled = started.elapsed();

    let traffic = traffic::pairs(args, server, accounts, "rt", args.pairs).await?;
    let mut report = Report::new("retention", "");
    report
        .count("backlog messages", backlog)
        .rate("backlog fill (durable sends)", backlog as f64 / filled.as_secs_f64());
    b.probe.start();
    let (traffic, baseline) = traffic::drive(args, traffic, &[]).await;
    baseline.add_to(&mut report, "before the purge");

    let with = Target::User(writer_account.user_id);
    keeper.call(&RetentionRequest { with, set: Some(1) }).await?;
    let expired_at = crate::id::id_time_ms(newest) + 1_000;
    tokio::time::sleep(Duration::from_millis(expired_at.saturating_sub(crate::id::now_ms()) + 50)).await;
    let gone = keeper.call(&HistoryRequest { with, direction: Direction::Before, anchor: 0, limit: 1 }).await?;
    report.count("backlog visible once expired", gone.messages.len() as u64);
    let (_, during) = traffic::drive(args, traffic, &[]).await;
    during.add_to(&mut report, "during the purge");
    Ok(report)
}
