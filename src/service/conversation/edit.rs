//! `Edit`: a message's sender replaces its text within the edit window.
//!
//! Only `Text` messages are edited, only by their sender, only while the
//! sender may still write there (as `Send` checks it), and never once
//! recalled or expired. The log keeps the newest text and when it was
//! edited; the text before is kept nowhere, so a recall after an edit
//! leaves nothing behind. Readers hear of it without the text — a 1:1
//! conversation's participants by a `MessageEdited` update, a group's
//! members by a system message — and read the message again, through the
//! same rule as every read.

use super::send::{content_fits, may_write};
use super::{tell_pair, View};
use crate::id::{id_time_ms, now_ms};
use crate::protocol::{EditRequest, Edited, ErrorCode, GroupEvent, Message, MessageKind, UpdateBody};
use crate::service::message::{self, wire_message, Conversation};
use crate::service::{group, Call, Outcome, ServiceError, ServiceResult};

pub(super) async fn edit(call: Call, req: EditRequest) -> ServiceResult<Outcome<Message>> {
    let me = call.me()?.user_id;
    content_fits(&call.services, &req.content)?;
    let window = call.services.config.conversation.edit_seconds;
    if window == 0 {
        return Err(ServiceError::new(ErrorCode::NotPermitted, "editing is turned off on this server"));
    }
    let origin = call.session_id;
    let services = call.services.clone();
    let conversation = Conversation::of(me, req.with);
    let id = req.message_id;
    call.services
        .write(move |tx| {
            let retention = services.config.conversation.retention_secs;
            let now = now_ms();
            let view = View::of_member(tx, me, conversation, retention, now)??;
            let original =
                view.reached(tx, id)?.ok_or_else(|| ServiceError::not_found("no such message in this conversation"))?;
            if original.sender != me {
                return Err(ServiceError::new(ErrorCode::NotPermitted, "only its sender may edit a message"));
            }
            match original.kind {
                MessageKind::Text => {}
                MessageKind::Recalled => {
                    return Err(ServiceError::new(ErrorCode::NotPermitted, "a recalled message cannot be edited"));
                }
                kind => return Err(ServiceError::invalid(format!("only text messages are edited, not {kind:?}"))),
            }
            if now.saturating_sub(id_time_ms(id)) > window.saturating_mul(1000) {
                return Err(ServiceError::new(
                    ErrorCode::NotPermitted,
                    format!("messages can be edited for {window} s after sending"),
                )
                .with_limit(window));
            }
            may_write(&services, tx, me, conversation)?;
            let edited = message::edit(tx, conversation, id, original, req.content, now)?;
            match conversation {
                Conversation::Direct { low, high } => {
                    let to = conversation.target_from(me);
                    let body = Edited { message_id: id, sender: me, to, edited_at: now };
                    tell_pair(tx, (low, high), origin, UpdateBody::MessageEdited(body));
                }
                Conversation::Group(group) => {
                    let event = GroupEvent::MessageEdited { message_id: id, sender: me, edited_at: now };
                    group::announce(tx, &services.config.group, group, me, event)?;
                }
            }
            Ok(wire_message(id, conversation, &edited))
        })
        .await
}
