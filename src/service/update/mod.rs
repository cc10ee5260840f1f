//! The per-user update log: how everything a device must not miss reaches
//! it, live and after an offline period, under one id.
//!
//! A job that changes something a user must learn of calls [`publish`]: the
//! update goes into each affected user's log in the same atomic batch as
//! the change, and is pushed to their online devices once durable. A device
//! catches up with `Sync` from its cursor and moves the cursor with `Ack`.
//!
//! The log has a horizon: notices (every kind but messages) older than
//! `conversation.notices_kept_secs` are swept away in the background
//! ([`sweep_notices`]), so a log does not grow for ever from requests,
//! receipts and invitations of a user who never syncs. Messages stay as long
//! as their conversation keeps them. A `Sync` from below the newest notice
//! removed says so (`notices_dropped`), and the device re-reads its state.
//!
//! Uses: message (the log's key). `Sync` and `Ack`, which read the log
//! through what the user may see, are in [`super::sync`].

mod store;

// What the other domains and the start-up checks use of this one.
pub(crate) use store::{
    advance_cursor, check, count, cursor, cursors, entries_after, erase, from_v1, holds, latest, messages_between,
    notices_dropped, remove, rewrite_notices, StoredUpdate,
};

use tokio_util::sync::CancellationToken;

use super::{Audience, Event, ServiceResult, Services, Tx};
use crate::protocol::UpdateBody;

/// Adds update `id` to each user's log and has it pushed, once durable, to
/// their online devices except the session it came from.
pub(crate) fn publish(tx: &mut Tx<'_>, users: &[u64], except: Option<u64>, id: u64, update: UpdateBody) {
    publish_to(tx, users, users.to_vec(), except, id, update);
}

/// Adds update `id` to the logs of `logged` and has it pushed, once
/// durable, to the online devices of `live` (which includes `logged`):
/// a large group's message reaches members live without a row in each log.
pub(crate) fn publish_to(
    tx: &mut Tx<'_>,
    logged: &[u64],
    live: Vec<u64>,
    except: Option<u64>,
    id: u64,
    update: UpdateBody,
) {
    let stored = StoredUpdate::of(&update);
    for user in logged {
        store::append(tx, *user, id, &stored);
    }
    tx.emit(Event { audience: Audience::Users { users: live, except }, id, update });
}

/// Removes the notices past the horizon from every user's log, in jobs of
/// at most `conversation.purge_batch` entries looked at, through the group
/// commit like any write. Returns how many went.
pub(crate) async fn sweep_notices(services: &Services, shutdown: &CancellationToken) -> ServiceResult<u64> {
    let config = &services.config.conversation;
    if config.notices_kept_secs == 0 {
        return Ok(0);
    }
    let cutoff = crate::id::first_id_within(config.notices_kept_secs, crate::id::now_ms());
    let batch = config.purge_batch as usize;
    let last = services.accounts.last_user_id();
    let due = services.read(move |s| store::notices_due(s, last, cutoff)).await?;
    let mut removed = 0;
    for user in due {
        loop {
            if shutdown.is_cancelled() {
                return Ok(removed);
            }
            let (n, more) = services
                .committer
                .run(move |tx| ServiceResult::Ok(store::sweep_notices(tx, user, cutoff, batch)?))
                .await?;
            removed += n;
            if !more {
                break;
            }
        }
    }
    Ok(removed)
}
