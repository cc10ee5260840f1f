//! Every read of a conversation's log answers the same whether its old
//! messages are loose or sealed into blocks: two stores take the same
//! messages, edits and purges, one of them sealing on the way, and every
//! read is compared.

use std::ops::RangeInclusive;
use std::sync::Arc;

use proptest::prelude::*;

use super::store::{self, StoredMessage};
use super::Conversation;
use crate::protocol::{Direction, MessageKind};
use crate::service::{Event, PageLimit, Tx};
use crate::storage::commit::Committer;
use crate::storage::{Audit, StorageConfig, StorageError, Store};

const TALK: Conversation = Conversation::Direct { low: 1, high: 2 };
const GROUP: Conversation = Conversation::Group(9);

/// A database and its write thread.
struct Db {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    committer: Committer<Event>,
}

impl Db {
    fn open() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), &StorageConfig::default(), &[]).unwrap());
        let sink = Box::new(|_: Vec<Event>| {});
        let (committer, _) = Committer::start(store.clone(), &StorageConfig::default(), sink).unwrap();
        Db { _dir: dir, store, committer }
    }

    async fn write<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Tx<'_>) -> Result<T, StorageError> + Send + 'static,
    ) -> T {
        self.committer.run(job).await.unwrap()
    }

    /// Seals everything below `below`, `most` messages looked at per job.
    async fn seal(&self, below: u64, most: usize) -> usize {
        let (mut sealed, mut after) = (0, None);
        loop {
            let (n, next) = self.write(move |tx| store::seal(tx, after, below, most)).await;
            sealed += n;
            match next {
                Some(key) => after = Some(key),
                None => return sealed,
            }
        }
    }
}

fn message(sender: u64, n: u64, size: usize) -> StoredMessage {
    let mut client_msg_id = [0; 16];
    client_msg_id[..8].copy_from_slice(&n.to_be_bytes());
    StoredMessage {
        sender,
        client_msg_id,
        kind: MessageKind::Text,
        content: vec![b'x'; size],
        extra: None,
        reply_to: 0,
        edited: 0,
        mentions: Vec::new(),
    }
}

/// What one store answers to the reads compared.
#[derive(Debug, PartialEq)]
struct Answers {
    logged: Vec<Option<StoredMessage>>,
    pages: Vec<(Vec<u64>, bool)>,
    counts: Vec<u64>,
    floors: Vec<Option<u64>>,
    newest: Option<u64>,
    unpurged: bool,
    messages: u64,
}

fn answers(store: &Store, ids: &[u64], probe: &Probe) -> Answers {
    let limit = PageLimit { count: probe.limit, bytes: usize::MAX };
    let parts = &probe.parts;
    let skip = |id: u64| Ok(id % 7 == 3);
    let mut pages = Vec::new();
    for conversation in [TALK, GROUP] {
        for &anchor in &probe.anchors {
            for direction in [Direction::After, Direction::Before] {
                let (page, more) = store::history(store, conversation, direction, anchor, parts, limit, skip).unwrap();
                pages.push((page.into_iter().map(|(id, _)| id).collect(), more));
            }
        }
    }
    Answers {
        logged: ids.iter().map(|&id| store::logged(store, TALK, id).unwrap()).collect(),
        pages,
        counts: probe.anchors.iter().map(|&from| store::count_from(store, TALK, from).unwrap()).collect(),
        floors: [1, 2, 5, 64, 65, 300].iter().map(|&cap| store::cap_floor(store, TALK, cap).unwrap()).collect(),
        newest: store::newest(store, TALK, parts, probe.anchors[0], skip).unwrap().map(|(id, _)| id),
        unpurged: store::unpurged_below(store, TALK, probe.anchors[0], u64::MAX).unwrap(),
        messages: store::stats(store).unwrap().messages,
    }
}

/// Where the reads look.
#[derive(Debug, Clone)]
struct Probe {
    anchors: Vec<u64>,
    parts: Vec<RangeInclusive<u64>>,
    limit: usize,
}

fn probe(last: u64) -> impl Strategy<Value = Probe> {
    let cut = 0..=last + 2;
    (prop::collection::vec(cut.clone(), 1..6), prop::collection::vec(cut, 0..6), 1..40usize).prop_map(
        move |(anchors, mut cuts, limit)| {
            cuts.sort_unstable();
            cuts.dedup();
            // Disjoint ascending parts from pairs of cuts; the whole log when none.
            let mut parts: Vec<RangeInclusive<u64>> =
                cuts.chunks(2).map(|c| c[0]..=*c.last().unwrap_or(&c[0])).collect();
            if parts.is_empty() {
                parts.push(0..=u64::MAX);
            }
            Probe { anchors, parts, limit }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn reads_answer_the_same_sealed_or_loose(
        sizes in prop::collection::vec(0..2_500usize, 1..300),
        seals in prop::collection::vec((0..320u64, 1..50usize), 1..3),
        edits in prop::collection::vec(0..300usize, 0..8),
        purge_below in 0..320u64,
        probe in probe(320),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (loose, sealed) = (Db::open(), Db::open());
            let ids: Vec<u64> = (1..=sizes.len() as u64).collect();
            for db in [&loose, &sealed] {
                let sizes = sizes.clone();
                db.write(move |tx| {
                    for (n, size) in sizes.into_iter().enumerate() {
                        let id = n as u64 + 1;
                        store::append(tx, TALK, id, &message(1 + id % 2, id, size))?;
                        if id.is_multiple_of(3) {
                            store::append(tx, GROUP, id, &message(1, 1_000 + id, size / 2))?;
                        }
                    }
                    Ok(())
                })
                .await;
            }
            for &(below, most) in &seals {
                sealed.seal(below, most).await;
            }
            // Edits and tombstones, then a purge, on both.
            for db in [&loose, &sealed] {
                let (edits, newest) = (edits.clone(), sizes.len() as u64);
                db.write(move |tx| {
                    for (i, n) in edits.into_iter().enumerate() {
                        let id = n as u64 % newest + 1;
                        let Some(m) = store::logged(tx, TALK, id)? else { continue };
                        if i.is_multiple_of(2) {
                            store::edit(tx, TALK, id, m, b"edited".to_vec(), 7)?;
                        } else {
                            store::tombstone(tx, TALK, id, &m, MessageKind::Recalled)?;
                        }
                    }
                    loop {
                        let (_, more) = store::purge(tx, TALK, purge_below, newest, 17)?;
                        if !more {
                            return Ok(());
                        }
                    }
                })
                .await;
            }
            let expected = answers(&loose.store, &ids, &probe);
            prop_assert_eq!(answers(&sealed.store, &ids, &probe), expected);
            store::check(&Audit::new(&sealed.store), u64::MAX).unwrap();
            Ok::<(), TestCaseError>(())
        })?;
    }
}

#[tokio::test]
async fn old_messages_fill_blocks_and_leave_their_keys() {
    let db = Db::open();
    db.write(|tx| {
        for id in 1..=200 {
            store::append(tx, TALK, id, &message(1, id, 10))?;
        }
        Ok(())
    })
    .await;
    assert_eq!(db.seal(101, 30).await, 100);
    let stats = store::stats(&db.store).unwrap();
    assert_eq!((stats.messages, stats.sealed_messages, stats.blocks), (200, 100, 2));
    // A later sweep fills the last block before it opens another.
    assert_eq!(db.seal(151, 1_000).await, 50);
    let stats = store::stats(&db.store).unwrap();
    assert_eq!((stats.sealed_messages, stats.blocks, stats.conversations), (150, 3, 1));
    // Sealing again seals nothing and rewrites nothing.
    assert_eq!(db.seal(151, 1_000).await, 0);
    let limit = PageLimit { count: 500, bytes: usize::MAX };
    let (page, more) =
        store::history(&db.store, TALK, Direction::After, 0, &[0..=u64::MAX], limit, |_| Ok(false)).unwrap();
    assert_eq!((page.iter().map(|(id, _)| *id).collect::<Vec<_>>(), more), ((1..=200).collect(), false));
}

#[tokio::test]
async fn a_block_holds_at_most_its_byte_budget() {
    let db = Db::open();
    db.write(|tx| {
        for id in 1..=10 {
            store::append(tx, TALK, id, &message(1, id, 2_000))?;
        }
        Ok(())
    })
    .await;
    assert_eq!(db.seal(11, 100).await, 10);
    // 2,000 bytes and the overhead: three to a block of 6 KiB, one left.
    assert_eq!(store::stats(&db.store).unwrap().blocks, 4);
}
