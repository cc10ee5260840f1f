//! The steps that bring older data up to the current layout, newest last.
//! Each domain migrates its own data; see [`crate::storage::migrate`].

use super::{account, conversation, group, message, social, update};
use crate::storage::{Migration, Migrator, StorageError, Store};

/// Every step, in version order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2,
        describe: "seven trees become one tree of keyspaces; inboxes become update logs",
        run: from_v1,
    },
    Migration {
        version: 3,
        describe: "users who already talked one to one become friends (1:1 messages are friends-only by default)",
        run: social::store::from_v2,
    },
    Migration {
        version: 4,
        describe: "conversations get heads and read positions (everything already stored counts as read)",
        run: conversation::store::from_v3,
    },
    Migration {
        version: 5,
        describe: "conversation heads and read positions get recall and delete-for-me counters; delivery marks start at the devices' cursors",
        run: conversation::store::from_v4,
    },
    Migration {
        version: 6,
        describe: "conversation heads get a retention of their own and a purge mark (none yet)",
        run: conversation::store::from_v5,
    },
    Migration {
        version: 7,
        describe: "the nickname search index is keyed by each nickname's NFKC case fold",
        run: social::store::from_v6,
    },
    Migration {
        version: 8,
        describe: "group invitations are indexed by group too; those into dissolved groups are cleared",
        run: group::store::from_v7,
    },
    Migration {
        version: 9,
        describe: "recalled messages are counted by id range, so unread counts stay cheap however many were recalled",
        run: conversation::store::from_v8,
    },
];

/// The layout version this build writes.
pub fn current_version() -> u32 {
    MIGRATIONS.last().map_or(crate::storage::migrate::KEYSPACES_VERSION, |m| m.version)
}

/// Checks restored data for what no running kith could have written; the
/// message says what is wrong.
pub fn check(store: &Store) -> Result<(), String> {
    let highwater = crate::storage::migrate::checked_highwater(store)?;
    account::store::check(store)?;
    message::store::check(store, highwater)?;
    social::store::check(store)?;
    group::store::check(store)?;
    conversation::store::check(store)?;
    conversation::check_deliveries(store)?;
    update::store::check(store, highwater)
}

fn from_v1(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    account::store::from_v1(m)?;
    message::store::from_v1(m)?;
    update::store::from_v1(m)
}
