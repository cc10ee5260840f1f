//! Files carried by messages, and THE rule for who may read a file.
//!
//! A file is readable by its uploader; by a user who reaches a message
//! carrying it — through their [`View`] of that message's conversation,
//! which holds membership windows and retention, and not recalled; by a
//! user who may read the profile that shows it as its avatar (the profile
//! rule, `social::profile_readable`); and by a user who may see the group
//! that shows it as its avatar (members, or anyone not banned from a group
//! that is not invite-only: `group::shown`) — unless a block stands between
//! them and the uploader. Nothing else grants access: knowing a media id
//! or a hash gives nothing. `GetMedia`, `MediaUrl`, the HTTPS server and
//! `Send` (forwarding a file received) all ask here, at the moment they
//! serve, so a recall, an expiry, a kick, a block or a changed avatar takes
//! effect at once.

use super::View;
use crate::codec::{decode_wire, encode_wire};
use crate::id::now_ms;
use crate::protocol::{MediaContent, MessageKind};
use crate::service::message::Conversation;
use crate::service::{group, media, moment, social, ServiceError, ServiceResult, Services, Tx};
use crate::storage::{Get, StorageError};

/// Longest file name a media message carries, in bytes.
const NAME_BYTES: usize = 255;
/// Longest caption, in bytes.
const CAPTION_BYTES: usize = 1024;

/// File `id`, if `user` may read it now.
pub(crate) fn readable(
    services: &Services,
    r: &impl Get,
    user: u64,
    id: u64,
    now: u64,
) -> Result<Option<media::MediaRecord>, StorageError> {
    let Some(record) = media::media(r, id)? else { return Ok(None) };
    if record.uploader == user {
        return Ok(Some(record));
    }
    let relation = social::relation(r, social::Pair::of(user, record.uploader))?;
    if social::forbids(&relation, social::Surface::Lookup).is_some() {
        return Ok(None);
    }
    let retention = services.config().conversation.retention_secs;
    for (conversation, message) in media::references(r, id)? {
        let Ok(view) = View::of(r, user, conversation, retention, now)? else { continue };
        if view.reached(r, message)?.is_some_and(|m| m.kind != MessageKind::Recalled) {
            return Ok(Some(record));
        }
    }
    for holder in media::holders(r, id)? {
        let shown = match holder {
            media::Holder::User(owner) => {
                social::profile_readable(services, r, (user, owner), || group::share_a_group(r, user, owner))?
            }
            media::Holder::Group(group) => match group::shown(r, group, user) {
                Err(ServiceError::Storage(e)) => return Err(e),
                found => found.is_ok(),
            },
            media::Holder::Moment(moment) => moment::shows_to(r, moment, user)?,
        };
        if shown {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// The file a message of `kind` carries, if its kind carries one: its
/// content must then be a [`MediaContent`] within the limits.
pub(super) fn parse(kind: MessageKind, content: &[u8]) -> ServiceResult<Option<MediaContent>> {
    if !matches!(kind, MessageKind::Image | MessageKind::Voice | MessageKind::Video | MessageKind::File) {
        return Ok(None);
    }
    let attachment: MediaContent = decode_wire(content).map_err(|e| {
        ServiceError::invalid(format!(
            "content: a {kind:?} message's content is a MediaContent (section 5, Media): {e}"
        ))
    })?;
    if attachment.name.len() > NAME_BYTES || attachment.name.chars().any(char::is_control) {
        return Err(ServiceError::invalid(format!("name: at most {NAME_BYTES} bytes, no control characters"))
            .with_limit(NAME_BYTES as u64));
    }
    if attachment.caption.len() > CAPTION_BYTES {
        return Err(
            ServiceError::invalid(format!("caption: at most {CAPTION_BYTES} bytes")).with_limit(CAPTION_BYTES as u64)
        );
    }
    Ok(Some(attachment))
}

/// Checks, on the write path, that the sender may read the file (and its
/// thumbnail), and returns the content to store: what the server holds of
/// the file in place of the client's values.
pub(super) fn resolve(tx: &Tx<'_>, services: &Services, sender: u64, mut a: MediaContent) -> ServiceResult<Vec<u8>> {
    let now = now_ms();
    let missing = |what: &str| ServiceError::not_found(format!("{what}: no such file"));
    let record = readable(services, tx, sender, a.media_id, now)?.ok_or_else(|| missing("media_id"))?;
    if let Some(thumbnail) = a.thumbnail {
        readable(services, tx, sender, thumbnail, now)?.ok_or_else(|| missing("thumbnail"))?;
    }
    a.size = record.size;
    a.mime = record.mime;
    a.width = record.width;
    a.height = record.height;
    a.duration_ms = record.duration_ms;
    Ok(encode_wire(&a))
}

/// Notes that message `id` of `conversation` carries the file and its thumbnail.
pub(super) fn carry(tx: &mut Tx<'_>, a: &MediaContent, conversation: Conversation, id: u64) -> ServiceResult<()> {
    for file in std::iter::once(a.media_id).chain(a.thumbnail) {
        if let Some(mut record) = media::media(tx, file)? {
            media::reference(tx, file, &mut record, (conversation, id));
        }
    }
    Ok(())
}
