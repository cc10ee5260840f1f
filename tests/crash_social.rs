//! Crash consistency of the social graph: one user befriends, unfriends and
//! renames herself in a loop with eight others, who all rename themselves
//! at the same time (so the group commit batches social jobs of many
//! users), while the real `kith` binary is killed with SIGKILL at a random
//! moment, cycle after cycle on the same data directory. After every
//! restart:
//!
//! * every acknowledged acceptance and removal holds on both sides;
//! * friendship is symmetric for every pair, whatever was in flight;
//! * every profile is at least its last acknowledged version;
//! * every acknowledged block holds.
//!
//! A second test kills it once after a presence audience was acknowledged
//! and a last-seen time was held past its write interval: both hold.
//!
//! CI runs `KITH_CRASH_CYCLES` cycles (default 5), like `tests/crash.rs`.

use crate::common;
use common::random_below;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{start, Running};
use kith::client::{Client, Transport};
use kith::protocol::{
    AddFriendRequest, AnswerFriendRequest, BlockRequest, DeviceType, GetProfileRequest, ListBlockedRequest,
    ListFriendsRequest, Profile, RemoveFriendRequest, SetProfileRequest,
};

/// Users besides the one who drives the changes.
const OTHERS: usize = 8;

/// What the server acknowledged, and what was in flight when it died.
#[derive(Default)]
struct Ledger {
    /// Acknowledged friendship of user 0 with each other user.
    friends: HashMap<usize, bool>,
    /// Users whose friendship change was in flight at the kill.
    uncertain: HashSet<usize>,
    /// Highest acknowledged profile version of user 0.
    profile: u64,
    /// Whether user 0's block of the last user was acknowledged.
    blocked: bool,
    /// Highest acknowledged profile version of each other user, who all
    /// rename themselves at once meanwhile.
    others: HashMap<usize, u64>,
}

async fn connect(server: &Running, token: &[u8]) -> Client {
    let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    client.auth(token).await.expect("token still valid after restart");
    client
}

async fn friends_of(client: &Client) -> HashSet<u64> {
    let page = client.call(&ListFriendsRequest { after: 0, limit: 100 }).await.unwrap();
    page.friends.iter().map(|f| f.user.user_id).collect()
}

/// Checks the state after a restart against the ledger, then makes the
/// ledger the state found (what was in flight is now settled).
async fn check(clients: &[Client], ids: &[u64], ledger: &Mutex<Ledger>) {
    let lists = futures_util::future::join_all(clients.iter().map(friends_of)).await;
    let profile = clients[0].call(&GetProfileRequest { user_id: ids[0] }).await.unwrap().profile;
    let version: u64 = profile.nickname.trim_start_matches('v').parse().unwrap_or(0);
    let blocked = clients[0].call(&ListBlockedRequest { after: 0, limit: 10 }).await.unwrap();

    {
        let mut l = ledger.lock().unwrap();
        let hub = &lists[0];
        for (j, theirs) in lists.iter().enumerate().skip(1) {
            let (a, b) = (hub.contains(&ids[j]), theirs.contains(&ids[0]));
            assert_eq!(a, b, "half a friendship with user {j}");
            if !l.uncertain.contains(&j) {
                let acked = l.friends.get(&j).copied().unwrap_or(false);
                assert_eq!(a, acked, "acknowledged change with user {j} lost");
            }
            l.friends.insert(j, a);
        }
        l.uncertain.clear();
        assert!(version >= l.profile, "profile v{} acknowledged, v{version} found", l.profile);
        l.profile = version;
    }
    for (j, client) in clients.iter().enumerate().skip(1) {
        let found = client.call(&GetProfileRequest { user_id: ids[j] }).await.unwrap().profile;
        let found: u64 = found.nickname.trim_start_matches('v').parse().unwrap_or(0);
        let mut l = ledger.lock().unwrap();
        let acked = l.others.get(&j).copied().unwrap_or(0);
        assert!(found >= acked, "user {j}: profile v{acked} acknowledged, v{found} found");
        l.others.insert(j, found);
    }
    let l = ledger.lock().unwrap();
    if l.blocked {
        assert_eq!(blocked.users.len(), 1, "an acknowledged block was lost");
    }
}

/// Every other user renames themselves as fast as the server answers, all
/// at once, until the server dies: the group commit takes their jobs
/// together with user 0's.
async fn rename_until_killed(clients: Arc<Vec<Client>>, ledger: Arc<Mutex<Ledger>>) {
    futures_util::future::join_all((1..clients.len()).map(|j| {
        let (clients, ledger) = (clients.clone(), ledger.clone());
        async move {
            loop {
                let version = ledger.lock().unwrap().others.get(&j).copied().unwrap_or(0) + 1;
                let profile = Profile { nickname: format!("v{version}"), ..Profile::default() };
                if let Err(e) = clients[j].call(&SetProfileRequest { profile }).await {
                    assert_eq!(e.code(), None, "refused: {e}");
                    return;
                }
                ledger.lock().unwrap().others.insert(j, version);
            }
        }
    }))
    .await;
}

/// User 0 changes her friendships and profile until the server dies.
async fn churn_until_killed(clients: Arc<Vec<Client>>, ids: Arc<Vec<u64>>, ledger: Arc<Mutex<Ledger>>) {
    for k in 0u64.. {
        let j = 1 + (k as usize % (OTHERS - 1));
        let friends = ledger.lock().unwrap().friends.get(&j).copied().unwrap_or(false);
        ledger.lock().unwrap().uncertain.insert(j);
        let changed = if friends {
            clients[0].call(&RemoveFriendRequest { user_id: ids[j] }).await.map(drop)
        } else {
            match clients[0].call(&AddFriendRequest { user_id: ids[j], message: String::new() }).await {
                Ok(asked) => {
                    clients[j].call(&AnswerFriendRequest { request_id: asked.id, accept: true }).await.map(drop)
                }
                Err(e) => Err(e),
            }
        };
        if let Err(e) = changed {
            // Only the kill may stop the loop: any refusal is a failure.
            assert_eq!(e.code(), None, "refused: {e}");
            return;
        }
        let version = {
            let mut l = ledger.lock().unwrap();
            l.friends.insert(j, !friends);
            l.uncertain.remove(&j);
            l.profile + 1
        };
        let profile = Profile { nickname: format!("v{version}"), ..Profile::default() };
        if clients[0].call(&SetProfileRequest { profile }).await.is_err() {
            return;
        }
        {
            let mut l = ledger.lock().unwrap();
            l.profile = l.profile.max(version);
        }
        if k == 3 {
            if clients[0].call(&BlockRequest { user_id: ids[OTHERS] }).await.is_err() {
                return;
            }
            ledger.lock().unwrap().blocked = true;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_friendships_profiles_and_blocks_survive_kill_9() {
    let cycles: usize = std::env::var("KITH_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    // One user asks far more often than the daily limit allows a person,
    // and one connection churns faster than a person's request rate.
    let limits = [common::process::UNTHROTTLED, &["--set", "social.friend_requests_per_day=1000000"]].concat();
    let mut server = start(dir.path(), &limits);
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..=OTHERS {
        let c = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
        let name = format!("social{i}");
        ids.push(c.register(&name, common::PASSWORD).await.unwrap());
        tokens.push(c.login(&name, common::PASSWORD, common::device("d", DeviceType::Mobile)).await.unwrap().token);
    }
    let ids = Arc::new(ids);
    let ledger = Arc::new(Mutex::new(Ledger::default()));

    for cycle in 0..cycles {
        let clients: Vec<Client> = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t))).await;
        check(&clients, &ids, &ledger).await;
        let clients = Arc::new(clients);
        let churn = tokio::spawn(churn_until_killed(clients.clone(), ids.clone(), ledger.clone()));
        let renames = tokio::spawn(rename_until_killed(clients.clone(), ledger.clone()));
        tokio::time::sleep(Duration::from_millis(200 + random_below(600))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        churn.await.unwrap();
        renames.await.unwrap();
        drop(clients);
        let l = ledger.lock().unwrap();
        eprintln!("cycle {cycle}: profile v{} acknowledged, others' {}", l.profile, l.others.values().sum::<u64>());
        drop(l);
        server = start(dir.path(), &limits);
    }
    let clients: Vec<Client> = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t))).await;
    check(&clients, &ids, &ledger).await;
    assert!(ledger.lock().unwrap().profile > cycles as u64, "the changes did run");
}

/// Presence across a SIGKILL: an acknowledged change of the presence
/// audience holds, and a last-seen time held for longer than
/// `social.last_seen_flush_secs` was written (PROTOCOL section 5,
/// `Presence`, "Last seen").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_settings_and_written_last_seen_survive_kill_9() {
    use kith::protocol::{Audience, PresenceRequest, PrivacyRequest, Push};
    let dir = tempfile::tempdir().unwrap();
    let flush = ["--set", "social.last_seen_flush_secs=1"];
    let mut server = start(dir.path(), &flush);
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for name in ["alice", "bob"] {
        let c = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
        ids.push(c.register(name, common::PASSWORD).await.unwrap());
        c.login(name, common::PASSWORD, common::device("phone", DeviceType::Mobile)).await.unwrap();
        let everyone = PrivacyRequest { presence: Some(Audience::Everyone), ..PrivacyRequest::default() };
        assert_eq!(c.call(&everyone).await.unwrap().presence, Audience::Everyone);
        clients.push(c);
    }
    let mut bob = clients.pop().unwrap();
    bob.call(&PresenceRequest { users: vec![ids[0]], watch: true }).await.unwrap();
    drop(clients);
    let gone = loop {
        match bob.push_within(Duration::from_secs(5)).await.unwrap() {
            Push::Presence(info) => break info,
            _ => continue,
        }
    };
    assert!(!gone.online && gone.last_seen > 0, "{gone:?}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(bob);

    let server = start(dir.path(), &flush);
    let bob = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    bob.login("bob", common::PASSWORD, common::device("phone", DeviceType::Mobile)).await.unwrap();
    let seen = bob.call(&PresenceRequest { users: vec![ids[0]], watch: false }).await.unwrap();
    assert_eq!(seen.users, vec![gone], "the last seen written before the kill");
    assert_eq!(bob.call(&PrivacyRequest::default()).await.unwrap().presence, Audience::Everyone);
}
