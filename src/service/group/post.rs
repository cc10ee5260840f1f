//! A member's message to a group, and what `Sync` says about large groups.

use super::{diffuse, load, membership, store};
use crate::id::now_ms;
use crate::protocol::{ErrorCode, GroupNews, GroupRole};
use crate::service::message::{self, Conversation, StoredMessage};
use crate::service::{ServiceError, ServiceResult, Services, Tx};
use crate::storage::{Get, StorageError, Store};

/// Stores a member's message in the group's log under a fresh id and
/// diffuses it; inside the send's job, so the membership and mute checks
/// see every change committed before it.
pub fn send(
    tx: &mut Tx<'_>,
    services: &Services,
    group: u64,
    message: &StoredMessage,
    origin: u64,
) -> ServiceResult<u64> {
    let record = load(tx, group)?;
    let member = membership(tx, group, message.sender)?;
    let now = now_ms();
    if member.muted_until > now {
        return Err(ServiceError::rate_limited(
            "you are muted in this group",
            std::time::Duration::from_millis(member.muted_until - now),
        )
        .with_code(ErrorCode::Muted));
    }
    if record.muted && member.role == GroupRole::Member {
        return Err(ServiceError::new(ErrorCode::Muted, "only the owner and admins may speak in this group now"));
    }
    let id = tx.next_id();
    let conversation = Conversation::Group(group);
    message::store::append(tx, conversation, id, message)?;
    let members = services.rosters.members(tx, group, &record)?.to_vec();
    let message = message::wire_message(id, conversation, message);
    diffuse(tx, &services.config.group, group, members, &[], Some(origin), message);
    Ok(id)
}

/// The user's groups whose newest unlogged message lies above `after`.
pub fn news(store: &Store, user: u64, after: u64) -> Result<Vec<GroupNews>, StorageError> {
    let mut out = Vec::new();
    for group in store::groups_of(store, user, 0) {
        let group = group?;
        if let Some(latest) = store::unlogged(store, group)?.filter(|id| *id > after) {
            out.push(GroupNews { group_id: group, latest });
        }
    }
    Ok(out)
}

/// The part of a group's log a member may read: from `from` on, for as
/// long as the membership that began with `joined` lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The lowest message id they may read.
    pub from: u64,
    /// The join id of the membership.
    pub joined: u64,
}

/// The window of the group's log `user` may read, or why they may read
/// none of it (no such group, not a member).
pub fn window(store: &impl Get, group: u64, user: u64) -> Result<ServiceResult<Window>, StorageError> {
    Ok(match load(store, group).and_then(|_| membership(store, group, user)) {
        Ok(member) => Ok(Window { from: member.visible_from, joined: member.joined }),
        Err(ServiceError::Storage(e)) => return Err(e),
        Err(refusal) => Err(refusal),
    })
}
