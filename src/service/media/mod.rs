//! Files kept by the server: uploads in chunks, each distinct content stored
//! once on disk ([`files`]), records through the typed storage layer
//! ([`store`]), per-user quotas, and the sweep of files nobody may read.
//!
//! Who may read a file is decided by what references it — a message the
//! reader may see, a profile or group showing it as its avatar, or their
//! own upload — which needs the conversation
//! domain's view of a conversation; that rule lives there
//! (`conversation::attachments`), and `GetMedia` and `MediaUrl` above both
//! (`service/download.rs`). This domain keeps the references and uses only
//! the message domain (a reference names a message of a log; the sweep asks
//! whether it is still there).

mod export;
mod files;
mod lane;
mod store;
mod sweep;
mod upload;

pub(crate) use export::export;
pub(crate) use files::Files;
pub(crate) use store::{
    check, contents, erase, holders, media, reference, references, stats, usage_by_user, Holder, MediaRecord,
};
pub(crate) use sweep::sweep;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Router, ServiceError, ServiceResult, Tx};

/// The media domain's state beside its records.
pub(crate) struct Media {
    /// The media directory.
    files: Files,
    /// Uploads being received, each with the hash of its bytes so far.
    transfers: Mutex<HashMap<u64, Arc<upload::Transfer>>>,
    /// Held from placing a file until its record is durable, and by the
    /// sweep from finding a file unnamed until it is deleted, so a finish
    /// that finds its content already stored never sees that file deleted
    /// under it.
    placing: tokio::sync::Mutex<()>,
    /// Signs media URLs (PROTOCOL section 5, Media); kept in `media/url.key`, 0600.
    url_key: ring::hmac::Key,
    /// Where chunks are hashed, written and read, behind chat.
    lane: lane::Lane,
}

impl Media {
    /// The state over `<data_dir>/media`, its URL key created on first start.
    pub(crate) fn open(data_dir: &std::path::Path) -> std::io::Result<Media> {
        let files = Files::open(data_dir)?;
        let url_key = files.url_key()?;
        Ok(Media {
            files,
            transfers: Mutex::default(),
            placing: tokio::sync::Mutex::new(()),
            url_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &url_key),
            lane: lane::Lane::start()?,
        })
    }

    /// The key that signs media URLs.
    pub(crate) fn url_key(&self) -> &ring::hmac::Key {
        &self.url_key
    }

    /// The media directory.
    pub(crate) fn files(&self) -> &Files {
        &self.files
    }

    /// Where a transfer's file work runs.
    pub(crate) fn lane(&self) -> &lane::Lane {
        &self.lane
    }

    /// Keeps files from being placed or deleted while the guard lives (a
    /// backup copying them).
    pub(crate) async fn hold_files(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.placing.lock().await
    }
}

/// Registers the upload handlers.
pub(super) fn routes(router: &mut Router) {
    router.add(upload::start_upload).add(upload::upload_chunk).add(upload::upload_status).add(upload::finish_upload);
}

/// Moves `holder`'s avatar from file `old` to file `new` (0: none), in the
/// job that changes the profile or group. A new avatar must be an image
/// that `by`, who sets it, uploaded: an avatar is shown to people the file
/// was never sent to, so it cannot be someone else's file.
pub(crate) fn set_avatar(tx: &mut Tx<'_>, holder: Holder, by: u64, old: u64, new: u64) -> ServiceResult<()> {
    if new == old {
        return Ok(());
    }
    if new != 0 {
        let record = store::media(tx, new)?
            .filter(|r| r.uploader == by)
            .ok_or_else(|| ServiceError::not_found("avatar: no such file among your uploads"))?;
        if !record.mime.starts_with("image/") {
            return Err(ServiceError::invalid(format!("avatar: an image is needed, not {}", record.mime)));
        }
    }
    store::show(tx, holder, old, new)
}

/// Has moment `moment` show `files`, which `by`, its author, must have
/// uploaded (a moment is shown to people the files were never sent to): a
/// video, and an image before it plays, or images. Returns what the server
/// stored of each.
pub(crate) fn show_in_moment(
    tx: &mut Tx<'_>,
    moment: u64,
    by: u64,
    files: &[(u64, &str)],
) -> ServiceResult<Vec<MediaRecord>> {
    let mut records = Vec::with_capacity(files.len());
    for &(file, kind) in files {
        let record = store::media(tx, file)?
            .filter(|r| r.uploader == by)
            .ok_or_else(|| ServiceError::not_found(format!("media: no file {file} among your uploads")))?;
        if !record.mime.starts_with(kind) {
            return Err(ServiceError::invalid(format!("media: file {file} is {}, not {kind}*", record.mime)));
        }
        store::show(tx, Holder::Moment(moment), 0, file)?;
        records.push(record);
    }
    Ok(records)
}

/// Forgets that a deleted moment showed `files`; the sweep deletes those
/// nothing else shows or carries.
pub(crate) fn unshow_moment(tx: &mut Tx<'_>, moment: u64, files: &[u64]) -> ServiceResult<()> {
    for &file in files {
        store::show(tx, Holder::Moment(moment), file, 0)?;
    }
    Ok(())
}
