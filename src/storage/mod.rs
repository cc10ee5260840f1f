//! The only module that touches sled.
//!
//! Trees are named `<key>_<value>`; their key layouts live in [`keys`] and are
//! listed in `docs/ARCHITECTURE.md`. Reads go straight to sled from any task;
//! every write that must survive a crash goes through the single
//! [`commit::Committer`] thread, which batches concurrent writes behind one
//! flush and one `fdatasync` (group commit).

pub mod accounts;
pub mod backup;
pub mod commit;
mod disk_sync;
pub mod keys;
pub mod messages;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::codec::{self, DecodeError};
pub use disk_sync::DiskSync;

/// Version of the on-disk layout; bumped when a key or value layout changes.
pub const SCHEMA_VERSION: u32 = 1;

const SCHEMA_KEY: &[u8] = b"schema_version";

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// sled reported an error (I/O, corruption, or the database is in use).
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    /// A file operation outside sled failed.
    #[error("disk: {0}")]
    Io(#[from] std::io::Error),
    /// A stored key or value did not decode.
    #[error("corrupt record in {tree}: {detail}")]
    Corrupt {
        /// Tree holding the record.
        tree: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// The data directory was written by an incompatible version.
    #[error("data directory has schema version {found}, this build reads {SCHEMA_VERSION}")]
    Schema {
        /// Version found on disk.
        found: u32,
    },
    /// The group commit carrying this write failed.
    #[error("group commit failed: {0}")]
    Commit(Arc<StorageError>),
    /// A backup could not be restored.
    #[error("{0}")]
    Restore(String),
    /// The commit thread is gone (the server is shutting down).
    #[error("storage is shutting down")]
    Closed,
}

/// How much a write must have reached before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Flush sled's buffers and `fdatasync` its files: survives power loss.
    #[default]
    Fsync,
    /// Flush sled's buffers to the kernel only: survives a crash of the kith
    /// process (even `kill -9`), not of the machine.
    Flush,
}

/// Storage tuning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// What an acknowledgement promises; see [`Durability`].
    pub durability: Durability,
    /// sled page cache, MiB.
    pub cache_mb: u64,
    /// Most writes one group commit takes before it syncs.
    pub max_batch: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { durability: Durability::Fsync, cache_mb: 64, max_batch: 4096 }
    }
}

/// The open database and its trees.
pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    meta: sled::Tree,
    pub(crate) userid_user: sled::Tree,
    pub(crate) username_userid: sled::Tree,
    pub(crate) tokenid_token: sled::Tree,
    pub(crate) device_record: sled::Tree,
    pub(crate) device_cursor: sled::Tree,
    pub(crate) messages: sled::Tree,
    /// Highest user id ever created. Users are never deleted, so an id
    /// exists iff it is between 1 and this — checked without touching sled
    /// on the send path.
    pub(crate) last_user_id: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Opens (or creates) the database under `data_dir/sled`.
    pub fn open(data_dir: &Path, config: &StorageConfig) -> Result<Store, StorageError> {
        let dir = data_dir.join("sled");
        let db = sled::Config::new()
            .path(&dir)
            .cache_capacity(config.cache_mb.saturating_mul(1024 * 1024))
            .flush_every_ms(Some(500))
            .open()?;
        let tree = |name: &str| db.open_tree(name);
        let store = Store {
            meta: tree("meta")?,
            userid_user: tree("userid_user")?,
            username_userid: tree("username_userid")?,
            tokenid_token: tree("tokenid_token")?,
            device_record: tree("userdevice_device")?,
            device_cursor: tree("userdevice_cursor")?,
            messages: tree("messages")?,
            last_user_id: Default::default(),
            db,
            dir,
        };
        store.check_schema()?;
        store.load_last_user_id()?;
        Ok(store)
    }

    fn check_schema(&self) -> Result<(), StorageError> {
        match self.meta.get(SCHEMA_KEY)? {
            None => {
                self.meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
                self.db.flush()?;
                Ok(())
            }
            Some(v) => {
                let found = v.as_ref().try_into().map(u32::from_be_bytes).unwrap_or(0);
                if found == SCHEMA_VERSION {
                    Ok(())
                } else {
                    Err(StorageError::Schema { found })
                }
            }
        }
    }

    /// Directory holding sled's files.
    pub fn sled_dir(&self) -> &Path {
        &self.dir
    }

    /// Flushes sled's buffers (without `fdatasync`).
    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        Ok(())
    }

    /// Bytes sled occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.db.size_on_disk()?)
    }

    pub(crate) fn meta(&self) -> &sled::Tree {
        &self.meta
    }
}

/// Decodes a stored value, naming the tree on failure.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StorageError> {
    codec::decode_stored(bytes).map_err(|e: DecodeError| StorageError::Corrupt { tree, detail: e.to_string() })
}

/// Unwraps a transaction's outcome into the storage error it carries.
pub(crate) fn transaction_error(e: sled::transaction::TransactionError<StorageError>) -> StorageError {
    match e {
        sled::transaction::TransactionError::Abort(e) => e,
        sled::transaction::TransactionError::Storage(e) => StorageError::Sled(e),
    }
}
