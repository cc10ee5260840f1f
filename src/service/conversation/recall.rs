//! Recall: a message's sender takes it back within the window its kind
//! allows; a group's owner and admins take members' messages back at any
//! time.
//!
//! The message becomes a tombstone in its log (id, sender, client message
//! id and time stay; content and extra are gone), so every read of it —
//! `History`, `Sync`, the list's preview, an export — finds no content. A
//! recalled message stops counting as unread ([`records::recalled`]). The
//! participants of a 1:1 conversation hear of it by a `MessageRecalled`
//! update; a group's members by a system message in its log, which reaches
//! them the way every group message does.

use super::{tell_pair, View};
use crate::id::{id_time_ms, now_ms};
use crate::protocol::{ErrorCode, GroupEvent, MessageKind, RecallRequest, Recalled, Target, UpdateBody};
use crate::service::message::records;
use crate::service::message::{self, Conversation};
use crate::service::{group, Call, Outcome, ServiceError, ServiceResult, Tx};

pub(super) async fn recall(call: Call, req: RecallRequest) -> ServiceResult<Outcome<Recalled>> {
    let me = call.me()?.user_id;
    let origin = call.session_id;
    let windows = call.services.config.conversation.recall_seconds.clone();
    let server_retention = call.services.config.conversation.retention_secs;
    let groups = call.services.config.group.clone();
    let conversation = Conversation::of(me, req.with);
    let id = req.message_id;
    call.services
        .write(move |tx| {
            let view = View::of_member(tx, me, conversation, server_retention, now_ms())??;
            let message =
                view.reached(tx, id)?.ok_or_else(|| ServiceError::not_found("no such message in this conversation"))?;
            let mut recalled = Recalled {
                message_id: id,
                sender: message.sender,
                to: conversation.target_from(message.sender),
                by: me,
            };
            let window = match message.kind {
                // Asked again (a retry) by someone who may recall it: the
                // first recall's answer.
                MessageKind::Recalled => {
                    recalled.by = records::recalled_by(tx, conversation, id)?.unwrap_or(message.sender);
                    if me != message.sender && me != recalled.by && !anytime(tx, req.with, me, message.sender)? {
                        return Err(ServiceError::new(ErrorCode::NotPermitted, "you may not recall this message"));
                    }
                    return Ok(recalled);
                }
                kind => windows
                    .of(kind)
                    .ok_or_else(|| ServiceError::new(ErrorCode::NotPermitted, "system messages cannot be recalled"))?,
            };
            let in_time = now_ms().saturating_sub(id_time_ms(id)) <= window.saturating_mul(1000);
            let allowed = (message.sender == me && in_time) || anytime(tx, req.with, me, message.sender)?;
            if !allowed {
                return Err(if message.sender == me {
                    ServiceError::new(
                        ErrorCode::NotPermitted,
                        format!("{:?} messages can be recalled for {window} s after sending", message.kind),
                    )
                    .with_limit(window)
                } else {
                    ServiceError::new(
                        ErrorCode::NotPermitted,
                        "only its sender, or a group's owner or admins, may recall a message",
                    )
                });
            }
            message::tombstone(tx, conversation, id, &message, MessageKind::Recalled)?;
            records::recalled(tx, conversation, id, me)?;
            match conversation {
                Conversation::Direct { low, high } => {
                    tell_pair(tx, (low, high), origin, UpdateBody::MessageRecalled(recalled));
                }
                Conversation::Group(group) => {
                    let event = GroupEvent::MessageRecalled { message_id: id, sender: message.sender, by: me };
                    group::announce(tx, &groups, group, me, event)?;
                }
            }
            Ok(recalled)
        })
        .await
}

/// Whether `me` may recall `sender`'s messages in this conversation at any
/// time: in a group, as its owner or an admin; in a 1:1, never.
fn anytime(tx: &Tx<'_>, with: Target, me: u64, sender: u64) -> ServiceResult<bool> {
    match with {
        Target::Group(group) => group::may_recall_any(tx, group, me, sender),
        Target::User(_) => Ok(false),
    }
}
