//! Bodies of the social graph's actions (`0x20–0x2F`): profiles, search,
//! privacy settings, friends and friend requests, blocking; and the bodies
//! of the social update kinds.

use serde::{Deserialize, Serialize};

use super::wire_enum;

wire_enum! {
    /// A profile's gender, as its owner chose to tell it.
    #[derive(Default)]
    pub enum Gender: u8 {
        /// Not said.
        #[default]
        Unspecified = 0,
        /// Female.
        Female = 1,
        /// Male.
        Male = 2,
        /// Something else.
        Other = 3,
    }
}

wire_enum! {
    /// Who can find a user with `SearchUsers`.
    pub enum Discoverable: u8 {
        /// By exact username and by nickname prefix.
        Everyone = 1,
        /// Only by exact username.
        ExactUsername = 2,
    }
}

wire_enum! {
    /// Who may see a personal field of a profile (birth date, city, province).
    pub enum Audience: u8 {
        /// Whoever may see the profile.
        Everyone = 1,
        /// The owner's friends.
        Friends = 2,
        /// Nobody but the owner.
        Nobody = 3,
    }
}

wire_enum! {
    /// What happens to a friend request sent to a user.
    pub enum FriendPolicy: u8 {
        /// The user accepts or rejects each request.
        RequireApproval = 1,
        /// Every request is accepted at once.
        AcceptAll = 2,
        /// Every request is refused with `NotPermitted`.
        RefuseAll = 3,
    }
}

wire_enum! {
    /// Where a friend request stands.
    pub enum RequestState: u8 {
        /// Waiting for the recipient.
        Pending = 1,
        /// Accepted: the two are friends.
        Accepted = 2,
        /// Rejected by the recipient.
        Rejected = 3,
        /// Not answered within the server's time limit.
        Expired = 4,
    }
}

wire_enum! {
    /// Which of a user's friend requests to list.
    pub enum RequestBox: u8 {
        /// Requests others sent to the user.
        Incoming = 1,
        /// Requests the user sent.
        Outgoing = 2,
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BirthDate {
    /// Year, 1900 to the current year.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, valid for that month.
    pub day: u8,
}

/// A user's profile, as its owner sets it and everyone may read it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Display name, up to 32 characters, no control characters; empty
    /// means "show the username". Searchable by prefix.
    pub nickname: String,
    /// Media id of the avatar, an image its owner uploaded; 0 for none.
    pub avatar: u64,
    /// Gender.
    pub gender: Gender,
    /// Birth date, if told.
    pub birth_date: Option<BirthDate>,
    /// A line about oneself, up to 140 characters.
    pub signature: String,
    /// City, up to 64 characters.
    pub city: String,
    /// Province or region, up to 64 characters.
    pub province: String,
    /// Anything the client wants to keep with the profile, up to 1,024 bytes.
    pub extra: String,
}

/// A user as a list shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCard {
    /// Account id.
    pub user_id: u64,
    /// Canonical username.
    pub username: String,
    /// Profile nickname (may be empty).
    pub nickname: String,
    /// Media id of the profile's avatar, 0 for none.
    pub avatar: u64,
}

/// `GetProfile` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetProfileRequest {
    /// Whose profile; the caller's own id works too.
    pub user_id: u64,
}

/// `GetProfile` and `SetProfile` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// Account id.
    pub user_id: u64,
    /// Canonical username.
    pub username: String,
    /// The profile.
    pub profile: Profile,
}

/// `SetProfile` request: replaces the caller's whole profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetProfileRequest {
    /// The new profile.
    pub profile: Profile,
}

/// `Privacy` request: changes the fields that are present; with none
/// present it only reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PrivacyRequest {
    /// New search visibility.
    pub discoverable: Option<Discoverable>,
    /// New friend request policy.
    pub friend_policy: Option<FriendPolicy>,
    /// New presence audience: who sees whether the caller is online and
    /// when they were last seen.
    pub presence: Option<Audience>,
}

/// `Privacy` response: the settings after the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacySettings {
    /// Search visibility (default `Everyone`).
    pub discoverable: Discoverable,
    /// Friend request policy (default `RequireApproval`).
    pub friend_policy: FriendPolicy,
    /// Who sees the user online and their last seen (default `Friends`);
    /// reciprocal: the user sees the presence of nobody outside it.
    pub presence: Audience,
}

impl Default for PrivacySettings {
    fn default() -> PrivacySettings {
        PrivacySettings {
            discoverable: Discoverable::Everyone,
            friend_policy: FriendPolicy::RequireApproval,
            presence: Audience::Friends,
        }
    }
}

/// `Presence` request: the presence of these users as the caller may see
/// it; with `watch`, they become the users this connection is told about
/// (a `Presence` push) when they come online or go offline, replacing the
/// ones it watched before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceRequest {
    /// Whom, at most `social.presence_users_max`; the caller's own id works too.
    pub users: Vec<u64>,
    /// Watch these users on this connection from now on (an empty list
    /// stops watching); false only reads.
    pub watch: bool,
}

/// `Presence` response: one entry per requested user, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceList {
    /// The users' presence.
    pub users: Vec<PresenceInfo>,
}

/// One user's presence as the reader may see it: online, or offline since
/// `last_seen`; hidden (privacy, a block, no such user, never seen) reads
/// as offline with `last_seen` 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceInfo {
    /// Whose.
    pub user_id: u64,
    /// A device of theirs is connected now.
    pub online: bool,
    /// When their last device went offline, ms since the Unix epoch; 0
    /// when online or hidden.
    pub last_seen: u64,
}

/// Who sees each personal field of one's profile; a field hidden from a
/// reader comes empty (`birth_date` absent, `city` or `province` "").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldVisibility {
    /// Who sees `birth_date`.
    pub birth_date: Audience,
    /// Who sees `city`.
    pub city: Audience,
    /// Who sees `province`.
    pub province: Audience,
}

impl Default for FieldVisibility {
    fn default() -> FieldVisibility {
        FieldVisibility { birth_date: Audience::Everyone, city: Audience::Everyone, province: Audience::Everyone }
    }
}

/// `ProfileVisibility` request: changes who sees the personal fields when
/// `set` is present, else only reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileVisibilityRequest {
    /// The new setting, whole.
    pub set: Option<FieldVisibility>,
}

/// `SearchUsers` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchUsersRequest {
    /// 1–32 characters: an exact username, or the start of nicknames
    /// (case-insensitive).
    pub query: String,
    /// Empty for the first page; then the previous page's `cursor`.
    #[serde(with = "serde_bytes")]
    pub cursor: Vec<u8>,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `SearchUsers` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    /// Users found: on the first page the exact username match first, then
    /// nickname matches in nickname order.
    pub users: Vec<UserCard>,
    /// Where the next page starts.
    #[serde(with = "serde_bytes")]
    pub cursor: Vec<u8>,
    /// True when more may follow; page on with `cursor` until false.
    pub more: bool,
}

/// A friend request as both parties see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequestInfo {
    /// Request id (a snowflake: its time is when the request was sent).
    pub id: u64,
    /// Who asked.
    pub from: UserCard,
    /// Who was asked.
    pub to: UserCard,
    /// The requester's message, up to 256 characters.
    pub message: String,
    /// Its state when this was sent.
    pub state: RequestState,
    /// When it stops being answerable, ms since the Unix epoch.
    pub expires_at: u64,
    /// When it was accepted or rejected (0 if it was not).
    pub answered_at: u64,
}

/// `AddFriend` request: asks a user to be friends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddFriendRequest {
    /// The user asked.
    pub user_id: u64,
    /// A message for them, up to 256 characters.
    pub message: String,
}

/// `AnswerFriend` request: accepts or rejects an incoming request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerFriendRequest {
    /// The request's id.
    pub request_id: u64,
    /// True to accept, false to reject.
    pub accept: bool,
}

/// `ListFriendRequests` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFriendRequestsRequest {
    /// Incoming or outgoing.
    pub direction: RequestBox,
    /// Requests with ids below this one (newest first); 0 to start at the newest.
    pub before: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `ListFriendRequests` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequestPage {
    /// Requests, newest first.
    pub requests: Vec<FriendRequestInfo>,
    /// True when older requests follow; page on from the last id until false.
    pub more: bool,
    /// Incoming requests still pending (the badge), whichever box was listed.
    pub pending_incoming: u32,
}

/// One friend in the caller's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friend {
    /// Who.
    pub user: UserCard,
    /// The caller's private name for them (may be empty).
    pub remark: String,
    /// Friends since, ms since the Unix epoch.
    pub since: u64,
}

/// `ListFriends` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFriendsRequest {
    /// Friends with user ids above this one; 0 to start.
    pub after: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `ListFriends` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendPage {
    /// Friends in ascending user id order.
    pub friends: Vec<Friend>,
    /// True when more follow; page on from the last user id until false.
    pub more: bool,
}

/// `RemoveFriend` request: ends a friendship, for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveFriendRequest {
    /// The friend.
    pub user_id: u64,
}

/// `SetRemark` request: the caller's private name for a friend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRemarkRequest {
    /// The friend.
    pub user_id: u64,
    /// Up to 32 characters; empty removes it.
    pub remark: String,
}

/// `Block` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRequest {
    /// The user to block.
    pub user_id: u64,
}

/// `Unblock` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnblockRequest {
    /// The user to unblock.
    pub user_id: u64,
}

/// `ListBlocked` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBlockedRequest {
    /// Blocked users with ids above this one; 0 to start.
    pub after: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// A user the caller blocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedUser {
    /// Who.
    pub user: UserCard,
    /// Blocked since, ms since the Unix epoch.
    pub since: u64,
}

/// `ListBlocked` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedPage {
    /// Blocked users in ascending user id order.
    pub users: Vec<BlockedUser>,
    /// True when more follow; page on from the last user id until false.
    pub more: bool,
}

/// `FriendRemoved` update: a friendship ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRemoved {
    /// Who ended it.
    pub by: u64,
    /// The other one.
    pub user_id: u64,
}

/// `RemarkChanged` update (to the user's other devices): the remark the user
/// keeps for a friend changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemarkChanged {
    /// The friend.
    pub user_id: u64,
    /// The remark now (empty: none).
    pub remark: String,
}

/// `BlockChanged` update (to the blocker's devices only): the block list changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockChanged {
    /// The user blocked or unblocked.
    pub user_id: u64,
    /// True if now blocked.
    pub blocked: bool,
}
