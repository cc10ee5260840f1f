//! The check of a restored database, held to the keyspace registry.
//!
//! Each domain's restore check reads its keyspaces whole through an
//! [`Audit`], which notes every keyspace read. A registered keyspace that no
//! check read fails the restore with its name, so a keyspace added without
//! a check cannot go unnoticed: every restore test fails until it has one.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::schema::{self, KeyspaceInfo};
use super::{Entries, KeyPart, Keyspace, Store};

/// A database under check: the [`Store`], and which keyspaces were read.
pub struct Audit<'a> {
    store: &'a Store,
    read: RefCell<BTreeSet<u8>>,
}

impl<'a> Audit<'a> {
    /// Starts the check of `store`.
    pub fn new(store: &'a Store) -> Audit<'a> {
        Audit { store, read: RefCell::new(BTreeSet::new()) }
    }

    /// Every entry of a keyspace, noting the keyspace as checked.
    pub fn all<K: KeyPart, V: Serialize + DeserializeOwned>(&self, ks: &Keyspace<K, V>) -> Entries<K, V> {
        self.read.borrow_mut().insert(ks.info().prefix);
        self.store.all(ks)
    }

    /// Checks every entry of a keyspace decodes, saying which does not.
    pub fn check_entries<K: KeyPart, V: Serialize + DeserializeOwned>(
        &self,
        ks: &Keyspace<K, V>,
    ) -> Result<(), String> {
        self.all(ks).try_for_each(|entry| entry.map(drop).map_err(|e| e.to_string()))
    }

    /// Ends the check: an error names each registered keyspace of a domain
    /// that no check read (the storage layer's own are checked on open).
    pub fn finish(self) -> Result<(), String> {
        let read = self.read.into_inner();
        let missed: Vec<&KeyspaceInfo> =
            schema::ALL.iter().copied().filter(|ks| ks.domain != "storage" && !read.contains(&ks.prefix)).collect();
        match missed.as_slice() {
            [] => Ok(()),
            missed => Err(format!(
                "no restore check reads {}",
                missed.iter().map(|ks| ks.name).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

impl Deref for Audit<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        self.store
    }
}
