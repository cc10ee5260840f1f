//! The local control socket: a Unix socket in the data directory through
//! which the CLI asks the running server to execute operator commands.
//!
//! One connection carries one command: the client writes the [`Command`] as
//! one JSON line; the server answers one JSON line, `{"ok":true,"data":…}`
//! or `{"ok":false,"error":…}`. A streamed result (`"stream":true`) follows
//! as chunks `len u32 BE ‖ bytes`, ended by a zero length, or by `u32::MAX`
//! and an error chunk if it failed midway. The socket is created with mode
//! 0660, so only the server's user (and root) can use it. A client that
//! stalls — sends no request, or stops reading a streamed result — is cut
//! off after 30 s; a backup is snapshotted to a local file first, so such a
//! client never holds up the server's writes.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{execute, Command, Output};
use crate::service::Services;

/// Longest request line accepted.
const MAX_REQUEST: u64 = 64 * 1024;
/// How long the other side may take to send its request, or to take each
/// chunk of a result, before the connection is dropped.
const STALL: Duration = Duration::from_secs(30);
const STREAM_END: u32 = 0;
const STREAM_ERROR: u32 = u32::MAX;

/// Where the control socket of a data directory lives.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// Binds the control socket, replacing a stale one. Only called while the
/// server holds the database lock, so no other server can be using it.
pub fn bind(data_dir: &Path) -> std::io::Result<UnixListener> {
    let path = socket_path(data_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Serves operator commands until shutdown.
pub async fn serve(listener: UnixListener, services: Arc<Services>, shutdown: CancellationToken, tasks: TaskTracker) {
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed");
                    continue;
                }
            },
        };
        let services = services.clone();
        tasks.spawn(async move {
            if let Err(e) = handle(stream, &services).await {
                tracing::debug!(error = %e, "control connection ended");
            }
        });
    }
}

/// Runs `io`, failing it with `TimedOut` if the other side stalls.
async fn unstalled<T>(io: impl std::future::Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    tokio::time::timeout(STALL, io)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "control client stalled")))
}

async fn handle(stream: UnixStream, services: &Arc<Services>) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut line = String::new();
    unstalled(BufReader::new(reader.take(MAX_REQUEST)).read_line(&mut line)).await?;
    let command: Command = match serde_json::from_str(&line) {
        Ok(c) => c,
        Err(e) => return write_line(&mut writer, &json!({ "ok": false, "error": format!("bad request: {e}") })).await,
    };
    tracing::info!(command = command.name(), "operator command");
    match execute(services, command).await {
        Ok(Output::Json(data)) => write_line(&mut writer, &json!({ "ok": true, "data": data })).await,
        Ok(Output::Stream(mut chunks)) => {
            write_line(&mut writer, &json!({ "ok": true, "stream": true })).await?;
            while let Some(chunk) = chunks.recv().await {
                match chunk {
                    Ok(bytes) => {
                        let mut framed = (bytes.len() as u32).to_be_bytes().to_vec();
                        framed.extend_from_slice(&bytes);
                        unstalled(writer.write_all(&framed)).await?;
                    }
                    Err(message) => {
                        let mut framed = STREAM_ERROR.to_be_bytes().to_vec();
                        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
                        framed.extend_from_slice(message.as_bytes());
                        unstalled(writer.write_all(&framed)).await?;
                        return unstalled(writer.flush()).await;
                    }
                }
            }
            unstalled(writer.write_all(&STREAM_END.to_be_bytes())).await?;
            unstalled(writer.flush()).await
        }
        Err(e) => write_line(&mut writer, &json!({ "ok": false, "error": e.to_body().message })).await,
    }
}

async fn write_line(writer: &mut (impl AsyncWriteExt + Unpin), value: &Value) -> std::io::Result<()> {
    let mut bytes = value.to_string().into_bytes();
    bytes.push(b'\n');
    unstalled(writer.write_all(&bytes)).await?;
    unstalled(writer.flush()).await
}

/// Sends a command to a running server. A streamed result is written to
/// `sink`; the JSON result is returned.
pub async fn call(stream: UnixStream, command: &Command, sink: &mut dyn Write) -> Result<Value, String> {
    let (reader, mut writer) = stream.into_split();
    let body = serde_json::to_value(command).map_err(|e| e.to_string())?;
    write_line(&mut writer, &body).await.map_err(|e| format!("control socket: {e}"))?;
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    reader.read_line(&mut line).await.map_err(|e| format!("control socket: {e}"))?;
    let reply: Value =
        serde_json::from_str(&line).map_err(|_| "the server closed the control connection".to_string())?;
    if reply["ok"] != Value::Bool(true) {
        return Err(reply["error"].as_str().unwrap_or("command failed").to_string());
    }
    if reply["stream"] != Value::Bool(true) {
        return Ok(reply["data"].clone());
    }
    let mut total = 0u64;
    loop {
        let len = reader.read_u32().await.map_err(|e| format!("stream cut short: {e}"))?;
        match len {
            STREAM_END => return Ok(json!({ "bytes": total })),
            STREAM_ERROR => {
                let n = reader.read_u32().await.map_err(|e| e.to_string())?;
                let mut message = vec![0u8; n.min(64 * 1024) as usize];
                reader.read_exact(&mut message).await.map_err(|e| e.to_string())?;
                return Err(String::from_utf8_lossy(&message).into_owned());
            }
            n if n > 16 * 1024 * 1024 => return Err(format!("stream chunk of {n} bytes is out of range")),
            n => {
                let mut chunk = vec![0u8; n as usize];
                reader.read_exact(&mut chunk).await.map_err(|e| format!("stream cut short: {e}"))?;
                sink.write_all(&chunk).map_err(|e| e.to_string())?;
                total += u64::from(n);
            }
        }
    }
}
