//! `Send`: validate → queue a job on the group commit → (write thread)
//! resolve a retried client id, take an id, store the message once in its
//! conversation's log, move the conversation's head and add an update
//! pointing at the message to each participant's update log → (sync
//! thread) flush, `fdatasync` → (fan-out) push to every online device of
//! the participants except the sending connection; the sender's ack is
//! written only after the sync. A group message takes the same path; the
//! group decides who gets it (see [`crate::service::group`]).

use super::{attachments, View};
use crate::id::{first_id_within, id_time_ms, now_ms};
use crate::protocol::{ErrorCode, MessageKind, SendReply, SendRequest, Target, UpdateBody};
use crate::service::message::{self, wire_message, Conversation, StoredMessage};
use crate::service::{group, social, update, Call, Outcome, ServiceError, ServiceResult, Services, Tx};
use crate::storage::Get;

pub(super) async fn send(call: Call, req: SendRequest) -> ServiceResult<Outcome<SendReply>> {
    let me = call.me()?;
    let services = &call.services;
    let limits = &services.config.limits;
    content_fits(services, &req.content)?;
    if req.extra.as_ref().is_some_and(|e| e.len() > limits.max_extra_bytes) {
        return Err(ServiceError::invalid(format!("extra exceeds {} bytes", limits.max_extra_bytes))
            .with_limit(limits.max_extra_bytes as u64));
    }
    let most = services.config.conversation.mentions_max;
    if req.mentions.len() > most as usize {
        return Err(ServiceError::invalid(format!("mentions: at most {most}")).with_limit(u64::from(most)));
    }
    if !req.mentions.is_empty() && matches!(req.to, Target::User(_)) {
        return Err(ServiceError::invalid("mentions: only in a group"));
    }
    if req.kind.server_written() {
        return Err(ServiceError::invalid(format!("kind: {:?} messages are written by the server", req.kind)));
    }
    let sender = me.user_id;
    let conversation = Conversation::of(sender, req.to);
    let mut message = StoredMessage {
        sender,
        client_msg_id: req.client_msg_id,
        kind: req.kind,
        content: req.content,
        extra: req.extra,
        reply_to: req.reply_to,
        edited: 0,
        mentions: req.mentions,
    };
    let origin = call.session_id;
    let checks = services.clone();
    let pending = services
        .committer
        .submit(move |tx| {
            // A retry is answered with the original whatever it names now;
            // only a new message is checked against its recipient, here on
            // the write path so that a change committed before it counts.
            // An entry older than `idempotency_secs` counts as forgotten.
            let kept_from = first_id_within(checks.config.conversation.idempotency_secs, now_ms());
            if let Some(id) = message::known_id(tx, sender, message.client_msg_id, kept_from)? {
                return Ok(SendReply { message_id: id, server_time: id_time_ms(id), duplicate: true });
            }
            if message.reply_to != 0 {
                answerable(tx, &checks, sender, conversation, message.reply_to)?;
            }
            let attachment = attachments::parse(message.kind, &message.content)?;
            if let Some(a) = &attachment {
                message.content = attachments::resolve(tx, &checks, sender, a.clone())?;
            }
            let id = match req.to {
                Target::User(peer) => send_direct(tx, &checks, conversation, peer, &message, origin)?,
                Target::Group(group) => group::send(tx, &checks, group, &message, origin)?,
            };
            if let Some(a) = &attachment {
                attachments::carry(tx, a, conversation, id)?;
            }
            Ok(SendReply { message_id: id, server_time: id_time_ms(id), duplicate: false })
        })
        .await?;
    Ok(Outcome::later(pending.durable()))
}

/// Refuses content over the server's limit (`Send`, `Edit`).
pub(super) fn content_fits(services: &Services, content: &[u8]) -> ServiceResult<()> {
    let most = services.config.limits.max_content_bytes;
    if content.len() > most {
        return Err(ServiceError::invalid(format!("content exceeds {most} bytes")).with_limit(most as u64));
    }
    Ok(())
}

/// Refuses a reply to anything but a message `sender` reads in the
/// conversation now: one in their windows, not expired, recalled or a
/// system message. Only the id is stored, so the reply shows each reader
/// no more of the original than their own reading of it.
fn answerable(
    tx: &Tx<'_>,
    services: &Services,
    sender: u64,
    conversation: Conversation,
    reply_to: u64,
) -> ServiceResult<()> {
    let retention = services.config.conversation.retention_secs;
    let view = View::of_member(tx, sender, conversation, retention, now_ms())??;
    match view.reached(tx, reply_to)? {
        Some(original) if !original.kind.server_written() => Ok(()),
        _ => Err(ServiceError::not_found("reply_to: no such message in this conversation")),
    }
}

/// Refuses `me` where they may no longer send in a conversation they are
/// in (as `Send` would): for acts on a message there, such as an edit or a
/// reaction.
pub(super) fn may_write(services: &Services, r: &impl Get, me: u64, conversation: Conversation) -> ServiceResult<()> {
    match conversation {
        Conversation::Direct { low, high } => reachable(services, r, me, if low == me { high } else { low }),
        Conversation::Group(group) => group::may_speak(r, group, me),
    }
}

/// Whether `sender` may message `peer` now: the account exists, is
/// enabled, and the social graph allows it (no block; friends under the
/// friends-only setting). Oneself is always reachable (notes).
pub(super) fn reachable(services: &Services, r: &impl Get, sender: u64, peer: u64) -> ServiceResult<()> {
    if !services.accounts.user_exists(peer) {
        return Err(ServiceError::not_found("no such user"));
    }
    if peer != sender {
        if services.accounts.is_disabled(peer) {
            return Err(ServiceError::new(ErrorCode::NotPermitted, "the recipient's account is disabled"));
        }
        social::check_message(r, services.config.social.direct_messages, sender, peer)?;
    }
    Ok(())
}

fn send_direct(
    tx: &mut Tx<'_>,
    checks: &Services,
    conversation: Conversation,
    peer: u64,
    message: &StoredMessage,
    origin: u64,
) -> ServiceResult<u64> {
    reachable(checks, tx, message.sender, peer)?;
    let id = tx.next_id();
    store_direct(tx, conversation, peer, id, message, Some(origin))?;
    Ok(id)
}

/// Stores a 1:1 message and puts it in both users' update logs (the
/// sender's other devices read it there too).
fn store_direct(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    peer: u64,
    id: u64,
    message: &StoredMessage,
    origin: Option<u64>,
) -> ServiceResult<()> {
    let sender = message.sender;
    message::append(tx, conversation, id, message)?;
    let participants = if peer == sender { vec![sender] } else { vec![sender, peer] };
    let update = UpdateBody::Message(wire_message(id, conversation, message));
    update::publish(tx, &participants, origin, id, update);
    Ok(())
}

/// Stores `count` text messages between two users, taking turns, as `Send`
/// stores them at `at_ms`, in one job, each with the content `text` gives
/// its id: `kith bench dm --seed-data-dir` fills a stopped server's
/// directory this way to measure what a large database costs.
pub(crate) async fn seed_direct(
    services: &Services,
    users: (u64, u64),
    count: usize,
    text: impl Fn(u64) -> Vec<u8> + Send + 'static,
    at_ms: u64,
) -> ServiceResult<()> {
    let (a, b) = users;
    let conversation = Conversation::of(a, Target::User(b));
    let outcome = services
        .write(move |tx| {
            for turn in 0..count {
                let (sender, peer) = if turn % 2 == 0 { (a, b) } else { (b, a) };
                let id = tx.next_id_at(at_ms);
                let mut client_msg_id = [0; 16];
                client_msg_id[..8].copy_from_slice(&id.to_be_bytes());
                let message = StoredMessage {
                    sender,
                    client_msg_id,
                    kind: MessageKind::Text,
                    content: text(id),
                    extra: None,
                    reply_to: 0,
                    edited: 0,
                    mentions: Vec::new(),
                };
                store_direct(tx, conversation, peer, id, &message, None)?;
            }
            Ok(())
        })
        .await?;
    if let Outcome::Later(durable) = outcome {
        durable.await?;
    }
    Ok(())
}
