//! The offline cap's floors: for each conversation with more messages than
//! the cap, the oldest message a catch-up gives (the `cap`-th newest). A
//! floor depends only on the conversation's log, so it is found once per
//! newest message and kept, not looked for again on every `Sync` page of a
//! long catch-up (each search reads up to `cap` keys).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::service::message::records::Head;
use crate::service::message::{self, Conversation};
use crate::storage::{StorageError, Store};

/// Conversations whose floors are kept; past it the table starts afresh.
const MOST: usize = 4_096;

/// Floors found, by conversation, with the newest message they were found at.
#[derive(Default)]
pub(crate) struct Floors {
    found: Mutex<HashMap<Conversation, (u64, Option<u64>)>>,
}

impl Floors {
    /// The conversation's floor under this cap, if it has more messages.
    pub(crate) fn floor(
        &self,
        store: &Store,
        conversation: Conversation,
        head: &Head,
        cap: u32,
    ) -> Result<Option<u64>, StorageError> {
        // Every 1:1 message counts, so a short 1:1 conversation needs no look.
        if matches!(conversation, Conversation::Direct { .. }) && head.counted <= u64::from(cap) {
            return Ok(None);
        }
        if let Some((newest, floor)) = self.lock().get(&conversation) {
            if *newest == head.last {
                return Ok(*floor);
            }
        }
        let floor = message::cap_floor(store, conversation, cap)?;
        let mut found = self.lock();
        if found.len() >= MOST {
            found.clear();
        }
        found.insert(conversation, (head.last, floor));
        Ok(floor)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Conversation, (u64, Option<u64>)>> {
        self.found.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
