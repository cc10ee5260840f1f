//! Group commit: every durable write is a job; concurrent jobs become one
//! atomic sled batch behind one flush and one `fdatasync`, and each job is
//! answered only after that.
//!
//! Two threads form a pipeline:
//!
//! * **write** takes the first waiting job and everything else already
//!   queued (up to `max_batch`) and runs each against a [`Tx`] over the
//!   batch's pending writes, in queue order; a job that fails is rolled back
//!   and answered at once. The surviving writes, with the snowflake
//!   high-water mark, are applied to sled as one atomic batch and handed on.
//!   Writes never interleave, and an *exclusive* job (a backup) runs alone
//!   between two batches, so it sees one consistent point in time;
//! * **sync** takes every written batch waiting for it, makes them durable
//!   with one flush and one `fdatasync`, answers their jobs, then hands
//!   their events to the sink (the fan-out) in commit order.
//!
//! A failed sync is fatal for durability: what sled had buffered may be
//! gone while a retried `fdatasync` reports success, so after one failure
//! nothing more is acknowledged — every job fails — and [`Committer::failed`]
//! fires, for the server to exit and be restarted on what the disk holds.
//!
//! While one batch is being synced, the next is being written, so under load
//! the disk sync costs the writer nothing; an idle server still syncs a lone
//! job at once. One thread assigns ids and one thread hands events on, both
//! in batch order, so events reach the sink in the order of their ids.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::read_cache::ReadCache;
use super::tx::Batch;
use super::{schema, DiskSync, Durability, Keyspace, StorageConfig, StorageError, Store, Tx};
use crate::id::Snowflake;

/// The highest snowflake id ever handed out.
const HIGHWATER: Keyspace<(), u64> = Keyspace::new(&schema::IDS_HIGHWATER);

/// Answers a job once its batch is durable (or failed).
type Finish = Box<dyn FnOnce(Result<(), Arc<StorageError>>) + Send>;

/// A write job, type-erased: runs against the batch and says whether it
/// succeeded, with how to answer it.
type WriteJob<E> = Box<dyn FnOnce(&mut Tx<'_, E>) -> (bool, Finish) + Send>;

enum Job<E> {
    Write(WriteJob<E>),
    Exclusive(Box<dyn FnOnce(&Store) + Send>),
}

/// What the sync thread hands every durable batch's events to.
pub type Sink<E> = Box<dyn FnMut(Vec<E>) + Send>;

/// A batch the write thread has applied and the sync thread must make durable.
struct Written<E> {
    finishes: Vec<Finish>,
    events: Vec<E>,
    result: Result<(), StorageError>,
}

/// Written batches that may wait for the sync thread; beyond this the write
/// thread waits, so memory stays bounded if the disk stalls.
const WRITTEN_QUEUE: usize = 4;

/// A handle for queueing jobs; cheap to clone.
pub struct Committer<E> {
    jobs: mpsc::Sender<Job<E>>,
    failed: CancellationToken,
}

impl<E> Clone for Committer<E> {
    fn clone(&self) -> Self {
        Committer { jobs: self.jobs.clone(), failed: self.failed.clone() }
    }
}

/// Environment variable that makes the given sync (counting from 1) fail,
/// to test what a failing disk does. Not for production use.
pub const INJECT_SYNC_FAILURE: &str = "KITH_INJECT_SYNC_FAILURE";

/// A job's answer, which arrives once the job is durable.
pub struct Answer<T, Err>(oneshot::Receiver<Result<T, Err>>);

impl<T, Err: From<StorageError>> Answer<T, Err> {
    /// Waits for the commit that carries the job.
    pub async fn durable(self) -> Result<T, Err> {
        self.0.await.unwrap_or_else(|_| Err(StorageError::Closed.into()))
    }
}

impl<E: Send + 'static> Committer<E> {
    /// Starts the commit threads. They end once every [`Committer`] clone is
    /// dropped, after a final sync; the returned handle joins both.
    pub fn start(
        store: Arc<Store>,
        config: &StorageConfig,
        sink: Sink<E>,
    ) -> Result<(Committer<E>, JoinHandle<()>), StorageError> {
        let (tx, rx) = mpsc::channel(config.max_batch.max(1) * 2);
        let (written_tx, written_rx) = std_mpsc::sync_channel(WRITTEN_QUEUE);
        let failed = CancellationToken::new();
        let syncer = Syncer {
            store: store.clone(),
            disk: DiskSync::open(store.sled_dir())?,
            durability: config.durability,
            sink,
            failed: failed.clone(),
            syncs: 0,
            inject_failure_at: std::env::var(INJECT_SYNC_FAILURE).ok().and_then(|n| n.parse().ok()),
        };
        let last_id = store.get(&HIGHWATER, &())?.unwrap_or(0);
        let writer = Writer {
            ids: Snowflake::new(0, last_id),
            store,
            max_batch: config.max_batch.max(1),
            failed: failed.clone(),
            cache: RefCell::new(ReadCache::new(config.write_cache_mb.saturating_mul(1024 * 1024) as usize)),
        };
        let sync_thread = std::thread::Builder::new().name("kith-sync".into()).spawn(move || syncer.run(written_rx))?;
        let handle = std::thread::Builder::new().name("kith-commit".into()).spawn(move || {
            writer.run(rx, written_tx);
            let _ = sync_thread.join();
        })?;
        Ok((Committer { jobs: tx, failed }, handle))
    }

    /// Fires once a sync has failed; from then on every job fails.
    pub fn failed(&self) -> CancellationToken {
        self.failed.clone()
    }

    /// Queues a job. Queueing waits only while the queue is full; the
    /// returned answer resolves once what the job wrote is durable. Jobs
    /// queued from one task run in the order they were queued.
    pub async fn submit<T, Err>(
        &self,
        job: impl FnOnce(&mut Tx<'_, E>) -> Result<T, Err> + Send + 'static,
    ) -> Result<Answer<T, Err>, StorageError>
    where
        T: Send + 'static,
        Err: From<StorageError> + Send + 'static,
    {
        let (answer, pending) = oneshot::channel();
        let job: WriteJob<E> = Box::new(move |tx| {
            let result = job(tx);
            let succeeded = result.is_ok();
            let finish: Finish = Box::new(move |outcome| {
                let _ = answer.send(match outcome {
                    Ok(()) => result,
                    Err(e) => Err(StorageError::Commit(e).into()),
                });
            });
            (succeeded, finish)
        });
        self.jobs.send(Job::Write(job)).await.map_err(|_| StorageError::Closed)?;
        Ok(Answer(pending))
    }

    /// Queues a job and waits until it is durable.
    pub async fn run<T, Err>(
        &self,
        job: impl FnOnce(&mut Tx<'_, E>) -> Result<T, Err> + Send + 'static,
    ) -> Result<T, Err>
    where
        T: Send + 'static,
        Err: From<StorageError> + Send + 'static,
    {
        self.submit(job).await?.durable().await
    }

    /// Runs `work` on the write thread with no write in progress: everything
    /// queued before it is applied, nothing after it starts until it returns.
    pub async fn exclusive<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> T + Send + 'static,
    ) -> Result<T, StorageError> {
        let (answer, result) = oneshot::channel();
        let job = Job::Exclusive(Box::new(move |store| {
            let _ = answer.send(work(store));
        }));
        self.jobs.send(job).await.map_err(|_| StorageError::Closed)?;
        result.await.map_err(|_| StorageError::Closed)
    }
}

struct Writer {
    store: Arc<Store>,
    ids: Snowflake,
    max_batch: usize,
    failed: CancellationToken,
    cache: RefCell<ReadCache>,
}

impl Writer {
    fn run<E>(mut self, mut jobs: mpsc::Receiver<Job<E>>, written: std_mpsc::SyncSender<Written<E>>) {
        let mut queued: VecDeque<Job<E>> = VecDeque::with_capacity(self.max_batch);
        loop {
            // Take what is waiting at once, so the batch is closed before it
            // is run and its size does not depend on how long jobs take.
            if queued.is_empty() {
                match jobs.blocking_recv() {
                    Some(job) => queued.push_back(job),
                    None => break,
                }
            }
            while queued.len() < self.max_batch {
                match jobs.try_recv() {
                    Ok(job) => queued.push_back(job),
                    Err(_) => break,
                }
            }
            let mut pending = Batch::new();
            let mut events = Vec::new();
            let mut finishes = Vec::new();
            while matches!(queued.front(), Some(Job::Write(_))) {
                let Some(Job::Write(job)) = queued.pop_front() else { break };
                let mut tx = Tx::begin(&self.store, &mut pending, &mut events, &mut self.ids, &self.cache);
                let (succeeded, finish) = job(&mut tx);
                if self.failed.is_cancelled() {
                    tx.roll_back();
                    finish(Err(Arc::new(StorageError::Failed)));
                } else if succeeded {
                    tx.commit();
                    finishes.push(finish);
                } else {
                    tx.roll_back();
                    finish(Ok(()));
                }
            }
            if !finishes.is_empty() {
                let result = self.apply(pending);
                if written.send(Written { finishes, events, result }).is_err() {
                    break;
                }
            }
            // An exclusive job runs alone, once everything before it is applied.
            if let Some(Job::Exclusive(_)) = queued.front() {
                if let Some(Job::Exclusive(work)) = queued.pop_front() {
                    work(&self.store);
                }
            }
        }
    }

    /// Applies a batch's writes and the id high-water mark atomically.
    fn apply(&self, pending: Batch) -> Result<(), StorageError> {
        let started = std::time::Instant::now();
        let writes = pending.len();
        self.cache.borrow_mut().update(&pending);
        let mut batch = sled::Batch::default();
        for (key, value) in pending {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        batch.insert(HIGHWATER.key(&()), HIGHWATER.encode_value(&self.ids.last()));
        if let Err(e) = self.store.tree.apply_batch(batch) {
            self.cache.borrow_mut().clear();
            return Err(e.into());
        }
        tracing::trace!(writes, took = ?started.elapsed(), "batch written");
        Ok(())
    }
}

struct Syncer<E> {
    store: Arc<Store>,
    disk: DiskSync,
    durability: Durability,
    sink: Sink<E>,
    failed: CancellationToken,
    /// Syncs made so far, for [`INJECT_SYNC_FAILURE`].
    syncs: u64,
    inject_failure_at: Option<u64>,
}

impl<E> Syncer<E> {
    fn run(mut self, written: std_mpsc::Receiver<Written<E>>) {
        while let Ok(first) = written.recv() {
            // Every batch written meanwhile shares this one sync.
            let mut batches = vec![first];
            batches.extend(written.try_iter());
            let started = std::time::Instant::now();
            let synced = self.make_durable();
            tracing::trace!(batches = batches.len(), took = ?started.elapsed(), "synced");
            for batch in batches {
                self.finish(batch, &synced);
            }
        }
        // Final sync so a clean shutdown leaves nothing in sled's buffers.
        if let Err(e) = self.make_durable() {
            tracing::error!(error = %e, "final storage sync failed");
        }
    }

    /// Hands a durable batch's events on and answers its jobs, or fails them all.
    fn finish(&mut self, batch: Written<E>, synced: &Result<(), Arc<StorageError>>) {
        let outcome = match (batch.result, synced) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(e), _) => Err(Arc::new(e)),
            (Ok(()), Err(e)) => Err(e.clone()),
        };
        if let Err(e) = &outcome {
            tracing::error!(error = %e, jobs = batch.finishes.len(), "group commit failed");
        }
        // Answers first: a large group's message wakes thousands of
        // sessions for its pushes, and an acknowledgement queued behind
        // them would wait for the fan-out after all.
        for finish in batch.finishes {
            finish(outcome.clone());
        }
        if outcome.is_ok() {
            (self.sink)(batch.events);
        }
    }

    fn make_durable(&mut self) -> Result<(), Arc<StorageError>> {
        if self.failed.is_cancelled() {
            return Err(Arc::new(StorageError::Failed));
        }
        self.syncs += 1;
        let synced = self.sync_once();
        if let Err(e) = &synced {
            tracing::error!(error = %e, "storage sync failed: nothing more will be acknowledged; restart kith");
            self.failed.cancel();
        }
        synced
    }

    fn sync_once(&mut self) -> Result<(), Arc<StorageError>> {
        if self.inject_failure_at == Some(self.syncs) {
            return Err(Arc::new(StorageError::Io(std::io::Error::other("injected sync failure"))));
        }
        self.store.flush().map_err(Arc::new)?;
        if self.durability == Durability::Fsync {
            self.disk.sync().map_err(|e| Arc::new(StorageError::Io(e)))?;
        }
        Ok(())
    }
}
