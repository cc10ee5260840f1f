//! Server configuration: every address, path, limit and timeout, with its default.
//!
//! A TOML file (see `packaging/kith.toml`, printed by `kith config default`)
//! is read first; `--set section.key=value` flags and the dedicated flags of
//! `kith serve` are applied on top of it before it is checked.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::codec::HARD_MAX_BODY;
use crate::storage::StorageConfig;

/// The commented default configuration: what `kith serve` uses with no
/// file, with paths relative to where it is started.
pub const DEFAULT_TOML: &str = include_str!("../packaging/kith.toml");

/// Where a packaged install keeps its state.
pub const PACKAGED_STATE_DIR: &str = "/var/lib/kith";

/// The default configuration with the packaged paths (`/var/lib/kith`):
/// the Debian package's `/etc/kith/kith.toml`, generated from the same text.
pub fn packaged_toml() -> String {
    DEFAULT_TOML
        .replace("data_dir = \"./data\"", &format!("data_dir = \"{PACKAGED_STATE_DIR}\""))
        .replace("\"./certs/", &format!("\"{PACKAGED_STATE_DIR}/certs/"))
        .replace(
            "# Relative paths are relative to the directory kith is started in.",
            "# Installed by the kith Debian package; a conffile, kept across upgrades.",
        )
}

/// Everything `kith serve` needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the database (and later media) live.
    pub data_dir: PathBuf,
    /// Listening sockets.
    pub listen: ListenConfig,
    /// Certificate and key for TLS and QUIC.
    pub tls: TlsConfig,
    /// Bounds on what one client may use.
    pub limits: Limits,
    /// Storage tuning and durability.
    pub storage: StorageConfig,
    /// Friends, requests, blocking and search.
    pub social: SocialConfig,
    /// Groups: sizes and how messages reach members.
    pub group: GroupConfig,
    /// Conversations: read receipts, recall, offline caps, retention.
    pub conversation: ConversationConfig,
    /// Files: sizes, quotas, uploads, the sweep, signed URLs.
    pub media: MediaConfig,
    /// Who may create an account, and what join links carry.
    pub registration: RegistrationConfig,
    /// Moments: sizes, daily posts, comments, likes, how long they are kept.
    pub moments: MomentsConfig,
    /// Wake-ups of sleeping phones through their UnifiedPush distributors.
    pub push: PushConfig,
    /// Log output.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            listen: ListenConfig::default(),
            tls: TlsConfig::default(),
            limits: Limits::default(),
            storage: StorageConfig::default(),
            social: SocialConfig::default(),
            group: GroupConfig::default(),
            conversation: ConversationConfig::default(),
            media: MediaConfig::default(),
            registration: RegistrationConfig::default(),
            moments: MomentsConfig::default(),
            push: PushConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// Listening addresses; `"off"` disables a listener, port 0 picks a free port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    /// TCP with TLS: the main transport.
    #[serde(with = "optional_addr")]
    pub tls: Option<SocketAddr>,
    /// QUIC over UDP.
    #[serde(with = "optional_addr")]
    pub quic: Option<SocketAddr>,
    /// Plain TCP without TLS, for development and tests; off by default.
    #[serde(with = "optional_addr")]
    pub tcp: Option<SocketAddr>,
    /// Lets `tcp` bind a non-loopback address. Anything sent over it —
    /// passwords, tokens, messages — is readable on the network.
    pub allow_remote_plain_tcp: bool,
}

impl Default for ListenConfig {
    fn default() -> Self {
        let any: SocketAddr = ([0, 0, 0, 0], 7420).into();
        ListenConfig { tls: Some(any), quic: Some(any), tcp: None, allow_remote_plain_tcp: false }
    }
}

/// Certificate files (PEM). Both are generated, self-signed, if both are missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig { cert: PathBuf::from("./certs/cert.pem"), key: PathBuf::from("./certs/key.pem") }
    }
}

/// Bounds on what one client may use. Each names what happens on overflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest frame body; a bigger header gets `FrameTooLarge` and the connection closes.
    pub max_frame_bytes: usize,
    /// Largest message content; bigger gets `InvalidArgument`.
    pub max_content_bytes: usize,
    /// Largest message `extra`; bigger gets `InvalidArgument`.
    pub max_extra_bytes: usize,
    /// Seconds a new connection has to finish the TLS or QUIC handshake before it is dropped.
    pub handshake_timeout_secs: u64,
    /// Seconds a connection has to authenticate before it is closed (`AuthTimeout`).
    pub auth_timeout_secs: u64,
    /// Seconds without any frame after which an authenticated connection is closed (`IdleTimeout`).
    pub idle_timeout_secs: u64,
    /// Frames waiting to be written to one connection; when full, the
    /// connection is closed (`SlowConsumer`) and the client syncs on reconnect.
    pub outbound_queue: usize,
    /// Seconds one write to a connection may take; a peer that stops reading
    /// for longer is disconnected.
    pub write_timeout_secs: u64,
    /// Requests one connection may have in progress; further frames are not
    /// read until one finishes.
    pub max_inflight: usize,
    /// Sustained requests per second per connection; above it, `RateLimited`.
    pub requests_per_second: u32,
    /// Requests a connection may make in a burst above the sustained rate.
    pub request_burst: u32,
    /// Connections in total; further ones are closed before the handshake.
    pub max_connections: usize,
    /// Connections per client IP address; further ones are closed before the handshake.
    pub max_connections_per_ip: usize,
    /// Password hashes computed at once; more logins wait their turn.
    /// Registrations may use all but one of them (at least one), so logins
    /// never queue behind a flood of registrations.
    pub max_concurrent_hashes: usize,
    /// Registrations over the protocol per client address (IPv6: per /64)
    /// per hour; beyond it, `RateLimited`. Operator-created accounts do not count.
    pub registrations_per_address_per_hour: u32,
    /// Registrations being validated and hashed at once, server-wide; beyond
    /// it, `RateLimited` at once instead of a queue.
    pub max_pending_registrations: usize,
    /// Largest frame body before a connection authenticates (a Register or
    /// Login fits in well under 1 KiB); a bigger header gets `FrameTooLarge`
    /// and the connection closes, so an anonymous peer cannot make the server
    /// hold large buffers.
    pub max_unauthenticated_frame_bytes: usize,
    /// QUIC handshakes in progress above which a new peer must first prove
    /// its address with a Retry round trip (forged UDP senders cannot), so
    /// spoofed Initial packets cannot fill the connection cap. 0 asks every
    /// peer.
    pub quic_validate_above: usize,
    /// Seconds a login token stays valid (30 days by default).
    pub token_ttl_secs: u64,
    /// Seconds before its expiry within which a token used with `Auth` is
    /// renewed: the reply carries a fresh token (10 days by default).
    pub token_renew_within_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 128 * 1024,
            max_content_bytes: 64 * 1024,
            max_extra_bytes: 1024,
            handshake_timeout_secs: 10,
            auth_timeout_secs: 10,
            idle_timeout_secs: 180,
            outbound_queue: 1024,
            write_timeout_secs: 15,
            max_inflight: 128,
            requests_per_second: 500,
            request_burst: 1000,
            max_connections: 100_000,
            max_connections_per_ip: 1_000,
            max_concurrent_hashes: 2,
            registrations_per_address_per_hour: 20,
            max_pending_registrations: 4,
            max_unauthenticated_frame_bytes: 4096,
            quic_validate_above: 32,
            token_ttl_secs: 30 * 86_400,
            token_renew_within_secs: 10 * 86_400,
        }
    }
}

impl Limits {
    /// [`Limits::auth_timeout_secs`] as a duration.
    pub fn auth_timeout(&self) -> Duration {
        Duration::from_secs(self.auth_timeout_secs)
    }

    /// [`Limits::idle_timeout_secs`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// [`Limits::write_timeout_secs`] as a duration.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs)
    }

    /// [`Limits::handshake_timeout_secs`] as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }
}

/// Friends, requests, blocking and search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocialConfig {
    /// Who may start a 1:1 conversation: `friends` or `anyone` not blocked.
    /// Under `friends`, a `Send` to someone else gets `NotPermitted`; what
    /// two former friends wrote stays in their history either way.
    pub direct_messages: DirectMessages,
    /// Seconds a friend request stays answerable (7 days by default); after
    /// that it is `Expired`.
    pub friend_request_ttl_secs: u64,
    /// Friend requests one user may send per 24 hours; beyond it, `RateLimited`.
    pub friend_requests_per_day: u32,
    /// `SearchUsers` calls one user may make per minute; beyond it,
    /// `RateLimited`, so the directory cannot be listed by brute force.
    pub searches_per_minute: u32,
    /// `GetProfile` calls one user may make per hour for users they are not
    /// related to (not a friend, someone who asked them, a conversation
    /// peer who wrote back or read, or a fellow group member); beyond it,
    /// `RateLimited`, so profiles cannot be listed by counting user ids up.
    pub profile_lookups_per_hour: u32,
    /// Users one `Presence` call may name, and so how many one connection
    /// may watch; beyond it, `LimitExceeded`. Each watched user costs the
    /// server a few bytes per connection and a push when they come and go.
    pub presence_users_max: u32,
    /// Seconds between writes of the last-seen times that changed: going
    /// offline costs no disk write of its own, and a crash forgets at most
    /// this much of them (a clean stop writes them all).
    pub last_seen_flush_secs: u64,
}

impl Default for SocialConfig {
    fn default() -> Self {
        SocialConfig {
            direct_messages: DirectMessages::Friends,
            friend_request_ttl_secs: 7 * 86_400,
            friend_requests_per_day: 100,
            searches_per_minute: 30,
            profile_lookups_per_hour: 200,
            presence_users_max: 200,
            last_seen_flush_secs: 60,
        }
    }
}

impl SocialConfig {
    /// How long a friend request stays answerable, in milliseconds.
    pub fn request_ttl_ms(&self) -> u64 {
        self.friend_request_ttl_secs.saturating_mul(1000)
    }

    /// [`SocialConfig::last_seen_flush_secs`] as a duration.
    pub fn last_seen_flush(&self) -> Duration {
        Duration::from_secs(self.last_seen_flush_secs)
    }
}

/// Groups: sizes and how messages reach members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupConfig {
    /// Most members one group may have; a join, an accepted request or
    /// invitation beyond it gets `NotPermitted` naming the limit.
    pub max_members: u32,
    /// Most groups one user may belong to (creating one counts).
    pub max_groups_per_user: u32,
    /// Groups with at most this many members put each message into every
    /// member's update log (write diffusion: one row per member, so `Sync`
    /// alone catches a device up). Larger groups write the message once and
    /// `Sync` names the group for the device to pull (read diffusion). See
    /// docs/ARCHITECTURE.md for the measurements behind the default.
    pub write_diffusion_max: u32,
    /// Group invitations one user may send per hour, counting a new
    /// group's initial members; beyond it, `RateLimited`.
    pub invitations_per_hour: u32,
    /// Groups a user left (or was removed from) whose windows are kept, so
    /// `History` still reads them to the exit; past it the group left
    /// longest ago is forgotten. Each group keeps its last 8 windows.
    pub left_groups_kept: u32,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            max_members: 5_000,
            max_groups_per_user: 500,
            write_diffusion_max: 100,
            invitations_per_hour: 200,
            left_groups_kept: 100,
        }
    }
}

/// Conversations: read receipts, recall, offline caps, retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConversationConfig {
    /// Groups with at most this many members answer `MessageReaders` with
    /// the readers' ids; larger ones give only the count, so one call
    /// cannot return thousands of ids.
    pub who_read_max_members: u32,
    /// How long after sending its sender may recall a message, by kind.
    pub recall_seconds: RecallWindows,
    /// A device that missed more messages of one 1:1 conversation than this
    /// gets the newest this many from `Sync`, with the conversation marked
    /// limited; it pages through the rest with `History`.
    pub offline_cap_direct: u32,
    /// The same for a group conversation.
    pub offline_cap_group: u32,
    /// Seconds every conversation keeps a message after it was sent (0:
    /// until deleted). Older messages are no longer returned and are
    /// purged; a conversation's own retention may be shorter, not longer.
    pub retention_secs: u64,
    /// Seconds between two looks for expired messages to purge.
    pub purge_interval_secs: u64,
    /// Rows (messages and the index entries pointing at them) one purge
    /// job deletes at most, so sends queued behind it wait briefly.
    pub purge_batch: u32,
    /// Seconds a notice — an update of the update log other than a message:
    /// friend requests, receipts, invitations, … — stays in its user's log
    /// (0: for ever). Older notices are removed with the purge; a device
    /// that syncs from before the newest one removed is told to re-read
    /// its state. Messages stay as long as their conversation keeps them.
    pub notices_kept_secs: u64,
    /// Seconds a message stays in its recipients' update logs, so that
    /// `Sync` hands it to a device that missed it (0: for ever). The
    /// message stays in its conversation for `History` as long as the
    /// conversation keeps it; a device away for longer is told which
    /// conversations to pull with `History` (`limited`). Each message
    /// update is a key of its own, so this bounds the logs to this window's
    /// messages, not every message ever sent.
    pub message_updates_kept_secs: u64,
    /// Seconds after sending during which a `Send` retried with the same
    /// `client_msg_id` is answered with the original message (0: for
    /// ever). Later, the id is forgotten and a retry is a new message; the
    /// sweep removes the forgotten entries with the purge, so the index
    /// holds this window's messages, not every message ever sent.
    pub idempotency_secs: u64,
    /// Seconds after which a message is sealed: moved with its
    /// conversation's other old messages into blocks of up to 64, one
    /// database key each (0: never). The database keeps memory for every
    /// key it holds, so sealing keeps memory at rest from growing with each
    /// message kept; a sealed message still reads, changes and expires as
    /// any other, at the cost of rewriting its block. The sweep that seals
    /// runs with the purge, every tenth of this time (at most hourly).
    pub seal_after_secs: u64,
    /// `Typing` signals one user may send per minute, over all their
    /// conversations; more are refused (`RateLimited`) until the minute
    /// has passed.
    pub typing_per_minute: u32,
    /// Seconds after sending during which the sender may edit a text
    /// message (0: edits are off). The text before an edit is not kept.
    pub edit_seconds: u64,
    /// Conversations one user may pin at once; one more is refused
    /// (`NotPermitted` with the limit).
    pub pinned_max: u32,
    /// Conversations one user may keep a draft in at once; one more is
    /// refused (`NotPermitted` with the limit).
    pub drafts_max: u32,
    /// Characters of one draft.
    pub draft_max_chars: u32,
    /// Emoji one user may put on one message; one more is refused
    /// (`NotPermitted` with the limit).
    pub reactions_per_user: u32,
    /// Users a message's reactions name per emoji; beyond it only the
    /// count grows.
    pub reaction_users_listed: u32,
    /// Members one group message may mention by name (mentioning everyone
    /// counts one).
    pub mentions_max: u32,
    /// Messages mentioning everyone one group may carry per hour, whoever
    /// sends them: each enters every member's update log, so in a group of
    /// thousands it costs thousands of writes. Beyond it, `RateLimited`.
    pub everyone_mentions_per_hour: u32,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        ConversationConfig {
            who_read_max_members: 100,
            recall_seconds: RecallWindows::default(),
            offline_cap_direct: 5_000,
            offline_cap_group: 1_000,
            retention_secs: 0,
            purge_interval_secs: 60,
            purge_batch: 2_000,
            notices_kept_secs: 180 * 86_400,
            message_updates_kept_secs: 30 * 86_400,
            idempotency_secs: 30 * 86_400,
            seal_after_secs: 2 * 86_400,
            typing_per_minute: 60,
            edit_seconds: 2 * 86_400,
            pinned_max: 10,
            drafts_max: 200,
            draft_max_chars: 2_000,
            reactions_per_user: 3,
            reaction_users_listed: 20,
            mentions_max: 50,
            everyone_mentions_per_hour: 10,
        }
    }
}

/// Recall windows in seconds, one per message kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecallWindows {
    /// Text.
    pub text: u64,
    /// Images.
    pub image: u64,
    /// Voice clips.
    pub voice: u64,
    /// Videos.
    pub video: u64,
    /// Files.
    pub file: u64,
    /// Locations.
    pub location: u64,
    /// Application-defined messages.
    pub custom: u64,
}

impl Default for RecallWindows {
    fn default() -> Self {
        const SHORT: u64 = 120;
        const LONG: u64 = 3 * 3600;
        RecallWindows {
            text: SHORT,
            image: SHORT,
            voice: SHORT,
            video: LONG,
            file: LONG,
            location: SHORT,
            custom: SHORT,
        }
    }
}

impl RecallWindows {
    /// The window for a kind; server-written kinds have none.
    pub fn of(&self, kind: crate::protocol::MessageKind) -> Option<u64> {
        use crate::protocol::MessageKind as K;
        match kind {
            K::Text => Some(self.text),
            K::Image => Some(self.image),
            K::Voice => Some(self.voice),
            K::Video => Some(self.video),
            K::File => Some(self.file),
            K::Location => Some(self.location),
            K::Custom => Some(self.custom),
            K::System | K::Recalled | K::Expired => None,
        }
    }
}

/// Files kept by the server: photos, voice, video, documents, avatars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Largest file one upload may declare, in bytes; beyond it `StartUpload`
    /// gets `FileTooLarge`.
    pub max_file_bytes: u64,
    /// Bytes of files one user may store; a file counts once per user
    /// however often they sent it. Beyond it, `QuotaExceeded`.
    pub quota_bytes: u64,
    /// Uploads are refused (`StorageFull`) when the disk holding the data
    /// directory would keep less free space than this, in MiB, so a full
    /// disk never stops messages.
    pub free_disk_floor_mb: u64,
    /// Most bytes one `UploadChunk` carries and one `GetMedia` returns; at
    /// most `limits.max_frame_bytes` less 256. Larger chunks move files
    /// faster; each chunk holds the connection's other requests up to its
    /// length, which bounds what a transfer costs chat on it.
    pub chunk_bytes: u32,
    /// Unfinished uploads one user may have at once.
    pub uploads_per_user: u32,
    /// Seconds an unfinished upload may take before it is discarded.
    pub upload_expiry_secs: u64,
    /// Seconds a file nobody may read any more (never sent, or its messages
    /// recalled or expired) is kept before the sweep deletes it; an upload
    /// has this long to be sent.
    pub orphan_grace_secs: u64,
    /// Seconds between two sweeps of unreferenced files and expired uploads.
    pub sweep_interval_secs: u64,
    /// Seconds a signed HTTPS URL (`MediaUrl`) stays valid. Access is
    /// checked again on every request, so a recall or a block takes effect
    /// at once whatever is left.
    pub url_secs: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            max_file_bytes: 512 * 1024 * 1024,
            quota_bytes: 5 * 1024 * 1024 * 1024,
            free_disk_floor_mb: 1024,
            chunk_bytes: 64 * 1024,
            uploads_per_user: 8,
            upload_expiry_secs: 86_400,
            orphan_grace_secs: 86_400,
            sweep_interval_secs: 600,
            url_secs: 600,
        }
    }
}

/// Moments: posts with text, photos or a video, shown to chosen friends,
/// with likes and comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MomentsConfig {
    /// Longest text of a moment, in characters.
    pub text_max_chars: u32,
    /// Moments one user may post in 24 hours; beyond it, `RateLimited`.
    pub per_day: u32,
    /// Friends one moment may list as its only audience, or leave out.
    pub listed_max: u32,
    /// Longest comment, in characters.
    pub comment_max_chars: u32,
    /// Comments one moment may hold; beyond it, `NotPermitted`.
    pub comments_per_moment: u32,
    /// Likes one moment may hold; beyond it, `NotPermitted`. Deleting a
    /// moment removes its likes in one write, which this bounds.
    pub likes_per_moment: u32,
    /// Seconds a moment is kept, with its likes and comments; 0 keeps them
    /// until their author deletes them.
    pub retention_secs: u64,
}

impl Default for MomentsConfig {
    fn default() -> Self {
        MomentsConfig {
            text_max_chars: 2000,
            per_day: 50,
            listed_max: 500,
            comment_max_chars: 500,
            comments_per_moment: 1000,
            likes_per_moment: 10_000,
            retention_secs: 0,
        }
    }
}

/// Wake-ups (WebPush, RFC 8030/8291/8292) to the UnifiedPush endpoints
/// devices register: at most one per device per interval, only while the
/// device has no connection, carrying no message text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// Whether wake-ups are sent at all; off, `SetPushEndpoint` is refused.
    pub enabled: bool,
    /// Seconds between two wake-ups of one device at most: what arrives
    /// meanwhile is told by the next one.
    pub interval_secs: u32,
    /// Hosts (names or addresses, as the endpoint URL writes them) that may
    /// be reached over plain `http://` and at loopback, private or
    /// link-local addresses, such as a distributor on the home network
    /// (`"ntfy.lan"`, `"192.168.1.20"`). Any other endpoint must be
    /// `https://` and resolve to public addresses only.
    pub local_hosts: Vec<String>,
    /// Wake-ups waiting for the sender; beyond it new ones are dropped
    /// (and counted), so a slow push service never grows memory.
    pub queue: usize,
    /// Requests to push services in flight at once.
    pub concurrency: usize,
    /// Seconds one request may take, connection included.
    pub timeout_secs: u64,
    /// Attempts after a first one that failed with 429, a 5xx status or no
    /// answer, waiting as `Retry-After` says or twice as long each time.
    pub retries: u32,
    /// Seconds a push service keeps a wake-up for a device it cannot reach
    /// (the `TTL` header).
    pub ttl_secs: u32,
    /// The VAPID contact (`mailto:` or `https:` URL) push services may use
    /// to reach the operator; empty leaves it out.
    pub contact: String,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            enabled: true,
            interval_secs: 60,
            local_hosts: Vec::new(),
            queue: 1024,
            concurrency: 16,
            timeout_secs: 10,
            retries: 4,
            ttl_secs: 86_400,
            contact: String::new(),
        }
    }
}

/// Who may create an account, and what join links carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    /// `open` (anyone who reaches the server), `invite` (a `Register` must
    /// carry a valid invitation) or `closed` (only `kith user add`).
    /// Re-read on SIGHUP (`systemctl reload kith`).
    pub policy: RegistrationPolicy,
    /// The host name or address phones reach this server at, put into join
    /// links (`kith invite create`); empty means the TLS listen address,
    /// when that is a specific one.
    pub public_host: String,
    /// Days the username of a deleted account stays taken, so nobody can
    /// pass for its owner to the people who knew them; 0 frees it at once.
    pub deleted_name_hold_days: u32,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            policy: RegistrationPolicy::Invite,
            public_host: String::new(),
            deleted_name_hold_days: 30,
        }
    }
}

impl RegistrationConfig {
    /// How long a deleted account's username stays taken, in ms.
    pub fn deleted_name_hold_ms(&self) -> u64 {
        u64::from(self.deleted_name_hold_days) * 86_400_000
    }
}

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationPolicy {
    /// Anyone who can reach the server.
    Open,
    /// Whoever holds a valid invitation.
    Invite,
    /// Nobody over the protocol; the operator creates accounts.
    Closed,
}

/// Who may start a 1:1 conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectMessages {
    /// Only friends.
    Friends,
    /// Anyone who has not blocked the sender (and whom the sender has not blocked).
    Anyone,
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `kith=debug`; `RUST_LOG` wins over it.
    pub level: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: LogFormat::Text }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed, has an unknown key or a value of the wrong type.
    #[error("{0}")]
    Parse(#[from] toml::de::Error),
    /// A `--set` flag is not of the form `section.key=value`.
    #[error("--set {0}: expected section.key=value")]
    Override(String),
    /// A value is of the right type but not allowed.
    #[error("{key} = {value}: {reason}")]
    Invalid {
        /// Dotted key.
        key: &'static str,
        /// The offending value.
        value: String,
        /// What is allowed.
        reason: String,
    },
}

impl Config {
    /// Reads a config file (or the defaults when `path` is `None`), applies
    /// `section.key=value` overrides, and checks the result.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.into(), source })?,
            None => String::new(),
        };
        let mut table: toml::Table = toml::from_str(&text)?;
        for item in overrides {
            apply_override(&mut table, item)?;
        }
        let config: Config = toml::Value::Table(table).try_into()?;
        config.validate()?;
        Ok(config)
    }

    /// Checks rules that types alone cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        let invalid = |key, value: &dyn ToString, reason: &str| {
            Err(ConfigError::Invalid { key, value: value.to_string(), reason: reason.to_string() })
        };
        if l.max_frame_bytes > HARD_MAX_BODY {
            return invalid("limits.max_frame_bytes", &l.max_frame_bytes, &format!("at most {HARD_MAX_BODY}"));
        }
        if l.max_frame_bytes < l.max_content_bytes + l.max_extra_bytes + 256 {
            return invalid(
                "limits.max_frame_bytes",
                &l.max_frame_bytes,
                "must exceed max_content_bytes + max_extra_bytes + 256 so a full message fits",
            );
        }
        if l.max_unauthenticated_frame_bytes < 1024 || l.max_unauthenticated_frame_bytes > l.max_frame_bytes {
            return invalid(
                "limits.max_unauthenticated_frame_bytes",
                &l.max_unauthenticated_frame_bytes,
                "must be at least 1024 (a Register or Login must fit) and at most max_frame_bytes",
            );
        }
        if self.media.chunk_bytes < 1024 || self.media.chunk_bytes as usize + 256 > l.max_frame_bytes {
            return invalid(
                "media.chunk_bytes",
                &self.media.chunk_bytes,
                "must be at least 1024 and at most limits.max_frame_bytes - 256 so a chunk fits a frame",
            );
        }
        let positive: [(&'static str, u64); 42] = [
            ("moments.text_max_chars", u64::from(self.moments.text_max_chars)),
            ("moments.per_day", u64::from(self.moments.per_day)),
            ("moments.listed_max", u64::from(self.moments.listed_max)),
            ("moments.comment_max_chars", u64::from(self.moments.comment_max_chars)),
            ("moments.comments_per_moment", u64::from(self.moments.comments_per_moment)),
            ("moments.likes_per_moment", u64::from(self.moments.likes_per_moment)),
            ("media.max_file_bytes", self.media.max_file_bytes),
            ("media.uploads_per_user", u64::from(self.media.uploads_per_user)),
            ("media.upload_expiry_secs", self.media.upload_expiry_secs),
            ("media.sweep_interval_secs", self.media.sweep_interval_secs),
            ("media.url_secs", self.media.url_secs),
            ("group.invitations_per_hour", u64::from(self.group.invitations_per_hour)),
            ("group.left_groups_kept", u64::from(self.group.left_groups_kept)),
            ("conversation.offline_cap_direct", u64::from(self.conversation.offline_cap_direct)),
            ("conversation.purge_interval_secs", self.conversation.purge_interval_secs),
            ("conversation.purge_batch", u64::from(self.conversation.purge_batch)),
            ("conversation.typing_per_minute", u64::from(self.conversation.typing_per_minute)),
            ("conversation.everyone_mentions_per_hour", u64::from(self.conversation.everyone_mentions_per_hour)),
            ("conversation.offline_cap_group", u64::from(self.conversation.offline_cap_group)),
            ("group.max_members", u64::from(self.group.max_members)),
            ("group.max_groups_per_user", u64::from(self.group.max_groups_per_user)),
            ("social.friend_request_ttl_secs", self.social.friend_request_ttl_secs),
            ("social.friend_requests_per_day", u64::from(self.social.friend_requests_per_day)),
            ("social.searches_per_minute", u64::from(self.social.searches_per_minute)),
            ("social.profile_lookups_per_hour", u64::from(self.social.profile_lookups_per_hour)),
            ("social.presence_users_max", u64::from(self.social.presence_users_max)),
            ("social.last_seen_flush_secs", self.social.last_seen_flush_secs),
            ("limits.write_timeout_secs", l.write_timeout_secs),
            ("limits.handshake_timeout_secs", l.handshake_timeout_secs),
            ("limits.auth_timeout_secs", l.auth_timeout_secs),
            ("limits.idle_timeout_secs", l.idle_timeout_secs),
            ("limits.outbound_queue", l.outbound_queue as u64),
            ("limits.max_inflight", l.max_inflight as u64),
            ("limits.requests_per_second", u64::from(l.requests_per_second)),
            ("limits.max_connections", l.max_connections as u64),
            ("limits.max_concurrent_hashes", l.max_concurrent_hashes as u64),
            ("limits.max_pending_registrations", l.max_pending_registrations as u64),
            ("limits.token_ttl_secs", l.token_ttl_secs),
            ("push.interval_secs", u64::from(self.push.interval_secs)),
            ("push.queue", self.push.queue as u64),
            ("push.concurrency", self.push.concurrency as u64),
            ("push.timeout_secs", self.push.timeout_secs),
        ];
        if let Some((key, value)) = positive.iter().find(|(_, v)| *v == 0) {
            return invalid(key, value, "must be at least 1");
        }
        if l.request_burst < l.requests_per_second {
            return invalid("limits.request_burst", &l.request_burst, "must be at least requests_per_second");
        }
        if self.storage.max_batch == 0 {
            return invalid("storage.max_batch", &0, "must be at least 1");
        }
        if self.storage.erase_batch == 0 {
            return invalid("storage.erase_batch", &0, "must be at least 1");
        }
        if let Some(addr) = self.listen.tcp {
            if !addr.ip().is_loopback() && !self.listen.allow_remote_plain_tcp {
                return invalid(
                    "listen.tcp",
                    &addr,
                    "plain TCP is unencrypted; bind a loopback address or set listen.allow_remote_plain_tcp = true",
                );
            }
        }
        if self.listen.tls.is_none() && self.listen.quic.is_none() && self.listen.tcp.is_none() {
            return invalid("listen", &"off", "at least one of tls, quic, tcp must be enabled");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid("log.level", &self.log.level, "not a valid filter (e.g. info, kith=debug)");
        }
        Ok(())
    }
}

/// Applies one `a.b=value` override; the value is read as TOML, or as a
/// string if it is not valid TOML (so `--set data_dir=/srv/kith` works).
fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let (path, raw) = item.split_once('=').ok_or_else(|| ConfigError::Override(item.into()))?;
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut parts: Vec<&str> = path.trim().split('.').collect();
    let last = parts.pop().filter(|s| !s.is_empty()).ok_or_else(|| ConfigError::Override(item.into()))?;
    let mut node = table;
    for part in parts {
        let entry = node.entry(part).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry.as_table_mut().ok_or_else(|| ConfigError::Override(item.into()))?;
    }
    node.insert(last.to_string(), value);
    Ok(())
}

/// `Option<SocketAddr>` as a string, with `"off"` for `None`.
mod optional_addr {
    use std::net::SocketAddr;

    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(addr: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match addr {
            Some(a) => s.collect_str(a),
            None => s.serialize_str("off"),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "off" | "" => Ok(None),
            _ => text
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("`{text}` is not an address like 0.0.0.0:7420 or \"off\""))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_is_the_default() {
        let from_file: Config = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(from_file, Config::default());
    }

    #[test]
    fn packaged_file_differs_only_in_paths() {
        let packaged: Config = toml::from_str(&packaged_toml()).unwrap();
        assert_eq!(packaged.data_dir, PathBuf::from("/var/lib/kith"));
        assert_eq!(packaged.tls.cert, PathBuf::from("/var/lib/kith/certs/cert.pem"));
        assert_eq!(packaged.tls.key, PathBuf::from("/var/lib/kith/certs/key.pem"));
        let default = Config::default();
        assert_eq!((packaged.limits, packaged.listen), (default.limits, default.listen));
    }

    #[test]
    fn overrides_apply_and_are_checked() {
        let c = Config::load(None, &["limits.max_inflight=7".into(), "data_dir=/srv/kith".into()]).unwrap();
        assert_eq!(c.limits.max_inflight, 7);
        assert_eq!(c.data_dir, PathBuf::from("/srv/kith"));
        let err = Config::load(None, &["limits.max_inflight=0".into()]).unwrap_err();
        assert!(err.to_string().contains("limits.max_inflight"), "{err}");
    }

    #[test]
    fn remote_plain_tcp_needs_the_second_switch() {
        let err = Config::load(None, &["listen.tcp=\"0.0.0.0:7421\"".into()]).unwrap_err();
        assert!(err.to_string().contains("listen.tcp"), "{err}");
        Config::load(None, &["listen.tcp=\"0.0.0.0:7421\"".into(), "listen.allow_remote_plain_tcp=true".into()])
            .unwrap();
        Config::load(None, &["listen.tcp=\"127.0.0.1:0\"".into()]).unwrap();
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::load(None, &["limits.max_frame=1".into()]).unwrap_err();
        assert!(err.to_string().contains("max_frame"), "{err}");
    }
}
