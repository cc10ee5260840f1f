//! THE table of pushes: frames the server sends on its own, with sequence
//! id 0 and an action byte of `0x80` or above. `0x80` was the message push
//! of the first protocol revision; messages now arrive as updates.

use serde::{Deserialize, Serialize};

use super::conversation::TypingPush;
use super::social::PresenceInfo;
use super::update::Update;
use super::{encode_frame, tagged_bodies, wire_enum, PUSH_SEQUENCE};

tagged_bodies! {
    /// A push's action byte.
    tag PushAction;
    /// A push, decoded.
    union Push;
    /// The server is about to close this connection, and why.
    0x81 Disconnect(DisconnectPush),
    /// A new entry of this user's update log.
    0x82 Update(Update),
    /// Someone is typing in a conversation of this user's, or stopped.
    0x83 Typing(TypingPush),
    /// A user this connection watches came online or went offline, or
    /// whether the caller may see them changed.
    0x84 Presence(PresenceInfo),
}

impl Push {
    /// The complete frame.
    pub fn frame(&self) -> Vec<u8> {
        encode_frame(self.tag() as u8, PUSH_SEQUENCE, &self.encode_body())
    }
}

wire_enum! {
    /// Why the server is closing a connection, sent in a `Disconnect` push
    /// just before it does.
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
        /// The account was deleted (by its user or the operator).
        AccountDeleted = 10,
    }
}

impl DisconnectReason {
    /// The explanation sent with it.
    pub fn explain(self) -> &'static str {
        match self {
            DisconnectReason::Kicked => "another device of the same type logged in",
            DisconnectReason::LoggedOut => "logged out",
            DisconnectReason::PasswordChanged => "password changed; log in again",
            DisconnectReason::AccountDisabled => "account disabled",
            DisconnectReason::ServerShutdown => "server shutting down",
            DisconnectReason::SlowConsumer => "too slow reading; reconnect and sync",
            DisconnectReason::IdleTimeout => "idle timeout",
            DisconnectReason::AuthTimeout => "not authenticated in time",
            DisconnectReason::ProtocolError => "protocol error",
            DisconnectReason::AccountDeleted => "account deleted",
        }
    }
}

/// `Disconnect` push body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectPush {
    /// Why.
    pub reason: DisconnectReason,
    /// Human-readable detail.
    pub message: String,
}

impl From<DisconnectReason> for DisconnectPush {
    fn from(reason: DisconnectReason) -> DisconnectPush {
        DisconnectPush { reason, message: reason.explain().into() }
    }
}
