//! `slow` and `flood`: chat between others must stay fast while some clients
//! stop reading, or while one address floods the server with idle sockets
//! and silent TLS handshakes. Each scenario measures the same pairs twice —
//! a baseline, then under the disturbance — and reports the ratio.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::report::Report;
use super::traffic::{drive, pairs, Run, Sender};
use super::{concurrently, Bench, Server};
use crate::client::{client_config, ClientError, Transport};
use crate::codec::encode_wire;
use crate::protocol::{encode_frame, Action, AuthRequest, Target, HEADER_LEN};

/// Messages to a stalled reader are this large, so that what it leaves
/// unread soon exceeds every buffer on the way and the server's queue.
const STALLED_MESSAGE_SIZE: usize = 16 * 1024;

fn compare(report: &mut Report, baseline: &Run, disturbed: &Run) {
    baseline.add_to(report, "baseline");
    disturbed.add_to(report, "disturbed");
    report
        .figure("throughput disturbed/baseline", disturbed.delivered_per_sec() / baseline.delivered_per_sec().max(1e-9))
        .figure("p99 disturbed/baseline", disturbed.p99_ms() / baseline.p99_ms().max(1e-9));
}

/// `slow`: `--stalled` extra pairs whose receivers never read, next to the
/// `--pairs` that chat normally.
pub(super) async fn slow(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let prefix = &args.prefix;
    let traffic = pairs(args, server, accounts, "", args.pairs).await?;
    // Each stalled reader authenticates on a raw connection and never reads
    // from it again; its sender writes to it throughout the second run.
    let mut stall_senders = Vec::new();
    let mut stalled = Vec::new();
    for i in 0..args.stalled {
        let (sender, sender_account) = accounts.connect(server, &format!("{prefix}-stalls-{i}"), 0).await?;
        let (receiver, account) = accounts.connect(server, &format!("{prefix}-stallr-{i}"), 0).await?;
        super::befriend(&receiver, &sender, sender_account.user_id).await?;
        drop(receiver);
        stalled.push(authenticate_raw(server, &account.token).await?);
        stall_senders.push(Sender::new(sender, vec![Target::User(account.user_id)], Some(STALLED_MESSAGE_SIZE)));
    }
    b.probe.start();
    let (traffic, baseline) = drive(args, traffic, &[]).await;
    let (_, disturbed) = drive(args, traffic, &stall_senders).await;
    let mut closed = 0u64;
    for stream in &mut stalled {
        if closed_by_server(stream, Duration::from_millis(200)).await {
            closed += 1;
        }
    }
    let mut report = Report::new("slow", "");
    report
        .count("pairs", args.pairs as u64)
        .count("stalled readers", args.stalled as u64)
        .count("stalled readers cut off by the server", closed);
    compare(&mut report, &baseline, &disturbed);
    Ok(report)
}

/// Connections a flood holds open, and how many the server refused.
#[derive(Default)]
struct Flood {
    idle: Vec<TcpStream>,
    silent: Vec<tokio_rustls::client::TlsStream<TcpStream>>,
    refused: u64,
}

/// `flood`: from a second loopback address, `--flood` TCP sockets that never
/// start TLS and `--flood` TLS handshakes that never send a frame.
pub(super) async fn flood(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let Transport::Tls { fingerprint } = server.transport() else {
        return Err(ClientError::Protocol("the flood scenario needs --transport tls".into()));
    };
    let addr = server.addr();
    if !addr.ip().is_loopback() {
        return Err(ClientError::Protocol("the flood scenario floods from 127.0.0.2: use a loopback server".into()));
    }
    let traffic = pairs(args, server, accounts, "", args.pairs).await?;
    b.probe.start();
    let (traffic, baseline) = drive(args, traffic, &[]).await;

    let started = Instant::now();
    let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let config = Arc::new(client_config(fingerprint, false)?);
    let mut flood = Flood::default();
    for socket in
        concurrently((0..args.flood).collect(), args.concurrency, "idle sockets", |_| connect_from(from, addr)).await
    {
        match socket {
            Ok(s) => flood.idle.push(s),
            Err(_) => flood.refused += 1,
        }
    }
    let handshakes = concurrently((0..args.flood).collect(), args.concurrency, "handshakes", |_| {
        let config = config.clone();
        async move {
            let stream = connect_from(from, addr).await?;
            let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
            tokio_rustls::TlsConnector::from(config).connect(name, stream).await
        }
    })
    .await;
    for handshake in handshakes {
        match handshake {
            Ok(s) => flood.silent.push(s),
            Err(_) => flood.refused += 1,
        }
    }
    let (held_idle, held_silent) = (flood.idle.len() as u64, flood.silent.len() as u64);
    let (_, disturbed) = drive(args, traffic, &[]).await;

    // Give the server's handshake and authentication deadlines time to act.
    let settle = Duration::from_secs(12).saturating_sub(started.elapsed());
    tokio::time::sleep(settle).await;
    let patience = Duration::from_millis(1);
    let mut still_open = 0u64;
    for s in &mut flood.idle {
        still_open += u64::from(!closed_by_server(s, patience).await);
    }
    for s in &mut flood.silent {
        still_open += u64::from(!closed_by_server(s, patience).await);
    }
    let mut report = Report::new("flood", "");
    report
        .count("pairs", args.pairs as u64)
        .count("flood connections attempted", 2 * args.flood as u64)
        .count("refused at once", flood.refused)
        .count("idle sockets admitted", held_idle)
        .count("silent TLS sessions admitted", held_silent)
        .count("flood connections still open after 12 s", still_open);
    compare(&mut report, &baseline, &disturbed);
    Ok(report)
}

/// A byte stream to the server that the bench can stop reading.
type RawStream = Box<dyn AsyncStream>;

/// What a raw connection needs to be.
trait AsyncStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> AsyncStream for T {}

/// Opens a TLS or TCP connection, authenticates with `token` and returns the
/// stream after reading the reply.
async fn authenticate_raw(server: &Server, token: &[u8]) -> Result<RawStream, ClientError> {
    let tcp = TcpStream::connect(server.addr()).await?;
    let mut stream: RawStream = match server.transport() {
        Transport::Tcp => Box::new(tcp),
        Transport::Tls { fingerprint } => {
            let config = Arc::new(client_config(fingerprint, false)?);
            let name = rustls::pki_types::ServerName::IpAddress(server.addr().ip().into());
            Box::new(tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?)
        }
        Transport::Quic { .. } => {
            return Err(ClientError::Protocol("the slow scenario runs over tls or tcp".into()));
        }
    };
    let body = encode_wire(&AuthRequest { token: token.to_vec() });
    stream.write_all(&encode_frame(Action::Auth as u8, 1, &body)).await?;
    stream.flush().await?;
    let mut header = [0u8; HEADER_LEN];
    stream.read_exact(&mut header).await?;
    let mut reply = vec![0u8; u32::from_be_bytes([header[9], header[10], header[11], header[12]]) as usize];
    stream.read_exact(&mut reply).await?;
    if header[4] != Action::Auth as u8 {
        return Err(ClientError::Protocol("the stalled reader could not authenticate".into()));
    }
    Ok(stream)
}

/// Whether the server has closed a connection the bench stopped reading:
/// what is left in it can be read to its end, each read within `patience`.
async fn closed_by_server(stream: &mut (impl tokio::io::AsyncRead + Unpin), patience: Duration) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(patience, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn connect_from(ip: IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(server).await
}
