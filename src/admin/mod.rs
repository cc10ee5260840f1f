//! Operator commands: users, statistics, who is online, backups, exports.
//!
//! Every command is one [`Command`] executed against the [`Services`]. With
//! the server running, the CLI sends it over the local control socket
//! ([`control`]) and the running server executes it — so a disabled user is
//! disconnected at once and a backup is taken on the live database. With no
//! server running, the CLI opens the data directory itself and executes the
//! same request in-process. Nothing here is reachable over the network.

pub mod control;
mod invite;
pub mod local;

use std::io::Write;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::id::now_ms;
use crate::service::account::UserRecord;
use crate::service::{
    account, conversation, group, media, message, moment, social, sync, update, ServiceResult, Services,
};
use crate::storage::{StorageError, Store};

/// An operator command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
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
    /// Delete a user for good: disconnected at once, everything they left
    /// erased as `DeleteAccount` does.
    UserDelete {
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
    /// One user's profile, devices and update log as JSON lines (streamed).
    UserExport {
        /// Username.
        username: String,
    },
    /// Counts and disk use.
    Stats,
    /// Connected sessions.
    Online,
    /// Bytes of files each user stores.
    MediaUsage,
    /// Devices with a push endpoint, and how their last wake-up went.
    PushList,
    /// A consistent backup of the whole database (streamed).
    Backup,
    /// Create an invitation to register, with its join link.
    InviteCreate {
        /// Registrations it admits.
        uses: u32,
        /// Seconds it stays valid; for ever if absent.
        expires_secs: Option<u64>,
        /// Whom it is for.
        note: String,
        /// The host to put in the link instead of `registration.public_host`.
        host: Option<String>,
    },
    /// List invitations (no secrets).
    InviteList,
    /// An invitation's join link again.
    InviteShow {
        /// Invitation id.
        id: u64,
        /// The host to put in the link instead of `registration.public_host`.
        host: Option<String>,
    },
    /// Revoke an invitation.
    InviteRevoke {
        /// Invitation id.
        id: u64,
    },
}

impl Command {
    /// The command's name, for the log (commands carry passwords).
    pub fn name(&self) -> &'static str {
        match self {
            Command::UserAdd { .. } => "user-add",
            Command::UserList => "user-list",
            Command::UserDisable { .. } => "user-disable",
            Command::UserEnable { .. } => "user-enable",
            Command::UserDelete { .. } => "user-delete",
            Command::UserResetPassword { .. } => "user-reset-password",
            Command::UserExport { .. } => "user-export",
            Command::Stats => "stats",
            Command::Online => "online",
            Command::MediaUsage => "media-du",
            Command::PushList => "push-list",
            Command::Backup => "backup",
            Command::InviteCreate { .. } => "invite-create",
            Command::InviteList => "invite-list",
            Command::InviteShow { .. } => "invite-show",
            Command::InviteRevoke { .. } => "invite-revoke",
        }
    }
}

/// What a command produced.
pub enum Output {
    /// A JSON document for the operator.
    Json(Value),
    /// Bytes to store in a file, in chunks; an `Err` chunk aborts.
    Stream(mpsc::Receiver<Result<Vec<u8>, String>>),
}

/// Executes a command.
pub async fn execute(services: &Arc<Services>, command: Command) -> ServiceResult<Output> {
    match command {
        Command::UserAdd { username, password } => {
            let user_id = account::add_user(services, &username, &password).await?;
            // Usernames are stored lower-cased: say which one was made.
            let username = username.to_ascii_lowercase();
            Ok(Output::Json(json!({ "user_id": user_id, "username": username })))
        }
        Command::UserList => {
            let users = account::list(services).await?;
            Ok(Output::Json(Value::Array(users.iter().map(|(id, u)| user_json(*id, u)).collect())))
        }
        Command::UserDisable { username } => set_disabled(services, &username, true).await,
        Command::UserEnable { username } => set_disabled(services, &username, false).await,
        Command::UserDelete { username } => {
            let (id, user) = account::find(services, &username).await?;
            crate::service::erase::delete_now(services, id).await?;
            Ok(Output::Json(json!({ "user_id": id, "username": user.username })))
        }
        Command::UserResetPassword { username, password } => {
            let (id, _) = account::find(services, &username).await?;
            let revoked = account::reset_password(services, id, &password).await?;
            Ok(Output::Json(json!({ "user_id": id, "tokens_revoked": revoked })))
        }
        Command::UserExport { username } => {
            let (id, user) = account::find(services, &username).await?;
            Ok(Output::Stream(export_user(services.clone(), id, user)))
        }
        Command::Stats => stats(services).await,
        Command::Online => {
            let sessions = services.hub().online();
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
            Ok(Output::Json(Value::Array(list)))
        }
        Command::MediaUsage => {
            let rows = services
                .read(|s| {
                    let usage = media::usage_by_user(s)?;
                    let mut rows = Vec::with_capacity(usage.len());
                    for (user, bytes, files) in usage {
                        let username = account::user(s, user)?.map(|u| u.username);
                        rows.push(json!({ "user_id": user, "username": username, "bytes": bytes, "files": files }));
                    }
                    Ok(rows)
                })
                .await?;
            Ok(Output::Json(Value::Array(rows)))
        }
        Command::PushList => push_list(services).await,
        Command::Backup => Ok(Output::Stream(backup(services.clone()))),
        Command::InviteCreate { uses, expires_secs, note, host } => {
            Ok(Output::Json(invite::create(services, uses, expires_secs, note, host).await?))
        }
        Command::InviteList => Ok(Output::Json(invite::list(services).await?)),
        Command::InviteShow { id, host } => Ok(Output::Json(invite::show(services, id, host).await?)),
        Command::InviteRevoke { id } => Ok(Output::Json(invite::revoke(services, id).await?)),
    }
}

fn user_json(id: u64, u: &UserRecord) -> Value {
    json!({ "user_id": id, "username": u.username, "created_at": u.created_at, "disabled": u.disabled })
}

async fn set_disabled(services: &Services, username: &str, disabled: bool) -> ServiceResult<Output> {
    let (id, _) = account::find(services, username).await?;
    account::set_disabled(services, id, disabled).await?;
    Ok(Output::Json(json!({ "user_id": id, "disabled": disabled })))
}

async fn stats(services: &Arc<Services>) -> ServiceResult<Output> {
    let online = services.hub().online();
    let users_online = online.iter().map(|s| s.user_id).collect::<std::collections::HashSet<_>>().len();
    let users = account::list(services).await?.len();
    let (logs, updates, (groups, group_members)) =
        services.read(|s| Ok((message::stats(s)?, update::count(s)?, group::stats(s)?))).await?;
    let live_since = now_ms().saturating_sub(services.config().social.request_ttl_ms());
    let social = services.read(move |s| social::stats(s, live_since)).await?;
    let month_ago = now_ms().saturating_sub(30 * 86_400_000);
    let shared = services.clone();
    let active_30d = services.read(move |s| social::active_since(&shared, s, month_ago)).await?;
    let conversation_stats = services.read(message::records::stats).await?;
    let (deleted, being_erased) = account::deleted_count(services).await?;
    let (media_files, media_bytes) = services.read(media::stats).await?;
    let (pinned, drafts) = services.read(conversation::state_stats).await?;
    let reactions = services.read(message::reactions::count).await?;
    let retry_keys = services.read(message::sent_count).await?;
    let (moments, moment_likes, moment_comments) = services.read(moment::stats).await?;
    let push_endpoints = services.read(account::all_push_endpoints).await?.len();
    let (pushes_sent, pushes_failed, pushes_dropped) = services.push().counts();
    Ok(Output::Json(json!({
        "users": users,
        "deleted_users": deleted,
        "users_being_erased": being_erased,
        "conversations": logs.conversations,
        "messages": logs.messages,
        "sealed_messages": logs.sealed_messages,
        "message_blocks": logs.blocks,
        "updates": updates,
        "friendships": social.friendships,
        "friend_requests": social.pending_requests,
        "blocks": social.blocks,
        "invitations": invite::open_count(services).await?,
        "groups": groups,
        "group_members": group_members,
        "group_messages": logs.group_messages,
        "conversations_with_messages": conversation_stats.conversations_with_messages,
        "read_positions": conversation_stats.read_positions,
        "read_receipts_off": conversation_stats.read_receipts_off,
        "recalled_messages": conversation_stats.recalled_messages,
        "hidden_messages": conversation_stats.hidden_messages,
        "cleared_conversations": conversation_stats.cleared_conversations,
        "conversations_with_retention": conversation_stats.conversations_with_retention,
        "pinned_conversations": pinned,
        "drafts": drafts,
        "reactions": reactions,
        "moments": moments,
        "moment_likes": moment_likes,
        "moment_comments": moment_comments,
        "purged_messages_since_start": services.purged_messages(),
        "swept_notices_since_start": services.swept_notices(),
        "swept_message_updates_since_start": services.swept_message_updates(),
        "retry_keys": retry_keys,
        "forgotten_retry_keys_since_start": services.forgotten_retry_keys(),
        "sealed_messages_since_start": services.sealed_messages(),
        "media_files": media_files,
        "media_bytes": media_bytes,
        "push_endpoints": push_endpoints,
        "pushes_sent_since_start": pushes_sent,
        "pushes_failed_since_start": pushes_failed,
        "pushes_dropped_since_start": pushes_dropped,
        "disk_bytes": services.disk_bytes().await?,
        "sessions_online": online.len(),
        "users_online": users_online,
        "users_active_30d": active_30d,
    })))
}

/// Every device with a push endpoint: its endpoint's host (the URL itself
/// is the device's to know), whether it is connected now, and how its last
/// wake-up since the start went.
async fn push_list(services: &Arc<Services>) -> ServiceResult<Output> {
    let endpoints = services.read(account::all_push_endpoints).await?;
    let results = services.push().results();
    let rows = endpoints
        .into_iter()
        .map(|((user, device), endpoint)| {
            let host = endpoint.url.parse::<hyper::Uri>().ok().and_then(|u| u.host().map(str::to_string));
            let connected = services.hub().sessions(user).iter().any(|s| s.device_id == device);
            let last = results.get(&(user, device.clone()));
            json!({
                "user_id": user,
                "device_id": device,
                "host": host,
                "vapid": endpoint.vapid,
                "set_at": endpoint.set_at,
                "connected": connected,
                "last_at": last.map(|r| r.at),
                "last_ok": last.map(|r| r.ok),
                "last_result": last.map(|r| r.said.clone()),
            })
        })
        .collect();
    Ok(Output::Json(Value::Array(rows)))
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

/// Streams a backup taken between two group commits: durable writes wait
/// until it is done, so the file is one consistent point in time.
fn backup(services: Arc<Services>) -> mpsc::Receiver<Result<Vec<u8>, String>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let writer = ChunkWriter { tx: tx.clone() };
        match services.backup(writer).await {
            Ok(entries) => tracing::info!(entries, "backup written"),
            Err(e) => {
                tracing::error!(error = %e, "backup failed");
                let _ = tx.send(Err(e.to_string())).await;
            }
        }
    });
    rx
}

/// Streams one user's data as JSON lines: the profile with devices, their
/// records of each domain, the notices of their update log, then the
/// messages of each conversation they reach.
fn export_user(services: Arc<Services>, id: u64, user: UserRecord) -> mpsc::Receiver<Result<Vec<u8>, String>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        if let Err(e) = export_lines(&services, id, user, &tx).await {
            let _ = tx.send(Err(e.to_string())).await;
        }
    });
    rx
}

async fn export_lines(
    services: &Services,
    id: u64,
    user: UserRecord,
    tx: &mpsc::Sender<Result<Vec<u8>, String>>,
) -> ServiceResult<()> {
    let endpoints = services.read(move |s| account::push_endpoints(s, id)).await?;
    let devices: Vec<Value> = account::devices(services, id)
        .await?
        .iter()
        .map(|(device, d)| {
            let push = endpoints.iter().find(|(d, _)| d == device).map(|(_, e)| {
                json!({ "url": e.url, "vapid": e.vapid, "set_at": e.set_at })
            });
            json!({ "device_id": device, "device_type": format!("{:?}", d.device_type).to_lowercase(), "last_login": d.last_login, "push": push })
        })
        .collect();
    let mut profile = user_json(id, &user);
    profile["devices"] = Value::Array(devices);
    profile["exported_at"] = json!(now_ms());
    if tx.send(line(json!({ "profile": profile }))).await.is_err() {
        return Ok(());
    }
    let ttl = services.config().social.request_ttl_ms();
    let retention = services.config().conversation.retention_secs;
    let files = services.media_files().clone();
    let records = services
        .read(move |s| {
            let now = now_ms();
            let mut out = social::export(s, id, ttl, now)?;
            out.extend(group::export(s, id)?);
            out.extend(conversation::export(s, id, retention, now)?);
            out.extend(media::export(s, &files, id)?);
            out.extend(moment::export(s, id)?);
            Ok(out)
        })
        .await?;
    for record in records {
        if tx.send(line(record)).await.is_err() {
            return Ok(());
        }
    }
    if !send_pages(services, tx, move |s, after| sync::export(s, id, after)).await? {
        return Ok(());
    }
    for conversation in services.read(move |s| conversation::reached(s, id)).await? {
        let page =
            move |s: &Store, after| conversation::export_messages(s, id, conversation, after, retention, now_ms());
        if !send_pages(services, tx, page).await? {
            return Ok(());
        }
    }
    Ok(())
}

/// One JSON line of an export.
fn line(v: Value) -> Result<Vec<u8>, String> {
    let mut bytes = v.to_string().into_bytes();
    bytes.push(b'\n');
    Ok(bytes)
}

/// Sends the lines of every page `read` gives, each read after where the
/// last ended (from 0); false once the reader went away.
async fn send_pages(
    services: &Services,
    tx: &mpsc::Sender<Result<Vec<u8>, String>>,
    read: impl Fn(&Store, u64) -> Result<(Vec<Value>, Option<u64>), StorageError> + Copy + Send + 'static,
) -> ServiceResult<bool> {
    let mut after = 0;
    loop {
        let (lines, next) = services.read(move |s| read(s, after)).await?;
        for record in lines {
            if tx.send(line(record)).await.is_err() {
                return Ok(false);
            }
        }
        match next {
            Some(next) => after = next,
            None => return Ok(true),
        }
    }
}
