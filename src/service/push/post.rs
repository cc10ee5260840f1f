//! One WebPush request (RFC 8030 section 5): a POST of the encrypted body to
//! the endpoint, over hyper's HTTP/1.1 on a connection made here to an
//! address that passed the endpoint's check. Redirects are answers like
//! any other, never followed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::endpoint::Endpoint;

/// What a push service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its `Retry-After`, when given in seconds.
    pub retry_after: Option<Duration>,
}

/// A request ready to go.
pub(super) struct Post<'a> {
    /// Where.
    pub endpoint: &'a Endpoint,
    /// The `aes128gcm` body.
    pub body: Vec<u8>,
    /// The `Authorization` header, for endpoints that want VAPID.
    pub authorization: Option<String>,
    /// Seconds the push service may keep it.
    pub ttl_secs: u32,
}

/// The TLS configuration requests to `https://` endpoints use: the
/// system's trusted certificates (`SSL_CERT_FILE` and `SSL_CERT_DIR` are
/// honoured), HTTP/1.1.
pub(super) fn tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "reading the system's trusted certificates");
    }
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(added, ignored, "trusted certificates for push services");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Sends `post` to the first of `addresses` that takes a connection.
pub(super) async fn send(
    post: Post<'_>,
    addresses: &[SocketAddr],
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Answer, String> {
    let mut last = String::from("no address");
    for address in addresses {
        let tcp = match TcpStream::connect(address).await {
            Ok(tcp) => tcp,
            Err(e) => {
                last = format!("connecting to {address}: {e}");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        if !post.endpoint.https {
            return exchange(tcp, post).await;
        }
        let name = rustls::pki_types::ServerName::try_from(post.endpoint.host.clone())
            .map_err(|e| format!("{}: {e}", post.endpoint.host))?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {}: {e}", post.endpoint.host))?;
        return exchange(stream, post).await;
    }
    Err(last)
}

async fn exchange(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    post: Post<'_>,
) -> Result<Answer, String> {
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let header = |value: &str| HeaderValue::from_str(value).map_err(|e| e.to_string());
    let mut request = Request::post(post.endpoint.path.as_str())
        .header(HOST, header(&post.endpoint.authority)?)
        .header(CONTENT_ENCODING, "aes128gcm")
        .header(CONTENT_TYPE, "application/octet-stream")
        .header("TTL", post.ttl_secs)
        .header("Urgency", "high");
    if let Some(authorization) = &post.authorization {
        request = request.header(AUTHORIZATION, header(authorization)?);
    }
    let request = request.body(Full::new(Bytes::from(post.body))).map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string());
    driver.abort();
    let response = response?;
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Ok(Answer { status: response.status(), retry_after })
}
