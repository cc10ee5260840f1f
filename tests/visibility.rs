//! The rules for what a user may see — of a conversation
//! (src/service/conversation/visibility.rs), of a profile
//! (src/service/social/profile.rs), of the directory — and the holes they
//! closed: the list showing a message from before a member's window,
//! receipts flooding a peer's log or crossing a block, pushes out of id
//! order or echoed to the connection that asked, profiles listed by counting
//! ids, search cursors naming hidden users, and names that disguise
//! themselves.

use crate::common;

use std::time::Duration;

use common::talk::{code, entry, everything, history, mark, named_group_fields, pushed, pushed_so_far, send};
use common::{Calls, Kind, TestServer, TestUser};
use kith::codec::decode_wire;
use kith::protocol::{
    Action, AddFriendRequest, AnswerFriendRequest, AnswerInvitationRequest, Audience, BirthDate, BlockRequest,
    CreateGroupRequest, DeleteForMeRequest, DeviceType, Direction, Discoverable, DissolveGroupRequest, ErrorBody,
    ErrorCode, FieldVisibility, FriendPolicy, GetProfileRequest, InviteToGroupRequest, JoinGroupRequest, JoinPolicy,
    LeaveGroupRequest, ListFriendRequestsRequest, ListInvitationsRequest, MessageKind, PrivacyRequest, Profile,
    ProfileVisibilityRequest, RecallRequest, RequestBox, RequestState, SearchUsersRequest, SetAliasRequest,
    SetProfileRequest, SetRemarkRequest, Target, UpdateBody, UpdateKind, UserPage, UserProfile, ERROR_ACTION,
};

/// Updates of `kind` in `user`'s log, by `Sync` from the start.
async fn logged(user: &TestUser, kind: UpdateKind) -> Vec<UpdateBody> {
    let all = user.client.sync_all(0).await.unwrap();
    all.iter().filter(|u| u.kind == kind as u8).map(|u| u.decode().unwrap().unwrap()).collect()
}

async fn accept_everyone(user: &TestUser) {
    let policy = PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::AcceptAll), presence: None };
    user.client.call(&policy).await.unwrap();
}

/// A newcomer to a group that hides its history hides their own `Joined`
/// message: the list must not fall back to the message said before they
/// came (it used to show it as `last`, with its preview, sender and id).
async fn a_newcomer_sees_nothing_from_before_their_window(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let create = CreateGroupRequest { fields: named_group_fields("hush", JoinPolicy::Open, false), members: vec![] };
    let group = alice.client.call(&create).await.unwrap().group.group_id;
    let to = Target::Group(group);
    send(&alice.client, to, "said before bob came").await;
    bob.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
    let seen = history(&bob.client, to, 10).await;
    assert_eq!(seen.len(), 1, "bob's History holds his Joined message only: {seen:?}");
    assert_eq!(seen[0].kind, MessageKind::System);
    let joined = seen[0].id;
    let (list, _) = everything(&bob.client, 10).await;
    assert_eq!(entry(&list, to).last.as_ref().map(|l| l.id), Some(joined));

    let hide = DeleteForMeRequest { with: to, message_ids: vec![joined], clear_up_to: 0 };
    bob.client.call(&hide).await.unwrap();
    let (list, _) = everything(&bob.client, 10).await;
    assert_eq!(entry(&list, to).last, None, "nothing bob may read is left to show");
    assert!(history(&bob.client, to, 10).await.is_empty());
    // Sync of his own log gives nothing of the group either: the Joined
    // message he hid is left out.
    let synced = bob.client.sync_messages(0).await.unwrap();
    assert!(synced.iter().all(|m| m.to != to), "{synced:?}");

    let after = send(&alice.client, to, "said after").await;
    let (list, _) = everything(&bob.client, 10).await;
    let last = entry(&list, to).last.clone().unwrap();
    assert_eq!((last.id, last.preview.as_str()), (after, "said after"));
    // The rule's other readers agree: a message from before his window is
    // no message to him.
    let before = history(&alice.client, to, 10).await[1].id;
    let hide = DeleteForMeRequest { with: to, message_ids: vec![before], clear_up_to: 0 };
    assert_eq!(code(bob.client.call(&hide).await), Some(ErrorCode::NotFound));
    let recall = RecallRequest { with: to, message_id: before };
    assert_eq!(code(bob.client.call(&recall).await), Some(ErrorCode::NotFound));
}
per_transport!(a_newcomer_sees_nothing_from_before_their_window);

/// A read position stands only on messages: a made-up `up_to` (or a
/// clearing point) moves it down to the newest message at or below it, so a
/// peer's log gets at most one read receipt per message, however many
/// `MarkRead`s are made (it used to get one per distinct number).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_receipts_come_at_most_once_per_message() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let m1 = send(&alice.client, Target::User(bob.user_id), "one").await;
    // Another millisecond, so numbers lie between the two ids.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let m2 = send(&alice.client, Target::User(bob.user_id), "two").await;
    let with = Target::User(alice.user_id);

    // Below the first message: no message to stand on, nothing moves.
    for below in [m1 - 3, m1 - 2, m1 - 1] {
        assert_eq!(mark(&bob.client, with, below).await.unwrap().read_up_to, 0);
    }
    // Between the two messages: every number lands on the first.
    for between in m1 + 1..m1 + 40 {
        let position = mark(&bob.client, with, between).await.unwrap();
        assert_eq!((position.read_up_to, position.unread), (m1, 1));
    }
    // A clearing point between them moves nothing further either.
    let clear = DeleteForMeRequest { with, message_ids: vec![], clear_up_to: m1 + 41 };
    let cleared = bob.client.call(&clear).await.unwrap();
    assert_eq!((cleared.cleared_up_to, cleared.read_up_to), (m1, m1));
    assert_eq!(mark(&bob.client, with, u64::MAX).await.unwrap().read_up_to, m2);

    let receipts = logged(&alice, UpdateKind::ReadReceipt).await;
    let ups: Vec<u64> = receipts
        .iter()
        .map(|r| match r {
            UpdateBody::ReadReceipt(r) => r.up_to,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ups, [m1, m2], "one receipt per message read");
    let positions = logged(&bob, UpdateKind::ReadPosition).await;
    assert_eq!(positions.len(), 2, "one position update per message: {positions:?}");
    let clearings = logged(&bob, UpdateKind::DeletedForMe).await;
    assert_eq!(clearings.len(), 1, "{clearings:?}");
}

/// Once a block stands between two users, neither read receipts nor
/// delivery notices pass between them, whoever blocked whom.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_and_delivery_notices_stop_at_a_block() {
    let server = TestServer::start().await;
    for blocker_is_sender in [true, false] {
        let (a, b) = if blocker_is_sender { ("annie", "benny") } else { ("amy", "bobby") };
        let alice = server.user(Kind::Tls, a).await;
        let bob = server.user(Kind::Quic, b).await;
        let m1 = send(&alice.client, Target::User(bob.user_id), "before the block").await;
        let blocker = if blocker_is_sender { &alice } else { &bob };
        let blocked = if blocker_is_sender { bob.user_id } else { alice.user_id };
        blocker.client.call(&BlockRequest { user_id: blocked }).await.unwrap();

        assert_eq!(mark(&bob.client, Target::User(alice.user_id), m1).await.unwrap().read_up_to, m1);
        assert_eq!(bob.client.ack(m1).await.unwrap(), m1);
        assert!(logged(&alice, UpdateKind::ReadReceipt).await.is_empty(), "a read receipt crossed the block");
        assert!(logged(&alice, UpdateKind::Delivered).await.is_empty(), "a delivery notice crossed the block");
    }
    // Without a block both arrive: the test can fail.
    let carol = server.user(Kind::Tls, "carol").await;
    let dave = server.user(Kind::Tcp, "dave").await;
    let m = send(&carol.client, Target::User(dave.user_id), "hello").await;
    mark(&dave.client, Target::User(carol.user_id), m).await.unwrap();
    dave.client.ack(m).await.unwrap();
    assert_eq!(logged(&carol, UpdateKind::ReadReceipt).await.len(), 1);
    assert_eq!(logged(&carol, UpdateKind::Delivered).await.len(), 1);
}

/// An invitation accepted at once (the invitee accepts everyone) reaches
/// every device in id order — the `Joined` message after the invitation —
/// and is not pushed back to the connection that asked, which has its reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_invitations_arrive_in_id_order_and_are_not_echoed() {
    let server = TestServer::start().await;
    let mut alice = server.user(Kind::Tls, "alice").await;
    let (mut laptop, _) = server.device(Kind::Quic, "alice", "alice-laptop", DeviceType::Desktop).await;
    let mut carol = server.user(Kind::Tcp, "carol").await;
    let mut dave = server.user(Kind::Quic, "dave").await;
    accept_everyone(&carol).await;
    accept_everyone(&dave).await;
    for (name, c) in
        [("alice", &mut alice.client), ("alice", &mut laptop), ("carol", &mut carol.client), ("dave", &mut dave.client)]
    {
        pushed_so_far(&server, name, c).await;
    }

    let create = CreateGroupRequest {
        fields: named_group_fields("quick", JoinPolicy::InviteOnly, false),
        members: vec![carol.user_id],
    };
    let reply = alice.client.call(&create).await.unwrap();
    assert_eq!(reply.joined, [carol.user_id]);
    let group = reply.group.group_id;
    let invite = InviteToGroupRequest { group_id: group, user_id: dave.user_id };
    alice.client.call(&invite).await.unwrap();

    for (who, client) in [("carol", &mut carol.client), ("dave", &mut dave.client), ("alice", &mut laptop)] {
        let got = pushed_so_far(&server, who, client).await;
        let ids: Vec<u64> = got.iter().map(|u| u.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{who} got pushes out of id order: {got:?}");
        let invitation = got.iter().position(|u| u.kind == UpdateKind::GroupInvitation as u8);
        assert!(invitation.is_some(), "{who} got no invitation: {got:?}");
    }
    let asked = pushed_so_far(&server, "alice", &mut alice.client).await;
    assert!(
        asked.iter().all(|u| u.kind != UpdateKind::GroupInvitation as u8),
        "the connection that invited got its own invitation back: {asked:?}"
    );
    // They are in her log all the same.
    assert_eq!(logged(&alice, UpdateKind::GroupInvitation).await.len(), 2);
}

async fn profile_of(viewer: &TestUser, user: u64) -> Result<Profile, kith::client::ClientError> {
    Ok(viewer.client.call(&GetProfileRequest { user_id: user }).await?.profile)
}

/// A user hidden from search (`ExactUsername`) is "no such user" to anyone
/// not related to them, so counting user ids up lists nobody hidden; the
/// related — a conversation peer, a fellow group member, the other side of
/// a pending request, a friend — read the profile (it used to be anyone's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_profile_is_for_related_users_only() {
    let server = TestServer::start().await;
    let bob = server.user(Kind::Tls, "bob").await;
    let hide = PrivacyRequest { discoverable: Some(Discoverable::ExactUsername), friend_policy: None, presence: None };
    bob.client.call(&hide).await.unwrap();
    let me = Profile { nickname: "Bob".into(), city: "Lyon".into(), ..Profile::default() };
    bob.client.call(&SetProfileRequest { profile: me.clone() }).await.unwrap();
    let open = server.user(Kind::Tls, "carol").await;

    let stranger = server.user(Kind::Quic, "mallory").await;
    assert_eq!(code(profile_of(&stranger, bob.user_id).await), Some(ErrorCode::NotFound));
    assert_eq!(profile_of(&stranger, open.user_id).await.unwrap(), Profile::default(), "a listed user stays readable");
    assert_eq!(profile_of(&bob, bob.user_id).await.unwrap(), me, "the owner reads their own");

    // Writing first or asking first does not make a stranger related: the
    // owner has to have written back (or read), or asked.
    let peer = server.user(Kind::Tcp, "petra").await;
    let hello = send(&peer.client, Target::User(bob.user_id), "hi bob").await;
    assert_eq!(code(profile_of(&peer, bob.user_id).await), Some(ErrorCode::NotFound), "writing first");
    mark(&bob.client, Target::User(peer.user_id), hello).await.unwrap();
    assert_eq!(profile_of(&peer, bob.user_id).await.unwrap(), me, "a conversation peer bob read");

    let member = server.user(Kind::Tcp, "martin").await;
    let group = common::talk::open_group(&member, &[&bob]).await;
    assert!(group > 0);
    assert_eq!(profile_of(&member, bob.user_id).await.unwrap(), me, "a fellow group member");

    let asker = server.user(Kind::Tcp, "ariane").await;
    asker.client.call(&AddFriendRequest { user_id: bob.user_id, message: String::new() }).await.unwrap();
    assert_eq!(code(profile_of(&asker, bob.user_id).await), Some(ErrorCode::NotFound), "asking first");
    let asked = server.user(Kind::Tcp, "aurore").await;
    bob.client.call(&AddFriendRequest { user_id: asked.user_id, message: String::new() }).await.unwrap();
    assert_eq!(profile_of(&asked, bob.user_id).await.unwrap(), me, "someone bob asked");

    // The stranger is still a stranger, whatever the others did.
    assert_eq!(code(profile_of(&stranger, bob.user_id).await), Some(ErrorCode::NotFound));
}

/// Lookups of users one is not related to count against a quota, found or
/// not; lookups of related users do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_of_strangers_are_limited() {
    let server = TestServer::start_with(|c| c.social.profile_lookups_per_hour = 5).await;
    let prober = server.user(Kind::Tls, "prober").await;
    let friend = server.user(Kind::Tls, "friendly").await;
    send(&prober.client, Target::User(friend.user_id), "we talk").await;
    send(&friend.client, Target::User(prober.user_id), "we do").await;
    let mut refused = None;
    for id in 1..=20u64 {
        if id == prober.user_id || id == friend.user_id {
            continue;
        }
        if let Err(e) = profile_of(&prober, id).await {
            if e.code() == Some(ErrorCode::RateLimited) {
                refused = Some((id, e));
                break;
            }
        }
    }
    let (at, e) = refused.expect("the quota ran out");
    assert_eq!(at, 8, "five strangers' ids (3..=7 after the two related) went through, the sixth did not");
    assert_eq!(e.limit(), Some(5));
    assert!(e.retry_after().is_some());
    // Related users and oneself are not counted.
    assert!(profile_of(&prober, friend.user_id).await.is_ok());
    assert!(profile_of(&prober, prober.user_id).await.is_ok());
}

/// Each personal field is shown to everyone, to friends or to nobody but
/// the owner, as the owner set it with `ProfileVisibility`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_fields_follow_their_audience() {
    let server = TestServer::start().await;
    let bob = server.user(Kind::Tls, "bob").await;
    let alice = server.user(Kind::Quic, "alice").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let request = alice.client.call(&AddFriendRequest { user_id: bob.user_id, message: String::new() }).await.unwrap();
    bob.client.call(&AnswerFriendRequest { request_id: request.id, accept: true }).await.unwrap();
    let full = Profile {
        nickname: "Bob".into(),
        birth_date: Some(BirthDate { year: 1990, month: 2, day: 28 }),
        city: "Lyon".into(),
        province: "Rhône".into(),
        ..Profile::default()
    };
    bob.client.call(&SetProfileRequest { profile: full.clone() }).await.unwrap();
    let read = bob.client.call(&ProfileVisibilityRequest { set: None }).await.unwrap();
    assert_eq!(
        read,
        FieldVisibility { birth_date: Audience::Everyone, city: Audience::Everyone, province: Audience::Everyone }
    );
    assert_eq!(profile_of(&carol, bob.user_id).await.unwrap(), full, "everyone sees every field by default");

    let set = FieldVisibility { birth_date: Audience::Friends, city: Audience::Nobody, province: Audience::Everyone };
    assert_eq!(bob.client.call(&ProfileVisibilityRequest { set: Some(set) }).await.unwrap(), set);
    assert_eq!(bob.client.call(&ProfileVisibilityRequest { set: None }).await.unwrap(), set);

    assert_eq!(profile_of(&bob, bob.user_id).await.unwrap(), full, "the owner sees everything");
    let to_friend = profile_of(&alice, bob.user_id).await.unwrap();
    assert_eq!(
        (to_friend.birth_date, to_friend.city.as_str(), to_friend.province.as_str()),
        (full.birth_date, "", "Rhône")
    );
    let to_stranger = profile_of(&carol, bob.user_id).await.unwrap();
    assert_eq!((to_stranger.birth_date, to_stranger.city.as_str(), to_stranger.province.as_str()), (None, "", "Rhône"));
    assert_eq!(to_stranger.nickname, "Bob", "the public fields stay");

    // A value outside the enumeration is a malformed body.
    let raw = bob.client.request_raw(Action::ProfileVisibility as u8, vec![1, 2, 9, 1]).await.unwrap();
    assert_eq!(raw.action, ERROR_ACTION);
    assert_eq!(decode_wire::<ErrorBody>(&raw.body).unwrap().error_code(), Some(ErrorCode::MalformedBody));
}

async fn search(
    user: &TestUser,
    query: &str,
    cursor: Vec<u8>,
    limit: u16,
) -> Result<UserPage, kith::client::ClientError> {
    user.client.call(&SearchUsersRequest { query: query.into(), cursor, limit }).await
}

async fn nickname(user: &TestUser, name: &str) -> Result<UserProfile, kith::client::ClientError> {
    user.client.call(&SetProfileRequest { profile: Profile { nickname: name.into(), ..Profile::default() } }).await
}

/// A search cursor may stop on a user the search leaves out (hidden,
/// blocked, disabled); it used to be the raw index key, naming them. Now it
/// is sealed: it holds no name or id in the clear, and a forged cursor, one
/// of another query or of another searcher is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_cursors_reveal_nothing() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let eve = server.user(Kind::Tls, "eve").await;
    let mut hidden_ids = Vec::new();
    for i in 0..3 {
        let u = server.user(Kind::Tcp, &format!("zed{i}")).await;
        nickname(&u, &format!("zorro hidden {i}")).await.unwrap();
        let hide =
            PrivacyRequest { discoverable: Some(Discoverable::ExactUsername), friend_policy: None, presence: None };
        u.client.call(&hide).await.unwrap();
        hidden_ids.push(u.user_id);
    }
    let shown = server.user(Kind::Tcp, "zara").await;
    nickname(&shown, "zorro shown").await.unwrap();

    let mut found = Vec::new();
    let mut cursor = Vec::new();
    let mut cursors = Vec::new();
    loop {
        let page = search(&alice, "zorro", cursor.clone(), 1).await.unwrap();
        found.extend(page.users.iter().map(|u| u.user_id));
        cursors.push(page.cursor.clone());
        if !page.more {
            break;
        }
        cursor = page.cursor;
    }
    assert_eq!(found, [shown.user_id], "only the listed user is found, once");
    for c in cursors.iter().filter(|c| !c.is_empty()) {
        for needle in [&b"zorro"[..], &b"hidden"[..]] {
            assert!(!c.windows(needle.len()).any(|w| w == needle), "a cursor names {needle:?}: {c:?}");
        }
        for id in &hidden_ids {
            assert!(!c.windows(8).any(|w| w == id.to_be_bytes()), "a cursor holds user id {id}: {c:?}");
        }
    }
    let sealed = cursors.iter().find(|c| !c.is_empty()).cloned().expect("a cursor to page on");
    assert!(search(&alice, "zorro", sealed.clone(), 1).await.is_ok());
    // The raw index key as cursors used to be: refused.
    let mut forged = b"zorro hidden 1".to_vec();
    forged.push(0);
    forged.extend_from_slice(&hidden_ids[1].to_be_bytes());
    assert_eq!(code(search(&alice, "zorro", forged, 1).await), Some(ErrorCode::InvalidArgument));
    // Another query, another searcher, a bit flipped: refused.
    assert_eq!(code(search(&alice, "zor", sealed.clone(), 1).await), Some(ErrorCode::InvalidArgument));
    assert_eq!(code(search(&eve, "zorro", sealed.clone(), 1).await), Some(ErrorCode::InvalidArgument));
    let mut flipped = sealed;
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(code(search(&alice, "zorro", flipped, 1).await), Some(ErrorCode::InvalidArgument));
}

/// Names that disguise themselves are refused — bidirectional overrides,
/// zero-width and filler characters, invisible-only text — in nicknames,
/// remarks, group names and aliases; names are stored in NFC, and search
/// matches by compatibility form and case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disguised_names_are_refused_and_names_are_normalised() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    for bad in ["adm\u{202E}nimda", "\u{2067}bob", "b\u{200B}ob", "\u{3164}", "\u{3164}\u{3164}", "\u{115F}x\u{2060}"] {
        let e = nickname(&alice, bad).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidArgument), "{bad:?}");
        assert!(e.to_string().contains("nickname"), "{bad:?}: {e}");
        let remark = SetRemarkRequest { user_id: bob.user_id, remark: bad.into() };
        assert_eq!(code(alice.client.call(&remark).await), Some(ErrorCode::InvalidArgument), "remark {bad:?}");
        let create = CreateGroupRequest { fields: named_group_fields(bad, JoinPolicy::Open, false), members: vec![] };
        assert_eq!(code(alice.client.call(&create).await), Some(ErrorCode::InvalidArgument), "group name {bad:?}");
    }
    let group = common::talk::open_group(&alice, &[]).await;
    let alias = SetAliasRequest { group_id: group, alias: "\u{202E}nimda".into() };
    assert_eq!(code(alice.client.call(&alias).await), Some(ErrorCode::InvalidArgument));

    // Stored in NFC: "e" and a combining accent become one "é".
    let set = nickname(&bob, "Ame\u{0301}lie").await.unwrap();
    assert_eq!(set.profile.nickname, "Am\u{00E9}lie");
    assert_eq!(profile_of(&alice, bob.user_id).await.unwrap().nickname, "Am\u{00E9}lie");
    // Persian needs the zero-width non-joiner between two letters.
    nickname(&alice, "می\u{200C}خواهم").await.unwrap();

    // Search by compatibility form and case: full-width letters find the name.
    let mike = server.user(Kind::Tcp, "mike").await;
    nickname(&mike, "Mike").await.unwrap();
    for query in ["mike", "ＭＩＫＥ", "Ｍi"] {
        let page = search(&alice, query, Vec::new(), 10).await.unwrap();
        assert!(page.users.iter().any(|u| u.user_id == mike.user_id), "{query} finds Mike: {page:?}");
    }
}

/// Data of the layout before names were folded by compatibility form (the
/// nickname index keyed by the lower-cased nickname) is migrated when
/// opened: the index is rebuilt, so a full-width nickname stored then is
/// found by plain letters now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nickname_index_is_rebuilt_by_the_migration() {
    let mut server = TestServer::start().await;
    let wide = server.user(Kind::Tls, "wide").await;
    nickname(&wide, "Ｗｉｄｅ").await.unwrap();
    let id = wide.user_id;
    drop(wide);
    server.stop().await;
    {
        // Back to version 6: the index entry as that version wrote it.
        let db = sled::open(server.data_dir().join("sled")).unwrap();
        let tree = db.open_tree("kith").unwrap();
        let key = |name: &str| {
            let mut k = vec![0x42];
            k.extend_from_slice(name.as_bytes());
            k.push(0);
            k.extend_from_slice(&id.to_be_bytes());
            k
        };
        assert!(tree.remove(key("wide")).unwrap().is_some(), "the index holds the fold");
        tree.insert(key("ｗｉｄｅ"), &[] as &[u8]).unwrap();
        common::layout::back_to(&tree, 6);
        db.flush().unwrap();
    }
    server.restart().await;
    let seeker = server.user(Kind::Tls, "seeker").await;
    let page = search(&seeker, "wid", Vec::new(), 10).await.unwrap();
    assert_eq!(page.users.iter().map(|u| u.user_id).collect::<Vec<_>>(), [id]);
}

async fn invitations(user: &TestUser) -> Vec<kith::protocol::InvitationInfo> {
    user.client.call(&ListInvitationsRequest { after: 0, limit: 100 }).await.unwrap().invitations
}

/// Dissolving a group clears the invitations into it (they used to stay
/// listed, as `Expired`, until each invitee answered), and each invitee is
/// told by a `GroupInvitation` update with state `Expired`, live and by
/// `Sync` under the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_into_a_dissolved_group_are_cleared() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let mut bob = server.user(Kind::Quic, "bob").await;
    let create =
        CreateGroupRequest { fields: named_group_fields("brief", JoinPolicy::InviteOnly, false), members: vec![] };
    let group = alice.client.call(&create).await.unwrap().group.group_id;
    alice.client.call(&InviteToGroupRequest { group_id: group, user_id: bob.user_id }).await.unwrap();
    pushed(&mut bob.client, UpdateKind::GroupInvitation).await;
    assert_eq!(invitations(&bob).await.len(), 1);

    alice.client.call(&DissolveGroupRequest { group_id: group }).await.unwrap();
    let (update, body) = pushed(&mut bob.client, UpdateKind::GroupInvitation).await;
    let UpdateBody::GroupInvitation(info) = body else { panic!("{body:?}") };
    assert_eq!((info.group_id, info.state), (group, RequestState::Expired));
    let synced = bob.client.sync_all(0).await.unwrap();
    assert!(synced.iter().any(|u| u.id == update.id && u.body == update.body), "the notice is in his log");
    assert!(invitations(&bob).await.is_empty(), "nothing is left to answer");
    let answer = AnswerInvitationRequest { group_id: group, accept: true };
    assert_eq!(code(bob.client.call(&answer).await), Some(ErrorCode::NotFound));
}

/// Data of the layout before invitations were indexed by group is migrated
/// when opened: invitations into groups that no longer exist go, the others
/// are indexed, so dissolving their group clears them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_indexed_by_the_migration() {
    let mut server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let create =
        CreateGroupRequest { fields: named_group_fields("kept", JoinPolicy::InviteOnly, false), members: vec![] };
    let group = alice.client.call(&create).await.unwrap().group.group_id;
    alice.client.call(&InviteToGroupRequest { group_id: group, user_id: bob.user_id }).await.unwrap();
    let (bob_id, alice_id) = (bob.user_id, alice.user_id);
    drop((alice, bob));
    server.stop().await;
    {
        // Back to version 7: no index by group, and an invitation into a
        // group dissolved then, which that version kept.
        let db = sled::open(server.data_dir().join("sled")).unwrap();
        let tree = db.open_tree("kith").unwrap();
        let key = |prefix: u8, a: u64, b: u64| [&[prefix][..], &a.to_be_bytes(), &b.to_be_bytes()].concat();
        assert!(tree.remove(key(0x59, group, bob_id)).unwrap().is_some(), "the invitation is indexed by group");
        let gone = group + 1_000;
        // The stored shape of an invitation: its id and who sent it.
        #[derive(serde::Serialize)]
        struct GroupInvitation {
            id: u64,
            by: u64,
        }
        let stale = GroupInvitation { id: gone, by: alice_id };
        tree.insert(key(0x55, bob_id, gone), kith::codec::encode_stored(&stale)).unwrap();
        common::layout::back_to(&tree, 7);
        db.flush().unwrap();
    }
    server.restart().await;
    let (alice, _) = server.device(Kind::Tls, "alice", "alice-tablet", DeviceType::Tablet).await;
    let (bob, _) = server.device(Kind::Tcp, "bob", "bob-tablet", DeviceType::Tablet).await;
    let listed = bob.call(&ListInvitationsRequest { after: 0, limit: 100 }).await.unwrap().invitations;
    assert_eq!(listed.iter().map(|i| i.group_id).collect::<Vec<_>>(), [group], "the stale one is gone");
    alice.call(&DissolveGroupRequest { group_id: group }).await.unwrap();
    let listed = bob.call(&ListInvitationsRequest { after: 0, limit: 100 }).await.unwrap().invitations;
    assert!(listed.is_empty(), "the migrated invitation was found by its group: {listed:?}");
}

/// A user keeps the windows of at most `group.left_groups_kept` groups they
/// left; past it the group left longest ago is forgotten (it used to grow
/// with every group ever left, and anyone could add to it by inviting an
/// accept-everyone user and kicking them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_windows_of_groups_left_are_bounded() {
    let server = TestServer::start_with(|c| c.group.left_groups_kept = 2).await;
    let owner = server.user(Kind::Tls, "olga").await;
    let visitor = server.user(Kind::Tcp, "vera").await;
    let mut groups = Vec::new();
    for name in ["first", "second", "third"] {
        let create = CreateGroupRequest { fields: named_group_fields(name, JoinPolicy::Open, false), members: vec![] };
        let group = owner.client.call(&create).await.unwrap().group.group_id;
        visitor.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
        send(&owner.client, Target::Group(group), name).await;
        visitor.client.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
        groups.push(group);
    }
    let read = |group: u64| visitor.client.history(Target::Group(group), Direction::After, 0, 10);
    assert_eq!(code(read(groups[0]).await), Some(ErrorCode::NotPermitted), "the first group left is forgotten");
    for group in &groups[1..] {
        let page = read(*group).await.unwrap();
        assert_eq!(page.messages.len(), 3, "Joined, the owner's text, Left: {page:?}");
    }
}

/// A member of a group sends twelve messages over a couple of seconds (so
/// their ids fall in different ranges at several levels of the recall
/// counts) and recalls five; another member's unread count, read after
/// every message in turn, leaves out exactly the recalled ones above it.
async fn recalls_over_ranges(server: &TestServer) -> (TestUser, u64, Vec<u64>, Vec<bool>) {
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Quic, "carol").await;
    let group = common::talk::open_group(&alice, &[&bob, &carol]).await;
    let to = Target::Group(group);
    let pauses = [0u64, 6, 70, 1_100];
    let mut sent = Vec::new();
    for i in 0..12 {
        tokio::time::sleep(Duration::from_millis(pauses[i % pauses.len()])).await;
        sent.push(send(&bob.client, to, &format!("m{i}")).await);
    }
    let recalled: Vec<bool> = (0..12).map(|i| [1, 4, 5, 8, 11].contains(&i)).collect();
    for (id, _) in sent.iter().zip(&recalled).filter(|(_, r)| **r) {
        bob.client.call(&RecallRequest { with: to, message_id: *id }).await.unwrap();
    }
    (carol, group, sent, recalled)
}

fn left_after(k: Option<usize>, recalled: &[bool]) -> u32 {
    let from = k.map_or(0, |k| k + 1);
    recalled[from..].iter().filter(|r| !**r).count() as u32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_counts_stay_exact_across_many_recalls() {
    let server = TestServer::start().await;
    let (carol, group, sent, recalled) = recalls_over_ranges(&server).await;
    let to = Target::Group(group);
    let (list, badge) = everything(&carol.client, 10).await;
    assert_eq!((entry(&list, to).unread, badge), (left_after(None, &recalled), 7));
    for (k, id) in sent.iter().enumerate() {
        let position = mark(&carol.client, to, *id).await.unwrap();
        assert_eq!(position.unread, left_after(Some(k), &recalled), "read up to message {k}");
    }
}

/// Data of the layout before recalls were counted by range is migrated when
/// opened: the counts are built from the recall marks, so unread counts
/// stay exact after the upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_counts_are_built_by_the_migration() {
    let mut server = TestServer::start().await;
    let (carol, group, _, recalled) = recalls_over_ranges(&server).await;
    drop(carol);
    server.stop().await;
    {
        // Back to version 8: recall marks, no counts.
        let db = sled::open(server.data_dir().join("sled")).unwrap();
        let tree = db.open_tree("kith").unwrap();
        let counts: Vec<_> = tree.scan_prefix([0x6a]).keys().map(|k| k.unwrap()).collect();
        assert!(!counts.is_empty(), "recalls are counted by range");
        for key in counts {
            tree.remove(key).unwrap();
        }
        common::layout::back_to(&tree, 8);
        db.flush().unwrap();
    }
    server.restart().await;
    let (carol, _) = server.device(Kind::Tls, "carol", "carol-tablet", DeviceType::Tablet).await;
    let (list, _) = everything(&carol, 10).await;
    assert_eq!(entry(&list, Target::Group(group)).unread, left_after(None, &recalled));
}

/// The first page of the client's log once the sweep removed a notice
/// from it (it runs in the background; `deadline` bounds the wait).
async fn swept(client: &kith::client::Client, deadline: tokio::time::Instant) -> kith::protocol::SyncPage {
    loop {
        let page = client.sync_page(0, 100).await.unwrap();
        if page.notices_dropped > 0 {
            return page;
        }
        assert!(tokio::time::Instant::now() < deadline, "no notice was swept: {page:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Notices older than `conversation.notices_kept_secs` leave the update log
/// (it used to grow for ever from requests, receipts and invitations, even
/// for a user who never syncs); messages stay. A `Sync` from before the
/// newest notice removed says so, and one from after it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_past_the_horizon_leave_the_log_and_sync_says_so() {
    let server = TestServer::start_with(|c| {
        c.conversation.notices_kept_secs = 2;
        c.conversation.purge_interval_secs = 1;
    })
    .await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let asked = alice.client.call(&AddFriendRequest { user_id: bob.user_id, message: "hi".into() }).await.unwrap();
    alice.client.call(&AddFriendRequest { user_id: carol.user_id, message: "hi".into() }).await.unwrap();
    let said = send(&alice.client, Target::User(bob.user_id), "a message stays").await;
    let before = bob.client.sync_page(0, 100).await.unwrap();
    assert_eq!(before.notices_dropped, 0);
    assert!(before.updates.iter().any(|u| u.id == asked.id), "the request is a notice in his log");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let after = swept(&bob.client, deadline).await;
    let ids: Vec<u64> = after.updates.iter().map(|u| u.id).collect();
    assert!(!ids.contains(&asked.id), "the friend request left the log: {ids:?}");
    assert!(ids.contains(&said), "the message stays: {ids:?}");
    assert!(after.notices_dropped >= asked.id);
    assert_eq!(bob.client.sync_page(after.notices_dropped, 100).await.unwrap().notices_dropped, 0);
    // The request itself stands: the state the notice described is there
    // to re-read.
    let incoming = ListFriendRequestsRequest { direction: RequestBox::Incoming, before: 0, limit: 10 };
    let listed = bob.client.call(&incoming).await.unwrap();
    assert_eq!(listed.requests.iter().map(|r| r.id).collect::<Vec<_>>(), [asked.id]);
    // Carol's log held only notices: it is empty now, and her device moves
    // its cursor to the newest removed, after which Sync says nothing more.
    let page = swept(&carol.client, deadline).await;
    assert!(page.updates.is_empty(), "{page:?}");
    assert_eq!(carol.client.ack(page.notices_dropped).await.unwrap(), page.notices_dropped);
    assert_eq!(carol.client.sync_page(page.notices_dropped, 100).await.unwrap().notices_dropped, 0);
}
