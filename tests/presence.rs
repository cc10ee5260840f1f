//! Presence: online or last seen, shown as each user's presence audience
//! allows and reciprocally (who hides from someone sees nothing of them),
//! never across a block; pushed to the connections watching a user, never
//! stored in anyone's update log; a group's online members counted under
//! the same rule.

use crate::common;

use std::time::Duration;

use common::talk::{befriend, code, open_group};
use common::{Kind, TestServer, TestUser, SOON};
use kith::client::Client;
use kith::protocol::{
    Audience, BlockRequest, DeviceType, ErrorCode, FriendPolicy, GroupOnline, GroupOnlineRequest, ListMembersRequest,
    PresenceInfo, PresenceRequest, PrivacyRequest, PrivacySettings, Push, UnblockRequest,
};

/// How long a test waits to be sure no push came.
const QUIET: Duration = Duration::from_millis(400);

fn hidden(user: u64) -> PresenceInfo {
    PresenceInfo { user_id: user, online: false, last_seen: 0 }
}

fn online(user: u64) -> PresenceInfo {
    PresenceInfo { user_id: user, online: true, last_seen: 0 }
}

/// `user`'s presence as `viewer` reads it (without watching).
async fn seen(viewer: &Client, user: u64) -> PresenceInfo {
    let list = viewer.call(&PresenceRequest { users: vec![user], watch: false }).await.unwrap();
    assert_eq!(list.users.len(), 1);
    list.users[0]
}

/// Makes `users` the ones `client` watches; returns what it read.
async fn watch(client: &Client, users: &[u64]) -> Vec<PresenceInfo> {
    client.call(&PresenceRequest { users: users.to_vec(), watch: true }).await.unwrap().users
}

async fn set_presence(user: &TestUser, audience: Audience) -> PrivacySettings {
    let request = PrivacyRequest { discoverable: None, friend_policy: None, presence: Some(audience) };
    user.client.call(&request).await.unwrap()
}

/// The next push, which must be a presence push.
async fn presence_push(client: &mut Client) -> PresenceInfo {
    loop {
        match client.push_within(SOON).await.expect("a presence push") {
            Push::Presence(info) => return info,
            Push::Update(_) => continue,
            other => panic!("expected a presence push, got {other:?}"),
        }
    }
}

/// No presence push within [`QUIET`].
async fn no_presence(client: &mut Client, who: &str) {
    let until = tokio::time::Instant::now() + QUIET;
    while let Ok(Ok(push)) = tokio::time::timeout_at(until, client.push_within(QUIET)).await {
        assert!(!matches!(push, Push::Presence(_)), "{who} got {push:?}");
    }
}

/// Friends (the default audience) see each other come and go, live and
/// with the time of going; nothing of it is in the update log, and a
/// stranger sees nothing.
async fn friends_see_each_other_come_and_go(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    let carol = server.user(kind, "carol").await;
    befriend(&alice, &bob).await;
    let synced = bob.client.sync_all(0).await.unwrap();

    assert_eq!(watch(&bob.client, &[alice.user_id]).await, vec![online(alice.user_id)]);
    assert_eq!(seen(&carol.client, alice.user_id).await, hidden(alice.user_id), "a stranger");
    assert_eq!(seen(&alice.client, alice.user_id).await, online(alice.user_id), "oneself");

    let before = kith::id::now_ms();
    drop(alice);
    let gone = presence_push(&mut bob.client).await;
    assert!(!gone.online && gone.last_seen >= before && gone.last_seen <= kith::id::now_ms(), "{gone:?}");
    assert_eq!(seen(&bob.client, gone.user_id).await, gone, "read as pushed");

    let (_alice_again, _) = server.device(kind, "alice", "alice-phone", DeviceType::Mobile).await;
    assert_eq!(presence_push(&mut bob.client).await, online(gone.user_id));
    assert_eq!(bob.client.sync_all(0).await.unwrap(), synced, "presence is in no update log");
}
per_transport!(friends_see_each_other_come_and_go);

/// PROTOCOL section 5, `Presence`, the table: each audience, reciprocal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_audience_decides_and_it_works_both_ways() {
    let server = TestServer::start().await;
    let kind = Kind::Tcp;
    let alice = server.user(kind, "alice").await;
    let friend = server.user(kind, "friend").await;
    let stranger = server.user(kind, "stranger").await;
    befriend(&alice, &friend).await;
    let (a, f, s) = (alice.user_id, friend.user_id, stranger.user_id);

    // Defaults: friends only.
    assert_eq!(seen(&friend.client, a).await, online(a));
    assert_eq!(seen(&alice.client, f).await, online(f));
    assert_eq!(seen(&stranger.client, a).await, hidden(a));

    // Everyone: a stranger who shows theirs to everyone too sees it ...
    assert_eq!(set_presence(&alice, Audience::Everyone).await.presence, Audience::Everyone);
    assert_eq!(seen(&stranger.client, a).await, hidden(a), "the stranger still hides from strangers");
    set_presence(&stranger, Audience::Everyone).await;
    assert_eq!(seen(&stranger.client, a).await, online(a));
    assert_eq!(seen(&alice.client, s).await, online(s));

    // ... and friends only keeps strangers out whatever they show.
    set_presence(&alice, Audience::Friends).await;
    assert_eq!(seen(&stranger.client, a).await, hidden(a));
    assert_eq!(seen(&alice.client, s).await, hidden(s), "reciprocal");
    assert_eq!(seen(&friend.client, a).await, online(a));

    // Nobody: not even friends, and alice sees no one either.
    set_presence(&alice, Audience::Nobody).await;
    assert_eq!(seen(&friend.client, a).await, hidden(a));
    assert_eq!(seen(&alice.client, f).await, hidden(f), "reciprocal");
    assert_eq!(seen(&alice.client, a).await, online(a), "oneself, always");

    // A user who does not exist reads like a hidden one.
    assert_eq!(seen(&friend.client, 999_999).await, hidden(999_999));
}

/// Watchers are told when what they may see changes: an audience made
/// narrower hides at once, made wider shows at once; a block hides both
/// ways and lifting it shows again.
async fn watchers_follow_audiences_and_blocks(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    befriend(&alice, &bob).await;
    let (a, b) = (alice.user_id, bob.user_id);
    let (mut alice_tablet, _) = server.device(kind, "alice", "alice-tablet", DeviceType::Tablet).await;
    watch(&bob.client, &[a]).await;
    watch(&alice_tablet, &[b]).await;

    set_presence(&alice, Audience::Nobody).await;
    assert_eq!(presence_push(&mut bob.client).await, hidden(a), "bob's view of alice");
    assert_eq!(presence_push(&mut alice_tablet).await, hidden(b), "alice's view of bob, reciprocal");
    set_presence(&alice, Audience::Friends).await;
    assert_eq!(presence_push(&mut bob.client).await, online(a));
    assert_eq!(presence_push(&mut alice_tablet).await, online(b));

    bob.client.call(&BlockRequest { user_id: a }).await.unwrap();
    assert_eq!(presence_push(&mut alice_tablet).await, hidden(b), "the blocked side");
    assert_eq!(seen(&bob.client, a).await, hidden(a), "the blocking side");
    bob.client.call(&UnblockRequest { user_id: a }).await.unwrap();
    assert_eq!(presence_push(&mut alice_tablet).await, online(b));
    assert_eq!(seen(&bob.client, a).await, online(a));
}
per_transport!(watchers_follow_audiences_and_blocks);

/// Comings and goings nobody may see are pushed to nobody — not even as
/// "hidden", which would time them; a connection watches only the users it
/// named last; a closed connection watches nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_what_may_be_seen_is_pushed_to_whom_watches() {
    let server = TestServer::start().await;
    let kind = Kind::Tcp;
    let mut stranger = server.user(kind, "stranger").await;
    let mut friend = server.user(kind, "friend").await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    befriend(&alice, &friend).await;
    befriend(&bob, &friend).await;
    let (a, b) = (alice.user_id, bob.user_id);

    assert_eq!(watch(&stranger.client, &[a]).await, vec![hidden(a)]);
    watch(&friend.client, &[a, b]).await;
    watch(&friend.client, &[b]).await;
    drop(alice);
    no_presence(&mut stranger.client, "a stranger watching").await;
    no_presence(&mut friend.client, "a friend who stopped watching alice").await;
    drop(bob);
    assert!(!presence_push(&mut friend.client).await.online, "a friend still watching bob");
    watch(&friend.client, &[]).await;
    let (_bob_again, _) = server.device(kind, "bob", "bob-phone", DeviceType::Mobile).await;
    no_presence(&mut friend.client, "a friend who watches nobody").await;
}

/// The last-seen time outlives the server: written at a clean stop, read
/// back after the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_seen_outlives_a_restart() {
    let mut server = TestServer::start().await;
    let kind = Kind::Tcp;
    let alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    befriend(&alice, &bob).await;
    watch(&bob.client, &[alice.user_id]).await;
    drop(alice);
    let gone = presence_push(&mut bob.client).await;
    assert!(gone.last_seen > 0);
    drop(bob);
    server.restart().await;
    let bob = server.connect(kind).await;
    bob.login("bob", common::PASSWORD, common::device("bob-phone", DeviceType::Mobile)).await.unwrap();
    assert_eq!(seen(&bob, gone.user_id).await, gone, "after a restart");
}

/// Over the limit, refused with the limit named; the reply keeps request
/// order, repeats included; an unknown audience is a malformed body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_users_are_refused() {
    let server = TestServer::start_with(|c| c.social.presence_users_max = 3).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let me = alice.user_id;
    for watch in [false, true] {
        let refused = alice.client.call(&PresenceRequest { users: vec![me; 4], watch }).await.unwrap_err();
        assert_eq!((refused.code(), refused.limit()), (Some(ErrorCode::InvalidArgument), Some(3)), "watch {watch}");
    }
    let list = alice.client.call(&PresenceRequest { users: vec![me, 7, me], watch: true }).await.unwrap();
    assert_eq!(list.users, vec![online(me), hidden(7), online(me)]);
    // An audience past Nobody (3) in Privacy: the body is malformed.
    let reply = alice.client.request_raw(kith::protocol::Action::Privacy as u8, vec![0, 0, 1, 4]).await.unwrap();
    assert_eq!(reply.action, kith::protocol::ERROR_ACTION);
    let error: kith::protocol::ErrorBody = kith::codec::decode_wire(&reply.body).unwrap();
    assert_eq!(error.error_code(), Some(ErrorCode::MalformedBody));
    assert_eq!(set_presence(&alice, Audience::Nobody).await.presence, Audience::Nobody, "3 is Nobody");
}

async fn count(client: &Client, group: u64) -> Result<GroupOnline, kith::client::ClientError> {
    client.call(&GroupOnlineRequest { group_id: group }).await
}

/// A group shows how many of its members are online, counting only those
/// whose presence the caller may see; its member list's `online` follows
/// the same rule. Members only.
async fn a_group_counts_its_online_members_under_the_rule(kind: Kind) {
    let server = TestServer::start().await;
    let owner = server.user(kind, "owner").await;
    let friend = server.user(kind, "friend").await;
    let open = server.user(kind, "open").await;
    let shy = server.user(kind, "shy").await;
    let away = server.user(kind, "away").await;
    let outsider = server.user(kind, "outsider").await;
    befriend(&owner, &friend).await;
    befriend(&owner, &shy).await;
    let group = open_group(&owner, &[&friend, &open, &shy, &away]).await;
    set_presence(&owner, Audience::Everyone).await;
    set_presence(&open, Audience::Everyone).await;
    set_presence(&shy, Audience::Nobody).await;
    drop(away);

    // The owner sees themself, the friend and the open stranger; not the
    // shy friend, nor the member who left.
    let counted = tokio::time::timeout(SOON, async {
        loop {
            let counted = count(&owner.client, group).await.unwrap();
            if counted.online == 3 {
                return counted;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the member who went away is no longer counted");
    assert_eq!(counted, GroupOnline { member_count: 5, online: 3 });
    // The friend (friends only) sees the owner and themself.
    assert_eq!(count(&friend.client, group).await.unwrap(), GroupOnline { member_count: 5, online: 2 });

    let page = owner
        .client
        .call(&ListMembersRequest { group_id: group, after: 0, limit: 100, online_only: false })
        .await
        .unwrap();
    let shown: Vec<(String, bool)> = page.members.iter().map(|m| (m.user.username.clone(), m.online)).collect();
    let expected = [("owner", true), ("friend", true), ("open", true), ("shy", false), ("away", false)];
    for (name, on) in expected {
        assert!(shown.contains(&(name.to_string(), on)), "{name}: {shown:?}");
    }
    let online_only = owner
        .client
        .call(&ListMembersRequest { group_id: group, after: 0, limit: 100, online_only: true })
        .await
        .unwrap();
    assert_eq!(online_only.members.len(), 3, "online_only lists whom the rule shows");

    assert_eq!(code(count(&outsider.client, group).await), Some(ErrorCode::NotPermitted), "not a member");
    let missing = outsider.client.call(&GroupOnlineRequest { group_id: group + 1_000_000 }).await;
    assert_eq!(code(missing), Some(ErrorCode::NotFound));
}
per_transport!(a_group_counts_its_online_members_under_the_rule);

/// Data of layout version 11, whose privacy settings had no presence
/// audience, opens with every setting as it was and the default audience,
/// friends, in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_settings_of_version_11_are_migrated() {
    let mut server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    befriend(&alice, &bob).await;
    let open = PrivacyRequest { friend_policy: Some(FriendPolicy::AcceptAll), ..PrivacyRequest::default() };
    let before = alice.client.call(&open).await.unwrap();
    drop((alice, bob));
    common::layout::restart_from(&mut server, 11).await;
    let (alice, _) = server.device(Kind::Tcp, "alice", "alice-phone", DeviceType::Mobile).await;
    let (bob, login) = server.device(Kind::Tcp, "bob", "bob-phone", DeviceType::Mobile).await;
    let settings = alice.call(&PrivacyRequest::default()).await.unwrap();
    assert_eq!(settings, before, "the settings as they were");
    assert_eq!(settings.presence, Audience::Friends);
    assert_eq!(seen(&alice, login.session.user_id).await, online(login.session.user_id), "friends see each other");
    drop(bob);
}
