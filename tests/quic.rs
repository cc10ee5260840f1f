//! What QUIC adds: mixed transports for one user, connection migration, and
//! certificate pinning.

use crate::common;

use std::time::Duration;

use common::{next_message, Kind, TestServer, SOON};
use kith::client::{Client, ClientError, Transport};
use kith::protocol::{DeviceType, DisconnectReason};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quic_device_and_a_tcp_device_both_receive() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let mut bob_phone = server.user(Kind::Quic, "bob").await;
    let (mut bob_desktop, _) = server.device(Kind::Tls, "bob", "bob-desktop", DeviceType::Desktop).await;
    let ack = alice.client.send_text(bob_phone.user_id, "to both").await.unwrap();
    assert_eq!(next_message(&mut bob_phone.client).await.id, ack.message_id);
    assert_eq!(next_message(&mut bob_desktop).await.id, ack.message_id);
    // And back from QUIC to TLS.
    let mut alice = alice;
    let reply = bob_phone.client.send_text(alice.user_id, "from quic").await.unwrap();
    assert_eq!(next_message(&mut alice.client).await.id, reply.message_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quic_session_survives_a_network_switch() {
    let server = TestServer::start().await;
    let mut bob = server.user(Kind::Quic, "bob").await;
    let mut alice = server.user(Kind::Tcp, "alice").await;
    let before = bob.client.local_quic_addr().unwrap();

    // The phone moves to another network: a new UDP socket, a new port.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let after = socket.local_addr().unwrap();
    assert_ne!(before.port(), after.port());
    bob.client.rebind(socket).unwrap();
    assert_eq!(bob.client.local_quic_addr().unwrap(), after);

    // Without a new login it still sends (the server sees the new address)…
    let sent =
        tokio::time::timeout(SOON, bob.client.send_text(alice.user_id, "from the new network")).await.unwrap().unwrap();
    assert_eq!(next_message(&mut alice.client).await.id, sent.message_id);
    // …and still receives pushes.
    let ack = alice.client.send_text(bob.user_id, "can you hear me").await.unwrap();
    assert_eq!(next_message(&mut bob.client).await.id, ack.message_id);
    bob.client.heartbeat().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_fingerprint_is_refused() {
    let server = TestServer::start().await;
    let s = server.server();
    let mut wrong = s.fingerprint;
    wrong[0] ^= 0xff;
    let quic = Client::connect(s.quic_addr.unwrap(), &Transport::Quic { fingerprint: wrong }).await;
    assert!(matches!(quic, Err(ClientError::Quic(_))), "QUIC with a wrong pin must fail");
    let tls = Client::connect(s.tls_addr.unwrap(), &Transport::Tls { fingerprint: wrong }).await;
    assert!(matches!(tls, Err(ClientError::Io(_))), "TLS with a wrong pin must fail");
    // The right pin works on both.
    Client::connect(s.quic_addr.unwrap(), &Transport::Quic { fingerprint: s.fingerprint }).await.unwrap();
    Client::connect(s.tls_addr.unwrap(), &Transport::Tls { fingerprint: s.fingerprint }).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kicked_quic_connection_closes_with_the_reason_code() {
    let server = TestServer::start().await;
    let mut phone = server.user(Kind::Quic, "carol").await;
    let (_other, _) = server.device(Kind::Quic, "carol", "carol-phone-2", DeviceType::Mobile).await;
    assert_eq!(common::disconnect_reason(&mut phone.client, SOON).await, DisconnectReason::Kicked);
    let deadline = tokio::time::Instant::now() + SOON;
    while phone.client.quic_close_code().is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(phone.client.quic_close_code(), Some(u64::from(u8::from(DisconnectReason::Kicked))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_key_fingerprint_pins_too() {
    let server = TestServer::start().await;
    let certificate =
        kith::transport::cert::Certificate::load(&server.config.tls.cert, &server.config.tls.key).unwrap();
    let spki = kith::transport::cert::public_key_fingerprint(&certificate.chain[0]).unwrap();
    assert_ne!(spki, server.server().fingerprint);
    let s = server.server();
    Client::connect(s.quic_addr.unwrap(), &Transport::Quic { fingerprint: spki }).await.unwrap();
    Client::connect(s.tls_addr.unwrap(), &Transport::Tls { fingerprint: spki }).await.unwrap();
}
