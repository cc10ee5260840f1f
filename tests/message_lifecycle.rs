//! What happens to a message after it is sent, through the real server:
//! recall within each kind's window and by a group's owner and admins,
//! delete-for-me and clearing (private to the user, synced to their other
//! devices), delivery receipts from device cursors, and the offline cap
//! that gives a device the newest messages and leaves the rest to history
//! paging, dropping nothing.

use crate::common;

use std::time::Duration;

use common::talk::{code, entry, everything, mark, none_pushed, open_group, pushed, send};
use common::{Calls, Kind, TestServer};
use kith::client::{new_client_msg_id, Client, ClientError};
use kith::protocol::{
    DeleteForMeRequest, DeletedForMe, Delivered, DeviceType, Direction, ErrorCode, GroupEvent, LeaveGroupRequest,
    Limited, Message, MessageKind, RecallRequest, Recalled, SendRequest, SetAdminRequest, SyncRequest, Target,
    UpdateBody, UpdateKind,
};

async fn recall(client: &Client, with: Target, message_id: u64) -> Result<Recalled, ClientError> {
    client.call(&RecallRequest { with, message_id }).await
}

async fn delete(client: &Client, with: Target, ids: &[u64], clear_up_to: u64) -> Result<DeletedForMe, ClientError> {
    client.call(&DeleteForMeRequest { with, message_ids: ids.to_vec(), clear_up_to }).await
}

/// Sends a message of `kind`: a file for the kinds that carry one.
async fn send_kind(client: &Client, to: Target, kind: MessageKind) -> u64 {
    if matches!(kind, MessageKind::Image | MessageKind::Voice | MessageKind::Video | MessageKind::File) {
        let file = client.upload(b"x", kith::client::FileShape::attachment("application/octet-stream")).await.unwrap();
        let content = kith::client::attachment(file.media_id, "x");
        return client.send_media(to, kind, &content).await.expect("sends").message_id;
    }
    let request = SendRequest {
        to,
        client_msg_id: new_client_msg_id(),
        kind,
        content: b"x".to_vec(),
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    };
    client.call(&request).await.expect("sends").message_id
}

/// A conversation's whole history as `client` sees it, oldest first, in
/// pages short enough to page.
async fn history(client: &Client, with: Target) -> Vec<Message> {
    common::talk::history(client, with, 7).await
}

fn ids(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.id).collect()
}

/// The system message announcing a recall in a group, from a pushed update.
fn recall_event(body: &UpdateBody) -> Option<GroupEvent> {
    match body {
        UpdateBody::Message(m) if m.kind == MessageKind::System => {
            match kith::codec::decode_wire::<GroupEvent>(&m.content).unwrap() {
                event @ GroupEvent::MessageRecalled { .. } => Some(event),
                _ => None,
            }
        }
        _ => None,
    }
}

async fn a_recall_reaches_both_sides_and_leaves_a_tombstone(kind: Kind) {
    let server = TestServer::start().await;
    let mut alice = server.user(kind, "alice").await;
    let (tablet, _) = server.device(kind, "alice", "alice-tablet", DeviceType::Tablet).await;
    let cursor = tablet.sync_all(0).await.unwrap().last().map_or(0, |u| u.id);
    drop(tablet);
    let bob = server.user(kind, "bob").await;
    let (to_alice, to_bob) = (Target::User(alice.user_id), Target::User(bob.user_id));
    let secret = send(&bob.client, to_alice, "the secret").await;
    let after = send(&bob.client, to_alice, "after it").await;
    assert_eq!(everything(&alice.client, 10).await.1, 2);

    let recalled = recall(&bob.client, to_alice, secret).await.unwrap();
    assert_eq!(recalled, Recalled { message_id: secret, sender: bob.user_id, to: to_alice, by: bob.user_id });
    let (update, body) = pushed(&mut alice.client, UpdateKind::MessageRecalled).await;
    assert_eq!(body, UpdateBody::MessageRecalled(recalled));
    let (list, total) = everything(&alice.client, 10).await;
    assert_eq!((entry(&list, to_bob).unread, total), (1, 1), "a recalled message is not unread");

    // No read returns the content: history, sync, the list.
    for (client, with) in [(&alice.client, to_bob), (&bob.client, to_alice)] {
        let tombstone = history(client, with).await.into_iter().find(|m| m.id == secret).unwrap();
        assert_eq!((tombstone.kind, tombstone.content.len(), tombstone.extra), (MessageKind::Recalled, 0, None));
        assert_eq!(tombstone.sender, bob.user_id, "the id, sender and time stay");
    }
    let synced = alice.client.sync_messages(0).await.unwrap();
    let tombstone = synced.iter().find(|m| m.id == secret).unwrap();
    assert_eq!((tombstone.kind, tombstone.content.as_slice()), (MessageKind::Recalled, &[][..]));

    // The newest recalled: the preview goes with it.
    recall(&bob.client, to_alice, after).await.unwrap();
    pushed(&mut alice.client, UpdateKind::MessageRecalled).await;
    let (list, total) = everything(&alice.client, 10).await;
    let last = entry(&list, to_bob).last.clone().unwrap();
    assert_eq!((last.id, last.kind, last.preview.as_str(), total), (after, MessageKind::Recalled, "", 0));

    // A device that was away finds the update by Sync, same id.
    let (tablet, _) = server.device(kind, "alice", "alice-tablet", DeviceType::Tablet).await;
    let found = tablet.sync_all(cursor).await.unwrap();
    assert!(found.contains(&update), "{found:?}");

    // Asked again: the same answer, nothing new.
    assert_eq!(recall(&bob.client, to_alice, secret).await.unwrap(), recalled);
    none_pushed(&server, &alice.name, &mut alice.client, UpdateKind::MessageRecalled).await;
    // Refusals: someone else's message, no such message, a stranger.
    let hers = send(&alice.client, to_bob, "mine").await;
    assert_eq!(code(recall(&bob.client, to_alice, hers).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(recall(&bob.client, to_alice, hers + 1).await), Some(ErrorCode::NotFound));
    let carol = server.user(kind, "carol").await;
    assert_eq!(code(recall(&carol.client, to_alice, hers).await), Some(ErrorCode::NotFound));
}
per_transport!(a_recall_reaches_both_sides_and_leaves_a_tombstone);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_windows_are_set_per_kind() {
    let server = TestServer::start_with(|c| {
        let w = &mut c.conversation.recall_seconds;
        (w.text, w.image, w.voice, w.location, w.custom) = (0, 0, 0, 0, 0);
        (w.video, w.file) = (1, 1);
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let to_bob = Target::User(bob.user_id);
    let short = [MessageKind::Text, MessageKind::Image, MessageKind::Voice, MessageKind::Location, MessageKind::Custom];
    let mut sent = Vec::new();
    for kind in short.into_iter().chain([MessageKind::Video, MessageKind::File]) {
        sent.push((kind, send_kind(&alice.client, to_bob, kind).await));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    for (kind, id) in &sent[..5] {
        let refused = recall(&alice.client, to_bob, *id).await.unwrap_err();
        assert_eq!((refused.code(), refused.limit()), (Some(ErrorCode::NotPermitted), Some(0)), "{kind:?}");
    }
    recall(&alice.client, to_bob, sent[5].1).await.expect("a video within its window");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let refused = recall(&alice.client, to_bob, sent[6].1).await.unwrap_err();
    assert_eq!((refused.code(), refused.limit()), (Some(ErrorCode::NotPermitted), Some(1)), "a file past its window");
    let kinds: Vec<MessageKind> =
        history(&bob.client, Target::User(alice.user_id)).await.iter().map(|m| m.kind).collect();
    assert_eq!(&kinds[5..], &[MessageKind::Recalled, MessageKind::File]);
    // Nobody may send a tombstone.
    let r = alice
        .client
        .call(&SendRequest {
            to: to_bob,
            client_msg_id: new_client_msg_id(),
            kind: MessageKind::Recalled,
            content: vec![],
            extra: None,
            reply_to: 0,
            mentions: Vec::new(),
        })
        .await;
    assert_eq!(code(r), Some(ErrorCode::InvalidArgument));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_and_admins_recall_in_groups_at_any_time() {
    let server = TestServer::start_with(|c| c.conversation.recall_seconds.text = 0).await;
    let owner = server.user(Kind::Tcp, "owner").await;
    let admin = server.user(Kind::Quic, "admin").await;
    let member = server.user(Kind::Tls, "member").await;
    let mut other = server.user(Kind::Tcp, "other").await;
    let stranger = server.user(Kind::Tcp, "stranger").await;
    let group = open_group(&owner, &[&admin, &member, &other]).await;
    let with = Target::Group(group);
    owner.client.call(&SetAdminRequest { group_id: group, user_id: admin.user_id, admin: true }).await.unwrap();
    let by_member = send(&member.client, with, "spam").await;
    let by_other = send(&other.client, with, "reply").await;
    let by_owner = send(&owner.client, with, "rules").await;
    let by_admin = send(&admin.client, with, "noted").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let unread_before = entry(&everything(&other.client, 10).await.0, with).unread;

    // Past the window the sender may not, an admin may.
    assert_eq!(code(recall(&member.client, with, by_member).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(recall(&member.client, with, by_other).await), Some(ErrorCode::NotPermitted));
    // A device that connects now hears only what follows.
    other.client.discard_pushes();
    let mut tablet = server.device(Kind::Tcp, "other", "other-tablet", DeviceType::Tablet).await.0;
    let recalled = recall(&admin.client, with, by_member).await.unwrap();
    assert_eq!(recalled, Recalled { message_id: by_member, sender: member.user_id, to: with, by: admin.user_id });
    let (_, body) = pushed(&mut tablet, UpdateKind::Message).await;
    assert_eq!(
        recall_event(&body),
        Some(GroupEvent::MessageRecalled { message_id: by_member, sender: member.user_id, by: admin.user_id })
    );
    let list = everything(&tablet, 10).await.0;
    assert_eq!(entry(&list, with).unread, unread_before, "it was read already (other answered it)");

    // An admin may not recall the owner's, nor another admin's; the owner may.
    assert_eq!(code(recall(&admin.client, with, by_owner).await), Some(ErrorCode::NotPermitted));
    assert_eq!(recall(&owner.client, with, by_admin).await.unwrap().by, owner.user_id);
    let list = everything(&tablet, 10).await.0;
    assert_eq!(entry(&list, with).unread, unread_before - 1, "an unread message recalled no longer counts");
    // A former member's message stays recallable by an admin.
    member.client.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
    let left = send(&tablet, with, "still here").await;
    tablet.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
    recall(&admin.client, with, left).await.expect("an admin recalls a former member's message");

    // A system message, a stranger, a non-member.
    let system = history(&owner.client, with).await.into_iter().find(|m| m.kind == MessageKind::System).unwrap();
    assert_eq!(code(recall(&owner.client, with, system.id).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(recall(&stranger.client, with, by_owner).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(recall(&member.client, with, by_owner).await), Some(ErrorCode::NotPermitted));
}

async fn delete_for_me_is_private_and_synced(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let (mut tablet, _) = server.device(kind, "alice", "alice-tablet", DeviceType::Tablet).await;
    let bob = server.user(kind, "bob").await;
    let (to_alice, to_bob) = (Target::User(alice.user_id), Target::User(bob.user_id));
    let mut sent = Vec::new();
    for text in ["one", "two", "three", "four"] {
        sent.push(send(&bob.client, to_alice, text).await);
    }

    // Hiding the second: gone from her history on every device, not from bob's.
    let done = delete(&alice.client, to_bob, &[sent[1], sent[1]], 0).await.unwrap();
    assert_eq!(
        done,
        DeletedForMe { with: to_bob, message_ids: vec![sent[1]], cleared_up_to: 0, read_up_to: 0, unread: 3 }
    );
    let (_, body) = pushed(&mut tablet, UpdateKind::DeletedForMe).await;
    assert_eq!(body, UpdateBody::DeletedForMe(done));
    assert_eq!(ids(&history(&tablet, to_bob).await), vec![sent[0], sent[2], sent[3]]);
    assert_eq!(ids(&history(&bob.client, to_alice).await), sent);
    assert_eq!(entry(&everything(&tablet, 10).await.0, to_bob).unread, 3);
    let (list, _) = everything(&bob.client, 10).await;
    assert_eq!(entry(&list, to_alice).last.as_ref().unwrap().id, sent[3], "bob's list is untouched");

    // Hiding the newest: her list shows the newest she kept.
    delete(&alice.client, to_bob, &[sent[3]], 0).await.unwrap();
    let (list, total) = everything(&alice.client, 10).await;
    assert_eq!((entry(&list, to_bob).last.as_ref().unwrap().id, total), (sent[2], 2));

    // A recall and a deletion of different messages both come off the
    // count; of the same message, once.
    bob.client.call(&RecallRequest { with: to_alice, message_id: sent[0] }).await.unwrap();
    assert_eq!(everything(&alice.client, 10).await.1, 1, "three alone: one recalled, two and four hidden");
    bob.client.call(&RecallRequest { with: to_alice, message_id: sent[1] }).await.unwrap();
    assert_eq!(everything(&alice.client, 10).await.1, 1, "two was hidden and is recalled: counted off once");

    // Clearing up to the third reads it too; everything is then hidden.
    let done = delete(&alice.client, to_bob, &[], sent[2]).await.unwrap();
    assert_eq!((done.cleared_up_to, done.read_up_to, done.unread, done.message_ids.len()), (sent[2], sent[2], 0, 0));
    assert!(history(&alice.client, to_bob).await.is_empty());
    let (list, total) = everything(&alice.client, 10).await;
    assert_eq!((entry(&list, to_bob).last.clone(), total), (None, 0));
    let fifth = send(&bob.client, to_alice, "five").await;
    assert_eq!(ids(&history(&tablet, to_bob).await), vec![fifth]);
    assert_eq!(entry(&everything(&tablet, 10).await.0, to_bob).last.as_ref().unwrap().id, fifth);

    // Refusals: too many, nothing, not in the conversation, no conversation.
    let many: Vec<u64> = (1..=101).collect();
    let refused = delete(&alice.client, to_bob, &many, 0).await.unwrap_err();
    assert_eq!((refused.code(), refused.limit()), (Some(ErrorCode::InvalidArgument), Some(100)));
    assert_eq!(code(delete(&alice.client, to_bob, &[], 0).await), Some(ErrorCode::InvalidArgument));
    assert_eq!(code(delete(&alice.client, to_bob, &[fifth + 1], 0).await), Some(ErrorCode::NotFound));
    let carol = server.user(kind, "carol").await;
    assert_eq!(code(delete(&carol.client, to_bob, &[fifth], 0).await), Some(ErrorCode::NotFound));
    let group = open_group(&carol, &[]).await;
    assert_eq!(code(delete(&alice.client, Target::Group(group), &[fifth], 0).await), Some(ErrorCode::NotPermitted));
}
per_transport!(delete_for_me_is_private_and_synced);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_receipts_follow_device_cursors() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let (tablet, _) = server.device(Kind::Quic, "alice", "alice-tablet", DeviceType::Tablet).await;
    let mut bob = server.user(Kind::Tls, "bob").await;
    let to_alice = Target::User(alice.user_id);
    send(&bob.client, to_alice, "one").await;
    let second = send(&bob.client, to_alice, "two").await;
    none_pushed(&server, &bob.name, &mut bob.client, UpdateKind::Delivered).await;

    // A device acknowledges: bob hears the newest delivered, once.
    let newest = alice.client.sync_all(0).await.unwrap().last().unwrap().id;
    alice.client.ack(newest).await.unwrap();
    let (update, body) = pushed(&mut bob.client, UpdateKind::Delivered).await;
    assert_eq!(body, UpdateBody::Delivered(Delivered { recipient: alice.user_id, up_to: second }));
    tablet.ack(newest).await.unwrap();
    none_pushed(&server, &bob.name, &mut bob.client, UpdateKind::Delivered).await;
    assert!(bob.client.sync_all(update.id - 1).await.unwrap().contains(&update), "in the log too");

    // Her own message, acknowledged by her other device, tells bob nothing.
    send(&alice.client, Target::User(bob.user_id), "mine").await;
    let newest = tablet.sync_all(newest).await.unwrap().last().unwrap().id;
    tablet.ack(newest).await.unwrap();
    none_pushed(&server, &bob.name, &mut bob.client, UpdateKind::Delivered).await;

    // Offline, bob finds the receipt by Sync.
    let cursor = bob.client.sync_all(0).await.unwrap().last().unwrap().id;
    drop(bob);
    let third = send(&server.device(Kind::Tcp, "bob", "bob-laptop", DeviceType::Desktop).await.0, to_alice, "3").await;
    let newest = alice.client.sync_all(newest).await.unwrap().last().unwrap().id;
    alice.client.ack(newest).await.unwrap();
    let (bob, _) = server.device(Kind::Tcp, "bob", "bob-phone", DeviceType::Mobile).await;
    let receipts: Vec<UpdateBody> = bob
        .sync_all(cursor)
        .await
        .unwrap()
        .iter()
        .filter(|u| u.kind == UpdateKind::Delivered as u8)
        .map(|u| u.decode().unwrap().unwrap())
        .collect();
    assert_eq!(receipts, vec![UpdateBody::Delivered(Delivered { recipient: alice.user_id, up_to: third })]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_device_past_the_cap_gets_the_newest_and_pages_the_rest() {
    let server = TestServer::start_with(|c| {
        c.conversation.offline_cap_direct = 5;
        c.conversation.offline_cap_group = 3;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let group = open_group(&carol, &[&alice]).await;
    let cursor = alice.client.sync_all(0).await.unwrap().last().unwrap().id;
    let mut direct = Vec::new();
    let mut in_group = Vec::new();
    for i in 0..12 {
        direct.push(send(&bob.client, Target::User(alice.user_id), &format!("{i}")).await);
        if i < 7 {
            in_group.push(send(&carol.client, Target::Group(group), &format!("{i}")).await);
        }
    }
    let few = send(&carol.client, Target::User(alice.user_id), "under the cap").await;

    let mut got = Vec::new();
    let mut limited = Vec::new();
    let mut after = cursor;
    loop {
        let page = alice.client.call(&SyncRequest { after, limit: 4 }).await.unwrap();
        got.extend(page.updates.iter().filter_map(kith::client::message_of).map(|m| m.id));
        limited.extend(page.limited.iter().copied());
        match (page.more, page.updates.last()) {
            (true, Some(last)) => after = last.id,
            _ => break,
        }
    }
    let mut expected: Vec<u64> = direct[7..].iter().chain(&in_group[4..]).copied().chain([few]).collect();
    expected.sort_unstable();
    assert_eq!(got, expected, "the newest 5 of bob's, 3 of the group's, and carol's one");
    assert_eq!(
        limited,
        vec![
            Limited { with: Target::User(bob.user_id), older_than: direct[7] },
            Limited { with: Target::Group(group), older_than: in_group[4] },
        ]
    );
    // History before each boundary returns the rest: nothing was dropped.
    let older = alice.client.history(Target::User(bob.user_id), Direction::Before, direct[7], 100).await.unwrap();
    assert_eq!(ids(&older.messages), direct[..7]);
    let older = alice.client.history(Target::Group(group), Direction::Before, in_group[4], 100).await.unwrap();
    let older: Vec<u64> = older.messages.iter().filter(|m| m.kind == MessageKind::Text).map(|m| m.id).collect();
    assert_eq!(older, in_group[..4]);
    // The unread counts still count every message.
    let (list, _) = everything(&alice.client, 10).await;
    assert_eq!(entry(&list, Target::User(bob.user_id)).unread, 12);
    assert_eq!(entry(&list, Target::Group(group)).unread, 7);
    mark(&alice.client, Target::User(bob.user_id), u64::MAX).await.unwrap();
}
