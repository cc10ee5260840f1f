//! The purge: removes expired messages from storage in the background.
//!
//! Reads stop returning a message the moment it expires (see
//! [`super::retention`]); the purge frees its rows afterwards. Every
//! `purge_interval_secs` it finds the conversations with expired messages
//! not yet purged and removes them oldest first, in jobs of at most
//! `purge_batch` rows through the group commit: sends take turns with the
//! jobs, and each job is atomic, so a crash leaves a conversation purged up
//! to some message, never half of one message's rows.
//!
//! A job removes each message's log entry, idempotency entry, group count
//! and recall mark, and the updates pointing at it in the logs of those who
//! were given one (a 1:1 conversation's users, a small group's members);
//! the newest message stays as an `Expired` tombstone so the conversation
//! keeps its place in lists. When a conversation is done, its participants'
//! hidden marks on purged messages go too. Progress goes to the log.
//!
//! The same loop sweeps, each at its own pace, the update logs of notices
//! and of message updates past their horizons, and the client message ids
//! past `idempotency_secs`; and it seals messages past `seal_after_secs`
//! into blocks (see `message::sealed`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::id::now_ms;
use crate::service::message::records;
use crate::service::message::{self, Conversation};
use crate::service::update::{self, Kept};
use crate::service::{group, Progress, ServiceResult, Services, Tx};
use crate::storage::{StorageError, Store};

/// Rows a purged message has besides its pointers: log entry, idempotency
/// entry, group count.
const OWN_ROWS: usize = 3;

/// What the purge has removed since the server started.
#[derive(Default)]
pub(crate) struct Purges {
    messages: AtomicU64,
    notices: AtomicU64,
    message_updates: AtomicU64,
    retry_keys: AtomicU64,
    sealed: AtomicU64,
    /// When notices were last swept.
    notices_swept: Sweep,
    /// When message updates were last swept.
    message_updates_swept: Sweep,
    /// When the idempotency index was last swept.
    retry_keys_swept: Sweep,
    /// When old messages were last sealed.
    sealed_swept: Sweep,
}

/// When a sweep of entries kept for a number of seconds last ran.
#[derive(Default)]
struct Sweep(std::sync::Mutex<Option<Instant>>);

impl Sweep {
    /// Whether it is time to sweep entries kept `kept_secs` again (and
    /// notes that it runs now): every tenth of the time they are kept, at
    /// most hourly. Each sweep reads the whole of what it sweeps, and the
    /// line between kept and gone moves slowly.
    fn due(&self, kept_secs: u64) -> bool {
        if kept_secs == 0 {
            return false;
        }
        let every = Duration::from_secs((kept_secs / 10).clamp(1, 3_600));
        let mut swept = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = swept.is_none_or(|at| at.elapsed() >= every);
        if due {
            *swept = Some(Instant::now());
        }
        due
    }
}

impl Purges {
    /// Messages purged since the server started.
    pub(crate) fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// Updates of one kind swept from update logs past their horizon since
    /// the server started.
    pub(crate) fn updates(&self, kept: Kept) -> u64 {
        self.of(kept).0.load(Ordering::Relaxed)
    }

    /// The count and the schedule of one kind's sweep.
    fn of(&self, kept: Kept) -> (&AtomicU64, &Sweep) {
        match kept {
            Kept::Notices => (&self.notices, &self.notices_swept),
            Kept::Messages => (&self.message_updates, &self.message_updates_swept),
        }
    }

    /// Idempotency entries forgotten past `idempotency_secs` since the
    /// server started.
    pub(crate) fn retry_keys(&self) -> u64 {
        self.retry_keys.load(Ordering::Relaxed)
    }

    /// Messages sealed into blocks since the server started.
    pub(crate) fn sealed(&self) -> u64 {
        self.sealed.load(Ordering::Relaxed)
    }
}

/// Purges expired messages, and sweeps what is kept only for a while,
/// every `purge_interval_secs` until `shutdown`.
pub(crate) async fn purge_expired(services: Arc<Services>, shutdown: CancellationToken) {
    let every = Duration::from_secs(services.config.conversation.purge_interval_secs);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = round(&services, &shutdown).await {
            tracing::warn!(error = %e, "purging expired messages failed; trying again next round");
        }
        let config = &services.config.conversation;
        for kept in [Kept::Notices, Kept::Messages] {
            let (count, sweep) = services.purges.of(kept);
            if !sweep.due(update::kept_secs(config, kept)) {
                continue;
            }
            match update::sweep(&services, kept, &shutdown).await {
                Ok(0) => {}
                Ok(n) => {
                    count.fetch_add(n, Ordering::Relaxed);
                    tracing::info!(?kept, updates = n, "removed updates past the update log's horizon");
                }
                Err(e) => tracing::warn!(?kept, error = %e, "sweeping old updates failed; trying again next round"),
            }
        }
        let purges = &services.purges;
        if purges.retry_keys_swept.due(config.idempotency_secs) {
            let forget = message::forget_sent;
            let what = "forgetting client message ids past idempotency_secs";
            match walk(&services, &shutdown, config.idempotency_secs, &purges.retry_keys, forget, what).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(entries = n, "forgot client message ids past idempotency_secs"),
                Err(e) => tracing::warn!(error = %e, "sweeping old client message ids failed; trying again next round"),
            }
        }
        if purges.sealed_swept.due(config.seal_after_secs) {
            let what = "sealing messages past seal_after_secs into blocks";
            match walk(&services, &shutdown, config.seal_after_secs, &purges.sealed, message::seal, what).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(messages = n, "sealed messages past seal_after_secs into blocks"),
                Err(e) => tracing::warn!(error = %e, "sealing old messages failed; trying again next round"),
            }
        }
    }
}

/// What one job of a walk does: the entries after a key (from the start
/// for `None`) of ids below a line, at most so many looked at; how many it
/// handled, and the key the next job goes on after (`None` at the end).
type Step<C> = fn(&mut Tx<'_>, Option<C>, u64, usize) -> Result<(usize, Option<C>), StorageError>;

/// Walks a keyspace in key order, in jobs of at most `purge_batch`
/// entries looked at, through the group commit like any write, handling
/// the entries of messages sent more than `secs` ago: forgetting client
/// message ids, sealing old messages. Adds to `count` as it goes, says
/// every 10 s `what` it is doing and how far it got (a first walk of a
/// large database takes minutes), and returns how many entries it handled.
async fn walk<C: Copy + Send + 'static>(
    services: &Services,
    shutdown: &CancellationToken,
    secs: u64,
    count: &AtomicU64,
    step: Step<C>,
    what: &str,
) -> ServiceResult<u64> {
    let below = crate::id::first_id_within(secs, now_ms());
    let batch = services.config.conversation.purge_batch as usize;
    let (mut handled, mut after, mut progress) = (0, None, Progress::start());
    loop {
        if shutdown.is_cancelled() {
            return Ok(handled);
        }
        let (n, next) = services.committer.run(move |tx| ServiceResult::Ok(step(tx, after, below, batch)?)).await?;
        handled += n as u64;
        count.fetch_add(n as u64, Ordering::Relaxed);
        match next {
            Some(key) => after = Some(key),
            None => return Ok(handled),
        }
        if progress.due() {
            tracing::info!(entries = handled, "{what}");
        }
    }
}

/// One look for expired messages, and their purge.
async fn round(services: &Services, shutdown: &CancellationToken) -> ServiceResult<()> {
    let config = &services.config;
    let server = config.conversation.retention_secs;
    let batch = config.conversation.purge_batch as usize;
    let small = config.group.write_diffusion_max as usize;
    let started = Instant::now();
    let due = services.read(move |s| due(s, server)).await?;
    if due.is_empty() {
        return Ok(());
    }
    let mut purged = 0;
    let mut progress = Progress::start();
    for (done, &conversation) in due.iter().enumerate() {
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let (messages, more) =
                services.committer.run(move |tx| purge_some(tx, conversation, server, batch, small)).await?;
            purged += messages;
            services.purges.messages.fetch_add(messages as u64, Ordering::Relaxed);
            if !more {
                break;
            }
            if progress.due() {
                tracing::info!(messages = purged, conversations = done, of = due.len(), "purging expired messages");
            }
        }
    }
    tracing::info!(
        messages = purged,
        conversations = due.len(),
        ms = started.elapsed().as_millis() as u64,
        "purged expired messages"
    );
    Ok(())
}

/// Conversations with an expired message not purged yet.
fn due(store: &Store, server: u64) -> Result<Vec<Conversation>, StorageError> {
    let now = now_ms();
    let mut due = Vec::new();
    for entry in records::heads(store) {
        let (conversation, head) = entry?;
        let below = head.expiry(server, now);
        if below > 0 && message::unpurged_below(store, conversation, below, head.last)? {
            due.push(conversation);
        }
    }
    Ok(due)
}

/// One purge job: the oldest expired messages of a conversation, and what
/// points at them, in at most `batch` rows. Where expiry ends is read
/// again here, on the write path, so a retention lengthened since the
/// conversation was found due is honoured. Returns how many messages went
/// and whether more are due.
fn purge_some(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    server: u64,
    batch: usize,
    small: usize,
) -> ServiceResult<(usize, bool)> {
    let head = records::head(tx, conversation)?;
    let below = head.expiry(server, now_ms());
    // Who holds pointers to its messages: a 1:1 conversation's users, a
    // small group's members (a large group's are read only at the end).
    let (logged, large) = match conversation {
        Conversation::Direct { low, high } => (if low == high { vec![low] } else { vec![low, high] }, None),
        Conversation::Group(id) => match group::record(tx, id)? {
            Some(record) if record.member_count as usize <= small => (group::member_ids(tx, id)?, None),
            Some(_) => (Vec::new(), Some(id)),
            None => (Vec::new(), None),
        },
    };
    let most = (batch / (OWN_ROWS + logged.len())).max(1);
    let (ids, more) = message::purge(tx, conversation, below, head.last, most)?;
    let Some(&last) = ids.last() else { return Ok((0, false)) };
    for &id in &ids {
        for &user in &logged {
            update::remove(tx, user, id);
        }
    }
    records::purged(tx, conversation, last)?;
    // Done with the conversation: its participants' hidden marks go too.
    if !more {
        let members = match large {
            Some(group) => group::member_ids(tx, group)?,
            None => logged,
        };
        for user in members {
            records::unhide_below(tx, user, conversation, below)?;
        }
    }
    Ok((ids.len(), more))
}
