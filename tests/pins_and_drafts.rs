//! Pinned conversations and drafts, the same on all of a user's devices:
//! set on the phone, the tablet hears of it by an update (live, and the
//! same from `Sync`) and finds it in `ConversationStates`; and the limits
//! and refusals.

use crate::common;

use common::talk::{code, open_group, pushed};
use common::{Kind, TestServer};
use kith::protocol::{
    ConversationState, ConversationStateRequest, ConversationStates, ConversationStatesRequest, DeviceType, ErrorCode,
    Target, UpdateBody, UpdateKind,
};

fn set(with: Target, pinned: Option<bool>, draft: Option<&str>) -> ConversationStateRequest {
    ConversationStateRequest { with, pinned, draft: draft.map(str::to_string), muted: None }
}

async fn states(client: &kith::client::Client) -> Vec<ConversationState> {
    let ConversationStates { mut states } = client.call(&ConversationStatesRequest).await.unwrap();
    states.sort_by_key(|s| s.changed_at);
    states
}

/// Alice pins her conversation with bob and leaves a draft in a group on
/// her phone; her tablet hears of each by a `ConversationStateChanged`
/// update, finds both in `ConversationStates`, and `Sync` gives the same
/// updates. Unpinned and emptied, the state is gone; setting what already
/// is tells nobody.
async fn pins_and_drafts_reach_every_device(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let (mut tablet, login) = server.device(kind, "alice", "alice-tablet", DeviceType::Tablet).await;
    let group = open_group(&bob, &[&alice]).await;
    let (to_bob, in_group) = (Target::User(bob.user_id), Target::Group(group));

    let pinned = alice.client.call(&set(to_bob, Some(true), None)).await.unwrap();
    assert_eq!((pinned.with, pinned.draft.as_str()), (to_bob, ""));
    assert!(pinned.pinned_at > 0 && pinned.changed_at == pinned.pinned_at, "{pinned:?}");
    let (first, body) = pushed(&mut tablet, UpdateKind::ConversationStateChanged).await;
    assert_eq!(body, UpdateBody::ConversationStateChanged(pinned.clone()));
    let drafted = alice.client.call(&set(in_group, None, Some("see you th"))).await.unwrap();
    assert_eq!((drafted.pinned_at, drafted.draft.as_str()), (0, "see you th"));
    let (second, body) = pushed(&mut tablet, UpdateKind::ConversationStateChanged).await;
    assert_eq!(body, UpdateBody::ConversationStateChanged(drafted.clone()));
    assert_eq!(states(&tablet).await, [pinned.clone(), drafted.clone()]);
    let synced = tablet.sync_all(login.session.cursor).await.unwrap();
    assert!(synced.contains(&first) && synced.contains(&second), "Sync gives the updates pushed");
    // Asking, or setting what already is: the same answer, nobody told.
    assert_eq!(alice.client.call(&set(to_bob, None, None)).await.unwrap(), pinned);
    assert_eq!(alice.client.call(&set(to_bob, Some(true), Some(""))).await.unwrap(), pinned);
    let unpinned = alice.client.call(&set(to_bob, Some(false), None)).await.unwrap();
    assert_eq!((unpinned.pinned_at, unpinned.draft.as_str()), (0, ""));
    let (_, body) = pushed(&mut tablet, UpdateKind::ConversationStateChanged).await;
    assert_eq!(body, UpdateBody::ConversationStateChanged(unpinned), "the first update after the pin");
    let sent = alice.client.call(&set(in_group, None, Some(""))).await.unwrap();
    assert_eq!(sent.draft, "");
    assert!(states(&alice.client).await.is_empty(), "nothing pinned, no draft: no state");
    // A draft to someone never written to is kept too.
    let carol = server.user(kind, "carol").await;
    let fresh = alice.client.call(&set(Target::User(carol.user_id), None, Some("hello carol"))).await.unwrap();
    assert_eq!(states(&alice.client).await, [fresh]);
}
per_transport!(pins_and_drafts_reach_every_device);

/// A pin past `conversation.pinned_max`, a draft past `drafts_max` or
/// `draft_max_chars` are refused with the limit; so is the state of a
/// conversation with nobody (an unknown user) or of a group one is not in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_and_drafts_stay_within_their_limits() {
    let server = TestServer::start_with(|c| {
        c.conversation.pinned_max = 2;
        c.conversation.drafts_max = 1;
        c.conversation.draft_max_chars = 10;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let mut others = Vec::new();
    for name in ["bob", "carol", "dave"] {
        others.push(Target::User(server.user(Kind::Tcp, name).await.user_id));
    }
    for with in &others[..2] {
        alice.client.call(&set(*with, Some(true), None)).await.unwrap();
    }
    let refused = alice.client.call(&set(others[2], Some(true), None)).await.expect_err("a third pin");
    assert_eq!((refused.code(), refused.limit()), (Some(ErrorCode::NotPermitted), Some(2)));
    // Re-pinning one already pinned is no new pin.
    alice.client.call(&set(others[0], Some(true), None)).await.unwrap();
    alice.client.call(&set(others[0], None, Some("a draft"))).await.unwrap();
    let refused = alice.client.call(&set(others[1], None, Some("another"))).await.expect_err("a second draft");
    assert_eq!((refused.code(), refused.limit()), (Some(ErrorCode::NotPermitted), Some(1)));
    let long = alice.client.call(&set(others[0], None, Some("ééééééééééé"))).await.expect_err("11 characters");
    assert_eq!((long.code(), long.limit()), (Some(ErrorCode::InvalidArgument), Some(10)));
    alice.client.call(&set(others[0], None, Some("éééééééééé"))).await.unwrap();

    assert_eq!(code(alice.client.call(&set(Target::User(999_999), Some(true), None)).await), Some(ErrorCode::NotFound));
    let bob = server.user(Kind::Tcp, "erin").await;
    let group = open_group(&bob, &[]).await;
    let outside = alice.client.call(&set(Target::Group(group), Some(true), None)).await;
    assert_eq!(code(outside), Some(ErrorCode::NotPermitted), "not a member");
    let nowhere = alice.client.call(&set(Target::Group(group + 1), Some(true), None)).await;
    assert_eq!(code(nowhere), Some(ErrorCode::NotFound), "no such group");
}
