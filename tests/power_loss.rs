//! Power loss: the fsync half of "acknowledged means durable". `kill -9`
//! leaves the kernel's page cache intact, so the crash tests pass with the
//! `fdatasync` gone from the commit path; here sled's directory sits on
//! [`lazyfs`](common::lazyfs), which throws away every write not yet
//! synced when the power is cut. Each cycle: the real `kith` binary serves
//! a 1:1 conversation, a group, a profile, a read position and a member
//! joining and leaving under load, is killed at a random moment, the power
//! is cut, and a server on what is left must hold every message, profile
//! version, read position and membership change it acknowledged.
//!
//! The control: the same run with `storage.durability = "flush"` (the
//! commit path without the `fdatasync`) loses acknowledged writes, so the
//! harness can tell the two apart. CI runs `KITH_POWER_CYCLES` cycles
//! (default 3) of each.

use crate::common;
use common::random_below;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::lazyfs::{self, Mount};
use common::process::{start, try_start, Running, UNTHROTTLED};
use common::talk::open_group;
use common::{device, TestUser, PASSWORD};
use kith::client::{Client, Transport};
use kith::protocol::{
    DeviceType, Direction, GetProfileRequest, JoinGroupRequest, LeaveGroupRequest, ListConversationsRequest,
    ListGroupsRequest, MarkReadRequest, Profile, SetProfileRequest, Target,
};

fn cycles() -> usize {
    std::env::var("KITH_POWER_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

/// What the server acknowledged.
#[derive(Default)]
struct Acked {
    direct: BTreeSet<u64>,
    group: BTreeSet<u64>,
    /// The highest profile version of alice's that was answered.
    profile: u64,
    /// The next number alice writes, counting on across cycles.
    next: u64,
    /// Ids below this were checked in full after an earlier cut.
    checked: u64,
    /// The highest read position of bob's in his conversation with alice
    /// that was answered.
    read: u64,
    /// Whether carol is in the group, as last answered, and what she asked
    /// to be when the server died without answering.
    carol_in: bool,
    carol_asked: Option<bool>,
    /// Read positions and membership changes answered, for the report.
    reads: u64,
    moves: u64,
}

async fn login(server: &Running, name: &str) -> TestUser {
    let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
    let login = client.login(name, PASSWORD, device(&format!("{name}-phone"), DeviceType::Mobile)).await.unwrap();
    TestUser { user_id: login.session.user_id, client, login, name: name.into() }
}

async fn history(client: &Client, with: Target, anchor: u64, limit: u16) -> kith::protocol::Page {
    let request = kith::protocol::HistoryRequest { with, direction: Direction::After, anchor, limit };
    client.call(&request).await.unwrap()
}

/// How many of the ids in `ids` `with`'s history, as `client` reads it,
/// lacks: every one from `since` on, which the last cycle did not check,
/// and a sample of 100 older ones, which a later cut could still have taken.
async fn missing(client: &Client, with: Target, ids: &BTreeSet<u64>, since: u64) -> usize {
    let mut found = BTreeSet::new();
    let mut anchor = since.saturating_sub(1);
    loop {
        let page = history(client, with, anchor, 100).await;
        found.extend(page.messages.iter().map(|m| m.id));
        match page.messages.last() {
            Some(last) if page.more => anchor = last.id,
            _ => break,
        }
    }
    let mut lost = ids.range(since..).filter(|id| !found.contains(id)).count();
    let older: Vec<u64> = ids.range(..since).copied().collect();
    for _ in 0..older.len().min(100) {
        let id = older[random_below(older.len() as u64) as usize];
        let page = history(client, with, id - 1, 1).await;
        lost += usize::from(page.messages.first().map(|m| m.id) != Some(id));
    }
    lost
}

/// Alice writes to bob and renames herself; bob writes to the group and
/// marks alice's messages read; carol joins and leaves the group; until the
/// server dies.
async fn load(alice: TestUser, bob: TestUser, carol: TestUser, group: u64, acked: Arc<Mutex<Acked>>) {
    let (alice_id, bob_id) = (alice.user_id, bob.user_id);
    let to_bob = {
        let acked = acked.clone();
        tokio::spawn(async move {
            loop {
                let n = {
                    let mut acked = acked.lock().unwrap();
                    acked.next += 1;
                    acked.next
                };
                if n % 8 == 0 {
                    let profile = Profile { nickname: format!("alice v{n}"), ..Profile::default() };
                    if alice.client.call(&SetProfileRequest { profile }).await.is_err() {
                        return;
                    }
                    acked.lock().unwrap().profile = n;
                } else {
                    let Ok(ack) = alice.client.send_text(bob_id, &format!("dm {n}")).await else { return };
                    acked.lock().unwrap().direct.insert(ack.message_id);
                }
            }
        })
    };
    let to_group = {
        let acked = acked.clone();
        tokio::spawn(async move {
            for n in 0u64.. {
                let newest = acked.lock().unwrap().direct.last().copied();
                if let Some(up_to) = newest.filter(|_| n % 8 == 0) {
                    let read = MarkReadRequest { with: Target::User(alice_id), up_to };
                    let Ok(position) = bob.client.call(&read).await else { return };
                    let mut acked = acked.lock().unwrap();
                    acked.read = acked.read.max(position.read_up_to);
                    acked.reads += 1;
                    continue;
                }
                let text = format!("group {n}");
                let Ok(ack) = bob.client.send_text_to(Target::Group(group), &text).await else { return };
                acked.lock().unwrap().group.insert(ack.message_id);
            }
        })
    };
    let membership = tokio::spawn(async move {
        loop {
            let join = !acked.lock().unwrap().carol_in;
            acked.lock().unwrap().carol_asked = Some(join);
            let answered = if join {
                carol.client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.map(drop)
            } else {
                carol.client.call(&LeaveGroupRequest { group_id: group }).await
            };
            if answered.is_err() {
                return;
            }
            let mut acked = acked.lock().unwrap();
            (acked.carol_in, acked.carol_asked) = (join, None);
            acked.moves += 1;
        }
    });
    let _ = tokio::join!(to_bob, to_group, membership);
}

/// Whether carol is in the group now.
async fn carol_is_in(carol: &Client, group: u64) -> bool {
    let groups = carol.call(&ListGroupsRequest { after: 0, limit: 10 }).await.unwrap();
    groups.groups.iter().any(|g| g.group_id == group)
}

/// Runs the cycles with `durability` and returns, per cycle, how many
/// acknowledged writes the server had lost after the power cut.
async fn power_cuts(durability: &str) -> Vec<usize> {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("disk");
    let sled = dir.path().join("data").join("sled");
    let setting = format!("storage.durability={durability}");
    let mut args: Vec<&str> = UNTHROTTLED.to_vec();
    args.extend(["--set", &setting]);
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut mount: Mount = lazyfs::mount(&backing, &sled);
    let server = start(dir.path(), &args);
    let group = {
        let client = Client::connect(server.tls, &Transport::Tls { fingerprint: server.fingerprint }).await.unwrap();
        for name in ["alice", "bob", "carol"] {
            client.register(name, PASSWORD).await.unwrap();
        }
        let (alice, bob) = (login(&server, "alice").await, login(&server, "bob").await);
        open_group(&alice, &[&bob]).await
    };
    let mut server = server;
    let mut lost = Vec::new();
    for cycle in 0..cycles() {
        let (alice, bob, carol) =
            (login(&server, "alice").await, login(&server, "bob").await, login(&server, "carol").await);
        let running = tokio::spawn(load(alice, bob, carol, group, acked.clone()));
        tokio::time::sleep(Duration::from_millis(300 + random_below(700))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        running.await.unwrap();
        let syncs = mount.syncs();
        // Every other cut tears the last write.
        let torn = cycle % 2 == 1;
        let cut = mount.cut(torn);
        mount = lazyfs::mount(&backing, &sled);
        server = match try_start(dir.path(), &args) {
            Ok(server) => server,
            // What was left is no database sled can open: everything is lost.
            Err(said) => {
                eprintln!("{durability} cycle {cycle}: after the cut the server does not start: {said:#?}");
                lost.push(usize::MAX);
                mount.cut(false);
                return lost;
            }
        };
        let (alice, bob, carol) =
            (login(&server, "alice").await, login(&server, "bob").await, login(&server, "carol").await);
        let (direct_ids, group_ids, since, last_profile, last_read, carol_acked, (reads, moves)) = {
            let mut acked = acked.lock().unwrap();
            // What carol asked for unanswered may or may not have happened:
            // the state found settles it.
            let carol_acked = (acked.carol_in, acked.carol_asked.take());
            let counts = (acked.reads, acked.moves);
            (acked.direct.clone(), acked.group.clone(), acked.checked, acked.profile, acked.read, carol_acked, counts)
        };
        let direct = missing(&bob.client, Target::User(alice.user_id), &direct_ids, since).await;
        let grouped = missing(&alice.client, Target::Group(group), &group_ids, since).await;
        let profile = alice.client.call(&GetProfileRequest { user_id: alice.user_id }).await.unwrap();
        let version: u64 = profile.profile.nickname.strip_prefix("alice v").map_or(0, |v| v.parse().unwrap());
        let conversations = bob.client.call(&ListConversationsRequest { before: 0, changed_since: 0, limit: 10 });
        let read_up_to = conversations
            .await
            .unwrap()
            .conversations
            .iter()
            .find(|c| c.with == Target::User(alice.user_id))
            .map_or(0, |c| c.read_up_to);
        let carol_in = carol_is_in(&carol.client, group).await;
        acked.lock().unwrap().carol_in = carol_in;
        let behind = usize::from(version < last_profile)
            + usize::from(read_up_to < last_read)
            + usize::from(carol_in != carol_acked.0 && Some(carol_in) != carol_acked.1);
        eprintln!(
            "{durability} cycle {cycle}: {} + {} messages, profile v{}, {reads} read positions, {moves} joins and \
             leaves acknowledged; \
             {syncs} syncs; the cut{} dropped {} bytes of {} files; lost {direct} + {grouped} messages, {behind} \
             of profile, read position and membership",
            direct_ids.len(),
            group_ids.len(),
            last_profile,
            if torn { " (torn)" } else { "" },
            cut.bytes,
            cut.files,
        );
        lost.push(direct + grouped + behind);
        acked.lock().unwrap().checked = direct_ids.iter().chain(&group_ids).max().map_or(0, |id| id + 1);
    }
    drop(server);
    mount.cut(false);
    lost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_a_power_cut() {
    let lost = power_cuts("fsync").await;
    assert!(lost.iter().all(|n| *n == 0), "acknowledged writes lost per cycle: {lost:?}");
}

/// The harness can fail: without the sync, a power cut takes writes the
/// server had acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_sync_a_power_cut_loses_acknowledged_writes() {
    let lost = power_cuts("flush").await;
    assert!(lost.iter().any(|n| *n > 0), "nothing acknowledged was lost: {lost:?}");
}
