//! Bodies of the conversation actions (`0x48–0x57`): the recent
//! conversations list with unread counts, read positions and receipts,
//! recall, delete-for-me and retention; and the bodies of their update
//! kinds.

use serde::{Deserialize, Serialize};

use super::message::{MessageKind, Target};

/// `ListConversations` request: the caller's conversations, most recently
/// changed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListConversationsRequest {
    /// Exclusive upper bound on `updated`: 0 for the first page, then the
    /// `updated` of the last conversation of the previous page.
    pub before: u64,
    /// Only conversations with `updated` above this (0 for all): a client
    /// that kept the list refreshes it by asking for what changed since the
    /// highest `updated` it holds.
    pub changed_since: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// The newest message of a conversation, as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastMessage {
    /// Message id.
    pub id: u64,
    /// Sender's user id.
    pub sender: u64,
    /// Content type.
    pub kind: MessageKind,
    /// When the server stored it, milliseconds since the Unix epoch.
    pub server_time: u64,
    /// The first characters of a text message (at most 64), else empty.
    pub preview: String,
}

/// One conversation of the caller's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationInfo {
    /// The peer or the group.
    pub with: Target,
    /// The newest message, if the conversation has one.
    pub last: Option<LastMessage>,
    /// Messages after the caller's read position that others sent (system
    /// messages are not counted).
    pub unread: u32,
    /// The caller's read position: the highest message id read on any of
    /// their devices (0 for none).
    pub read_up_to: u64,
    /// In a 1:1 conversation, the peer's read position, when both users
    /// send read receipts; else 0.
    pub peer_read_up_to: u64,
    /// A snowflake that grows whenever the entry changes for the caller (a
    /// message, a read; in a 1:1 conversation a recall or a change of
    /// retention); the list's order and paging key.
    pub updated: u64,
    /// The newest message above the caller's read position that mentions
    /// them (by name or as everyone); 0 for none: "mentioned you".
    pub mentioned: u64,
}

/// `ListConversations` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationPage {
    /// Conversations, `updated` descending.
    pub conversations: Vec<ConversationInfo>,
    /// True when more conversations follow this page.
    pub more: bool,
    /// Unread messages over all of the caller's conversations (the badge).
    pub total_unread: u64,
}

/// `MarkRead` request: the caller has read a conversation up to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkReadRequest {
    /// The conversation.
    pub with: Target,
    /// A message id; the read position moves up to it (never backwards, never
    /// past the newest message).
    pub up_to: u64,
}

/// `MarkRead` response, and the body of the `ReadPosition` update the
/// caller's other devices receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadPosition {
    /// The conversation.
    pub with: Target,
    /// The read position after the call.
    pub read_up_to: u64,
    /// Unread messages left in the conversation.
    pub unread: u32,
}

/// `ReadReceipt` update: the peer of a 1:1 conversation read it up to a
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceipt {
    /// Who read.
    pub reader: u64,
    /// Up to this message id.
    pub up_to: u64,
}

/// `ReadReceipts` request: turns sending read receipts on or off, or (with
/// `set` absent) only asks. A user who sends none sees none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceiptsRequest {
    /// The new setting, or `None` to leave it.
    pub set: Option<bool>,
}

/// `ReadReceipts` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceiptsSetting {
    /// Whether the user sends (and so sees) read receipts.
    pub enabled: bool,
}

/// `MessageReaders` request: who in a group has read a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReadersRequest {
    /// The group.
    pub group_id: u64,
    /// The message.
    pub message_id: u64,
}

/// `MessageReaders` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReaders {
    /// Members other than the sender whose read position is at or past the
    /// message, among those who send read receipts.
    pub read: u32,
    /// Members other than the sender who send read receipts: `read` of them
    /// have read it.
    pub of: u32,
    /// The readers' user ids, ascending, when the group has at most the
    /// server's `who_read_max_members` members; else empty.
    pub readers: Vec<u64>,
    /// Whether `readers` lists them.
    pub listed: bool,
}

/// `Recall` request: take back a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecallRequest {
    /// The conversation.
    pub with: Target,
    /// The message.
    pub message_id: u64,
}

/// `Recall` response, and the body of the `MessageRecalled` update the
/// participants of a 1:1 conversation receive (a group hears of a recall
/// from a system message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recalled {
    /// The recalled message.
    pub message_id: u64,
    /// Who sent it.
    pub sender: u64,
    /// Where it was sent, as in [`super::Message`]: with `sender`, names the
    /// conversation.
    pub to: Target,
    /// Who recalled it: the sender, or a group's owner or admin.
    pub by: u64,
}

/// `DeleteForMe` request: hide messages of a conversation, or clear it up to
/// a message, for the caller and all their devices; others keep theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteForMeRequest {
    /// The conversation.
    pub with: Target,
    /// Messages to hide, at most 100.
    pub message_ids: Vec<u64>,
    /// Hide every message up to and including this id as well (0: none).
    /// Also reads the conversation up to it.
    pub clear_up_to: u64,
}

/// `DeleteForMe` response, and the body of the `DeletedForMe` update the
/// caller's other devices receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedForMe {
    /// The conversation.
    pub with: Target,
    /// The messages the call hid (ascending; those hidden before left out).
    pub message_ids: Vec<u64>,
    /// Everything up to this message id is hidden (0: nothing cleared).
    pub cleared_up_to: u64,
    /// The caller's read position after the call.
    pub read_up_to: u64,
    /// Unread messages left in the conversation.
    pub unread: u32,
}

/// `Delivered` update: a 1:1 message reached at least one device of its
/// recipient (a device acknowledged it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    /// The recipient, the peer of the conversation.
    pub recipient: u64,
    /// Every message of the conversation up to this id has reached them.
    pub up_to: u64,
}

/// `Retention` request: how long a conversation keeps its messages; sets
/// the conversation's own retention (a 1:1 conversation's participants, a
/// group's owner and admins) or, with `set` absent, only asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRequest {
    /// The conversation.
    pub with: Target,
    /// Seconds messages are kept after sending (0: no setting of the
    /// conversation's own), or `None` to leave it.
    pub set: Option<u64>,
}

/// `Retention` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionSetting {
    /// The conversation.
    pub with: Target,
    /// The conversation's own retention in seconds, 0 for none.
    pub seconds: u64,
    /// The server's retention in seconds, 0 for none.
    pub server_seconds: u64,
    /// What applies: the shorter of the two that are set, 0 when neither
    /// is (messages are kept until deleted).
    pub effective: u64,
}

/// `RetentionChanged` update: a participant of a 1:1 conversation changed
/// its retention (a group hears of it from a system message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionChanged {
    /// Who changed it.
    pub by: u64,
    /// The conversation as `by` names it, as `to` in [`super::Message`].
    pub to: Target,
    /// The conversation's own retention in seconds now, 0 for none.
    pub seconds: u64,
}

/// `Typing` request: the caller is typing in a conversation, or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingRequest {
    /// The conversation.
    pub with: Target,
    /// True while typing (repeat it every few seconds); false once stopped
    /// (sent, cleared, left the conversation).
    pub typing: bool,
}

/// `Typing` push: someone is typing in a conversation, or stopped. Never
/// stored, never in `Sync`: only online devices get it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingPush {
    /// Who types.
    pub user_id: u64,
    /// The conversation, as the receiver names it: `User(user_id)` for a
    /// 1:1 conversation, `Group(id)` for a group.
    pub with: Target,
    /// True: show "typing…"; false: stop showing it.
    pub typing: bool,
    /// Show it for this many milliseconds at most unless another push
    /// renews it: a sender that goes away stops being shown by itself.
    pub for_ms: u32,
}

/// `ConversationState` request: whether the caller pins a conversation and
/// the draft they keep in it, for all their devices. With both absent it
/// only asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationStateRequest {
    /// The conversation.
    pub with: Target,
    /// Pin it (true) or unpin it (false); `None` to leave it.
    pub pinned: Option<bool>,
    /// The draft now (empty: none); `None` to leave it.
    pub draft: Option<String>,
    /// Mute its notifications (true) or not (false); `None` to leave it.
    pub muted: Option<bool>,
}

/// One conversation's state for its user: the `ConversationState`
/// response, an entry of `ConversationStates`, and the body of the
/// `ConversationStateChanged` update their other devices receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationState {
    /// The conversation.
    pub with: Target,
    /// When it was pinned (ms since the Unix epoch), 0 if it is not.
    pub pinned_at: u64,
    /// The unsent text the user keeps in it; empty for none.
    pub draft: String,
    /// When the state last changed (ms), 0 for a conversation never set.
    pub changed_at: u64,
    /// Whether the user muted its notifications: a client shows its
    /// messages without alerting, except those that mention the user.
    pub muted: bool,
}

/// `ConversationStates` request (empty body): every conversation the
/// caller pinned or keeps a draft in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConversationStatesRequest;

/// `ConversationStates` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationStates {
    /// Every conversation pinned or with a draft, in no particular order
    /// (at most `conversation.pinned_max` pinned and
    /// `conversation.drafts_max` with drafts).
    pub states: Vec<ConversationState>,
}

/// `React` request: the caller adds or removes one emoji on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactRequest {
    /// The conversation.
    pub with: Target,
    /// The message.
    pub message_id: u64,
    /// One emoji (at most 8 characters, no spaces or control characters).
    pub emoji: String,
    /// True to add it, false to remove it.
    pub add: bool,
}

/// `Reactions` request: the reactions on a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionsRequest {
    /// The conversation.
    pub with: Target,
    /// The message.
    pub message_id: u64,
}

/// The reactions on a message, as `React` and `Reactions` answer them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReactions {
    /// The message.
    pub message_id: u64,
    /// One entry per emoji, the most used first.
    pub reactions: Vec<ReactionCount>,
}

/// One emoji on a message: how many put it there, and who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    /// The emoji.
    pub emoji: String,
    /// How many users put it there.
    pub count: u32,
    /// Who, by user id ascending: all of them, or the first
    /// `conversation.reaction_users_listed` when more did.
    pub users: Vec<u64>,
    /// Whether the caller is one of them.
    pub mine: bool,
}

/// `ReactionChanged` update: an emoji was added to or removed from a
/// message — one of the user's own, any message of their 1:1
/// conversations, or (on another device) by the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionChanged {
    /// The message.
    pub message_id: u64,
    /// Who sent it.
    pub sender: u64,
    /// Where it was sent, as in [`super::Message`]: with `sender`, names
    /// the conversation.
    pub to: Target,
    /// Who reacted.
    pub user_id: u64,
    /// The emoji.
    pub emoji: String,
    /// True: added; false: removed.
    pub added: bool,
}
