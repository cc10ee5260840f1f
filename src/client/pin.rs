//! Trusting a server by the SHA-256 fingerprint of its certificate.
//!
//! A self-hosted server usually has a self-signed certificate that no CA
//! vouches for; pinning its fingerprint (printed by `kith cert fingerprint`)
//! is how a client knows it reached the right server. The pin may be the
//! SHA-256 of the certificate or of its public key (SubjectPublicKeyInfo),
//! which survives renewing the certificate with the same key. The handshake
//! signature is still verified against the pinned certificate's key.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use subtle::ConstantTimeEq;

use crate::protocol::ALPN;
use crate::transport::cert::{fingerprint, public_key_fingerprint};

/// Accepts exactly one certificate: the one with this SHA-256.
#[derive(Debug)]
struct Pinned {
    fingerprint: [u8; 32],
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let certificate: bool = fingerprint(end_entity).ct_eq(&self.fingerprint).into();
        let public_key = public_key_fingerprint(end_entity).is_some_and(|fp| bool::from(fp.ct_eq(&self.fingerprint)));
        if certificate || public_key {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A rustls client configuration that trusts only the pinned certificate.
/// `tls13_only` is for QUIC, which requires TLS 1.3.
pub fn client_config(pin: [u8; 32], tls13_only: bool) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned { fingerprint: pin, algorithms: provider.signature_verification_algorithms });
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone() as Arc<CryptoProvider>);
    let builder = if tls13_only {
        builder.with_protocol_versions(&[&rustls::version::TLS13])?
    } else {
        builder.with_safe_default_protocol_versions()?
    };
    let mut config = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    // A resumed session would skip the certificate, and with it the pin.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}
