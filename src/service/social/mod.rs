//! The social graph: profiles, search, privacy settings, friends, friend
//! requests and blocking.
//!
//! Every change runs as one job on the group commit and re-reads what it
//! depends on there — the pair's [`store::Relation`], the recipient's
//! policy, the daily request count — so a check and the write it guards
//! cannot race. Whatever a user must not miss (a request, its answer, a
//! removed friend, a block made on another device) is published to the
//! update log in the same job.
//!
//! Uses: account (names), update, message (one migration; a 1:1
//! conversation's read positions in the profile rule, [`profile`]), media
//! (the avatar's file).

mod export;
mod presence;
mod profile;
mod rules;
mod search;
mod store;

pub(crate) use presence::{
    active_since, changed as presence_changed, keep_last_seen, shown as presence_shown, write_last_seen, LastSeen,
};
pub(crate) use profile::{readable as profile_readable, shown as profile_shown};
pub(crate) use rules::{forbids, Surface};
pub(crate) use search::Cursors;
// What the other domains and the start-up checks use of this one.
pub(crate) use export::export;
pub(crate) use store::{
    check, friend_ids, from_v11, from_v2, from_v6, privacy as privacy_of, relation, reshape_profiles, stats, Pair,
};

use std::sync::Arc;

use self::store::RequestRecord;
use super::{media, update, Call, Outcome, PageLimit, Router, ServiceError, ServiceResult, Services, Tx};
use crate::config::DirectMessages;
use crate::id::{first_id_at, id_time_ms, now_ms};
use crate::protocol::{
    AddFriendRequest, AnswerFriendRequest, BlockChanged, BlockRequest, BlockedPage, BlockedUser, ErrorCode,
    FieldVisibility, Friend, FriendPage, FriendPolicy, FriendRemoved, FriendRequestInfo, FriendRequestPage,
    ListBlockedRequest, ListFriendRequestsRequest, ListFriendsRequest, PrivacyRequest, PrivacySettings,
    ProfileVisibilityRequest, RateLimitReason, RemarkChanged, RemoveFriendRequest, RequestBox, RequestState,
    SetProfileRequest, SetRemarkRequest, UnblockRequest, UpdateBody, UserCard, UserProfile,
};
use crate::storage::{Get, StorageError, Store};

const DAY_MS: u64 = 86_400_000;

/// Registers the social graph's handlers.
pub(super) fn routes(router: &mut Router) {
    router
        .add(set_profile)
        .add(privacy)
        .add(presence::presence)
        .add(search::find_user)
        .add(search::search_users)
        .add(add_friend)
        .add(answer_friend)
        .add(list_requests)
        .add(list_friends)
        .add(remove_friend)
        .add(set_remark)
        .add(block)
        .add(unblock)
        .add(list_blocked)
        .add(profile_visibility);
}

/// Whether `from` may send a 1:1 message to `to` (distinct users), read
/// through the send's write job: no block either way and, under the
/// friends-only setting, friends.
pub(crate) fn check_message(r: &impl Get, policy: DirectMessages, from: u64, to: u64) -> ServiceResult<()> {
    let relation = store::relation(r, Pair::of(from, to))?;
    if let Some(refusal) = forbids(&relation, Surface::Message) {
        return Err(refusal);
    }
    if policy == DirectMessages::Friends && relation.friends_since.is_none() {
        return Err(ServiceError::new(ErrorCode::NotPermitted, "you can message only your friends"));
    }
    Ok(())
}

/// Whether a read receipt or a delivery notice may pass between two users:
/// not across a block, whoever blocked whom.
pub(crate) fn receipts_pass(r: &impl Get, a: u64, b: u64) -> Result<bool, StorageError> {
    Ok(forbids(&store::relation(r, Pair::of(a, b))?, Surface::Receipt).is_none())
}

/// Whether `viewer` may look `user` up: the account is enabled and no block
/// stands between them. Otherwise `NotFound`, as for a user who does not exist.
pub(super) fn check_visible(services: &Services, r: &impl Get, viewer: u64, user: u64) -> ServiceResult<()> {
    if !services.accounts.user_exists(user) || (user != viewer && services.accounts.is_disabled(user)) {
        return Err(ServiceError::not_found("no such user"));
    }
    if user != viewer {
        if let Some(refusal) = forbids(&store::relation(r, Pair::of(viewer, user))?, Surface::Lookup) {
            return Err(refusal);
        }
    }
    Ok(())
}

/// A user as lists show them.
pub(crate) fn card(r: &impl Get, user: u64) -> Result<UserCard, StorageError> {
    let username = super::account::user(r, user)?.map(|u| u.username).unwrap_or_default();
    let profile = store::profile(r, user)?;
    Ok(UserCard { user_id: user, username, nickname: profile.nickname, avatar: profile.avatar })
}

/// A request as both parties see it, its state as of `now`.
pub(crate) fn request_info(
    r: &impl Get,
    ttl_ms: u64,
    id: u64,
    to: u64,
    record: &RequestRecord,
    now: u64,
) -> Result<FriendRequestInfo, StorageError> {
    let expires_at = id_time_ms(id).saturating_add(ttl_ms);
    let state = match record.state {
        RequestState::Pending if now >= expires_at => RequestState::Expired,
        state => state,
    };
    Ok(FriendRequestInfo {
        id,
        from: card(r, record.from)?,
        to: card(r, to)?,
        message: record.message.clone(),
        state,
        expires_at,
        answered_at: record.answered_at,
    })
}

async fn profile_visibility(call: Call, req: ProfileVisibilityRequest) -> ServiceResult<Outcome<FieldVisibility>> {
    let user = call.me()?.user_id;
    let Some(fields) = req.set else {
        return Ok(Outcome::Reply(call.services.read(move |s| store::field_visibility(s, user)).await?));
    };
    let origin = call.session_id;
    call.services
        .write(move |tx| {
            store::set_field_visibility(tx, user, &fields);
            tell_own_devices(tx, user, Some(origin), UpdateBody::ProfileVisibilityChanged(fields));
            Ok(fields)
        })
        .await
}

/// After a friend request's answer: if it made friends, how they see each
/// other's presence may have changed.
fn befriended(services: &Arc<Services>) -> impl FnOnce(&FriendRequestInfo) + Send + 'static {
    let services = services.clone();
    move |info| {
        if info.state == RequestState::Accepted {
            presence::refresh_pair(&services, info.from.user_id, info.to.user_id);
        }
    }
}

/// Tells the user's devices but `origin` (the one that made the change) of
/// a change to their own settings, so a second phone stays in step.
fn tell_own_devices(tx: &mut Tx<'_>, user: u64, origin: Option<u64>, body: UpdateBody) {
    let id = tx.next_id();
    update::publish(tx, &[user], origin, id, body);
}

async fn set_profile(call: Call, req: SetProfileRequest) -> ServiceResult<Outcome<UserProfile>> {
    let me = call.me()?;
    let reply = UserProfile { user_id: me.user_id, username: me.username.clone(), profile: req.profile };
    save_profile(&call.services, reply, Some(call.session_id)).await
}

/// Checks and stores a user's profile, and tells their devices but
/// `origin`; answered once it is durable.
pub(crate) async fn save_profile(
    services: &Services,
    mut profile: UserProfile,
    origin: Option<u64>,
) -> ServiceResult<Outcome<UserProfile>> {
    let today = time::OffsetDateTime::now_utc().date();
    let folded = rules::check_profile(&mut profile.profile, (today.year(), today.month().into(), today.day()))?;
    services
        .write(move |tx| {
            let user = profile.user_id;
            let old = store::set_profile(tx, user, &profile.profile, folded)?;
            media::set_avatar(tx, media::Holder::User(user), user, old.avatar, profile.profile.avatar)?;
            tell_own_devices(tx, profile.user_id, origin, UpdateBody::ProfileChanged(profile.clone()));
            Ok(profile)
        })
        .await
}

async fn privacy(call: Call, req: PrivacyRequest) -> ServiceResult<Outcome<PrivacySettings>> {
    let user = call.me()?.user_id;
    if req.discoverable.is_none() && req.friend_policy.is_none() && req.presence.is_none() {
        return Ok(Outcome::Reply(call.services.read(move |s| store::privacy(s, user)).await?));
    }
    let origin = call.session_id;
    let written = call
        .services
        .write(move |tx| {
            let mut settings = store::privacy(tx, user)?;
            settings.discoverable = req.discoverable.unwrap_or(settings.discoverable);
            settings.friend_policy = req.friend_policy.unwrap_or(settings.friend_policy);
            settings.presence = req.presence.unwrap_or(settings.presence);
            store::set_privacy(tx, user, &settings);
            tell_own_devices(tx, user, Some(origin), UpdateBody::PrivacyChanged(settings));
            Ok(settings)
        })
        .await?;
    let services = call.services.clone();
    Ok(written.after(move |_| presence::refresh_user(&services, user)))
}

async fn add_friend(call: Call, req: AddFriendRequest) -> ServiceResult<Outcome<FriendRequestInfo>> {
    let me = call.me()?.user_id;
    rules::check_request_message(&req.message)?;
    if req.user_id == me {
        return Err(ServiceError::invalid("user_id: you cannot befriend yourself"));
    }
    let (services, origin, peer) = (call.services.clone(), call.session_id, req.user_id);
    let social = call.services.config.social.clone();
    let written = call
        .services
        .write(move |tx| {
            let now = now_ms();
            if !services.accounts.user_exists(peer) || services.accounts.is_disabled(peer) {
                return Err(ServiceError::not_found("no such user"));
            }
            let pair = Pair::of(me, peer);
            let relation = store::relation(tx, pair)?;
            if let Some(refusal) = forbids(&relation, Surface::FriendRequest) {
                return Err(refusal);
            }
            if relation.friends_since.is_some() {
                return Err(ServiceError::new(ErrorCode::Conflict, "you are already friends"));
            }
            let ttl = social.request_ttl_ms();
            // They asked first, and it still stands: this is a yes.
            if let Some(theirs) = relation.pending.filter(|p| p.to == me && id_time_ms(p.id) + ttl > now) {
                if let Some(record) = store::request(tx, me, theirs.id)? {
                    return accept(tx, ttl, theirs.id, me, record, origin, now);
                }
            }
            check_daily_limit(tx, me, social.friend_requests_per_day, now)?;
            let policy = store::privacy(tx, peer)?.friend_policy;
            if policy == FriendPolicy::RefuseAll {
                return Err(ServiceError::new(ErrorCode::NotPermitted, "this user accepts no friend requests"));
            }
            let id = tx.next_id();
            store::file_request(tx, id, me, peer, req.message)?;
            if policy == FriendPolicy::AcceptAll {
                let record = store::request(tx, peer, id)?
                    .ok_or_else(|| ServiceError::new(ErrorCode::Internal, "a request vanished in its own job"))?;
                // Accepted as it was sent: answered at the request id's time.
                let sent = id_time_ms(id);
                let record = store::answer(tx, peer, id, record, true, sent)?;
                store::befriend(tx, me, peer, sent)?;
                let info = request_info(tx, ttl, id, peer, &record, sent)?;
                update::publish(tx, &[me, peer], Some(origin), id, UpdateBody::FriendRequest(info.clone()));
                return Ok(info);
            }
            let record = store::request(tx, peer, id)?
                .ok_or_else(|| ServiceError::new(ErrorCode::Internal, "a request vanished in its own job"))?;
            let info = request_info(tx, ttl, id, peer, &record, now)?;
            update::publish(tx, &[me, peer], Some(origin), id, UpdateBody::FriendRequest(info.clone()));
            Ok(info)
        })
        .await?;
    Ok(written.after(befriended(&call.services)))
}

/// Refuses a request beyond the sender's daily limit, saying when the
/// oldest request of the last 24 hours leaves the window.
fn check_daily_limit(tx: &Tx<'_>, me: u64, per_day: u32, now: u64) -> ServiceResult<()> {
    let since = now.saturating_sub(DAY_MS);
    let (count, oldest) = store::sent_since(tx, me, first_id_at(since))?;
    if count >= per_day as usize {
        let wait = oldest.map_or(DAY_MS, |id| (id_time_ms(id) + DAY_MS).saturating_sub(now).max(1));
        return Err(ServiceError::rate_limited(
            RateLimitReason::Quota,
            format!("at most {per_day} friend requests per 24 hours"),
            std::time::Duration::from_millis(wait),
        )
        .with_limit(u64::from(per_day)));
    }
    Ok(())
}

/// Accepts request `id` filed under `me`: both become friends, both hear of it.
fn accept(
    tx: &mut Tx<'_>,
    ttl: u64,
    id: u64,
    me: u64,
    record: RequestRecord,
    origin: u64,
    now: u64,
) -> ServiceResult<FriendRequestInfo> {
    let from = record.from;
    // The answer's time is its update's, so both read the same.
    let update_id = tx.next_id();
    let now = id_time_ms(update_id).max(now);
    let record = store::answer(tx, me, id, record, true, now)?;
    store::befriend(tx, me, from, now)?;
    let info = request_info(tx, ttl, id, me, &record, now)?;
    update::publish(tx, &[from, me], Some(origin), update_id, UpdateBody::FriendAnswered(info.clone()));
    Ok(info)
}

async fn answer_friend(call: Call, req: AnswerFriendRequest) -> ServiceResult<Outcome<FriendRequestInfo>> {
    let me = call.me()?.user_id;
    let (services, origin) = (call.services.clone(), call.session_id);
    let ttl = call.services.config.social.request_ttl_ms();
    let written = call
        .services
        .write(move |tx| {
            let now = now_ms();
            let id = req.request_id;
            let record = store::request(tx, me, id)?.ok_or_else(|| ServiceError::not_found("no such request"))?;
            let relation = store::relation(tx, Pair::of(me, record.from))?;
            if relation.blocks(Pair::of(me, record.from), me) {
                // Requests from a user one blocked are hidden, not answerable.
                return Err(ServiceError::not_found("no such request"));
            }
            if record.state != RequestState::Pending {
                return Err(ServiceError::new(ErrorCode::Conflict, "the request was already answered"));
            }
            if id_time_ms(id) + ttl <= now {
                return Err(ServiceError::new(ErrorCode::Conflict, "the request has expired"));
            }
            if let Some(refusal) = forbids(&relation, Surface::FriendRequest) {
                return Err(refusal);
            }
            if req.accept {
                if services.accounts.is_disabled(record.from) {
                    return Err(ServiceError::not_found("no such user"));
                }
                return accept(tx, ttl, id, me, record, origin, now);
            }
            let from = record.from;
            let update_id = tx.next_id();
            let now = id_time_ms(update_id).max(now);
            let record = store::answer(tx, me, id, record, false, now)?;
            let info = request_info(tx, ttl, id, me, &record, now)?;
            update::publish(tx, &[from, me], Some(origin), update_id, UpdateBody::FriendAnswered(info.clone()));
            Ok(info)
        })
        .await?;
    Ok(written.after(befriended(&call.services)))
}

async fn list_requests(call: Call, req: ListFriendRequestsRequest) -> ServiceResult<Outcome<FriendRequestPage>> {
    let limit = PageLimit::requested(req.limit)?.count;
    let me = call.me()?.user_id;
    let ttl = call.services.config.social.request_ttl_ms();
    let before = if req.before == 0 { u64::MAX } else { req.before };
    let page = call
        .services
        .read(move |s| {
            let now = now_ms();
            let mut requests = Vec::new();
            let mut more = false;
            let mut add = |info: FriendRequestInfo| {
                if requests.len() == limit {
                    more = true;
                    return false;
                }
                requests.push(info);
                true
            };
            match req.direction {
                RequestBox::Incoming => {
                    for entry in store::incoming(s, me, before) {
                        let (id, record) = entry?;
                        if hidden(s, me, record.from)? {
                            continue;
                        }
                        if !add(request_info(s, ttl, id, me, &record, now)?) {
                            break;
                        }
                    }
                }
                RequestBox::Outgoing => {
                    for entry in store::outgoing(s, me, before) {
                        let (id, to) = entry?;
                        let Some(record) = store::request(s, to, id)? else { continue };
                        if !add(request_info(s, ttl, id, to, &record, now)?) {
                            break;
                        }
                    }
                }
            }
            Ok(FriendRequestPage { requests, more, pending_incoming: pending_incoming(s, me, ttl, now)? })
        })
        .await?;
    Ok(Outcome::Reply(page))
}

/// Whether `me` blocked `other`, whose requests are then not shown to `me`.
fn hidden(s: &Store, me: u64, other: u64) -> Result<bool, StorageError> {
    let pair = Pair::of(me, other);
    Ok(store::relation(s, pair)?.blocks(pair, me))
}

/// Incoming requests still answerable: pending, not expired, not from a
/// user `me` blocked. Only requests younger than the time limit are read.
fn pending_incoming(s: &Store, me: u64, ttl: u64, now: u64) -> Result<u32, StorageError> {
    let mut n = 0u32;
    for entry in store::incoming(s, me, u64::MAX) {
        let (id, record) = entry?;
        if id_time_ms(id) + ttl <= now {
            break;
        }
        if record.state == RequestState::Pending && !hidden(s, me, record.from)? {
            n = n.saturating_add(1);
        }
    }
    Ok(n)
}

async fn list_friends(call: Call, req: ListFriendsRequest) -> ServiceResult<Outcome<FriendPage>> {
    let limit = PageLimit::requested(req.limit)?.count;
    let me = call.me()?.user_id;
    let page = call
        .services
        .read(move |s| {
            let (entries, more) = store::friends(s, me, req.after, limit)?;
            let friends = entries
                .into_iter()
                .map(|(id, entry)| Ok(Friend { user: card(s, id)?, remark: entry.remark, since: entry.since }))
                .collect::<Result<Vec<_>, StorageError>>()?;
            Ok(FriendPage { friends, more })
        })
        .await?;
    Ok(Outcome::Reply(page))
}

async fn remove_friend(call: Call, req: RemoveFriendRequest) -> ServiceResult<Outcome<()>> {
    let me = call.me()?.user_id;
    let (origin, other) = (call.session_id, req.user_id);
    let written = call
        .services
        .write(move |tx| {
            if other == me || !store::unfriend(tx, me, other)? {
                return Err(ServiceError::not_found("not a friend"));
            }
            let id = tx.next_id();
            update::publish(
                tx,
                &[me, other],
                Some(origin),
                id,
                UpdateBody::FriendRemoved(FriendRemoved { by: me, user_id: other }),
            );
            Ok(())
        })
        .await?;
    let services = call.services.clone();
    Ok(written.after(move |_| presence::refresh_pair(&services, me, other)))
}

/// Erases a deleted account's social data, a bounded step per call (see
/// `store::erase_some`); each former friend hears the friendship ended.
/// Returns whether nothing is left.
pub(crate) fn erase(tx: &mut Tx<'_>, user: u64, most: usize) -> ServiceResult<bool> {
    let (friends, done) = store::erase_some(tx, user, most)?;
    for friend in friends {
        let id = tx.next_id();
        let body = UpdateBody::FriendRemoved(FriendRemoved { by: user, user_id: friend });
        update::publish(tx, &[friend], None, id, body);
    }
    Ok(done)
}

async fn set_remark(call: Call, req: SetRemarkRequest) -> ServiceResult<Outcome<()>> {
    let me = call.me()?.user_id;
    let remark = rules::check_remark(&req.remark)?;
    let origin = call.session_id;
    call.services
        .write(move |tx| {
            if req.user_id == me || !store::set_remark(tx, me, req.user_id, remark.clone())? {
                return Err(ServiceError::not_found("not a friend"));
            }
            let changed = RemarkChanged { user_id: req.user_id, remark };
            tell_own_devices(tx, me, Some(origin), UpdateBody::RemarkChanged(changed));
            Ok(())
        })
        .await
}

async fn block(call: Call, req: BlockRequest) -> ServiceResult<Outcome<()>> {
    change_block(call, req.user_id, true).await
}

async fn unblock(call: Call, req: UnblockRequest) -> ServiceResult<Outcome<()>> {
    change_block(call, req.user_id, false).await
}

/// Blocks or unblocks; the user's other devices hear of a change.
async fn change_block(call: Call, other: u64, blocked: bool) -> ServiceResult<Outcome<()>> {
    let me = call.me()?.user_id;
    if other == me {
        let verb = if blocked { "block" } else { "unblock" };
        return Err(ServiceError::invalid(format!("user_id: you cannot {verb} yourself")));
    }
    if !call.services.accounts.user_exists(other) {
        return Err(ServiceError::not_found("no such user"));
    }
    let origin = call.session_id;
    let written = call
        .services
        .write(move |tx| {
            // The block's time is its update's, so ListBlocked and the update agree.
            let id = tx.next_id();
            if store::set_block(tx, me, other, blocked, id_time_ms(id))? {
                update::publish(
                    tx,
                    &[me],
                    Some(origin),
                    id,
                    UpdateBody::BlockChanged(BlockChanged { user_id: other, blocked }),
                );
            }
            Ok(())
        })
        .await?;
    let services = call.services.clone();
    Ok(written.after(move |_| presence::refresh_pair(&services, me, other)))
}

async fn list_blocked(call: Call, req: ListBlockedRequest) -> ServiceResult<Outcome<BlockedPage>> {
    let limit = PageLimit::requested(req.limit)?.count;
    let me = call.me()?.user_id;
    let page = call
        .services
        .read(move |s| {
            let (entries, more) = store::blocked(s, me, req.after, limit)?;
            let users = entries
                .into_iter()
                .map(|(id, since)| Ok(BlockedUser { user: card(s, id)?, since }))
                .collect::<Result<Vec<_>, StorageError>>()?;
            Ok(BlockedPage { users, more })
        })
        .await?;
    Ok(Outcome::Reply(page))
}
