//! The per-user update log: pushes of every kind reach a device in commit
//! order, a live push and a later `Sync` carry the same update under the
//! same id, and an offline device catches up on messages and notices alike
//! with one cursor, page by page, with no gap and no duplicate.

use crate::common;

use std::collections::BTreeSet;

use common::{Calls, Kind, TestServer, SOON};
use kith::protocol::{DeviceType, UpdateBody, UpdateKind};

/// Device types other than the observing phone, for logins that make notices.
const OTHERS: [DeviceType; 3] = [DeviceType::Desktop, DeviceType::Web, DeviceType::Tablet];

async fn pushes_of_every_kind_arrive_in_commit_order(kind: Kind) {
    let server = TestServer::start().await;
    let mut alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let alice_id = alice.user_id;

    // Bob's messages and alice's logins elsewhere commit interleaved.
    let sending = async {
        let mut ids = Vec::new();
        for i in 0..60 {
            ids.push(bob.client.send_text(alice_id, &format!("m{i}")).await.unwrap().message_id);
        }
        ids
    };
    let logging_in = async {
        for i in 0..6 {
            let device = format!("alice-other-{i}");
            let _ = server.device(kind, "alice", &device, OTHERS[i % OTHERS.len()]).await;
        }
    };
    let (sent, ()) = tokio::join!(sending, logging_in);

    let mut pushed = Vec::new();
    while pushed.iter().filter(|(k, _)| *k == UpdateKind::Message as u8).count() < sent.len()
        || pushed.iter().filter(|(k, _)| *k == UpdateKind::NewLogin as u8).count() < 6
    {
        let update = alice.client.update_within(SOON).await.expect("every update is pushed");
        pushed.push((update.kind, update.id));
    }
    let ids: Vec<u64> = pushed.iter().map(|(_, id)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "pushes arrive in commit (id) order: {ids:?}");
    let messages: Vec<u64> =
        pushed.iter().filter(|(k, _)| *k == UpdateKind::Message as u8).map(|(_, id)| *id).collect();
    assert_eq!(messages, sent, "every message pushed once, under its message id");

    // The log holds the same updates under the same ids.
    let synced: Vec<(u8, u64)> =
        alice.client.sync_all(alice.login.session.latest).await.unwrap().iter().map(|u| (u.kind, u.id)).collect();
    assert_eq!(synced, pushed, "a live push and a sync carry the same update, same id");
}
per_transport!(pushes_of_every_kind_arrive_in_commit_order);

async fn an_offline_device_catches_up_on_everything_with_one_cursor(kind: Kind) {
    let server = TestServer::start().await;
    let phone = server.user(kind, "alice").await;
    let token = phone.login.token.clone();
    let alice_id = phone.user_id;
    drop(phone);
    let bob = server.user(kind, "bob").await;

    // While the phone is away: 150 messages, with three logins elsewhere
    // among them, and one at the very end.
    let mut sent = Vec::new();
    for i in 0..150 {
        if i % 50 == 25 {
            let _ = server.device(kind, "alice", &format!("laptop-{i}"), DeviceType::Desktop).await;
        }
        sent.push(bob.client.send_text(alice_id, &format!("while away {i}")).await.unwrap().message_id);
    }
    let _ = server.device(kind, "alice", "web-last", DeviceType::Web).await;

    let phone = server.connect(kind).await;
    let state = phone.auth(&token).await.unwrap();
    assert_eq!(state.cursor, 0);

    // Page through with a small page size.
    let mut after = state.cursor;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = phone.sync_page(after, 40).await.unwrap();
        pages += 1;
        assert!(page.updates.len() <= 40);
        if let Some(last) = page.updates.last() {
            after = last.id;
        }
        seen.extend(page.updates);
        if !page.more {
            break;
        }
    }
    assert!(pages >= 4, "the backlog spans several pages ({pages})");
    let ids: Vec<u64> = seen.iter().map(|u| u.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "no duplicate, in order");
    assert_eq!(*ids.last().unwrap(), state.latest, "up to the newest update");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len());

    let messages: Vec<u64> = seen
        .iter()
        .filter_map(|u| match u.decode().unwrap() {
            Some(UpdateBody::Message(m)) => Some(m.id),
            _ => None,
        })
        .collect();
    assert_eq!(messages, sent, "every message, no gap");
    let logins: Vec<(u64, String)> = seen
        .iter()
        .filter_map(|u| match u.decode().unwrap() {
            Some(UpdateBody::NewLogin(n)) => Some((u.id, n.device_id)),
            _ => None,
        })
        .collect();
    let devices: Vec<&str> = logins.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(devices, ["alice-phone", "laptop-25", "laptop-75", "laptop-125", "web-last"]);
    // The notices sit between the messages, where they happened.
    assert!(logins[1].0 > sent[24] && logins[1].0 < sent[25]);
    assert!(logins[4].0 > sent[149]);

    // The same log read with another page size is the same list.
    let whole: Vec<u64> = phone.sync_all(0).await.unwrap().iter().map(|u| u.id).collect();
    assert_eq!(whole, ids);

    // Acknowledging moves the one cursor; a later connection starts there.
    assert_eq!(phone.ack(state.latest).await.unwrap(), state.latest);
    let again = server.connect(kind).await;
    let state = again.auth(&token).await.unwrap();
    assert_eq!(state.cursor, state.latest);
    assert!(again.sync_page(state.cursor, 100).await.unwrap().updates.is_empty());
    // From the very end of the id space: an empty page, not an error.
    let end = again.sync_page(u64::MAX, 100).await.unwrap();
    assert!(end.updates.is_empty() && !end.more);
    // A password login's notice reaches the phone live, with its log id.
    let mut again = again;
    let (_other, login) = server.device(kind, "alice", "tablet", DeviceType::Tablet).await;
    let pushed = again.update_within(SOON).await.unwrap();
    assert_eq!(pushed.kind, UpdateKind::NewLogin as u8);
    assert_eq!(pushed.id, login.session.latest);
}
per_transport!(an_offline_device_catches_up_on_everything_with_one_cursor);

/// Every update kind, made to happen once for alice while her laptop
/// watches: each push the laptop gets is found by `Sync` under the same id
/// with the same body, but the feed's badge, which is never logged. The laptop must see every kind of the table, so a
/// kind added to the protocol without a way into this test fails it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_pushed_is_found_by_sync_under_the_same_id() {
    use common::talk::{group_fields, mark, send};
    use kith::protocol::{
        AddFriendRequest, AnswerFriendRequest, Audience, BlockRequest, ConversationStateRequest, CreateGroupRequest,
        DeleteForMeRequest, Discoverable, FieldVisibility, InviteToGroupRequest, JoinGroupRequest, JoinPolicy,
        PrivacyRequest, Profile, ProfileVisibilityRequest, ReactRequest, ReadReceiptsRequest, RecallRequest,
        RemoveFriendRequest, RetentionRequest, SetProfileRequest, SetRemarkRequest, Target,
    };
    use kith::protocol::{
        CommentMomentRequest, LikeMomentRequest, MomentAudience, MomentMedia, MomentVisibility, PublishMomentRequest,
    };
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let (mut laptop, login) = server.device(Kind::Quic, "alice", "alice-laptop", DeviceType::Desktop).await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let (a, b) = (alice.user_id, bob.user_id);
    let with_bob = Target::User(b);

    let to_alice = send(&bob.client, Target::User(a), "1: a message").await; // Message
    server.device(Kind::Tls, "alice", "alice-web", DeviceType::Web).await; // NewLogin
    let asked = bob.client.call(&AddFriendRequest { user_id: a, message: String::new() }).await.unwrap(); // FriendRequest
    alice.client.call(&AnswerFriendRequest { request_id: asked.id, accept: true }).await.unwrap(); // FriendAnswered
    alice.client.call(&SetRemarkRequest { user_id: b, remark: "Bobby".into() }).await.unwrap(); // RemarkChanged
    bob.client.call(&RemoveFriendRequest { user_id: a }).await.unwrap(); // FriendRemoved
    alice.client.call(&BlockRequest { user_id: carol.user_id }).await.unwrap(); // BlockChanged
    let approval = CreateGroupRequest { fields: group_fields(JoinPolicy::Approval), members: vec![] };
    let group = alice.client.call(&approval).await.unwrap().group.group_id;
    bob.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap(); // GroupJoinRequest
    let invite_only = CreateGroupRequest { fields: group_fields(JoinPolicy::InviteOnly), members: vec![] };
    let theirs = bob.client.call(&invite_only).await.unwrap().group.group_id;
    bob.client.call(&InviteToGroupRequest { group_id: theirs, user_id: a }).await.unwrap(); // GroupInvitation
    mark(&alice.client, with_bob, to_alice).await.unwrap(); // ReadPosition
    let from_alice = send(&alice.client, with_bob, "10: read me").await;
    mark(&bob.client, Target::User(a), from_alice).await.unwrap(); // ReadReceipt
    alice.client.edit_text(with_bob, from_alice, "10: read me, edited").await.unwrap(); // MessageEdited
    let taken = send(&bob.client, Target::User(a), "11: taken back").await;
    bob.client.call(&RecallRequest { with: Target::User(a), message_id: taken }).await.unwrap(); // MessageRecalled
    let hide = DeleteForMeRequest { with: with_bob, message_ids: vec![to_alice], clear_up_to: 0 };
    alice.client.call(&hide).await.unwrap(); // DeletedForMe
    bob.client.ack(from_alice).await.unwrap(); // Delivered
    let retention = RetentionRequest { with: Target::User(a), set: Some(86_400) };
    bob.client.call(&retention).await.unwrap(); // RetentionChanged
    alice.client.call(&ReadReceiptsRequest { set: Some(false) }).await.unwrap(); // ReadReceiptsChanged
    let profile = Profile { nickname: "Alice".into(), ..Profile::default() };
    alice.client.call(&SetProfileRequest { profile }).await.unwrap(); // ProfileChanged
    let hidden =
        PrivacyRequest { discoverable: Some(Discoverable::ExactUsername), friend_policy: None, presence: None };
    alice.client.call(&hidden).await.unwrap(); // PrivacyChanged
    let fields =
        FieldVisibility { birth_date: Audience::Nobody, city: Audience::Friends, province: Audience::Everyone };
    alice.client.call(&ProfileVisibilityRequest { set: Some(fields) }).await.unwrap(); // ProfileVisibilityChanged
    let pin = ConversationStateRequest { with: with_bob, pinned: Some(true), draft: None, muted: None };
    alice.client.call(&pin).await.unwrap(); // ConversationStateChanged
    let react = ReactRequest { with: Target::User(a), message_id: from_alice, emoji: "👍".into(), add: true };
    bob.client.call(&react).await.unwrap(); // ReactionChanged
    let react = ReactRequest { with: Target::User(a), message_id: from_alice, emoji: "👍".into(), add: true };
    bob.client.call(&react).await.unwrap(); // ReactionChanged
    let public = MomentVisibility { audience: MomentAudience::Public, users: vec![] };
    let publish = PublishMomentRequest {
        client_id: [7; 16],
        text: "the lake".into(),
        media: MomentMedia::None,
        location: None,
        visibility: public,
    };
    let moment = alice.client.call(&publish).await.unwrap().moment_id; // MomentPosted, to her laptop
    bob.client.call(&LikeMomentRequest { moment_id: moment, like: true }).await.unwrap(); // MomentLiked
    let comment = CommentMomentRequest { moment_id: moment, text: "nice".into(), reply_to: None };
    bob.client.call(&comment).await.unwrap(); // MomentCommented

    let mut pushed = Vec::new();
    while pushed.iter().map(|u: &kith::protocol::Update| u.kind).collect::<BTreeSet<_>>().len() < UpdateKind::ALL.len()
    {
        match laptop.update_within(SOON).await {
            Ok(update) => pushed.push(update),
            Err(_) => break,
        }
    }
    let kinds: BTreeSet<u8> = pushed.iter().map(|u| u.kind).collect();
    for kind in UpdateKind::ALL {
        assert!(kinds.contains(&(*kind as u8)), "the laptop got no {} update: add it to this test", kind.name());
    }
    let synced = laptop.sync_all(login.session.cursor).await.unwrap();
    for update in &pushed {
        let found = synced.iter().find(|u| u.id == update.id);
        // The feed's badge is pushed live only (section 8.2, kind 25).
        if update.kind == UpdateKind::MomentPosted as u8 {
            assert!(found.is_none(), "MomentPosted is in no log");
            continue;
        }
        // A message alice hid since is left out of Sync (section 5, DeleteForMe).
        if update.id == to_alice {
            assert!(found.is_none(), "the message she hid came back by Sync");
            continue;
        }
        let found = found.unwrap_or_else(|| panic!("pushed {:?} is not in Sync", update.decode()));
        if update.kind == UpdateKind::Message as u8 && update.id == taken {
            // Pushed with its content, synced as the tombstone it is now.
            continue;
        }
        if update.kind == UpdateKind::Message as u8 && update.id == from_alice {
            // Pushed as sent, synced as it reads now: edited.
            let Some(UpdateBody::Message(now)) = found.decode().unwrap() else { panic!("{found:?}") };
            assert_eq!((now.content.as_slice(), now.edited > 0), (&b"10: read me, edited"[..], true));
            continue;
        }
        assert_eq!(found, update, "Sync carries what was pushed, under the same id");
    }
}
