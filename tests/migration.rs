//! Data written by the previous release (schema version 1: seven sled trees,
//! per-user inboxes of message ids) opens with this one and keeps every
//! user, token, device cursor, message and idempotency entry; so does a
//! backup the previous release wrote.
//!
//! `fixtures/v1/` holds a data directory and a backup made by the release
//! before keyspaces, and `fixture.json`, what was put into them: three users
//! (carol disabled afterwards by the operator), four device tokens, eight
//! messages with their client message ids, and bob's phone's cursor.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::process::KITH;
use common::{device, Calls, Kind, TestServer};
use kith::protocol::{
    DeviceType, Direction, ErrorCode, ListConversationsRequest, ListFriendsRequest, MessageKind, SendRequest, Target,
    UpdateKind,
};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v1");
const PASSWORD: &str = "fixture password";

fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/fixture.json")).unwrap()).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// The fixture's messages that `user` sent or received, in id order.
fn messages_of(fx: &Value, user: u64) -> Vec<&Value> {
    fx["messages"].as_array().unwrap().iter().filter(|m| m["sender"] == user || m["to"] == user).collect()
}

async fn server_on(data_dir: &Path) -> TestServer {
    let data_dir = data_dir.to_path_buf();
    TestServer::start_with(move |c| {
        c.data_dir = data_dir;
        c.social.direct_messages = kith::config::DirectMessages::Friends;
    })
    .await
}

async fn friends(client: &kith::client::Client) -> Vec<u64> {
    let page = client.call(&ListFriendsRequest { after: 0, limit: 100 }).await.unwrap();
    page.friends.iter().map(|f| f.user.user_id).collect()
}

/// Everything the previous release stored is there, and behaves.
async fn check_everything(server: &TestServer, fx: &Value) {
    let users = &fx["users"];
    let (alice, bob, carol) =
        (users["alice"].as_u64().unwrap(), users["bob"].as_u64().unwrap(), users["carol"].as_u64().unwrap());
    let tokens = &fx["tokens"];

    // Tokens still authenticate, as the same user and device.
    let phone = server.connect(Kind::Tcp).await;
    let state = phone.auth(&hex(tokens["alice-phone"].as_str().unwrap())).await.unwrap();
    assert_eq!((state.user_id, state.username.as_str(), state.device_id.as_str()), (alice, "alice", "alice-phone"));
    let laptop = server.connect(Kind::Quic).await;
    assert_eq!(laptop.auth(&hex(tokens["alice-laptop"].as_str().unwrap())).await.unwrap().device_id, "alice-laptop");

    // Bob's phone kept its cursor, now an update id of the same value.
    let bob_phone = server.connect(Kind::Tcp).await;
    let bob_state = bob_phone.auth(&hex(tokens["bob-phone"].as_str().unwrap())).await.unwrap();
    assert_eq!(bob_state.cursor, fx["bob_phone_cursor"].as_u64().unwrap());
    let bob_messages = messages_of(fx, bob);
    assert_eq!(bob_state.latest, bob_messages.last().unwrap()["id"].as_u64().unwrap());
    let after_cursor = bob_phone.sync_messages(bob_state.cursor).await.unwrap();
    let expected: Vec<u64> =
        bob_messages.iter().map(|m| m["id"].as_u64().unwrap()).filter(|id| *id > bob_state.cursor).collect();
    assert_eq!(after_cursor.iter().map(|m| m.id).collect::<Vec<_>>(), expected);
    // What bob's devices had acknowledged before the upgrade was delivered
    // then: acknowledging it again tells alice nothing (schema version 5).
    bob_phone.ack(bob_state.cursor).await.unwrap();
    let told = phone.sync_all(0).await.unwrap();
    assert!(told.iter().all(|u| u.kind != UpdateKind::Delivered as u8), "{told:?}");

    // The disabled account stays disabled.
    let carol_phone = server.connect(Kind::Tcp).await;
    let refused = carol_phone.auth(&hex(tokens["carol-phone"].as_str().unwrap())).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::AccountDisabled));

    // Every message of alice's, with its content, in order, through the update log.
    let synced = phone.sync_messages(0).await.unwrap();
    let expected = messages_of(fx, alice);
    assert_eq!(synced.len(), expected.len());
    for (got, want) in synced.iter().zip(&expected) {
        assert_eq!(got.id, want["id"].as_u64().unwrap());
        assert_eq!(got.sender, want["sender"].as_u64().unwrap());
        assert_eq!(got.to, Target::User(want["to"].as_u64().unwrap()));
        assert_eq!(got.content, want["text"].as_str().unwrap().as_bytes());
        assert_eq!(got.extra.as_deref(), want["extra"].as_str());
        assert_eq!(got.client_msg_id.to_vec(), hex(want["client_msg_id"].as_str().unwrap()));
    }
    // The conversation logs, through history.
    let with_bob = phone.history(Target::User(bob), Direction::After, 0, 100).await.unwrap();
    let between: Vec<u64> = expected
        .iter()
        .filter(|m| (m["sender"] == alice && m["to"] == bob) || (m["sender"] == bob && m["to"] == alice))
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert_eq!(with_bob.messages.iter().map(|m| m.id).collect::<Vec<_>>(), between);
    assert!(phone.history(Target::User(carol), Direction::Before, 0, 100).await.unwrap().messages.len() == 2);

    // Conversations (schema version 4): alice's two, newest first, with
    // their last messages and everything from before the upgrade read.
    let list = phone.call(&ListConversationsRequest { before: 0, changed_since: 0, limit: 10 }).await.unwrap();
    // (alice also wrote notes to herself, a conversation of her own.)
    let mut newest = std::collections::BTreeMap::new();
    for m in &expected {
        let peer = if m["sender"] == alice { m["to"].as_u64().unwrap() } else { m["sender"].as_u64().unwrap() };
        let id = m["id"].as_u64().unwrap();
        let entry = newest.entry(peer).or_insert(id);
        *entry = (*entry).max(id);
    }
    let mut order: Vec<(u64, Target)> = newest.into_iter().map(|(peer, id)| (id, Target::User(peer))).collect();
    order.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
    let got: Vec<(u64, Target, u32, u64)> =
        list.conversations.iter().map(|c| (c.last.as_ref().unwrap().id, c.with, c.unread, c.read_up_to)).collect();
    assert_eq!(got, order.iter().map(|(id, with)| (*id, *with, 0, *id)).collect::<Vec<_>>());
    assert_eq!(list.total_unread, 0);

    // Idempotency entries: a late retry of an old message returns its old id.
    let first = &fx["messages"][0];
    let retry = SendRequest {
        to: Target::User(first["to"].as_u64().unwrap()),
        client_msg_id: hex(first["client_msg_id"].as_str().unwrap()).try_into().unwrap(),
        kind: MessageKind::Text,
        content: first["text"].as_str().unwrap().as_bytes().to_vec(),
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    };
    let ack = phone.call(&retry).await.unwrap();
    assert!(ack.duplicate);
    assert_eq!(ack.message_id, first["id"].as_u64().unwrap());
    // New ids stay above every old one.
    let newest_old = fx["messages"].as_array().unwrap().iter().map(|m| m["id"].as_u64().unwrap()).max().unwrap();
    assert!(phone.send_text(bob, "after the upgrade").await.unwrap().message_id > newest_old);

    // Users who had talked one to one are friends (schema version 3), so the
    // friends-only default keeps them talking; bob and carol never talked.
    assert_eq!(friends(&phone).await, vec![bob, carol]);
    assert_eq!(friends(&bob_phone).await, vec![alice]);
    bob_phone.send_text(alice, "still friends after the upgrade").await.unwrap();
    assert_eq!(bob_phone.send_text(carol, "we never talked").await.unwrap_err().code(), Some(ErrorCode::NotPermitted));

    // Password hashes and the user id counter carried over.
    let c = server.connect(Kind::Tcp).await;
    c.login("bob", PASSWORD, device("bob-tablet", DeviceType::Tablet)).await.unwrap();
    let c = server.connect(Kind::Tcp).await;
    assert_eq!(c.register("alice", PASSWORD).await.unwrap_err().code(), Some(ErrorCode::Conflict));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_from_the_previous_release_opens_with_everything_in_it() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let unpacked = Command::new("tar")
        .args(["xzf", &format!("{FIXTURES}/data-v1.tar.gz"), "-C"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(unpacked.success());
    let data = dir.path().join("data");
    let mut server = server_on(&data).await;
    check_everything(&server, &fx).await;
    let next = server.connect(Kind::Tcp).await.register("dave", PASSWORD).await.unwrap();
    assert_eq!(next, 4, "user ids continue after the old ones");

    // A restart opens the migrated data as it is.
    server.restart().await;
    let phone = server.connect(Kind::Tcp).await;
    phone.auth(&hex(fx["tokens"]["alice-phone"].as_str().unwrap())).await.unwrap();
    // Her old messages, the one she sent after the upgrade and bob's reply.
    assert_eq!(phone.sync_messages(0).await.unwrap().len(), messages_of(&fx, 1).len() + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_from_the_previous_release_restores_and_migrates() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let restored = Command::new(KITH)
        .args(["restore", &format!("{FIXTURES}/v1.kithbak"), "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&restored.stdout);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let migrated = format!("migrated the data from schema version 1 to {}", kith::service::migrate::current_version());
    assert!(said.contains(&migrated), "{said}");

    let mut server = server_on(&data).await;
    check_everything(&server, &fx).await;
    server.stop().await;

    // A new backup records the new layout version.
    let file = dir.path().join("new.kithbak");
    let backup = Command::new(KITH).arg("backup").arg(&file).arg("--data-dir").arg(&data).output().unwrap();
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    let mut bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..8], b"KITHBAK1");
    assert_eq!(bytes[8..12], kith::service::migrate::current_version().to_be_bytes());

    // One from a newer release is refused, saying why.
    bytes[8..12].copy_from_slice(&99u32.to_be_bytes());
    let newer = dir.path().join("newer.kithbak");
    std::fs::write(&newer, &bytes).unwrap();
    let refused = Command::new(KITH)
        .arg("restore")
        .arg(&newer)
        .arg("--data-dir")
        .arg(dir.path().join("elsewhere"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("schema version 99") && err.contains("newer"), "{err}");
    assert!(!dir.path().join("elsewhere/sled").exists(), "nothing is left behind");
}
