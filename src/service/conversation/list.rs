//! The recent conversations list.
//!
//! The badge must sum the unread counts of every conversation the user
//! has, so each call reads the user's states and their conversations'
//! heads — one state and one head per conversation, no log — and the page
//! is the newest of them by `updated`. Keeping the list's order in an index
//! instead would cost every message two more writes per participant (see
//! docs/BENCHMARKS.md, "conversations"), while a user's conversations are
//! counted in thousands; the log is read only for the page's last messages.

use super::visibility::View;
use super::wire_count;
use crate::protocol::{ConversationInfo, ConversationPage, LastMessage, ListConversationsRequest, MessageKind, Target};
use crate::service::message::records::{self, Head, ReadState};
use crate::service::message::Conversation;
use crate::service::{Call, Outcome, PageLimit, ServiceResult};
use crate::storage::{StorageError, Store};

/// Characters of a text message the list shows.
const PREVIEW_CHARS: usize = 64;

pub(super) async fn list(call: Call, req: ListConversationsRequest) -> ServiceResult<Outcome<ConversationPage>> {
    let limit = PageLimit::requested(req.limit)?;
    let me = call.me()?.user_id;
    let retention = call.services.config.conversation.retention_secs;
    let page = call.services.read(move |s| page(s, me, &req, limit.count, retention)).await?;
    Ok(Outcome::Reply(page))
}

fn page(
    s: &Store,
    me: u64,
    req: &ListConversationsRequest,
    count: usize,
    retention: u64,
) -> Result<ConversationPage, StorageError> {
    let now = crate::id::now_ms();
    let mut total_unread = 0;
    let mut found: Vec<(Conversation, Head, ReadState)> = Vec::new();
    for entry in listed(s, me, retention, now) {
        let (conversation, head, state) = entry?;
        total_unread += state.unread;
        if state.updated > req.changed_since && (req.before == 0 || state.updated < req.before) {
            found.push((conversation, head, state));
        }
    }
    let more = found.len() > count;
    if more {
        found.select_nth_unstable_by(count, |a, b| b.2.updated.cmp(&a.2.updated));
        found.truncate(count);
    }
    found.sort_unstable_by_key(|e| std::cmp::Reverse(e.2.updated));
    let receipts = records::receipts_on(s, me)?;
    let conversations = found
        .into_iter()
        .map(|(conversation, head, state)| {
            let with = conversation.target_from(me);
            let peer_read_up_to = match with {
                Target::User(peer) if peer != me && receipts && records::receipts_on(s, peer)? => {
                    head.read_of(conversation, peer).map_or(0, |p| p.read)
                }
                _ => 0,
            };
            let view = View::of(s, me, conversation, retention, now)?.ok();
            let mentioned = match &view {
                Some(view) => unread_mention(s, view, me, state.read.read)?,
                None => 0,
            };
            Ok(ConversationInfo {
                with,
                last: view.map(|view| last_message(s, &view, head.last)).transpose()?.flatten(),
                unread: wire_count(state.unread),
                read_up_to: state.read.read,
                peer_read_up_to,
                updated: state.updated,
                mentioned,
            })
        })
        .collect::<Result<_, StorageError>>()?;
    Ok(ConversationPage { conversations, more, total_unread })
}

/// Every conversation on the user's list, with its head and the user's
/// state of it (unread count, last change).
fn listed(
    s: &Store,
    me: u64,
    retention: u64,
    now: u64,
) -> impl Iterator<Item = Result<(Conversation, Head, ReadState), StorageError>> + '_ {
    records::entries_of(s, me).map(move |entry| {
        let (conversation, own) = entry?;
        let head = records::head(s, conversation)?;
        let state = records::listed_state(s, me, conversation, &head, own, head.expiry(retention, now))?;
        Ok((conversation, head, state))
    })
}

/// The badge: the unread counts of all the user's conversations summed, as
/// `ListConversations` gives it in `total_unread`.
pub(crate) fn total_unread(s: &Store, me: u64, retention: u64) -> Result<u64, StorageError> {
    listed(s, me, retention, crate::id::now_ms()).map(|entry| entry.map(|(_, _, state)| state.unread)).sum()
}

/// The newest message mentioning the user above their read position, if
/// they are shown it and it was not recalled since; else 0.
fn unread_mention(s: &Store, view: &View, me: u64, read: u64) -> Result<u64, StorageError> {
    let mark = records::mention(s, me, view.conversation())?;
    if mark <= read || !view.shows(s, mark)? {
        return Ok(0);
    }
    Ok(match view.reached(s, mark)? {
        Some(m) if m.kind != MessageKind::Recalled => mark,
        _ => 0,
    })
}

/// The list's view of a conversation's newest message the user may see
/// (a recalled one shows as its tombstone, an expired one as `Expired`).
fn last_message(s: &Store, view: &View, newest: u64) -> Result<Option<LastMessage>, StorageError> {
    let Some((id, m)) = view.last(s, newest)? else { return Ok(None) };
    let preview = match m.kind {
        MessageKind::Text => String::from_utf8_lossy(&m.content).chars().take(PREVIEW_CHARS).collect(),
        _ => String::new(),
    };
    Ok(Some(LastMessage { id, sender: m.sender, kind: m.kind, server_time: crate::id::id_time_ms(id), preview }))
}
