//! The server certificate: loading PEM files, generating a self-signed pair
//! on first start, and the SHA-256 fingerprints clients pin.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use ring::digest::{digest, SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Only one of the two files exists.
    #[error(
        "{missing} is missing but {present} exists; provide both or neither (neither generates a self-signed pair)"
    )]
    Half {
        /// The missing file.
        missing: String,
        /// The file that exists.
        present: String,
    },
    /// A file holds no usable certificate or key.
    #[error("{path}: {what}")]
    Content {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// Generating a certificate failed.
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// A certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub struct Certificate {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's key.
    pub key: PrivateKeyDer<'static>,
}

impl Certificate {
    /// Reads the pair, generating a self-signed one if both files are missing.
    pub fn load_or_generate(cert: &Path, key: &Path) -> Result<(Certificate, bool), CertError> {
        let generated = match (cert.exists(), key.exists()) {
            (true, true) => false,
            (false, false) => {
                generate(cert, key)?;
                true
            }
            (false, true) => return Err(half(cert, key)),
            (true, false) => return Err(half(key, cert)),
        };
        Ok((Certificate::load(cert, key)?, generated))
    }

    /// Reads the pair.
    pub fn load(cert: &Path, key: &Path) -> Result<Certificate, CertError> {
        let content = |path: &Path, what: String| CertError::Content { path: path.display().to_string(), what };
        let cert_pem = read(cert)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| content(cert, format!("not PEM certificates: {e}")))?;
        if chain.is_empty() {
            return Err(content(cert, "no PEM certificate".into()));
        }
        let key_pem = read(key)?;
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => content(key, "no PEM private key".into()),
            e => content(key, format!("not a PEM private key: {e}")),
        })?;
        Ok(Certificate { chain, key: key_der })
    }

    /// SHA-256 of the leaf certificate (DER).
    pub fn fingerprint(&self) -> [u8; 32] {
        fingerprint(&self.chain[0])
    }

    /// SHA-256 of the leaf's public key (SubjectPublicKeyInfo): the pin
    /// that outlives a renewal with the same key.
    pub fn public_key_fingerprint(&self) -> Result<[u8; 32], CertError> {
        public_key_fingerprint(&self.chain[0]).ok_or_else(|| CertError::Content {
            path: "the certificate".into(),
            what: "its public key cannot be read".into(),
        })
    }

    /// A rustls server configuration offering ALPN `kith/1` and, over TCP,
    /// `http/1.1` for media URLs (a client offering neither gets the kith
    /// protocol); QUIC needs `tls13_only` and speaks kith alone. Early data (0-RTT) stays off: no request is accepted
    /// before the handshake completes, so none can be replayed; and session
    /// resumption is off, so every handshake shows the certificate to pin.
    pub fn rustls_config(&self, tls13_only: bool) -> Result<rustls::ServerConfig, CertError> {
        let builder = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()));
        let builder = if tls13_only {
            builder.with_protocol_versions(&[&rustls::version::TLS13])?
        } else {
            builder.with_safe_default_protocol_versions()?
        };
        let mut config = builder.with_no_client_auth().with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![crate::protocol::ALPN.to_vec()];
        if !tls13_only {
            config.alpn_protocols.push(super::http::ALPN_HTTP.to_vec());
        }
        // No session resumption: a resumed handshake presents no certificate,
        // so a client could not check its pin. Every handshake is a full one
        // (an ECDSA P-256 signature, cheap next to a password hash).
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(config)
    }
}

fn half(missing: &Path, present: &Path) -> CertError {
    CertError::Half { missing: missing.display().to_string(), present: present.display().to_string() }
}

fn file_error(path: &Path, source: std::io::Error) -> CertError {
    CertError::File { path: path.display().to_string(), source }
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    fs::read(path).map_err(|e| file_error(path, e))
}

/// The names a generated certificate is for. Clients pin it rather than
/// check its names, so these only keep tools that do check them quiet.
const GENERATED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

fn generate(cert: &Path, key: &Path) -> Result<(), CertError> {
    let key_pair = rcgen::KeyPair::generate()?;
    let params = rcgen::CertificateParams::new(GENERATED_NAMES.map(String::from).to_vec())?;
    write_file(cert, params.self_signed(&key_pair)?.pem().as_bytes(), 0o644, false)?;
    write_file(key, key_pair.serialize_pem().as_bytes(), 0o600, false)
}

/// Issues a new self-signed certificate in place of the one in `cert`,
/// for the generated names and `names`. The key stays, so the public-key
/// pin and the join links that carry it stay valid, unless `new_key`
/// replaces it too (every pin changes then). A certificate that some
/// authority issued is refused: it is renewed where it was issued (certbot
/// keeps its key with `--reuse-key`).
pub fn renew(cert: &Path, key: &Path, names: &[String], new_key: bool) -> Result<(), CertError> {
    let old = Certificate::load(cert, key)?;
    if !self_issued(&old.chain[0]) {
        return Err(CertError::Content {
            path: cert.display().to_string(),
            what: "not a self-signed certificate; renew it where it was issued (certbot: --reuse-key keeps the pin)"
                .into(),
        });
    }
    let key_pair = match new_key {
        true => rcgen::KeyPair::generate()?,
        false => rcgen::KeyPair::from_pem(&String::from_utf8_lossy(&read(key)?))?,
    };
    let mut all: Vec<String> = GENERATED_NAMES.map(String::from).to_vec();
    all.extend(names.iter().filter(|n| !all.contains(n)).cloned().collect::<Vec<_>>());
    let certificate = rcgen::CertificateParams::new(all)?.self_signed(&key_pair)?;
    if new_key {
        write_file(key, key_pair.serialize_pem().as_bytes(), 0o600, true)?;
    }
    write_file(cert, certificate.pem().as_bytes(), 0o644, true)
}

/// Writes a file with `mode`, whatever the umask. With `replace`, through a
/// temporary file renamed over the old one, so a crash leaves either.
fn write_file(path: &Path, contents: &[u8], mode: u32, replace: bool) -> Result<(), CertError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    let target = match replace {
        true => path.with_extension("new"),
        false => path.to_path_buf(),
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(replace)
        .truncate(replace)
        .create_new(!replace)
        .mode(mode)
        .open(&target)
        .map_err(|e| file_error(&target, e))?;
    f.set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|()| f.write_all(contents))
        .and_then(|()| f.sync_all())
        .map_err(|e| file_error(&target, e))?;
    if replace {
        fs::rename(&target, path).map_err(|e| file_error(path, e))?;
    }
    Ok(())
}

/// SHA-256 of a DER certificate.
pub fn fingerprint(cert: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, cert).as_ref());
    out
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo: a pin that survives
/// renewing the certificate with the same key. `None` if the DER is not a
/// certificate.
pub fn public_key_fingerprint(cert: &[u8]) -> Option<[u8; 32]> {
    Some(fingerprint(subject_public_key_info(cert)?))
}

/// `sha256/<base64>`: a public-key fingerprint as OkHttp's
/// `CertificatePinner` takes it (Android's network security config takes
/// the part after `sha256/`, curl's `--pinnedpubkey` the same after `sha256//`).
pub fn okhttp_pin(public_key: &[u8; 32]) -> String {
    use base64::Engine;
    format!("sha256/{}", base64::engine::general_purpose::STANDARD.encode(public_key))
}

/// The elements of an X.509 certificate's TBSCertificate after its
/// optional `[0]` version: serial, signature algorithm, issuer, validity,
/// subject, public key info, … Only walks the outer structure.
fn tbs_fields(cert: &[u8]) -> Option<impl Iterator<Item = Der<'_>>> {
    let certificate = Der::read(cert)?.contents;
    let mut rest = Der::read(certificate)?.contents;
    if rest.first() == Some(&0xA0) {
        rest = Der::read(rest)?.rest;
    }
    Some(std::iter::from_fn(move || {
        let field = Der::read(rest)?;
        rest = field.rest;
        Some(field)
    }))
}

/// The SubjectPublicKeyInfo element of an X.509 certificate (DER).
fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    let spki = tbs_fields(cert)?.nth(5)?;
    (spki.tag == 0x30).then_some(spki.element)
}

/// Whether a certificate names itself as its issuer.
fn self_issued(cert: &[u8]) -> bool {
    let fields: Vec<Der<'_>> = tbs_fields(cert).map(|f| f.take(5).collect()).unwrap_or_default();
    fields.len() == 5 && fields[2].element == fields[4].element
}

/// One DER element at the start of some input.
struct Der<'a> {
    tag: u8,
    /// The whole element, header included.
    element: &'a [u8],
    /// Its contents.
    contents: &'a [u8],
    /// What follows it.
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn read(input: &'a [u8]) -> Option<Der<'a>> {
        let tag = *input.first()?;
        let first = *input.get(1)?;
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let len = input.get(2..2 + n)?.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        };
        let element = input.get(..header.checked_add(len)?)?;
        Some(Der { tag, element, contents: &element[header..], rest: &input[element.len()..] })
    }
}

/// `AB:CD:…` — the form printed in logs and by `kith cert fingerprint`.
pub fn format_fingerprint(fp: &[u8; 32]) -> String {
    fp.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Reads a fingerprint written as hex, with or without colons and an
/// optional `sha256:` prefix.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let text = text.strip_prefix("sha256:").or_else(|| text.strip_prefix("SHA256:")).unwrap_or(text);
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_round_trip_through_text() {
        let fp = fingerprint(b"certificate");
        let text = format_fingerprint(&fp);
        assert_eq!(parse_fingerprint(&text), Some(fp));
        assert_eq!(parse_fingerprint(&text.replace(':', "").to_lowercase()), Some(fp));
        assert_eq!(parse_fingerprint("abc"), None);
    }

    #[test]
    fn public_key_fingerprint_is_the_spki_hash() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["kith.test".into()]).unwrap().self_signed(&key).unwrap();
        assert_eq!(public_key_fingerprint(cert.der()), Some(fingerprint(&key.public_key_der())));
        // The same key in a second certificate pins the same.
        let again = rcgen::CertificateParams::new(vec!["other.test".into()]).unwrap().self_signed(&key).unwrap();
        assert_ne!(fingerprint(cert.der()), fingerprint(again.der()));
        assert_eq!(public_key_fingerprint(again.der()), public_key_fingerprint(cert.der()));
        assert_eq!(public_key_fingerprint(b"not a certificate"), None);
        assert_eq!(public_key_fingerprint(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn generates_once_then_loads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c/cert.pem"), dir.path().join("c/key.pem"));
        let (first, generated) = Certificate::load_or_generate(&cert, &key).unwrap();
        assert!(generated);
        let (second, generated) = Certificate::load_or_generate(&cert, &key).unwrap();
        assert!(!generated);
        assert_eq!(first.fingerprint(), second.fingerprint());
        first.rustls_config(false).unwrap();
        first.rustls_config(true).unwrap();
        fs::remove_file(&key).unwrap();
        assert!(matches!(Certificate::load_or_generate(&cert, &key), Err(CertError::Half { .. })));
    }

    #[test]
    fn renewing_keeps_the_key_unless_told() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let (first, _) = Certificate::load_or_generate(&cert, &key).unwrap();
        renew(&cert, &key, &["chat.example.org".into()], false).unwrap();
        let renewed = Certificate::load(&cert, &key).unwrap();
        assert_ne!(renewed.fingerprint(), first.fingerprint());
        assert_eq!(renewed.public_key_fingerprint().unwrap(), first.public_key_fingerprint().unwrap());
        renew(&cert, &key, &[], true).unwrap();
        let rekeyed = Certificate::load(&cert, &key).unwrap();
        assert_ne!(rekeyed.public_key_fingerprint().unwrap(), first.public_key_fingerprint().unwrap());
        assert_eq!(fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!key.with_extension("new").exists());

        // A certificate some authority issued is renewed there, not here.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(vec![]).unwrap();
        ca.distinguished_name.push(rcgen::DnType::CommonName, "Test CA");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["chat.example.org".into()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        fs::write(&cert, leaf.pem()).unwrap();
        fs::write(&key, leaf_key.serialize_pem()).unwrap();
        assert!(matches!(renew(&cert, &key, &[], false), Err(CertError::Content { .. })));
        assert_eq!(fs::read_to_string(&cert).unwrap(), leaf.pem());
    }

    #[test]
    fn the_okhttp_pin_is_base64_of_the_hash() {
        assert_eq!(okhttp_pin(&[0xab; 32]), "sha256/q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=");
    }
}
