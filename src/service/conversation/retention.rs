//! Retention: how long a conversation keeps its messages.
//!
//! The server's `conversation.retention_secs` applies to every
//! conversation; a conversation may have a shorter one of its own, set by
//! either participant of a 1:1 conversation or by a group's owner and
//! admins. The shorter of the two applies, so an operator's limit always
//! holds. A message older than that is no longer returned by any read
//! (its conversation's head tells where expiry ends, see
//! [`records::Head::expiry`]) and the purge ([`super::purge`]) later
//! removes it. The other participant of a 1:1 conversation hears of a
//! change by a `RetentionChanged` update, a group's members by a system
//! message.

use super::{listed, tell_pair};
use crate::id::now_ms;
use crate::protocol::{GroupEvent, RetentionChanged, RetentionRequest, RetentionSetting, Target, UpdateBody};
use crate::service::message::records;
use crate::service::message::Conversation;
use crate::service::{group, social, Call, Outcome, ServiceError, ServiceResult};

/// The longest retention a conversation may set: 100 years.
const LONGEST: u64 = 100 * 365 * 86_400;

pub(super) async fn retention(call: Call, req: RetentionRequest) -> ServiceResult<Outcome<RetentionSetting>> {
    let me = call.me()?.user_id;
    let origin = call.session_id;
    let server = call.services.config.conversation.retention_secs;
    let conversation = Conversation::of(me, req.with);
    let setting = move |seconds| RetentionSetting {
        with: req.with,
        seconds,
        server_seconds: server,
        effective: records::effective_retention(seconds, server),
    };
    let Some(seconds) = req.set else {
        let seconds = call
            .services
            .read(move |s| {
                let head = records::head(s, conversation)?;
                Ok(listed(s, me, conversation, req.with, &head, 0).map(|_| head.retention))
            })
            .await??;
        return Ok(Outcome::Reply(setting(seconds)));
    };
    if seconds > LONGEST {
        return Err(ServiceError::invalid(format!("set: at most {LONGEST} seconds (100 years)")).with_limit(LONGEST));
    }
    let policy = call.services.config.social.direct_messages;
    let groups = call.services.config.group.clone();
    call.services
        .write(move |tx| {
            let head = records::head(tx, conversation)?;
            listed(tx, me, conversation, req.with, &head, 0)?;
            match req.with {
                Target::Group(group) => group::need_admin(tx, group, me)?,
                // Who may no longer write to the peer may not change what
                // the peer keeps either.
                Target::User(peer) if peer != me => social::check_message(tx, policy, me, peer)?,
                Target::User(_) => {}
            }
            if head.retention == seconds {
                return Ok(setting(seconds));
            }
            records::set_retention(tx, conversation, seconds, server, now_ms())?;
            match conversation {
                Conversation::Direct { low, high } => {
                    let changed = RetentionChanged { by: me, to: req.with, seconds };
                    tell_pair(tx, (low, high), origin, UpdateBody::RetentionChanged(changed));
                }
                Conversation::Group(group) => {
                    group::announce(tx, &groups, group, me, GroupEvent::RetentionChanged { seconds, by: me })?;
                }
            }
            Ok(setting(seconds))
        })
        .await
}
