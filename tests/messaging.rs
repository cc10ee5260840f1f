//! One-to-one messaging: live delivery, offline sync, history, idempotency,
//! durability across restarts.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::process::stats;
use common::talk::none_pushed;
use common::{next_message, Calls, Kind, TestServer};
use kith::client::{message_of, new_client_msg_id};
use kith::id::id_time_ms;
use kith::protocol::{DeviceType, Direction, ErrorCode, MessageKind, SendReply, SendRequest, Target, UpdateKind};

async fn delivers_to_every_device_but_the_sender(kind: Kind) {
    let server = TestServer::start().await;
    let mut alice = server.user(kind, "alice").await;
    let (mut alice_laptop, _) = server.device(kind, "alice", "alice-laptop", DeviceType::Desktop).await;
    let mut bob = server.user(kind, "bob").await;
    let (mut bob_laptop, _) = server.device(kind, "bob", "bob-laptop", DeviceType::Desktop).await;

    let ack = alice.client.send_text(bob.user_id, "hello bob").await.unwrap();
    assert!(!ack.duplicate);
    assert!(ack.server_time > 0);

    for device in [&mut bob.client, &mut bob_laptop, &mut alice_laptop] {
        let m = next_message(device).await;
        assert_eq!(m.id, ack.message_id);
        assert_eq!(m.sender, alice.user_id);
        assert_eq!(m.to, Target::User(bob.user_id));
        assert_eq!(m.content, b"hello bob");
        assert_eq!(m.kind, MessageKind::Text);
        assert_eq!(m.server_time, ack.server_time);
    }
    none_pushed(&server, &alice.name, &mut alice.client, UpdateKind::Message).await;

    // A reply goes the other way, to alice's devices and bob's other device.
    let reply = bob.client.send_text(alice.user_id, "hi alice").await.unwrap();
    assert!(reply.message_id > ack.message_id);
    for device in [&mut alice.client, &mut alice_laptop, &mut bob_laptop] {
        assert_eq!(next_message(device).await.id, reply.message_id);
    }
}
per_transport!(delivers_to_every_device_but_the_sender);

async fn offline_backlog_arrives_complete_and_in_order(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let bob_id = bob.user_id;
    drop(bob);

    let mut sent = Vec::new();
    for i in 0..250 {
        sent.push(alice.client.send_text(bob_id, &format!("message {i}")).await.unwrap().message_id);
    }

    // Bob comes back on the same device with his token.
    let client = server.connect(kind).await;
    let login = server
        .connect(kind)
        .await
        .login("bob", common::PASSWORD, common::device("bob-phone", DeviceType::Mobile))
        .await
        .unwrap();
    let state = client.auth(&login.token).await.unwrap();
    assert_eq!(state.cursor, 0);
    // The log holds a notice of each password login around the messages.
    assert!(state.latest > *sent.last().unwrap());
    let got = client.sync_messages(state.cursor).await.unwrap();
    let ids: Vec<u64> = got.iter().map(|m| m.id).collect();
    assert_eq!(ids, sent, "exactly the 250 messages, in order, no duplicates");
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.content, format!("message {i}").into_bytes());
    }

    // Pages never overlap or skip, and `more` marks the end: a login notice,
    // the 250 messages, and the notice of the login above.
    let first = client.sync_page(0, 100).await.unwrap();
    let second = client.sync_page(first.updates.last().unwrap().id, 100).await.unwrap();
    let third = client.sync_page(second.updates.last().unwrap().id, 100).await.unwrap();
    assert_eq!((first.updates.len(), second.updates.len(), third.updates.len()), (100, 100, 52));
    assert!(first.more && second.more && !third.more);
    assert_eq!(first.updates[0].kind, UpdateKind::NewLogin as u8);
    assert_eq!(second.updates[0].id, sent[99]);
    assert_eq!(third.updates.last().unwrap().kind, UpdateKind::NewLogin as u8);
    assert_eq!(third.updates.last().unwrap().id, state.latest);

    // The acknowledged cursor is kept per device.
    assert_eq!(client.ack(sent[149]).await.unwrap(), sent[149]);
    assert_eq!(client.ack(sent[10]).await.unwrap(), sent[149], "cursor never moves back");
    // Reconnecting as the same device replaces the old connection and
    // reports the kept cursor.
    let reconnected = server.connect(kind).await;
    let again = reconnected.auth(&login.token).await.unwrap();
    assert_eq!(again.cursor, sent[149]);
    let rest = reconnected.sync_messages(again.cursor).await.unwrap();
    assert_eq!(rest.len(), 100);

    // A device that was never online gets the full backlog.
    let (fresh, fresh_login) = server.device(kind, "bob", "bob-new-laptop", DeviceType::Desktop).await;
    assert_eq!(fresh_login.session.cursor, 0);
    assert_eq!(fresh.sync_messages(0).await.unwrap().len(), 250);
}
per_transport!(offline_backlog_arrives_complete_and_in_order);

async fn history_pages_both_ways(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let carol = server.user(kind, "carol").await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let (from, to) = if i % 2 == 0 { (&alice, &bob) } else { (&bob, &alice) };
        ids.push(from.client.send_text(to.user_id, &format!("{i}")).await.unwrap().message_id);
    }
    // Unrelated traffic must not appear in the alice–bob history.
    carol.client.send_text(alice.user_id, "not in this conversation").await.unwrap();

    let with_bob = Target::User(bob.user_id);
    let newest = alice.client.history(with_bob, Direction::Before, 0, 10).await.unwrap();
    assert_eq!(newest.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids[15..25]);
    assert!(newest.more);
    let older = alice.client.history(with_bob, Direction::Before, newest.messages[0].id, 10).await.unwrap();
    assert_eq!(older.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids[5..15]);
    let oldest = alice.client.history(with_bob, Direction::Before, older.messages[0].id, 10).await.unwrap();
    assert_eq!(oldest.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids[0..5]);
    assert!(!oldest.more);

    let forward = bob.client.history(Target::User(alice.user_id), Direction::After, 0, 20).await.unwrap();
    assert_eq!(forward.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids[0..20]);
    assert!(forward.more);
    let rest = bob.client.history(Target::User(alice.user_id), Direction::After, ids[19], 20).await.unwrap();
    assert_eq!(rest.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids[20..25]);
    assert!(!rest.more);

    let err = alice.client.history(with_bob, Direction::After, 0, 0).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidArgument));
    let err = alice.client.history(with_bob, Direction::After, 0, 101).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidArgument));
    // Carol sees nothing of alice and bob's conversation through her own history with either.
    let peek = carol.client.history(Target::User(bob.user_id), Direction::After, 0, 100).await.unwrap();
    assert!(peek.messages.is_empty());
}
per_transport!(history_pages_both_ways);

async fn resending_a_client_id_returns_the_original_ack(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    let request = SendRequest {
        to: Target::User(bob.user_id),
        client_msg_id: new_client_msg_id(),
        kind: MessageKind::Text,
        content: b"once".to_vec(),
        extra: Some("{\"reply_to\":1}".into()),
        reply_to: 0,
        mentions: Vec::new(),
    };
    let first = alice.client.call(&request).await.unwrap();
    let second = alice.client.call(&request).await.unwrap();
    assert!(!first.duplicate && second.duplicate);
    assert_eq!((first.message_id, first.server_time), (second.message_id, second.server_time));
    // Concurrent retries of one id also collapse to one message.
    let racing = SendRequest { client_msg_id: new_client_msg_id(), ..request.clone() };
    let (a, b) = tokio::join!(alice.client.call(&racing), alice.client.call(&racing));
    assert_eq!(a.unwrap().message_id, b.unwrap().message_id);

    let m = next_message(&mut bob.client).await;
    assert_eq!(m.extra.as_deref(), Some("{\"reply_to\":1}"));
    next_message(&mut bob.client).await;
    none_pushed(&server, &bob.name, &mut bob.client, UpdateKind::Message).await;
    assert_eq!(bob.client.sync_messages(0).await.unwrap().len(), 2, "stored once each");
}
per_transport!(resending_a_client_id_returns_the_original_ack);

/// Sends `text` to `to` under `client_msg_id`.
async fn send_as(client: &kith::client::Client, to: u64, client_msg_id: [u8; 16], text: &str) -> SendReply {
    let request = SendRequest {
        to: Target::User(to),
        client_msg_id,
        kind: MessageKind::Text,
        content: text.as_bytes().to_vec(),
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    };
    client.call(&request).await.unwrap()
}

/// Waits until the message `id` is `seconds` old by the server's clock.
async fn until_older_than(id: u64, seconds: u64) {
    let at = id_time_ms(id) + seconds * 1000 + 20;
    let now = kith::id::now_ms();
    if at > now {
        tokio::time::sleep(Duration::from_millis(at - now)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_later_than_the_idempotency_window_is_a_new_message() {
    // No sweep runs during the test: `Send` itself reads the window.
    let server = TestServer::start_with(|c| {
        c.conversation.idempotency_secs = 1;
        c.conversation.purge_interval_secs = 3600;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let once = new_client_msg_id();
    let first = send_as(&alice.client, bob.user_id, once, "once").await;
    let retried = send_as(&alice.client, bob.user_id, once, "once").await;
    assert!(retried.duplicate && retried.message_id == first.message_id, "a retry within the window");

    until_older_than(first.message_id, 1).await;
    let late = send_as(&alice.client, bob.user_id, once, "once").await;
    assert!(!late.duplicate && late.message_id > first.message_id, "a retry past the window is stored again");
    let again = send_as(&alice.client, bob.user_id, once, "once").await;
    assert!(again.duplicate && again.message_id == late.message_id, "and is the original of its own retries");
    let ids: Vec<u64> = bob.client.sync_messages(0).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(ids, [first.message_id, late.message_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_forgets_client_message_ids_past_the_window() {
    let server = TestServer::start_with(|c| {
        c.conversation.idempotency_secs = 2;
        c.conversation.purge_interval_secs = 1;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let mut sent = Vec::new();
    for text in ["one", "two", "three"] {
        sent.push(send_as(&alice.client, bob.user_id, new_client_msg_id(), text).await.message_id);
    }
    let held = stats(&server.data_dir());
    assert_eq!(held["retry_keys"].as_u64(), Some(3), "one entry per message sent");

    until_older_than(sent[2], 2).await;
    let mut json = held;
    // The counter moves once the job's commit is acknowledged, a moment
    // after the entries are gone: wait for both.
    for _ in 0..100 {
        json = stats(&server.data_dir());
        if json["retry_keys"].as_u64() == Some(0) && json["forgotten_retry_keys_since_start"].as_u64() == Some(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(json["retry_keys"].as_u64(), Some(0), "every entry forgotten: {json}");
    assert_eq!(json["forgotten_retry_keys_since_start"].as_u64(), Some(3));
    // The messages themselves stay.
    assert_eq!(json["messages"].as_u64(), Some(3));
    assert_eq!(bob.client.sync_messages(0).await.unwrap().len(), 3);
}

async fn bad_sends_are_refused(kind: Kind) {
    let server = TestServer::start_with(|c| c.limits.max_content_bytes = 1000).await;
    let alice = server.user(kind, "alice").await;
    let err = alice.client.send_text(999_999, "to nobody").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound));
    let big = "x".repeat(1001);
    let err = alice.client.send_text(alice.user_id, &big).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidArgument));
    // Notes to self are allowed and land in the own inbox once.
    alice.client.send_text(alice.user_id, "note").await.unwrap();
    assert_eq!(alice.client.sync_messages(0).await.unwrap().len(), 1);
}
per_transport!(bad_sends_are_refused);

async fn restart_keeps_every_acknowledged_message(kind: Kind) {
    let mut server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let token = bob.login.token.clone();
    let mut sent = HashSet::new();
    // Pipelined sends: many in flight at once share group commits.
    let texts: Vec<String> = (0..200).map(|i| format!("{i}")).collect();
    let sends: Vec<_> = texts.iter().map(|t| alice.client.send_text(bob.user_id, t)).collect();
    for ack in futures_util::future::join_all(sends).await {
        sent.insert(ack.unwrap().message_id);
    }
    drop((alice, bob));
    server.restart().await;
    let client = server.connect(kind).await;
    client.auth(&token).await.expect("tokens survive a restart");
    let got: HashSet<u64> = client.sync_messages(0).await.unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(got, sent);
    // New ids stay above the old ones.
    let new_id = client.send_text(1, "after restart").await.unwrap().message_id;
    assert!(sent.iter().all(|id| *id < new_id));
}
per_transport!(restart_keeps_every_acknowledged_message);

async fn large_messages_end_a_page_early(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let big = "y".repeat(60 * 1024);
    let mut sent = Vec::new();
    for _ in 0..30 {
        sent.push(alice.client.send_text(bob.user_id, &big).await.unwrap().message_id);
    }
    let page = bob.client.sync_page(0, 100).await.unwrap();
    assert!(page.more, "a page stops at its byte budget");
    assert!(page.updates.len() < 30 && !page.updates.is_empty(), "{}", page.updates.len());
    assert!(page.updates.iter().filter_map(message_of).count() > 0);
    // Paging on still yields every message exactly once.
    let all: Vec<u64> = bob.client.sync_messages(0).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(all, sent);
    let history = bob.client.history(Target::User(alice.user_id), Direction::Before, 0, 100).await.unwrap();
    assert!(history.more && history.messages.len() < 30);
    assert_eq!(history.messages.last().unwrap().id, *sent.last().unwrap());
}
per_transport!(large_messages_end_a_page_early);
