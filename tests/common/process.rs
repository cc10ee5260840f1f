//! The real `kith` binary as a child process, for tests that kill it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kith::transport::cert::parse_fingerprint;

/// Path of the binary under test.
pub const KITH: &str = env!("CARGO_BIN_EXE_kith");

/// A running `kith serve`.
pub struct Running {
    pub child: Child,
    pub tls: SocketAddr,
    pub quic: SocketAddr,
    pub fingerprint: [u8; 32],
    pub lines: mpsc::Receiver<String>,
}

/// A server a test started dies with the test, passed or failed: killing
/// one that already exited does nothing.
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Settings that let one connection send as fast as a load generator
/// (a person's request rate would throttle a test that churns).
pub const UNTHROTTLED: &[&str] =
    &["--set", "limits.requests_per_second=100000", "--set", "limits.request_burst=100000"];

/// `kith serve` arguments for a data directory, on ephemeral loopback ports,
/// with the settings of every test server: strangers may message each other
/// and anyone may register (see `test_config`).
pub fn serve_args(dir: &Path) -> Vec<String> {
    let mut args = base_args(dir);
    args.extend(
        ["--set", "social.direct_messages=anyone", "--set", "registration.policy=open"].iter().map(|s| s.to_string()),
    );
    args
}

/// `kith serve` arguments for a data directory, on ephemeral loopback ports,
/// and nothing else: the configuration file and the defaults decide.
fn base_args(dir: &Path) -> Vec<String> {
    let p = |rel: &str| dir.join(rel).display().to_string();
    [
        "serve",
        "--data-dir",
        &p("data"),
        "--cert",
        &p("certs/cert.pem"),
        "--key",
        &p("certs/key.pem"),
        "--listen-tls",
        "127.0.0.1:0",
        "--listen-quic",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Starts `kith serve` with `extra` arguments and reads its log until it
/// reports its addresses and fingerprint.
pub fn start(dir: &Path, extra: &[&str]) -> Running {
    start_with_env(dir, extra, &[("RUST_LOG", "info")])
}

/// [`start`] without the test servers' settings: the configuration file
/// given in `extra` and the defaults decide.
pub fn start_without_defaults(dir: &Path, extra: &[&str]) -> Running {
    launch(base_args(dir), extra, &[("RUST_LOG", "info")])
        .unwrap_or_else(|said| panic!("the server did not start; it said: {said:#?}"))
}

/// [`start`] with environment variables of its own.
pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Running {
    launch(serve_args(dir), extra, env).unwrap_or_else(|said| panic!("the server did not start; it said: {said:#?}"))
}

/// [`start`], or what the server said before it gave up.
pub fn try_start(dir: &Path, extra: &[&str]) -> Result<Running, Vec<String>> {
    launch(serve_args(dir), extra, &[("RUST_LOG", "info")])
}

fn launch(args: Vec<String>, extra: &[&str], env: &[(&str, &str)]) -> Result<Running, Vec<String>> {
    let mut child = Command::new(KITH)
        .args(args)
        .args(extra)
        .envs(env.iter().copied())
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
    let mut said = Vec::new();
    while tls.is_none() || quic.is_none() || fingerprint.is_none() {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(said);
        };
        said.push(line.clone());
        // The value after a marker, in text or JSON log lines.
        let after = |marker: &str| {
            line.split(marker)
                .nth(1)
                .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == '"').next())
                .map(str::to_string)
        };
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
    Ok(Running { child, tls: tls.unwrap(), quic: quic.unwrap(), fingerprint: fingerprint.unwrap(), lines })
}

/// Reads the server's log until a line contains `text` (30 s at most).
pub fn wait_for_line(running: &Running, text: &str) {
    loop {
        let line = running.lines.recv_timeout(Duration::from_secs(30)).expect("the log line comes");
        if line.contains(text) {
            return;
        }
    }
}

/// Sends a signal by name (TERM, KILL …) to the child.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args(["-s", name, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// Backs up `data_dir` (running or not) into `file` with `kith backup`,
/// and returns every key and value of it.
pub fn backup(data_dir: &Path, file: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let out = Command::new(KITH).arg("backup").arg(file).arg("--data-dir").arg(data_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    backup_entries(file)
}

/// Every key and value of a backup file (see `storage/backup.rs`).
pub fn backup_entries(file: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let bytes = std::fs::read(file).unwrap();
    assert_eq!(&bytes[..8], b"KITHBAK1");
    let mut at = 12;
    let mut take = |n: usize| {
        let out = bytes[at..at + n].to_vec();
        at += n;
        out
    };
    let mut entries = BTreeMap::new();
    loop {
        match take(1)[0] {
            0x01 => {
                let len = u32::from_be_bytes(take(4).try_into().unwrap()) as usize;
                take(len);
            }
            0x02 => {
                let len = u32::from_be_bytes(take(4).try_into().unwrap()) as usize;
                let key = take(len);
                let len = u32::from_be_bytes(take(4).try_into().unwrap()) as usize;
                entries.insert(key, take(len));
            }
            _ => return entries,
        }
    }
}

/// What `kith stats --json` prints for a data directory (the running
/// server's, if one runs on it).
pub fn stats(data_dir: &Path) -> serde_json::Value {
    let out = std::process::Command::new(KITH).args(["stats", "--json", "--data-dir"]).arg(data_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}
