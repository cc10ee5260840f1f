//! Delete for me: a user hides messages of a conversation, or clears it up
//! to a message, for themselves and all their devices. The log and
//! everyone else's view stay as they were.
//!
//! Hidden messages leave the user's `History` and their list's preview, and
//! stop counting as unread. Clearing also reads the conversation up to the
//! point (as `MarkRead` would), so what was cleared is never unread. The
//! user's other devices hear of it by a `DeletedForMe` update.

use super::{listed, read_up_to, View};
use crate::id::now_ms;
use crate::protocol::{DeleteForMeRequest, DeletedForMe, MessageKind, UpdateBody};
use crate::service::message::records;
use crate::service::message::Conversation;
use crate::service::{update, Call, Outcome, ServiceError, ServiceResult};

/// Messages one call may hide.
const MOST: usize = 100;

pub(super) async fn delete_for_me(call: Call, req: DeleteForMeRequest) -> ServiceResult<Outcome<DeletedForMe>> {
    let me = call.me()?.user_id;
    let origin = call.session_id;
    let mut ids = req.message_ids;
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > MOST {
        return Err(ServiceError::invalid(format!("message_ids: at most {MOST}")).with_limit(MOST as u64));
    }
    if ids.is_empty() && req.clear_up_to == 0 {
        return Err(ServiceError::invalid("nothing to delete: give message_ids or clear_up_to"));
    }
    let conversation = Conversation::of(me, req.with);
    let server_retention = call.services.config.conversation.retention_secs;
    call.services
        .write(move |tx| {
            let view = View::of_member(tx, me, conversation, server_retention, now_ms())??;
            let head = records::head(tx, conversation)?;
            let below = view.expiry();
            listed(tx, me, conversation, req.with, &head, below)?;
            let was_cleared = view.cleared();
            // Cleared up to a message, never a made-up id: each message can
            // move it once.
            let cleared = match req.clear_up_to.min(head.last) {
                up_to if up_to <= was_cleared => was_cleared,
                up_to => view.newest_reached(tx, up_to)?.map_or(was_cleared, |id| id.max(was_cleared)),
            };
            let mut found = Vec::with_capacity(ids.len());
            for &id in &ids {
                let Some(message) = view.reached(tx, id)? else {
                    return Err(ServiceError::not_found(format!("message {id} is not in this conversation")));
                };
                if id > cleared {
                    found.push((id, message.kind != MessageKind::System));
                }
            }
            let hidden = records::hide(tx, me, conversation, head, &found)?;
            if cleared > was_cleared {
                records::clear(tx, me, conversation, cleared);
            }
            // Clearing reads what it cleared; the read position's own update
            // and receipt go out as MarkRead's would.
            let head = records::head(tx, conversation)?;
            let state = listed(tx, me, conversation, req.with, &head, below)?;
            let position = read_up_to(tx, &view, me, req.with, head, state, cleared, origin)?;
            let done = DeletedForMe {
                with: req.with,
                message_ids: hidden,
                cleared_up_to: cleared,
                read_up_to: position.read_up_to,
                unread: position.unread,
            };
            if !done.message_ids.is_empty() || cleared > was_cleared {
                let id = tx.next_id();
                records::touched(tx, me, conversation, id);
                update::publish(tx, &[me], Some(origin), id, UpdateBody::DeletedForMe(done.clone()));
            }
            Ok(done)
        })
        .await
}
