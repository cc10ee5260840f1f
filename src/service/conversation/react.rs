//! Reactions: a user adds or removes an emoji on a message (`React`), and
//! anyone who may read the message reads its reactions (`Reactions`).
//!
//! A reaction is said where a message would be: only on a message the
//! user reaches (not a system message, not recalled), only where they may
//! still send (as `Send` checks it). Readers see them through the same
//! `View` as the message. The message's sender hears of each change by a
//! `ReactionChanged` update — in a 1:1 conversation both participants do —
//! and so do the reactor's other devices; a group's other members read
//! them when they show the message, so a popular message costs no row in
//! every member's log.

use std::collections::BTreeMap;

use super::send::may_write;
use super::View;
use crate::id::now_ms;
use crate::protocol::{
    ErrorCode, MessageReactions, ReactRequest, ReactionChanged, ReactionCount, ReactionsRequest, UpdateBody,
};
use crate::service::message::{reactions, Conversation};
use crate::service::{update, Call, Outcome, ServiceError, ServiceResult};
use crate::storage::{Get, StorageError};

/// Characters one emoji may have (a family or a flag with modifiers).
const EMOJI_CHARS: usize = 8;

pub(super) async fn react(call: Call, req: ReactRequest) -> ServiceResult<Outcome<MessageReactions>> {
    let me = call.me()?.user_id;
    let emoji = req.emoji;
    if emoji.is_empty()
        || emoji.chars().count() > EMOJI_CHARS
        || emoji.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ServiceError::invalid(format!(
            "emoji: one emoji, at most {EMOJI_CHARS} characters, no spaces or control characters"
        ))
        .with_limit(EMOJI_CHARS as u64));
    }
    let origin = call.session_id;
    let services = call.services.clone();
    let conversation = Conversation::of(me, req.with);
    let id = req.message_id;
    let listed = services.config.conversation.reaction_users_listed as usize;
    call.services
        .write(move |tx| {
            let retention = services.config.conversation.retention_secs;
            let view = View::of_member(tx, me, conversation, retention, now_ms())??;
            let message = match view.reached(tx, id)? {
                Some(m) if !m.kind.server_written() => m,
                _ => return Err(ServiceError::not_found("no such message in this conversation")),
            };
            may_write(&services, tx, me, conversation)?;
            let mut mine = reactions::of_user(tx, conversation, id, me)?;
            let had = mine.contains(&emoji);
            if req.add && !had {
                let most = services.config.conversation.reactions_per_user;
                if mine.len() >= most as usize {
                    return Err(ServiceError::over_limit(
                        ErrorCode::NotPermitted,
                        format!("at most {most} reactions of yours on one message"),
                        u64::from(most),
                        mine.len() as u64,
                    ));
                }
                mine.push(emoji.clone());
            } else if !req.add && had {
                mine.retain(|e| *e != emoji);
            } else {
                return Ok(summary(tx, conversation, id, me, listed)?);
            }
            reactions::set(tx, conversation, id, me, &mine);
            let told = match conversation {
                Conversation::Direct { low, high } if low != high => vec![low, high],
                _ if message.sender == me => vec![me],
                _ => vec![me, message.sender],
            };
            let change = ReactionChanged {
                message_id: id,
                sender: message.sender,
                to: conversation.target_from(message.sender),
                user_id: me,
                emoji: emoji.clone(),
                added: req.add,
            };
            let update_id = tx.next_id();
            update::publish(tx, &told, Some(origin), update_id, UpdateBody::ReactionChanged(change));
            Ok(summary(tx, conversation, id, me, listed)?)
        })
        .await
}

pub(super) async fn reactions(call: Call, req: ReactionsRequest) -> ServiceResult<Outcome<MessageReactions>> {
    let me = call.me()?.user_id;
    let retention = call.services.config.conversation.retention_secs;
    let listed = call.services.config.conversation.reaction_users_listed as usize;
    let conversation = Conversation::of(me, req.with);
    let id = req.message_id;
    let answer = call
        .services
        .read(move |s| {
            let view = match View::of(s, me, conversation, retention, now_ms())? {
                Ok(view) => view,
                Err(refusal) => return Ok(Err(refusal)),
            };
            if view.reached(s, id)?.is_none() {
                return Ok(Err(ServiceError::not_found("no such message in this conversation")));
            }
            Ok(Ok(summary(s, conversation, id, me, listed)?))
        })
        .await??;
    Ok(Outcome::Reply(answer))
}

/// A message's reactions as `me` is shown them: per emoji, how many, the
/// first `listed` users, and whether `me` is one.
fn summary(
    r: &impl Get,
    conversation: Conversation,
    message: u64,
    me: u64,
    listed: usize,
) -> Result<MessageReactions, StorageError> {
    let mut by_emoji: BTreeMap<String, ReactionCount> = BTreeMap::new();
    for entry in reactions::of_message(r, conversation, message) {
        let (user, emoji) = entry?;
        for e in emoji {
            let count = by_emoji.entry(e.clone()).or_insert_with(|| ReactionCount {
                emoji: e,
                count: 0,
                users: Vec::new(),
                mine: false,
            });
            count.count = count.count.saturating_add(1);
            if count.users.len() < listed {
                count.users.push(user);
            }
            count.mine |= user == me;
        }
    }
    let mut reactions: Vec<ReactionCount> = by_emoji.into_values().collect();
    reactions.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.emoji.cmp(&b.emoji)));
    Ok(MessageReactions { message_id: message, reactions })
}
