//! Older stored shapes, for tests that take a data directory back to an
//! older layout version and let the server migrate it.

use kith::codec::{decode_stored, encode_stored};
use kith::storage::schema;
use serde::{Deserialize, Serialize};

/// A logged message up to layout version 10.
#[derive(Serialize, Deserialize)]
pub struct MessageV10 {
    pub sender: u64,
    pub client_msg_id: [u8; 16],
    pub kind: u8,
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
    pub extra: Option<String>,
}

/// A logged message since layout version 11.
#[derive(Deserialize)]
struct MessageV11 {
    sender: u64,
    client_msg_id: [u8; 16],
    kind: u8,
    #[serde(with = "serde_bytes")]
    content: Vec<u8>,
    extra: Option<String>,
    reply_to: u64,
    edited: u64,
    mentions: Vec<u64>,
}

/// Rewrites every logged message in the shape of version 10 (none may
/// answer another, be edited or mention anyone, which that version could
/// not store).
pub fn messages_before_v11(tree: &sled::Tree) {
    for entry in tree.scan_prefix([schema::CONVMESSAGE_MESSAGE.prefix]) {
        let (key, value) = entry.unwrap();
        let m: MessageV11 = decode_stored(&value).unwrap();
        assert_eq!((m.reply_to, m.edited, m.mentions.len()), (0, 0, 0), "version 10 had none of them");
        let old = MessageV10 {
            sender: m.sender,
            client_msg_id: m.client_msg_id,
            kind: m.kind,
            content: m.content,
            extra: m.extra,
        };
        tree.insert(key, encode_stored(&old)).unwrap();
    }
}
