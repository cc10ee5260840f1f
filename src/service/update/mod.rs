//! The per-user update log: how everything a device must not miss reaches
//! it, live and after an offline period, under one id.
//!
//! A job that changes something a user must learn of calls [`publish`]: the
//! update goes into each affected user's log in the same atomic batch as
//! the change, and is pushed to their online devices once durable. A device
//! catches up with `Sync` from its cursor and moves the cursor with `Ack`.
//!
//! The log has two horizons, swept in the background ([`sweep`]), so a log
//! does not grow for ever. Notices (every kind but messages) older than
//! `conversation.notices_kept_secs` go: a `Sync` from below the newest
//! notice removed says so (`notices_dropped`), and the device re-reads its
//! state. Message updates older than `conversation.message_updates_kept_secs`
//! go too, while the messages stay in their conversations' logs: a `Sync`
//! from below them names the conversations they were in (`limited`), and
//! the device pulls those messages with `History`.
//!
//! Uses: message (the log's key). `Sync` and `Ack`, which read the log
//! through what the user may see, are in [`super::sync`].

mod store;

// What the other domains and the start-up checks use of this one.
pub(crate) use store::{
    advance_cursor, check, count, cursor, cursors, entries_after, erase, from_v1, horizon, latest, messages_between,
    remove, rewrite_notices, Kept, StoredUpdate,
};

use tokio_util::sync::CancellationToken;

use super::{Audience, Event, Progress, ServiceResult, Services, Tx};
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

/// Removes the updates of one kind past its horizon from every user's log
/// (`conversation.notices_kept_secs` for notices,
/// `conversation.message_updates_kept_secs` for messages), in jobs of at
/// most `conversation.purge_batch` entries looked at, through the group
/// commit like any write. Returns how many went.
pub(crate) async fn sweep(services: &Services, kept: Kept, shutdown: &CancellationToken) -> ServiceResult<u64> {
    let secs = kept_secs(&services.config.conversation, kept);
    if secs == 0 {
        return Ok(0);
    }
    let cutoff = crate::id::first_id_within(secs, crate::id::now_ms());
    let batch = services.config.conversation.purge_batch as usize;
    let last = services.accounts.last_user_id();
    let due = services.read(move |s| store::sweep_due(s, kept, last, cutoff)).await?;
    let (mut removed, mut progress) = (0, Progress::start());
    for (done, &user) in due.iter().enumerate() {
        if progress.due() {
            tracing::info!(?kept, updates = removed, users = done, of = due.len(), "sweeping updates past the horizon");
        }
        loop {
            if shutdown.is_cancelled() {
                return Ok(removed);
            }
            let (n, more) = services
                .committer
                .run(move |tx| ServiceResult::Ok(store::sweep(tx, kept, user, cutoff, batch)?))
                .await?;
            removed += n;
            if !more {
                break;
            }
        }
    }
    Ok(removed)
}

/// Seconds the updates of one kind stay in the logs (0: for ever).
pub(crate) fn kept_secs(config: &crate::config::ConversationConfig, kept: Kept) -> u64 {
    match kept {
        Kept::Notices => config.notices_kept_secs,
        Kept::Messages => config.message_updates_kept_secs,
    }
}
