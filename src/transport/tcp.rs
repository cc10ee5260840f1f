//! TCP listeners, with TLS (the main transport) or without (loopback
//! development and tests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::{http, Listening, TlsConfigCell};
use crate::session::{self, SessionContext};

/// Accepts connections until shutdown. With `tls`, each connection first
/// completes a TLS handshake within the configured timeout; one that chose
/// ALPN `http/1.1` is served media over HTTPS ([`http`]), any other runs
/// the session loop.
pub async fn serve_tcp(listener: TcpListener, tls: Option<Arc<TlsConfigCell>>, listening: Listening) {
    let transport = if tls.is_some() { "tls" } else { "tcp" };
    loop {
        let accepted = tokio::select! {
            () = listening.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors or similar: back off instead of spinning.
                tracing::warn!(error = %e, transport, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(permit) = listening.limiter.admit(peer.ip()) else {
            tracing::debug!(%peer, transport, "connection limit reached, refusing");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let ctx = SessionContext {
            services: listening.services.clone(),
            peer,
            transport,
            shutdown: listening.shutdown.clone(),
        };
        let tls = tls.as_ref().map(|cell| TlsAcceptor::from(cell.current()));
        let handshake_timeout = listening.services.config().limits.handshake_timeout();
        listening.tasks.spawn(async move {
            let _permit = permit;
            match tls {
                None => {
                    let (reader, writer) = stream.into_split();
                    let _ = session::run(reader, writer, ctx).await;
                }
                Some(acceptor) => {
                    let Some(stream) = handshake(acceptor, stream, peer, handshake_timeout).await else { return };
                    if stream.get_ref().1.alpn_protocol() == Some(http::ALPN_HTTP) {
                        http::serve(stream, ctx.services, peer, handshake_timeout).await;
                    } else {
                        let (reader, writer) = tokio::io::split(stream);
                        let _ = session::run(reader, writer, ctx).await;
                    }
                }
            }
        });
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}
