//! `History`: a page of a conversation's log, as the user may see it.

use super::View;
use crate::protocol::{ErrorCode, HistoryRequest, Page};
use crate::service::message::{wire_message, Conversation};
use crate::service::{Call, Outcome, PageLimit, ServiceError, ServiceResult};

pub(super) async fn history(call: Call, req: HistoryRequest) -> ServiceResult<Outcome<Page>> {
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
