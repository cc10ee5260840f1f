//! Crash consistency of moments: alice posts and deletes moments in a loop
//! while bob likes and unlikes them and carol comments on them, all at
//! once, and the real `kith` binary is killed with SIGKILL at a random
//! moment, cycle after cycle on the same data directory. After every
//! restart:
//!
//! * every acknowledged moment is there, and every acknowledged deletion
//!   holds;
//! * every acknowledged like and unlike, and every acknowledged comment,
//!   holds, on moments that are still there;
//! * each moment's counts, as its author sees them, are the likes and
//!   comments it holds;
//! * each like alice sees has its notice in her update log.
//!
//! CI runs `KITH_CRASH_CYCLES` cycles (default 5), like `tests/crash.rs`.

use crate::common;
use common::random_below;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{start, Running};
use kith::client::{Client, Transport};
use kith::protocol::{
    AddFriendRequest, AnswerFriendRequest, CommentMomentRequest, DeleteMomentRequest, DeviceType, LikeMomentRequest,
    Moment, MomentAudience, MomentCommentsRequest, MomentMedia, MomentVisibility, PublishMomentRequest, UpdateBody,
    UserMomentsRequest,
};

/// What the server acknowledged, and what was in flight when it died.
#[derive(Default)]
struct Ledger {
    /// Moments acknowledged, by the number in their text.
    posted: BTreeMap<u64, u64>,
    /// The number of a moment whose publish was in flight.
    posting: Option<u64>,
    /// Moments whose deletion was acknowledged, and the one in flight.
    deleted: BTreeSet<u64>,
    deleting: Option<u64>,
    /// Bob's acknowledged likes, and the moment whose like or unlike was in flight.
    liked: BTreeSet<u64>,
    liking: Option<u64>,
    /// Carol's acknowledged comments: comment id → moment id.
    comments: BTreeMap<u64, u64>,
}

async fn connect(server: &Running, token: &[u8]) -> Client {
    let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    client.auth(token).await.expect("token still valid after restart");
    client
}

/// Every moment of `author`, as they see them.
async fn all_moments(client: &Client, author: u64) -> Vec<Moment> {
    let mut out = Vec::new();
    let mut before = 0;
    loop {
        let page = client.call(&UserMomentsRequest { user_id: author, before, limit: 100 }).await.unwrap();
        before = page.moments.last().map_or(0, |m| m.moment_id);
        out.extend(page.moments);
        if !page.more {
            return out;
        }
    }
}

/// Checks the state after a restart against the ledger, then settles what
/// was in flight as found.
async fn check(clients: &[Client], ids: &[u64], ledger: &Mutex<Ledger>) {
    let (alice, bob) = (&clients[0], ids[1]);
    let moments = all_moments(alice, ids[0]).await;
    let found: BTreeMap<u64, &Moment> = moments.iter().map(|m| (m.moment_id, m)).collect();
    let mut counted_comments = BTreeMap::new();
    for m in &moments {
        assert_eq!(m.like_count as usize, m.likes.len(), "the author sees every like of {}", m.moment_id);
        let mut after = 0;
        let mut seen = 0;
        loop {
            let page = alice.call(&MomentCommentsRequest { moment_id: m.moment_id, after, limit: 100 }).await.unwrap();
            after = page.comments.last().map_or(after, |c| c.comment_id);
            seen += page.comments.len();
            counted_comments.extend(page.comments.iter().map(|c| (c.comment_id, m.moment_id)));
            if !page.more {
                break;
            }
        }
        assert_eq!(m.comment_count as usize, seen, "the author sees every comment of {}", m.moment_id);
    }
    let notices: HashSet<u64> = alice
        .sync_all(0)
        .await
        .unwrap()
        .iter()
        .filter_map(|u| match u.decode() {
            Ok(Some(UpdateBody::MomentLiked(l))) if l.user_id == bob => Some(l.moment_id),
            _ => None,
        })
        .collect();
    let mut l = ledger.lock().unwrap();
    for (&number, &id) in &l.posted {
        let deleted = l.deleted.contains(&id) || l.deleting == Some(id);
        assert!(deleted || found.contains_key(&id), "acknowledged moment {number} ({id}) lost");
    }
    for id in &l.deleted {
        assert!(!found.contains_key(id), "an acknowledged deletion of {id} came undone");
    }
    for (&id, m) in &found {
        let likes_it = m.likes.contains(&bob);
        if l.liking != Some(id) {
            assert_eq!(likes_it, l.liked.contains(&id), "bob's acknowledged like of {id}");
        }
        assert_eq!(likes_it, notices.contains(&id), "a like of {id} and its notice go together");
    }
    for (comment, moment) in &l.comments {
        if found.contains_key(moment) {
            assert_eq!(counted_comments.get(comment), Some(moment), "acknowledged comment {comment} lost");
        }
    }
    // Settle: what is there now is what holds.
    if let Some(number) = l.posting.take() {
        if let Some(m) = moments.iter().find(|m| m.text == format!("m{number}")) {
            l.posted.insert(number, m.moment_id);
        }
    }
    if let Some(id) = l.deleting.take() {
        if !found.contains_key(&id) {
            l.deleted.insert(id);
        }
    }
    l.liked = found.iter().filter(|(_, m)| m.likes.contains(&bob)).map(|(id, _)| *id).collect();
    l.liking = None;
    l.comments = counted_comments.into_iter().filter(|(_, m)| found.contains_key(m)).collect();
}

fn client_id(number: u64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&number.to_be_bytes());
    id
}

/// Alice posts and deletes, bob likes and unlikes, carol comments, until
/// the server dies; only the kill may stop them.
async fn churn_until_killed(clients: Arc<Vec<Client>>, ledger: Arc<Mutex<Ledger>>) {
    let live = |l: &Ledger| -> Vec<u64> {
        l.posted.values().filter(|id| !l.deleted.contains(id)).copied().collect::<Vec<_>>()
    };
    let alice = async {
        loop {
            let number = ledger.lock().unwrap().posted.keys().last().map_or(0, |n| n + 1);
            ledger.lock().unwrap().posting = Some(number);
            let publish = PublishMomentRequest {
                client_id: client_id(number),
                text: format!("m{number}"),
                media: MomentMedia::None,
                location: None,
                visibility: MomentVisibility { audience: MomentAudience::Friends, users: vec![] },
            };
            let Ok(done) = clients[0].call(&publish).await else { return };
            {
                let mut l = ledger.lock().unwrap();
                l.posted.insert(number, done.moment_id);
                l.posting = None;
            }
            let doomed = { live(&ledger.lock().unwrap()).into_iter().next().filter(|_| number % 3 == 2) };
            if let Some(id) = doomed {
                ledger.lock().unwrap().deleting = Some(id);
                if clients[0].call(&DeleteMomentRequest { moment_id: id }).await.is_err() {
                    return;
                }
                let mut l = ledger.lock().unwrap();
                l.deleted.insert(id);
                l.deleting = None;
            }
        }
    };
    let bob = async {
        for k in 0u64.. {
            let pick = { live(&ledger.lock().unwrap()).last().copied() };
            let Some(id) = pick else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let like = k % 4 != 3;
            ledger.lock().unwrap().liking = Some(id);
            match clients[1].call(&LikeMomentRequest { moment_id: id, like }).await {
                Ok(()) => {
                    let mut l = ledger.lock().unwrap();
                    if like {
                        l.liked.insert(id);
                    } else {
                        l.liked.remove(&id);
                    }
                    l.liking = None;
                }
                // Deleted meanwhile by alice.
                Err(e) if e.code() == Some(kith::protocol::ErrorCode::NotFound) => ledger.lock().unwrap().liking = None,
                Err(_) => return,
            }
        }
    };
    let carol = async {
        loop {
            let pick = { live(&ledger.lock().unwrap()).last().copied() };
            let Some(id) = pick else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let comment = CommentMomentRequest { moment_id: id, text: "nice".into(), reply_to: None };
            match clients[2].call(&comment).await {
                Ok(c) => {
                    ledger.lock().unwrap().comments.insert(c.comment_id, id);
                }
                Err(e) if e.code() == Some(kith::protocol::ErrorCode::NotFound) => {}
                Err(_) => return,
            }
        }
    };
    tokio::join!(alice, bob, carol);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_moments_likes_and_comments_survive_kill_9() {
    let cycles: usize = std::env::var("KITH_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let limits = [common::process::UNTHROTTLED, &["--set", "moments.per_day=1000000"]].concat();
    let mut server = start(dir.path(), &limits);
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    let mut clients = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let c = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
        ids.push(c.register(name, common::PASSWORD).await.unwrap());
        tokens.push(c.login(name, common::PASSWORD, common::device("d", DeviceType::Mobile)).await.unwrap().token);
        clients.push(c);
    }
    for j in 1..3 {
        let asked = clients[0].call(&AddFriendRequest { user_id: ids[j], message: String::new() }).await.unwrap();
        clients[j].call(&AnswerFriendRequest { request_id: asked.id, accept: true }).await.unwrap();
    }
    drop(clients);
    let ledger = Arc::new(Mutex::new(Ledger::default()));

    for cycle in 0..cycles {
        let clients: Vec<Client> = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t))).await;
        check(&clients, &ids, &ledger).await;
        let churn = tokio::spawn(churn_until_killed(Arc::new(clients), ledger.clone()));
        tokio::time::sleep(Duration::from_millis(300 + random_below(600))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        churn.await.unwrap();
        let l = ledger.lock().unwrap();
        eprintln!(
            "cycle {cycle}: {} moments, {} deleted, {} comments",
            l.posted.len(),
            l.deleted.len(),
            l.comments.len()
        );
        drop(l);
        server = start(dir.path(), &limits);
    }
    let clients: Vec<Client> = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t))).await;
    check(&clients, &ids, &ledger).await;
    let l = ledger.lock().unwrap();
    assert!(l.posted.len() > cycles && !l.comments.is_empty(), "the changes did run");
}
