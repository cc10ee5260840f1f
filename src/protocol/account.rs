//! Bodies of the account and connection actions (`0x01–0x0F`).

use serde::{Deserialize, Serialize};

use super::wire_enum;

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

/// `Heartbeat` request (empty body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Heartbeat;

/// `RenewToken` request (empty body): a fresh token for this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RenewToken;

/// `Logout` request (empty body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Logout;

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
    /// The 24-byte invitation code of a join link; needed when the server
    /// admits only invited users, used up by this registration when given.
    #[serde(with = "serde_bytes")]
    pub invitation: Option<Vec<u8>>,
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
    /// Highest update id this device has acknowledged (0 if none).
    pub cursor: u64,
    /// Highest update id in this user's update log (0 if none); when greater
    /// than `cursor`, `Sync` from `cursor` fetches what was missed.
    pub latest: u64,
    /// With `Auth`, when the token was close to its expiry: a fresh token for
    /// this device, to use from now on (the one just used stays valid until
    /// the new one is first used, or until it expires). Always absent in a
    /// `Login` reply.
    pub renewed: Option<TokenReply>,
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

/// `DeleteAccount` request: the password again, so a phone left unlocked
/// cannot end an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAccountRequest {
    /// Current password.
    pub password: String,
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

/// `PushKey` request (empty body): what a device needs before it registers
/// with a UnifiedPush distributor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PushKey;

/// `PushKey` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushKeyReply {
    /// Whether the server sends wake-ups at all; `SetPushEndpoint` with an
    /// endpoint is refused when it does not.
    pub enabled: bool,
    /// The server's VAPID public key (RFC 8292): an uncompressed P-256
    /// point, 65 bytes. The UnifiedPush connector takes it base64url-encoded.
    #[serde(with = "serde_bytes")]
    pub vapid_key: Vec<u8>,
    /// At most one wake-up per this many seconds reaches one device.
    pub interval_secs: u32,
    /// Whether this device has an endpoint registered.
    pub registered: bool,
}

/// `SetPushEndpoint` request: sets or clears this device's push endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPushEndpointRequest {
    /// The endpoint; `None` clears the device's.
    pub endpoint: Option<PushEndpoint>,
}

/// Where and how a device is woken: what a UnifiedPush distributor gives
/// the app (RFC 8030 endpoint, RFC 8291 keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushEndpoint {
    /// The endpoint URL: `https://`, or `http://` for a host the operator
    /// lists in `push.local_hosts`; at most 1,024 bytes.
    pub url: String,
    /// The device's ECDH public key (`p256dh`): an uncompressed P-256
    /// point, 65 bytes.
    #[serde(with = "serde_bytes")]
    pub p256dh: Vec<u8>,
    /// The device's authentication secret (`auth`), 16 bytes.
    pub auth: [u8; 16],
    /// Whether the distributor requires a VAPID signature on each request.
    pub vapid: bool,
}
