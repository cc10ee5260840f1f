//! A client written in Python from docs/PROTOCOL.md alone (tests/independent/)
//! runs its scenario against a live server over TCP+TLS and plain TCP: proof
//! that the document is enough to write a client.

mod common;

use std::process::Command;

use common::TestServer;
use kith::transport::cert::format_fingerprint;

fn python(args: &[&str]) -> std::process::Output {
    Command::new("python3")
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
