//! Operator commands through the real `kith` binary: against a running
//! server (control socket) and against a stopped one (data directory).

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::KITH;
use common::{device, Kind, TestServer, PASSWORD, SOON};
use kith::protocol::{
    AddFriendRequest, AnswerFriendRequest, BlockRequest, ConversationStateRequest, DeviceType, DisconnectReason,
    ErrorCode, GetProfileRequest, ListBlockedRequest, ListFriendsRequest, Profile, SearchUsersRequest,
    SetProfileRequest, Target,
};

fn kith(args: &[&str], data_dir: &Path) -> Output {
    kith_with(args, data_dir, None)
}

fn kith_with(args: &[&str], data_dir: &Path, password: Option<&str>) -> Output {
    let mut command = Command::new(KITH);
    command.args(args).arg("--data-dir").arg(data_dir).env_remove("KITH_PASSWORD");
    if let Some(p) = password {
        command.env("KITH_PASSWORD", p);
    }
    command.output().expect("kith runs")
}

async fn kith_async(args: Vec<String>, data_dir: std::path::PathBuf, password: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kith_with(&args, &data_dir, password.as_deref())
    })
    .await
    .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The UTC calendar date of a time in Unix milliseconds, `YYYY-MM-DD`
/// (days to civil date, as in Howard Hinnant's algorithm).
fn utc_date(ms: u64) -> String {
    let z = (ms / 86_400_000) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `kith user export NAME` on the running server, its lines parsed.
async fn export(server: &TestServer, name: &str) -> Vec<serde_json::Value> {
    let out = server.dir.path().join(format!("{name}.jsonl"));
    let export =
        kith_async(args(&["user", "export", name, "--output", out.to_str().unwrap()]), server.data_dir(), None).await;
    assert!(export.status.success(), "{}", stderr(&export));
    std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_managed_on_the_running_server() {
    let server = TestServer::start().await;
    let data = server.data_dir();

    let added = kith_async(args(&["user", "add", "dora"]), data.clone(), Some(PASSWORD.into())).await;
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(stdout(&added).contains("created user dora"));
    // The account is the lower-cased name, and the CLI says so.
    let capital = kith_async(args(&["user", "add", "Ellie"]), data.clone(), Some(PASSWORD.into())).await;
    assert!(stdout(&capital).contains("created user ellie (id "), "{}", stdout(&capital));
    // The table's columns line up under their headings.
    let listed = stdout(&kith_async(args(&["user", "list"]), data.clone(), None).await);
    let mut lines = listed.lines();
    let heading = lines.next().unwrap();
    let column = heading.find("username").unwrap();
    for row in lines.filter(|l| l.contains("ellie") || l.contains("dora")) {
        assert_eq!(row.find(|c: char| c.is_ascii_alphabetic()), Some(column), "{listed}");
    }
    let again = kith_async(args(&["user", "add", "dora"]), data.clone(), Some(PASSWORD.into())).await;
    assert!(!again.status.success());
    assert!(stderr(&again).contains("taken"), "{}", stderr(&again));
    let weak = kith_async(args(&["user", "add", "eve"]), data.clone(), Some("short".into())).await;
    assert!(stderr(&weak).contains("password"), "{}", stderr(&weak));
    let no_password = kith_async(args(&["user", "add", "eve"]), data.clone(), None).await;
    assert!(!no_password.status.success());
    assert!(stderr(&no_password).contains("KITH_PASSWORD"), "{}", stderr(&no_password));

    // The new user logs in; the operator sees the session.
    let mut dora = server.connect(Kind::Tls).await;
    dora.login("dora", PASSWORD, device("dora-phone", DeviceType::Mobile)).await.unwrap();
    let online = kith_async(args(&["online"]), data.clone(), None).await;
    assert!(stdout(&online).contains("dora-phone") && stdout(&online).contains("1 session"), "{}", stdout(&online));
    let list = kith_async(args(&["user", "list"]), data.clone(), None).await;
    assert!(stdout(&list).contains("dora") && stdout(&list).contains("active"), "{}", stdout(&list));
    // Times for people in RFC 3339 UTC; for scripts, JSON with Unix milliseconds.
    let row = stdout(&list).lines().find(|l| l.contains("dora")).unwrap().to_string();
    let created = row.split_whitespace().nth(2).unwrap().to_string();
    assert!(created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T', "{row}");
    let json = kith_async(args(&["user", "list", "--json"]), data.clone(), None).await;
    let users: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let dora_json = users.as_array().unwrap().iter().find(|u| u["username"] == "dora").unwrap();
    let ms = dora_json["created_at"].as_u64().unwrap();
    assert!(created.starts_with(&utc_date(ms)), "{created} is not {ms} ms");
    assert_eq!(dora_json["disabled"], false);
    let online = kith_async(args(&["online", "--json"]), data.clone(), None).await;
    let sessions: serde_json::Value = serde_json::from_slice(&online.stdout).unwrap();
    assert_eq!(sessions[0]["device_id"], "dora-phone", "{sessions}");
    assert!(sessions[0]["since"].as_u64().unwrap() >= ms);
    let stats = kith_async(args(&["stats", "--json"]), data.clone(), None).await;
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!((stats["users_online"].as_u64(), stats["sessions_online"].as_u64()), (Some(1), Some(1)), "{stats}");

    // Disabling disconnects at once and blocks logins.
    let disabled = kith_async(args(&["user", "disable", "dora"]), data.clone(), None).await;
    assert!(disabled.status.success(), "{}", stderr(&disabled));
    assert_eq!(common::disconnect_reason(&mut dora, common::SOON).await, DisconnectReason::AccountDisabled);
    let c = server.connect(Kind::Tls).await;
    let err = c.login("dora", PASSWORD, device("x", DeviceType::Web)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::AccountDisabled));
    let list = kith_async(args(&["user", "list"]), data.clone(), None).await;
    assert!(stdout(&list).contains("disabled"));

    kith_async(args(&["user", "enable", "dora"]), data.clone(), None).await;
    let c = server.connect(Kind::Tls).await;
    let login = c.login("dora", PASSWORD, device("x", DeviceType::Web)).await.unwrap();

    // A password reset revokes tokens and disconnects.
    let mut live = c;
    let reset =
        kith_async(args(&["user", "reset-password", "dora"]), data.clone(), Some("brand new password".into())).await;
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert_eq!(common::disconnect_reason(&mut live, SOON).await, DisconnectReason::PasswordChanged);
    let c = server.connect(Kind::Tls).await;
    assert_eq!(c.auth(&login.token).await.unwrap_err().code(), Some(ErrorCode::InvalidToken));
    c.login("dora", "brand new password", device("x", DeviceType::Web)).await.unwrap();

    let missing = kith_async(args(&["user", "disable", "nobody"]), data.clone(), None).await;
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("no user"), "{}", stderr(&missing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_export() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    for i in 0..5 {
        alice.client.send_text(bob.user_id, &format!("hello {i}")).await.unwrap();
    }
    bob.client.send_text(alice.user_id, "bytes").await.unwrap();
    // Social data: alice and bob become friends, alice has a profile, asks
    // carol and blocks dave.
    let carol = server.user(Kind::Tcp, "carol").await;
    let dave = server.user(Kind::Tcp, "dave").await;
    let asked = alice.client.call(&AddFriendRequest { user_id: bob.user_id, message: "hi".into() }).await.unwrap();
    bob.client.call(&AnswerFriendRequest { request_id: asked.id, accept: true }).await.unwrap();
    alice.client.call(&AddFriendRequest { user_id: carol.user_id, message: "and you?".into() }).await.unwrap();
    alice.client.call(&BlockRequest { user_id: dave.user_id }).await.unwrap();
    let profile = Profile { nickname: "Ally".into(), city: "Lyon".into(), ..Profile::default() };
    alice.client.call(&SetProfileRequest { profile }).await.unwrap();
    let stats = kith_async(args(&["stats", "--json"]), server.data_dir(), None).await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&stats)).unwrap();
    assert_eq!(
        (json["friendships"].as_u64(), json["friend_requests"].as_u64(), json["blocks"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    // One conversation with messages; alice's and bob's read positions in it.
    assert_eq!(
        (
            json["conversations_with_messages"].as_u64(),
            json["read_positions"].as_u64(),
            json["read_receipts_off"].as_u64()
        ),
        (Some(1), Some(2), Some(0))
    );
    let stats = kith_async(args(&["stats"]), server.data_dir(), None).await;
    let text = stdout(&stats);
    assert!(text.contains("users            4"), "{text}");
    assert!(text.contains("friendships      1"), "{text}");
    assert!(text.contains("messages         6"), "{text}");
    assert!(text.contains("conversations    1"), "{text}");
    assert!(text.contains("sessions_online  4"), "{text}");
    // Each participant's log has each message, and each a login notice;
    // carol and dave logged in; the request to bob and its answer are in
    // both logs, the request to carol in two, the block and the profile
    // change in alice's.
    assert!(text.contains("updates          24"), "{text}");
    assert!(text.contains("users_active_30d 4"), "{text}");
    // Carol goes away: no longer online, still active this month (her
    // last seen, not yet written, counts).
    let carol_id = carol.user_id;
    drop(carol);
    let json = tokio::time::timeout(common::SOON, async {
        loop {
            let stats = kith_async(args(&["stats", "--json"]), server.data_dir(), None).await;
            let json: serde_json::Value = serde_json::from_str(&stdout(&stats)).unwrap();
            if json["users_online"].as_u64() == Some(3) {
                return json;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("carol's connection closes");
    assert_eq!(json["users_active_30d"].as_u64(), Some(4), "{json}");

    // A conversation she pins, after the counts above.
    let pin = ConversationStateRequest {
        with: Target::User(bob.user_id),
        pinned: Some(true),
        draft: Some("and".into()),
        muted: None,
    };
    alice.client.call(&pin).await.unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&kith_async(args(&["stats", "--json"]), server.data_dir(), None).await)).unwrap();
    assert_eq!((json["pinned_conversations"].as_u64(), json["drafts"].as_u64()), (Some(1), Some(1)));

    let lines = export(&server, "alice").await;
    assert_eq!(lines[0]["profile"]["username"], "alice");
    assert_eq!(lines[0]["profile"]["devices"][0]["device_id"], "alice-phone");
    let social = &lines[1]["social_profile"];
    assert_eq!((&social["nickname"], &social["city"]), (&serde_json::json!("Ally"), &serde_json::json!("Lyon")));
    assert_eq!(social["city_shown_to"], "everyone", "who sees her personal fields is exported too");
    assert_eq!(
        (&social["presence_shown_to"], &social["last_seen"]),
        (&serde_json::json!("friends"), &serde_json::json!(0))
    );
    assert_eq!(lines[2]["friend"]["user_id"], bob.user_id);
    assert_eq!(lines[3]["friend_request"]["to"], carol_id);
    assert_eq!(lines[3]["friend_request"]["state"], "pending");
    assert_eq!(lines[4]["friend_request"]["state"], "accepted");
    assert_eq!(lines[5]["blocked"]["user_id"], dave.user_id);
    assert_eq!(lines[6]["read_receipts"], true);
    // Her read position is her last message; bob's answer is unread.
    let read = &lines[7]["read_position"];
    assert_eq!((&read["with"]["peer"], &read["unread"]), (&serde_json::json!(bob.user_id), &serde_json::json!(1)));
    let state = &lines[8]["conversation_state"];
    assert_eq!((&state["with"]["peer"], &state["draft"]), (&serde_json::json!(bob.user_id), &serde_json::json!("and")));
    assert!(state["pinned_at"].as_u64() > Some(0), "{state}");
    // Her update log's notices, then the messages of each conversation.
    let log = &lines[9..];
    assert_eq!(log.len(), 1 + 5 + 1 + 6, "{log:?}");
    assert_eq!(log[0]["login"]["device_id"], "alice-phone");
    assert_eq!(log[1]["friend_request_update"]["request"]["state"], "pending");
    assert_eq!(log[2]["friend_request_update"]["request"]["state"], "accepted");
    assert_eq!(log[3]["friend_request_update"]["request"]["to"], carol_id);
    assert_eq!(log[4]["block_changed"]["user_id"], dave.user_id);
    assert_eq!(log[5]["profile_changed"]["profile"]["city"], "Lyon");
    assert_eq!(log[6]["conversation_state_changed"]["draft"], "and");
    let messages = &log[7..];
    assert_eq!(messages[0]["message"]["content"]["text"], "hello 0");
    assert_eq!(read["read_up_to"], messages[4]["message"]["id"]);
    assert_eq!(messages[0]["message"]["peer"], bob.user_id);
    assert_eq!(messages[5]["message"]["sender"], bob.user_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_sending_then_restore() {
    let server = TestServer::start().await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let mut senders = Vec::new();
    for i in 0..4 {
        senders.push(server.user(Kind::Tcp, &format!("sender{i}")).await);
    }
    // Social data goes into the backup too: bob befriends sender0, has a
    // profile and blocks mallory.
    let mallory = server.user(Kind::Tcp, "mallory").await;
    let asked = senders[0].client.call(&AddFriendRequest { user_id: bob.user_id, message: String::new() }).await;
    bob.client.call(&AnswerFriendRequest { request_id: asked.unwrap().id, accept: true }).await.unwrap();
    let profile = Profile { nickname: "Bobby".into(), ..Profile::default() };
    bob.client.call(&SetProfileRequest { profile }).await.unwrap();
    bob.client.call(&BlockRequest { user_id: mallory.user_id }).await.unwrap();
    let (friend, blocked) = (senders[0].user_id, mallory.user_id);
    // Clients keep sending throughout, as fast as the per-connection request
    // limit lets them (a busy machine's slow backup lets them reach it);
    // every acknowledgement is recorded.
    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    for s in senders {
        let (acked, stop, to) = (acked.clone(), stop.clone(), bob.user_id);
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.is_cancelled() {
                match s.client.send_text(to, &format!("{} {n}", s.name)).await {
                    Ok(ack) => acked.lock().unwrap().push(ack.message_id),
                    Err(e) if e.code() == Some(ErrorCode::RateLimited) => {
                        tokio::time::sleep(e.retry_after().expect("the wait")).await
                    }
                    Err(e) => panic!("{} could not send: {e:?}", s.name),
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before: Vec<u64> = acked.lock().unwrap().clone();
    let file = server.dir.path().join("kith.backup");
    let backup = kith_async(args(&["backup", file.to_str().unwrap()]), server.data_dir(), None).await;
    assert!(backup.status.success(), "{}", stderr(&backup));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(acked.lock().unwrap().len() > before.len(), "sending went on during the backup");

    // Restore into a fresh directory and serve from it.
    let restored = tempfile::tempdir().unwrap();
    let target = restored.path().join("data");
    let out = kith(&["restore", file.to_str().unwrap()], &target);
    assert!(out.status.success(), "{}", stderr(&out));
    let again = kith(&["restore", file.to_str().unwrap()], &target);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("empty directory"), "{}", stderr(&again));

    let copy = TestServer::start_with(|c| c.data_dir = target.clone()).await;
    let client = copy.connect(Kind::Tcp).await;
    client.login("bob", PASSWORD, device("bob-restored", DeviceType::Desktop)).await.unwrap();
    let have: std::collections::HashSet<u64> = client.sync_messages(0).await.unwrap().iter().map(|m| m.id).collect();
    for id in &before {
        assert!(have.contains(id), "message {id} acknowledged before the backup is missing");
    }
    let friends = client.call(&ListFriendsRequest { after: 0, limit: 10 }).await.unwrap();
    assert_eq!(friends.friends.iter().map(|f| f.user.user_id).collect::<Vec<_>>(), vec![friend]);
    let theirs = client.call(&GetProfileRequest { user_id: friend }).await.unwrap();
    assert_eq!(theirs.user_id, friend);
    let blocks = client.call(&ListBlockedRequest { after: 0, limit: 10 }).await.unwrap();
    assert_eq!(blocks.users[0].user.user_id, blocked);
    // Bob's friend finds him by his nickname: the search index came back too.
    let friend_client = copy.connect(Kind::Tcp).await;
    friend_client.login("sender0", PASSWORD, device("sender0-restored", DeviceType::Desktop)).await.unwrap();
    let search = SearchUsersRequest { query: "bobb".into(), cursor: vec![], limit: 5 };
    let found = friend_client.call(&search).await.unwrap();
    assert_eq!(found.users[0].nickname, "Bobby", "the profile and its search index were restored");

    // A damaged file is refused and leaves nothing behind.
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    let damaged = server.dir.path().join("damaged.backup");
    std::fs::write(&damaged, bytes).unwrap();
    let target = restored.path().join("other");
    let out = kith(&["restore", damaged.to_str().unwrap()], &target);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("damaged"), "{}", stderr(&out));
    assert!(!target.join("sled").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_work_on_a_stopped_server_and_fail_clearly() {
    let mut server = TestServer::start().await;
    server.user(Kind::Tcp, "frank").await;
    server.stop().await;
    let data = server.data_dir();

    let list = kith(&["user", "list"], &data);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(stdout(&list).contains("frank"));
    let added = kith_with(&["user", "add", "gina"], &data, Some(PASSWORD));
    assert!(added.status.success(), "{}", stderr(&added));
    let online = kith(&["online"], &data);
    assert!(!online.status.success());
    assert!(stderr(&online).contains("not running"), "{}", stderr(&online));
    let file = server.dir.path().join("offline.backup");
    let backup = kith(&["backup", file.to_str().unwrap()], &data);
    assert!(backup.status.success(), "{}", stderr(&backup));

    // The user added offline can log in once the server is back.
    server.restart().await;
    let c = server.connect(Kind::Tcp).await;
    c.login("gina", PASSWORD, device("g", DeviceType::Mobile)).await.unwrap();
    server.stop().await;

    let nowhere = server.dir.path().join("no-such-dir");
    let out = kith(&["stats"], &nowhere);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("holds no kith database"), "{}", stderr(&out));
    let out = kith(&["restore", "/no/such/file"], &nowhere);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/no/such/file"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_data_directory_is_reported_clearly() {
    let server = TestServer::start().await;
    // The server runs, but its control socket is gone.
    std::fs::remove_file(server.data_dir().join("control.sock")).unwrap();
    let out = kith_async(args(&["stats"]), server.data_dir(), None).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("in use by a running server"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_shutdown_removes_the_control_socket() {
    let mut server = TestServer::start().await;
    let socket = server.data_dir().join("control.sock");
    assert!(socket.exists());
    server.stop().await;
    assert!(!socket.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_in_stats_export_and_backups() {
    use kith::protocol::{
        CreateGroupRequest, FriendPolicy, GetGroupRequest, GroupRole, JoinPolicy, ListMembersRequest, PrivacyRequest,
        Target,
    };
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    bob.client
        .call(&PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::AcceptAll), presence: None })
        .await
        .unwrap();
    let fields = common::talk::group_fields(JoinPolicy::Open);
    let group = alice.client.call(&CreateGroupRequest { fields, members: vec![bob.user_id] }).await.unwrap();
    let group = group.group.group_id;
    alice.client.send_text_to(Target::Group(group), "to the hills").await.unwrap();
    bob.client.send_text_to(Target::Group(group), "tomorrow at six").await.unwrap();

    // Two written messages, and the group's Created and Joined system messages.
    let stats = kith_async(args(&["stats", "--json"]), server.data_dir(), None).await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&stats)).unwrap();
    let counts = (json["groups"].as_u64(), json["group_members"].as_u64(), json["group_messages"].as_u64());
    assert_eq!(counts, (Some(1), Some(2), Some(4)), "{json}");
    let text = stdout(&kith_async(args(&["stats"]), server.data_dir(), None).await);
    assert!(text.contains("groups           1"), "{text}");

    let lines = export(&server, "bob").await;
    let listed = lines.iter().find_map(|l| l.get("group")).expect("the group is exported");
    assert_eq!((listed["group_id"].as_u64(), listed["role"].as_str()), (Some(group), Some("member")));
    let said: Vec<&str> =
        lines.iter().filter_map(|l| l.get("message")).filter_map(|m| m["content"]["text"].as_str()).collect();
    assert!(said.contains(&"tomorrow at six") && said.contains(&"to the hills"), "{said:?}");
    assert!(lines.iter().filter_map(|l| l.get("message")).all(|m| m["group"].as_u64() == Some(group)));

    // A backup carries the group; the restored server checks and serves it.
    let file = server.dir.path().join("groups.backup");
    let backup = kith_async(args(&["backup", file.to_str().unwrap()]), server.data_dir(), None).await;
    assert!(backup.status.success(), "{}", stderr(&backup));
    let restored = tempfile::tempdir().unwrap();
    let target = restored.path().join("data");
    let out = kith(&["restore", file.to_str().unwrap()], &target);
    assert!(out.status.success(), "{}", stderr(&out));
    let copy = TestServer::start_with(|c| c.data_dir = target.clone()).await;
    let client = copy.connect(Kind::Tcp).await;
    client.login("alice", PASSWORD, device("alice-restored", DeviceType::Desktop)).await.unwrap();
    let info = client.call(&GetGroupRequest { group_id: group }).await.unwrap();
    assert_eq!((info.member_count, info.my_role), (2, Some(GroupRole::Owner)));
    let members = ListMembersRequest { group_id: group, after: 0, limit: 10, online_only: false };
    assert_eq!(client.call(&members).await.unwrap().members.len(), 2);
    let log = client
        .call(&kith::protocol::HistoryRequest {
            with: Target::Group(group),
            direction: kith::protocol::Direction::After,
            anchor: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(log.messages.len(), 4);
}

/// In a group above the write diffusion threshold no member's update log
/// points at its messages; the export reads them from the group, each
/// once, up to where the user left it, and nothing sent after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_a_large_groups_messages_up_to_the_exit() {
    use kith::protocol::{CreateGroupRequest, FriendPolicy, JoinPolicy, LeaveGroupRequest, PrivacyRequest, Target};
    let server = TestServer::start_with(|c| c.group.write_diffusion_max = 1).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let accept = PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::AcceptAll), presence: None };
    bob.client.call(&accept).await.unwrap();
    let fields = common::talk::group_fields(JoinPolicy::Open);
    let group = alice.client.call(&CreateGroupRequest { fields, members: vec![bob.user_id] }).await.unwrap();
    let to = Target::Group(group.group.group_id);
    let reached = [
        bob.client.send_text_to(to, "first").await.unwrap().message_id,
        bob.client.send_text_to(to, "second").await.unwrap().message_id,
        alice.client.send_text_to(to, "not bob's").await.unwrap().message_id,
    ];
    bob.client.call(&LeaveGroupRequest { group_id: group.group.group_id }).await.unwrap();
    let later = alice.client.send_text_to(to, "after bob left").await.unwrap().message_id;

    let lines = export(&server, "bob").await;
    let exported: Vec<u64> = lines.iter().filter_map(|l| l.get("message")).filter_map(|m| m["id"].as_u64()).collect();
    for sent in reached {
        assert_eq!(exported.iter().filter(|id| **id == sent).count(), 1, "{exported:?}");
    }
    assert!(!exported.contains(&later), "{exported:?}");
    let left = lines.iter().find_map(|l| l.get("group_left")).expect("the ended membership is exported");
    assert_eq!(left["group_id"].as_u64(), Some(group.group.group_id));
    assert!(left["until"].as_u64() > Some(reached[2]), "{left}");
    assert!(lines.iter().all(|l| l.get("group").is_none()), "no longer a member");
}

/// Message updates leave the update log after
/// `conversation.message_updates_kept_secs`; the export still holds the
/// messages, read from their conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_messages_whose_updates_left_the_log() {
    let server = TestServer::start_with(|c| {
        c.conversation.message_updates_kept_secs = 1;
        c.conversation.purge_interval_secs = 1;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let mut sent = Vec::new();
    for text in ["one", "two"] {
        sent.push(alice.client.send_text(bob.user_id, text).await.unwrap().message_id);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while common::process::stats(&server.data_dir())["swept_message_updates_since_start"].as_u64() < Some(4) {
        assert!(tokio::time::Instant::now() < deadline, "no message update was swept");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lines = export(&server, "bob").await;
    let exported: Vec<u64> = lines.iter().filter_map(|l| l.get("message")).filter_map(|m| m["id"].as_u64()).collect();
    assert_eq!(exported, sent);
}

/// `kith compact` rewrites a stopped server's database into fresh files:
/// every live entry is there after, byte for byte, what the purge removed
/// no longer takes room, and the server starts on it. It refuses while the
/// server runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_rewrites_a_stopped_servers_database() {
    let mut server = TestServer::start_with(|c| {
        c.conversation.retention_secs = 2;
        c.conversation.purge_interval_secs = 1;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let big = "x".repeat(4_000);
    for _ in 0..200 {
        alice.client.send_text(bob.user_id, &big).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while common::process::stats(&server.data_dir())["purged_messages_since_start"].as_u64() < Some(199) {
        assert!(tokio::time::Instant::now() < deadline, "the purge did not run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refused = kith(&["compact"], &server.data_dir());
    assert!(!refused.status.success() && stderr(&refused).contains("stop it"), "{}", stderr(&refused));
    drop((alice, bob));
    server.stop().await;

    let before = common::process::backup(&server.data_dir(), &server.dir.path().join("before.bak"));
    let out = kith(&["compact"], &server.data_dir());
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    let figures: Vec<u64> = said.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(figures.len(), 3, "{said}");
    assert!(figures[2] < figures[1], "the files shrank: {said}");
    let after = common::process::backup(&server.data_dir(), &server.dir.path().join("after.bak"));
    assert_eq!(after, before);
    assert!(figures[0] as usize >= before.len(), "every entry of every tree: {said}");
    server.restart().await;
    let carol = server.user(Kind::Tcp, "carol").await;
    carol.client.send_text(carol.user_id, "the server writes on").await.unwrap();
}
