//! Crash consistency: twenty clients send with a window of messages in flight
//! while the real `kith` binary is killed with SIGKILL at a random moment,
//! cycle after cycle on the same data directory. After every restart:
//!
//! * every acknowledged message is there, in the sender's update log and
//!   in the recipient's, with the id it was acknowledged with, its sender,
//!   client id and content — the new ones read in full, and a random sample
//!   of up to 200 older ones again, on both sides, after every restart;
//! * no (sender, client message id) is stored twice, and no id repeats;
//! * within each conversation a sender's messages keep their send order;
//! * messages in flight at the kill are resent with the same client id and
//!   are stored exactly once (their original id if they had been stored);
//!   only a closed connection counts as the kill: any refusal fails the test;
//! * every acknowledged `Ack` survives: a device's cursor is at least what
//!   the server answered;
//! * every acknowledged registration and login survives: the account keeps
//!   its id and name, and the token issued to it still authenticates;
//! * the database opens (the server starts and serves).
//!
//! CI runs `KITH_CRASH_CYCLES` cycles (default 5). The long run documented in
//! docs/RELIABILITY.md is
//! `KITH_CRASH_CYCLES=1000 cargo test --release --test integration crash:: -- --nocapture`.

use crate::common;
use common::random_below;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{start, Running};
use common::Calls;
use futures_util::stream::{FuturesUnordered, StreamExt};
use kith::client::{new_client_msg_id, Client, ClientError, Transport};
use kith::protocol::{AckRequest, AuthReply, DeviceType, Direction, ErrorCode, MessageKind, SendRequest, Target};

const USERS: usize = 20;
/// The senders register from one address, as do the accounts opened while
/// the server is killed: lift the per-address registration limit (20 an
/// hour by default), which the senders alone would use up.
const SERVER_ARGS: &[&str] = &["--set", "limits.registrations_per_address_per_hour=1000000"];
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
            reply_to: 0,
            mentions: Vec::new(),
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
    /// Per sender: the highest cursor an `Ack` was answered with.
    cursors: Vec<u64>,
    /// Accounts whose registration and login were answered: name, id, token.
    accounts: Vec<(String, u64, Vec<u8>)>,
}

async fn connect(server: &Running, token: &[u8]) -> (Client, AuthReply) {
    let client = server_client(server).await;
    let state = client.auth(token).await.expect("token still valid after restart");
    (client, state)
}

/// Registers accounts and logs each in, one after another, until the server
/// dies; records each account whose login was answered.
async fn open_accounts_until_killed(
    server_tls: std::net::SocketAddr,
    fingerprint: [u8; 32],
    ledger: Arc<Mutex<Ledger>>,
) {
    loop {
        let Ok(client) = Client::connect(server_tls, &Transport::Tls { fingerprint }).await else { return };
        // A fresh name each attempt: one whose registration was committed
        // but not answered before a kill is taken.
        let name = format!("late{}n{}", ledger.lock().unwrap().accounts.len(), random_below(1_000_000_000));
        let id = match client.register(&name, common::PASSWORD).await {
            Ok(id) => id,
            Err(e) => {
                eprintln!("registering {name}: {e}");
                return;
            }
        };
        let Ok(login) = client.login(&name, common::PASSWORD, common::device("d", DeviceType::Desktop)).await else {
            return;
        };
        assert_eq!(login.session.user_id, id);
        ledger.lock().unwrap().accounts.push((name, id, login.token));
    }
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
        match result {
            Ok(ack) => {
                let seq = sent.seq;
                ledger.lock().unwrap().acked.insert((me, sent.client_msg_id), (ack.message_id, sent));
                // Now and then, acknowledge the log up to this message.
                if alive && seq % 16 == 0 {
                    match client.call(&AckRequest { up_to: ack.message_id }).await {
                        Ok(reply) => {
                            let mut l = ledger.lock().unwrap();
                            l.cursors[me] = l.cursors[me].max(reply.cursor);
                        }
                        Err(e) => {
                            assert!(killed(&e), "user {me}: an Ack failed while the server was up: {e}");
                            alive = false;
                        }
                    }
                }
            }
            Err(e) => {
                // The server is gone: this and everything still in flight
                // is resent after the restart.
                assert!(killed(&e), "user {me}: a send failed while the server was up: {e}");
                ledger.lock().unwrap().pending.push(sent);
                alive = false;
            }
        }
    }
}

/// Whether a call failed because the server went away (the kill), not
/// because it refused or answered something else.
fn killed(e: &ClientError) -> bool {
    matches!(e, ClientError::Closed | ClientError::Io(_))
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
    /// Every message id seen in its recipient's log, with its sender.
    received: HashMap<u64, usize>,
}

impl Verified {
    fn new() -> Verified {
        Verified {
            inbox: vec![0; USERS],
            history: vec![(0, None); USERS],
            ids: HashMap::new(),
            client_ids: HashSet::new(),
            received: HashMap::new(),
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
                assert_eq!(m.to, Target::User(ids[i]), "user {i} got a message of another conversation");
                assert!(done.received.insert(m.id, sender).is_none(), "message {} reached user {i} twice", m.id);
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
    // Every acknowledged message is stored, under its acknowledged id, in
    // the sender's log and the recipient's.
    for ((sender, cid), (id, _)) in acked {
        assert_eq!(done.ids.get(id), Some(&(*sender, *cid)), "acknowledged message {id} of user {sender} is lost");
        assert_eq!(done.received.get(id), Some(sender), "acknowledged message {id} never reached its recipient");
    }
    // What earlier cycles verified may not have survived a later kill: a
    // sample of it is read again, from both update logs, one by one.
    let all: Vec<_> = acked.values().collect();
    for _ in 0..all.len().min(200) {
        let (id, sent) = all[random_below(all.len() as u64) as usize];
        for user in [sent.sender, sent.to] {
            let page = clients[user].sync_page(id - 1, 1).await.unwrap();
            let found = page.updates.first().and_then(kith::client::message_of);
            assert_eq!(
                found.map(|m| (m.id, m.client_msg_id)),
                Some((*id, sent.client_msg_id)),
                "message {id} of user {} is gone from user {user}'s log after a later kill",
                sent.sender
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    let cycles: usize = std::env::var("KITH_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let ledger =
        Arc::new(Mutex::new(Ledger { next_seq: vec![0; USERS], cursors: vec![0; USERS], ..Ledger::default() }));
    let mut accounts_checked = 0;
    let mut verified = Verified::new();

    // Accounts, once.
    let mut server = start(dir.path(), SERVER_ARGS);
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
        let connected = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t))).await;
        check_cursors(&connected, &ledger.lock().unwrap().cursors);
        accounts_checked = check_accounts(&server, &ledger, accounts_checked).await;
        let clients: Vec<Client> = connected.into_iter().map(|(c, _)| c).collect();
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
        let opener = tokio::spawn(open_accounts_until_killed(server.tls, server.fingerprint, ledger.clone()));
        tokio::time::sleep(Duration::from_millis(100 + random_below(500))).await;
        // Argon2 competes with the senders for the CPU: until one account has
        // been opened, wait for it, so the check of registrations has one.
        let started = std::time::Instant::now();
        while ledger.lock().unwrap().accounts.is_empty() && started.elapsed() < Duration::from_secs(3) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for s in senders {
            s.await.unwrap();
        }
        opener.await.unwrap();
        drop(clients);
        let l = ledger.lock().unwrap();
        eprintln!("cycle {cycle}: {} acknowledged so far, {} in flight at the kill", l.acked.len(), l.pending.len());
        drop(l);
        server = start(dir.path(), SERVER_ARGS);
    }

    // Final check after the last restart.
    let connected = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t))).await;
    check_cursors(&connected, &ledger.lock().unwrap().cursors);
    check_accounts(&server, &ledger, accounts_checked).await;
    let clients: Vec<Client> = connected.into_iter().map(|(c, _)| c).collect();
    let acked = ledger.lock().unwrap().acked.clone();
    verify(&clients, &ids, &acked, &mut verified).await;
    let l = ledger.lock().unwrap();
    assert!(l.acked.len() > cycles * USERS, "the clients did send");
    assert!(l.cursors.iter().any(|c| *c > 0), "the clients did acknowledge");
    assert!(!l.accounts.is_empty(), "accounts were opened");
    eprintln!("{} accounts opened during the cycles", l.accounts.len());
    drop(l);
    server.child.kill().unwrap();
}

/// Every acknowledged `Ack` survived.
fn check_cursors(connected: &[(Client, AuthReply)], acked: &[u64]) {
    for (i, (_, state)) in connected.iter().enumerate() {
        assert!(state.cursor >= acked[i], "user {i}: cursor {} fell below the acknowledged {}", state.cursor, acked[i]);
    }
}

/// Every account opened since the last check survived with its id, name and
/// token; returns how many have been checked.
async fn check_accounts(server: &Running, ledger: &Mutex<Ledger>, from: usize) -> usize {
    let accounts: Vec<(String, u64, Vec<u8>)> = ledger.lock().unwrap().accounts[from..].to_vec();
    for (name, id, token) in &accounts {
        let client = server_client(server).await;
        let state = client.auth(token).await.unwrap_or_else(|e| panic!("{name}'s acknowledged token is lost: {e}"));
        assert_eq!((state.user_id, state.username.as_str()), (*id, name.as_str()));
        let again = server_client(server).await.register(name, common::PASSWORD).await.unwrap_err();
        assert_eq!(again.code(), Some(ErrorCode::Conflict), "{name} is still taken");
    }
    from + accounts.len()
}

async fn server_client(server: &Running) -> Client {
    Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap()
}
