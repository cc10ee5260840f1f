//! Conversation logs and the idempotency index.
//!
//! A message is stored once, in its conversation's log under
//! `conversation ‖ id`; participants' update logs point at it. The
//! idempotency index maps a sender's client message id to the id the
//! message got, so a retry within `conversation.idempotency_secs` returns
//! the original ack; older entries are forgotten ([`forget_sent`]), so the
//! index holds a window of messages, not every message ever sent.
//!
//! Messages older than `conversation.seal_after_secs` leave their keys for
//! blocks of many ([`sealed`]); every read here merges the loose and the
//! sealed, so no caller knows where a message lies.

use std::ops::{Bound, RangeInclusive};

use serde::{Deserialize, Serialize};

use super::sealed::{self, Merged};
use super::{reactions, Conversation};
use crate::protocol::{Direction, MessageKind};
use crate::service::{PageLimit, ServiceResult, Tx};
use crate::storage::{schema, Audit, Get, KeyPart, Keyspace, Migrator, StorageError, Store};

/// A message as the log stores it; id, time and conversation live in the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredMessage {
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
    /// The message of the same conversation this one answers, 0 for none.
    pub reply_to: u64,
    /// When its sender last edited it (ms), 0 if never.
    pub edited: u64,
    /// The group members it mentions, 0 for everyone.
    pub mentions: Vec<u64>,
}

impl StoredMessage {
    /// Bytes it adds to a page.
    pub(crate) fn size(&self) -> usize {
        self.content.len() + self.extra.as_ref().map_or(0, String::len)
    }
}

const LOG: Keyspace<(Conversation, u64), StoredMessage> = Keyspace::new(&schema::CONVMESSAGE_MESSAGE);
/// The log as the migration steps before version 11 read and write it.
const LOG_V10: Keyspace<(Conversation, u64), StoredMessageV10> = Keyspace::new(&schema::CONVMESSAGE_MESSAGE);
const SENT: Keyspace<(u64, [u8; 16]), u64> = Keyspace::new(&schema::SENDERCLIENTID_MESSAGEID);

/// Deletes at most `most` of a deleted user's idempotency entries; true
/// when none is left. Their messages stay in their conversations' logs.
pub(crate) fn erase_sent(tx: &mut Tx<'_>, user: u64, most: usize) -> Result<bool, StorageError> {
    Ok(tx.delete_some(&SENT, &user, most)? == 0)
}

/// Deletes at most `most` messages (then reactions) of a conversation
/// nobody can read any more; true when nothing of it is left.
pub(crate) fn erase_log(tx: &mut Tx<'_>, conversation: Conversation, most: usize) -> Result<bool, StorageError> {
    Ok(tx.delete_some(&LOG, &conversation, most)? == 0
        && sealed::erase(tx, conversation, most)? == 0
        && reactions::erase(tx, conversation, most)?)
}

/// A conversation's messages with ids in `lo..=hi`, loose and sealed,
/// ascending (descending when `forward` is false).
fn log<'r>(
    r: &'r impl Get,
    conversation: Conversation,
    lo: u64,
    hi: u64,
    forward: bool,
) -> impl Iterator<Item = Result<(u64, StoredMessage), StorageError>> + 'r {
    let loose = if forward {
        r.range(&LOG, (conversation, lo)..=(conversation, hi))
    } else {
        r.range_descending(&LOG, (conversation, lo)..=(conversation, hi))
    };
    let loose = loose.map(|entry| entry.map(|((_, id), message)| (id, message)));
    Merged::new(loose, sealed::messages(r, conversation, lo, hi, forward), forward)
}

/// Stores a message over the one under its id, in its block if it is sealed.
fn rewrite(tx: &mut Tx<'_>, conversation: Conversation, id: u64, message: &StoredMessage) -> Result<(), StorageError> {
    if tx.get(&LOG, &(conversation, id))?.is_some() || !sealed::replace(tx, conversation, id, message)? {
        tx.put(&LOG, &(conversation, id), message);
    }
    Ok(())
}

/// The id already given to a sender's client message id, as this batch has
/// left the index so far, if that message has id `kept_from` or above (was
/// sent within the window that retries are answered in): an older entry
/// the sweep has not reached yet counts as forgotten already.
pub(crate) fn known_id(
    tx: &Tx<'_>,
    sender: u64,
    client_msg_id: [u8; 16],
    kept_from: u64,
) -> ServiceResult<Option<u64>> {
    Ok(tx.get(&SENT, &(sender, client_msg_id))?.filter(|id| *id >= kept_from))
}

/// Where a sweep of the idempotency index goes on: after this key.
pub(crate) type SentCursor = (u64, [u8; 16]);

/// Deletes the idempotency entries of messages with ids below `below`,
/// looking at at most `most` entries in key order after `after` (from the
/// start when `None`). Returns how many went and where the next job goes
/// on, `None` at the end of the index.
pub(crate) fn forget_sent(
    tx: &mut Tx<'_>,
    after: Option<SentCursor>,
    below: u64,
    most: usize,
) -> Result<(usize, Option<SentCursor>), StorageError> {
    let from = after.map_or(Bound::Unbounded, Bound::Excluded);
    let looked: Vec<(SentCursor, u64)> =
        tx.range(&SENT, (from, Bound::Unbounded)).take(most).collect::<Result<_, _>>()?;
    let next = (looked.len() == most).then(|| looked.last().map(|(key, _)| *key)).flatten();
    let mut forgotten = 0;
    for (key, id) in looked {
        if id < below {
            tx.delete(&SENT, &key);
            forgotten += 1;
        }
    }
    Ok((forgotten, next))
}

/// Where a seal sweep goes on: after this key of the log.
pub(crate) type LogCursor = (Conversation, u64);

/// Seals the loose messages with ids below `below` into their
/// conversations' blocks, looking at at most `most` loose messages in key
/// order after `after` (from the start when `None`). Returns how many were
/// sealed and where the next job goes on, `None` at the end of the log.
pub(crate) fn seal(
    tx: &mut Tx<'_>,
    after: Option<LogCursor>,
    below: u64,
    most: usize,
) -> Result<(usize, Option<LogCursor>), StorageError> {
    let from = after.map_or(Bound::Unbounded, Bound::Excluded);
    let looked: Vec<(LogCursor, StoredMessage)> =
        tx.range(&LOG, (from, Bound::Unbounded)).take(most).collect::<Result<_, _>>()?;
    let next = (looked.len() == most).then(|| looked.last().map(|(key, _)| *key)).flatten();
    let mut runs: Vec<(Conversation, Vec<(u64, StoredMessage)>)> = Vec::new();
    for ((conversation, id), message) in looked.into_iter().filter(|((_, id), _)| *id < below) {
        match runs.last_mut() {
            Some((of, run)) if *of == conversation => run.push((id, message)),
            _ => runs.push((conversation, vec![(id, message)])),
        }
    }
    let mut count = 0;
    for (conversation, run) in runs {
        for id in sealed::seal(tx, conversation, run)? {
            tx.delete(&LOG, &(conversation, id));
            count += 1;
        }
    }
    Ok((count, next))
}

/// Entries of the idempotency index (a scan of its keys).
pub(crate) fn sent_count(store: &Store) -> Result<u64, StorageError> {
    store.count_all(&SENT)
}

/// Stores a message under its id, with its idempotency entry unless the
/// server wrote it (a group's system message has no client message id to
/// answer retries by). The conversation domain's `append` moves the head
/// with it.
pub(crate) fn append(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    id: u64,
    message: &StoredMessage,
) -> Result<(), StorageError> {
    tx.put(&LOG, &(conversation, id), message);
    if message.kind != MessageKind::System {
        tx.put(&SENT, &(message.sender, message.client_msg_id), &id);
    }
    Ok(())
}

/// Messages of a conversation with ids from `from` on (loose ones counted
/// by key, not decoded).
pub(crate) fn count_from(r: &impl Get, conversation: Conversation, from: u64) -> Result<u64, StorageError> {
    Ok(r.count(&LOG, (conversation, from)..=(conversation, u64::MAX))? + sealed::count_from(r, conversation, from)?)
}

/// One message of a conversation.
pub(crate) fn logged(r: &impl Get, conversation: Conversation, id: u64) -> Result<Option<StoredMessage>, StorageError> {
    match r.get(&LOG, &(conversation, id))? {
        Some(message) => Ok(Some(message)),
        None => sealed::get(r, conversation, id),
    }
}

/// Replaces a message by a tombstone of `kind` (`Recalled`, `Expired`):
/// the content, extra, what it answered, its edit mark, mentions and reactions
/// (one record per user who reacted) are gone; the id, sender, client
/// message id and time stay.
pub(crate) fn tombstone(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    id: u64,
    message: &StoredMessage,
    kind: MessageKind,
) -> Result<(), StorageError> {
    reactions::drop_some(tx, conversation, id, usize::MAX)?;
    let tombstone = StoredMessage {
        sender: message.sender,
        client_msg_id: message.client_msg_id,
        kind,
        content: Vec::new(),
        extra: None,
        reply_to: 0,
        edited: 0,
        mentions: Vec::new(),
    };
    rewrite(tx, conversation, id, &tombstone)
}

/// Replaces a message's content with its sender's edit made at `at` (ms);
/// the text before is not kept.
pub(crate) fn edit(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    id: u64,
    message: StoredMessage,
    content: Vec<u8>,
    at: u64,
) -> Result<StoredMessage, StorageError> {
    let edited = StoredMessage { content, edited: at, ..message };
    rewrite(tx, conversation, id, &edited)?;
    Ok(edited)
}

/// Purges the oldest messages of a conversation below `below`, at most
/// `most`: each leaves the log with its idempotency entry and its
/// reactions, but the conversation's newest message (`newest`) stays as an
/// `Expired` tombstone, so the conversation keeps its place in lists.
/// Reactions count against `most` too: a message with more of them than
/// the job may still delete stays for the next job. Returns the ids
/// purged, ascending, and whether more lie below `below`.
pub(crate) fn purge(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    below: u64,
    newest: u64,
    most: usize,
) -> Result<(Vec<u64>, bool), StorageError> {
    let Some(last) = below.checked_sub(1) else { return Ok((Vec::new(), false)) };
    let found: Vec<(u64, StoredMessage)> = log(tx, conversation, 0, last, true)
        .filter(|entry| !matches!(entry, Ok((id, m)) if *id == newest && m.kind == MessageKind::Expired))
        .take(most.saturating_add(1))
        .collect::<Result<_, _>>()?;
    let mut more = found.len() > most;
    let mut purged = Vec::with_capacity(found.len().min(most));
    // The messages that leave the log. Deleting a key that is not there
    // writes nothing, so each one's key is deleted whether it was loose or
    // sealed; the sealed ones also leave their blocks, below.
    let mut gone = Vec::new();
    let mut left = most;
    for (id, message) in found.into_iter().take(most) {
        let (dropped, kept) = reactions::drop_some(tx, conversation, id, left)?;
        left = left.saturating_sub(dropped);
        if kept {
            more = true;
            break;
        }
        if id == newest {
            tombstone(tx, conversation, id, &message, MessageKind::Expired)?;
        } else {
            tx.delete(&LOG, &(conversation, id));
            gone.push(id);
        }
        let sent = (message.sender, message.client_msg_id);
        if message.kind != MessageKind::System && tx.get(&SENT, &sent)? == Some(id) {
            tx.delete(&SENT, &sent);
        }
        purged.push(id);
    }
    sealed::remove(tx, conversation, &gone)?;
    Ok((purged, more))
}

/// Whether a conversation has a message below `below` that [`purge`]
/// has not yet removed (or, the newest, made a tombstone of).
pub(crate) fn unpurged_below(
    store: &Store,
    conversation: Conversation,
    below: u64,
    newest: u64,
) -> Result<bool, StorageError> {
    let Some(last) = below.checked_sub(1) else { return Ok(false) };
    match log(store, conversation, 0, last, true).next().transpose()? {
        Some((id, message)) => Ok(id != newest || message.kind != MessageKind::Expired),
        None => Ok(false),
    }
}

/// The newest message at or below `up_to` within `parts` (ascending,
/// disjoint id ranges) that `skip` does not leave out.
pub(crate) fn newest(
    r: &impl Get,
    conversation: Conversation,
    parts: &[RangeInclusive<u64>],
    up_to: u64,
    skip: impl Fn(u64) -> Result<bool, StorageError>,
) -> Result<Option<(u64, StoredMessage)>, StorageError> {
    for part in parts.iter().rev().filter(|p| *p.start() <= up_to) {
        let end = up_to.min(*part.end());
        for entry in log(r, conversation, *part.start(), end, false) {
            let (id, message) = entry?;
            if !skip(id)? {
                return Ok(Some((id, message)));
            }
        }
    }
    Ok(None)
}

/// The id of the `cap`-th newest message of a conversation, if it has more
/// than `cap`: `Sync` gives a device that missed more no older message of
/// it (the offline cap). Reads at most `cap + 1` ids, newest first: the
/// loose ones by key, the sealed ones from their blocks.
pub(crate) fn cap_floor(store: &Store, conversation: Conversation, cap: u32) -> Result<Option<u64>, StorageError> {
    let loose = store.keys_descending(&LOG, (conversation, 0)..=(conversation, u64::MAX));
    let sealed = sealed::messages(store, conversation, 0, u64::MAX, false);
    let mut keys = Merged::new(
        loose.map(|key| key.map(|(_, id)| (id, ()))),
        sealed.map(|entry| entry.map(|(id, _)| (id, ()))),
        false,
    );
    let Some(floor) = keys.nth(cap.saturating_sub(1) as usize).transpose()?.map(|(id, ())| id) else {
        return Ok(None);
    };
    Ok(keys.next().transpose()?.map(|_| floor))
}

/// One page of a conversation's log on one side of `anchor` (exclusive; 0
/// means the open end), in ascending id order, and whether more lie beyond;
/// only messages within `parts` (ascending, disjoint: the reader's
/// membership windows above what they cleared) are shown, less those
/// `skip` leaves out (hidden by the reader).
pub(crate) fn history(
    store: &Store,
    conversation: Conversation,
    direction: Direction,
    anchor: u64,
    parts: &[RangeInclusive<u64>],
    limit: PageLimit,
    skip: impl Fn(u64) -> Result<bool, StorageError>,
) -> Result<(Vec<(u64, StoredMessage)>, bool), StorageError> {
    let read = |part: &RangeInclusive<u64>, forward| log(store, conversation, *part.start(), *part.end(), forward);
    Ok(match direction {
        Direction::After => {
            let Some(start) = anchor.checked_add(1) else { return Ok((Vec::new(), false)) };
            let parts = parts.iter().filter(|p| *p.end() >= start).map(|p| start.max(*p.start())..=*p.end());
            page(parts.flat_map(|p| read(&p, true)), limit, skip)?
        }
        Direction::Before => {
            let end = anchor.checked_sub(1).unwrap_or(u64::MAX);
            let parts = parts.iter().rev().filter(|p| *p.start() <= end).map(|p| *p.start()..=end.min(*p.end()));
            let (mut out, more) = page(parts.flat_map(|p| read(&p, false)), limit, skip)?;
            out.reverse();
            (out, more)
        }
    })
}

fn page(
    entries: impl Iterator<Item = Result<(u64, StoredMessage), StorageError>>,
    limit: PageLimit,
    skip: impl Fn(u64) -> Result<bool, StorageError>,
) -> Result<(Vec<(u64, StoredMessage)>, bool), StorageError> {
    let mut out = Vec::with_capacity(limit.count.min(128));
    let mut bytes = 0;
    for entry in entries {
        let (id, message) = entry?;
        if skip(id)? {
            continue;
        }
        if limit.full(out.len(), bytes) {
            return Ok((out, true));
        }
        bytes += message.size();
        out.push((id, message));
    }
    Ok((out, false))
}

/// What the logs hold, for `kith stats`.
pub(crate) struct LogStats {
    /// Messages in all logs, loose and sealed.
    pub messages: u64,
    /// 1:1 conversations with a message.
    pub conversations: u64,
    /// Messages of group logs.
    pub group_messages: u64,
    /// Messages sealed into blocks.
    pub sealed_messages: u64,
    /// Blocks.
    pub blocks: u64,
}

/// Counts the logs: a scan of the loose messages' keys and of the blocks,
/// both sorted by conversation.
pub(crate) fn stats(store: &Store) -> Result<LogStats, StorageError> {
    let sealed = sealed::stats(store)?;
    let mut stats = LogStats {
        messages: sealed.messages,
        conversations: sealed.conversations.len() as u64,
        group_messages: sealed.group_messages,
        sealed_messages: sealed.messages,
        blocks: sealed.blocks,
    };
    let mut previous = None;
    for entry in store.all(&LOG) {
        let ((conversation, _), _) = entry?;
        match conversation {
            Conversation::Group(_) => stats.group_messages += 1,
            Conversation::Direct { .. } if previous != Some(conversation) => {
                if !sealed.conversations.contains(&conversation) {
                    stats.conversations += 1;
                }
                previous = Some(conversation);
            }
            Conversation::Direct { .. } => {}
        }
        stats.messages += 1;
    }
    Ok(stats)
}

/// Every message's conversation, id and kind, in log order, for a
/// migration step before version 11.
pub(crate) fn kinds(
    m: &mut Migrator<'_>,
) -> Result<impl Iterator<Item = Result<(Conversation, u64, MessageKind), StorageError>>, StorageError> {
    Ok(m.entries(&LOG_V10)?.map(|entry| entry.map(|((conversation, id), message)| (conversation, id, message.kind))))
}

/// Every pair of distinct users with a 1:1 conversation, read one
/// conversation at a time (a jump past each conversation's messages).
pub(crate) fn direct_pairs(m: &mut Migrator<'_>) -> Result<Vec<(u64, u64)>, StorageError> {
    let mut pairs = Vec::new();
    let mut after = Bound::Unbounded;
    while let Some((conversation, _)) = m.first_key_after(&LOG, after)? {
        if let Conversation::Direct { low, high } = conversation {
            if low != high {
                pairs.push((low, high));
            }
        }
        after = Bound::Excluded((conversation, u64::MAX));
    }
    Ok(pairs)
}

/// Checks restored logs: every message and idempotency entry decodes, and no
/// id lies above the generator's high-water mark.
pub(crate) fn check(store: &Audit<'_>, highwater: u64) -> Result<(), String> {
    for entry in store.all(&LOG) {
        let ((conversation, id), _) = entry.map_err(|e| e.to_string())?;
        if id > highwater {
            return Err(format!("message {id} in {conversation:?} lies above the id high-water mark {highwater}"));
        }
    }
    for entry in store.all(&SENT) {
        entry.map_err(|e| e.to_string())?;
    }
    sealed::check(store, highwater, |conversation, id| Ok(store.get(&LOG, &(conversation, id))?.is_some()))
}

/// Rewrites the content of every logged message of `kind` that `convert`
/// changes (a migration step before version 11 that changed what a kind's
/// content holds).
pub(crate) fn rewrite_contents(
    m: &mut Migrator<'_>,
    kind: MessageKind,
    convert: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Result<(), StorageError> {
    let mut changed = Vec::new();
    for entry in m.entries(&LOG_V10)? {
        let (key, message) = entry?;
        if message.kind == kind {
            if let Some(content) = convert(&message.content) {
                changed.push((key, StoredMessageV10 { content, ..message }));
            }
        }
    }
    for (key, message) in changed {
        m.put(&LOG_V10, &key, &message)?;
    }
    Ok(())
}

/// Every logged message gains `reply_to` and `edited`, both 0, and no
/// mentions (layout version 11).
pub(crate) fn from_v10(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    m.reshape(&LOG, |old: StoredMessageV10| StoredMessage::from(old))
}

/// A message as logged up to layout version 10.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredMessageV10 {
    sender: u64,
    client_msg_id: [u8; 16],
    kind: MessageKind,
    #[serde(with = "serde_bytes")]
    content: Vec<u8>,
    extra: Option<String>,
}

impl From<StoredMessageV10> for StoredMessage {
    fn from(old: StoredMessageV10) -> StoredMessage {
        let StoredMessageV10 { sender, client_msg_id, kind, content, extra } = old;
        StoredMessage { sender, client_msg_id, kind, content, extra, reply_to: 0, edited: 0, mentions: Vec::new() }
    }
}

/// Version 1 kept logs (`L`), idempotency entries (`D`) and the id
/// high-water mark (`H`) in its `messages` tree, beside the inboxes that
/// became update logs.
pub(crate) fn from_v1(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    let corrupt = |what: &str| StorageError::Corrupt { keyspace: "v1 messages", detail: what.to_string() };
    for entry in m.legacy("messages")? {
        let (key, value) = entry?;
        match key.split_first() {
            Some((b'L', rest)) => {
                let (key, _) = <(Conversation, u64)>::take(rest).ok_or_else(|| corrupt("log key"))?;
                m.put(&LOG_V10, &key, &LOG_V10.decode_value(&value)?)?;
            }
            Some((b'D', rest)) => {
                let (key, _) = <(u64, [u8; 16])>::take(rest).ok_or_else(|| corrupt("idempotency key"))?;
                let (id, _) = u64::take(&value).ok_or_else(|| corrupt("message id"))?;
                m.put(&SENT, &key, &id)?;
            }
            Some((b'H', _)) => {
                let (id, _) = u64::take(&value).ok_or_else(|| corrupt("high-water mark"))?;
                m.raise_id_highwater(id)?;
            }
            _ => {}
        }
    }
    Ok(())
}
