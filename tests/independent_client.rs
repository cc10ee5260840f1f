//! A client written in Python from docs/PROTOCOL.md alone (tests/independent/)
//! runs its scenario against a live server over TCP+TLS and plain TCP: proof
//! that the document is enough to write a client.

use crate::common;

use std::process::Command;

use common::TestServer;
use kith::transport::cert::format_fingerprint;

fn python(args: &[&str]) -> std::process::Output {
    // -E: PYTHONOPTIMIZE in the environment must not strip the asserts.
    Command::new("python3")
        .arg("-E")
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent"))
        .output()
        .expect("python3 runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_protocol_is_enough_for_an_independent_client() {
    let server = TestServer::start().await;
    let s = server.server();
    let (tcp, tls, pin) =
        (s.tcp_addr.unwrap().to_string(), s.tls_addr.unwrap().to_string(), format_fingerprint(&s.fingerprint));
    let out = tokio::task::spawn_blocking(move || {
        python(&["scenario.py", "--tcp", &tcp, "--tls", &tls, "--fingerprint", &pin])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "scenario failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[test]
fn the_documented_hex_examples_decode_independently() {
    let out = python(&["doc_examples.py"]);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_independent_client_on_tcp_talks_with_kiths_client_on_quic() {
    let server = TestServer::start().await;
    let mut rust = server.user(common::Kind::Quic, "quinn").await;
    let tcp = server.server().tcp_addr.unwrap().to_string();
    let python = tokio::task::spawn_blocking(move || {
        python(&["exchange.py", "--tcp", &tcp, "--name", "pyth", "--peer", "quinn"])
    });
    let hello = common::next_message(&mut rust.client).await;
    assert_eq!(hello.content, b"hello from python over tcp");
    rust.client.send_text(hello.sender, "hello from rust over quic").await.unwrap();
    let out = python.await.unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("received the reply"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_independent_client_runs_a_group_with_kiths_client() {
    use kith::protocol::{FriendPolicy, GroupEvent, MessageKind, PrivacyRequest, Target};
    let server = TestServer::start().await;
    let mut rust = server.user(common::Kind::Quic, "rusty").await;
    rust.client
        .call(&PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::AcceptAll), presence: None })
        .await
        .unwrap();
    let tcp = server.server().tcp_addr.unwrap().to_string();
    let python = tokio::task::spawn_blocking(move || {
        python(&["groups.py", "--tcp", &tcp, "--name", "pyowner", "--peer", "rusty"])
    });
    // The python owner's group: the first text in it is its greeting.
    let hello = loop {
        let m = common::next_message(&mut rust.client).await;
        if m.kind == MessageKind::Text {
            break m;
        }
    };
    assert_eq!(hello.content, b"hello group from python");
    let Target::Group(group) = hello.to else { panic!("a group message: {hello:?}") };
    rust.client.send_text_to(Target::Group(group), "hello group from rust").await.unwrap();
    let mut kicked = None;
    let after = loop {
        let m = common::next_message(&mut rust.client).await;
        if m.kind == MessageKind::System {
            kicked = Some(kith::codec::decode_wire::<GroupEvent>(&m.content).unwrap());
        } else if m.content == b"after the kick" {
            break m;
        }
    };
    assert!(matches!(kicked, Some(GroupEvent::Kicked { .. })), "{kicked:?}");
    assert_eq!(after.to, Target::Group(group));
    let out = python.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("received the reply") && stdout.contains("group checks passed"), "{stdout}");
}

/// Runs a two-user scenario script of the independent client against a
/// fresh server over plain TCP; it must pass all its checks.
async fn all_checks_pass(script: &'static str, name: &'static str, peer: &'static str) {
    let server = TestServer::start().await;
    let tcp = server.server().tcp_addr.unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || python(&[script, "--tcp", &tcp, "--name", name, "--peer", peer]))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_independent_client_keeps_its_conversations_with_unread_counts_and_receipts() {
    all_checks_pass("conversations.py", "pyreader", "pywriter").await;
}

/// Typing, replies, edits, pins and drafts, reactions and a mention in a
/// muted group, as two phones of this client see them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_independent_client_types_replies_and_edits() {
    all_checks_pass("chat_signals.py", "pytyper", "pyreplier").await;
}

/// A moment with two photos to every friend but one, as this client's
/// users see it: the live badge, the feed, a like, a comment and a reply
/// with their notices, friends of the author who are not the liker's, a
/// stranger, the refusals, and the deletion taking every notice with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_independent_client_posts_a_moment_and_reads_a_friends_feed() {
    all_checks_pass("moments.py", "pyposter", "pyliker").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_independent_client_sends_a_photo_fetched_over_https() {
    let server = TestServer::start().await;
    let s = server.server();
    let (tcp, tls, pin) =
        (s.tcp_addr.unwrap().to_string(), s.tls_addr.unwrap().to_string(), format_fingerprint(&s.fingerprint));
    let out = tokio::task::spawn_blocking(move || {
        python(&[
            "media.py",
            "--tcp",
            &tcp,
            "--tls",
            &tls,
            "--fingerprint",
            &pin,
            "--name",
            "pysender",
            "--peer",
            "pyfriend",
        ])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

/// The independent client names every action, update kind and group event
/// the server has, under the same number: one added to the server without
/// the client fails here.
#[test]
fn the_independent_client_knows_every_action_kind_and_event() {
    let out = python(&[
        "-c",
        "import json, kith_client as k; print(json.dumps([k.ACTION_NAMES, k.UPDATE_KIND_NAMES, k.GROUP_EVENT_NAMES]))",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tables: Vec<std::collections::HashMap<String, String>> = serde_json::from_slice(&out.stdout).unwrap();
    let named = |table: usize, number: u32, name: &str| {
        tables[table].get(&number.to_string()).map(String::as_str) == Some(name)
    };
    for action in kith::protocol::Action::ALL {
        assert!(named(0, *action as u32, action.name()), "the client lacks action {}", action.name());
    }
    for kind in kith::protocol::UpdateKind::ALL {
        assert!(named(1, *kind as u32, kind.name()), "the client lacks update kind {}", kind.name());
    }
    for (index, name) in common::group_events() {
        assert!(named(2, index, &name), "the client lacks group event {name}");
    }
}
