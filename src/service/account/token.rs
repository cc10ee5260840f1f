//! Login tokens on the wire.
//!
//! A token is 40 bytes: an 8-byte token id (big-endian, random) followed by
//! a 32-byte random secret. The server keeps only the SHA-256 of the secret,
//! looks the record up by id and compares hashes in constant time, so
//! neither a stolen database nor a timing probe yields a usable token.

use ring::digest::{digest, SHA256};
use subtle::ConstantTimeEq;

use crate::service::{ServiceError, ServiceResult};

/// Length of a token on the wire.
pub(crate) const TOKEN_LEN: usize = 40;

/// A freshly made token.
pub(super) struct NewToken {
    /// Its id, the key of its record.
    pub id: u64,
    /// What the client receives.
    pub bytes: Vec<u8>,
    /// What the server keeps.
    pub secret_hash: [u8; 32],
}

impl NewToken {
    /// A random token.
    pub(super) fn generate() -> ServiceResult<NewToken> {
        let id = u64::from_be_bytes(random::<8>()?).max(1);
        let secret = random::<32>()?;
        let mut bytes = Vec::with_capacity(TOKEN_LEN);
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&secret);
        Ok(NewToken { id, bytes, secret_hash: secret_hash(&secret) })
    }
}

/// A token's id and secret, if it has the right length.
pub(super) fn split(token: &[u8]) -> Option<(u64, &[u8])> {
    let (id, secret) = token.split_first_chunk::<8>()?;
    (token.len() == TOKEN_LEN).then_some((u64::from_be_bytes(*id), secret))
}

/// Whether `secret` is the one whose hash was stored, in constant time.
pub(super) fn genuine(secret: &[u8], stored_hash: &[u8; 32]) -> bool {
    secret_hash(secret).ct_eq(stored_hash).into()
}

fn secret_hash(secret: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, secret).as_ref());
    out
}

fn random<const N: usize>() -> ServiceResult<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).map_err(|e| ServiceError::Hashing(format!("no randomness: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_splits_into_its_id_and_a_matching_secret() {
        let token = NewToken::generate().unwrap();
        let (id, secret) = split(&token.bytes).unwrap();
        assert_eq!(id, token.id);
        assert!(genuine(secret, &token.secret_hash));
        let mut forged = token.bytes.clone();
        forged[39] ^= 1;
        assert!(!genuine(split(&forged).unwrap().1, &token.secret_hash));
        assert!(split(&token.bytes[..39]).is_none());
    }
}
