//! A real kith server on ephemeral loopback ports with a temporary data
//! directory, and helpers to reach it through the project's client.

#![allow(dead_code)]

pub mod layout;
pub mod lazyfs;
pub mod process;
pub mod talk;

use std::path::PathBuf;
use std::time::Duration;

use kith::client::{Client, ClientError, Transport};
use kith::config::Config;
use kith::protocol::{
    AckRequest, ClientType, DeviceInfo, DeviceType, Direction, DisconnectReason, HistoryRequest, LoginReply, Message,
    Page, Push, SyncPage, SyncRequest, Target,
};
use kith::server::{self, RunningServer};

/// A random number below `n`, for the crash tests' moments and samples.
pub fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).unwrap();
    u64::from_le_bytes(b) % n
}

/// Generous bound for anything that should happen "at once".
pub const SOON: Duration = Duration::from_secs(5);

/// Which transport a test client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tls,
    Tcp,
    Quic,
}

/// Expands a test body `async fn(Kind)` into one `#[tokio::test]` per transport.
#[macro_export]
macro_rules! per_transport {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tls() {
                super::$name(common::Kind::Tls).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tcp() {
                super::$name(common::Kind::Tcp).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn quic() {
                super::$name(common::Kind::Quic).await;
            }
        }
    };
}

pub struct TestServer {
    server: Option<RunningServer>,
    pub config: Config,
    pub dir: tempfile::TempDir,
}

/// A logged-in test user.
pub struct TestUser {
    pub client: Client,
    pub user_id: u64,
    pub login: LoginReply,
    pub name: String,
}

pub const PASSWORD: &str = "correct horse battery";

pub fn device(id: &str, device_type: DeviceType) -> DeviceInfo {
    DeviceInfo { device_id: id.into(), device_type, client_type: ClientType::Other }
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config { data_dir: dir.join("data"), ..Config::default() };
    config.tls.cert = dir.join("certs/cert.pem");
    config.tls.key = dir.join("certs/key.pem");
    config.listen.tls = Some("127.0.0.1:0".parse().unwrap());
    config.listen.tcp = Some("127.0.0.1:0".parse().unwrap());
    config.listen.quic = Some("127.0.0.1:0".parse().unwrap());
    // Most tests message users they never befriended; tests/social.rs
    // switches back to the default, friends only.
    config.social.direct_messages = kith::config::DirectMessages::Anyone;
    // Most tests register their users freely; tests/invitations.rs switches
    // back to the default, invitations only.
    config.registration.policy = kith::config::RegistrationPolicy::Open;
    config
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let server = server::start(config.clone()).await.expect("server starts");
        TestServer { server: Some(server), config, dir }
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// Shuts the server down cleanly and starts it again on the same data
    /// directory (the ports change).
    pub async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        self.server = Some(server::start(self.config.clone()).await.expect("server restarts"));
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub async fn connect(&self, kind: Kind) -> Client {
        let s = self.server();
        let (addr, transport) = match kind {
            Kind::Tls => (s.tls_addr.unwrap(), Transport::Tls { fingerprint: s.fingerprint }),
            Kind::Tcp => (s.tcp_addr.unwrap(), Transport::Tcp),
            Kind::Quic => (s.quic_addr.unwrap(), Transport::Quic { fingerprint: s.fingerprint }),
        };
        Client::connect(addr, &transport).await.expect("connects")
    }

    /// Registers `name` and logs it in on a mobile device.
    pub async fn user(&self, kind: Kind, name: &str) -> TestUser {
        let client = self.connect(kind).await;
        let user_id = client.register(name, PASSWORD).await.expect("registers");
        let login =
            client.login(name, PASSWORD, device(&format!("{name}-phone"), DeviceType::Mobile)).await.expect("logs in");
        TestUser { client, user_id, login, name: name.into() }
    }

    /// Logs an existing user in on another device.
    pub async fn device(
        &self,
        kind: Kind,
        name: &str,
        device_id: &str,
        device_type: DeviceType,
    ) -> (Client, LoginReply) {
        let client = self.connect(kind).await;
        let login = client.login(name, PASSWORD, device(device_id, device_type)).await.expect("logs in");
        (client, login)
    }
}

/// Waits for the next pushed message.
pub async fn next_message(client: &mut Client) -> Message {
    client.message_within(SOON).await.expect("a pushed message")
}

/// Waits up to `wait` for the disconnect notice, skipping updates pushed before it.
pub async fn disconnect_reason(client: &mut Client, wait: Duration) -> DisconnectReason {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.push_within(left).await.expect("a disconnect notice") {
            Push::Disconnect(d) => return d.reason,
            Push::Update(_) | Push::Typing(_) | Push::Presence(_) => continue,
        }
    }
}

/// Shorthands for calls the tests make often.
#[allow(async_fn_in_trait)]
pub trait Calls {
    async fn ack(&self, up_to: u64) -> Result<u64, ClientError>;
    async fn history(&self, with: Target, direction: Direction, anchor: u64, limit: u16) -> Result<Page, ClientError>;
    async fn sync_page(&self, after: u64, limit: u16) -> Result<SyncPage, ClientError>;
}

impl Calls for Client {
    async fn ack(&self, up_to: u64) -> Result<u64, ClientError> {
        Ok(self.call(&AckRequest { up_to }).await?.cursor)
    }

    async fn history(&self, with: Target, direction: Direction, anchor: u64, limit: u16) -> Result<Page, ClientError> {
        self.call(&HistoryRequest { with, direction, anchor, limit }).await
    }

    async fn sync_page(&self, after: u64, limit: u16) -> Result<SyncPage, ClientError> {
        self.call(&SyncRequest { after, limit }).await
    }
}

/// Every `GroupEvent` variant as `(index, name)`, read from the type itself
/// (its `Deserialize` names them all), so a variant added to the enum is
/// found here without anyone listing it.
pub fn group_events() -> Vec<(u32, String)> {
    use serde::de::{self, Deserialize, Deserializer, Visitor};

    /// A deserializer that only asks for an enum, and keeps its variants.
    struct Variants(Vec<&'static str>);

    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<T: std::fmt::Display>(_: T) -> Stop {
            Stop
        }
    }

    impl<'de> Deserializer<'de> for &mut Variants {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = variants.to_vec();
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
        }
    }

    let mut variants = Variants(Vec::new());
    let _ = kith::protocol::GroupEvent::deserialize(&mut variants);
    (0u32..).zip(variants.0.into_iter().map(String::from)).collect()
}
