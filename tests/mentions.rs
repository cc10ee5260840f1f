//! @mentions in groups, as members on their phones see them: a mentioned
//! member gets the message in their update log — live and by `Sync` —
//! even in a group too large to log every message, even one they muted,
//! and their list shows "mentioned you" until they read it; @all is the
//! owner's and admins'; what a mention may not name is refused.

use crate::common;

use common::talk::{code, entry, everything, mark, open_group, send, text_message};
use common::{Kind, TestServer, TestUser};
use kith::client::ClientError;
use kith::protocol::{
    ConversationStateRequest, ErrorCode, RecallRequest, SendReply, SendRequest, SetAdminRequest, Target, UpdateBody,
};

async fn mention(user: &TestUser, to: Target, text: &str, mentions: &[u64]) -> Result<SendReply, ClientError> {
    user.client.call(&SendRequest { mentions: mentions.to_vec(), ..text_message(to, text) }).await
}

/// The message ids of a user's update log.
async fn logged(user: &TestUser) -> Vec<u64> {
    user.client.sync_all(0).await.unwrap().iter().map(|u| u.id).collect()
}

/// A group above the write diffusion threshold (2): a plain message is in
/// no member's log, a mention of bob is in his (live, and by `Sync`, the
/// same id) and only his, though he muted the group; his list shows it as
/// `mentioned` until he reads it.
async fn a_mention_reaches_a_member_of_a_large_muted_group(kind: Kind) {
    let server = TestServer::start_with(|c| c.group.write_diffusion_max = 2).await;
    let alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    let carol = server.user(kind, "carol").await;
    let dave = server.user(kind, "dave").await;
    let group = open_group(&alice, &[&bob, &carol, &dave]).await;
    let in_group = Target::Group(group);
    let muted = ConversationStateRequest { with: in_group, pinned: None, draft: None, muted: Some(true) };
    assert!(bob.client.call(&muted).await.unwrap().muted);

    let plain = send(&alice.client, in_group, "lunch?").await;
    let called = mention(&alice, in_group, "@bob your turn", &[bob.user_id]).await.unwrap().message_id;
    let got = loop {
        let m = common::next_message(&mut bob.client).await;
        if m.id == called {
            break m;
        }
    };
    assert_eq!(got.mentions, [bob.user_id]);
    let his = logged(&bob).await;
    assert!(his.contains(&called) && !his.contains(&plain), "only the mention is in his log: {his:?}");
    assert!(!logged(&carol).await.contains(&called), "carol was not mentioned");

    let (list, _) = everything(&bob.client, 100).await;
    assert_eq!(entry(&list, in_group).mentioned, called, "mentioned you");
    let (list, _) = everything(&carol.client, 100).await;
    assert_eq!(entry(&list, in_group).mentioned, 0);
    mark(&bob.client, in_group, called).await.unwrap();
    let (list, _) = everything(&bob.client, 100).await;
    assert_eq!(entry(&list, in_group).mentioned, 0, "read: no longer shown");
}
per_transport!(a_mention_reaches_a_member_of_a_large_muted_group);

/// @all (0): refused from an ordinary member, said by an admin it reaches
/// every member's log and list but the sender's; a recalled mention is no
/// longer shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_is_mentioned_by_the_owner_and_admins_only() {
    let server = TestServer::start_with(|c| c.group.write_diffusion_max = 2).await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let dave = server.user(Kind::Tcp, "dave").await;
    let group = open_group(&alice, &[&bob, &carol, &dave]).await;
    let in_group = Target::Group(group);
    assert_eq!(code(mention(&carol, in_group, "@all", &[0]).await), Some(ErrorCode::NotPermitted), "a member");
    alice.client.call(&SetAdminRequest { group_id: group, user_id: bob.user_id, admin: true }).await.unwrap();
    let all = mention(&bob, in_group, "@all meeting at 5", &[0]).await.unwrap().message_id;
    for member in [&alice, &carol, &dave] {
        assert!(logged(member).await.contains(&all), "everyone is told");
        let (list, _) = everything(&member.client, 100).await;
        assert_eq!(entry(&list, in_group).mentioned, all);
    }
    let (list, _) = everything(&bob.client, 100).await;
    assert_eq!(entry(&list, in_group).mentioned, 0, "not the sender");
    let synced = carol.client.sync_all(0).await.unwrap();
    let update = synced.iter().find(|u| u.id == all).unwrap().decode().unwrap();
    assert!(matches!(update, Some(UpdateBody::Message(m)) if m.mentions == [0]));

    bob.client.call(&RecallRequest { with: in_group, message_id: all }).await.unwrap();
    let (list, _) = everything(&carol.client, 100).await;
    assert_eq!(entry(&list, in_group).mentioned, 0, "recalled");
}

/// A mention of someone not in the group, any mention to a user, more
/// than `conversation.mentions_max`: `InvalidArgument`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_name_members_only() {
    let server = TestServer::start_with(|c| c.conversation.mentions_max = 2).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let stranger = server.user(Kind::Tcp, "erin").await;
    let in_group = Target::Group(open_group(&alice, &[&bob, &carol]).await);
    let outside = mention(&alice, in_group, "@erin", &[stranger.user_id]).await;
    assert_eq!(code(outside), Some(ErrorCode::InvalidArgument), "not a member");
    let direct = mention(&alice, Target::User(bob.user_id), "@bob", &[bob.user_id]).await;
    assert_eq!(code(direct), Some(ErrorCode::InvalidArgument), "to a user");
    let many = mention(&alice, in_group, "@all of you", &[bob.user_id, carol.user_id, 0]).await.expect_err("three");
    assert_eq!((many.code(), many.limit()), (Some(ErrorCode::InvalidArgument), Some(2)));
    mention(&alice, in_group, "@bob @carol", &[bob.user_id, carol.user_id]).await.unwrap();
}

/// @all is counted per group, whoever says it: past
/// `conversation.everyone_mentions_per_hour` it is `RateLimited` (reason
/// `Quota`, with the limit and the wait), in that group only; mentions by
/// name and plain messages go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_of_everyone_are_counted_per_group() {
    let server = TestServer::start_with(|c| c.conversation.everyone_mentions_per_hour = 2).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let group = open_group(&alice, &[&bob, &carol]).await;
    let other = open_group(&alice, &[&bob]).await;
    alice.client.call(&SetAdminRequest { group_id: group, user_id: bob.user_id, admin: true }).await.unwrap();
    let in_group = Target::Group(group);
    mention(&alice, in_group, "@all one", &[0]).await.unwrap();
    mention(&bob, in_group, "@all two", &[0]).await.unwrap();
    let refused = mention(&alice, in_group, "@all three", &[0]).await.expect_err("past the quota");
    assert_eq!((refused.code(), refused.limit()), (Some(ErrorCode::RateLimited), Some(2)));
    assert_eq!(refused.rate_limit_reason(), Some(kith::protocol::RateLimitReason::Quota));
    assert!(refused.retry_after().is_some_and(|wait| wait.as_secs() > 3500), "{refused:?}");
    mention(&alice, in_group, "@carol", &[carol.user_id]).await.unwrap();
    send(&alice.client, in_group, "plain").await;
    mention(&alice, Target::Group(other), "@all elsewhere", &[0]).await.unwrap();
}
