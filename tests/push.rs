//! Wake-ups for sleeping phones: a device registers the endpoint its
//! UnifiedPush distributor gave it, and while it has no connection the
//! server posts WebPush requests there. The push service here is
//! `tests/independent/push_server.py`: it makes the device's keys, registers
//! them as the independent client does (from docs/PROTOCOL.md alone), checks
//! every request's VAPID signature and decrypts its body with another
//! implementation than the server's (Python's `http_ece`).

use crate::common::{self, Kind, TestServer, PASSWORD};

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kith::client::Client;
use kith::protocol::{
    AuthRequest, ChangePasswordRequest, DeviceType, ErrorCode, PushEndpoint, PushKey, SetPushEndpointRequest, Target,
};
use serde_json::Value;

/// A device the push service registers, at a server's TLS address.
struct Device<'a> {
    tls: SocketAddr,
    pin: [u8; 32],
    user: &'a str,
    device: &'a str,
}

/// `user`'s device `device` on a test server.
fn device<'a>(server: &TestServer, user: &'a str, device: &'a str) -> Device<'a> {
    let s = server.server();
    Device { tls: s.tls_addr.unwrap(), pin: s.fingerprint, user, device }
}

/// The test push service, and the lines it prints.
struct PushService {
    child: Child,
    lines: mpsc::Receiver<Value>,
    /// Its first line: the endpoint, the device's keys, the device's token.
    registered: Value,
}

impl Drop for PushService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The push service decrypts with Python's `http_ece` (RFC 8188/8291),
/// installed here on a machine that lacks it, so the README's one test
/// command is all a fresh machine needs.
fn install_http_ece() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let has = |c: &mut Command| c.status().is_ok_and(|s| s.success());
        if has(Command::new("python3").args(["-c", "import http_ece, cryptography"])) {
            return;
        }
        let pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "http_ece==1.2.1"];
        // Debian's own Python wants the flag; a Python of one's own refuses nothing.
        let installed = has(Command::new("python3").args(pip))
            || has(Command::new("python3").args(pip).arg("--break-system-packages"));
        assert!(installed, "python3 -m pip install http_ece failed: the push tests need it");
    });
}

impl PushService {
    /// Starts it; with `register`, it registers as that device and
    /// disconnects.
    fn start(register: Option<Device>, extra: &[&str]) -> PushService {
        install_http_ece();
        let mut command = Command::new("python3");
        command.args(["-E", "push_server.py"]).args(extra);
        if let Some(Device { tls, pin, user, device }) = register {
            let fingerprint = kith::transport::cert::format_fingerprint(&pin);
            let port = tls.port().to_string();
            command.args(["--register", "127.0.0.1", &port, &fingerprint, user, PASSWORD, device]);
        }
        let mut child = command
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let registered = lines.recv_timeout(Duration::from_secs(30)).expect("the push service starts");
        PushService { child, lines, registered }
    }

    /// The next request it took, if one comes within `wait`.
    fn request_within(&self, wait: Duration) -> Option<Value> {
        self.lines.recv_timeout(wait).ok()
    }

    fn request(&self) -> Value {
        self.request_within(Duration::from_secs(20)).expect("a wake-up arrives")
    }

    /// The endpoint as a device would register it.
    fn endpoint(&self, vapid: bool) -> PushEndpoint {
        let hex = |key: &str| kith::hex::unhex(self.registered[key].as_str().unwrap()).unwrap();
        PushEndpoint {
            url: self.registered["url"].as_str().unwrap().into(),
            p256dh: hex("p256dh"),
            auth: hex("auth").try_into().unwrap(),
            vapid,
        }
    }
}

/// A server that wakes devices at loopback endpoints, at most once every
/// `interval` seconds.
async fn server(interval: u32, retries: u32) -> TestServer {
    TestServer::start_with(|c| {
        c.push.local_hosts = vec!["127.0.0.1".into()];
        c.push.interval_secs = interval;
        c.push.retries = retries;
    })
    .await
}

/// The sleeping device, connected again. Not by logging in, which would
/// start it afresh without its endpoint, but with `Auth` and the token its
/// registration printed, as an app coming back to the foreground does.
async fn wake_up_as(server: &TestServer, service: &PushService) -> Client {
    let client = server.connect(Kind::Tcp).await;
    let token = kith::hex::unhex(service.registered["token"].as_str().unwrap()).unwrap();
    client.call(&AuthRequest { token }).await.expect("the device's token works");
    client
}

fn seconds(request: &Value) -> f64 {
    request["at"].as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_phone_is_woken_once_an_interval_and_never_while_connected() {
    let server = server(2, 4).await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let service = PushService::start(Some(device(&server, "alice", "sleeper")), &[]);

    // The first message wakes the phone at once: ids and the badge, nothing
    // of the message, signed with the server's key, encrypted for the phone.
    let first = bob.client.send_text(alice.user_id, "are you up?").await.unwrap();
    let wake = service.request();
    assert_eq!(wake["vapid"], "ok", "{wake}");
    assert_eq!(wake["encoding"], "aes128gcm");
    assert_eq!(wake["ttl"], "86400");
    assert_eq!(wake["payload"], serde_json::json!({ "update": first.message_id, "user": bob.user_id, "badge": 1 }));

    // Three more within the interval make one more wake-up, an interval
    // later, telling of the newest.
    let mut last = first;
    for text in ["hello?", "hello??", "wake up"] {
        last = bob.client.send_text(alice.user_id, text).await.unwrap();
    }
    let second = service.request();
    assert!(seconds(&second) - seconds(&wake) >= 1.9, "{wake} {second}");
    assert_eq!(second["payload"], serde_json::json!({ "update": last.message_id, "user": bob.user_id, "badge": 4 }));
    assert!(service.request_within(Duration::from_secs(3)).is_none(), "one wake-up for the three");

    // Connected, the phone is never woken; asleep again, it is.
    let phone = wake_up_as(&server, &service).await;
    bob.client.send_text(alice.user_id, "you are online").await.unwrap();
    assert!(service.request_within(Duration::from_secs(3)).is_none(), "a connected device is not woken");
    drop(phone);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = bob.client.send_text_to(Target::User(alice.user_id), "and now asleep").await.unwrap();
    let wake = service.request();
    assert_eq!(wake["payload"]["update"], later.message_id);
    assert_eq!(wake["payload"]["badge"], 6);

    let stats = common::process::stats(&server.data_dir());
    assert_eq!((stats["push_endpoints"].as_u64(), stats["pushes_sent_since_start"].as_u64()), (Some(1), Some(3)));
    assert_eq!(stats["pushes_failed_since_start"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_push_services_are_retried_as_they_ask() {
    let server = server(60, 3).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let service = PushService::start(Some(device(&server, "alice", "sleeper")), &["--answers", "500,429:1,503"]);

    let message = bob.client.send_text(alice.user_id, "wake up").await.unwrap();
    let attempts: Vec<Value> = (0..4).map(|_| service.request()).collect();
    let statuses: Vec<u64> = attempts.iter().map(|a| a["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [500, 429, 503, 201]);
    assert!(attempts.iter().all(|a| a["payload"]["update"] == message.message_id), "{attempts:?}");
    // 1 s after the 500, 1 s as Retry-After said, then 4 s (1, 2, 4 … doubling).
    let gaps: Vec<f64> = attempts.windows(2).map(|w| seconds(&w[1]) - seconds(&w[0])).collect();
    assert!(gaps[0] >= 0.9 && gaps[1] >= 0.9 && gaps[2] >= 3.9, "{gaps:?}");
    let stats = common::process::stats(&server.data_dir());
    assert_eq!(
        (stats["pushes_sent_since_start"].as_u64(), stats["pushes_failed_since_start"].as_u64()),
        (Some(1), Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_and_a_gone_endpoint_is_forgotten() {
    let server = server(1, 4).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let service = PushService::start(Some(device(&server, "alice", "sleeper")), &["--answers", "307,410"]);

    bob.client.send_text(alice.user_id, "one").await.unwrap();
    assert_eq!(service.request()["status"], 307);
    let listed = push_list(&server);
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0]["device_id"].as_str(), listed[0]["host"].as_str()), (Some("sleeper"), Some("127.0.0.1")));
    assert_eq!(listed[0]["last_ok"], false);
    assert!(listed[0]["last_result"].as_str().unwrap().contains("redirects are not followed"), "{listed:?}");

    tokio::time::sleep(Duration::from_millis(1200)).await;
    bob.client.send_text(alice.user_id, "two").await.unwrap();
    let gone = service.request();
    assert_eq!(gone["status"], 410);
    assert!(service.request_within(Duration::from_secs(2)).is_none(), "{gone}: neither redirect nor 410 is retried");
    assert!(push_list(&server).is_empty(), "410 forgets the endpoint");
    let phone = wake_up_as(&server, &service).await;
    assert!(!phone.call(&PushKey).await.unwrap().registered);
    drop(alice);
}

/// `kith push list --json` against the running server.
fn push_list(server: &TestServer) -> Vec<Value> {
    push_list_of(&server.data_dir())
}

/// `kith push list --json` on a data directory, running or not.
fn push_list_of(data_dir: &std::path::Path) -> Vec<Value> {
    let out = Command::new(common::process::KITH).args(["push", "list", "--json", "--data-dir"]).arg(data_dir).output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

/// A backup carries the endpoints, and a restored server knows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_survive_a_backup_and_restore() {
    let server = server(60, 0).await;
    let alice = server.user(Kind::Tls, "alice").await;
    alice.client.call(&endpoint("http://127.0.0.1:9/up")).await.unwrap();
    let file = server.dir.path().join("backup.kith");
    common::process::backup(&server.data_dir(), &file);
    let target = server.dir.path().join("restored");
    let out = Command::new(common::process::KITH).arg("restore").arg(&file).arg("--data-dir").arg(&target).output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = push_list_of(&target);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0]["device_id"].as_str(), listed[0]["connected"].as_bool()), (Some("alice-phone"), Some(false)));
}

/// A P-256 point a device could have made.
fn device_key() -> Vec<u8> {
    use ring::agreement::{EphemeralPrivateKey, ECDH_P256};
    let private = EphemeralPrivateKey::generate(&ECDH_P256, &ring::rand::SystemRandom::new()).unwrap();
    private.compute_public_key().unwrap().as_ref().to_vec()
}

fn endpoint(url: &str) -> SetPushEndpointRequest {
    SetPushEndpointRequest {
        endpoint: Some(PushEndpoint { url: url.into(), p256dh: device_key(), auth: [9; 16], vapid: true }),
    }
}

async fn endpoints_are_checked_when_set(kind: Kind) {
    let open = TestServer::start().await;
    let alice = open.user(kind, "alice").await;
    let refused = |result: Result<(), kith::client::ClientError>| result.unwrap_err().code();
    let key = alice.client.call(&PushKey).await.unwrap();
    assert!(key.enabled && !key.registered);
    assert_eq!((key.vapid_key.len(), key.vapid_key[0], key.interval_secs), (65, 4, 60));
    for url in [
        "http://127.0.0.1:9/up",       // plain http, for a host nobody listed
        "https://127.0.0.1:9/up",      // loopback
        "https://localhost:9/up",      // a name that resolves to loopback
        "https://[::ffff:10.0.0.1]/x", // a private address in IPv6 dress
        "https://169.254.169.254/x",   // link-local: cloud metadata
        "ftp://push.example.org/up",
        "https://user:secret@push.example.org/up",
    ] {
        assert_eq!(refused(alice.client.call(&endpoint(url)).await), Some(ErrorCode::InvalidArgument), "{url}");
    }
    let mut bad_key = endpoint("https://127.0.0.1/up");
    bad_key.endpoint.as_mut().unwrap().p256dh = vec![4; 65];
    assert_eq!(refused(alice.client.call(&bad_key).await), Some(ErrorCode::InvalidArgument));
    assert!(!alice.client.call(&PushKey).await.unwrap().registered);

    // The operator lists a host on their network: then it may be http and
    // private; clearing works whatever was set.
    let local = TestServer::start_with(|c| c.push.local_hosts = vec!["127.0.0.1".into()]).await;
    let bob = local.user(kind, "bob").await;
    bob.client.call(&endpoint("http://127.0.0.1:9/up")).await.unwrap();
    assert!(bob.client.call(&PushKey).await.unwrap().registered);
    bob.client.call(&SetPushEndpointRequest { endpoint: None }).await.unwrap();
    assert!(!bob.client.call(&PushKey).await.unwrap().registered);

    // A server with wake-ups off says so, and refuses an endpoint.
    let off = TestServer::start_with(|c| c.push.enabled = false).await;
    let carol = off.user(kind, "carol").await;
    let key = carol.client.call(&PushKey).await.unwrap();
    assert!(!key.enabled && key.vapid_key.is_empty());
    assert_eq!(
        refused(carol.client.call(&endpoint("https://push.example.org/up")).await),
        Some(ErrorCode::NotPermitted)
    );
    carol.client.call(&SetPushEndpointRequest { endpoint: None }).await.unwrap();
}

per_transport!(endpoints_are_checked_when_set);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_or_being_logged_out_forgets_the_endpoint() {
    let server = server(60, 0).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    alice.client.call(&endpoint("http://127.0.0.1:9/up")).await.unwrap();
    alice.client.logout().await.unwrap();
    let (phone, _) = server.device(Kind::Tcp, "alice", "alice-phone", DeviceType::Mobile).await;
    assert!(!phone.call(&PushKey).await.unwrap().registered, "logout forgot it");

    // Both devices registered; the password changes on the laptop, which
    // logs the phone out: the phone's endpoint goes, the laptop's stays.
    phone.call(&endpoint("http://127.0.0.1:9/up")).await.unwrap();
    let (laptop, _) = server.device(Kind::Tcp, "alice", "laptop", DeviceType::Desktop).await;
    laptop.call(&endpoint("http://127.0.0.1:9/laptop")).await.unwrap();
    assert_eq!(push_list(&server).len(), 2);
    let change = ChangePasswordRequest { old_password: PASSWORD.into(), new_password: "another good one".into() };
    laptop.call(&change).await.unwrap();
    let listed = push_list(&server);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["device_id"], "laptop");
    assert!(laptop.call(&PushKey).await.unwrap().registered);

    // A new login of the laptop keeps it; the phone, logged out, may not set one.
    let again = server.connect(Kind::Tcp).await;
    again.login("alice", "another good one", common::device("laptop", DeviceType::Desktop)).await.unwrap();
    assert!(again.call(&PushKey).await.unwrap().registered);
    let refused = phone.call(&endpoint("http://127.0.0.1:9/up")).await;
    assert!(refused.is_err(), "the phone was logged out");
}

/// Registered over QUIC by the Rust client, with keys the push service
/// made, for a distributor that wants no VAPID: the wake-up carries no
/// signature and still decrypts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_registered_over_quic_without_vapid_is_woken_unsigned() {
    let server = server(60, 0).await;
    let alice = server.user(Kind::Quic, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let key = alice.client.call(&PushKey).await.unwrap();
    let service = PushService::start(None, &["--vapid-key", &kith::hex::hex(&key.vapid_key)]);
    alice.client.call(&SetPushEndpointRequest { endpoint: Some(service.endpoint(false)) }).await.unwrap();
    let alice_id = alice.user_id;
    drop(alice);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let sent = bob.client.send_text(alice_id, "asleep?").await.unwrap();
    let wake = service.request();
    assert_eq!(wake["vapid"], "absent", "{wake}");
    assert_eq!(wake["payload"], serde_json::json!({ "update": sent.message_id, "user": bob.user_id, "badge": 1 }));

    // Her export shows the endpoint her phone gave, and not its keys.
    let file = server.dir.path().join("alice.jsonl");
    let out = Command::new(common::process::KITH)
        .args(["user", "export", "alice", "--output"])
        .arg(&file)
        .arg("--data-dir")
        .arg(server.data_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let profile: Value = serde_json::from_str(std::fs::read_to_string(&file).unwrap().lines().next().unwrap()).unwrap();
    let phone = &profile["profile"]["devices"][0];
    assert_eq!(phone["push"]["url"], service.registered["url"], "{profile}");
    assert_eq!(phone["push"]["vapid"], false);
    assert!(phone["push"].get("p256dh").is_none());
}

/// A group too large to log each message in every member's log still wakes
/// its members; one who muted it is woken only by a message that mentions
/// them, then again by any once they unmute. A muted 1:1 chat wakes nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_group_wakes_a_member_only_for_a_mention() {
    use crate::common::talk::{open_group, send, text_message};
    use kith::protocol::{ConversationStateRequest, SendRequest};
    let server = TestServer::start_with(|c| {
        c.push.local_hosts = vec!["127.0.0.1".into()];
        c.push.interval_secs = 1;
        c.group.write_diffusion_max = 2;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let carol = server.user(Kind::Quic, "carol").await;
    let group = open_group(&alice, &[&bob, &carol]).await;
    // The phone that sleeps replaces bob's phone session; he mutes on his laptop.
    let service = PushService::start(Some(device(&server, "bob", "sleeper")), &[]);
    let (laptop, _) = server.device(Kind::Tls, "bob", "laptop", DeviceType::Desktop).await;
    let in_group = Target::Group(group);
    let mute = |muted| ConversationStateRequest { with: in_group, pinned: None, draft: None, muted: Some(muted) };
    laptop.call(&mute(true)).await.unwrap();
    // The laptop's login is news the sleeping phone must not miss.
    let login = service.request();
    assert_eq!(login["payload"].as_object().map(|p| p.len()), Some(2), "update and badge only: {login}");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    send(&alice.client, in_group, "lunch?").await;
    assert!(service.request_within(Duration::from_secs(3)).is_none(), "muted: no wake-up");
    let mention = SendRequest { mentions: vec![bob.user_id], ..text_message(in_group, "@bob your turn") };
    let called = alice.client.call(&mention).await.unwrap();
    let wake = service.request();
    assert_eq!(wake["payload"]["update"], called.message_id);
    assert_eq!(wake["payload"]["group"], group);
    assert!(wake["payload"].get("user").is_none(), "{wake}");

    laptop.call(&mute(false)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let plain = send(&carol.client, in_group, "see you there").await;
    assert_eq!(service.request()["payload"]["update"], plain);

    // A muted 1:1 conversation wakes nobody either.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let with_carol = Target::User(carol.user_id);
    let quiet = ConversationStateRequest { with: with_carol, pinned: None, draft: None, muted: Some(true) };
    laptop.call(&quiet).await.unwrap();
    send(&carol.client, Target::User(bob.user_id), "psst").await;
    assert!(service.request_within(Duration::from_secs(3)).is_none(), "a muted chat: no wake-up");
}

/// An `https://` endpoint, as ntfy.sh's are: reached over TLS, its
/// certificate checked against the system's trusted ones — here a test
/// authority trusted through `SSL_CERT_FILE`, as an operator's would be
/// through Debian's ca-certificates — and its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_endpoint_is_reached_with_the_trusted_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(vec![]).unwrap();
    ca.distinguished_name.push(rcgen::DnType::CommonName, "kith test authority");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(path("push.pem"), leaf.pem()).unwrap();
    std::fs::write(path("push.key"), key.serialize_pem()).unwrap();

    let settings = ["--set", "push.local_hosts=[\"localhost\"]", "--set", "push.interval_secs=1"];
    let ca_file = path("ca.pem");
    let env = [("RUST_LOG", "info"), ("SSL_CERT_FILE", ca_file.as_str())];
    let server = common::process::start_with_env(dir.path(), &settings, &env);
    let transport = kith::client::Transport::Tls { fingerprint: server.fingerprint };
    let alice = Client::connect(server.tls, &transport).await.unwrap();
    let alice_id = alice.register("alice", PASSWORD).await.unwrap();
    let bob = Client::connect(server.tls, &transport).await.unwrap();
    bob.register("bob", PASSWORD).await.unwrap();
    bob.login("bob", PASSWORD, common::device("bob-phone", DeviceType::Mobile)).await.unwrap();

    let tls = ["--tls", &path("push.pem"), &path("push.key")];
    let at = Device { tls: server.tls, pin: server.fingerprint, user: "alice", device: "sleeper" };
    let service = PushService::start(Some(at), &tls);
    assert!(service.registered["url"].as_str().unwrap().starts_with("https://localhost:"));
    let sent = bob.send_text(alice_id, "over TLS").await.unwrap();
    let wake = service.request();
    assert_eq!(wake["vapid"], "ok", "{wake}");
    assert_eq!(wake["payload"]["update"], sent.message_id);
}

/// Acknowledged means on disk: endpoints set by phones, the server killed
/// with SIGKILL straight after the answers, are all there after a restart,
/// and the cleared one is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_endpoints_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let local = ["--set", "push.local_hosts=[\"127.0.0.1\"]"];
    let mut server = common::process::start(dir.path(), &local);
    let transport = kith::client::Transport::Tls { fingerprint: server.fingerprint };
    let mut phones = Vec::new();
    for i in 0..5 {
        let phone = Client::connect(server.tls, &transport).await.unwrap();
        let name = format!("user{i}");
        phone.register(&name, PASSWORD).await.unwrap();
        phone.login(&name, PASSWORD, common::device("phone", DeviceType::Mobile)).await.unwrap();
        phones.push(phone);
    }
    let request = endpoint("http://127.0.0.1:9/up");
    let sets = phones.iter().map(|p| p.call(&request));
    for set in futures_util::future::join_all(sets).await {
        set.unwrap();
    }
    phones[0].call(&SetPushEndpointRequest { endpoint: None }).await.unwrap();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(phones);

    let listed = push_list_of(&dir.path().join("data"));
    let mut names: Vec<u64> = listed.iter().map(|d| d["user_id"].as_u64().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, [2, 3, 4, 5], "{listed:?}");
    let server = common::process::start(dir.path(), &local);
    let phone = Client::connect(server.tls, &kith::client::Transport::Tls { fingerprint: server.fingerprint }).await;
    let phone = phone.unwrap();
    phone.login("user1", PASSWORD, common::device("phone", DeviceType::Mobile)).await.unwrap();
    assert!(phone.call(&PushKey).await.unwrap().registered);
}
