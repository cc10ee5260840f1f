//! The registry of every keyspace in the database: its prefix byte, its
//! `<key>_<value>` name and the domain that owns it. Typed handles
//! ([`super::Keyspace`]) are declared next to the code that uses them
//! (`service/<domain>/store.rs`), each pointing at its entry here, so this
//! one file shows the whole layout and no two keyspaces can share a byte.
//! `docs/ARCHITECTURE.md` carries the same table; a test keeps them equal.

/// One keyspace's registry entry.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyspaceInfo {
    /// First byte of every key in the keyspace.
    pub prefix: u8,
    /// `<key>_<value>`, as in the documentation.
    pub name: &'static str,
    /// The service domain that reads and writes it.
    pub domain: &'static str,
    /// The key's parts, for the documentation.
    pub key: &'static str,
    /// The value, for the documentation.
    pub value: &'static str,
}

impl KeyspaceInfo {
    /// Whether its keys begin with a group id. Such an entry belongs to
    /// that group and goes when the group ends ([`super::Tx::erase_group`]),
    /// so a keyspace added here is cleared with no line of code.
    pub fn of_a_group(&self) -> bool {
        self.key.starts_with("group id")
    }
}

macro_rules! keyspaces {
    ($( $(#[$meta:meta])* $ident:ident = $prefix:literal, $name:literal, $domain:literal, $key:literal, $value:literal; )+) => {
        $(
            $(#[$meta])*
            pub const $ident: KeyspaceInfo =
                KeyspaceInfo { prefix: $prefix, name: $name, domain: $domain, key: $key, value: $value };
        )+

        /// Every keyspace, in prefix order.
        pub const ALL: &[&KeyspaceInfo] = &[$(&$ident),+];
    };
}

keyspaces! {
    /// The layout version of the data, moved forward by migrations.
    SCHEMA_VERSION = 0x01, "schema_version", "storage", "—", "u32";
    /// The highest snowflake id ever handed out, so ids stay increasing across restarts.
    IDS_HIGHWATER = 0x02, "ids_highwater", "storage", "—", "u64";

    /// Accounts.
    USERID_USER = 0x10, "userid_user", "account", "user id", "UserRecord";
    /// Usernames, for login and lookup.
    USERNAME_USERID = 0x11, "username_userid", "account", "canonical username (rest of key)", "user id";
    /// The highest user id assigned.
    USERS_LASTID = 0x12, "users_lastid", "account", "—", "u64";
    /// Login tokens by id; only the SHA-256 of the secret is stored.
    TOKENID_TOKEN = 0x13, "tokenid_token", "account", "token id", "TokenRecord";
    /// Each device's current token and type.
    USERDEVICE_DEVICE = 0x14, "userdevice_device", "account", "user id ‖ device id (rest of key)", "DeviceRecord";
    /// The credential generation: bumped by a password change or reset and by disabling, so a login in flight across one fails.
    USERID_GENERATION = 0x15, "userid_generation", "account", "user id", "u64";
    /// A device's renewed token, valid beside its current one until first used.
    USERDEVICE_SUCCESSOR = 0x16, "userdevice_successor", "account", "user id ‖ device id (rest of key)", "token id";
    /// Invitations to register; only the SHA-256 of each secret is stored.
    INVITEID_INVITE = 0x17, "inviteid_invite", "account", "invite code id", "InviteCode";
    /// Deleted accounts: when, and whether what they left is erased yet. Never removed, so an id is never reused.
    USERID_DELETED = 0x18, "userid_deleted", "account", "user id", "DeletedAccount";
    /// Where a device is woken when it has no connection (UnifiedPush); goes when the device is logged out.
    USERDEVICE_PUSH = 0x19, "userdevice_push", "account", "user id ‖ device id (rest of key)", "PushRecord";

    /// Conversation logs: every message, stored once.
    CONVMESSAGE_MESSAGE = 0x20, "convmessage_message", "message", "conversation (17 bytes) ‖ message id", "StoredMessage";
    /// Idempotency: a sender's client message id to the message id it got.
    SENDERCLIENTID_MESSAGEID = 0x21, "senderclientid_messageid", "message", "sender id ‖ client message id (16 bytes)", "message id";
    /// Conversation logs' cold runs: messages past `seal_after_secs`, many to a value, keyed by the first id sealed in.
    CONVBLOCK_MESSAGES = 0x22, "convblock_messages", "message", "conversation (17 bytes) ‖ first message id", "Block";

    /// Per-user update logs: everything a device must not miss.
    USERUPDATE_UPDATE = 0x30, "userupdate_update", "update", "user id ‖ update id", "StoredUpdate";
    /// Per-device cursors: the highest update id each device acknowledged.
    USERDEVICE_CURSOR = 0x31, "userdevice_cursor", "update", "user id ‖ device id (rest of key)", "update id";
    /// How far each user's log was swept of notices past the horizon, and the newest notice removed.
    USERID_HORIZON = 0x32, "userid_horizon", "update", "user id", "Horizon";
    /// How far each user's log was swept of message updates past their window, and the newest one removed.
    USERID_MESSAGEHORIZON = 0x33, "userid_messagehorizon", "update", "user id", "Horizon";

    /// Profiles, beside the account records.
    USERID_PROFILE = 0x40, "userid_profile", "social", "user id", "Profile";
    /// Search visibility and friend request policy; absent means the defaults.
    USERID_PRIVACY = 0x41, "userid_privacy", "social", "user id", "PrivacySettings";
    /// The nickname search index.
    NICKNAME_USERID = 0x42, "nickname_userid", "social", "lower-cased nickname ‖ 0x00 ‖ user id", "—";
    /// What stands between two users: friendship, the pending request, blocks. One record per pair.
    PAIR_RELATION = 0x43, "pair_relation", "social", "lower user id ‖ higher user id", "Relation";
    /// Each user's friends, written with the pair's relation in one job.
    USERFRIEND_FRIEND = 0x44, "userfriend_friend", "social", "user id ‖ friend id", "FriendEntry";
    /// Friend requests, filed under their recipient.
    RECIPIENTREQUEST_REQUEST = 0x45, "recipientrequest_request", "social", "recipient id ‖ request id", "RequestRecord";
    /// The requests each user sent, pointing at their recipient.
    SENDERREQUEST_RECIPIENT = 0x46, "senderrequest_recipient", "social", "sender id ‖ request id", "recipient id";
    /// Each user's block list.
    USERBLOCKED_SINCE = 0x47, "userblocked_since", "social", "user id ‖ blocked user id", "ms since the epoch";
    /// Who sees each personal field of a profile; absent means everyone sees them.
    USERID_FIELDVISIBILITY = 0x48, "userid_fieldvisibility", "social", "user id", "FieldVisibility";
    /// When each user's last device went offline, written in batches (`social.last_seen_flush_secs`).
    USERID_LASTSEEN = 0x49, "userid_lastseen", "social", "user id", "ms since the epoch";

    /// Groups: information, owner, member count.
    GROUPID_GROUP = 0x50, "groupid_group", "group", "group id", "GroupRecord";
    /// Each group's members, with role, alias, join and mute.
    GROUPMEMBER_MEMBER = 0x51, "groupmember_member", "group", "group id ‖ user id", "MemberRecord";
    /// Each user's groups, written with the membership in one job.
    USERGROUP_JOINED = 0x52, "usergroup_joined", "group", "user id ‖ group id", "join id";
    /// Each group's ban list.
    GROUPUSER_BAN = 0x53, "groupuser_ban", "group", "group id ‖ user id", "BanRecord";
    /// Pending join requests: at most one per user and group.
    GROUPUSER_REQUEST = 0x54, "groupuser_request", "group", "group id ‖ user id", "JoinRequestRecord";
    /// Pending invitations, filed under the invitee: at most one per user and group.
    USERGROUP_INVITATION = 0x55, "usergroup_invitation", "group", "user id ‖ group id", "GroupInvitation";
    /// The newest message of each large group that is in no member's update log.
    GROUPID_UNLOGGED = 0x56, "groupid_unlogged", "group", "group id", "message id";
    /// The mute of a member who left or was removed while muted, put back if they return before it ends.
    GROUPUSER_MUTED = 0x57, "groupuser_muted", "group", "group id ‖ user id", "muted until (ms)";
    /// The windows of a user's ended memberships of a group (the newest few): what they may still read, up to each exit.
    USERGROUP_WINDOWS = 0x58, "usergroup_windows", "group", "user id ‖ group id", "list of PastWindow";
    /// Invitations by group, beside `usergroup_invitation`, so a dissolved group's are found and cleared.
    GROUPUSER_INVITED = 0x59, "groupuser_invited", "group", "group id ‖ user id", "—";

    /// Each conversation's newest message and count of messages that can be unread; a 1:1 conversation's also holds both users' read positions.
    CONV_HEAD = 0x60, "conv_head", "message", "conversation (17 bytes)", "Head";
    /// A group's running count at each message that can be unread, to count from a read position.
    CONVMESSAGE_COUNTED = 0x61, "convmessage_counted", "message", "conversation ‖ message id", "u64";
    /// Each user's conversations (their list), with when the user last changed each.
    USERCONV_UPDATED = 0x62, "userconv_updated", "message", "user id ‖ conversation", "update id";
    /// Each group member's read position.
    GROUPUSER_READ = 0x63, "groupuser_read", "message", "group id ‖ user id", "Read";
    /// Each group's members by read position (those who send read receipts).
    GROUPREAD_USER = 0x64, "groupread_user", "message", "group id ‖ read position ‖ user id", "—";
    /// Users who turned read receipts off.
    USERID_NORECEIPTS = 0x65, "userid_noreceipts", "message", "user id", "ms since the epoch";
    /// Recalled messages that had counted as unread, with who recalled each: what unread counts leave out.
    CONVMESSAGE_RECALLED = 0x66, "convmessage_recalled", "message", "conversation ‖ message id", "user id";
    /// Messages a user deleted for themselves, and whether each counted as unread.
    USERCONVMESSAGE_HIDDEN = 0x67, "userconvmessage_hidden", "message", "user id ‖ conversation ‖ message id", "bool";
    /// How far each user cleared each conversation for themselves.
    USERCONV_CLEARED = 0x68, "userconv_cleared", "message", "user id ‖ conversation", "message id";
    /// The highest update id any of a user's devices acknowledged: how far delivery receipts went.
    USERID_DELIVERED = 0x69, "userid_delivered", "conversation", "user id", "update id";
    /// Recalls per id range, at ten widths, so an unread count finds how many recalled messages lie above a read position in a bounded number of reads.
    CONVRANGE_RECALLS = 0x6A, "convrange_recalls", "message", "conversation ‖ level ‖ range", "u64";
    /// Each user's pinned conversations and drafts, the same on all their devices.
    USERCONV_STATE = 0x6B, "userconv_state", "conversation", "user id ‖ conversation", "ConversationState";
    /// Each user's emoji on each message, removed with the message.
    CONVMESSAGEUSER_REACTIONS = 0x6C, "convmessageuser_reactions", "message", "conversation ‖ message id ‖ user id", "Vec<String>";
    /// The newest message of each conversation that mentioned each user: "mentioned you" until read.
    USERCONV_MENTIONED = 0x6D, "userconv_mentioned", "message", "user id ‖ conversation", "message id";

    /// Stored files by media id: uploader, content, type, and since when nobody may read them.
    MEDIAID_MEDIA = 0x70, "mediaid_media", "media", "media id", "MediaRecord";
    /// Each distinct file on disk, by content: its size and how many media ids name it.
    HASH_BLOB = 0x71, "hash_blob", "media", "SHA-256 (32 bytes)", "Blob";
    /// How many of a user's media ids name each file: a file counts once against their quota.
    USERHASH_COUNT = 0x72, "userhash_count", "media", "user id ‖ SHA-256", "u64";
    /// Bytes of files each user stores, against their quota.
    USERID_MEDIABYTES = 0x73, "userid_mediabytes", "media", "user id", "u64";
    /// The messages that carry each file: what decides who may read it.
    MEDIAMESSAGE_REF = 0x74, "mediamessage_ref", "media", "media id ‖ conversation ‖ message id", "—";
    /// Uploads, kept until they expire (a finished one names its media id, for a retried finish).
    UPLOADID_UPLOAD = 0x75, "uploadid_upload", "media", "upload id", "Upload";
    /// Each user's unfinished uploads.
    USERUPLOAD_OPEN = 0x76, "userupload_open", "media", "user id ‖ upload id", "—";
    /// The users whose profile shows each file as their avatar.
    MEDIAUSER_AVATAR = 0x77, "mediauser_avatar", "media", "media id ‖ user id", "—";
    /// The groups that show each file as their avatar.
    MEDIAGROUP_AVATAR = 0x78, "mediagroup_avatar", "media", "media id ‖ group id", "—";
    /// The moments that show each file: what lets their viewers read it.
    MEDIAMOMENT_SHOWN = 0x79, "mediamoment_shown", "media", "media id ‖ moment id", "—";

    /// Moments by id: author, text, files, place, audience, counts.
    MOMENTID_MOMENT = 0x80, "momentid_moment", "moment", "moment id", "MomentRecord";
    /// Each author's moments: what the feed merges and a user's page reads.
    USERMOMENT_POSTED = 0x81, "usermoment_posted", "moment", "user id ‖ moment id", "—";
    /// Each moment's likes, with the id of the notice its author got.
    MOMENTUSER_LIKE = 0x82, "momentuser_like", "moment", "moment id ‖ user id", "like id";
    /// Each user's likes, for their export and erasure.
    USERMOMENT_LIKED = 0x83, "usermoment_liked", "moment", "user id ‖ moment id", "—";
    /// Each moment's comments.
    MOMENTCOMMENT_COMMENT = 0x84, "momentcomment_comment", "moment", "moment id ‖ comment id", "CommentRecord";
    /// Each user's comments, for their export and erasure.
    USERCOMMENT_MOMENT = 0x85, "usercomment_moment", "moment", "user id ‖ comment id", "moment id";
    /// How far back others see each user's moments; absent means all of them.
    USERID_MOMENTWINDOW = 0x86, "userid_momentwindow", "moment", "user id", "MomentWindow";
    /// The two per-friend settings between two users, kept under both: what each hides from the other.
    USERPEER_MOMENTFILTER = 0x87, "userpeer_momentfilter", "moment", "user id ‖ other user id", "PairFilter";
    /// Idempotency: an author's client id to the moment it posted.
    USERCLIENTID_MOMENTID = 0x88, "userclientid_momentid", "moment", "user id ‖ client id (16 bytes)", "moment id";
    /// The moments each user posted in the last day, deleted ones too: what `moments.per_day` counts.
    USERID_RECENTMOMENTS = 0x89, "userid_recentmoments", "moment", "user id", "list of moment ids";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_unique_and_in_order() {
        for pair in ALL.windows(2) {
            assert!(
                pair[0].prefix < pair[1].prefix,
                "{} and {} are out of order or share a byte",
                pair[0].name,
                pair[1].name
            );
        }
    }

    /// ARCHITECTURE's storage table is this registry, row for row, so a
    /// keyspace is added in one place: `KITH_BLESS=1` writes the table in.
    #[test]
    fn the_architecture_document_shows_this_registry() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ARCHITECTURE.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = doc.lines().collect();
        let is_row = |l: &str| l.starts_with("| `0x");
        let first = lines.iter().position(|l| is_row(l)).expect("a storage table");
        let end = first + lines[first..].iter().take_while(|l| is_row(l)).count();
        let expected: Vec<String> = ALL
            .iter()
            .map(|ks| format!("| `0x{:02x}` | `{}` | {} | {} | {} |", ks.prefix, ks.name, ks.domain, ks.key, ks.value))
            .collect();
        if std::env::var_os("KITH_BLESS").is_some() {
            let rows: Vec<&str> = expected.iter().map(String::as_str).collect();
            std::fs::write(path, [&lines[..first], &rows[..], &lines[end..]].concat().join("\n") + "\n").unwrap();
            return;
        }
        assert_eq!(
            lines[first..end],
            expected,
            "docs/ARCHITECTURE.md's storage table and storage/schema.rs differ (KITH_BLESS=1 writes it)"
        );
    }

    #[test]
    fn names_read_key_underscore_value() {
        for ks in ALL {
            assert_eq!(ks.name.matches('_').count(), 1, "{}", ks.name);
            assert!(ks.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{}", ks.name);
        }
    }
}
