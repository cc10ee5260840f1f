//! The media domain's records: files by media id, each distinct content
//! once with the count of ids naming it, what each user stores against
//! their quota, the messages that carry each file, the profiles and groups
//! that show it as their avatar, and uploads.

use serde::{Deserialize, Serialize};

use crate::service::message::Conversation;
use crate::service::{ServiceResult, Tx};
use crate::storage::{schema, Audit, Get, Keyspace, StorageError, Store};

/// A SHA-256 digest: the name of a file's content.
pub(crate) type Hash = [u8; 32];

/// A stored file, under its media id (a snowflake: when it was stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MediaRecord {
    /// Who uploaded it.
    pub uploader: u64,
    /// Its content.
    pub sha256: Hash,
    /// Size in bytes.
    pub size: u64,
    /// MIME type, as declared.
    pub mime: String,
    /// What it was uploaded for.
    pub purpose: u8,
    /// Width in pixels, 0 if none.
    pub width: u32,
    /// Height in pixels, 0 if none.
    pub height: u32,
    /// Duration in milliseconds, 0 if none.
    pub duration_ms: u32,
    /// Since when (ms) the sweep found no message carrying it; `None` while
    /// one does, or before the sweep looked.
    pub orphan_since: Option<u64>,
}

/// One distinct content on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Blob {
    /// Size in bytes.
    pub size: u64,
    /// How many media ids name it; at 0 the record and the file go.
    pub names: u64,
}

/// An upload, from `StartUpload` until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Upload {
    /// Who uploads.
    pub user: u64,
    /// Declared size.
    pub size: u64,
    /// Declared MIME type.
    pub mime: String,
    /// Declared SHA-256.
    pub sha256: Hash,
    /// Declared purpose.
    pub purpose: u8,
    /// Width, height and duration, as declared.
    pub shape: (u32, u32, u32),
    /// When it is discarded, ms since the epoch.
    pub expires_ms: u64,
    /// The media id it became, once finished.
    pub finished: Option<u64>,
}

const MEDIA: Keyspace<u64, MediaRecord> = Keyspace::new(&schema::MEDIAID_MEDIA);
const BLOBS: Keyspace<Hash, Blob> = Keyspace::new(&schema::HASH_BLOB);
const HOLDINGS: Keyspace<(u64, Hash), u64> = Keyspace::new(&schema::USERHASH_COUNT);
const USAGE: Keyspace<u64, u64> = Keyspace::new(&schema::USERID_MEDIABYTES);
const REFS: Keyspace<(u64, (Conversation, u64)), ()> = Keyspace::new(&schema::MEDIAMESSAGE_REF);
const UPLOADS: Keyspace<u64, Upload> = Keyspace::new(&schema::UPLOADID_UPLOAD);
const OPEN: Keyspace<(u64, u64), ()> = Keyspace::new(&schema::USERUPLOAD_OPEN);
const USER_AVATARS: Keyspace<(u64, u64), ()> = Keyspace::new(&schema::MEDIAUSER_AVATAR);
const GROUP_AVATARS: Keyspace<(u64, u64), ()> = Keyspace::new(&schema::MEDIAGROUP_AVATAR);
const MOMENTS: Keyspace<(u64, u64), ()> = Keyspace::new(&schema::MEDIAMOMENT_SHOWN);

/// What shows a file to people it was never sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// A user's profile, as its avatar.
    User(u64),
    /// A group, as its avatar.
    Group(u64),
    /// A moment, as one of its photos, its video or the video's cover.
    Moment(u64),
}

impl Holder {
    fn keyspace(self) -> (&'static Keyspace<(u64, u64), ()>, u64) {
        match self {
            Holder::User(user) => (&USER_AVATARS, user),
            Holder::Group(group) => (&GROUP_AVATARS, group),
            Holder::Moment(moment) => (&MOMENTS, moment),
        }
    }
}

/// A stored file.
pub(crate) fn media(r: &impl Get, id: u64) -> Result<Option<MediaRecord>, StorageError> {
    r.get(&MEDIA, &id)
}

/// The messages that carry a file.
pub(crate) fn references(r: &impl Get, id: u64) -> Result<Vec<(Conversation, u64)>, StorageError> {
    r.range(&REFS, (id, (Conversation::direct(0, 0), 0))..=(id, (Conversation::Group(u64::MAX), u64::MAX)))
        .map(|entry| entry.map(|((_, at), ())| at))
        .collect()
}

/// Notes that a message carries a file, which nobody lacks then.
pub(crate) fn reference(tx: &mut Tx<'_>, id: u64, record: &mut MediaRecord, at: (Conversation, u64)) {
    tx.put(&REFS, &(id, at), &());
    if record.orphan_since.take().is_some() {
        tx.put(&MEDIA, &id, record);
    }
}

/// The profiles, groups and moments that show a file.
pub(crate) fn holders(r: &impl Get, id: u64) -> Result<Vec<Holder>, StorageError> {
    let of = |ks, holder: fn(u64) -> Holder| {
        r.range(ks, (id, 0)..=(id, u64::MAX)).map(move |e| e.map(|((_, who), ())| holder(who)))
    };
    of(&USER_AVATARS, Holder::User)
        .chain(of(&GROUP_AVATARS, Holder::Group))
        .chain(of(&MOMENTS, Holder::Moment))
        .collect()
}

/// Moves what `holder` shows from file `old` to file `new` (0: none), in
/// the job that changes the profile, group or moment.
pub(super) fn show(tx: &mut Tx<'_>, holder: Holder, old: u64, new: u64) -> ServiceResult<()> {
    let (keyspace, who) = holder.keyspace();
    if old != 0 {
        tx.delete(keyspace, &(old, who));
    }
    if new != 0 {
        tx.put(keyspace, &(new, who), &());
        if let Some(record) = media(tx, new)?.filter(|r| r.orphan_since.is_some()) {
            set_orphan(tx, new, &record, None);
        }
    }
    Ok(())
}

/// Forgets that a message carries a file (the message is gone).
pub(super) fn unreference(tx: &mut Tx<'_>, id: u64, at: (Conversation, u64)) {
    tx.delete(&REFS, &(id, at));
}

/// Bytes a user stores against their quota.
pub(super) fn usage(r: &impl Get, user: u64) -> Result<u64, StorageError> {
    Ok(r.get(&USAGE, &user)?.unwrap_or(0))
}

/// Whether a user already stores this content (so it costs their quota nothing).
pub(super) fn holds(r: &impl Get, user: u64, hash: &Hash) -> Result<bool, StorageError> {
    Ok(r.get(&HOLDINGS, &(user, *hash))?.is_some())
}

/// Stores a new media id for `record`'s content: one more name of the blob
/// and, for its uploader, one more of theirs (counted against the quota the
/// first time).
pub(super) fn add(tx: &mut Tx<'_>, id: u64, record: &MediaRecord) -> ServiceResult<()> {
    let blob = tx.get(&BLOBS, &record.sha256)?.unwrap_or(Blob { size: record.size, names: 0 });
    tx.put(&BLOBS, &record.sha256, &Blob { names: blob.names + 1, ..blob });
    let key = (record.uploader, record.sha256);
    let held = tx.get(&HOLDINGS, &key)?.unwrap_or(0);
    if held == 0 {
        let used = tx.get(&USAGE, &record.uploader)?.unwrap_or(0);
        tx.put(&USAGE, &record.uploader, &(used + record.size));
    }
    tx.put(&HOLDINGS, &key, &(held + 1));
    tx.put(&MEDIA, &id, record);
    Ok(())
}

/// Removes a media id and its references; returns its content when it has
/// no other name, so its file may go.
pub(super) fn remove(tx: &mut Tx<'_>, id: u64, record: &MediaRecord) -> Result<Option<Hash>, StorageError> {
    tx.delete(&MEDIA, &id);
    tx.delete_some(&REFS, &id, usize::MAX)?;
    let key = (record.uploader, record.sha256);
    match tx.get(&HOLDINGS, &key)?.unwrap_or(0) {
        0 | 1 => {
            tx.delete(&HOLDINGS, &key);
            let used = tx.get(&USAGE, &record.uploader)?.unwrap_or(0).saturating_sub(record.size);
            if used == 0 {
                tx.delete(&USAGE, &record.uploader);
            } else {
                tx.put(&USAGE, &record.uploader, &used);
            }
        }
        held => tx.put(&HOLDINGS, &key, &(held - 1)),
    }
    let names = tx.get(&BLOBS, &record.sha256)?.map_or(0, |b| b.names);
    if names <= 1 {
        tx.delete(&BLOBS, &record.sha256);
        return Ok(Some(record.sha256));
    }
    tx.put(&BLOBS, &record.sha256, &Blob { size: record.size, names: names - 1 });
    Ok(None)
}

/// Marks a file as read by nobody since `at`, or clears the mark.
pub(super) fn set_orphan(tx: &mut Tx<'_>, id: u64, record: &MediaRecord, since: Option<u64>) {
    tx.put(&MEDIA, &id, &MediaRecord { orphan_since: since, ..record.clone() });
}

/// Every stored file's id and record, from `after` on (exclusive), at most `most`.
pub(super) fn media_after(s: &Store, after: u64, most: usize) -> Result<Vec<(u64, MediaRecord)>, StorageError> {
    let Some(from) = after.checked_add(1) else { return Ok(Vec::new()) };
    s.range(&MEDIA, from..).take(most).collect()
}

/// An upload.
pub(super) fn upload(r: &impl Get, id: u64) -> Result<Option<Upload>, StorageError> {
    r.get(&UPLOADS, &id)
}

/// How many unfinished uploads a user has.
pub(super) fn open_uploads(r: &impl Get, user: u64) -> Result<u64, StorageError> {
    r.count(&OPEN, (user, 0)..=(user, u64::MAX))
}

/// Records a new upload.
pub(super) fn start(tx: &mut Tx<'_>, id: u64, upload: &Upload) {
    tx.put(&OPEN, &(upload.user, id), &());
    tx.put(&UPLOADS, &id, upload);
}

/// Records that an upload became media id `media`: it no longer counts as
/// unfinished, and a retried finish finds its id until it expires.
pub(super) fn finish(tx: &mut Tx<'_>, id: u64, upload: &Upload, media: u64) {
    tx.delete(&OPEN, &(upload.user, id));
    tx.put(&UPLOADS, &id, &Upload { finished: Some(media), ..upload.clone() });
}

/// Forgets an upload.
pub(super) fn drop_upload(tx: &mut Tx<'_>, id: u64, upload: &Upload) {
    tx.delete(&OPEN, &(upload.user, id));
    tx.delete(&UPLOADS, &id);
}

/// Uploads that expired by `now`, at most `most`.
pub(super) fn expired_uploads(s: &Store, now: u64, most: usize) -> Result<Vec<(u64, Upload)>, StorageError> {
    let mut out = Vec::new();
    for entry in s.all(&UPLOADS) {
        let (id, upload) = entry?;
        if upload.expires_ms <= now {
            out.push((id, upload));
            if out.len() == most {
                break;
            }
        }
    }
    Ok(out)
}

/// Every upload's id, ascending.
pub(super) fn uploads(s: &Store) -> Result<Vec<u64>, StorageError> {
    s.all(&UPLOADS).map(|entry| entry.map(|(id, _)| id)).collect()
}

/// Every distinct content stored, ascending.
pub(super) fn blobs(s: &Store) -> Result<Vec<Hash>, StorageError> {
    s.all(&BLOBS).map(|entry| entry.map(|(hash, _)| hash)).collect()
}

/// Every distinct content stored with its size, for a backup.
pub(crate) fn contents(s: &Store) -> Result<Vec<(Hash, u64)>, StorageError> {
    s.all(&BLOBS).map(|entry| entry.map(|(hash, blob)| (hash, blob.size))).collect()
}

/// A user's files, for their export: id and record.
pub(super) fn uploaded_by(s: &Store, user: u64) -> Result<Vec<(u64, MediaRecord)>, StorageError> {
    s.all(&MEDIA).filter(|entry| !matches!(entry, Ok((_, m)) if m.uploader != user)).collect()
}

/// Files and bytes stored (each content once).
pub(crate) fn stats(s: &Store) -> Result<(u64, u64), StorageError> {
    let mut files = 0;
    let mut bytes = 0;
    for entry in s.all(&BLOBS) {
        let (_, blob) = entry?;
        files += 1;
        bytes += blob.size;
    }
    Ok((files, bytes))
}

/// Bytes and distinct files each user stores, largest first.
pub(crate) fn usage_by_user(s: &Store) -> Result<Vec<(u64, u64, u64)>, StorageError> {
    let mut all = Vec::new();
    for entry in s.all(&USAGE) {
        let (user, bytes) = entry?;
        let files = s.count(&HOLDINGS, (user, [0; 32])..=(user, [0xff; 32]))?;
        all.push((user, bytes, files));
    }
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(all)
}

/// Forgets a deleted user's unfinished uploads and quota counters, at most
/// `most` entries a job; true when nothing is left. Their files stay while
/// messages carry them: the people they sent them to keep what they got.
pub(crate) fn erase(tx: &mut Tx<'_>, user: u64, most: usize) -> Result<bool, StorageError> {
    let open: Vec<u64> =
        tx.scan(&OPEN, &user).take(most).map(|e| e.map(|((_, id), ())| id)).collect::<Result<_, _>>()?;
    for id in &open {
        tx.delete(&OPEN, &(user, *id));
        tx.delete(&UPLOADS, id);
    }
    if !open.is_empty() || tx.delete_some(&HOLDINGS, &user, most)? > 0 {
        return Ok(false);
    }
    tx.delete(&USAGE, &user);
    Ok(true)
}

/// The restore check: every record decodes, and the counts agree with the
/// media ids that make them up.
pub(crate) fn check(audit: &Audit<'_>) -> Result<(), String> {
    use std::collections::BTreeMap;
    let mut names: BTreeMap<Hash, u64> = BTreeMap::new();
    let mut held: BTreeMap<(u64, Hash), u64> = BTreeMap::new();
    for entry in audit.all(&MEDIA) {
        let (_, m) = entry.map_err(|e| e.to_string())?;
        *names.entry(m.sha256).or_default() += 1;
        *held.entry((m.uploader, m.sha256)).or_default() += 1;
    }
    let mut sizes: BTreeMap<Hash, u64> = BTreeMap::new();
    for entry in audit.all(&BLOBS) {
        let (hash, blob) = entry.map_err(|e| e.to_string())?;
        if names.get(&hash).copied().unwrap_or(0) != blob.names {
            return Err(format!(
                "hash_blob: a file counts {} names, the media records {:?}",
                blob.names,
                names.get(&hash)
            ));
        }
        sizes.insert(hash, blob.size);
    }
    if names.keys().any(|hash| !sizes.contains_key(hash)) {
        return Err("mediaid_media: a file has no hash_blob record".into());
    }
    let mut usage: BTreeMap<u64, u64> = BTreeMap::new();
    for entry in audit.all(&HOLDINGS) {
        let ((user, hash), count) = entry.map_err(|e| e.to_string())?;
        if held.get(&(user, hash)).copied().unwrap_or(0) != count {
            return Err(format!("userhash_count: user {user} holds a file {count} times, the media records differ"));
        }
        *usage.entry(user).or_default() += sizes.get(&hash).copied().unwrap_or(0);
    }
    for entry in audit.all(&USAGE) {
        let (user, bytes) = entry.map_err(|e| e.to_string())?;
        if usage.remove(&user) != Some(bytes) {
            return Err(format!("userid_mediabytes: user {user}'s {bytes} bytes differ from what they hold"));
        }
    }
    if let Some(user) = usage.keys().next() {
        return Err(format!("userid_mediabytes: user {user} holds files but has no usage"));
    }
    audit.check_entries(&REFS)?;
    audit.check_entries(&USER_AVATARS)?;
    audit.check_entries(&GROUP_AVATARS)?;
    audit.check_entries(&MOMENTS)?;
    audit.check_entries(&UPLOADS)?;
    audit.check_entries(&OPEN)
}
