//! Who is online: every authenticated session, by user, with the bounded queue
//! its pushes go through and the switch that closes it.
//!
//! It also keeps who watches whose presence: each session names the users
//! it is told about when they come online or go offline.
//!
//! Pushes are pre-encoded frames ([`Bytes`]), so fanning one message out to
//! many devices clones a reference count, not the message. A queue that is
//! full means the client is not reading: instead of buffering without bound,
//! the hub closes that session (`SlowConsumer`); the client resyncs by id when
//! it reconnects, so nothing is lost.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use crate::protocol::{ClientType, DeviceType, DisconnectReason, PresenceInfo};

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
    pub(crate) fn push(&self, frame: &Bytes) {
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

/// A session watching a user's presence, and what it was last told of it.
#[derive(Debug)]
pub struct Watch {
    /// The watching session.
    pub session: Arc<SessionHandle>,
    told: Mutex<Option<PresenceInfo>>,
}

impl Watch {
    /// Records `info` as what the session knows; true when that is news to
    /// it (and so worth a push).
    pub fn tell(&self, info: PresenceInfo) -> bool {
        let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
        told.replace(info) != Some(info)
    }
}

/// The online registry.
pub struct Hub {
    shards: Vec<RwLock<HashMap<u64, Vec<Arc<SessionHandle>>>>>,
    /// By watched user, the sessions watching them.
    watchers: Vec<RwLock<HashMap<u64, Vec<Arc<Watch>>>>>,
    /// By session id, the users it watches.
    watching: Vec<Mutex<HashMap<u64, Vec<u64>>>>,
    next_session: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        fn shards<T: Default>() -> Vec<T> {
            (0..SHARDS).map(|_| T::default()).collect()
        }
        Hub { shards: shards(), watchers: shards(), watching: shards(), next_session: AtomicU64::new(1) }
    }
}

fn shard_of<T>(shards: &[T], id: u64) -> &T {
    &shards[(id % SHARDS as u64) as usize]
}

impl Hub {
    /// A fresh session id.
    pub fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    fn shard(&self, user_id: u64) -> &RwLock<HashMap<u64, Vec<Arc<SessionHandle>>>> {
        shard_of(&self.shards, user_id)
    }

    /// Registers a session; older sessions of the same user with the same
    /// device type or device id are told to close (`Kicked`). True when the
    /// user was offline until now.
    pub fn register(&self, handle: Arc<SessionHandle>) -> bool {
        let mut shard = self.shard(handle.user_id).write().unwrap_or_else(|e| e.into_inner());
        let came_online = !shard.contains_key(&handle.user_id);
        let sessions = shard.entry(handle.user_id).or_default();
        sessions.retain(|old| {
            let replaced = old.device_type == handle.device_type || old.device_id == handle.device_id;
            if replaced {
                old.close(DisconnectReason::Kicked);
            }
            !replaced
        });
        sessions.push(handle);
        came_online
    }

    /// Removes a session (when it ends) and what it watched. True when it
    /// was the user's last.
    pub fn unregister(&self, user_id: u64, session_id: u64) -> bool {
        let went_offline = {
            let mut shard = self.shard(user_id).write().unwrap_or_else(|e| e.into_inner());
            let sessions = shard.get_mut(&user_id);
            let was_there = sessions.as_ref().is_some_and(|list| list.iter().any(|s| s.session_id == session_id));
            let now_empty = sessions.is_some_and(|list| {
                list.retain(|s| s.session_id != session_id);
                list.is_empty()
            });
            if now_empty {
                shard.remove(&user_id);
            }
            was_there && now_empty
        };
        self.set_watched(session_id, None, &[]);
        went_offline
    }

    /// Makes `users` the ones the session `session_id` of `user_id` watches,
    /// in place of those before. A session no longer registered watches
    /// nobody: its user's shard stays read-locked meanwhile, so this cannot
    /// slip in after the session's [`Hub::unregister`].
    pub fn watch(&self, user_id: u64, session_id: u64, users: &[u64]) {
        let shard = self.shard(user_id).read().unwrap_or_else(|e| e.into_inner());
        let handle = shard.get(&user_id).into_iter().flatten().find(|s| s.session_id == session_id);
        if let Some(handle) = handle {
            self.set_watched(session_id, Some(handle), users);
        }
    }

    /// Replaces what a session watches; `None` (the session ended) only
    /// forgets.
    fn set_watched(&self, session_id: u64, handle: Option<&Arc<SessionHandle>>, users: &[u64]) {
        let mut watching = shard_of(&self.watching, session_id).lock().unwrap_or_else(|e| e.into_inner());
        for old in watching.remove(&session_id).unwrap_or_default() {
            let mut watchers = shard_of(&self.watchers, old).write().unwrap_or_else(|e| e.into_inner());
            if let Some(list) = watchers.get_mut(&old) {
                list.retain(|w| w.session.session_id != session_id);
                if list.is_empty() {
                    watchers.remove(&old);
                }
            }
        }
        let Some(handle) = handle.filter(|_| !users.is_empty()) else { return };
        let mut users = users.to_vec();
        users.sort_unstable();
        users.dedup();
        for user in &users {
            let mut watchers = shard_of(&self.watchers, *user).write().unwrap_or_else(|e| e.into_inner());
            let watch = Watch { session: handle.clone(), told: Mutex::new(None) };
            watchers.entry(*user).or_default().push(Arc::new(watch));
        }
        watching.insert(session_id, users);
    }

    /// The sessions watching `user_id`.
    pub fn watchers(&self, user_id: u64) -> Vec<Arc<Watch>> {
        let watchers = shard_of(&self.watchers, user_id).read().unwrap_or_else(|e| e.into_inner());
        watchers.get(&user_id).cloned().unwrap_or_default()
    }

    /// How the session `session_id` watches `user_id`, if it does.
    pub fn watch_of(&self, user_id: u64, session_id: u64) -> Option<Arc<Watch>> {
        let watchers = shard_of(&self.watchers, user_id).read().unwrap_or_else(|e| e.into_inner());
        watchers.get(&user_id)?.iter().find(|w| w.session.session_id == session_id).cloned()
    }

    /// The users the session `session_id` watches.
    pub fn watched(&self, session_id: u64) -> Vec<u64> {
        let watching = shard_of(&self.watching, session_id).lock().unwrap_or_else(|e| e.into_inner());
        watching.get(&session_id).cloned().unwrap_or_default()
    }

    /// The online sessions of `user_id`.
    pub fn sessions(&self, user_id: u64) -> Vec<Arc<SessionHandle>> {
        self.shard(user_id).read().unwrap_or_else(|e| e.into_inner()).get(&user_id).cloned().unwrap_or_default()
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
