//! `media`: files through the protocol. One user uploads `--files` files of
//! `--file-kib` KiB and downloads each back, keeping `--window` chunks in
//! flight; then `--pairs` pairs chat for `--duration` seconds, first alone
//! (the baseline), then while another user's connection moves files the
//! same way. Reports throughput each way, chat latency before and during,
//! and — with `--server-pid` — the server's largest resident memory seen
//! while files moved (sampled every 50 ms) next to its memory before.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::report::{ProcessSample, Report};
use super::{traffic, Bench};
use crate::client::{Client, ClientError, FileShape};
use crate::protocol::{FinishUploadRequest, GetMediaRequest, MediaUrlRequest, UploadChunkRequest};

pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let (client, _) = accounts.connect(server, &format!("{}-media", args.prefix), 0).await?;
    let size = args.file_kib.max(1) * 1024;
    let mut report = Report::new("media", "");
    report.count("files", args.files as u64).count("file bytes", size as u64);
    let rss_before = b.server_pid().and_then(ProcessSample::read).map(|s| s.rss_bytes);
    let peak = RssPeak::start(b.server_pid());
    // The files are made before the clock starts; the client's SHA-256 of
    // each (which a phone computes too) is timed with its upload.
    let files: Vec<Vec<u8>> = (0..args.files).map(|i| file(size, i as u64)).collect();
    let mut ids = Vec::with_capacity(args.files);
    let started = Instant::now();
    for bytes in &files {
        ids.push(upload(&client, bytes, args.window).await?);
    }
    let up = started.elapsed();
    let started = Instant::now();
    let mut back = Vec::with_capacity(args.files);
    for id in &ids {
        back.push(download(&client, *id, size as u64, args.window).await?);
    }
    let down = started.elapsed();
    if back != files {
        return Err(ClientError::Protocol("a file came back different".into()));
    }
    drop((files, back));
    if let Some(first) = ids.first() {
        // For a client of the operator's choosing (curl) to time HTTPS.
        let url = client.call(&MediaUrlRequest { media_id: *first }).await?;
        let left = url.expires_ms.saturating_sub(crate::id::now_ms()) / 1000;
        eprintln!("kith bench media: the first file's URL path, valid {left} s more: {}", url.path);
    }
    let moved = (args.files * size) as f64 / 1e6;
    report.rate("upload MB/s", moved / up.as_secs_f64()).rate("download MB/s", moved / down.as_secs_f64());
    if let (Some(before), Some(peak)) = (rss_before, peak.stop().await) {
        report.figure("server RSS before, MiB", before as f64 / 1048576.0);
        report.figure("server RSS at most while files moved, MiB", peak as f64 / 1048576.0);
    }

    let traffic = traffic::pairs(args, server, accounts, "media", args.pairs).await?;
    b.probe.start();
    let (traffic, alone) = traffic::drive(args, traffic, &[]).await;
    alone.add_to(&mut report, "chat alone");
    let stop = AtomicBool::new(false);
    let moved = AtomicU64::new(0);
    let started = Instant::now();
    let chat = async {
        let (_, run) = traffic::drive(args, traffic, &[]).await;
        stop.store(true, Ordering::Relaxed);
        run
    };
    // The files move from a thread of their own at the lowest priority, as
    // from another phone: the load generator's work for them (making the
    // files, their SHA-256, TLS) must not delay the chat it measures on
    // the same machine. The chat goes on in this runtime meanwhile.
    let mover = format!("{}-media-mover", args.prefix);
    let (during, transfers) = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let transfers = scope.spawn(|| {
                crate::priority::lowest();
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(async {
                    let (mover, _) = accounts.connect(server, &mover, 0).await?;
                    move_files(&mover, size, args.window, &stop, &moved).await
                })
            });
            let during = tokio::runtime::Handle::current().block_on(chat);
            (during, transfers.join())
        })
    });
    transfers.map_err(|_| ClientError::Protocol("the thread moving files panicked".into()))??;
    during.add_to(&mut report, "chat during transfers");
    report.rate(
        "transfers beside chat, MB/s",
        moved.load(Ordering::Relaxed) as f64 / 1e6 / started.elapsed().as_secs_f64(),
    );
    Ok(report)
}

/// `size` bytes no other index repeats (so each upload is a new file).
fn file(size: usize, index: u64) -> Vec<u8> {
    let mut state = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Uploads `bytes` with `window` chunks in flight; returns the media id.
async fn upload(client: &Client, bytes: &[u8], window: usize) -> Result<u64, ClientError> {
    let started = client.start_upload(bytes, FileShape::attachment("application/octet-stream")).await?;
    let chunk = started.chunk_bytes as usize;
    let calls = bytes.chunks(chunk).enumerate().map(|(i, data)| {
        let request =
            UploadChunkRequest { upload_id: started.upload_id, offset: (i * chunk) as u64, data: data.to_vec() };
        async move { client.call(&request).await }
    });
    let mut acks = futures_util::stream::iter(calls).buffered(window.max(1));
    while let Some(ack) = acks.next().await {
        ack?;
    }
    Ok(client.call(&FinishUploadRequest { upload_id: started.upload_id }).await?.media_id)
}

/// Downloads a file of `size` bytes with `window` chunk requests in flight.
async fn download(client: &Client, media_id: u64, size: u64, window: usize) -> Result<Vec<u8>, ClientError> {
    const CHUNK: u64 = 64 * 1024;
    let calls = (0..size.div_ceil(CHUNK)).map(|i| {
        let request = GetMediaRequest { media_id, offset: i * CHUNK, length: CHUNK as u32 };
        async move { client.call(&request).await }
    });
    let mut chunks = futures_util::stream::iter(calls).buffered(window.max(1));
    let mut out = Vec::with_capacity(size as usize);
    while let Some(chunk) = chunks.next().await {
        out.extend_from_slice(&chunk?.data);
    }
    Ok(out)
}

/// Uploads and downloads files until `stop`, counting the bytes moved.
async fn move_files(
    client: &Client,
    size: usize,
    window: usize,
    stop: &AtomicBool,
    moved: &AtomicU64,
) -> Result<(), ClientError> {
    for i in 1_000_000.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let id = upload(client, &file(size, i), window).await?;
        download(client, id, size as u64, window).await?;
        moved.fetch_add(2 * size as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// The server's largest resident memory while it runs, sampled every 50 ms.
struct RssPeak {
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<u64>>,
}

impl RssPeak {
    fn start(pid: Option<u32>) -> RssPeak {
        let stop = Arc::new(AtomicBool::new(false));
        let task = pid.map(|pid| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut peak = 0;
                while !stop.load(Ordering::Relaxed) {
                    peak = ProcessSample::read(pid).map_or(peak, |s| peak.max(s.rss_bytes));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                peak
            })
        });
        RssPeak { stop, task }
    }

    async fn stop(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.task?.await.ok()
    }
}
