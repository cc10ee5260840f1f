//! Replies and edits, as two people on their phones see them: a reply names
//! the message it answers and reveals nothing of it a reader may not read;
//! a sender edits a text message within the window, every reader sees the
//! newest text with its mark, and what an edit may not touch is refused.

use crate::common;

use std::time::Duration;

use common::talk::{code, event, history, named_group_fields, pushed, send, text_message};
use common::{Kind, TestServer, TestUser};
use kith::client::ClientError;
use kith::protocol::{
    BlockRequest, CreateGroupRequest, DeviceType, Edited, ErrorCode, GroupEvent, JoinGroupRequest, JoinPolicy, Message,
    MessageKind, MuteMemberRequest, RecallRequest, SendRequest, Target, UpdateBody, UpdateKind,
};

async fn edit(user: &TestUser, with: Target, id: u64, text: &str) -> Result<Message, ClientError> {
    user.client.edit_text(with, id, text).await
}

/// A 1:1 conversation on two phones: bob answers alice's message, alice
/// fixes her typo; bob and alice's tablet hear of the edit by an update
/// (live, and the same from `Sync`), and everyone reads the new text with
/// its mark and the reply with its original.
async fn a_reply_and_an_edit_reach_both_sides(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    let (mut alice_tablet, _) = server.device(kind, "alice", "alice-tablet", DeviceType::Tablet).await;
    let (to_bob, to_alice) = (Target::User(bob.user_id), Target::User(alice.user_id));

    let typo = send(&alice.client, to_bob, "see you at 8 tomorow").await;
    let reply = bob.client.reply_text(to_alice, typo, "at the station?").await.unwrap().message_id;
    let message = common::next_message(&mut bob.client).await;
    assert_eq!((message.id, message.reply_to, message.edited), (typo, 0, 0));
    let answered = alice.client.message(to_bob, reply).await.unwrap().expect("bob's reply");
    assert_eq!(answered.reply_to, typo, "the reply names what it answers");

    let edited = edit(&alice, to_bob, typo, "see you at 8 tomorrow").await.unwrap();
    assert_eq!(
        (edited.id, edited.sender, edited.content.as_slice()),
        (typo, alice.user_id, &b"see you at 8 tomorrow"[..])
    );
    assert!(edited.edited >= edited.server_time, "{edited:?}");
    let expected = Edited { message_id: typo, sender: alice.user_id, to: to_bob, edited_at: edited.edited };
    let (live, body) = pushed(&mut bob.client, UpdateKind::MessageEdited).await;
    assert_eq!(body, UpdateBody::MessageEdited(expected));
    let (_, on_tablet) = pushed(&mut alice_tablet, UpdateKind::MessageEdited).await;
    assert_eq!(on_tablet, UpdateBody::MessageEdited(expected));
    let synced = bob.client.sync_all(0).await.unwrap();
    assert!(synced.contains(&live), "Sync gives the update pushed, with its id");
    // The message itself, read again (and from Sync) is the new text.
    for (reader, with) in [(&alice.client, to_bob), (&bob.client, to_alice)] {
        assert_eq!(reader.message(with, typo).await.unwrap(), Some(edited.clone()));
    }
    let in_sync = synced.iter().find(|u| u.id == typo).expect("the message").decode().unwrap();
    assert_eq!(in_sync, Some(UpdateBody::Message(edited.clone())));

    // Recalled after the edit: nothing of either text is left.
    alice.client.call(&RecallRequest { with: to_bob, message_id: typo }).await.unwrap();
    let tombstone = bob.client.message(to_alice, typo).await.unwrap().expect("a tombstone");
    assert_eq!((tombstone.kind, tombstone.content.len(), tombstone.edited), (MessageKind::Recalled, 0, 0));
    assert_eq!(code(edit(&alice, to_bob, typo, "again").await), Some(ErrorCode::NotPermitted), "recalled");
    // The reply outlives its original, which now reads as unavailable.
    let reply = bob.client.message(to_alice, reply).await.unwrap().expect("the reply");
    assert_eq!(reply.reply_to, typo);
}
per_transport!(a_reply_and_an_edit_reach_both_sides);

/// What an edit may not touch: someone else's message, a message not
/// in the conversation, a photo, a recalled message, text over the limit,
/// a conversation the sender may no longer write to (blocked, muted); and
/// what a reply may not name: a message of another conversation, a
/// recalled one, a system message, one that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_replies_are_refused_outside_their_rules() {
    let server = TestServer::start_with(|c| c.limits.max_content_bytes = 100).await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let (to_bob, to_alice) = (Target::User(bob.user_id), Target::User(alice.user_id));
    let hers = send(&alice.client, to_bob, "alice's").await;
    let his = send(&bob.client, to_alice, "bob's").await;
    let refused = |r: Result<Message, ClientError>| code(r);

    assert_eq!(refused(edit(&alice, to_bob, his, "mine").await), Some(ErrorCode::NotPermitted), "bob's message");
    assert_eq!(refused(edit(&alice, to_bob, 1, "x").await), Some(ErrorCode::NotFound), "no message");
    assert_eq!(refused(edit(&carol, to_alice, hers, "x").await), Some(ErrorCode::NotFound), "another conversation");
    let long = "x".repeat(101);
    let over = edit(&alice, to_bob, hers, &long).await.expect_err("over the limit");
    assert_eq!((over.code(), over.limit()), (Some(ErrorCode::InvalidArgument), Some(100)));
    let file = alice.client.upload(b"jpeg", kith::client::FileShape::attachment("image/jpeg")).await.unwrap();
    let photo = kith::client::attachment(file.media_id, "p.jpg");
    let photo = alice.client.send_media(to_bob, MessageKind::Image, &photo).await.unwrap().message_id;
    assert_eq!(refused(edit(&alice, to_bob, photo, "x").await), Some(ErrorCode::InvalidArgument), "a photo");

    let reply = |to, reply_to| SendRequest { reply_to, ..text_message(to, "re") };
    let carols = send(&carol.client, to_alice, "carol's").await;
    assert_eq!(code(bob.client.call(&reply(to_alice, carols)).await), Some(ErrorCode::NotFound), "not theirs");
    assert_eq!(code(bob.client.call(&reply(to_alice, his + 1_000)).await), Some(ErrorCode::NotFound), "no message");
    let gone = send(&alice.client, to_bob, "oops").await;
    alice.client.call(&RecallRequest { with: to_bob, message_id: gone }).await.unwrap();
    assert_eq!(code(bob.client.call(&reply(to_alice, gone)).await), Some(ErrorCode::NotFound), "recalled");

    // A group: a system message cannot be answered; a muted member edits
    // nothing; a member edits only their own.
    let fields = named_group_fields("g", JoinPolicy::Open, true);
    let group = alice.client.call(&CreateGroupRequest { fields, members: Vec::new() }).await.unwrap().group.group_id;
    bob.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
    let in_group = Target::Group(group);
    let joined = history(&bob.client, in_group, 100).await.into_iter().find(|m| event(m).is_some()).unwrap().id;
    assert_eq!(code(bob.client.call(&reply(in_group, joined)).await), Some(ErrorCode::NotFound), "a system message");
    let bobs = send(&bob.client, in_group, "bob in the group").await;
    assert_eq!(refused(edit(&alice, in_group, bobs, "x").await), Some(ErrorCode::NotPermitted), "the owner");
    alice.client.call(&MuteMemberRequest { group_id: group, user_id: bob.user_id, until: u64::MAX }).await.unwrap();
    assert_eq!(refused(edit(&bob, in_group, bobs, "x").await), Some(ErrorCode::Muted), "muted");
    assert_eq!(refused(edit(&carol, in_group, bobs, "x").await), Some(ErrorCode::NotPermitted), "not a member");

    // Blocked: alice may no longer write to bob, nor change what she wrote.
    bob.client.call(&BlockRequest { user_id: alice.user_id }).await.unwrap();
    assert_eq!(refused(edit(&alice, to_bob, hers, "x").await), Some(ErrorCode::NotPermitted), "blocked");
    let unchanged = bob.client.message(to_alice, hers).await.unwrap().unwrap();
    assert_eq!((unchanged.content.as_slice(), unchanged.edited), (&b"alice's"[..], 0), "nothing changed");
}

/// The window: an edit one second after sending is refused under a
/// one-second window, with the window as the limit; an expired message is
/// neither edited nor answered; with `conversation.edit_seconds` 0,
/// editing is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_end_with_their_window() {
    let server = TestServer::start_with(|c| c.conversation.edit_seconds = 1).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let to_bob = Target::User(bob.user_id);
    let id = send(&alice.client, to_bob, "soon stale").await;
    edit(&alice, to_bob, id, "still fresh").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let late = edit(&alice, to_bob, id, "too late").await.expect_err("past the window");
    assert_eq!((late.code(), late.limit()), (Some(ErrorCode::NotPermitted), Some(1)));
    assert_eq!(bob.client.message(Target::User(alice.user_id), id).await.unwrap().unwrap().content, b"still fresh");

    // Expired: neither edited nor answered.
    let brief = TestServer::start_with(|c| c.conversation.retention_secs = 1).await;
    let alice = brief.user(Kind::Tcp, "alice").await;
    let bob = brief.user(Kind::Tcp, "bob").await;
    let id = send(&alice.client, Target::User(bob.user_id), "fleeting").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(code(edit(&alice, Target::User(bob.user_id), id, "x").await), Some(ErrorCode::NotFound), "expired");
    let reply = bob.client.reply_text(Target::User(alice.user_id), id, "what was it?").await;
    assert_eq!(code(reply), Some(ErrorCode::NotFound), "an expired original");

    let off = TestServer::start_with(|c| c.conversation.edit_seconds = 0).await;
    let alice = off.user(Kind::Tcp, "alice").await;
    let bob = off.user(Kind::Tcp, "bob").await;
    let id = send(&alice.client, Target::User(bob.user_id), "as sent").await;
    assert_eq!(code(edit(&alice, Target::User(bob.user_id), id, "x").await), Some(ErrorCode::NotPermitted));
}

/// A group that hides its history from newcomers: dave, who joined after
/// alice's message, receives bob's reply to it with the id of the original
/// and nothing else, cannot read the original, and cannot answer it
/// himself. An edit reaches the members as a system message, and they read
/// the new text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_reveals_nothing_a_reader_may_not_read() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let mut dave = server.user(Kind::Tcp, "dave").await;
    let fields = named_group_fields("quiet", JoinPolicy::Open, false);
    let create = CreateGroupRequest { fields, members: Vec::new() };
    let group = alice.client.call(&create).await.unwrap().group.group_id;
    let in_group = Target::Group(group);
    bob.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
    let secret = send(&alice.client, in_group, "before dave").await;
    dave.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();

    let reply = bob.client.reply_text(in_group, secret, "agreed").await.unwrap().message_id;
    let got = loop {
        let m = common::next_message(&mut dave.client).await;
        if m.id == reply {
            break m;
        }
    };
    assert_eq!((got.reply_to, got.content.as_slice()), (secret, &b"agreed"[..]));
    assert_eq!(dave.client.message(in_group, secret).await.unwrap(), None, "the original is unavailable to him");
    let own = dave.client.reply_text(in_group, secret, "what was it?").await;
    assert_eq!(code(own), Some(ErrorCode::NotFound));

    let edited = bob.client.edit_text(in_group, reply, "agreed!").await.unwrap();
    let announced = loop {
        let m = common::next_message(&mut dave.client).await;
        if let Some(GroupEvent::MessageEdited { message_id, sender, edited_at }) = event(&m) {
            break (message_id, sender, edited_at);
        }
    };
    assert_eq!(announced, (reply, bob.user_id, edited.edited));
    assert_eq!(dave.client.message(in_group, reply).await.unwrap(), Some(edited));
}

/// Data of layout version 10, whose messages had neither a reply nor an
/// edit mark, opens with every message as it was, answering nothing and
/// never edited — and editable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_version_10_are_migrated() {
    let mut server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let to_bob = Target::User(bob.user_id);
    let said = send(&alice.client, to_bob, "before the upgrade").await;
    let before = history(&alice.client, to_bob, 100).await;
    drop((alice, bob));
    common::layout::restart_from(&mut server, 10).await;
    let (alice, _) = server.device(Kind::Tls, "alice", "alice-tablet", DeviceType::Tablet).await;
    assert_eq!(history(&alice, to_bob, 100).await, before);
    assert!(before.iter().all(|m| m.reply_to == 0 && m.edited == 0));
    assert_eq!(alice.edit_text(to_bob, said, "after the upgrade").await.unwrap().content, b"after the upgrade");
}
