//! `feed`: the moments feed of a user with many friends. `--friends`
//! friends each post `--moments` moments for their friends (one in ten
//! hidden from the reader, so the feed skips some); then the reader asks
//! for the first page of 20 `--lists` times, one at a time, and pages on
//! through the next ten pages as a phone scrolling down would. Reports the
//! latency of both and checks that paging met no moment twice.

use std::collections::HashSet;
use std::time::Instant;

use super::report::{histogram, Report};
use super::{befriend, concurrently, Bench};
use crate::client::{new_client_msg_id, ClientError};
use crate::protocol::{
    FeedRequest, MomentAudience, MomentMedia, MomentVisibility, PublishMomentRequest, UserMomentsRequest,
};

/// Moments in a page (a phone's first screen).
const PAGE: u16 = 20;
/// Pages read after the first, one after another.
const PAGES_ON: usize = 10;

pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let friends = args.friends.max(1);
    let reader_name = format!("{}-feed{friends}-reader", args.prefix);
    let (mut reader, reader_account) = accounts.connect(server, &reader_name, 0).await?;
    // Every friend's request and every new moment arrive as pushes the feed
    // does not need; unread, they would fill the connection's queue.
    reader.discard_pushes();
    let reader_id = reader_account.user_id;
    let reader = &reader;
    let each = args.moments;
    let posted = concurrently((0..friends).collect(), args.concurrency, "posting", |i| {
        let name = format!("{}-feed{friends}-{i}", args.prefix);
        async move {
            let (friend, friend_account) = accounts.connect(server, &name, 0).await?;
            befriend(&friend, reader, reader_id).await?;
            // A reused data directory holds the moments already.
            let own = UserMomentsRequest { user_id: friend_account.user_id, before: 0, limit: 100 };
            let had = friend.call(&own).await?.moments.len();
            for k in had..each {
                let hidden = k % 10 == 9;
                let visibility = if hidden {
                    MomentVisibility { audience: MomentAudience::Except, users: vec![reader_id] }
                } else {
                    MomentVisibility { audience: MomentAudience::Friends, users: Vec::new() }
                };
                let publish = PublishMomentRequest {
                    client_id: new_client_msg_id(),
                    text: format!("moment {k} of friend {i}"),
                    media: MomentMedia::None,
                    location: None,
                    visibility,
                };
                friend.call(&publish).await?;
            }
            Ok::<_, ClientError>(())
        }
    })
    .await;
    posted.into_iter().collect::<Result<Vec<()>, _>>()?;
    let first_page = || reader.call(&FeedRequest { before: 0, limit: PAGE });

    b.probe.start();
    let mut first_latency = histogram();
    let started = Instant::now();
    for _ in 0..args.lists {
        let t = Instant::now();
        first_page().await?;
        let _ = first_latency.record((t.elapsed().as_micros() as u64).max(1));
    }
    let first_time = started.elapsed();

    let mut next_latency = histogram();
    let mut seen = HashSet::new();
    let mut repeated = 0u64;
    let mut before = 0;
    for _ in 0..=PAGES_ON {
        let t = Instant::now();
        let page = reader.call(&FeedRequest { before, limit: PAGE }).await?;
        if before != 0 {
            let _ = next_latency.record((t.elapsed().as_micros() as u64).max(1));
        }
        for m in &page.moments {
            repeated += u64::from(!seen.insert(m.moment_id));
        }
        match (page.more, page.moments.last()) {
            (true, Some(last)) => before = last.moment_id,
            _ => break,
        }
    }

    let mut report = Report::new("feed", "");
    report.seconds = first_time.as_secs_f64();
    report
        .count("friends", friends as u64)
        .count("moments per friend (one in ten hidden from the reader)", each as u64)
        .count("first pages", first_latency.len())
        .count("next pages", next_latency.len())
        .count("moments paged", seen.len() as u64)
        .count("moments met twice", repeated)
        .rate("first pages (one at a time)", first_latency.len() as f64 / first_time.as_secs_f64().max(1e-9))
        .latency("feed, first page of 20", &first_latency)
        .latency("feed, next pages of 20", &next_latency);
    Ok(report)
}
