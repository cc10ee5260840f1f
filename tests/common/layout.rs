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

/// Takes every shape a later layout changed back to what `version` stored
/// (the rest of what the test wrote must already be of that version) and
/// marks the data as of `version`.
pub fn back_to(tree: &sled::Tree, version: u32) {
    if version < 12 {
        privacy_before_v12(tree);
    }
    if version < 11 {
        messages_before_v11(tree);
    }
    tree.insert([schema::SCHEMA_VERSION.prefix], encode_stored(&version)).unwrap();
}

/// Stops `server`, takes its data back to layout `version` ([`back_to`])
/// and starts it again, which migrates the data.
pub async fn restart_from(server: &mut super::TestServer, version: u32) {
    server.stop().await;
    {
        let db = sled::open(server.data_dir().join("sled")).unwrap();
        let tree = db.open_tree("kith").unwrap();
        back_to(&tree, version);
        db.flush().unwrap();
    }
    server.restart().await;
}

/// Privacy settings as stored up to layout version 11.
#[derive(Serialize, Deserialize)]
struct PrivacyV11 {
    discoverable: u8,
    friend_policy: u8,
}

/// Rewrites every user's privacy settings in the shape of version 11 (no
/// presence audience); only the default (`Friends`) can go back.
fn privacy_before_v12(tree: &sled::Tree) {
    for entry in tree.scan_prefix([schema::USERID_PRIVACY.prefix]) {
        let (key, value) = entry.unwrap();
        let (discoverable, friend_policy, presence): (u8, u8, u8) = decode_stored(&value).unwrap();
        assert_eq!(presence, 2, "version 11 had no presence audience: only the default goes back");
        tree.insert(key, encode_stored(&PrivacyV11 { discoverable, friend_policy })).unwrap();
    }
}

/// Rewrites every logged message in the shape of version 10 (none may
/// answer another, be edited or mention anyone, which that version could
/// not store).
fn messages_before_v11(tree: &sled::Tree) {
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
