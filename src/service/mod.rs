//! What the server does, with no sockets in sight.
//!
//! One folder per domain holds its handlers (`mod.rs`, with `routes()`), its
//! rules and its keyspaces (`store.rs`). Handlers take a [`Call`] and a typed
//! request and return a typed [`Outcome`]; only sessions write to the
//! network. Every write is a job on the group commit ([`Tx`]); the updates
//! jobs emit reach online devices through the one ordered `fanout`.

pub(crate) mod account;
pub(crate) mod conversation;
mod download;
pub(crate) mod erase;
mod error;
pub(crate) mod export;
pub(crate) mod fanout;
pub(crate) mod group;
mod handler;
pub(crate) mod media;
pub(crate) mod message;
pub mod migrate;
pub(crate) mod moment;
mod names;
mod profile;
pub(crate) mod push;
mod quota;
pub(crate) mod social;
pub(crate) mod sync;
pub(crate) mod update;

use std::io::Write;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

pub use account::Identity;
pub(crate) use download::{open as open_signed_url, Refusal as UrlRefusal};
pub use error::{ServiceError, ServiceResult};
pub use fanout::{Audience, Event};
pub use handler::{Call, Outcome, Router};
pub use message::Conversation;

use crate::config::Config;
use crate::hub::Hub;
use crate::protocol::{DisconnectReason, Request};
use crate::storage::commit::Committer;
use crate::storage::{StorageError, Store};

/// A write job's handle, carrying fan-out events.
pub type Tx<'a> = crate::storage::Tx<'a, Event>;

/// Most entries one `Sync` or `History` page returns.
pub const MAX_PAGE: u16 = 100;

/// Bytes of content after which a page ends early (with `more` set), so a
/// page of large messages stays a reasonable frame for a phone; a single
/// entry always fits.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// How much one page may hold: at most `count` entries and, once it holds
/// one, no more than about `bytes` of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit {
    /// Most entries.
    pub count: usize,
    /// Byte budget; the entry that crosses it ends the page.
    pub bytes: usize,
}

impl PageLimit {
    /// The limit of a client's page request of `limit` entries.
    pub fn requested(limit: u16) -> ServiceResult<PageLimit> {
        if (1..=MAX_PAGE).contains(&limit) {
            Ok(PageLimit { count: usize::from(limit), bytes: MAX_PAGE_BYTES })
        } else {
            Err(ServiceError::invalid(format!("limit must be 1–{MAX_PAGE}")).with_limit(u64::from(MAX_PAGE)))
        }
    }

    /// Whether a page holding `entries` entries of `bytes` bytes is full.
    pub fn full(self, entries: usize, bytes: usize) -> bool {
        entries >= self.count || (entries > 0 && bytes >= self.bytes)
    }
}

/// When a long background job next says how far it got: every 10 s, so a
/// first sweep of a large database that takes minutes shows it is at work.
pub(crate) struct Progress(std::time::Instant);

impl Progress {
    pub(crate) fn start() -> Progress {
        Progress(std::time::Instant::now())
    }

    /// Whether it is time to report (and notes that it reports now).
    pub(crate) fn due(&mut self) -> bool {
        let due = self.0.elapsed() >= Duration::from_secs(10);
        if due {
            self.0 = std::time::Instant::now();
        }
        due
    }
}

/// The first `limit` of `entries`, and whether more follow.
pub(crate) fn page_of<T>(
    entries: impl Iterator<Item = Result<T, StorageError>>,
    limit: usize,
) -> Result<(Vec<T>, bool), StorageError> {
    let mut out = Vec::with_capacity(limit.min(128));
    for entry in entries {
        if out.len() == limit {
            return Ok((out, true));
        }
        out.push(entry?);
    }
    Ok((out, false))
}

/// Shared state of every service.
pub struct Services {
    store: Arc<Store>,
    committer: Committer<Event>,
    hub: Arc<Hub>,
    router: Router,
    accounts: account::Accounts,
    searches: quota::Quota,
    cursors: social::Cursors,
    profile_lookups: quota::Quota,
    invitations: quota::Quota,
    typing: quota::Quota,
    everyone_mentions: quota::Quota,
    last_seen: social::LastSeen,
    rosters: group::Rosters,
    floors: sync::Floors,
    purges: conversation::Purges,
    media: media::Media,
    push: push::Push,
    config: Config,
    /// Where clients reach this server, once it is bound (for join links).
    endpoint: std::sync::RwLock<Option<Endpoint>>,
}

/// Where clients reach this server, as join links tell them: the bound
/// ports and the certificate's fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// TCP+TLS port, if listening.
    pub tls_port: Option<u16>,
    /// QUIC port, if listening.
    pub quic_port: Option<u16>,
    /// SHA-256 of the certificate in use.
    pub fingerprint: [u8; 32],
    /// SHA-256 of its public key (SubjectPublicKeyInfo).
    pub public_key: [u8; 32],
}

/// The threads behind the services: the group commit and the fan-out.
pub struct Background {
    threads: Vec<JoinHandle<()>>,
}

impl Background {
    /// Waits until they end, which they do once every handle to the
    /// services is dropped and the last writes are synced.
    pub fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

impl Services {
    /// Opens (and if need be migrates) the store and starts the commit and
    /// fan-out threads.
    pub fn open(config: &Config) -> Result<(Arc<Services>, Background), StorageError> {
        crate::storage::private_dir(&config.data_dir)?;
        remove_stale_snapshots(&config.data_dir);
        let store = Arc::new(Store::open(&config.data_dir, &config.storage, migrate::MIGRATIONS)?);
        let hub = Arc::new(Hub::default());
        let push = push::Push::open(&config.push, &store)?;
        let (sink, fanout_thread) = fanout::start(hub.clone(), push.waker())?;
        let (committer, commit_thread) = Committer::start(store.clone(), &config.storage, sink)?;
        let services = Services {
            accounts: account::Accounts::load(&store, &config.limits, config.registration.policy)?,
            searches: quota::Quota::new("searches", config.social.searches_per_minute, Duration::from_secs(60)),
            cursors: social::Cursors::new()?,
            profile_lookups: quota::Quota::new(
                "profile lookups of strangers",
                config.social.profile_lookups_per_hour,
                Duration::from_secs(3600),
            ),
            invitations: quota::Quota::new("invitations", config.group.invitations_per_hour, Duration::from_secs(3600)),
            typing: quota::Quota::new("typing signals", config.conversation.typing_per_minute, Duration::from_secs(60)),
            everyone_mentions: quota::Quota::new(
                "messages mentioning everyone in a group",
                config.conversation.everyone_mentions_per_hour,
                Duration::from_secs(3600),
            ),
            last_seen: social::LastSeen::default(),
            rosters: group::Rosters::default(),
            floors: sync::Floors::default(),
            purges: conversation::Purges::default(),
            media: media::Media::open(&config.data_dir)?,
            push,
            endpoint: std::sync::RwLock::new(None),
            router: routes(),
            store,
            committer,
            hub,
            config: config.clone(),
        };
        Ok((Arc::new(services), Background { threads: vec![commit_thread, fanout_thread] }))
    }

    /// The configuration the server started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the running server is reached, if it is bound.
    pub fn endpoint(&self) -> Option<Endpoint> {
        *self.endpoint.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Records where the server is reached (at start and after a
    /// certificate reload).
    pub fn set_endpoint(&self, endpoint: Endpoint) {
        *self.endpoint.write().unwrap_or_else(|e| e.into_inner()) = Some(endpoint);
    }

    /// Applies a reloaded configuration's registration policy.
    pub fn set_registration_policy(&self, policy: crate::config::RegistrationPolicy) {
        let before = self.accounts.policy();
        self.accounts.set_policy(policy);
        if before != policy {
            tracing::info!(?policy, "registration policy changed");
        }
    }

    /// Who is online.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// A user's first device came online (`true`) or their last went
    /// offline: records the last-seen time and tells who watches them.
    pub fn presence_changed(self: &Arc<Self>, user: u64, online: bool) {
        social::presence_changed(self, user, online);
    }

    /// Writes the last-seen times gathered since the last write (a clean
    /// stop does, once every connection is closed).
    pub async fn write_last_seen(self: &Arc<Self>) -> ServiceResult<()> {
        social::write_last_seen(self).await
    }

    /// Fires when storage failed to sync: nothing is acknowledged any more
    /// and the process should exit (see `storage::commit`).
    pub fn storage_failed(&self) -> tokio_util::sync::CancellationToken {
        self.committer.failed()
    }

    /// The handlers.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Runs a request's handler.
    pub async fn dispatch(&self, call: Call, request: Request) -> ServiceResult<Outcome<Vec<u8>>> {
        self.router.dispatch(call, request).await
    }

    /// Whether a session that has just registered with the hub still holds
    /// (see [`account::confirm`]); if not, the error to answer and the reason
    /// to close with.
    pub(crate) async fn confirm_session(&self, identity: &Identity) -> Result<(), (ServiceError, DisconnectReason)> {
        account::confirm(self, identity).await
    }

    /// Queues a write job on the group commit; the answer goes out once what
    /// it wrote is durable, while the connection reads on.
    pub(crate) async fn write<T: Serialize + Send + 'static>(
        &self,
        job: impl FnOnce(&mut Tx<'_>) -> ServiceResult<T> + Send + 'static,
    ) -> ServiceResult<Outcome<T>> {
        let pending = self.committer.submit(job).await?;
        Ok(Outcome::later(pending.durable()))
    }

    /// Runs storage reads on the blocking pool. A sled call can wait for the
    /// database-wide lock a group commit holds while it applies a batch; that
    /// wait must not stall the async workers serving every other connection.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, StorageError> + Send + 'static,
    ) -> ServiceResult<T> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || work(&store)).await??)
    }

    /// Writes a backup of the whole database and its files to `out`. The
    /// records are taken between two group commits, so they are one
    /// consistent point in time; they go to a private file in the data
    /// directory first, which takes no longer than the disk does, and only
    /// then to `out`, so a reader that stalls holds up nobody's writes. The
    /// files follow straight from the media directory: finishing uploads
    /// and the sweep wait meanwhile, so each file the records name is there.
    pub async fn backup(&self, mut out: impl Write + Send + 'static) -> ServiceResult<u64> {
        let _placing = self.media.hold_files().await;
        let snapshot = self.config.data_dir.join(format!("backup-{}.snapshot", crate::id::now_ms()));
        let path = snapshot.clone();
        let (records, contents) = self
            .committer
            .exclusive(move |store| {
                let file = crate::storage::private_file(&path)?;
                Ok::<_, StorageError>((store.export(file)?.pause()?, media::contents(store)?))
            })
            .await??;
        let files = self.media.files().clone();
        let written = tokio::task::spawn_blocking(move || -> Result<u64, StorageError> {
            let copied = std::fs::File::open(&snapshot).and_then(|mut file| std::io::copy(&mut file, &mut out));
            let _ = std::fs::remove_file(&snapshot);
            copied?;
            let mut backup = crate::storage::backup::Backup::resume(out, records);
            for (hash, size) in contents {
                backup.file(&hash, size, std::fs::File::open(files.blob_path(&hash))?)?;
            }
            backup.finish()
        })
        .await?;
        Ok(written?)
    }

    /// The media directory.
    pub(crate) fn media_files(&self) -> &media::Files {
        self.media.files()
    }

    /// Messages the purge of expired messages removed since the start.
    pub fn purged_messages(&self) -> u64 {
        self.purges.messages()
    }

    /// Wake-ups: their counts and each device's last result.
    pub(crate) fn push(&self) -> &push::Push {
        &self.push
    }

    /// Notices swept from update logs past their horizon since the start.
    pub fn swept_notices(&self) -> u64 {
        self.purges.updates(update::Kept::Notices)
    }

    /// Message updates swept from update logs past their horizon since the
    /// start (the messages stay in their conversations).
    pub fn swept_message_updates(&self) -> u64 {
        self.purges.updates(update::Kept::Messages)
    }

    /// Messages sealed into blocks past `seal_after_secs` since the start.
    pub fn sealed_messages(&self) -> u64 {
        self.purges.sealed()
    }

    /// Client message ids forgotten past `idempotency_secs` since the start.
    pub fn forgotten_retry_keys(&self) -> u64 {
        self.purges.retry_keys()
    }

    /// Bytes the database occupies on disk.
    pub async fn disk_bytes(&self) -> ServiceResult<u64> {
        self.read(|store| store.size_on_disk()).await
    }
}

/// Removes backup snapshots a crash left behind (see [`Services::backup`]).
fn remove_stale_snapshots(data_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("backup-") && name.ends_with(".snapshot") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Every domain's handlers.
pub fn routes() -> Router {
    let mut router = Router::default();
    account::routes(&mut router);
    sync::routes(&mut router);
    social::routes(&mut router);
    profile::routes(&mut router);
    group::routes(&mut router);
    conversation::routes(&mut router);
    media::routes(&mut router);
    download::routes(&mut router);
    erase::routes(&mut router);
    push::routes(&mut router);
    moment::routes(&mut router);
    router
}
