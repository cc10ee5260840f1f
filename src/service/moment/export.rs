//! What `kith user export` holds of a user's moments: one line per moment
//! they posted, per like they gave and per comment they wrote.

use serde_json::{json, Value};

use super::store;
use crate::id::id_time_ms;
use crate::storage::{StorageError, Store};

/// The user's `moment`, `moment_like` and `moment_comment` lines.
pub(crate) fn export(s: &Store, user: u64) -> Result<Vec<Value>, StorageError> {
    let mut out = Vec::new();
    for id in store::posted_after(s, user, 0) {
        let id = id?;
        let Some(m) = store::moment(s, id)? else { continue };
        out.push(json!({ "moment": {
            "id": id,
            "time": id_time_ms(id),
            "text": m.text,
            "files": m.media.files(),
            "location": m.location.map(|l| json!({
                "name": l.name,
                "latitude_e7": l.latitude_e7,
                "longitude_e7": l.longitude_e7,
            })),
            "audience": format!("{:?}", m.visibility.audience).to_lowercase(),
            "listed": m.visibility.users,
            "likes": m.likes,
            "comments": m.comments,
        }}));
    }
    for moment in store::liked_by(s, user, 0) {
        let moment = moment?;
        let like = store::like(s, moment, user)?.unwrap_or(0);
        out.push(json!({ "moment_like": { "moment": moment, "time": id_time_ms(like) } }));
    }
    for entry in store::commented_by(s, user, 0) {
        let (id, moment) = entry?;
        let Some(c) = store::comment(s, moment, id)? else { continue };
        out.push(json!({ "moment_comment": {
            "id": id,
            "time": id_time_ms(id),
            "moment": moment,
            "text": c.text,
            "reply_to": c.reply_to,
        }}));
    }
    Ok(out)
}
