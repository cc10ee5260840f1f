//! Invitations: who may register when `registration.policy = "invite"`.
//!
//! An invitation code is 24 bytes: the invitation's id (8 bytes,
//! big-endian) and a 16-byte secret. The secret is HMAC-SHA256(key, id) cut
//! to 16 bytes, where the key is a random file in the data directory (0600,
//! not part of backups), so `kith invite show` can print a link again. The
//! database keeps only the SHA-256 of each secret, so a stolen database or
//! backup yields no usable invitation. A use is counted in the same write
//! job that creates the account, so two phones racing for the last use
//! cannot both succeed.

use std::path::Path;

use ring::digest::{digest, SHA256};
use ring::hmac;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::protocol::ErrorCode;
use crate::service::{ServiceError, ServiceResult, Services, Tx};
use crate::storage::{schema, Audit, Keyspace, StorageError, Store};

/// Length of an invitation code.
pub(crate) const CODE_LEN: usize = 24;

/// Name of the key file in the data directory.
const KEY_FILE: &str = "invitations.key";

/// One invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InviteCode {
    /// SHA-256 of the secret.
    pub secret_hash: [u8; 32],
    /// Registrations it still admits.
    pub uses_left: u32,
    /// Registrations it admitted.
    pub used: u32,
    /// When it stops admitting, Unix milliseconds; 0 for never.
    pub expires_at: u64,
    /// The operator's note (whom it is for).
    pub note: String,
    /// Creation time, Unix milliseconds.
    pub created_at: u64,
    /// Revoked by the operator.
    pub revoked: bool,
}

impl InviteCode {
    /// Where it stands at `now`: `open`, `revoked`, `used up` or `expired`.
    pub(crate) fn state(&self, now: u64) -> &'static str {
        if self.revoked {
            "revoked"
        } else if self.uses_left == 0 {
            "used up"
        } else if self.expires_at != 0 && now >= self.expires_at {
            "expired"
        } else {
            "open"
        }
    }

    /// Why it admits nobody at `now`, if it does not.
    pub(crate) fn refusal(&self, now: u64) -> Option<String> {
        match self.state(now) {
            "open" => None,
            state => Some(format!("the invitation is {state}")),
        }
    }
}

const INVITES: Keyspace<u64, InviteCode> = Keyspace::new(&schema::INVITEID_INVITE);

/// The key invitation secrets are derived from.
pub(crate) struct InviteKey(hmac::Key);

impl InviteKey {
    /// The data directory's key, created on first use.
    pub(crate) fn load_or_create(data_dir: &Path) -> std::io::Result<InviteKey> {
        if let Some(key) = InviteKey::load(data_dir)? {
            return Ok(key);
        }
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(std::io::Error::other)?;
        let path = data_dir.join(KEY_FILE);
        use std::io::Write;
        match crate::storage::private_file(&path) {
            Ok(mut file) => file.write_all(&bytes)?,
            // Made meanwhile by a concurrent first invitation: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return InviteKey::load(data_dir)?.ok_or(e);
            }
            Err(e) => return Err(e),
        }
        Ok(InviteKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// The data directory's key, if it has one (a restored backup has none).
    pub(crate) fn load(data_dir: &Path) -> std::io::Result<Option<InviteKey>> {
        match std::fs::read(data_dir.join(KEY_FILE)) {
            Ok(bytes) if bytes.len() == 32 => Ok(Some(InviteKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))),
            Ok(_) => Err(std::io::Error::other(format!("{KEY_FILE} is damaged"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The code of invitation `id`.
    pub(crate) fn code(&self, id: u64) -> Vec<u8> {
        let tag = hmac::sign(&self.0, &id.to_be_bytes());
        let mut code = Vec::with_capacity(CODE_LEN);
        code.extend_from_slice(&id.to_be_bytes());
        code.extend_from_slice(&tag.as_ref()[..CODE_LEN - 8]);
        code
    }
}

/// The SHA-256 of a code's secret part.
pub(crate) fn secret_hash(code: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, &code[8.min(code.len())..]).as_ref());
    out
}

/// A code's invitation id, if it has the right length.
fn id_of(code: &[u8]) -> Option<u64> {
    let (id, _) = code.split_first_chunk::<8>()?;
    (code.len() == CODE_LEN).then_some(u64::from_be_bytes(*id))
}

fn invalid(message: &str) -> ServiceError {
    ServiceError::new(ErrorCode::InvalidInvitation, message)
}

/// The invitation a code names, if the code is genuine and it still admits
/// someone; read before the password is hashed, so a made-up code costs no
/// argon2 work.
pub(super) fn check(store: &Store, code: &[u8], now: u64) -> ServiceResult<u64> {
    let id = id_of(code).ok_or_else(|| invalid("an invitation is 24 bytes"))?;
    admits(store.get(&INVITES, &id)?, code, now)?;
    Ok(id)
}

fn admits(record: Option<InviteCode>, code: &[u8], now: u64) -> ServiceResult<InviteCode> {
    let record = record.ok_or_else(|| invalid("no such invitation"))?;
    if !bool::from(secret_hash(code).ct_eq(&record.secret_hash)) {
        return Err(invalid("no such invitation"));
    }
    if let Some(why) = record.refusal(now) {
        return Err(invalid(&why));
    }
    Ok(record)
}

/// Uses the invitation up by one, on the write path of the registration.
pub(super) fn redeem(tx: &mut Tx<'_>, code: &[u8], now: u64) -> ServiceResult<u64> {
    let id = id_of(code).ok_or_else(|| invalid("an invitation is 24 bytes"))?;
    let mut record = admits(tx.get(&INVITES, &id)?, code, now)?;
    record.uses_left -= 1;
    record.used += 1;
    tx.put(&INVITES, &id, &record);
    Ok(id)
}

/// Stores a new invitation.
pub(super) fn insert(tx: &mut Tx<'_>, id: u64, record: &InviteCode) {
    tx.put(&INVITES, &id, record);
}

/// Revokes an invitation; `NotFound` if there is none.
pub(super) fn revoke(tx: &mut Tx<'_>, id: u64) -> ServiceResult<()> {
    let mut record = tx.get(&INVITES, &id)?.ok_or_else(|| ServiceError::not_found("no such invitation"))?;
    record.revoked = true;
    tx.put(&INVITES, &id, &record);
    Ok(())
}

/// Every invitation, in id order.
pub(crate) fn all(store: &Store) -> Result<Vec<(u64, InviteCode)>, StorageError> {
    store.all(&INVITES).collect()
}

/// Checks restored invitations: every record decodes.
pub(super) fn check_restored(store: &Audit<'_>) -> Result<(), String> {
    store.check_entries(&INVITES)
}

/// One invitation.
fn get(store: &Store, id: u64) -> Result<Option<InviteCode>, StorageError> {
    store.get(&INVITES, &id)
}

/// Creates an invitation for `uses` registrations, valid for `valid_for`
/// (for ever if `None`); returns its id, code and record.
pub(crate) async fn issue(
    services: &Services,
    uses: u32,
    valid_for: Option<std::time::Duration>,
    note: String,
) -> ServiceResult<(u64, Vec<u8>, InviteCode)> {
    if uses == 0 {
        return Err(ServiceError::invalid("an invitation admits at least one registration"));
    }
    let key = InviteKey::load_or_create(&services.config().data_dir).map_err(StorageError::from)?;
    let pending = services
        .committer
        .submit(move |tx| {
            let id = tx.next_id();
            let code = key.code(id);
            let now = crate::id::now_ms();
            let expires_at = valid_for.map_or(0, |d| now.saturating_add(d.as_millis() as u64));
            let record = InviteCode {
                secret_hash: secret_hash(&code),
                uses_left: uses,
                used: 0,
                expires_at,
                note,
                created_at: now,
                revoked: false,
            };
            insert(tx, id, &record);
            Ok::<_, ServiceError>((id, code, record))
        })
        .await?;
    let created = pending.durable().await?;
    tracing::info!(invitation = created.0, uses, "invitation created");
    Ok(created)
}

/// Every invitation, in id order.
pub(crate) async fn list(services: &Services) -> ServiceResult<Vec<(u64, InviteCode)>> {
    services.read(all).await
}

/// Revokes an invitation: it admits nobody from now on.
pub(crate) async fn withdraw(services: &Services, id: u64) -> ServiceResult<()> {
    services.committer.submit(move |tx| revoke(tx, id)).await?.durable().await?;
    tracing::info!(invitation = id, "invitation revoked");
    Ok(())
}

/// An existing invitation and its code, derived again from the data
/// directory's key.
pub(crate) async fn code_of(services: &Services, id: u64) -> ServiceResult<(Vec<u8>, InviteCode)> {
    let record =
        services.read(move |s| get(s, id)).await?.ok_or_else(|| ServiceError::not_found("no such invitation"))?;
    match InviteKey::load(&services.config().data_dir).map_err(StorageError::from)? {
        Some(key) => Ok((key.code(id), record)),
        None => Err(ServiceError::not_found(
            "this data directory has no invitations.key (backups do not carry it): create a new invitation",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_derived_and_checked_by_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let key = InviteKey::load_or_create(dir.path()).unwrap();
        let code = key.code(42);
        assert_eq!(code.len(), CODE_LEN);
        assert_eq!(id_of(&code), Some(42));
        assert_eq!(InviteKey::load(dir.path()).unwrap().unwrap().code(42), code, "the same key after a reload");
        let record = InviteCode {
            secret_hash: secret_hash(&code),
            uses_left: 1,
            used: 0,
            expires_at: 0,
            note: String::new(),
            created_at: 0,
            revoked: false,
        };
        assert!(admits(Some(record.clone()), &code, 1).is_ok());
        let mut forged = code.clone();
        forged[23] ^= 1;
        assert!(admits(Some(record.clone()), &forged, 1).is_err());
        let spent = InviteCode { uses_left: 0, ..record.clone() };
        assert_eq!(spent.refusal(1).as_deref(), Some("the invitation is used up"));
        let expired = InviteCode { expires_at: 10, ..record };
        assert_eq!(expired.state(9), "open");
        assert_eq!(expired.refusal(10).as_deref(), Some("the invitation is expired"));
    }
}
