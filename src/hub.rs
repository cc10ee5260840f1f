//! Who is online: every authenticated session, by user, with the bounded queue
//! its pushes go through and the switch that closes it.
//!
//! Pushes are pre-encoded frames ([`Bytes`]), so fanning one message out to
//! many devices clones a reference count, not the message. A queue that is
//! full means the client is not reading: instead of buffering without bound,
//! the hub closes that session (`SlowConsumer`); the client resyncs by id when
//! it reconnects, so nothing is lost.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use crate::protocol::{ClientType, DeviceType, DisconnectReason};

const SHARDS: usize = 64;

/// A one-shot switch that tells a session to close, with the reason.
#[derive(Debug, Default)]
pub struct Closer {
    reason: OnceLock<DisconnectReason>,
    notify: Notify,
}

impl Closer {
    /// Asks the session to close; the first reason given wins.
    pub fn close(&self, reason: DisconnectReason) {
        if self.reason.set(reason).is_ok() {
            self.notify.notify_one();
        }
    }

    /// Resolves once [`Closer::close`] has been called.
    pub async fn closed(&self) -> DisconnectReason {
        loop {
            if let Some(reason) = self.reason.get() {
                return *reason;
            }
            self.notify.notified().await;
        }
    }
}

/// One authenticated connection, as the rest of the server sees it.
#[derive(Debug)]
pub struct SessionHandle {
    /// Unique per process, to tell a user's sessions apart.
    pub session_id: u64,
    /// The account.
    pub user_id: u64,
    /// The device.
    pub device_id: String,
    /// Its type; a newer session of the same type replaces this one.
    pub device_type: DeviceType,
    /// Its client software.
    pub client_type: ClientType,
    /// Remote address.
    pub peer: SocketAddr,
    /// `tls`, `tcp` or `quic`.
    pub transport: &'static str,
    /// When it authenticated, Unix milliseconds.
    pub since: u64,
    /// Where pushes are queued for the session's writer.
    pub(crate) outbound: mpsc::Sender<Bytes>,
    /// Shared with the session loop, which waits on it.
    pub(crate) closer: Arc<Closer>,
}

impl SessionHandle {
    /// Queues a push; closes the session if its queue is full.
    fn push(&self, frame: &Bytes) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.outbound.try_send(frame.clone()) {
            tracing::warn!(session = self.session_id, user = self.user_id, "outbound queue full, disconnecting");
            self.closer.close(DisconnectReason::SlowConsumer);
        }
    }

    /// Asks the session to close.
    pub fn close(&self, reason: DisconnectReason) {
        self.closer.close(reason);
    }
}

/// The online registry.
pub struct Hub {
    shards: Vec<RwLock<HashMap<u64, Vec<Arc<SessionHandle>>>>>,
    next_session: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { shards: (0..SHARDS).map(|_| RwLock::default()).collect(), next_session: AtomicU64::new(1) }
    }
}

impl Hub {
    /// A fresh session id.
    pub fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    fn shard(&self, user_id: u64) -> &RwLock<HashMap<u64, Vec<Arc<SessionHandle>>>> {
        &self.shards[(user_id % SHARDS as u64) as usize]
    }

    /// Registers a session; older sessions of the same user with the same
    /// device type or device id are told to close (`Kicked`).
    pub fn register(&self, handle: Arc<SessionHandle>) {
        let mut shard = self.shard(handle.user_id).write().unwrap_or_else(|e| e.into_inner());
        let sessions = shard.entry(handle.user_id).or_default();
        sessions.retain(|old| {
            let replaced = old.device_type == handle.device_type || old.device_id == handle.device_id;
            if replaced {
                old.close(DisconnectReason::Kicked);
            }
            !replaced
        });
        sessions.push(handle);
    }

    /// Removes a session (when it ends).
    pub fn unregister(&self, user_id: u64, session_id: u64) {
        let mut shard = self.shard(user_id).write().unwrap_or_else(|e| e.into_inner());
        if let Some(sessions) = shard.get_mut(&user_id) {
            sessions.retain(|s| s.session_id != session_id);
            if sessions.is_empty() {
                shard.remove(&user_id);
            }
        }
    }

    /// Pushes a frame to every online session of `user_id` except `except`.
    pub fn deliver(&self, user_id: u64, frame: &Bytes, except: Option<u64>) {
        let shard = self.shard(user_id).read().unwrap_or_else(|e| e.into_inner());
        for session in shard.get(&user_id).into_iter().flatten() {
            if Some(session.session_id) != except {
                session.push(frame);
            }
        }
    }

    /// Whether any session of the user is connected.
    pub fn is_online(&self, user_id: u64) -> bool {
        self.shard(user_id).read().unwrap_or_else(|e| e.into_inner()).contains_key(&user_id)
    }

    /// Closes the user's sessions matching `filter`.
    pub fn disconnect(&self, user_id: u64, reason: DisconnectReason, filter: impl Fn(&SessionHandle) -> bool) {
        let shard = self.shard(user_id).read().unwrap_or_else(|e| e.into_inner());
        for session in shard.get(&user_id).into_iter().flatten() {
            if filter(session) {
                session.close(reason);
            }
        }
    }

    /// A snapshot of every online session.
    pub fn online(&self) -> Vec<Arc<SessionHandle>> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let shard = shard.read().unwrap_or_else(|e| e.into_inner());
            out.extend(shard.values().flatten().cloned());
        }
        out.sort_by_key(|s| (s.user_id, s.session_id));
        out
    }
}
