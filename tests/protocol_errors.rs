//! Bad frames and timeouts: each gets its error code or a clean close, and
//! the server keeps serving everyone else.

use crate::common;

use std::time::Duration;

use common::{Kind, TestServer, SOON};
use kith::client::{Client, RawReply};
use kith::codec::decode_wire;
use kith::protocol::{
    encode_frame, Action, DisconnectReason, ErrorBody, ErrorCode, Header, Push, ERROR_ACTION, HEADER_LEN, VERSION,
};

fn error_of(reply: &RawReply) -> ErrorCode {
    assert_eq!(reply.action, ERROR_ACTION, "expected an error reply");
    let body: ErrorBody = decode_wire(&reply.body).expect("error body decodes");
    body.error_code().expect("known error code")
}

async fn raw(client: &Client, bytes: Vec<u8>, sequence: u32) -> RawReply {
    tokio::time::timeout(SOON, client.send_bytes(bytes, Some(sequence)))
        .await
        .expect("reply in time")
        .expect("connection open")
        .expect("a reply")
}

async fn closed(client: &mut Client, reason: DisconnectReason) {
    match client.push_within(SOON).await {
        Ok(Push::Disconnect(d)) => assert_eq!(d.reason, reason),
        other => panic!("expected disconnect {reason:?}, got {other:?}"),
    }
    assert!(client.next_push().await.is_none(), "connection closes after the notice");
}

async fn unknown_action_and_malformed_body_keep_the_connection(kind: Kind) {
    let server = TestServer::start().await;
    let user = server.user(kind, "alice").await;
    let c = &user.client;

    assert_eq!(error_of(&raw(c, encode_frame(0x55, 9001, b""), 9001).await), ErrorCode::UnknownAction);
    // A push action sent by a client is not a request.
    assert_eq!(error_of(&raw(c, encode_frame(0x80, 9002, b""), 9002).await), ErrorCode::UnknownAction);
    assert_eq!(error_of(&raw(c, encode_frame(0x82, 9012, b""), 9012).await), ErrorCode::UnknownAction);
    // The first revision's Ack (0x11) and SyncInbox (0x12) are retired, even
    // with bodies they used to accept.
    let old_sync = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 100];
    assert_eq!(error_of(&raw(c, encode_frame(0x12, 9013, &old_sync), 9013).await), ErrorCode::UnknownAction);
    assert_eq!(error_of(&raw(c, encode_frame(0x11, 9014, &[0; 8]), 9014).await), ErrorCode::UnknownAction);
    // Send with a body that is far too short.
    assert_eq!(
        error_of(&raw(c, encode_frame(Action::Send as u8, 9003, &[0, 1]), 9003).await),
        ErrorCode::MalformedBody
    );
    // Heartbeat with trailing bytes.
    assert_eq!(
        error_of(&raw(c, encode_frame(Action::Heartbeat as u8, 9004, &[0]), 9004).await),
        ErrorCode::MalformedBody
    );
    // A string length prefix pointing past the body.
    let mut lying = vec![0xff; 8];
    lying.extend_from_slice(b"abc");
    assert_eq!(
        error_of(&raw(c, encode_frame(Action::FindUser as u8, 9005, &lying), 9005).await),
        ErrorCode::MalformedBody
    );
    // Invalid UTF-8 in a string.
    let mut bad_utf8 = 2u64.to_be_bytes().to_vec();
    bad_utf8.extend_from_slice(&[0xc3, 0x28]);
    assert_eq!(
        error_of(&raw(c, encode_frame(Action::FindUser as u8, 9006, &bad_utf8), 9006).await),
        ErrorCode::MalformedBody
    );
    // Sequence id 0 is reserved for pushes.
    assert_eq!(error_of(&raw(c, encode_frame(Action::Heartbeat as u8, 0, b""), 0).await), ErrorCode::BadSequence);

    // Still usable.
    c.heartbeat().await.unwrap();
    c.send_text(user.user_id, "still here").await.unwrap();
}
per_transport!(unknown_action_and_malformed_body_keep_the_connection);

async fn oversize_frame_is_refused_then_closed(kind: Kind) {
    let server = TestServer::start().await;
    let mut user = server.user(kind, "alice").await;
    let limit = server.config.limits.max_frame_bytes as u32;
    // Only the header is sent: the server must refuse from the header alone.
    let header = Header { version: VERSION, action: Action::Send as u8, sequence: 77, body_len: limit + 1 };
    let reply = raw(&user.client, header.to_bytes().to_vec(), 77).await;
    assert_eq!(error_of(&reply), ErrorCode::FrameTooLarge);
    closed(&mut user.client, DisconnectReason::ProtocolError).await;
    // Others are unaffected.
    let other = server.user(kind, "bob").await;
    other.client.heartbeat().await.unwrap();
}
per_transport!(oversize_frame_is_refused_then_closed);

async fn unsupported_version_is_refused_then_closed(kind: Kind) {
    let server = TestServer::start().await;
    let mut client = server.connect(kind).await;
    let header = Header { version: 99, action: Action::Heartbeat as u8, sequence: 5, body_len: 0 };
    let reply = raw(&client, header.to_bytes().to_vec(), 5).await;
    assert_eq!(error_of(&reply), ErrorCode::UnsupportedVersion);
    closed(&mut client, DisconnectReason::ProtocolError).await;
}
per_transport!(unsupported_version_is_refused_then_closed);

async fn idle_connections_are_closed(kind: Kind) {
    let server = TestServer::start_with(|c| c.limits.idle_timeout_secs = 1).await;
    let mut quiet = server.user(kind, "alice").await;
    let lively = server.user(kind, "bob").await;
    // Heartbeats keep a connection open past the timeout.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        lively.client.heartbeat().await.unwrap();
    }
    closed(&mut quiet.client, DisconnectReason::IdleTimeout).await;
    lively.client.heartbeat().await.unwrap();
}
per_transport!(idle_connections_are_closed);

async fn unauthenticated_connections_are_closed(kind: Kind) {
    let server = TestServer::start_with(|c| c.limits.auth_timeout_secs = 1).await;
    let mut client = server.connect(kind).await;
    // Heartbeats do not extend the time to authenticate.
    client.heartbeat().await.unwrap();
    closed(&mut client, DisconnectReason::AuthTimeout).await;
}
per_transport!(unauthenticated_connections_are_closed);

async fn request_floods_are_rate_limited(kind: Kind) {
    let server = TestServer::start_with(|c| {
        c.limits.requests_per_second = 5;
        c.limits.request_burst = 10;
    })
    .await;
    let user = server.user(kind, "alice").await;
    let results = futures_util::future::join_all((0..30).map(|_| user.client.heartbeat())).await;
    let limited = results.iter().filter(|r| matches!(r, Err(e) if e.code() == Some(ErrorCode::RateLimited))).count();
    assert!(limited >= 15, "{limited} of 30 limited");
    assert!(results.iter().all(|r| r.is_ok() || matches!(r, Err(e) if e.code() == Some(ErrorCode::RateLimited))));
    tokio::time::sleep(Duration::from_millis(500)).await;
    user.client.heartbeat().await.unwrap();
}
per_transport!(request_floods_are_rate_limited);

async fn a_sequence_id_in_use_is_refused(kind: Kind) {
    let server = TestServer::start().await;
    let user = server.user(kind, "alice").await;
    let send = |seq| {
        let body = kith::codec::encode_wire(&kith::protocol::SendRequest {
            to: kith::protocol::Target::User(user.user_id),
            client_msg_id: kith::client::new_client_msg_id(),
            kind: kith::protocol::MessageKind::Text,
            content: b"x".to_vec(),
            extra: None,
            reply_to: 0,
            mentions: Vec::new(),
        });
        encode_frame(Action::Send as u8, seq, &body)
    };
    // Two sends with one sequence id in one write: the second normally
    // arrives while the first waits for the disk, and is refused. A disk
    // fast enough to answer the first before the second is read makes the
    // second a new request, so the pair is tried a few times.
    let mut refused = false;
    for seq in 4242..4247 {
        let mut both = send(seq);
        both.extend(send(seq));
        let first_reply = raw(&user.client, both, seq).await;
        if first_reply.action == ERROR_ACTION {
            assert_eq!(error_of(&first_reply), ErrorCode::BadSequence);
            refused = true;
            break;
        }
        assert_eq!(first_reply.action, Action::Send as u8);
    }
    assert!(refused, "a sequence id in use was never refused");
    user.client.heartbeat().await.unwrap();
}
per_transport!(a_sequence_id_in_use_is_refused);

async fn a_truncated_frame_then_hangup_harms_no_one(kind: Kind) {
    let server = TestServer::start().await;
    let other = server.user(kind, "bob").await;
    for cut in [5usize, HEADER_LEN + 3] {
        let client = server.connect(kind).await;
        let frame = encode_frame(Action::Register as u8, 1, &[0u8; 40]);
        client.send_bytes(frame[..cut].to_vec(), None).await.unwrap();
        drop(client);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    other.client.heartbeat().await.unwrap();
    server.user(kind, "carol").await.client.heartbeat().await.unwrap();
}
per_transport!(a_truncated_frame_then_hangup_harms_no_one);

/// Every action of the table, with the body of its request example in
/// docs/PROTOCOL.md (every action has one, `protocol_doc` sees to that): on
/// a connection that has not authenticated, each action for users only is
/// refused `NotAuthenticated`; once authenticated, the body one byte short
/// and one byte long is `MalformedBody`, and the connection stays. A new
/// action that forgets either check fails here without this test naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_refuses_the_anonymous_and_malformed_bodies() {
    use kith::protocol::Who;
    let server = TestServer::start().await;
    let user = server.user(Kind::Tcp, "tester").await;
    let anonymous = server.connect(Kind::Tcp).await;
    let doc = crate::protocol_doc::doc();
    let examples = crate::protocol_doc::examples(&doc);
    let mut sequence = 1000;
    for action in Action::ALL {
        let (_, _, bytes, what) = examples
            .iter()
            .find(|(kind, name, _, _)| kind == "request" && name == action.name())
            .unwrap_or_else(|| panic!("no request example for {}", action.name()));
        let body = &bytes[HEADER_LEN..];
        let mut long = body.to_vec();
        long.push(0);
        let mut tries: Vec<(&Client, &[u8], ErrorCode, &str)> =
            vec![(&user.client, &long, ErrorCode::MalformedBody, "one byte long")];
        if let Some((_, short)) = body.split_last() {
            tries.push((&user.client, short, ErrorCode::MalformedBody, "one byte short"));
        }
        if action.who() == Who::User {
            tries.push((&anonymous, body, ErrorCode::NotAuthenticated, "anonymous"));
        }
        for (client, body, code, how) in tries {
            sequence += 1;
            let reply = raw(client, encode_frame(*action as u8, sequence, body), sequence).await;
            assert_eq!(error_of(&reply), code, "{what}: {how}");
        }
    }
    // Both connections are still served.
    user.client.heartbeat().await.unwrap();
    anonymous.heartbeat().await.unwrap();
}
