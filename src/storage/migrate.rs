//! Bringing a data directory written by an older kith up to the current
//! layout, step by step, when the store opens.
//!
//! The layout version lives in the `schema_version` keyspace. Version 1 was
//! the layout before keyspaces: seven sled trees, its version in the `meta`
//! tree. The domains that own the data write the steps ([`Migration`]);
//! this module runs the ones the data has not had yet, in order, records
//! each version reached, and finally removes trees the layout no longer has.
//!
//! A step must be safe to run again after a crash part-way through it. The
//! step out of version 1 is: it writes only into the keyspace tree, which is
//! cleared before it starts, and the old trees are removed only after the
//! new version is on disk.

use super::{schema, KeyPart, Keyspace, StorageError, TREE};
use serde::{de::DeserializeOwned, Serialize};

/// The version of the layout before keyspaces.
pub const LEGACY_VERSION: u32 = 1;

/// The first layout of keyspaces in one tree: what a new database starts at
/// when no migration names a later one.
pub const KEYSPACES_VERSION: u32 = 2;

const VERSION: Keyspace<(), u32> = Keyspace::new(&schema::SCHEMA_VERSION);
const HIGHWATER: Keyspace<(), u64> = Keyspace::new(&schema::IDS_HIGHWATER);

/// Entries buffered before they are applied, so a large migration needs
/// bounded memory.
const CHUNK: usize = 10_000;

/// Typed entries of a keyspace, read during a step.
pub type StepEntries<K, V> = Box<dyn Iterator<Item = Result<(K, V), StorageError>>>;

/// Raw entries of an old tree.
pub type LegacyEntries = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>>>;

/// One step, from the version before it to `version`.
pub struct Migration {
    /// The version the data is at after this step.
    pub version: u32,
    /// What the step does, for the log.
    pub describe: &'static str,
    /// The step itself.
    pub run: fn(&mut Migrator<'_>) -> Result<(), StorageError>,
}

/// What a step works with: the old data, read raw, and the keyspaces it writes.
pub struct Migrator<'a> {
    db: &'a sled::Db,
    tree: &'a sled::Tree,
    batch: sled::Batch,
    queued: usize,
    /// Entries written so far, for the log.
    written: u64,
}

impl Migrator<'_> {
    /// Every entry of a tree of the version-1 layout, as raw bytes; nothing
    /// if the tree does not exist.
    pub fn legacy(&self, tree: &str) -> Result<LegacyEntries, StorageError> {
        if !self.db.tree_names().iter().any(|name| name.as_ref() == tree.as_bytes()) {
            return Ok(Box::new(std::iter::empty()));
        }
        let entries = self.db.open_tree(tree)?.iter();
        Ok(Box::new(entries.map(|item| Ok(item.map(|(k, v)| (k.to_vec(), v.to_vec()))?))))
    }

    /// Writes an entry of the current layout.
    pub fn put<K: KeyPart, V: Serialize + DeserializeOwned>(
        &mut self,
        ks: &Keyspace<K, V>,
        key: &K,
        value: &V,
    ) -> Result<(), StorageError> {
        self.batch.insert(ks.key(key), ks.encode_value(value));
        self.queued += 1;
        self.written += 1;
        if self.queued >= CHUNK {
            self.apply()?;
        }
        Ok(())
    }

    /// The first key of a keyspace of the current layout after `after`
    /// (already applied data only): lets a step walk a keyspace by jumping
    /// from one owner's entries to the next instead of reading them all.
    pub fn first_key_after<K: KeyPart, V>(
        &mut self,
        ks: &Keyspace<K, V>,
        after: std::ops::Bound<K>,
    ) -> Result<Option<K>, StorageError> {
        self.apply()?;
        match self.tree.range(ks.bounds((after, std::ops::Bound::Unbounded))).next() {
            Some(entry) => Ok(Some(ks.decode_key(&entry?.0)?)),
            None => Ok(None),
        }
    }

    /// Every entry of a keyspace of the current layout (data written before
    /// the step, and by the step so far), in key order.
    pub fn entries<K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &mut self,
        ks: &Keyspace<K, V>,
    ) -> Result<StepEntries<K, V>, StorageError> {
        self.apply()?;
        let ks = *ks;
        Ok(Box::new(self.tree.scan_prefix(ks.all()).map(move |item| {
            let (key, value) = item?;
            ks.decode_entry(&key, &value)
        })))
    }

    /// Rewrites every value of a keyspace from an older shape to the
    /// current one. A value that does not decode as the older shape must
    /// already be of the current one, and is left alone, so the step can
    /// run again after a crash part-way: the store's encoding rejects
    /// trailing bytes and running short, so a value whose shape gained
    /// fields never decodes as both. The older shape is tried first because
    /// a value of a shape that changed a field's type (an avatar string
    /// become a media id) may decode as the current one with another
    /// meaning, while the current value of such a field (an id, never
    /// small) reads as a length the older shape runs short of.
    pub fn reshape<K: KeyPart + 'static, Old: DeserializeOwned, New: Serialize + DeserializeOwned>(
        &mut self,
        ks: &Keyspace<K, New>,
        convert: impl Fn(Old) -> New,
    ) -> Result<(), StorageError> {
        self.apply()?;
        let ks = *ks;
        for item in self.tree.scan_prefix(ks.all()) {
            let (key, value) = item?;
            let old: Old = match crate::codec::decode_stored(&value) {
                Ok(old) => old,
                Err(_) if ks.decode_value(&value).is_ok() => continue,
                Err(e) => return Err(ks.corrupt(format!("neither the current nor the older shape: {e}"))),
            };
            let new = ks.encode_value(&convert(old));
            if new[..] == value[..] {
                continue;
            }
            self.batch.insert(key.to_vec(), new);
            self.queued += 1;
            self.written += 1;
            if self.queued >= CHUNK {
                self.apply()?;
            }
        }
        Ok(())
    }

    /// The value under `key` in a keyspace of the current layout (already
    /// applied data, and this step's so far).
    pub fn value<K: KeyPart, V: Serialize + DeserializeOwned>(
        &mut self,
        ks: &Keyspace<K, V>,
        key: &K,
    ) -> Result<Option<V>, StorageError> {
        self.apply()?;
        self.tree.get(ks.key(key))?.map(|v| ks.decode_value(&v)).transpose()
    }

    /// Deletes an entry of the current layout.
    pub fn delete<K: KeyPart, V>(&mut self, ks: &Keyspace<K, V>, key: &K) -> Result<(), StorageError> {
        self.batch.remove(ks.key(key));
        self.queued += 1;
        self.written += 1;
        if self.queued >= CHUNK {
            self.apply()?;
        }
        Ok(())
    }

    /// Deletes every entry of a keyspace, for a step that rebuilds an
    /// index (running again after a crash deletes what it rebuilt so far).
    pub fn clear<K: KeyPart, V>(&mut self, ks: &Keyspace<K, V>) -> Result<(), StorageError> {
        self.apply()?;
        for key in self.tree.scan_prefix(ks.all()).keys() {
            self.batch.remove(key?);
            self.queued += 1;
            if self.queued >= CHUNK {
                self.apply()?;
            }
        }
        self.apply()
    }

    /// Makes sure new snowflake ids start above `id`.
    pub fn raise_id_highwater(&mut self, id: u64) -> Result<(), StorageError> {
        let current = self.tree.get(HIGHWATER.key(&()))?.map(|v| HIGHWATER.decode_value(&v)).transpose()?;
        if current.unwrap_or(0) < id {
            self.apply()?;
            self.tree.insert(HIGHWATER.key(&()), HIGHWATER.encode_value(&id))?;
        }
        Ok(())
    }

    fn apply(&mut self) -> Result<(), StorageError> {
        self.tree.apply_batch(std::mem::take(&mut self.batch))?;
        self.queued = 0;
        Ok(())
    }
}

/// Finds the data's version, runs the missing steps and returns the version
/// reached. A new database starts at the newest version.
pub(super) fn bring_up_to_date(
    db: &sled::Db,
    tree: &sled::Tree,
    migrations: &[Migration],
) -> Result<u32, StorageError> {
    let newest = migrations.last().map_or(KEYSPACES_VERSION, |m| m.version);
    let found = match tree.get(VERSION.key(&()))? {
        Some(v) => VERSION.decode_value(&v)?,
        None => match legacy_version(db)? {
            Some(version) => {
                // A half-done earlier attempt left writes behind; start over.
                tree.clear()?;
                version
            }
            None => {
                tree.insert(VERSION.key(&()), VERSION.encode_value(&newest))?;
                db.flush()?;
                return Ok(newest);
            }
        },
    };
    if found > newest {
        return Err(StorageError::Newer { found, supported: newest });
    }
    for step in migrations.iter().filter(|m| m.version > found) {
        tracing::info!(
            from = found,
            to = step.version,
            "migrating the data (a large database takes a while): {}",
            step.describe
        );
        let started = std::time::Instant::now();
        let mut m = Migrator { db, tree, batch: sled::Batch::default(), queued: 0, written: 0 };
        (step.run)(&mut m)?;
        m.apply()?;
        tree.insert(VERSION.key(&()), VERSION.encode_value(&step.version))?;
        db.flush()?;
        tracing::info!(
            version = step.version,
            entries = m.written,
            took = ?started.elapsed(),
            "migrated the data: {}",
            step.describe
        );
    }
    drop_old_trees(db)?;
    Ok(newest)
}

/// The id high-water mark of restored data, refused if it lies more than a
/// day ahead of the clock: ids taken after it would be far in the future,
/// or wrap around.
pub fn checked_highwater(store: &super::Store) -> Result<u64, String> {
    let highwater = store.get(&HIGHWATER, &()).map_err(|e| e.to_string())?.unwrap_or(0);
    let tomorrow = crate::id::first_id_at(crate::id::now_ms() + 86_400_000);
    if highwater > tomorrow {
        return Err(format!(
            "the id high-water mark {highwater} lies in the future ({} ms)",
            crate::id::id_time_ms(highwater)
        ));
    }
    Ok(highwater)
}

/// The version of a layout from before keyspaces, if the database has one.
fn legacy_version(db: &sled::Db) -> Result<Option<u32>, StorageError> {
    if !db.tree_names().iter().any(|name| name.as_ref() == b"meta") {
        return Ok(None);
    }
    let found = db.open_tree("meta")?.get(b"schema_version")?;
    Ok(found.map(|v| v.as_ref().try_into().map(u32::from_be_bytes).unwrap_or(LEGACY_VERSION)))
}

/// Removes trees the current layout does not use (those of version 1, once
/// their data has been migrated).
fn drop_old_trees(db: &sled::Db) -> Result<(), StorageError> {
    let default = db.name();
    let old: Vec<sled::IVec> =
        db.tree_names().into_iter().filter(|name| name.as_ref() != TREE.as_bytes() && *name != default).collect();
    for name in &old {
        db.drop_tree(name)?;
    }
    if !old.is_empty() {
        db.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::schema::KeyspaceInfo;
    use serde::Deserialize;

    const TEST: KeyspaceInfo =
        KeyspaceInfo { prefix: 0x7b, name: "test_shape", domain: "test", key: "id", value: "Grown" };

    #[derive(Serialize, Deserialize)]
    struct Small {
        a: u64,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Grown {
        a: u64,
        b: u64,
    }

    #[test]
    fn reshaping_again_after_a_crash_part_way_leaves_done_values_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).temporary(true).open().unwrap();
        let tree = db.open_tree(TREE).unwrap();
        let new: Keyspace<u64, Grown> = Keyspace::new(&TEST);
        let old: Keyspace<u64, Small> = Keyspace::new(&TEST);
        // Half done: keys 1 and 3 still old, 2 already reshaped (with a value
        // conversion would not give, to see it is left alone).
        tree.insert(old.key(&1), old.encode_value(&Small { a: u64::MAX })).unwrap();
        tree.insert(new.key(&2), new.encode_value(&Grown { a: 7, b: 99 })).unwrap();
        tree.insert(old.key(&3), old.encode_value(&Small { a: 300 })).unwrap();
        for _ in 0..2 {
            let mut m = Migrator { db: &db, tree: &tree, batch: sled::Batch::default(), queued: 0, written: 0 };
            m.reshape(&new, |s: Small| Grown { a: s.a, b: 0 }).unwrap();
            m.apply().unwrap();
        }
        let value = |k: u64| new.decode_value(&tree.get(new.key(&k)).unwrap().unwrap()).unwrap();
        assert_eq!(value(1), Grown { a: u64::MAX, b: 0 });
        assert_eq!(value(2), Grown { a: 7, b: 99 });
        assert_eq!(value(3), Grown { a: 300, b: 0 });
    }

    #[derive(Serialize, Deserialize)]
    struct Named {
        name: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Numbered {
        id: u64,
        n: u8,
    }

    /// A field whose type changed: the older value `"a"` also decodes as
    /// the current shape (id 1, n 0x61), and must be converted all the same;
    /// a current value, its id large, is left alone.
    #[test]
    fn reshaping_a_changed_field_tries_the_older_shape_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).temporary(true).open().unwrap();
        let tree = db.open_tree(TREE).unwrap();
        let new: Keyspace<u64, Numbered> = Keyspace::new(&TEST);
        let old: Keyspace<u64, Named> = Keyspace::new(&TEST);
        tree.insert(old.key(&1), old.encode_value(&Named { name: "a".into() })).unwrap();
        assert_eq!(new.decode_value(&tree.get(new.key(&1)).unwrap().unwrap()).unwrap(), Numbered { id: 1, n: 0x61 });
        tree.insert(new.key(&2), new.encode_value(&Numbered { id: 1 << 60, n: 3 })).unwrap();
        let mut m = Migrator { db: &db, tree: &tree, batch: sled::Batch::default(), queued: 0, written: 0 };
        m.reshape(&new, |_: Named| Numbered { id: 0, n: 0 }).unwrap();
        m.apply().unwrap();
        let value = |k: u64| new.decode_value(&tree.get(new.key(&k)).unwrap().unwrap()).unwrap();
        assert_eq!(value(1), Numbered { id: 0, n: 0 });
        assert_eq!(value(2), Numbered { id: 1 << 60, n: 3 });
    }
}
