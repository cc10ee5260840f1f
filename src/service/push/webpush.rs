//! WebPush as push services take it: a body only the device can read
//! (RFC 8291, in the `aes128gcm` coding of RFC 8188) and the server's VAPID
//! signature (RFC 8292). Composed from ring's ECDH, HKDF, AES-GCM and ECDSA,
//! the primitives rustls already uses; `tests/independent/push_server.py`
//! decrypts and verifies with another implementation (Python's `http_ece`
//! and `cryptography`).

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, ECDH_P256};
use ring::error::Unspecified;
use ring::hkdf::{KeyType, Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// The key file in the data directory.
pub(crate) const KEY_FILE: &str = "vapid.pem";

/// Bytes of an uncompressed P-256 point: a `p256dh` and the VAPID key.
pub(crate) const POINT_LEN: usize = 65;

/// The record size written into the header: the whole body is one record,
/// well below it (a wake-up is a few dozen bytes).
const RECORD_SIZE: u32 = 4096;

/// The server's VAPID key (ECDSA P-256), made on first start and kept in
/// the data directory, readable by the server's user alone.
pub(crate) struct VapidKey {
    pair: EcdsaKeyPair,
}

impl VapidKey {
    /// The data directory's key, created if it has none.
    pub(crate) fn load_or_create(data_dir: &Path) -> std::io::Result<VapidKey> {
        if let Some(key) = VapidKey::load(data_dir)? {
            return Ok(key);
        }
        let pem = rcgen::KeyPair::generate().map_err(std::io::Error::other)?.serialize_pem();
        let mut file = crate::storage::private_file(&data_dir.join(KEY_FILE))?;
        file.write_all(pem.as_bytes())?;
        file.sync_all()?;
        VapidKey::from_pem(data_dir, &pem)
    }

    /// The data directory's key, if it has one.
    pub(crate) fn load(data_dir: &Path) -> std::io::Result<Option<VapidKey>> {
        match std::fs::read_to_string(data_dir.join(KEY_FILE)) {
            Ok(pem) => VapidKey::from_pem(data_dir, &pem).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn from_pem(data_dir: &Path, pem: &str) -> std::io::Result<VapidKey> {
        let damaged =
            |e: &dyn std::fmt::Display| std::io::Error::other(format!("{KEY_FILE} in {}: {e}", data_dir.display()));
        let der = rcgen::KeyPair::from_pem(pem).map_err(|e| damaged(&e))?.serialized_der().to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
            .map_err(|e| damaged(&e))?;
        Ok(VapidKey { pair })
    }

    /// The public key, an uncompressed point of 65 bytes.
    pub(crate) fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The `Authorization` header of a request to `origin` (the endpoint's
    /// scheme, host and port): `vapid t=<JWT>, k=<public key>`, the JWT
    /// signed with ES256 and valid for 12 hours.
    pub(crate) fn authorization(&self, origin: &str, contact: &str, now_secs: u64) -> Result<String, Unspecified> {
        let header = BASE64URL.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let mut claims = serde_json::json!({ "aud": origin, "exp": now_secs + 12 * 3600 });
        if !contact.is_empty() {
            claims["sub"] = contact.into();
        }
        let signed = format!("{header}.{}", BASE64URL.encode(claims.to_string()));
        let signature = self.pair.sign(&SystemRandom::new(), signed.as_bytes())?;
        Ok(format!(
            "vapid t={signed}.{}, k={}",
            BASE64URL.encode(signature.as_ref()),
            BASE64URL.encode(self.public_key())
        ))
    }
}

/// An HKDF output length.
struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> Result<[u8; N], Unspecified> {
    let mut out = [0u8; N];
    Salt::new(HKDF_SHA256, salt).extract(ikm).expand(info, Len(N))?.fill(&mut out)?;
    Ok(out)
}

/// Encrypts `plaintext` for the device whose keys are `p256dh` and `auth`
/// (RFC 8291 section 3): a fresh ECDH key and salt per message, one record.
/// Returns the body: salt, record size, the server's public key, ciphertext.
pub(crate) fn encrypt(p256dh: &[u8], auth: &[u8; 16], plaintext: &[u8]) -> Result<Vec<u8>, Unspecified> {
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)?;
    let private = EphemeralPrivateKey::generate(&ECDH_P256, &rng)?;
    let public = private.compute_public_key()?;
    let ecdh = agree_ephemeral(private, &UnparsedPublicKey::new(&ECDH_P256, p256dh), |secret| secret.to_vec())?;
    let ikm: [u8; 32] = hkdf(auth, &ecdh, &[b"WebPush: info\0", p256dh, public.as_ref()])?;
    let key: [u8; 16] = hkdf(&salt, &ikm, &[b"Content-Encoding: aes128gcm\0"])?;
    let nonce: [u8; 12] = hkdf(&salt, &ikm, &[b"Content-Encoding: nonce\0"])?;

    let mut record = plaintext.to_vec();
    record.push(2); // the delimiter of the last record
    LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &key)?).seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::empty(),
        &mut record,
    )?;
    let mut body = Vec::with_capacity(16 + 4 + 1 + POINT_LEN + record.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(POINT_LEN as u8);
    body.extend_from_slice(public.as_ref());
    body.extend_from_slice(&record);
    Ok(body)
}

/// Whether `key` is a P-256 public key an ECDH agreement accepts.
pub(crate) fn valid_device_key(key: &[u8]) -> bool {
    let Ok(private) = EphemeralPrivateKey::generate(&ECDH_P256, &SystemRandom::new()) else { return false };
    key.len() == POINT_LEN && agree_ephemeral(private, &UnparsedPublicKey::new(&ECDH_P256, key), |_| ()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The device's side of RFC 8291, written from the RFC apart from
    /// [`encrypt`]: what it sent decrypts to what was encrypted.
    #[test]
    fn a_device_decrypts_what_was_encrypted_for_it() {
        let rng = SystemRandom::new();
        let device = EphemeralPrivateKey::generate(&ECDH_P256, &rng).unwrap();
        let device_public = device.compute_public_key().unwrap().as_ref().to_vec();
        let auth = [7u8; 16];
        let body = encrypt(&device_public, &auth, b"{\"update\":1}").unwrap();

        let (salt, rest) = body.split_at(16);
        assert_eq!(&rest[..4], &4096u32.to_be_bytes());
        assert_eq!(rest[4] as usize, POINT_LEN);
        let (server_public, ciphertext) = rest[5..].split_at(POINT_LEN);
        let ecdh = agree_ephemeral(device, &UnparsedPublicKey::new(&ECDH_P256, server_public), |s| s.to_vec()).unwrap();
        let ikm: [u8; 32] = hkdf(&auth, &ecdh, &[b"WebPush: info\0", &device_public, server_public]).unwrap();
        let key: [u8; 16] = hkdf(salt, &ikm, &[b"Content-Encoding: aes128gcm\0"]).unwrap();
        let nonce: [u8; 12] = hkdf(salt, &ikm, &[b"Content-Encoding: nonce\0"]).unwrap();
        let mut record = ciphertext.to_vec();
        let plain = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &key).unwrap())
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut record)
            .unwrap();
        assert_eq!(plain, b"{\"update\":1}\x02");
        assert!(valid_device_key(&device_public));
        assert!(!valid_device_key(&[4u8; POINT_LEN]));
        assert!(!valid_device_key(&device_public[..64]));
    }

    #[test]
    fn the_vapid_key_is_made_once_private_and_signs_verifiably() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = VapidKey::load_or_create(dir.path()).unwrap();
        let again = VapidKey::load_or_create(dir.path()).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        assert_eq!(key.public_key().len(), POINT_LEN);
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let header = key.authorization("https://push.example.org", "mailto:op@example.org", 1_000).unwrap();
        let (t, k) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(BASE64URL.decode(k).unwrap(), key.public_key());
        let (signed, signature) = t.rsplit_once('.').unwrap();
        let claims = BASE64URL.decode(signed.split('.').nth(1).unwrap()).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims["aud"], "https://push.example.org");
        assert_eq!(claims["exp"], 1_000 + 12 * 3600);
        assert_eq!(claims["sub"], "mailto:op@example.org");
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, key.public_key())
            .verify(signed.as_bytes(), &BASE64URL.decode(signature).unwrap())
            .unwrap();
    }
}
