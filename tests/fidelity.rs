//! What `docs/PROTOCOL.md` promises where it used to be silent, ambiguous or
//! at odds with the server: the throttle's boundary, the order of checks,
//! structured waits and limits, no session resumption, the QUIC stream
//! deadline, shared connection caps, disabled accounts, retried sends to
//! another recipient, a slow reader — and token renewal, including a lost
//! reply.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::talk::none_pushed;
use common::{device, next_message, Calls, Kind, TestServer, PASSWORD, SOON};
use kith::client::{new_client_msg_id, Client, ClientError, RawReply, Transport};
use kith::codec::{decode_wire, encode_wire};
use kith::protocol::RateLimitReason;
use kith::protocol::{
    encode_frame, Action, ChangePasswordRequest, DeviceType, DisconnectPush, DisconnectReason, ErrorBody, ErrorCode,
    FindUserRequest, Header, LoginRequest, MessageKind, PushAction, RenewToken, SendRequest, Target, Update,
    UpdateKind, ERROR_ACTION, HEADER_LEN,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn code<T: std::fmt::Debug>(r: &Result<T, ClientError>) -> Option<ErrorCode> {
    r.as_ref().err().and_then(|e| e.code())
}

/// `kith user disable NAME` against the running server.
fn disable(server: &TestServer, name: &str) {
    let out = std::process::Command::new(common::process::KITH)
        .args(["user", "disable", name, "--data-dir"])
        .arg(server.data_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

async fn raw(client: &Client, frame: Vec<u8>, sequence: u32) -> ErrorBody {
    let reply: RawReply =
        tokio::time::timeout(SOON, client.send_bytes(frame, Some(sequence))).await.unwrap().unwrap().unwrap();
    assert_eq!(reply.action, ERROR_ACTION, "an error reply");
    decode_wire(&reply.body).unwrap()
}

async fn after_three_failures_the_fourth_attempt_waits(kind: Kind) {
    let server = TestServer::start().await;
    server.user(kind, "judy").await;
    let client = server.connect(kind).await;
    for _ in 0..3 {
        let r = client.login("judy", "wrong password!", device("j", DeviceType::Web)).await;
        assert_eq!(code(&r), Some(ErrorCode::BadCredentials));
    }
    let fourth = client.login("judy", PASSWORD, device("j", DeviceType::Web)).await.unwrap_err();
    assert_eq!(
        (fourth.code(), fourth.rate_limit_reason()),
        (Some(ErrorCode::RateLimited), Some(RateLimitReason::Failures))
    );
    let wait = fourth.retry_after().expect("the wait, as a number");
    assert!(wait > Duration::ZERO && wait <= Duration::from_millis(250), "{wait:?}");
    tokio::time::sleep(wait).await;
    client.login("judy", PASSWORD, device("j", DeviceType::Web)).await.unwrap();

    // ChangePassword's wrong old passwords count the same way (on a fresh
    // server: the address's failures above are not forgotten by a success).
    let server = TestServer::start().await;
    let user = server.user(kind, "judy").await;
    let change = |old: &str| ChangePasswordRequest { old_password: old.into(), new_password: "a new password".into() };
    for _ in 0..3 {
        assert_eq!(code(&user.client.call(&change("not the password")).await), Some(ErrorCode::BadCredentials));
    }
    let fourth = user.client.call(&change(PASSWORD)).await.unwrap_err();
    assert_eq!(fourth.code(), Some(ErrorCode::RateLimited));
    assert!(fourth.retry_after().is_some());
}
per_transport!(after_three_failures_the_fourth_attempt_waits);

async fn checks_run_in_the_documented_order(kind: Kind) {
    let server = TestServer::start_with(|c| c.limits.max_unauthenticated_frame_bytes = 1024).await;
    // Version before length: a header of another version with a huge length.
    let c = server.connect(kind).await;
    let bad = Header { version: 2, action: Action::Heartbeat as u8, sequence: 3, body_len: 1 << 30 };
    assert_eq!(raw(&c, bad.to_bytes().to_vec(), 3).await.error_code(), Some(ErrorCode::UnsupportedVersion));
    // Action before sequence: an unknown action with sequence 0.
    let c = server.connect(kind).await;
    let e = raw(&c, encode_frame(0x55, 0, b""), 0).await;
    assert_eq!(e.error_code(), Some(ErrorCode::UnknownAction));
    // Sequence before authentication; authentication before the body.
    assert_eq!(raw(&c, encode_frame(Action::Send as u8, 0, b"x"), 0).await.error_code(), Some(ErrorCode::BadSequence));
    assert_eq!(
        raw(&c, encode_frame(Action::Send as u8, 4, b"x"), 4).await.error_code(),
        Some(ErrorCode::NotAuthenticated)
    );
    // Body before the action's own rules: a malformed Login on an authenticated connection.
    let user = server.user(kind, "alice").await;
    let e = raw(&user.client, encode_frame(Action::Login as u8, 9, b"\x01"), 9).await;
    assert_eq!(e.error_code(), Some(ErrorCode::MalformedBody));
    let login =
        LoginRequest { username: "alice".into(), password: PASSWORD.into(), device: device("x", DeviceType::Web) };
    let e = raw(&user.client, encode_frame(Action::Login as u8, 10, &encode_wire(&login)), 10).await;
    assert_eq!(e.error_code(), Some(ErrorCode::AlreadyAuthenticated));
    // Register: a taken name with a bad password is about the password.
    let c = server.connect(kind).await;
    assert_eq!(code(&c.register("alice", "short").await), Some(ErrorCode::InvalidArgument));
    assert_eq!(code(&c.register("alice", PASSWORD).await), Some(ErrorCode::Conflict));
    // Login: a bad device id before the password; a wrong password before the disabled state.
    let r = c.login("alice", "wrong password", device("", DeviceType::Web)).await;
    assert_eq!(code(&r), Some(ErrorCode::InvalidArgument));
    let limited = TestServer::start_with(|c| {
        c.limits.requests_per_second = 1;
        c.limits.request_burst = 1;
    })
    .await;
    let c = limited.connect(kind).await;
    c.heartbeat().await.unwrap();
    // The rate limit comes first of all.
    let e = raw(&c, encode_frame(0x55, 0, b""), 0).await;
    assert_eq!(
        (e.error_code(), e.rate_limit_reason()),
        (Some(ErrorCode::RateLimited), Some(RateLimitReason::Requests))
    );
    assert!(e.retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 1000), "{e:?}");
}
per_transport!(checks_run_in_the_documented_order);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_account_is_refused_only_after_its_password() {
    let server = TestServer::start().await;
    server.user(Kind::Tcp, "dora").await;
    disable(&server, "dora");
    let c = server.connect(Kind::Tcp).await;
    assert_eq!(
        code(&c.login("dora", "wrong password", device("d", DeviceType::Web)).await),
        Some(ErrorCode::BadCredentials)
    );
    assert_eq!(code(&c.login("dora", PASSWORD, device("d", DeviceType::Web)).await), Some(ErrorCode::AccountDisabled));
}

async fn limit_errors_carry_their_limit(kind: Kind) {
    let server = TestServer::start_with(|c| {
        c.limits.max_content_bytes = 1000;
        c.limits.registrations_per_address_per_hour = 2;
    })
    .await;
    let user = server.user(kind, "alice").await;
    server.connect(kind).await.register("bob", PASSWORD).await.unwrap();
    let third = server.connect(kind).await.register("carol", PASSWORD).await.unwrap_err();
    assert_eq!((third.code(), third.limit()), (Some(ErrorCode::RateLimited), Some(2)));
    assert_eq!(third.rate_limit_reason(), Some(RateLimitReason::Quota));
    assert!(third.retry_after().is_some_and(|wait| wait > Duration::from_secs(3500)), "{third:?}");
    let big = user.client.send_text(user.user_id, &"x".repeat(1001)).await.unwrap_err();
    assert_eq!((big.code(), big.limit()), (Some(ErrorCode::InvalidArgument), Some(1000)));
    let page = user.client.sync_page(0, 101).await.unwrap_err();
    assert_eq!((page.code(), page.limit()), (Some(ErrorCode::InvalidArgument), Some(100)));
    let header = Header { version: 1, action: Action::Heartbeat as u8, sequence: 5, body_len: 1 << 20 };
    let e = raw(&user.client, header.to_bytes().to_vec(), 5).await;
    assert_eq!(
        (e.error_code(), e.limit),
        (Some(ErrorCode::FrameTooLarge), Some(server.config.limits.max_frame_bytes as u64))
    );
}
per_transport!(limit_errors_carry_their_limit);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_handshake_is_resumed_so_every_one_shows_the_certificate() {
    let server = TestServer::start().await;
    let addr = server.server().tls_addr.unwrap();
    // A client that would resume if the server let it.
    let mut config = kith::client::client_config(server.server().fingerprint, false).unwrap();
    config.resumption = rustls::client::Resumption::in_memory_sessions(16);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    for _ in 0..3 {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let tls = connector.connect(name, tcp).await.unwrap();
        let (_, session) = tls.get_ref();
        assert_eq!(session.handshake_kind(), Some(rustls::HandshakeKind::Full));
        assert!(session.peer_certificates().is_some_and(|c| !c.is_empty()), "the certificate to pin is shown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quic_connection_without_a_stream_closes_at_the_auth_deadline() {
    let server = TestServer::start_with(|c| c.limits.auth_timeout_secs = 1).await;
    let s = server.server();
    let endpoint = kith::client::quic_endpoint("127.0.0.1:0".parse().unwrap(), s.fingerprint).unwrap();
    let connection = endpoint.connect(s.quic_addr.unwrap(), "kith").unwrap().await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(4), connection.closed()).await.expect("closed in time");
    match closed {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code.into_inner(), 0);
            assert_eq!(&close.reason[..], b"no stream opened");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_quic_and_tcp_share_one_cap_per_address() {
    let server = TestServer::start_with(|c| c.limits.max_connections_per_ip = 2).await;
    let _tls = server.connect(Kind::Tls).await;
    let _quic = server.connect(Kind::Quic).await;
    // A third connection from the address, over any transport, is closed at once.
    let refused = async {
        let c = Client::connect(server.server().tcp_addr.unwrap(), &Transport::Tcp).await?;
        c.heartbeat().await
    };
    assert!(tokio::time::timeout(SOON, refused).await.unwrap().is_err());
    let quic = Client::connect(
        server.server().quic_addr.unwrap(),
        &Transport::Quic { fingerprint: server.server().fingerprint },
    )
    .await;
    assert!(quic.is_err(), "QUIC is refused too (CONNECTION_REFUSED)");
}

async fn disabled_accounts_cannot_be_found_or_written_to(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    alice.client.send_text(bob.user_id, "before").await.unwrap();
    disable(&server, "bob");
    let find = alice.client.call(&FindUserRequest { username: "bob".into() }).await;
    assert_eq!(code(&find), Some(ErrorCode::NotFound));
    assert_eq!(code(&alice.client.send_text(bob.user_id, "after").await), Some(ErrorCode::NotPermitted));
    // The conversation's history stays readable.
    let history =
        alice.client.history(Target::User(bob.user_id), kith::protocol::Direction::Before, 0, 10).await.unwrap();
    assert_eq!(history.messages.len(), 1);
    // A password may not be "changed" to itself.
    let same = ChangePasswordRequest { old_password: PASSWORD.into(), new_password: PASSWORD.into() };
    assert_eq!(code(&alice.client.call(&same).await), Some(ErrorCode::InvalidArgument));
}
per_transport!(disabled_accounts_cannot_be_found_or_written_to);

async fn a_retry_to_another_recipient_returns_the_original(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    let mut carol = server.user(kind, "carol").await;
    let first = SendRequest {
        to: Target::User(bob.user_id),
        client_msg_id: new_client_msg_id(),
        kind: MessageKind::Text,
        content: b"for bob".to_vec(),
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    };
    let ack = alice.client.call(&first).await.unwrap();
    let retry = SendRequest { to: Target::User(carol.user_id), content: b"changed".to_vec(), ..first };
    let again = alice.client.call(&retry.clone()).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.message_id, ack.message_id);
    assert_eq!(next_message(&mut bob.client).await.content, b"for bob");
    none_pushed(&server, &carol.name, &mut carol.client, UpdateKind::Message).await;
    // Nor does a retry to a recipient disabled since, or one who never was.
    disable(&server, "bob");
    let since_disabled = alice.client.call(&SendRequest { to: Target::User(bob.user_id), ..retry.clone() }).await;
    assert_eq!(since_disabled.unwrap().message_id, ack.message_id);
    let nobody = alice.client.call(&SendRequest { to: Target::User(99), ..retry }).await;
    assert_eq!(nobody.unwrap().message_id, ack.message_id);
}
per_transport!(a_retry_to_another_recipient_returns_the_original);

/// Token renewal: near its expiry, `Auth` hands out a successor; the old
/// token works until the successor is first used, so a lost reply locks
/// nobody out; `RenewToken` does the same on request.
async fn tokens_renew_and_a_lost_reply_locks_nobody_out(kind: Kind) {
    let server = TestServer::start_with(|c| {
        c.limits.token_ttl_secs = 8;
        c.limits.token_renew_within_secs = 5;
    })
    .await;
    let user = server.user(kind, "alice").await;
    let first = user.login.token.clone();
    let fresh = server.connect(kind).await.auth(&first).await.unwrap();
    assert!(fresh.renewed.is_none(), "far from expiry, no renewal");

    tokio::time::sleep(Duration::from_millis(3200)).await;
    let renewed = server.connect(kind).await.auth(&first).await.unwrap().renewed.expect("renewed near expiry");
    // The reply is "lost": the device still holds the first token, which
    // still works, and is renewed again; the unused successor is replaced.
    let again = server.connect(kind).await.auth(&first).await.unwrap().renewed.expect("renewed again");
    assert_eq!(code(&server.connect(kind).await.auth(&renewed.token).await), Some(ErrorCode::InvalidToken));
    // The successor's first use makes it the device's token; the old one stops.
    let state = server.connect(kind).await.auth(&again.token).await.unwrap();
    assert!(state.renewed.is_none());
    assert_eq!(code(&server.connect(kind).await.auth(&first).await), Some(ErrorCode::InvalidToken));
    assert!(again.expires_at > user.login.expires_at);

    // On request, too.
    let c = server.connect(kind).await;
    c.auth(&again.token).await.unwrap();
    let asked = c.call(&RenewToken).await.unwrap();
    server.connect(kind).await.auth(&again.token).await.unwrap();
    server.connect(kind).await.auth(&asked.token).await.unwrap();
    assert_eq!(code(&server.connect(kind).await.auth(&again.token).await), Some(ErrorCode::InvalidToken));

    // A token left unused runs out.
    tokio::time::sleep(Duration::from_millis(8200)).await;
    assert_eq!(code(&server.connect(kind).await.auth(&asked.token).await), Some(ErrorCode::InvalidToken));
}
per_transport!(tokens_renew_and_a_lost_reply_locks_nobody_out);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_and_password_changes_revoke_a_renewed_token_too() {
    let server = TestServer::start().await;
    let user = server.user(Kind::Tcp, "alice").await;
    let successor = user.client.call(&RenewToken).await.unwrap();
    user.client.logout().await.unwrap();
    assert_eq!(code(&server.connect(Kind::Tcp).await.auth(&successor.token).await), Some(ErrorCode::InvalidToken));

    let (laptop, _) = server.device(Kind::Tcp, "alice", "alice-laptop", DeviceType::Desktop).await;
    let successor = laptop.call(&RenewToken).await.unwrap();
    let change = ChangePasswordRequest { old_password: PASSWORD.into(), new_password: "a new password".into() };
    laptop.call(&change).await.unwrap();
    assert_eq!(code(&server.connect(Kind::Tcp).await.auth(&successor.token).await), Some(ErrorCode::InvalidToken));
}

/// A reader too slow for its push queue: the pushes already on their way
/// arrive, in order; those still queued are dropped; `Disconnect(SlowConsumer)`
/// comes last; `Sync` has everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_gets_a_prefix_then_slow_consumer_and_syncs_the_rest() {
    let server = TestServer::start_with(|c| {
        c.limits.outbound_queue = 8;
        c.limits.write_timeout_secs = 60;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob_id = server.connect(Kind::Tcp).await.register("bob", PASSWORD).await.unwrap();
    let mut slow = TcpStream::connect(server.server().tcp_addr.unwrap()).await.unwrap();
    let login = LoginRequest {
        username: "bob".into(),
        password: PASSWORD.into(),
        device: device("bob-slow", DeviceType::Mobile),
    };
    slow.write_all(&encode_frame(Action::Login as u8, 1, &encode_wire(&login))).await.unwrap();
    let (action, _) = read_frame(&mut slow).await;
    assert_eq!(action, Action::Login as u8);

    // Far more than the socket buffers and the queue hold, while bob reads nothing.
    let big = "s".repeat(16 * 1024);
    let mut sent = Vec::new();
    for _ in 0..600 {
        sent.push(alice.client.send_text(bob_id, &big).await.unwrap().message_id);
    }
    // Bob reads again: updates in order, then the Disconnect, then the end.
    let mut pushed = Vec::new();
    let reason = loop {
        let (action, body) = read_frame(&mut slow).await;
        if action == PushAction::Disconnect as u8 {
            break decode_wire::<DisconnectPush>(&body).unwrap().reason;
        }
        assert_eq!(action, PushAction::Update as u8);
        pushed.push(decode_wire::<Update>(&body).unwrap().id);
    };
    assert_eq!(reason, DisconnectReason::SlowConsumer);
    assert!(!pushed.is_empty() && pushed.len() < sent.len(), "{} of {} pushed", pushed.len(), sent.len());
    assert_eq!(pushed[..], sent[..pushed.len()], "what arrived is a prefix, in order");
    assert_eq!(slow.read(&mut [0u8; 1]).await.unwrap_or(0), 0, "closed after the Disconnect");
    let (bob, _) = server.device(Kind::Tcp, "bob", "bob-slow", DeviceType::Mobile).await;
    let synced: Vec<u64> = bob.sync_messages(0).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(synced, sent);
}

async fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut header = [0u8; HEADER_LEN];
    tokio::time::timeout(SOON, stream.read_exact(&mut header)).await.unwrap().unwrap();
    let mut body = vec![0u8; u32::from_be_bytes([header[9], header[10], header[11], header[12]]) as usize];
    tokio::time::timeout(SOON, stream.read_exact(&mut body)).await.unwrap().unwrap();
    (header[4], body)
}
