//! Per-user update logs and per-device cursors.
//!
//! A user's log is keyed `user ‖ update id`. A message update points at the
//! message in its conversation's log (stored once, however many logs point
//! at it); every other kind is stored inline as its wire body.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::protocol::UpdateBody;
use crate::service::message::Conversation;
use crate::service::{ServiceResult, Tx};
use crate::storage::{schema, Audit, Get, KeyPart, Keyspace, Migrator, StorageError, Store};

/// One entry of a user's update log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoredUpdate {
    /// A message, in this conversation's log under the update's id.
    Message(Conversation),
    /// Any other kind, as its wire body.
    Inline {
        /// The update kind byte.
        kind: u8,
        /// The kind's wire body.
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
    },
}

impl StoredUpdate {
    /// How an update is kept in a log.
    pub(super) fn of(update: &UpdateBody) -> StoredUpdate {
        match update {
            UpdateBody::Message(m) => StoredUpdate::Message(Conversation::of(m.sender, m.to)),
            other => StoredUpdate::Inline { kind: other.tag() as u8, body: other.encode_body() },
        }
    }
}

/// How far a user's log was swept of one kind of update past its horizon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Horizon {
    /// Every update of the kind up to this id is gone (0: none swept yet).
    pub swept: u64,
    /// The newest one removed (0: none): a device that syncs from below it
    /// missed something.
    pub dropped: u64,
}

/// What a sweep takes out of the logs past its horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kept {
    /// Every update but messages, kept `conversation.notices_kept_secs`.
    Notices,
    /// Message updates, kept `conversation.message_updates_kept_secs`: the
    /// messages themselves stay in their conversations' logs.
    Messages,
}

impl Kept {
    /// Where each user's sweep of this kind stands.
    fn horizons(self) -> Keyspace<u64, Horizon> {
        match self {
            Kept::Notices => HORIZONS,
            Kept::Messages => MESSAGE_HORIZONS,
        }
    }

    /// Whether a log entry is of this kind.
    fn holds(self, stored: &StoredUpdate) -> bool {
        matches!(stored, StoredUpdate::Message(_)) == (self == Kept::Messages)
    }
}

const LOG: Keyspace<(u64, u64), StoredUpdate> = Keyspace::new(&schema::USERUPDATE_UPDATE);
const CURSORS: Keyspace<(u64, String), u64> = Keyspace::new(&schema::USERDEVICE_CURSOR);
const HORIZONS: Keyspace<u64, Horizon> = Keyspace::new(&schema::USERID_HORIZON);
const MESSAGE_HORIZONS: Keyspace<u64, Horizon> = Keyspace::new(&schema::USERID_MESSAGEHORIZON);

/// Deletes at most `most` entries of a deleted user's log, then their
/// cursors and horizons; true when nothing is left.
pub(crate) fn erase(tx: &mut Tx<'_>, user: u64, most: usize) -> Result<bool, StorageError> {
    if tx.delete_some(&LOG, &user, most)? > 0 || tx.delete_some(&CURSORS, &user, most)? > 0 {
        return Ok(false);
    }
    tx.delete(&HORIZONS, &user);
    tx.delete(&MESSAGE_HORIZONS, &user);
    Ok(true)
}

/// Adds an entry to a user's log.
pub(super) fn append(tx: &mut Tx<'_>, user: u64, id: u64, update: &StoredUpdate) {
    tx.put(&LOG, &(user, id), update);
}

/// Removes update `id` from a user's log: the pointer at a purged message
/// (a message update's id is the message's), or a notice taken back (a
/// like undone, a comment deleted).
pub(crate) fn remove(tx: &mut Tx<'_>, user: u64, id: u64) {
    tx.delete(&LOG, &(user, id));
}

/// The highest update id in a user's log, or of those swept from it past
/// a horizon if that is higher (0 if none): a device below it has
/// something to learn from `Sync`, if only where to pull messages.
pub(crate) fn latest(r: &impl Get, user: u64) -> Result<u64, StorageError> {
    let newest = r.range_descending(&LOG, (user, 0)..=(user, u64::MAX)).next().transpose()?;
    let mut latest = newest.map_or(0, |((_, id), _)| id);
    for kept in [Kept::Notices, Kept::Messages] {
        latest = latest.max(r.get(&kept.horizons(), &user)?.unwrap_or_default().dropped);
    }
    Ok(latest)
}

/// The highest update id a device has acknowledged.
pub(crate) fn cursor(store: &Store, user: u64, device: &str) -> Result<u64, StorageError> {
    Ok(store.get(&CURSORS, &(user, device.to_string()))?.unwrap_or(0))
}

/// Moves a device's cursor up to `up_to` (never down, never past the
/// user's newest update, or the newest one swept if that is newer);
/// returns the new value.
pub(crate) fn advance_cursor(tx: &mut Tx<'_>, user: u64, device: String, up_to: u64) -> ServiceResult<u64> {
    let latest = latest(tx, user)?;
    let key = (user, device);
    let old = tx.get(&CURSORS, &key)?.unwrap_or(0);
    let new = old.max(up_to.min(latest));
    if new != old {
        tx.put(&CURSORS, &key, &new);
    }
    Ok(new)
}

/// The message updates of a user's log with ids in `(after, up_to]`, newest
/// first, at most `most` of them.
pub(crate) fn messages_between(
    tx: &Tx<'_>,
    user: u64,
    after: u64,
    up_to: u64,
    most: usize,
) -> Result<Vec<(Conversation, u64)>, StorageError> {
    let Some(first) = after.checked_add(1) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in tx.range_descending(&LOG, (user, first)..=(user, up_to)).take(most) {
        if let ((_, id), StoredUpdate::Message(conversation)) = entry? {
            out.push((conversation, id));
        }
    }
    Ok(out)
}

/// The users, of those with ids up to `last`, whose logs hold an entry
/// below `cutoff` past where their sweep of `kept` stands (one read and one
/// seek each).
pub(super) fn sweep_due(store: &Store, kept: Kept, last: u64, cutoff: u64) -> Result<Vec<u64>, StorageError> {
    let mut due = Vec::new();
    for user in 1..=last {
        let from = store.get(&kept.horizons(), &user)?.unwrap_or_default().swept.saturating_add(1);
        if from < cutoff && store.range(&LOG, (user, from)..(user, cutoff)).next().transpose()?.is_some() {
            due.push(user);
        }
    }
    Ok(due)
}

/// One sweep job: looks at up to `most` entries of a user's log below
/// `cutoff`, from where the last sweep of `kept` stopped, and removes those
/// of that kind (the others stay). Returns how many went and whether more
/// entries below `cutoff` wait.
pub(super) fn sweep(
    tx: &mut Tx<'_>,
    kept: Kept,
    user: u64,
    cutoff: u64,
    most: usize,
) -> Result<(u64, bool), StorageError> {
    let horizons = kept.horizons();
    let mut horizon = tx.get(&horizons, &user)?.unwrap_or_default();
    let from = horizon.swept.saturating_add(1);
    if from >= cutoff {
        return Ok((0, false));
    }
    let entries: Vec<(u64, bool)> = tx
        .range(&LOG, (user, from)..(user, cutoff))
        .take(most.saturating_add(1))
        .map(|e| e.map(|((_, id), stored)| (id, kept.holds(&stored))))
        .collect::<Result<_, _>>()?;
    let more = entries.len() > most;
    let mut removed = 0;
    for &(id, goes) in entries.iter().take(most) {
        if goes {
            tx.delete(&LOG, &(user, id));
            horizon.dropped = id;
            removed += 1;
        }
        horizon.swept = id;
    }
    if !more {
        horizon.swept = cutoff - 1;
    }
    tx.put(&horizons, &user, &horizon);
    Ok((removed, more))
}

/// The entries of a user's log with ids above `after`, ascending.
pub(crate) fn entries_after(
    store: &Store,
    user: u64,
    after: u64,
) -> impl Iterator<Item = Result<(u64, StoredUpdate), StorageError>> + '_ {
    let range = (Bound::Excluded((user, after)), Bound::Included((user, u64::MAX)));
    store.range(&LOG, range).map(|e| e.map(|((_, id), stored)| (id, stored)))
}

/// Where the sweep of `kept` stands in a user's log.
pub(crate) fn horizon(store: &Store, kept: Kept, user: u64) -> Result<Horizon, StorageError> {
    Ok(store.get(&kept.horizons(), &user)?.unwrap_or_default())
}

/// Entries in all update logs.
pub(crate) fn count(store: &Store) -> Result<u64, StorageError> {
    store.count_all(&LOG)
}

/// Checks restored update logs: every entry and cursor decodes, and no id
/// lies above the generator's high-water mark.
pub(crate) fn check(store: &Audit<'_>, highwater: u64) -> Result<(), String> {
    for entry in store.all(&LOG) {
        let ((user, id), _) = entry.map_err(|e| e.to_string())?;
        if id > highwater {
            return Err(format!("update {id} of user {user} lies above the id high-water mark {highwater}"));
        }
    }
    for entry in store.all(&CURSORS) {
        entry.map_err(|e| e.to_string())?;
    }
    store.check_entries(&HORIZONS)?;
    store.check_entries(&MESSAGE_HORIZONS)
}

/// One step of a walk through every log: looks at up to `most` entries
/// after `from` and rewrites each notice whose body `convert`, given its
/// holder, kind byte and body, changes. Returns the last entry looked at,
/// or `None` once the walk is past the last log.
pub(super) fn rewrite_notices_after(
    tx: &mut Tx<'_>,
    from: (u64, u64),
    most: usize,
    convert: impl Fn(u64, u8, &[u8]) -> Option<Vec<u8>>,
) -> Result<Option<(u64, u64)>, StorageError> {
    let mut changed = Vec::new();
    let mut last = None;
    for entry in tx.range(&LOG, (Bound::Excluded(from), Bound::Unbounded)).take(most) {
        let (key, stored) = entry?;
        last = Some(key);
        if let StoredUpdate::Inline { kind, body } = stored {
            if let Some(body) = convert(key.0, kind, &body) {
                changed.push((key, StoredUpdate::Inline { kind, body }));
            }
        }
    }
    for (key, update) in changed {
        tx.put(&LOG, &key, &update);
    }
    Ok(last)
}

/// Every device cursor, as `(user, cursor)` in user order, for a migration.
pub(crate) fn cursors(
    m: &mut Migrator<'_>,
) -> Result<impl Iterator<Item = Result<(u64, u64), StorageError>>, StorageError> {
    Ok(m.entries(&CURSORS)?.map(|entry| entry.map(|((user, _), cursor)| (user, cursor))))
}

/// Rewrites the body of every notice that `convert`, given its kind byte
/// and body, changes (a migration step that changed a kind's body).
pub(crate) fn rewrite_notices(
    m: &mut Migrator<'_>,
    convert: impl Fn(u8, &[u8]) -> Option<Vec<u8>>,
) -> Result<(), StorageError> {
    let mut changed = Vec::new();
    for entry in m.entries(&LOG)? {
        if let (key, StoredUpdate::Inline { kind, body }) = entry? {
            if let Some(body) = convert(kind, &body) {
                changed.push((key, StoredUpdate::Inline { kind, body }));
            }
        }
    }
    for (key, update) in changed {
        m.put(&LOG, &key, &update)?;
    }
    Ok(())
}

/// Version 1 kept per-user inboxes of message ids (`I` in its `messages`
/// tree) and per-device cursors over them. Each inbox entry becomes a
/// message update with the message's id, so a device's cursor keeps its
/// meaning unchanged.
pub(crate) fn from_v1(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    let corrupt = |what: &str| StorageError::Corrupt { keyspace: "v1 inboxes", detail: what.to_string() };
    for entry in m.legacy("messages")? {
        let (key, value) = entry?;
        if let Some((b'I', rest)) = key.split_first() {
            let (key, _) = <(u64, u64)>::take(rest).ok_or_else(|| corrupt("inbox key"))?;
            let (conversation, _) = Conversation::take(&value).ok_or_else(|| corrupt("conversation"))?;
            m.put(&LOG, &key, &StoredUpdate::Message(conversation))?;
        }
    }
    for entry in m.legacy("userdevice_cursor")? {
        let (key, value) = entry?;
        let (device, _) = <(u64, String)>::take(&key).ok_or_else(|| corrupt("cursor key"))?;
        let (cursor, _) = u64::take(&value).ok_or_else(|| corrupt("cursor"))?;
        m.put(&CURSORS, &device, &cursor)?;
    }
    Ok(())
}
