//! Bounded resources: connection caps, handshake deadlines, QUIC stream
//! limits, and a reader that stops reading.

use crate::common;

use std::time::Duration;

use common::{device, Kind, TestServer, PASSWORD, SOON};
use kith::client::{quic_endpoint, Client, ClientError, Transport};
use kith::codec::{decode_wire, encode_wire};
use kith::protocol::{encode_frame, Action, DeviceType, LoginRequest, HEADER_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_caps_are_closed_before_the_handshake() {
    let server = TestServer::start_with(|c| {
        c.limits.max_connections_per_ip = 3;
        c.limits.max_connections = 4;
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let c = server.connect(Kind::Tcp).await;
        c.heartbeat().await.unwrap();
        open.push(c);
    }
    // A fourth from the same address is dropped at once.
    let refused = server.connect(Kind::Tcp).await;
    assert!(matches!(refused.heartbeat().await, Err(ClientError::Closed)));
    let tls = server.server().tls_addr.unwrap();
    let pin = server.server().fingerprint;
    assert!(Client::connect(tls, &Transport::Tls { fingerprint: pin }).await.is_err(), "TLS handshake refused too");
    // Closing one frees its slot.
    open.pop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.connect(Kind::Tcp).await.heartbeat().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_tls_handshake_is_cut_off() {
    let server = TestServer::start_with(|c| c.limits.handshake_timeout_secs = 1).await;
    let mut silent = TcpStream::connect(server.server().tls_addr.unwrap()).await.unwrap();
    // Meanwhile others are served: the handshake waits in its own task.
    let user = server.user(Kind::Tls, "alice").await;
    user.client.heartbeat().await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(3), silent.read(&mut buf)).await.expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "the server hung up: {read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_allows_one_stream_per_connection() {
    let server = TestServer::start().await;
    let endpoint = quic_endpoint("127.0.0.1:0".parse().unwrap(), server.server().fingerprint).unwrap();
    let connection = endpoint.connect(server.server().quic_addr.unwrap(), "kith").unwrap().await.unwrap();
    let (mut send, _recv) = connection.open_bi().await.unwrap();
    send.write_all(&encode_frame(Action::Heartbeat as u8, 1, &[])).await.unwrap();
    let second = tokio::time::timeout(Duration::from_millis(500), connection.open_bi()).await;
    assert!(second.is_err(), "a second stream must not be granted");
    let uni = tokio::time::timeout(Duration::from_millis(300), connection.open_uni()).await;
    assert!(uni.is_err(), "no unidirectional streams");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_reading_is_cut_off_and_loses_nothing() {
    let server = TestServer::start_with(|c| {
        c.limits.outbound_queue = 32;
        c.limits.write_timeout_secs = 1;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob_id = server.connect(Kind::Tcp).await.register("bob", PASSWORD).await.unwrap();

    // Bob logs in over a raw socket and then never reads again.
    let mut stalled = TcpStream::connect(server.server().tcp_addr.unwrap()).await.unwrap();
    let login = LoginRequest {
        username: "bob".into(),
        password: PASSWORD.into(),
        device: device("bob-stalled", DeviceType::Mobile),
    };
    stalled.write_all(&encode_frame(Action::Login as u8, 1, &encode_wire(&login))).await.unwrap();
    let mut header = [0u8; HEADER_LEN];
    stalled.read_exact(&mut header).await.unwrap();
    let len = u32::from_be_bytes(header[9..13].try_into().unwrap()) as usize;
    let mut body = vec![0u8; len];
    stalled.read_exact(&mut body).await.unwrap();
    assert_eq!(header[4], Action::Login as u8, "{:?}", decode_wire::<kith::protocol::ErrorBody>(&body));

    // Alice sends far more than the socket buffers and the queue hold.
    let big = "z".repeat(16 * 1024);
    let mut sent = Vec::new();
    for _ in 0..600 {
        sent.push(alice.client.send_text(bob_id, &big).await.unwrap().message_id);
    }
    // Bob's stalled connection was dropped; the server is fine.
    let mut rest = Vec::new();
    let gone = tokio::time::timeout(SOON, async {
        loop {
            let mut chunk = vec![0u8; 1 << 20];
            match stalled.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(gone.is_ok(), "the stalled connection must be closed");
    alice.client.heartbeat().await.unwrap();

    // Nothing was lost: bob syncs every message on reconnect.
    let (bob, _) = server.device(Kind::Tcp, "bob", "bob-stalled", DeviceType::Mobile).await;
    let got: Vec<u64> = bob.sync_messages(0).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(got, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_max_inflight_wait_and_complete_in_order() {
    let server = TestServer::start_with(|c| c.limits.max_inflight = 2).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let texts: Vec<String> = (0..40).map(|i| format!("{i}")).collect();
    let acks = futures_util::future::join_all(texts.iter().map(|t| alice.client.send_text(alice.user_id, t))).await;
    let ids: Vec<u64> = acks.into_iter().map(|a| a.unwrap().message_id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "committed in the order sent");
}

/// The limit itself: with one request in flight at most, a Heartbeat
/// pipelined behind a Send is not even read before the Send is answered, so
/// it never overtakes it. The control: with room for both, it does (the
/// Send waits for the disk, the Heartbeat for nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_beyond_max_inflight_is_not_read_until_one_is_answered() {
    async fn overtaken(max_inflight: usize) -> usize {
        let server = TestServer::start_with(|c| c.limits.max_inflight = max_inflight).await;
        let alice = server.user(Kind::Tcp, "alice").await;
        let mut overtaken = 0;
        for _ in 0..20 {
            // Polled in this order, the Send's frame is written first.
            let send = alice.client.send_text(alice.user_id, "a note");
            let beat = alice.client.heartbeat();
            tokio::pin!(send, beat);
            tokio::select! {
                biased;
                sent = &mut send => {
                    sent.unwrap();
                    beat.await.unwrap();
                }
                beat = &mut beat => {
                    beat.unwrap();
                    overtaken += 1;
                    send.await.unwrap();
                }
            }
        }
        overtaken
    }
    assert_eq!(overtaken(1).await, 0, "a request beyond the limit was read and answered first");
    assert!(overtaken(64).await > 0, "with room for both, the Heartbeat overtakes the Send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_beyond_the_hash_cap_queue_and_succeed() {
    let server = TestServer::start_with(|c| c.limits.max_concurrent_hashes = 1).await;
    for i in 0..4 {
        server.connect(Kind::Tcp).await.register(&format!("user{i}"), PASSWORD).await.unwrap();
    }
    let clients = futures_util::future::join_all((0..4).map(|_| server.connect(Kind::Tcp))).await;
    let logins = futures_util::future::join_all(clients.iter().enumerate().map(|(i, c)| async move {
        c.login(&format!("user{i}"), PASSWORD, device(&format!("d{i}"), DeviceType::Web)).await
    }))
    .await;
    assert!(logins.iter().all(Result::is_ok), "{logins:?}");
}
