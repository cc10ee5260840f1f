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
    /// A group's conversation.
    Group(u64),
}

const DIRECT_TAG: u8 = 1;
const GROUP_TAG: u8 = 2;

impl Conversation {
    /// The conversation between `a` and `b`, whichever order they come in.
    pub(crate) fn direct(a: u64, b: u64) -> Conversation {
        Conversation::Direct { low: a.min(b), high: a.max(b) }
    }

    /// The conversation `me` means by a message target.
    pub fn of(me: u64, target: Target) -> Conversation {
        match target {
            Target::User(peer) => Conversation::direct(me, peer),
            Target::Group(group) => Conversation::Group(group),
        }
    }

    /// The target of a message in this conversation, as `me` addresses it.
    pub(crate) fn target_from(self, me: u64) -> Target {
        match self {
            Conversation::Direct { low, high } => Target::User(if me == low { high } else { low }),
            Conversation::Group(group) => Target::Group(group),
        }
    }
}

/// Packed in 17 bytes, `1 ‖ low u64 ‖ high u64` or `2 ‖ group id ‖ 0u64`:
/// a log's entries sort by conversation, then by message id.
impl KeyPart for Conversation {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Conversation::Direct { low, high } => {
                out.push(DIRECT_TAG);
                low.put(out);
                high.put(out);
            }
            Conversation::Group(group) => {
                out.push(GROUP_TAG);
                group.put(out);
                0u64.put(out);
            }
        }
    }

    fn take(bytes: &[u8]) -> Option<(Conversation, &[u8])> {
        let (&tag, rest) = bytes.split_first()?;
        let ((a, b), rest) = <(u64, u64)>::take(rest)?;
        match tag {
            DIRECT_TAG if a <= b => Some((Conversation::Direct { low: a, high: b }, rest)),
            GROUP_TAG if b == 0 => Some((Conversation::Group(a), rest)),
            _ => None,
        }
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
        let group = Conversation::Group(77);
        let mut packed = Vec::new();
        group.put(&mut packed);
        assert_eq!(packed.len(), 17);
        assert_eq!(Conversation::take(&packed), Some((group, &[][..])));
        assert_eq!(group.target_from(4), Target::Group(77));
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
