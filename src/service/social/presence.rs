//! Presence: whether a user is online, or when their last device went
//! offline, shown as their `Privacy` presence audience allows, and
//! reciprocally ([`rules::presence_shared`]): who hides from someone sees
//! nothing of them either.
//!
//! Nothing of it enters the update log. A connection reads presence with
//! `Presence` and, watching users ([`Hub::watch`](crate::hub::Hub::watch)),
//! is pushed their comings and goings while it stays connected, each push
//! checked against the rule as it is sent; a connection that watches
//! nobody costs nothing. Going offline writes nothing at once: last-seen
//! times gather in memory ([`LastSeen`]) and are written together every
//! `social.last_seen_flush_secs` and at a clean stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::{rules, store, Pair};
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
    if req.watch {
        call.services.hub().watch(me, call.session_id, &req.users);
    }
    let services = call.services.clone();
    let users = call
        .services
        .read(move |s| req.users.iter().map(|user| seen_by(&services, s, me, *user)).collect::<Result<_, _>>())
        .await?;
    Ok(Outcome::Reply(PresenceList { users }))
}

/// `user`'s presence as `viewer` may see it.
fn seen_by(services: &Services, r: &impl Get, viewer: u64, user: u64) -> Result<PresenceInfo, StorageError> {
    if !shown(services, r, viewer, user)? {
        return Ok(PresenceInfo { user_id: user, online: false, last_seen: 0 });
    }
    state(services, r, user)
}

/// `user`'s presence, whoever asks.
fn state(services: &Services, r: &impl Get, user: u64) -> Result<PresenceInfo, StorageError> {
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
    if relation.blocked() {
        return Ok(false);
    }
    let (theirs, mine) = (store::privacy(r, user)?.presence, store::privacy(r, viewer)?.presence);
    Ok(rules::presence_shared(&relation, theirs, mine))
}

/// A user's first device came online, or their last went offline: the
/// sessions watching them who may see it are told. Runs on its own task.
pub(crate) fn changed(services: &Arc<Services>, user: u64, online: bool) {
    if !online {
        services.last_seen.record(user, now_ms());
    }
    let watchers = services.hub().watchers(user);
    if watchers.is_empty() {
        return;
    }
    let services = services.clone();
    tokio::spawn(async move {
        let reader = services.clone();
        let told = services
            .read(move |s| {
                let mut told = Vec::new();
                for session in watchers {
                    // A change nobody may see is not pushed at all: even a
                    // "hidden" push would time the user's comings and goings.
                    if shown(&reader, s, session.user_id, user)? {
                        told.push((session, state(&reader, s, user)?));
                    }
                }
                Ok(told)
            })
            .await;
        match told {
            Ok(told) => told.into_iter().for_each(|(session, info)| session.push(&frame(info))),
            Err(e) => tracing::warn!(user, error = %e, "presence not pushed"),
        }
    });
}

/// After a change between `a` and `b` (friendship, a block): a session of
/// either watching the other is told how it sees them now, hidden included,
/// so a block or unfriending takes the shown presence away at once.
pub(super) fn refresh_pair(services: &Arc<Services>, a: u64, b: u64) {
    let mut asked = Vec::new();
    for (viewer, user) in [(a, b), (b, a)] {
        asked.extend(services.hub().watchers(user).into_iter().filter(|s| s.user_id == viewer).map(|s| (s, user)));
    }
    push_fresh(services, asked);
}

/// After `user` changed their presence audience: every session watching
/// them, and every session of theirs watching someone, is told how it sees
/// the other now (the rule is reciprocal).
pub(super) fn refresh_user(services: &Arc<Services>, user: u64) {
    let hub = services.hub();
    let mut asked: Vec<_> = hub.watchers(user).into_iter().map(|s| (s, user)).collect();
    for session in hub.sessions(user) {
        let watched = hub.watched(session.session_id);
        asked.extend(watched.into_iter().map(|other| (session.clone(), other)));
    }
    push_fresh(services, asked);
}

/// Pushes each session the presence of its user as that user sees it now.
fn push_fresh(services: &Arc<Services>, asked: Vec<(Arc<crate::hub::SessionHandle>, u64)>) {
    if asked.is_empty() {
        return;
    }
    let services = services.clone();
    tokio::spawn(async move {
        let reader = services.clone();
        let told = services
            .read(move |s| {
                asked
                    .into_iter()
                    .map(|(session, user)| Ok((seen_by(&reader, s, session.user_id, user)?, session)))
                    .collect::<Result<Vec<_>, StorageError>>()
            })
            .await;
        match told {
            Ok(told) => told.into_iter().for_each(|(info, session)| session.push(&frame(info))),
            Err(e) => tracing::warn!(error = %e, "presence not pushed"),
        }
    });
}

fn frame(info: PresenceInfo) -> Bytes {
    Bytes::from(Push::Presence(info).frame())
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
