//! Starting and stopping the whole server: storage, listeners, sessions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::service::{Background, Services};
use crate::storage::StorageError;
use crate::transport::cert::{self, CertError};
use crate::transport::{self, ConnectionLimiter, Listening, TlsConfigCell};

/// How long shutdown waits for connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Opening the database failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The certificate could not be loaded or generated.
    #[error("certificate: {0}")]
    Cert(#[from] CertError),
    /// The QUIC endpoint could not be set up.
    #[error("cannot listen on {addr} (quic): {source}")]
    Quic {
        /// Requested address.
        addr: SocketAddr,
        /// Why.
        source: transport::QuicSetupError,
    },
    /// The control socket could not be created.
    #[error("cannot create the control socket {path}: {source}")]
    Control {
        /// Socket path.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A listening socket could not be bound.
    #[error("cannot listen on {addr} ({transport}): {source}")]
    Bind {
        /// Which listener.
        transport: &'static str,
        /// Requested address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A started server.
pub struct RunningServer {
    /// Bound TCP+TLS address, if enabled.
    pub tls_addr: Option<SocketAddr>,
    /// Bound plain-TCP address, if enabled.
    pub tcp_addr: Option<SocketAddr>,
    /// Bound QUIC (UDP) address, if enabled.
    pub quic_addr: Option<SocketAddr>,
    /// SHA-256 of the certificate, for clients to pin.
    pub fingerprint: [u8; 32],
    services: Arc<Services>,
    tls_config: Arc<TlsConfigCell>,
    quic_endpoint: Option<quinn::Endpoint>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    background: Background,
}

/// Opens storage, loads (or generates) the certificate, binds every enabled
/// listener and starts accepting. Returns once the server is ready.
pub async fn start(config: Config) -> Result<RunningServer, ServerError> {
    let (certificate, generated) = cert::Certificate::load_or_generate(&config.tls.cert, &config.tls.key)?;
    let fingerprint = certificate.fingerprint();
    let public_key = certificate.public_key_fingerprint()?;
    if generated {
        tracing::info!(cert = %config.tls.cert.display(), "generated a self-signed certificate");
    }
    tracing::info!("certificate sha256 fingerprint {}", cert::format_fingerprint(&fingerprint));
    let tls_config = TlsConfigCell::new(certificate.rustls_config(false)?);

    let (services, background) = Services::open(&config)?;
    services.push().load_key(&config.data_dir).map_err(StorageError::from)?;
    let control = crate::admin::control::bind(&config.data_dir).map_err(|source| ServerError::Control {
        path: crate::admin::control::socket_path(&config.data_dir),
        source,
    })?;
    let listening = Listening {
        services: services.clone(),
        limiter: ConnectionLimiter::new(config.limits.max_connections, config.limits.max_connections_per_ip),
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
    };

    let mut tls_addr = None;
    if let Some(addr) = config.listen.tls {
        let listener = bind_tcp("tls", addr).await?;
        tls_addr =
            Some(listener.local_addr().map_err(|source| ServerError::Bind { transport: "tls", addr, source })?);
        listening.tasks.spawn(transport::serve_tcp(listener, Some(tls_config.clone()), listening.clone()));
    }
    let mut tcp_addr = None;
    if let Some(addr) = config.listen.tcp {
        let listener = bind_tcp("tcp", addr).await?;
        tcp_addr =
            Some(listener.local_addr().map_err(|source| ServerError::Bind { transport: "tcp", addr, source })?);
        if !addr.ip().is_loopback() {
            tracing::warn!("plain TCP listener on a non-loopback address: traffic is unencrypted");
        }
        listening.tasks.spawn(transport::serve_tcp(listener, None, listening.clone()));
    }
    let mut quic_addr = None;
    let mut quic_endpoint = None;
    if let Some(addr) = config.listen.quic {
        let endpoint = transport::bind_quic(addr, &certificate, &config.limits)
            .map_err(|source| ServerError::Quic { addr, source })?;
        quic_addr = Some(
            endpoint
                .local_addr()
                .map_err(|e| ServerError::Quic { addr, source: transport::QuicSetupError::Bind(e) })?,
        );
        quic_endpoint = Some(endpoint.clone());
        listening.tasks.spawn(transport::serve_quic(endpoint, listening.clone()));
    }
    listening.tasks.spawn(crate::service::conversation::purge_expired(services.clone(), listening.shutdown.clone()));
    listening.tasks.spawn(crate::service::media::sweep(services.clone(), listening.shutdown.clone()));
    listening.tasks.spawn(crate::service::moment::expire(services.clone(), listening.shutdown.clone()));
    listening.tasks.spawn(crate::service::erase::resume(services.clone(), listening.shutdown.clone()));
    listening.tasks.spawn(crate::service::social::keep_last_seen(services.clone(), listening.shutdown.clone()));
    listening.tasks.spawn(crate::service::push::run(services.clone(), listening.shutdown.clone()));
    listening.tasks.spawn(crate::admin::control::serve(
        control,
        services.clone(),
        listening.shutdown.clone(),
        listening.tasks.clone(),
    ));
    for (name, addr) in [("tls", tls_addr), ("tcp", tcp_addr), ("quic", quic_addr)] {
        if let Some(addr) = addr {
            tracing::info!("listening on {name} {addr}");
        }
    }
    services.set_endpoint(crate::service::Endpoint {
        tls_port: tls_addr.map(|a| a.port()),
        quic_port: quic_addr.map(|a| a.port()),
        fingerprint,
        public_key,
    });
    Ok(RunningServer {
        tls_addr,
        tcp_addr,
        quic_addr,
        fingerprint,
        services,
        tls_config,
        quic_endpoint,
        shutdown: listening.shutdown,
        tasks: listening.tasks,
        background,
    })
}

async fn bind_tcp(transport: &'static str, addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { transport, addr, source })
}

impl RunningServer {
    /// Reads the certificate files again and uses them for new TLS and QUIC
    /// connections (after a Let's Encrypt renewal, say); open connections
    /// keep theirs. On error the old certificate stays in use.
    pub fn reload_certificate(&mut self) -> Result<[u8; 32], ServerError> {
        let config = self.services.config();
        let certificate = cert::Certificate::load(&config.tls.cert, &config.tls.key)?;
        let quic = match &self.quic_endpoint {
            Some(_) => Some(transport::quic_server_config(&certificate, &config.limits).map_err(|source| {
                ServerError::Quic { addr: self.quic_addr.unwrap_or_else(|| ([0, 0, 0, 0], 0).into()), source }
            })?),
            None => None,
        };
        self.tls_config.replace(certificate.rustls_config(false)?);
        if let (Some(endpoint), Some(quic)) = (&self.quic_endpoint, quic) {
            endpoint.set_server_config(Some(quic));
        }
        self.fingerprint = certificate.fingerprint();
        let public_key = certificate.public_key_fingerprint()?;
        if let Some(endpoint) = self.services.endpoint() {
            self.services.set_endpoint(crate::service::Endpoint {
                fingerprint: self.fingerprint,
                public_key,
                ..endpoint
            });
        }
        tracing::info!("certificate reloaded; sha256 fingerprint {}", cert::format_fingerprint(&self.fingerprint));
        Ok(self.fingerprint)
    }

    /// Applies what a reloaded configuration may change while running: the
    /// registration policy.
    pub fn reload_settings(&self, config: &Config) {
        self.services.set_registration_policy(config.registration.policy);
    }

    /// Fires when storage failed to sync; the server can no longer promise
    /// durability and its process should exit.
    pub fn storage_failed(&self) -> CancellationToken {
        self.services.storage_failed()
    }

    /// Stops accepting, tells every client (`ServerShutdown`), lets in-flight
    /// requests finish, then syncs and closes storage.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.tasks.close();
        // Operator commands now work on the data directory directly.
        let _ = std::fs::remove_file(crate::admin::control::socket_path(&self.services.config().data_dir));
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tasks.wait()).await.is_err() {
            tracing::warn!("connections still open after the shutdown grace period; closing anyway");
            return;
        }
        if let Err(e) = self.services.write_last_seen().await {
            tracing::warn!(error = %e, "last-seen times not written");
        }
        drop(self.services);
        // The commit thread ends once the last services handle is gone; it
        // syncs what is left and the store closes with it.
        let background = self.background;
        let _ = tokio::task::spawn_blocking(move || background.join()).await;
        tracing::info!("shut down cleanly");
    }
}
