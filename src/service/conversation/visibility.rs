//! The one rule for what a user may read of a conversation.
//!
//! A message is **reached** by a user when its id lies in one of their
//! windows of the conversation — a 1:1 conversation's participants always;
//! a group's members from where each membership let them read to where it
//! ended ([`group::windows`]) — and at or above where retention ends
//! ([`records::Head::expiry`]). It is **shown** to them when, besides, it lies above
//! where they cleared the conversation and they did not hide it. A recalled
//! message is reached and shown as its tombstone.
//!
//! Every reader asks here, never the records behind the rule: `History`,
//! the list's last message and `Sync`'s expansion of message pointers read
//! what a [`View`] shows; `Recall`, `DeleteForMe`, `MessageReaders`,
//! `MarkRead` and delivery receipts act on what it reaches; unread counts,
//! the purge and a change of retention ask [`records::Head::expiry`]; the export
//! reads through views. Clippy's `disallowed-methods` (clippy.toml) keeps
//! the records' own readers to this file.

#![allow(clippy::disallowed_methods)]

use std::ops::RangeInclusive;

use crate::protocol::{Direction, MessageKind};
use crate::service::message::records;
use crate::service::message::{self, Conversation, StoredMessage};
use crate::service::{group, PageLimit, ServiceError};
use crate::storage::{Get, StorageError, Store};

/// What one user may read of one conversation at one moment.
#[derive(Debug, Clone)]
pub(crate) struct View {
    conversation: Conversation,
    user: u64,
    /// The user's windows, ascending and disjoint (section 5, History).
    windows: Vec<RangeInclusive<u64>>,
    /// Where retention ends: nothing below is reached.
    expiry: u64,
    /// Everything up to this id the user cleared (0: nothing).
    cleared: u64,
    /// Whether the user hid any message of the conversation.
    hides: bool,
}

impl View {
    /// What `user` may read of `conversation` now, or why nothing: a 1:1
    /// conversation of two others or a group that does not exist
    /// (`NotFound`), a group they were never a member of (`NotPermitted`). A former member keeps the windows they had.
    pub(crate) fn of(
        r: &impl Get,
        user: u64,
        conversation: Conversation,
        server_retention: u64,
        now_ms: u64,
    ) -> Result<Result<View, ServiceError>, StorageError> {
        View::build(r, (user, conversation), false, server_retention, now_ms)
    }

    /// As [`View::of`], for a reader that also acts in the conversation:
    /// a former member of a group is refused as a stranger is.
    pub(crate) fn of_member(
        r: &impl Get,
        user: u64,
        conversation: Conversation,
        server_retention: u64,
        now_ms: u64,
    ) -> Result<Result<View, ServiceError>, StorageError> {
        View::build(r, (user, conversation), true, server_retention, now_ms)
    }

    fn build(
        r: &impl Get,
        (user, conversation): (u64, Conversation),
        members_only: bool,
        server_retention: u64,
        now_ms: u64,
    ) -> Result<Result<View, ServiceError>, StorageError> {
        let windows = match conversation {
            Conversation::Direct { low, high } if user != low && user != high => {
                return Ok(Err(ServiceError::not_found("no such conversation")));
            }
            Conversation::Direct { .. } => vec![0..=u64::MAX],
            Conversation::Group(id) => {
                let windows = group::windows(r, id, user)?;
                match windows.outside {
                    Some(refusal) if members_only || windows.parts.is_empty() => return Ok(Err(refusal)),
                    _ => windows.parts,
                }
            }
        };
        let head = records::head(r, conversation)?;
        Ok(Ok(View {
            conversation,
            user,
            windows,
            expiry: head.expiry(server_retention, now_ms),
            cleared: records::cleared(r, user, conversation)?,
            hides: records::hides_any(r, user, conversation)?,
        }))
    }

    /// The conversation seen.
    pub(crate) fn conversation(&self) -> Conversation {
        self.conversation
    }

    /// Where retention ends: no message below it is reached.
    pub(crate) fn expiry(&self) -> u64 {
        self.expiry
    }

    /// Everything up to this id the user cleared for themselves (0: nothing).
    pub(crate) fn cleared(&self) -> u64 {
        self.cleared
    }

    /// Whether `other` sees through the same windows (for a reader that
    /// checks its page against a removal racing it).
    pub(crate) fn same_windows(&self, other: &View) -> bool {
        self.windows == other.windows
    }

    /// Whether message `id` is reached: in the user's windows, not expired.
    pub(crate) fn reaches(&self, id: u64) -> bool {
        id >= self.expiry && self.windows.iter().any(|w| w.contains(&id))
    }

    /// Whether message `id` is shown: reached, not cleared, not hidden.
    pub(crate) fn shows(&self, r: &impl Get, id: u64) -> Result<bool, StorageError> {
        Ok(self.reaches(id) && id > self.cleared && !self.hid(r, id)?)
    }

    /// Message `id`, if it is in the log and reached (a recalled one as its
    /// tombstone).
    pub(crate) fn reached(&self, r: &impl Get, id: u64) -> Result<Option<StoredMessage>, StorageError> {
        if !self.reaches(id) {
            return Ok(None);
        }
        message::logged(r, self.conversation, id)
    }

    /// The id ranges reached, ascending.
    pub(crate) fn reached_parts(&self) -> Vec<RangeInclusive<u64>> {
        clip(&self.windows, self.expiry)
    }

    /// The id ranges shown but for hidden messages, ascending.
    fn shown_parts(&self) -> Vec<RangeInclusive<u64>> {
        clip(&self.windows, self.expiry.max(self.cleared.saturating_add(1)))
    }

    /// Whether the user hid message `id` (one look only if they hid any).
    fn hid(&self, r: &impl Get, id: u64) -> Result<bool, StorageError> {
        Ok(self.hides && records::is_hidden(r, self.user, self.conversation, id)?)
    }

    /// One page of the messages shown, on one side of `anchor` (exclusive;
    /// 0 means the open end), ascending, and whether more lie beyond.
    pub(crate) fn page(
        &self,
        s: &Store,
        direction: Direction,
        anchor: u64,
        limit: PageLimit,
    ) -> Result<(Vec<(u64, StoredMessage)>, bool), StorageError> {
        let parts = self.shown_parts();
        message::page(s, self.conversation, direction, anchor, &parts, limit, |id| self.hid(s, id))
    }

    /// One page of the messages reached above `after`, hidden and cleared
    /// ones too (what the user's export holds), ascending, and whether more
    /// follow.
    pub(crate) fn reached_page(
        &self,
        s: &Store,
        after: u64,
        limit: PageLimit,
    ) -> Result<(Vec<(u64, StoredMessage)>, bool), StorageError> {
        message::page(s, self.conversation, Direction::After, after, &self.reached_parts(), limit, |_| Ok(false))
    }

    /// The newest message of the conversation not cleared or hidden within
    /// the user's windows, up to `newest`: what the list shows as `last`.
    /// One that has expired is given as an `Expired` tombstone (no content),
    /// so a conversation whose messages all expired keeps its place.
    pub(crate) fn last(&self, r: &impl Get, newest: u64) -> Result<Option<(u64, StoredMessage)>, StorageError> {
        let from = self.cleared.saturating_add(1);
        let parts = clip(&self.windows, from);
        let found = message::newest(r, self.conversation, &parts, newest, |id| self.hid(r, id))?;
        Ok(found.map(|(id, m)| if id < self.expiry { (id, expired(m)) } else { (id, m) }))
    }

    /// The id of the newest message shown at or below `up_to`.
    pub(crate) fn newest_shown(&self, r: &impl Get, up_to: u64) -> Result<Option<u64>, StorageError> {
        let found = message::newest(r, self.conversation, &self.shown_parts(), up_to, |id| self.hid(r, id))?;
        Ok(found.map(|(id, _)| id))
    }

    /// The newest message reached at or below `up_to`, hidden or not: where
    /// a read position may stand (a made-up id is moved down to a message).
    pub(crate) fn newest_reached(&self, r: &impl Get, up_to: u64) -> Result<Option<u64>, StorageError> {
        let found = message::newest(r, self.conversation, &self.reached_parts(), up_to, |_| Ok(false))?;
        Ok(found.map(|(id, _)| id))
    }
}

/// Every conversation a user reaches a part of: their 1:1 conversations,
/// then every group they are in or left and keep a window of.
pub(crate) fn reached(store: &Store, user: u64) -> Result<Vec<Conversation>, StorageError> {
    let mut conversations = Vec::new();
    for entry in records::entries_of(store, user) {
        if let (conversation @ Conversation::Direct { .. }, _) = entry? {
            conversations.push(conversation);
        }
    }
    conversations.extend(group::reached_groups(store, user)?.into_iter().map(Conversation::Group));
    Ok(conversations)
}

/// `windows` from `from` on.
fn clip(windows: &[RangeInclusive<u64>], from: u64) -> Vec<RangeInclusive<u64>> {
    windows.iter().filter(|w| *w.end() >= from).map(|w| from.max(*w.start())..=*w.end()).collect()
}

/// A message as the list shows it once expired: who and when, no content.
fn expired(m: StoredMessage) -> StoredMessage {
    StoredMessage { kind: MessageKind::Expired, content: Vec::new(), extra: None, ..m }
}
