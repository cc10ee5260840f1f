//! Layout version 10: avatars become media ids.
//!
//! Up to version 9 a profile's and a group's avatar was a string of up to
//! 256 bytes that named nothing the server kept. It is now the media id of
//! an image the owner uploaded (0 for none). An old string cannot name such
//! a file, so the step clears every one: in profiles, in group records, in
//! the friend request, join request, invitation and profile notices of the
//! update logs, and in the `InfoChanged` events of group logs. Users set
//! their avatar again by uploading it.
//!
//! Each older shape is tried first (as `Migrator::reshape` does): an old
//! value with an empty avatar reads the same either way, and a value the
//! step already wrote, its avatar a media id (a snowflake, never small),
//! reads as a string length the older shape runs short of.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec::{decode_wire, encode_wire};
use crate::protocol::{self, BirthDate, Gender, GroupEvent, JoinPolicy, RequestState, UpdateKind};

/// A user card, its avatar a string.
#[derive(Deserialize)]
struct Card {
    user_id: u64,
    username: String,
    nickname: String,
    _avatar: String,
}

impl From<Card> for protocol::UserCard {
    fn from(c: Card) -> Self {
        protocol::UserCard { user_id: c.user_id, username: c.username, nickname: c.nickname, avatar: 0 }
    }
}

/// A profile, its avatar a string.
#[derive(Deserialize)]
pub(super) struct Profile {
    nickname: String,
    _avatar: String,
    gender: Gender,
    birth_date: Option<BirthDate>,
    signature: String,
    city: String,
    province: String,
    extra: String,
}

impl From<Profile> for protocol::Profile {
    fn from(p: Profile) -> Self {
        protocol::Profile {
            nickname: p.nickname,
            avatar: 0,
            gender: p.gender,
            birth_date: p.birth_date,
            signature: p.signature,
            city: p.city,
            province: p.province,
            extra: p.extra,
        }
    }
}

/// A `ProfileChanged` notice.
#[derive(Deserialize)]
struct UserProfile {
    user_id: u64,
    username: String,
    profile: Profile,
}

impl From<UserProfile> for protocol::UserProfile {
    fn from(p: UserProfile) -> Self {
        protocol::UserProfile { user_id: p.user_id, username: p.username, profile: p.profile.into() }
    }
}

/// A friend request notice.
#[derive(Deserialize)]
struct FriendRequestInfo {
    id: u64,
    from: Card,
    to: Card,
    message: String,
    state: RequestState,
    expires_at: u64,
    answered_at: u64,
}

impl From<FriendRequestInfo> for protocol::FriendRequestInfo {
    fn from(r: FriendRequestInfo) -> Self {
        protocol::FriendRequestInfo {
            id: r.id,
            from: r.from.into(),
            to: r.to.into(),
            message: r.message,
            state: r.state,
            expires_at: r.expires_at,
            answered_at: r.answered_at,
        }
    }
}

/// A join request notice.
#[derive(Deserialize)]
struct JoinRequestInfo {
    id: u64,
    group_id: u64,
    group_name: String,
    user: Card,
    message: String,
    state: RequestState,
    answered_by: u64,
}

impl From<JoinRequestInfo> for protocol::JoinRequestInfo {
    fn from(r: JoinRequestInfo) -> Self {
        protocol::JoinRequestInfo {
            id: r.id,
            group_id: r.group_id,
            group_name: r.group_name,
            user: r.user.into(),
            message: r.message,
            state: r.state,
            answered_by: r.answered_by,
        }
    }
}

/// An invitation notice.
#[derive(Deserialize)]
struct InvitationInfo {
    id: u64,
    group_id: u64,
    group_name: String,
    inviter: Card,
    invitee: Card,
    state: RequestState,
}

impl From<InvitationInfo> for protocol::InvitationInfo {
    fn from(i: InvitationInfo) -> Self {
        protocol::InvitationInfo {
            id: i.id,
            group_id: i.group_id,
            group_name: i.group_name,
            inviter: i.inviter.into(),
            invitee: i.invitee.into(),
            state: i.state,
        }
    }
}

/// A group's editable fields, its avatar a string.
#[derive(Deserialize)]
pub(super) struct GroupFields {
    name: String,
    _avatar: String,
    introduction: String,
    announcement: String,
    join_policy: JoinPolicy,
    history_visible: bool,
}

impl From<GroupFields> for protocol::GroupFields {
    fn from(f: GroupFields) -> Self {
        protocol::GroupFields {
            name: f.name,
            avatar: 0,
            introduction: f.introduction,
            announcement: f.announcement,
            join_policy: f.join_policy,
            history_visible: f.history_visible,
        }
    }
}

/// A notice's body of the new shape, if its kind held an avatar and the
/// body is of the older shape with a string in it.
pub(super) fn notice(kind: u8, body: &[u8]) -> Option<Vec<u8>> {
    match kind {
        k if k == UpdateKind::FriendRequest as u8 || k == UpdateKind::FriendAnswered as u8 => {
            reshaped::<FriendRequestInfo, protocol::FriendRequestInfo>(body)
        }
        k if k == UpdateKind::GroupJoinRequest as u8 => reshaped::<JoinRequestInfo, protocol::JoinRequestInfo>(body),
        k if k == UpdateKind::GroupInvitation as u8 => reshaped::<InvitationInfo, protocol::InvitationInfo>(body),
        k if k == UpdateKind::ProfileChanged as u8 => reshaped::<UserProfile, protocol::UserProfile>(body),
        _ => None,
    }
}

/// A group event's content of the new shape, if it is an `InfoChanged`
/// of the older shape with an avatar string in it. An enum's value is its
/// variant's index then its fields, so the older event reads as that
/// index followed by `(by, fields)`.
pub(super) fn group_event(content: &[u8]) -> Option<Vec<u8>> {
    let probe = encode_wire(&GroupEvent::InfoChanged { by: 0, fields: no_fields() });
    let (index, rest) = content.split_first_chunk::<4>()?;
    if index[..] != probe[..4] {
        return None;
    }
    let (by, fields): (u64, GroupFields) = decode_wire(rest).ok()?;
    changed(content, encode_wire(&GroupEvent::InfoChanged { by, fields: fields.into() }))
}

/// Fields of the new shape with nothing in them, to learn an event's index.
fn no_fields() -> protocol::GroupFields {
    protocol::GroupFields {
        name: String::new(),
        avatar: 0,
        introduction: String::new(),
        announcement: String::new(),
        join_policy: JoinPolicy::Open,
        history_visible: false,
    }
}

/// `body` decoded as `Old` and encoded as `New`, if it decodes and changes.
fn reshaped<Old: DeserializeOwned + Into<New>, New: Serialize>(body: &[u8]) -> Option<Vec<u8>> {
    let old: Old = decode_wire(body).ok()?;
    changed(body, encode_wire(&old.into()))
}

/// `new`, unless it is `old` again (an empty avatar string reads as none).
fn changed(old: &[u8], new: Vec<u8>) -> Option<Vec<u8>> {
    (new[..] != old[..]).then_some(new)
}
