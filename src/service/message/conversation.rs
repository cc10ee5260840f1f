//! Which conversation a message belongs to.

use serde::{Deserialize, Serialize};

use crate::protocol::Target;
use crate::storage::KeyPart;

/// The conversation a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

impl Conversation {
    /// The conversation between `a` and `b`, whichever order they come in.
    pub fn direct(a: u64, b: u64) -> Conversation {
        Conversation::Direct { low: a.min(b), high: a.max(b) }
    }

    /// The conversation `me` means by a message target.
    pub fn of(me: u64, target: Target) -> Conversation {
        match target {
            Target::User(peer) => Conversation::direct(me, peer),
        }
    }

    /// The target of a message in this conversation, as `me` addresses it.
    pub fn target_from(self, me: u64) -> Target {
        match self {
            Conversation::Direct { low, high } => Target::User(if me == low { high } else { low }),
        }
    }

    /// Everyone whose update log a message here goes to.
    pub fn participants(self) -> Vec<u64> {
        match self {
            Conversation::Direct { low, high } if low == high => vec![low],
            Conversation::Direct { low, high } => vec![low, high],
        }
    }
}

/// Packed as `tag u8 ‖ low u64 ‖ high u64`, 17 bytes: a log's entries sort
/// by conversation, then by message id.
impl KeyPart for Conversation {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Conversation::Direct { low, high } => {
                out.push(DIRECT_TAG);
                low.put(out);
                high.put(out);
            }
        }
    }

    fn take(bytes: &[u8]) -> Option<(Conversation, &[u8])> {
        let (&tag, rest) = bytes.split_first()?;
        let ((low, high), rest) = <(u64, u64)>::take(rest)?;
        (tag == DIRECT_TAG && low <= high).then_some((Conversation::Direct { low, high }, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_conversation_is_order_independent() {
        assert_eq!(Conversation::direct(9, 4), Conversation::direct(4, 9));
        let c = Conversation::direct(9, 4);
        let mut packed = Vec::new();
        c.put(&mut packed);
        assert_eq!(packed.len(), 17);
        assert_eq!(Conversation::take(&packed), Some((c, &[][..])));
        assert_eq!(c.target_from(4), Target::User(9));
        assert_eq!(c.target_from(9), Target::User(4));
        assert_eq!(Conversation::direct(3, 3).participants(), [3]);
    }

    #[test]
    fn malformed_conversation_bytes_are_refused() {
        assert_eq!(Conversation::take(&[0; 16]), None);
        let mut bad = Vec::new();
        Conversation::direct(1, 2).put(&mut bad);
        bad[0] = 9;
        assert_eq!(Conversation::take(&bad), None);
    }
}
