//! An async client for the kith protocol, used by the tests, the load
//! generator and anyone writing a bot in Rust.
//!
//! Every request goes through one typed call: [`Client::call`] takes any
//! request body of the action table and returns that action's reply type.
//! Pushes arrive decoded by the same push table the server encodes them
//! from.
//!
//! ```no_run
//! # async fn demo(addr: std::net::SocketAddr, pin: [u8; 32]) -> Result<(), kith::client::ClientError> {
//! use kith::client::{Client, Transport};
//! use kith::protocol::{ClientType, DeviceInfo, DeviceType, FindUserRequest};
//!
//! let mut client = Client::connect(addr, &Transport::Tls { fingerprint: pin }).await?;
//! let device = DeviceInfo { device_id: "bot-1".into(), device_type: DeviceType::Desktop, client_type: ClientType::Other };
//! client.login("alice", "correct horse battery", device).await?;
//! let bob = client.call(&FindUserRequest { username: "bob".into() }).await?;
//! client.send_text(bob.user_id, "hello").await?;
//! while let Some(push) = client.next_push().await { println!("{push:?}"); }
//! # Ok(()) }
//! ```

mod connection;
mod media;
mod pin;

pub use media::{attachment, sha256, FileShape};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};

pub use connection::RawReply;
pub use pin::client_config;

use crate::codec::{decode_wire, encode_wire};
use crate::protocol::{
    AuthReply, AuthRequest, DeviceInfo, Direction, EditRequest, ErrorBody, ErrorCode, Heartbeat, HistoryRequest,
    LoginReply, LoginRequest, Logout, Message, MessageKind, Push, RateLimitReason, RegisterRequest, Rpc, SendReply,
    SendRequest, SyncRequest, Target, Update, UpdateBody, ERROR_ACTION, QUIC_IDLE_TIMEOUT, QUIC_KEEP_ALIVE,
};
use connection::Outgoing;

/// How to reach the server.
#[derive(Debug, Clone)]
pub enum Transport {
    /// TCP with TLS, trusting the certificate with this SHA-256.
    Tls {
        /// Pinned certificate fingerprint.
        fingerprint: [u8; 32],
    },
    /// Plain TCP (loopback development only).
    Tcp,
    /// QUIC over UDP, trusting the certificate with this SHA-256.
    Quic {
        /// Pinned certificate fingerprint.
        fingerprint: [u8; 32],
    },
}

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("server refused ({}): {}", .0.code, .0.message)]
    Server(ErrorBody),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// Connecting failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The QUIC connection could not be made.
    #[error("QUIC: {0}")]
    Quic(String),
    /// The server sent something this client does not understand.
    #[error("protocol: {0}")]
    Protocol(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
}

impl ClientError {
    /// The server's error code, when the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server(body) => body.error_code(),
            _ => None,
        }
    }

    /// How long the server asked to wait before retrying, with `RateLimited`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Server(body) => body.retry_after_ms.map(Duration::from_millis),
            _ => None,
        }
    }

    /// The limit a refused request ran into, when the server names one.
    pub fn limit(&self) -> Option<u64> {
        match self {
            ClientError::Server(body) => body.limit,
            _ => None,
        }
    }

    /// The current use beside [`ClientError::limit`], with `QuotaExceeded`
    /// and `StorageFull`.
    pub fn used(&self) -> Option<u64> {
        match self {
            ClientError::Server(body) => body.used,
            _ => None,
        }
    }

    /// Why the server answered `RateLimited`, when it is a reason this
    /// client knows.
    pub fn rate_limit_reason(&self) -> Option<RateLimitReason> {
        match self {
            ClientError::Server(body) => body.rate_limit_reason(),
            _ => None,
        }
    }
}

/// A connection to a kith server.
pub struct Client {
    commands: mpsc::Sender<Outgoing>,
    pushes: mpsc::Receiver<Push>,
    quic: Option<(quinn::Endpoint, quinn::Connection)>,
}

/// Pushes buffered before the application reads them; beyond this the
/// client stops reading the socket (and the server eventually disconnects it).
const PUSH_BUFFER: usize = 8192;

/// A fresh random client message id.
///
/// The id is a UUID version 7: 48 bits of Unix milliseconds, then random
/// bits. Time-ordered ids land next to each other in the server's
/// idempotency index instead of all over it, which makes sends cheaper.
pub fn new_client_msg_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    // Without randomness the clock alone still keeps ids unique enough per
    // sender for a client; getrandom fails only on broken systems.
    let _ = getrandom::getrandom(&mut id[6..]);
    id[..6].copy_from_slice(&crate::id::now_ms().to_be_bytes()[2..]);
    id[6] = 0x70 | (id[6] & 0x0f);
    id[8] = 0x80 | (id[8] & 0x3f);
    id
}

impl Client {
    /// Connects over `transport`.
    pub async fn connect(addr: SocketAddr, transport: &Transport) -> Result<Client, ClientError> {
        Client::connect_with(addr, transport, &ConnectOptions::default()).await
    }

    /// Connects over `transport` from a chosen local address or QUIC endpoint.
    pub async fn connect_with(
        addr: SocketAddr,
        transport: &Transport,
        options: &ConnectOptions,
    ) -> Result<Client, ClientError> {
        match transport {
            Transport::Quic { fingerprint } => {
                let endpoint = match &options.quic_endpoint {
                    Some(endpoint) => endpoint.clone(),
                    None => quic_endpoint(local_addr_for(addr, options.local_ip), *fingerprint)?,
                };
                Client::connect_quic(addr, endpoint).await
            }
            Transport::Tcp => {
                let (reader, writer) = tcp(addr, options.local_ip).await?.into_split();
                Ok(Client::spawn(reader, writer))
            }
            Transport::Tls { fingerprint } => {
                let stream = tcp(addr, options.local_ip).await?;
                let config = Arc::new(client_config(*fingerprint, false)?);
                let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                let stream = tokio_rustls::TlsConnector::from(config).connect(name, stream).await?;
                let (reader, writer) = tokio::io::split(stream);
                Ok(Client::spawn(reader, writer))
            }
        }
    }

    async fn connect_quic(addr: SocketAddr, endpoint: quinn::Endpoint) -> Result<Client, ClientError> {
        let connection = endpoint.connect(addr, "kith").map_err(quic_error)?.await.map_err(quic_error)?;
        let (send, recv) = connection.open_bi().await.map_err(quic_error)?;
        let mut client = Client::spawn(recv, send);
        client.quic = Some((endpoint, connection));
        Ok(client)
    }

    /// Moves a QUIC client to a new UDP socket, as a phone does when it
    /// switches networks; the session continues. Errors on other transports.
    pub fn rebind(&self, socket: std::net::UdpSocket) -> Result<(), ClientError> {
        match &self.quic {
            Some((endpoint, _)) => Ok(endpoint.rebind(socket)?),
            None => Err(ClientError::Quic("not a QUIC connection".into())),
        }
    }

    /// The local UDP address of a QUIC client.
    pub fn local_quic_addr(&self) -> Option<SocketAddr> {
        self.quic.as_ref().and_then(|(endpoint, _)| endpoint.local_addr().ok())
    }

    /// The application close code of a closed QUIC connection (the
    /// `DisconnectReason` number), once it is closed.
    pub fn quic_close_code(&self) -> Option<u64> {
        match self.quic.as_ref()?.1.close_reason()? {
            quinn::ConnectionError::ApplicationClosed(close) => Some(close.error_code.into_inner()),
            _ => None,
        }
    }

    /// Wraps an established byte stream.
    pub fn spawn<R, W>(reader: R, writer: W) -> Client
    where
        R: tokio::io::AsyncRead + Unpin + Send + 'static,
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (commands, command_rx) = mpsc::channel(1024);
        let (push_tx, pushes) = mpsc::channel(PUSH_BUFFER);
        tokio::spawn(connection::drive(reader, writer, command_rx, push_tx));
        Client { commands, pushes, quic: None }
    }

    /// Sends a request with an encoded body and returns the raw reply.
    pub async fn request_raw(&self, action: u8, body: Vec<u8>) -> Result<RawReply, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Outgoing::Request { action, body, reply }).await.map_err(|_| ClientError::Closed)?;
        rx.await.map_err(|_| ClientError::Closed)
    }

    /// Writes arbitrary bytes. If `sequence` is given, waits for the response
    /// with that sequence id.
    pub async fn send_bytes(&self, bytes: Vec<u8>, sequence: Option<u32>) -> Result<Option<RawReply>, ClientError> {
        let (reply, rx) = match sequence {
            Some(_) => {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        self.commands.send(Outgoing::Raw { bytes, sequence, reply }).await.map_err(|_| ClientError::Closed)?;
        match rx {
            Some(rx) => Ok(Some(rx.await.map_err(|_| ClientError::Closed)?)),
            None => Ok(None),
        }
    }

    /// Sends a request and decodes its reply, or the server's error.
    pub async fn call<R: Rpc>(&self, request: &R) -> Result<R::Reply, ClientError> {
        let reply = self.request_raw(R::ACTION as u8, encode_wire(request)).await?;
        if reply.action == ERROR_ACTION {
            let error: ErrorBody = decode_wire(&reply.body).map_err(|e| ClientError::Protocol(e.to_string()))?;
            return Err(ClientError::Server(error));
        }
        if reply.action != R::ACTION as u8 {
            return Err(ClientError::Protocol(format!("reply action 0x{:02x} to {:?}", reply.action, R::ACTION)));
        }
        decode_wire(&reply.body).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Creates an account; returns its id.
    pub async fn register(&self, username: &str, password: &str) -> Result<u64, ClientError> {
        let request = RegisterRequest { username: username.into(), password: password.into(), invitation: None };
        Ok(self.call(&request).await?.user_id)
    }

    /// Logs in with a password; the connection is then authenticated.
    pub async fn login(&self, username: &str, password: &str, device: DeviceInfo) -> Result<LoginReply, ClientError> {
        self.call(&LoginRequest { username: username.into(), password: password.into(), device }).await
    }

    /// Authenticates with a token from an earlier login.
    pub async fn auth(&self, token: &[u8]) -> Result<AuthReply, ClientError> {
        self.call(&AuthRequest { token: token.to_vec() }).await
    }

    /// Revokes this device's token; the server then closes the connection.
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.call(&Logout).await
    }

    /// Keeps the connection alive; returns the server's clock.
    pub async fn heartbeat(&self) -> Result<u64, ClientError> {
        Ok(self.call(&Heartbeat).await?.server_time)
    }

    /// Sends a text message to a user with a fresh client message id.
    pub async fn send_text(&self, to: u64, text: &str) -> Result<SendReply, ClientError> {
        self.send_text_to(Target::User(to), text).await
    }

    /// Sends a text message to a user or a group with a fresh client message id.
    pub async fn send_text_to(&self, to: Target, text: &str) -> Result<SendReply, ClientError> {
        self.reply_text(to, 0, text).await
    }

    /// Sends a text message answering message `reply_to` of the same
    /// conversation (0: none) with a fresh client message id.
    pub async fn reply_text(&self, to: Target, reply_to: u64, text: &str) -> Result<SendReply, ClientError> {
        self.call(&SendRequest {
            to,
            client_msg_id: new_client_msg_id(),
            kind: MessageKind::Text,
            content: text.as_bytes().to_vec(),
            extra: None,
            reply_to,
            mentions: Vec::new(),
        })
        .await
    }

    /// Replaces the text of a message the caller sent.
    pub async fn edit_text(&self, with: Target, message_id: u64, text: &str) -> Result<Message, ClientError> {
        self.call(&EditRequest { with, message_id, content: text.as_bytes().to_vec() }).await
    }

    /// One message of a conversation, if the caller may read it (a recalled
    /// one as its tombstone): how a reader resolves a reply's original or
    /// re-reads an edited message.
    pub async fn message(&self, with: Target, id: u64) -> Result<Option<Message>, ClientError> {
        let page = self
            .call(&HistoryRequest { with, direction: Direction::Before, anchor: id.saturating_add(1), limit: 1 })
            .await?;
        Ok(page.messages.into_iter().find(|m| m.id == id))
    }

    /// Every update after `after`, fetched page by page until `more` is false.
    pub async fn sync_all(&self, after: u64) -> Result<Vec<Update>, ClientError> {
        let mut out: Vec<Update> = Vec::new();
        let mut cursor = after;
        loop {
            let page = self.call(&SyncRequest { after: cursor, limit: 100 }).await?;
            if let Some(last) = page.updates.last() {
                cursor = last.id;
            }
            out.extend(page.updates);
            if !page.more {
                return Ok(out);
            }
        }
    }

    /// Every message update after `after`, fetched page by page.
    pub async fn sync_messages(&self, after: u64) -> Result<Vec<Message>, ClientError> {
        Ok(self.sync_all(after).await?.iter().filter_map(message_of).collect())
    }

    /// Drops every push from now on, for a connection that only sends:
    /// unread pushes would otherwise fill the buffer and stall its replies.
    pub fn discard_pushes(&mut self) {
        let (_, closed) = mpsc::channel(1);
        let mut pushes = std::mem::replace(&mut self.pushes, closed);
        tokio::spawn(async move { while pushes.recv().await.is_some() {} });
    }

    /// The next push, or `None` once the connection is closed and drained.
    pub async fn next_push(&mut self) -> Option<Push> {
        self.pushes.recv().await
    }

    /// The next push within `wait`.
    pub async fn push_within(&mut self, wait: Duration) -> Result<Push, ClientError> {
        match tokio::time::timeout(wait, self.pushes.recv()).await {
            Ok(Some(push)) => Ok(push),
            Ok(None) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout),
        }
    }

    /// The next pushed update within `wait`, skipping other pushes.
    pub async fn update_within(&mut self, wait: Duration) -> Result<Update, ClientError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Push::Update(update) = self.push_within(left).await? {
                return Ok(update);
            }
        }
    }

    /// The next pushed message within `wait`, skipping other pushes and updates.
    pub async fn message_within(&mut self, wait: Duration) -> Result<Message, ClientError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Some(message) = message_of(&self.update_within(left).await?) {
                return Ok(message);
            }
        }
    }
}

/// The message an update carries, if it is a message update.
pub fn message_of(update: &Update) -> Option<Message> {
    match update.decode() {
        Ok(Some(UpdateBody::Message(message))) => Some(message),
        _ => None,
    }
}

/// Where a connection starts from; the defaults suit most callers.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Local IP address to connect from. The load generator spreads many
    /// connections over several loopback addresses this way.
    pub local_ip: Option<IpAddr>,
    /// A QUIC endpoint (one UDP socket) to share between many connections;
    /// without one, each QUIC client makes its own.
    pub quic_endpoint: Option<quinn::Endpoint>,
}

/// Bytes a QUIC client lets the server send ahead: room for a full page
/// (1 MiB of content) and the pushes behind it.
const RECEIVE_WINDOW: u32 = 4 * 1024 * 1024;

/// A QUIC client endpoint on `local` that trusts only the pinned certificate,
/// accepts no streams from the server and sends keep-alives.
pub fn quic_endpoint(local: SocketAddr, fingerprint: [u8; 32]) -> Result<quinn::Endpoint, ClientError> {
    let mut endpoint = quinn::Endpoint::client(local)?;
    let crypto =
        quinn::crypto::rustls::QuicClientConfig::try_from(client_config(fingerprint, true)?).map_err(quic_error)?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(quinn::VarInt::from_u32(0))
        .max_concurrent_uni_streams(quinn::VarInt::from_u32(0))
        .stream_receive_window(quinn::VarInt::from_u32(RECEIVE_WINDOW))
        .receive_window(quinn::VarInt::from_u32(RECEIVE_WINDOW))
        .datagram_receive_buffer_size(None)
        .max_idle_timeout(Some(quinn::VarInt::from_u32(QUIC_IDLE_TIMEOUT.as_millis() as u32).into()))
        .keep_alive_interval(Some(QUIC_KEEP_ALIVE));
    config.transport_config(Arc::new(transport));
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

fn quic_error(e: impl std::fmt::Display) -> ClientError {
    ClientError::Quic(e.to_string())
}

fn local_addr_for(remote: SocketAddr, ip: Option<IpAddr>) -> SocketAddr {
    let unspecified: IpAddr =
        if remote.is_ipv6() { Ipv6Addr::UNSPECIFIED.into() } else { Ipv4Addr::UNSPECIFIED.into() };
    SocketAddr::new(ip.unwrap_or(unspecified), 0)
}

async fn tcp(addr: SocketAddr, local_ip: Option<IpAddr>) -> Result<TcpStream, ClientError> {
    let stream = match local_ip {
        None => TcpStream::connect(addr).await?,
        Some(ip) => {
            let socket = if addr.is_ipv6() { TcpSocket::new_v6()? } else { TcpSocket::new_v4()? };
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(addr).await?
        }
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}
