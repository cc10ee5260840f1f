//! Media over HTTPS on the TLS port: a TLS client that asks for ALPN
//! `http/1.1` (as OkHttp, Coil, Glide, ExoPlayer and curl do) is served by
//! hyper instead of the session loop. It answers only `GET` and `HEAD` of a
//! signed media URL (PROTOCOL section 5, Media): the signature, its expiry and
//! the one access rule are checked on every request, so a URL stops working
//! the moment its user may no longer read the file. Range requests (one
//! range) get `206`; the ETag is the content's hash, and since a file's
//! bytes never change, a response may be cached for good by whoever
//! fetched it.

use std::convert::Infallible;
use std::io::SeekFrom;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite};

use crate::hex::hex;
use crate::service::{open_signed_url, Services, UrlRefusal};

/// The ALPN name a TLS client asks for to be served media over HTTP.
pub(super) const ALPN_HTTP: &[u8] = b"http/1.1";

/// Bytes read from disk per body frame: a slow reader holds at most a few
/// of these, as hyper polls the body only as the socket drains.
const FRAME_BYTES: usize = 64 * 1024;

type Body = BoxBody<Bytes, std::io::Error>;

/// Serves one HTTP/1.1 connection until the client closes it or stays
/// silent past `timeout` while a request's headers are due.
pub(super) async fn serve<S>(stream: S, services: Arc<Services>, peer: SocketAddr, timeout: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| respond(services.clone(), request));
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .max_buf_size(16 * 1024)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = connection.await {
        tracing::debug!(%peer, error = %e, "media HTTP connection ended");
    }
}

async fn respond(services: Arc<Services>, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(match answer(&services, &request).await {
        Ok(response) => response,
        Err(status) => bare(status),
    })
}

async fn answer(services: &Arc<Services>, request: &Request<Incoming>) -> Result<Response<Body>, StatusCode> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = bare(StatusCode::METHOD_NOT_ALLOWED);
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(response);
    }
    let uri = request.uri();
    let record =
        open_signed_url(services, uri.path(), uri.query().unwrap_or("")).await.map_err(|refusal| match refusal {
            UrlRefusal::NotFound => StatusCode::NOT_FOUND,
            UrlRefusal::Expired => StatusCode::FORBIDDEN,
        })?;
    let etag = format!("\"{}\"", hex(&record.sha256));
    let mut response = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "private, max-age=31536000, immutable");
    let size = record.size;
    if request.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return response.status(StatusCode::NOT_MODIFIED).body(empty()).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR);
    }
    let wanted = request.headers().get(header::RANGE).map_or(Wanted::Whole, |v| range(v.as_bytes(), size));
    let (status, start, length) = match wanted {
        Wanted::Whole => (StatusCode::OK, 0, size),
        Wanted::Part(start, end) => {
            response = response.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        Wanted::Unsatisfiable => {
            return response
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .body(empty())
                .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let response = response
        .status(status)
        .header(header::CONTENT_TYPE, record.mime.as_str())
        .header(header::CONTENT_LENGTH, length);
    let body = if request.method() == Method::HEAD {
        empty()
    } else {
        file_body(services.media_files().blob_path(&record.sha256), start, length).await?
    };
    response.body(body).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

/// `length` bytes of a file from `start`, read as the client takes them.
async fn file_body(path: std::path::PathBuf, start: u64, length: u64) -> Result<Body, StatusCode> {
    let mut file = tokio::fs::File::open(path).await.map_err(|_| StatusCode::NOT_FOUND)?;
    file.seek(SeekFrom::Start(start)).await.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let frames = futures_util::stream::unfold((file.take(length), length), |(mut file, left)| async move {
        if left == 0 {
            return None;
        }
        let mut buffer = vec![0; FRAME_BYTES.min(left as usize)];
        match file.read(&mut buffer).await {
            Ok(0) => Some((Err(std::io::Error::other("the file ended early")), (file, 0))),
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buffer))), (file, left - n as u64)))
            }
            Err(e) => Some((Err(e), (file, 0))),
        }
    });
    Ok(StreamBody::new(frames).boxed())
}

/// What a `Range` header asks of a file.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    /// The whole file: no range this server serves as one (another unit,
    /// several ranges), which RFC 9110 lets a server ignore.
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// A range that lies outside the file: `416`.
    Unsatisfiable,
}

/// What a `Range: bytes=…` header asks of a file of `size` bytes.
fn range(header: &[u8], size: u64) -> Wanted {
    let Some(spec) = std::str::from_utf8(header).ok().and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    part(spec.trim(), size).map_or(Wanted::Unsatisfiable, |(start, end)| Wanted::Part(start, end))
}

/// One `first-last` range spec, inclusive, clipped to the file.
fn part(spec: &str, size: u64) -> Option<(u64, u64)> {
    let (first, last) = spec.split_once('-')?;
    let (start, end) = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok().filter(|n| *n > 0)?;
            (size.saturating_sub(n), size - 1)
        }
        (first, "") => (first.parse().ok()?, size - 1),
        (first, last) => (first.parse().ok()?, last.parse::<u64>().ok()?.min(size - 1)),
    };
    (start <= end && start < size).then_some((start, end))
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

fn bare(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(empty());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::{range, Wanted};

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(range(b"bytes=0-99", 1000), Wanted::Part(0, 99));
        assert_eq!(range(b"bytes=900-", 1000), Wanted::Part(900, 999));
        assert_eq!(range(b"bytes=-100", 1000), Wanted::Part(900, 999));
        assert_eq!(range(b"bytes=-5000", 1000), Wanted::Part(0, 999));
        assert_eq!(range(b"bytes=990-5000", 1000), Wanted::Part(990, 999));
        assert_eq!(range(b"bytes=1000-", 1000), Wanted::Unsatisfiable, "starts past the end");
        assert_eq!(range(b"bytes=50-10", 1000), Wanted::Unsatisfiable, "ends before it starts");
        assert_eq!(range(b"bytes=-0", 1000), Wanted::Unsatisfiable);
        assert_eq!(range(b"bytes=x-", 1000), Wanted::Unsatisfiable);
        assert_eq!(range(b"bytes=0-1,5-6", 1000), Wanted::Whole, "several ranges: the whole file");
        assert_eq!(range(b"items=0-1", 1000), Wanted::Whole, "another unit: the whole file");
    }
}
