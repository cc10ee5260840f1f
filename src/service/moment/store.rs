//! The moment domain's keyspaces: moments and each author's index of them,
//! likes and comments (each also indexed under whoever made it, for their
//! export and erasure), the visible window, the per-friend settings, and
//! the idempotency of publishing.

use serde::{Deserialize, Serialize};

use crate::protocol::{Location, MomentMedia, MomentVisibility, MomentWindow};
use crate::service::Tx;
use crate::storage::{schema, Audit, Get, Keyspace, StorageError, Store};

/// A moment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct MomentRecord {
    /// Who posted it.
    pub author: u64,
    /// The text.
    pub text: String,
    /// The files' ids.
    pub media: MomentMedia,
    /// Where it was posted from.
    pub location: Option<Location>,
    /// Who sees it.
    pub visibility: MomentVisibility,
    /// Likes, all of them (what a viewer is shown is counted through the rule).
    pub likes: u32,
    /// Comments, all of them.
    pub comments: u32,
    /// The client id it was posted with, whose entry goes with it.
    pub client_id: [u8; 16],
}

/// A comment as stored; its id is the id of the notices it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct CommentRecord {
    /// Who wrote it.
    pub author: u64,
    /// The text.
    pub text: String,
    /// The comment it answers.
    pub reply_to: Option<u64>,
    /// Who wrote that one (0 for none): told of the reply.
    pub reply_to_user: u64,
}

/// What two users hide from each other, kept under the first of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PairFilter {
    /// The first hides their moments from the second.
    pub hide_mine: bool,
    /// The first leaves the second's moments out of their feed.
    pub hide_theirs: bool,
    /// The second hides their moments from the first.
    pub hidden_from_me: bool,
}

const MOMENTS: Keyspace<u64, MomentRecord> = Keyspace::new(&schema::MOMENTID_MOMENT);
const POSTED: Keyspace<(u64, u64), ()> = Keyspace::new(&schema::USERMOMENT_POSTED);
const LIKES: Keyspace<(u64, u64), u64> = Keyspace::new(&schema::MOMENTUSER_LIKE);
const LIKED: Keyspace<(u64, u64), ()> = Keyspace::new(&schema::USERMOMENT_LIKED);
const COMMENTS: Keyspace<(u64, u64), CommentRecord> = Keyspace::new(&schema::MOMENTCOMMENT_COMMENT);
const COMMENTED: Keyspace<(u64, u64), u64> = Keyspace::new(&schema::USERCOMMENT_MOMENT);
const WINDOWS: Keyspace<u64, MomentWindow> = Keyspace::new(&schema::USERID_MOMENTWINDOW);
const FILTERS: Keyspace<(u64, u64), PairFilter> = Keyspace::new(&schema::USERPEER_MOMENTFILTER);
const CLIENT_IDS: Keyspace<(u64, [u8; 16]), u64> = Keyspace::new(&schema::USERCLIENTID_MOMENTID);
const RECENT: Keyspace<u64, Vec<u64>> = Keyspace::new(&schema::USERID_RECENTMOMENTS);

/// A moment.
pub(super) fn moment(r: &impl Get, id: u64) -> Result<Option<MomentRecord>, StorageError> {
    r.get(&MOMENTS, &id)
}

/// Writes a moment's record (new, or its counts changed).
pub(super) fn put_moment(tx: &mut Tx<'_>, id: u64, record: &MomentRecord) {
    tx.put(&MOMENTS, &id, record);
}

/// Files a new moment under its author and its client id.
pub(super) fn post(tx: &mut Tx<'_>, id: u64, record: &MomentRecord) {
    tx.put(&MOMENTS, &id, record);
    tx.put(&POSTED, &(record.author, id), &());
    tx.put(&CLIENT_IDS, &(record.author, record.client_id), &id);
}

/// The moment an author's client id posted, if any.
pub(super) fn posted_as(r: &impl Get, author: u64, client_id: [u8; 16]) -> Result<Option<u64>, StorageError> {
    r.get(&CLIENT_IDS, &(author, client_id))
}

/// The moments an author posted from `since` on, deleted ones included:
/// what the daily limit counts.
pub(super) fn posted_since(r: &impl Get, author: u64, since: u64) -> Result<Vec<u64>, StorageError> {
    Ok(r.get(&RECENT, &author)?.unwrap_or_default().into_iter().filter(|id| *id >= since).collect())
}

/// Records that an author posted moment `id`, beside the others since `since`.
pub(super) fn count_post(tx: &mut Tx<'_>, author: u64, mut recent: Vec<u64>, id: u64) {
    recent.push(id);
    tx.put(&RECENT, &author, &recent);
}

/// An author's moment ids below `before`, newest first.
pub(super) fn posted_before(
    r: &impl Get,
    author: u64,
    before: u64,
) -> impl Iterator<Item = Result<u64, StorageError>> + '_ {
    r.range_descending(&POSTED, (author, 0)..(author, before)).map(|e| e.map(|((_, id), ())| id))
}

/// Removes a moment's record, index entry and client id (its likes and
/// comments go first).
pub(super) fn unpost(tx: &mut Tx<'_>, id: u64, m: &MomentRecord) {
    tx.delete(&MOMENTS, &id);
    tx.delete(&POSTED, &(m.author, id));
    tx.delete(&CLIENT_IDS, &(m.author, m.client_id));
}

/// The like id of `user`'s like of a moment, if they like it.
pub(super) fn like(r: &impl Get, moment: u64, user: u64) -> Result<Option<u64>, StorageError> {
    r.get(&LIKES, &(moment, user))
}

/// Records a like under its id.
pub(super) fn put_like(tx: &mut Tx<'_>, moment: u64, user: u64, id: u64) {
    tx.put(&LIKES, &(moment, user), &id);
    tx.put(&LIKED, &(user, moment), &());
}

/// Removes a like.
pub(super) fn delete_like(tx: &mut Tx<'_>, moment: u64, user: u64) {
    tx.delete(&LIKES, &(moment, user));
    tx.delete(&LIKED, &(user, moment));
}

/// A moment's likes: liker and like id, by liker id.
pub(super) fn likes(r: &impl Get, moment: u64) -> impl Iterator<Item = Result<(u64, u64), StorageError>> + '_ {
    r.range(&LIKES, (moment, 0)..=(moment, u64::MAX)).map(|e| e.map(|((_, user), id)| (user, id)))
}

/// The moments a user likes, from `after` on (exclusive).
pub(super) fn liked_by(r: &impl Get, user: u64, after: u64) -> impl Iterator<Item = Result<u64, StorageError>> + '_ {
    r.range(&LIKED, (user, after.saturating_add(1))..=(user, u64::MAX)).map(|e| e.map(|((_, moment), ())| moment))
}

/// A comment.
pub(super) fn comment(r: &impl Get, moment: u64, id: u64) -> Result<Option<CommentRecord>, StorageError> {
    r.get(&COMMENTS, &(moment, id))
}

/// Records a comment.
pub(super) fn put_comment(tx: &mut Tx<'_>, moment: u64, id: u64, comment: &CommentRecord) {
    tx.put(&COMMENTS, &(moment, id), comment);
    tx.put(&COMMENTED, &(comment.author, id), &moment);
}

/// Removes a comment.
pub(super) fn delete_comment(tx: &mut Tx<'_>, moment: u64, id: u64, author: u64) {
    tx.delete(&COMMENTS, &(moment, id));
    tx.delete(&COMMENTED, &(author, id));
}

/// A moment's comments from `after` on (exclusive), oldest first.
pub(super) fn comments(
    r: &impl Get,
    moment: u64,
    after: u64,
) -> impl Iterator<Item = Result<(u64, CommentRecord), StorageError>> + '_ {
    r.range(&COMMENTS, (moment, after.saturating_add(1))..=(moment, u64::MAX)).map(|e| e.map(|((_, id), c)| (id, c)))
}

/// A user's comments from `after` on (exclusive): comment id and moment id.
pub(super) fn commented_by(
    r: &impl Get,
    user: u64,
    after: u64,
) -> impl Iterator<Item = Result<(u64, u64), StorageError>> + '_ {
    r.range(&COMMENTED, (user, after.saturating_add(1))..=(user, u64::MAX)).map(|e| e.map(|((_, id), m)| (id, m)))
}

/// How far back others see a user's moments.
pub(super) fn window(r: &impl Get, user: u64) -> Result<MomentWindow, StorageError> {
    Ok(r.get(&WINDOWS, &user)?.unwrap_or(MomentWindow::All))
}

/// Sets a user's window (`All` is kept as no entry).
pub(super) fn set_window(tx: &mut Tx<'_>, user: u64, window: MomentWindow) {
    match window {
        MomentWindow::All => tx.delete(&WINDOWS, &user),
        other => tx.put(&WINDOWS, &user, &other),
    }
}

/// What `user` and `peer` hide from each other, as `user` sees it.
pub(super) fn filter(r: &impl Get, user: u64, peer: u64) -> Result<PairFilter, StorageError> {
    Ok(r.get(&FILTERS, &(user, peer))?.unwrap_or_default())
}

/// Sets what `user` hides from `peer` and of `peer`'s, under both of them.
pub(super) fn set_filter(
    tx: &mut Tx<'_>,
    user: u64,
    peer: u64,
    hide_mine: bool,
    hide_theirs: bool,
) -> Result<(), StorageError> {
    let mine = PairFilter { hide_mine, hide_theirs, ..filter(tx, user, peer)? };
    let theirs = PairFilter { hidden_from_me: hide_mine, ..filter(tx, peer, user)? };
    for (key, value) in [((user, peer), mine), ((peer, user), theirs)] {
        if value == PairFilter::default() {
            tx.delete(&FILTERS, &key);
        } else {
            tx.put(&FILTERS, &key, &value);
        }
    }
    Ok(())
}

/// A user's moment ids from `after` on (exclusive), oldest first.
pub(super) fn posted_after(
    r: &impl Get,
    author: u64,
    after: u64,
) -> impl Iterator<Item = Result<u64, StorageError>> + '_ {
    r.range(&POSTED, (author, after.saturating_add(1))..=(author, u64::MAX)).map(|e| e.map(|((_, id), ())| id))
}

/// Every moment id below `before`, newest first (the retention sweep).
pub(super) fn moments_before(s: &Store, before: u64, most: usize) -> Result<Vec<u64>, StorageError> {
    s.range(&MOMENTS, ..before).take(most).map(|e| e.map(|(id, _)| id)).collect()
}

/// Deletes at most `most` of a deleted user's settings, daily count,
/// filters (both sides), client ids; true when none is left.
pub(super) fn erase_settings(tx: &mut Tx<'_>, user: u64, most: usize) -> Result<bool, StorageError> {
    tx.delete(&WINDOWS, &user);
    tx.delete(&RECENT, &user);
    let peers: Vec<u64> =
        tx.scan(&FILTERS, &user).take(most).map(|e| e.map(|((_, peer), _)| peer)).collect::<Result<_, _>>()?;
    for peer in &peers {
        tx.delete(&FILTERS, &(user, *peer));
        tx.delete(&FILTERS, &(*peer, user));
    }
    Ok(peers.is_empty() && tx.delete_some(&CLIENT_IDS, &user, most)? == 0)
}

/// Counts for `kith stats`: moments, likes, comments.
pub(super) fn stats(s: &Store) -> Result<(u64, u64, u64), StorageError> {
    Ok((s.count_all(&MOMENTS)?, s.count_all(&LIKES)?, s.count_all(&COMMENTS)?))
}

/// The restore check: every record decodes; each moment is indexed under
/// its author, and its counts are its likes and comments, each indexed
/// under whoever made it.
pub(crate) fn check(audit: &Audit<'_>) -> Result<(), String> {
    use std::collections::BTreeMap;
    let mut counts: BTreeMap<u64, (u64, u32, u32)> = BTreeMap::new();
    for entry in audit.all(&MOMENTS) {
        let (id, m) = entry.map_err(|e| e.to_string())?;
        counts.insert(id, (m.author, m.likes, m.comments));
    }
    let mut indexed = 0;
    for entry in audit.all(&POSTED) {
        let ((author, id), ()) = entry.map_err(|e| e.to_string())?;
        if counts.get(&id).map(|c| c.0) != Some(author) {
            return Err(format!("usermoment_posted: moment {id} of user {author} has no record"));
        }
        indexed += 1;
    }
    if indexed != counts.len() {
        return Err("momentid_moment: a moment is not indexed under its author".into());
    }
    let mut likes: BTreeMap<u64, u32> = BTreeMap::new();
    let mut liked = 0;
    for entry in audit.all(&LIKES) {
        let ((moment, _), _) = entry.map_err(|e| e.to_string())?;
        *likes.entry(moment).or_default() += 1;
        liked += 1;
    }
    if audit.all(&LIKED).count() != liked {
        return Err("usermoment_liked: the likers' index differs from the likes".into());
    }
    let mut comments: BTreeMap<u64, u32> = BTreeMap::new();
    let mut written = 0;
    for entry in audit.all(&COMMENTS) {
        let ((moment, _), _) = entry.map_err(|e| e.to_string())?;
        *comments.entry(moment).or_default() += 1;
        written += 1;
    }
    if audit.all(&COMMENTED).count() != written {
        return Err("usercomment_moment: the writers' index differs from the comments".into());
    }
    for (id, (_, like_count, comment_count)) in counts {
        let (l, c) = (likes.remove(&id).unwrap_or(0), comments.remove(&id).unwrap_or(0));
        if (l, c) != (like_count, comment_count) {
            return Err(format!("momentid_moment: moment {id} counts {like_count} likes and {comment_count} comments, holds {l} and {c}"));
        }
    }
    if let Some(id) = likes.keys().chain(comments.keys()).next() {
        return Err(format!("momentuser_like or momentcomment_comment: moment {id} is gone"));
    }
    audit.check_entries(&WINDOWS)?;
    audit.check_entries(&RECENT)?;
    audit.check_entries(&FILTERS)?;
    audit.check_entries(&CLIENT_IDS)
}
