//! Users, login tokens and devices: records, keyspaces, and the reads and
//! writes the account handlers and operator commands make.

use serde::{Deserialize, Serialize};

use crate::protocol::{ClientType, DeviceType, ErrorCode};
use crate::service::{ServiceError, ServiceResult, Tx};
use crate::storage::{schema, Audit, Get, KeyPart, Keyspace, Migrator, StorageError, Store};

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    /// Canonical (lower-case) username.
    pub username: String,
    /// Argon2id hash in PHC string format.
    pub password_hash: String,
    /// Creation time, Unix milliseconds.
    pub created_at: u64,
    /// Set by the operator; a disabled user cannot log in.
    pub disabled: bool,
}

/// What stays of a deleted account: its id, never reused, and how far its
/// erasure got (see `service::erase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeletedAccount {
    /// When it was deleted, Unix milliseconds: its username stays taken for
    /// `registration.deleted_name_hold_days` from then.
    pub deleted_at: u64,
    /// Whether everything it left is erased; a start resumes those that are not.
    pub erased: bool,
}

/// A login token. The secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct TokenRecord {
    /// Owner.
    pub user_id: u64,
    /// The device the token was issued to.
    pub device_id: String,
    /// SHA-256 of the 32-byte secret half of the token.
    pub secret_hash: [u8; 32],
    /// Expiry, Unix milliseconds.
    pub expires_at: u64,
    /// Device type at login, for pushing off older devices of the same type.
    pub device_type: DeviceType,
    /// Client software at login.
    pub client_type: ClientType,
}

/// The token currently issued to one device of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeviceRecord {
    /// Id of the device's live token; 0 when it has none.
    pub token_id: u64,
    /// Device type at the last login.
    pub device_type: DeviceType,
    /// Client software at the last login.
    pub client_type: ClientType,
    /// Last password login, Unix milliseconds.
    pub last_login: u64,
}

/// A device's push endpoint (see `service::push`), as the device gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PushRecord {
    /// The endpoint URL, checked when it was set.
    pub url: String,
    /// The device's ECDH public key, 65 bytes.
    pub p256dh: Vec<u8>,
    /// The device's authentication secret.
    pub auth: [u8; 16],
    /// Whether requests to it carry a VAPID signature.
    pub vapid: bool,
    /// When it was set, Unix milliseconds.
    pub set_at: u64,
}

pub(super) const USERS: Keyspace<u64, UserRecord> = Keyspace::new(&schema::USERID_USER);
pub(super) const NAMES: Keyspace<String, u64> = Keyspace::new(&schema::USERNAME_USERID);
pub(super) const LAST_ID: Keyspace<(), u64> = Keyspace::new(&schema::USERS_LASTID);
pub(super) const TOKENS: Keyspace<u64, TokenRecord> = Keyspace::new(&schema::TOKENID_TOKEN);
pub(super) const DEVICES: Keyspace<(u64, String), DeviceRecord> = Keyspace::new(&schema::USERDEVICE_DEVICE);
/// A device's renewed token, until it is first used.
pub(super) const SUCCESSORS: Keyspace<(u64, String), u64> = Keyspace::new(&schema::USERDEVICE_SUCCESSOR);
pub(super) const DELETED: Keyspace<u64, DeletedAccount> = Keyspace::new(&schema::USERID_DELETED);
/// Devices' push endpoints; one lives as long as its device stays logged
/// in (new logins and renewals of the device included), so a logout or a
/// revocation takes it along.
pub(super) const PUSH: Keyspace<(u64, String), PushRecord> = Keyspace::new(&schema::USERDEVICE_PUSH);
/// Absent means generation 0 (every account before the keyspace existed).
pub(super) const GENERATIONS: Keyspace<u64, u64> = Keyspace::new(&schema::USERID_GENERATION);

/// What a login captured of an account before it spent time verifying the
/// password; the write that issues its token checks it is still so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Credential {
    /// The user.
    pub user_id: u64,
    /// The account's credential generation when it was read.
    pub generation: u64,
}

/// Creates a user with the next free id, unless the username is taken: by
/// an account, or by one deleted less than `hold_ms` ago.
pub(super) fn create_user(tx: &mut Tx<'_>, record: &UserRecord, hold_ms: u64, now: u64) -> ServiceResult<u64> {
    if let Some(holder) = tx.get(&NAMES, &record.username)? {
        let released = tx.get(&DELETED, &holder)?.is_some_and(|d| d.deleted_at.saturating_add(hold_ms) <= now);
        if !released {
            return Err(ServiceError::new(ErrorCode::Conflict, "username is taken"));
        }
    }
    let id = tx
        .get(&LAST_ID, &())?
        .unwrap_or(0)
        .checked_add(1)
        .ok_or_else(|| ServiceError::new(ErrorCode::Internal, "user ids are exhausted"))?;
    tx.put(&LAST_ID, &(), &id);
    tx.put(&NAMES, &record.username, &id);
    tx.put(&USERS, &id, record);
    Ok(id)
}

/// Rewrites a user record; `NotFound` if there is none.
pub(super) fn update_user(tx: &mut Tx<'_>, user_id: u64, change: impl FnOnce(&mut UserRecord)) -> ServiceResult<()> {
    let mut record = tx.get(&USERS, &user_id)?.ok_or_else(|| ServiceError::not_found("no such user"))?;
    change(&mut record);
    tx.put(&USERS, &user_id, &record);
    Ok(())
}

/// Sets a new password hash, revokes every token of the user (but the
/// device `keeping`, which the caller issues a new one) and moves the
/// credential generation on; returns how many tokens were revoked.
pub(super) fn replace_password(
    tx: &mut Tx<'_>,
    user_id: u64,
    hash: String,
    keeping: Option<&str>,
) -> ServiceResult<usize> {
    update_user(tx, user_id, |u| u.password_hash = hash)?;
    bump_generation(tx, user_id)?;
    revoke_all(tx, user_id, keeping)
}

/// Moves the credential generation on: logins that read the account before
/// this write can no longer issue a token.
pub(super) fn bump_generation(tx: &mut Tx<'_>, user_id: u64) -> ServiceResult<()> {
    let next = tx.get(&GENERATIONS, &user_id)?.unwrap_or(0).wrapping_add(1);
    tx.put(&GENERATIONS, &user_id, &next);
    Ok(())
}

/// Refuses, on the write path, a login whose account changed since it was
/// read: the password was changed or reset, or the account disabled.
pub(super) fn still_current(tx: &Tx<'_>, credential: Credential) -> ServiceResult<()> {
    let user = tx.get(&USERS, &credential.user_id)?;
    if user.as_ref().is_some_and(|u| u.disabled) {
        return Err(ServiceError::new(ErrorCode::AccountDisabled, "the account was disabled meanwhile"));
    }
    let generation = tx.get(&GENERATIONS, &credential.user_id)?.unwrap_or(0);
    if user.is_none() || generation != credential.generation {
        return Err(ServiceError::new(ErrorCode::BadCredentials, "the password changed meanwhile; log in again"));
    }
    Ok(())
}

/// The credential generation of an account.
pub(super) fn generation(store: &Store, user_id: u64) -> Result<u64, StorageError> {
    Ok(store.get(&GENERATIONS, &user_id)?.unwrap_or(0))
}

/// Stores a new token for a device, revoking the token (and any renewed
/// token) the device held before.
pub(super) fn issue_token(tx: &mut Tx<'_>, token_id: u64, token: &TokenRecord, now: u64) -> ServiceResult<()> {
    let device_key = (token.user_id, token.device_id.clone());
    if let Some(old) = tx.get(&DEVICES, &device_key)? {
        tx.delete(&TOKENS, &old.token_id);
    }
    drop_successor(tx, &device_key)?;
    tx.put(&TOKENS, &token_id, token);
    let device =
        DeviceRecord { token_id, device_type: token.device_type, client_type: token.client_type, last_login: now };
    tx.put(&DEVICES, &device_key, &device);
    Ok(())
}

/// Stores a renewed token for a device beside its current one: both work
/// until the renewed one is first used, so a device that loses the reply
/// still holds a valid token. A renewal replaces an unused earlier one.
pub(super) fn issue_successor(tx: &mut Tx<'_>, token_id: u64, token: &TokenRecord) -> ServiceResult<()> {
    let device_key = (token.user_id, token.device_id.clone());
    drop_successor(tx, &device_key)?;
    tx.put(&TOKENS, &token_id, token);
    tx.put(&SUCCESSORS, &device_key, &token_id);
    Ok(())
}

/// Makes a device's renewed token its current one, on its first use: the
/// token it replaces stops working. Does nothing if `token_id` is not the
/// device's renewed token (any more).
pub(super) fn promote_successor(tx: &mut Tx<'_>, user_id: u64, device_id: &str, token_id: u64) -> ServiceResult<()> {
    let key = (user_id, device_id.to_string());
    if tx.get(&SUCCESSORS, &key)? != Some(token_id) {
        return Ok(());
    }
    tx.delete(&SUCCESSORS, &key);
    if let Some(mut device) = tx.get(&DEVICES, &key)? {
        tx.delete(&TOKENS, &device.token_id);
        device.token_id = token_id;
        tx.put(&DEVICES, &key, &device);
    }
    Ok(())
}

fn drop_successor(tx: &mut Tx<'_>, device_key: &(u64, String)) -> ServiceResult<()> {
    if let Some(successor) = tx.get(&SUCCESSORS, device_key)? {
        tx.delete(&TOKENS, &successor);
        tx.delete(&SUCCESSORS, device_key);
    }
    Ok(())
}

/// The renewed token a device holds beside its current one, if any.
pub(super) fn successor(store: &Store, user_id: u64, device_id: &str) -> Result<Option<u64>, StorageError> {
    store.get(&SUCCESSORS, &(user_id, device_id.to_string()))
}

/// Revokes the token of one device (and its renewed token, if any) and
/// forgets its push endpoint.
pub(super) fn revoke_device(tx: &mut Tx<'_>, user_id: u64, device_id: &str) -> ServiceResult<()> {
    let key = (user_id, device_id.to_string());
    drop_successor(tx, &key)?;
    tx.delete(&PUSH, &key);
    if let Some(mut device) = tx.get(&DEVICES, &key)? {
        tx.delete(&TOKENS, &device.token_id);
        device.token_id = 0;
        tx.put(&DEVICES, &key, &device);
    }
    Ok(())
}

/// Revokes every token of a user but those of the device `keeping`;
/// returns how many were live.
pub(super) fn revoke_all(tx: &mut Tx<'_>, user_id: u64, keeping: Option<&str>) -> ServiceResult<usize> {
    let live: Vec<String> = tx
        .scan(&DEVICES, &user_id)
        .filter_map(|entry| match entry {
            Ok(((_, device), record)) if record.token_id != 0 && Some(device.as_str()) != keeping => Some(Ok(device)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, StorageError>>()?;
    for device in &live {
        revoke_device(tx, user_id, device)?;
    }
    Ok(live.len())
}

/// Deletes an account's record, tokens, devices and credential generation,
/// and records it as deleted and not yet erased; its username stays bound
/// to it, so the name stays taken. `NotFound` if there is no such account.
pub(super) fn mark_deleted(tx: &mut Tx<'_>, user_id: u64, now: u64) -> ServiceResult<()> {
    if tx.get(&USERS, &user_id)?.is_none() {
        return Err(ServiceError::not_found("no such user"));
    }
    revoke_all(tx, user_id, None)?;
    let devices: Vec<(u64, String)> =
        tx.scan(&DEVICES, &user_id).map(|e| e.map(|(key, _)| key)).collect::<Result<_, _>>()?;
    for key in &devices {
        drop_successor(tx, key)?;
        tx.delete(&PUSH, key);
        tx.delete(&DEVICES, key);
    }
    tx.delete(&USERS, &user_id);
    tx.delete(&GENERATIONS, &user_id);
    tx.put(&DELETED, &user_id, &DeletedAccount { deleted_at: now, erased: false });
    Ok(())
}

/// Records that everything a deleted account left is erased.
pub(super) fn mark_erased(tx: &mut Tx<'_>, user_id: u64) -> ServiceResult<()> {
    if let Some(mut deleted) = tx.get(&DELETED, &user_id)? {
        deleted.erased = true;
        tx.put(&DELETED, &user_id, &deleted);
    }
    Ok(())
}

/// Every deleted account.
pub(super) fn deleted_accounts(store: &Store) -> Result<Vec<(u64, DeletedAccount)>, StorageError> {
    store.all(&DELETED).collect()
}

/// The user with this id.
pub(crate) fn user(r: &impl Get, user_id: u64) -> Result<Option<UserRecord>, StorageError> {
    r.get(&USERS, &user_id)
}

/// An account as a login sees it: its credential generation read before its
/// record, so any change to the record after this shows in the generation.
pub(super) fn for_login(store: &Store, username: &str) -> Result<Option<(Credential, UserRecord)>, StorageError> {
    let Some(user_id) = store.get(&NAMES, &username.to_string())? else { return Ok(None) };
    let generation = generation(store, user_id)?;
    Ok(user(store, user_id)?.map(|record| (Credential { user_id, generation }, record)))
}

/// The user with this canonical username.
pub(crate) fn user_by_name(store: &Store, username: &str) -> Result<Option<(u64, UserRecord)>, StorageError> {
    let Some(id) = store.get(&NAMES, &username.to_string())? else { return Ok(None) };
    Ok(user(store, id)?.map(|u| (id, u)))
}

/// The token with this id.
pub(super) fn token(store: &Store, token_id: u64) -> Result<Option<TokenRecord>, StorageError> {
    store.get(&TOKENS, &token_id)
}

/// Every user, in id order.
pub(super) fn users(store: &Store) -> Result<Vec<(u64, UserRecord)>, StorageError> {
    store.all(&USERS).collect()
}

/// Sets a device's push endpoint, if the device is still logged in: a
/// logout (or a revocation) committed first wins.
pub(crate) fn set_push(tx: &mut Tx<'_>, user_id: u64, device_id: &str, push: &PushRecord) -> ServiceResult<()> {
    let key = (user_id, device_id.to_string());
    if tx.get(&DEVICES, &key)?.is_none_or(|d| d.token_id == 0) {
        return Err(ServiceError::new(ErrorCode::InvalidToken, "this device was logged out"));
    }
    tx.put(&PUSH, &key, push);
    Ok(())
}

/// Clears a device's push endpoint; with `url`, only while it is still
/// that one (a push service said it is gone, and the device may have set a
/// new one since).
pub(crate) fn clear_push(tx: &mut Tx<'_>, user_id: u64, device_id: &str, url: Option<&str>) -> ServiceResult<bool> {
    let key = (user_id, device_id.to_string());
    let Some(push) = tx.get(&PUSH, &key)? else { return Ok(false) };
    if url.is_some_and(|url| url != push.url) {
        return Ok(false);
    }
    tx.delete(&PUSH, &key);
    Ok(true)
}

/// A user's devices' push endpoints.
pub(crate) fn push_endpoints(store: &Store, user_id: u64) -> Result<Vec<(String, PushRecord)>, StorageError> {
    store.scan(&PUSH, &user_id).map(|entry| entry.map(|((_, device), push)| (device, push))).collect()
}

/// A device, by user id and device id.
pub(crate) type DeviceKey = (u64, String);

/// Every push endpoint, by device.
pub(crate) fn all_push_endpoints(store: &Store) -> Result<Vec<(DeviceKey, PushRecord)>, StorageError> {
    store.all(&PUSH).collect()
}

/// A user's devices that have logged in at least once.
pub(super) fn devices(store: &Store, user_id: u64) -> Result<Vec<(String, DeviceRecord)>, StorageError> {
    store.scan(&DEVICES, &user_id).map(|entry| entry.map(|((_, device), record)| (device, record))).collect()
}

/// Every disabled account (a scan of the users, once at start).
pub(super) fn disabled_users(store: &Store) -> Result<std::collections::HashSet<u64>, StorageError> {
    let mut out = std::collections::HashSet::new();
    for entry in store.all(&USERS) {
        let (id, user) = entry?;
        if user.disabled {
            out.insert(id);
        }
    }
    Ok(out)
}

/// The highest user id assigned (0 before the first user).
pub(super) fn last_user_id(store: &Store) -> Result<u64, StorageError> {
    Ok(store.get(&LAST_ID, &())?.unwrap_or(0))
}

/// Checks restored account data: every record decodes, names and tokens
/// point at users that exist, and the user-id counter covers every user and
/// leaves room to count on.
pub(crate) fn check(store: &Audit<'_>) -> Result<(), String> {
    let mut highest = 0;
    for entry in store.all(&USERS) {
        highest = highest.max(entry.map_err(|e| e.to_string())?.0);
    }
    for entry in store.all(&DELETED) {
        highest = highest.max(entry.map_err(|e| e.to_string())?.0);
    }
    let mut last = 0;
    for entry in store.all(&LAST_ID) {
        last = entry.map_err(|e| e.to_string())?.1;
    }
    if last < highest || last > 1 << 48 {
        return Err(format!("users_lastid is {last}, but the highest user id is {highest}"));
    }
    for entry in store.all(&NAMES) {
        let (name, id) = entry.map_err(|e| e.to_string())?;
        let deleted = (**store).get(&DELETED, &id).map_err(|e| e.to_string())?.is_some();
        if !deleted && user(&**store, id).map_err(|e| e.to_string())?.is_none() {
            return Err(format!("username {name:?} names user {id}, who does not exist"));
        }
    }
    for entry in store.all(&TOKENS) {
        let (id, token) = entry.map_err(|e| e.to_string())?;
        if token.user_id == 0 || token.user_id > highest {
            return Err(format!("token {id} belongs to user {}, who does not exist", token.user_id));
        }
    }
    for entry in store.all(&DEVICES) {
        entry.map_err(|e| e.to_string())?;
    }
    for entry in store.all(&GENERATIONS) {
        entry.map_err(|e| e.to_string())?;
    }
    for entry in store.all(&SUCCESSORS) {
        entry.map_err(|e| e.to_string())?;
    }
    for entry in store.all(&PUSH) {
        let ((user, device), _) = entry.map_err(|e| e.to_string())?;
        if (**store).get(&DEVICES, &(user, device.clone())).map_err(|e| e.to_string())?.is_none() {
            return Err(format!("a push endpoint of user {user} names device {device:?}, which is not theirs"));
        }
    }
    super::invite::check_restored(store)
}

/// Version 1 kept accounts in five trees; their records are unchanged, the
/// ids that were raw big-endian bytes become stored values.
pub(crate) fn from_v1(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    let corrupt = |what: &str| StorageError::Corrupt { keyspace: "v1 accounts", detail: what.to_string() };
    let be_u64 = |bytes: &[u8]| bytes.try_into().map(u64::from_be_bytes).map_err(|_| corrupt("not a u64"));
    for entry in m.legacy("userid_user")? {
        let (key, value) = entry?;
        let record = USERS.decode_value(&value)?;
        m.put(&USERS, &be_u64(&key)?, &record)?;
    }
    for entry in m.legacy("username_userid")? {
        let (key, value) = entry?;
        let name = String::from_utf8(key).map_err(|_| corrupt("username is not UTF-8"))?;
        m.put(&NAMES, &name, &be_u64(&value)?)?;
    }
    for entry in m.legacy("meta")? {
        let (key, value) = entry?;
        if key == b"next_user_id" {
            m.put(&LAST_ID, &(), &be_u64(&value)?.saturating_sub(1))?;
        }
    }
    for entry in m.legacy("tokenid_token")? {
        let (key, value) = entry?;
        m.put(&TOKENS, &be_u64(&key)?, &TOKENS.decode_value(&value)?)?;
    }
    for entry in m.legacy("userdevice_device")? {
        let (key, value) = entry?;
        // Version 1 keyed devices as `user id ‖ device id bytes`, as now.
        let (device, _) = <(u64, String)>::take(&key).ok_or_else(|| corrupt("device key"))?;
        m.put(&DEVICES, &device, &DEVICES.decode_value(&value)?)?;
    }
    Ok(())
}
