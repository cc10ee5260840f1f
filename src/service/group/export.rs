//! What `kith user export` holds of a user's groups.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::store;
use crate::id::id_time_ms;
use crate::storage::{StorageError, Store};

/// One line per group the user is in, per ended membership still kept,
/// and per invitation waiting for an answer.
pub(crate) fn export(s: &Store, id: u64) -> Result<Vec<Value>, StorageError> {
    let mut out = Vec::new();
    for entry in store::groups_of(s, id, 0) {
        let gid = entry?;
        let (Some(g), Some(m)) = (store::group(s, gid)?, store::member(s, gid, id)?) else { continue };
        out.push(json!({ "group": {
            "group_id": gid, "name": g.fields.name, "role": format!("{:?}", m.role).to_lowercase(),
            "alias": m.alias, "joined_at": id_time_ms(m.joined), "owner": g.owner,
        }}));
    }
    for entry in store::left_groups(s, id) {
        let (gid, windows) = entry?;
        for w in windows {
            out.push(json!({ "group_left": { "group_id": gid, "from": w.from, "until": w.until, "left_at": id_time_ms(w.until) }}));
        }
    }
    for entry in store::invitations_page(s, id, 0) {
        let (gid, invitation) = entry?;
        out.push(json!({ "group_invitation": {
            "id": invitation.id, "time": id_time_ms(invitation.id), "group_id": gid, "by": invitation.by,
        }}));
    }
    Ok(out)
}

/// Every group the user is in or left and still has a window of.
pub(crate) fn reached_groups(s: &Store, user: u64) -> Result<BTreeSet<u64>, StorageError> {
    let mut groups = BTreeSet::new();
    for group in store::groups_of(s, user, 0) {
        groups.insert(group?);
    }
    for entry in store::left_groups(s, user) {
        groups.insert(entry?.0);
    }
    Ok(groups)
}
