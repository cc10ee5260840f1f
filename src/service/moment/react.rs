//! `LikeMoment`, `CommentMoment` and `DeleteComment`.
//!
//! Only someone who sees a moment likes it or comments on it, read again in
//! the job. The author is told of each like and comment by an update whose
//! id is the like's or the comment's; the writer of a comment answered is
//! told of the reply when they see the moment and the one who replied. A
//! like taken back or a comment deleted takes its notices out of the logs.

use super::feed::{comment, seen};
use super::no_moment;
use super::publish::check_text;
use super::store::{self, CommentRecord};
use super::visibility::{Place, Sight};
use crate::id::now_ms;
use crate::protocol::{
    CommentMomentRequest, DeleteCommentRequest, ErrorCode, LikeMomentRequest, MomentComment, MomentCommented,
    MomentLiked, UpdateBody,
};
use crate::service::{update, Call, Outcome, ServiceError, ServiceResult, Services, Tx};

pub(super) async fn like_moment(call: Call, req: LikeMomentRequest) -> ServiceResult<Outcome<()>> {
    let me = call.me()?.user_id;
    let origin = call.session_id;
    let services = call.services.clone();
    let id = req.moment_id;
    call.services
        .write(move |tx| {
            if !req.like {
                // One's own like goes back even from a moment one no longer
                // sees; nobody else learns whether the moment exists.
                let m = store::moment(tx, id)?.ok_or_else(no_moment)?;
                if store::like(tx, id, me)?.is_some() {
                    return unlike(tx, id, me);
                }
                return if super::sees(tx, me, id, &m)? { Ok(()) } else { Err(no_moment()) };
            }
            let mut m = seen(tx, &mut Sight::new(me, now_ms()), id)?.ok_or_else(no_moment)?;
            if store::like(tx, id, me)?.is_some() {
                return Ok(());
            }
            let most = services.config.moments.likes_per_moment;
            if m.likes >= most {
                let message = format!("a moment holds at most {most} likes");
                return Err(ServiceError::over_limit(
                    ErrorCode::NotPermitted,
                    message,
                    u64::from(most),
                    u64::from(m.likes),
                ));
            }
            let like = tx.next_id();
            store::put_like(tx, id, me, like);
            m.likes += 1;
            store::put_moment(tx, id, &m);
            if m.author != me && services.accounts.user_exists(m.author) {
                let notice = UpdateBody::MomentLiked(MomentLiked { moment_id: id, user_id: me });
                update::publish(tx, &[m.author], Some(origin), like, notice);
            }
            Ok(())
        })
        .await
}

/// Takes `user`'s like of moment `id` back, with its notice (nothing if
/// they do not like it).
pub(super) fn unlike(tx: &mut Tx<'_>, id: u64, user: u64) -> ServiceResult<()> {
    let (Some(like), Some(mut m)) = (store::like(tx, id, user)?, store::moment(tx, id)?) else { return Ok(()) };
    store::delete_like(tx, id, user);
    m.likes = m.likes.saturating_sub(1);
    store::put_moment(tx, id, &m);
    update::remove(tx, m.author, like);
    Ok(())
}

pub(super) async fn comment_moment(call: Call, req: CommentMomentRequest) -> ServiceResult<Outcome<MomentComment>> {
    let me = call.me()?.user_id;
    let config = &call.services.config.moments;
    check_text("text", &req.text, config.comment_max_chars as usize)?;
    if req.text.trim().is_empty() {
        return Err(ServiceError::invalid("text: must not be empty"));
    }
    let origin = call.session_id;
    let services = call.services.clone();
    call.services.write(move |tx| comment_in(tx, &services, me, req, origin)).await
}

fn comment_in(
    tx: &mut Tx<'_>,
    services: &Services,
    me: u64,
    req: CommentMomentRequest,
    origin: u64,
) -> ServiceResult<MomentComment> {
    let now = now_ms();
    let id = req.moment_id;
    let mut sight = Sight::new(me, now);
    let mut m = seen(tx, &mut sight, id)?.ok_or_else(no_moment)?;
    let most = services.config.moments.comments_per_moment;
    if m.comments >= most {
        let message = format!("a moment holds at most {most} comments");
        return Err(ServiceError::over_limit(ErrorCode::NotPermitted, message, u64::from(most), u64::from(m.comments)));
    }
    let reply_to_user = match req.reply_to {
        None => 0,
        Some(answered) => match store::comment(tx, id, answered)? {
            Some(c) if sight.sees_activity_of(tx, m.author, c.author)? => c.author,
            _ => return Err(ServiceError::not_found("reply_to: no such comment on this moment")),
        },
    };
    let comment_id = tx.next_id();
    let record = CommentRecord { author: me, text: req.text, reply_to: req.reply_to, reply_to_user };
    store::put_comment(tx, id, comment_id, &record);
    m.comments += 1;
    store::put_moment(tx, id, &m);
    let mut told = Vec::new();
    if m.author != me && services.accounts.user_exists(m.author) {
        told.push(m.author);
    }
    if ![0, me, m.author].contains(&reply_to_user) && services.accounts.user_exists(reply_to_user) {
        let mut theirs = Sight::new(reply_to_user, now);
        if theirs.sees(tx, id, m.author, &m.visibility, Place::Elsewhere)?
            && theirs.sees_activity_of(tx, m.author, me)?
        {
            told.push(reply_to_user);
        }
    }
    let shown = comment(tx, &mut sight, id, m.author, comment_id, record)?;
    if !told.is_empty() {
        let notice = UpdateBody::MomentCommented(MomentCommented { moment_author: m.author, comment: shown.clone() });
        update::publish(tx, &told, Some(origin), comment_id, notice);
    }
    Ok(shown)
}

pub(super) async fn delete_comment(call: Call, req: DeleteCommentRequest) -> ServiceResult<Outcome<()>> {
    let me = call.me()?.user_id;
    call.services
        .write(move |tx| {
            let m = store::moment(tx, req.moment_id)?.ok_or_else(no_moment)?;
            let c = store::comment(tx, req.moment_id, req.comment_id)?
                .ok_or_else(|| ServiceError::not_found("no such comment on this moment"))?;
            if c.author != me && m.author != me {
                let why = "only its writer or the moment's author deletes a comment";
                return Err(super::refusal(tx, me, req.moment_id, &m, why)?);
            }
            uncomment(tx, req.moment_id, req.comment_id)
        })
        .await
}

/// Deletes comment `comment` of moment `id`, with its notices.
pub(super) fn uncomment(tx: &mut Tx<'_>, id: u64, comment: u64) -> ServiceResult<()> {
    let (Some(c), Some(mut m)) = (store::comment(tx, id, comment)?, store::moment(tx, id)?) else { return Ok(()) };
    store::delete_comment(tx, id, comment, c.author);
    m.comments = m.comments.saturating_sub(1);
    store::put_moment(tx, id, &m);
    super::untell(tx, m.author, comment, &c);
    Ok(())
}
