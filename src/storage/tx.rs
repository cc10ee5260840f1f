//! The handle a write job works through.
//!
//! Jobs of one group commit share one batch of pending writes, applied to
//! sled atomically once every job has run. A job reads through those
//! pending writes (so it sees what earlier jobs of the batch wrote), takes
//! snowflake ids and emits events for the fan-out. Its own writes stay
//! beside the batch until it succeeds, then move into it; a job that fails
//! is rolled back — its writes dropped, its events undone — so it leaves
//! nothing behind, while the other jobs of the batch go on.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::{Bound, RangeBounds};

use serde::{de::DeserializeOwned, Serialize};

use super::read_cache::ReadCache;
use super::{schema, KeyPart, Keyspace, Leading, StorageError, Store};
use crate::id::Snowflake;

/// A write not yet applied: the new value, or `None` to delete the key.
type Write = Option<Vec<u8>>;

/// The writes of a group commit's batch not yet applied, by key.
pub(super) type Batch = BTreeMap<Vec<u8>, Write>;

/// A write job's view of the database.
pub struct Tx<'a, E> {
    store: &'a Store,
    pending: &'a mut Batch,
    events: &'a mut Vec<E>,
    ids: &'a mut Snowflake,
    /// What sled held under keys read earlier on the write thread.
    cache: &'a RefCell<ReadCache>,
    /// This job's writes, in order; they join `pending` if it succeeds.
    own: Vec<(Vec<u8>, Write)>,
    /// Events of the batch before this job.
    events_before: usize,
}

impl<'a, E> Tx<'a, E> {
    pub(super) fn begin(
        store: &'a Store,
        pending: &'a mut Batch,
        events: &'a mut Vec<E>,
        ids: &'a mut Snowflake,
        cache: &'a RefCell<ReadCache>,
    ) -> Tx<'a, E> {
        let events_before = events.len();
        Tx { store, pending, events, ids, cache, own: Vec::new(), events_before }
    }

    /// Adds this job's writes to the batch.
    pub(super) fn commit(self) {
        for (key, value) in self.own {
            self.pending.insert(key, value);
        }
    }

    /// Drops everything this job wrote and emitted.
    pub(super) fn roll_back(self) {
        self.events.truncate(self.events_before);
    }

    /// The value under `key`, as this job and its batch have left it so far.
    pub fn get<K: KeyPart, V: Serialize + DeserializeOwned>(
        &self,
        ks: &Keyspace<K, V>,
        key: &K,
    ) -> Result<Option<V>, StorageError> {
        let raw = ks.key(key);
        let written = self.own.iter().rev().find(|(k, _)| *k == raw).map(|(_, v)| v).or_else(|| self.pending.get(&raw));
        match written {
            Some(Some(value)) => ks.decode_value(value).map(Some),
            Some(None) => Ok(None),
            None => self.stored(raw)?.map(|v| ks.decode_value(&v)).transpose(),
        }
    }

    /// What sled holds under `key`, from the cache if it was read before.
    fn stored(&self, key: Vec<u8>) -> Result<Option<sled::IVec>, StorageError> {
        if let Some(value) = self.cache.borrow().get(&key) {
            return Ok(Some(value.clone()));
        }
        let found = self.store.tree.get(&key)?;
        if let Some(value) = &found {
            self.cache.borrow_mut().keep(key, value.clone());
        }
        Ok(found)
    }

    /// Stores `value` under `key`.
    pub fn put<K: KeyPart, V: Serialize + DeserializeOwned>(&mut self, ks: &Keyspace<K, V>, key: &K, value: &V) {
        self.own.push((ks.key(key), Some(ks.encode_value(value))));
    }

    /// Removes `key`.
    pub fn delete<K: KeyPart, V>(&mut self, ks: &Keyspace<K, V>, key: &K) {
        self.own.push((ks.key(key), None));
    }

    /// Entries of a key range as this job and its batch have left it, in key order.
    pub fn range<K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> impl Iterator<Item = Result<(K, V), StorageError>> + '_ {
        self.merged(*ks, ks.bounds(range), true)
    }

    /// Entries of a key range as this job and its batch have left it,
    /// highest key first.
    pub fn range_descending<K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> impl Iterator<Item = Result<(K, V), StorageError>> + '_ {
        self.merged(*ks, ks.bounds(range), false)
    }

    /// Entries whose key starts with `leading`, in key order.
    pub fn scan<K: KeyPart + Leading<P> + 'static, V: Serialize + DeserializeOwned + 'static, P: KeyPart>(
        &self,
        ks: &Keyspace<K, V>,
        leading: &P,
    ) -> impl Iterator<Item = Result<(K, V), StorageError>> + '_ {
        let bounds = prefix_bounds(ks.prefix(leading));
        self.merged(*ks, bounds, true)
    }

    /// Deletes at most `most` of the entries whose key starts with
    /// `leading` and returns how many it deleted: a job erasing a large
    /// owner's entries stays bounded, and the next job goes on.
    pub fn delete_some<K: KeyPart + Leading<P>, V, P: KeyPart>(
        &mut self,
        ks: &Keyspace<K, V>,
        leading: &P,
        most: usize,
    ) -> Result<usize, StorageError> {
        let keys: Vec<Vec<u8>> = self
            .raw(prefix_bounds(ks.prefix(leading)), true)
            .take(most)
            .map(|entry| entry.map(|(key, _)| key))
            .collect::<Result<_, _>>()?;
        let deleted = keys.len();
        self.own.extend(keys.into_iter().map(|key| (key, None)));
        Ok(deleted)
    }

    /// Deletes every entry the registry files under `group` (each keyspace
    /// whose key begins with a group id) and returns how many it deleted.
    pub fn erase_group(&mut self, group: u64) -> Result<usize, StorageError> {
        let mut deleted = 0;
        for info in schema::ALL.iter().filter(|info| info.of_a_group()) {
            let mut prefix = vec![info.prefix];
            group.put(&mut prefix);
            let keys: Vec<Vec<u8>> = self
                .raw(prefix_bounds(prefix), true)
                .map(|entry| entry.map(|(key, _)| key))
                .collect::<Result<_, _>>()?;
            deleted += keys.len();
            self.own.extend(keys.into_iter().map(|key| (key, None)));
        }
        Ok(deleted)
    }

    /// The last entry of a key range.
    pub fn last<K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Result<Option<(K, V)>, StorageError> {
        self.merged(*ks, ks.bounds(range), false).next().transpose()
    }

    /// Entries in a key range, counted without decoding them.
    pub fn count<K: KeyPart + 'static, V: 'static>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Result<u64, StorageError> {
        let mut n = 0;
        for entry in self.raw(ks.bounds(range), true) {
            entry?;
            n += 1;
        }
        Ok(n)
    }

    /// Sled's entries under this batch's pending writes, under this job's.
    fn merged<K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &self,
        ks: Keyspace<K, V>,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        forward: bool,
    ) -> impl Iterator<Item = Result<(K, V), StorageError>> + '_ {
        self.raw(bounds, forward).map(move |item| item.and_then(|(k, v)| ks.decode_entry(&k, &v)))
    }

    /// [`Tx::merged`]'s entries as raw bytes.
    fn raw(&self, bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>), forward: bool) -> Overlay<'_> {
        // A job's own writes are few: sort them, the last write of a key winning.
        let mut own: BTreeMap<Vec<u8>, Write> = BTreeMap::new();
        for (key, value) in self.own.iter().filter(|(k, _)| bounds.contains(k)) {
            own.insert(key.clone(), value.clone());
        }
        let disk = self.store.tree.range(bounds.clone());
        let disk: RawEntries<'_> = if forward {
            Box::new(disk.map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(Into::into)))
        } else {
            Box::new(disk.rev().map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(Into::into)))
        };
        let batch = self.pending.range(bounds).map(|(k, v)| (k.clone(), v.clone()));
        let batch: Writes<'_> = if forward { Box::new(batch) } else { Box::new(batch.rev()) };
        let own: Writes<'_> = if forward { Box::new(own.into_iter()) } else { Box::new(own.into_iter().rev()) };
        let under_batch: RawEntries<'_> = Box::new(Overlay::new(disk, batch, forward));
        Overlay::new(under_batch, own, forward)
    }

    /// A fresh snowflake id, above every id handed out before.
    pub fn next_id(&mut self) -> u64 {
        self.ids.next_id()
    }

    /// A fresh id as if the clock read `unix_ms` (still above every id
    /// handed out before): a seeded database's messages carry their age.
    pub fn next_id_at(&mut self, unix_ms: u64) -> u64 {
        self.ids.next_at(unix_ms)
    }

    /// Queues an event for the fan-out, sent once the batch is durable.
    pub fn emit(&mut self, event: E) {
        self.events.push(event);
    }
}

fn prefix_bounds(prefix: Vec<u8>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    // The smallest key above every key with this prefix: the prefix with
    // its last non-0xff byte incremented.
    let mut upper = prefix.clone();
    while let Some(last) = upper.pop() {
        if last < u8::MAX {
            upper.push(last + 1);
            return (Bound::Included(prefix), Bound::Excluded(upper));
        }
    }
    (Bound::Included(prefix), Bound::Unbounded)
}

type RawEntries<'p> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>> + 'p>;
type Writes<'p> = Box<dyn Iterator<Item = (Vec<u8>, Write)> + 'p>;

/// Entries with writes laid over them, in key order (or reverse key order).
struct Overlay<'p> {
    under: Peekable<RawEntries<'p>>,
    over: Peekable<Writes<'p>>,
    forward: bool,
}

impl<'p> Overlay<'p> {
    fn new(under: RawEntries<'p>, over: Writes<'p>, forward: bool) -> Overlay<'p> {
        Overlay { under: under.peekable(), over: over.peekable(), forward }
    }
}

impl Iterator for Overlay<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.under.peek(), self.over.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) | (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(Ok((under, _))), Some((over, _))) => {
                    let order = under.cmp(over);
                    if self.forward {
                        order
                    } else {
                        order.reverse()
                    }
                }
            };
            if order == Ordering::Less {
                return self.under.next();
            }
            if order == Ordering::Equal {
                // The write shadows what is under it.
                self.under.next();
            }
            if let Some((key, Some(value))) = self.over.next() {
                return Some(Ok((key, value)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::schema::KeyspaceInfo;
    use crate::storage::StorageConfig;

    const INFO: KeyspaceInfo = KeyspaceInfo { prefix: 0x7a, name: "k_v", domain: "test", key: "u64", value: "u64" };
    const KS: Keyspace<(u64, u64), u64> = Keyspace::new(&INFO);

    #[test]
    fn reads_see_pending_writes_and_roll_back_undoes_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StorageConfig::default(), &[]).unwrap();
        for i in [1, 3, 5] {
            store.tree.insert(KS.key(&(1, i)), KS.encode_value(&i)).unwrap();
        }
        let (mut pending, mut events, mut ids) = (Batch::new(), Vec::<u8>::new(), Snowflake::new(0, 0));
        let cache = RefCell::new(ReadCache::new(1 << 20));
        let mut tx = Tx::begin(&store, &mut pending, &mut events, &mut ids, &cache);
        tx.put(&KS, &(1, 2), &20);
        tx.delete(&KS, &(1, 3));
        tx.put(&KS, &(1, 5), &50);
        tx.put(&KS, &(2, 0), &0);
        let seen: Vec<(u64, u64)> = tx.scan(&KS, &1u64).map(|e| e.unwrap()).map(|((_, k), v)| (k, v)).collect();
        assert_eq!(seen, [(1, 1), (2, 20), (5, 50)]);
        assert_eq!(tx.last(&KS, (1, 0)..=(1, u64::MAX)).unwrap(), Some(((1, 5), 50)));
        assert_eq!(tx.get(&KS, &(1, 3)).unwrap(), None);
        tx.emit(7);
        tx.commit();
        assert_eq!(events, [7]);

        let mut second = Tx::begin(&store, &mut pending, &mut events, &mut ids, &cache);
        second.put(&KS, &(1, 2), &99);
        second.put(&KS, &(1, 9), &9);
        second.delete(&KS, &(1, 5));
        assert_eq!(second.get(&KS, &(1, 2)).unwrap(), Some(99), "a job reads its own writes");
        let seen: Vec<u64> = second.scan(&KS, &1u64).map(|e| e.unwrap().0 .1).collect();
        assert_eq!(seen, [1, 2, 9]);
        assert_eq!(second.last(&KS, (1, 0)..=(1, u64::MAX)).unwrap(), Some(((1, 9), 9)));
        second.emit(8);
        second.roll_back();
        assert_eq!(events, [7], "a rolled-back job's events are gone");
        let third = Tx::begin(&store, &mut pending, &mut events, &mut ids, &cache);
        assert_eq!(third.get(&KS, &(1, 2)).unwrap(), Some(20), "the earlier job's write stands");
        assert_eq!(third.get(&KS, &(1, 9)).unwrap(), None);
    }

    /// Every keyspace filed under a group id is cleared by `erase_group`,
    /// and only of that group: one written now, or added to the registry
    /// later, needs no code of its own.
    #[test]
    fn erase_group_clears_every_keyspace_filed_under_a_group() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StorageConfig::default(), &[]).unwrap();
        let of_a_group: Vec<u8> = schema::ALL.iter().filter(|i| i.of_a_group()).map(|i| i.prefix).collect();
        assert!(of_a_group.len() >= 9, "{of_a_group:?}");
        let key =
            |prefix: u8, group: u64, rest: u64| [&[prefix][..], &group.to_be_bytes(), &rest.to_be_bytes()].concat();
        for &prefix in &of_a_group {
            for (group, rest) in [(7u64, 1u64), (7, 2), (8, 1)] {
                store.tree.insert(key(prefix, group, rest), vec![0]).unwrap();
            }
        }
        let (mut pending, mut events, mut ids) = (Batch::new(), Vec::<u8>::new(), Snowflake::new(0, 0));
        let cache = RefCell::new(ReadCache::new(1 << 20));
        let mut tx = Tx::begin(&store, &mut pending, &mut events, &mut ids, &cache);
        assert_eq!(tx.erase_group(7).unwrap(), 2 * of_a_group.len());
        tx.commit();
        for &prefix in &of_a_group {
            assert_eq!(pending.get(&key(prefix, 7, 1)), Some(&None));
            assert_eq!(pending.get(&key(prefix, 7, 2)), Some(&None));
            assert!(!pending.contains_key(&key(prefix, 8, 1)), "another group's entry stays");
        }
    }

    #[test]
    fn cached_reads_follow_applied_batches_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StorageConfig::default(), &[]).unwrap();
        store.tree.insert(KS.key(&(1, 1)), KS.encode_value(&1)).unwrap();
        let (mut pending, mut events, mut ids) = (Batch::new(), Vec::<u8>::new(), Snowflake::new(0, 0));
        let cache = RefCell::new(ReadCache::new(1 << 20));
        let first = Tx::begin(&store, &mut pending, &mut events, &mut ids, &cache);
        assert_eq!(first.get(&KS, &(1, 1)).unwrap(), Some(1));
        first.commit();
        assert!(cache.borrow().get(&KS.key(&(1, 1))).is_some(), "a value read is kept");

        let mut failed = Tx::begin(&store, &mut pending, &mut events, &mut ids, &cache);
        failed.put(&KS, &(1, 1), &2);
        failed.roll_back();
        let mut second = Tx::begin(&store, &mut pending, &mut events, &mut ids, &cache);
        assert_eq!(second.get(&KS, &(1, 1)).unwrap(), Some(1), "a rolled-back write never shows");
        second.put(&KS, &(1, 1), &3);
        second.commit();

        // The batch is applied as the write thread applies it.
        cache.borrow_mut().update(&pending);
        for (key, value) in std::mem::take(&mut pending) {
            store.tree.insert(key, value.unwrap()).unwrap();
        }
        // Nothing but the write thread writes; this write behind its back
        // only shows where the next read is answered from.
        store.tree.insert(KS.key(&(1, 1)), KS.encode_value(&4)).unwrap();
        let next = Tx::begin(&store, &mut pending, &mut events, &mut ids, &cache);
        assert_eq!(next.get(&KS, &(1, 1)).unwrap(), Some(3), "read from the cache, as the batch left it");
    }

    #[test]
    fn prefix_bounds_carry_past_0xff() {
        assert_eq!(prefix_bounds(vec![1, 0xff]), (Bound::Included(vec![1, 0xff]), Bound::Excluded(vec![2])));
        assert_eq!(prefix_bounds(vec![0xff]), (Bound::Included(vec![0xff]), Bound::Unbounded));
    }
}
