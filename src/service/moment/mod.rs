//! Moments: posts of text with up to nine photos or one video, shown to
//! the audience their author chose; the friends' feed; likes and comments.
//!
//! Who sees what is one rule ([`visibility`]), read at the moment each
//! surface serves, so an unfriending, a block, a changed setting or a
//! window that moved on takes effect on the next request. The feed is
//! merged at read time from each author's index of moments, never copied
//! into followers' inboxes: a post costs one record whatever the number of
//! friends. The author hears of likes and comments, and a commenter of
//! replies, by updates in their log; a deleted like, comment or moment
//! takes its notices out of the log again.
//!
//! Uses: social (friends, blocks), media (the files a moment shows),
//! update (the notices).

mod export;
mod feed;
mod publish;
mod react;
mod settings;
mod store;
mod visibility;

// What the other domains and the start-up checks use of this one.
pub(crate) use export::export;
pub(crate) use store::check;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use self::store::MomentRecord;
use self::visibility::{Place, Sight};
use super::{media, update, Router, ServiceError, ServiceResult, Services, Tx};
use crate::protocol::ErrorCode;
use crate::storage::{Get, StorageError, Store};

/// Registers the moment handlers.
pub(super) fn routes(router: &mut Router) {
    router
        .add(publish::publish_moment)
        .add(publish::delete_moment)
        .add(feed::feed)
        .add(feed::user_moments)
        .add(feed::get_moment)
        .add(feed::moment_comments)
        .add(react::like_moment)
        .add(react::comment_moment)
        .add(react::delete_comment)
        .add(settings::moment_settings)
        .add(settings::moment_filter);
}

/// Whether `viewer` may read a file moment `id` shows: whether they see
/// the moment anywhere but in a feed (the rule of who may read a file,
/// `conversation::attachments`, asks).
pub(crate) fn shows_to(r: &impl Get, id: u64, viewer: u64) -> Result<bool, StorageError> {
    Ok(feed::seen(r, &mut Sight::new(viewer, crate::id::now_ms()), id)?.is_some())
}

/// What a moment one does not see is answered, whether it exists or not.
fn no_moment() -> ServiceError {
    ServiceError::not_found("no such moment")
}

/// The refusal of a change to someone else's moment or comment:
/// `NotPermitted` (`why`) when `me` sees the moment, else `NotFound`, as
/// if it did not exist.
fn refusal(r: &impl Get, me: u64, id: u64, m: &MomentRecord, why: &str) -> ServiceResult<ServiceError> {
    Ok(if sees(r, me, id, m)? { ServiceError::new(ErrorCode::NotPermitted, why) } else { no_moment() })
}

/// Whether `me` sees moment `id` anywhere but in a feed, now.
fn sees(r: &impl Get, me: u64, id: u64, m: &MomentRecord) -> Result<bool, StorageError> {
    Sight::new(me, crate::id::now_ms()).sees(r, id, m.author, &m.visibility, Place::Elsewhere)
}

/// Counts for `kith stats`: moments, likes, comments.
pub(crate) fn stats(s: &Store) -> Result<(u64, u64, u64), StorageError> {
    store::stats(s)
}

/// Removes a moment with its likes, its comments, the notices they made
/// and its hold on its files, in the caller's job.
fn remove(tx: &mut Tx<'_>, id: u64, m: &MomentRecord) -> ServiceResult<()> {
    let likes: Vec<(u64, u64)> = store::likes(tx, id).collect::<Result<_, _>>()?;
    for (user, like) in likes {
        store::delete_like(tx, id, user);
        update::remove(tx, m.author, like);
    }
    let comments: Vec<(u64, store::CommentRecord)> = store::comments(tx, id, 0).collect::<Result<_, _>>()?;
    for (comment, c) in comments {
        store::delete_comment(tx, id, comment, c.author);
        untell(tx, m.author, comment, &c);
    }
    media::unshow_moment(tx, id, &m.media.files())?;
    store::unpost(tx, id, m);
    Ok(())
}

/// Takes a comment's notices out of the logs of those told of it.
fn untell(tx: &mut Tx<'_>, moment_author: u64, comment: u64, c: &store::CommentRecord) {
    update::remove(tx, moment_author, comment);
    if c.reply_to_user != 0 {
        update::remove(tx, c.reply_to_user, comment);
    }
}

/// Erases what a deleted account left among moments, in jobs of about
/// `most` rows: its moments (with their likes and comments), its likes and
/// comments on others' moments, its settings, both sides of its filters,
/// its client ids. True when nothing is left.
pub(crate) fn erase(tx: &mut Tx<'_>, user: u64, most: usize) -> ServiceResult<bool> {
    let mut budget = most;
    let mine: Vec<u64> = store::posted_after(tx, user, 0).take(most).collect::<Result<_, _>>()?;
    for id in mine {
        if let Some(m) = store::moment(tx, id)? {
            budget = budget.saturating_sub(1 + (m.likes + m.comments) as usize);
            remove(tx, id, &m)?;
        }
        if budget == 0 {
            return Ok(false);
        }
    }
    let liked: Vec<u64> = store::liked_by(tx, user, 0).take(budget).collect::<Result<_, _>>()?;
    let commented: Vec<(u64, u64)> = store::commented_by(tx, user, 0).take(budget).collect::<Result<_, _>>()?;
    if !liked.is_empty() || !commented.is_empty() {
        for id in liked {
            react::unlike(tx, id, user)?;
        }
        for (comment, id) in commented {
            react::uncomment(tx, id, comment)?;
        }
        return Ok(false);
    }
    Ok(store::erase_settings(tx, user, most)?)
}

/// Deletes moments older than `moments.retention_secs`, with their likes
/// and comments, every `conversation.purge_interval_secs` until `shutdown`.
pub(crate) async fn expire(services: Arc<Services>, shutdown: CancellationToken) {
    let kept_secs = services.config.moments.retention_secs;
    if kept_secs == 0 {
        return;
    }
    let every = Duration::from_secs(services.config.conversation.purge_interval_secs);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match expire_round(&services, kept_secs, &shutdown).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(moments = n, "deleted moments past their retention"),
            Err(e) => tracing::warn!(error = %e, "deleting old moments failed; trying again next round"),
        }
    }
}

/// Moments looked at per job of the retention sweep.
const EXPIRE_BATCH: usize = 64;

async fn expire_round(services: &Arc<Services>, kept_secs: u64, shutdown: &CancellationToken) -> ServiceResult<u64> {
    let before = crate::id::first_id_within(kept_secs, crate::id::now_ms());
    let mut removed = 0;
    while !shutdown.is_cancelled() {
        let due = services.read(move |s| store::moments_before(s, before, EXPIRE_BATCH)).await?;
        if due.is_empty() {
            break;
        }
        let n = due.len() as u64;
        services
            .committer
            .run(move |tx| {
                for id in due {
                    if let Some(m) = store::moment(tx, id)? {
                        remove(tx, id, &m)?;
                    }
                }
                ServiceResult::Ok(())
            })
            .await?;
        removed += n;
    }
    Ok(removed)
}
