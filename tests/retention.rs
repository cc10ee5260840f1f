//! Retention through the real server: a conversation's own retention set
//! by its participants or a group's owner and admins (and refused to
//! everyone else), expired messages gone from every read at once, and the
//! background purge removing exactly the expired messages and the index
//! entries pointing at them while sends go on.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::process::{backup, stats};
use common::talk::{code, entry, everything, mark, open_group, pushed, send};
use common::{Kind, TestServer};
use kith::client::{new_client_msg_id, Client, ClientError};
use kith::config::Config;
use kith::id::id_time_ms;
use kith::protocol::{
    DeleteForMeRequest, ErrorCode, GroupEvent, LeaveGroupRequest, Message, MessageKind, RecallRequest,
    RetentionChanged, RetentionRequest, RetentionSetting, SendRequest, Target, UpdateBody, UpdateKind,
};
use kith::service::Conversation;
use kith::storage::{schema, KeyPart, Keyspace};

async fn retention(client: &Client, with: Target, set: Option<u64>) -> Result<RetentionSetting, ClientError> {
    client.call(&RetentionRequest { with, set }).await
}

/// A conversation's whole visible history, oldest first.
async fn history(client: &Client, with: Target) -> Vec<Message> {
    common::talk::history(client, with, 100).await
}

/// Waits until a message sent at `id` is `seconds` old by the server's clock.
async fn until_expired(id: u64, seconds: u64) {
    let at = id_time_ms(id) + seconds * 1000 + 20;
    let now = kith::id::now_ms();
    if at > now {
        tokio::time::sleep(Duration::from_millis(at - now)).await;
    }
}

/// Sends a text with a known client message id; returns the message id.
async fn send_with(client: &Client, to: Target, client_msg_id: [u8; 16]) -> u64 {
    let request = SendRequest {
        to,
        client_msg_id,
        kind: MessageKind::Text,
        content: b"soon gone".to_vec(),
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    };
    client.call(&request).await.expect("sends").message_id
}

fn unpurged(config: &mut Config) {
    config.conversation.purge_interval_secs = 3600;
}

async fn expired_messages_are_no_longer_returned(kind: Kind) {
    let server = TestServer::start_with(unpurged).await;
    let alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    let carol = server.user(kind, "carol").await;
    let (to_alice, to_bob) = (Target::User(alice.user_id), Target::User(bob.user_id));
    let first = send(&bob.client, to_alice, "one").await;
    send(&bob.client, to_alice, "two").await;
    let newest = send(&bob.client, to_alice, "three").await;
    mark(&alice.client, to_bob, first).await.unwrap();
    let none = RetentionSetting { with: to_bob, seconds: 0, server_seconds: 0, effective: 0 };
    assert_eq!(retention(&alice.client, to_bob, None).await.unwrap(), none);

    // Either participant sets it; the other hears of it, live.
    let set = retention(&alice.client, to_bob, Some(2)).await.unwrap();
    assert_eq!(set, RetentionSetting { seconds: 2, effective: 2, ..none });
    let (_, body) = pushed(&mut bob.client, UpdateKind::RetentionChanged).await;
    let changed = RetentionChanged { by: alice.user_id, to: to_bob, seconds: 2 };
    assert_eq!(body, UpdateBody::RetentionChanged(changed));
    assert_eq!(retention(&bob.client, to_alice, None).await.unwrap().seconds, 2);
    // Asking again changes nothing and tells nobody.
    assert_eq!(retention(&alice.client, to_bob, Some(2)).await.unwrap(), set);
    // Refusals: a stranger to the conversation, a retention too long.
    assert_eq!(code(retention(&carol.client, to_alice, Some(1)).await), Some(ErrorCode::NotFound));
    assert_eq!(code(retention(&carol.client, to_alice, None).await), Some(ErrorCode::NotFound));
    let too_long = retention(&alice.client, to_bob, Some(100 * 365 * 86_400 + 1)).await;
    assert_eq!(code(too_long), Some(ErrorCode::InvalidArgument));

    until_expired(newest, 2).await;
    // Gone from history, sync and the list at once, before any purge.
    assert!(history(&alice.client, to_bob).await.is_empty());
    assert!(history(&bob.client, to_alice).await.is_empty());
    let synced = alice.client.sync_messages(0).await.unwrap();
    assert!(synced.iter().all(|m| m.id > newest), "{synced:?}");
    let (list, total) = everything(&alice.client, 10).await;
    let last = entry(&list, to_bob).last.clone().unwrap();
    assert_eq!((last.id, last.kind, last.preview.as_str()), (newest, MessageKind::Expired, ""));
    assert_eq!((entry(&list, to_bob).unread, total), (0, 0), "expired messages are not unread");
    // Nothing acts on an expired message.
    let recall = RecallRequest { with: to_alice, message_id: newest };
    assert_eq!(code(bob.client.call(&recall).await), Some(ErrorCode::NotFound), "within its window, but expired");
    let hide = DeleteForMeRequest { with: to_bob, message_ids: vec![newest], clear_up_to: 0 };
    assert_eq!(code(alice.client.call(&hide).await), Some(ErrorCode::NotFound));
    let forged = SendRequest {
        to: to_alice,
        client_msg_id: new_client_msg_id(),
        kind: MessageKind::Expired,
        content: vec![],
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    };
    assert_eq!(code(bob.client.call(&forged).await), Some(ErrorCode::InvalidArgument));

    // A message after them is there, and unread.
    let fresh = send(&bob.client, to_alice, "four").await;
    assert_eq!(history(&alice.client, to_bob).await.iter().map(|m| m.id).collect::<Vec<_>>(), vec![fresh]);
    let (list, total) = everything(&alice.client, 10).await;
    assert_eq!((entry(&list, to_bob).unread, total), (1, 1));
    // Lifting the retention does not bring back what expired.
    retention(&bob.client, to_alice, Some(0)).await.unwrap();
    assert_eq!(history(&alice.client, to_bob).await.len(), 1);
}
per_transport!(expired_messages_are_no_longer_returned);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_retention_is_set_by_its_owner_and_admins() {
    let server = TestServer::start_with(unpurged).await;
    let owner = server.user(Kind::Tcp, "owner").await;
    let mut member = server.user(Kind::Tcp, "member").await;
    let outsider = server.user(Kind::Tcp, "outsider").await;
    let group = open_group(&owner, &[&member]).await;
    let with = Target::Group(group);
    let said = send(&member.client, with, "before").await;

    assert_eq!(code(retention(&member.client, with, Some(1)).await), Some(ErrorCode::NotPermitted));
    assert_eq!(retention(&member.client, with, None).await.unwrap().seconds, 0, "members may read it");
    assert_eq!(code(retention(&outsider.client, with, Some(1)).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(retention(&outsider.client, with, None).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(retention(&owner.client, Target::Group(group + 1), None).await), Some(ErrorCode::NotFound));

    retention(&owner.client, with, Some(1)).await.unwrap();
    // Members learn of it from a system message in the group's log.
    let event = loop {
        let m = common::next_message(&mut member.client).await;
        if m.kind == MessageKind::System
            && kith::codec::decode_wire::<GroupEvent>(&m.content).unwrap()
                == (GroupEvent::RetentionChanged { seconds: 1, by: owner.user_id })
        {
            break m;
        }
    };
    assert!(event.id > said);
    until_expired(event.id, 1).await;
    let after = send(&owner.client, with, "after").await;
    let seen: Vec<u64> = history(&member.client, with).await.iter().map(|m| m.id).collect();
    assert_eq!(seen, vec![after], "everything older than a second is gone, the event included");
    let (list, _) = everything(&member.client, 10).await;
    assert_eq!(entry(&list, with).unread, 1);
    // A member who leaves cannot change it either.
    member.client.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
    assert_eq!(code(retention(&member.client, with, Some(0)).await), Some(ErrorCode::NotPermitted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_retention_bounds_every_conversation() {
    let server = TestServer::start_with(|c| {
        unpurged(c);
        c.conversation.retention_secs = 1;
    })
    .await;
    let alice = server.user(Kind::Quic, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let to_bob = Target::User(bob.user_id);
    let old = send(&alice.client, to_bob, "old").await;
    // A conversation may not keep messages longer than the server does.
    let setting = retention(&alice.client, to_bob, Some(3600)).await.unwrap();
    assert_eq!((setting.seconds, setting.server_seconds, setting.effective), (3600, 1, 1));
    until_expired(old, 1).await;
    assert!(history(&bob.client, Target::User(alice.user_id)).await.is_empty());
}

/// Waits until the purge has removed `messages` messages since the start.
async fn purged(data_dir: &Path, messages: u64) {
    for _ in 0..300 {
        let dir = data_dir.to_path_buf();
        let json = tokio::task::spawn_blocking(move || stats(&dir)).await.unwrap();
        if json["purged_messages_since_start"].as_u64() == Some(messages) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the purge did not remove {messages} messages");
}

fn key<K: KeyPart + 'static, V>(info: &'static schema::KeyspaceInfo, key: K) -> Vec<u8> {
    Keyspace::<K, V>::new(info).key(&key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_removes_expired_messages_and_their_index_entries_only() {
    const TTL: u64 = 4;
    let server = TestServer::start_with(|c| c.conversation.purge_interval_secs = 1).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let (to_alice, to_bob) = (Target::User(alice.user_id), Target::User(bob.user_id));
    // A 1:1 conversation: messages both ways, one recalled, one hidden.
    let mut direct = Vec::new();
    for (from, to) in [(&bob, to_alice), (&bob, to_alice), (&bob, to_alice), (&alice, to_bob), (&alice, to_bob)] {
        let client_msg_id = new_client_msg_id();
        direct.push((send_with(&from.client, to, client_msg_id).await, from.user_id, client_msg_id));
    }
    bob.client.call(&RecallRequest { with: to_alice, message_id: direct[1].0 }).await.unwrap();
    let hide = DeleteForMeRequest { with: to_bob, message_ids: vec![direct[2].0], clear_up_to: 0 };
    alice.client.call(&hide).await.unwrap();
    retention(&alice.client, to_bob, Some(TTL)).await.unwrap();
    // A group with the same retention; and a conversation without one.
    let group = open_group(&alice, &[&bob]).await;
    let mut in_group = Vec::new();
    for from in [&alice, &bob] {
        let client_msg_id = new_client_msg_id();
        in_group.push((
            send_with(&from.client, Target::Group(group), client_msg_id).await,
            from.user_id,
            client_msg_id,
        ));
    }
    retention(&alice.client, Target::Group(group), Some(TTL)).await.unwrap();
    let group_log = history(&alice.client, Target::Group(group)).await;
    let kept = send(&carol.client, to_alice, "stays").await;
    let before = backup(&server.data_dir(), &server.config.data_dir.with_file_name("before.kbak"));
    let newest = group_log.last().unwrap().id;
    assert!(kith::id::now_ms() < id_time_ms(direct[0].0) + TTL * 1000, "set up within the retention");

    until_expired(newest, TTL).await;
    purged(&server.data_dir(), (direct.len() + group_log.len()) as u64).await;
    let after = backup(&server.data_dir(), &server.config.data_dir.with_file_name("after.kbak"));

    // What must go: each message but the newest, its idempotency entry,
    // its group count, the updates pointing at it, the recall and hidden
    // marks. The newest stays as a tombstone; the heads change.
    let d = Conversation::of(alice.user_id, to_bob);
    let g = Conversation::Group(group);
    let mut gone = BTreeSet::new();
    let changed = BTreeSet::from([
        key::<_, ()>(&schema::CONV_HEAD, d),
        key::<_, ()>(&schema::CONV_HEAD, g),
        key::<_, ()>(&schema::CONVMESSAGE_MESSAGE, (d, direct[4].0)),
        key::<_, ()>(&schema::CONVMESSAGE_MESSAGE, (g, newest)),
    ]);
    for &(id, sender, client_msg_id) in &direct {
        if id != direct[4].0 {
            gone.insert(key::<_, ()>(&schema::CONVMESSAGE_MESSAGE, (d, id)));
        }
        gone.insert(key::<_, ()>(&schema::SENDERCLIENTID_MESSAGEID, (sender, client_msg_id)));
        for user in [alice.user_id, bob.user_id] {
            gone.insert(key::<_, ()>(&schema::USERUPDATE_UPDATE, (user, id)));
        }
    }
    gone.insert(key::<_, ()>(&schema::CONVMESSAGE_RECALLED, (d, direct[1].0)));
    // The recall's counts by id range: a range's row goes once the whole
    // range lies below the purge point, which depends on the milliseconds
    // of the ids; either way none is added or rewritten.
    let ranges = [&[schema::CONVRANGE_RECALLS.prefix][..], &key::<_, ()>(&schema::CONV_HEAD, d)[1..]].concat();
    gone.insert(key::<_, ()>(&schema::USERCONVMESSAGE_HIDDEN, (alice.user_id, (d, direct[2].0))));
    for &(_, sender, client_msg_id) in &in_group {
        gone.insert(key::<_, ()>(&schema::SENDERCLIENTID_MESSAGEID, (sender, client_msg_id)));
    }
    for m in &group_log {
        if m.id != newest {
            gone.insert(key::<_, ()>(&schema::CONVMESSAGE_MESSAGE, (g, m.id)));
        }
        if m.kind != MessageKind::System {
            gone.insert(key::<_, ()>(&schema::CONVMESSAGE_COUNTED, (g, m.id)));
        }
        for user in [alice.user_id, bob.user_id] {
            let pointer = key::<_, ()>(&schema::USERUPDATE_UPDATE, (user, m.id));
            // Who got a pointer depends on when they joined.
            if before.contains_key(&pointer) {
                gone.insert(pointer);
            }
        }
    }
    let removed: BTreeSet<Vec<u8>> =
        before.keys().filter(|k| !after.contains_key(*k) && !k.starts_with(&ranges)).cloned().collect();
    let added: Vec<&Vec<u8>> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let rewritten: BTreeSet<Vec<u8>> =
        before.iter().filter(|(k, v)| after.get(*k).is_some_and(|w| w != *v)).map(|(k, _)| k.clone()).collect();
    assert!(gone.iter().all(|k| before.contains_key(k)), "every expected row existed before the purge");
    assert_eq!(removed, gone, "exactly the expired messages' rows are removed");
    assert!(added.is_empty(), "the purge adds nothing: {added:?}");
    assert_eq!(rewritten, changed, "only the heads and the tombstones change");

    // What users see: tombstones in the list, the rest untouched.
    let (list, _) = everything(&alice.client, 10).await;
    assert_eq!(entry(&list, to_bob).last.as_ref().unwrap().kind, MessageKind::Expired);
    assert_eq!(
        history(&alice.client, Target::User(carol.user_id)).await.iter().map(|m| m.id).collect::<Vec<_>>(),
        [kept]
    );
    let json = stats(&server.data_dir());
    assert_eq!((json["recalled_messages"].as_u64(), json["hidden_messages"].as_u64()), (Some(0), Some(0)));
    assert_eq!(json["conversations_with_retention"].as_u64(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_go_on_while_a_large_purge_runs() {
    const MESSAGES: usize = 1500;
    let server = TestServer::start_with(|c| {
        c.conversation.purge_interval_secs = 1;
        c.conversation.purge_batch = 50;
        c.limits.requests_per_second = 100_000;
        c.limits.request_burst = 100_000;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Quic, "carol").await;
    let dave = server.user(Kind::Quic, "dave").await;
    let to_alice = Target::User(alice.user_id);
    let sender = Arc::new(bob.client);
    let mut last = 0;
    for chunk in 0..MESSAGES / 100 {
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..100 {
            let sender = sender.clone();
            sends.spawn(async move { send(&sender, to_alice, &format!("{chunk}.{i}")).await });
        }
        while let Some(id) = sends.join_next().await {
            last = last.max(id.unwrap());
        }
    }
    retention(&alice.client, Target::User(bob.user_id), Some(1)).await.unwrap();
    until_expired(last, 1).await;
    // Carol keeps writing to dave while the purge works through 1,500
    // messages in jobs of 10; every send is acknowledged and kept.
    let mut sent = Vec::new();
    let data_dir = server.data_dir();
    let purge = tokio::spawn(async move { purged(&data_dir, MESSAGES as u64).await });
    while !purge.is_finished() || sent.len() < 50 {
        sent.push(send(&carol.client, Target::User(dave.user_id), "still here").await);
    }
    purge.await.unwrap();
    let seen: Vec<u64> = history(&dave.client, Target::User(carol.user_id)).await.iter().map(|m| m.id).collect();
    assert_eq!(seen, sent);
    assert!(history(&alice.client, Target::User(bob.user_id)).await.is_empty());
    let json = stats(&server.data_dir());
    assert_eq!(json["messages"].as_u64(), Some(sent.len() as u64 + 1), "carol's, and one tombstone");
}
