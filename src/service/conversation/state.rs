//! Pinned, muted conversations and drafts: a user's own state of a conversation,
//! the same on all their devices. `ConversationState` reads or changes one
//! and tells the user's other devices by a `ConversationStateChanged`
//! update; `ConversationStates` gives them all, for a device that starts
//! (the updates are notices, swept from the log in time). A state with
//! nothing pinned or muted and no draft is no entry at all. Muting is the
//! client's to honour (no alert), except for messages that mention the
//! user.

use serde::{Deserialize, Serialize};

use super::View;
use crate::id::now_ms;
use crate::protocol::{
    ConversationState, ConversationStateRequest, ConversationStates, ConversationStatesRequest, ErrorCode, Target,
    UpdateBody,
};
use crate::service::message::Conversation;
use crate::service::{update, Call, Outcome, ServiceError, ServiceResult, Services, Tx};
use crate::storage::{schema, Audit, Get, Keyspace, StorageError, Store};

/// A conversation's state for its user; never stored empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    /// When it was pinned (ms), 0 if it is not.
    pinned_at: u64,
    /// The draft, empty for none.
    draft: String,
    /// When it last changed (ms).
    changed_at: u64,
    /// Whether its notifications are muted.
    muted: bool,
}

impl Stored {
    fn is_empty(&self) -> bool {
        self.pinned_at == 0 && self.draft.is_empty() && !self.muted
    }

    fn same(&self, other: &Stored) -> bool {
        (self.pinned_at, &self.draft, self.muted) == (other.pinned_at, &other.draft, other.muted)
    }

    fn wire(self, with: Target) -> ConversationState {
        let Stored { pinned_at, draft, changed_at, muted } = self;
        ConversationState { with, pinned_at, draft, changed_at, muted }
    }
}

const STATES: Keyspace<(u64, Conversation), Stored> = Keyspace::new(&schema::USERCONV_STATE);

pub(super) async fn state(call: Call, req: ConversationStateRequest) -> ServiceResult<Outcome<ConversationState>> {
    let me = call.me()?.user_id;
    let config = &call.services.config.conversation;
    if let Some(draft) = &req.draft {
        let most = config.draft_max_chars;
        if draft.chars().count() > most as usize {
            return Err(ServiceError::invalid(format!("draft: at most {most} characters")).with_limit(u64::from(most)));
        }
    }
    let origin = call.session_id;
    let services = call.services.clone();
    let conversation = Conversation::of(me, req.with);
    call.services
        .write(move |tx| {
            known(&services, tx, me, conversation)?;
            let old = tx.get(&STATES, &(me, conversation))?.unwrap_or_default();
            let now = now_ms();
            let mut new = old.clone();
            match req.pinned {
                Some(true) if old.pinned_at == 0 => new.pinned_at = now,
                Some(false) => new.pinned_at = 0,
                _ => {}
            }
            if let Some(draft) = req.draft {
                new.draft = draft;
            }
            if let Some(muted) = req.muted {
                new.muted = muted;
            }
            if new.same(&old) {
                return Ok(old.wire(req.with));
            }
            within_limits(&services, tx, me, &old, &new)?;
            new.changed_at = now;
            if new.is_empty() {
                tx.delete(&STATES, &(me, conversation));
            } else {
                tx.put(&STATES, &(me, conversation), &new);
            }
            let state = new.wire(req.with);
            let id = tx.next_id();
            update::publish(tx, &[me], Some(origin), id, UpdateBody::ConversationStateChanged(state.clone()));
            Ok(state)
        })
        .await
}

pub(super) async fn states(call: Call, _: ConversationStatesRequest) -> ServiceResult<Outcome<ConversationStates>> {
    let me = call.me()?.user_id;
    let states = call.services.read(move |s| states_of(s, me).collect::<Result<Vec<_>, _>>()).await?;
    Ok(Outcome::Reply(ConversationStates { states }))
}

/// Refuses a conversation the user has no part in: a user who does not
/// exist, a group they are not a member of (or that does not exist).
fn known(services: &Services, r: &impl Get, me: u64, conversation: Conversation) -> ServiceResult<()> {
    match conversation {
        Conversation::Direct { low, high } => {
            let peer = if low == me { high } else { low };
            if !services.accounts.user_exists(peer) {
                return Err(ServiceError::not_found("no such user"));
            }
            Ok(())
        }
        Conversation::Group(_) => View::of_member(r, me, conversation, 0, now_ms())?.map(drop),
    }
}

/// Refuses a pin or a draft past the user's limits, counted in the job
/// that writes it.
fn within_limits(services: &Services, tx: &Tx<'_>, me: u64, old: &Stored, new: &Stored) -> ServiceResult<()> {
    let config = &services.config.conversation;
    let pins = new.pinned_at != 0 && old.pinned_at == 0;
    let drafts = !new.draft.is_empty() && old.draft.is_empty();
    if !pins && !drafts {
        return Ok(());
    }
    let (mut pinned, mut drafted) = (0u64, 0u64);
    for entry in tx.scan(&STATES, &me) {
        let (_, state) = entry?;
        pinned += u64::from(state.pinned_at != 0);
        drafted += u64::from(!state.draft.is_empty());
    }
    let refuse = |what: &str, most: u32, used| {
        Err(ServiceError::over_limit(
            ErrorCode::NotPermitted,
            format!("at most {most} conversations {what}"),
            u64::from(most),
            used,
        ))
    };
    if pins && pinned >= u64::from(config.pinned_max) {
        return refuse("pinned", config.pinned_max, pinned);
    }
    if drafts && drafted >= u64::from(config.drafts_max) {
        return refuse("with drafts", config.drafts_max, drafted);
    }
    Ok(())
}

/// Every conversation a user pinned, muted or keeps a draft in.
fn states_of(s: &Store, user: u64) -> impl Iterator<Item = Result<ConversationState, StorageError>> + '_ {
    s.scan(&STATES, &user).map(move |entry| entry.map(|((_, c), state)| state.wire(c.target_from(user))))
}

/// Whether `user` muted `conversation`.
pub(crate) fn muted(s: &Store, user: u64, conversation: Conversation) -> Result<bool, StorageError> {
    Ok(s.get(&STATES, &(user, conversation))?.is_some_and(|state| state.muted))
}

/// Conversations pinned and conversations with drafts, over all users
/// (`kith stats`).
pub(crate) fn stats(s: &Store) -> Result<(u64, u64), StorageError> {
    let (mut pinned, mut drafts) = (0, 0);
    for entry in s.all(&STATES) {
        let (_, state) = entry?;
        pinned += u64::from(state.pinned_at != 0);
        drafts += u64::from(!state.draft.is_empty());
    }
    Ok((pinned, drafts))
}

/// What `kith user export` holds of them.
pub(super) fn export(s: &Store, user: u64) -> Result<Vec<ConversationState>, StorageError> {
    states_of(s, user).collect()
}

/// Deletes at most `most` of a deleted user's states; true when none is left.
pub(super) fn erase(tx: &mut Tx<'_>, user: u64, most: usize) -> Result<bool, StorageError> {
    Ok(tx.delete_some(&STATES, &user, most)? == 0)
}

/// Checks restored states decode.
pub(crate) fn check(store: &Audit<'_>) -> Result<(), String> {
    store.check_entries(&STATES)
}
