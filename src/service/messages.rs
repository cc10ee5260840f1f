//! Sending, delivery cursors, inbox sync and conversation history.
//!
//! Send path: validate → queue on the group commit → (commit thread) write,
//! flush, fdatasync → push to every online device of the participants except
//! the sending connection → acknowledge the sender. Offline devices catch up
//! with `SyncInbox` from their cursor.

use std::sync::Arc;

use bytes::Bytes;

use super::{Identity, Services};
use crate::codec::encode_wire;
use crate::error::{ServiceError, ServiceResult};
use crate::hub::Hub;
use crate::id::id_time_ms;
use crate::protocol::{
    encode_frame, AckReply, Action, ErrorCode, HistoryRequest, Message, Page, SendReply, SendRequest, SyncInboxRequest,
    Target, PUSH_SEQUENCE,
};
use crate::storage::commit::{OnCommit, PendingAck};
use crate::storage::keys::Conversation;
use crate::storage::messages::{LoggedMessage, NewMessage, PageLimit, StoredMessage};

/// Most messages one `SyncInbox` or `History` page returns.
pub const MAX_PAGE: u16 = 100;

/// Content bytes after which a page ends early (with `more` set), so a page
/// of large messages stays a reasonable frame for a phone; a single message
/// always fits.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// The commit hook: encodes each new message once as a push frame and queues
/// that frame for every online session of its participants.
pub fn push_on_commit(hub: Arc<Hub>) -> OnCommit {
    Box::new(move |id, m: &NewMessage| {
        let body = encode_wire(&wire_message(id, m.conversation, &m.message));
        let frame = Bytes::from(encode_frame(Action::PushMessage as u8, PUSH_SEQUENCE, &body));
        for user in &m.inboxes {
            hub.deliver(*user, &frame, m.origin);
        }
    })
}

/// The protocol view of a stored message.
pub fn wire_message(id: u64, conversation: Conversation, m: &StoredMessage) -> Message {
    Message {
        id,
        sender: m.sender,
        to: Target::User(conversation.peer_of(m.sender)),
        client_msg_id: m.client_msg_id,
        kind: m.kind,
        content: m.content.clone(),
        extra: m.extra.clone(),
        server_time: id_time_ms(id),
    }
}

fn page(found: (Vec<LoggedMessage>, bool)) -> Page {
    let (messages, more) = found;
    Page { messages: messages.iter().map(|l| wire_message(l.id, l.conversation, &l.message)).collect(), more }
}

fn check_limit(limit: u16) -> ServiceResult<PageLimit> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(PageLimit { count: usize::from(limit), bytes: MAX_PAGE_BYTES })
    } else {
        Err(ServiceError::invalid(format!("limit must be 1–{MAX_PAGE}")))
    }
}

impl Services {
    /// Validates a message and queues it for the group commit. The returned
    /// acknowledgement resolves once it is durable.
    pub async fn send(&self, identity: &Identity, session_id: u64, req: SendRequest) -> ServiceResult<PendingAck> {
        let limits = &self.config.limits;
        if req.content.len() > limits.max_content_bytes {
            return Err(ServiceError::invalid(format!("content exceeds {} bytes", limits.max_content_bytes)));
        }
        if req.extra.as_ref().is_some_and(|e| e.len() > limits.max_extra_bytes) {
            return Err(ServiceError::invalid(format!("extra exceeds {} bytes", limits.max_extra_bytes)));
        }
        let Target::User(peer) = req.to;
        if !self.store.user_exists(peer) {
            return Err(ServiceError::new(ErrorCode::NotFound, "no such user"));
        }
        let conversation = Conversation::direct(identity.user_id, peer);
        let mut inboxes = vec![identity.user_id];
        if peer != identity.user_id {
            inboxes.push(peer);
        }
        let message = NewMessage {
            conversation,
            message: StoredMessage {
                sender: identity.user_id,
                client_msg_id: req.client_msg_id,
                kind: req.kind,
                content: req.content,
                extra: req.extra,
            },
            inboxes,
            origin: session_id,
        };
        Ok(self.committer.submit(message).await?)
    }

    /// Turns a durable acknowledgement into the `Send` reply.
    pub async fn send_reply(pending: PendingAck) -> ServiceResult<SendReply> {
        let accepted = pending.durable().await?;
        Ok(SendReply { message_id: accepted.id, server_time: id_time_ms(accepted.id), duplicate: accepted.duplicate })
    }

    /// Moves this device's cursor forward, never past the newest message the
    /// user has.
    pub async fn ack(&self, identity: &Identity, up_to: u64) -> ServiceResult<AckReply> {
        let (user, device) = (identity.user_id, identity.device_id.clone());
        let cursor = self
            .off_loop(move |store| {
                let latest = store.latest_inbox_id(user)?;
                store.advance_cursor(user, &device, up_to.min(latest))
            })
            .await?;
        Ok(AckReply { cursor })
    }

    /// One page of the user's messages, all conversations, after an id.
    pub async fn sync_inbox(&self, identity: &Identity, req: SyncInboxRequest) -> ServiceResult<Page> {
        let limit = check_limit(req.limit)?;
        let user = identity.user_id;
        Ok(page(self.off_loop(move |store| store.inbox_after(user, req.after, limit)).await?))
    }

    /// One page of one conversation, either side of an anchor.
    pub async fn history(&self, identity: &Identity, req: HistoryRequest) -> ServiceResult<Page> {
        let limit = check_limit(req.limit)?;
        let Target::User(peer) = req.with;
        let conversation = Conversation::direct(identity.user_id, peer);
        Ok(page(self.off_loop(move |store| store.history(conversation, req.direction, req.anchor, limit)).await?))
    }
}
