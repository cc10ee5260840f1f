//! Accounts: registration, password and token login, logout, password
//! change, user lookup — and the operator's commands on accounts.
//!
//! Uses: update (a new login is a notice; a login reads its cursor).

pub(crate) mod invite;
mod password;
mod rules;
mod store;
mod throttle;
mod token;

use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use password::PasswordHashing;
pub(crate) use rules::{canonical_username, check_password};
pub(crate) use throttle::{Attempt, LoginThrottle, Refusal, RegistrationLimit};
// What the other domains and the start-up checks use of this one.
pub(crate) use store::{
    all_push_endpoints, check, clear_push, from_v1, push_endpoints, set_push, user, user_by_name, DeviceKey,
    PushRecord, UserRecord,
};

use self::store::TokenRecord;
use self::token::NewToken;
use super::{update, Call, Outcome, Router, ServiceError, ServiceResult, Services, Tx};
use crate::config::{Limits, RegistrationPolicy};
use crate::id::now_ms;
use crate::protocol::{
    AuthReply, AuthRequest, ChangePasswordRequest, ClientType, DeviceInfo, DeviceType, DisconnectReason, ErrorCode,
    Heartbeat, HeartbeatReply, LoginReply, LoginRequest, Logout, NewLogin, RateLimitReason, RegisterReply,
    RegisterRequest, RenewToken, TokenReply, UpdateBody,
};
use crate::storage::{StorageError, Store};

/// Who an authenticated connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The account.
    pub user_id: u64,
    /// Its canonical username.
    pub username: String,
    /// The device.
    pub device_id: String,
    /// The device's type.
    pub device_type: DeviceType,
    /// The client software.
    pub client_type: ClientType,
    /// The account's credential generation when the connection authenticated.
    pub generation: u64,
    /// The token the connection holds or was issued.
    pub token_id: u64,
}

/// The account domain's state.
pub(crate) struct Accounts {
    passwords: PasswordHashing,
    throttle: LoginThrottle,
    registrations: RegistrationLimit,
    /// Highest user id. Ids are never reused, so an id exists iff it is
    /// between 1 and this and not deleted — checked without touching sled
    /// on the send path.
    last_user_id: AtomicU64,
    /// Deleted accounts, changed by the write job that deletes one, so a
    /// write checked against it on the write path sees every deletion
    /// committed before it.
    deleted: Arc<std::sync::RwLock<std::collections::HashSet<u64>>>,
    /// Disabled accounts, for the same reason; few, so a set. Changed by
    /// the write job that disables or enables, so a write checked against
    /// it on the write path sees every change committed before it.
    disabled: Arc<std::sync::RwLock<std::collections::HashSet<u64>>>,
    /// Seconds a new token is valid.
    token_ttl_secs: u64,
    /// Seconds before expiry within which `Auth` renews a token.
    token_renew_within_secs: u64,
    /// Who may register; changed on SIGHUP.
    policy: std::sync::RwLock<RegistrationPolicy>,
    /// Failed invitation attempts, per address, throttled like failed logins.
    invitations: LoginThrottle,
}

impl Accounts {
    pub(super) fn load(store: &Store, limits: &Limits, policy: RegistrationPolicy) -> Result<Accounts, StorageError> {
        Ok(Accounts {
            passwords: PasswordHashing::new(limits.max_concurrent_hashes),
            throttle: LoginThrottle::default(),
            registrations: RegistrationLimit::new(
                limits.registrations_per_address_per_hour,
                limits.max_pending_registrations,
            ),
            last_user_id: AtomicU64::new(store::last_user_id(store)?),
            disabled: Arc::new(std::sync::RwLock::new(store::disabled_users(store)?)),
            deleted: Arc::new(std::sync::RwLock::new(
                store::deleted_accounts(store)?.into_iter().map(|(id, _)| id).collect(),
            )),
            token_ttl_secs: limits.token_ttl_secs,
            token_renew_within_secs: limits.token_renew_within_secs,
            policy: std::sync::RwLock::new(policy),
            invitations: LoginThrottle::default(),
        })
    }

    /// Who may register now.
    pub(crate) fn policy(&self) -> RegistrationPolicy {
        *self.policy.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes who may register (a reload of the configuration).
    pub(crate) fn set_policy(&self, policy: RegistrationPolicy) {
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = policy;
    }

    /// The highest user id given (0: none yet).
    pub(crate) fn last_user_id(&self) -> u64 {
        self.last_user_id.load(Ordering::Acquire)
    }

    /// Whether a user with this id exists (disabled users included, deleted
    /// ones not; ids are sequential and never reused).
    pub(crate) fn user_exists(&self, user_id: u64) -> bool {
        user_id >= 1
            && user_id <= self.last_user_id.load(Ordering::Acquire)
            && !self.deleted.read().unwrap_or_else(|e| e.into_inner()).contains(&user_id)
    }

    /// Whether the operator disabled this account.
    pub(crate) fn is_disabled(&self, user_id: u64) -> bool {
        self.disabled.read().unwrap_or_else(|e| e.into_inner()).contains(&user_id)
    }

    /// Reserves a password attempt (see `throttle`), or refuses it.
    fn begin_attempt(&self, account: Option<&str>, peer: IpAddr) -> ServiceResult<Attempt<'_>> {
        self.throttle.begin(account, peer, Instant::now()).map_err(|refusal| {
            throttled(refusal, "too many failed logins", "too many logins in progress for this account or address")
        })
    }

    /// A new token for a user's device, and the record the server keeps of it.
    fn new_token(&self, user_id: u64, device: &DeviceInfo) -> ServiceResult<(NewToken, TokenRecord)> {
        let token = NewToken::generate()?;
        let record = TokenRecord {
            user_id,
            device_id: device.device_id.clone(),
            secret_hash: token.secret_hash,
            expires_at: now_ms().saturating_add(self.token_ttl_secs.saturating_mul(1000)),
            device_type: device.device_type,
            client_type: device.client_type,
        };
        Ok((token, record))
    }
}

/// Registers the account domain's handlers.
pub(super) fn routes(router: &mut Router) {
    router.add(heartbeat).add(register).add(login).add(auth).add(logout).add(change_password).add(renew_token);
}

/// A throttle's refusal as the client sees it: the wait after too many
/// failures, or a short pause when too many attempts are in progress.
fn throttled(refusal: Refusal, failures: &str, busy: &str) -> ServiceError {
    match refusal {
        Refusal::Wait(wait) => {
            let message = format!("{failures}; retry in {} ms", wait.as_millis().max(1));
            ServiceError::rate_limited(RateLimitReason::Failures, message, wait)
        }
        Refusal::Busy => ServiceError::rate_limited(RateLimitReason::Busy, busy, Duration::from_millis(250)),
    }
}

fn bad_credentials() -> ServiceError {
    ServiceError::new(ErrorCode::BadCredentials, "wrong username or password")
}

fn invalid_token() -> ServiceError {
    ServiceError::new(ErrorCode::InvalidToken, "token is unknown, revoked or expired; log in again")
}

fn disabled() -> ServiceError {
    ServiceError::new(ErrorCode::AccountDisabled, "account is disabled")
}

async fn heartbeat(_: Call, _: Heartbeat) -> ServiceResult<Outcome<HeartbeatReply>> {
    Ok(Outcome::Reply(HeartbeatReply { server_time: now_ms() }))
}

async fn register(call: Call, req: RegisterRequest) -> ServiceResult<Outcome<RegisterReply>> {
    let services = call.services.clone();
    match (services.accounts.policy(), &req.invitation) {
        (RegistrationPolicy::Closed, _) => {
            return Err(ServiceError::new(
                ErrorCode::RegistrationClosed,
                "this server takes no registrations; its operator creates accounts",
            ))
        }
        (RegistrationPolicy::Invite, None) => {
            return Err(ServiceError::new(
                ErrorCode::InvitationRequired,
                "this server admits invited users only: register with the invitation of a join link",
            ))
        }
        _ => {}
    }
    // Guessing invitations is throttled per address, like guessing passwords.
    let attempt = match req.invitation {
        Some(_) => {
            Some(services.accounts.invitations.begin(None, call.peer.ip(), Instant::now()).map_err(|refusal| {
                throttled(
                    refusal,
                    "too many invalid invitations",
                    "too many registrations with invitations in progress from this address",
                )
            })?)
        }
        None => None,
    };
    let slot =
        services.accounts.registrations.begin(call.peer.ip(), Instant::now()).map_err(|refusal| match refusal {
            Refusal::Wait(wait) => ServiceError::rate_limited(
                RateLimitReason::Quota,
                format!("too many registrations from this address; retry in {} s", wait.as_secs().max(1)),
                wait,
            )
            .with_limit(u64::from(call.services.config().limits.registrations_per_address_per_hour)),
            Refusal::Busy => {
                let message = "too many registrations in progress; retry shortly";
                ServiceError::rate_limited(RateLimitReason::Busy, message, Duration::from_secs(1))
            }
        })?;
    let created = create(services.clone(), &req.username, &req.password, req.invitation, Hashing::Registration).await;
    drop(slot);
    // Only a refused invitation counts as a failed attempt.
    if let Some(attempt) = attempt {
        if !matches!(&created, Err(e) if e.code() == ErrorCode::InvalidInvitation) {
            attempt.succeeded();
        }
    }
    let created = created?;
    Ok(Outcome::later(async move { Ok(RegisterReply { user_id: created.await? }) }))
}

/// Whose share of the hashing capacity a new account's hash comes from.
enum Hashing {
    /// Anyone's registration: the registrations' share.
    Registration,
    /// The operator's `kith user add`.
    Operator,
    /// Hashed already: the load generator's seeded directory, where one
    /// hash serves every account.
    Hashed(String),
}

/// Validates, hashes and queues a new account; the returned future
/// resolves to its id once it is durable.
async fn create(
    services: Arc<Services>,
    username: &str,
    password: &str,
    invitation: Option<Vec<u8>>,
    hashing: Hashing,
) -> ServiceResult<impl Future<Output = ServiceResult<u64>>> {
    let username = canonical_username(username).map_err(ServiceError::invalid)?;
    check_password(password)?;
    // Both checked again by the job; this spares a hash for a made-up
    // invitation or a name that is taken.
    if let Some(code) = invitation.clone() {
        services.read(move |s| Ok(invite::check(s, &code, now_ms()))).await??;
    }
    let name = username.clone();
    if services.read(move |s| store::user_by_name(s, &name)).await?.is_some() {
        return Err(ServiceError::new(ErrorCode::Conflict, "username is taken"));
    }
    let password_hash = match hashing {
        Hashing::Registration => services.accounts.passwords.hash_for_registration(password).await?,
        Hashing::Operator => services.accounts.passwords.hash(password).await?,
        Hashing::Hashed(hash) => hash,
    };
    let record = UserRecord { username, password_hash, created_at: now_ms(), disabled: false };
    let hold = services.config.registration.deleted_name_hold_ms();
    let pending = services
        .committer
        .submit(move |tx| {
            // The use is counted in the job that creates the account: of
            // two registrations racing for the last use, one fails here.
            let invited = invitation.map(|code| invite::redeem(tx, &code, now_ms())).transpose()?;
            Ok::<_, ServiceError>((store::create_user(tx, &record, hold, now_ms())?, invited))
        })
        .await?;
    Ok(async move {
        let (id, invited) = pending.durable().await?;
        services.accounts.last_user_id.fetch_max(id, Ordering::AcqRel);
        match invited {
            Some(invitation) => tracing::info!(user = id, invitation, "account registered with an invitation"),
            None => tracing::info!(user = id, "account registered"),
        }
        Ok(id)
    })
}

async fn login(call: Call, req: LoginRequest) -> ServiceResult<Outcome<LoginReply>> {
    rules::check_device(&req.device)?;
    let (services, peer) = (&call.services, call.peer.ip());
    let accounts = &services.accounts;
    // Only a valid username keys the throttle, so its table stays small.
    let account = throttle::account_key(&req.username);
    let attempt = accounts.begin_attempt(account.as_deref(), peer)?;
    let found = match account {
        Some(name) => services.read(move |s| store::for_login(s, &name)).await?,
        None => None,
    };
    let hash = found.as_ref().map(|(_, u)| u.password_hash.as_str());
    let matches = accounts.passwords.verify(&req.password, hash).await?;
    let Some((credential, user)) = found.filter(|_| matches) else {
        return Err(bad_credentials());
    };
    attempt.succeeded();
    if user.disabled {
        return Err(disabled());
    }
    let (token, record) = accounts.new_token(credential.user_id, &req.device)?;
    let user_id = credential.user_id;
    let identity = Identity {
        user_id,
        username: user.username,
        device_id: req.device.device_id,
        device_type: req.device.device_type,
        client_type: req.device.client_type,
        generation: credential.generation,
        token_id: token.id,
    };
    let notice = UpdateBody::NewLogin(NewLogin {
        device_id: identity.device_id.clone(),
        device_type: identity.device_type,
        client_type: identity.client_type,
        address: peer.to_string(),
    });
    let (token_id, expires_at, origin) = (token.id, record.expires_at, call.session_id);
    services
        .committer
        .run(move |tx: &mut Tx<'_>| {
            // The password may have changed, or the account been disabled,
            // while this login was verifying the old password.
            store::still_current(tx, credential)?;
            store::issue_token(tx, token_id, &record, now_ms())?;
            let id = tx.next_id();
            update::publish(tx, &[user_id], Some(origin), id, notice);
            Ok::<_, ServiceError>(())
        })
        .await?;
    let session = session_state(services, &identity).await?;
    Ok(Outcome::Authenticated(LoginReply { token: token.bytes, expires_at, session }, identity))
}

async fn auth(call: Call, req: AuthRequest) -> ServiceResult<Outcome<AuthReply>> {
    let (token_id, secret) = token::split(&req.token).ok_or_else(invalid_token)?;
    let found = call
        .services
        .read(move |s| {
            let Some(record) = store::token(s, token_id)? else { return Ok(None) };
            let generation = store::generation(s, record.user_id)?;
            Ok(store::user(s, record.user_id)?.map(|user| (record, generation, user)))
        })
        .await?;
    let (record, generation, user) = found.ok_or_else(invalid_token)?;
    let now = now_ms();
    if !token::genuine(secret, &record.secret_hash) || record.expires_at <= now {
        return Err(invalid_token());
    }
    if user.disabled {
        return Err(disabled());
    }
    let identity = Identity {
        user_id: record.user_id,
        username: user.username,
        device_id: record.device_id,
        device_type: record.device_type,
        client_type: record.client_type,
        generation,
        token_id,
    };
    let services = &call.services;
    let accounts = &services.accounts;
    // A renewed token's first use makes it the device's token; a token close
    // to its expiry is renewed now.
    let (user_id, device_id) = (identity.user_id, identity.device_id.clone());
    let is_successor = services.read(move |s| store::successor(s, user_id, &device_id)).await? == Some(token_id);
    let renew = record.expires_at.saturating_sub(now) < accounts.token_renew_within_secs.saturating_mul(1000);
    let renewed = if is_successor || renew {
        let device = DeviceInfo {
            device_id: identity.device_id.clone(),
            device_type: identity.device_type,
            client_type: identity.client_type,
        };
        let fresh = if renew { Some(accounts.new_token(user_id, &device)?) } else { None };
        let credential = store::Credential { user_id, generation };
        let successor = fresh.as_ref().map(|(token, record)| (token.id, record.clone()));
        let device_id = identity.device_id.clone();
        services
            .committer
            .run(move |tx: &mut Tx<'_>| {
                store::still_current(tx, credential)?;
                store::promote_successor(tx, user_id, &device_id, token_id)?;
                if let Some((id, record)) = &successor {
                    store::issue_successor(tx, *id, record)?;
                }
                Ok::<_, ServiceError>(())
            })
            .await?;
        fresh.map(|(token, record)| TokenReply { token: token.bytes, expires_at: record.expires_at })
    } else {
        None
    };
    let mut reply = session_state(services, &identity).await?;
    reply.renewed = renewed;
    Ok(Outcome::Authenticated(reply, identity))
}

async fn renew_token(call: Call, _: RenewToken) -> ServiceResult<Outcome<TokenReply>> {
    let me = call.me()?;
    let services = call.services.clone();
    let device =
        DeviceInfo { device_id: me.device_id.clone(), device_type: me.device_type, client_type: me.client_type };
    let (token, record) = services.accounts.new_token(me.user_id, &device)?;
    let credential = store::Credential { user_id: me.user_id, generation: me.generation };
    let (token_id, expires_at) = (token.id, record.expires_at);
    let pending = services
        .committer
        .submit(move |tx| {
            store::still_current(tx, credential)?;
            store::issue_successor(tx, token_id, &record)
        })
        .await?;
    Ok(Outcome::later(async move {
        pending.durable().await?;
        Ok(TokenReply { token: token.bytes, expires_at })
    }))
}

async fn logout(call: Call, _: Logout) -> ServiceResult<Outcome<()>> {
    let me = call.me()?;
    let (user, device) = (me.user_id, me.device_id.clone());
    call.services.committer.run(move |tx| store::revoke_device(tx, user, &device)).await?;
    Ok(Outcome::Close((), DisconnectReason::LoggedOut))
}

async fn change_password(call: Call, req: ChangePasswordRequest) -> ServiceResult<Outcome<TokenReply>> {
    let me = call.me()?.clone();
    let services = call.services.clone();
    let accounts = &services.accounts;
    check_password(&req.new_password)?;
    if req.new_password == req.old_password {
        return Err(ServiceError::invalid("the new password is the current one"));
    }
    let generation = verify_password(&services, &me, call.peer.ip(), &req.old_password).await?;
    let user_id = me.user_id;
    let credential = store::Credential { user_id, generation };
    let hash = accounts.passwords.hash(&req.new_password).await?;
    let device =
        DeviceInfo { device_id: me.device_id.clone(), device_type: me.device_type, client_type: me.client_type };
    let (token, record) = accounts.new_token(user_id, &device)?;
    let (token_id, expires_at) = (token.id, record.expires_at);
    let pending = services
        .committer
        .submit(move |tx| {
            // A reset or another change since the old password was read wins.
            store::still_current(tx, credential)?;
            // This device's old token goes as its new one is issued; its
            // push endpoint stays.
            store::replace_password(tx, user_id, hash, Some(&record.device_id))?;
            store::issue_token(tx, token_id, &record, now_ms())
        })
        .await?;
    let session = call.session_id;
    Ok(Outcome::later(async move {
        pending.durable().await?;
        services.hub.disconnect(user_id, DisconnectReason::PasswordChanged, |s| s.session_id != session);
        tracing::info!(user = user_id, "password changed, other sessions closed");
        Ok(TokenReply { token: token.bytes, expires_at })
    }))
}

/// Whether a session that has just registered with the hub still holds: its
/// account was not disabled, its password not changed and its token not
/// revoked since it authenticated. Checked after registering, so a change
/// that committed before the registration is caught here and one after it
/// finds the session in the hub to disconnect.
pub(crate) async fn confirm(services: &Services, identity: &Identity) -> Result<(), (ServiceError, DisconnectReason)> {
    let (user, token_id) = (identity.user_id, identity.token_id);
    let found = services
        .read(move |s| Ok((store::user(s, user)?, store::generation(s, user)?, store::token(s, token_id)?)))
        .await
        .map_err(|e| (e, DisconnectReason::ServerShutdown))?;
    match found {
        (None, _, _) => Err((invalid_token(), DisconnectReason::AccountDeleted)),
        (Some(u), _, _) if u.disabled => Err((disabled(), DisconnectReason::AccountDisabled)),
        (Some(_), generation, Some(token)) if generation == identity.generation && token.user_id == user => Ok(()),
        (_, generation, _) if generation != identity.generation => Err((
            ServiceError::new(ErrorCode::BadCredentials, "the password changed meanwhile; log in again"),
            DisconnectReason::PasswordChanged,
        )),
        _ => Err((invalid_token(), DisconnectReason::Kicked)),
    }
}

/// What a freshly authenticated device needs to know to catch up.
async fn session_state(services: &Services, identity: &Identity) -> ServiceResult<AuthReply> {
    let (user, device) = (identity.user_id, identity.device_id.clone());
    let (cursor, latest) =
        services.read(move |s| Ok((update::cursor(s, user, &device)?, update::latest(s, user)?))).await?;
    Ok(AuthReply {
        user_id: identity.user_id,
        username: identity.username.clone(),
        device_id: identity.device_id.clone(),
        cursor,
        latest,
        renewed: None,
    })
}

/// Creates an account for the operator.
pub(crate) async fn add_user(services: &Arc<Services>, username: &str, password: &str) -> ServiceResult<u64> {
    create(services.clone(), username, password, None, Hashing::Operator).await?.await
}

/// Creates many accounts with one password, hashed once: how `kith bench
/// social` seeds a large directory in seconds rather than hours of argon2.
/// Names already taken are skipped. Returns the accounts created.
pub(crate) async fn seed_users(
    services: &Arc<Services>,
    usernames: Vec<String>,
    password: &str,
) -> ServiceResult<Vec<(String, u64)>> {
    check_password(password)?;
    let hash = services.accounts.passwords.hash(password).await?;
    let mut queued = Vec::with_capacity(usernames.len());
    for name in usernames {
        match create(services.clone(), &name, password, None, Hashing::Hashed(hash.clone())).await {
            Ok(done) => queued.push((name, done)),
            Err(e) if e.code() == ErrorCode::Conflict => {}
            Err(e) => return Err(e),
        }
    }
    let mut created = Vec::with_capacity(queued.len());
    for (name, done) in queued {
        created.push((name, done.await?));
    }
    Ok(created)
}

/// The user with this username.
pub(crate) async fn find(services: &Services, username: &str) -> ServiceResult<(u64, UserRecord)> {
    let not_found = || ServiceError::not_found(format!("no user named {username:?}"));
    let name = canonical_username(username).map_err(|_| not_found())?;
    services.read(move |s| store::user_by_name(s, &name)).await?.ok_or_else(not_found)
}

/// Every user, in id order.
pub(crate) async fn list(services: &Services) -> ServiceResult<Vec<(u64, UserRecord)>> {
    services.read(store::users).await
}

/// A user's devices that have logged in at least once.
pub(crate) async fn devices(services: &Services, user_id: u64) -> ServiceResult<Vec<(String, store::DeviceRecord)>> {
    services.read(move |s| store::devices(s, user_id)).await
}

/// Disables or enables an account; a disabled account's sessions close at once.
pub(crate) async fn set_disabled(services: &Services, user_id: u64, disabled: bool) -> ServiceResult<()> {
    let set = services.accounts.disabled.clone();
    services
        .committer
        .run(move |tx| {
            store::update_user(tx, user_id, |u| u.disabled = disabled)?;
            store::bump_generation(tx, user_id)?;
            let mut set = set.write().unwrap_or_else(|e| e.into_inner());
            if disabled {
                set.insert(user_id);
            } else {
                set.remove(&user_id);
            }
            Ok::<_, ServiceError>(())
        })
        .await?;
    if disabled {
        services.hub.disconnect(user_id, DisconnectReason::AccountDisabled, |_| true);
    }
    tracing::info!(user = user_id, disabled, "account state changed by the operator");
    Ok(())
}

/// Checks the password of the signed-in user, throttled like a login: what
/// a password change and an account's deletion ask first. Returns the
/// credential generation read with the password, for a write to re-check.
pub(crate) async fn verify_password(
    services: &Services,
    me: &Identity,
    peer: IpAddr,
    password: &str,
) -> ServiceResult<u64> {
    let accounts = &services.accounts;
    let attempt = accounts.begin_attempt(Some(&me.username), peer)?;
    let user_id = me.user_id;
    let (generation, user) =
        services.read(move |s| Ok((store::generation(s, user_id)?, store::user(s, user_id)?))).await?;
    let user = user.ok_or_else(bad_credentials)?;
    if !accounts.passwords.verify(password, Some(&user.password_hash)).await? {
        return Err(bad_credentials());
    }
    attempt.succeeded();
    Ok(generation)
}

/// Deletes an account: its record, tokens and devices go and it is recorded
/// as deleted, in one job; then every session of it but `keep` closes with
/// `AccountDeleted`. What it left in other domains is erased afterwards
/// (`service::erase`). `NotFound` if there is no such account. A user's own
/// deletion passes the credential generation its password was checked
/// with: a password change since then wins.
pub(crate) async fn delete(
    services: &Services,
    user_id: u64,
    checked: Option<u64>,
    keep: Option<u64>,
) -> ServiceResult<()> {
    let (deleted, disabled) = (services.accounts.deleted.clone(), services.accounts.disabled.clone());
    services
        .committer
        .run(move |tx| {
            if let Some(generation) = checked {
                store::still_current(tx, store::Credential { user_id, generation })?;
            }
            store::mark_deleted(tx, user_id, now_ms())?;
            deleted.write().unwrap_or_else(|e| e.into_inner()).insert(user_id);
            disabled.write().unwrap_or_else(|e| e.into_inner()).remove(&user_id);
            Ok::<_, ServiceError>(())
        })
        .await?;
    services.hub.disconnect(user_id, DisconnectReason::AccountDeleted, |s| Some(s.session_id) != keep);
    tracing::info!(user = user_id, "account deleted");
    Ok(())
}

/// Records that everything a deleted account left is erased.
pub(crate) fn erased(tx: &mut Tx<'_>, user_id: u64) -> ServiceResult<()> {
    store::mark_erased(tx, user_id)
}

/// Deleted accounts whose erasure has not finished.
pub(crate) async fn unerased(services: &Services) -> ServiceResult<Vec<u64>> {
    let all = services.read(store::deleted_accounts).await?;
    Ok(all.into_iter().filter(|(_, d)| !d.erased).map(|(id, _)| id).collect())
}

/// Deleted accounts, and how many of them are not erased yet.
pub(crate) async fn deleted_count(services: &Services) -> ServiceResult<(usize, usize)> {
    let all = services.read(store::deleted_accounts).await?;
    Ok((all.len(), all.iter().filter(|(_, d)| !d.erased).count()))
}

/// Sets a new password, revokes every token and closes every session;
/// returns how many tokens were revoked.
pub(crate) async fn reset_password(services: &Services, user_id: u64, password: &str) -> ServiceResult<usize> {
    check_password(password)?;
    let hash = services.accounts.passwords.hash(password).await?;
    let revoked = services.committer.run(move |tx| store::replace_password(tx, user_id, hash, None)).await?;
    services.hub.disconnect(user_id, DisconnectReason::PasswordChanged, |_| true);
    tracing::info!(user = user_id, "password reset by the operator");
    Ok(revoked)
}
