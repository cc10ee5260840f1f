//! `dm --stalled-push`: every receiver also has a phone asleep whose push
//! endpoint is a loopback server that takes connections and never answers,
//! so each message gives the server a wake-up to send into a stall. What it
//! must show is that acknowledgements and delivery do not notice. The
//! server must list 127.0.0.1 in `push.local_hosts`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::accounts::Tokens;
use super::{concurrently, BenchArgs, Server};
use crate::client::ClientError;
use crate::protocol::{PushEndpoint, SetPushEndpointRequest};

/// The push service that never answers, running until dropped.
pub(super) struct Stall {
    task: JoinHandle<()>,
    /// Requests it took.
    taken: Arc<AtomicU64>,
}

impl Stall {
    /// Requests taken so far.
    pub(super) fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }
}

impl Drop for Stall {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the stall and registers it for a second, disconnected device of
/// each of the `count` receivers named `{prefix}-{tag}r-{i}`.
pub(super) async fn stall(
    args: &BenchArgs,
    server: &Server,
    accounts: &Tokens,
    tag: &str,
    count: usize,
) -> Result<Stall, ClientError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(ClientError::Io)?;
    let url = format!("http://{}/up", listener.local_addr().map_err(ClientError::Io)?);
    // Each request is read and never answered, until the server gives up.
    let taken = Arc::new(AtomicU64::new(0));
    let counter = taken.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 4096];
                while socket.read(&mut buf).await.is_ok_and(|n| n > 0) {}
            });
        }
    });
    let prefix = &args.prefix;
    let registered = concurrently((0..count).collect(), args.concurrency, "registering stalled endpoints", |i| {
        let url = url.clone();
        async move {
            let (phone, _) = accounts.connect(server, &format!("{prefix}-{tag}r-{i}"), 1).await?;
            let endpoint = PushEndpoint { url, p256dh: device_key(), auth: [7; 16], vapid: true };
            phone.call(&SetPushEndpointRequest { endpoint: Some(endpoint) }).await
        }
    })
    .await;
    for result in registered {
        result?;
    }
    Ok(Stall { task, taken })
}

/// A P-256 public key, as a phone's WebPush keys hold one.
fn device_key() -> Vec<u8> {
    use ring::agreement::{EphemeralPrivateKey, ECDH_P256};
    let rng = ring::rand::SystemRandom::new();
    let key = EphemeralPrivateKey::generate(&ECDH_P256, &rng).and_then(|private| private.compute_public_key());
    key.map(|public| public.as_ref().to_vec()).unwrap_or_default()
}
