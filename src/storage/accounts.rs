//! Users, login tokens, devices and per-device delivery cursors.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, Transactional};

use super::{decode, keys, transaction_error, StorageError, Store};
use crate::codec::encode_stored;
use crate::protocol::{ClientType, DeviceType};

const NEXT_USER_ID: &[u8] = b"next_user_id";

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Canonical (lower-case) username.
    pub username: String,
    /// Argon2id hash in PHC string format.
    pub password_hash: String,
    /// Creation time, Unix milliseconds.
    pub created_at: u64,
    /// Set by the operator; a disabled user cannot log in.
    pub disabled: bool,
}

/// A login token. The secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
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
pub struct DeviceRecord {
    /// Id of the device's live token; 0 when it has none.
    pub token_id: u64,
    /// Device type at the last login.
    pub device_type: DeviceType,
    /// Client software at the last login.
    pub client_type: ClientType,
    /// Last password login, Unix milliseconds.
    pub last_login: u64,
}

/// A username that is already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsernameTaken;

impl Store {
    /// Creates a user with the next free id, unless the username is taken.
    pub fn create_user(&self, record: &UserRecord) -> Result<Result<u64, UsernameTaken>, StorageError> {
        let value = encode_stored(record);
        let result = (&self.username_userid, &self.userid_user, self.meta()).transaction(|(names, users, meta)| {
            if names.get(record.username.as_bytes())?.is_some() {
                return Ok(Err(UsernameTaken));
            }
            let id = meta.get(NEXT_USER_ID)?.map(|v| keys::be_u64(&v)).unwrap_or(1);
            meta.insert(NEXT_USER_ID, &(id + 1).to_be_bytes())?;
            names.insert(record.username.as_bytes(), &keys::id_key(id))?;
            users.insert(&keys::id_key(id), value.as_slice())?;
            Ok::<_, ConflictableTransactionError<StorageError>>(Ok(id))
        });
        let result = result.map_err(transaction_error)?;
        if let Ok(id) = result {
            self.last_user_id.fetch_max(id, Ordering::AcqRel);
        }
        Ok(result)
    }

    /// Reads the highest user id, once at start.
    pub(crate) fn load_last_user_id(&self) -> Result<(), StorageError> {
        let next = self.meta().get(NEXT_USER_ID)?.map(|v| keys::be_u64(&v)).unwrap_or(1);
        self.last_user_id.store(next.saturating_sub(1), Ordering::Release);
        Ok(())
    }

    /// Whether a user with this id exists (disabled users included).
    pub fn user_exists(&self, user_id: u64) -> bool {
        user_id >= 1 && user_id <= self.last_user_id.load(Ordering::Acquire)
    }

    /// The user with this id.
    pub fn user(&self, user_id: u64) -> Result<Option<UserRecord>, StorageError> {
        self.userid_user.get(keys::id_key(user_id))?.map(|v| decode("userid_user", &v)).transpose()
    }

    /// The user with this canonical username.
    pub fn user_by_name(&self, username: &str) -> Result<Option<(u64, UserRecord)>, StorageError> {
        let Some(id) = self.username_userid.get(username.as_bytes())? else {
            return Ok(None);
        };
        let id = keys::be_u64(&id);
        Ok(self.user(id)?.map(|u| (id, u)))
    }

    /// Every user, in id order.
    pub fn users(&self) -> impl Iterator<Item = Result<(u64, UserRecord), StorageError>> + '_ {
        self.userid_user.iter().map(|item| {
            let (k, v) = item?;
            Ok((keys::be_u64(&k), decode("userid_user", &v)?))
        })
    }

    /// Rewrites a user record in place (password change, disable).
    pub fn update_user(&self, user_id: u64, f: impl Fn(&mut UserRecord)) -> Result<bool, StorageError> {
        let mut found = false;
        let mut failure = None;
        self.userid_user.update_and_fetch(keys::id_key(user_id), |old| {
            let old = old?;
            match decode::<UserRecord>("userid_user", old) {
                Ok(mut record) => {
                    found = true;
                    f(&mut record);
                    Some(encode_stored(&record))
                }
                Err(e) => {
                    failure = Some(e);
                    Some(old.to_vec())
                }
            }
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(found),
        }
    }

    /// Stores a new token for a device, revoking the token the device held before.
    pub fn issue_token(&self, token_id: u64, token: &TokenRecord, now: u64) -> Result<(), StorageError> {
        let device_key = keys::device_key(token.user_id, &token.device_id);
        let device =
            DeviceRecord { token_id, device_type: token.device_type, client_type: token.client_type, last_login: now };
        let token_value = encode_stored(token);
        let device_value = encode_stored(&device);
        let result = (&self.tokenid_token, &self.device_record).transaction(|(tokens, devices)| {
            if let Some(old) = devices.get(&device_key)? {
                let old: DeviceRecord =
                    decode("userdevice_device", &old).map_err(ConflictableTransactionError::Abort)?;
                tokens.remove(&keys::id_key(old.token_id))?;
            }
            tokens.insert(&keys::id_key(token_id), token_value.as_slice())?;
            devices.insert(device_key.as_slice(), device_value.as_slice())?;
            Ok(())
        });
        result.map_err(transaction_error)
    }

    /// The token with this id, if it exists.
    pub fn token(&self, token_id: u64) -> Result<Option<TokenRecord>, StorageError> {
        self.tokenid_token.get(keys::id_key(token_id))?.map(|v| decode("tokenid_token", &v)).transpose()
    }

    /// Revokes the token of one device.
    pub fn revoke_device(&self, user_id: u64, device_id: &str) -> Result<(), StorageError> {
        let device_key = keys::device_key(user_id, device_id);
        let result = (&self.tokenid_token, &self.device_record).transaction(|(tokens, devices)| {
            if let Some(old) = devices.get(&device_key)? {
                let mut old: DeviceRecord =
                    decode("userdevice_device", &old).map_err(ConflictableTransactionError::Abort)?;
                tokens.remove(&keys::id_key(old.token_id))?;
                old.token_id = 0;
                devices.insert(device_key.as_slice(), encode_stored(&old))?;
            }
            Ok(())
        });
        result.map_err(transaction_error)
    }

    /// Revokes every token of a user; returns how many were live.
    pub fn revoke_all(&self, user_id: u64) -> Result<usize, StorageError> {
        let mut revoked = 0;
        for (device_id, record) in self.devices(user_id)? {
            if record.token_id != 0 {
                self.revoke_device(user_id, &device_id)?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// A user's devices that have logged in at least once.
    pub fn devices(&self, user_id: u64) -> Result<Vec<(String, DeviceRecord)>, StorageError> {
        self.device_record
            .scan_prefix(keys::id_key(user_id))
            .map(|item| {
                let (k, v) = item?;
                Ok((keys::device_key_device(&k), decode("userdevice_device", &v)?))
            })
            .collect()
    }

    /// The highest message id this device has acknowledged.
    pub fn cursor(&self, user_id: u64, device_id: &str) -> Result<u64, StorageError> {
        Ok(self.device_cursor.get(keys::device_key(user_id, device_id))?.map(|v| keys::be_u64(&v)).unwrap_or(0))
    }

    /// Moves a device's cursor up to `up_to` (never down); returns the new value.
    pub fn advance_cursor(&self, user_id: u64, device_id: &str, up_to: u64) -> Result<u64, StorageError> {
        let value = self.device_cursor.update_and_fetch(keys::device_key(user_id, device_id), |old| {
            let old = old.map(keys::be_u64).unwrap_or(0);
            Some(old.max(up_to).to_be_bytes().to_vec())
        })?;
        Ok(value.map(|v| keys::be_u64(&v)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageConfig;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StorageConfig::default()).unwrap();
        (dir, store)
    }

    fn user(name: &str) -> UserRecord {
        UserRecord { username: name.into(), password_hash: "x".into(), created_at: 1, disabled: false }
    }

    #[test]
    fn usernames_are_unique_and_ids_increase() {
        let (_d, s) = store();
        let a = s.create_user(&user("alice")).unwrap().unwrap();
        let b = s.create_user(&user("bob")).unwrap().unwrap();
        assert!(b > a);
        assert_eq!(s.create_user(&user("alice")).unwrap(), Err(UsernameTaken));
        assert_eq!(s.user_by_name("bob").unwrap().unwrap().0, b);
        assert!(s.user_exists(a) && s.user_exists(b) && !s.user_exists(b + 1) && !s.user_exists(0));
    }

    #[test]
    fn a_new_token_for_a_device_revokes_the_old_one() {
        let (_d, s) = store();
        let token = |id| TokenRecord {
            user_id: 1,
            device_id: "d".into(),
            secret_hash: [id as u8; 32],
            expires_at: 10,
            device_type: DeviceType::Mobile,
            client_type: ClientType::Android,
        };
        s.issue_token(11, &token(11), 0).unwrap();
        s.issue_token(12, &token(12), 0).unwrap();
        assert!(s.token(11).unwrap().is_none());
        assert!(s.token(12).unwrap().is_some());
        s.revoke_device(1, "d").unwrap();
        assert!(s.token(12).unwrap().is_none());
    }

    #[test]
    fn cursors_never_move_back() {
        let (_d, s) = store();
        assert_eq!(s.advance_cursor(1, "d", 50).unwrap(), 50);
        assert_eq!(s.advance_cursor(1, "d", 20).unwrap(), 50);
        assert_eq!(s.cursor(1, "d").unwrap(), 50);
        assert_eq!(s.cursor(1, "other").unwrap(), 0);
    }
}
