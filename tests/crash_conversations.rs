//! Crash consistency of read positions: bob writes to alice and carol
//! writes to a group while alice reads both conversations as fast as she
//! can, and the real `kith` binary is killed with SIGKILL at a random
//! moment, cycle after cycle on the same data directory. After every
//! restart:
//!
//! * every acknowledged `MarkRead` holds: alice's read position is at least
//!   the last one she was answered;
//! * every acknowledged recall holds: the message is a tombstone;
//! * every acknowledged edit holds: the message reads as edited, and a
//!   reply still names the message it answers;
//! * every acknowledged reaction holds;
//! * bob's pin and draft of his conversation with alice are the last he
//!   was answered, or the one in flight after it;
//! * each unread count equals the messages above the read position that
//!   others sent and did not recall, counted from the log itself —
//!   whatever was in flight.
//!
//! The same for the purge of expired messages: see the last test.
//!
//! CI runs `KITH_CRASH_CYCLES` cycles (default 5), like `tests/crash.rs`.

use crate::common;
use common::random_below;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{start, Running};
use kith::client::{Client, Transport};
use kith::protocol::{
    ConversationStateRequest, ConversationStatesRequest, CreateGroupRequest, DeviceType, Direction, GroupFields,
    HistoryRequest, JoinGroupRequest, JoinPolicy, ListConversationsRequest, MarkReadRequest, MessageKind, ReactRequest,
    ReactionsRequest, RecallRequest, Target,
};

pub(crate) async fn login(server: &Running, name: &str) -> Client {
    login_on(server, name, &format!("{name}-phone"), DeviceType::Mobile).await
}

/// A login on another device (of another type: a login of the same type
/// would close the first).
async fn login_on(server: &Running, name: &str, device: &str, device_type: DeviceType) -> Client {
    let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    client.login(name, common::PASSWORD, common::device(device, device_type)).await.unwrap();
    client
}

/// Sets bob's state of a conversation turn after turn from `from` until
/// the server dies — pinned on even turns, a draft naming the turn — and
/// records the last turn answered.
async fn keep_state_until_killed(client: Client, with: Target, from: u64, acked: Arc<Mutex<Option<u64>>>) {
    for turn in from.. {
        let state = ConversationStateRequest {
            with,
            pinned: Some(turn % 2 == 0),
            draft: Some(format!("draft {turn}")),
            muted: None,
        };
        if client.call(&state).await.is_err() {
            return;
        }
        *acked.lock().unwrap() = Some(turn);
    }
}

/// What the writers were answered: recalls, and edits with their text.
#[derive(Default)]
struct Acked {
    recalls: Vec<(Target, u64)>,
    /// Where, which message, its text now, and the message it answers.
    edits: Vec<(Target, u64, String, u64)>,
    /// Where, and the message its writer put 👍 on.
    reactions: Vec<(Target, u64)>,
}

/// Writes to `to` until the server dies, each message answering the one
/// before, recalling every third, editing the next and putting 👍 on the
/// one after; records each acknowledged recall, edit and reaction as alice
/// sees the conversation.
async fn write_until_killed(client: Client, to: Target, seen_as: Target, acked: Arc<Mutex<Acked>>) {
    let (mut i, mut previous) = (0u64, 0);
    while let Ok(sent) = client.reply_text(to, previous, &format!("{i}")).await {
        let (id, answers) = (sent.message_id, previous);
        if i % 3 == 0 {
            if client.call(&RecallRequest { with: to, message_id: id }).await.is_err() {
                return;
            }
            acked.lock().unwrap().recalls.push((seen_as, id));
        } else {
            previous = id;
        }
        if i % 3 == 1 {
            let text = format!("{i}, edited");
            if client.edit_text(to, id, &text).await.is_err() {
                return;
            }
            acked.lock().unwrap().edits.push((seen_as, id, text, answers));
        }
        if i % 3 == 2 {
            let thumbs = ReactRequest { with: to, message_id: id, emoji: "👍".into(), add: true };
            if client.call(&thumbs).await.is_err() {
                return;
            }
            acked.lock().unwrap().reactions.push((seen_as, id));
        }
        i += 1;
    }
}

/// Reads every conversation with something unread, over and over, until
/// the server dies; records each answered position.
async fn read_until_killed(alice: Client, answered: Arc<Mutex<HashMap<Target, u64>>>) {
    loop {
        let Ok(page) = alice.call(&ListConversationsRequest { before: 0, changed_since: 0, limit: 10 }).await else {
            return;
        };
        for entry in page.conversations.iter().filter(|c| c.unread > 0) {
            let up_to = entry.last.as_ref().map_or(0, |m| m.id);
            match alice.call(&MarkReadRequest { with: entry.with, up_to }).await {
                Ok(position) => {
                    let mut answered = answered.lock().unwrap();
                    let at = answered.entry(entry.with).or_default();
                    *at = (*at).max(position.read_up_to);
                }
                Err(_) => return,
            }
        }
    }
}

/// Messages of a conversation above `after` that someone other than `me`
/// sent (system messages aside), read from the log.
async fn unread_in_log(client: &Client, with: Target, after: u64, me: u64) -> u32 {
    let (mut anchor, mut unread) = (after, 0);
    loop {
        let page =
            client.call(&HistoryRequest { with, direction: Direction::After, anchor, limit: 100 }).await.unwrap();
        unread += page
            .messages
            .iter()
            .filter(|m| m.sender != me && !matches!(m.kind, MessageKind::System | MessageKind::Recalled))
            .count() as u32;
        match page.messages.last() {
            Some(last) if page.more => anchor = last.id,
            _ => return unread,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_reads_survive_kill_9_and_counts_stay_exact() {
    let cycles: usize = std::env::var("KITH_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), common::process::UNTHROTTLED);
    let ids = register(&server, &["alice", "bob", "carol"]).await;
    let fields = GroupFields {
        name: "readers".into(),
        avatar: 0,
        introduction: String::new(),
        announcement: String::new(),
        join_policy: JoinPolicy::Open,
        history_visible: false,
    };
    let alice = login(&server, "alice").await;
    let group = alice.call(&CreateGroupRequest { fields, members: Vec::new() }).await.unwrap().group.group_id;
    login(&server, "carol").await.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap();
    drop(alice);
    let answered: Arc<Mutex<HashMap<Target, u64>>> = Arc::default();
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let state_acked: Arc<Mutex<Option<u64>>> = Arc::default();
    let mut reads = 0;

    for cycle in 0..=cycles {
        // Check what the last run left.
        let alice = login(&server, "alice").await;
        let page = alice.call(&ListConversationsRequest { before: 0, changed_since: 0, limit: 10 }).await.unwrap();
        for entry in &page.conversations {
            let acked = answered.lock().unwrap().get(&entry.with).copied().unwrap_or(0);
            assert!(
                entry.read_up_to >= acked,
                "cycle {cycle}: {:?} read up to {} < acknowledged {acked}",
                entry.with,
                entry.read_up_to
            );
            let counted = unread_in_log(&alice, entry.with, entry.read_up_to, ids["alice"]).await;
            assert_eq!(entry.unread, counted, "cycle {cycle}: {:?}", entry.with);
        }
        assert_eq!(page.total_unread, page.conversations.iter().map(|c| u64::from(c.unread)).sum::<u64>());
        let recalled = acked.lock().unwrap().recalls.clone();
        for (with, id) in &recalled {
            let found = alice.message(*with, *id).await.unwrap();
            assert_eq!(
                found.map(|m| (m.kind, m.content.len())),
                Some((MessageKind::Recalled, 0)),
                "cycle {cycle}: acknowledged recall of {id} in {with:?}"
            );
        }
        let edited = acked.lock().unwrap().edits.clone();
        for (with, id, text, answers) in &edited {
            let found = alice.message(*with, *id).await.unwrap().expect("an edited message");
            assert_eq!(found.content, text.as_bytes(), "cycle {cycle}: acknowledged edit of {id} in {with:?}");
            assert!(found.edited > 0 && found.reply_to == *answers, "cycle {cycle}: {found:?}");
        }
        let reacted = acked.lock().unwrap().reactions.clone();
        for (with, id) in &reacted {
            let on = alice.call(&ReactionsRequest { with: *with, message_id: *id }).await.unwrap().reactions;
            assert!(
                on.iter().any(|r| r.emoji == "👍" && r.count == 1),
                "cycle {cycle}: acknowledged 👍 on {id}: {on:?}"
            );
        }
        let desk = login_on(&server, "bob", "bob-desk", DeviceType::Desktop).await;
        let to_alice = Target::User(ids["alice"]);
        let answered_turn = *state_acked.lock().unwrap();
        if let Some(turn) = answered_turn {
            let states = desk.call(&ConversationStatesRequest).await.unwrap().states;
            let state = states.iter().find(|s| s.with == to_alice).expect("bob's state of his conversation with alice");
            let found: u64 = state.draft.strip_prefix("draft ").and_then(|n| n.parse().ok()).expect("a turn's draft");
            assert!(found == turn || found == turn + 1, "cycle {cycle}: draft of turn {found}, answered {turn}");
            assert_eq!(state.pinned_at != 0, found.is_multiple_of(2), "cycle {cycle}: the pin of turn {found}");
        }
        if cycle == cycles {
            break;
        }
        let bob = login(&server, "bob").await;
        let carol = login(&server, "carol").await;
        let writers = [
            tokio::spawn(write_until_killed(bob, Target::User(ids["alice"]), Target::User(ids["bob"]), acked.clone())),
            tokio::spawn(write_until_killed(carol, Target::Group(group), Target::Group(group), acked.clone())),
        ];
        let reader = tokio::spawn(read_until_killed(alice, answered.clone()));
        let from = cycle as u64 * 1_000_000;
        let keeper = tokio::spawn(keep_state_until_killed(desk, to_alice, from, state_acked.clone()));
        tokio::time::sleep(Duration::from_millis(200 + random_below(500))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for writer in writers {
            writer.await.unwrap();
        }
        reader.await.unwrap();
        keeper.await.unwrap();
        reads += answered.lock().unwrap().len();
        eprintln!("cycle {cycle}: positions acknowledged so far {:?}", answered.lock().unwrap());
        server = start(dir.path(), common::process::UNTHROTTLED);
    }
    assert!(reads > 0, "alice did read");
    let acked = acked.lock().unwrap();
    assert!(!acked.recalls.is_empty() && !acked.edits.is_empty(), "bob and carol did recall and edit");
    assert!(!acked.reactions.is_empty(), "bob and carol did react");
    assert!(state_acked.lock().unwrap().is_some(), "bob did pin and draft");
}

/// Registers each of `names` and returns their ids.
pub(crate) async fn register(server: &Running, names: &[&'static str]) -> HashMap<&'static str, u64> {
    let mut ids = HashMap::new();
    for &name in names {
        let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
        ids.insert(name, client.register(name, common::PASSWORD).await.unwrap());
    }
    ids
}

/// Sends `count` texts to `to`, 100 at once, and returns their ids ascending.
pub(crate) async fn backlog(from: &Arc<Client>, to: Target, count: usize) -> Vec<u64> {
    let mut sent = Vec::new();
    for chunk in 0..count / 100 {
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..100 {
            let from = from.clone();
            sends.spawn(async move { from.send_text_to(to, &format!("{chunk}.{i}")).await.unwrap().message_id });
        }
        while let Some(id) = sends.join_next().await {
            sent.push(id.unwrap());
        }
    }
    sent.sort_unstable();
    sent
}

/// Runs a `kith` operator command on a data directory; it must succeed.
pub(crate) fn kith(args: &[&str], data_dir: &std::path::Path) -> Vec<u8> {
    let out =
        std::process::Command::new(common::process::KITH).args(args).arg("--data-dir").arg(data_dir).output().unwrap();
    assert!(out.status.success(), "kith {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn kith_json(args: &[&str], data_dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&kith(args, data_dir)).unwrap()
}

/// The purge of a large expired backlog, killed with SIGKILL again and
/// again while carol writes to dave: after every restart the backlog stays
/// invisible and read, every acknowledged message of carol's is there, and
/// the purge picks up where it stopped; at the end only a tombstone is left
/// of the backlog, no recall or hidden mark of it, and the data restores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_killed_midway_resumes_and_keeps_everything_else() {
    use kith::protocol::{DeleteForMeRequest, RetentionRequest};
    const BACKLOG: u64 = 3_000;
    let cycles: usize = std::env::var("KITH_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut extra = common::process::UNTHROTTLED.to_vec();
    extra.extend(["--set", "conversation.purge_interval_secs=1", "--set", "conversation.purge_batch=5"]);
    let mut server = start(dir.path(), &extra);
    let ids = register(&server, &["alice", "bob", "carol", "dave"]).await;
    let (to_alice, to_bob) = (Target::User(ids["alice"]), Target::User(ids["bob"]));
    let bob = Arc::new(login(&server, "bob").await);
    let sent = backlog(&bob, to_alice, BACKLOG as usize).await;
    for id in sent.iter().step_by(500) {
        bob.call(&RecallRequest { with: to_alice, message_id: *id }).await.unwrap();
    }
    let alice = login(&server, "alice").await;
    let hide = DeleteForMeRequest {
        with: to_bob,
        message_ids: sent.iter().skip(7).step_by(400).copied().collect(),
        clear_up_to: 0,
    };
    alice.call(&hide).await.unwrap();
    alice.call(&RetentionRequest { with: to_bob, set: Some(1) }).await.unwrap();
    let newest = *sent.last().unwrap();
    let at = kith::id::id_time_ms(newest) + 1_050;
    tokio::time::sleep(Duration::from_millis(at.saturating_sub(kith::id::now_ms()))).await;
    drop((alice, bob));

    let kept: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut stored = 0;
    // The backlog left at the start of each cycle.
    let mut lefts = Vec::new();
    for cycle in 0..=cycles {
        let alice = login(&server, "alice").await;
        let seen =
            alice.call(&HistoryRequest { with: to_bob, direction: Direction::After, anchor: 0, limit: 10 }).await;
        assert!(seen.unwrap().messages.is_empty(), "cycle {cycle}: the expired backlog stays invisible");
        let list = alice.call(&ListConversationsRequest { before: 0, changed_since: 0, limit: 10 }).await.unwrap();
        let entry = list.conversations.iter().find(|c| c.with == to_bob).unwrap();
        let last = entry.last.as_ref().unwrap();
        assert_eq!((entry.unread, last.id, last.kind), (0, newest, MessageKind::Expired), "cycle {cycle}");
        let dave = login(&server, "dave").await;
        let wanted = kept.lock().unwrap().clone();
        let (mut found, mut anchor) = (Vec::new(), 0);
        loop {
            let request =
                HistoryRequest { with: Target::User(ids["carol"]), direction: Direction::After, anchor, limit: 100 };
            let page = dave.call(&request).await.unwrap();
            found.extend(page.messages.iter().map(|m| m.id));
            match page.messages.last() {
                Some(m) if page.more => anchor = m.id,
                _ => break,
            }
        }
        assert!(
            wanted.iter().all(|id| found.contains(id)),
            "cycle {cycle}: an acknowledged message of carol's is lost"
        );
        if cycle == cycles {
            stored = found.len() as u64;
            break;
        }
        let left = kith_json(&["stats", "--json"], &data)["messages"].as_u64().unwrap() - found.len() as u64;
        eprintln!("cycle {cycle}: {left} messages of the backlog left");
        lefts.push(left);
        let carol = login(&server, "carol").await;
        let to_dave = Target::User(ids["dave"]);
        let writer = {
            let kept = kept.clone();
            tokio::spawn(async move {
                while let Ok(sent) = carol.send_text_to(to_dave, "during the purge").await {
                    kept.lock().unwrap().push(sent.message_id);
                }
            })
        };
        // The purge looks one second after the start; kill it while it works
        // (a few hundred messages a cycle, at one message a job).
        tokio::time::sleep(Duration::from_millis(1_000 + random_below(300))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        writer.await.unwrap();
        server = start(dir.path(), &extra);
    }
    // The kills landed while the purge was at work: the backlog never grew
    // back, and at least once a kill stopped it part-way (smaller than
    // before, yet more than the tombstone that stays).
    assert!(lefts.windows(2).all(|w| w[1] <= w[0]), "the backlog grew back: {lefts:?}");
    assert!(lefts.windows(2).any(|w| w[1] < w[0] && w[1] > 1), "no kill landed mid-purge: {lefts:?}");
    // Let the purge finish: only carol's messages (those acknowledged, and
    // any stored while its answer was lost to a kill) and the backlog's
    // tombstone stay.
    let expected = stored + 1;
    let mut stats = serde_json::Value::Null;
    for _ in 0..600 {
        stats = kith_json(&["stats", "--json"], &data);
        if stats["messages"].as_u64() == Some(expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stats["messages"].as_u64(), Some(expected), "{stats}");
    assert_eq!((stats["recalled_messages"].as_u64(), stats["hidden_messages"].as_u64()), (Some(0), Some(0)));
    let file = dir.path().join("after.kbak");
    kith(&["backup", &file.display().to_string()], &data);
    // Restoring runs the checks of what a running kith could have written.
    kith(&["restore", &file.display().to_string()], &dir.path().join("restored"));
}
