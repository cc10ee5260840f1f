//! Groups, memberships, ban lists, join requests, invitations, and the
//! marker of each large group's newest unlogged message.
//!
//! A membership is two entries written in one job: the member record under
//! `group ‖ user` (who is in a group, with role and window) and the join id
//! under `user ‖ group` (which groups a user is in), so "the group lists
//! the user" holds exactly when "the user lists the group". The group
//! record carries the member count, kept in the same jobs.

use std::ops::Bound;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::protocol::{GroupFields, GroupRole};
use crate::service::message::records;
use crate::service::Tx;
use crate::storage::{schema, Audit, Get, Keyspace, Migrator, StorageError, Store};

/// A group as stored; its id and creation time are the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupRecord {
    /// The editable information.
    pub fields: GroupFields,
    /// Only the owner and admins speak.
    pub muted: bool,
    /// The owner's user id.
    pub owner: u64,
    /// Members now.
    pub member_count: u32,
    /// A fresh snowflake at every change of the member list (never the same
    /// number twice, even after a failed batch), so a cached copy of the
    /// list can tell whether it is still the group's.
    pub roster: u64,
}

/// One membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MemberRecord {
    /// Role.
    pub role: GroupRole,
    /// The member's name inside the group.
    pub alias: String,
    /// The snowflake taken when they joined (its time is the join time).
    pub joined: u64,
    /// The lowest message id they may read: 0 when the group showed history
    /// to new members as they joined, else their join id.
    pub visible_from: u64,
    /// Muted until (ms); 0 for not muted.
    pub muted_until: u64,
}

/// A membership that ended: the part of the group's log its former member
/// may still read, so that their devices catch up to the exit and no
/// further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PastWindow {
    /// The lowest message id they could read.
    pub from: u64,
    /// The message announcing their exit: the last they may read.
    pub until: u64,
    /// The newest message of the window that went into no update log (read
    /// diffusion), 0 if none: what `Sync` names for their devices to pull.
    pub unlogged: u64,
}

/// How many ended memberships of one group a user keeps, the newest: a
/// device away across more leaves and returns than this reads only the
/// latest ones. It bounds what joining and leaving can make the server store.
pub(super) const PAST_WINDOWS: usize = 8;

/// One ban.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct BanRecord {
    /// Who banned.
    pub by: u64,
    /// Since (ms).
    pub since: u64,
}

/// A pending join request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct JoinRequestRecord {
    /// Request id.
    pub id: u64,
    /// The requester's message.
    pub message: String,
}

/// A pending invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct GroupInvitation {
    /// Invitation id.
    pub id: u64,
    /// Who invited.
    pub by: u64,
}

const GROUPS: Keyspace<u64, GroupRecord> = Keyspace::new(&schema::GROUPID_GROUP);
const MEMBERS: Keyspace<(u64, u64), MemberRecord> = Keyspace::new(&schema::GROUPMEMBER_MEMBER);
const JOINED: Keyspace<(u64, u64), u64> = Keyspace::new(&schema::USERGROUP_JOINED);
const BANS: Keyspace<(u64, u64), BanRecord> = Keyspace::new(&schema::GROUPUSER_BAN);
const REQUESTS: Keyspace<(u64, u64), JoinRequestRecord> = Keyspace::new(&schema::GROUPUSER_REQUEST);
const INVITATIONS: Keyspace<(u64, u64), GroupInvitation> = Keyspace::new(&schema::USERGROUP_INVITATION);
const UNLOGGED: Keyspace<u64, u64> = Keyspace::new(&schema::GROUPID_UNLOGGED);
const MUTED_AWAY: Keyspace<(u64, u64), u64> = Keyspace::new(&schema::GROUPUSER_MUTED);
const PAST: Keyspace<(u64, u64), Vec<PastWindow>> = Keyspace::new(&schema::USERGROUP_WINDOWS);
const INVITED: Keyspace<(u64, u64), ()> = Keyspace::new(&schema::GROUPUSER_INVITED);

/// A group, if it exists.
pub(crate) fn group(r: &impl Get, group: u64) -> Result<Option<GroupRecord>, StorageError> {
    r.get(&GROUPS, &group)
}

/// Stores a group record.
pub(super) fn put_group(tx: &mut Tx<'_>, id: u64, record: &GroupRecord) {
    tx.put(&GROUPS, &id, record);
}

/// A user's membership of a group, if any.
pub(super) fn member(r: &impl Get, group: u64, user: u64) -> Result<Option<MemberRecord>, StorageError> {
    r.get(&MEMBERS, &(group, user))
}

/// Stores a changed membership.
pub(super) fn put_member(tx: &mut Tx<'_>, group: u64, user: u64, record: &MemberRecord) {
    tx.put(&MEMBERS, &(group, user), record);
}

/// Adds a member (both indexes, and their read state in the group's
/// conversation) and counts them in the group record. A mute they left
/// with that has not run out comes back with them.
pub(super) fn add_member(
    tx: &mut Tx<'_>,
    group: u64,
    record: &mut GroupRecord,
    user: u64,
    member: &MemberRecord,
) -> Result<(), StorageError> {
    let mut member = member.clone();
    if let Some(until) = tx.get(&MUTED_AWAY, &(group, user))? {
        tx.delete(&MUTED_AWAY, &(group, user));
        if until > crate::id::now_ms() {
            member.muted_until = member.muted_until.max(until);
        }
    }
    let member = &member;
    tx.put(&MEMBERS, &(group, user), member);
    tx.put(&JOINED, &(user, group), &member.joined);
    record.member_count += 1;
    record.roster = tx.next_id();
    put_group(tx, group, record);
    records::joined(tx, group, user, member.joined)
}

/// Removes a member (both indexes and their read state) and uncounts them,
/// keeping the window of the membership that ends with the message `exit`;
/// a mute that has not run out is kept for their return, so leaving and
/// joining again does not lift it.
pub(super) fn remove_member(
    tx: &mut Tx<'_>,
    group: u64,
    record: &mut GroupRecord,
    user: u64,
    (exit, groups_kept): (u64, usize),
) -> Result<(), StorageError> {
    if let Some(member) = tx.get(&MEMBERS, &(group, user))? {
        if member.muted_until > crate::id::now_ms() {
            tx.put(&MUTED_AWAY, &(group, user), &member.muted_until);
        }
        keep_window(tx, (group, user), &member, exit, groups_kept)?;
    }
    tx.delete(&MEMBERS, &(group, user));
    tx.delete(&JOINED, &(user, group));
    record.member_count = record.member_count.saturating_sub(1);
    record.roster = tx.next_id();
    put_group(tx, group, record);
    records::left(tx, group, user)
}

/// Keeps the window of `member`'s membership, which ends with the message
/// `exit`; call it before `exit` is diffused, so the group's unlogged marker
/// still names the newest message before it.
pub(super) fn keep_window(
    tx: &mut Tx<'_>,
    (group, user): (u64, u64),
    member: &MemberRecord,
    exit: u64,
    groups_kept: usize,
) -> Result<(), StorageError> {
    let unlogged = unlogged(tx, group)?.filter(|id| *id >= member.visible_from).unwrap_or(0);
    let mut windows = tx.get(&PAST, &(user, group))?.unwrap_or_default();
    let first = windows.is_empty();
    windows.push(PastWindow { from: member.visible_from, until: exit, unlogged });
    if windows.len() > PAST_WINDOWS {
        windows.remove(0);
    }
    tx.put(&PAST, &(user, group), &windows);
    if first {
        forget_oldest_left(tx, user, groups_kept)?;
    }
    Ok(())
}

/// Past `most` groups left, forgets the windows of the one left longest ago.
fn forget_oldest_left(tx: &mut Tx<'_>, user: u64, most: usize) -> Result<(), StorageError> {
    let mut kept = 0usize;
    let mut oldest: Option<(u64, u64)> = None;
    for entry in tx.range(&PAST, (user, 0)..=(user, u64::MAX)) {
        let ((_, group), windows) = entry?;
        kept += 1;
        let left = windows.last().map_or(0, |w| w.until);
        if oldest.is_none_or(|(_, at)| left < at) {
            oldest = Some((group, left));
        }
    }
    if let Some((group, _)) = oldest.filter(|_| kept > most) {
        tx.delete(&PAST, &(user, group));
    }
    Ok(())
}

/// The windows of a user's ended memberships of a group, oldest first.
pub(super) fn past_windows(r: &impl Get, user: u64, group: u64) -> Result<Vec<PastWindow>, StorageError> {
    Ok(r.get(&PAST, &(user, group))?.unwrap_or_default())
}

/// Every group a user was a member of, with the windows of those
/// memberships, in group id order.
pub(super) fn left_groups(
    store: &Store,
    user: u64,
) -> impl Iterator<Item = Result<(u64, Vec<PastWindow>), StorageError>> + '_ {
    self::after(store, &PAST, user, 0)
}

/// Every member of a group with their record, in user id order, as the job
/// sees them.
pub(super) fn members_in(r: &impl Get, group: u64) -> Result<Vec<(u64, MemberRecord)>, StorageError> {
    r.range(&MEMBERS, (group, 0)..=(group, u64::MAX)).map(|e| e.map(|((_, user), m)| (user, m))).collect()
}

/// The entries of one owner in a keyspace keyed `owner ‖ id`, with ids
/// above `after`, in id order.
fn after<'a, V: Serialize + DeserializeOwned + 'static>(
    store: &'a impl Get,
    ks: &Keyspace<(u64, u64), V>,
    owner: u64,
    after: u64,
) -> impl Iterator<Item = Result<(u64, V), StorageError>> + 'a {
    let start = after.saturating_add(1);
    store.range(ks, (owner, start)..=(owner, u64::MAX)).map(|e| e.map(|((_, id), value)| (id, value)))
}

/// A page of a group's members with ids above `after`.
pub(super) fn members_page(
    store: &Store,
    group: u64,
    after: u64,
) -> impl Iterator<Item = Result<(u64, MemberRecord), StorageError>> + '_ {
    self::after(store, &MEMBERS, group, after)
}

/// The groups a user is in with ids above `after`, in id order.
pub(super) fn groups_of(r: &impl Get, user: u64, after: u64) -> impl Iterator<Item = Result<u64, StorageError>> + '_ {
    self::after(r, &JOINED, user, after).map(|e| e.map(|(group, _)| group))
}

/// How many groups a user is in, as the job sees it.
pub(super) fn group_count(tx: &Tx<'_>, user: u64) -> Result<usize, StorageError> {
    groups_of(tx, user, 0).try_fold(0, |n, entry| entry.map(|_| n + 1))
}

/// A user's ban from a group, if any.
pub(super) fn ban(r: &impl Get, group: u64, user: u64) -> Result<Option<BanRecord>, StorageError> {
    r.get(&BANS, &(group, user))
}

/// Bans or unbans; whether anything changed.
pub(super) fn set_ban(tx: &mut Tx<'_>, group: u64, user: u64, ban: Option<BanRecord>) -> Result<bool, StorageError> {
    let old = tx.get(&BANS, &(group, user))?;
    match ban {
        Some(record) if old.is_none() => tx.put(&BANS, &(group, user), &record),
        None if old.is_some() => tx.delete(&BANS, &(group, user)),
        _ => return Ok(false),
    }
    Ok(true)
}

/// A page of a group's ban list above user `after`.
pub(super) fn bans_page(
    store: &Store,
    group: u64,
    after: u64,
) -> impl Iterator<Item = Result<(u64, BanRecord), StorageError>> + '_ {
    self::after(store, &BANS, group, after)
}

/// A user's pending request to join a group.
pub(super) fn request(r: &impl Get, group: u64, user: u64) -> Result<Option<JoinRequestRecord>, StorageError> {
    r.get(&REQUESTS, &(group, user))
}

/// Files or clears a join request.
pub(super) fn set_request(tx: &mut Tx<'_>, group: u64, user: u64, record: Option<&JoinRequestRecord>) {
    match record {
        Some(record) => tx.put(&REQUESTS, &(group, user), record),
        None => tx.delete(&REQUESTS, &(group, user)),
    }
}

/// A page of a group's pending requests above user `after`.
pub(super) fn requests_page(
    store: &Store,
    group: u64,
    after: u64,
) -> impl Iterator<Item = Result<(u64, JoinRequestRecord), StorageError>> + '_ {
    self::after(store, &REQUESTS, group, after)
}

/// A user's pending invitation into a group.
pub(super) fn invitation(r: &impl Get, user: u64, group: u64) -> Result<Option<GroupInvitation>, StorageError> {
    r.get(&INVITATIONS, &(user, group))
}

/// Files or clears an invitation, under its invitee and under its group.
pub(super) fn set_invitation(tx: &mut Tx<'_>, user: u64, group: u64, record: Option<&GroupInvitation>) {
    match record {
        Some(record) => {
            tx.put(&INVITATIONS, &(user, group), record);
            tx.put(&INVITED, &(group, user), &());
        }
        None => {
            tx.delete(&INVITATIONS, &(user, group));
            tx.delete(&INVITED, &(group, user));
        }
    }
}

/// Clears every invitation into a group, returning each invitee with
/// their invitation.
pub(super) fn clear_invitations(tx: &mut Tx<'_>, group: u64) -> Result<Vec<(u64, GroupInvitation)>, StorageError> {
    let invitees: Vec<u64> = tx
        .range(&INVITED, (group, 0)..=(group, u64::MAX))
        .map(|e| e.map(|((_, user), ())| user))
        .collect::<Result<_, _>>()?;
    let mut cleared = Vec::with_capacity(invitees.len());
    for user in invitees {
        if let Some(record) = tx.get(&INVITATIONS, &(user, group))? {
            cleared.push((user, record));
        }
        set_invitation(tx, user, group, None);
    }
    Ok(cleared)
}

/// A page of a user's pending invitations above group `after`.
pub(super) fn invitations_page(
    store: &Store,
    user: u64,
    after: u64,
) -> impl Iterator<Item = Result<(u64, GroupInvitation), StorageError>> + '_ {
    self::after(store, &INVITATIONS, user, after)
}

/// The newest message of a group that is in no member's update log.
pub(super) fn unlogged(r: &impl Get, group: u64) -> Result<Option<u64>, StorageError> {
    r.get(&UNLOGGED, &group)
}

/// Records a message that went into no member's update log.
pub(super) fn set_unlogged(tx: &mut Tx<'_>, group: u64, id: u64) {
    tx.put(&UNLOGGED, &group, &id);
}

/// Deletes a dissolved group: each member's side of their membership and
/// list entry, then everything filed under the group's id (its record,
/// memberships, requests, bans, mutes, read positions, marker: whatever
/// the registry keys by a group id). Its log stays, for the update-log
/// entries pointing at it and its former members' windows; its invitations
/// are cleared by [`clear_invitations`] in the same job, with a notice each.
pub(super) fn dissolve(tx: &mut Tx<'_>, group: u64, members: &[(u64, MemberRecord)]) -> Result<(), StorageError> {
    for (user, _) in members {
        tx.delete(&JOINED, &(*user, group));
        records::left(tx, group, *user)?;
    }
    tx.erase_group(group)?;
    Ok(())
}

/// The first group a user is a member of, if any.
pub(super) fn first_group_of(tx: &Tx<'_>, user: u64) -> Result<Option<u64>, StorageError> {
    tx.scan(&JOINED, &user).next().transpose().map(|entry| entry.map(|((_, group), _)| group))
}

/// Deletes what the groups keep of a user who is in none of them any more:
/// at the first call (`after` 0) the invitations to them and past windows;
/// at every call the join requests, bans and kept mutes in up to `most`
/// groups with ids above `after` (they are filed by group, so they are
/// read group by group). Returns the last group looked at, `None` once
/// every group has been.
pub(super) fn forget_user(tx: &mut Tx<'_>, user: u64, after: u64, most: usize) -> Result<Option<u64>, StorageError> {
    if after == 0 {
        let invited: Vec<u64> =
            tx.scan(&INVITATIONS, &user).map(|e| e.map(|((_, group), _)| group)).collect::<Result<_, _>>()?;
        for group in invited {
            tx.delete(&INVITATIONS, &(user, group));
            tx.delete(&INVITED, &(group, user));
        }
        tx.delete_some(&PAST, &user, usize::MAX)?;
    }
    let most = most.max(1);
    let groups: Vec<u64> = tx
        .range(&GROUPS, (Bound::Excluded(after), Bound::Unbounded))
        .take(most)
        .map(|e| e.map(|(group, _)| group))
        .collect::<Result<_, _>>()?;
    for &group in &groups {
        tx.delete(&REQUESTS, &(group, user));
        tx.delete(&BANS, &(group, user));
        tx.delete(&MUTED_AWAY, &(group, user));
    }
    Ok(groups.last().copied().filter(|_| groups.len() == most))
}

/// Every membership as group, user and join id, for a migration.
pub(crate) fn memberships(
    m: &mut Migrator<'_>,
) -> Result<impl Iterator<Item = Result<(u64, u64, u64), StorageError>>, StorageError> {
    Ok(m.entries(&MEMBERS)?.map(|entry| entry.map(|((group, user), member)| (group, user, member.joined))))
}

/// Rewrites every group record whose editable fields had an older shape
/// (a migration step that changed what the fields hold).
pub(crate) fn reshape_fields<Old: DeserializeOwned>(
    m: &mut Migrator<'_>,
    convert: impl Fn(Old) -> GroupFields,
) -> Result<(), StorageError> {
    /// A record as it was stored, its fields of the older shape.
    #[derive(Deserialize)]
    struct Older<F> {
        fields: F,
        muted: bool,
        owner: u64,
        member_count: u32,
        roster: u64,
    }
    m.reshape(&GROUPS, |old: Older<Old>| GroupRecord {
        fields: convert(old.fields),
        muted: old.muted,
        owner: old.owner,
        member_count: old.member_count,
        roster: old.roster,
    })
}

/// Version 7 filed invitations under their invitee only, and kept those
/// into dissolved groups. Each still standing is indexed by its group too;
/// those into groups that no longer exist go.
pub(crate) fn from_v7(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    let invitations: Vec<(u64, u64)> =
        m.entries(&INVITATIONS)?.map(|e| e.map(|(key, _)| key)).collect::<Result<_, _>>()?;
    for (user, group) in invitations {
        if m.value(&GROUPS, &group)?.is_some() {
            m.put(&INVITED, &(group, user), &())?;
        } else {
            m.delete(&INVITATIONS, &(user, group))?;
        }
    }
    Ok(())
}

/// Groups and memberships, for `kith stats`.
pub(crate) fn stats(store: &Store) -> Result<(u64, u64), StorageError> {
    Ok((store.count_all(&GROUPS)?, store.count_all(&MEMBERS)?))
}

/// Checks restored groups: every entry decodes, and each group's member
/// count and the two membership indexes agree.
pub(crate) fn check(store: &Audit<'_>) -> Result<(), String> {
    let err = |e: StorageError| e.to_string();
    for entry in store.all(&GROUPS) {
        let (id, record) = entry.map_err(err)?;
        let mut counted = 0u32;
        for member in store.range(&MEMBERS, (id, 0)..=(id, u64::MAX)) {
            let ((_, user), _) = member.map_err(err)?;
            if store.get(&JOINED, &(user, id)).map_err(err)?.is_none() {
                return Err(format!("user {user} is a member of group {id} but does not list it"));
            }
            counted += 1;
        }
        if counted != record.member_count {
            return Err(format!("group {id} counts {} members but has {counted}", record.member_count));
        }
    }
    for entry in store.all(&MEMBERS) {
        let ((group, user), _) = entry.map_err(err)?;
        if store.get(&GROUPS, &group).map_err(err)?.is_none() {
            return Err(format!("user {user} is a member of group {group}, which does not exist"));
        }
    }
    for entry in store.all(&JOINED) {
        let ((user, group), _) = entry.map_err(err)?;
        if store.get(&MEMBERS, &(group, user)).map_err(err)?.is_none() {
            return Err(format!("user {user} lists group {group} but is not a member"));
        }
    }
    for entry in store.all(&BANS) {
        entry.map_err(err)?;
    }
    for entry in store.all(&REQUESTS) {
        entry.map_err(err)?;
    }
    for entry in store.all(&INVITATIONS) {
        let ((user, group), _) = entry.map_err(err)?;
        if store.get(&INVITED, &(group, user)).map_err(err)?.is_none() {
            return Err(format!("the invitation of user {user} into group {group} is missing from its index"));
        }
    }
    for entry in store.all(&INVITED) {
        let ((group, user), ()) = entry.map_err(err)?;
        if store.get(&INVITATIONS, &(user, group)).map_err(err)?.is_none() {
            return Err(format!("group {group} indexes an invitation of user {user} that does not exist"));
        }
    }
    for entry in store.all(&UNLOGGED) {
        entry.map_err(err)?;
    }
    store.check_entries(&MUTED_AWAY)?;
    store.check_entries(&PAST)
}
