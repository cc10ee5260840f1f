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

use crate::id::{id_time_ms, now_ms};
use crate::protocol::{Message, Target, UpdateBody};
use crate::service::account::store::UserRecord;
use crate::service::{account, conversation, group, message, social, update, PageLimit, ServiceResult, Services};
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
            Command::UserResetPassword { .. } => "user-reset-password",
            Command::UserExport { .. } => "user-export",
            Command::Stats => "stats",
            Command::Online => "online",
            Command::Backup => "backup",
            Command::InviteCreate { .. } => "invite-create",
            Command::InviteList => "invite-list",
            Command::InviteShow { .. } => "invite-show",
            Command::InviteRevoke { .. } => "invite-revoke",
        }
    }
}

/// What a command produced.
pub enum Outcome {
    /// A JSON document for the operator.
    Json(Value),
    /// Bytes to store in a file, in chunks; an `Err` chunk aborts.
    Stream(mpsc::Receiver<Result<Vec<u8>, String>>),
}

/// Executes a command.
pub async fn execute(services: &Arc<Services>, command: Command) -> ServiceResult<Outcome> {
    match command {
        Command::UserAdd { username, password } => {
            let user_id = account::add_user(services, &username, &password).await?;
            // Usernames are stored lower-cased: say which one was made.
            let username = username.to_ascii_lowercase();
            Ok(Outcome::Json(json!({ "user_id": user_id, "username": username })))
        }
        Command::UserList => {
            let users = account::list(services).await?;
            Ok(Outcome::Json(Value::Array(users.iter().map(|(id, u)| user_json(*id, u)).collect())))
        }
        Command::UserDisable { username } => set_disabled(services, &username, true).await,
        Command::UserEnable { username } => set_disabled(services, &username, false).await,
        Command::UserResetPassword { username, password } => {
            let (id, _) = account::find(services, &username).await?;
            let revoked = account::reset_password(services, id, &password).await?;
            Ok(Outcome::Json(json!({ "user_id": id, "tokens_revoked": revoked })))
        }
        Command::UserExport { username } => {
            let (id, user) = account::find(services, &username).await?;
            Ok(Outcome::Stream(export_user(services.clone(), id, user)))
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
            Ok(Outcome::Json(Value::Array(list)))
        }
        Command::Backup => Ok(Outcome::Stream(backup(services.clone()))),
        Command::InviteCreate { uses, expires_secs, note, host } => {
            Ok(Outcome::Json(invite::create(services, uses, expires_secs, note, host).await?))
        }
        Command::InviteList => Ok(Outcome::Json(invite::list(services).await?)),
        Command::InviteShow { id, host } => Ok(Outcome::Json(invite::show(services, id, host).await?)),
        Command::InviteRevoke { id } => Ok(Outcome::Json(invite::revoke(services, id).await?)),
    }
}

fn user_json(id: u64, u: &UserRecord) -> Value {
    json!({ "user_id": id, "username": u.username, "created_at": u.created_at, "disabled": u.disabled })
}

async fn set_disabled(services: &Services, username: &str, disabled: bool) -> ServiceResult<Outcome> {
    let (id, _) = account::find(services, username).await?;
    account::set_disabled(services, id, disabled).await?;
    Ok(Outcome::Json(json!({ "user_id": id, "disabled": disabled })))
}

async fn stats(services: &Services) -> ServiceResult<Outcome> {
    let online = services.hub().online();
    let users_online = online.iter().map(|s| s.user_id).collect::<std::collections::HashSet<_>>().len();
    let users = account::list(services).await?.len();
    let ((messages, conversations, group_messages), updates, (groups, group_members)) =
        services.read(|s| Ok((message::store::stats(s)?, update::store::count(s)?, group::store::stats(s)?))).await?;
    let live_since = now_ms().saturating_sub(services.config().social.request_ttl_ms());
    let (friendships, pending_requests, blocks) = services.read(move |s| social::store::stats(s, live_since)).await?;
    let conversation_stats = services.read(conversation::store::stats).await?;
    Ok(Outcome::Json(json!({
        "users": users,
        "conversations": conversations,
        "messages": messages,
        "updates": updates,
        "friendships": friendships,
        "friend_requests": pending_requests,
        "blocks": blocks,
        "invitations": invite::open_count(services).await?,
        "groups": groups,
        "group_members": group_members,
        "group_messages": group_messages,
        "conversations_with_messages": conversation_stats.conversations_with_messages,
        "read_positions": conversation_stats.read_positions,
        "read_receipts_off": conversation_stats.read_receipts_off,
        "recalled_messages": conversation_stats.recalled_messages,
        "hidden_messages": conversation_stats.hidden_messages,
        "cleared_conversations": conversation_stats.cleared_conversations,
        "conversations_with_retention": conversation_stats.conversations_with_retention,
        "purged_messages_since_start": services.purged_messages(),
        "swept_notices_since_start": services.swept_notices(),
        "disk_bytes": services.disk_bytes().await?,
        "sessions_online": online.len(),
        "users_online": users_online,
    })))
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

/// Streams one user's data as JSON lines: the profile with devices, then
/// one line per entry of the user's update log (messages sent and received,
/// account notices).
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
    let line = |v: Value| {
        let mut bytes = v.to_string().into_bytes();
        bytes.push(b'\n');
        Ok(bytes)
    };
    let devices: Vec<Value> = account::devices(services, id)
        .await?
        .iter()
        .map(|(device, d)| json!({ "device_id": device, "device_type": format!("{:?}", d.device_type).to_lowercase(), "last_login": d.last_login }))
        .collect();
    let mut profile = user_json(id, &user);
    profile["devices"] = Value::Array(devices);
    profile["exported_at"] = json!(now_ms());
    if tx.send(line(json!({ "profile": profile }))).await.is_err() {
        return Ok(());
    }
    for record in social_records(services, id).await? {
        if tx.send(line(record)).await.is_err() {
            return Ok(());
        }
    }
    let mut after = 0;
    let retention = services.config().conversation.retention_secs;
    loop {
        let limit = PageLimit { count: 1000, bytes: 4 * 1024 * 1024 };
        let update::store::LogPage { updates: page, more, .. } = services
            .read(move |s| update::store::page(s, id, after, limit, retention, update::store::Reader::Export))
            .await?;
        for entry in &page {
            let record = match entry.decode() {
                Ok(Some(UpdateBody::Message(m))) => json!({ "message": message_json(id, &m) }),
                Ok(Some(UpdateBody::NewLogin(n))) => json!({ "login": {
                    "id": entry.id,
                    "time": id_time_ms(entry.id),
                    "device_id": n.device_id,
                    "device_type": format!("{:?}", n.device_type).to_lowercase(),
                    "address": n.address,
                }}),
                Ok(Some(UpdateBody::FriendRequest(r) | UpdateBody::FriendAnswered(r))) => {
                    json!({ "friend_request_update": {
                        "id": entry.id,
                        "time": id_time_ms(entry.id),
                        "request": request_json(&r),
                    }})
                }
                Ok(Some(UpdateBody::FriendRemoved(r))) => json!({ "friend_removed": {
                    "id": entry.id, "time": id_time_ms(entry.id), "by": r.by, "user_id": r.user_id,
                }}),
                Ok(Some(UpdateBody::BlockChanged(b))) => json!({ "block_changed": {
                    "id": entry.id, "time": id_time_ms(entry.id), "user_id": b.user_id, "blocked": b.blocked,
                }}),
                Ok(Some(UpdateBody::ReadPosition(p))) => json!({ "read_position_update": {
                    "id": entry.id, "time": id_time_ms(entry.id), "with": target_json(p.with), "read_up_to": p.read_up_to,
                }}),
                Ok(Some(UpdateBody::ReadReceipt(r))) => json!({ "read_receipt": {
                    "id": entry.id, "time": id_time_ms(entry.id), "reader": r.reader, "up_to": r.up_to,
                }}),
                Ok(Some(UpdateBody::MessageRecalled(r))) => json!({ "recall": {
                    "id": entry.id, "time": id_time_ms(entry.id), "message_id": r.message_id, "sender": r.sender,
                    "to": target_json(r.to), "by": r.by,
                }}),
                Ok(Some(UpdateBody::DeletedForMe(d))) => json!({ "deleted_for_me_update": {
                    "id": entry.id, "time": id_time_ms(entry.id), "with": target_json(d.with),
                    "message_ids": d.message_ids, "cleared_up_to": d.cleared_up_to,
                }}),
                Ok(Some(UpdateBody::ReadReceiptsChanged(r))) => json!({ "read_receipts_changed": {
                    "id": entry.id, "time": id_time_ms(entry.id), "enabled": r.enabled,
                }}),
                Ok(Some(UpdateBody::RetentionChanged(r))) => json!({ "retention_changed": {
                    "id": entry.id, "time": id_time_ms(entry.id), "by": r.by, "to": target_json(r.to), "seconds": r.seconds,
                }}),
                Ok(Some(UpdateBody::Delivered(d))) => json!({ "delivered": {
                    "id": entry.id, "time": id_time_ms(entry.id), "recipient": d.recipient, "up_to": d.up_to,
                }}),
                _ => json!({ "update": { "id": entry.id, "kind": entry.kind } }),
            };
            if tx.send(line(record)).await.is_err() {
                return Ok(());
            }
        }
        match page.last() {
            Some(last) if more => after = last.id,
            _ => break,
        }
    }
    for m in services.read(move |s| unlogged_own_messages(s, id, retention)).await? {
        if tx.send(line(json!({ "message": message_json(id, &m) }))).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The user's own messages in their groups, present and past, that their
/// update log does not point at: those sent while a group was above the
/// write diffusion threshold (a scan of each such group's log, within the
/// membership windows and retention).
fn unlogged_own_messages(s: &Store, user: u64, retention: u64) -> Result<Vec<Message>, StorageError> {
    let mut groups = std::collections::BTreeSet::new();
    for group in group::store::groups_of(s, user, 0) {
        groups.insert(group?);
    }
    for entry in group::store::left_groups(s, user) {
        groups.insert(entry?.0);
    }
    let mut out = Vec::new();
    for group in groups {
        let conversation = message::Conversation::Group(group);
        let Ok(view) = conversation::View::of(s, user, conversation, retention, now_ms())? else { continue };
        for window in view.reached_parts() {
            for entry in message::store::sent_by(s, conversation, window, user) {
                let (id, m) = entry?;
                if !update::store::holds(s, user, id)? {
                    out.push(message::wire_message(id, conversation, &m));
                }
            }
        }
    }
    Ok(out)
}

/// The user's social data: the public profile and privacy settings, then one
/// line per friend, friend request (both boxes) and blocked user.
async fn social_records(services: &Services, id: u64) -> ServiceResult<Vec<Value>> {
    let ttl = services.config().social.request_ttl_ms();
    let retention = services.config().conversation.retention_secs;
    services
        .read(move |s| {
            let now = now_ms();
            let p = social::store::profile(s, id)?;
            let privacy = social::store::privacy(s, id)?;
            let fields = social::store::field_visibility(s, id)?;
            let mut out = vec![json!({ "social_profile": {
                "nickname": p.nickname,
                "avatar": p.avatar,
                "gender": format!("{:?}", p.gender).to_lowercase(),
                "birth_date": p.birth_date.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)),
                "signature": p.signature,
                "city": p.city,
                "province": p.province,
                "extra": p.extra,
                "discoverable": format!("{:?}", privacy.discoverable),
                "friend_policy": format!("{:?}", privacy.friend_policy),
                "birth_date_shown_to": format!("{:?}", fields.birth_date).to_lowercase(),
                "city_shown_to": format!("{:?}", fields.city).to_lowercase(),
                "province_shown_to": format!("{:?}", fields.province).to_lowercase(),
            }})];
            for (friend, entry) in social::store::friends(s, id, 0, usize::MAX)?.0 {
                let username = social::card(s, friend)?.username;
                out.push(json!({ "friend": { "user_id": friend, "username": username, "remark": entry.remark, "since": entry.since } }));
            }
            for entry in social::store::incoming(s, id, u64::MAX) {
                let (request, record) = entry?;
                out.push(json!({ "friend_request": request_json(&social::request_info(s, ttl, request, id, &record, now)?) }));
            }
            for entry in social::store::outgoing(s, id, u64::MAX) {
                let (request, to) = entry?;
                if let Some(record) = social::store::request(s, to, request)? {
                    out.push(json!({ "friend_request": request_json(&social::request_info(s, ttl, request, to, &record, now)?) }));
                }
            }
            for (blocked, since) in social::store::blocked(s, id, 0, usize::MAX)?.0 {
                out.push(json!({ "blocked": { "user_id": blocked, "since": since } }));
            }
            for entry in group::store::groups_of(s, id, 0) {
                let gid = entry?;
                let (Some(g), Some(m)) = (group::store::group(s, gid)?, group::store::member(s, gid, id)?) else { continue };
                out.push(json!({ "group": {
                    "group_id": gid, "name": g.fields.name, "role": format!("{:?}", m.role).to_lowercase(),
                    "alias": m.alias, "joined_at": id_time_ms(m.joined), "owner": g.owner,
                }}));
            }
            for entry in group::store::left_groups(s, id) {
                let (gid, windows) = entry?;
                for w in windows {
                    out.push(json!({ "group_left": { "group_id": gid, "from": w.from, "until": w.until, "left_at": id_time_ms(w.until) }}));
                }
            }
            out.push(json!({ "read_receipts": conversation::store::receipts_on(s, id)? }));
            for entry in conversation::store::entries_of(s, id) {
                let (c, own) = entry?;
                let head = conversation::store::head(s, c)?;
                let now = now_ms();
                let state =
                    conversation::store::listed_state(s, id, c, &head, own, conversation::expiry(&head, retention, now))?;
                let cleared = conversation::View::of(s, id, c, retention, now)?.map_or(0, |view| view.cleared());
                out.push(json!({ "read_position": {
                    "with": target_json(c.target_from(id)),
                    "read_up_to": state.read.read,
                    "unread": state.unread,
                    "cleared_up_to": cleared,
                    "retention_secs": head.retention,
                }}));
                for hidden in conversation::store::hidden_in(s, id, c) {
                    out.push(json!({ "deleted_for_me": { "with": target_json(c.target_from(id)), "message_id": hidden? }}));
                }
            }
            for entry in group::store::invitations_page(s, id, 0) {
                let (gid, invitation) = entry?;
                out.push(json!({ "group_invitation": {
                    "id": invitation.id, "time": id_time_ms(invitation.id), "group_id": gid, "by": invitation.by,
                }}));
            }
            Ok(out)
        })
        .await
}

fn request_json(r: &crate::protocol::FriendRequestInfo) -> Value {
    json!({
        "id": r.id,
        "time": id_time_ms(r.id),
        "from": r.from.user_id,
        "to": r.to.user_id,
        "message": r.message,
        "state": format!("{:?}", r.state).to_lowercase(),
        "answered_at": r.answered_at,
    })
}

fn target_json(target: Target) -> Value {
    match target {
        Target::User(peer) => json!({ "peer": peer }),
        Target::Group(group) => json!({ "group": group }),
    }
}

fn message_json(me: u64, m: &Message) -> Value {
    let content = match std::str::from_utf8(&m.content) {
        Ok(text) => json!({ "text": text }),
        Err(_) => json!({ "hex": m.content.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    };
    let (key, other) = match m.to {
        Target::User(to) if m.sender == me => ("peer", to),
        Target::User(_) => ("peer", m.sender),
        Target::Group(group) => ("group", group),
    };
    json!({
        "id": m.id,
        "time": m.server_time,
        "sender": m.sender,
        key: other,
        "kind": format!("{:?}", m.kind).to_lowercase(),
        "content": content,
        "extra": m.extra,
    })
}
