//! QUIC listener (quinn). A client opens one bidirectional stream and uses it
//! exactly like a TCP byte stream, so the session loop is the same one. QUIC
//! adds what phones need: the connection survives a change of client address
//! (Wi-Fi to mobile data) without a new login, and no head-of-line blocking
//! on the handshake.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::QuicServerConfig;
use quinn::{Endpoint, Incoming, TransportConfig, VarInt};

use super::cert::{CertError, Certificate};
use super::Listening;
use crate::config::Limits;
use crate::protocol::{HEADER_LEN, QUIC_IDLE_TIMEOUT};
use crate::session::{self, SessionContext};

/// How long a closing connection waits for the peer to acknowledge the
/// final push before the connection is closed.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Transport limits far below quinn's defaults (100 streams, a 1.25 MB
/// stream window, an unbounded connection window, datagrams on): one stream,
/// windows sized to a couple of frames, no datagrams.
fn transport_config(limits: &Limits) -> TransportConfig {
    let window = (2 * (limits.max_frame_bytes + HEADER_LEN)) as u32;
    let mut t = TransportConfig::default();
    t.max_concurrent_bidi_streams(VarInt::from_u32(1))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .stream_receive_window(VarInt::from_u32(window))
        .receive_window(VarInt::from_u32(window))
        .send_window(u64::from(window) * 2)
        .datagram_receive_buffer_size(None)
        .max_idle_timeout(Some(VarInt::from_u32(QUIC_IDLE_TIMEOUT.as_millis() as u32).into()));
    t
}

/// The endpoint's configuration for a certificate; used at start and when
/// the certificate is reloaded.
pub fn server_config(certificate: &Certificate, limits: &Limits) -> Result<quinn::ServerConfig, QuicSetupError> {
    let crypto = certificate.rustls_config(true)?;
    let crypto = QuicServerConfig::try_from(crypto).map_err(|e| QuicSetupError::Crypto(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config(limits)));
    config.migration(true);
    Ok(config)
}

/// Binds the QUIC endpoint.
pub fn bind(addr: SocketAddr, certificate: &Certificate, limits: &Limits) -> Result<Endpoint, QuicSetupError> {
    Endpoint::server(server_config(certificate, limits)?, addr).map_err(QuicSetupError::Bind)
}

/// Why the QUIC listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum QuicSetupError {
    /// The certificate could not be used.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// rustls's configuration does not suit QUIC.
    #[error("QUIC crypto: {0}")]
    Crypto(String),
    /// The UDP socket could not be bound.
    #[error("{0}")]
    Bind(std::io::Error),
}

/// Counts QUIC handshakes in progress; one is counted until dropped.
struct Handshaking(Arc<AtomicUsize>);

impl Handshaking {
    fn begin(count: &Arc<AtomicUsize>) -> Handshaking {
        count.fetch_add(1, Ordering::AcqRel);
        Handshaking(count.clone())
    }
}

impl Drop for Handshaking {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accepts connections until shutdown, then closes the endpoint.
///
/// UDP senders can forge their address. While few handshakes are in
/// progress, any Initial packet may start one; above
/// `limits.quic_validate_above`, a peer must first prove it receives at its
/// address (a Retry round trip) before it takes a connection slot, so
/// forged packets cannot fill the connection cap TLS and TCP share.
pub async fn serve_quic(endpoint: Endpoint, listening: Listening) {
    let handshaking = Arc::new(AtomicUsize::new(0));
    let validate_above = listening.services.config().limits.quic_validate_above;
    loop {
        let incoming = tokio::select! {
            () = listening.shutdown.cancelled() => break,
            incoming = endpoint.accept() => incoming,
        };
        let Some(incoming) = incoming else { break };
        let peer = incoming.remote_address();
        if !incoming.remote_address_validated() && handshaking.load(Ordering::Acquire) >= validate_above {
            tracing::debug!(%peer, "many QUIC handshakes in progress: asking for address validation");
            if let Err(e) = incoming.retry() {
                e.into_incoming().ignore();
            }
            continue;
        }
        let Some(permit) = listening.limiter.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection limit reached, refusing");
            incoming.refuse();
            continue;
        };
        let handshake = Handshaking::begin(&handshaking);
        let listening = listening.clone();
        listening.tasks.clone().spawn(async move {
            let _permit = permit;
            connection(incoming, peer, listening, handshake).await;
        });
    }
    // Sessions have said goodbye on their streams; give the endpoint a
    // moment to deliver that before it goes away.
    let _ = tokio::time::timeout(CLOSE_GRACE, endpoint.wait_idle()).await;
}

async fn connection(incoming: Incoming, peer: SocketAddr, listening: Listening, handshake: Handshaking) {
    let limits = &listening.services.config().limits;
    let connecting = match incoming.accept() {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "QUIC accept failed");
            return;
        }
    };
    let connection = match tokio::time::timeout(limits.handshake_timeout(), connecting).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "QUIC handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "QUIC handshake timed out");
            return;
        }
    };
    drop(handshake);
    let (send, recv) = match tokio::time::timeout(limits.auth_timeout(), connection.accept_bi()).await {
        Ok(Ok(pair)) => pair,
        _ => {
            connection.close(VarInt::from_u32(0), b"no stream opened");
            return;
        }
    };
    // Resolves once everything written on the stream is acknowledged.
    let delivered = send.stopped();
    let ctx = SessionContext {
        services: listening.services.clone(),
        peer,
        transport: "quic",
        shutdown: listening.shutdown.clone(),
    };
    let reason = session::run(recv, send, ctx).await;
    let _ = tokio::time::timeout(CLOSE_GRACE, delivered).await;
    let code = reason.map_or(0, |r| u32::from(u8::from(r)));
    connection.close(VarInt::from_u32(code), b"");
}
