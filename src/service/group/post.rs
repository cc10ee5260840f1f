//! A member's message to a group, who sees them type, and what `Sync`
//! says about large groups.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;

use super::store::GroupRecord;
use super::{diffuse, load, membership, store};
use crate::id::now_ms;
use crate::protocol::{ErrorCode, GroupNews, GroupRole};
use crate::service::message::{self, records, Conversation, StoredMessage};
use crate::service::{ServiceError, ServiceResult, Services, Tx};
use crate::storage::{Get, StorageError, Store};

/// Stores a member's message in the group's log under a fresh id and
/// diffuses it; inside the send's job, so the membership and mute checks
/// see every change committed before it.
pub(crate) fn send(
    tx: &mut Tx<'_>,
    services: &Services,
    group: u64,
    message: &StoredMessage,
    origin: u64,
) -> ServiceResult<u64> {
    let record = speaker(tx, group, message.sender)?;
    let members = services.rosters.members(tx, group, &record)?.to_vec();
    let told = mentioned(tx, group, &message.mentions, message.sender, &members)?;
    if message.mentions.contains(&EVERYONE) {
        // Counted per group: the cost is the group's size, whoever speaks.
        services.everyone_mentions.allow(group, 1, std::time::Instant::now())?;
    }
    let id = tx.next_id();
    let conversation = Conversation::Group(group);
    message::append(tx, conversation, id, message)?;
    records::mentioned(tx, &told, conversation, id);
    let message = message::wire_message(id, conversation, message);
    diffuse(tx, &services.config.group, group, members, &told, Some(origin), message);
    Ok(id)
}

/// The mention that names every member.
const EVERYONE: u64 = 0;

/// The members a message mentions, who get it in their update log however
/// large the group is: each named one must be a member; 0, everyone, only
/// the owner and admins may say. The sender is not told of their own
/// message.
fn mentioned(r: &impl Get, group: u64, mentions: &[u64], sender: u64, members: &[u64]) -> ServiceResult<Vec<u64>> {
    let mut told = Vec::new();
    for &user in mentions {
        if user == EVERYONE {
            if membership(r, group, sender)?.role == GroupRole::Member {
                return Err(ServiceError::new(
                    ErrorCode::NotPermitted,
                    "only the owner and admins may mention everyone",
                ));
            }
            told.extend_from_slice(members);
        } else if members.binary_search(&user).is_ok() {
            told.push(user);
        } else {
            return Err(ServiceError::invalid(format!("mentions: user {user} is not a member of this group")));
        }
    }
    told.sort_unstable();
    told.dedup();
    told.retain(|user| *user != sender);
    Ok(told)
}

/// The group's record, if `user` may speak in it now: a member, not
/// muted, and the group not muted unless they are its owner or an admin.
fn speaker(r: &impl Get, group: u64, user: u64) -> ServiceResult<GroupRecord> {
    let record = load(r, group)?;
    let member = membership(r, group, user)?;
    let now = now_ms();
    if member.muted_until > now {
        return Err(ServiceError::new(ErrorCode::Muted, "you are muted in this group")
            .with_wait(std::time::Duration::from_millis(member.muted_until - now)));
    }
    if record.muted && member.role == GroupRole::Member {
        return Err(ServiceError::new(ErrorCode::Muted, "only the owner and admins may speak in this group now"));
    }
    Ok(record)
}

/// Refuses `user` where they may not speak in `group` now (as `Send`
/// would): for acts on their own messages, such as an edit.
pub(crate) fn may_speak(r: &impl Get, group: u64, user: u64) -> ServiceResult<()> {
    speaker(r, group, user).map(drop)
}

/// Who is to see `user` typing in `group`, if they may speak there now (as
/// `Send` checks it): its members. Read outside any job, as typing is
/// never stored.
pub(crate) fn typing_audience(services: &Services, r: &impl Get, group: u64, user: u64) -> ServiceResult<Arc<[u64]>> {
    let record = speaker(r, group, user)?;
    Ok(services.rosters.members(r, group, &record)?)
}

/// The groups, present and past, with a message above `after` that is in
/// none of the user's update logs: for a group they left, the newest such
/// message up to their exit.
pub(crate) fn news(store: &Store, user: u64, after: u64) -> Result<Vec<GroupNews>, StorageError> {
    let mut latest = BTreeMap::new();
    for group in store::groups_of(store, user, 0) {
        let group = group?;
        if let Some(id) = store::unlogged(store, group)? {
            latest.insert(group, id);
        }
    }
    for entry in store::left_groups(store, user) {
        let (group, windows) = entry?;
        let newest = windows.iter().map(|w| w.unlogged).max().unwrap_or(0);
        let known = latest.entry(group).or_insert(0);
        *known = newest.max(*known);
    }
    Ok(latest
        .into_iter()
        .filter(|(_, id)| *id > after)
        .map(|(group_id, latest)| GroupNews { group_id, latest })
        .collect())
}

/// A user's windows of a group's log: where they may read it, as far as
/// membership goes (the conversation domain's visibility rule adds
/// retention and what the user cleared or hid).
pub(crate) struct Windows {
    /// Ascending, disjoint id ranges: each ended membership's, from where it
    /// let them read up to its exit, and the current one's, open-ended.
    pub parts: Vec<RangeInclusive<u64>>,
    /// Why they are not a member now (no such group, not a member), if not.
    pub outside: Option<ServiceError>,
}

/// The user's windows of the group's log (section 5, History); only the
/// conversation domain's visibility rule asks (clippy.toml).
#[allow(clippy::disallowed_methods)]
pub(crate) fn windows(r: &impl Get, group: u64, user: u64) -> Result<Windows, StorageError> {
    let mut parts: Vec<RangeInclusive<u64>> =
        store::past_windows(r, user, group)?.iter().map(|w| w.from..=w.until).collect();
    let outside = match load(r, group).and_then(|_| membership(r, group, user)) {
        Ok(member) => {
            parts.push(member.visible_from..=u64::MAX);
            None
        }
        Err(ServiceError::Storage(e)) => return Err(e),
        Err(refusal) => Some(refusal),
    };
    parts.sort_by_key(|part| *part.start());
    let mut merged: Vec<RangeInclusive<u64>> = Vec::with_capacity(parts.len());
    for part in parts {
        match merged.last_mut() {
            Some(last) if *part.start() <= last.end().saturating_add(1) => {
                *last = *last.start()..=*last.end().max(part.end());
            }
            _ => merged.push(part),
        }
    }
    Ok(Windows { parts: merged, outside })
}
