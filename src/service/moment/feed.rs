//! Reading moments: `Feed`, `UserMoments`, `GetMoment` and
//! `MomentComments`, each through the one rule ([`Sight`]).
//!
//! The feed merges, newest first, the index of the caller's own moments
//! and each friend's: one cursor per author, the newest head taken each
//! time, so a page reads a moment record only for what it may show or
//! skip, and paging by moment id has no gap or repeat whatever is posted
//! meanwhile. A page says `more` only when it found another moment the
//! viewer sees, so it tells nothing of moments hidden from them.

use std::collections::BinaryHeap;

use super::store::{self, MomentRecord};
use super::visibility::{Place, Sight};
use crate::id::now_ms;
use crate::protocol::{
    CommentPage, FeedRequest, GetMomentRequest, Moment, MomentComment, MomentCommentsRequest, MomentFile, MomentPage,
    UserMomentsRequest,
};
use crate::service::{media, social, Call, Outcome, PageLimit, ServiceError, ServiceResult};
use crate::storage::{Get, StorageError};

/// Likes and comments a moment carries inline; `MomentComments` pages on.
const SHOWN: usize = 20;

pub(super) async fn feed(call: Call, req: FeedRequest) -> ServiceResult<Outcome<MomentPage>> {
    let limit = PageLimit::requested(req.limit)?;
    let me = call.me()?.user_id;
    let before = if req.before == 0 { u64::MAX } else { req.before };
    let page = call
        .services
        .read(move |s| {
            let mut sight = Sight::new(me, now_ms());
            let mut authors = social::friend_ids(s, me)?;
            authors.push(me);
            let mut cursors: Vec<_> = authors.iter().map(|&a| store::posted_before(s, a, before)).collect();
            let mut heads = BinaryHeap::with_capacity(cursors.len());
            for (i, cursor) in cursors.iter_mut().enumerate() {
                if let Some(id) = cursor.next().transpose()? {
                    heads.push((id, i));
                }
            }
            let mut page = Paged::new(limit);
            while let Some((id, i)) = heads.pop() {
                if let Some(next) = cursors[i].next().transpose()? {
                    heads.push((next, i));
                }
                let Some(m) = store::moment(s, id)? else { continue };
                if !sight.sees(s, id, m.author, &m.visibility, Place::Feed)? {
                    continue;
                }
                if page.full() {
                    return Ok(page.into_page(true));
                }
                page.push(view(s, &mut sight, id, m)?);
            }
            Ok(page.into_page(false))
        })
        .await?;
    Ok(Outcome::Reply(page))
}

pub(super) async fn user_moments(call: Call, req: UserMomentsRequest) -> ServiceResult<Outcome<MomentPage>> {
    let limit = PageLimit::requested(req.limit)?;
    let me = call.me()?.user_id;
    let author = req.user_id;
    if !call.services.accounts.user_exists(author) {
        return Err(ServiceError::not_found("no such user"));
    }
    let before = if req.before == 0 { u64::MAX } else { req.before };
    let page = call
        .services
        .read(move |s| {
            let mut sight = Sight::new(me, now_ms());
            let (between, window) = sight.author(s, author)?;
            if between.tie == super::visibility::Tie::Blocked {
                return Ok(None);
            }
            // Nothing older than the author's window is shown to others.
            let oldest = match (between.tie, window.span_ms()) {
                (super::visibility::Tie::Own, _) | (_, None) => 0,
                (_, Some(span)) => crate::id::first_id_at(sight.now_ms.saturating_sub(span)),
            };
            let mut page = Paged::new(limit);
            for id in store::posted_before(s, author, before) {
                let id = id?;
                if id < oldest || between.hidden_by_author {
                    break;
                }
                let Some(m) = store::moment(s, id)? else { continue };
                if !sight.sees(s, id, author, &m.visibility, Place::Elsewhere)? {
                    continue;
                }
                if page.full() {
                    return Ok(Some(page.into_page(true)));
                }
                page.push(view(s, &mut sight, id, m)?);
            }
            Ok(Some(page.into_page(false)))
        })
        .await?;
    page.map(Outcome::Reply).ok_or_else(|| ServiceError::not_found("no such user"))
}

pub(super) async fn get_moment(call: Call, req: GetMomentRequest) -> ServiceResult<Outcome<Moment>> {
    let me = call.me()?.user_id;
    let id = req.moment_id;
    let moment = call
        .services
        .read(move |s| {
            let mut sight = Sight::new(me, now_ms());
            match seen(s, &mut sight, id)? {
                Some(m) => view(s, &mut sight, id, m).map(Some),
                None => Ok(None),
            }
        })
        .await?;
    moment.map(Outcome::Reply).ok_or_else(super::no_moment)
}

pub(super) async fn moment_comments(call: Call, req: MomentCommentsRequest) -> ServiceResult<Outcome<CommentPage>> {
    let limit = PageLimit::requested(req.limit)?;
    let me = call.me()?.user_id;
    let page = call
        .services
        .read(move |s| {
            let mut sight = Sight::new(me, now_ms());
            let Some(m) = seen(s, &mut sight, req.moment_id)? else { return Ok(None) };
            let (mut comments, mut more) = (Vec::new(), false);
            for entry in store::comments(s, req.moment_id, req.after) {
                let (id, c) = entry?;
                if sight.sees_activity_of(s, m.author, c.author)? {
                    if comments.len() == limit.count {
                        more = true;
                        break;
                    }
                    comments.push(comment(s, &mut sight, req.moment_id, m.author, id, c)?);
                }
            }
            Ok(Some(CommentPage { comments, more }))
        })
        .await?;
    page.map(Outcome::Reply).ok_or_else(super::no_moment)
}

/// Moment `id`, if the viewer sees it anywhere but in a feed.
pub(super) fn seen(r: &impl Get, sight: &mut Sight, id: u64) -> Result<Option<MomentRecord>, StorageError> {
    let Some(m) = store::moment(r, id)? else { return Ok(None) };
    Ok(sight.sees(r, id, m.author, &m.visibility, Place::Elsewhere)?.then_some(m))
}

/// A moment as the viewer sees it: its files as stored, and the likes and
/// comments the rule shows them, counted the same way.
fn view(r: &impl Get, sight: &mut Sight, id: u64, m: MomentRecord) -> Result<Moment, StorageError> {
    let mut files = Vec::new();
    for file in m.media.files() {
        if let Some(f) = media::media(r, file)? {
            files.push(MomentFile {
                media_id: file,
                mime: f.mime,
                size: f.size,
                width: f.width,
                height: f.height,
                duration_ms: f.duration_ms,
            });
        }
    }
    let (mut likes, mut like_count, mut liked) = (Vec::new(), 0, false);
    for entry in store::likes(r, id) {
        let (user, _) = entry?;
        if sight.sees_activity_of(r, m.author, user)? {
            like_count += 1;
            liked |= user == sight.viewer;
            if likes.len() < SHOWN {
                likes.push(user);
            }
        }
    }
    let (mut comments, mut comment_count) = (Vec::new(), 0);
    for entry in store::comments(r, id, 0) {
        let (comment_id, c) = entry?;
        if sight.sees_activity_of(r, m.author, c.author)? {
            comment_count += 1;
            if comments.len() < SHOWN {
                comments.push(comment(r, sight, id, m.author, comment_id, c)?);
            }
        }
    }
    let own = m.author == sight.viewer;
    Ok(Moment {
        moment_id: id,
        author: m.author,
        text: m.text,
        media: m.media,
        files,
        location: m.location,
        visibility: own.then_some(m.visibility),
        like_count,
        likes,
        liked,
        comment_count,
        comments,
    })
}

/// A comment as the viewer sees it: what it answers only if they see
/// that comment, and it is still there.
pub(super) fn comment(
    r: &impl Get,
    sight: &mut Sight,
    moment: u64,
    moment_author: u64,
    id: u64,
    c: store::CommentRecord,
) -> Result<MomentComment, StorageError> {
    let answered = match c.reply_to {
        Some(answered) if sight.sees_activity_of(r, moment_author, c.reply_to_user)? => {
            store::comment(r, moment, answered)?.is_some()
        }
        _ => false,
    };
    Ok(MomentComment {
        comment_id: id,
        moment_id: moment,
        author: c.author,
        text: c.text,
        reply_to: c.reply_to.filter(|_| answered),
        reply_to_user: if answered { c.reply_to_user } else { 0 },
    })
}

/// A page of moments filling up to its limit of entries and bytes.
struct Paged {
    limit: PageLimit,
    moments: Vec<Moment>,
    bytes: usize,
}

impl Paged {
    fn new(limit: PageLimit) -> Paged {
        Paged { limit, moments: Vec::new(), bytes: 0 }
    }

    /// Adds a moment.
    fn push(&mut self, m: Moment) {
        self.bytes += m.text.len() + m.comments.iter().map(|c| c.text.len()).sum::<usize>();
        self.moments.push(m);
    }

    /// Whether it holds all it may: the next moment the viewer sees is
    /// only looked for, so `more` says there is one.
    fn full(&self) -> bool {
        self.limit.full(self.moments.len(), self.bytes)
    }

    /// The page; `more` when another moment the viewer sees follows.
    fn into_page(self, more: bool) -> MomentPage {
        MomentPage { moments: self.moments, more }
    }
}
