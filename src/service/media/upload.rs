//! `StartUpload`, `UploadChunk`, `UploadStatus` and `FinishUpload`.
//!
//! An upload's bytes go to its own file as they arrive, and into a running
//! SHA-256. The server holds what it wrote: a chunk that starts below that
//! offset has its known part skipped, so a client unsure whether its last
//! chunk arrived resends it and nothing more. After a restart the running
//! hash is rebuilt by reading the file once. Only the finish stores a file,
//! and only if the hash of the bytes the server received is the declared
//! one: knowing a hash gets nobody the file it names.

use std::sync::{Arc, Mutex, PoisonError};

use ring::digest;

use super::store::{self, MediaRecord, Upload};
use super::Media;
use crate::id::now_ms;
use crate::protocol::{
    ErrorCode, FinishUploadRequest, MediaInfo, StartUploadRequest, UploadChunkRequest, UploadOffset, UploadStarted,
    UploadStatusRequest,
};
use crate::service::{Call, Outcome, ServiceError, ServiceResult, Services};
use crate::storage::Get;

/// How many bytes of an upload may wait for the disk: at each multiple the
/// upload's file is synced.
const FLUSH_EVERY: u64 = 4 * 1024 * 1024;

/// Whether `len` bytes written from `offset` reach or pass a multiple of `every`.
fn crosses(offset: u64, len: u64, every: u64) -> bool {
    (offset + len) / every > offset / every
}

/// An upload being received: its record, and what arrived so far.
pub(crate) struct Transfer {
    /// The upload as recorded (who, what was declared, until when).
    upload: Upload,
    /// The bytes received.
    progress: Mutex<Progress>,
}

/// What an upload's file holds.
struct Progress {
    /// Bytes written to the file, from the start.
    offset: u64,
    /// The hash of those bytes.
    hasher: digest::Context,
}

pub(super) async fn start_upload(call: Call, req: StartUploadRequest) -> ServiceResult<Outcome<UploadStarted>> {
    let me = call.me()?.user_id;
    let services = call.services.clone();
    let config = &services.config.media;
    if req.size == 0 {
        return Err(ServiceError::invalid("size: a file has at least one byte"));
    }
    if req.size > config.max_file_bytes {
        return Err(ServiceError::new(
            ErrorCode::FileTooLarge,
            format!("size: the server stores files of at most {} bytes", config.max_file_bytes),
        )
        .with_limit(config.max_file_bytes));
    }
    check_mime(&req.mime)?;
    let (quota, hash, size) = (config.quota_bytes, req.sha256, req.size);
    services.read(move |s| Ok(quota_left(s, quota, me, &hash, size))).await??;
    check_disk(&call.services, req.size)?;
    let upload = Upload {
        user: me,
        size: req.size,
        mime: req.mime,
        sha256: req.sha256,
        purpose: req.purpose.into(),
        shape: (req.width, req.height, req.duration_ms),
        expires_ms: now_ms().saturating_add(config.upload_expiry_secs.saturating_mul(1000)),
        finished: None,
    };
    let most = config.uploads_per_user;
    let chunk_bytes = config.chunk_bytes;
    call.services
        .write(move |tx| {
            let open = store::open_uploads(tx, me)?;
            if open >= u64::from(most) {
                return Err(ServiceError::over_limit(
                    ErrorCode::NotPermitted,
                    format!("at most {most} unfinished uploads at once: finish or let one expire"),
                    u64::from(most),
                    open,
                ));
            }
            let id = tx.next_id();
            store::start(tx, id, &upload);
            Ok(UploadStarted { upload_id: id, chunk_bytes, expires_ms: upload.expires_ms })
        })
        .await
}

pub(super) async fn upload_chunk(call: Call, req: UploadChunkRequest) -> ServiceResult<Outcome<UploadOffset>> {
    let me = call.me()?.user_id;
    let chunk_bytes = call.services.config.media.chunk_bytes as usize;
    if req.data.is_empty() || req.data.len() > chunk_bytes {
        return Err(ServiceError::invalid(format!("data: 1 to {chunk_bytes} bytes")).with_limit(chunk_bytes as u64));
    }
    let (upload, transfer) = open(&call.services, me, req.upload_id).await?;
    let Some(transfer) = transfer else {
        return Err(ServiceError::new(ErrorCode::Conflict, "the upload is finished"));
    };
    let services = call.services.clone();
    let offset = call
        .services
        .media
        .lane
        .run(move || {
            let mut t = transfer.progress.lock().unwrap_or_else(PoisonError::into_inner);
            if req.offset > t.offset {
                return Err(ServiceError::invalid(format!(
                    "offset: the server holds {} bytes; a chunk starts at or below that",
                    t.offset
                )));
            }
            let known = (t.offset - req.offset) as usize;
            let Some(fresh) = req.data.get(known..).filter(|rest| !rest.is_empty()) else {
                return Ok(t.offset);
            };
            if t.offset + fresh.len() as u64 > upload.size {
                return Err(ServiceError::invalid(format!(
                    "data: runs past the declared size of {} bytes",
                    upload.size
                )));
            }
            let flush = crosses(t.offset, fresh.len() as u64, FLUSH_EVERY);
            let written = services.media.files.partial(req.upload_id).and_then(|mut file| {
                use std::io::Write;
                file.write_all(fresh)?;
                // A large upload is written out as it comes, so what the disk
                // owes never piles up into one long flush at the finish that
                // the group commit's next sync would wait behind.
                if flush {
                    file.sync_data()?;
                }
                Ok(())
            });
            if let Err(e) = written {
                // What reached the file is unknown: the next chunk rebuilds the
                // offset and the hash from the file itself.
                drop(t);
                services.media.forget(req.upload_id);
                return Err(ServiceError::Storage(e.into()));
            }
            t.hasher.update(fresh);
            t.offset += fresh.len() as u64;
            Ok(t.offset)
        })
        .await??;
    Ok(Outcome::Reply(UploadOffset { offset }))
}

pub(super) async fn upload_status(call: Call, req: UploadStatusRequest) -> ServiceResult<Outcome<UploadOffset>> {
    let me = call.me()?.user_id;
    let (upload, transfer) = open(&call.services, me, req.upload_id).await?;
    let offset = match transfer {
        Some(t) => t.progress.lock().unwrap_or_else(PoisonError::into_inner).offset,
        None => upload.size,
    };
    Ok(Outcome::Reply(UploadOffset { offset }))
}

pub(super) async fn finish_upload(call: Call, req: FinishUploadRequest) -> ServiceResult<Outcome<MediaInfo>> {
    let me = call.me()?.user_id;
    let services = call.services.clone();
    let id = req.upload_id;
    let (upload, transfer) = open(&services, me, id).await?;
    let Some(transfer) = transfer else {
        return finished(&services, upload.finished).await.map(Outcome::Reply);
    };
    let digest = {
        let t = transfer.progress.lock().unwrap_or_else(PoisonError::into_inner);
        if t.offset != upload.size {
            return Err(ServiceError::invalid(format!(
                "the server holds {} of the {} bytes declared; send the rest first",
                t.offset, upload.size
            )));
        }
        t.hasher.clone().finish()
    };
    if digest.as_ref() != upload.sha256 {
        discard(&services, id).await?;
        return Err(ServiceError::invalid(
            "sha256: the bytes received do not have the declared hash; nothing was stored, start again",
        ));
    }
    let quota = services.config.media.quota_bytes;
    let hash = upload.sha256;
    let size = upload.size;
    services.read(move |s| Ok(quota_left(s, quota, me, &hash, size))).await??;
    let placing = services.media.placing.lock().await;
    // A finish of the same upload that held the lock first has moved the
    // file into place: answer what it stored.
    if let Some(done) = services.read(move |s| store::upload(s, id)).await?.and_then(|u| u.finished) {
        drop(placing);
        return finished(&services, Some(done)).await.map(Outcome::Reply);
    }
    let files = services.media.files.clone();
    tokio::task::spawn_blocking(move || files.place(id, &hash)).await?.map_err(|e| ServiceError::Storage(e.into()))?;
    let stored = services
        .committer
        .run(move |tx| {
            let Some(upload) = store::upload(tx, id)? else {
                return Err(ServiceError::not_found("no such upload: it expired"));
            };
            quota_left(tx, quota, me, &upload.sha256, upload.size)?;
            let media = tx.next_id();
            let (width, height, duration_ms) = upload.shape;
            let record = MediaRecord {
                uploader: me,
                sha256: upload.sha256,
                size: upload.size,
                mime: upload.mime.clone(),
                purpose: upload.purpose,
                width,
                height,
                duration_ms,
                orphan_since: None,
            };
            store::add(tx, media, &record)?;
            store::finish(tx, id, &upload, media);
            Ok(info(media, &record))
        })
        .await;
    drop(placing);
    services.media.forget(id);
    if stored.is_err() {
        // The upload's bytes were moved into place; without the record the
        // upload cannot go on, and an unnamed file goes with the sweep.
        discard(&services, id).await?;
    }
    stored.map(Outcome::Reply)
}

/// Forgets an upload: its transfer, its file and its records.
pub(super) async fn discard(services: &Services, id: u64) -> ServiceResult<()> {
    services.media.forget(id);
    services.media.files.remove_partial(id).map_err(|e| ServiceError::Storage(e.into()))?;
    services
        .committer
        .run(move |tx| {
            if let Some(upload) = store::upload(tx, id)? {
                store::drop_upload(tx, id, &upload);
            }
            Ok::<_, ServiceError>(())
        })
        .await
}

/// What a finished upload became, for a retried finish.
async fn finished(services: &Arc<Services>, media: Option<u64>) -> ServiceResult<MediaInfo> {
    let media = media.ok_or_else(|| ServiceError::not_found("no such upload"))?;
    let record = services.read(move |s| store::media(s, media)).await?;
    let record = record.ok_or_else(|| ServiceError::not_found("the upload's file was deleted"))?;
    Ok(info(media, &record))
}

fn info(media: u64, record: &MediaRecord) -> MediaInfo {
    MediaInfo { media_id: media, size: record.size, mime: record.mime.clone(), sha256: record.sha256 }
}

/// The caller's upload `id` and, unless it is finished, its transfer:
/// from memory while it is being received, else from its record and its
/// file (the server restarted since the last chunk).
async fn open(services: &Arc<Services>, me: u64, id: u64) -> ServiceResult<(Upload, Option<Arc<Transfer>>)> {
    let mine = |u: &Upload| u.user == me && u.expires_ms > now_ms();
    if let Some(transfer) = services.media.transfer(id) {
        return match mine(&transfer.upload) {
            true => Ok((transfer.upload.clone(), Some(transfer))),
            false => Err(ServiceError::not_found("no such upload")),
        };
    }
    let upload = services.read(move |s| store::upload(s, id)).await?;
    let upload = upload.filter(mine).ok_or_else(|| ServiceError::not_found("no such upload"))?;
    if upload.finished.is_some() {
        return Ok((upload, None));
    }
    let files = services.media.files.clone();
    let progress = services
        .media
        .lane
        .run(move || -> std::io::Result<Progress> {
            use std::io::Read;
            let mut file = files.partial(id)?;
            let mut hasher = digest::Context::new(&digest::SHA256);
            let mut offset = 0;
            let mut buffer = vec![0; 64 * 1024];
            loop {
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
                offset += n as u64;
            }
            Ok(Progress { offset, hasher })
        })
        .await?
        .map_err(|e| ServiceError::Storage(e.into()))?;
    let transfer = services.media.resume(id, Transfer { upload: upload.clone(), progress: Mutex::new(progress) });
    Ok((upload, Some(transfer)))
}

impl Media {
    fn transfer(&self, id: u64) -> Option<Arc<Transfer>> {
        self.transfers.lock().unwrap_or_else(PoisonError::into_inner).get(&id).cloned()
    }

    /// Keeps a rebuilt transfer, unless a concurrent request kept one first.
    fn resume(&self, id: u64, transfer: Transfer) -> Arc<Transfer> {
        let mut all = self.transfers.lock().unwrap_or_else(PoisonError::into_inner);
        all.entry(id).or_insert_with(|| Arc::new(transfer)).clone()
    }

    /// Drops an upload's transfer (finished, discarded, or its file in doubt).
    pub(super) fn forget(&self, id: u64) {
        self.transfers.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
    }
}

/// Refuses a file that would take a user past their quota; content they
/// already store costs nothing.
fn quota_left(r: &impl Get, quota: u64, user: u64, hash: &store::Hash, size: u64) -> ServiceResult<()> {
    if store::holds(r, user, hash)? {
        return Ok(());
    }
    let used = store::usage(r, user)?;
    if used.saturating_add(size) > quota {
        return Err(ServiceError::over_limit(
            ErrorCode::QuotaExceeded,
            format!("this file would take you past your {quota} bytes of files"),
            quota,
            used,
        ));
    }
    Ok(())
}

/// Refuses an upload that would leave the disk below its free-space floor.
fn check_disk(services: &Services, size: u64) -> ServiceResult<()> {
    let floor = services.config.media.free_disk_floor_mb.saturating_mul(1024 * 1024);
    let free = services.media.files.free_bytes().map_err(|e| ServiceError::Storage(e.into()))?;
    if free.saturating_sub(size) < floor {
        return Err(ServiceError::over_limit(
            ErrorCode::StorageFull,
            "the server's disk is nearly full and takes no files now; messages still go through",
            floor,
            free,
        ));
    }
    Ok(())
}

/// A MIME type: `type/subtype`, 3–127 printable ASCII characters, no spaces.
fn check_mime(mime: &str) -> ServiceResult<()> {
    let printable = mime.bytes().all(|b| b.is_ascii_graphic());
    let parts = mime.split_once('/').filter(|(t, s)| !t.is_empty() && !s.is_empty() && !s.contains('/'));
    if !(3..=127).contains(&mime.len()) || !printable || parts.is_none() {
        return Err(ServiceError::invalid("mime: type/subtype, 3–127 printable ASCII characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::crosses;

    #[test]
    fn a_flush_comes_at_each_multiple_crossed() {
        assert!(!crosses(0, 100, 1024));
        assert!(crosses(1000, 24, 1024), "reaching the multiple");
        assert!(crosses(1000, 100, 1024), "passing it");
        assert!(!crosses(1024, 100, 1024), "starting on it");
        assert!(crosses(0, 4096, 1024), "a chunk larger than the step");
    }
}
