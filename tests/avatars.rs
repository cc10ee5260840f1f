//! Avatars are files: a profile or a group names the media id of an image
//! its setter uploaded; whoever may read the profile, or see the group, may
//! read the file, by `GetMedia` and by a signed URL alike; a new avatar, a
//! block, a hidden profile or a dissolved group ends that at once; the sweep
//! keeps a file while it is shown and deletes it after; and data of the
//! layout before, with avatar strings, opens with them cleared.

use crate::common;
use crate::media::{noise, reads};

use std::time::Duration;

use common::layout::MessageV10;
use common::process::stats;
use common::talk::{befriend, code, event, group_fields, history, open_group, pushed};
use common::{Kind, TestServer, TestUser};
use kith::client::FileShape;
use kith::codec::{decode_stored, decode_wire, encode_stored, encode_wire};
use kith::protocol::{
    AddFriendRequest, AnswerFriendRequest, AnswerInvitationRequest, BlockRequest, CreateGroupRequest, Discoverable,
    DissolveGroupRequest, ErrorCode, FriendRequestInfo, GetGroupRequest, GetProfileRequest, GroupEvent, GroupFields,
    JoinPolicy, MediaPurpose, MessageKind, PrivacyRequest, Profile, SetProfileRequest, Target, UpdateBody,
    UpdateGroupRequest, UpdateKind,
};
use kith::storage::schema;
use serde::{Deserialize, Serialize};

/// Uploads an image for `purpose`; returns its media id.
async fn picture(user: &TestUser, purpose: MediaPurpose) -> u64 {
    let shape = FileShape { mime: "image/png", purpose, size_px: (96, 96), duration_ms: 0 };
    user.client.upload(&noise(4000), shape).await.expect("uploads").media_id
}

async fn set_avatar(user: &TestUser, avatar: u64) -> Result<Profile, kith::client::ClientError> {
    let profile = Profile { nickname: user.name.clone(), avatar, ..Profile::default() };
    user.client.call(&SetProfileRequest { profile }).await.map(|p| p.profile)
}

/// A profile's avatar is read by whoever may read the profile: a friend
/// always, a stranger while the profile is listed; not across a block, not
/// once another avatar replaces it. Only one's own image may be an avatar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profiles_avatar_is_read_by_whoever_may_read_the_profile() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let friend = server.user(Kind::Quic, "friend").await;
    let stranger = server.user(Kind::Tcp, "stranger").await;
    befriend(&alice, &friend).await;

    let face = picture(&alice, MediaPurpose::Avatar).await;
    assert_eq!(reads(&friend.client, face).await, (false, false), "not before it is shown");
    assert_eq!(set_avatar(&alice, face).await.unwrap().avatar, face);
    let card = stranger.client.call(&GetProfileRequest { user_id: alice.user_id }).await.unwrap();
    assert_eq!(card.profile.avatar, face, "the profile names its file");
    assert_eq!(reads(&friend.client, face).await, (true, true), "a friend");
    assert_eq!(reads(&stranger.client, face).await, (true, true), "a stranger, while alice is listed");
    assert_eq!(stranger.client.download(face).await.unwrap().len(), 4000);

    // Hidden from search, alice is "no such user" to strangers: so is her avatar.
    let hidden =
        PrivacyRequest { discoverable: Some(Discoverable::ExactUsername), friend_policy: None, presence: None };
    alice.client.call(&hidden).await.unwrap();
    assert_eq!(reads(&stranger.client, face).await, (false, false), "a stranger, once alice is hidden");
    assert_eq!(reads(&friend.client, face).await, (true, true), "a friend still");
    friend.client.call(&BlockRequest { user_id: alice.user_id }).await.unwrap();
    assert_eq!(reads(&friend.client, face).await, (false, false), "across a block");

    // A new avatar: the old file is alice's alone again.
    let listed = PrivacyRequest { discoverable: Some(Discoverable::Everyone), friend_policy: None, presence: None };
    alice.client.call(&listed).await.unwrap();
    let newer = picture(&alice, MediaPurpose::Avatar).await;
    set_avatar(&alice, newer).await.unwrap();
    assert_eq!(reads(&stranger.client, newer).await, (true, true), "the new one");
    assert_eq!(reads(&stranger.client, face).await, (false, false), "the old one");
    assert_eq!(reads(&alice.client, face).await, (true, true), "its uploader keeps it");

    // Refusals, each naming the field, and the profile unchanged.
    let theirs = picture(&stranger, MediaPurpose::Avatar).await;
    let refused = set_avatar(&alice, theirs).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::NotFound), "someone else's file: {refused}");
    assert!(refused.to_string().contains("avatar"), "{refused}");
    assert_eq!(code(set_avatar(&alice, 999_999).await), Some(ErrorCode::NotFound), "no such file");
    let text = FileShape { mime: "text/plain", purpose: MediaPurpose::Avatar, size_px: (0, 0), duration_ms: 0 };
    let notes = alice.client.upload(b"not a picture", text).await.unwrap().media_id;
    let refused = set_avatar(&alice, notes).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InvalidArgument), "not an image: {refused}");
    assert!(refused.to_string().contains("avatar"), "{refused}");
    let now = alice.client.call(&GetProfileRequest { user_id: alice.user_id }).await.unwrap();
    assert_eq!(now.profile.avatar, newer, "a refused change changes nothing");
}

/// Reading a stranger's avatar counts no profile lookup: an image loader
/// fetches it again and again, chunk by chunk, and must not use up the
/// reader's lookups of strangers (`social.profile_lookups_per_hour`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_an_avatar_counts_no_profile_lookup() {
    let server = TestServer::start_with(|c| c.social.profile_lookups_per_hour = 1).await;
    let alice = server.user(Kind::Tls, "alice").await;
    let stranger = server.user(Kind::Tcp, "stranger").await;
    let face = picture(&alice, MediaPurpose::Avatar).await;
    set_avatar(&alice, face).await.unwrap();
    for _ in 0..4 {
        assert_eq!(reads(&stranger.client, face).await, (true, true));
    }
    let lookup = GetProfileRequest { user_id: alice.user_id };
    assert_eq!(stranger.client.call(&lookup).await.unwrap().profile.avatar, face, "the one lookup is still there");
    assert_eq!(code(stranger.client.call(&lookup).await), Some(ErrorCode::RateLimited), "and then used up");
}

fn fields(join_policy: JoinPolicy, avatar: u64) -> GroupFields {
    GroupFields { avatar, ..group_fields(join_policy) }
}

/// A group's avatar is read by its members, and by anyone not banned once
/// the group is not invite-only; set by the owner or an admin with their
/// own image; gone for everyone but its uploader when the group is dissolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_groups_avatar_is_read_by_whoever_may_see_the_group() {
    let server = TestServer::start().await;
    let owner = server.user(Kind::Tls, "owner").await;
    let member = server.user(Kind::Quic, "member").await;
    let outsider = server.user(Kind::Tcp, "outsider").await;
    let badge = picture(&owner, MediaPurpose::GroupAvatar).await;
    let create = CreateGroupRequest { fields: fields(JoinPolicy::InviteOnly, badge), members: vec![member.user_id] };
    let created = owner.client.call(&create).await.unwrap();
    let group = created.group.group_id;
    assert_eq!(created.group.avatar, badge);
    if created.invited.contains(&member.user_id) {
        member.client.call(&AnswerInvitationRequest { group_id: group, accept: true }).await.unwrap();
    }
    assert_eq!(reads(&member.client, badge).await, (true, true), "a member");
    assert_eq!(reads(&outsider.client, badge).await, (false, false), "an outsider of an invite-only group");

    let update = UpdateGroupRequest { group_id: group, fields: fields(JoinPolicy::Open, badge) };
    owner.client.call(&update).await.unwrap();
    let seen = outsider.client.call(&GetGroupRequest { group_id: group }).await.unwrap();
    assert_eq!(seen.avatar, badge);
    assert_eq!(reads(&outsider.client, badge).await, (true, true), "anyone, once the group is open");

    let theirs = picture(&member, MediaPurpose::GroupAvatar).await;
    let update = UpdateGroupRequest { group_id: group, fields: fields(JoinPolicy::Open, theirs) };
    assert_eq!(code(owner.client.call(&update).await), Some(ErrorCode::NotFound), "someone else's file");
    assert_eq!(code(member.client.call(&update).await), Some(ErrorCode::NotPermitted), "a plain member");

    owner.client.call(&DissolveGroupRequest { group_id: group }).await.unwrap();
    assert_eq!(reads(&member.client, badge).await, (false, false), "a former member, once dissolved");
    assert_eq!(reads(&owner.client, badge).await, (true, true), "its uploader keeps it");
}

/// The sweep keeps a file while a profile or group shows it, however long,
/// and deletes it once nothing does, after the grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_keeps_an_avatar_while_it_is_shown() {
    let server = TestServer::start_with(|c| {
        c.media.orphan_grace_secs = 1;
        c.media.sweep_interval_secs = 1;
    })
    .await;
    let alice = server.user(Kind::Tls, "alice").await;
    let face = picture(&alice, MediaPurpose::Avatar).await;
    set_avatar(&alice, face).await.unwrap();
    let group = open_group(&alice, &[]).await;
    let badge = picture(&alice, MediaPurpose::GroupAvatar).await;
    let update = UpdateGroupRequest { group_id: group, fields: fields(JoinPolicy::Open, badge) };
    alice.client.call(&update).await.unwrap();
    let unsent = picture(&alice, MediaPurpose::Message).await;

    let files = || stats(&server.data_dir())["media_files"].as_u64().unwrap();
    wait_for(|| files() == 2, "the sweep deletes the unsent file").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(files(), 2, "three rounds later, both avatars are kept");
    assert_eq!(reads(&alice.client, unsent).await, (false, false));

    set_avatar(&alice, 0).await.unwrap();
    wait_for(|| files() == 1, "the sweep deletes the avatar no profile shows").await;
    assert_eq!(reads(&alice.client, face).await, (false, false), "the old avatar is gone");
    assert_eq!(reads(&alice.client, badge).await, (true, true), "the group's stays");
}

async fn wait_for(done: impl Fn() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}: not within 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What layout version 9 stored: a card with its avatar a string.
#[derive(Serialize)]
struct OldCard {
    user_id: u64,
    username: String,
    nickname: String,
    avatar: String,
}

/// A profile of layout version 9.
#[derive(Serialize)]
struct OldProfile {
    nickname: String,
    avatar: String,
    gender: u8,
    birth_date: Option<(u16, u8, u8)>,
    signature: String,
    city: String,
    province: String,
    extra: String,
}

/// A group's fields of layout version 9.
#[derive(Serialize)]
struct OldFields {
    name: String,
    avatar: String,
    introduction: String,
    announcement: String,
    join_policy: u8,
    history_visible: bool,
}

fn old_fields(f: GroupFields) -> OldFields {
    OldFields {
        name: f.name,
        avatar: "media:77".into(),
        introduction: f.introduction,
        announcement: f.announcement,
        join_policy: f.join_policy as u8,
        history_visible: f.history_visible,
    }
}

/// A group record as stored, its fields of either shape.
#[derive(Serialize, Deserialize)]
struct Record<F> {
    fields: F,
    muted: bool,
    owner: u64,
    member_count: u32,
    roster: u64,
}

/// Data of layout version 9, its avatars strings — in a profile, a group
/// record, the friend request notices of both parties' update logs and a
/// group's `InfoChanged` event — opens with every avatar cleared and
/// everything else kept: profile, group, notices (read by `Sync`) and the
/// event in the group's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatar_strings_are_cleared_by_the_migration() {
    let mut server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let profile = Profile { nickname: "Alice".into(), city: "Quillhaven".into(), ..Profile::default() };
    alice.client.call(&SetProfileRequest { profile: profile.clone() }).await.unwrap();
    let request = bob.client.call(&AddFriendRequest { user_id: alice.user_id, message: "hi".into() }).await.unwrap();
    let group = open_group(&alice, &[]).await;
    let renamed = GroupFields { introduction: "walking on sundays".into(), ..group_fields(JoinPolicy::Open) };
    alice.client.call(&UpdateGroupRequest { group_id: group, fields: renamed.clone() }).await.unwrap();
    let (alice_id, bob_id) = (alice.user_id, bob.user_id);
    drop((alice, bob));
    server.stop().await;
    {
        // Back to version 9: each avatar a string.
        let db = sled::open(server.data_dir().join("sled")).unwrap();
        let tree = db.open_tree("kith").unwrap();
        let key = |prefix: u8, id: u64| [&[prefix][..], &id.to_be_bytes()].concat();
        let old = OldProfile {
            nickname: profile.nickname.clone(),
            avatar: "media:77".into(),
            gender: 0,
            birth_date: None,
            signature: String::new(),
            city: profile.city.clone(),
            province: String::new(),
            extra: String::new(),
        };
        tree.insert(key(schema::USERID_PROFILE.prefix, alice_id), encode_stored(&old)).unwrap();

        let record: Record<GroupFields> =
            decode_stored(&tree.get(key(schema::GROUPID_GROUP.prefix, group)).unwrap().unwrap()).unwrap();
        let record = Record {
            fields: old_fields(record.fields),
            muted: record.muted,
            owner: record.owner,
            member_count: record.member_count,
            roster: record.roster,
        };
        tree.insert(key(schema::GROUPID_GROUP.prefix, group), encode_stored(&record)).unwrap();

        let mut notices = 0;
        for entry in tree.scan_prefix([schema::USERUPDATE_UPDATE.prefix]) {
            let (k, value) = entry.unwrap();
            // An inline notice: variant 1, its kind, its wire body.
            if value[0] != 1 || value[1] != UpdateKind::FriendRequest as u8 {
                continue;
            }
            let (kind, body): (u8, Vec<u8>) = decode_stored(&value[1..]).unwrap();
            let info: FriendRequestInfo = decode_wire(&body).unwrap();
            let card = |c: kith::protocol::UserCard| OldCard {
                user_id: c.user_id,
                username: c.username,
                nickname: c.nickname,
                avatar: "media:77".into(),
            };
            let old = (info.id, card(info.from), card(info.to), info.message, info.state as u8, info.expires_at);
            let body = encode_wire(&(old, info.answered_at));
            tree.insert(k, [&[1u8][..], &encode_stored(&(kind, body))].concat()).unwrap();
            notices += 1;
        }
        assert_eq!(notices, 2, "the request, in bob's log and alice's");

        let mut events = 0;
        common::layout::back_to(&tree, 9);
        for entry in tree.scan_prefix([schema::CONVMESSAGE_MESSAGE.prefix]) {
            let (k, value) = entry.unwrap();
            let message: MessageV10 = decode_stored(&value).unwrap();
            if message.kind != MessageKind::System as u8 {
                continue;
            }
            let Ok(GroupEvent::InfoChanged { by, fields }) = decode_wire(&message.content) else { continue };
            let index: [u8; 4] = message.content[..4].try_into().unwrap();
            let content = encode_wire(&(u32::from_be_bytes(index), by, old_fields(fields)));
            tree.insert(k, encode_stored(&MessageV10 { content, ..message })).unwrap();
            events += 1;
        }
        assert_eq!(events, 1, "the InfoChanged event");
        db.flush().unwrap();
    }
    server.restart().await;
    let alice = server.device(Kind::Tls, "alice", "alice-tablet", kith::protocol::DeviceType::Tablet).await.0;
    let mut bob = server.device(Kind::Quic, "bob", "bob-tablet", kith::protocol::DeviceType::Tablet).await.0;

    let seen = bob.call(&GetProfileRequest { user_id: alice_id }).await.unwrap();
    assert_eq!(seen.profile, profile, "the profile, its avatar cleared");
    let info = bob.call(&GetGroupRequest { group_id: group }).await.unwrap();
    assert_eq!((info.avatar, info.introduction.as_str()), (0, "walking on sundays"));
    for (client, who) in [(&alice, "alice"), (&bob, "bob")] {
        let synced = client.sync_all(0).await.unwrap();
        let notice = synced.iter().find(|u| u.id == request.id).unwrap_or_else(|| panic!("{who}'s notice"));
        let Ok(Some(UpdateBody::FriendRequest(info))) = notice.decode() else { panic!("{who}: {notice:?}") };
        assert_eq!((info.from.user_id, info.from.avatar, info.to.avatar), (bob_id, 0, 0), "{who}");
    }
    let events: Vec<GroupEvent> = history(&alice, Target::Group(group), 50).await.iter().filter_map(event).collect();
    assert!(events.contains(&GroupEvent::InfoChanged { by: alice_id, fields: renamed }), "{events:?}");
    // The server goes on: bob befriends alice, whose profile he now reads.
    alice.call(&AnswerFriendRequest { request_id: request.id, accept: true }).await.unwrap();
    pushed(&mut bob, UpdateKind::FriendAnswered).await;
}
