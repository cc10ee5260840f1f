//! `Sync` and `Ack`: a device reads its user's update log through what the
//! user may see, and moves its cursor.
//!
//! The log (the update domain) holds each message as a pointer; a page
//! reads the message from its conversation's log (the message domain) if
//! the user's [`View`] of that conversation lets them have it (the
//! conversation domain), under the offline cap, with the news of the user's
//! groups (the group domain) beside it. `Ack` moves the device's cursor and
//! sends the delivery receipts it makes due. The composition sits here,
//! above the domains it reads, so none of them needs another to read a page.

mod export;
mod floors;

use std::collections::hash_map::{Entry, HashMap};

pub(crate) use export::export;
pub(crate) use floors::Floors;

use super::conversation::{self, View};
use super::message::records;
use super::message::{self, Conversation};
use super::update::{self, Kept, StoredUpdate};
use super::{group, Call, Outcome, PageLimit, Router, ServiceResult};
use crate::protocol::{AckReply, AckRequest, Limited, SyncPage, SyncRequest, Update, UpdateBody};
use crate::storage::{StorageError, Store};

/// Registers `Sync` and `Ack`.
pub(super) fn routes(router: &mut Router) {
    router.add(sync).add(ack);
}

async fn sync(call: Call, req: SyncRequest) -> ServiceResult<Outcome<SyncPage>> {
    let limit = PageLimit::requested(req.limit)?;
    let user = call.me()?.user_id;
    let config = &call.services.config.conversation;
    let caps = OfflineCaps { direct: config.offline_cap_direct, group: config.offline_cap_group };
    let services = call.services.clone();
    let (page, groups) = call
        .services
        .read(move |s| {
            let retention = services.config.conversation.retention_secs;
            let page = page(s, user, req.after, limit, retention, caps, &services.floors)?;
            Ok((page, group::news(s, user, req.after)?))
        })
        .await?;
    // A group named in `groups` is pulled from its `after` on anyway.
    let limited = page
        .limited
        .into_iter()
        .filter(|(conversation, _)| !groups.iter().any(|news| *conversation == Conversation::Group(news.group_id)))
        .map(|(conversation, older_than)| Limited { with: conversation.target_from(user), older_than })
        .collect();
    Ok(Outcome::Reply(SyncPage {
        updates: page.updates,
        more: page.more,
        groups,
        limited,
        notices_dropped: page.notices_dropped,
    }))
}

async fn ack(call: Call, req: AckRequest) -> ServiceResult<Outcome<AckReply>> {
    let me = call.me()?;
    let (user, device) = (me.user_id, me.device_id.clone());
    let retention = call.services.config.conversation.retention_secs;
    call.services
        .write(move |tx| {
            let cursor = update::advance_cursor(tx, user, device, req.up_to)?;
            conversation::delivered(tx, user, cursor, retention)?;
            Ok(AckReply { cursor })
        })
        .await
}

/// How many missed messages of one conversation a `Sync` gives at most.
#[derive(Debug, Clone, Copy)]
struct OfflineCaps {
    /// For a 1:1 conversation.
    direct: u32,
    /// For a group.
    group: u32,
}

/// One page of a user's log.
#[derive(Debug, Default)]
pub(super) struct LogPage {
    /// Updates, ascending.
    pub updates: Vec<Update>,
    /// Whether more follow.
    pub more: bool,
    /// Conversations the offline cap left older messages of out, with the
    /// oldest message id given of each.
    pub limited: Vec<(Conversation, u64)>,
    /// The newest notice removed past the horizon, when it lies above
    /// `after` (the device missed notices); else 0.
    pub notices_dropped: u64,
}

/// One page of a user's log: updates with ids above `after`. A message is
/// given only if its conversation's [`View`] shows it to the user: within
/// their windows of a group, not expired under the server's `retention` or
/// the conversation's, not cleared or hidden. A conversation with more
/// messages from its first update in the page on than its cap gives only
/// the newest of them; each such conversation is returned with the oldest
/// id given. So is each conversation with a message shown in the part of
/// the page's span whose message updates were swept past their horizon.
fn page(
    store: &Store,
    user: u64,
    after: u64,
    limit: PageLimit,
    retention: u64,
    caps: OfflineCaps,
    floors: &Floors,
) -> Result<LogPage, StorageError> {
    let now = crate::id::now_ms();
    // Read after the page: a sweep that removed updates while the page was
    // read has recorded them by then (it writes both in one batch).
    let ended = |updates: Vec<Update>, more: bool, mut limited: Vec<(Conversation, u64)>| {
        let swept = update::horizon(store, Kept::Messages, user)?;
        if swept.dropped > after {
            // The span this page stands for ends at its last update if more
            // follow, else at the end of the log.
            let end = if more { updates.last().map_or(after, |u| u.id) } else { u64::MAX };
            limited.extend(swept_away(store, user, after, swept.swept.min(end), retention, now)?);
        }
        let notices = update::horizon(store, Kept::Notices, user)?.dropped;
        let notices_dropped = if notices > after { notices } else { 0 };
        Ok(LogPage { updates, more, limited, notices_dropped })
    };
    let mut out = Vec::with_capacity(limit.count.min(128));
    let mut bytes = 0;
    // Each conversation met: what the user may see of it, and the offline
    // cap's floor (no older message of it is given).
    let mut seen: HashMap<Conversation, (Option<View>, u64)> = HashMap::new();
    let mut limited = Vec::new();
    for entry in update::entries_after(store, user, after) {
        let (id, stored) = entry?;
        let update = match stored {
            StoredUpdate::Message(conversation) => {
                let (view, floor) = match seen.entry(conversation) {
                    Entry::Occupied(known) => known.into_mut(),
                    Entry::Vacant(first) => {
                        let view = View::of(store, user, conversation, retention, now)?.ok();
                        let mut floor = 0;
                        if let Some(view) = &view {
                            let cap = match conversation {
                                Conversation::Direct { .. } => caps.direct,
                                Conversation::Group(_) => caps.group,
                            };
                            // Below the cap's floor from the first update
                            // on, and that floor not expired: the device
                            // missed more than the cap.
                            let head = records::head(store, conversation)?;
                            if let Some(capped) = floors.floor(store, conversation, &head, cap)? {
                                if id < capped && capped > view.expiry() {
                                    limited.push((conversation, capped));
                                    floor = capped;
                                }
                            }
                        }
                        first.insert((view, floor))
                    }
                };
                let Some(view) = view.as_ref().filter(|_| id >= *floor) else { continue };
                if !view.shows(store, id)? {
                    continue;
                }
                if limit.full(out.len(), bytes) {
                    return ended(out, true, limited);
                }
                let Some(m) = message::logged(store, conversation, id)? else { continue };
                bytes += m.size();
                Update::new(id, &UpdateBody::Message(message::wire_message(id, conversation, &m)))
            }
            StoredUpdate::Inline { kind, body } => {
                if limit.full(out.len(), bytes) {
                    return ended(out, true, limited);
                }
                bytes += body.len();
                Update { id, kind, body }
            }
        };
        out.push(update);
    }
    ended(out, false, limited)
}

/// The conversations with a message shown to the user in `(after, up_to]`,
/// a span whose message updates were swept from their log, each with the
/// first id past the span: the device pulls what it lacks below it with
/// `History`.
fn swept_away(
    store: &Store,
    user: u64,
    after: u64,
    up_to: u64,
    retention: u64,
    now: u64,
) -> Result<Vec<(Conversation, u64)>, StorageError> {
    let mut out = Vec::new();
    for conversation in conversation::reached(store, user)? {
        let Ok(view) = View::of(store, user, conversation, retention, now)? else { continue };
        if view.newest_shown(store, up_to)?.is_some_and(|id| id > after) {
            out.push((conversation, up_to.saturating_add(1)));
        }
    }
    Ok(out)
}
