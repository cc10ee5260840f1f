//! Crash consistency of files: three users upload files in a loop — some
//! the same content, so files are shared — while the real `kith` binary is
//! killed with SIGKILL at a random moment, cycle after cycle on the same
//! data directory. After every restart:
//!
//! * every acknowledged upload downloads whole, with its hash;
//! * every file under `media/blobs` is whole: its name is the SHA-256 of
//!   its bytes (a half-written file is never where a file is read from);
//! * an upload cut off mid-way goes on from what the server holds.
//!
//! CI runs `KITH_CRASH_CYCLES` cycles (default 5), like `tests/crash.rs`.

use crate::common;
use common::random_below;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{start, Running};
use kith::client::{sha256, Client, FileShape, Transport};
use kith::protocol::{DeviceType, UploadChunkRequest};

const USERS: usize = 3;

/// Acknowledged uploads: who, the media id, the SHA-256 of the bytes.
type Acked = Arc<Mutex<Vec<(usize, u64, [u8; 32])>>>;

/// A file of 64 KiB to 600 KiB; one in four is one of two shared contents.
fn content(k: u64) -> Vec<u8> {
    let seed = if k.is_multiple_of(4) { k % 8 } else { k * 7919 + 1 };
    let len = 65_536 + (seed as usize * 40_009) % 550_000;
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

async fn connect(server: &Running, token: &[u8]) -> Client {
    let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    client.auth(token).await.expect("token still valid after restart");
    client
}

/// Uploads files until the server dies; records each acknowledged one.
async fn upload_until_killed(client: Arc<Client>, user: usize, acked: Acked) {
    for k in (user as u64 * 1_000_000)..u64::MAX {
        let bytes = content(k);
        match client.upload(&bytes, FileShape::attachment("application/octet-stream")).await {
            Ok(info) => acked.lock().unwrap().push((user, info.media_id, sha256(&bytes))),
            Err(e) => {
                // Only the kill may stop the loop: any refusal is a failure.
                assert_eq!(e.code(), None, "refused: {e}");
                return;
            }
        }
    }
}

/// Every file under `media/blobs` is named by the hash of its bytes.
fn every_stored_file_is_whole(data: &std::path::Path) -> usize {
    let mut files = 0;
    for shard in std::fs::read_dir(data.join("media/blobs")).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            assert_eq!(kith::hex::hex(&sha256(&std::fs::read(&path).unwrap())), name, "a torn file in place");
            files += 1;
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_files_survive_kill_9_whole() {
    let cycles: usize = std::env::var("KITH_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), common::process::UNTHROTTLED);
    let mut tokens = Vec::new();
    for i in 0..USERS {
        let c = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
        let name = format!("media{i}");
        c.register(&name, common::PASSWORD).await.unwrap();
        tokens.push(c.login(&name, common::PASSWORD, common::device("d", DeviceType::Mobile)).await.unwrap().token);
    }
    let acked: Acked = Arc::default();
    let mut checked = 0;
    // An upload the kill cuts off, resumed after each restart.
    let mut unfinished: Option<(kith::protocol::UploadStarted, Vec<u8>)> = None;
    for cycle in 0..=cycles {
        let clients: Vec<Arc<Client>> = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t)))
            .await
            .into_iter()
            .map(Arc::new)
            .collect();
        let done: Vec<(usize, u64, [u8; 32])> = acked.lock().unwrap().clone();
        for (user, media, hash) in &done[checked..] {
            let bytes = clients[*user].download(*media).await.unwrap_or_else(|e| panic!("file {media} lost: {e}"));
            assert_eq!(sha256(&bytes), *hash, "file {media} came back different");
        }
        checked = done.len();
        let files = every_stored_file_is_whole(&dir.path().join("data"));
        if let Some((started, bytes)) = unfinished.take() {
            let (info, _) = clients[0].send_upload(&started, &bytes).await.expect("the upload goes on");
            assert_eq!(info.sha256, sha256(&bytes));
        }
        if cycle == cycles {
            eprintln!("{checked} acknowledged files checked, {files} distinct on disk");
            break;
        }
        let big = content(cycle as u64 * 13 + 5);
        let started = clients[0].start_upload(&big, FileShape::attachment("video/mp4")).await.unwrap();
        let half = big[..started.chunk_bytes as usize].to_vec();
        clients[0].call(&UploadChunkRequest { upload_id: started.upload_id, offset: 0, data: half }).await.unwrap();
        unfinished = Some((started, big));
        let tasks: Vec<_> =
            (0..USERS).map(|u| tokio::spawn(upload_until_killed(clients[u].clone(), u, acked.clone()))).collect();
        tokio::time::sleep(Duration::from_millis(300 + random_below(700))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        drop(clients);
        server = start(dir.path(), common::process::UNTHROTTLED);
    }
    assert!(checked > cycles, "the uploads did run");
}
