//! Message updates leave the update logs after
//! `conversation.message_updates_kept_secs`, while the messages stay in
//! their conversations: a device away for longer is told which
//! conversations to pull with `History`, and what it may not see stays
//! untold.

use crate::common;

use std::time::Duration;

use common::process::stats;
use common::talk::{open_group, send};
use common::{Calls, Kind, TestServer};
use kith::protocol::{DeleteForMeRequest, DeviceType, Direction, Limited, MessageKind, SyncPage, Target};

/// Every page of a `Sync` from `after`, with the message ids they give
/// and the conversations they name in `limited`.
async fn catch_up(client: &kith::client::Client, mut after: u64) -> (Vec<u64>, Vec<Limited>) {
    let (mut ids, mut limited) = (Vec::new(), Vec::new());
    loop {
        let page: SyncPage = client.sync_page(after, 2).await.unwrap();
        ids.extend(page.updates.iter().filter_map(kith::client::message_of).map(|m| m.id));
        limited.extend(page.limited.iter().copied());
        match (page.more, page.updates.last()) {
            (true, Some(last)) => after = last.id,
            _ => return (ids, limited),
        }
    }
}

async fn a_device_away_past_the_window_is_told_where_to_pull(kind: Kind) {
    let server = TestServer::start_with(|c| {
        c.conversation.message_updates_kept_secs = 2;
        c.conversation.purge_interval_secs = 1;
    })
    .await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let carol = server.user(kind, "carol").await;
    let group = open_group(&carol, &[&alice]).await;
    let mut direct = Vec::new();
    for text in ["one", "two", "three"] {
        direct.push(send(&bob.client, Target::User(alice.user_id), text).await);
    }
    let mut in_group = Vec::new();
    for text in ["four", "five"] {
        in_group.push(send(&carol.client, Target::Group(group), text).await);
    }
    // A conversation alice cleared holds nothing she may see: she is not
    // told of it.
    let cleared = send(&carol.client, Target::User(alice.user_id), "cleared").await;
    let clear = DeleteForMeRequest { with: Target::User(carol.user_id), message_ids: vec![], clear_up_to: cleared };
    alice.client.call(&clear).await.unwrap();
    let messages_before = stats(&server.data_dir())["messages"].as_u64();

    // The sweep runs in the background: wait until their logs lost them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for user in [&alice, &bob] {
        loop {
            let (ids, _) = catch_up(&user.client, 0).await;
            if ids.is_empty() {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no message update was swept: {ids:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Bob's log kept only the notice of his login, older than what he
    // sent: `latest` still tells a device below the swept span to sync.
    // (The new connection takes over from his phone's first one.)
    let again = server.connect(kind).await;
    assert!(again.auth(&bob.login.token).await.unwrap().latest >= direct[2]);
    let fresh = send(&again, Target::User(alice.user_id), "fresh").await;

    // Her new tablet syncs from the start: the fresh message, and where to
    // pull the others.
    let (tablet, _) = server.device(kind, "alice", "alice-tablet", DeviceType::Tablet).await;
    let (ids, limited) = catch_up(&tablet, 0).await;
    assert_eq!(ids, [fresh]);
    let with: Vec<Target> = limited.iter().map(|l| l.with).collect();
    assert_eq!(with, [Target::User(bob.user_id), Target::Group(group)], "not the cleared conversation: {limited:?}");
    let older_than = limited[0].older_than;
    assert!(limited.iter().all(|l| l.older_than == older_than && cleared < older_than && older_than <= fresh));
    let older = tablet.history(Target::User(bob.user_id), Direction::Before, older_than, 100).await.unwrap();
    assert_eq!(older.messages.iter().map(|m| m.id).collect::<Vec<_>>(), direct);
    let older = tablet.history(Target::Group(group), Direction::Before, older_than, 100).await.unwrap();
    let texts: Vec<u64> = older.messages.iter().filter(|m| m.kind == MessageKind::Text).map(|m| m.id).collect();
    assert_eq!(texts, in_group);
    // A device that synced past the swept span is told nothing more.
    assert!(tablet.sync_page(older_than - 1, 100).await.unwrap().limited.is_empty());
    assert!(tablet.ack(u64::MAX).await.unwrap() >= fresh);

    let json = stats(&server.data_dir());
    assert_eq!(json["messages"].as_u64(), messages_before.map(|n| n + 1), "the messages stay: {json}");
    assert!(json["swept_message_updates_since_start"].as_u64() >= Some(2 * 3 + 2 * 2 + 2), "{json}");
}
per_transport!(a_device_away_past_the_window_is_told_where_to_pull);
