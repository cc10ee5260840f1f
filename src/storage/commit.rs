//! Group commit: concurrent writes become batches that share one flush and
//! one `fdatasync`, and each write is answered only after that.
//!
//! Two threads form a pipeline:
//!
//! * **write** takes the first waiting job and everything else already
//!   queued (up to `max_batch`), resolves client-id duplicates, assigns
//!   message ids and applies the batch to sled atomically. Every other
//!   durable write (accounts, tokens, operator commands, backups) is also a
//!   job run on this thread, so writes never interleave and a backup taken
//!   here is a consistent point in time;
//! * **sync** takes every written batch waiting for it, makes them durable
//!   with one flush and one `fdatasync`, then runs the `on_commit` hook
//!   (pushes) and answers the jobs.
//!
//! While one batch is being synced and announced, the next is being written,
//! so under load the disk sync costs the writer nothing; an idle server
//! still syncs a lone message at once. One thread assigns ids and one thread
//! announces them, both in batch order, so ids follow commit order and the
//! hook sees messages in ascending id order — which is what lets every
//! device's push queue receive a user's messages in id order.

use std::collections::HashMap;
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::messages::NewMessage;
use super::{DiskSync, Durability, StorageConfig, StorageError, Store};
use crate::id::Snowflake;

/// What a message write resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The message's server id.
    pub id: u64,
    /// True when the sender's client message id was already stored; `id` is
    /// the original one and nothing new was written.
    pub duplicate: bool,
}

/// Called on the sync thread, in id order, for every newly durable message.
pub type OnCommit = Box<dyn FnMut(u64, &NewMessage) + Send>;

type Reply<T> = oneshot::Sender<Result<T, Arc<StorageError>>>;

/// Storage work run on the write thread.
type Work = Box<dyn FnOnce(&Store) -> Result<(), StorageError> + Send>;

enum Job {
    Message(NewMessage, Reply<Accepted>),
    Apply(Work, Reply<()>),
}

/// A job's answer, waiting for its batch to become durable.
enum Answer {
    Message(Reply<Accepted>, Accepted),
    Applied(Reply<()>, Result<(), Arc<StorageError>>),
}

/// A batch the write thread has applied and the sync thread must make durable.
struct Written {
    answers: Vec<Answer>,
    fresh: Vec<(u64, NewMessage)>,
    result: Result<(), StorageError>,
}

/// Written batches that may wait for the sync thread; beyond this the write
/// thread waits, so memory stays bounded if the disk stalls.
const WRITTEN_QUEUE: usize = 4;

/// A handle for queueing durable writes; cheap to clone.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

/// A message acknowledgement that resolves once the message is durable.
pub struct PendingAck(oneshot::Receiver<Result<Accepted, Arc<StorageError>>>);

impl PendingAck {
    /// Waits for the commit that carries this message.
    pub async fn durable(self) -> Result<Accepted, StorageError> {
        settle(self.0.await)
    }
}

fn settle<T>(reply: Result<Result<T, Arc<StorageError>>, oneshot::error::RecvError>) -> Result<T, StorageError> {
    match reply {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(StorageError::Commit(e)),
        Err(_) => Err(StorageError::Closed),
    }
}

impl Committer {
    /// Starts the commit threads. They end once every [`Committer`] clone is
    /// dropped, after a final sync; the returned handle joins both.
    pub fn start(
        store: Arc<Store>,
        config: &StorageConfig,
        on_commit: OnCommit,
    ) -> Result<(Committer, JoinHandle<()>), StorageError> {
        let (tx, rx) = mpsc::channel(config.max_batch.max(1) * 2);
        let (written_tx, written_rx) = std_mpsc::sync_channel(WRITTEN_QUEUE);
        let syncer = Syncer {
            store: store.clone(),
            disk: DiskSync::open(store.sled_dir())?,
            durability: config.durability,
            on_commit,
        };
        let writer =
            Writer { ids: Snowflake::new(0, store.last_message_id()?), store, max_batch: config.max_batch.max(1) };
        let sync_thread = std::thread::Builder::new().name("kith-sync".into()).spawn(move || syncer.run(written_rx))?;
        let handle = std::thread::Builder::new().name("kith-commit".into()).spawn(move || {
            writer.run(rx, written_tx);
            let _ = sync_thread.join();
        })?;
        Ok((Committer { jobs: tx }, handle))
    }

    /// Queues a message. Queueing waits only while the queue is full; the
    /// returned acknowledgement resolves once the message is durable.
    /// Messages queued from one task are committed in the order they were
    /// queued.
    pub async fn submit(&self, message: NewMessage) -> Result<PendingAck, StorageError> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(Job::Message(message, tx)).await.map_err(|_| StorageError::Closed)?;
        Ok(PendingAck(rx))
    }

    /// Runs `work` on the write thread, in order with every other write, and
    /// returns its result once what it wrote is durable.
    pub async fn apply<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let slot = Arc::new(std::sync::Mutex::new(None));
        let filled = slot.clone();
        let work: Work = Box::new(move |store| {
            let value = work(store)?;
            *filled.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            Ok(())
        });
        let (tx, rx) = oneshot::channel();
        self.jobs.send(Job::Apply(work, tx)).await.map_err(|_| StorageError::Closed)?;
        settle(rx.await)?;
        let value = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        value.ok_or(StorageError::Closed)
    }
}

struct Writer {
    store: Arc<Store>,
    ids: Snowflake,
    max_batch: usize,
}

impl Writer {
    fn run(mut self, mut jobs: mpsc::Receiver<Job>, written: std_mpsc::SyncSender<Written>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = jobs.blocking_recv() {
            batch.push(first);
            while batch.len() < self.max_batch {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            if written.send(self.write(&mut batch)).is_err() {
                break;
            }
        }
    }

    /// Resolves duplicates, assigns ids and applies the batch.
    fn write(&mut self, batch: &mut Vec<Job>) -> Written {
        let mut answers = Vec::with_capacity(batch.len());
        let mut fresh: Vec<(u64, NewMessage)> = Vec::new();
        let mut in_batch: HashMap<(u64, [u8; 16]), u64> = HashMap::new();
        let mut result = Ok(());
        for job in batch.drain(..) {
            let (message, reply) = match job {
                Job::Apply(work, reply) => {
                    answers.push(Answer::Applied(reply, work(&self.store).map_err(Arc::new)));
                    continue;
                }
                Job::Message(message, reply) => (message, reply),
            };
            let key = (message.message.sender, message.message.client_msg_id);
            let known = match in_batch.get(&key) {
                Some(id) => Some(*id),
                None => self.store.message_id_for(key.0, &key.1).unwrap_or_else(|e| {
                    result = Err(e);
                    None
                }),
            };
            let accepted = match known {
                Some(id) => Accepted { id, duplicate: true },
                None => {
                    let id = self.ids.next_id();
                    in_batch.insert(key, id);
                    fresh.push((id, message));
                    Accepted { id, duplicate: false }
                }
            };
            answers.push(Answer::Message(reply, accepted));
        }
        if result.is_ok() {
            let started = std::time::Instant::now();
            result = self.store.write_messages(&fresh);
            tracing::trace!(jobs = answers.len(), messages = fresh.len(), took = ?started.elapsed(), "batch written");
        }
        Written { answers, fresh, result }
    }
}

struct Syncer {
    store: Arc<Store>,
    disk: DiskSync,
    durability: Durability,
    on_commit: OnCommit,
}

impl Syncer {
    fn run(mut self, written: std_mpsc::Receiver<Written>) {
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

    /// Announces and acknowledges a batch, or fails every job in it.
    fn finish(&mut self, batch: Written, synced: &Result<(), Arc<StorageError>>) {
        let failure = match (batch.result, synced) {
            (Ok(()), Ok(())) => None,
            (Err(e), _) => Some(Arc::new(e)),
            (Ok(()), Err(e)) => Some(e.clone()),
        };
        match &failure {
            None => {
                for (id, message) in &batch.fresh {
                    (self.on_commit)(*id, message);
                }
            }
            Some(e) => tracing::error!(error = %e, jobs = batch.answers.len(), "group commit failed"),
        }
        for answer in batch.answers {
            match answer {
                Answer::Message(reply, accepted) => {
                    let _ = reply.send(failure.clone().map_or(Ok(accepted), Err));
                }
                Answer::Applied(reply, result) => {
                    let _ = reply.send(failure.clone().map_or(result, Err));
                }
            }
        }
    }

    fn make_durable(&mut self) -> Result<(), Arc<StorageError>> {
        self.store.flush().map_err(Arc::new)?;
        if self.durability == Durability::Fsync {
            self.disk.sync().map_err(|e| Arc::new(StorageError::Io(e)))?;
        }
        Ok(())
    }
}
