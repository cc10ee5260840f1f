//! Profiles, privacy settings, the nickname index, relations between pairs
//! of users, friend lists, friend requests and block lists.
//!
//! Everything that stands between two users — friendship, the one pending
//! request, each side's block — is one [`Relation`] record under the pair's
//! key, so a write job reads and changes it as one value. The per-user
//! lists (friends, requests, blocks) are indexes written in the same job as
//! the relation, so "A lists B as a friend" holds exactly when "B lists A".

use serde::{Deserialize, Serialize};

use crate::protocol::{Audience, Discoverable, FieldVisibility, FriendPolicy, PrivacySettings, Profile, RequestState};
use crate::service::{media, names, ServiceResult, Tx};
use crate::storage::{schema, Audit, Get, KeyPart, Keyspace, Leading, Migrator, StorageError, Store};

/// Bytes of a folded nickname the index keeps: compatibility forms can
/// expand a character many times, and the index key (and with it a search
/// cursor) stays small.
const FOLDED_BYTES: usize = 128;

/// The form of a nickname the index and searches compare
/// ([`names::fold`], at most [`FOLDED_BYTES`]): "Ärger"
/// finds "ärger", "Ｍｉｋｅ" finds "mike", and Chinese names stay as they are.
pub(super) fn fold(name: &str) -> String {
    let mut folded = names::fold(name);
    if folded.len() > FOLDED_BYTES {
        let cut = (0..=FOLDED_BYTES).rev().find(|i| folded.is_char_boundary(*i)).unwrap_or(0);
        folded.truncate(cut);
    }
    folded
}

/// What stands between two users, `lo < hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Relation {
    /// Friends since (ms), if they are friends.
    pub friends_since: Option<u64>,
    /// The pending request between them, either way (its record says who asked).
    pub pending: Option<PendingRequest>,
    /// `lo` blocked `hi`.
    pub lo_blocks: bool,
    /// `hi` blocked `lo`.
    pub hi_blocks: bool,
}

/// A pending request: where its record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingRequest {
    /// Request id.
    pub id: u64,
    /// Its recipient (the record's key is `recipient ‖ id`).
    pub to: u64,
}

impl Relation {
    /// Whether either of the two blocked the other.
    pub(crate) fn blocked(&self) -> bool {
        self.lo_blocks || self.hi_blocks
    }

    /// Whether `user` (one of the pair) blocked the other.
    pub(crate) fn blocks(&self, pair: Pair, user: u64) -> bool {
        if user == pair.lo {
            self.lo_blocks
        } else {
            self.hi_blocks
        }
    }

    fn set_block(&mut self, pair: Pair, user: u64, blocked: bool) {
        if user == pair.lo {
            self.lo_blocks = blocked;
        } else {
            self.hi_blocks = blocked;
        }
    }

    fn is_empty(&self) -> bool {
        *self == Relation::default()
    }
}

/// Two distinct users in key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pair {
    lo: u64,
    hi: u64,
}

impl Pair {
    /// The pair of `a` and `b`, whichever order.
    pub(crate) fn of(a: u64, b: u64) -> Pair {
        Pair { lo: a.min(b), hi: a.max(b) }
    }

    fn key(self) -> (u64, u64) {
        (self.lo, self.hi)
    }
}

/// One friend in a user's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FriendEntry {
    /// Friends since (ms).
    pub since: u64,
    /// The user's private name for the friend.
    pub remark: String,
}

/// A friend request, filed under its recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RequestRecord {
    /// Who asked.
    pub from: u64,
    /// The requester's message.
    pub message: String,
    /// Pending, accepted or rejected; `Expired` is worked out on reading.
    pub state: RequestState,
    /// When it was answered (ms), 0 if not.
    pub answered_at: u64,
}

/// A key of the nickname index: the lower-cased nickname, a 0x00 byte (a
/// nickname holds no control characters) and the user id, so every
/// nickname starting with a query sorts together, each name's users in id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NickKey {
    /// Lower-cased nickname.
    pub name: String,
    /// Its user.
    pub user: u64,
}

impl KeyPart for NickKey {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.name.as_bytes());
        out.push(0);
        self.user.put(out);
    }

    fn take(bytes: &[u8]) -> Option<(NickKey, &[u8])> {
        let split = bytes.len().checked_sub(9)?;
        let (name, rest) = bytes.split_at(split);
        let (zero, id) = rest.split_first()?;
        if *zero != 0 || name.contains(&0) {
            return None;
        }
        let (user, rest) = u64::take(id)?;
        Some((NickKey { name: String::from_utf8(name.to_vec()).ok()?, user }, rest))
    }
}

/// The start of nicknames, for a prefix scan of the index.
pub(super) struct NickPrefix(pub String);

impl KeyPart for NickPrefix {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
    }

    fn take(bytes: &[u8]) -> Option<(NickPrefix, &[u8])> {
        Some((NickPrefix(String::from_utf8(bytes.to_vec()).ok()?), &[]))
    }
}

impl Leading<NickPrefix> for NickKey {}

const PROFILES: Keyspace<u64, Profile> = Keyspace::new(&schema::USERID_PROFILE);
const PRIVACY: Keyspace<u64, PrivacySettings> = Keyspace::new(&schema::USERID_PRIVACY);
const FIELDS: Keyspace<u64, FieldVisibility> = Keyspace::new(&schema::USERID_FIELDVISIBILITY);
const LAST_SEEN: Keyspace<u64, u64> = Keyspace::new(&schema::USERID_LASTSEEN);
pub(super) const NICKS: Keyspace<NickKey, ()> = Keyspace::new(&schema::NICKNAME_USERID);
const RELATIONS: Keyspace<(u64, u64), Relation> = Keyspace::new(&schema::PAIR_RELATION);
const FRIENDS: Keyspace<(u64, u64), FriendEntry> = Keyspace::new(&schema::USERFRIEND_FRIEND);
const REQUESTS: Keyspace<(u64, u64), RequestRecord> = Keyspace::new(&schema::RECIPIENTREQUEST_REQUEST);
const SENT: Keyspace<(u64, u64), u64> = Keyspace::new(&schema::SENDERREQUEST_RECIPIENT);
const BLOCKS: Keyspace<(u64, u64), u64> = Keyspace::new(&schema::USERBLOCKED_SINCE);

/// A user's profile (the empty profile if never set).
pub(super) fn profile(r: &impl Get, user: u64) -> Result<Profile, StorageError> {
    Ok(r.get(&PROFILES, &user)?.unwrap_or_default())
}

/// Replaces a user's profile and its nickname index entry; returns the
/// profile it replaced.
pub(super) fn set_profile(tx: &mut Tx<'_>, user: u64, new: &Profile, folded: Option<String>) -> ServiceResult<Profile> {
    let old = profile(tx, user)?;
    if !old.nickname.is_empty() {
        tx.delete(&NICKS, &NickKey { name: fold(&old.nickname), user });
    }
    if let Some(name) = folded {
        tx.put(&NICKS, &NickKey { name, user }, &());
    }
    tx.put(&PROFILES, &user, new);
    Ok(old)
}

/// A user's privacy settings (the defaults if never set).
pub(crate) fn privacy(r: &impl Get, user: u64) -> Result<PrivacySettings, StorageError> {
    Ok(r.get(&PRIVACY, &user)?.unwrap_or_default())
}

/// Who sees each personal field of a user's profile (everyone, if never set).
pub(super) fn field_visibility(r: &impl Get, user: u64) -> Result<FieldVisibility, StorageError> {
    Ok(r.get(&FIELDS, &user)?.unwrap_or_default())
}

/// Stores who sees each personal field of a user's profile.
pub(super) fn set_field_visibility(tx: &mut Tx<'_>, user: u64, fields: &FieldVisibility) {
    tx.put(&FIELDS, &user, fields);
}

/// Stores a user's privacy settings.
pub(super) fn set_privacy(tx: &mut Tx<'_>, user: u64, settings: &PrivacySettings) {
    tx.put(&PRIVACY, &user, settings);
}

/// When the user's last device went offline (ms), as last written; 0 if
/// never.
pub(super) fn last_seen(r: &impl Get, user: u64) -> Result<u64, StorageError> {
    Ok(r.get(&LAST_SEEN, &user)?.unwrap_or(0))
}

/// Records when the user's last device went offline.
pub(super) fn set_last_seen(tx: &mut Tx<'_>, user: u64, at: u64) {
    tx.put(&LAST_SEEN, &user, &at);
}

/// What stands between two distinct users.
pub(crate) fn relation(r: &impl Get, pair: Pair) -> Result<Relation, StorageError> {
    Ok(r.get(&RELATIONS, &pair.key())?.unwrap_or_default())
}

fn put_relation(tx: &mut Tx<'_>, pair: Pair, relation: &Relation) {
    if relation.is_empty() {
        tx.delete(&RELATIONS, &pair.key());
    } else {
        tx.put(&RELATIONS, &pair.key(), relation);
    }
}

/// Makes `a` and `b` friends, both lists and the relation in this one job.
pub(super) fn befriend(tx: &mut Tx<'_>, a: u64, b: u64, now: u64) -> ServiceResult<()> {
    let pair = Pair::of(a, b);
    let mut relation = relation(tx, pair)?;
    relation.friends_since = Some(now);
    relation.pending = None;
    put_relation(tx, pair, &relation);
    for (user, friend) in [(a, b), (b, a)] {
        tx.put(&FRIENDS, &(user, friend), &FriendEntry { since: now, remark: String::new() });
    }
    Ok(())
}

/// Ends a friendship on both sides; false if they were not friends.
pub(super) fn unfriend(tx: &mut Tx<'_>, a: u64, b: u64) -> ServiceResult<bool> {
    let pair = Pair::of(a, b);
    let mut relation = relation(tx, pair)?;
    if relation.friends_since.take().is_none() {
        return Ok(false);
    }
    put_relation(tx, pair, &relation);
    tx.delete(&FRIENDS, &(a, b));
    tx.delete(&FRIENDS, &(b, a));
    Ok(true)
}

/// `user`'s entry for `friend`, if they are friends.
pub(super) fn friend(r: &impl Get, user: u64, friend: u64) -> Result<Option<FriendEntry>, StorageError> {
    r.get(&FRIENDS, &(user, friend))
}

/// Rewrites `user`'s remark for a friend; false if they are not friends.
pub(super) fn set_remark(tx: &mut Tx<'_>, user: u64, friend_id: u64, remark: String) -> ServiceResult<bool> {
    let Some(mut entry) = friend(tx, user, friend_id)? else { return Ok(false) };
    entry.remark = remark;
    tx.put(&FRIENDS, &(user, friend_id), &entry);
    Ok(true)
}

/// Every friend of a user, by id (the feed's authors).
pub(crate) fn friend_ids(r: &impl Get, user: u64) -> Result<Vec<u64>, StorageError> {
    r.range(&FRIENDS, (user, 0)..=(user, u64::MAX)).map(|e| e.map(|((_, friend), _)| friend)).collect()
}

/// One page of a user's friends with ids above `after`.
pub(super) fn friends(
    store: &Store,
    user: u64,
    after: u64,
    limit: usize,
) -> Result<(Vec<(u64, FriendEntry)>, bool), StorageError> {
    crate::service::page_of(
        store.range(&FRIENDS, (user, after.saturating_add(1))..=(user, u64::MAX)).map(|e| e.map(|((_, f), v)| (f, v))),
        limit,
    )
}

/// Files a new pending request from `from` to `to` under `id`, replacing a
/// pending one of the same direction.
pub(super) fn file_request(tx: &mut Tx<'_>, id: u64, from: u64, to: u64, message: String) -> ServiceResult<()> {
    let pair = Pair::of(from, to);
    let mut relation = relation(tx, pair)?;
    if let Some(old) = relation.pending.take() {
        tx.delete(&REQUESTS, &(old.to, old.id));
        let sender = if old.to == to { from } else { to };
        tx.delete(&SENT, &(sender, old.id));
    }
    relation.pending = Some(PendingRequest { id, to });
    put_relation(tx, pair, &relation);
    let record = RequestRecord { from, message, state: RequestState::Pending, answered_at: 0 };
    tx.put(&REQUESTS, &(to, id), &record);
    tx.put(&SENT, &(from, id), &to);
    Ok(())
}

/// A request filed under `recipient`.
pub(super) fn request(r: &impl Get, recipient: u64, id: u64) -> Result<Option<RequestRecord>, StorageError> {
    r.get(&REQUESTS, &(recipient, id))
}

/// Records the answer to a pending request and clears it from the relation.
pub(super) fn answer(
    tx: &mut Tx<'_>,
    recipient: u64,
    id: u64,
    mut record: RequestRecord,
    accepted: bool,
    now: u64,
) -> ServiceResult<RequestRecord> {
    record.state = if accepted { RequestState::Accepted } else { RequestState::Rejected };
    record.answered_at = now;
    tx.put(&REQUESTS, &(recipient, id), &record);
    let pair = Pair::of(recipient, record.from);
    let mut relation = relation(tx, pair)?;
    if relation.pending.is_some_and(|p| p.id == id) {
        relation.pending = None;
        put_relation(tx, pair, &relation);
    }
    Ok(record)
}

/// Requests filed under `recipient` with ids below `before`, newest first.
pub(super) fn incoming(
    store: &Store,
    recipient: u64,
    before: u64,
) -> impl Iterator<Item = Result<(u64, RequestRecord), StorageError>> {
    store.range(&REQUESTS, (recipient, 0)..(recipient, before)).rev().map(|e| e.map(|((_, id), r)| (id, r)))
}

/// Requests `sender` sent with ids below `before`, newest first, with their recipient.
pub(super) fn outgoing(
    store: &Store,
    sender: u64,
    before: u64,
) -> impl Iterator<Item = Result<(u64, u64), StorageError>> {
    store.range(&SENT, (sender, 0)..(sender, before)).rev().map(|e| e.map(|((_, id), to)| (id, to)))
}

/// How many requests `sender` sent with ids from `since_id` on, and the
/// oldest of them; read through the write job, so the daily limit is
/// checked where it is spent.
pub(super) fn sent_since(tx: &Tx<'_>, sender: u64, since_id: u64) -> ServiceResult<(usize, Option<u64>)> {
    let (mut n, mut oldest) = (0, None);
    for entry in tx.range(&SENT, (sender, since_id)..=(sender, u64::MAX)) {
        let ((_, id), _) = entry?;
        oldest = oldest.or(Some(id));
        n += 1;
    }
    Ok((n, oldest))
}

/// Blocks or unblocks; false if nothing changed.
pub(super) fn set_block(tx: &mut Tx<'_>, user: u64, other: u64, blocked: bool, now: u64) -> ServiceResult<bool> {
    let pair = Pair::of(user, other);
    let mut relation = relation(tx, pair)?;
    if relation.blocks(pair, user) == blocked {
        return Ok(false);
    }
    relation.set_block(pair, user, blocked);
    put_relation(tx, pair, &relation);
    if blocked {
        tx.put(&BLOCKS, &(user, other), &now);
    } else {
        tx.delete(&BLOCKS, &(user, other));
    }
    Ok(true)
}

/// One page of a user's block list with ids above `after`.
pub(super) fn blocked(
    store: &Store,
    user: u64,
    after: u64,
    limit: usize,
) -> Result<(Vec<(u64, u64)>, bool), StorageError> {
    crate::service::page_of(
        store
            .range(&BLOCKS, (user, after.saturating_add(1))..=(user, u64::MAX))
            .map(|e| e.map(|((_, b), since)| (b, since))),
        limit,
    )
}

/// Erases a deleted user's social data, at most `most` friendships,
/// requests and blocks of theirs per call (each side's entries and the
/// pair's relation); once none is left, their profile, settings and index
/// entry, and the blocks others hold against them. Returns the former
/// friends, who must hear of it, and whether nothing is left.
pub(super) fn erase_some(tx: &mut Tx<'_>, user: u64, most: usize) -> ServiceResult<(Vec<u64>, bool)> {
    let friends: Vec<u64> =
        tx.scan(&FRIENDS, &user).take(most).map(|e| e.map(|((_, friend), _)| friend)).collect::<Result<_, _>>()?;
    for friend in &friends {
        unfriend(tx, user, *friend)?;
    }
    let mut left = most - friends.len();
    let incoming: Vec<(u64, u64)> =
        tx.scan(&REQUESTS, &user).take(left).map(|e| e.map(|((_, id), r)| (id, r.from))).collect::<Result<_, _>>()?;
    left -= incoming.len();
    let outgoing: Vec<(u64, u64)> =
        tx.scan(&SENT, &user).take(left).map(|e| e.map(|((_, id), to)| (id, to))).collect::<Result<_, _>>()?;
    left -= outgoing.len();
    for &(id, from) in &incoming {
        forget_request(tx, id, from, user)?;
    }
    for &(id, to) in &outgoing {
        forget_request(tx, id, user, to)?;
    }
    let blocked: Vec<u64> =
        tx.scan(&BLOCKS, &user).take(left).map(|e| e.map(|((_, other), _)| other)).collect::<Result<_, _>>()?;
    for other in &blocked {
        set_block(tx, user, *other, false, 0)?;
    }
    if !friends.is_empty() || !incoming.is_empty() || !outgoing.is_empty() || !blocked.is_empty() {
        return Ok((friends, false));
    }
    let Profile { nickname, avatar, .. } = profile(tx, user)?;
    if !nickname.is_empty() {
        tx.delete(&NICKS, &NickKey { name: fold(&nickname), user });
    }
    media::set_avatar(tx, media::Holder::User(user), user, avatar, 0)?;
    tx.delete(&PROFILES, &user);
    tx.delete(&PRIVACY, &user);
    tx.delete(&FIELDS, &user);
    tx.delete(&LAST_SEEN, &user);
    // Block lists are kept by the blocker only: all are read, once per
    // deleted account (blocks are few beside friendships).
    let against: Vec<u64> = tx
        .range(&BLOCKS, ..)
        .filter_map(|e| match e {
            Ok(((blocker, blocked), _)) if blocked == user => Some(Ok(blocker)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, StorageError>>()?;
    for blocker in against {
        set_block(tx, blocker, user, false, 0)?;
    }
    Ok((friends, true))
}

/// Deletes a request from `from` to `to` (answered or not) from both lists
/// and, if pending, from the pair's relation.
fn forget_request(tx: &mut Tx<'_>, id: u64, from: u64, to: u64) -> ServiceResult<()> {
    tx.delete(&REQUESTS, &(to, id));
    tx.delete(&SENT, &(from, id));
    let pair = Pair::of(from, to);
    let mut relation = relation(tx, pair)?;
    if relation.pending.is_some_and(|p| p.id == id) {
        relation.pending = None;
        put_relation(tx, pair, &relation);
    }
    Ok(())
}

/// Migration to version 3: users who already had a 1:1 conversation
/// become friends, so the friends-only default of 1:1 messages does not cut
/// off people who were talking before the upgrade.
pub(crate) fn from_v2(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    let since = crate::id::now_ms();
    for (low, high) in crate::service::message::direct_pairs(m)? {
        let relation = Relation { friends_since: Some(since), ..Relation::default() };
        m.put(&RELATIONS, &(low, high), &relation)?;
        for (user, friend) in [(low, high), (high, low)] {
            m.put(&FRIENDS, &(user, friend), &FriendEntry { since, remark: String::new() })?;
        }
    }
    Ok(())
}

/// Version 6 keyed the nickname index by the nickname in Unicode lower
/// case; version 7 by its fold ([`fold`]: compatibility
/// form, lower case, joiners left out). The index is rebuilt from the
/// profiles.
pub(crate) fn from_v6(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    m.clear(&NICKS)?;
    let profiles: Vec<(u64, String)> = m
        .entries(&PROFILES)?
        .filter_map(|entry| match entry {
            Ok((user, p)) if !p.nickname.is_empty() => Some(Ok((user, p.nickname))),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;
    for (user, nickname) in profiles {
        m.put(&NICKS, &NickKey { name: fold(&nickname), user }, &())?;
    }
    Ok(())
}

/// Privacy settings gain who sees the user's presence: their friends, as
/// for a new account (layout version 12).
pub(crate) fn from_v11(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    m.reshape(&PRIVACY, |old: PrivacyV11| PrivacySettings {
        discoverable: old.discoverable,
        friend_policy: old.friend_policy,
        presence: Audience::Friends,
    })
}

/// Privacy settings as stored up to layout version 11.
#[derive(Deserialize)]
struct PrivacyV11 {
    discoverable: Discoverable,
    friend_policy: FriendPolicy,
}

/// Rewrites every stored profile from an older shape (a migration step
/// that changed what a profile holds).
pub(crate) fn reshape_profiles<Old: serde::de::DeserializeOwned>(
    m: &mut Migrator<'_>,
    convert: impl Fn(Old) -> Profile,
) -> Result<(), StorageError> {
    m.reshape(&PROFILES, convert)
}

/// Checks restored social data: every entry of every social keyspace decodes.
pub(crate) fn check(store: &Audit<'_>) -> Result<(), String> {
    store.check_entries(&PROFILES)?;
    store.check_entries(&PRIVACY)?;
    store.check_entries(&FIELDS)?;
    store.check_entries(&LAST_SEEN)?;
    store.check_entries(&NICKS)?;
    store.check_entries(&RELATIONS)?;
    store.check_entries(&FRIENDS)?;
    store.check_entries(&REQUESTS)?;
    store.check_entries(&SENT)?;
    store.check_entries(&BLOCKS)
}

/// Counts for `kith stats`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    /// Pairs of friends.
    pub friendships: u64,
    /// Requests still answerable.
    pub pending_requests: u64,
    /// Blocks.
    pub blocks: u64,
}

/// Counts for `kith stats`: requests still answerable are those sent at or
/// after `live_since` ms.
pub(crate) fn stats(store: &Store, live_since: u64) -> Result<Stats, StorageError> {
    let mut pending_requests = 0;
    for entry in store.all(&RELATIONS) {
        if entry?.1.pending.is_some_and(|p| crate::id::id_time_ms(p.id) >= live_since) {
            pending_requests += 1;
        }
    }
    Ok(Stats { friendships: store.count_all(&FRIENDS)? / 2, pending_requests, blocks: store.count_all(&BLOCKS)? })
}

/// The users whose last device went offline at or after `since` ms, as
/// last written.
pub(super) fn seen_since(store: &Store, since: u64) -> Result<Vec<u64>, StorageError> {
    let mut out = Vec::new();
    for entry in store.all(&LAST_SEEN) {
        let (user, at) = entry?;
        if at >= since {
            out.push(user);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fold_keeps_at_most_its_bytes_on_a_character_boundary() {
        let long = fold(&"\u{FDFA}".repeat(32));
        assert!(long.len() <= FOLDED_BYTES && long.len() > FOLDED_BYTES - 4, "{}", long.len());
    }
}
