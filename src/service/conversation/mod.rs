//! Conversations as a user sees them: sending and reading history, the
//! recent list with unread counts, read positions shared by all of the
//! user's devices, and read receipts.
//!
//! Everything here is kept at write time by the job that changes it: a
//! message moves its conversation's head (see
//! [`crate::service::message::append`]); a `MarkRead` moves the reader's state, tells their other devices with a
//! `ReadPosition` update and, in a 1:1 conversation, the peer with a
//! `ReadReceipt` update. Lists and counts are then arithmetic on those
//! records, never a scan of a log.
//!
//! An edit ([`edit`]) rewrites a text message in place. A recall
//! ([`recall`]) leaves a tombstone in the log; delete-for-me
//! ([`hide`]) leaves the log alone and marks the messages for the user.
//! Both change unread counts through the records the message domain keeps
//! ([`records`]), and both are updates in the logs of those who must hear
//! of them.
//!
//! Reactions ([`react`]) are said where a message would be and read
//! through the message's `View`.
//!
//! Pinned conversations and drafts ([`state`]) are the user's own, kept
//! the same on all their devices by an update.
//!
//! Files carried by messages are read by the rule of [`attachments`]:
//! through the views of the conversations whose messages carry them.
//!
//! Uses: message (the logs and their records), update, social (blocks, who
//! may write to whom), group (windows, roles, members), media (the files
//! and which messages carry them).

mod attachments;
mod delivery;
mod edit;
mod export;
mod hide;
mod history;
mod list;
mod purge;
mod react;
mod recall;
mod retention;
mod send;
mod state;
mod typing;
mod visibility;

pub(crate) use attachments::readable as media_readable;
pub(crate) use delivery::delivered;
pub(crate) use delivery::{check as check_deliveries, from_v4 as deliveries_from_v4};
pub(crate) use list::total_unread;
pub(crate) use purge::{purge_expired, Purges};
pub(crate) use send::seed_direct;
pub(crate) use state::{check as check_states, muted, stats as state_stats};
pub(crate) use visibility::{reached, View};
// What the other domains and the start-up checks use of this one.
pub(crate) use export::{export, messages as export_messages};

use super::message::{records, Conversation};
use super::{group, social, update, Call, Outcome, Router, ServiceError, ServiceResult, Tx};
use crate::id::now_ms;
use crate::protocol::{
    ErrorCode, MarkReadRequest, MessageReaders, MessageReadersRequest, ReadPosition, ReadReceipt, ReadReceiptsRequest,
    ReadReceiptsSetting, Target, UpdateBody,
};
use crate::storage::Get;

/// Registers the conversation handlers.
pub(super) fn routes(router: &mut Router) {
    router
        .add(send::send)
        .add(edit::edit)
        .add(history::history)
        .add(list::list)
        .add(mark_read)
        .add(read_receipts)
        .add(readers)
        .add(recall::recall)
        .add(hide::delete_for_me)
        .add(retention::retention)
        .add(typing::typing)
        .add(state::state)
        .add(state::states)
        .add(react::react)
        .add(react::reactions);
}

/// Tells both users of a 1:1 conversation (one, in notes to oneself) of a
/// change to it, on every device but `origin`, and moves it up both lists.
fn tell_pair(tx: &mut Tx<'_>, (low, high): (u64, u64), origin: u64, body: UpdateBody) {
    let conversation = Conversation::Direct { low, high };
    let id = tx.next_id();
    let parties = if low == high { vec![low] } else { vec![low, high] };
    for user in &parties {
        records::touched(tx, *user, conversation, id);
    }
    update::publish(tx, &parties, Some(origin), id, body);
}

/// A count as the wire carries it (beyond `u32` it is capped).
fn wire_count(unread: u64) -> u32 {
    u32::try_from(unread).unwrap_or(u32::MAX)
}

fn no_receipts() -> ServiceError {
    ServiceError::new(ErrorCode::NotPermitted, "your read receipts are off: turn them on to see others'")
}

async fn mark_read(call: Call, req: MarkReadRequest) -> ServiceResult<Outcome<ReadPosition>> {
    let me = call.me()?.user_id;
    let origin = call.session_id;
    let conversation = Conversation::of(me, req.with);
    let server_retention = call.services.config.conversation.retention_secs;
    call.services
        .write(move |tx| {
            let view = View::of_member(tx, me, conversation, server_retention, now_ms())??;
            let head = records::head(tx, conversation)?;
            let old = listed(tx, me, conversation, req.with, &head, view.expiry())?;
            read_up_to(tx, &view, me, req.with, head, old, req.up_to, origin)
        })
        .await
}

/// The user's state in a conversation of their list, or why they have
/// none: the group does not exist, they are not in it, or they and the
/// peer never exchanged a message.
fn listed(
    r: &impl Get,
    me: u64,
    conversation: Conversation,
    with: Target,
    head: &records::Head,
    below: u64,
) -> ServiceResult<records::ReadState> {
    match records::state(r, me, conversation, head, below)? {
        Some(state) => Ok(state),
        None => Err(match with {
            Target::Group(id) if group::record(r, id)?.is_some() => {
                ServiceError::new(ErrorCode::NotPermitted, "you are not a member of this group")
            }
            Target::Group(_) => ServiceError::not_found("no such group"),
            Target::User(_) => ServiceError::not_found("no conversation with this user"),
        }),
    }
}

/// Moves the user's read position up to the newest message they reach at
/// or below `up_to` (never backwards, never past the newest message, never
/// to an id that is no message: each message moves it once), telling their
/// other devices and, in a 1:1 conversation where both send receipts and
/// no block stands between them, the peer.
#[allow(clippy::too_many_arguments)]
fn read_up_to(
    tx: &mut Tx<'_>,
    view: &View,
    me: u64,
    with: Target,
    head: records::Head,
    old: records::ReadState,
    up_to: u64,
    origin: u64,
) -> ServiceResult<ReadPosition> {
    let conversation = view.conversation();
    let up_to = match up_to.min(head.last) {
        up_to if up_to <= old.read.read => None,
        up_to => view.newest_reached(tx, up_to)?,
    };
    let Some(up_to) = up_to.filter(|up_to| *up_to > old.read.read) else {
        return Ok(ReadPosition { with, read_up_to: old.read.read, unread: wire_count(old.unread) });
    };
    let id = tx.next_id();
    let read = records::mark_read(tx, me, conversation, head, up_to, id)?;
    let head = records::head(tx, conversation)?;
    let unread = records::unread(tx, me, conversation, &head, &read, old.below)?;
    let position = ReadPosition { with, read_up_to: up_to, unread: wire_count(unread) };
    update::publish(tx, &[me], Some(origin), id, UpdateBody::ReadPosition(position));
    if let Target::User(peer) = with {
        if peer != me
            && records::receipts_on(tx, me)?
            && records::receipts_on(tx, peer)?
            && social::receipts_pass(tx, me, peer)?
        {
            let receipt = ReadReceipt { reader: me, up_to };
            let id = tx.next_id();
            update::publish(tx, &[peer], None, id, UpdateBody::ReadReceipt(receipt));
        }
    }
    Ok(position)
}

async fn read_receipts(call: Call, req: ReadReceiptsRequest) -> ServiceResult<Outcome<ReadReceiptsSetting>> {
    let me = call.me()?.user_id;
    let origin = call.session_id;
    match req.set {
        None => {
            let enabled = call.services.read(move |s| records::receipts_on(s, me)).await?;
            Ok(Outcome::Reply(ReadReceiptsSetting { enabled }))
        }
        Some(enabled) => {
            call.services
                .write(move |tx| {
                    let setting = ReadReceiptsSetting { enabled };
                    if records::set_receipts(tx, me, enabled, now_ms())? {
                        let id = tx.next_id();
                        update::publish(tx, &[me], Some(origin), id, UpdateBody::ReadReceiptsChanged(setting));
                    }
                    Ok(setting)
                })
                .await
        }
    }
}

async fn readers(call: Call, req: MessageReadersRequest) -> ServiceResult<Outcome<MessageReaders>> {
    let me = call.me()?.user_id;
    let most = call.services.config.conversation.who_read_max_members;
    let server_retention = call.services.config.conversation.retention_secs;
    let answer = call
        .services
        .read(move |s| {
            let conversation = Conversation::Group(req.group_id);
            let view = match View::of_member(s, me, conversation, server_retention, now_ms())? {
                Ok(view) => view,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let Some(message) = view.reached(s, req.message_id)? else {
                return Ok(Err(ServiceError::not_found("no such message in this group")));
            };
            if !records::receipts_on(s, me)? {
                return Ok(Err(no_receipts()));
            }
            let (mut readers, mut of) = records::readers(s, req.group_id, req.message_id)?;
            // The sender has read their own message (sending moved their
            // position to it); they are not counted.
            if let Ok(at) = readers.binary_search(&message.sender) {
                readers.remove(at);
                of = of.saturating_sub(1);
            }
            let members = group::record(s, req.group_id)?.map_or(0, |g| g.member_count);
            let listed = members <= most;
            let read = wire_count(readers.len() as u64);
            Ok(Ok(MessageReaders {
                read,
                of: wire_count(of),
                readers: if listed { readers } else { Vec::new() },
                listed,
            }))
        })
        .await??;
    Ok(Outcome::Reply(answer))
}

/// Erases a deleted user's conversation state, a bounded step per call
/// (see `records::erase`); `gone` tells which other users are deleted too.
/// Their messages stay in the logs others read. True when nothing is left.
pub(crate) fn erase(tx: &mut Tx<'_>, user: u64, most: usize, gone: impl Fn(u64) -> bool) -> ServiceResult<bool> {
    if !records::erase(tx, user, most, gone)? || !state::erase(tx, user, most)? {
        return Ok(false);
    }
    delivery::forget(tx, user);
    Ok(true)
}
