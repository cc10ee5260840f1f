//! Crash consistency of groups: an owner invites and kicks members and
//! writes to the group in a loop, the group crossing the write diffusion
//! threshold (set to 3) again and again, while the real `kith` binary is
//! killed with SIGKILL at a random moment, cycle after cycle on the same
//! data directory. After every restart:
//!
//! * every acknowledged join and kick holds;
//! * the member list, the member count and each user's own group list agree,
//!   whatever was in flight;
//! * every acknowledged message is in the group's log, once (and every
//!   message the others sent the owner meanwhile, all at once, is in
//!   theirs), and a device
//!   of the owner's catching up by `Sync` reaches it — through the update
//!   log or the group's news, whichever the group's size chose.
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
    CreateGroupRequest, DeviceType, Direction, FriendPolicy, GetGroupRequest, GroupFields, HistoryRequest,
    InviteToGroupRequest, JoinPolicy, KickMemberRequest, ListGroupsRequest, ListMembersRequest, PrivacyRequest,
    SyncRequest, Target,
};

/// Users besides the owner.
const OTHERS: usize = 6;

/// What the server acknowledged, and what was in flight when it died.
#[derive(Default)]
struct Ledger {
    /// Acknowledged membership of each other user.
    member: HashMap<usize, bool>,
    /// Users whose membership change was in flight at the kill.
    uncertain: HashSet<usize>,
    /// Ids of acknowledged messages.
    sent: Vec<u64>,
    /// Acknowledged messages each other user sent the owner meanwhile, all
    /// at once, so group jobs share their batches with others.
    direct: HashMap<usize, Vec<u64>>,
}

async fn connect(server: &Running, token: &[u8]) -> Client {
    let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    client.auth(token).await.expect("token still valid after restart");
    client
}

/// Checks the state after a restart against the ledger, then makes the
/// ledger the state found (what was in flight is now settled).
async fn check(clients: &[Client], ids: &[u64], group: u64, ledger: &Mutex<Ledger>) {
    let owner = &clients[0];
    let listed = owner.call(&ListMembersRequest { group_id: group, after: 0, limit: 100, online_only: false }).await;
    let members: HashSet<u64> = listed.unwrap().members.iter().map(|m| m.user.user_id).collect();
    let count = owner.call(&GetGroupRequest { group_id: group }).await.unwrap().member_count;
    assert_eq!(count as usize, members.len(), "the member count and the member list differ");
    let mut log = HashSet::new();
    let mut anchor = 0;
    loop {
        let page = owner
            .call(&HistoryRequest { with: Target::Group(group), direction: Direction::After, anchor, limit: 100 })
            .await
            .unwrap();
        for m in &page.messages {
            assert!(log.insert(m.id), "message {} twice in the log", m.id);
        }
        anchor = page.messages.last().map_or(anchor, |m| m.id);
        if !page.more {
            break;
        }
    }

    let mut lists = Vec::new();
    for client in clients {
        let theirs = client.call(&ListGroupsRequest { after: 0, limit: 100 }).await.unwrap();
        lists.push(theirs.groups.iter().any(|g| g.group_id == group));
    }

    let (sent, direct) = {
        let mut l = ledger.lock().unwrap();
        for (j, lists) in lists.into_iter().enumerate().skip(1) {
            let listed = members.contains(&ids[j]);
            assert_eq!(lists, listed, "user {j}: the group lists them {listed}, they list the group {lists}");
            if !l.uncertain.contains(&j) {
                let acked = l.member.get(&j).copied().unwrap_or(false);
                assert_eq!(listed, acked, "acknowledged change of user {j} lost");
            }
            l.member.insert(j, listed);
        }
        l.uncertain.clear();
        (l.sent.clone(), l.direct.clone())
    };
    for (j, acked) in direct {
        let mut found = HashSet::new();
        let mut anchor = 0;
        loop {
            let request =
                HistoryRequest { with: Target::User(ids[j]), direction: Direction::After, anchor, limit: 100 };
            let page = owner.call(&request).await.unwrap();
            found.extend(page.messages.iter().map(|m| m.id));
            anchor = page.messages.last().map_or(anchor, |m| m.id);
            if !page.more {
                break;
            }
        }
        assert!(acked.iter().all(|id| found.contains(id)), "an acknowledged message of user {j} to the owner lost");
    }
    let (synced, news) = owner_sync(owner, group).await;
    for id in &sent {
        assert!(log.contains(id), "acknowledged message {id} lost");
        // A device catching up by Sync (docs/PROTOCOL.md §8.3) finds it:
        // in the update log if the group was small when it was sent, else
        // named by the group's news, which sends the device to History.
        assert!(synced.contains(id) || news >= *id, "acknowledged message {id} unreachable by Sync");
    }
}

/// The owner's whole update log read by `Sync`: the group's messages in it,
/// once each, and the newest message the group's news names (0 for none).
async fn owner_sync(owner: &Client, group: u64) -> (HashSet<u64>, u64) {
    let (mut synced, mut news, mut cursor) = (HashSet::new(), 0, 0);
    loop {
        let page = owner.call(&SyncRequest { after: cursor, limit: 100 }).await.unwrap();
        news = page.groups.iter().filter(|g| g.group_id == group).map(|g| g.latest).fold(news, u64::max);
        for m in page.updates.iter().filter_map(kith::client::message_of) {
            if m.to == Target::Group(group) {
                assert!(synced.insert(m.id), "message {} twice in the owner's log", m.id);
            }
        }
        cursor = page.updates.last().map_or(cursor, |u| u.id);
        if !page.more {
            return (synced, news);
        }
    }
}

/// Every other user writes to the owner, all at once, until the server dies.
async fn write_until_killed(clients: Arc<Vec<Client>>, ids: Arc<Vec<u64>>, ledger: Arc<Mutex<Ledger>>) {
    futures_util::future::join_all((1..clients.len()).map(|j| {
        let (clients, ids, ledger) = (clients.clone(), ids.clone(), ledger.clone());
        async move {
            for n in 0u64.. {
                match clients[j].send_text(ids[0], &format!("to the owner {n}")).await {
                    Ok(ack) => ledger.lock().unwrap().direct.entry(j).or_default().push(ack.message_id),
                    Err(e) => {
                        assert_eq!(e.code(), None, "refused: {e}");
                        return;
                    }
                }
            }
        }
    }))
    .await;
}

/// The owner changes the membership and writes until the server dies.
async fn churn_until_killed(clients: Arc<Vec<Client>>, ids: Arc<Vec<u64>>, group: u64, ledger: Arc<Mutex<Ledger>>) {
    for k in 0u64.. {
        let j = 1 + (k as usize % OTHERS);
        let member = ledger.lock().unwrap().member.get(&j).copied().unwrap_or(false);
        ledger.lock().unwrap().uncertain.insert(j);
        let changed = if member {
            clients[0].call(&KickMemberRequest { group_id: group, user_id: ids[j] }).await.map(drop)
        } else {
            clients[0].call(&InviteToGroupRequest { group_id: group, user_id: ids[j] }).await.map(drop)
        };
        if let Err(e) = changed {
            // Only the kill may stop the loop: any refusal is a failure.
            assert_eq!(e.code(), None, "refused: {e}");
            return;
        }
        {
            let mut l = ledger.lock().unwrap();
            l.member.insert(j, !member);
            l.uncertain.remove(&j);
        }
        match clients[0].send_text_to(Target::Group(group), &format!("message {k}")).await {
            Ok(ack) => ledger.lock().unwrap().sent.push(ack.message_id),
            Err(e) => {
                assert_eq!(e.code(), None, "refused: {e}");
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_memberships_and_group_messages_survive_kill_9() {
    let cycles: usize = std::env::var("KITH_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    // The owner invites as fast as the server answers: lift the hourly
    // quota of invitations along with the request rate.
    let settings = [
        common::process::UNTHROTTLED,
        &["--set", "group.write_diffusion_max=3", "--set", "group.invitations_per_hour=1000000"],
    ]
    .concat();
    let mut server = start(dir.path(), &settings);
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..=OTHERS {
        let c = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
        let name = format!("group{i}");
        ids.push(c.register(&name, common::PASSWORD).await.unwrap());
        tokens.push(c.login(&name, common::PASSWORD, common::device("d", DeviceType::Mobile)).await.unwrap().token);
        c.call(&PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::AcceptAll), presence: None })
            .await
            .unwrap();
    }
    let owner = connect(&server, &tokens[0]).await;
    let fields = GroupFields {
        name: "crash".into(),
        avatar: 0,
        introduction: String::new(),
        announcement: String::new(),
        join_policy: JoinPolicy::InviteOnly,
        history_visible: true,
    };
    let group = owner.call(&CreateGroupRequest { fields, members: vec![] }).await.unwrap().group.group_id;
    drop(owner);
    let ids = Arc::new(ids);
    let ledger = Arc::new(Mutex::new(Ledger::default()));

    for cycle in 0..cycles {
        let clients: Vec<Client> = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t))).await;
        check(&clients, &ids, group, &ledger).await;
        let clients = Arc::new(clients);
        let churn = tokio::spawn(churn_until_killed(clients.clone(), ids.clone(), group, ledger.clone()));
        let writes = tokio::spawn(write_until_killed(clients.clone(), ids.clone(), ledger.clone()));
        tokio::time::sleep(Duration::from_millis(200 + random_below(600))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        churn.await.unwrap();
        writes.await.unwrap();
        drop(clients);
        let l = ledger.lock().unwrap();
        let direct: usize = l.direct.values().map(Vec::len).sum();
        eprintln!("cycle {cycle}: {} group messages and {direct} to the owner acknowledged", l.sent.len());
        drop(l);
        server = start(dir.path(), &settings);
    }
    let clients: Vec<Client> = futures_util::future::join_all(tokens.iter().map(|t| connect(&server, t))).await;
    check(&clients, &ids, group, &ledger).await;
    assert!(ledger.lock().unwrap().sent.len() > cycles, "the changes did run");
}
