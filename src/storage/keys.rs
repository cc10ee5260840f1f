//! Key packing for every sled tree. Keys are fixed-width big-endian tuples, so
//! a prefix scan returns one owner's entries and a range scan returns them in
//! id order. Nothing outside this module builds a key.
//!
//! Everything a message write touches lives in the one `messages` tree, in
//! keyspaces told apart by a leading tag byte, so that a whole group commit
//! is one atomic sled batch (sled batches are atomic within a tree only):
//!
//! | tag | key | value |
//! |---|---|---|
//! | `L` | conversation ‖ message id | the stored message |
//! | `I` | user ‖ message id | conversation |
//! | `D` | sender ‖ client message id | message id |
//! | `H` | — | highest message id ever written |

/// The conversation a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conversation {
    /// A one-to-one conversation between two users (possibly the same user,
    /// for notes to self). `low <= high` always.
    Direct {
        /// The smaller user id.
        low: u64,
        /// The larger user id.
        high: u64,
    },
}

const DIRECT_TAG: u8 = 1;

/// Length of a packed [`Conversation`].
pub const CONVERSATION_LEN: usize = 17;

impl Conversation {
    /// The conversation between `a` and `b`, whichever order they come in.
    pub fn direct(a: u64, b: u64) -> Conversation {
        Conversation::Direct { low: a.min(b), high: a.max(b) }
    }

    /// Packs the conversation as `tag u8 ‖ a u64 ‖ b u64`.
    pub fn to_bytes(self) -> [u8; CONVERSATION_LEN] {
        let mut out = [0u8; CONVERSATION_LEN];
        match self {
            Conversation::Direct { low, high } => {
                out[0] = DIRECT_TAG;
                out[1..9].copy_from_slice(&low.to_be_bytes());
                out[9..17].copy_from_slice(&high.to_be_bytes());
            }
        }
        out
    }

    /// Unpacks what [`Conversation::to_bytes`] produced.
    pub fn from_bytes(bytes: &[u8]) -> Option<Conversation> {
        if bytes.len() != CONVERSATION_LEN {
            return None;
        }
        let low = be_u64(&bytes[1..9]);
        let high = be_u64(&bytes[9..17]);
        match bytes[0] {
            DIRECT_TAG if low <= high => Some(Conversation::Direct { low, high }),
            _ => None,
        }
    }

    /// The other participant of a direct conversation, seen from `me`.
    pub fn peer_of(self, me: u64) -> u64 {
        match self {
            Conversation::Direct { low, high } => {
                if me == low {
                    high
                } else {
                    low
                }
            }
        }
    }
}

/// Reads a big-endian u64 from exactly eight bytes (zero if the slice is short).
pub fn be_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// `id` as a key.
pub fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

const LOG_TAG: u8 = b'L';
const INBOX_TAG: u8 = b'I';
const DEDUP_TAG: u8 = b'D';

/// Key of the highest message id ever written, in the `messages` tree.
pub const HIGH_WATER_KEY: &[u8] = b"H";

/// `L ‖ conversation ‖ message id`: one conversation's log, in id order.
pub fn log_key(conv: Conversation, id: u64) -> [u8; 1 + CONVERSATION_LEN + 8] {
    let mut out = [0u8; 1 + CONVERSATION_LEN + 8];
    out[0] = LOG_TAG;
    out[1..1 + CONVERSATION_LEN].copy_from_slice(&conv.to_bytes());
    out[1 + CONVERSATION_LEN..].copy_from_slice(&id.to_be_bytes());
    out
}

/// The message id at the end of a [`log_key`].
pub fn log_key_id(key: &[u8]) -> u64 {
    key.get(1 + CONVERSATION_LEN..).map(be_u64).unwrap_or(0)
}

/// The packed conversation inside a [`log_key`].
pub fn log_key_conversation(key: &[u8]) -> &[u8] {
    key.get(1..1 + CONVERSATION_LEN).unwrap_or_default()
}

/// Prefix of every [`log_key`].
pub fn log_prefix() -> [u8; 1] {
    [LOG_TAG]
}

/// `I ‖ user ‖ message id`: one user's inbox index, in id order.
pub fn inbox_key(user: u64, id: u64) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[0] = INBOX_TAG;
    out[1..9].copy_from_slice(&user.to_be_bytes());
    out[9..].copy_from_slice(&id.to_be_bytes());
    out
}

/// The message id at the end of an [`inbox_key`].
pub fn inbox_key_id(key: &[u8]) -> u64 {
    key.get(9..).map(be_u64).unwrap_or(0)
}

/// `D ‖ sender ‖ client message id`: the idempotency index.
pub fn dedup_key(sender: u64, client_msg_id: &[u8; 16]) -> [u8; 25] {
    let mut out = [0u8; 25];
    out[0] = DEDUP_TAG;
    out[1..9].copy_from_slice(&sender.to_be_bytes());
    out[9..].copy_from_slice(client_msg_id);
    out
}

/// `user ‖ device id bytes`: per-device records and cursors.
pub fn device_key(user: u64, device_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + device_id.len());
    out.extend_from_slice(&user.to_be_bytes());
    out.extend_from_slice(device_id.as_bytes());
    out
}

/// The device id at the end of a [`device_key`].
pub fn device_key_device(key: &[u8]) -> String {
    String::from_utf8_lossy(key.get(8..).unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_conversation_is_order_independent() {
        assert_eq!(Conversation::direct(9, 4), Conversation::direct(4, 9));
        let c = Conversation::direct(9, 4);
        assert_eq!(Conversation::from_bytes(&c.to_bytes()), Some(c));
        assert_eq!(c.peer_of(4), 9);
        assert_eq!(c.peer_of(9), 4);
    }

    #[test]
    fn log_keys_sort_by_conversation_then_id() {
        let c = Conversation::direct(1, 2);
        let d = Conversation::direct(1, 3);
        assert!(log_key(c, 5) < log_key(c, 6));
        assert!(log_key(c, u64::MAX) < log_key(d, 0));
        assert!(log_key(c, 255) < log_key(c, 256));
        assert_eq!(log_key_id(&log_key(c, 77)), 77);
    }

    #[test]
    fn inbox_keys_sort_by_user_then_id() {
        assert!(inbox_key(1, u64::MAX) < inbox_key(2, 0));
        assert!(log_key(Conversation::direct(u64::MAX, u64::MAX), u64::MAX)[..1] != inbox_key(0, 0)[..1]);
        assert!(inbox_key(1, 255) < inbox_key(1, 256));
        assert_eq!(inbox_key_id(&inbox_key(3, 99)), 99);
    }

    #[test]
    fn malformed_conversation_bytes_are_refused() {
        assert_eq!(Conversation::from_bytes(&[0; 16]), None);
        let mut bad = Conversation::direct(1, 2).to_bytes();
        bad[0] = 9;
        assert_eq!(Conversation::from_bytes(&bad), None);
    }

    #[test]
    fn device_keys_round_trip() {
        let k = device_key(5, "phone-1");
        assert_eq!(device_key_device(&k), "phone-1");
        assert!(k.starts_with(&5u64.to_be_bytes()));
    }
}
