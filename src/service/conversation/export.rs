//! What `kith user export` holds of a user's conversations: the read
//! receipts setting, a line per conversation of their list with its read
//! position, and the messages they deleted for themselves; the
//! conversations they pinned or keep drafts in; their reactions; and the
//! messages of every conversation they reach, read through their views.

use serde_json::{json, Value};

use super::{state, View};
use crate::service::export::{message_json, target_json};
use crate::service::message::{self, Conversation};
use crate::service::message::{reactions, records};
use crate::service::PageLimit;
use crate::storage::{StorageError, Store};

/// The user's conversation list and settings, at `now` under the server's
/// `retention` (seconds).
pub(crate) fn export(s: &Store, id: u64, retention: u64, now: u64) -> Result<Vec<Value>, StorageError> {
    let mut out = vec![json!({ "read_receipts": records::receipts_on(s, id)? })];
    for entry in records::entries_of(s, id) {
        let (c, own) = entry?;
        let head = records::head(s, c)?;
        let state = records::listed_state(s, id, c, &head, own, head.expiry(retention, now))?;
        let cleared = View::of(s, id, c, retention, now)?.map_or(0, |view| view.cleared());
        out.push(json!({ "read_position": {
            "with": target_json(c.target_from(id)),
            "read_up_to": state.read.read,
            "unread": state.unread,
            "cleared_up_to": cleared,
            "retention_secs": head.retention,
        }}));
        for hidden in records::hidden_in(s, id, c) {
            out.push(json!({ "deleted_for_me": { "with": target_json(c.target_from(id)), "message_id": hidden? }}));
        }
    }
    for s in state::export(s, id)? {
        out.push(json!({ "conversation_state": {
            "with": target_json(s.with),
            "pinned_at": s.pinned_at,
            "draft": s.draft,
            "changed_at": s.changed_at,
        }}));
    }
    // A scan of every reaction: exports are rare and reactions small.
    for entry in reactions::by_user(s, id) {
        let (c, message_id, emoji) = entry?;
        out.push(
            json!({ "reaction": { "with": target_json(c.target_from(id)), "message_id": message_id, "emoji": emoji }}),
        );
    }
    Ok(out)
}

/// The lines of one page of the messages of `conversation` the user
/// reaches above `after`, hidden and cleared ones too (they are still
/// held), and where the next page starts if there is one. Nothing for a
/// conversation they do not reach.
pub(crate) fn messages(
    s: &Store,
    user: u64,
    conversation: Conversation,
    after: u64,
    retention: u64,
    now: u64,
) -> Result<(Vec<Value>, Option<u64>), StorageError> {
    let Ok(view) = View::of(s, user, conversation, retention, now)? else { return Ok((Vec::new(), None)) };
    let (page, more) = view.reached_page(s, after, PageLimit { count: 1000, bytes: 4 * 1024 * 1024 })?;
    let next = page.last().filter(|_| more).map(|(id, _)| *id);
    let line =
        |(id, m): &(u64, _)| json!({ "message": message_json(user, &message::wire_message(*id, conversation, m)) });
    Ok((page.iter().map(line).collect(), next))
}
