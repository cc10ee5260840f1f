//! Conversation heads, read positions and the indexes that list and count
//! them.
//!
//! Unread counts are exact by construction, with no row per message per
//! reader: each conversation's head counts the messages that can be unread
//! (everything but system messages), and `convmessage_counted` records that
//! running count at each such message. A user's read state keeps the count
//! at their read position, so their unread count is the head's count minus
//! theirs. Sending moves the sender's read position to the message, so no
//! one's own message is ever unread.
//!
//! Every message moves its conversation's head in the job that stores it
//! ([`on_message`]). A 1:1 conversation also moves both users' entries in
//! `userupdated_conv`, the index the conversation list pages by; a group
//! does not (that would be a write per member per message), so the list
//! reads the user's groups' heads instead. Each group keeps its members'
//! read positions sorted in `groupread_user`, which answers "how many have
//! read this message" with one range count.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::protocol::MessageKind;
use crate::service::message::Conversation;
use crate::service::Tx;
use crate::storage::{schema, Get, Keyspace, Migrator, StorageError, Store};

/// A conversation's newest message and how many messages it has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The newest message id, 0 for none.
    pub last: u64,
    /// Messages ever stored that can be unread (not system messages).
    pub counted: u64,
}

/// One user's state in one conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    /// The read position: the highest message id read, 0 for none.
    pub read: u64,
    /// The conversation's count at the read position.
    pub counted: u64,
    /// A snowflake, moved by every change of the entry for this user.
    pub updated: u64,
}

impl ReadState {
    /// Unread messages in a conversation with this head.
    pub fn unread(&self, head: &Head) -> u64 {
        head.counted.saturating_sub(self.counted)
    }
}

const HEADS: Keyspace<Conversation, Head> = Keyspace::new(&schema::CONV_HEAD);
const COUNTED: Keyspace<(Conversation, u64), u64> = Keyspace::new(&schema::CONVMESSAGE_COUNTED);
const STATES: Keyspace<(u64, Conversation), ReadState> = Keyspace::new(&schema::USERCONV_STATE);
const UPDATED: Keyspace<(u64, (u64, Conversation)), ()> = Keyspace::new(&schema::USERUPDATED_CONV);
const READS: Keyspace<(u64, (u64, u64)), ()> = Keyspace::new(&schema::GROUPREAD_USER);
const NO_RECEIPTS: Keyspace<u64, u64> = Keyspace::new(&schema::USERID_NORECEIPTS);

/// The smallest conversation key, for ranges that take any conversation.
const FIRST: Conversation = Conversation::Direct { low: 0, high: 0 };

/// A conversation's head; the default for one without messages.
pub fn head(r: &impl Get, conversation: Conversation) -> Result<Head, StorageError> {
    Ok(r.value(&HEADS, &conversation)?.unwrap_or_default())
}

/// A user's state in a conversation, if they have one.
pub fn state(r: &impl Get, user: u64, conversation: Conversation) -> Result<Option<ReadState>, StorageError> {
    r.value(&STATES, &(user, conversation))
}

/// Whether the user sends (and sees) read receipts.
pub fn receipts_on(r: &impl Get, user: u64) -> Result<bool, StorageError> {
    Ok(r.value(&NO_RECEIPTS, &user)?.is_none())
}

/// Moves the conversation's head to a message just stored, and the
/// sender's read position with it; in a 1:1 conversation both users'
/// entries move to the top of their lists.
pub(crate) fn on_message(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    id: u64,
    sender: u64,
    kind: MessageKind,
) -> Result<(), StorageError> {
    let mut head = head(tx, conversation)?;
    head.last = id;
    let counted = kind != MessageKind::System;
    if counted {
        head.counted += 1;
        tx.put(&COUNTED, &(conversation, id), &head.counted);
    }
    tx.put(&HEADS, &conversation, &head);
    match conversation {
        Conversation::Direct { low, high } => {
            for user in if low == high { vec![low] } else { vec![low, high] } {
                let old = state(tx, user, conversation)?;
                let mut new = old.unwrap_or_default();
                if user == sender {
                    new.read = id;
                    new.counted = head.counted;
                }
                new.updated = id;
                put_state(tx, user, conversation, old, new)?;
            }
        }
        Conversation::Group(_) if counted => {
            if let Some(old) = state(tx, sender, conversation)? {
                put_state(tx, sender, conversation, Some(old), ReadState { read: id, counted: head.counted, updated: id })?;
            }
        }
        Conversation::Group(_) => {}
    }
    Ok(())
}

/// Writes a user's state, moving its index entries: the list's (1:1) or
/// the group's sorted read positions (for a user who sends receipts).
pub(crate) fn put_state(
    tx: &mut Tx<'_>,
    user: u64,
    conversation: Conversation,
    old: Option<ReadState>,
    new: ReadState,
) -> Result<(), StorageError> {
    match conversation {
        Conversation::Direct { .. } => {
            if let Some(old) = old.filter(|old| old.updated != new.updated) {
                tx.delete(&UPDATED, &(user, (old.updated, conversation)));
            }
            tx.put(&UPDATED, &(user, (new.updated, conversation)), &());
        }
        Conversation::Group(group) => {
            if old.map(|o| o.read) != Some(new.read) && receipts_on(tx, user)? {
                if let Some(old) = old {
                    tx.delete(&READS, &(group, (old.read, user)));
                }
                tx.put(&READS, &(group, (new.read, user)), &());
            }
        }
    }
    tx.put(&STATES, &(user, conversation), &new);
    Ok(())
}

/// The count at a read position: that of the last counted message at or
/// below it.
pub(crate) fn counted_at(tx: &Tx<'_>, conversation: Conversation, read: u64) -> Result<u64, StorageError> {
    Ok(tx.last(&COUNTED, (conversation, 0)..=(conversation, read))?.map_or(0, |(_, n)| n))
}

/// A new member's state: everything before they joined counts as read.
pub(crate) fn joined(tx: &mut Tx<'_>, group: u64, user: u64, joined: u64) -> Result<(), StorageError> {
    let conversation = Conversation::Group(group);
    let head = head(tx, conversation)?;
    let old = state(tx, user, conversation)?;
    put_state(tx, user, conversation, old, ReadState { read: head.last, counted: head.counted, updated: joined })
}

/// Forgets a member's state when they leave the group.
pub(crate) fn left(tx: &mut Tx<'_>, group: u64, user: u64) -> Result<(), StorageError> {
    let conversation = Conversation::Group(group);
    if let Some(old) = state(tx, user, conversation)? {
        tx.delete(&READS, &(group, (old.read, user)));
        tx.delete(&STATES, &(user, conversation));
    }
    Ok(())
}

/// Turns a user's read receipts on or off: their read positions join or
/// leave their groups' sorted indexes.
pub(crate) fn set_receipts(tx: &mut Tx<'_>, user: u64, on: bool, now_ms: u64) -> Result<(), StorageError> {
    if receipts_on(tx, user)? == on {
        return Ok(());
    }
    let groups: Vec<(u64, ReadState)> = tx
        .range(&STATES, (user, Conversation::Group(0))..=(user, Conversation::Group(u64::MAX)))
        .filter_map(|entry| match entry {
            Ok(((_, Conversation::Group(group)), state)) => Some(Ok((group, state))),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;
    for (group, state) in groups {
        if on {
            tx.put(&READS, &(group, (state.read, user)), &());
        } else {
            tx.delete(&READS, &(group, (state.read, user)));
        }
    }
    if on {
        tx.delete(&NO_RECEIPTS, &user);
    } else {
        tx.put(&NO_RECEIPTS, &user, &now_ms);
    }
    Ok(())
}

/// A user's 1:1 conversations with `updated` in `(since, before)`, newest
/// first (`before` 0 for no upper bound).
pub fn direct_newest_first(
    store: &Store,
    user: u64,
    since: u64,
    before: u64,
) -> impl Iterator<Item = Result<(u64, Conversation), StorageError>> + '_ {
    let upper = match before {
        0 => Bound::Included((user, (u64::MAX, Conversation::Direct { low: u64::MAX, high: u64::MAX }))),
        before => Bound::Excluded((user, (before, FIRST))),
    };
    let lower = Bound::Excluded((user, (since, Conversation::Direct { low: u64::MAX, high: u64::MAX })));
    store.range(&UPDATED, (lower, upper)).rev().map(|entry| entry.map(|((_, (updated, c)), ())| (updated, c)))
}

/// Every state of a user: their 1:1 conversations, then their groups.
pub fn states_of(store: &Store, user: u64) -> impl Iterator<Item = Result<(Conversation, ReadState), StorageError>> + '_ {
    store.scan(&STATES, &user).map(|entry| entry.map(|((_, c), s)| (c, s)))
}

/// Members of a group with their read position at or past `message`, and
/// all members indexed (those who send receipts), in user id order.
pub fn readers(store: &Store, group: u64, message: u64) -> Result<(Vec<u64>, u64), StorageError> {
    let mut readers = Vec::new();
    let mut all = 0;
    for entry in store.scan(&READS, &group) {
        let ((_, (read, user)), ()) = entry?;
        all += 1;
        if read >= message {
            readers.push(user);
        }
    }
    readers.sort_unstable();
    Ok((readers, all))
}

/// Conversations with messages, read states, and users with receipts off,
/// for `kith stats`.
pub fn stats(store: &Store) -> Result<(u64, u64, u64), StorageError> {
    Ok((store.count(&HEADS)?, store.count(&STATES)?, store.count(&NO_RECEIPTS)?))
}

/// Checks restored conversation data: every entry decodes, and every read
/// state has its index entry.
pub(crate) fn check(store: &Store) -> Result<(), String> {
    let text = |e: StorageError| e.to_string();
    for entry in store.all(&HEADS) {
        entry.map_err(text)?;
    }
    for entry in store.all(&COUNTED) {
        entry.map_err(text)?;
    }
    for entry in store.all(&NO_RECEIPTS) {
        entry.map_err(text)?;
    }
    for entry in store.all(&STATES) {
        let ((user, conversation), state) = entry.map_err(text)?;
        let indexed = match conversation {
            Conversation::Direct { .. } => store.get(&UPDATED, &(user, (state.updated, conversation))),
            Conversation::Group(group) if receipts_on(store, user).map_err(text)? => {
                store.get(&READS, &(group, (state.read, user)))
            }
            Conversation::Group(_) => Ok(Some(())),
        };
        if indexed.map_err(text)?.is_none() {
            return Err(format!("the read state of user {user} in {conversation:?} is missing its index entry"));
        }
    }
    Ok(())
}

/// Version 3 kept no heads or read states. Builds them from the logs and
/// the group memberships, counting everything already stored as read.
pub(crate) fn from_v3(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    let mut groups = std::collections::HashMap::new();
    let mut open: Option<(Conversation, Head)> = None;
    for entry in crate::service::message::store::kinds(m)? {
        let (conversation, id, kind) = entry?;
        if let Some((done, head)) = open.filter(|(c, _)| *c != conversation) {
            close(m, done, head, &mut groups)?;
            open = None;
        }
        let head = &mut open.get_or_insert((conversation, Head::default())).1;
        head.last = id;
        if kind != MessageKind::System {
            head.counted += 1;
            m.put(&COUNTED, &(conversation, id), &head.counted)?;
        }
    }
    if let Some((done, head)) = open {
        close(m, done, head, &mut groups)?;
    }
    for entry in crate::service::group::store::memberships(m)? {
        let (group, user, joined) = entry?;
        let head = groups.get(&group).copied().unwrap_or_default();
        let state = ReadState { read: head.last, counted: head.counted, updated: head.last.max(joined) };
        m.put(&STATES, &(user, Conversation::Group(group)), &state)?;
        m.put(&READS, &(group, (state.read, user)), &())?;
    }
    Ok(())
}

/// Writes a migrated conversation's head, and its users' states if it is a
/// 1:1 conversation (a group's members get theirs from the memberships).
fn close(
    m: &mut Migrator<'_>,
    conversation: Conversation,
    head: Head,
    groups: &mut std::collections::HashMap<u64, Head>,
) -> Result<(), StorageError> {
    m.put(&HEADS, &conversation, &head)?;
    match conversation {
        Conversation::Direct { low, high } => {
            let state = ReadState { read: head.last, counted: head.counted, updated: head.last };
            for user in if low == high { vec![low] } else { vec![low, high] } {
                m.put(&STATES, &(user, conversation), &state)?;
                m.put(&UPDATED, &(user, (state.updated, conversation)), &())?;
            }
        }
        Conversation::Group(group) => {
            groups.insert(group, head);
        }
    }
    Ok(())
}
