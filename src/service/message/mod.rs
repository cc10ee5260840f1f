//! Sending messages and paging through a conversation's history.
//!
//! Send path: validate → queue a job on the group commit → (write thread)
//! resolve a retried client id, take an id, store the message once in its
//! conversation's log and add an update pointing at it to each participant's
//! update log → (sync thread) flush, `fdatasync` → (fan-out) push to every
//! online device of the participants except the sending connection; the
//! sender's ack is written only after the sync. A group message takes the
//! same path; the group decides who gets it (see [`super::group`]).

mod conversation;
mod store;

pub use conversation::Conversation;
pub(crate) use store::StoredMessage;
// What the other domains and the start-up checks use of this one.
pub(crate) use store::{
    append, cap_floor, check, count_from, direct_pairs, from_v1, history as page, kinds, logged, newest, purge,
    sent_by, stats, tombstone, unpurged_below,
};

use super::conversation::View;
use super::{update, Call, Outcome, PageLimit, Router, ServiceError, ServiceResult, Services, Tx};
use crate::id::id_time_ms;
use crate::protocol::ErrorCode;
use crate::protocol::{HistoryRequest, Message, MessageKind, Page, SendReply, SendRequest, Target, UpdateBody};

/// Registers the message domain's handlers.
pub(super) fn routes(router: &mut Router) {
    router.add(send).add(history);
}

/// The protocol view of a stored message.
pub(crate) fn wire_message(id: u64, conversation: Conversation, m: &StoredMessage) -> Message {
    Message {
        id,
        sender: m.sender,
        to: conversation.target_from(m.sender),
        client_msg_id: m.client_msg_id,
        kind: m.kind,
        content: m.content.clone(),
        extra: m.extra.clone(),
        server_time: id_time_ms(id),
    }
}

async fn send(call: Call, req: SendRequest) -> ServiceResult<Outcome<SendReply>> {
    let me = call.me()?;
    let services = &call.services;
    let limits = &services.config.limits;
    if req.content.len() > limits.max_content_bytes {
        return Err(ServiceError::invalid(format!("content exceeds {} bytes", limits.max_content_bytes))
            .with_limit(limits.max_content_bytes as u64));
    }
    if req.extra.as_ref().is_some_and(|e| e.len() > limits.max_extra_bytes) {
        return Err(ServiceError::invalid(format!("extra exceeds {} bytes", limits.max_extra_bytes))
            .with_limit(limits.max_extra_bytes as u64));
    }
    if matches!(req.kind, MessageKind::System | MessageKind::Recalled | MessageKind::Expired) {
        return Err(ServiceError::invalid(format!("kind: {:?} messages are written by the server", req.kind)));
    }
    let sender = me.user_id;
    let conversation = Conversation::of(sender, req.to);
    let message = StoredMessage {
        sender,
        client_msg_id: req.client_msg_id,
        kind: req.kind,
        content: req.content,
        extra: req.extra,
    };
    let origin = call.session_id;
    let checks = services.clone();
    let pending = services
        .committer
        .submit(move |tx| {
            // A retry is answered with the original whatever it names now;
            // only a new message is checked against its recipient, here on
            // the write path so that a change committed before it counts.
            if let Some(id) = store::known_id(tx, sender, message.client_msg_id)? {
                return Ok(SendReply { message_id: id, server_time: id_time_ms(id), duplicate: true });
            }
            let id = match req.to {
                Target::User(peer) => send_direct(tx, &checks, conversation, peer, &message, origin)?,
                Target::Group(group) => super::group::send(tx, &checks, group, &message, origin)?,
            };
            Ok(SendReply { message_id: id, server_time: id_time_ms(id), duplicate: false })
        })
        .await?;
    Ok(Outcome::later(pending.durable()))
}

/// Stores a 1:1 message and puts it into both participants' update logs.
fn send_direct(
    tx: &mut Tx<'_>,
    checks: &Services,
    conversation: Conversation,
    peer: u64,
    message: &StoredMessage,
    origin: u64,
) -> ServiceResult<u64> {
    let sender = message.sender;
    if !checks.accounts.user_exists(peer) {
        return Err(ServiceError::not_found("no such user"));
    }
    if peer != sender {
        if checks.accounts.is_disabled(peer) {
            return Err(ServiceError::new(ErrorCode::NotPermitted, "the recipient's account is disabled"));
        }
        super::social::check_message(tx, checks.config.social.direct_messages, sender, peer)?;
    }
    let id = tx.next_id();
    store::append(tx, conversation, id, message)?;
    let participants = if peer == sender { vec![sender] } else { vec![sender, peer] };
    let update = UpdateBody::Message(wire_message(id, conversation, message));
    update::publish(tx, &participants, Some(origin), id, update);
    Ok(id)
}

async fn history(call: Call, req: HistoryRequest) -> ServiceResult<Outcome<Page>> {
    let limit = PageLimit::requested(req.limit)?;
    let me = call.me()?.user_id;
    let conversation = Conversation::of(me, req.with);
    let retention = call.services.config.conversation.retention_secs;
    let (found, more) = call
        .services
        .read(move |s| {
            let now = crate::id::now_ms();
            let view = match View::of(s, me, conversation, retention, now)? {
                Ok(view) => view,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let page = view.page(s, req.direction, req.anchor, limit)?;
            // The view and the page are two reads: a removal from a group
            // between them (even one followed by a new join) could let the
            // page reach past the membership, so the same windows must still hold.
            match View::of(s, me, conversation, retention, now)? {
                Ok(again) if again.same_windows(&view) => Ok(Ok(page)),
                Ok(_) | Err(_) => {
                    Ok(Err(ServiceError::new(ErrorCode::NotPermitted, "you are not a member of this group")))
                }
            }
        })
        .await??;
    let messages = found.iter().map(|(id, m)| wire_message(*id, conversation, m)).collect();
    Ok(Outcome::Reply(Page { messages, more }))
}
