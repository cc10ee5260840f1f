//! Messages past `conversation.seal_after_secs` are sealed into blocks,
//! many to a database key; a client cannot tell: they sync, page, count,
//! change and expire as before.

use crate::common;

use std::time::Duration;

use common::process::stats;
use common::talk::{code, history, mark, open_group, send, text_message};
use common::{Calls, Kind, TestServer};
use kith::client::Client;
use kith::protocol::{
    DeviceType, Direction, EditRequest, ErrorCode, ListConversationsRequest, MessageKind, ReactRequest,
    ReactionsRequest, RecallRequest, RetentionRequest, SendRequest, SyncPage, Target,
};

/// How many messages bob sends alice: more than two blocks' worth.
const MESSAGES: usize = 150;

/// Waits until `kith stats` counts at least `n` sealed messages.
async fn sealed_at_least(server: &TestServer, n: u64) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let json = stats(&server.data_dir());
        if json["sealed_messages"].as_u64() >= Some(n) {
            return json;
        }
        assert!(tokio::time::Instant::now() < deadline, "not sealed: {json}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The ids of every message update `Sync` gives from the start.
async fn synced(client: &Client) -> Vec<u64> {
    let (mut ids, mut after) = (Vec::new(), 0);
    loop {
        let page: SyncPage = client.sync_page(after, 50).await.unwrap();
        ids.extend(page.updates.iter().filter_map(kith::client::message_of).map(|m| m.id));
        match (page.more, page.updates.last()) {
            (true, Some(last)) => after = last.id,
            _ => return ids,
        }
    }
}

async fn sealed_messages_read_change_and_expire_like_loose_ones(kind: Kind) {
    let server = TestServer::start_with(|c| {
        c.conversation.seal_after_secs = 1;
        c.conversation.purge_interval_secs = 1;
    })
    .await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let carol = server.user(kind, "carol").await;
    let (to_alice, to_bob) = (Target::User(alice.user_id), Target::User(bob.user_id));
    let group = open_group(&carol, &[&alice]).await;
    let mut sent = Vec::new();
    for i in 0..MESSAGES {
        sent.push(send(&bob.client, to_alice, &format!("message {i}")).await);
    }
    let mut in_group = Vec::new();
    for i in 0..10 {
        in_group.push(send(&carol.client, Target::Group(group), &format!("group {i}")).await);
    }
    let json = sealed_at_least(&server, (MESSAGES + in_group.len()) as u64).await;
    assert!(json["message_blocks"].as_u64() >= Some(3), "{json}");
    let messages = json["messages"].as_u64();

    // A new device syncs every message, and pages through both logs either way.
    let (tablet, _) = server.device(kind, "alice", "alice-tablet", DeviceType::Tablet).await;
    let mut everything = sent.clone();
    everything.extend(&in_group);
    let mut got = synced(&tablet).await;
    got.retain(|id| everything.contains(id));
    assert_eq!(got, everything);
    let forward: Vec<u64> = history(&tablet, to_bob, 40).await.iter().map(|m| m.id).collect();
    assert_eq!(forward, sent);
    let (mut backward, mut anchor) = (Vec::new(), 0);
    loop {
        let page = tablet.history(to_bob, Direction::Before, anchor, 40).await.unwrap();
        backward.splice(0..0, page.messages.iter().map(|m| m.id));
        match (page.more, page.messages.first()) {
            (true, Some(first)) => anchor = first.id,
            _ => break,
        }
    }
    assert_eq!(backward, sent);
    let texts: Vec<Vec<u8>> = history(&tablet, to_bob, 100).await.into_iter().map(|m| m.content).collect();
    assert_eq!(texts[7], b"message 7");
    let group_texts: Vec<u64> = history(&tablet, Target::Group(group), 100)
        .await
        .iter()
        .filter(|m| m.kind == MessageKind::Text)
        .map(|m| m.id)
        .collect();
    assert_eq!(group_texts, in_group);

    // Unread counts reach into the blocks.
    let list = alice.client.call(&ListConversationsRequest { before: 0, changed_since: 0, limit: 10 }).await.unwrap();
    let with_bob = list.conversations.iter().find(|c| c.with == to_bob).unwrap();
    assert_eq!(with_bob.unread as usize, MESSAGES);
    mark(&alice.client, to_bob, sent[99]).await.unwrap();
    let list = alice.client.call(&ListConversationsRequest { before: 0, changed_since: 0, limit: 10 }).await.unwrap();
    assert_eq!(list.conversations.iter().find(|c| c.with == to_bob).unwrap().unread as usize, MESSAGES - 100);

    // A sealed message is edited, recalled, reacted to and answered.
    let edit = EditRequest { with: to_alice, message_id: sent[5], content: b"edited".to_vec() };
    bob.client.call(&edit).await.unwrap();
    bob.client.call(&RecallRequest { with: to_alice, message_id: sent[6] }).await.unwrap();
    let thumb = ReactRequest { with: to_bob, message_id: sent[7], emoji: "👍".into(), add: true };
    alice.client.call(&thumb).await.unwrap();
    let reply = SendRequest { reply_to: sent[8], ..text_message(to_bob, "answer") };
    let answer = alice.client.call(&reply).await.unwrap().message_id;
    let edited = tablet.message(to_bob, sent[5]).await.unwrap().unwrap();
    assert_eq!((edited.content.as_slice(), edited.edited > 0), (b"edited".as_slice(), true));
    let recalled = tablet.message(to_bob, sent[6]).await.unwrap().unwrap();
    assert_eq!((recalled.kind, recalled.content.len()), (MessageKind::Recalled, 0));
    let on = tablet.call(&ReactionsRequest { with: to_bob, message_id: sent[7] }).await.unwrap().reactions;
    assert!(on.iter().any(|r| r.emoji == "👍" && r.count == 1), "{on:?}");
    assert_eq!(tablet.message(to_bob, answer).await.unwrap().unwrap().reply_to, sent[8]);
    // Refusals hold for sealed messages as for loose ones: alice may not
    // edit bob's.
    let not_hers = EditRequest { with: to_bob, message_id: sent[9], content: b"no".to_vec() };
    assert_eq!(code(alice.client.call(&not_hers).await), Some(ErrorCode::NotPermitted));

    // Expiry purges sealed messages like loose ones, once the answer
    // expired too: the newest stays as a tombstone.
    alice.client.call(&RetentionRequest { with: to_bob, set: Some(1) }).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let json = stats(&server.data_dir());
        let purged = json["messages"].as_u64() == messages.map(|n| n + 1 - MESSAGES as u64);
        if purged && history(&tablet, to_bob, 100).await.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not purged: {json}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept = history(&tablet, Target::Group(group), 100).await;
    assert_eq!(kept.iter().filter(|m| m.kind == MessageKind::Text).map(|m| m.id).collect::<Vec<_>>(), in_group);
}
per_transport!(sealed_messages_read_change_and_expire_like_loose_ones);
