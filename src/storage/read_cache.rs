//! Records the write thread has read, kept for the jobs after it.
//!
//! Jobs re-check on the write path what they depend on, so consecutive
//! jobs read the same few records: every 1:1 message reads its pair's
//! relation and its conversation's head, every group message the group's
//! record. Only the write thread writes, so it can keep what it read: each
//! batch it applies updates the entries it touches, and an entry always
//! equals what sled holds. Only values found are kept (a key that was
//! missing, such as a new client message id, is seldom asked for again),
//! and the whole cache is dropped once it outgrows its size.

use std::collections::{BTreeMap, HashMap};

/// What sled holds under recently read keys, as of the last applied batch.
pub(super) struct ReadCache {
    entries: HashMap<Vec<u8>, sled::IVec>,
    bytes: usize,
    max_bytes: usize,
}

impl ReadCache {
    pub(super) fn new(max_bytes: usize) -> ReadCache {
        ReadCache { entries: HashMap::new(), bytes: 0, max_bytes }
    }

    /// The value sled holds under `key`, if it was read since the cache
    /// was last dropped.
    pub(super) fn get(&self, key: &[u8]) -> Option<&sled::IVec> {
        self.entries.get(key)
    }

    /// Remembers a value just read from sled.
    pub(super) fn keep(&mut self, key: Vec<u8>, value: sled::IVec) {
        let size = key.len() + value.len();
        if size > self.max_bytes {
            return;
        }
        if self.bytes + size > self.max_bytes {
            self.clear();
        }
        let key_len = key.len();
        self.bytes += size;
        if let Some(old) = self.entries.insert(key, value) {
            self.bytes -= key_len + old.len();
        }
    }

    /// Brings the cached entries a batch writes up to date; called before
    /// the batch is applied, and followed by [`ReadCache::clear`] if that
    /// fails.
    pub(super) fn update(&mut self, batch: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        if self.entries.is_empty() {
            return;
        }
        for (key, write) in batch {
            let Some(entry) = self.entries.get_mut(key) else { continue };
            match write {
                Some(value) => {
                    self.bytes = self.bytes + value.len() - entry.len();
                    *entry = sled::IVec::from(value.as_slice());
                }
                None => {
                    self.bytes -= key.len() + entry.len();
                    self.entries.remove(key);
                }
            }
        }
    }

    /// Forgets everything.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_updates_what_is_cached_and_nothing_else() {
        let mut cache = ReadCache::new(1024);
        cache.keep(b"a".to_vec(), sled::IVec::from(&b"1"[..]));
        cache.keep(b"b".to_vec(), sled::IVec::from(&b"2"[..]));
        let mut batch = BTreeMap::new();
        batch.insert(b"a".to_vec(), Some(b"10".to_vec()));
        batch.insert(b"b".to_vec(), None);
        batch.insert(b"c".to_vec(), Some(b"3".to_vec()));
        cache.update(&batch);
        assert_eq!(cache.get(b"a").map(|v| v.to_vec()), Some(b"10".to_vec()));
        assert_eq!(cache.get(b"b"), None, "a removed key is forgotten");
        assert_eq!(cache.get(b"c"), None, "a key never read is not cached");
        assert_eq!(cache.bytes, 3);
    }

    #[test]
    fn outgrowing_its_size_drops_everything() {
        let mut cache = ReadCache::new(8);
        cache.keep(b"k1".to_vec(), sled::IVec::from(&b"abcd"[..]));
        cache.keep(b"k2".to_vec(), sled::IVec::from(&b"abcd"[..]));
        assert_eq!(cache.get(b"k1"), None);
        assert!(cache.get(b"k2").is_some());
        assert_eq!(cache.bytes, 6);
    }

    #[test]
    fn keeping_a_key_again_counts_it_once() {
        let mut cache = ReadCache::new(64);
        cache.keep(b"k".to_vec(), sled::IVec::from(&b"abc"[..]));
        cache.keep(b"k".to_vec(), sled::IVec::from(&b"abcde"[..]));
        assert_eq!(cache.bytes, 6);
    }

    #[test]
    fn a_size_of_zero_keeps_nothing() {
        let mut cache = ReadCache::new(0);
        cache.keep(b"k".to_vec(), sled::IVec::from(&b"v"[..]));
        assert_eq!(cache.get(b"k"), None);
    }
}
