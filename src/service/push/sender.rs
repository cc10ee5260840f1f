//! The sender: takes wake-ups off the queue, finds the devices to wake, and
//! keeps one small task per device being woken, which sends at most one
//! request per interval. What arrives while a device's task waits (or
//! retries) replaces what it holds, so a device hears of the newest update
//! and the newest badge, once; a device that connects meanwhile is skipped.
//! Requests in flight are bounded by `push.concurrency`, each by
//! `push.timeout_secs`; a task ends once its device has been quiet for an
//! interval, so memory follows the devices being woken, not the messages.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::StatusCode;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::endpoint::Endpoint;
use super::post::{self, Post};
use super::{webpush, About, Wake};
use crate::service::account::{self, DeviceKey as Device, PushRecord};
use crate::service::{conversation, Conversation, ServiceResult, Services};

/// The longest wait between two attempts, whatever `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What a device's task is to send next: the newest wake-up for it.
#[derive(Debug)]
struct Pending {
    update: u64,
    about: About,
    endpoint: PushRecord,
}

/// A device's slot for its next wake-up, and the bell its task waits on.
#[derive(Debug, Default)]
struct Mailbox {
    slot: Mutex<Option<Pending>>,
    bell: Notify,
}

impl Mailbox {
    fn put(&self, pending: Pending) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(pending);
        self.bell.notify_one();
    }

    fn take(&self) -> Option<Pending> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What every device's task shares.
struct Sender {
    services: Arc<Services>,
    tls: Arc<rustls::ClientConfig>,
    permits: Semaphore,
    /// The devices with a task, and their mailboxes.
    devices: Mutex<HashMap<Device, Arc<Mailbox>>>,
    shutdown: CancellationToken,
}

/// Sends wake-ups until shutdown (a background task of the server).
pub(crate) async fn run(services: Arc<Services>, shutdown: CancellationToken) {
    let push = &services.push;
    let Some(mut queue) = push.waiting.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
    if push.key.get().is_none() {
        return;
    }
    let tls = match post::tls_config() {
        Ok(tls) => tls,
        Err(error) => return tracing::error!(%error, "no TLS for push services; no wake-ups will be sent"),
    };
    let concurrency = services.config.push.concurrency;
    let sender = Arc::new(Sender {
        services: services.clone(),
        tls,
        permits: Semaphore::new(concurrency),
        devices: Mutex::default(),
        shutdown: shutdown.clone(),
    });
    loop {
        let wake = tokio::select! {
            _ = shutdown.cancelled() => return,
            wake = queue.recv() => match wake {
                Some(wake) => wake,
                None => return,
            },
        };
        if let Err(error) = sender.dispatch(wake).await {
            tracing::warn!(%error, "finding the devices to wake");
        }
    }
}

impl Sender {
    /// Hands a wake-up to the task of each device it should wake.
    async fn dispatch(self: &Arc<Self>, wake: Wake) -> ServiceResult<()> {
        let about = wake.about.clone();
        let devices = self
            .services
            .read(move |s| {
                let mut out = Vec::new();
                for user in wake.users {
                    let muted = match &about {
                        About::Direct { sender } => conversation::muted(s, user, Conversation::direct(user, *sender))?,
                        About::Group { group, mentions, .. } => {
                            !mentions.iter().any(|m| *m == user || *m == 0)
                                && conversation::muted(s, user, Conversation::Group(*group))?
                        }
                        About::Notice { .. } => false,
                    };
                    if muted {
                        continue;
                    }
                    out.extend(account::push_endpoints(s, user)?.into_iter().map(|(d, e)| ((user, d), e)));
                }
                Ok(out)
            })
            .await?;
        for (device, endpoint) in devices {
            if self.connected(&device) {
                continue;
            }
            let pending = Pending { update: wake.update, about: wake.about.clone(), endpoint };
            let mut tasks = self.devices.lock().unwrap_or_else(|e| e.into_inner());
            match tasks.get(&device) {
                Some(mailbox) => mailbox.put(pending),
                None => {
                    let mailbox = Arc::new(Mailbox::default());
                    mailbox.put(pending);
                    tasks.insert(device.clone(), mailbox.clone());
                    tokio::spawn(self.clone().device_task(device, mailbox));
                }
            }
        }
        Ok(())
    }

    fn connected(&self, (user, device): &Device) -> bool {
        self.services.hub().sessions(*user).iter().any(|s| s.device_id == *device)
    }

    /// Wakes one device, at most once an interval, until it has been quiet
    /// for an interval.
    async fn device_task(self: Arc<Self>, device: Device, mailbox: Arc<Mailbox>) {
        let interval = Duration::from_secs(u64::from(self.services.config.push.interval_secs));
        loop {
            let Some(pending) = mailbox.take() else {
                let rang = tokio::select! {
                    _ = self.shutdown.cancelled() => return,
                    rang = tokio::time::timeout(interval, mailbox.bell.notified()) => rang.is_ok(),
                };
                if !rang {
                    // Quiet: end, unless a wake-up came as the wait ended
                    // (it is put under the same lock).
                    let mut tasks = self.devices.lock().unwrap_or_else(|e| e.into_inner());
                    if mailbox.slot.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
                        tasks.remove(&device);
                        return;
                    }
                }
                continue;
            };
            // A request in flight does not hold up a shutdown.
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.wake(&device, &mailbox, pending) => {}
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Sends one wake-up, retrying as the push service asks; a newer
    /// wake-up that arrives meanwhile is sent in its place.
    async fn wake(&self, device: &Device, mailbox: &Mailbox, mut pending: Pending) {
        let config = &self.services.config.push;
        let push = &self.services.push;
        let (user, device_id) = (device.0, device.1.as_str());
        let mut retries = 0;
        loop {
            if let Some(newer) = mailbox.take() {
                pending = newer;
            }
            if self.connected(device) {
                return;
            }
            let wait = match self.attempt(user, &pending).await {
                Ok(answer) if answer.status.is_success() => {
                    return push.record(user, device_id, true, answer.status.to_string());
                }
                Ok(answer) if matches!(answer.status, StatusCode::NOT_FOUND | StatusCode::GONE) => {
                    let (url, id) = (pending.endpoint.url.clone(), device_id.to_string());
                    let forgotten =
                        self.services.committer.run(move |tx| account::clear_push(tx, user, &id, Some(&url))).await;
                    if let Err(error) = forgotten {
                        tracing::warn!(%error, "forgetting a push endpoint that is gone");
                    }
                    let said = format!("{}: the endpoint is gone and was forgotten", answer.status);
                    return push.record(user, device_id, false, said);
                }
                Ok(answer) if answer.status == StatusCode::TOO_MANY_REQUESTS || answer.status.is_server_error() => {
                    (answer.status.to_string(), answer.retry_after)
                }
                Ok(answer) if answer.status.is_redirection() => {
                    let said = format!("{}: redirects are not followed", answer.status);
                    return push.record(user, device_id, false, said);
                }
                Ok(answer) => return push.record(user, device_id, false, answer.status.to_string()),
                Err(Refused(said)) => return push.record(user, device_id, false, said),
                Err(Unanswered(said)) => (said, None),
            };
            let (said, retry_after) = wait;
            if retries == config.retries {
                return push.record(user, device_id, false, format!("{said} (after {retries} retries)"));
            }
            let backoff = retry_after.unwrap_or(Duration::from_secs(1 << retries.min(12))).min(MAX_BACKOFF);
            retries += 1;
            tracing::debug!(user, device = device_id, %said, ?backoff, "push service asked to retry");
            tokio::time::sleep(backoff).await;
        }
    }

    /// One request: the endpoint checked again, the badge read, the body
    /// encrypted and signed, sent within `push.timeout_secs`.
    async fn attempt(&self, user: u64, pending: &Pending) -> Result<post::Answer, Failure> {
        let config = &self.services.config.push;
        let timeout = Duration::from_secs(config.timeout_secs);
        let record = &pending.endpoint;
        let endpoint = Endpoint::parse(&record.url, &config.local_hosts).map_err(Refused)?;
        let addresses: Vec<SocketAddr> = endpoint.resolve(&config.local_hosts, timeout).await.map_err(Refused)?;
        let retention = self.services.config.conversation.retention_secs;
        let badge = self
            .services
            .read(move |s| conversation::total_unread(s, user, retention))
            .await
            .map_err(|e| Unanswered(e.to_string()))?;
        let payload = pending.about.payload(pending.update, badge);
        let body = webpush::encrypt(&record.p256dh, &record.auth, &payload)
            .map_err(|_| Refused("the device's keys do not encrypt".into()))?;
        let key = self.services.push.key.get().ok_or_else(|| Refused("wake-ups are off".into()))?;
        let authorization = match record.vapid {
            true => Some(
                key.authorization(&endpoint.origin, &config.contact, crate::id::now_ms() / 1000)
                    .map_err(|_| Refused("signing failed".into()))?,
            ),
            false => None,
        };
        let request = Post { endpoint: &endpoint, body, authorization, ttl_secs: config.ttl_secs };
        let _permit = self.permits.acquire().await.map_err(|_| Unanswered("shutting down".into()))?;
        match tokio::time::timeout(timeout, post::send(request, &addresses, &self.tls)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(said)) => Err(Unanswered(said)),
            Err(_) => Err(Unanswered(format!("no answer within {} s", config.timeout_secs))),
        }
    }
}

/// Why a request got no status.
enum Failure {
    /// Not sent, and sending again would not help.
    Refused(String),
    /// Sent or tried, with no answer: worth retrying.
    Unanswered(String),
}

use Failure::{Refused, Unanswered};
