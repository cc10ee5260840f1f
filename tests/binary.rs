//! The real `kith` binary: command-line start-up on port 0, the log lines a
//! script parses, `kill -9` and restart, SIGTERM, and the config commands.

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::{serve_args, signal, start, KITH};
use kith::client::{Client, Transport};
use kith::transport::cert::parse_fingerprint;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_survives_kill_9_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[]);

    // `kith cert fingerprint` prints what the server logged.
    let out = Command::new(KITH)
        .args(["cert", "fingerprint", "--cert"])
        .arg(dir.path().join("certs/cert.pem"))
        .arg("--key")
        .arg(dir.path().join("certs/key.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(parse_fingerprint(&String::from_utf8_lossy(&out.stdout)), Some(server.fingerprint));

    let tls = Transport::Tls { fingerprint: server.fingerprint };
    let alice = Client::connect(server.tls, &tls).await.unwrap();
    alice.register("alice", common::PASSWORD).await.unwrap();
    alice.login("alice", common::PASSWORD, common::device("a", kith::protocol::DeviceType::Mobile)).await.unwrap();
    let bob = Client::connect(server.quic, &Transport::Quic { fingerprint: server.fingerprint }).await.unwrap();
    let bob_id = bob.register("bob", common::PASSWORD).await.unwrap();
    let mut acked = Vec::new();
    for i in 0..50 {
        acked.push(alice.send_text(bob_id, &format!("{i}")).await.unwrap().message_id);
    }

    // kill -9 right after the acknowledgements.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop((alice, bob));

    let mut server = start(dir.path(), &[]);
    let bob = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    bob.login("bob", common::PASSWORD, common::device("b", kith::protocol::DeviceType::Mobile)).await.unwrap();
    let got: Vec<u64> = bob.sync_all(0).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(got, acked, "every acknowledged message survives kill -9");

    // SIGTERM: clients are told, the process exits 0 after a clean shutdown.
    let mut bob = bob;
    signal(&server.child, "TERM");
    match bob.push_within(Duration::from_secs(10)).await.unwrap() {
        kith::client::Push::Disconnect(d) => assert_eq!(d.reason, kith::protocol::DisconnectReason::ServerShutdown),
        other => panic!("{other:?}"),
    }
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = server.lines.try_iter().collect();
    assert!(rest.iter().any(|l| l.contains("shut down cleanly")), "{rest:?}");
}

#[test]
fn config_commands() {
    let dir = tempfile::tempdir().unwrap();
    let default = Command::new(KITH).args(["config", "default"]).output().unwrap();
    assert!(default.status.success());
    let file = dir.path().join("kith.toml");
    std::fs::write(&file, &default.stdout).unwrap();
    let ok = Command::new(KITH).arg("check-config").arg(&file).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    std::fs::write(&file, "[limits]\nmax_inflight = 0\n").unwrap();
    let bad = Command::new(KITH).arg("check-config").arg(&file).output().unwrap();
    assert!(!bad.status.success());
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(message.contains("limits.max_inflight") && message.contains('0'), "{message}");

    std::fs::write(&file, "[listen]\ntcp = \"0.0.0.0:7421\"\n").unwrap();
    let bad = Command::new(KITH).arg("check-config").arg(&file).output().unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("listen.tcp"));

    std::fs::write(&file, "[limits]\nno_such_key = 1\n").unwrap();
    let bad = Command::new(KITH).arg("check-config").arg(&file).output().unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no_such_key"));

    let version = Command::new(KITH).arg("version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("kith "));
}

#[test]
fn a_plain_tcp_listener_refuses_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = serve_args(dir.path());
    args.extend(["--listen-tcp".into(), "0.0.0.0:0".into()]);
    let out = Command::new(KITH).args(&args).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen.tcp"));
}
