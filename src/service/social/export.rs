//! What `kith user export` holds of a user's social data.

use serde_json::{json, Value};

use super::store;
use crate::service::export::request_json;
use crate::storage::{StorageError, Store};

/// The user's profile and privacy settings, then one line per friend,
/// friend request (both boxes, `ttl_ms` deciding which expired) and
/// blocked user.
pub(crate) fn export(s: &Store, id: u64, ttl_ms: u64, now: u64) -> Result<Vec<Value>, StorageError> {
    let p = store::profile(s, id)?;
    let privacy = store::privacy(s, id)?;
    let fields = store::field_visibility(s, id)?;
    let mut out = vec![json!({ "social_profile": {
        "nickname": p.nickname,
        "avatar": p.avatar,
        "gender": format!("{:?}", p.gender).to_lowercase(),
        "birth_date": p.birth_date.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)),
        "signature": p.signature,
        "city": p.city,
        "province": p.province,
        "extra": p.extra,
        "discoverable": format!("{:?}", privacy.discoverable),
        "friend_policy": format!("{:?}", privacy.friend_policy),
        "presence_shown_to": format!("{:?}", privacy.presence).to_lowercase(),
        "last_seen": store::last_seen(s, id)?,
        "birth_date_shown_to": format!("{:?}", fields.birth_date).to_lowercase(),
        "city_shown_to": format!("{:?}", fields.city).to_lowercase(),
        "province_shown_to": format!("{:?}", fields.province).to_lowercase(),
    }})];
    for (friend, entry) in store::friends(s, id, 0, usize::MAX)?.0 {
        let username = super::card(s, friend)?.username;
        out.push(json!({ "friend": { "user_id": friend, "username": username, "remark": entry.remark, "since": entry.since } }));
    }
    for entry in store::incoming(s, id, u64::MAX) {
        let (request, record) = entry?;
        out.push(
            json!({ "friend_request": request_json(&super::request_info(s, ttl_ms, request, id, &record, now)?) }),
        );
    }
    for entry in store::outgoing(s, id, u64::MAX) {
        let (request, to) = entry?;
        if let Some(record) = store::request(s, to, request)? {
            out.push(
                json!({ "friend_request": request_json(&super::request_info(s, ttl_ms, request, to, &record, now)?) }),
            );
        }
    }
    for (blocked, since) in store::blocked(s, id, 0, usize::MAX)?.0 {
        out.push(json!({ "blocked": { "user_id": blocked, "since": since } }));
    }
    Ok(out)
}
