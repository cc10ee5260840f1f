//! The conversation logs: every message stored once, under its id, in its
//! conversation's log, with the index that answers a retried send with the
//! id it got; and each log's records ([`records`]): its head, its readers'
//! positions and marks, each user's list. Every message, 1:1 or group,
//! user's or server's, goes in through [`append`]. `Send` and `History`
//! are the conversation domain's; this one keeps the records and uses no
//! other domain, so groups, the social graph and conversations all build on
//! it.

mod conversation;
pub(crate) mod reactions;
pub(crate) mod records;
mod sealed;
#[cfg(test)]
mod sealing_tests;
mod store;

pub use conversation::Conversation;
pub(crate) use records::append;
pub(crate) use sealed::compress_blocks;
pub(crate) use store::StoredMessage;
// What the other domains and the start-up checks use of this one.
pub(crate) use store::{
    cap_floor, check, direct_pairs, edit, erase_sent, forget_sent, from_v1, from_v10, history as page, known_id,
    logged, newest, purge, rewrite_contents, seal, sent_count, stats, tombstone, unpurged_below,
};

use crate::id::id_time_ms;
use crate::protocol::Message;

/// The protocol view of a stored message.
pub(crate) fn wire_message(id: u64, conversation: Conversation, m: &StoredMessage) -> Message {
    Message {
        id,
        sender: m.sender,
        to: conversation.target_from(m.sender),
        client_msg_id: m.client_msg_id,
        kind: m.kind,
        content: m.content.clone(),
        extra: m.extra.clone(),
        server_time: id_time_ms(id),
        reply_to: m.reply_to,
        edited: m.edited,
        mentions: m.mentions.clone(),
    }
}
