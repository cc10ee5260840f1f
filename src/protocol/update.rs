//! The per-user update log as clients see it, and its actions (`0x18–0x1F`).
//!
//! Everything a device must not miss — a message in one of the user's
//! conversations, a notice about the account, and (later) friend requests,
//! receipts, recalls, group events — is an [`Update`] in the user's log,
//! under a snowflake id from the same generator as message ids. A live push
//! and a later `Sync` carry the same update with the same id, so a device
//! de-duplicates by id and catches up on everything with one cursor.
//!
//! An update is `id`, a `kind` byte and the kind's body as a length-prefixed
//! byte string, so a client skips kinds newer than itself without having
//! to understand them.

use serde::{Deserialize, Serialize};

use super::account::{ClientType, DeviceType};
use super::conversation::{
    ConversationState, DeletedForMe, Delivered, ReactionChanged, ReadPosition, ReadReceipt, ReadReceiptsSetting,
    Recalled, RetentionChanged,
};
use super::group::{GroupNews, InvitationInfo, JoinRequestInfo};
use super::message::{Edited, Message, Target};
use super::moment::{MomentCommented, MomentLiked, MomentPosted};
use super::social::{
    BlockChanged, FieldVisibility, FriendRemoved, FriendRequestInfo, PrivacySettings, RemarkChanged, UserProfile,
};
use super::tagged_bodies;
use crate::codec::DecodeError;

tagged_bodies! {
    /// What an update is about: its `kind` byte.
    tag UpdateKind;
    /// An update's body, by kind.
    union UpdateBody;
    /// A message in one of the user's conversations (sent or received).
    1 Message(Message),
    /// The account was logged in with its password on a device.
    2 NewLogin(NewLogin),
    /// A friend request the user sent or received (`Pending`, or `Accepted`
    /// when the recipient accepts everyone or had asked first).
    3 FriendRequest(FriendRequestInfo),
    /// A friend request the user sent or received was accepted or rejected.
    4 FriendAnswered(FriendRequestInfo),
    /// A friendship of the user ended.
    5 FriendRemoved(FriendRemoved),
    /// The user blocked or unblocked someone (on another device).
    6 BlockChanged(BlockChanged),
    /// A request to join a group the user asked, or may decide on (owner,
    /// admins), was made or answered.
    7 GroupJoinRequest(JoinRequestInfo),
    /// An invitation into a group the user sent or received was made or
    /// answered.
    8 GroupInvitation(InvitationInfo),
    /// The user's read position in a conversation moved (on another device).
    9 ReadPosition(ReadPosition),
    /// The peer of a 1:1 conversation read it up to a message.
    10 ReadReceipt(ReadReceipt),
    /// A message of a 1:1 conversation of the user was recalled.
    11 MessageRecalled(Recalled),
    /// The user hid messages or cleared a conversation (on another device).
    12 DeletedForMe(DeletedForMe),
    /// 1:1 messages the user sent reached a device of their recipient.
    13 Delivered(Delivered),
    /// A participant changed how long a 1:1 conversation of the user keeps
    /// its messages.
    14 RetentionChanged(RetentionChanged),
    /// The user turned their read receipts on or off (on another device).
    15 ReadReceiptsChanged(ReadReceiptsSetting),
    /// The user changed their profile (on another device).
    16 ProfileChanged(UserProfile),
    /// The user changed their search visibility or friend request policy
    /// (on another device).
    17 PrivacyChanged(PrivacySettings),
    /// The user changed who sees their personal fields (on another device).
    18 ProfileVisibilityChanged(FieldVisibility),
    /// The user changed the remark they keep for a friend (on another device).
    19 RemarkChanged(RemarkChanged),
    /// The sender of a message of a 1:1 conversation of the user edited it.
    20 MessageEdited(Edited),
    /// The user pinned or unpinned a conversation, or changed its draft (on
    /// another device).
    21 ConversationStateChanged(ConversationState),
    /// An emoji was added to or removed from a message of the user's, or of
    /// a 1:1 conversation of the user.
    22 ReactionChanged(ReactionChanged),
    /// Someone liked one of the user's moments; taken out of the log again
    /// when the like is taken back or the moment deleted.
    23 MomentLiked(MomentLiked),
    /// A comment on one of the user's moments, or a reply to the user's
    /// comment; taken out of the log again with the comment.
    24 MomentCommented(MomentCommented),
    /// A friend posted a moment the user's feed shows: pushed live, never in
    /// the log (after an offline period, read the feed's first page).
    25 MomentPosted(MomentPosted),
}

/// One entry of a user's update log, as pushed and as synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// Update id: unique, increasing in the order the server committed updates.
    pub id: u64,
    /// An [`UpdateKind`] byte; kept raw so a client can skip kinds newer than itself.
    pub kind: u8,
    /// The kind's body.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

impl Update {
    /// The update with this id and body.
    pub fn new(id: u64, body: &UpdateBody) -> Update {
        Update { id, kind: body.tag() as u8, body: body.encode_body() }
    }

    /// The body, or `None` for a kind this build does not know.
    pub fn decode(&self) -> Result<Option<UpdateBody>, DecodeError> {
        UpdateBody::decode(self.kind, &self.body)
    }
}

/// `NewLogin` update: someone logged in to the account with its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLogin {
    /// The device that logged in.
    pub device_id: String,
    /// Its type.
    pub device_type: DeviceType,
    /// Its client software.
    pub client_type: ClientType,
    /// The address it connected from.
    pub address: String,
}

/// `Sync` request: this user's updates with ids above `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Exclusive lower bound; 0 for everything.
    pub after: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `Sync` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPage {
    /// Updates in ascending id order.
    pub updates: Vec<Update>,
    /// True when more updates follow; page on from the last id until false.
    pub more: bool,
    /// The caller's groups with messages above `after` that are in no
    /// update log (groups above the write diffusion threshold): pull each
    /// with `History` after the newest message the device has of it.
    pub groups: Vec<GroupNews>,
    /// Conversations in which more messages arrived after `after` than the
    /// server's offline cap: the page holds only the newest of them. Pull
    /// the older ones with `History` before `older_than`.
    pub limited: Vec<Limited>,
    /// 0; or, when notices (updates other than messages) above `after` were
    /// removed as older than the server keeps them, the newest removed:
    /// re-read the state they described (friends, requests, groups,
    /// invitations, the conversation list).
    pub notices_dropped: u64,
}

/// A conversation whose older missed messages `Sync` left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limited {
    /// The conversation.
    pub with: Target,
    /// Under the offline cap, the oldest message `Sync` gives of it; past
    /// the message window, the first id past the span whose message
    /// updates were removed. Every older message is in its history and in
    /// no `Sync` page of this call's range.
    pub older_than: u64,
}

/// `Ack` request: this device has every update up to and including `up_to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRequest {
    /// An update id.
    pub up_to: u64,
}

/// `Ack` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckReply {
    /// The cursor after the call (it never moves backwards).
    pub cursor: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kinds_are_skipped_not_refused() {
        let future = Update { id: 9, kind: 200, body: vec![1, 2, 3] };
        assert_eq!(future.decode().unwrap(), None);
        let notice = UpdateBody::NewLogin(NewLogin {
            device_id: "d".into(),
            device_type: DeviceType::Mobile,
            client_type: ClientType::Android,
            address: "127.0.0.1".into(),
        });
        assert_eq!(Update::new(9, &notice).decode().unwrap(), Some(notice));
    }
}
