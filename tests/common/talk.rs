//! Helpers of the conversation tests: refusal codes, waiting for an update
//! of one kind, friends, open groups, the conversation list and reading.

use std::sync::atomic::{AtomicUsize, Ordering};

use kith::client::{Client, ClientError};
use kith::codec::decode_wire;
use kith::protocol::{
    AddFriendRequest, AnswerFriendRequest, ConversationInfo, ConversationPage, CreateGroupRequest, DeviceType,
    Direction, ErrorCode, GroupEvent, GroupFields, JoinGroupRequest, JoinPolicy, ListConversationsRequest,
    MarkReadRequest, Message, MessageKind, ReadPosition, SendRequest, Target, Update, UpdateBody, UpdateKind,
};

use super::{Calls, Kind, TestServer, TestUser, SOON};

/// The error code of a refused call, `None` if it succeeded.
pub fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

/// The group event a system message carries; `None` for any other message.
pub fn event(m: &Message) -> Option<GroupEvent> {
    (m.kind == MessageKind::System).then(|| decode_wire(&m.content).expect("a system message decodes"))
}

/// A text message to `to` under a fresh client message id, answering
/// nothing and mentioning no one: a request to adjust with `..`.
pub fn text_message(to: Target, text: &str) -> SendRequest {
    SendRequest {
        to,
        client_msg_id: kith::client::new_client_msg_id(),
        kind: MessageKind::Text,
        content: text.as_bytes().to_vec(),
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    }
}

/// Sends a text and returns its id.
pub async fn send(client: &Client, to: Target, text: &str) -> u64 {
    client.send_text_to(to, text).await.expect("sends").message_id
}

/// The next pushed update of `kind`, passing over others (messages, notices).
pub async fn pushed(client: &mut Client, kind: UpdateKind) -> (Update, UpdateBody) {
    loop {
        let update = client.update_within(SOON).await.unwrap_or_else(|e| panic!("no {kind:?} update: {e}"));
        if update.kind == kind as u8 {
            let body = update.decode().unwrap().unwrap();
            return (update, body);
        }
    }
}

/// Every update pushed to `client`, a device of `name`, for what was
/// committed before this call. A witness, not a timed wait: `name` logs in
/// on one more device, whose `NewLogin` notice is committed after all of
/// it, and the pushes are read up to that notice. Pushes reach a device in
/// commit order, so anything earlier arrives before it.
pub async fn pushed_so_far(server: &TestServer, name: &str, client: &mut Client) -> Vec<Update> {
    static WITNESSES: AtomicUsize = AtomicUsize::new(0);
    let witness = format!("witness-{}", WITNESSES.fetch_add(1, Ordering::Relaxed));
    server.device(Kind::Tcp, name, &witness, DeviceType::Web).await;
    let mut before = Vec::new();
    loop {
        let update = client.update_within(SOON).await.unwrap_or_else(|e| panic!("no notice of {witness}: {e}"));
        match update.decode().unwrap() {
            Some(UpdateBody::NewLogin(login)) if login.device_id == witness => return before,
            _ => before.push(update),
        }
    }
}

/// Asserts that nothing of `kind` was pushed to `client`, a device of
/// `name`, for what was committed before this call (see [`pushed_so_far`]).
pub async fn none_pushed(server: &TestServer, name: &str, client: &mut Client, kind: UpdateKind) {
    let unexpected: Vec<_> =
        pushed_so_far(server, name, client).await.into_iter().filter(|u| u.kind == kind as u8).collect();
    assert!(unexpected.is_empty(), "unexpected {kind:?}: {unexpected:?}");
}

/// A group's fields with this join policy, history hidden from newcomers.
pub fn group_fields(join_policy: JoinPolicy) -> GroupFields {
    named_group_fields("walkers", join_policy, false)
}

/// A group's fields: its name, join policy and whether newcomers see its
/// history; no avatar, introduction or announcement.
pub fn named_group_fields(name: &str, join_policy: JoinPolicy, history_visible: bool) -> GroupFields {
    GroupFields {
        name: name.into(),
        avatar: 0,
        introduction: String::new(),
        announcement: String::new(),
        join_policy,
        history_visible,
    }
}

/// An open group of `owner`'s that `joiners` joined.
pub async fn open_group(owner: &TestUser, joiners: &[&TestUser]) -> u64 {
    let request = CreateGroupRequest { fields: group_fields(JoinPolicy::Open), members: vec![] };
    let group = owner.client.call(&request).await.unwrap().group.group_id;
    for user in joiners {
        user.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
    }
    group
}

/// One page of the caller's conversation list.
pub async fn page(client: &Client, before: u64, changed_since: u64, limit: u16) -> ConversationPage {
    client.call(&ListConversationsRequest { before, changed_since, limit }).await.expect("lists conversations")
}

/// The whole list, page by page, checking the pages join without gap or repeat.
pub async fn everything(client: &Client, limit: u16) -> (Vec<ConversationInfo>, u64) {
    let mut out: Vec<ConversationInfo> = Vec::new();
    let mut before = 0;
    loop {
        let p = page(client, before, 0, limit).await;
        assert!(p.conversations.len() <= usize::from(limit));
        out.extend(p.conversations.iter().cloned());
        match (p.more, p.conversations.last()) {
            (true, Some(last)) => before = last.updated,
            _ => {
                assert!(out.windows(2).all(|w| w[0].updated > w[1].updated), "newest first, no repeat: {out:?}");
                return (out, p.total_unread);
            }
        }
    }
}

/// The entry of a conversation, which must be listed.
pub fn entry(list: &[ConversationInfo], with: Target) -> &ConversationInfo {
    list.iter().find(|c| c.with == with).unwrap_or_else(|| panic!("{with:?} is not in {list:?}"))
}

/// A conversation's whole history as `client` sees it, oldest first, read
/// in pages of `limit`.
pub async fn history(client: &Client, with: Target, limit: u16) -> Vec<Message> {
    let mut out = Vec::new();
    let mut anchor = 0;
    loop {
        let page = client.history(with, Direction::After, anchor, limit).await.expect("history");
        out.extend(page.messages.iter().cloned());
        match (page.more, page.messages.last()) {
            (true, Some(last)) => anchor = last.id,
            _ => return out,
        }
    }
}

/// Marks a conversation read up to a message.
pub async fn mark(client: &Client, with: Target, up_to: u64) -> Result<ReadPosition, ClientError> {
    client.call(&MarkReadRequest { with, up_to }).await
}

/// `a` asks `b` to be friends and `b` accepts.
pub async fn befriend(a: &TestUser, b: &TestUser) {
    let asked = a.client.call(&AddFriendRequest { user_id: b.user_id, message: String::new() }).await.unwrap();
    b.client.call(&AnswerFriendRequest { request_id: asked.id, accept: true }).await.unwrap();
}
