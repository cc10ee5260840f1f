//! The only module that touches sled, and it knows no domain.
//!
//! Every record lives in one sled tree, in keyspaces told apart by a prefix
//! byte ([`schema`] lists them; [`keyspace`] builds their keys). One tree
//! means a whole group commit is one atomic sled batch: sled batches are
//! atomic within a tree only. Reads go straight to sled from any task; every
//! write is a job on the single [`commit::Committer`], which applies many
//! jobs as one batch behind one flush and one `fdatasync` (group commit).
//! [`migrate`] brings an older data directory up to the current layout when
//! it is opened.

mod audit;
pub mod backup;
pub mod commit;
pub mod compact;
mod disk_sync;
pub mod keyspace;
pub mod migrate;
mod read_cache;
pub mod schema;
pub mod tx;

use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

pub use audit::Audit;
pub use disk_sync::DiskSync;
pub use keyspace::{KeyPart, Keyspace, Leading};
pub use migrate::{Migration, Migrator};
pub use tx::Tx;

/// Reads answered the same by the store (a handler's read) and by a write
/// job (the re-check on the write path), so a rule that reads records is
/// written once for both.
pub trait Get {
    /// The value under `key`.
    fn get<K: KeyPart, V: Serialize + DeserializeOwned>(
        &self,
        ks: &Keyspace<K, V>,
        key: &K,
    ) -> Result<Option<V>, StorageError>;

    /// Entries of a key range, in key order.
    fn range<'s, K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &'s self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Box<dyn Iterator<Item = Result<(K, V), StorageError>> + 's>;

    /// Entries of a key range, highest key first.
    fn range_descending<'s, K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &'s self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Box<dyn Iterator<Item = Result<(K, V), StorageError>> + 's>;

    /// Entries in a key range, counted without decoding them.
    fn count<K: KeyPart + 'static, V: 'static>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Result<u64, StorageError>;
}

impl Get for Store {
    fn get<K: KeyPart, V: Serialize + DeserializeOwned>(
        &self,
        ks: &Keyspace<K, V>,
        key: &K,
    ) -> Result<Option<V>, StorageError> {
        self.get(ks, key)
    }

    fn range<'s, K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &'s self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Box<dyn Iterator<Item = Result<(K, V), StorageError>> + 's> {
        Box::new(self.range(ks, range))
    }

    fn range_descending<'s, K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &'s self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Box<dyn Iterator<Item = Result<(K, V), StorageError>> + 's> {
        Box::new(self.range(ks, range).rev())
    }

    fn count<K: KeyPart + 'static, V: 'static>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Result<u64, StorageError> {
        let mut n = 0;
        for key in self.tree.range(ks.bounds(range)).keys() {
            key?;
            n += 1;
        }
        Ok(n)
    }
}

impl<E> Get for Tx<'_, E> {
    fn get<K: KeyPart, V: Serialize + DeserializeOwned>(
        &self,
        ks: &Keyspace<K, V>,
        key: &K,
    ) -> Result<Option<V>, StorageError> {
        self.get(ks, key)
    }

    fn range<'s, K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &'s self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Box<dyn Iterator<Item = Result<(K, V), StorageError>> + 's> {
        Box::new(self.range(ks, range))
    }

    fn range_descending<'s, K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &'s self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Box<dyn Iterator<Item = Result<(K, V), StorageError>> + 's> {
        Box::new(self.range_descending(ks, range))
    }

    fn count<K: KeyPart + 'static, V: 'static>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Result<u64, StorageError> {
        self.count(ks, range)
    }
}

/// Name of the sled tree holding every keyspace.
const TREE: &str = "kith";

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
    #[error("corrupt record in {keyspace}: {detail}")]
    Corrupt {
        /// Keyspace (or legacy tree) holding the record.
        keyspace: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// The data was written by a newer kith than this one.
    #[error("data has schema version {found}, newer than this build's {supported}; run a newer kith")]
    Newer {
        /// Version found on disk.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
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
    /// An earlier sync failed; nothing is written or acknowledged any more.
    #[error("storage failed to sync earlier; restart kith")]
    Failed,
}

/// How much a write must have reached before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Flush sled's buffers and `fdatasync` its files: survives power loss.
    #[default]
    Fsync,
    /// Flush sled's buffers to the kernel only: survives a crash of the kith
    /// process (even `kill -9`), not of the machine — whose power cut can
    /// leave a database sled cannot open (`tests/power_loss.rs`).
    Flush,
}

/// Storage tuning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// What an acknowledgement promises; see [`Durability`].
    pub durability: Durability,
    /// sled page cache, MiB, as sled counts it: pages by their size on
    /// disk, so a full cache holds several times this in memory.
    pub cache_mb: u64,
    /// Most jobs one group commit takes before it syncs.
    pub max_batch: usize,
    /// What the write thread keeps of the records it read, MiB.
    pub write_cache_mb: u64,
    /// Rows one job of a deleted account's erasure deletes at most.
    pub erase_batch: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            durability: Durability::Fsync,
            cache_mb: 16,
            max_batch: 4096,
            write_cache_mb: 16,
            erase_batch: 500,
        }
    }
}

/// The open database.
pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
    dir: PathBuf,
    /// The layout version the data is at (the newest `migrations` know).
    version: u32,
}

impl Store {
    /// Opens (or creates) the database under `data_dir/sled`, bringing an
    /// older layout up to date with `migrations` (in version order).
    pub fn open(data_dir: &Path, config: &StorageConfig, migrations: &[Migration]) -> Result<Store, StorageError> {
        compact::recover(data_dir)?;
        let dir = data_dir.join("sled");
        let db = open_db(&dir, config)?;
        let tree = db.open_tree(TREE)?;
        let version = migrate::bring_up_to_date(&db, &tree, migrations)?;
        Ok(Store { db, tree, dir, version })
    }

    /// The layout version of the data.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The value under `key`.
    pub fn get<K: KeyPart, V: Serialize + DeserializeOwned>(
        &self,
        ks: &Keyspace<K, V>,
        key: &K,
    ) -> Result<Option<V>, StorageError> {
        self.tree.get(ks.key(key))?.map(|v| ks.decode_value(&v)).transpose()
    }

    /// Entries of a key range, in key order (reversible).
    pub fn range<K: KeyPart, V: Serialize + DeserializeOwned>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Entries<K, V> {
        Entries { iter: self.tree.range(ks.bounds(range)), ks: *ks }
    }

    /// The keys of a key range, newest (highest) first, values not decoded.
    pub fn keys_descending<K: KeyPart + 'static, V: 'static>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> impl Iterator<Item = Result<K, StorageError>> + '_ {
        let ks = *ks;
        self.tree.range(ks.bounds(range)).rev().map(move |item| ks.decode_key(&item?.0))
    }

    /// Entries whose key starts with `leading`, in key order (reversible).
    pub fn scan<K: KeyPart + Leading<P>, V: Serialize + DeserializeOwned, P: KeyPart>(
        &self,
        ks: &Keyspace<K, V>,
        leading: &P,
    ) -> Entries<K, V> {
        Entries { iter: self.tree.scan_prefix(ks.prefix(leading)), ks: *ks }
    }

    /// Every entry of a keyspace, in key order.
    pub fn all<K: KeyPart, V: Serialize + DeserializeOwned>(&self, ks: &Keyspace<K, V>) -> Entries<K, V> {
        Entries { iter: self.tree.scan_prefix(ks.all()), ks: *ks }
    }

    /// Number of entries in a keyspace (a scan of its keys).
    pub fn count_all<K, V>(&self, ks: &Keyspace<K, V>) -> Result<u64, StorageError> {
        let mut n = 0;
        for key in self.tree.scan_prefix(ks.all()).keys() {
            key?;
            n += 1;
        }
        Ok(n)
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
}

/// Creates a directory (and its parents) for the server's user alone (0700),
/// whatever the umask; an existing one is left as it is.
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Creates a new file for the server's user alone (0600); an existing file
/// or a symlink at `path` is refused, never followed.
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

/// Opens sled. When the same process closed the database a moment ago (a
/// restart in place), sled's I/O threads may still hold its lock for a few
/// milliseconds; that is waited out, briefly. Another process holding it is
/// reported at once after that.
fn open_db(dir: &Path, config: &StorageConfig) -> Result<sled::Db, StorageError> {
    let mut attempts = 0;
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .cache_capacity(config.cache_mb.saturating_mul(1024 * 1024))
            .flush_every_ms(Some(500))
            .open();
        match opened {
            // sled reports a held lock only in the message of an `Other` error.
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") && attempts < 20 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return Ok(other?),
        }
    }
}

/// Typed entries of a scan.
pub struct Entries<K, V> {
    iter: sled::Iter,
    ks: Keyspace<K, V>,
}

impl<K: KeyPart, V: Serialize + DeserializeOwned> Iterator for Entries<K, V> {
    type Item = Result<(K, V), StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.iter.next()?;
        Some(item.map_err(StorageError::from).and_then(|(k, v)| self.ks.decode_entry(&k, &v)))
    }
}

impl<K: KeyPart, V: Serialize + DeserializeOwned> DoubleEndedIterator for Entries<K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let item = self.iter.next_back()?;
        Some(item.map_err(StorageError::from).and_then(|(k, v)| self.ks.decode_entry(&k, &v)))
    }
}
