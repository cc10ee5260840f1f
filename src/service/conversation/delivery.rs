//! Delivery receipts: the sender of a 1:1 message learns that it reached at
//! least one device of its recipient, from the recipient's devices'
//! cursors. When a device's `Ack` moves past the furthest any of the
//! user's devices had acknowledged, the 1:1 messages in between have
//! arrived, and each sender gets one `Delivered` update per conversation
//! naming the newest. Receipts of delivery do not depend on the read
//! receipts setting.

use std::collections::hash_map::{Entry, HashMap};
use std::collections::HashSet;

use super::View;
use crate::id::now_ms;
use crate::protocol::{Delivered, UpdateBody};
use crate::service::message::Conversation;
use crate::service::{social, update, ServiceResult, Tx};
use crate::storage::{schema, Keyspace, Migrator, StorageError};

const DELIVERED: Keyspace<u64, u64> = Keyspace::new(&schema::USERID_DELIVERED);

/// Forgets how far a deleted user's deliveries went.
pub(super) fn forget(tx: &mut Tx<'_>, user: u64) {
    tx.delete(&DELIVERED, &user);
}

/// Updates one acknowledgement looks through, newest first: a device that
/// acknowledges page by page (100 updates at most) is always covered.
const MOST: usize = 1_000;

/// Called in the job of an `Ack` that moved a device of `user` to `cursor`.
/// A message the user no longer reaches (expired) or whose sender is on the
/// other side of a block yields no receipt.
pub(crate) fn delivered(tx: &mut Tx<'_>, user: u64, cursor: u64, server_retention: u64) -> ServiceResult<()> {
    let mark = tx.get(&DELIVERED, &user)?.unwrap_or(0);
    if cursor <= mark {
        return Ok(());
    }
    tx.put(&DELIVERED, &user, &cursor);
    let now = now_ms();
    let mut done = HashSet::new();
    let mut views: HashMap<Conversation, View> = HashMap::new();
    let mut receipts = Vec::new();
    for (conversation, id) in update::messages_between(tx, user, mark, cursor, MOST)? {
        let Conversation::Direct { low, high } = conversation else { continue };
        if low == high || done.contains(&conversation) {
            continue;
        }
        let view = match views.entry(conversation) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(first) => match View::of(tx, user, conversation, server_retention, now)? {
                Ok(view) => first.insert(view),
                Err(_) => continue,
            },
        };
        match view.reached(tx, id)? {
            Some(m) if m.sender != user => {
                done.insert(conversation);
                if social::receipts_pass(tx, user, m.sender)? {
                    receipts.push((m.sender, id));
                }
            }
            _ => {}
        }
    }
    for (sender, up_to) in receipts {
        let id = tx.next_id();
        update::publish(tx, &[sender], None, id, UpdateBody::Delivered(Delivered { recipient: user, up_to }));
    }
    Ok(())
}

/// Version 4 kept no delivery marks. Each user's starts at the furthest any
/// of their devices had acknowledged, so the first `Ack` after the upgrade
/// reports only what arrives from then on.
pub(crate) fn from_v4(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    let mut furthest: Option<(u64, u64)> = None;
    for entry in update::cursors(m)? {
        let (user, cursor) = entry?;
        furthest = match furthest {
            Some((u, c)) if u == user => Some((u, c.max(cursor))),
            Some((u, c)) => {
                m.put(&DELIVERED, &u, &c)?;
                Some((user, cursor))
            }
            None => Some((user, cursor)),
        };
    }
    if let Some((user, cursor)) = furthest {
        m.put(&DELIVERED, &user, &cursor)?;
    }
    Ok(())
}

/// Checks restored delivery marks decode.
pub(crate) fn check(store: &crate::storage::Audit<'_>) -> Result<(), String> {
    store.check_entries(&DELIVERED)
}
