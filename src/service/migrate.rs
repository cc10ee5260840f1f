//! The steps that bring older data up to the current layout, newest last.
//! Each domain migrates its own data; see [`crate::storage::migrate`].

mod avatars;

use super::{account, conversation, group, media, message, moment, social, update};
use crate::protocol::MessageKind;
use crate::storage::{Audit, Migration, Migrator, StorageError, Store};

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
        run: social::from_v2,
    },
    Migration {
        version: 4,
        describe: "conversations get heads and read positions (everything already stored counts as read)",
        run: conversations_from_v3,
    },
    Migration {
        version: 5,
        describe: "conversation heads and read positions get recall and delete-for-me counters; delivery marks start at the devices' cursors",
        run: conversations_from_v4,
    },
    Migration {
        version: 6,
        describe: "conversation heads get a retention of their own and a purge mark (none yet)",
        run: message::records::from_v5,
    },
    Migration {
        version: 7,
        describe: "the nickname search index is keyed by each nickname's NFKC case fold",
        run: social::from_v6,
    },
    Migration {
        version: 8,
        describe: "group invitations are indexed by group too; those into dissolved groups are cleared",
        run: group::from_v7,
    },
    Migration {
        version: 9,
        describe: "recalled messages are counted by id range, so unread counts stay cheap however many were recalled",
        run: message::records::from_v8,
    },
    Migration {
        version: 10,
        describe: "avatars become media ids; the avatar strings kept before are cleared (they named no file the server keeps)",
        run: avatars_from_v9,
    },
    Migration {
        version: 11,
        describe: "messages can answer another message, be edited and mention members (none does yet)",
        run: message::from_v10,
    },
    Migration {
        version: 12,
        describe: "privacy settings gain who sees the user online and their last seen (friends, as for a new account)",
        run: social::from_v11,
    },
    Migration {
        version: 13,
        describe: "conversation logs may hold blocks of sealed old messages (the server seals as it runs)",
        run: logs_may_hold_blocks,
    },
    Migration {
        version: 14,
        describe: "blocks of sealed old messages are stored compressed",
        run: message::compress_blocks,
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
    let audit = Audit::new(store);
    account::check(&audit)?;
    message::check(&audit, highwater)?;
    social::check(&audit)?;
    group::check(&audit)?;
    message::records::check(&audit)?;
    message::reactions::check(&audit)?;
    conversation::check_deliveries(&audit)?;
    conversation::check_states(&audit)?;
    update::check(&audit, highwater)?;
    media::check(&audit)?;
    moment::check(&audit)?;
    audit.finish()
}

/// Nothing to convert: a loose message reads as before, and the seal sweep
/// seals old ones as the server runs, with no stop. The step moves the
/// version so that an older kith, which would not see sealed messages,
/// refuses the data instead of serving it without them.
fn logs_may_hold_blocks(_: &mut Migrator<'_>) -> Result<(), StorageError> {
    Ok(())
}

fn from_v1(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    account::from_v1(m)?;
    message::from_v1(m)?;
    update::from_v1(m)
}

fn conversations_from_v3(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    let memberships = group::memberships(m)?;
    message::records::from_v3(m, memberships)
}

fn conversations_from_v4(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    message::records::from_v4(m)?;
    conversation::deliveries_from_v4(m)
}

fn avatars_from_v9(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    social::reshape_profiles(m, avatars::Profile::into)?;
    group::reshape_fields(m, avatars::GroupFields::into)?;
    update::rewrite_notices(m, avatars::notice)?;
    message::rewrite_contents(m, MessageKind::System, avatars::group_event)
}

#[cfg(test)]
mod tests {
    use crate::storage::StorageConfig;

    use super::*;

    /// Every registered keyspace is read by some domain's restore check:
    /// adding one without its check fails here, on an empty database.
    #[test]
    fn every_keyspace_is_checked_on_restore() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StorageConfig::default(), MIGRATIONS).unwrap();
        assert_eq!(check(&store), Ok(()));
    }
}
