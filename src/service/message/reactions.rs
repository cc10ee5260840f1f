//! Reactions: the few emoji each user put on a message, one record per
//! message and user. They live beside the log they belong to and leave
//! with what they react to: a message's tombstone (recalled, expired) and
//! its purge take its reactions, and so does the erasure of its
//! conversation, so nothing is kept of a message nobody may read. Who may
//! react, and who may read them, is the conversation domain's rule.

use crate::service::Tx;
use crate::storage::{schema, Audit, Get, Keyspace, StorageError, Store};

use super::Conversation;

/// Conversation ‖ (message id, user id) → that user's emoji on it, in the
/// order they added them.
const REACTIONS: Keyspace<(Conversation, (u64, u64)), Vec<String>> = Keyspace::new(&schema::CONVMESSAGEUSER_REACTIONS);

/// A user's emoji on a message.
pub(crate) fn of_user(
    r: &impl Get,
    conversation: Conversation,
    message: u64,
    user: u64,
) -> Result<Vec<String>, StorageError> {
    Ok(r.get(&REACTIONS, &(conversation, (message, user)))?.unwrap_or_default())
}

/// Sets a user's emoji on a message; none removes the record.
pub(crate) fn set(tx: &mut Tx<'_>, conversation: Conversation, message: u64, user: u64, emoji: &Vec<String>) {
    let key = (conversation, (message, user));
    if emoji.is_empty() {
        tx.delete(&REACTIONS, &key);
    } else {
        tx.put(&REACTIONS, &key, emoji);
    }
}

/// Every user's emoji on a message, by user id ascending.
pub(crate) fn of_message<'r>(
    r: &'r impl Get,
    conversation: Conversation,
    message: u64,
) -> impl Iterator<Item = Result<(u64, Vec<String>), StorageError>> + 'r {
    let users = (conversation, (message, 0))..=(conversation, (message, u64::MAX));
    r.range(&REACTIONS, users).map(|entry| entry.map(|((_, (_, user)), emoji)| (user, emoji)))
}

/// Deletes at most `most` of a message's reaction records; returns how many
/// it deleted and whether any is left.
pub(crate) fn drop_some(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    message: u64,
    most: usize,
) -> Result<(usize, bool), StorageError> {
    let deleted = tx.delete_some(&REACTIONS, &(conversation, message), most)?;
    let left = deleted == most && of_message(tx, conversation, message).next().is_some();
    Ok((deleted, left))
}

/// Deletes at most `most` reaction records of a conversation nobody can
/// read any more; true when none is left.
pub(crate) fn erase(tx: &mut Tx<'_>, conversation: Conversation, most: usize) -> Result<bool, StorageError> {
    Ok(tx.delete_some(&REACTIONS, &conversation, most)? == 0)
}

/// Each of a user's reactions: conversation, message and emoji (a scan of
/// every reaction, for exports).
pub(crate) fn by_user(
    s: &Store,
    user: u64,
) -> impl Iterator<Item = Result<(Conversation, u64, Vec<String>), StorageError>> + '_ {
    s.all(&REACTIONS).filter_map(move |entry| match entry {
        Ok(((conversation, (message, by)), emoji)) if by == user => Some(Ok((conversation, message, emoji))),
        Ok(_) => None,
        Err(e) => Some(Err(e)),
    })
}

/// Emoji put on messages, over all users (`kith stats`).
pub(crate) fn count(s: &Store) -> Result<u64, StorageError> {
    let mut n = 0;
    for entry in s.all(&REACTIONS) {
        n += entry?.1.len() as u64;
    }
    Ok(n)
}

/// Checks restored reactions decode.
pub(crate) fn check(store: &Audit<'_>) -> Result<(), String> {
    store.check_entries(&REACTIONS)
}
