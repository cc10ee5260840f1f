//! The one write path: jobs that share a group commit see each other's
//! writes in queue order, a job that fails half-way leaves nothing behind
//! (neither writes nor events) while the rest of its batch commits, and
//! events reach the sink only once their batch is durable, in commit order.

use std::sync::{Arc, Mutex};

use kith::storage::commit::Committer;
use kith::storage::schema::KeyspaceInfo;
use kith::storage::{Keyspace, StorageConfig, StorageError, Store};

const INFO: KeyspaceInfo = KeyspaceInfo { prefix: 0x7e, name: "test_value", domain: "test", key: "u64", value: "u64" };
const VALUES: Keyspace<u64, u64> = Keyspace::new(&INFO);

#[derive(Debug, PartialEq)]
enum Failure {
    Refused,
    Storage,
}

impl From<StorageError> for Failure {
    fn from(_: StorageError) -> Failure {
        Failure::Storage
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_writes_nothing_and_its_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), &StorageConfig::default(), &[]).unwrap());
    let seen: Arc<Mutex<Vec<Vec<u64>>>> = Arc::default();
    let sink = {
        let seen = seen.clone();
        Box::new(move |events: Vec<u64>| seen.lock().unwrap().push(events))
    };
    let (committer, thread) = Committer::start(store.clone(), &StorageConfig::default(), sink).unwrap();

    // Queued back to back, the three jobs share a batch (or follow each
    // other); either way each sees what the ones before it left.
    let first = committer
        .submit(|tx| {
            tx.put(&VALUES, &1, &10);
            tx.emit(1);
            Ok::<_, Failure>(())
        })
        .await
        .unwrap();
    let failing = committer
        .submit(|tx| {
            assert_eq!(tx.get(&VALUES, &1).unwrap(), Some(10), "an earlier job's write is visible");
            tx.put(&VALUES, &1, &99);
            tx.put(&VALUES, &2, &20);
            tx.delete(&VALUES, &1);
            tx.emit(2);
            Err::<(), _>(Failure::Refused)
        })
        .await
        .unwrap();
    let last = committer
        .submit(|tx| {
            let one = tx.get(&VALUES, &1).unwrap();
            let two = tx.get(&VALUES, &2).unwrap();
            tx.put(&VALUES, &3, &30);
            tx.emit(3);
            Ok::<_, Failure>((one, two))
        })
        .await
        .unwrap();

    assert_eq!(failing.durable().await, Err(Failure::Refused));
    first.durable().await.unwrap();
    assert_eq!(last.durable().await.unwrap(), (Some(10), None), "the failed job's writes were undone");

    assert_eq!(store.get(&VALUES, &1).unwrap(), Some(10));
    assert_eq!(store.get(&VALUES, &2).unwrap(), None);
    assert_eq!(store.get(&VALUES, &3).unwrap(), Some(30));
    // The sync thread answers a batch's jobs first, then hands its events
    // on: they follow the answers by a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while seen.lock().unwrap().concat().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let events: Vec<u64> = seen.lock().unwrap().concat();
    assert_eq!(events, [1, 3], "the failed job's event is gone; the others come in commit order");

    // Ids handed out by jobs keep increasing after a restart.
    let before = committer.run(|tx| Ok::<_, Failure>(tx.next_id())).await.unwrap();
    drop(committer);
    thread.join().unwrap();
    drop(store);
    let store = Arc::new(Store::open(dir.path(), &StorageConfig::default(), &[]).unwrap());
    let (committer, thread) = Committer::start(store, &StorageConfig::default(), Box::new(|_: Vec<u64>| {})).unwrap();
    let after = committer.run(|tx| Ok::<_, Failure>(tx.next_id())).await.unwrap();
    assert!(after > before);
    drop(committer);
    thread.join().unwrap();
}
