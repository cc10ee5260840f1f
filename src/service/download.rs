//! `GetMedia` and `MediaUrl`: reading files, through the one rule of who
//! may read a file (`conversation::media_readable`), which sits above the
//! media domain because it reads conversations. The HTTPS server
//! (`transport/http.rs`) serves signed URLs through [`open`] and the same rule.

use std::sync::Arc;

use ring::hmac;

use super::{conversation, media, Call, Outcome, Router, ServiceError, ServiceResult, Services};
use crate::hex::{hex, unhex};
use crate::id::now_ms;
use crate::protocol::{GetMediaRequest, MediaChunk, MediaUrl, MediaUrlRequest};

/// Registers the download handlers.
pub(super) fn routes(router: &mut Router) {
    router.add(get_media).add(media_url);
}

async fn get_media(call: Call, req: GetMediaRequest) -> ServiceResult<Outcome<MediaChunk>> {
    let me = call.me()?.user_id;
    let chunk_bytes = call.services.config.media.chunk_bytes;
    if req.length == 0 || req.length > chunk_bytes {
        return Err(ServiceError::invalid(format!("length: 1 to {chunk_bytes} bytes")).with_limit(chunk_bytes.into()));
    }
    let record = readable(&call.services, me, req.media_id).await?;
    if req.offset >= record.size {
        return Err(
            ServiceError::invalid(format!("offset: the file has {} bytes", record.size)).with_limit(record.size)
        );
    }
    let files = call.services.media.files().clone();
    let (hash, offset, length) = (record.sha256, req.offset, req.length as usize);
    let data = call
        .services
        .media
        .lane()
        .run(move || files.read_at(&hash, offset, length))
        .await?
        .map_err(|e| ServiceError::Storage(e.into()))?;
    Ok(Outcome::Reply(MediaChunk { size: record.size, mime: record.mime, data }))
}

async fn media_url(call: Call, req: MediaUrlRequest) -> ServiceResult<Outcome<MediaUrl>> {
    let me = call.me()?.user_id;
    readable(&call.services, me, req.media_id).await?;
    let expires_ms = now_ms().saturating_add(call.services.config.media.url_secs.saturating_mul(1000));
    let path = sign(call.services.media.url_key(), req.media_id, me, expires_ms);
    Ok(Outcome::Reply(MediaUrl { path, expires_ms }))
}

/// File `id` if `user` may read it now, else `NotFound` (whether it exists
/// or not: a stranger learns nothing).
async fn readable(services: &Arc<Services>, user: u64, id: u64) -> ServiceResult<media::MediaRecord> {
    let reader = services.clone();
    let found = services.read(move |s| conversation::media_readable(&reader, s, user, id, now_ms())).await?;
    found.ok_or_else(|| ServiceError::not_found("no such file"))
}

/// The path and query of a signed URL: `/media/<id>?user=<id>&expires=<ms>&sig=<hex>`.
fn sign(key: &hmac::Key, id: u64, user: u64, expires_ms: u64) -> String {
    let tag = hmac::sign(key, signed(id, user, expires_ms).as_bytes());
    format!("/media/{id}?user={user}&expires={expires_ms}&sig={}", hex(tag.as_ref()))
}

fn signed(id: u64, user: u64, expires_ms: u64) -> String {
    format!("kith-media-url/1 {id} {user} {expires_ms}")
}

/// Why a URL serves nothing; each is told apart only in the server's log,
/// the client sees 404 (or 403 for an expired URL, so it asks for a new one).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not a media URL, or its signature is wrong.
    NotFound,
    /// Past its expiry: ask `MediaUrl` again.
    Expired,
}

/// The file a signed URL names, if its signature holds, it has not expired
/// and its user may read the file now.
pub(crate) async fn open(services: &Arc<Services>, path: &str, query: &str) -> Result<media::MediaRecord, Refusal> {
    let id: u64 = path.strip_prefix("/media/").and_then(|id| id.parse().ok()).ok_or(Refusal::NotFound)?;
    let mut user = None;
    let mut expires = None;
    let mut sig = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("user", v)) => user = v.parse::<u64>().ok(),
            Some(("expires", v)) => expires = v.parse::<u64>().ok(),
            Some(("sig", v)) => sig = unhex(v),
            _ => {}
        }
    }
    let (Some(user), Some(expires), Some(sig)) = (user, expires, sig) else { return Err(Refusal::NotFound) };
    hmac::verify(services.media.url_key(), signed(id, user, expires).as_bytes(), &sig)
        .map_err(|_| Refusal::NotFound)?;
    if expires <= now_ms() {
        return Err(Refusal::Expired);
    }
    readable(services, user, id).await.map_err(|_| Refusal::NotFound)
}
