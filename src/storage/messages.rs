//! Conversation logs, per-user inbox indexes and the idempotency index.
//!
//! A message is stored once, in its conversation's log under
//! `conversation ‖ id`. Each participant's inbox holds `user ‖ id →
//! conversation`, so "everything for this user after id X" is one range scan
//! of the inbox followed by point reads of the log.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::keys::{self, Conversation};
use super::{decode, StorageError, Store};
use crate::codec::encode_stored;
use crate::protocol::{Direction, MessageKind};

/// A message as the log stores it; id, time and conversation live in the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Sender's user id.
    pub sender: u64,
    /// The sender's idempotency key.
    pub client_msg_id: [u8; 16],
    /// Content type.
    pub kind: MessageKind,
    /// Content.
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
    /// Application data.
    pub extra: Option<String>,
}

/// A message waiting for its id.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Where it belongs.
    pub conversation: Conversation,
    /// What to store.
    pub message: StoredMessage,
    /// Users whose inbox index gets an entry (sender and recipients).
    pub inboxes: Vec<u64>,
    /// Not stored: an opaque tag handed back to the commit hook (the session
    /// that sent the message, which needs no push of it).
    pub origin: u64,
}

/// How much one page may hold: at most `count` messages and, once it holds
/// one, no more than about `bytes` of stored data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit {
    /// Most messages.
    pub count: usize,
    /// Byte budget; the message that crosses it ends the page.
    pub bytes: usize,
}

impl PageLimit {
    fn full(self, messages: usize, bytes: usize) -> bool {
        messages >= self.count || (messages > 0 && bytes >= self.bytes)
    }
}

/// A message read back from a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedMessage {
    /// Server id.
    pub id: u64,
    /// Its conversation.
    pub conversation: Conversation,
    /// Its contents.
    pub message: StoredMessage,
}

impl Store {
    /// One page of a user's inbox: messages with ids above `after`, ascending,
    /// and whether more follow.
    pub fn inbox_after(
        &self,
        user: u64,
        after: u64,
        limit: PageLimit,
    ) -> Result<(Vec<LoggedMessage>, bool), StorageError> {
        let Some(start) = after.checked_add(1) else {
            return Ok((Vec::new(), false));
        };
        let range = keys::inbox_key(user, start)..=keys::inbox_key(user, u64::MAX);
        let mut out = Vec::with_capacity(limit.count.min(128));
        let mut bytes = 0;
        for item in self.messages.range(range) {
            let (k, v) = item?;
            if limit.full(out.len(), bytes) {
                return Ok((out, true));
            }
            let id = keys::inbox_key_id(&k);
            let conversation = Conversation::from_bytes(&v)
                .ok_or_else(|| StorageError::Corrupt { tree: "messages", detail: "bad conversation key".into() })?;
            if let Some(m) = self.logged(conversation, id)? {
                bytes += m.message.content.len() + m.message.extra.as_ref().map_or(0, String::len);
                out.push(m);
            }
        }
        Ok((out, false))
    }

    /// One page of a conversation's log on one side of `anchor` (exclusive;
    /// 0 means the open end), returned in ascending id order.
    pub fn history(
        &self,
        conversation: Conversation,
        direction: Direction,
        anchor: u64,
        limit: PageLimit,
    ) -> Result<(Vec<LoggedMessage>, bool), StorageError> {
        let first = keys::log_key(conversation, 0);
        let last = keys::log_key(conversation, u64::MAX);
        let (iter, reversed): (Box<dyn Iterator<Item = _>>, bool) = match direction {
            Direction::After => {
                let lower = match anchor.checked_add(1) {
                    Some(start) => Bound::Included(keys::log_key(conversation, start)),
                    None => return Ok((Vec::new(), false)),
                };
                (Box::new(self.messages.range((lower, Bound::Included(last)))), false)
            }
            Direction::Before => {
                let upper = match anchor {
                    0 => Bound::Included(last),
                    n => Bound::Excluded(keys::log_key(conversation, n)),
                };
                (Box::new(self.messages.range((Bound::Included(first), upper)).rev()), true)
            }
        };
        let mut out = Vec::with_capacity(limit.count.min(128));
        let mut more = false;
        let mut bytes = 0;
        for item in iter {
            let (k, v) = item?;
            if limit.full(out.len(), bytes) {
                more = true;
                break;
            }
            bytes += v.len();
            out.push(LoggedMessage { id: keys::log_key_id(&k), conversation, message: decode("messages", &v)? });
        }
        if reversed {
            out.reverse();
        }
        Ok((out, more))
    }

    /// One message of a conversation.
    pub fn logged(&self, conversation: Conversation, id: u64) -> Result<Option<LoggedMessage>, StorageError> {
        self.messages
            .get(keys::log_key(conversation, id))?
            .map(|v| Ok(LoggedMessage { id, conversation, message: decode("messages", &v)? }))
            .transpose()
    }

    /// The highest message id in a user's inbox, 0 if it is empty.
    pub fn latest_inbox_id(&self, user: u64) -> Result<u64, StorageError> {
        let range = keys::inbox_key(user, 0)..=keys::inbox_key(user, u64::MAX);
        Ok(self.messages.range(range).next_back().transpose()?.map(|(k, _)| keys::inbox_key_id(&k)).unwrap_or(0))
    }

    /// The id already assigned to a sender's client message id, if any.
    pub fn message_id_for(&self, sender: u64, client_msg_id: &[u8; 16]) -> Result<Option<u64>, StorageError> {
        Ok(self.messages.get(keys::dedup_key(sender, client_msg_id))?.map(|v| keys::be_u64(&v)))
    }

    /// The highest message id ever written, to seed the id generator.
    pub fn last_message_id(&self) -> Result<u64, StorageError> {
        Ok(self.messages.get(keys::HIGH_WATER_KEY)?.map(|v| keys::be_u64(&v)).unwrap_or(0))
    }

    /// Messages and conversations in all logs (a full scan of the log
    /// keyspace, which is sorted by conversation).
    pub fn message_stats(&self) -> Result<(u64, u64), StorageError> {
        let (mut messages, mut conversations) = (0, 0);
        let mut previous: Option<sled::IVec> = None;
        for key in self.messages.scan_prefix(keys::log_prefix()).keys() {
            let key = key?;
            let conv = keys::log_key_conversation(&key);
            if previous.as_deref().map(keys::log_key_conversation) != Some(conv) {
                conversations += 1;
            }
            messages += 1;
            previous = Some(key);
        }
        Ok((messages, conversations))
    }

    /// Writes a batch of messages with their ids atomically: logs, inboxes,
    /// idempotency entries and the id high-water mark all land, or none do.
    pub(crate) fn write_messages(&self, batch: &[(u64, NewMessage)]) -> Result<(), StorageError> {
        let Some(last) = batch.iter().map(|(id, _)| *id).max() else {
            return Ok(());
        };
        let mut writes = sled::Batch::default();
        for (id, m) in batch {
            writes.insert(&keys::log_key(m.conversation, *id), encode_stored(&m.message));
            let conv = m.conversation.to_bytes();
            for user in &m.inboxes {
                writes.insert(&keys::inbox_key(*user, *id), &conv);
            }
            writes.insert(&keys::dedup_key(m.message.sender, &m.message.client_msg_id), &keys::id_key(*id));
        }
        writes.insert(keys::HIGH_WATER_KEY, &keys::id_key(last));
        Ok(self.messages.apply_batch(writes)?)
    }
}
