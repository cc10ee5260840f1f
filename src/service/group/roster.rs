//! Member lists of busy groups, kept in memory for the send path.
//!
//! Every group message goes to every member, so its write job needs the
//! member list; reading it from storage costs a scan of up to
//! `group.max_members` entries per message. The list is cached with the
//! group record's `roster` number, which every membership change bumps in
//! the same job, so a cached list is used only while it is the group's.
//! Lists are filled by send jobs, which change no membership, and by
//! typing, which reads committed data outside any job: a list is never
//! taken from a job that might still fail. A reader that saw the record
//! before a membership change and the members after it files the newer
//! list under the older number, which nobody asks for again: every change
//! gives the record a fresh number, and jobs read the record they use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::store::{self, GroupRecord};
use crate::storage::{Get, StorageError};

/// Groups smaller than this are read from storage each time: their scan is
/// cheap, and the cache stays for groups where it pays.
const CACHED_FROM: u32 = 64;

/// Most member lists held; beyond it the cache starts afresh.
const CAPACITY: usize = 256;

/// A member list, and the roster number of the group it was read at.
type Roster = (u64, Arc<[u64]>);

/// Cached member lists by group id.
#[derive(Default)]
pub(crate) struct Rosters {
    lists: Mutex<HashMap<u64, Roster>>,
}

impl Rosters {
    /// The members of `group` (whose record the caller has just read), in
    /// user id order.
    pub(super) fn members(&self, r: &impl Get, group: u64, record: &GroupRecord) -> Result<Arc<[u64]>, StorageError> {
        if record.member_count < CACHED_FROM {
            return Ok(member_ids(r, group)?.into());
        }
        if let Some(list) = self.current(group, record) {
            return Ok(list);
        }
        // Read without the lock: the commit thread may be waiting for it.
        let list: Arc<[u64]> = member_ids(r, group)?.into();
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        if lists.len() >= CAPACITY {
            lists.clear();
        }
        lists.insert(group, (record.roster, list.clone()));
        Ok(list)
    }

    /// The cached list of `group`, if it is the one of `record`.
    fn current(&self, group: u64, record: &GroupRecord) -> Option<Arc<[u64]>> {
        let lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists.get(&group).filter(|(roster, _)| *roster == record.roster).map(|(_, list)| list.clone())
    }
}

pub(crate) fn member_ids(r: &impl Get, group: u64) -> Result<Vec<u64>, StorageError> {
    Ok(store::members_in(r, group)?.into_iter().map(|(user, _)| user).collect())
}
