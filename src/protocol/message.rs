//! Bodies of the message actions (`0x10–0x17`).
//!
//! A message may answer another of its conversation (`reply_to`); it holds
//! only the id, so a reader learns of the original only what the original's
//! own reading rules give them. Its sender may edit a text message for a
//! while (`Edit`); every reader then reads the newest text and `edited`,
//! and the text before is kept nowhere.

use serde::{Deserialize, Serialize};

use super::wire_enum;

wire_enum! {
    /// What a message's content bytes hold. The server never looks inside.
    pub enum MessageKind: u8 {
        /// UTF-8 text.
        Text = 1,
        /// An image (or a reference to one).
        Image = 2,
        /// A voice clip.
        Voice = 3,
        /// A video.
        Video = 4,
        /// A file.
        File = 5,
        /// A location.
        Location = 6,
        /// Application-defined.
        Custom = 7,
        /// A group membership event, written by the server: the content is a
        /// [`super::GroupEvent`]. Clients cannot send it and need not count it
        /// as unread.
        System = 8,
        /// What is left of a recalled message, written by the server: no
        /// content, no extra; the id, sender and time stay. Clients cannot
        /// send it.
        Recalled = 9,
        /// What is left of an expired conversation's newest message once it
        /// is purged (see `Retention`), written by the server: no content,
        /// no extra; the id, sender and time stay, so the conversation list
        /// keeps its place. Clients cannot send it.
        Expired = 10,
    }
}

impl MessageKind {
    /// Whether only the server writes messages of this kind.
    pub fn server_written(self) -> bool {
        matches!(self, MessageKind::System | MessageKind::Recalled | MessageKind::Expired)
    }
}

wire_enum! {
    /// Which way a history page runs from its anchor.
    pub enum Direction: u8 {
        /// Messages with ids greater than the anchor, oldest first.
        After = 0,
        /// Messages with ids less than the anchor, the ones nearest it.
        Before = 1,
    }
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Target {
    /// A one-to-one conversation with this user.
    User(u64),
    /// A group, by id.
    Group(u64),
}

/// `Send` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// Recipient.
    pub to: Target,
    /// Client-chosen unique id (e.g. a UUID); a retry with the same id returns
    /// the first acknowledgement and stores nothing new.
    pub client_msg_id: [u8; 16],
    /// Content type.
    pub kind: MessageKind,
    /// Opaque content, at most the server's content limit (64 KiB by default).
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
    /// Optional application data, at most 1 KiB.
    pub extra: Option<String>,
    /// The message this one answers, in the same conversation; 0 for none.
    pub reply_to: u64,
    /// In a group, the members it mentions (they hear of it even in a
    /// group too large to put every message in every log); 0 stands for
    /// everyone, which only the owner and admins may say.
    pub mentions: Vec<u64>,
}

/// `Send` response, written only once the message is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReply {
    /// The server's id for the message.
    pub message_id: u64,
    /// When the server accepted it, milliseconds since the Unix epoch.
    pub server_time: u64,
    /// True when this client message id was already stored; the ids are the
    /// original ones.
    pub duplicate: bool,
}

/// A stored message, as pushed and as returned by sync and history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Server id: unique, increasing in the order the server stored messages.
    pub id: u64,
    /// Sender's user id.
    pub sender: u64,
    /// Where it was sent.
    pub to: Target,
    /// The sender's client message id.
    pub client_msg_id: [u8; 16],
    /// Content type.
    pub kind: MessageKind,
    /// Content.
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
    /// Application data.
    pub extra: Option<String>,
    /// When the server stored it, milliseconds since the Unix epoch.
    pub server_time: u64,
    /// The message this one answers (see [`SendRequest::reply_to`]); 0 for none.
    pub reply_to: u64,
    /// When its sender last edited it, milliseconds since the Unix epoch;
    /// 0 if never.
    pub edited: u64,
    /// The members it mentions (see [`SendRequest::mentions`]); 0 is everyone.
    pub mentions: Vec<u64>,
}

/// `Edit` request: the sender replaces the text of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditRequest {
    /// The conversation.
    pub with: Target,
    /// The message, a `Text` one the caller sent.
    pub message_id: u64,
    /// The new content, at most the server's content limit.
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
}

/// The body of the `MessageEdited` update the participants of a 1:1
/// conversation receive (a group hears of an edit from a system message):
/// which message changed; read it again for its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edited {
    /// The edited message.
    pub message_id: u64,
    /// Who sent (and edited) it.
    pub sender: u64,
    /// Where it was sent, as in [`Message`]: with `sender`, names the
    /// conversation.
    pub to: Target,
    /// When it was edited, milliseconds since the Unix epoch.
    pub edited_at: u64,
}

/// `History` request: one conversation's messages on one side of `anchor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRequest {
    /// The conversation.
    pub with: Target,
    /// Which side of the anchor.
    pub direction: Direction,
    /// Exclusive bound; 0 means "from the start" for `After` and "from the
    /// newest" for `Before`.
    pub anchor: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `History` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Messages in ascending id order.
    pub messages: Vec<Message>,
    /// True when more messages lie beyond this page in the requested direction.
    pub more: bool,
}
