//! The recent conversations list.
//!
//! A page merges two sources, newest `updated` first: the user's 1:1
//! conversations, read in order from their `userupdated_conv` index (at
//! most a page of them), and the user's groups (at most
//! `group.max_groups_per_user`), whose `updated` is the later of the
//! group's newest message and the user's own last change. The badge sums
//! the unread counts of every conversation the user has: one state and one
//! head per conversation, no log read.

use super::store::{self, Head, ReadState};
use super::wire_count;
use crate::protocol::{
    ConversationInfo, ConversationPage, LastMessage, ListConversationsRequest, MessageKind, Target,
};
use crate::service::message::{self, Conversation};
use crate::service::{Call, Outcome, PageLimit, ServiceResult};
use crate::storage::{StorageError, Store};

/// Characters of a text message the list shows.
const PREVIEW_CHARS: usize = 64;

pub(super) async fn list(call: Call, req: ListConversationsRequest) -> ServiceResult<Outcome<ConversationPage>> {
    let limit = PageLimit::requested(req.limit)?;
    let me = call.me()?.user_id;
    let page = call.services.read(move |s| page(s, me, &req, limit.count)).await?;
    Ok(Outcome::Reply(page))
}

fn page(s: &Store, me: u64, req: &ListConversationsRequest, count: usize) -> Result<ConversationPage, StorageError> {
    let wanted = |updated: u64| updated > req.changed_since && (req.before == 0 || updated < req.before);
    let mut total_unread = 0;
    let mut found: Vec<(u64, Conversation, Head, ReadState)> = Vec::new();
    for entry in store::states_of(s, me) {
        let (conversation, state) = entry?;
        let head = store::head(s, conversation)?;
        total_unread += state.unread(&head);
        let updated = state.updated.max(head.last);
        if matches!(conversation, Conversation::Group(_)) && wanted(updated) {
            found.push((updated, conversation, head, state));
        }
    }
    for entry in store::direct_newest_first(s, me, req.changed_since, req.before).take(count + 1) {
        let (updated, conversation) = entry?;
        let state = store::state(s, me, conversation)?.unwrap_or_default();
        found.push((updated, conversation, store::head(s, conversation)?, state));
    }
    found.sort_unstable_by(|a, b| b.0.cmp(&a.0));
    let more = found.len() > count;
    found.truncate(count);
    let receipts = store::receipts_on(s, me)?;
    let conversations = found
        .into_iter()
        .map(|(updated, conversation, head, state)| {
            let with = conversation.target_from(me);
            let peer_read_up_to = match with {
                Target::User(peer) if peer != me && receipts && store::receipts_on(s, peer)? => {
                    store::state(s, peer, conversation)?.map_or(0, |p| p.read)
                }
                _ => 0,
            };
            Ok(ConversationInfo {
                with,
                last: last_message(s, conversation, head.last)?,
                unread: wire_count(state.unread(&head)),
                read_up_to: state.read,
                peer_read_up_to,
                updated,
            })
        })
        .collect::<Result<_, StorageError>>()?;
    Ok(ConversationPage { conversations, more, total_unread })
}

/// The list's view of a conversation's newest message.
fn last_message(s: &Store, conversation: Conversation, id: u64) -> Result<Option<LastMessage>, StorageError> {
    let Some(m) = message::store::logged(s, conversation, id)? else { return Ok(None) };
    let preview = match m.kind {
        MessageKind::Text => String::from_utf8_lossy(&m.content).chars().take(PREVIEW_CHARS).collect(),
        _ => String::new(),
    };
    Ok(Some(LastMessage { id, sender: m.sender, kind: m.kind, server_time: crate::id::id_time_ms(id), preview }))
}
