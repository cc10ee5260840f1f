//! The real `kith` binary: command-line start-up on port 0, the log lines a
//! script parses, `kill -9` and restart, SIGTERM, and the config commands.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kith::client::{Client, Transport};
use kith::transport::cert::parse_fingerprint;

const KITH: &str = env!("CARGO_BIN_EXE_kith");

struct Running {
    child: Child,
    tls: SocketAddr,
    quic: SocketAddr,
    fingerprint: [u8; 32],
    lines: mpsc::Receiver<String>,
}

fn serve_args(dir: &Path) -> Vec<String> {
    let p = |rel: &str| dir.join(rel).display().to_string();
    vec![
        "serve".into(),
        "--data-dir".into(),
        p("data"),
        "--cert".into(),
        p("certs/cert.pem"),
        "--key".into(),
        p("certs/key.pem"),
        "--listen-tls".into(),
        "127.0.0.1:0".into(),
        "--listen-quic".into(),
        "127.0.0.1:0".into(),
    ]
}

/// Starts `kith serve` and reads its log until it reports its addresses.
fn start(dir: &Path) -> Running {
    let mut child = Command::new(KITH)
        .args(serve_args(dir))
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("kith starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut tls, mut quic, mut fingerprint) = (None, None, None);
    while tls.is_none() || quic.is_none() || fingerprint.is_none() {
        let line = lines.recv_timeout(Duration::from_secs(20)).expect("start-up log lines");
        let after = |marker: &str| line.split(marker).nth(1).map(|rest| rest.trim().to_string());
        if let Some(a) = after("listening on tls ") {
            tls = Some(a.parse().unwrap());
        }
        if let Some(a) = after("listening on quic ") {
            quic = Some(a.parse().unwrap());
        }
        if let Some(f) = after("certificate sha256 fingerprint ") {
            fingerprint = parse_fingerprint(&f);
        }
    }
    Running { child, tls: tls.unwrap(), quic: quic.unwrap(), fingerprint: fingerprint.unwrap(), lines }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args(["-s", name, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_survives_kill_9_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());

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

    let mut server = start(dir.path());
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
