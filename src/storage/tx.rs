//! The handle a write job works through.
//!
//! Jobs of one group commit share one batch of pending writes, applied to
//! sled atomically once every job has run. A job reads through those
//! pending writes (so it sees what earlier jobs of the batch wrote), writes
//! into them, takes snowflake ids and emits events for the fan-out. A job
//! that fails is rolled back: its writes and events are undone, so it
//! leaves nothing behind, while the other jobs of the batch go on.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::{Bound, RangeBounds};

use serde::{de::DeserializeOwned, Serialize};

use super::{KeyPart, Keyspace, Leading, StorageError, Store};
use crate::id::Snowflake;

/// A write not yet applied: the new value, or `None` to delete the key.
type Write = Option<Vec<u8>>;

/// The writes of a batch not yet applied, by key.
pub(super) type Pending = BTreeMap<Vec<u8>, Write>;

/// A write job's view of the database.
pub struct Tx<'a, E> {
    store: &'a Store,
    pending: &'a mut Pending,
    events: &'a mut Vec<E>,
    ids: &'a mut Snowflake,
    /// What this job replaced in `pending`, to put back if it fails.
    undo: Vec<(Vec<u8>, Option<Write>)>,
    /// Events of the batch before this job.
    events_before: usize,
}

impl<'a, E> Tx<'a, E> {
    pub(super) fn begin(
        store: &'a Store,
        pending: &'a mut Pending,
        events: &'a mut Vec<E>,
        ids: &'a mut Snowflake,
    ) -> Tx<'a, E> {
        let events_before = events.len();
        Tx { store, pending, events, ids, undo: Vec::new(), events_before }
    }

    /// Undoes everything this job wrote and emitted.
    pub(super) fn roll_back(self) {
        for (key, previous) in self.undo.into_iter().rev() {
            match previous {
                Some(value) => self.pending.insert(key, value),
                None => self.pending.remove(&key),
            };
        }
        self.events.truncate(self.events_before);
    }

    /// The value under `key`, as this batch has left it so far.
    pub fn get<K: KeyPart, V: Serialize + DeserializeOwned>(
        &self,
        ks: &Keyspace<K, V>,
        key: &K,
    ) -> Result<Option<V>, StorageError> {
        let raw = ks.key(key);
        match self.pending.get(&raw) {
            Some(Some(value)) => ks.decode_value(value).map(Some),
            Some(None) => Ok(None),
            None => self.store.tree.get(&raw)?.map(|v| ks.decode_value(&v)).transpose(),
        }
    }

    /// Stores `value` under `key`.
    pub fn put<K: KeyPart, V: Serialize + DeserializeOwned>(&mut self, ks: &Keyspace<K, V>, key: &K, value: &V) {
        self.write(ks.key(key), Some(ks.encode_value(value)));
    }

    /// Removes `key`.
    pub fn delete<K: KeyPart, V>(&mut self, ks: &Keyspace<K, V>, key: &K) {
        self.write(ks.key(key), None);
    }

    fn write(&mut self, key: Vec<u8>, value: Write) {
        let previous = self.pending.insert(key.clone(), value);
        self.undo.push((key, previous));
    }

    /// Entries of a key range as this batch has left it, in key order.
    pub fn range<K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> impl Iterator<Item = Result<(K, V), StorageError>> + '_ {
        self.merged(*ks, ks.bounds(range), true)
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

    /// The last entry of a key range.
    pub fn last<K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &self,
        ks: &Keyspace<K, V>,
        range: impl RangeBounds<K>,
    ) -> Result<Option<(K, V)>, StorageError> {
        self.merged(*ks, ks.bounds(range), false).next().transpose()
    }

    fn merged<K: KeyPart + 'static, V: Serialize + DeserializeOwned + 'static>(
        &self,
        ks: Keyspace<K, V>,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        forward: bool,
    ) -> impl Iterator<Item = Result<(K, V), StorageError>> + '_ {
        let disk = self.store.tree.range(bounds.clone());
        let pending = self.pending.range(bounds);
        let (disk, pending): (DiskEntries<'_>, PendingEntries<'_>) =
            if forward { (Box::new(disk), Box::new(pending)) } else { (Box::new(disk.rev()), Box::new(pending.rev())) };
        Merged { disk: disk.peekable(), pending: pending.peekable(), forward }
            .map(move |item| item.and_then(|(k, v)| ks.decode_entry(&k, &v)))
    }

    /// A fresh snowflake id, above every id handed out before.
    pub fn next_id(&mut self) -> u64 {
        self.ids.next_id()
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

type DiskEntries<'p> = Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + 'p>;
type PendingEntries<'p> = Box<dyn Iterator<Item = (&'p Vec<u8>, &'p Write)> + 'p>;

/// Sled's entries overlaid with the batch's pending writes.
struct Merged<'p> {
    disk: Peekable<DiskEntries<'p>>,
    pending: Peekable<PendingEntries<'p>>,
    forward: bool,
}

impl Iterator for Merged<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.disk.peek(), self.pending.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) => Ordering::Less,
                (Some(Ok((disk, _))), Some((pending, _))) => {
                    let order = disk.as_ref().cmp(pending.as_slice());
                    if self.forward {
                        order
                    } else {
                        order.reverse()
                    }
                }
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
            };
            if order == Ordering::Less {
                return self.disk.next().map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(Into::into));
            }
            if order == Ordering::Equal {
                // The pending write shadows what is on disk.
                self.disk.next();
            }
            if let Some((key, Some(value))) = self.pending.next() {
                return Some(Ok((key.clone(), value.clone())));
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
        let (mut pending, mut events, mut ids) = (Pending::new(), Vec::<u8>::new(), Snowflake::new(0, 0));
        let mut tx = Tx::begin(&store, &mut pending, &mut events, &mut ids);
        tx.put(&KS, &(1, 2), &20);
        tx.delete(&KS, &(1, 3));
        tx.put(&KS, &(1, 5), &50);
        tx.put(&KS, &(2, 0), &0);
        let seen: Vec<(u64, u64)> = tx.scan(&KS, &1u64).map(|e| e.unwrap()).map(|((_, k), v)| (k, v)).collect();
        assert_eq!(seen, [(1, 1), (2, 20), (5, 50)]);
        assert_eq!(tx.last(&KS, (1, 0)..=(1, u64::MAX)).unwrap(), Some(((1, 5), 50)));
        assert_eq!(tx.get(&KS, &(1, 3)).unwrap(), None);
        tx.emit(7);
        drop(tx);
        assert_eq!(events, [7]);

        let mut second = Tx::begin(&store, &mut pending, &mut events, &mut ids);
        second.put(&KS, &(1, 2), &99);
        second.put(&KS, &(1, 9), &9);
        second.emit(8);
        second.roll_back();
        assert_eq!(events, [7], "a rolled-back job's events are gone");
        let third = Tx::begin(&store, &mut pending, &mut events, &mut ids);
        assert_eq!(third.get(&KS, &(1, 2)).unwrap(), Some(20), "the earlier job's write stands");
        assert_eq!(third.get(&KS, &(1, 9)).unwrap(), None);
    }

    #[test]
    fn prefix_bounds_carry_past_0xff() {
        assert_eq!(prefix_bounds(vec![1, 0xff]), (Bound::Included(vec![1, 0xff]), Bound::Excluded(vec![2])));
        assert_eq!(prefix_bounds(vec![0xff]), (Bound::Included(vec![0xff]), Bound::Unbounded));
    }
}
