//! The social graph through the real server: profiles, search, friend
//! requests and their policies, friends, remarks, blocking, and the
//! friends-only rule for 1:1 messages — each over TLS, plain TCP and QUIC
//! where the transport could matter, with every refusal a user can meet.

use crate::common;

use std::time::Duration;

use common::{Calls, Kind, TestServer, TestUser, SOON};
use kith::client::{Client, ClientError};
use kith::config::DirectMessages;
use kith::protocol::RateLimitReason;
use kith::protocol::{
    AddFriendRequest, AnswerFriendRequest, BirthDate, BlockRequest, Discoverable, ErrorCode, FriendPolicy,
    FriendRequestInfo, Gender, GetProfileRequest, ListBlockedRequest, ListFriendRequestsRequest, ListFriendsRequest,
    PrivacyRequest, Profile, RemoveFriendRequest, RequestBox, RequestState, SearchUsersRequest, SetProfileRequest,
    SetRemarkRequest, UnblockRequest, Update, UpdateBody, UpdateKind,
};

fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

/// A server with the default friends-only rule for 1:1 messages.
async fn server() -> TestServer {
    TestServer::start_with(|c| c.social.direct_messages = DirectMessages::Friends).await
}

async fn add(client: &Client, user_id: u64, message: &str) -> Result<FriendRequestInfo, ClientError> {
    client.call(&AddFriendRequest { user_id, message: message.into() }).await
}

async fn answer(client: &Client, request_id: u64, accept: bool) -> Result<FriendRequestInfo, ClientError> {
    client.call(&AnswerFriendRequest { request_id, accept }).await
}

async fn requests(client: &Client, direction: RequestBox) -> kith::protocol::FriendRequestPage {
    client.call(&ListFriendRequestsRequest { direction, before: 0, limit: 100 }).await.unwrap()
}

async fn friend_ids(client: &Client) -> Vec<u64> {
    let page = client.call(&ListFriendsRequest { after: 0, limit: 100 }).await.unwrap();
    page.friends.iter().map(|f| f.user.user_id).collect()
}

/// The next pushed update of a social kind (message and login notices are passed over).
async fn social_update(client: &mut Client) -> (Update, UpdateBody) {
    loop {
        let update = client.update_within(SOON).await.expect("an update");
        let body = update.decode().unwrap().expect("a known kind");
        if !matches!(body, UpdateBody::Message(_) | UpdateBody::NewLogin(_)) {
            return (update, body);
        }
    }
}

async fn befriend(a: &mut TestUser, b: &mut TestUser) {
    let request = add(&a.client, b.user_id, "hi").await.unwrap();
    answer(&b.client, request.id, true).await.unwrap();
    social_update(&mut b.client).await;
    social_update(&mut a.client).await;
}

async fn request_accept_chat(kind: Kind) {
    let server = server().await;
    let mut alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;

    // Strangers cannot message each other under the default rule.
    assert_eq!(code(alice.client.send_text(bob.user_id, "hi").await), Some(ErrorCode::NotPermitted));

    let sent = add(&alice.client, bob.user_id, "it's alice from the choir").await.unwrap();
    assert_eq!(sent.state, RequestState::Pending);
    assert_eq!((sent.from.user_id, sent.to.user_id), (alice.user_id, bob.user_id));
    assert_eq!(sent.from.username, "alice");
    let (pushed, body) = social_update(&mut bob.client).await;
    assert_eq!(pushed.id, sent.id, "the request's update carries its id");
    assert_eq!(body, UpdateBody::FriendRequest(sent.clone()));

    let incoming =
        bob.client.call(&ListFriendRequestsRequest { direction: RequestBox::Incoming, before: 0, limit: 10 }).await;
    let incoming = incoming.unwrap();
    assert_eq!(incoming.pending_incoming, 1);
    assert_eq!(incoming.requests, vec![sent.clone()]);

    let accepted = answer(&bob.client, sent.id, true).await.unwrap();
    assert_eq!(accepted.state, RequestState::Accepted);
    assert!(accepted.answered_at > 0);
    let (_, body) = social_update(&mut alice.client).await;
    assert_eq!(body, UpdateBody::FriendAnswered(accepted.clone()));

    assert_eq!(friend_ids(&alice.client).await, vec![bob.user_id]);
    assert_eq!(friend_ids(&bob.client).await, vec![alice.user_id]);
    let outgoing =
        alice.client.call(&ListFriendRequestsRequest { direction: RequestBox::Outgoing, before: 0, limit: 10 }).await;
    assert_eq!(outgoing.unwrap().requests[0].state, RequestState::Accepted);
    assert_eq!(code(answer(&bob.client, sent.id, false).await), Some(ErrorCode::Conflict), "answered twice");
    assert_eq!(code(add(&alice.client, bob.user_id, "again").await), Some(ErrorCode::Conflict), "already friends");

    alice.client.send_text(bob.user_id, "now we can talk").await.unwrap();
    assert_eq!(common::next_message(&mut bob.client).await.content, b"now we can talk");
}
per_transport!(request_accept_chat);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_request_makes_no_friends_and_the_requester_learns_it() {
    let server = server().await;
    let mut alice = server.user(Kind::Tcp, "alice").await;
    let mut bob = server.user(Kind::Tcp, "bob").await;
    let sent = add(&alice.client, bob.user_id, "").await.unwrap();
    social_update(&mut bob.client).await;
    let rejected = answer(&bob.client, sent.id, false).await.unwrap();
    assert_eq!(rejected.state, RequestState::Rejected);
    assert_eq!(social_update(&mut alice.client).await.1, UpdateBody::FriendAnswered(rejected));
    assert!(friend_ids(&alice.client).await.is_empty());
    assert!(friend_ids(&bob.client).await.is_empty());
    // Only the recipient answers; anyone else does not even see the request.
    let carol = server.user(Kind::Tcp, "carol").await;
    let again = add(&alice.client, bob.user_id, "please?").await.unwrap();
    assert_eq!(code(answer(&carol.client, again.id, true).await), Some(ErrorCode::NotFound));
    assert_eq!(code(answer(&alice.client, again.id, true).await), Some(ErrorCode::NotFound));
    assert_eq!(code(answer(&bob.client, 12345, true).await), Some(ErrorCode::NotFound));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_user_finds_the_request_by_sync_and_the_requester_the_outcome() {
    let server = server().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let bob_token = bob.login.token.clone();
    let bob_id = bob.user_id;
    let bob_cursor = bob.client.sync_all(0).await.unwrap().last().unwrap().id;
    bob.client.ack(bob_cursor).await.unwrap();
    drop(bob);

    let sent = add(&alice.client, bob_id, "offline hello").await.unwrap();

    // Bob comes back: the request is in his log under the id it was pushed with.
    let bob = server.connect(Kind::Quic).await;
    let session = bob.auth(&bob_token).await.unwrap();
    assert!(session.latest > session.cursor);
    let missed = bob.sync_all(session.cursor).await.unwrap();
    let request = missed.iter().find(|u| u.kind == UpdateKind::FriendRequest as u8).expect("the request");
    assert_eq!(request.id, sent.id);
    assert_eq!(request.decode().unwrap(), Some(UpdateBody::FriendRequest(sent.clone())));

    // Alice goes offline; bob accepts; alice learns it by Sync.
    let alice_token = alice.login.token.clone();
    let alice_latest = alice.client.sync_all(0).await.unwrap().last().unwrap().id;
    alice.client.ack(alice_latest).await.unwrap();
    drop(alice);
    let accepted = answer(&bob, sent.id, true).await.unwrap();
    let alice = server.connect(Kind::Tcp).await;
    let session = alice.auth(&alice_token).await.unwrap();
    let missed = alice.sync_all(session.cursor).await.unwrap();
    let answered = missed.iter().find(|u| u.kind == UpdateKind::FriendAnswered as u8).expect("the answer");
    assert_eq!(answered.decode().unwrap(), Some(UpdateBody::FriendAnswered(accepted)));
    assert_eq!(friend_ids(&alice).await, vec![bob_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_replaces_the_pending_one_and_a_mutual_one_is_a_yes() {
    let server = server().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let mut bob = server.user(Kind::Tcp, "bob").await;
    let first = add(&alice.client, bob.user_id, "first").await.unwrap();
    let second = add(&alice.client, bob.user_id, "second").await.unwrap();
    assert!(second.id > first.id);
    let incoming = requests(&bob.client, RequestBox::Incoming).await;
    assert_eq!(incoming.requests.len(), 1, "no pile-up: {:?}", incoming.requests);
    assert_eq!(incoming.requests[0].message, "second");
    assert_eq!(incoming.pending_incoming, 1);
    assert_eq!(requests(&alice.client, RequestBox::Outgoing).await.requests.len(), 1);
    assert_eq!(code(answer(&bob.client, first.id, true).await), Some(ErrorCode::NotFound), "the replaced one is gone");

    // Bob asks alice back instead of answering: that accepts hers.
    while social_update(&mut bob.client).await.0.id != second.id {}
    let mutual = add(&bob.client, alice.user_id, "oh hi").await.unwrap();
    assert_eq!(mutual.id, second.id);
    assert_eq!(mutual.state, RequestState::Accepted);
    assert_eq!(friend_ids(&alice.client).await, vec![bob.user_id]);
    assert_eq!(requests(&bob.client, RequestBox::Incoming).await.pending_incoming, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_expire() {
    let server = TestServer::start_with(|c| c.social.friend_request_ttl_secs = 1).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let sent = add(&alice.client, bob.user_id, "quick").await.unwrap();
    assert!(sent.expires_at <= kith::id::id_time_ms(sent.id) + 1000);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let incoming =
        bob.client.call(&ListFriendRequestsRequest { direction: RequestBox::Incoming, before: 0, limit: 10 }).await;
    let incoming = incoming.unwrap();
    assert_eq!(incoming.requests[0].state, RequestState::Expired);
    assert_eq!(incoming.pending_incoming, 0);
    assert_eq!(code(answer(&bob.client, sent.id, true).await), Some(ErrorCode::Conflict));
    // A new request after expiry works as a first one.
    let again = add(&alice.client, bob.user_id, "again").await.unwrap();
    answer(&bob.client, again.id, true).await.unwrap();
    assert_eq!(friend_ids(&bob.client).await, vec![alice.user_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_friend_ends_messages_under_friends_only_but_not_under_anyone() {
    for rule in [DirectMessages::Friends, DirectMessages::Anyone] {
        let server = TestServer::start_with(|c| c.social.direct_messages = rule).await;
        let mut alice = server.user(Kind::Tcp, "alice").await;
        let mut bob = server.user(Kind::Tcp, "bob").await;
        befriend(&mut alice, &mut bob).await;
        let before = alice.client.send_text(bob.user_id, "while friends").await.unwrap();

        alice.client.call(&RemoveFriendRequest { user_id: bob.user_id }).await.unwrap();
        let (_, body) = social_update(&mut bob.client).await;
        assert_eq!(
            body,
            UpdateBody::FriendRemoved(kith::protocol::FriendRemoved { by: alice.user_id, user_id: bob.user_id })
        );
        assert!(friend_ids(&alice.client).await.is_empty() && friend_ids(&bob.client).await.is_empty());
        assert_eq!(
            code(alice.client.call(&RemoveFriendRequest { user_id: bob.user_id }).await),
            Some(ErrorCode::NotFound)
        );

        let after = bob.client.send_text(alice.user_id, "still there?").await;
        match rule {
            DirectMessages::Friends => assert_eq!(code(after), Some(ErrorCode::NotPermitted)),
            DirectMessages::Anyone => assert!(after.is_ok()),
        }
        // The history of the former friends stays.
        let history = bob
            .client
            .history(kith::protocol::Target::User(alice.user_id), kith::protocol::Direction::After, 0, 10)
            .await;
        assert!(history.unwrap().messages.iter().any(|m| m.id == before.message_id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_friend_policies() {
    let server = server().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let mut open = server.user(Kind::Tcp, "open").await;
    let closed = server.user(Kind::Tcp, "closed").await;
    let careful = server.user(Kind::Tcp, "careful").await;

    let settings =
        careful.client.call(&PrivacyRequest { discoverable: None, friend_policy: None, presence: None }).await.unwrap();
    assert_eq!(settings.friend_policy, FriendPolicy::RequireApproval, "the default");
    open.client
        .call(&PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::AcceptAll), presence: None })
        .await
        .unwrap();
    let set = closed.client.call(&PrivacyRequest {
        discoverable: None,
        friend_policy: Some(FriendPolicy::RefuseAll),
        presence: None,
    });
    assert_eq!(set.await.unwrap().friend_policy, FriendPolicy::RefuseAll);

    let accepted = add(&alice.client, open.user_id, "").await.unwrap();
    assert_eq!(accepted.state, RequestState::Accepted);
    let (update, body) = social_update(&mut open.client).await;
    assert_eq!((update.id, body), (accepted.id, UpdateBody::FriendRequest(accepted.clone())));
    assert_eq!(friend_ids(&open.client).await, vec![alice.user_id]);
    alice.client.send_text(open.user_id, "instant friends").await.unwrap();

    assert_eq!(code(add(&alice.client, closed.user_id, "").await), Some(ErrorCode::NotPermitted));
    let incoming =
        closed.client.call(&ListFriendRequestsRequest { direction: RequestBox::Incoming, before: 0, limit: 10 }).await;
    assert!(incoming.unwrap().requests.is_empty(), "nothing stored");

    assert_eq!(add(&alice.client, careful.user_id, "").await.unwrap().state, RequestState::Pending);
}

async fn blocking_hides_and_refuses(kind: Kind) {
    let server = server().await;
    let mut alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    befriend(&mut alice, &mut bob).await;
    bob.client
        .call(&SetProfileRequest { profile: Profile { nickname: "Bobby".into(), ..Profile::default() } })
        .await
        .unwrap();
    let (alice_laptop, _) = server.device(kind, "alice", "alice-laptop", kith::protocol::DeviceType::Desktop).await;
    let mut alice_laptop = alice_laptop;

    alice.client.call(&BlockRequest { user_id: bob.user_id }).await.unwrap();
    let (_, body) = social_update(&mut alice_laptop).await;
    assert_eq!(body, UpdateBody::BlockChanged(kith::protocol::BlockChanged { user_id: bob.user_id, blocked: true }));
    let blocked = alice.client.call(&ListBlockedRequest { after: 0, limit: 10 }).await.unwrap();
    assert_eq!(blocked.users.iter().map(|b| b.user.user_id).collect::<Vec<_>>(), vec![bob.user_id]);

    // Bob, blocked, is refused like anyone not permitted, and sees alice nowhere.
    let alice_log = alice.client.sync_all(0).await.unwrap().len();
    assert_eq!(code(bob.client.send_text(alice.user_id, "hello?").await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(add(&bob.client, alice.user_id, "").await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(bob.client.call(&GetProfileRequest { user_id: alice.user_id }).await), Some(ErrorCode::NotFound));
    let find = bob.client.call(&kith::protocol::FindUserRequest { username: "alice".into() }).await;
    assert_eq!(code(find), Some(ErrorCode::NotFound));
    let search = SearchUsersRequest { query: "alice".into(), cursor: vec![], limit: 10 };
    assert!(bob.client.call(&search).await.unwrap().users.is_empty());
    // Nor does alice see him, nor may she write to him while she blocks him.
    let search = SearchUsersRequest { query: "bob".into(), cursor: vec![], limit: 10 };
    assert!(alice.client.call(&search).await.unwrap().users.is_empty());
    assert_eq!(code(alice.client.send_text(bob.user_id, "x").await), Some(ErrorCode::NotPermitted));
    // Nothing was stored for the blocker.
    assert_eq!(alice.client.sync_all(0).await.unwrap().len(), alice_log);
    common::talk::none_pushed(&server, &alice.name, &mut alice.client, UpdateKind::Message).await;

    alice.client.call(&UnblockRequest { user_id: bob.user_id }).await.unwrap();
    bob.client.send_text(alice.user_id, "friends again").await.unwrap();
    assert_eq!(common::next_message(&mut alice.client).await.content, b"friends again");
    assert_eq!(bob.client.call(&GetProfileRequest { user_id: alice.user_id }).await.unwrap().user_id, alice.user_id);
    let search = SearchUsersRequest { query: "bob".into(), cursor: vec![], limit: 10 };
    assert_eq!(alice.client.call(&search).await.unwrap().users[0].user_id, bob.user_id);

    assert_eq!(
        code(alice.client.call(&BlockRequest { user_id: alice.user_id }).await),
        Some(ErrorCode::InvalidArgument)
    );
    assert_eq!(code(alice.client.call(&BlockRequest { user_id: 999_999 }).await), Some(ErrorCode::NotFound));
}
per_transport!(blocking_hides_and_refuses);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_from_a_blocked_user_is_hidden_and_unanswerable() {
    let server = server().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let sent = add(&bob.client, alice.user_id, "hi").await.unwrap();
    alice.client.call(&BlockRequest { user_id: bob.user_id }).await.unwrap();
    let incoming =
        alice.client.call(&ListFriendRequestsRequest { direction: RequestBox::Incoming, before: 0, limit: 10 }).await;
    let incoming = incoming.unwrap();
    assert!(incoming.requests.is_empty());
    assert_eq!(incoming.pending_incoming, 0);
    assert_eq!(code(answer(&alice.client, sent.id, true).await), Some(ErrorCode::NotFound));
    // The blocked requester still sees it pending: the block is not announced.
    let outgoing =
        bob.client.call(&ListFriendRequestsRequest { direction: RequestBox::Outgoing, before: 0, limit: 10 }).await;
    assert_eq!(outgoing.unwrap().requests[0].state, RequestState::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_are_validated_field_by_field() {
    let server = server().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let good = Profile {
        nickname: "Alice 小爱".into(),
        avatar: 0,
        gender: Gender::Female,
        birth_date: Some(BirthDate { year: 1990, month: 2, day: 28 }),
        signature: "hello".into(),
        city: "杭州".into(),
        province: "浙江".into(),
        extra: "{\"theme\":\"dark\"}".into(),
    };
    let set = alice.client.call(&SetProfileRequest { profile: good.clone() }).await.unwrap();
    assert_eq!((set.username.as_str(), &set.profile), ("alice", &good));
    let seen = bob.client.call(&GetProfileRequest { user_id: alice.user_id }).await.unwrap();
    assert_eq!(seen.profile, good);
    let own = alice.client.call(&GetProfileRequest { user_id: alice.user_id }).await.unwrap();
    assert_eq!(own.profile, good);
    // Search finds her by username and nickname, except for herself.
    let search = SearchUsersRequest { query: "alice".into(), cursor: vec![], limit: 10 };
    let found = bob.client.call(&search).await.unwrap().users;
    assert_eq!(found.iter().map(|u| u.user_id).collect::<Vec<_>>(), vec![alice.user_id], "exact username, once");
    assert!(alice.client.call(&search).await.unwrap().users.is_empty(), "nobody finds themselves");

    let bad: Vec<(&str, Profile)> = vec![
        ("nickname", Profile { nickname: "n".repeat(33), ..good.clone() }),
        ("nickname", Profile { nickname: "   ".into(), ..good.clone() }),
        ("birth_date", Profile { birth_date: Some(BirthDate { year: 1990, month: 13, day: 1 }), ..good.clone() }),
        ("birth_date", Profile { birth_date: Some(BirthDate { year: 1899, month: 12, day: 31 }), ..good.clone() }),
        ("birth_date", Profile { birth_date: Some(BirthDate { year: 2999, month: 1, day: 1 }), ..good.clone() }),
        ("signature", Profile { signature: "s".repeat(141), ..good.clone() }),
        ("city", Profile { city: "c\n".into(), ..good.clone() }),
        ("province", Profile { province: "p".repeat(65), ..good.clone() }),
        ("extra", Profile { extra: "e".repeat(1025), ..good.clone() }),
    ];
    for (field, profile) in bad {
        let err = alice.client.call(&SetProfileRequest { profile }).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidArgument), "{field}");
        assert!(err.to_string().contains(&format!("{field}:")), "{field}: {err}");
    }
    // A refused update changed nothing.
    assert_eq!(alice.client.call(&GetProfileRequest { user_id: alice.user_id }).await.unwrap().profile, good);
    assert_eq!(code(bob.client.call(&GetProfileRequest { user_id: 999_999 }).await), Some(ErrorCode::NotFound));
    // A malformed gender byte is a malformed body.
    let mut body = kith::codec::encode_wire(&SetProfileRequest { profile: good.clone() });
    let at = body.iter().position(|b| *b == Gender::Female as u8).unwrap();
    body[at] = 9;
    let raw = alice.client.request_raw(kith::protocol::Action::SetProfile as u8, body).await.unwrap();
    assert_eq!(raw.action, kith::protocol::ERROR_ACTION);
    let error: kith::protocol::ErrorBody = kith::codec::decode_wire(&raw.body).unwrap();
    assert_eq!(error.error_code(), Some(ErrorCode::MalformedBody));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nickname_prefix_search_is_case_insensitive_unicode_and_paged() {
    let server = TestServer::start_with(|c| c.limits.registrations_per_address_per_hour = 100).await;
    let seeker = server.user(Kind::Tcp, "seeker").await;
    let names = ["小明", "小明明", "小红", "Émile", "émilie", "EMIL", "zed"];
    let mut ids = Vec::new();
    for (i, nickname) in names.iter().enumerate() {
        let u = server.user(Kind::Tcp, &format!("user{i}")).await;
        u.client
            .call(&SetProfileRequest { profile: Profile { nickname: nickname.to_string(), ..Profile::default() } })
            .await
            .unwrap();
        ids.push(u.user_id);
    }
    let search = |query: &str, cursor: Vec<u8>, limit: u16| SearchUsersRequest { query: query.into(), cursor, limit };
    let found = seeker.client.call(&search("小明", vec![], 10)).await.unwrap();
    assert_eq!(found.users.iter().map(|u| u.nickname.as_str()).collect::<Vec<_>>(), ["小明", "小明明"]);
    assert!(!found.more);
    let found = seeker.client.call(&search("ÉMI", vec![], 10)).await.unwrap();
    let mut nicks: Vec<&str> = found.users.iter().map(|u| u.nickname.as_str()).collect();
    nicks.sort();
    assert_eq!(
        nicks,
        ["EMIL", "Émile", "émilie"].iter().filter(|n| n.to_lowercase().starts_with("émi")).copied().collect::<Vec<_>>()
    );
    // Exact username first, then nickname matches.
    let exact = seeker.client.call(&search("user6", vec![], 10)).await.unwrap();
    assert_eq!(exact.users[0].user_id, ids[6]);

    // Paging with limit 1 through "小": every match once, in order, no gap.
    let mut cursor = vec![];
    let mut seen = Vec::new();
    loop {
        let page = seeker.client.call(&search("小", cursor.clone(), 1)).await.unwrap();
        seen.extend(page.users.iter().map(|u| u.user_id));
        if !page.more {
            break;
        }
        cursor = page.cursor;
    }
    assert_eq!(seen, vec![ids[0], ids[1], ids[2]]);

    // Users who want it are found by exact username only.
    let shy = server.user(Kind::Tcp, "shy").await;
    shy.client
        .call(&SetProfileRequest { profile: Profile { nickname: "小明 shy".into(), ..Profile::default() } })
        .await
        .unwrap();
    shy.client
        .call(&PrivacyRequest { discoverable: Some(Discoverable::ExactUsername), friend_policy: None, presence: None })
        .await
        .unwrap();
    assert!(!seeker
        .client
        .call(&search("小明", vec![], 10))
        .await
        .unwrap()
        .users
        .iter()
        .any(|u| u.user_id == shy.user_id));
    assert_eq!(seeker.client.call(&search("shy", vec![], 10)).await.unwrap().users[0].user_id, shy.user_id);

    // Bad queries and cursors.
    for bad in [
        search("", vec![], 10),
        search(&"x".repeat(33), vec![], 10),
        search("a", vec![], 0),
        search("a", vec![], 101),
        search("小", b"garbage".to_vec(), 10),
    ] {
        assert_eq!(code(seeker.client.call(&bad).await), Some(ErrorCode::InvalidArgument), "{bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_are_rate_limited_per_user() {
    let server = TestServer::start_with(|c| c.social.searches_per_minute = 3).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let q = SearchUsersRequest { query: "b".into(), cursor: vec![], limit: 5 };
    for _ in 0..3 {
        alice.client.call(&q).await.unwrap();
    }
    let err = alice.client.call(&q).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RateLimited));
    assert_eq!((err.limit(), err.rate_limit_reason()), (Some(3), Some(RateLimitReason::Quota)));
    assert!(err.retry_after().unwrap() <= Duration::from_secs(60));
    bob.client.call(&q).await.expect("another user has their own allowance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friend_requests_are_limited_per_day_and_checked() {
    let server = TestServer::start_with(|c| c.social.friend_requests_per_day = 2).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let mut others = Vec::new();
    for name in ["bob", "carol", "dave"] {
        others.push(server.user(Kind::Tcp, name).await.user_id);
    }
    add(&alice.client, others[0], "").await.unwrap();
    add(&alice.client, others[1], "").await.unwrap();
    let err = add(&alice.client, others[2], "").await.unwrap_err();
    assert_eq!((err.code(), err.limit()), (Some(ErrorCode::RateLimited), Some(2)));
    assert_eq!(err.rate_limit_reason(), Some(RateLimitReason::Quota));
    assert!(err.retry_after().unwrap() > Duration::from_secs(86_000));

    assert_eq!(code(add(&alice.client, alice.user_id, "").await), Some(ErrorCode::InvalidArgument));
    assert_eq!(code(add(&alice.client, 999_999, "").await), Some(ErrorCode::NotFound));
    assert_eq!(code(add(&alice.client, others[0], &"m".repeat(257)).await), Some(ErrorCode::InvalidArgument));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friend_and_block_lists_page_without_gaps_and_remarks_are_private() {
    let server = TestServer::start_with(|c| c.limits.registrations_per_address_per_hour = 100).await;
    let mut alice = server.user(Kind::Tcp, "alice").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut friend = server.user(Kind::Tcp, &format!("friend{i}")).await;
        befriend(&mut friend, &mut alice).await;
        ids.push(friend.user_id);
        if i < 5 {
            alice.client.call(&BlockRequest { user_id: friend.user_id }).await.unwrap();
        }
    }
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = alice.client.call(&ListFriendsRequest { after, limit: 3 }).await.unwrap();
        seen.extend(page.friends.iter().map(|f| f.user.user_id));
        match page.friends.last() {
            Some(last) if page.more => after = last.user.user_id,
            _ => break,
        }
    }
    assert_eq!(seen, ids);
    let mut after = 0;
    let mut blocked = Vec::new();
    loop {
        let page = alice.client.call(&ListBlockedRequest { after, limit: 2 }).await.unwrap();
        blocked.extend(page.users.iter().map(|b| b.user.user_id));
        match page.users.last() {
            Some(last) if page.more => after = last.user.user_id,
            _ => break,
        }
    }
    assert_eq!(blocked, ids[..5]);

    alice.client.call(&SetRemarkRequest { user_id: ids[6], remark: "Cousin 表哥".into() }).await.unwrap();
    let page = alice.client.call(&ListFriendsRequest { after: ids[5], limit: 10 }).await.unwrap();
    assert_eq!(page.friends[0].remark, "Cousin 表哥");
    let stranger = server.user(Kind::Tcp, "stranger").await;
    let remark = |user_id, remark: &str| SetRemarkRequest { user_id, remark: remark.into() };
    assert_eq!(code(alice.client.call(&remark(stranger.user_id, "x")).await), Some(ErrorCode::NotFound));
    assert_eq!(code(alice.client.call(&remark(ids[6], &"r".repeat(33))).await), Some(ErrorCode::InvalidArgument));
    for bad in [ListFriendsRequest { after: 0, limit: 0 }, ListFriendsRequest { after: 0, limit: 101 }] {
        assert_eq!(code(alice.client.call(&bad).await), Some(ErrorCode::InvalidArgument));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_boxes_page_newest_first_without_gaps() {
    let server = server().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let asker = server.user(Kind::Tcp, &format!("asker{i}")).await;
        sent.push(add(&asker.client, alice.user_id, &format!("request {i}")).await.unwrap().id);
    }
    let answered = answer(&alice.client, sent[1], false).await.unwrap();
    assert_eq!(answered.state, RequestState::Rejected);
    let mut before = 0;
    let mut seen = Vec::new();
    loop {
        let request = ListFriendRequestsRequest { direction: RequestBox::Incoming, before, limit: 2 };
        let page = alice.client.call(&request).await.unwrap();
        assert_eq!(page.pending_incoming, 4, "the badge counts every pending request, whatever the page");
        seen.extend(page.requests.iter().map(|r| (r.id, r.state)));
        match page.requests.last() {
            Some(last) if page.more => before = last.id,
            _ => break,
        }
    }
    let expected: Vec<(u64, RequestState)> = sent
        .iter()
        .rev()
        .map(|id| (*id, if *id == sent[1] { RequestState::Rejected } else { RequestState::Pending }))
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn social_data_survives_a_restart() {
    let mut server = server().await;
    let mut alice = server.user(Kind::Tcp, "alice").await;
    let mut bob = server.user(Kind::Tcp, "bob").await;
    befriend(&mut alice, &mut bob).await;
    alice
        .client
        .call(&SetProfileRequest { profile: Profile { nickname: "Ally".into(), ..Profile::default() } })
        .await
        .unwrap();
    let token = alice.login.token.clone();
    let (a, b) = (alice.user_id, bob.user_id);
    drop((alice, bob));
    server.restart().await;
    let alice = server.connect(Kind::Tcp).await;
    alice.auth(&token).await.unwrap();
    assert_eq!(friend_ids(&alice).await, vec![b]);
    assert_eq!(alice.call(&GetProfileRequest { user_id: a }).await.unwrap().profile.nickname, "Ally");
    alice.send_text(b, "still friends").await.unwrap();
}

/// One step of the interleaving test, by one of the two users.
#[derive(Debug, Clone, Copy)]
enum Step {
    Ask,
    Accept,
    Reject,
    Remove,
    Block,
    Unblock,
}

async fn step(me: &Client, other: u64, step: Step) {
    let latest_incoming = || async {
        let page = me.call(&ListFriendRequestsRequest { direction: RequestBox::Incoming, before: 0, limit: 1 }).await;
        page.unwrap().requests.first().map(|r| r.id)
    };
    // Every refusal is a documented one; anything else fails the test.
    let allowed = [ErrorCode::Conflict, ErrorCode::NotFound, ErrorCode::NotPermitted];
    let result = match step {
        Step::Ask => add(me, other, "").await.map(drop),
        Step::Accept | Step::Reject => match latest_incoming().await {
            Some(id) => answer(me, id, matches!(step, Step::Accept)).await.map(drop),
            None => Ok(()),
        },
        Step::Remove => me.call(&RemoveFriendRequest { user_id: other }).await,
        Step::Block => me.call(&BlockRequest { user_id: other }).await,
        Step::Unblock => me.call(&UnblockRequest { user_id: other }).await,
    };
    if let Err(e) = result {
        assert!(e.code().is_some_and(|c| allowed.contains(&c)), "{step:?}: {e}");
    }
}

fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    prop::collection::vec(
        prop::sample::select(vec![
            Step::Ask,
            Step::Ask,
            Step::Accept,
            Step::Reject,
            Step::Remove,
            Step::Block,
            Step::Unblock,
        ]),
        1..12,
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Random interleavings of requests, answers, removals, blocks and
    /// unblocks from both sides at once never leave half a friendship, nor
    /// more than one answerable request between the two, nor one between friends.
    #[test]
    fn friendship_stays_symmetric_whatever_the_interleaving(a_steps in steps(), b_steps in steps()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let server = server().await;
            let a = server.user(Kind::Tcp, "alice").await;
            let b = server.user(Kind::Tcp, "bob").await;
            let (a_id, b_id) = (a.user_id, b.user_id);
            let run_a = async { for s in &a_steps { step(&a.client, b_id, *s).await; } };
            let run_b = async { for s in &b_steps { step(&b.client, a_id, *s).await; } };
            tokio::join!(run_a, run_b);

            let a_lists_b = friend_ids(&a.client).await.contains(&b_id);
            let b_lists_a = friend_ids(&b.client).await.contains(&a_id);
            assert_eq!(a_lists_b, b_lists_a, "half a friendship after {a_steps:?} / {b_steps:?}");
            let pending = |page: kith::protocol::FriendRequestPage| {
                page.requests.into_iter().filter(|r| r.state == RequestState::Pending).count()
            };
            let open = pending(requests(&a.client, RequestBox::Incoming).await)
                + pending(requests(&b.client, RequestBox::Incoming).await);
            // A request from a blocked user is hidden from its recipient, so
            // count from the senders' side too.
            let sent = pending(requests(&a.client, RequestBox::Outgoing).await)
                + pending(requests(&b.client, RequestBox::Outgoing).await);
            assert!(open <= 1 && sent <= 1, "{open} / {sent} pending after {a_steps:?} / {b_steps:?}");
            if a_lists_b {
                assert_eq!(sent, 0, "a pending request between friends after {a_steps:?} / {b_steps:?}");
            }
        });
    }
}

/// A profile, privacy, field-visibility or remark change made on one device
/// reaches the user's other devices as an update, live and by `Sync` under
/// the same id, and is not echoed to the device that made it; reading a
/// setting tells no one.
async fn settings_reach_the_other_devices(kind: Kind) {
    use kith::protocol::{
        Audience, DeviceType, FieldVisibility, PrivacySettings, ProfileVisibilityRequest, RemarkChanged,
    };
    let server = server().await;
    let mut alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    befriend(&mut alice, &mut bob).await;
    let (mut tablet, login) = server.device(kind, "alice", "alice-tablet", DeviceType::Tablet).await;

    let profile = Profile { nickname: "Alice".into(), city: "Lyon".into(), ..Profile::default() };
    let set = alice.client.call(&SetProfileRequest { profile }).await.unwrap();
    let privacy =
        PrivacyRequest { discoverable: Some(Discoverable::ExactUsername), friend_policy: None, presence: None };
    let settings = alice.client.call(&privacy).await.unwrap();
    let fields =
        FieldVisibility { birth_date: Audience::Nobody, city: Audience::Friends, province: Audience::Everyone };
    alice.client.call(&ProfileVisibilityRequest { set: Some(fields) }).await.unwrap();
    alice.client.call(&SetRemarkRequest { user_id: bob.user_id, remark: "Bobby".into() }).await.unwrap();
    alice.client.call(&PrivacyRequest { discoverable: None, friend_policy: None, presence: None }).await.unwrap();
    alice.client.call(&ProfileVisibilityRequest { set: None }).await.unwrap();
    // A last change from the tablet: the phone's first social update.
    tablet.call(&SetRemarkRequest { user_id: bob.user_id, remark: "B".into() }).await.unwrap();

    let mut live = Vec::new();
    for _ in 0..4 {
        live.push(social_update(&mut tablet).await);
    }
    let bodies: Vec<UpdateBody> = live.iter().map(|(_, body)| body.clone()).collect();
    let remark = RemarkChanged { user_id: bob.user_id, remark: "Bobby".into() };
    assert_eq!(settings, PrivacySettings { discoverable: Discoverable::ExactUsername, ..PrivacySettings::default() });
    assert_eq!(
        bodies,
        [
            UpdateBody::ProfileChanged(set),
            UpdateBody::PrivacyChanged(settings),
            UpdateBody::ProfileVisibilityChanged(fields),
            UpdateBody::RemarkChanged(remark),
        ],
        "the tablet hears of each change, in order, and of no read"
    );
    let (_, first) = social_update(&mut alice.client).await;
    let from_tablet = RemarkChanged { user_id: bob.user_id, remark: "B".into() };
    assert_eq!(first, UpdateBody::RemarkChanged(from_tablet), "the phone heard nothing of its own changes");
    let synced = tablet.sync_all(login.session.cursor).await.unwrap();
    for (update, _) in &live {
        assert!(synced.contains(update), "Sync carries {update:?} under the same id");
    }
}
per_transport!(settings_reach_the_other_devices);
