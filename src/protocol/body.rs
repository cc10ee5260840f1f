//! Request, response and push bodies. Field order is wire order; see
//! `docs/PROTOCOL.md` for the encoding of each type.

use serde::{Deserialize, Serialize};

use super::{wire_enum, ErrorCode};

wire_enum! {
    /// What kind of device a login is for. A new login of the same type
    /// pushes an older online device of that type off.
    pub enum DeviceType: u8 {
        /// A phone.
        Mobile = 1,
        /// A desktop or laptop application.
        Desktop = 2,
        /// A browser session.
        Web = 3,
        /// A tablet.
        Tablet = 4,
    }
}

wire_enum! {
    /// Which client software logged in; informative only.
    pub enum ClientType: u8 {
        /// Android app.
        Android = 1,
        /// iOS app.
        Ios = 2,
        /// Linux desktop.
        Linux = 3,
        /// Windows desktop.
        Windows = 4,
        /// macOS desktop.
        Macos = 5,
        /// Browser.
        Web = 6,
        /// Anything else: bots, scripts, the load generator.
        Other = 7,
    }
}

wire_enum! {
    /// What a message's content bytes hold. The server never looks inside.
    pub enum MessageKind: u8 {
        /// UTF-8 text.
        Text = 1,
        /// An image (or a reference to one).
        Image = 2,
        /// A voice clip.
        Voice = 3,
        /// A video.
        Video = 4,
        /// A file.
        File = 5,
        /// A location.
        Location = 6,
        /// Application-defined.
        Custom = 7,
    }
}

wire_enum! {
    /// Which way a history page runs from its anchor.
    pub enum Direction: u8 {
        /// Messages with ids greater than the anchor, oldest first.
        After = 0,
        /// Messages with ids less than the anchor, the ones nearest it.
        Before = 1,
    }
}

wire_enum! {
    /// Why the server is closing a connection, sent in a
    /// [`super::Action::PushDisconnect`] push just before it does.
    pub enum DisconnectReason: u8 {
        /// A newer login of the same device type took over.
        Kicked = 1,
        /// This device logged out.
        LoggedOut = 2,
        /// The password changed; log in again.
        PasswordChanged = 3,
        /// The operator disabled the account.
        AccountDisabled = 4,
        /// The server is shutting down; reconnect later.
        ServerShutdown = 5,
        /// The client read too slowly and its outbound queue filled; sync on reconnect.
        SlowConsumer = 6,
        /// No frame arrived within the idle timeout.
        IdleTimeout = 7,
        /// The connection did not authenticate in time.
        AuthTimeout = 8,
        /// The byte stream broke the protocol.
        ProtocolError = 9,
    }
}

/// The body of every [`super::Action::Error`] response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// An [`ErrorCode`] number; kept raw so a client can survive codes newer
    /// than itself.
    pub code: u16,
    /// A human-readable explanation, for logs — not for program logic.
    pub message: String,
}

impl ErrorBody {
    /// The code as a known value, if it is one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::try_from(self.code).ok()
    }
}

/// `Heartbeat` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// Server wall clock, milliseconds since the Unix epoch.
    pub server_time: u64,
}

/// `Register` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// 3–32 characters `a-z 0-9 _ . -`, starting with a letter; upper case is folded.
    pub username: String,
    /// 8–256 bytes.
    pub password: String,
}

/// `Register` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterReply {
    /// The new account's id.
    pub user_id: u64,
}

/// Which device a login is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Stable id the client picks once per installation, 1–64 bytes.
    pub device_id: String,
    /// Kind of device.
    pub device_type: DeviceType,
    /// Client software.
    pub client_type: ClientType,
}

/// `Login` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Account name (case-insensitive).
    pub username: String,
    /// Account password.
    pub password: String,
    /// The device logging in.
    pub device: DeviceInfo,
}

/// `Auth` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The 40-byte token a `Login` returned.
    #[serde(with = "serde_bytes")]
    pub token: Vec<u8>,
}

/// What an authenticated connection knows about itself; `Auth` response and
/// part of the `Login` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthReply {
    /// The account.
    pub user_id: u64,
    /// Its canonical username.
    pub username: String,
    /// The device this connection is.
    pub device_id: String,
    /// Highest message id this device has acknowledged (0 if none).
    pub cursor: u64,
    /// Highest message id in this user's inbox (0 if none); when greater than
    /// `cursor`, `SyncInbox` from `cursor` fetches what was missed.
    pub latest: u64,
}

/// `Login` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginReply {
    /// Secret for later `Auth` requests; store it safely.
    #[serde(with = "serde_bytes")]
    pub token: Vec<u8>,
    /// When the token stops working, milliseconds since the Unix epoch.
    pub expires_at: u64,
    /// The session state, as `Auth` would report it.
    pub session: AuthReply,
}

/// `ChangePassword` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    /// Current password.
    pub old_password: String,
    /// New password, 8–256 bytes.
    pub new_password: String,
}

/// `ChangePassword` response: a fresh token for this device (all others are revoked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenReply {
    /// The new token.
    #[serde(with = "serde_bytes")]
    pub token: Vec<u8>,
    /// When it expires, milliseconds since the Unix epoch.
    pub expires_at: u64,
}

/// `FindUser` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindUserRequest {
    /// Exact username (case-insensitive).
    pub username: String,
}

/// A user as others see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Account id.
    pub user_id: u64,
    /// Canonical username.
    pub username: String,
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Target {
    /// A one-to-one conversation with this user.
    User(u64),
}

/// `Send` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// Recipient.
    pub to: Target,
    /// Client-chosen unique id (e.g. a UUID); a retry with the same id returns
    /// the first acknowledgement and stores nothing new.
    pub client_msg_id: [u8; 16],
    /// Content type.
    pub kind: MessageKind,
    /// Opaque content, at most the server's content limit (64 KiB by default).
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
    /// Optional application data, at most 1 KiB.
    pub extra: Option<String>,
}

/// `Send` response, written only once the message is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReply {
    /// The server's id for the message.
    pub message_id: u64,
    /// When the server accepted it, milliseconds since the Unix epoch.
    pub server_time: u64,
    /// True when this client message id was already stored; the ids are the
    /// original ones.
    pub duplicate: bool,
}

/// A stored message, as pushed and as returned by sync and history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Server id: unique, increasing in the order the server stored messages.
    pub id: u64,
    /// Sender's user id.
    pub sender: u64,
    /// Where it was sent.
    pub to: Target,
    /// The sender's client message id.
    pub client_msg_id: [u8; 16],
    /// Content type.
    pub kind: MessageKind,
    /// Content.
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
    /// Application data.
    pub extra: Option<String>,
    /// When the server stored it, milliseconds since the Unix epoch.
    pub server_time: u64,
}

/// `Ack` request: this device has everything up to and including `up_to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRequest {
    /// A message id.
    pub up_to: u64,
}

/// `Ack` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckReply {
    /// The cursor after the update (it never moves backwards).
    pub cursor: u64,
}

/// `SyncInbox` request: this user's messages, all conversations, ids above `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncInboxRequest {
    /// Exclusive lower bound; 0 for everything.
    pub after: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `History` request: one conversation's messages on one side of `anchor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRequest {
    /// The conversation.
    pub with: Target,
    /// Which side of the anchor.
    pub direction: Direction,
    /// Exclusive bound; 0 means "from the start" for `After` and "from the
    /// newest" for `Before`.
    pub anchor: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `SyncInbox` and `History` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Messages in ascending id order.
    pub messages: Vec<Message>,
    /// True when more messages lie beyond this page in the requested direction.
    pub more: bool,
}

/// `PushDisconnect` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectPush {
    /// Why.
    pub reason: DisconnectReason,
    /// Human-readable detail.
    pub message: String,
}
