//! Presence: whether a user is online, or when their last device went
//! offline, shown as their `Privacy` presence audience allows, and
//! reciprocally ([`rules::presence_shared`]): who hides from someone sees
//! nothing of them either.
//!
//! Nothing of it enters the update log. A connection reads presence with
//! `Presence` and, watching users ([`Hub::watch`](crate::hub::Hub::watch)),
//! is pushed what it sees of them whenever that changes — a coming, a
//! going, an audience, a friendship or a block — worked out under the rule
//! as it is sent; a connection that watches nobody costs nothing. Going
//! offline writes nothing at once: last-seen times gather in memory
//! ([`LastSeen`]) and are written together every
//! `social.last_seen_flush_secs` and at a clean stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::{rules, store, Pair};
use crate::hub::Watch;
use crate::id::now_ms;
use crate::protocol::{PresenceInfo, PresenceList, PresenceRequest, Push};
use crate::service::{Call, Outcome, ServiceError, ServiceResult, Services};
use crate::storage::{Get, StorageError, Store};

/// Last-seen times not yet written, by user.
#[derive(Debug, Default)]
pub(crate) struct LastSeen {
    pending: Mutex<HashMap<u64, u64>>,
}

impl LastSeen {
    fn record(&self, user: u64, at: u64) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(user, at);
    }

    fn get(&self, user: u64) -> Option<u64> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).get(&user).copied()
    }

    fn snapshot(&self) -> Vec<(u64, u64)> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(u, t)| (*u, *t)).collect()
    }

    /// Forgets what was written, unless it changed meanwhile.
    fn written(&self, written: &[(u64, u64)]) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for (user, at) in written {
            if pending.get(user) == Some(at) {
                pending.remove(user);
            }
        }
    }
}

pub(super) async fn presence(call: Call, req: PresenceRequest) -> ServiceResult<Outcome<PresenceList>> {
    let me = call.me()?.user_id;
    let most = call.services.config.social.presence_users_max;
    if req.users.len() > most as usize {
        return Err(ServiceError::invalid(format!("users: at most {most}")).with_limit(u64::from(most)));
    }
    // Watch first: a change from here on is pushed, and the reading below
    // is at least as new as any change before it.
    let session = call.session_id;
    if req.watch {
        call.services.hub().watch(me, session, &req.users);
    }
    let services = call.services.clone();
    let users: Vec<PresenceInfo> = call
        .services
        .read(move |s| req.users.iter().map(|user| seen_by(&services, s, me, *user)).collect::<Result<_, _>>())
        .await?;
    if req.watch {
        for info in &users {
            if let Some(watch) = call.services.hub().watch_of(info.user_id, session) {
                watch.tell(*info);
            }
        }
    }
    Ok(Outcome::Reply(PresenceList { users }))
}

/// `user`'s presence as `viewer` may see it.
fn seen_by(services: &Services, r: &impl Get, viewer: u64, user: u64) -> Result<PresenceInfo, StorageError> {
    if !shown(services, r, viewer, user)? {
        return Ok(PresenceInfo { user_id: user, online: false, last_seen: 0 });
    }
    let online = services.hub().is_online(user);
    let last_seen = match online {
        true => 0,
        false => services.last_seen.get(user).map_or_else(|| store::last_seen(r, user), Ok)?,
    };
    Ok(PresenceInfo { user_id: user, online, last_seen })
}

/// Whether `viewer` may see `user`'s presence: their own always; another
/// user's if the account is live and the rule admits the pair.
pub(crate) fn shown(services: &Services, r: &impl Get, viewer: u64, user: u64) -> Result<bool, StorageError> {
    if viewer == user {
        return Ok(true);
    }
    if !services.accounts.user_exists(user) || services.accounts.is_disabled(user) {
        return Ok(false);
    }
    let relation = store::relation(r, Pair::of(viewer, user))?;
    let (theirs, mine) = (store::privacy(r, user)?.presence, store::privacy(r, viewer)?.presence);
    Ok(rules::presence_shared(&relation, theirs, mine))
}

/// A user's first device came online, or their last went offline: each
/// session watching them is told, if what it may see of them changed.
pub(crate) fn changed(services: &Arc<Services>, user: u64, online: bool) {
    if !online {
        services.last_seen.record(user, now_ms());
    }
    tell(services, services.hub().watchers(user).into_iter().map(|w| (w, user)).collect());
}

/// After a change between `a` and `b` (friendship, a block): a session of
/// either watching the other is told what it sees of them now, if that
/// changed — hidden, after a block.
pub(super) fn refresh_pair(services: &Arc<Services>, a: u64, b: u64) {
    let mut asked = Vec::new();
    for (viewer, user) in [(a, b), (b, a)] {
        let watches = services.hub().watchers(user).into_iter();
        asked.extend(watches.filter(|w| w.session.user_id == viewer).map(|w| (w, user)));
    }
    tell(services, asked);
}

/// After `user` changed their presence audience: every session watching
/// them, and every session of theirs watching someone, is told what it sees
/// of the other now, if that changed (the rule is reciprocal).
pub(super) fn refresh_user(services: &Arc<Services>, user: u64) {
    let hub = services.hub();
    let mut asked: Vec<_> = hub.watchers(user).into_iter().map(|w| (w, user)).collect();
    for session in hub.sessions(user) {
        for other in hub.watched(session.session_id) {
            asked.extend(hub.watch_of(other, session.session_id).map(|w| (w, other)));
        }
    }
    tell(services, asked);
}

/// Works out, on its own task, what each watch sees of its user now, and
/// pushes it where that is news: a watcher who may not see the user hears
/// nothing of their comings and goings, not even "hidden" (it would time
/// them), and once it loses sight of them, one "hidden".
fn tell(services: &Arc<Services>, asked: Vec<(Arc<Watch>, u64)>) {
    if asked.is_empty() {
        return;
    }
    let services = services.clone();
    tokio::spawn(async move {
        let reader = services.clone();
        let seen = services
            .read(move |s| {
                asked
                    .into_iter()
                    .map(|(watch, user)| Ok((seen_by(&reader, s, watch.session.user_id, user)?, watch)))
                    .collect::<Result<Vec<_>, StorageError>>()
            })
            .await;
        match seen {
            Ok(seen) => {
                for (info, watch) in seen {
                    if watch.tell(info) {
                        watch.session.push(&Bytes::from(Push::Presence(info).frame()));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "presence not pushed"),
        }
    });
}

/// Writes the last-seen times gathered since the last call, in one job.
pub(crate) async fn write_last_seen(services: &Arc<Services>) -> ServiceResult<()> {
    let pending = services.last_seen.snapshot();
    if pending.is_empty() {
        return Ok(());
    }
    let job_services = services.clone();
    let written = services
        .committer
        .run(move |tx| {
            for (user, at) in &pending {
                // An account erased since it went offline stays erased.
                if job_services.accounts.user_exists(*user) {
                    store::set_last_seen(tx, *user, *at);
                }
            }
            Ok::<_, ServiceError>(pending)
        })
        .await?;
    services.last_seen.written(&written);
    Ok(())
}

/// Writes the gathered last-seen times every `social.last_seen_flush_secs`
/// until shutdown (which writes the rest once every connection is closed).
pub(crate) async fn keep_last_seen(services: Arc<Services>, shutdown: CancellationToken) {
    let every = services.config.social.last_seen_flush();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = write_last_seen(&services).await {
            tracing::warn!(error = %e, "last-seen times not written; trying again later");
        }
    }
}

/// How many users were online at or after `since` ms: online now, gone
/// offline since, or last seen since as written.
pub(crate) fn active_since(services: &Services, s: &Store, since: u64) -> Result<usize, StorageError> {
    let mut users: std::collections::HashSet<u64> = store::seen_since(s, since)?.into_iter().collect();
    users.extend(services.hub().online().iter().map(|session| session.user_id));
    users.extend(services.last_seen.snapshot().into_iter().filter(|(_, at)| *at >= since).map(|(user, _)| user));
    Ok(users.len())
}
