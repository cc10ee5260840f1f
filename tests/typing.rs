//! "Typing…": pushed to the online devices of whoever would receive a
//! message from the typist there — never stored, never in `Sync`, never to
//! someone offline, across a block or outside the conversation — and
//! refused as `Send` would be refused, or past the per-minute limit.

use crate::common;

use std::time::Duration;

use common::talk::{code, open_group};
use common::{Kind, TestServer, TestUser};
use kith::client::Client;
use kith::protocol::{
    BlockRequest, DeviceType, ErrorCode, LeaveGroupRequest, MuteGroupRequest, Push, RateLimitReason, Target,
    TypingPush, TypingRequest,
};

/// How long a test waits to be sure no push came.
const QUIET: Duration = Duration::from_millis(300);

async fn typing(user: &TestUser, with: Target, typing: bool) -> Result<(), kith::client::ClientError> {
    user.client.call(&TypingRequest { with, typing }).await
}

/// The next push, which must be a typing signal.
async fn signal(client: &mut Client) -> TypingPush {
    match client.push_within(Duration::from_secs(5)).await.expect("a push") {
        Push::Typing(push) => push,
        other => panic!("expected a typing push, got {other:?}"),
    }
}

/// No push of any kind within [`QUIET`].
async fn nothing(client: &mut Client, who: &str) {
    if let Ok(push) = client.push_within(QUIET).await {
        panic!("{who} got {push:?}");
    }
}

/// A 1:1 conversation: the peer's online devices see it start and stop; it
/// is in no update log, and the typist's own other devices hear nothing.
async fn a_peer_sees_typing_start_and_stop(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    let (mut bob_tablet, _) = server.device(kind, "bob", "bob-tablet", DeviceType::Tablet).await;
    let (mut alice_tablet, _) = server.device(kind, "alice", "alice-tablet", DeviceType::Tablet).await;
    // Drain the login notices the second devices caused.
    let _ = bob.client.sync_all(0).await.unwrap();
    while bob.client.push_within(QUIET).await.is_ok() {}
    while alice_tablet.push_within(QUIET).await.is_ok() {}

    typing(&alice, Target::User(bob.user_id), true).await.unwrap();
    for device in [&mut bob.client, &mut bob_tablet] {
        let push = signal(device).await;
        assert_eq!(
            push,
            TypingPush { user_id: alice.user_id, with: Target::User(alice.user_id), typing: true, for_ms: 6000 }
        );
    }
    typing(&alice, Target::User(bob.user_id), false).await.unwrap();
    assert!(!signal(&mut bob.client).await.typing, "stopped");
    nothing(&mut alice_tablet, "the typist's own tablet").await;

    let before = bob.client.sync_all(0).await.unwrap();
    typing(&alice, Target::User(bob.user_id), true).await.unwrap();
    let after = bob.client.sync_all(0).await.unwrap();
    assert_eq!(before, after, "typing is no update: Sync shows nothing of it");
    // Notes to oneself: nobody to tell, and no refusal.
    typing(&alice, Target::User(alice.user_id), true).await.unwrap();
    nothing(&mut alice_tablet, "alice's tablet, for her notes").await;

    // Across a block, as for a message: refused, and nothing shown.
    while bob_tablet.push_within(QUIET).await.is_ok() {}
    bob.client.call(&BlockRequest { user_id: alice.user_id }).await.unwrap();
    let refused = typing(&alice, Target::User(bob.user_id), true).await;
    assert_eq!(code(refused), Some(ErrorCode::NotPermitted), "blocked");
    // The tablet hears of the block itself (an update), and of nothing else.
    while let Ok(push) = bob_tablet.push_within(QUIET).await {
        assert!(matches!(push, Push::Update(_)), "bob's tablet, once he blocked alice: {push:?}");
    }
}
per_transport!(a_peer_sees_typing_start_and_stop);

/// The refusals are `Send`'s, and nothing reaches anyone: a blocked pair,
/// a stranger under friends-only messages, a user who does not exist, a
/// group the typist is not in or may not speak in; and past
/// `conversation.typing_per_minute`, `RateLimited`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_refused_where_a_message_would_be() {
    let server = TestServer::start_with(|c| {
        c.conversation.typing_per_minute = 12;
        c.social.direct_messages = kith::config::DirectMessages::Friends;
    })
    .await;
    let alice = server.user(Kind::Tls, "alice").await;
    let mut bob = server.user(Kind::Quic, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;

    // Friends-only messages, the default: alice and bob are strangers.
    let refused = typing(&alice, Target::User(bob.user_id), true).await;
    assert_eq!(code(refused), Some(ErrorCode::NotPermitted), "a stranger");
    assert_eq!(code(typing(&alice, Target::User(999_999), true).await), Some(ErrorCode::NotFound));
    nothing(&mut bob.client, "bob, from a stranger").await;

    let group = open_group(&carol, &[&bob]).await;
    assert_eq!(code(typing(&alice, Target::Group(group), true).await), Some(ErrorCode::NotPermitted), "not a member");
    assert_eq!(code(typing(&alice, Target::Group(group + 1), true).await), Some(ErrorCode::NotFound), "no group");
    carol.client.call(&MuteGroupRequest { group_id: group, muted: true }).await.unwrap();
    while bob.client.push_within(QUIET).await.is_ok() {}
    assert_eq!(code(typing(&bob, Target::Group(group), true).await), Some(ErrorCode::Muted), "a muted group");

    // The limit counts every signal of the user over all conversations.
    for _ in 0..12 {
        typing(&carol, Target::Group(group), true).await.unwrap();
    }
    let refused = typing(&carol, Target::Group(group), false).await.expect_err("the 13th in a minute");
    assert_eq!(refused.code(), Some(ErrorCode::RateLimited));
    assert_eq!(refused.rate_limit_reason(), Some(RateLimitReason::Quota));
    assert!(refused.retry_after().is_some(), "{refused}");
}

/// A group: its other members' online devices see who types, with the
/// group as the conversation; not a member who blocked the typist, not one
/// who left, not the typist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_groups_members_see_who_types() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let mut bob = server.user(Kind::Quic, "bob").await;
    let mut carol = server.user(Kind::Tcp, "carol").await;
    let mut dave = server.user(Kind::Tls, "dave").await;
    let group = open_group(&alice, &[&bob, &carol, &dave]).await;
    carol.client.call(&BlockRequest { user_id: alice.user_id }).await.unwrap();
    dave.client.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
    for user in [&mut bob, &mut carol, &mut dave] {
        while user.client.push_within(QUIET).await.is_ok() {}
    }

    typing(&alice, Target::Group(group), true).await.unwrap();
    let push = signal(&mut bob.client).await;
    assert_eq!((push.user_id, push.with, push.typing), (alice.user_id, Target::Group(group), true));
    nothing(&mut carol.client, "carol, who blocked alice").await;
    nothing(&mut dave.client, "dave, who left").await;
}
