//! What `kith user export` holds of a user's files: one line per file they
//! uploaded, with where the operator finds its bytes.

use serde_json::{json, Value};

use super::store;
use super::Files;
use crate::hex::hex;
use crate::id::id_time_ms;
use crate::protocol::MediaPurpose;
use crate::storage::{StorageError, Store};

/// One `media` line per file the user uploaded that is still stored.
pub(crate) fn export(s: &Store, files: &Files, user: u64) -> Result<Vec<Value>, StorageError> {
    let mut out = Vec::new();
    for (id, m) in store::uploaded_by(s, user)? {
        let purpose = MediaPurpose::try_from(m.purpose).map_or_else(|e| e, |p| format!("{p:?}").to_lowercase());
        out.push(json!({ "media": {
            "id": id,
            "time": id_time_ms(id),
            "size": m.size,
            "mime": m.mime,
            "sha256": hex(&m.sha256),
            "purpose": purpose,
            "width": m.width,
            "height": m.height,
            "duration_ms": m.duration_ms,
            "file": files.blob_path(&m.sha256),
        }}));
    }
    Ok(out)
}
