//! Wake-ups for sleeping phones, without Google: each device may register
//! the UnifiedPush endpoint its distributor gave it (`SetPushEndpoint`),
//! and while it has no connection, a committed update it must not miss (a
//! message, a friend request, an invitation, a new login) makes the server
//! post a WebPush request there: encrypted for the device, signed with the
//! server's VAPID key, carrying ids and the unread badge only. At most one
//! per device per `push.interval_secs`; never to a connected device; never
//! in the way of acknowledgements or of delivery to connected devices (the
//! fan-out only offers a wake-up to a bounded queue).
//!
//! Uses: account (the devices' endpoints, kept beside the devices, so a
//! logout or a revocation takes the endpoint along),
//! conversation (mutes, the badge).

mod endpoint;
mod post;
mod sender;
mod webpush;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

pub(crate) use sender::run;

use self::endpoint::Endpoint;
use super::{account, Audience, Call, Event, Outcome, Router, ServiceError, ServiceResult};
use crate::config::PushConfig;
use crate::id::now_ms;
use crate::protocol::{ErrorCode, MessageKind, PushKey, PushKeyReply, SetPushEndpointRequest, Target, UpdateBody};
use crate::storage::{StorageError, Store};

/// The push domain's state.
pub(crate) struct Push {
    /// Whether wake-ups are on (`push.enabled`).
    enabled: bool,
    /// The VAPID key, once the server has started with wake-ups on.
    key: OnceLock<webpush::VapidKey>,
    /// Users with an endpoint, so the fan-out offers nothing for the
    /// others. It may hold users whose endpoints have gone since (the
    /// sender finds none and moves on), never miss one that has one.
    users: Arc<RwLock<HashSet<u64>>>,
    /// The fan-out's end of the queue.
    queue: mpsc::Sender<Wake>,
    /// The sender's end, until the server starts it.
    waiting: Mutex<Option<mpsc::Receiver<Wake>>>,
    counts: Arc<Counts>,
    /// Each device's last attempt, for `kith push`.
    results: Mutex<HashMap<account::DeviceKey, LastResult>>,
}

/// Wake-ups since the start.
#[derive(Debug, Default)]
struct Counts {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// How a device's last wake-up went.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LastResult {
    /// When, Unix milliseconds.
    pub at: u64,
    /// Whether the push service took it.
    pub ok: bool,
    /// What it answered, or why nothing was sent.
    pub said: String,
}

/// Updates that wake a device, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wake {
    /// Users who have endpoints and may be woken.
    users: Vec<u64>,
    /// The update.
    update: u64,
    /// What it is about.
    about: About,
}

/// What a wake-up names: the conversation, or nothing but the update.
#[derive(Debug, Clone, PartialEq, Eq)]
enum About {
    /// A message in a 1:1 conversation from `sender`: nobody who muted
    /// the conversation is woken by it.
    Direct { sender: u64 },
    /// A message in a group: a member who muted it is woken only when it
    /// mentions them (or everyone).
    Group { group: u64, sender: u64, mentions: Vec<u64> },
    /// A notice (friend request or answer, group invitation or join
    /// request, a new login, a comment on a moment), caused by `by` (not woken by it).
    Notice { by: Option<u64>, group: Option<u64> },
}

impl About {
    /// What `update` is about, if it wakes anyone.
    fn of(update: &UpdateBody) -> Option<About> {
        let notice = |by: u64, group: Option<u64>| Some(About::Notice { by: Some(by), group });
        match update {
            UpdateBody::Message(m) if m.kind != MessageKind::System => Some(match m.to {
                Target::User(_) => About::Direct { sender: m.sender },
                Target::Group(group) => About::Group { group, sender: m.sender, mentions: m.mentions.clone() },
            }),
            UpdateBody::FriendRequest(r) => notice(r.from.user_id, None),
            UpdateBody::FriendAnswered(r) => notice(r.to.user_id, None),
            UpdateBody::GroupInvitation(i) => notice(i.inviter.user_id, Some(i.group_id)),
            UpdateBody::GroupJoinRequest(r) => notice(r.user.user_id, Some(r.group_id)),
            UpdateBody::NewLogin(_) => Some(About::Notice { by: None, group: None }),
            UpdateBody::MomentCommented(c) => notice(c.comment.author, None),
            _ => None,
        }
    }

    /// Who caused it, and is not woken by it.
    fn by(&self) -> Option<u64> {
        match self {
            About::Direct { sender } | About::Group { sender, .. } => Some(*sender),
            About::Notice { by, .. } => *by,
        }
    }

    /// The wake-up's body: JSON of the update id, the conversation or
    /// group, and the badge (section "Wake-ups" of PROTOCOL).
    fn payload(&self, update: u64, badge: u64) -> Vec<u8> {
        let mut body = serde_json::json!({ "update": update, "badge": badge });
        match self {
            About::Direct { sender } => body["user"] = (*sender).into(),
            About::Group { group, .. } | About::Notice { group: Some(group), .. } => body["group"] = (*group).into(),
            About::Notice { group: None, .. } => {}
        }
        body.to_string().into_bytes()
    }
}

impl Push {
    /// The domain's state: the users with endpoints, and the queue.
    pub(crate) fn open(config: &PushConfig, store: &Store) -> Result<Push, StorageError> {
        let users = account::all_push_endpoints(store)?.into_iter().map(|((user, _), _)| user).collect();
        let (queue, waiting) = mpsc::channel(config.queue);
        Ok(Push {
            enabled: config.enabled,
            key: OnceLock::new(),
            users: Arc::new(RwLock::new(users)),
            queue,
            waiting: Mutex::new(Some(waiting)),
            counts: Arc::default(),
            results: Mutex::default(),
        })
    }

    /// Reads the data directory's VAPID key, making it on the first start
    /// with wake-ups on (by the server, so the file is its user's; the
    /// operator's commands never make it).
    pub(crate) fn load_key(&self, data_dir: &Path) -> std::io::Result<()> {
        if self.enabled && self.key.get().is_none() {
            let _ = self.key.set(webpush::VapidKey::load_or_create(data_dir)?);
        }
        Ok(())
    }

    /// What the fan-out calls for every committed event, after delivering
    /// it: offers a wake-up for its audience's users with endpoints, never
    /// waiting (a full queue drops it, counted).
    pub(crate) fn waker(&self) -> impl Fn(&Event) + Send + 'static {
        let (users, queue, counts) = (self.users.clone(), self.queue.clone(), self.counts.clone());
        let enabled = self.enabled;
        move |event| {
            let registered = users.read().unwrap_or_else(|e| e.into_inner());
            if !enabled || registered.is_empty() {
                return;
            }
            let Some(about) = About::of(&event.update) else { return };
            let Audience::Users { users: audience, .. } = &event.audience;
            let woken: Vec<u64> =
                audience.iter().copied().filter(|u| registered.contains(u) && Some(*u) != about.by()).collect();
            drop(registered);
            if !woken.is_empty() && queue.try_send(Wake { users: woken, update: event.id, about }).is_err() {
                counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Wake-ups sent, failed (for good, after retries) and dropped (queue
    /// full) since the start.
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        let c = &self.counts;
        (c.sent.load(Ordering::Relaxed), c.failed.load(Ordering::Relaxed), c.dropped.load(Ordering::Relaxed))
    }

    /// How each device's last wake-up went, since the start.
    pub(crate) fn results(&self) -> HashMap<account::DeviceKey, LastResult> {
        self.results.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, user: u64, device: &str, ok: bool, said: String) {
        let counter = if ok { &self.counts.sent } else { &self.counts.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        let result = LastResult { at: now_ms(), ok, said };
        self.results.lock().unwrap_or_else(|e| e.into_inner()).insert((user, device.to_string()), result);
    }
}

/// The VAPID public key of a data directory, base64url as UnifiedPush
/// takes it (`kith push key`); `None` before the server's first start with
/// wake-ups on.
pub(crate) fn public_key(data_dir: &Path) -> std::io::Result<Option<String>> {
    use base64::Engine;
    let key = webpush::VapidKey::load(data_dir)?;
    Ok(key.map(|key| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.public_key())))
}

pub(super) fn routes(router: &mut Router) {
    router.add(push_key).add(set_push_endpoint);
}

async fn push_key(call: Call, _: PushKey) -> ServiceResult<Outcome<PushKeyReply>> {
    let me = call.me()?;
    let (user, device) = (me.user_id, me.device_id.clone());
    let registered =
        call.services.read(move |s| Ok(account::push_endpoints(s, user)?.iter().any(|(d, _)| *d == device))).await?;
    let key = call.services.push.key.get();
    Ok(Outcome::Reply(PushKeyReply {
        enabled: key.is_some(),
        vapid_key: key.map(|k| k.public_key().to_vec()).unwrap_or_default(),
        interval_secs: call.services.config.push.interval_secs,
        registered,
    }))
}

async fn set_push_endpoint(call: Call, req: SetPushEndpointRequest) -> ServiceResult<Outcome<()>> {
    let me = call.me()?.clone();
    let Some(given) = req.endpoint else {
        return call.services.write(move |tx| account::clear_push(tx, me.user_id, &me.device_id, None).map(drop)).await;
    };
    if call.services.push.key.get().is_none() {
        return Err(ServiceError::new(ErrorCode::NotPermitted, "this server sends no wake-ups (push.enabled)"));
    }
    let config = &call.services.config.push;
    if !webpush::valid_device_key(&given.p256dh) {
        return Err(ServiceError::invalid("p256dh must be a P-256 public key, uncompressed (65 bytes)"));
    }
    let endpoint = Endpoint::parse(&given.url, &config.local_hosts).map_err(ServiceError::invalid)?;
    endpoint
        .resolve(&config.local_hosts, Duration::from_secs(config.timeout_secs))
        .await
        .map_err(ServiceError::invalid)?;
    let record = account::PushRecord {
        url: given.url,
        p256dh: given.p256dh,
        auth: given.auth,
        vapid: given.vapid,
        set_at: now_ms(),
    };
    let users = call.services.push.users.clone();
    call.services
        .write(move |tx| {
            account::set_push(tx, me.user_id, &me.device_id, &record)?;
            users.write().unwrap_or_else(|e| e.into_inner()).insert(me.user_id);
            Ok(())
        })
        .await
}
