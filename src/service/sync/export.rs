//! What `kith user export` holds of a user's update log: a line per
//! notice, with its fields. The messages come from their conversations
//! (the conversation domain's export), whose logs hold them for as long as
//! they are kept; the update log points at recent ones only.

use serde_json::{json, Value};

use super::update::{self, StoredUpdate};
use crate::id::id_time_ms;
use crate::protocol::{Update, UpdateBody};
use crate::service::export::{request_json, target_json};
use crate::storage::{StorageError, Store};

/// Log entries a page of the export looks at, at most.
const PAGE: usize = 1000;

/// The lines of the notices in the user's log after update `after`, a
/// page at a time, and where the next page starts if there is one.
pub(crate) fn export(s: &Store, user: u64, after: u64) -> Result<(Vec<Value>, Option<u64>), StorageError> {
    let mut lines = Vec::new();
    let mut looked = 0;
    for entry in update::entries_after(s, user, after) {
        let (id, stored) = entry?;
        if let StoredUpdate::Inline { kind, body } = stored {
            lines.push(line(&Update { id, kind, body }));
        }
        looked += 1;
        if looked == PAGE {
            return Ok((lines, Some(id)));
        }
    }
    Ok((lines, None))
}

fn line(entry: &Update) -> Value {
    let (id, time) = (entry.id, id_time_ms(entry.id));
    match entry.decode() {
        Ok(Some(UpdateBody::NewLogin(n))) => json!({ "login": {
            "id": id,
            "time": time,
            "device_id": n.device_id,
            "device_type": format!("{:?}", n.device_type).to_lowercase(),
            "address": n.address,
        }}),
        Ok(Some(UpdateBody::FriendRequest(r) | UpdateBody::FriendAnswered(r))) => {
            json!({ "friend_request_update": { "id": id, "time": time, "request": request_json(&r) }})
        }
        Ok(Some(UpdateBody::FriendRemoved(r))) => json!({ "friend_removed": {
            "id": id, "time": time, "by": r.by, "user_id": r.user_id,
        }}),
        Ok(Some(UpdateBody::BlockChanged(b))) => json!({ "block_changed": {
            "id": id, "time": time, "user_id": b.user_id, "blocked": b.blocked,
        }}),
        Ok(Some(UpdateBody::ReadPosition(p))) => json!({ "read_position_update": {
            "id": id, "time": time, "with": target_json(p.with), "read_up_to": p.read_up_to,
        }}),
        Ok(Some(UpdateBody::ReadReceipt(r))) => json!({ "read_receipt": {
            "id": id, "time": time, "reader": r.reader, "up_to": r.up_to,
        }}),
        Ok(Some(UpdateBody::MessageRecalled(r))) => json!({ "recall": {
            "id": id, "time": time, "message_id": r.message_id, "sender": r.sender,
            "to": target_json(r.to), "by": r.by,
        }}),
        Ok(Some(UpdateBody::DeletedForMe(d))) => json!({ "deleted_for_me_update": {
            "id": id, "time": time, "with": target_json(d.with),
            "message_ids": d.message_ids, "cleared_up_to": d.cleared_up_to,
        }}),
        Ok(Some(UpdateBody::ReadReceiptsChanged(r))) => json!({ "read_receipts_changed": {
            "id": id, "time": time, "enabled": r.enabled,
        }}),
        Ok(Some(UpdateBody::RetentionChanged(r))) => json!({ "retention_changed": {
            "id": id, "time": time, "by": r.by, "to": target_json(r.to), "seconds": r.seconds,
        }}),
        Ok(Some(UpdateBody::Delivered(d))) => json!({ "delivered": {
            "id": id, "time": time, "recipient": d.recipient, "up_to": d.up_to,
        }}),
        Ok(Some(UpdateBody::ProfileChanged(p))) => json!({ "profile_changed": {
            "id": id, "time": time, "profile": {
                "nickname": p.profile.nickname, "avatar": p.profile.avatar, "signature": p.profile.signature,
                "city": p.profile.city, "province": p.profile.province, "extra": p.profile.extra,
            },
        }}),
        Ok(Some(UpdateBody::PrivacyChanged(p))) => json!({ "privacy_changed": {
            "id": id, "time": time, "discoverable": format!("{:?}", p.discoverable),
            "friend_policy": format!("{:?}", p.friend_policy),
        }}),
        Ok(Some(UpdateBody::ProfileVisibilityChanged(f))) => json!({ "profile_visibility_changed": {
            "id": id, "time": time, "birth_date_shown_to": format!("{:?}", f.birth_date).to_lowercase(),
            "city_shown_to": format!("{:?}", f.city).to_lowercase(),
            "province_shown_to": format!("{:?}", f.province).to_lowercase(),
        }}),
        Ok(Some(UpdateBody::RemarkChanged(r))) => json!({ "remark_changed": {
            "id": id, "time": time, "user_id": r.user_id, "remark": r.remark,
        }}),
        Ok(Some(UpdateBody::MessageEdited(e))) => json!({ "message_edited": {
            "id": id, "time": time, "message_id": e.message_id, "sender": e.sender, "to": target_json(e.to),
        }}),
        Ok(Some(UpdateBody::ConversationStateChanged(s))) => json!({ "conversation_state_changed": {
            "id": id, "time": time, "with": target_json(s.with), "pinned_at": s.pinned_at, "draft": s.draft,
        }}),
        _ => json!({ "update": { "id": id, "kind": entry.kind } }),
    }
}
