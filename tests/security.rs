//! The attacks of the security review, each run against the real server:
//! logins racing a password reset or a disable, concurrent guesses, floods
//! of registrations, large frames before authentication, secrets on disk,
//! a stalled backup reader, storage-engine logs at trace, a failing disk,
//! QUIC address validation and restoring impossible data.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::process::{start_with_env, KITH};
use common::{device, disconnect_reason, Kind, TestServer, PASSWORD, SOON};
use futures_util::future::join_all;
use kith::client::{Client, ClientError, RawReply, Transport};
use kith::codec::decode_wire;
use kith::protocol::RateLimitReason;
use kith::protocol::{
    encode_frame, Action, DeviceType, DisconnectReason, ErrorBody, ErrorCode, Header, ERROR_ACTION, VERSION,
};

fn kith_cli(args: &[&str], data_dir: &Path, password: Option<&str>, umask: &str) -> Output {
    // Through a shell, to run under the given umask as an operator's shell would.
    let line = format!("umask {umask}; exec \"$0\" \"$@\" --data-dir \"$DATA\"");
    let mut command = Command::new("sh");
    command.arg("-c").arg(line).arg(KITH).args(args).env("DATA", data_dir).env_remove("KITH_PASSWORD");
    if let Some(p) = password {
        command.env("KITH_PASSWORD", p);
    }
    command.output().unwrap()
}

async fn kith_async(args: &[&str], data_dir: &Path, password: Option<&str>) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (data_dir, password) = (data_dir.to_path_buf(), password.map(str::to_string));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kith_cli(&args, &data_dir, password.as_deref(), "022")
    })
    .await
    .unwrap()
}

fn code<T: std::fmt::Debug>(r: &Result<T, ClientError>) -> Option<ErrorCode> {
    r.as_ref().err().and_then(|e| e.code())
}

/// Logs `name` in on a fresh connection; the connection and the outcome.
async fn login(
    server: &TestServer,
    name: &str,
    password: &str,
    device_id: String,
) -> (Client, Result<Vec<u8>, ClientError>) {
    let client = server.connect(Kind::Tcp).await;
    let result = client.login(name, password, device(&device_id, DeviceType::Web)).await.map(|l| l.token);
    (client, result)
}

/// How many of the logins in flight were admitted before the operator's
/// change committed — a token issued, or a refusal by the re-check on the
/// write path, which only a login that had read the account before the
/// change meets. None means the test did not race at all.
fn raced(outcomes: &[(Client, Result<Vec<u8>, ClientError>)]) -> usize {
    outcomes
        .iter()
        .filter(|(_, outcome)| match outcome {
            Ok(_) => true,
            Err(ClientError::Server(body)) => body.message.contains("meanwhile"),
            Err(_) => false,
        })
        .count()
}

/// After an operator change of the account, no login that was in flight
/// across it keeps a token or a session. (Sessions of one device type also
/// kick each other; whichever comes first, none may stay open.)
async fn assert_locked_out(server: &TestServer, outcomes: Vec<(Client, Result<Vec<u8>, ClientError>)>) {
    let probe = server.connect(Kind::Tcp).await;
    for (mut client, outcome) in outcomes {
        if let Ok(token) = outcome {
            let reused = probe.auth(&token).await;
            assert!(reused.is_err(), "a token issued across the change still authenticates");
            disconnect_reason(&mut client, SOON).await;
            assert!(client.heartbeat().await.is_err(), "a session survived the change");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_in_flight_across_a_password_reset_keep_nothing() {
    let server = TestServer::start_with(|c| c.limits.max_concurrent_hashes = 1).await;
    server.user(Kind::Tcp, "victim").await;
    let data = server.data_dir();
    for i in 0..4 {
        server.connect(Kind::Tcp).await.register(&format!("busy{i}"), PASSWORD).await.unwrap();
    }
    // Logins of other users fill the one hashing slot's queue; the reset's
    // hash queues behind them; then logins with the old password read the
    // account and queue behind the reset, which commits while they wait.
    let server = &server;
    let busy = join_all((0..4).map(|i| async move { login(server, &format!("busy{i}"), PASSWORD, "b".into()).await }));
    let reset = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        kith_async(&["user", "reset-password", "victim"], &data, Some("the new password")).await
    };
    let logins = async {
        tokio::time::sleep(Duration::from_millis(80)).await;
        join_all((0..2).map(|i| login(server, "victim", PASSWORD, format!("d{i}")))).await
    };
    let (_, reset, outcomes) = tokio::join!(busy, reset, logins);
    assert!(reset.status.success(), "{}", String::from_utf8_lossy(&reset.stderr));
    let seen: Vec<_> = outcomes.iter().map(|(_, o)| o).collect();
    assert!(raced(&outcomes) > 0, "no login was in flight across the reset: {seen:?}");
    assert_locked_out(server, outcomes).await;
    let (_, after) = login(server, "victim", PASSWORD, "late".into()).await;
    assert_eq!(code(&after), Some(ErrorCode::BadCredentials));
    let (_, fresh) = login(server, "victim", "the new password", "fresh".into()).await;
    assert!(fresh.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_in_flight_across_a_disable_keep_nothing() {
    let server = TestServer::start_with(|c| c.limits.max_concurrent_hashes = 1).await;
    let user = server.user(Kind::Tcp, "victim").await;
    let data = server.data_dir();
    let token = user.login.token.clone();
    let logins = join_all((0..6).map(|i| login(&server, "victim", PASSWORD, format!("d{i}"))));
    let auths = join_all((0..3).map(|_| async {
        let client = server.connect(Kind::Tcp).await;
        let result = client.auth(&token).await.map(|_| token.clone());
        (client, result)
    }));
    let disable = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        kith_async(&["user", "disable", "victim"], &data, None).await
    };
    let (mut outcomes, auths, disable) = tokio::join!(logins, auths, disable);
    assert!(disable.status.success());
    let seen: Vec<_> = outcomes.iter().map(|(_, o)| o).collect();
    assert!(raced(&outcomes) > 0, "no login was in flight across the disable: {seen:?}");
    outcomes.extend(auths);
    assert_locked_out(&server, outcomes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_are_throttled_like_sequential_ones() {
    let server = TestServer::start().await;
    server.user(Kind::Tcp, "target").await;
    let server = &server;
    let guesses = join_all((0..60).map(|i| async move {
        let client = server.connect(Kind::Tcp).await;
        let r = client.login("target", &format!("guess number {i}"), device("g", DeviceType::Web)).await;
        code(&r)
    }))
    .await;
    let verified = guesses.iter().filter(|c| **c == Some(ErrorCode::BadCredentials)).count();
    let throttled = guesses.iter().filter(|c| **c == Some(ErrorCode::RateLimited)).count();
    assert_eq!(verified + throttled, 60);
    assert!(verified <= 4, "{verified} of 60 concurrent guesses were checked; at most 4 may be");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_limited_per_address_and_in_flight() {
    let server = TestServer::start_with(|c| {
        c.limits.registrations_per_address_per_hour = 5;
        c.limits.max_pending_registrations = 2;
    })
    .await;
    // One registration of the address's five is used here.
    server.user(Kind::Tcp, "regular").await;
    let server = &server;
    // A flood: only the pending cap's worth run at once, the rest are refused.
    let flood = join_all((0..8).map(|i| async move {
        let client = server.connect(Kind::Tcp).await;
        client.register(&format!("flood{i}"), PASSWORD).await.err().map(|e| (e.code(), e.rate_limit_reason()))
    }))
    .await;
    let created = flood.iter().filter(|c| c.is_none()).count();
    assert!(created <= 4, "{created} registrations; the address had 4 left this hour");
    // Each refusal says which limit it met: the registrations in progress
    // (Busy: retry by itself) or the address's hour (Quota: tell the user).
    let refused = |reason| flood.iter().filter(|c| **c == Some((Some(ErrorCode::RateLimited), Some(reason)))).count();
    let (busy, quota) = (refused(RateLimitReason::Busy), refused(RateLimitReason::Quota));
    assert_eq!(created + busy + quota, 8, "{flood:?}");
    // The hour refuses only once it is used up; short of that, the
    // refusals were the in-progress cap's.
    assert!(created == 4 || (busy > 0 && quota == 0), "{flood:?}");
    // The address has five registrations an hour, however they are spread.
    let mut total = 1 + created;
    for i in 0..6 {
        match code(&server.connect(Kind::Tcp).await.register(&format!("more{i}"), PASSWORD).await) {
            None => total += 1,
            Some(code) => {
                assert_eq!(code, ErrorCode::RateLimited);
                let err = server.connect(Kind::Tcp).await.register("one_more", PASSWORD).await.unwrap_err();
                assert_eq!(err.rate_limit_reason(), Some(RateLimitReason::Quota), "{err}");
                break;
            }
        }
    }
    assert_eq!(total, 5);
}

/// Registrations hash within a share of the hashing pool (one of its two
/// slots here), so a login queued after eight of them is answered while most
/// are still waiting; sharing one queue, it would come after all eight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_do_not_wait_behind_registrations() {
    let server = TestServer::start_with(|c| {
        c.limits.registrations_per_address_per_hour = 100;
        c.limits.max_pending_registrations = 8;
        c.limits.max_concurrent_hashes = 2;
    })
    .await;
    server.user(Kind::Tcp, "regular").await;
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(server.connect(Kind::Tcp).await);
    }
    let finished = AtomicUsize::new(0);
    let finished = &finished;
    let flood = join_all(clients.iter().enumerate().map(|(i, client)| async move {
        client.register(&format!("flood{i}"), PASSWORD).await.unwrap();
        finished.fetch_add(1, Ordering::SeqCst);
    }));
    let logging_in = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (_, r) = login(&server, "regular", PASSWORD, "laptop".into()).await;
        r.unwrap();
        finished.load(Ordering::SeqCst)
    };
    let (_, before_login) = tokio::join!(flood, logging_in);
    // Sharing one queue, the login would be ninth in line for two slots:
    // seven or eight registrations would be answered first. With its own
    // slot it runs beside the first ones; the margin is for a busy machine.
    assert!(before_login < 6, "{before_login} of 8 registrations were answered before the login");
}

async fn raw(client: &Client, frame: Vec<u8>, sequence: u32) -> Option<RawReply> {
    tokio::time::timeout(SOON, client.send_bytes(frame, Some(sequence))).await.ok()?.ok()?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_small_frames_are_read_before_authentication() {
    let server = TestServer::start().await;
    // A header announcing 8 KiB before any login: refused at once, closed.
    let mut anonymous = server.connect(Kind::Tcp).await;
    let header = Header { version: VERSION, action: Action::Login as u8, sequence: 7, body_len: 8192 };
    let reply = raw(&anonymous, header.to_bytes().to_vec(), 7).await.expect("an answer without the body");
    assert_eq!(reply.action, ERROR_ACTION);
    assert_eq!(decode_wire::<ErrorBody>(&reply.body).unwrap().error_code(), Some(ErrorCode::FrameTooLarge));
    assert_eq!(disconnect_reason(&mut anonymous, SOON).await, DisconnectReason::ProtocolError);
    // Once authenticated, a frame of that size is read as usual.
    let user = server.user(Kind::Tcp, "alice").await;
    let body = vec![0u8; 8192];
    let reply = raw(&user.client, encode_frame(Action::Heartbeat as u8, 9, &body), 9).await.unwrap();
    assert_eq!(decode_wire::<ErrorBody>(&reply.body).unwrap().error_code(), Some(ErrorCode::MalformedBody));
    assert!(user.client.heartbeat().await.is_ok());
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A data directory made by the real binary, holding user alice; the
/// server is stopped again.
async fn made_by_kith(dir: &Path) -> std::path::PathBuf {
    let mut server = start_with_env(dir, &[], &[("RUST_LOG", "info")]);
    let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    client.register("alice", PASSWORD).await.unwrap();
    common::process::signal(&server.child, "TERM");
    server.child.wait().unwrap();
    dir.join("data")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_at_rest_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    // The server is started under umask 022, as from an operator's shell.
    let data = {
        let mut server = {
            let dir = dir.path().to_path_buf();
            let args: Vec<String> = common::process::serve_args(&dir);
            let line = "umask 022; exec \"$0\" \"$@\"";
            Command::new("sh")
                .arg("-c")
                .arg(line)
                .arg(KITH)
                .args(&args)
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let socket = kith::admin::control::socket_path(&dir.path().join("data"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The control socket is the server's and its group's, never others'.
        assert_eq!(mode(&socket), 0o660, "control socket");
        let data = dir.path().join("data");
        let added = kith_cli(&["user", "add", "alice"], &data, Some(PASSWORD), "022");
        assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
        common::process::signal(&server, "TERM");
        server.wait().unwrap();
        data
    };
    assert_eq!(mode(&data), 0o700, "data directory");
    for entry in std::fs::read_dir(data.join("sled")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    let backup = dir.path().join("all.kithbak");
    assert!(kith_cli(&["backup", backup.to_str().unwrap()], &data, None, "022").status.success());
    assert_eq!(mode(&backup), 0o600, "backup file");
    let export = dir.path().join("alice.jsonl");
    let out = kith_cli(&["user", "export", "alice", "--output", export.to_str().unwrap()], &data, None, "022");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&export), 0o600, "export file");
    let restored = dir.path().join("restored");
    assert!(kith_cli(&["restore", backup.to_str().unwrap()], &restored, None, "022").status.success());
    assert_eq!(mode(&restored), 0o700, "restored data directory");

    // A symlink planted where the temporary file goes is refused, not followed.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"untouched").unwrap();
    let target = dir.path().join("planted.kithbak");
    std::os::unix::fs::symlink(&victim, target.with_extension("partial")).unwrap();
    let out = kith_cli(&["backup", target.to_str().unwrap()], &data, None, "022");
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
}

/// A control connection that never sends its request is closed after the
/// 30 s stall limit instead of being kept for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_control_connection_is_closed() {
    use tokio::io::AsyncReadExt;
    let server = TestServer::start().await;
    let socket = kith::admin::control::socket_path(&server.data_dir());
    let mut silent = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(90), silent.read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0))), "the server kept a silent control connection: {read:?}");
    assert!(started.elapsed() >= Duration::from_secs(25), "closed before the stall limit: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_backup_reader_holds_up_no_write() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    // Enough data that a backup outgrows every buffer between the server and a reader.
    let big = "z".repeat(60 * 1024);
    for _ in 0..200 {
        alice.client.send_text(bob.user_id, &big).await.unwrap();
    }
    let socket = kith::admin::control::socket_path(&server.data_dir());
    let mut stalled = tokio::net::UnixStream::connect(&socket).await.unwrap();
    stalled.write_all(b"{\"command\":\"backup\"}\n").await.unwrap();
    // Never read. Writes go on meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..20 {
        let sent = tokio::time::timeout(SOON, alice.client.send_text(bob.user_id, &format!("still {i}"))).await;
        assert!(matches!(sent, Ok(Ok(_))), "a send waited behind the stalled backup");
    }
    let (_, logged_in) =
        tokio::time::timeout(SOON, login(&server, "bob", PASSWORD, "bob-laptop".into())).await.unwrap();
    assert!(logged_in.is_ok());
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_hold_no_message_or_password_hash() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_with_env(dir.path(), &[], &[("RUST_LOG", "trace")]);
    let tls = Transport::Tls { fingerprint: server.fingerprint };
    let client = Client::connect(server.tls, &tls).await.unwrap();
    client.register("alice", PASSWORD).await.unwrap();
    client.login("alice", PASSWORD, device("a", DeviceType::Mobile)).await.unwrap();
    // Enough writes for sled to rewrite nodes, which it logs at trace with
    // their keys and values.
    for i in 0..300 {
        client.send_text(1, &format!("a very secret message body {i}")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // Every line the server wrote: the reader ends when its stderr closes.
    let log: Vec<String> = server.lines.iter().collect();
    assert!(log.len() > 20, "trace logging is on");
    // As text, and as the byte lists sled's debug output prints.
    let as_bytes = |text: &str| text.bytes().map(|b| b.to_string()).collect::<Vec<_>>().join(", ");
    let secrets = ["a very secret", "$argon2id$", "correct horse"];
    for line in &log {
        for secret in secrets {
            assert!(!line.contains(secret) && !line.contains(&as_bytes(secret)), "{secret:?} in the log: {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_stops_acknowledgements_and_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_with_env(dir.path(), &[], &[("RUST_LOG", "info"), ("KITH_INJECT_SYNC_FAILURE", "12")]);
    let tls = Transport::Tls { fingerprint: server.fingerprint };
    let client = Client::connect(server.tls, &tls).await.unwrap();
    let me = client.register("alice", PASSWORD).await.unwrap();
    client.login("alice", PASSWORD, device("a", DeviceType::Mobile)).await.unwrap();
    let mut acked = Vec::new();
    let mut failed = None;
    for i in 0..100 {
        match client.send_text(me, &format!("{i}")).await {
            Ok(ack) => acked.push(ack.message_id),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    assert!(failed.is_some(), "the injected failure was reported");
    // The process exits (for systemd to restart it), with the I/O error status.
    let deadline = Instant::now() + SOON;
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "kith kept running after its storage failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(74));
    // Everything acknowledged before the failure is there after a restart.
    let server = common::process::start(dir.path(), &[]);
    let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    client.login("alice", PASSWORD, device("b", DeviceType::Desktop)).await.unwrap();
    let stored: Vec<u64> = client.sync_messages(0).await.unwrap().iter().map(|m| m.id).collect();
    for id in &acked {
        assert!(stored.contains(id), "acknowledged message {id} lost");
    }
    let mut server = server;
    server.child.kill().unwrap();
}

/// With the threshold at 0 every QUIC peer must answer a Retry before it
/// takes a connection slot: the server's log shows the Retry asked of each
/// client, and the clients still connect and talk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_clients_connect_when_every_address_must_be_validated() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("RUST_LOG", "info,kith::transport::quic=debug")];
    let server = common::process::start_with_env(dir.path(), &["--set", "limits.quic_validate_above=0"], &env);
    let quic = Transport::Quic { fingerprint: server.fingerprint };
    let mut users = Vec::new();
    for name in ["alice", "bob"] {
        let client = Client::connect(server.quic, &quic).await.unwrap();
        common::process::wait_for_line(&server, "asking for address validation");
        let id = client.register(name, PASSWORD).await.unwrap();
        client.login(name, PASSWORD, device(name, DeviceType::Mobile)).await.unwrap();
        users.push((id, client));
    }
    let ((alice, mut alice_client), (_, bob_client)) = (users.remove(0), users.remove(0));
    bob_client.send_text(alice, "over a validated path").await.unwrap();
    assert_eq!(common::next_message(&mut alice_client).await.content, b"over a validated path");
}

/// A backup file with one value replaced, its checksum made right again.
fn with_value(backup: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
    use ring::digest::{Context, SHA256};
    let body = &backup[..backup.len() - 33];
    let mut out = body[..12].to_vec();
    let mut at = 12;
    let read = |at: &mut usize| {
        let len = u32::from_be_bytes(body[*at..*at + 4].try_into().unwrap()) as usize;
        let field = body[*at + 4..*at + 4 + len].to_vec();
        *at += 4 + len;
        field
    };
    let mut replaced = false;
    while at < body.len() {
        let tag = body[at];
        at += 1;
        out.push(tag);
        let first = read(&mut at);
        if tag == 2 {
            let second = read(&mut at);
            let second = if first == key {
                replaced = true;
                value.to_vec()
            } else {
                second
            };
            for f in [&first, &second] {
                out.extend_from_slice(&(f.len() as u32).to_be_bytes());
                out.extend_from_slice(f);
            }
        } else {
            out.extend_from_slice(&(first.len() as u32).to_be_bytes());
            out.extend_from_slice(&first);
        }
    }
    assert!(replaced, "the key is in the backup");
    out.push(0);
    let mut hash = Context::new(&SHA256);
    hash.update(&out);
    out.extend_from_slice(hash.finish().as_ref());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restoring_impossible_values_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = made_by_kith(dir.path()).await;
    let file = dir.path().join("good.kithbak");
    assert!(kith_cli(&["backup", file.to_str().unwrap()], &data, None, "077").status.success());
    let good = std::fs::read(&file).unwrap();
    for (key, value, what) in [
        (vec![0x12u8], kith::codec::encode_stored(&u64::MAX), "users_lastid"),
        (vec![0x02u8], kith::codec::encode_stored(&u64::MAX), "high-water"),
    ] {
        let bad = dir.path().join("bad.kithbak");
        std::fs::write(&bad, with_value(&good, &key, &value)).unwrap();
        let target = dir.path().join("restored");
        let out = kith_cli(&["restore", bad.to_str().unwrap()], &target, None, "077");
        assert!(!out.status.success(), "{what}: restored");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no kith could have written"), "{what}");
        assert!(!target.join("sled").exists(), "{what}: left behind");
    }
    let target = dir.path().join("restored");
    assert!(kith_cli(&["restore", file.to_str().unwrap()], &target, None, "077").status.success());
}
