//! The conversation list, read positions and receipts through the real
//! server: ordering, paging and refreshing; unread counts that agree across
//! a user's devices and the peer's; receipts live and after an offline
//! period, turned off, and counted in groups; every refusal; and random
//! interleavings checked against a model.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::talk::{code, entry, everything, group_fields, mark, none_pushed, open_group, page, pushed, send};
use common::{Kind, TestServer};
use kith::client::{Client, ClientError};
use kith::protocol::{
    ConversationInfo, CreateGroupRequest, DeleteForMeRequest, ErrorCode, JoinGroupRequest, JoinPolicy,
    KickMemberRequest, LeaveGroupRequest, ListConversationsRequest, MarkReadRequest, MessageKind, MessageReaders,
    MessageReadersRequest, ReadPosition, ReadReceipt, ReadReceiptsRequest, ReadReceiptsSetting, RecallRequest, Target,
    UpdateBody, UpdateKind,
};

async fn readers_of(client: &Client, group: u64, message_id: u64) -> Result<MessageReaders, ClientError> {
    client.call(&MessageReadersRequest { group_id: group, message_id }).await
}

async fn list_orders_pages_and_refreshes(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let carol = server.user(kind, "carol").await;
    let dave = server.user(kind, "dave").await;
    let group = open_group(&alice, &[&bob]).await;
    send(&alice.client, Target::User(bob.user_id), "to bob").await;
    send(&carol.client, Target::User(alice.user_id), "from carol").await;
    send(&bob.client, Target::Group(group), "in the group").await;
    let newest = send(
        &dave.client,
        Target::User(alice.user_id),
        "from dave, a long text that the list cuts short after sixty-four characters",
    )
    .await;

    let (list, total) = everything(&alice.client, 2).await;
    let order: Vec<Target> = list.iter().map(|c| c.with).collect();
    assert_eq!(
        order,
        vec![Target::User(dave.user_id), Target::Group(group), Target::User(carol.user_id), Target::User(bob.user_id)]
    );
    assert_eq!(total, 3, "carol's, the group's and dave's message");
    let top = &list[0];
    let last = top.last.as_ref().unwrap();
    assert_eq!((last.id, last.sender, last.kind), (newest, dave.user_id, MessageKind::Text));
    assert_eq!(last.preview.chars().count(), 64);
    assert!(last.preview.starts_with("from dave"));
    assert_eq!(entry(&list, Target::User(bob.user_id)).unread, 0, "her own message is not unread");

    // A refresh returns only what changed since the newest entry she holds.
    let since = top.updated;
    assert!(page(&alice.client, 0, since, 100).await.conversations.is_empty());
    let again = send(&carol.client, Target::User(alice.user_id), "again").await;
    let changed = page(&alice.client, 0, since, 100).await;
    assert_eq!(changed.conversations.len(), 1);
    assert_eq!(changed.conversations[0].with, Target::User(carol.user_id));
    assert_eq!(changed.conversations[0].unread, 2);
    assert_eq!(changed.conversations[0].last.as_ref().unwrap().id, again);
    assert_eq!(changed.total_unread, 4);

    // Marking read changes the entry too, so other devices' refreshes see it.
    let since = changed.conversations[0].updated;
    mark(&alice.client, Target::Group(group), u64::MAX).await.unwrap();
    let changed = page(&alice.client, 0, since, 100).await;
    assert_eq!(changed.conversations.iter().map(|c| c.with).collect::<Vec<_>>(), vec![Target::Group(group)]);
    assert_eq!(changed.conversations[0].unread, 0);

    for limit in [0, 101] {
        let r = alice.client.call(&ListConversationsRequest { before: 0, changed_since: 0, limit }).await;
        assert_eq!(code(r), Some(ErrorCode::InvalidArgument), "limit {limit}");
    }
    let (empty, total) = everything(&server.user(kind, "erin").await.client, 10).await;
    assert!(empty.is_empty());
    assert_eq!(total, 0);
}
per_transport!(list_orders_pages_and_refreshes);

async fn two_devices_and_a_peer_agree(kind: Kind) {
    let server = TestServer::start().await;
    let mut alice = server.user(kind, "alice").await;
    let (mut tablet, _) = server.device(kind, "alice", "alice-tablet", kith::protocol::DeviceType::Tablet).await;
    let mut bob = server.user(kind, "bob").await;
    let with_bob = Target::User(bob.user_id);
    // Her own message first: sending moves the sender's read position, so
    // it would mark bob's as read had they come before it.
    send(&alice.client, with_bob, "hello").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(send(&bob.client, Target::User(alice.user_id), &format!("hi {i}")).await);
    }
    for client in [&alice.client, &tablet] {
        let (list, total) = everything(client, 10).await;
        assert_eq!(entry(&list, with_bob).unread, 3, "bob's three, not her own");
        assert_eq!(total, 3);
    }

    // Read on the phone up to the second: the tablet hears of it at once,
    // and the phone does not hear its own.
    let position = mark(&alice.client, with_bob, ids[1]).await.unwrap();
    assert_eq!(position, ReadPosition { with: with_bob, read_up_to: ids[1], unread: 1 });
    let (update, body) = pushed(&mut tablet, UpdateKind::ReadPosition).await;
    assert_eq!(body, UpdateBody::ReadPosition(position));
    none_pushed(&server, &alice.name, &mut alice.client, UpdateKind::ReadPosition).await;
    let (list, total) = everything(&tablet, 10).await;
    assert_eq!((entry(&list, with_bob).unread, entry(&list, with_bob).read_up_to, total), (1, ids[1], 1));
    // The same update, same id, is in the log for a device that was away.
    let synced = alice.client.sync_all(update.id - 1).await.unwrap();
    assert_eq!(synced.iter().find(|u| u.kind == UpdateKind::ReadPosition as u8), Some(&update));

    // Bob is told, live, with a receipt, and sees it in his list.
    let (_, receipt) = pushed(&mut bob.client, UpdateKind::ReadReceipt).await;
    assert_eq!(receipt, UpdateBody::ReadReceipt(ReadReceipt { reader: alice.user_id, up_to: ids[1] }));
    let (list, _) = everything(&bob.client, 10).await;
    assert_eq!(entry(&list, Target::User(alice.user_id)).peer_read_up_to, ids[1]);

    // The tablet reads the rest; the phone's badge clears. A position never
    // moves back, and one past the newest message stops at it.
    let position = mark(&tablet, with_bob, u64::MAX).await.unwrap();
    let newest = everything(&tablet, 10).await.0[0].last.clone().unwrap().id;
    assert_eq!(position, ReadPosition { with: with_bob, read_up_to: newest, unread: 0 });
    pushed(&mut alice.client, UpdateKind::ReadPosition).await;
    assert_eq!(everything(&alice.client, 10).await.1, 0);
    let back = mark(&alice.client, with_bob, ids[0]).await.unwrap();
    assert_eq!(back, position, "a read position never moves back");
}
per_transport!(two_devices_and_a_peer_agree);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_peer_finds_the_receipt_by_sync() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Quic, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let id = send(&bob.client, Target::User(alice.user_id), "are you there?").await;
    let cursor = bob.client.sync_all(0).await.unwrap().last().unwrap().id;
    let bob_id = bob.user_id;
    drop(bob);
    mark(&alice.client, Target::User(bob_id), id).await.unwrap();

    let (bob, _) = server.device(Kind::Tls, "bob", "bob-laptop", kith::protocol::DeviceType::Desktop).await;
    let updates = bob.sync_all(cursor).await.unwrap();
    let receipts: Vec<UpdateBody> = updates
        .iter()
        .filter(|u| u.kind == UpdateKind::ReadReceipt as u8)
        .map(|u| u.decode().unwrap().unwrap())
        .collect();
    assert_eq!(receipts, vec![UpdateBody::ReadReceipt(ReadReceipt { reader: alice.user_id, up_to: id })]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_turned_off_are_neither_sent_nor_seen() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let mut bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let (mut tablet, _) = server.device(Kind::Tcp, "alice", "alice-tablet", kith::protocol::DeviceType::Tablet).await;
    assert!(alice.client.call(&ReadReceiptsRequest { set: None }).await.unwrap().enabled, "on by default");
    assert!(!alice.client.call(&ReadReceiptsRequest { set: Some(false) }).await.unwrap().enabled);
    assert!(!alice.client.call(&ReadReceiptsRequest { set: None }).await.unwrap().enabled);
    // Her other device hears of it; asking again changes nothing and tells nobody.
    let (_, body) = pushed(&mut tablet, UpdateKind::ReadReceiptsChanged).await;
    assert_eq!(body, UpdateBody::ReadReceiptsChanged(ReadReceiptsSetting { enabled: false }));
    alice.client.call(&ReadReceiptsRequest { set: Some(false) }).await.unwrap();
    none_pushed(&server, "alice", &mut tablet, UpdateKind::ReadReceiptsChanged).await;

    let to_alice = send(&bob.client, Target::User(alice.user_id), "read me").await;
    mark(&alice.client, Target::User(bob.user_id), to_alice).await.unwrap();
    none_pushed(&server, &bob.name, &mut bob.client, UpdateKind::ReadReceipt).await;
    assert_eq!(entry(&everything(&bob.client, 10).await.0, Target::User(alice.user_id)).peer_read_up_to, 0);
    // Nor does she see bob's.
    let to_bob = send(&alice.client, Target::User(bob.user_id), "and you").await;
    mark(&bob.client, Target::User(alice.user_id), to_bob).await.unwrap();
    assert_eq!(entry(&everything(&alice.client, 10).await.0, Target::User(bob.user_id)).peer_read_up_to, 0);

    // In a group she is not counted, and may not ask.
    let group = open_group(&carol, &[&alice, &bob]).await;
    let said = send(&carol.client, Target::Group(group), "all read this").await;
    mark(&alice.client, Target::Group(group), said).await.unwrap();
    mark(&bob.client, Target::Group(group), said).await.unwrap();
    let readers = carol.client.call(&MessageReadersRequest { group_id: group, message_id: said }).await.unwrap();
    assert_eq!(readers, MessageReaders { read: 1, of: 1, readers: vec![bob.user_id], listed: true });
    let asked = alice.client.call(&MessageReadersRequest { group_id: group, message_id: said }).await;
    assert_eq!(code(asked), Some(ErrorCode::NotPermitted));

    // Turned back on, her position counts again and receipts flow.
    alice.client.call(&ReadReceiptsRequest { set: Some(true) }).await.unwrap();
    let readers = carol.client.call(&MessageReadersRequest { group_id: group, message_id: said }).await.unwrap();
    assert_eq!((readers.read, readers.of), (2, 2));
    let again = send(&bob.client, Target::User(alice.user_id), "again").await;
    mark(&alice.client, Target::User(bob.user_id), again).await.unwrap();
    let (_, receipt) = pushed(&mut bob.client, UpdateKind::ReadReceipt).await;
    assert_eq!(receipt, UpdateBody::ReadReceipt(ReadReceipt { reader: alice.user_id, up_to: again }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_read_counts_and_who_read() {
    let server = TestServer::start_with(|c| c.conversation.who_read_max_members = 4).await;
    let owner = server.user(Kind::Tcp, "owner").await;
    let members = [
        server.user(Kind::Tcp, "member1").await,
        server.user(Kind::Quic, "member2").await,
        server.user(Kind::Tls, "member3").await,
    ];
    let stranger = server.user(Kind::Tcp, "stranger").await;
    let group = open_group(&owner, &members.iter().collect::<Vec<_>>()).await;
    let first = send(&owner.client, Target::Group(group), "first").await;
    let second = send(&members[0].client, Target::Group(group), "second").await;

    // m1 read the first by answering it; nobody else yet.
    assert_eq!(
        readers_of(&owner.client, group, first).await.unwrap(),
        MessageReaders { read: 1, of: 3, readers: vec![members[0].user_id], listed: true }
    );
    mark(&members[1].client, Target::Group(group), first).await.unwrap();
    mark(&members[2].client, Target::Group(group), second).await.unwrap();
    let mut all = vec![members[0].user_id, members[1].user_id, members[2].user_id];
    all.sort_unstable();
    assert_eq!(
        readers_of(&members[2].client, group, first).await.unwrap(),
        MessageReaders { read: 3, of: 3, readers: all, listed: true }
    );
    // The second is m1's: of the owner, m2 and m3, only m3 read that far.
    let second_read = readers_of(&owner.client, group, second).await.unwrap();
    assert_eq!(second_read, MessageReaders { read: 1, of: 3, readers: vec![members[2].user_id], listed: true });

    // Unread in the group, per member.
    let unread = |list: Vec<ConversationInfo>| entry(&list, Target::Group(group)).unread;
    assert_eq!(unread(everything(&owner.client, 10).await.0), 1, "m1's message");
    assert_eq!(unread(everything(&members[1].client, 10).await.0), 1);
    assert_eq!(unread(everything(&members[2].client, 10).await.0), 0);

    // A fifth member makes the group larger than the listing limit: the count stays.
    let m4 = server.user(Kind::Tcp, "member4").await;
    m4.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
    let counted = readers_of(&owner.client, group, first).await.unwrap();
    assert_eq!((counted.read, counted.of, counted.listed, counted.readers.len()), (4, 4, false, 0), "{counted:?}");
    assert_eq!(unread(everything(&m4.client, 10).await.0), 0, "nothing from before joining is unread");

    // Refusals: a stranger, a message of another conversation, no such group.
    assert_eq!(code(readers_of(&stranger.client, group, first).await), Some(ErrorCode::NotPermitted));
    let elsewhere = send(&owner.client, Target::User(stranger.user_id), "not in the group").await;
    assert_eq!(code(readers_of(&owner.client, group, elsewhere).await), Some(ErrorCode::NotFound));
    let r = owner.client.call(&MessageReadersRequest { group_id: group + 1, message_id: first }).await;
    assert_eq!(code(r), Some(ErrorCode::NotFound));

    // A member who leaves drops out of the count and their list.
    members[2].client.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
    assert_eq!(readers_of(&owner.client, group, first).await.unwrap().of, 3);
    assert!(everything(&members[2].client, 10).await.0.iter().all(|c| c.with != Target::Group(group)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_read_is_refused_where_it_must_be() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    assert_eq!(
        code(mark(&alice.client, Target::User(bob.user_id), 1).await),
        Some(ErrorCode::NotFound),
        "no conversation yet"
    );
    assert_eq!(code(mark(&alice.client, Target::User(9_999), 1).await), Some(ErrorCode::NotFound), "no such user");
    let group = open_group(&bob, &[]).await;
    assert_eq!(code(mark(&alice.client, Target::Group(group), 1).await), Some(ErrorCode::NotPermitted), "not a member");
    assert_eq!(code(mark(&alice.client, Target::Group(group + 1), 1).await), Some(ErrorCode::NotFound));

    // A kicked member's entry goes, and a rejoin starts with nothing unread.
    carol.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
    send(&bob.client, Target::Group(group), "one").await;
    assert_eq!(entry(&everything(&carol.client, 10).await.0, Target::Group(group)).unread, 1);
    bob.client.call(&KickMemberRequest { group_id: group, user_id: carol.user_id }).await.unwrap();
    assert_eq!(code(mark(&carol.client, Target::Group(group), u64::MAX).await), Some(ErrorCode::NotPermitted));
    let (list, total) = everything(&carol.client, 10).await;
    assert!(list.is_empty());
    assert_eq!(total, 0);
    send(&bob.client, Target::Group(group), "two").await;
    carol.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
    assert_eq!(entry(&everything(&carol.client, 10).await.0, Target::Group(group)).unread, 0);
    send(&bob.client, Target::Group(group), "three").await;
    assert_eq!(entry(&everything(&carol.client, 10).await.0, Target::Group(group)).unread, 1);
}

/// One step of the interleaving test.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Device `d` sends into conversation `c`.
    Send(usize, usize),
    /// Device `d` marks conversation `c` read up to the `k`-th newest message it knows, or all.
    Read(usize, usize, usize),
    /// The group's owner lets user `u` in (or they join).
    Join(usize),
    /// The group's owner removes user `u`.
    Kick(usize),
    /// Device `d` recalls the `k`-th newest message of conversation `c`
    /// (refused unless its user sent it or owns the group).
    Recall(usize, usize, usize),
    /// Device `d` deletes the `k`-th newest message of conversation `c` for its user.
    Hide(usize, usize, usize),
    /// Device `d` clears conversation `c` up to its `k`-th newest message.
    Clear(usize, usize, usize),
}

/// Users 0 (two devices: 0 and 1), 1 (device 2) and 2 (device 3); user 0
/// owns the group. Conversations: 0 = users 0–1, 1 = users 0–2, 2 = users
/// 1–2, 3 = the group.
const DEVICE_USER: [usize; 4] = [0, 0, 1, 2];
const PAIRS: [(usize, usize); 3] = [(0, 1), (0, 2), (1, 2)];

#[derive(Default)]
struct Model {
    /// Messages per conversation: (id, sender).
    messages: BTreeMap<usize, Vec<(u64, usize)>>,
    /// Read positions per (user, conversation).
    read: BTreeMap<(usize, usize), u64>,
    /// Group members besides the owner, with the newest group message when they joined.
    members: BTreeMap<usize, u64>,
    /// Recalled messages.
    recalled: BTreeSet<u64>,
    /// Messages each user deleted for themselves.
    hidden: BTreeSet<(usize, u64)>,
}

impl Model {
    fn in_conversation(&self, user: usize, c: usize) -> bool {
        match PAIRS.get(c) {
            Some((a, b)) => user == *a || user == *b,
            None => user == 0 || self.members.contains_key(&user),
        }
    }

    /// The messages of a conversation the user may see, newest first.
    fn visible(&self, user: usize, c: usize) -> Vec<(u64, usize)> {
        let from = if c == 3 && user != 0 { self.members.get(&user).copied().unwrap_or(u64::MAX) } else { 0 };
        let messages = self.messages.get(&c).map_or(&[][..], Vec::as_slice);
        messages.iter().rev().filter(|(id, _)| *id > from).copied().collect()
    }

    fn unread(&self, user: usize, c: usize) -> u32 {
        let read = self.read.get(&(user, c)).copied().unwrap_or(0);
        let messages = self.messages.get(&c).map_or(&[][..], Vec::as_slice);
        messages
            .iter()
            .filter(|(id, sender)| {
                *id > read && *sender != user && !self.recalled.contains(id) && !self.hidden.contains(&(user, *id))
            })
            .count() as u32
    }

    fn newest(&self, c: usize) -> u64 {
        self.messages.get(&c).and_then(|m| m.last()).map_or(0, |(id, _)| *id)
    }
}

fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    let step = prop_oneof![
        6 => (0..4usize, 0..4usize).prop_map(|(d, c)| Step::Send(d, c)),
        3 => (0..4usize, 0..4usize, 0..3usize).prop_map(|(d, c, k)| Step::Read(d, c, k)),
        1 => (1..3usize).prop_map(Step::Join),
        1 => (1..3usize).prop_map(Step::Kick),
        1 => (0..4usize, 0..4usize, 0..3usize).prop_map(|(d, c, k)| Step::Recall(d, c, k)),
        2 => (0..4usize, 0..4usize, 0..3usize).prop_map(|(d, c, k)| Step::Hide(d, c, k)),
        1 => (0..4usize, 0..4usize, 0..4usize).prop_map(|(d, c, k)| Step::Clear(d, c, k)),
    ];
    prop::collection::vec(step, 10..40)
}

async fn check(model: &Model, devices: &[&Client], target: &dyn Fn(usize, usize) -> Target, after: &[Step]) {
    for (d, client) in devices.iter().enumerate() {
        let user = DEVICE_USER[d];
        let (list, total) = everything(client, 2).await;
        let mut expected_total = 0;
        let mut expected_entries = 0;
        for c in (0..4).filter(|c| PAIRS.get(*c).is_none_or(|(a, b)| user == *a || user == *b)) {
            let with = target(user, c);
            let listed = list.iter().find(|e| e.with == with);
            let present = model.in_conversation(user, c) && (c == 3 || model.newest(c) > 0);
            assert_eq!(listed.is_some(), present, "device {d}, conversation {c} after {after:?}");
            if let Some(e) = listed {
                expected_entries += 1;
                assert_eq!(e.unread, model.unread(user, c), "device {d}, conversation {c} after {after:?}");
                expected_total += u64::from(e.unread);
            }
        }
        assert_eq!(total, expected_total, "device {d} badge after {after:?}");
        assert_eq!(list.len(), expected_entries, "device {d}: {list:?} after {after:?}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Random interleavings of sends, reads on either of a user's devices,
    /// recalls, deletions for oneself, clearing, joins and kicks leave every
    /// device's unread counts and badge equal to a model's, with no
    /// mismatch at any step.
    #[test]
    fn unread_counts_match_a_model_whatever_the_interleaving(plan in steps()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let server = TestServer::start().await;
            let names = ["alice", "bob", "carol"];
            let mut people = Vec::new();
            for name in names {
                people.push(server.user(Kind::Tcp, name).await);
            }
            let users: Vec<u64> = people.iter().map(|p| p.user_id).collect();
            let (tablet, _) = server.device(Kind::Tcp, "alice", "alice-tablet", kith::protocol::DeviceType::Tablet).await;
            let devices: Vec<&Client> = vec![&people[0].client, &tablet, &people[1].client, &people[2].client];
            let request = CreateGroupRequest { fields: group_fields(JoinPolicy::Open), members: vec![] };
            let group = devices[0].call(&request).await.unwrap().group.group_id;
            let target = |user: usize, c: usize| match PAIRS.get(c) {
                Some((a, b)) => Target::User(users[if user == *a { *b } else { *a }]),
                None => Target::Group(group),
            };
            let mut model = Model::default();
            for (i, step) in plan.iter().enumerate() {
                match *step {
                    Step::Send(d, c) => {
                        let user = DEVICE_USER[d];
                        if !model.in_conversation(user, c) {
                            continue;
                        }
                        let id = send(devices[d], target(user, c), "m").await;
                        model.messages.entry(c).or_default().push((id, user));
                        model.read.insert((user, c), id);
                    }
                    Step::Read(d, c, k) => {
                        let user = DEVICE_USER[d];
                        if !model.in_conversation(user, c) || model.newest(c) == 0 && c != 3 {
                            continue;
                        }
                        let messages = model.messages.get(&c).cloned().unwrap_or_default();
                        let up_to = messages.iter().rev().nth(k).map_or(u64::MAX, |(id, _)| *id);
                        let at = mark(devices[d], target(user, c), up_to).await.unwrap();
                        let newest = model.newest(c);
                        let read = model.read.entry((user, c)).or_default();
                        *read = (*read).max(up_to.min(newest));
                        assert_eq!(at.unread, model.unread(user, c), "MarkRead's answer after {:?}", &plan[..=i]);
                    }
                    Step::Join(u) => {
                        if !model.members.contains_key(&u) {
                            devices[[0, 2, 3][u]].call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
                            model.members.insert(u, model.newest(3));
                            model.read.insert((u, 3), model.newest(3));
                        }
                    }
                    Step::Recall(d, c, k) => {
                        let user = DEVICE_USER[d];
                        let Some(&(id, sender)) = model.visible(user, c).get(k) else { continue };
                        if !model.in_conversation(user, c) {
                            continue;
                        }
                        let answer = devices[d].call(&RecallRequest { with: target(user, c), message_id: id }).await;
                        if sender == user || (c == 3 && user == 0) {
                            answer.unwrap();
                            model.recalled.insert(id);
                        } else {
                            assert_eq!(code(answer), Some(ErrorCode::NotPermitted), "after {:?}", &plan[..=i]);
                        }
                    }
                    Step::Hide(d, c, k) => {
                        let user = DEVICE_USER[d];
                        let Some(&(id, _)) = model.visible(user, c).get(k) else { continue };
                        if !model.in_conversation(user, c) {
                            continue;
                        }
                        let request = DeleteForMeRequest { with: target(user, c), message_ids: vec![id], clear_up_to: 0 };
                        let done = devices[d].call(&request).await.unwrap();
                        model.hidden.insert((user, id));
                        assert_eq!(done.unread, model.unread(user, c), "DeleteForMe's answer after {:?}", &plan[..=i]);
                    }
                    Step::Clear(d, c, k) => {
                        let user = DEVICE_USER[d];
                        let Some(&(id, _)) = model.visible(user, c).get(k) else { continue };
                        if !model.in_conversation(user, c) {
                            continue;
                        }
                        let request = DeleteForMeRequest { with: target(user, c), message_ids: vec![], clear_up_to: id };
                        let done = devices[d].call(&request).await.unwrap();
                        let read = model.read.entry((user, c)).or_default();
                        *read = (*read).max(id);
                        assert_eq!(done.unread, model.unread(user, c), "DeleteForMe's answer after {:?}", &plan[..=i]);
                    }
                    Step::Kick(u) => {
                        if model.members.remove(&u).is_some() {
                            devices[0].call(&KickMemberRequest { group_id: group, user_id: users[u] }).await.unwrap();
                            model.read.remove(&(u, 3));
                        }
                    }
                }
                check(&model, &devices, &target, &plan[..=i]).await;
            }
        });
    }
}

async fn bad_bodies_and_anonymous_callers_are_refused(kind: Kind) {
    use kith::codec::{decode_wire, encode_wire};
    use kith::protocol::{Action, ErrorBody, ERROR_ACTION};
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let anonymous = server.connect(kind).await;
    let bodies: Vec<(Action, Vec<u8>)> = vec![
        (Action::ListConversations, encode_wire(&ListConversationsRequest { before: 0, changed_since: 0, limit: 20 })),
        (Action::MarkRead, encode_wire(&MarkReadRequest { with: Target::User(alice.user_id), up_to: 1 })),
        (Action::ReadReceipts, encode_wire(&ReadReceiptsRequest { set: Some(true) })),
        (Action::MessageReaders, encode_wire(&MessageReadersRequest { group_id: 1, message_id: 1 })),
        (Action::Recall, encode_wire(&RecallRequest { with: Target::User(alice.user_id), message_id: 1 })),
        (
            Action::DeleteForMe,
            encode_wire(&DeleteForMeRequest {
                with: Target::User(alice.user_id),
                message_ids: vec![1],
                clear_up_to: 0,
            }),
        ),
        (
            Action::Retention,
            encode_wire(&kith::protocol::RetentionRequest { with: Target::User(alice.user_id), set: Some(60) }),
        ),
    ];
    let error = |reply: kith::client::RawReply| {
        assert_eq!(reply.action, ERROR_ACTION);
        decode_wire::<ErrorBody>(&reply.body).unwrap().error_code()
    };
    for (action, body) in &bodies {
        let reply = anonymous.request_raw(*action as u8, body.clone()).await.unwrap();
        assert_eq!(error(reply), Some(ErrorCode::NotAuthenticated), "{action:?} before authenticating");
        // Cut short, the body is refused and the connection stays.
        let reply = alice.client.request_raw(*action as u8, body[..body.len() - 1].to_vec()).await.unwrap();
        assert_eq!(error(reply), Some(ErrorCode::MalformedBody), "{action:?} truncated");
    }
    // A Target variant the protocol does not have; an Option tag that is neither 0 nor 1.
    let mut mark = bodies[1].1.clone();
    mark[3] = 2;
    let reply = alice.client.request_raw(Action::MarkRead as u8, mark).await.unwrap();
    assert_eq!(error(reply), Some(ErrorCode::MalformedBody));
    let reply = alice.client.request_raw(Action::ReadReceipts as u8, vec![2, 1]).await.unwrap();
    assert_eq!(error(reply), Some(ErrorCode::MalformedBody));
    // A list count claiming more ids than the body holds.
    let mut delete = bodies[5].1.clone();
    delete[12..20].copy_from_slice(&u64::MAX.to_be_bytes());
    let reply = alice.client.request_raw(Action::DeleteForMe as u8, delete).await.unwrap();
    assert_eq!(error(reply), Some(ErrorCode::MalformedBody));
    assert!(
        alice.client.call(&ReadReceiptsRequest { set: None }).await.unwrap().enabled,
        "nothing changed, still usable"
    );
}
per_transport!(bad_bodies_and_anonymous_callers_are_refused);
