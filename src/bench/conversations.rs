//! `conversations`: the conversation list of a user with many
//! conversations. `--conversations` peers each send the user one message
//! (and the user owns `--groups` groups with a message each); then the user
//! asks for the first page of the list `--lists` times, one at a time, and
//! reads every conversation with one `MarkRead` each. Reports the latency
//! of both and checks the badge: one unread per peer before, none after.
//! With `--recalls N`, a member of the first group first sends and recalls
//! N messages, which every list call's unread count of that group meets.

use std::time::Instant;

use super::report::{histogram, Report};
use super::{concurrently, Bench};
use crate::client::ClientError;
use crate::protocol::{
    ConversationPage, CreateGroupRequest, JoinGroupRequest, ListConversationsRequest, MarkReadRequest, RecallRequest,
    Target,
};

/// Entries of the page the list is timed with (a phone's first screen).
const FIRST_PAGE: u16 = 20;

pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let peers = args.conversations.max(1);
    let owner_name = format!("{}-conv{peers}-owner", args.prefix);
    let (mut owner, owner_account) = accounts.connect(server, &owner_name, 0).await?;
    // A thousand messages arrive as pushes the list does not need; unread,
    // they would fill the connection's queue and close it as a slow consumer.
    owner.discard_pushes();
    let owner_id = owner_account.user_id;
    let sent = concurrently((0..peers).collect(), args.concurrency, "writing", |i| {
        let name = format!("{}-conv{peers}-{i}", args.prefix);
        async move {
            let (peer, _) = accounts.connect(server, &name, 0).await?;
            peer.send_text(owner_id, &format!("hello from {i}")).await.map(|_| ())
        }
    })
    .await;
    sent.into_iter().collect::<Result<Vec<()>, _>>()?;
    let mut groups = Vec::new();
    for i in 0..args.groups {
        let fields = super::open_group(format!("bench group {i}"));
        let group = owner.call(&CreateGroupRequest { fields, members: Vec::new() }).await?.group.group_id;
        owner.send_text_to(Target::Group(group), "welcome").await?;
        groups.push(group);
    }
    if let (Some(&group), true) = (groups.first(), args.recalls > 0) {
        recall_many(b, group, args.recalls).await?;
    }
    let first_page = || owner.call(&ListConversationsRequest { before: 0, changed_since: 0, limit: FIRST_PAGE });
    let before: ConversationPage = first_page().await?;

    b.probe.start();
    let mut list_latency = histogram();
    let lists_started = Instant::now();
    for _ in 0..args.lists {
        let t = Instant::now();
        first_page().await?;
        let _ = list_latency.record((t.elapsed().as_micros() as u64).max(1));
    }
    let list_time = lists_started.elapsed();

    // Read everything, one conversation at a time, paging through the list
    // from the oldest end of each page as a phone scrolling down would.
    let mut read_latency = histogram();
    let reads_started = Instant::now();
    let mut cursor = 0;
    loop {
        let page = owner.call(&ListConversationsRequest { before: cursor, changed_since: 0, limit: 100 }).await?;
        for entry in &page.conversations {
            if entry.unread == 0 {
                continue;
            }
            let t = Instant::now();
            owner.call(&MarkReadRequest { with: entry.with, up_to: u64::MAX }).await?;
            let _ = read_latency.record((t.elapsed().as_micros() as u64).max(1));
        }
        match (page.more, page.conversations.last()) {
            (true, Some(last)) => cursor = last.updated,
            _ => break,
        }
    }
    let read_time = reads_started.elapsed();
    let after = first_page().await?;

    let mut report = Report::new("conversations", "");
    report.seconds = (list_time + read_time).as_secs_f64();
    report
        .count("conversations with peers", peers as u64)
        .count("groups", args.groups as u64)
        .count("messages sent and recalled in the first group", args.recalls as u64)
        .count("unread before (the badge)", before.total_unread)
        .count("unread after reading", after.total_unread)
        .count("first-page lists", list_latency.len())
        .count("mark-read calls", read_latency.len())
        .rate("first-page lists (one at a time)", list_latency.len() as f64 / list_time.as_secs_f64())
        .rate("mark-read calls (one at a time)", read_latency.len() as f64 / read_time.as_secs_f64().max(1e-9))
        .latency("list, first page of 20", &list_latency)
        .latency("mark read (durable)", &read_latency);
    Ok(report)
}

/// A member of `group` sends `n` messages and recalls each, a window of 32
/// at a time: the owner, who reads none of it, has `n` recall marks above
/// their read position.
async fn recall_many(b: &Bench<'_>, group: u64, n: usize) -> Result<(), ClientError> {
    use futures_util::StreamExt;
    let name = format!("{}-conv-recaller", b.args.prefix);
    let (mut member, _) = b.accounts.connect(&b.server, &name, 0).await?;
    // Each recall is a System message pushed to every member, this one too.
    member.discard_pushes();
    member.call(&JoinGroupRequest { group_id: group, message: String::new() }).await?;
    let to = Target::Group(group);
    let results: Vec<Result<(), ClientError>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let member = &member;
            async move {
                let id = member.send_text_to(to, &format!("taken back {i}")).await?.message_id;
                member.call(&RecallRequest { with: to, message_id: id }).await.map(|_| ())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results.into_iter().collect()
}
