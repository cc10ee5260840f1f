//! The sweep: deletes what nobody may read any more, in the background.
//!
//! Every `media.sweep_interval_secs` it discards expired uploads, then
//! looks at every stored file: a reference whose message is gone, recalled
//! or purged as expired is dropped; a file with no reference left, and
//! shown as no profile's or group's avatar, is marked
//! as orphaned, and deleted once it has stayed so for
//! `media.orphan_grace_secs` (an upload not yet sent has that long to be
//! sent). Each decision is re-checked inside its job on the group commit,
//! so a send that references a file races nothing: either the send commits
//! first and the file stays, or the deletion does and the send is refused.
//! Last, files on disk that no record names (a crash between placing a file
//! and committing its record) are deleted once older than the grace.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::{store, upload};
use crate::id::now_ms;
use crate::protocol::MessageKind;
use crate::service::message::{self, Conversation};
use crate::service::{ServiceError, ServiceResult, Services, Tx};
use crate::storage::StorageError;

/// Files looked at per job.
const PAGE: usize = 256;

/// Sweeps every `media.sweep_interval_secs` until `shutdown`.
pub(crate) async fn sweep(services: Arc<Services>, shutdown: CancellationToken) {
    let every = Duration::from_secs(services.config.media.sweep_interval_secs);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match round(&services, &shutdown).await {
            Ok(0) => {}
            Ok(files) => tracing::info!(files, "deleted files nobody may read any more"),
            Err(e) => tracing::warn!(error = %e, "sweeping media failed; trying again next round"),
        }
    }
}

/// One sweep; returns how many files it deleted.
async fn round(services: &Arc<Services>, shutdown: &CancellationToken) -> ServiceResult<u64> {
    discard_expired_uploads(services).await?;
    let grace_ms = services.config.media.orphan_grace_secs.saturating_mul(1000);
    let mut deleted = 0;
    let mut after = 0;
    loop {
        if shutdown.is_cancelled() {
            return Ok(deleted);
        }
        let page = services.read(move |s| store::media_after(s, after, PAGE)).await?;
        let Some(&(last, _)) = page.last() else { break };
        after = last;
        let ids: Vec<u64> = page.into_iter().map(|(id, _)| id).collect();
        let _placing = services.media.placing.lock().await;
        let now = now_ms();
        let unnamed = services.committer.run(move |tx| look_at(tx, &ids, now, grace_ms)).await?;
        for hash in &unnamed {
            services.media.files.remove_blob(hash).map_err(|e| ServiceError::Storage(e.into()))?;
        }
        deleted += unnamed.len() as u64;
    }
    deleted += remove_unnamed_files(services, grace_ms).await?;
    Ok(deleted)
}

/// Drops dead references of each file, marks or deletes the orphaned ones;
/// returns the contents left with no name, whose files go.
fn look_at(tx: &mut Tx<'_>, ids: &[u64], now: u64, grace_ms: u64) -> ServiceResult<Vec<store::Hash>> {
    let mut unnamed = Vec::new();
    for &id in ids {
        let Some(record) = store::media(tx, id)? else { continue };
        // A profile or group that shows the file keeps it: their jobs
        // keep those references exact, so there is nothing to re-check.
        let mut live = !store::holders(tx, id)?.is_empty();
        for at in store::references(tx, id)? {
            if carried(tx, at)? {
                live = true;
            } else {
                store::unreference(tx, id, at);
            }
        }
        match (live, record.orphan_since) {
            (true, Some(_)) => store::set_orphan(tx, id, &record, None),
            (false, None) => store::set_orphan(tx, id, &record, Some(now)),
            (false, Some(since)) if since.saturating_add(grace_ms) <= now => {
                unnamed.extend(store::remove(tx, id, &record)?);
            }
            _ => {}
        }
    }
    Ok(unnamed)
}

/// Whether a message still carries what it carried: in its log, neither
/// recalled nor purged as expired.
fn carried(tx: &Tx<'_>, (conversation, id): (Conversation, u64)) -> Result<bool, StorageError> {
    Ok(message::logged(tx, conversation, id)?
        .is_some_and(|m| !matches!(m.kind, MessageKind::Recalled | MessageKind::Expired)))
}

/// Discards uploads past their expiry, and upload files no upload names.
async fn discard_expired_uploads(services: &Arc<Services>) -> ServiceResult<()> {
    let now = now_ms();
    let expired = services.read(move |s| store::expired_uploads(s, now, PAGE)).await?;
    for (id, _) in expired {
        upload::discard(services, id).await?;
    }
    // Listed before the records are read: an upload's file is created only
    // after its record is durable, so every file listed has its record read.
    let on_disk = services.media.files.partials().map_err(|e| ServiceError::Storage(e.into()))?;
    let known = services.read(store::uploads).await?;
    for id in on_disk.into_iter().filter(|id| known.binary_search(id).is_err()) {
        let _ = services.media.files.remove_partial(id);
    }
    Ok(())
}

/// Deletes files on disk that no record names and that are older than the
/// grace (a crash came between placing one and committing its record).
async fn remove_unnamed_files(services: &Arc<Services>, grace_ms: u64) -> ServiceResult<u64> {
    let _placing = services.media.placing.lock().await;
    let named = services.read(store::blobs).await?;
    let files = services.media.files.clone();
    let storage = |e: std::io::Error| ServiceError::Storage(e.into());
    let on_disk = files.blobs().map_err(storage)?;
    let cutoff = SystemTime::now().checked_sub(Duration::from_millis(grace_ms)).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut removed = 0;
    for (hash, modified) in on_disk {
        if modified < cutoff && named.binary_search(&hash).is_err() {
            files.remove_blob(&hash).map_err(storage)?;
            removed += 1;
        }
    }
    Ok(removed)
}
