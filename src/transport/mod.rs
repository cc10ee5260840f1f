//! Listeners (TCP+TLS, plain TCP, QUIC): each turns accepted connections into a reader and a writer for
//! the one [`crate::session`] loop. Limits are checked when a connection is
//! accepted; handshakes run in the connection's own task, under a timeout,
//! so a slow or silent client never holds up the accept loop.

pub mod cert;
mod http;
mod limit;
mod quic;
mod tcp;

use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use limit::{ConnectionLimiter, ConnectionPermit};
pub use quic::{bind as bind_quic, serve_quic, server_config as quic_server_config, QuicSetupError};
pub use tcp::serve_tcp;

use crate::service::Services;

/// The TLS configuration new connections get; replaced when the operator
/// reloads the certificate (SIGHUP), without touching open connections.
pub struct TlsConfigCell(RwLock<Arc<rustls::ServerConfig>>);

impl TlsConfigCell {
    /// A cell holding `config`.
    pub fn new(config: rustls::ServerConfig) -> Arc<TlsConfigCell> {
        Arc::new(TlsConfigCell(RwLock::new(Arc::new(config))))
    }

    /// The configuration to use for a new connection.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the configuration.
    pub fn replace(&self, config: rustls::ServerConfig) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }
}

/// What every listener shares.
#[derive(Clone)]
pub struct Listening {
    /// Services for new sessions.
    pub services: Arc<Services>,
    /// Connection caps.
    pub limiter: Arc<ConnectionLimiter>,
    /// Cancelled at shutdown: listeners stop accepting, sessions say goodbye.
    pub shutdown: CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    pub tasks: TaskTracker,
}
