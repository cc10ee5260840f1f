//! Group commit: one thread turns concurrent writes into batches that share a
//! single flush and `fdatasync`, and answers each write only after that.
//!
//! The thread takes the first waiting job, then everything else already
//! queued (up to `max_batch`), so under load a batch grows to what arrived
//! during the previous sync and the cost of one sync is spread over all of
//! them; an idle server syncs a lone message at once. Because one thread
//! assigns message ids and writes them, ids are in commit order, and the
//! `on_commit` hook sees messages in that same order — which is what lets
//! every device's push queue receive a user's messages in ascending id order.

use std::collections::HashMap;
use std::sync::Arc;
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

/// Called on the commit thread, in id order, for every newly durable message.
pub type OnCommit = Box<dyn FnMut(u64, &NewMessage) + Send>;

enum Job {
    Message(NewMessage, oneshot::Sender<Result<Accepted, Arc<StorageError>>>),
    Barrier(oneshot::Sender<Result<(), Arc<StorageError>>>),
}

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
    /// Starts the commit thread. It ends once every [`Committer`] clone is dropped.
    pub fn start(
        store: Arc<Store>,
        config: &StorageConfig,
        on_commit: OnCommit,
    ) -> Result<(Committer, JoinHandle<()>), StorageError> {
        let (tx, rx) = mpsc::channel(config.max_batch.max(1) * 2);
        let disk = DiskSync::open(store.sled_dir())?;
        let ids = Snowflake::new(0, store.last_message_id()?);
        let worker =
            Worker { store, disk, ids, durability: config.durability, max_batch: config.max_batch.max(1), on_commit };
        let handle = std::thread::Builder::new().name("kith-commit".into()).spawn(move || worker.run(rx))?;
        Ok((Committer { jobs: tx }, handle))
    }

    /// Queues a message. Queueing waits only while the queue is full; the
    /// returned receiver resolves once the message is durable. Messages queued
    /// from one task are committed in the order they were queued.
    pub async fn submit(&self, message: NewMessage) -> Result<PendingAck, StorageError> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(Job::Message(message, tx)).await.map_err(|_| StorageError::Closed)?;
        Ok(PendingAck(rx))
    }

    /// Waits until every write made before this call is durable.
    pub async fn barrier(&self) -> Result<(), StorageError> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(Job::Barrier(tx)).await.map_err(|_| StorageError::Closed)?;
        settle(rx.await)
    }
}

struct Worker {
    store: Arc<Store>,
    disk: DiskSync,
    ids: Snowflake,
    durability: Durability,
    max_batch: usize,
    on_commit: OnCommit,
}

impl Worker {
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut jobs = Vec::with_capacity(self.max_batch);
        while let Some(first) = rx.blocking_recv() {
            jobs.push(first);
            while jobs.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.commit(&mut jobs);
        }
        // Final sync so a clean shutdown leaves nothing in sled's buffers.
        if let Err(e) = self.make_durable() {
            tracing::error!(error = %e, "final storage sync failed");
        }
    }

    fn commit(&mut self, jobs: &mut Vec<Job>) {
        let mut accepted: Vec<Accepted> = Vec::with_capacity(jobs.len());
        let mut fresh: Vec<(u64, &NewMessage)> = Vec::new();
        let mut in_batch: HashMap<(u64, [u8; 16]), u64> = HashMap::new();
        let mut result = Ok(());
        for job in jobs.iter() {
            let Job::Message(m, _) = job else { continue };
            let key = (m.message.sender, m.message.client_msg_id);
            let known = match in_batch.get(&key) {
                Some(id) => Some(*id),
                None => match self.store.message_id_for(key.0, &key.1) {
                    Ok(found) => found,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                },
            };
            accepted.push(match known {
                Some(id) => Accepted { id, duplicate: true },
                None => {
                    let id = self.ids.next_id();
                    in_batch.insert(key, id);
                    fresh.push((id, m));
                    Accepted { id, duplicate: false }
                }
            });
        }
        let started = std::time::Instant::now();
        let result = result.and_then(|()| self.store.write_messages(&fresh));
        let written = started.elapsed();
        let result = result.and_then(|()| self.make_durable());
        tracing::trace!(jobs = jobs.len(), messages = fresh.len(), ?written, synced = ?(started.elapsed() - written), "group commit");
        match result {
            Ok(()) => {
                for (id, m) in &fresh {
                    (self.on_commit)(*id, m);
                }
                let mut accepted = accepted.into_iter();
                for job in jobs.drain(..) {
                    match job {
                        Job::Message(_, reply) => {
                            if let Some(a) = accepted.next() {
                                let _ = reply.send(Ok(a));
                            }
                        }
                        Job::Barrier(reply) => {
                            let _ = reply.send(Ok(()));
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = jobs.len(), "group commit failed");
                let e = Arc::new(e);
                for job in jobs.drain(..) {
                    match job {
                        Job::Message(_, reply) => {
                            let _ = reply.send(Err(e.clone()));
                        }
                        Job::Barrier(reply) => {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        }
    }

    fn make_durable(&mut self) -> Result<(), StorageError> {
        self.store.flush()?;
        if self.durability == Durability::Fsync {
            self.disk.sync()?;
        }
        Ok(())
    }
}
