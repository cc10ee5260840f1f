//! Reactions, as people on their phones see them: an emoji put on a
//! message reaches its sender (both sides of a 1:1 conversation) by an
//! update, live and from `Sync`; anyone who may read the message reads its
//! reactions, and nobody else; what a message may not carry is refused;
//! and reactions leave with their message (recall, expiry).

use crate::common;

use std::time::Duration;

use common::process::stats;
use common::talk::{code, event, history, named_group_fields, none_pushed, pushed, send};
use common::{Kind, TestServer, TestUser};
use kith::client::ClientError;
use kith::protocol::{
    BlockRequest, CreateGroupRequest, ErrorCode, JoinGroupRequest, JoinPolicy, MessageReactions, MuteMemberRequest,
    ReactRequest, ReactionChanged, ReactionCount, ReactionsRequest, RecallRequest, Target, UpdateBody, UpdateKind,
};

async fn react(
    user: &TestUser,
    with: Target,
    id: u64,
    emoji: &str,
    add: bool,
) -> Result<MessageReactions, ClientError> {
    user.client.call(&ReactRequest { with, message_id: id, emoji: emoji.into(), add }).await
}

async fn reactions(user: &TestUser, with: Target, id: u64) -> Result<MessageReactions, ClientError> {
    user.client.call(&ReactionsRequest { with, message_id: id }).await
}

fn count(emoji: &str, users: &[u64], mine: bool) -> ReactionCount {
    ReactionCount { emoji: emoji.into(), count: users.len() as u32, users: users.to_vec(), mine }
}

/// Bob puts 👍 then ❤️ on alice's message and takes 👍 back: each answer is
/// the message's reactions as he sees them; alice hears of each change by
/// a `ReactionChanged` update, found by `Sync` under the same id, and reads
/// the same reactions (not hers); adding what is there changes nothing.
async fn a_reaction_reaches_the_sender(kind: Kind) {
    let server = TestServer::start().await;
    let mut alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let (to_bob, to_alice) = (Target::User(bob.user_id), Target::User(alice.user_id));
    let id = send(&alice.client, to_bob, "dinner at 8?").await;

    let answer = react(&bob, to_alice, id, "👍", true).await.unwrap();
    assert_eq!(answer, MessageReactions { message_id: id, reactions: vec![count("👍", &[bob.user_id], true)] });
    let (live, body) = pushed(&mut alice.client, UpdateKind::ReactionChanged).await;
    let change = ReactionChanged {
        message_id: id,
        sender: alice.user_id,
        to: to_bob,
        user_id: bob.user_id,
        emoji: "👍".into(),
        added: true,
    };
    assert_eq!(body, UpdateBody::ReactionChanged(change.clone()));
    assert!(alice.client.sync_all(0).await.unwrap().contains(&live), "Sync gives the update pushed");

    react(&bob, to_alice, id, "❤️", true).await.unwrap();
    let (_, body) = pushed(&mut alice.client, UpdateKind::ReactionChanged).await;
    assert!(matches!(body, UpdateBody::ReactionChanged(c) if c.emoji == "❤️" && c.added));
    let seen = reactions(&alice, to_bob, id).await.unwrap();
    assert_eq!(seen.reactions, [count("❤️", &[bob.user_id], false), count("👍", &[bob.user_id], false)]);

    let answer = react(&bob, to_alice, id, "👍", false).await.unwrap();
    assert_eq!(answer.reactions, [count("❤️", &[bob.user_id], true)]);
    let (_, body) = pushed(&mut alice.client, UpdateKind::ReactionChanged).await;
    assert_eq!(body, UpdateBody::ReactionChanged(ReactionChanged { added: false, ..change }));
    // Adding what is there, removing what is not: the same answer, nobody told.
    assert_eq!(react(&bob, to_alice, id, "❤️", true).await.unwrap(), answer);
    assert_eq!(react(&bob, to_alice, id, "👍", false).await.unwrap(), answer);
    none_pushed(&server, "alice", &mut alice.client, UpdateKind::ReactionChanged).await;
}
per_transport!(a_reaction_reaches_the_sender);

/// In a group the sender hears of a reaction and the other members do not
/// (they read them when they show the message); a newcomer who may not see
/// the message may not read its reactions, nor react; a stranger neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_group_the_sender_hears_and_readers_read() {
    let server = TestServer::start().await;
    let mut alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let mut carol = server.user(Kind::Tcp, "carol").await;
    let dave = server.user(Kind::Tcp, "dave").await;
    let stranger = server.user(Kind::Tcp, "erin").await;
    let fields = named_group_fields("quiet", JoinPolicy::Open, false);
    let group = alice.client.call(&CreateGroupRequest { fields, members: Vec::new() }).await.unwrap().group.group_id;
    for member in [&bob, &carol] {
        member.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
    }
    let in_group = Target::Group(group);
    let id = send(&alice.client, in_group, "who is in for sunday?").await;
    dave.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();

    react(&bob, in_group, id, "🙋", true).await.unwrap();
    let (_, body) = pushed(&mut alice.client, UpdateKind::ReactionChanged).await;
    assert!(matches!(body, UpdateBody::ReactionChanged(c) if c.user_id == bob.user_id && c.to == in_group));
    none_pushed(&server, "carol", &mut carol.client, UpdateKind::ReactionChanged).await;
    let seen = reactions(&carol, in_group, id).await.unwrap();
    assert_eq!(seen.reactions, [count("🙋", &[bob.user_id], false)]);

    assert_eq!(code(reactions(&dave, in_group, id).await), Some(ErrorCode::NotFound), "before his window");
    assert_eq!(code(react(&dave, in_group, id, "🙋", true).await), Some(ErrorCode::NotFound), "before his window");
    assert_eq!(code(reactions(&stranger, in_group, id).await), Some(ErrorCode::NotPermitted), "a stranger");
    assert_eq!(code(react(&stranger, in_group, id, "🙋", true).await), Some(ErrorCode::NotPermitted), "a stranger");
}

/// What a reaction may not be or go on: no emoji, words, a long sequence;
/// past `conversation.reactions_per_user`; a message that does not exist,
/// a system message, a recalled one; across a block; muted in a group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_are_refused_where_a_message_would_be() {
    let server = TestServer::start_with(|c| c.conversation.reactions_per_user = 2).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let (to_bob, to_alice) = (Target::User(bob.user_id), Target::User(alice.user_id));
    let id = send(&alice.client, to_bob, "hi").await;
    for bad in ["", "thumbs up", "👍👍👍👍👍👍👍👍👍", "\u{7}"] {
        let refused = react(&bob, to_alice, id, bad, true).await.expect_err(bad);
        assert_eq!((refused.code(), refused.limit()), (Some(ErrorCode::InvalidArgument), Some(8)), "{bad:?}");
    }
    react(&bob, to_alice, id, "👍", true).await.unwrap();
    react(&bob, to_alice, id, "🎉", true).await.unwrap();
    let over = react(&bob, to_alice, id, "❤️", true).await.expect_err("a third");
    assert_eq!((over.code(), over.limit()), (Some(ErrorCode::NotPermitted), Some(2)));
    assert_eq!(code(react(&bob, to_alice, 1, "👍", true).await), Some(ErrorCode::NotFound), "no message");
    assert_eq!(code(reactions(&bob, to_alice, 1).await), Some(ErrorCode::NotFound), "no message");

    let group = common::talk::open_group(&alice, &[&bob]).await;
    let in_group = Target::Group(group);
    let joined = history(&bob.client, in_group, 100).await.into_iter().find(|m| event(m).is_some()).unwrap().id;
    assert_eq!(code(react(&bob, in_group, joined, "👍", true).await), Some(ErrorCode::NotFound), "a system message");
    let said = send(&alice.client, in_group, "hello group").await;
    alice.client.call(&MuteMemberRequest { group_id: group, user_id: bob.user_id, until: u64::MAX }).await.unwrap();
    assert_eq!(code(react(&bob, in_group, said, "👍", true).await), Some(ErrorCode::Muted), "muted");

    // Recalled: the reactions on it are gone, and it takes no more.
    alice.client.call(&RecallRequest { with: to_bob, message_id: id }).await.unwrap();
    assert_eq!(reactions(&bob, to_alice, id).await.unwrap().reactions, []);
    assert_eq!(code(react(&bob, to_alice, id, "👍", true).await), Some(ErrorCode::NotFound), "recalled");
    // Blocked: no reaction across it.
    let next = send(&alice.client, to_bob, "still there?").await;
    alice.client.call(&BlockRequest { user_id: bob.user_id }).await.unwrap();
    assert_eq!(code(react(&bob, to_alice, next, "👍", true).await), Some(ErrorCode::NotPermitted), "blocked");
}

/// Reactions leave with their message: purged once expired (the newest
/// message too, which stays as a tombstone), a message with more reaction
/// records than one purge job may delete (`conversation.purge_batch` 2)
/// taking several — `kith stats` counts them down to none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_leave_with_their_message() {
    let server = TestServer::start_with(|c| {
        c.conversation.retention_secs = 1;
        c.conversation.purge_interval_secs = 1;
        c.conversation.purge_batch = 2;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let group = common::talk::open_group(&alice, &[&bob, &carol]).await;
    let in_group = Target::Group(group);
    let first = send(&alice.client, in_group, "one").await;
    let second = send(&alice.client, in_group, "two").await;
    for user in [&alice, &bob, &carol] {
        react(user, in_group, first, "👍", true).await.unwrap();
    }
    react(&bob, in_group, second, "👍", true).await.unwrap();
    react(&bob, in_group, second, "🎉", true).await.unwrap();
    let counted = || stats(&server.data_dir())["reactions"].as_u64().unwrap();
    assert_eq!(counted(), 5);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while counted() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the purge left {} reactions", counted());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
