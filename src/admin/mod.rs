//! Operator commands: users, statistics, who is online, backups, exports.
//!
//! Every command is one [`Request`] executed against the [`Services`]. With
//! the server running, the CLI sends it over the local control socket
//! ([`control`]) and the running server executes it — so a disabled user is
//! disconnected at once and a backup is taken on the live database. With no
//! server running, the CLI opens the data directory itself and executes the
//! same request in-process. Nothing here is reachable over the network.

pub mod control;
pub mod local;

use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::error::{ServiceError, ServiceResult};
use crate::id::{id_time_ms, now_ms};
use crate::protocol::{DisconnectReason, ErrorCode};
use crate::service::accounts::{canonical_username, check_password};
use crate::service::Services;
use crate::storage::accounts::UserRecord;

/// An operator command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Request {
    /// Create a user.
    UserAdd {
        /// Username.
        username: String,
        /// Password (never logged).
        password: String,
    },
    /// List every user.
    UserList,
    /// Disable a user: disconnected at once, cannot log in.
    UserDisable {
        /// Username.
        username: String,
    },
    /// Enable a disabled user.
    UserEnable {
        /// Username.
        username: String,
    },
    /// Set a new password, revoke every token, disconnect every session.
    UserResetPassword {
        /// Username.
        username: String,
        /// New password (never logged).
        password: String,
    },
    /// One user's profile, devices and messages as JSON lines (streamed).
    UserExport {
        /// Username.
        username: String,
    },
    /// Counts and disk use.
    Stats,
    /// Connected sessions.
    Online,
    /// A consistent backup of the whole database (streamed).
    Backup,
}

/// What a command produced.
pub enum Outcome {
    /// A JSON document for the operator.
    Json(Value),
    /// Bytes to store in a file, in chunks; an `Err` chunk aborts.
    Stream(mpsc::Receiver<Result<Vec<u8>, String>>),
}

/// Executes a command.
pub async fn execute(services: &Services, request: Request) -> ServiceResult<Outcome> {
    match request {
        Request::UserAdd { username, password } => {
            let reply = services.register(crate::protocol::RegisterRequest { username, password }).await?;
            Ok(Outcome::Json(json!({ "user_id": reply.user_id })))
        }
        Request::UserList => {
            let users = services.off_loop(|store| store.users().collect::<Result<Vec<_>, _>>()).await?;
            let list: Vec<Value> = users.iter().map(|(id, u)| user_json(*id, u)).collect();
            Ok(Outcome::Json(Value::Array(list)))
        }
        Request::UserDisable { username } => set_disabled(services, &username, true).await,
        Request::UserEnable { username } => set_disabled(services, &username, false).await,
        Request::UserResetPassword { username, password } => {
            check_password(&password)?;
            let (id, _) = find(services, &username).await?;
            let hash = services.passwords.hash(&password).await?;
            let revoked = services
                .committer
                .apply(move |store| {
                    store.update_user(id, |u| u.password_hash = hash.clone())?;
                    store.revoke_all(id)
                })
                .await?;
            services.hub.disconnect(id, DisconnectReason::PasswordChanged, |_| true);
            tracing::info!(user = id, "password reset by the operator");
            Ok(Outcome::Json(json!({ "user_id": id, "tokens_revoked": revoked })))
        }
        Request::UserExport { username } => {
            let (id, user) = find(services, &username).await?;
            Ok(Outcome::Stream(export_user(services, id, user)))
        }
        Request::Stats => {
            let online = services.hub.online();
            let users_online = online.iter().map(|s| s.user_id).collect::<std::collections::HashSet<_>>().len();
            let (users, (messages, conversations), disk) = services
                .off_loop(|store| Ok((store.userid_user.len(), store.message_stats()?, store.size_on_disk()?)))
                .await?;
            Ok(Outcome::Json(json!({
                "users": users,
                "conversations": conversations,
                "messages": messages,
                "disk_bytes": disk,
                "sessions_online": online.len(),
                "users_online": users_online,
            })))
        }
        Request::Online => {
            let sessions = services.hub.online();
            let list: Vec<Value> = sessions
                .iter()
                .map(|s| {
                    json!({
                        "user_id": s.user_id,
                        "device_id": s.device_id,
                        "device_type": format!("{:?}", s.device_type).to_lowercase(),
                        "client_type": format!("{:?}", s.client_type).to_lowercase(),
                        "transport": s.transport,
                        "peer": s.peer.to_string(),
                        "since": s.since,
                    })
                })
                .collect();
            Ok(Outcome::Json(Value::Array(list)))
        }
        Request::Backup => Ok(Outcome::Stream(backup(services))),
    }
}

fn user_json(id: u64, u: &UserRecord) -> Value {
    json!({ "user_id": id, "username": u.username, "created_at": u.created_at, "disabled": u.disabled })
}

async fn find(services: &Services, username: &str) -> ServiceResult<(u64, UserRecord)> {
    let not_found = || ServiceError::new(ErrorCode::NotFound, format!("no user named {username:?}"));
    let name = canonical_username(username).map_err(|_| not_found())?;
    services.off_loop(move |store| store.user_by_name(&name)).await?.ok_or_else(not_found)
}

async fn set_disabled(services: &Services, username: &str, disabled: bool) -> ServiceResult<Outcome> {
    let (id, _) = find(services, username).await?;
    services.committer.apply(move |store| store.update_user(id, |u| u.disabled = disabled)).await?;
    if disabled {
        services.hub.disconnect(id, DisconnectReason::AccountDisabled, |_| true);
    }
    tracing::info!(user = id, disabled, "account state changed by the operator");
    Ok(Outcome::Json(json!({ "user_id": id, "disabled": disabled })))
}

/// Chunks of a byte stream, sent from a blocking thread.
struct ChunkWriter {
    tx: mpsc::Sender<Result<Vec<u8>, String>>,
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx.blocking_send(Ok(buf.to_vec())).map_err(|_| std::io::Error::other("backup reader went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Streams a backup taken on the write thread: durable writes wait until it
/// is done, so the file is one consistent point in time.
fn backup(services: &Services) -> mpsc::Receiver<Result<Vec<u8>, String>> {
    let (tx, rx) = mpsc::channel(16);
    let committer = services.committer.clone();
    tokio::spawn(async move {
        let writer = ChunkWriter { tx: tx.clone() };
        match committer.apply(move |store| store.export(writer)).await {
            Ok(entries) => tracing::info!(entries, "backup written"),
            Err(e) => {
                tracing::error!(error = %e, "backup failed");
                let _ = tx.send(Err(e.to_string())).await;
            }
        }
    });
    rx
}

/// Streams one user's data as JSON lines: the profile with devices, then one
/// line per message of the user's inbox (sent and received).
fn export_user(services: &Services, id: u64, user: UserRecord) -> mpsc::Receiver<Result<Vec<u8>, String>> {
    let (tx, rx) = mpsc::channel(16);
    let store = services.store.clone();
    tokio::task::spawn_blocking(move || {
        let line = |v: Value| {
            let mut bytes = v.to_string().into_bytes();
            bytes.push(b'\n');
            tx.blocking_send(Ok(bytes)).is_ok()
        };
        let devices: Vec<Value> = match store.devices(id) {
            Ok(list) => list
                .iter()
                .map(|(device, d)| json!({ "device_id": device, "device_type": format!("{:?}", d.device_type).to_lowercase(), "last_login": d.last_login }))
                .collect(),
            Err(e) => {
                let _ = tx.blocking_send(Err(e.to_string()));
                return;
            }
        };
        let mut profile = user_json(id, &user);
        profile["devices"] = Value::Array(devices);
        profile["exported_at"] = json!(now_ms());
        if !line(json!({ "profile": profile })) {
            return;
        }
        let mut after = 0;
        loop {
            let limit = crate::storage::messages::PageLimit { count: 1000, bytes: 4 * 1024 * 1024 };
            let (page, more) = match store.inbox_after(id, after, limit) {
                Ok(page) => page,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e.to_string()));
                    return;
                }
            };
            for m in &page {
                let content = match std::str::from_utf8(&m.message.content) {
                    Ok(text) => json!({ "text": text }),
                    Err(_) => {
                        json!({ "hex": m.message.content.iter().map(|b| format!("{b:02x}")).collect::<String>() })
                    }
                };
                let record = json!({ "message": {
                    "id": m.id,
                    "time": id_time_ms(m.id),
                    "sender": m.message.sender,
                    "peer": m.conversation.peer_of(id),
                    "kind": format!("{:?}", m.message.kind).to_lowercase(),
                    "content": content,
                    "extra": m.message.extra,
                }});
                if !line(record) {
                    return;
                }
            }
            match page.last() {
                Some(last) if more => after = last.id,
                _ => break,
            }
        }
    });
    rx
}
