//! Conversation heads, read positions and the indexes that list and count
//! them: the records of each log, written by every job that appends to it
//! ([`append`]) or moves a reader. They know no rule of who may read what;
//! the conversation domain, above groups, holds those rules and its actions.
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
//!
//! Recalled messages (`convmessage_recalled`) and the messages a user hid
//! (`userconvmessage_hidden`) stop counting as unread. A head counts the
//! recalls it ever had and a read position the hidden messages above it;
//! only when either is nonzero does an unread count look further, at those
//! entries above the position ([`unread`]) — never at the log.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::{store as log, Conversation, StoredMessage};
use crate::protocol::MessageKind;
use crate::service::{ServiceResult, Tx};
use crate::storage::{schema, Audit, Get, Keyspace, Migrator, StorageError, Store};

/// A read position and the conversation's count at it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Read {
    /// The highest message id read, 0 for none.
    pub read: u64,
    /// The conversation's count of messages that can be unread, up to `read`.
    pub counted: u64,
    /// Messages above `read` the user hid that counted: while 0, none of
    /// them needs looking at.
    pub hidden: u64,
}

/// A conversation's newest message, how many messages it has counted and,
/// in a 1:1 conversation, both users' read positions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Head {
    /// The newest message id, 0 for none.
    pub last: u64,
    /// Messages ever stored that can be unread (not system messages).
    pub counted: u64,
    /// A 1:1 conversation's read positions: the lower user id's, then the
    /// higher's (the same for notes to oneself); unused in a group.
    pub pair: [Read; 2],
    /// Counted messages recalled, ever: while 0, no recall needs looking at.
    pub withdrawn: u64,
    /// The conversation's own retention in seconds (0: none, the server's
    /// applies).
    pub retention: u64,
    /// Every message below this id has expired whatever the retention is
    /// now (0: none): the purge raises it as it goes, and so does a change
    /// of retention, so what expired stays expired.
    pub expired: u64,
}

impl Head {
    /// A 1:1 participant's read position.
    pub(crate) fn read_of(&self, conversation: Conversation, user: u64) -> Option<Read> {
        pair_slot(conversation, user).map(|slot| self.pair[slot])
    }

    /// Where retention ends: the lowest message id of the conversation
    /// still visible. Messages below it expired under the shorter of the
    /// conversation's retention and the server's (`server` seconds, 0 for
    /// none), or were purged; 0 when nothing has expired.
    pub(crate) fn expiry(&self, server: u64, now_ms: u64) -> u64 {
        crate::id::first_id_within(effective_retention(self.retention, server), now_ms).max(self.expired)
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
pub(crate) struct ReadState {
    /// Their read position.
    pub read: Read,
    /// When the entry last changed for them: a message or their own change.
    pub updated: u64,
    /// Their unread messages.
    pub unread: u64,
    /// The lowest message id not expired when the state was read.
    pub below: u64,
}

const HEADS: Keyspace<Conversation, Head> = Keyspace::new(&schema::CONV_HEAD);
const COUNTED: Keyspace<(Conversation, u64), u64> = Keyspace::new(&schema::CONVMESSAGE_COUNTED);
const ENTRIES: Keyspace<(u64, Conversation), u64> = Keyspace::new(&schema::USERCONV_UPDATED);
const GROUP_READS: Keyspace<(u64, u64), Read> = Keyspace::new(&schema::GROUPUSER_READ);
const SORTED: Keyspace<(u64, (u64, u64)), ()> = Keyspace::new(&schema::GROUPREAD_USER);
const NO_RECEIPTS: Keyspace<u64, u64> = Keyspace::new(&schema::USERID_NORECEIPTS);
const RECALLED: Keyspace<(Conversation, u64), u64> = Keyspace::new(&schema::CONVMESSAGE_RECALLED);
const RECALLS: Keyspace<(Conversation, (u64, u64)), u64> = Keyspace::new(&schema::CONVRANGE_RECALLS);
const HIDDEN: Keyspace<(u64, (Conversation, u64)), bool> = Keyspace::new(&schema::USERCONVMESSAGE_HIDDEN);
const CLEARED: Keyspace<(u64, Conversation), u64> = Keyspace::new(&schema::USERCONV_CLEARED);
const MENTIONED: Keyspace<(u64, Conversation), u64> = Keyspace::new(&schema::USERCONV_MENTIONED);

/// A conversation's head; the default for one without messages.
pub(crate) fn head(r: &impl Get, conversation: Conversation) -> Result<Head, StorageError> {
    Ok(r.get(&HEADS, &conversation)?.unwrap_or_default())
}

/// Every conversation with messages, and its head.
pub(crate) fn heads(store: &Store) -> impl Iterator<Item = Result<(Conversation, Head), StorageError>> + '_ {
    store.all(&HEADS)
}

/// The shorter of a conversation's own retention and the server's, in
/// seconds; 0 when neither is set.
pub(crate) fn effective_retention(own: u64, server: u64) -> u64 {
    match (own, server) {
        (0, s) | (s, 0) => s,
        (a, b) => a.min(b),
    }
}

/// A user's state in a conversation with this head, if the conversation is
/// in their list; messages below `below` have expired.
pub(crate) fn state(
    r: &impl Get,
    user: u64,
    conversation: Conversation,
    head: &Head,
    below: u64,
) -> Result<Option<ReadState>, StorageError> {
    let Some(own) = r.get(&ENTRIES, &(user, conversation))? else { return Ok(None) };
    listed_state(r, user, conversation, head, own, below).map(Some)
}

/// The state of a conversation in a user's list, given the list entry's
/// own change id (see [`entries_of`]) and where expiry ends.
pub(crate) fn listed_state(
    r: &impl Get,
    user: u64,
    conversation: Conversation,
    head: &Head,
    own: u64,
    below: u64,
) -> Result<ReadState, StorageError> {
    let read = read_position(r, user, conversation, head)?.unwrap_or_default();
    let unread = unread(r, user, conversation, head, &read, below)?;
    Ok(ReadState { read, updated: own.max(head.last), unread, below })
}

/// A user's read position: in the head of a 1:1 conversation, or the
/// member's own record in a group.
fn read_position(
    r: &impl Get,
    user: u64,
    conversation: Conversation,
    head: &Head,
) -> Result<Option<Read>, StorageError> {
    match conversation {
        Conversation::Direct { .. } => Ok(head.read_of(conversation, user)),
        Conversation::Group(group) => r.get(&GROUP_READS, &(group, user)),
    }
}

/// A user's unread messages at a read position: the counted messages after
/// it and not expired (below `below`), less those recalled and those the
/// user hid (a hidden message that was recalled too is left out once).
pub(crate) fn unread(
    r: &impl Get,
    user: u64,
    conversation: Conversation,
    head: &Head,
    read: &Read,
    below: u64,
) -> Result<u64, StorageError> {
    let Some(next) = read.read.checked_add(1) else { return Ok(0) };
    // A position among expired messages counts what is left above them:
    // the keys of the messages that count, which the purge removes with
    // the messages, so the count is exact before and after it.
    let (mut unread, after) = if below > next {
        let counted = match conversation {
            Conversation::Direct { .. } => log::count_from(r, conversation, below)?,
            Conversation::Group(_) => r.count(&COUNTED, (conversation, below)..=(conversation, u64::MAX))?,
        };
        (counted, below)
    } else {
        (head.counted.saturating_sub(read.counted), next)
    };
    if unread == 0 || (head.withdrawn == 0 && read.hidden == 0) {
        return Ok(unread);
    }
    if head.withdrawn > 0 {
        unread = unread.saturating_sub(recalled_from(r, conversation, after)?);
    }
    if read.hidden > 0 {
        for entry in r.range(&HIDDEN, (user, (conversation, after))..=(user, (conversation, u64::MAX))) {
            let ((_, (_, id)), counted) = entry?;
            if counted && (head.withdrawn == 0 || r.get(&RECALLED, &(conversation, id))?.is_none()) {
                unread = unread.saturating_sub(1);
            }
        }
    }
    Ok(unread)
}

/// Bits of a message id below the narrowest range of recall counts (4 ms
/// of ids: the marks counted one by one are those of a few milliseconds),
/// and the bits each wider level adds (16 ranges of one level make one of
/// the next).
const RANGE_SHIFT: u32 = 24;
const LEVEL_BITS: u32 = 4;
/// Recall marks above a position counted one by one before the range
/// counts are asked instead.
const FEW_RECALLS: usize = 64;
/// Levels of recall counts: the widest holds 16 ranges spanning every id.
const LEVELS: u32 = (64 - RANGE_SHIFT) / LEVEL_BITS;

/// The range of ids that `id` falls in at `level`.
fn range_of(id: u64, level: u32) -> u64 {
    id >> (RANGE_SHIFT + LEVEL_BITS * level)
}

/// Recalled messages of a conversation with ids from `from` on, exact and
/// in a bounded number of reads whatever their number: the recall marks
/// in the rest of `from`'s narrowest range, then at each level the counts of
/// the ranges above it within the next level's (at most 15 per level).
fn recalled_from(r: &impl Get, conversation: Conversation, from: u64) -> Result<u64, StorageError> {
    // Few recalls above a position, the usual case: counting their marks
    // is cheaper than the ranges' dozen reads.
    let mut few = 0;
    for entry in r.range(&RECALLED, (conversation, from)..=(conversation, u64::MAX)).take(FEW_RECALLS + 1) {
        entry?;
        few += 1;
    }
    if few <= FEW_RECALLS {
        return Ok(few as u64);
    }
    let Parts { marks, ranges } = parts_from(from);
    let mut n = match marks {
        Some(ids) => r.count(&RECALLED, (conversation, *ids.start())..=(conversation, *ids.end()))?,
        None => 0,
    };
    for (level, first, last) in ranges {
        for entry in r.range(&RECALLS, (conversation, (level, first))..=(conversation, (level, last))) {
            n += entry?.1;
        }
    }
    Ok(n)
}

/// Where the ids from some id on lie, without overlap.
struct Parts {
    /// The ids left in the first id's narrowest range, to count one by one.
    marks: Option<RangeInclusive<u64>>,
    /// The ranges, as `(level, first, last)`, whose counts hold the rest.
    ranges: Vec<(u64, u64, u64)>,
}

/// Where the ids from `from` on lie.
fn parts_from(from: u64) -> Parts {
    let Some(after) = from.checked_sub(1) else {
        let widest = u64::from(LEVELS - 1);
        return Parts { marks: None, ranges: vec![(widest, 0, (1 << LEVEL_BITS) - 1)] };
    };
    let end = after | ((1 << RANGE_SHIFT) - 1);
    let marks = (from <= end).then_some(from..=end);
    let mut ranges = Vec::new();
    for level in 0..LEVELS {
        let range = range_of(after, level);
        let last = range | ((1 << LEVEL_BITS) - 1);
        if range < last {
            ranges.push((u64::from(level), range + 1, last));
        }
    }
    Parts { marks, ranges }
}

/// Counts a recall in the ranges of every level its message falls in.
fn count_recall(tx: &mut Tx<'_>, conversation: Conversation, id: u64) -> Result<(), StorageError> {
    for level in 0..LEVELS {
        let key = (conversation, (u64::from(level), range_of(id, level)));
        let n = tx.get(&RECALLS, &key)?.unwrap_or(0);
        tx.put(&RECALLS, &key, &(n + 1));
    }
    Ok(())
}

/// Hidden messages above `after` that counted, for a read position there.
fn hidden_above(r: &impl Get, user: u64, conversation: Conversation, after: u64) -> Result<u64, StorageError> {
    let Some(first) = after.checked_add(1) else { return Ok(0) };
    let mut n = 0;
    for entry in r.range(&HIDDEN, (user, (conversation, first))..=(user, (conversation, u64::MAX))) {
        if entry?.1 {
            n += 1;
        }
    }
    Ok(n)
}

/// Whether the user sends (and sees) read receipts.
pub(crate) fn receipts_on(r: &impl Get, user: u64) -> Result<bool, StorageError> {
    Ok(r.get(&NO_RECEIPTS, &user)?.is_none())
}

/// Stores a message in its conversation's log and moves the conversation's
/// head to it: every message, 1:1 or group, user's or server's, goes in here.
pub(crate) fn append(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    id: u64,
    message: &StoredMessage,
) -> Result<(), StorageError> {
    log::append(tx, conversation, id, message)?;
    on_message(tx, conversation, id, message.sender, message.kind)
}

/// Moves the conversation's head to a message just stored, and the
/// sender's read position with it. A 1:1 conversation's first message puts
/// it into both users' lists.
fn on_message(
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
    let read = Read { read: id, counted: head.counted, hidden: 0 };
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
    head: Head,
    up_to: u64,
    id: u64,
) -> Result<Read, StorageError> {
    let old = read_position(tx, user, conversation, &head)?;
    let hidden = match old {
        Some(old) if old.hidden > 0 => hidden_above(tx, user, conversation, up_to)?,
        _ => 0,
    };
    let read = Read { read: up_to, counted: counted_at(tx, conversation, &head, up_to)?, hidden };
    put_read(tx, user, conversation, head, old, read)?;
    tx.put(&ENTRIES, &(user, conversation), &id);
    Ok(read)
}

/// Writes a user's read position: into the head of a 1:1 conversation, or
/// as the member's record of a group.
fn put_read(
    tx: &mut Tx<'_>,
    user: u64,
    conversation: Conversation,
    mut head: Head,
    old: Option<Read>,
    read: Read,
) -> Result<(), StorageError> {
    match conversation {
        Conversation::Direct { .. } => {
            if let Some(side) = head.side(conversation, user) {
                *side = read;
            }
            tx.put(&HEADS, &conversation, &head);
            Ok(())
        }
        Conversation::Group(group) => put_group_read(tx, group, user, old, read),
    }
}

/// Moves a conversation up the user's list: it changed for them as of `id`.
pub(crate) fn touched(tx: &mut Tx<'_>, user: u64, conversation: Conversation, id: u64) {
    tx.put(&ENTRIES, &(user, conversation), &id);
}

/// Leaves a recalled message out of unread counts from now on.
pub(crate) fn recalled(tx: &mut Tx<'_>, conversation: Conversation, id: u64, by: u64) -> Result<(), StorageError> {
    let mut head = head(tx, conversation)?;
    head.withdrawn += 1;
    tx.put(&HEADS, &conversation, &head);
    tx.put(&RECALLED, &(conversation, id), &by);
    count_recall(tx, conversation, id)
}

/// Who recalled a message, if it was recalled after it had counted.
pub(crate) fn recalled_by(r: &impl Get, conversation: Conversation, id: u64) -> Result<Option<u64>, StorageError> {
    r.get(&RECALLED, &(conversation, id))
}

/// Hides messages of a conversation in the user's list from them, given
/// each id and whether it counted; the ones above the read position stop
/// counting as unread. Returns the ids newly hidden.
pub(crate) fn hide(
    tx: &mut Tx<'_>,
    user: u64,
    conversation: Conversation,
    head: Head,
    messages: &[(u64, bool)],
) -> Result<Vec<u64>, StorageError> {
    let old = read_position(tx, user, conversation, &head)?;
    let mut read = old.unwrap_or_default();
    let mut newly = Vec::new();
    for &(id, counted) in messages {
        if tx.get(&HIDDEN, &(user, (conversation, id)))?.is_some() {
            continue;
        }
        tx.put(&HIDDEN, &(user, (conversation, id)), &counted);
        if counted && id > read.read {
            read.hidden += 1;
        }
        newly.push(id);
    }
    if old.is_some_and(|old| old != read) {
        put_read(tx, user, conversation, head, old, read)?;
    }
    Ok(newly)
}

/// Sets a conversation's own retention, in seconds (0: none). What has
/// expired under the server's retention (`server` seconds) and the old one
/// stays expired.
pub(crate) fn set_retention(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    seconds: u64,
    server: u64,
    now_ms: u64,
) -> Result<(), StorageError> {
    let mut head = head(tx, conversation)?;
    head.expired = head.expiry(server, now_ms);
    head.retention = seconds;
    tx.put(&HEADS, &conversation, &head);
    Ok(())
}

/// Forgets what the conversation kept about messages just purged, from
/// its oldest up to `last`: their running counts and recall marks; the
/// head records that everything up to `last` has expired.
pub(crate) fn purged(tx: &mut Tx<'_>, conversation: Conversation, last: u64) -> Result<(), StorageError> {
    let range = (conversation, 0)..=(conversation, last);
    let mut gone: Vec<(Conversation, u64)> = Vec::new();
    for entry in tx.range(&COUNTED, range.clone()) {
        gone.push(entry?.0);
    }
    for key in gone.drain(..) {
        tx.delete(&COUNTED, &key);
    }
    for entry in tx.range(&RECALLED, range) {
        gone.push(entry?.0);
    }
    for key in &gone {
        tx.delete(&RECALLED, key);
    }
    // The recall counts of ranges wholly purged are read no more.
    for level in 0..LEVELS {
        let Some(whole) = range_of(last.saturating_add(1), level).checked_sub(1) else { continue };
        let level = u64::from(level);
        let keys: Vec<_> = tx
            .range(&RECALLS, (conversation, (level, 0))..=(conversation, (level, whole)))
            .map(|e| e.map(|(key, _)| key))
            .collect::<Result<_, _>>()?;
        for key in &keys {
            tx.delete(&RECALLS, key);
        }
    }
    let mut head = head(tx, conversation)?;
    head.expired = head.expired.max(last.saturating_add(1));
    tx.put(&HEADS, &conversation, &head);
    Ok(())
}

/// Deletes the user's hidden marks on purged messages of a conversation
/// (those below `below`).
pub(crate) fn unhide_below(
    tx: &mut Tx<'_>,
    user: u64,
    conversation: Conversation,
    below: u64,
) -> Result<(), StorageError> {
    let Some(last) = below.checked_sub(1) else { return Ok(()) };
    let keys: Vec<(u64, (Conversation, u64))> = tx
        .range(&HIDDEN, (user, (conversation, 0))..=(user, (conversation, last)))
        .map(|entry| entry.map(|(key, _)| key))
        .collect::<Result<_, _>>()?;
    for key in &keys {
        tx.delete(&HIDDEN, key);
    }
    Ok(())
}

/// Whether the user hid this message.
pub(crate) fn is_hidden(r: &impl Get, user: u64, conversation: Conversation, id: u64) -> Result<bool, StorageError> {
    Ok(r.get(&HIDDEN, &(user, (conversation, id)))?.is_some())
}

/// The messages of a conversation the user hid, ascending.
pub(crate) fn hidden_in(
    store: &Store,
    user: u64,
    conversation: Conversation,
) -> impl Iterator<Item = Result<u64, StorageError>> + '_ {
    store
        .range(&HIDDEN, (user, (conversation, 0))..=(user, (conversation, u64::MAX)))
        .map(|entry| entry.map(|((_, (_, id)), _)| id))
}

/// Whether the user hid any message of the conversation.
pub(crate) fn hides_any(r: &impl Get, user: u64, conversation: Conversation) -> Result<bool, StorageError> {
    Ok(r.range(&HIDDEN, (user, (conversation, 0))..=(user, (conversation, u64::MAX))).next().transpose()?.is_some())
}

/// How far the user cleared the conversation (0: not at all).
pub(crate) fn cleared(r: &impl Get, user: u64, conversation: Conversation) -> Result<u64, StorageError> {
    Ok(r.get(&CLEARED, &(user, conversation))?.unwrap_or(0))
}

/// The newest message of a conversation that mentioned the user, 0 for none.
pub(crate) fn mention(r: &impl Get, user: u64, conversation: Conversation) -> Result<u64, StorageError> {
    Ok(r.get(&MENTIONED, &(user, conversation))?.unwrap_or(0))
}

/// Message `id` of a conversation mentions these users: for each, the
/// newest mention.
pub(crate) fn mentioned(tx: &mut Tx<'_>, users: &[u64], conversation: Conversation, id: u64) {
    for user in users {
        tx.put(&MENTIONED, &(*user, conversation), &id);
    }
}

/// Clears the conversation for the user up to a message.
pub(crate) fn clear(tx: &mut Tx<'_>, user: u64, conversation: Conversation, up_to: u64) {
    tx.put(&CLEARED, &(user, conversation), &up_to);
}

/// The count at a read position. A 1:1 conversation counts every message,
/// so the count is the head's less the messages above the position (a read
/// up to the newest message, the usual case, reads none); a group's is
/// that of its last counted message at or below the position.
fn counted_at(tx: &Tx<'_>, conversation: Conversation, head: &Head, up_to: u64) -> Result<u64, StorageError> {
    match conversation {
        Conversation::Direct { .. } if up_to >= head.last => Ok(head.counted),
        Conversation::Direct { .. } => {
            let above = log::count_from(tx, conversation, up_to.saturating_add(1))?;
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
    put_group_read(tx, group, user, old, Read { read: head.last, counted: head.counted, hidden: 0 })?;
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

/// Erases a deleted user's conversation state, at most `most` rows per
/// call: their list entries, each with its cleared point and mention; a 1:1
/// conversation nobody is left to read (a note to self, or one whose other
/// user `gone` says is deleted too) is erased whole, its log first. Then
/// their hidden marks, other cleared points and mentions, and receipt
/// setting. True when nothing is left.
pub(crate) fn erase(tx: &mut Tx<'_>, user: u64, most: usize, gone: impl Fn(u64) -> bool) -> ServiceResult<bool> {
    let entries: Vec<Conversation> =
        tx.scan(&ENTRIES, &user).take(most).map(|e| e.map(|((_, c), _)| c)).collect::<Result<_, _>>()?;
    for conversation in &entries {
        if let Conversation::Direct { low, high } = *conversation {
            let other = if low == user { high } else { low };
            if other == user || gone(other) {
                if !log::erase_log(tx, *conversation, most)? {
                    return Ok(false);
                }
                tx.delete_some(&RECALLED, conversation, usize::MAX)?;
                tx.delete_some(&RECALLS, conversation, usize::MAX)?;
                tx.delete(&HEADS, conversation);
            }
        }
        tx.delete(&ENTRIES, &(user, *conversation));
        tx.delete(&CLEARED, &(user, *conversation));
        tx.delete(&MENTIONED, &(user, *conversation));
    }
    if !entries.is_empty()
        || tx.delete_some(&HIDDEN, &user, most)? > 0
        || tx.delete_some(&CLEARED, &user, most)? > 0
        || tx.delete_some(&MENTIONED, &user, most)? > 0
    {
        return Ok(false);
    }
    tx.delete(&NO_RECEIPTS, &user);
    Ok(true)
}

/// Turns a user's read receipts on or off: their read positions join or
/// leave their groups' sorted indexes. Returns whether it changed.
pub(crate) fn set_receipts(tx: &mut Tx<'_>, user: u64, on: bool, now_ms: u64) -> Result<bool, StorageError> {
    if receipts_on(tx, user)? == on {
        return Ok(false);
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
    Ok(true)
}

/// Every conversation in a user's list, with when the user last changed
/// it: their 1:1 conversations, then their groups.
pub(crate) fn entries_of(
    store: &Store,
    user: u64,
) -> impl Iterator<Item = Result<(Conversation, u64), StorageError>> + '_ {
    store.scan(&ENTRIES, &user).map(|entry| entry.map(|((_, c), updated)| (c, updated)))
}

/// Members of a group with their read position at or past `message`, and
/// all members indexed (those who send receipts), in user id order.
pub(crate) fn readers(store: &Store, group: u64, message: u64) -> Result<(Vec<u64>, u64), StorageError> {
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

/// What `kith stats` shows of conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Stats {
    /// Conversations with messages.
    pub conversations_with_messages: u64,
    /// List entries, each with a read position.
    pub read_positions: u64,
    /// Users with read receipts off.
    pub read_receipts_off: u64,
    /// Messages recalled (that had counted as unread).
    pub recalled_messages: u64,
    /// Messages users deleted for themselves, one by one.
    pub hidden_messages: u64,
    /// Conversations users cleared for themselves.
    pub cleared_conversations: u64,
    /// Conversations with a retention of their own.
    pub conversations_with_retention: u64,
}

/// What `kith stats` shows of conversations.
pub(crate) fn stats(store: &Store) -> Result<Stats, StorageError> {
    let (mut heads, mut with_retention) = (0, 0);
    for entry in self::heads(store) {
        heads += 1;
        if entry?.1.retention > 0 {
            with_retention += 1;
        }
    }
    Ok(Stats {
        conversations_with_messages: heads,
        conversations_with_retention: with_retention,
        read_positions: store.count_all(&ENTRIES)?,
        read_receipts_off: store.count_all(&NO_RECEIPTS)?,
        recalled_messages: store.count_all(&RECALLED)?,
        hidden_messages: store.count_all(&HIDDEN)?,
        cleared_conversations: store.count_all(&CLEARED)?,
    })
}

/// Checks restored conversation data: every entry decodes, both users of a
/// 1:1 conversation with messages list it, and every member's read
/// position is in its group's sorted index if they send receipts.
pub(crate) fn check(store: &Audit<'_>) -> Result<(), String> {
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
    store.check_entries(&COUNTED)?;
    store.check_entries(&ENTRIES)?;
    store.check_entries(&SORTED)?;
    store.check_entries(&NO_RECEIPTS)?;
    store.check_entries(&RECALLED)?;
    store.check_entries(&RECALLS)?;
    store.check_entries(&HIDDEN)?;
    store.check_entries(&MENTIONED)?;
    store.check_entries(&CLEARED)?;
    for entry in store.all(&GROUP_READS) {
        let ((group, user), read) = entry.map_err(text)?;
        let indexed = !receipts_on(&**store, user).map_err(text)?
            || store.get(&SORTED, &(group, (read.read, user))).map_err(text)?.is_some();
        if !indexed {
            return Err(format!("the read position of user {user} in group {group} is missing from its index"));
        }
    }
    Ok(())
}

/// Version 3 kept no heads or read positions. Builds them from the logs
/// and the group memberships (`(group, user, joined)`, from the group
/// domain), counting everything already stored as read.
pub(crate) fn from_v3(
    m: &mut Migrator<'_>,
    memberships: impl Iterator<Item = Result<(u64, u64, u64), StorageError>>,
) -> Result<(), StorageError> {
    use v4::{Head, Read, GROUP_READS};
    let mut groups = std::collections::HashMap::new();
    let mut open: Option<(Conversation, Head)> = None;
    for entry in log::kinds(m)? {
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
    for entry in memberships {
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
    mut head: v4::Head,
    groups: &mut std::collections::HashMap<u64, v4::Head>,
) -> Result<(), StorageError> {
    use v4::{Read, HEADS};
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

/// Version 4's heads and read positions had no recall or hidden counters.
/// They start at zero: nothing was recalled or hidden before.
pub(crate) fn from_v4(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    let read = |old: v4::Read| Read { read: old.read, counted: old.counted, hidden: 0 };
    m.reshape(&v5::HEADS, |old: v4::Head| v5::Head {
        last: old.last,
        counted: old.counted,
        pair: old.pair.map(read),
        withdrawn: 0,
    })?;
    m.reshape(&GROUP_READS, read)?;
    Ok(())
}

/// Version 5's heads had no retention: no conversation had one of its
/// own, and nothing was purged.
pub(crate) fn from_v5(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    m.reshape(&HEADS, |old: v5::Head| Head {
        last: old.last,
        counted: old.counted,
        pair: old.pair,
        withdrawn: old.withdrawn,
        retention: 0,
        expired: 0,
    })
}

/// Version 8 kept recall marks without counts by range: they are counted.
pub(crate) fn from_v8(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    let mut counts: std::collections::HashMap<(Conversation, (u64, u64)), u64> = Default::default();
    for entry in m.entries(&RECALLED)? {
        let ((conversation, id), _) = entry?;
        for level in 0..LEVELS {
            *counts.entry((conversation, (u64::from(level), range_of(id, level)))).or_default() += 1;
        }
    }
    for (key, n) in counts {
        m.put(&RECALLS, &key, &n)?;
    }
    Ok(())
}

/// The heads of version 5, which migration step 5 writes and step 6 reads.
mod v5 {
    use serde::{Deserialize, Serialize};

    use super::Read;
    use crate::service::message::Conversation;
    use crate::storage::{schema, Keyspace};

    /// A head: newest message, count, 1:1 read positions, recalls.
    #[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
    pub(crate) struct Head {
        pub last: u64,
        pub counted: u64,
        pub pair: [Read; 2],
        pub withdrawn: u64,
    }

    pub(crate) const HEADS: Keyspace<Conversation, Head> = Keyspace::new(&schema::CONV_HEAD);
}

/// The shapes of version 4, which migration step 4 writes and step 5 reads.
mod v4 {
    use serde::{Deserialize, Serialize};

    use crate::service::message::Conversation;
    use crate::storage::{schema, Keyspace};

    /// A read position and the count at it.
    #[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
    pub(crate) struct Read {
        pub read: u64,
        pub counted: u64,
    }

    /// A head: newest message, count, 1:1 read positions.
    #[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
    pub(crate) struct Head {
        pub last: u64,
        pub counted: u64,
        pub pair: [Read; 2],
    }

    pub(crate) const HEADS: Keyspace<Conversation, Head> = Keyspace::new(&schema::CONV_HEAD);
    pub(crate) const GROUP_READS: Keyspace<(u64, u64), Read> = Keyspace::new(&schema::GROUPUSER_READ);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every id from `from` on lies in exactly one part, and no id below it
    /// in any: the recall counts are summed without gap or overlap.
    #[test]
    fn the_parts_from_an_id_cover_every_later_id_once() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let inside = |id: u64, parts: &Parts| {
            let marks = parts.marks.as_ref().is_some_and(|ids| ids.contains(&id)) as usize;
            let counted = parts.ranges.iter().filter(|(level, first, last)| {
                let range = range_of(id, *level as u32);
                (*first..=*last).contains(&range)
            });
            marks + counted.count()
        };
        for _ in 0..20_000 {
            let from = match next() % 4 {
                0 => next() >> (next() % 64),
                1 => (next() >> 22) << 22,
                _ => next(),
            };
            let parts = parts_from(from);
            assert!(parts.ranges.len() <= LEVELS as usize);
            for _ in 0..8 {
                let delta = next() >> (next() % 64);
                if let Some(id) = from.checked_add(delta) {
                    assert_eq!(inside(id, &parts), 1, "id {id} from {from}");
                }
                if let Some(id) = from.checked_sub(delta.max(1)) {
                    assert_eq!(inside(id, &parts), 0, "id {id} below {from}");
                }
            }
        }
        assert_eq!(inside(u64::MAX, &parts_from(u64::MAX)), 1);
        assert_eq!(inside(0, &parts_from(0)), 1);
    }
}
