//! The action byte of a frame: what a request asks for, or what a push carries.

/// Every action byte the protocol defines.
///
/// Requests (client → server) use `0x01..=0x7E`; a successful response carries
/// the request's own action byte, a failed one carries [`Action::Error`].
/// Pushes (server → client, sequence id 0) use `0x80..=0xFE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Action {
    /// Keeps an authenticated connection alive; answers the server time.
    Heartbeat = 0x01,
    /// Creates an account.
    Register = 0x02,
    /// Password login for one device; authenticates the connection.
    Login = 0x03,
    /// Token login; authenticates the connection.
    Auth = 0x04,
    /// Revokes this device's token and ends the connection.
    Logout = 0x05,
    /// Changes the password and revokes every other token of the user.
    ChangePassword = 0x06,
    /// Looks a user up by exact username.
    FindUser = 0x07,
    /// Stores and delivers a message.
    Send = 0x10,
    /// Moves this device's delivery cursor forward.
    Ack = 0x11,
    /// Pages through this user's messages across conversations by id.
    SyncInbox = 0x12,
    /// Pages through one conversation's log, either direction.
    History = 0x13,
    /// A failed request's response.
    Error = 0x7F,
    /// Push: a new message for this user.
    PushMessage = 0x80,
    /// Push: the server is about to close this connection, and why.
    PushDisconnect = 0x81,
}

impl Action {
    /// Every action, for tables and tests.
    pub const ALL: [Action; 14] = [
        Action::Heartbeat,
        Action::Register,
        Action::Login,
        Action::Auth,
        Action::Logout,
        Action::ChangePassword,
        Action::FindUser,
        Action::Send,
        Action::Ack,
        Action::SyncInbox,
        Action::History,
        Action::Error,
        Action::PushMessage,
        Action::PushDisconnect,
    ];

    /// Maps a byte from the wire to an action, if it names one.
    pub fn from_byte(byte: u8) -> Option<Action> {
        Action::ALL.into_iter().find(|a| *a as u8 == byte)
    }

    /// Whether a client may send this action as a request.
    pub fn is_request(self) -> bool {
        (self as u8) < 0x7F
    }

    /// Whether the request may be made before the connection authenticates.
    pub fn allowed_before_auth(self) -> bool {
        matches!(self, Action::Heartbeat | Action::Register | Action::Login | Action::Auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_unknown_bytes_are_none() {
        for a in Action::ALL {
            assert_eq!(Action::from_byte(a as u8), Some(a));
        }
        assert_eq!(Action::from_byte(0x00), None);
        assert_eq!(Action::from_byte(0x55), None);
    }
}
