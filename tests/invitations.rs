//! Who may join a server: the three registration policies over TLS, TCP and
//! QUIC; invitations refused when used up, expired, revoked or made up,
//! with no account created; two registrations racing for the last use; the
//! printed join link read back by an independent parser; failed invitations
//! throttled; the policy changed by a reload, without a restart.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::process::KITH;
use common::{Kind, TestServer, PASSWORD};
use kith::client::{Client, ClientError};
use kith::config::RegistrationPolicy;
use kith::link::JoinLink;
use kith::protocol::{ErrorCode, RateLimitReason, RegisterRequest};

fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

async fn with_policy(policy: RegistrationPolicy) -> TestServer {
    TestServer::start_with(move |c| {
        c.registration.policy = policy;
        c.registration.public_host = "127.0.0.1".into();
    })
    .await
}

async fn kith(args: &[&str], data_dir: &Path) -> Output {
    let (args, data_dir): (Vec<String>, _) = (args.iter().map(|s| s.to_string()).collect(), data_dir.to_path_buf());
    tokio::task::spawn_blocking(move || {
        Command::new(KITH).args(&args).arg("--data-dir").arg(data_dir).output().unwrap()
    })
    .await
    .unwrap()
}

/// `kith invite create` against the running server; returns its link.
async fn invite(server: &TestServer, extra: &[&str]) -> JoinLink {
    let out = kith(&[&["invite", "create"], extra].concat(), &server.data_dir()).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let line = text.lines().find(|l| l.starts_with("kith://")).expect("a link is printed");
    line.parse().unwrap()
}

async fn register(client: &Client, name: &str, invitation: Option<&[u8]>) -> Result<u64, ClientError> {
    let request = RegisterRequest {
        username: name.into(),
        password: PASSWORD.into(),
        invitation: invitation.map(<[u8]>::to_vec),
    };
    Ok(client.call(&request).await?.user_id)
}

/// Whether an account exists, as `kith user list` shows.
async fn exists(server: &TestServer, name: &str) -> bool {
    let out = kith(&["user", "list", "--json"], &server.data_dir()).await;
    let users: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    users.as_array().unwrap().iter().any(|u| u["username"] == name)
}

/// Registers with an invitation that must be refused as invalid; waits out
/// the throttle that failed invitations from one address run into.
async fn refused(client: &Client, name: &str, invitation: &[u8]) -> bool {
    loop {
        match register(client, name, Some(invitation)).await {
            Err(e) if e.code() == Some(ErrorCode::RateLimited) => tokio::time::sleep(e.retry_after().unwrap()).await,
            other => return code(other) == Some(ErrorCode::InvalidInvitation),
        }
    }
}

async fn each_policy(kind: Kind) {
    let open = with_policy(RegistrationPolicy::Open).await;
    let client = open.connect(kind).await;
    register(&client, "anyone", None).await.unwrap();

    let invite_only = with_policy(RegistrationPolicy::Invite).await;
    let client = invite_only.connect(kind).await;
    let refused = register(&client, "nobody", None).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InvitationRequired), "{refused}");
    let link = invite(&invite_only, &[]).await;
    register(&client, "invited", Some(&link.invitation)).await.unwrap();
    assert!(exists(&invite_only, "invited").await && !exists(&invite_only, "nobody").await);

    let closed = with_policy(RegistrationPolicy::Closed).await;
    let client = closed.connect(kind).await;
    assert_eq!(code(register(&client, "walkin", None).await), Some(ErrorCode::RegistrationClosed));
    let link = invite(&closed, &[]).await;
    assert_eq!(code(register(&client, "walkin", Some(&link.invitation)).await), Some(ErrorCode::RegistrationClosed));
    assert!(!exists(&closed, "walkin").await);
}
per_transport!(each_policy);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_expired_revoked_and_made_up_invitations_create_nothing() {
    let server = with_policy(RegistrationPolicy::Invite).await;
    let client = server.connect(Kind::Tcp).await;

    let once = invite(&server, &["--uses", "1"]).await;
    register(&client, "first", Some(&once.invitation)).await.unwrap();
    assert!(refused(&client, "second", &once.invitation).await, "used up");

    let brief = invite(&server, &["--expires", "1s"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(refused(&client, "late", &brief.invitation).await, "expired");

    let withdrawn = invite(&server, &["--uses", "5", "--note", "for the club"]).await;
    let id = u64::from_be_bytes(withdrawn.invitation[..8].try_into().unwrap());
    let out = kith(&["invite", "revoke", &id.to_string()], &server.data_dir()).await;
    assert!(out.status.success());
    let client = server.connect(Kind::Tcp).await;
    assert!(refused(&client, "revoked", &withdrawn.invitation).await, "revoked");

    let mut forged = withdrawn.invitation.clone();
    forged[..8].copy_from_slice(&once.invitation[..8]);
    let client = server.connect(Kind::Tcp).await;
    assert!(refused(&client, "forged", &forged).await, "another id's secret");
    assert!(refused(&client, "short", &[1, 2, 3]).await, "not 24 bytes");

    for name in ["second", "late", "revoked", "forged", "short"] {
        assert!(!exists(&server, name).await, "{name} was created");
    }
    let list = kith(&["invite", "list", "--json"], &server.data_dir()).await;
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let states: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["used up", "expired", "revoked"]);
    assert!(list.to_string().find(&hex(&once.invitation[8..])).is_none(), "no secret in the listing");
    let stats = kith(&["stats", "--json"], &server.data_dir()).await;
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["invitations"], 0, "none left open");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_racing_for_the_last_use_one_wins() {
    let server = TestServer::start_with(|c| {
        c.registration.policy = RegistrationPolicy::Invite;
        c.registration.public_host = "127.0.0.1".into();
        c.limits.max_concurrent_hashes = 4;
    })
    .await;
    for round in 0..5 {
        let link = invite(&server, &["--uses", "1"]).await;
        let (a, b) = (server.connect(Kind::Tcp).await, server.connect(Kind::Quic).await);
        let (x, y) = (format!("racer{round}a"), format!("racer{round}b"));
        let (ra, rb) = tokio::join!(register(&a, &x, Some(&link.invitation)), register(&b, &y, Some(&link.invitation)));
        let won = [ra.is_ok(), rb.is_ok()];
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "round {round}: {ra:?} {rb:?}");
        let loser = if ra.is_ok() { rb } else { ra };
        assert_eq!(code(loser), Some(ErrorCode::InvalidInvitation));
        assert_eq!(exists(&server, &x).await, won[0]);
        assert_eq!(exists(&server, &y).await, won[1]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_link_carries_the_real_pin_and_an_independent_client_joins_with_it() {
    let server = with_policy(RegistrationPolicy::Invite).await;
    let link = invite(&server, &["--note", "for python"]).await;
    let s = server.server();
    assert_eq!(link.host, "127.0.0.1");
    assert_eq!(link.tls_port, s.tls_addr.map(|a| a.port()));
    assert_eq!(link.quic_port, s.quic_addr.map(|a| a.port()));
    assert_eq!(link.pin, s.fingerprint, "the pin is the certificate the server presents");
    let certificate = kith::transport::cert::Certificate::load(&server.config.tls.cert, &server.config.tls.key);
    assert_eq!(link.spki, Some(certificate.unwrap().public_key_fingerprint().unwrap()), "and its public key");
    // `show` prints the same link again.
    let id = u64::from_be_bytes(link.invitation[..8].try_into().unwrap());
    let shown = kith(&["invite", "show", &id.to_string()], &server.data_dir()).await;
    assert!(String::from_utf8_lossy(&shown.stdout).contains(&link.to_string()));

    // A client written from the document takes only the link.
    let text = link.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-E", "join.py", &text, "--username", "pythonista"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("joined as pythonista"), "{said}");
    assert!(exists(&server, "pythonista").await);
    let phone = server.connect(Kind::Tcp).await;
    let device = common::device("phone", kith::protocol::DeviceType::Mobile);
    phone.login("pythonista", "joined with a link", device).await.expect("the account logs in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_invitations_is_throttled() {
    let server = with_policy(RegistrationPolicy::Invite).await;
    let client = server.connect(Kind::Tcp).await;
    let made_up = [7u8; 24];
    for i in 0..3 {
        let name = format!("guess{i}");
        assert_eq!(code(register(&client, &name, Some(&made_up)).await), Some(ErrorCode::InvalidInvitation));
    }
    let err = register(&client, "guess3", Some(&made_up)).await.unwrap_err();
    assert_eq!((err.code(), err.rate_limit_reason()), (Some(ErrorCode::RateLimited), Some(RateLimitReason::Failures)));
    assert!(err.retry_after().is_some());
    // While the address waits, even a valid invitation waits, and is not
    // used up by the refusal: after the wait it admits its one user.
    let once = invite(&server, &["--uses", "1"]).await;
    let err = register(&client, "invited", Some(&once.invitation)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RateLimited), "{err}");
    tokio::time::sleep(err.retry_after().unwrap()).await;
    register(&client, "invited", Some(&once.invitation)).await.expect("the invitation still admits one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_changes_the_policy_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kith.toml");
    std::fs::write(&file, "[registration]\npolicy = \"closed\"\n").unwrap();
    let file_arg = file.display().to_string();
    let mut server = common::process::start_without_defaults(dir.path(), &["--config", &file_arg]);
    let client = Client::connect(server.tls, &kith::client::Transport::Tls { fingerprint: server.fingerprint }).await;
    let client = client.unwrap();
    assert_eq!(code(register(&client, "early", None).await), Some(ErrorCode::RegistrationClosed));

    std::fs::write(&file, "[registration]\npolicy = \"open\"\n").unwrap();
    let hup = Command::new("kill").args(["-s", "HUP", &server.child.id().to_string()]).status().unwrap();
    assert!(hup.success());
    common::process::wait_for_line(&server, "registration policy changed");
    register(&client, "later", None).await.expect("open after the reload");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
