//! Registration, password and token login, logout, password change.
//!
//! A token is 40 bytes: an 8-byte token id (big-endian, random) followed by a
//! 32-byte random secret. The server keeps only the SHA-256 of the secret,
//! looks the record up by id and compares hashes in constant time, so neither
//! a stolen database nor a timing probe yields a usable token.

use std::net::IpAddr;
use std::time::Instant;

use ring::digest::{digest, SHA256};
use subtle::ConstantTimeEq;

use super::{Identity, Services};
use crate::error::{ServiceError, ServiceResult};
use crate::id::now_ms;
use crate::protocol::{
    AuthReply, ChangePasswordRequest, DeviceInfo, DisconnectReason, ErrorCode, LoginReply, LoginRequest, RegisterReply,
    RegisterRequest, TokenReply, UserInfo,
};
use crate::storage::accounts::{TokenRecord, UserRecord};

/// Length of a token on the wire.
pub const TOKEN_LEN: usize = 40;
const USERNAME_LEN: std::ops::RangeInclusive<usize> = 3..=32;
const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 8..=256;
const DEVICE_ID_LEN: std::ops::RangeInclusive<usize> = 1..=64;

/// Folds a username to its canonical form, or says which rule it breaks.
pub fn canonical_username(raw: &str) -> Result<String, String> {
    let name = raw.to_ascii_lowercase();
    if !USERNAME_LEN.contains(&name.len()) {
        return Err(format!("username must be {}–{} characters", USERNAME_LEN.start(), USERNAME_LEN.end()));
    }
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
        return Err("username must start with a letter".into());
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')) {
        return Err("username may contain only a-z, 0-9, '_', '.' and '-'".into());
    }
    Ok(name)
}

/// Checks a new password against the length rule.
pub fn check_password(password: &str) -> ServiceResult<()> {
    if PASSWORD_LEN.contains(&password.len()) {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!("password must be {}–{} bytes", PASSWORD_LEN.start(), PASSWORD_LEN.end())))
    }
}

fn check_device(device: &DeviceInfo) -> ServiceResult<()> {
    let id = &device.device_id;
    if !DEVICE_ID_LEN.contains(&id.len()) || id.chars().any(char::is_control) {
        return Err(ServiceError::invalid("device_id must be 1–64 bytes without control characters"));
    }
    Ok(())
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

fn random<const N: usize>() -> ServiceResult<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).map_err(|e| ServiceError::Hashing(format!("no randomness: {e}")))?;
    Ok(out)
}

fn secret_hash(secret: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, secret).as_ref());
    out
}

impl Services {
    /// Creates an account.
    pub async fn register(&self, req: RegisterRequest) -> ServiceResult<RegisterReply> {
        let username = canonical_username(&req.username).map_err(ServiceError::invalid)?;
        check_password(&req.password)?;
        let taken = || ServiceError::new(ErrorCode::Conflict, "username is taken");
        let name = username.clone();
        if self.off_loop(move |store| store.user_by_name(&name)).await?.is_some() {
            return Err(taken());
        }
        let password_hash = self.passwords.hash(&req.password).await?;
        let record = UserRecord { username, password_hash, created_at: now_ms(), disabled: false };
        let user_id = self.committer.apply(move |store| store.create_user(&record)).await?.map_err(|_| taken())?;
        tracing::info!(user = user_id, "account registered");
        Ok(RegisterReply { user_id })
    }

    /// Password login for one device: issues its token.
    ///
    /// Failed attempts are throttled per account and per client address.
    pub async fn login(&self, req: LoginRequest, peer: IpAddr) -> ServiceResult<(LoginReply, Identity)> {
        check_device(&req.device)?;
        let account = req.username.to_ascii_lowercase();
        self.throttle_check(&account, peer)?;
        let found = match canonical_username(&req.username) {
            Ok(name) => self.off_loop(move |store| store.user_by_name(&name)).await?,
            Err(_) => None,
        };
        let hash = found.as_ref().map(|(_, u)| u.password_hash.as_str());
        let matches = self.passwords.verify(&req.password, hash).await?;
        let Some((user_id, user)) = found.filter(|_| matches) else {
            self.throttle.failed(&account, peer, Instant::now());
            return Err(bad_credentials());
        };
        self.throttle.succeeded(&account);
        if user.disabled {
            return Err(disabled());
        }
        let identity = Identity {
            user_id,
            username: user.username,
            device_id: req.device.device_id,
            device_type: req.device.device_type,
            client_type: req.device.client_type,
        };
        let (token, expires_at) = self.issue_token(&identity).await?;
        let session = self.session_state(&identity).await?;
        Ok((LoginReply { token, expires_at, session }, identity))
    }

    /// Token login.
    pub async fn authenticate(&self, token: &[u8]) -> ServiceResult<(AuthReply, Identity)> {
        if token.len() != TOKEN_LEN {
            return Err(invalid_token());
        }
        let (id, secret) = token.split_at(8);
        let token_id = u64::from_be_bytes(id.try_into().map_err(|_| invalid_token())?);
        let found = self
            .off_loop(move |store| {
                let Some(record) = store.token(token_id)? else { return Ok(None) };
                Ok(store.user(record.user_id)?.map(|user| (record, user)))
            })
            .await?;
        let (record, user) = found.ok_or_else(invalid_token)?;
        let genuine: bool = secret_hash(secret).ct_eq(&record.secret_hash).into();
        if !genuine || record.expires_at <= now_ms() {
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
        };
        Ok((self.session_state(&identity).await?, identity))
    }

    /// Revokes this device's token.
    pub async fn logout(&self, identity: &Identity) -> ServiceResult<()> {
        let (user, device) = (identity.user_id, identity.device_id.clone());
        self.committer.apply(move |store| store.revoke_device(user, &device)).await?;
        Ok(())
    }

    /// Changes the password, revokes every token of the user, closes the
    /// user's other sessions and issues this device a new token.
    pub async fn change_password(
        &self,
        identity: &Identity,
        session_id: u64,
        peer: IpAddr,
        req: ChangePasswordRequest,
    ) -> ServiceResult<TokenReply> {
        check_password(&req.new_password)?;
        self.throttle_check(&identity.username, peer)?;
        let user_id = identity.user_id;
        let user = self.off_loop(move |store| store.user(user_id)).await?.ok_or_else(bad_credentials)?;
        if !self.passwords.verify(&req.old_password, Some(&user.password_hash)).await? {
            self.throttle.failed(&identity.username, peer, Instant::now());
            return Err(bad_credentials());
        }
        let password_hash = self.passwords.hash(&req.new_password).await?;
        self.committer
            .apply(move |store| {
                store.update_user(user_id, |u| u.password_hash = password_hash.clone())?;
                store.revoke_all(user_id)
            })
            .await?;
        let (token, expires_at) = self.issue_token(identity).await?;
        self.hub.disconnect(identity.user_id, DisconnectReason::PasswordChanged, |s| s.session_id != session_id);
        tracing::info!(user = identity.user_id, "password changed, other sessions closed");
        Ok(TokenReply { token, expires_at })
    }

    /// Looks a user up by exact username.
    pub async fn find_user(&self, username: &str) -> ServiceResult<UserInfo> {
        let not_found = || ServiceError::new(ErrorCode::NotFound, "no such user");
        let name = canonical_username(username).map_err(|_| not_found())?;
        let (user_id, user) = self.off_loop(move |store| store.user_by_name(&name)).await?.ok_or_else(not_found)?;
        Ok(UserInfo { user_id, username: user.username })
    }

    fn throttle_check(&self, account: &str, peer: IpAddr) -> ServiceResult<()> {
        self.throttle.check(account, peer, Instant::now()).map_err(|wait| {
            ServiceError::new(
                ErrorCode::RateLimited,
                format!("too many failed logins; retry in {} ms", wait.as_millis().max(1)),
            )
        })
    }

    async fn issue_token(&self, identity: &Identity) -> ServiceResult<(Vec<u8>, u64)> {
        let token_id = u64::from_be_bytes(random::<8>()?).max(1);
        let secret = random::<32>()?;
        let now = now_ms();
        let expires_at = now.saturating_add(self.config.limits.token_ttl_secs.saturating_mul(1000));
        let record = TokenRecord {
            user_id: identity.user_id,
            device_id: identity.device_id.clone(),
            secret_hash: secret_hash(&secret),
            expires_at,
            device_type: identity.device_type,
            client_type: identity.client_type,
        };
        self.committer.apply(move |store| store.issue_token(token_id, &record, now)).await?;
        let mut token = Vec::with_capacity(TOKEN_LEN);
        token.extend_from_slice(&token_id.to_be_bytes());
        token.extend_from_slice(&secret);
        Ok((token, expires_at))
    }

    async fn session_state(&self, identity: &Identity) -> ServiceResult<AuthReply> {
        let (user, device) = (identity.user_id, identity.device_id.clone());
        let (cursor, latest) =
            self.off_loop(move |store| Ok((store.cursor(user, &device)?, store.latest_inbox_id(user)?))).await?;
        Ok(AuthReply {
            user_id: identity.user_id,
            username: identity.username.clone(),
            device_id: identity.device_id.clone(),
            cursor,
            latest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_fold_and_follow_the_rules() {
        assert_eq!(canonical_username("Alice_1").unwrap(), "alice_1");
        assert!(canonical_username("ab").is_err());
        assert!(canonical_username("1abc").is_err());
        assert!(canonical_username("al ice").is_err());
        assert!(canonical_username("ålice").is_err());
        assert!(canonical_username(&"a".repeat(33)).is_err());
    }
}
