//! Conversation heads, read positions and the indexes that list and count
//! them.
//!
//! Unread counts are exact by construction, with no row per message per
//! reader: each conversation's head counts the messages that can be unread
//! (everything but system messages), and a read position keeps that count
//! as it was at the position, so a user's unread count is the head's count
//! minus theirs. Sending moves the sender's read position to the message,
//! so no one's own message is ever unread.
//!
//! What a message writes is kept small, since every message pays it: a 1:1
//! conversation's head also holds both users' read positions, so a 1:1
//! message rewrites one record ([`on_message`]). A group's members' read
//! positions are records of their own (a head cannot hold thousands), and
//! `convmessage_counted` keeps the running count at each counted message, so
//! a read position anywhere in a group log finds its count. Each user's
//! conversations are listed in `userconv_updated`, with when the user last
//! changed them; an entry's place in the list is the later of that and its
//! head's newest message. Each group keeps its members' read positions
//! sorted in `groupread_user`, which answers "who has read this message"
//! with one range scan.

use serde::{Deserialize, Serialize};

use crate::protocol::MessageKind;
use crate::service::message::Conversation;
use crate::service::Tx;
use crate::storage::{schema, Get, Keyspace, Migrator, StorageError, Store};

/// A read position and the conversation's count at it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read {
    /// The highest message id read, 0 for none.
    pub read: u64,
    /// The conversation's count of messages that can be unread, up to `read`.
    pub counted: u64,
}

impl Read {
    /// Unread messages in a conversation with this head.
    pub fn unread(&self, head: &Head) -> u64 {
        head.counted.saturating_sub(self.counted)
    }
}

/// A conversation's newest message, how many messages it has counted and,
/// in a 1:1 conversation, both users' read positions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The newest message id, 0 for none.
    pub last: u64,
    /// Messages ever stored that can be unread (not system messages).
    pub counted: u64,
    /// A 1:1 conversation's read positions: the lower user id's, then the
    /// higher's (the same for notes to oneself); unused in a group.
    pub pair: [Read; 2],
}

impl Head {
    /// A 1:1 participant's read position.
    pub fn read_of(&self, conversation: Conversation, user: u64) -> Option<Read> {
        pair_slot(conversation, user).map(|slot| self.pair[slot])
    }

    fn side(&mut self, conversation: Conversation, user: u64) -> Option<&mut Read> {
        pair_slot(conversation, user).map(|slot| &mut self.pair[slot])
    }
}

/// Where a 1:1 participant's read position sits in the head's `pair`.
fn pair_slot(conversation: Conversation, user: u64) -> Option<usize> {
    match conversation {
        Conversation::Direct { low, .. } => Some(usize::from(user != low)),
        Conversation::Group(_) => None,
    }
}

/// One user's state in one conversation, as the list shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadState {
    /// Their read position.
    pub read: Read,
    /// When the entry last changed for them: a message or their own change.
    pub updated: u64,
}

const HEADS: Keyspace<Conversation, Head> = Keyspace::new(&schema::CONV_HEAD);
const COUNTED: Keyspace<(Conversation, u64), u64> = Keyspace::new(&schema::CONVMESSAGE_COUNTED);
const ENTRIES: Keyspace<(u64, Conversation), u64> = Keyspace::new(&schema::USERCONV_UPDATED);
const GROUP_READS: Keyspace<(u64, u64), Read> = Keyspace::new(&schema::GROUPUSER_READ);
const SORTED: Keyspace<(u64, (u64, u64)), ()> = Keyspace::new(&schema::GROUPREAD_USER);
const NO_RECEIPTS: Keyspace<u64, u64> = Keyspace::new(&schema::USERID_NORECEIPTS);

/// A conversation's head; the default for one without messages.
pub fn head(r: &impl Get, conversation: Conversation) -> Result<Head, StorageError> {
    Ok(r.value(&HEADS, &conversation)?.unwrap_or_default())
}

/// A user's state in a conversation with this head, if the conversation is
/// in their list.
pub fn state(
    r: &impl Get,
    user: u64,
    conversation: Conversation,
    head: &Head,
) -> Result<Option<ReadState>, StorageError> {
    let Some(own) = r.value(&ENTRIES, &(user, conversation))? else { return Ok(None) };
    listed_state(r, user, conversation, head, own).map(Some)
}

/// The state of a conversation in a user's list, given the list entry's
/// own change id (see [`entries_of`]).
pub fn listed_state(
    r: &impl Get,
    user: u64,
    conversation: Conversation,
    head: &Head,
    own: u64,
) -> Result<ReadState, StorageError> {
    let read = match conversation {
        Conversation::Direct { .. } => head.read_of(conversation, user).unwrap_or_default(),
        Conversation::Group(group) => r.value(&GROUP_READS, &(group, user))?.unwrap_or_default(),
    };
    Ok(ReadState { read, updated: own.max(head.last) })
}

/// Whether the user sends (and sees) read receipts.
pub fn receipts_on(r: &impl Get, user: u64) -> Result<bool, StorageError> {
    Ok(r.value(&NO_RECEIPTS, &user)?.is_none())
}

/// Moves the conversation's head to a message just stored, and the
/// sender's read position with it. A 1:1 conversation's first message puts
/// it into both users' lists.
pub(crate) fn on_message(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    id: u64,
    sender: u64,
    kind: MessageKind,
) -> Result<(), StorageError> {
    let mut head = head(tx, conversation)?;
    let first = head.last == 0;
    head.last = id;
    if kind == MessageKind::System {
        tx.put(&HEADS, &conversation, &head);
        return Ok(());
    }
    head.counted += 1;
    let read = Read { read: id, counted: head.counted };
    match conversation {
        Conversation::Direct { low, high } => {
            if let Some(side) = head.side(conversation, sender) {
                *side = read;
            }
            if first {
                tx.put(&ENTRIES, &(low, conversation), &0);
                tx.put(&ENTRIES, &(high, conversation), &0);
            }
        }
        Conversation::Group(group) => {
            tx.put(&COUNTED, &(conversation, id), &head.counted);
            if let Some(old) = tx.get(&GROUP_READS, &(group, sender))? {
                put_group_read(tx, group, sender, Some(old), read)?;
            }
        }
    }
    tx.put(&HEADS, &conversation, &head);
    Ok(())
}

/// Writes a member's read position in a group, moving their entry among
/// the group's sorted positions (if they send receipts).
fn put_group_read(tx: &mut Tx<'_>, group: u64, user: u64, old: Option<Read>, new: Read) -> Result<(), StorageError> {
    if old.map(|o| o.read) != Some(new.read) && receipts_on(tx, user)? {
        if let Some(old) = old {
            tx.delete(&SORTED, &(group, (old.read, user)));
        }
        tx.put(&SORTED, &(group, (new.read, user)), &());
    }
    tx.put(&GROUP_READS, &(group, user), &new);
    Ok(())
}

/// Moves a user's read position forward to `up_to` in a conversation in
/// their list with this head, as of change `id`; returns the position.
pub(crate) fn mark_read(
    tx: &mut Tx<'_>,
    user: u64,
    conversation: Conversation,
    mut head: Head,
    up_to: u64,
    id: u64,
) -> Result<Read, StorageError> {
    let read = Read { read: up_to, counted: counted_at(tx, conversation, &head, up_to)? };
    match conversation {
        Conversation::Direct { .. } => {
            if let Some(side) = head.side(conversation, user) {
                *side = read;
            }
            tx.put(&HEADS, &conversation, &head);
        }
        Conversation::Group(group) => {
            let old = tx.get(&GROUP_READS, &(group, user))?;
            put_group_read(tx, group, user, old, read)?;
        }
    }
    tx.put(&ENTRIES, &(user, conversation), &id);
    Ok(read)
}

/// The count at a read position. A 1:1 conversation counts every message,
/// so the count is the head's less the messages above the position (a read
/// up to the newest message, the usual case, reads none); a group's is
/// that of its last counted message at or below the position.
fn counted_at(tx: &Tx<'_>, conversation: Conversation, head: &Head, up_to: u64) -> Result<u64, StorageError> {
    match conversation {
        Conversation::Direct { .. } if up_to >= head.last => Ok(head.counted),
        Conversation::Direct { .. } => {
            let above = crate::service::message::store::count_between(tx, conversation, up_to, head.last)?;
            Ok(head.counted.saturating_sub(above))
        }
        Conversation::Group(_) => {
            Ok(tx.last(&COUNTED, (conversation, 0)..=(conversation, up_to))?.map_or(0, |(_, n)| n))
        }
    }
}

/// A new member's state: everything before they joined counts as read.
pub(crate) fn joined(tx: &mut Tx<'_>, group: u64, user: u64, joined: u64) -> Result<(), StorageError> {
    let conversation = Conversation::Group(group);
    let head = head(tx, conversation)?;
    let old = tx.get(&GROUP_READS, &(group, user))?;
    put_group_read(tx, group, user, old, Read { read: head.last, counted: head.counted })?;
    tx.put(&ENTRIES, &(user, conversation), &joined);
    Ok(())
}

/// Forgets a member's state when they leave the group.
pub(crate) fn left(tx: &mut Tx<'_>, group: u64, user: u64) -> Result<(), StorageError> {
    if let Some(old) = tx.get(&GROUP_READS, &(group, user))? {
        tx.delete(&SORTED, &(group, (old.read, user)));
        tx.delete(&GROUP_READS, &(group, user));
    }
    tx.delete(&ENTRIES, &(user, Conversation::Group(group)));
    Ok(())
}

/// Turns a user's read receipts on or off: their read positions join or
/// leave their groups' sorted indexes.
pub(crate) fn set_receipts(tx: &mut Tx<'_>, user: u64, on: bool, now_ms: u64) -> Result<(), StorageError> {
    if receipts_on(tx, user)? == on {
        return Ok(());
    }
    let groups: Vec<u64> = tx
        .range(&ENTRIES, (user, Conversation::Group(0))..=(user, Conversation::Group(u64::MAX)))
        .filter_map(|entry| match entry {
            Ok(((_, Conversation::Group(group)), _)) => Some(Ok(group)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;
    for group in groups {
        let Some(read) = tx.get(&GROUP_READS, &(group, user))? else { continue };
        if on {
            tx.put(&SORTED, &(group, (read.read, user)), &());
        } else {
            tx.delete(&SORTED, &(group, (read.read, user)));
        }
    }
    if on {
        tx.delete(&NO_RECEIPTS, &user);
    } else {
        tx.put(&NO_RECEIPTS, &user, &now_ms);
    }
    Ok(())
}

/// Every conversation in a user's list, with when the user last changed
/// it: their 1:1 conversations, then their groups.
pub fn entries_of(store: &Store, user: u64) -> impl Iterator<Item = Result<(Conversation, u64), StorageError>> + '_ {
    store.scan(&ENTRIES, &user).map(|entry| entry.map(|((_, c), updated)| (c, updated)))
}

/// Members of a group with their read position at or past `message`, and
/// all members indexed (those who send receipts), in user id order.
pub fn readers(store: &Store, group: u64, message: u64) -> Result<(Vec<u64>, u64), StorageError> {
    let mut readers = Vec::new();
    let mut all = 0;
    for entry in store.scan(&SORTED, &group) {
        let ((_, (read, user)), ()) = entry?;
        all += 1;
        if read >= message {
            readers.push(user);
        }
    }
    readers.sort_unstable();
    Ok((readers, all))
}

/// Conversations with messages, list entries, and users with receipts off,
/// for `kith stats`.
pub fn stats(store: &Store) -> Result<(u64, u64, u64), StorageError> {
    Ok((store.count(&HEADS)?, store.count(&ENTRIES)?, store.count(&NO_RECEIPTS)?))
}

/// Checks restored conversation data: every entry decodes, both users of a
/// 1:1 conversation with messages list it, and every member's read
/// position is in its group's sorted index if they send receipts.
pub(crate) fn check(store: &Store) -> Result<(), String> {
    let text = |e: StorageError| e.to_string();
    for entry in store.all(&HEADS) {
        if let (Conversation::Direct { low, high }, _) = entry.map_err(text)? {
            for user in [low, high] {
                if store.get(&ENTRIES, &(user, Conversation::Direct { low, high })).map_err(text)?.is_none() {
                    return Err(format!("user {user} does not list the conversation of {low} and {high}"));
                }
            }
        }
    }
    for entry in store.all(&COUNTED) {
        entry.map_err(text)?;
    }
    for entry in store.all(&ENTRIES) {
        entry.map_err(text)?;
    }
    for entry in store.all(&SORTED) {
        entry.map_err(text)?;
    }
    for entry in store.all(&NO_RECEIPTS) {
        entry.map_err(text)?;
    }
    for entry in store.all(&GROUP_READS) {
        let ((group, user), read) = entry.map_err(text)?;
        let indexed = !receipts_on(store, user).map_err(text)?
            || store.get(&SORTED, &(group, (read.read, user))).map_err(text)?.is_some();
        if !indexed {
            return Err(format!("the read position of user {user} in group {group} is missing from its index"));
        }
    }
    Ok(())
}

/// Version 3 kept no heads or read positions. Builds them from the logs
/// and the group memberships, counting everything already stored as read.
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
            if let Conversation::Group(_) = conversation {
                m.put(&COUNTED, &(conversation, id), &head.counted)?;
            }
        }
    }
    if let Some((done, head)) = open {
        close(m, done, head, &mut groups)?;
    }
    for entry in crate::service::group::store::memberships(m)? {
        let (group, user, joined) = entry?;
        let head = groups.get(&group).copied().unwrap_or_default();
        let read = Read { read: head.last, counted: head.counted };
        m.put(&GROUP_READS, &(group, user), &read)?;
        m.put(&SORTED, &(group, (read.read, user)), &())?;
        m.put(&ENTRIES, &(user, Conversation::Group(group)), &joined)?;
    }
    Ok(())
}

/// Writes a migrated conversation's head; a 1:1 conversation's holds both
/// users' read positions at its newest message, and enters both lists (a
/// group's members get theirs from the memberships).
fn close(
    m: &mut Migrator<'_>,
    conversation: Conversation,
    mut head: Head,
    groups: &mut std::collections::HashMap<u64, Head>,
) -> Result<(), StorageError> {
    match conversation {
        Conversation::Direct { low, high } => {
            head.pair = [Read { read: head.last, counted: head.counted }; 2];
            m.put(&ENTRIES, &(low, conversation), &0)?;
            m.put(&ENTRIES, &(high, conversation), &0)?;
        }
        Conversation::Group(group) => {
            groups.insert(group, head);
        }
    }
    m.put(&HEADS, &conversation, &head)
}
