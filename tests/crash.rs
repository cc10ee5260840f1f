//! Crash consistency: twenty clients send with a window of messages in flight
//! while the real `kith` binary is killed with SIGKILL at a random moment,
//! cycle after cycle on the same data directory. After every restart:
//!
//! * every acknowledged message is there, with the id it was acknowledged
//!   with, its sender, client id and content;
//! * no (sender, client message id) is stored twice, and no id repeats;
//! * within each conversation a sender's messages keep their send order;
//! * messages in flight at the kill are resent with the same client id and
//!   are stored exactly once (their original id if they had been stored);
//! * the database opens (the server starts and serves).
//!
//! CI runs `KITH_CRASH_CYCLES` cycles (default 5). The long run documented in
//! docs/RELIABILITY.md is
//! `KITH_CRASH_CYCLES=1000 cargo test --release --test crash -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{start, Running};
use common::Calls;
use futures_util::stream::{FuturesUnordered, StreamExt};
use kith::client::{new_client_msg_id, Client, Transport};
use kith::protocol::{DeviceType, Direction, MessageKind, SendRequest, Target};

const USERS: usize = 20;
const WINDOW: usize = 4;

/// One message a client sent, acknowledged or not.
#[derive(Debug, Clone)]
struct Sent {
    sender: usize,
    to: usize,
    seq: u64,
    client_msg_id: [u8; 16],
}

impl Sent {
    fn request(&self, ids: &[u64]) -> SendRequest {
        SendRequest {
            to: Target::User(ids[self.to]),
            client_msg_id: self.client_msg_id,
            kind: MessageKind::Text,
            content: format!("{}:{}", self.sender, self.seq).into_bytes(),
            extra: None,
        }
    }
}

#[derive(Default)]
struct Ledger {
    /// (sender, client id) → acknowledged message id.
    acked: HashMap<(usize, [u8; 16]), (u64, Sent)>,
    /// In flight when the server died; resent after the restart.
    pending: Vec<Sent>,
    next_seq: Vec<u64>,
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).unwrap();
    u64::from_le_bytes(b) % n
}

async fn connect(server: &Running, token: &[u8]) -> Client {
    let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    client.auth(token).await.expect("token still valid after restart");
    client
}

/// Sends sequentially numbered messages with a window until the connection
/// dies; records acknowledgements, and what was in flight as pending.
async fn send_until_killed(client: Arc<Client>, me: usize, ids: Arc<Vec<u64>>, ledger: Arc<Mutex<Ledger>>) {
    let to = (me + 1) % USERS;
    let mut inflight = FuturesUnordered::new();
    let mut alive = true;
    loop {
        while alive && inflight.len() < WINDOW {
            let sent = {
                let mut l = ledger.lock().unwrap();
                let seq = l.next_seq[me];
                l.next_seq[me] += 1;
                Sent { sender: me, to, seq, client_msg_id: new_client_msg_id() }
            };
            let (client, ids) = (client.clone(), ids.clone());
            inflight.push(async move {
                let result = client.call(&sent.request(&ids)).await;
                (sent, result)
            });
        }
        let Some((sent, result)) = inflight.next().await else { return };
        let mut l = ledger.lock().unwrap();
        match result {
            Ok(ack) => {
                l.acked.insert((me, sent.client_msg_id), (ack.message_id, sent));
            }
            Err(_) => {
                // The server is gone: this and everything still in flight
                // is resent after the restart.
                l.pending.push(sent);
                alive = false;
            }
        }
    }
}

/// What has been verified so far, so each check reads only what is new and
/// a run of a thousand cycles stays linear.
struct Verified {
    /// Per user: highest inbox id already checked.
    inbox: Vec<u64>,
    /// Per user: history anchor and last sequence number seen in the
    /// conversation with the next user.
    history: Vec<(u64, Option<u64>)>,
    /// Every message id seen, with its (sender, client id).
    ids: HashMap<u64, (usize, [u8; 16])>,
    /// Every (sender, client id) seen.
    client_ids: HashSet<(usize, [u8; 16])>,
}

impl Verified {
    fn new() -> Verified {
        Verified {
            inbox: vec![0; USERS],
            history: vec![(0, None); USERS],
            ids: HashMap::new(),
            client_ids: HashSet::new(),
        }
    }
}

/// Checks what was stored since the last check against the ledger, through
/// users' inboxes and conversation histories.
async fn verify(clients: &[Client], ids: &[u64], acked: &HashMap<(usize, [u8; 16]), (u64, Sent)>, done: &mut Verified) {
    let user_of: HashMap<u64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    for (i, client) in clients.iter().enumerate() {
        let inbox = client.sync_messages(done.inbox[i]).await.unwrap();
        for m in &inbox {
            assert!(m.id > done.inbox[i], "user {i}: inbox ids must be strictly increasing");
            done.inbox[i] = m.id;
            let sender = user_of[&m.sender];
            if sender != i {
                continue;
            }
            assert!(done.ids.insert(m.id, (sender, m.client_msg_id)).is_none(), "message id {} stored twice", m.id);
            assert!(
                done.client_ids.insert((sender, m.client_msg_id)),
                "a client id of sender {sender} is stored twice"
            );
            if let Some((id, sent)) = acked.get(&(sender, m.client_msg_id)) {
                assert_eq!(m.id, *id, "stored under another id than acknowledged");
                assert_eq!(m.content, format!("{}:{}", sent.sender, sent.seq).into_bytes());
                assert_eq!(m.to, Target::User(ids[sent.to]));
            }
        }
        // Send order within the conversation with the next user.
        let to = ids[(i + 1) % USERS];
        let (mut anchor, mut last_seq) = done.history[i];
        loop {
            let page = client.history(Target::User(to), Direction::After, anchor, 100).await.unwrap();
            for m in page.messages.iter().filter(|m| m.sender == ids[i]) {
                let text = String::from_utf8(m.content.clone()).unwrap();
                let seq: u64 = text.split(':').nth(1).unwrap().parse().unwrap();
                assert!(last_seq < Some(seq), "user {i}: seq {seq} stored after {last_seq:?}");
                last_seq = Some(seq);
            }
            if let Some(last) = page.messages.last() {
                anchor = last.id;
            }
            if !page.more {
                break;
            }
        }
        done.history[i] = (anchor, last_seq);
    }
    // Every acknowledged message is stored, under its acknowledged id.
    for ((sender, cid), (id, _)) in acked {
        assert_eq!(done.ids.get(id), Some(&(*sender, *cid)), "acknowledged message {id} of user {sender} is lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    let cycles: usize = std::env::var("KITH_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Mutex::new(Ledger { next_seq: vec![0; USERS], ..Ledger::default() }));
    let mut verified = Verified::new();

    // Accounts, once.
    let mut server = start(dir.path(), &[]);
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..USERS {
        let c = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
        let name = format!("crash{i}");
        ids.push(c.register(&name, common::PASSWORD).await.unwrap());
        tokens.push(c.login(&name, common::PASSWORD, common::device("d", DeviceType::Mobile)).await.unwrap().token);
    }
    let ids = Arc::new(ids);

    for cycle in 0..cycles {
        let clients: Vec<Client> = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t))).await;
        // Resend what was in flight at the last kill, in send order, with the
        // same client ids: each must end up stored exactly once.
        let pending = std::mem::take(&mut ledger.lock().unwrap().pending);
        let mut pending_by_sender: Vec<Vec<Sent>> = vec![Vec::new(); USERS];
        for p in pending {
            pending_by_sender[p.sender].push(p);
        }
        for (sender, mut list) in pending_by_sender.into_iter().enumerate() {
            list.sort_by_key(|s| s.seq);
            for sent in list {
                let ack = clients[sender].call(&sent.request(&ids)).await.unwrap();
                ledger.lock().unwrap().acked.insert((sender, sent.client_msg_id), (ack.message_id, sent));
            }
        }
        let acked = ledger.lock().unwrap().acked.clone();
        verify(&clients, &ids, &acked, &mut verified).await;

        let clients: Vec<Arc<Client>> = clients.into_iter().map(Arc::new).collect();
        let senders: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(i, c)| tokio::spawn(send_until_killed(c.clone(), i, ids.clone(), ledger.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(100 + random_below(500))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for s in senders {
            s.await.unwrap();
        }
        drop(clients);
        let l = ledger.lock().unwrap();
        eprintln!("cycle {cycle}: {} acknowledged so far, {} in flight at the kill", l.acked.len(), l.pending.len());
        drop(l);
        server = start(dir.path(), &[]);
    }

    // Final check after the last restart.
    let clients: Vec<Client> = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t))).await;
    let acked = ledger.lock().unwrap().acked.clone();
    verify(&clients, &ids, &acked, &mut verified).await;
    assert!(ledger.lock().unwrap().acked.len() > cycles * USERS, "the clients did send");
    server.child.kill().unwrap();
}
