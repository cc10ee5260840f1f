//! The JSON shapes of `kith user export` that more than one domain writes:
//! a friend request, a conversation's other side, a message. Each domain's
//! `export` writes its own lines with these; `admin` streams them.

use serde_json::{json, Value};

use crate::id::id_time_ms;
use crate::protocol::{FriendRequestInfo, Message, Target};

/// A friend request, either box.
pub(crate) fn request_json(r: &FriendRequestInfo) -> Value {
    json!({
        "id": r.id,
        "time": id_time_ms(r.id),
        "from": r.from.user_id,
        "to": r.to.user_id,
        "message": r.message,
        "state": format!("{:?}", r.state).to_lowercase(),
        "answered_at": r.answered_at,
    })
}

/// The other side of a conversation: a peer or a group.
pub(crate) fn target_json(target: Target) -> Value {
    match target {
        Target::User(peer) => json!({ "peer": peer }),
        Target::Group(group) => json!({ "group": group }),
    }
}

/// A message as `me` sees it: text when its content is UTF-8, hex otherwise.
pub(crate) fn message_json(me: u64, m: &Message) -> Value {
    let content = match std::str::from_utf8(&m.content) {
        Ok(text) => json!({ "text": text }),
        Err(_) => json!({ "hex": crate::hex::hex(&m.content) }),
    };
    let (key, other) = match m.to {
        Target::User(to) if m.sender == me => ("peer", to),
        Target::User(_) => ("peer", m.sender),
        Target::Group(group) => ("group", group),
    };
    json!({
        "id": m.id,
        "time": m.server_time,
        "sender": m.sender,
        key: other,
        "kind": format!("{:?}", m.kind).to_lowercase(),
        "content": content,
        "extra": m.extra,
        "reply_to": m.reply_to,
        "edited": m.edited,
    })
}
