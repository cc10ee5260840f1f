//! One loop per connection, whatever the transport.
//!
//! TLS, plain TCP and QUIC each hand this module a reader and a writer; the
//! loop reads frames, checks them (`request.rs`), hands each typed request
//! to its handler through the router, and writes the replies and the
//! pushes the hub queues for it. The loop knows no individual action. A
//! handler that writes answers later: its reply waits for the group commit
//! alongside further requests (up to `max_inflight`), so a client can keep
//! a window of writes in flight; everything else is answered in frame order.

mod rate;
mod request;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::hub::{Closer, SessionHandle};
use crate::protocol::{DisconnectReason, FrameDecoder, FrameError, Push};
use crate::service::{Identity, ServiceError, Services};
use rate::TokenBucket;
use request::Step;

/// How long a closing connection gets to take its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long shutdown waits for in-flight requests to finish.
const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// Pushes gathered into one write.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// What a transport knows about a new connection.
#[derive(Clone)]
pub struct SessionContext {
    /// The services requests go to.
    pub services: Arc<Services>,
    /// Remote address.
    pub peer: SocketAddr,
    /// `tls`, `tcp` or `quic`.
    pub transport: &'static str,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
}

/// A request answered later: its sequence id and the future of its reply frame.
type Inflight = Pin<Box<dyn std::future::Future<Output = (u32, Vec<u8>)> + Send>>;

/// The part of a session the request handlers see.
pub(crate) struct Session {
    ctx: SessionContext,
    session_id: u64,
    closer: Arc<Closer>,
    identity: Option<Arc<Identity>>,
    limiter: TokenBucket,
    /// Sequence ids of requests still in progress; reusing one is refused,
    /// since its two replies could not be told apart.
    pending: HashSet<u32>,
}

/// Why the loop ended.
enum End {
    /// Tell the client why, then close.
    Close(DisconnectReason),
    /// The peer went away or the stream failed; nothing more to say.
    Gone,
}

/// Runs a connection to completion; returns why the server closed it, or
/// `None` if the peer went away.
pub async fn run<R, W>(reader: R, writer: W, ctx: SessionContext) -> Option<DisconnectReason>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let span = tracing::info_span!(
        "conn",
        peer = %ctx.peer,
        transport = ctx.transport,
        user = tracing::field::Empty,
        device = tracing::field::Empty
    );
    async move {
        tracing::debug!("connected");
        let services = ctx.services.clone();
        let mut session = Session {
            session_id: services.hub().next_session_id(),
            closer: Arc::new(Closer::default()),
            identity: None,
            pending: HashSet::new(),
            limiter: TokenBucket::new(
                services.config().limits.requests_per_second,
                services.config().limits.request_burst,
                Instant::now(),
            ),
            ctx,
        };
        let mut writer =
            FrameWriter { inner: writer, buf: Vec::new(), timeout: services.config().limits.write_timeout() };
        let end = session.serve(reader, &mut writer).await;
        if let Some(identity) = &session.identity {
            if services.hub().unregister(identity.user_id, session.session_id) {
                services.presence_changed(identity.user_id, false);
            }
        }
        let reason = match end {
            End::Close(reason) => {
                tracing::debug!(?reason, "closing");
                let push = Push::Disconnect(reason.into()).frame();
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    writer.write(&push).await?;
                    writer.inner.shutdown().await
                })
                .await;
                Some(reason)
            }
            End::Gone => None,
        };
        tracing::debug!("disconnected");
        reason
    }
    .instrument(span)
    .await
}

impl Session {
    async fn serve<R, W>(&mut self, reader: R, writer: &mut FrameWriter<W>) -> End
    where
        R: AsyncRead + Unpin + Send,
        W: AsyncWrite + Unpin + Send,
    {
        let limits = self.ctx.services.config().limits.clone();
        // Until the connection authenticates only small frames are read.
        let decoder = FrameDecoder::new(limits.max_unauthenticated_frame_bytes);
        let mut frames = FramedRead::with_capacity(reader, decoder, 64);
        let mut inflight: FuturesUnordered<Inflight> = FuturesUnordered::new();
        let mut pushes: Option<mpsc::Receiver<Bytes>> = None;
        let deadline = tokio::time::sleep(limits.auth_timeout());
        tokio::pin!(deadline);
        let closer = self.closer.clone();
        let shutdown = self.ctx.shutdown.clone();

        loop {
            let room = inflight.len() < limits.max_inflight;
            let step = tokio::select! {
                biased;
                reason = closer.closed() => return End::Close(reason),
                () = shutdown.cancelled() => {
                    let _ = tokio::time::timeout(DRAIN_GRACE, async {
                        while let Some((_, reply)) = inflight.next().await {
                            writer.write(&reply).await?;
                        }
                        Ok::<_, std::io::Error>(())
                    })
                    .await;
                    return End::Close(DisconnectReason::ServerShutdown);
                }
                Some((seq, reply)) = inflight.next(), if !inflight.is_empty() => {
                    self.pending.remove(&seq);
                    Step::Reply(reply)
                }
                Some(push) = recv(&mut pushes) => {
                    if writer.write_pushes(push, pushes.as_mut()).await.is_err() {
                        return End::Gone;
                    }
                    continue;
                }
                frame = frames.next(), if room => match frame {
                    None => return End::Gone,
                    Some(Err(FrameError::Io(e))) => {
                        tracing::debug!(error = %e, "read failed");
                        return End::Gone;
                    }
                    Some(Err(FrameError::Fatal(refused))) => {
                        tracing::info!(code = ?refused.code, value = refused.detail, "refused frame header");
                        let max_body = frames.decoder().max_body();
                        let error = match refused.code {
                            crate::protocol::ErrorCode::FrameTooLarge => ServiceError::new(refused.code, format!(
                                "body of {} bytes exceeds the limit of {max_body}", refused.detail))
                                .with_limit(max_body as u64),
                            _ => ServiceError::new(refused.code, format!(
                                "protocol version {} is not supported; this server speaks {}",
                                refused.detail, crate::protocol::VERSION)),
                        };
                        let _ = writer.write(&request::error_frame(refused.sequence, &error)).await;
                        return End::Close(DisconnectReason::ProtocolError);
                    }
                    Some(Ok(frame)) => {
                        if self.identity.is_some() {
                            deadline.as_mut().reset(tokio::time::Instant::now() + limits.idle_timeout());
                        }
                        self.handle(frame).await
                    }
                },
                () = &mut deadline => {
                    return End::Close(if self.identity.is_some() {
                        DisconnectReason::IdleTimeout
                    } else {
                        DisconnectReason::AuthTimeout
                    });
                }
            };
            let written = match step {
                Step::Reply(reply) => writer.write(&reply).await,
                Step::Inflight(seq, future) => {
                    self.pending.insert(seq);
                    inflight.push(future);
                    Ok(())
                }
                Step::Authenticated(reply, queue) => {
                    pushes = Some(queue);
                    frames.decoder_mut().set_max_body(limits.max_frame_bytes);
                    deadline.as_mut().reset(tokio::time::Instant::now() + limits.idle_timeout());
                    writer.write(&reply).await
                }
                Step::Close(reply, reason) => {
                    let _ = writer.write(&reply).await;
                    return End::Close(reason);
                }
            };
            if written.is_err() {
                return End::Gone;
            }
        }
    }

    /// Records who this connection is and registers it with the hub, which
    /// pushes off an older session of the same device type.
    fn become_authenticated(&mut self, identity: Identity) -> mpsc::Receiver<Bytes> {
        let services = &self.ctx.services;
        let (tx, rx) = mpsc::channel(services.config().limits.outbound_queue);
        let span = tracing::Span::current();
        span.record("user", identity.user_id);
        span.record("device", identity.device_id.as_str());
        let came_online = services.hub().register(Arc::new(SessionHandle {
            session_id: self.session_id,
            user_id: identity.user_id,
            device_id: identity.device_id.clone(),
            device_type: identity.device_type,
            client_type: identity.client_type,
            peer: self.ctx.peer,
            transport: self.ctx.transport,
            since: crate::id::now_ms(),
            outbound: tx,
            closer: self.closer.clone(),
        }));
        if came_online {
            services.presence_changed(identity.user_id, true);
        }
        tracing::info!("authenticated");
        self.identity = Some(Arc::new(identity));
        rx
    }
}

async fn recv(queue: &mut Option<mpsc::Receiver<Bytes>>) -> Option<Bytes> {
    match queue {
        Some(q) => q.recv().await,
        None => std::future::pending().await,
    }
}

/// The writing half of a connection, with a reusable buffer for batching
/// and a deadline on every write: a peer that stops reading cannot hold its
/// session (and the memory behind it) forever.
struct FrameWriter<W> {
    inner: W,
    buf: Vec<u8>,
    timeout: Duration,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    async fn write(&mut self, frame: &[u8]) -> std::io::Result<()> {
        let inner = &mut self.inner;
        deadline(self.timeout, async move {
            inner.write_all(frame).await?;
            inner.flush().await
        })
        .await
    }

    /// Writes `first` and whatever else is already queued, in one write.
    async fn write_pushes(&mut self, first: Bytes, queue: Option<&mut mpsc::Receiver<Bytes>>) -> std::io::Result<()> {
        self.buf.extend_from_slice(&first);
        if let Some(queue) = queue {
            while self.buf.len() < WRITE_BATCH_BYTES {
                match queue.try_recv() {
                    Ok(frame) => self.buf.extend_from_slice(&frame),
                    Err(_) => break,
                }
            }
        }
        let (inner, buf) = (&mut self.inner, &self.buf);
        let result = deadline(self.timeout, async move {
            inner.write_all(buf).await?;
            inner.flush().await
        })
        .await;
        self.buf.clear();
        if self.buf.capacity() > WRITE_BATCH_BYTES * 2 {
            self.buf = Vec::new();
        }
        result
    }
}

/// Runs a write, failing it with `TimedOut` once `limit` has passed.
async fn deadline(
    limit: Duration,
    write: impl std::future::Future<Output = std::io::Result<()>>,
) -> std::io::Result<()> {
    match tokio::time::timeout(limit, write).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "peer stopped reading")),
    }
}
