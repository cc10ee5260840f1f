//! Typed keyspaces: the only way a sled key is built.
//!
//! Every record lives in one sled tree, under a key that starts with its
//! keyspace's prefix byte (see [`super::schema`]) followed by the key's parts,
//! each fixed-width and big-endian, so a prefix scan returns one owner's
//! entries and a range scan returns them in id order. A variable-width part
//! (a string) is allowed only last: it takes the rest of the key. Keys are
//! never bincode'd; values are, through [`crate::codec::encode_stored`].

use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use serde::{de::DeserializeOwned, Serialize};

use super::schema::KeyspaceInfo;
use super::StorageError;
use crate::codec;

/// One component of a key.
pub trait KeyPart: Sized {
    /// Appends the part's bytes.
    fn put(&self, out: &mut Vec<u8>);
    /// Reads the part from the front of `bytes`, returning it and the rest.
    fn take(bytes: &[u8]) -> Option<(Self, &[u8])>;
}

impl KeyPart for () {
    fn put(&self, _: &mut Vec<u8>) {}

    fn take(bytes: &[u8]) -> Option<((), &[u8])> {
        Some(((), bytes))
    }
}

impl KeyPart for u64 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }

    fn take(bytes: &[u8]) -> Option<(u64, &[u8])> {
        let (head, rest) = bytes.split_first_chunk::<8>()?;
        Some((u64::from_be_bytes(*head), rest))
    }
}

impl<const N: usize> KeyPart for [u8; N] {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }

    fn take(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
        let (head, rest) = bytes.split_first_chunk::<N>()?;
        Some((*head, rest))
    }
}

/// A string takes the rest of the key, so it must be the last part.
impl KeyPart for String {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    fn take(bytes: &[u8]) -> Option<(String, &[u8])> {
        Some((String::from_utf8(bytes.to_vec()).ok()?, &[]))
    }
}

impl<A: KeyPart, B: KeyPart> KeyPart for (A, B) {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
    }

    fn take(bytes: &[u8]) -> Option<((A, B), &[u8])> {
        let (a, rest) = A::take(bytes)?;
        let (b, rest) = B::take(rest)?;
        Some(((a, b), rest))
    }
}

/// Marks `P` as a leading part of a key, so scans by it are typed.
pub trait Leading<P> {}

impl<A, B> Leading<A> for (A, B) {}

/// `(a, (b, c))` is scanned by `(a, b)` too: its bytes are `a ‖ b ‖ c`.
impl<A, B, C> Leading<(A, B)> for (A, (B, C)) {}

/// A keyspace: a prefix byte, a key type and a value type.
pub struct Keyspace<K, V> {
    info: &'static KeyspaceInfo,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for Keyspace<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for Keyspace<K, V> {}

impl<K, V> Keyspace<K, V> {
    /// The keyspace registered as `info` in [`super::schema`].
    pub const fn new(info: &'static KeyspaceInfo) -> Keyspace<K, V> {
        Keyspace { info, types: PhantomData }
    }

    /// Its registry entry.
    pub fn info(&self) -> &'static KeyspaceInfo {
        self.info
    }

    /// The bytes every key of this keyspace starts with.
    pub fn all(&self) -> [u8; 1] {
        [self.info.prefix]
    }
}

impl<K: KeyPart, V> Keyspace<K, V> {
    /// The full sled key of `key`.
    pub fn key(&self, key: &K) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        out.push(self.info.prefix);
        key.put(&mut out);
        out
    }

    /// The sled prefix of every key whose leading part is `leading`.
    pub fn prefix<P: KeyPart>(&self, leading: &P) -> Vec<u8>
    where
        K: Leading<P>,
    {
        let mut out = Vec::with_capacity(16);
        out.push(self.info.prefix);
        leading.put(&mut out);
        out
    }

    /// The sled byte range of a typed key range.
    pub fn bounds(&self, range: impl RangeBounds<K>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let map = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(self.key(k)),
            Bound::Excluded(k) => Bound::Excluded(self.key(k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let lower = match range.start_bound() {
            Bound::Unbounded => Bound::Included(self.all().to_vec()),
            b => map(b),
        };
        let upper = match range.end_bound() {
            Bound::Unbounded => Bound::Excluded(vec![self.info.prefix.wrapping_add(1)]),
            b => map(b),
        };
        (lower, upper)
    }

    /// Reads a key of this keyspace back.
    pub fn decode_key(&self, raw: &[u8]) -> Result<K, StorageError> {
        raw.split_first()
            .filter(|(prefix, _)| **prefix == self.info.prefix)
            .and_then(|(_, rest)| K::take(rest))
            .filter(|(_, rest)| rest.is_empty())
            .map(|(key, _)| key)
            .ok_or_else(|| self.corrupt("malformed key"))
    }

    pub(crate) fn corrupt(&self, detail: impl Into<String>) -> StorageError {
        StorageError::Corrupt { keyspace: self.info.name, detail: detail.into() }
    }
}

impl<K: KeyPart, V: Serialize + DeserializeOwned> Keyspace<K, V> {
    /// Encodes a value for storage.
    pub fn encode_value(&self, value: &V) -> Vec<u8> {
        codec::encode_stored(value)
    }

    /// Decodes a stored value, naming the keyspace on failure.
    pub fn decode_value(&self, raw: &[u8]) -> Result<V, StorageError> {
        codec::decode_stored(raw).map_err(|e| self.corrupt(e.to_string()))
    }

    /// Decodes a stored entry.
    pub fn decode_entry(&self, key: &[u8], value: &[u8]) -> Result<(K, V), StorageError> {
        Ok((self.decode_key(key)?, self.decode_value(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::schema::KeyspaceInfo;

    const TEST: KeyspaceInfo =
        KeyspaceInfo { prefix: 0x7a, name: "test_test", domain: "test", key: "user ‖ id", value: "u64" };

    #[test]
    fn keys_sort_by_parts_in_order() {
        let ks: Keyspace<(u64, u64), u64> = Keyspace::new(&TEST);
        assert!(ks.key(&(1, u64::MAX)) < ks.key(&(2, 0)));
        assert!(ks.key(&(1, 255)) < ks.key(&(1, 256)));
        assert_eq!(ks.decode_key(&ks.key(&(3, 99))).unwrap(), (3, 99));
        assert!(ks.key(&(3, 99)).starts_with(&ks.prefix(&3u64)));
    }

    #[test]
    fn a_string_takes_the_rest_of_the_key() {
        let ks: Keyspace<(u64, String), u64> = Keyspace::new(&TEST);
        let key = ks.key(&(5, "phone-1".to_string()));
        assert_eq!(ks.decode_key(&key).unwrap(), (5, "phone-1".to_string()));
    }

    #[test]
    fn foreign_and_short_keys_are_corrupt() {
        let ks: Keyspace<(u64, u64), u64> = Keyspace::new(&TEST);
        assert!(ks.decode_key(&[0x7a, 1, 2]).is_err());
        assert!(ks.decode_key(&[0x7b; 17]).is_err());
        let mut long = ks.key(&(1, 2));
        long.push(0);
        assert!(ks.decode_key(&long).is_err());
    }

    #[test]
    fn unbounded_ranges_stay_inside_the_keyspace() {
        let ks: Keyspace<u64, u64> = Keyspace::new(&TEST);
        let (lower, upper) = ks.bounds(..);
        assert_eq!((lower, upper), (Bound::Included(vec![0x7a]), Bound::Excluded(vec![0x7b])));
    }
}
