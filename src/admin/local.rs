//! Running an operator command from the CLI: through the control socket when
//! the server is up, or directly on the data directory when it is not.

use std::io::Write;

use serde_json::Value;

use super::{control, execute, Command, Output};
use crate::config::Config;
use crate::service::Services;

/// Executes `command` against the server using `config`'s data directory.
/// A streamed result goes to `sink`.
pub async fn run(config: &Config, command: Command, sink: &mut dyn Write) -> Result<Value, String> {
    let path = control::socket_path(&config.data_dir);
    match tokio::net::UnixStream::connect(&path).await {
        Ok(stream) => control::call(stream, &command, sink).await,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            if matches!(command, Command::Online) {
                return Err("the server is not running, so nobody is online".into());
            }
            offline(config, command, sink).await
        }
        Err(e) => Err(format!("cannot reach the server at {}: {e}", path.display())),
    }
}

/// Opens the data directory in this process and executes the command.
async fn offline(config: &Config, command: Command, sink: &mut dyn Write) -> Result<Value, String> {
    crate::storage::compact::recover(&config.data_dir).map_err(|e| e.to_string())?;
    if !config.data_dir.join("sled").exists() {
        return Err(format!("{} holds no kith database", config.data_dir.display()));
    }
    let (services, background) = Services::open(config).map_err(|e| {
        let text = e.to_string();
        if text.contains("lock") {
            format!(
                "{} is in use by a running server whose control socket is unreachable ({text})",
                config.data_dir.display()
            )
        } else {
            text
        }
    })?;
    let result = match execute(&services, command).await {
        Ok(Output::Json(value)) => Ok(value),
        Ok(Output::Stream(mut chunks)) => {
            let mut total = 0u64;
            let mut failed = None;
            while let Some(chunk) = chunks.recv().await {
                match chunk.and_then(|bytes| sink.write_all(&bytes).map(|()| bytes.len()).map_err(|e| e.to_string())) {
                    Ok(n) => total += n as u64,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(serde_json::json!({ "bytes": total })),
            }
        }
        Err(e) => Err(e.to_body().message),
    };
    drop(services);
    let _ = tokio::task::spawn_blocking(move || background.join()).await;
    result
}
