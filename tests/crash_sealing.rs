//! Sealing killed midway: bob's backlog to alice is sealed into blocks one
//! message a job while the real `kith` binary is killed with SIGKILL
//! again and again, and bob edits old messages meanwhile. After every
//! restart alice's history holds every acknowledged message once, in order,
//! with every acknowledged edit; at the end every message is sealed and the
//! data restores from a backup.
//!
//! CI runs `KITH_CRASH_CYCLES` cycles (default 5), like `tests/crash.rs`.

use crate::common;
use crate::crash_conversations::{backlog, kith, login, register};
use common::process::{start, stats};
use common::random_below;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kith::client::Client;
use kith::protocol::{Direction, EditRequest, HistoryRequest, Target};

/// Alice's whole history with bob: each message's id and text.
async fn history(alice: &Client, with: Target) -> Vec<(u64, Vec<u8>)> {
    let (mut found, mut anchor) = (Vec::new(), 0);
    loop {
        let page = alice.call(&HistoryRequest { with, direction: Direction::After, anchor, limit: 100 }).await.unwrap();
        found.extend(page.messages.iter().map(|m| (m.id, m.content.clone())));
        match page.messages.last() {
            Some(m) if page.more => anchor = m.id,
            _ => return found,
        }
    }
}

/// Bob's edits: the text each message was last acknowledged with, and the
/// edit in flight when the server died (it may or may not have landed).
#[derive(Default)]
struct Edits {
    acked: HashMap<u64, String>,
    in_flight: Option<(u64, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealing_killed_midway_loses_repeats_and_undoes_nothing() {
    const BACKLOG: usize = 3_000;
    let cycles: usize = std::env::var("KITH_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut extra = common::process::UNTHROTTLED.to_vec();
    extra.extend([
        "--set",
        "conversation.seal_after_secs=1",
        "--set",
        "conversation.purge_interval_secs=1",
        "--set",
        "conversation.purge_batch=1",
    ]);
    let mut server = start(dir.path(), &extra);
    let ids = register(&server, &["alice", "bob"]).await;
    let (to_alice, to_bob) = (Target::User(ids["alice"]), Target::User(ids["bob"]));
    let bob = Arc::new(login(&server, "bob").await);
    let sent = backlog(&bob, to_alice, BACKLOG).await;
    drop(bob);

    let edits: Arc<Mutex<Edits>> = Arc::default();
    let mut sealed = Vec::new();
    let mut turn = 0;
    for cycle in 0..=cycles {
        let alice = login(&server, "alice").await;
        let found = history(&alice, to_bob).await;
        assert_eq!(found.iter().map(|(id, _)| *id).collect::<Vec<_>>(), sent, "cycle {cycle}: every message once");
        let edits_now = std::mem::take(&mut edits.lock().unwrap().in_flight);
        for (id, text) in &found {
            let mut edits = edits.lock().unwrap();
            let in_flight = edits_now.as_ref().filter(|(at, _)| at == id).map(|(_, t)| t.as_str());
            if let Some(acked) = edits.acked.get(id) {
                assert!(
                    text == acked.as_bytes() || Some(text.as_slice()) == in_flight.map(str::as_bytes),
                    "cycle {cycle}: the acknowledged edit of {id} is lost: found {:?}, acknowledged {acked:?}, in flight {in_flight:?}",
                    String::from_utf8_lossy(text)
                );
            }
            // An edit cut by the kill that took is durable from now on, like
            // an acknowledged one.
            if let Some(applied) = in_flight.filter(|t| t.as_bytes() == text.as_slice()) {
                eprintln!("cycle {cycle}: the edit of {id} in flight at the kill took");
                edits.acked.insert(*id, applied.to_string());
            }
        }
        sealed.push(stats(&data)["sealed_messages"].as_u64().unwrap());
        if cycle == cycles {
            break;
        }
        let bob = login(&server, "bob").await;
        let editor = {
            let (edits, sent) = (edits.clone(), sent.clone());
            tokio::spawn(async move {
                loop {
                    turn += 1;
                    let (id, text) = (sent[turn * 13 % BACKLOG], format!("edit {turn}"));
                    edits.lock().unwrap().in_flight = Some((id, text.clone()));
                    let edit = EditRequest { with: to_alice, message_id: id, content: text.clone().into_bytes() };
                    if bob.call(&edit).await.is_err() {
                        return turn;
                    }
                    let mut edits = edits.lock().unwrap();
                    edits.acked.insert(id, text);
                    edits.in_flight = None;
                }
            })
        };
        // The seal sweep starts one second after the start, at one message a
        // job: kill it a moment after it has sealed more (or once it is done).
        let before = sealed[cycle];
        for _ in 0..200 {
            let now = stats(&data)["sealed_messages"].as_u64().unwrap();
            if now > before || now == BACKLOG as u64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(random_below(300))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        turn = editor.await.unwrap();
        eprintln!("cycle {cycle}: {} messages sealed when it began", sealed[cycle]);
        server = start(dir.path(), &extra);
    }
    assert!(!edits.lock().unwrap().acked.is_empty(), "bob did edit");
    assert!(sealed.windows(2).all(|w| w[1] >= w[0]), "sealed messages came loose again: {sealed:?}");
    assert!(sealed.iter().any(|n| (1..BACKLOG as u64).contains(n)), "no kill landed mid-seal: {sealed:?}");
    // Let the sweep finish: every message sealed, and all still there.
    for _ in 0..600 {
        if stats(&data)["sealed_messages"].as_u64() == Some(BACKLOG as u64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stats(&data)["sealed_messages"].as_u64(), Some(BACKLOG as u64));
    let alice = login(&server, "alice").await;
    assert_eq!(history(&alice, to_bob).await.iter().map(|(id, _)| *id).collect::<Vec<_>>(), sent);
    let file = dir.path().join("sealed.kbak");
    kith(&["backup", &file.display().to_string()], &data);
    // Restoring runs the checks of what a running kith could have written.
    kith(&["restore", &file.display().to_string()], &dir.path().join("restored"));
}
