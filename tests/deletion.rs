//! Account deletion (PROTOCOL section 5, `DeleteAccount`; `kith user delete`):
//! who is told, what others keep, and — read from a backup, key by key —
//! that nothing else of the account is left, also when the server is
//! killed in the middle of the erasure.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::process::{start, stats, Running, UNTHROTTLED};
use common::talk::{befriend, code, event, open_group, pushed};
use common::{disconnect_reason, Calls, Kind, TestServer, PASSWORD, SOON};
use kith::client::{Client, Transport};
use kith::protocol::{
    AddFriendRequest, BlockRequest, CommentMomentRequest, ConversationStateRequest, DeleteAccountRequest, DeviceType,
    Direction, DisconnectReason, ErrorCode, GetGroupRequest, GetProfileRequest, GroupEvent, ListBlockedRequest,
    ListFriendRequestsRequest, ListFriendsRequest, ListMembersRequest, MediaPurpose, MessageKind, Profile, RequestBox,
    SearchUsersRequest, SetAdminRequest, SetProfileRequest, Target, UpdateBody, UpdateKind,
};
use kith::protocol::{BanRequest, CreateGroupRequest, JoinGroupRequest, JoinPolicy};
use kith::protocol::{
    GetMomentRequest, LikeMomentRequest, MomentAudience, MomentFilterRequest, MomentMedia, MomentVisibility,
    PublishMomentRequest,
};
use kith::service::Conversation;
use kith::storage::{schema, KeyPart};

const NICKNAME: &str = "Dana Quill";

/// Posts a moment for friends; returns its id.
async fn moment(user: &common::TestUser, text: &str, media: MomentMedia) -> u64 {
    let publish = PublishMomentRequest {
        client_id: kith::client::new_client_msg_id(),
        text: text.into(),
        media,
        location: None,
        visibility: MomentVisibility { audience: MomentAudience::Friends, users: vec![] },
    };
    user.client.call(&publish).await.unwrap().moment_id
}

async fn delete(client: &Client, password: &str) -> Result<(), kith::client::ClientError> {
    client.call(&DeleteAccountRequest { password: password.into() }).await
}

/// Waits until no deleted account is left to erase.
async fn erased(data_dir: &Path) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let dir = data_dir.to_path_buf();
        let left = tokio::task::spawn_blocking(move || stats(&dir)).await.unwrap()["users_being_erased"].clone();
        if left == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the erasure did not finish: {left} left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads a backup of `data_dir` key by key: every key that holds `user`'s
/// id must be the deletion record or belong to one of the `kept` 1:1
/// conversations, and no key or value may hold any of `needles`, the
/// notices others were given included.
fn nothing_left(data_dir: &Path, user: u64, kept: &[Conversation], needles: &[&str]) {
    let entries = common::process::backup(data_dir, &data_dir.parent().unwrap().join("after-deletion.backup"));
    let id = user.to_be_bytes();
    let kept: Vec<Vec<u8>> = kept
        .iter()
        .map(|c| {
            let mut bytes = Vec::new();
            c.put(&mut bytes);
            bytes
        })
        .collect();
    let holds = |hay: &[u8], pin: &[u8]| hay.windows(pin.len()).any(|w| w == pin);
    let mut deletion_records = 0;
    for (key, value) in entries {
        let keyspace = schema::ALL.iter().find(|k| k.prefix == key[0]).expect("a registered keyspace").name;
        for needle in needles.iter().map(|n| n.as_bytes()) {
            assert!(!holds(&key, needle), "{keyspace} keeps {needles:?} in a key");
            assert!(!holds(&value, needle), "{keyspace} keeps {needles:?}");
        }
        if keyspace == "userid_deleted" && key[1..] == id {
            deletion_records += 1;
        } else if holds(&key, &id) {
            assert!(kept.iter().any(|c| holds(&key, c)), "{keyspace} keeps a key of the deleted account: {key:02x?}");
        }
    }
    assert_eq!(deletion_records, 1, "the deleted id is recorded, so it is never given again");
}

/// The refusals, and the deletion itself, over each transport: the wrong
/// password changes nothing; the right one answers, then closes this and
/// every other session of the account with `AccountDeleted`; the account
/// can no longer log in, and its name stays taken.
async fn delete_over(kind: Kind) {
    let server = TestServer::start().await;
    let dana = server.user(kind, "dana").await;
    let (mut other_device, _) = server.device(kind, "dana", "dana-laptop", DeviceType::Desktop).await;

    let anonymous = server.connect(kind).await;
    assert_eq!(code(delete(&anonymous, PASSWORD).await), Some(ErrorCode::NotAuthenticated));
    // Guessing the password is throttled like a login.
    let mut wait = None;
    for _ in 0..8 {
        match delete(&dana.client, "not the password").await {
            Err(e) if e.code() == Some(ErrorCode::RateLimited) => {
                wait = e.retry_after();
                break;
            }
            other => assert_eq!(code(other), Some(ErrorCode::BadCredentials)),
        }
    }
    tokio::time::sleep(wait.expect("throttled after a few wrong passwords")).await;
    assert_eq!(code(dana.client.call(&GetProfileRequest { user_id: dana.user_id }).await), None, "still signed in");

    let mut client = dana.client;
    delete(&client, PASSWORD).await.expect("deleted");
    assert_eq!(disconnect_reason(&mut client, SOON).await, DisconnectReason::AccountDeleted);
    assert_eq!(disconnect_reason(&mut other_device, SOON).await, DisconnectReason::AccountDeleted);

    let again = server.connect(kind).await;
    let login = again.login("dana", PASSWORD, common::device("dana-phone", DeviceType::Mobile)).await;
    assert_eq!(code(login), Some(ErrorCode::BadCredentials));
    assert_eq!(code(again.register("dana", PASSWORD).await), Some(ErrorCode::Conflict), "the name is held");
    let token = server.connect(kind).await;
    assert_eq!(code(token.auth(&dana.login.token).await), Some(ErrorCode::InvalidToken));
}
per_transport!(delete_over);

/// Everything the account left is erased or handed on, and those who must
/// know are told: a friend by `FriendRemoved` (live, and by `Sync` under the
/// same id), a group's members by its ownership passing to the
/// longest-standing admin and by the account leaving. What others hold
/// stays: the friend keeps the account's messages. Nothing else of the
/// account is left in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_an_account_leaves_is_erased_or_handed_on() {
    let server = TestServer::start().await;
    let dana = server.user(Kind::Tcp, "dana").await;
    let mut fred = server.user(Kind::Tcp, "fred").await;
    let gail = server.user(Kind::Tcp, "gail").await;
    let hank = server.user(Kind::Tcp, "hank").await;
    let ivy = server.user(Kind::Tcp, "ivy").await;
    let jo = server.user(Kind::Tcp, "joan").await;

    let face =
        kith::client::FileShape { mime: "image/png", purpose: MediaPurpose::Avatar, size_px: (64, 64), duration_ms: 0 };
    let avatar = dana.client.upload(b"dana's face", face).await.unwrap().media_id;
    let profile = Profile { nickname: NICKNAME.into(), avatar, city: "Quillhaven".into(), ..Profile::default() };
    dana.client.call(&SetProfileRequest { profile }).await.unwrap();
    befriend(&dana, &fred).await;
    let kept = dana.client.send_text(fred.user_id, "a message fred keeps").await.unwrap().message_id;
    // A photo fred keeps, and an upload dana never finished.
    let photo = b"a photo fred keeps".to_vec();
    let jpeg = kith::client::FileShape::attachment("image/jpeg");
    let file = dana.client.upload(&photo, jpeg).await.unwrap().media_id;
    let sent = kith::client::attachment(file, "photo.jpg");
    dana.client.send_media(Target::User(fred.user_id), MessageKind::Image, &sent).await.unwrap();
    dana.client.start_upload(b"never finished", jpeg).await.unwrap();
    dana.client.call(&AddFriendRequest { user_id: gail.user_id, message: "hi gail".into() }).await.unwrap();
    hank.client.call(&BlockRequest { user_id: dana.user_id }).await.unwrap();
    dana.client.call(&BlockRequest { user_id: jo.user_id }).await.unwrap();
    dana.client.send_text(dana.user_id, "a note to myself").await.unwrap();
    // Her pinned conversation with fred and a draft to gail.
    let pin =
        ConversationStateRequest { with: Target::User(fred.user_id), pinned: Some(true), draft: None, muted: None };
    dana.client.call(&pin).await.unwrap();
    let draft = ConversationStateRequest {
        with: Target::User(gail.user_id),
        pinned: None,
        draft: Some("hi".into()),
        muted: None,
    };
    dana.client.call(&draft).await.unwrap();
    // A group dana owns: joan joined first, ivy later but is an admin, so ivy inherits it.
    let owned = open_group(&dana, &[&jo, &ivy]).await;
    let admin = SetAdminRequest { group_id: owned, user_id: ivy.user_id, admin: true };
    dana.client.call(&admin).await.unwrap();
    // A group only dana is in ends; in fred's group dana is a member.
    let alone = open_group(&dana, &[]).await;
    let freds = open_group(&fred, &[&dana]).await;
    // Her moment with a photo, liked and commented on by fred; her like
    // and comment on his; a filter each way with hank.
    let lake = dana.client.upload(b"dana's lake", jpeg).await.unwrap().media_id;
    let hers = moment(&dana, "dana's lake", MomentMedia::Images(vec![lake])).await;
    fred.client.call(&LikeMomentRequest { moment_id: hers, like: true }).await.unwrap();
    fred.client.call(&CommentMomentRequest { moment_id: hers, text: "nice".into(), reply_to: None }).await.unwrap();
    let his = moment(&fred, "fred's hill", MomentMedia::None).await;
    dana.client.call(&LikeMomentRequest { moment_id: his, like: true }).await.unwrap();
    let remark = CommentMomentRequest { moment_id: his, text: "dana quill was here".into(), reply_to: None };
    let said = dana.client.call(&remark).await.unwrap().comment_id;
    let answer = CommentMomentRequest { moment_id: his, text: "thanks".into(), reply_to: Some(said) };
    fred.client.call(&answer).await.unwrap();
    let hide = MomentFilterRequest { user_id: dana.user_id, hide_mine: Some(true), hide_theirs: Some(true) };
    hank.client.call(&hide).await.unwrap();
    let hidden = MomentFilterRequest { user_id: hank.user_id, hide_mine: Some(true), hide_theirs: None };
    dana.client.call(&hidden).await.unwrap();
    let cursor = ivy.client.sync_all(0).await.unwrap().last().unwrap().id;

    delete(&dana.client, PASSWORD).await.unwrap();
    erased(&server.data_dir()).await;

    let (removed, body) = pushed(&mut fred.client, UpdateKind::FriendRemoved).await;
    let UpdateBody::FriendRemoved(body) = body else { unreachable!() };
    assert_eq!((body.by, body.user_id), (dana.user_id, fred.user_id));
    let synced = fred.client.sync_all(0).await.unwrap();
    assert!(synced.iter().any(|u| u.id == removed.id && u.kind == UpdateKind::FriendRemoved as u8), "same id");
    let friends = fred.client.call(&ListFriendsRequest { after: 0, limit: 10 }).await.unwrap();
    assert!(friends.friends.is_empty());
    let history = fred.client.history(Target::User(dana.user_id), Direction::Before, 0, 10).await.unwrap();
    assert_eq!(history.messages.iter().map(|m| m.id).collect::<Vec<_>>()[..1], [kept], "fred keeps what dana sent");
    assert_eq!(fred.client.download(file).await.unwrap(), photo, "and the photo she sent him");
    assert_eq!(code(fred.client.send_text(dana.user_id, "still there?").await), Some(ErrorCode::NotFound));
    assert_eq!(code(fred.client.call(&GetProfileRequest { user_id: dana.user_id }).await), Some(ErrorCode::NotFound));
    let search = SearchUsersRequest { query: "dana".into(), cursor: vec![], limit: 10 };
    assert!(fred.client.call(&search).await.unwrap().users.is_empty());
    let incoming = ListFriendRequestsRequest { direction: RequestBox::Incoming, before: 0, limit: 10 };
    assert!(gail.client.call(&incoming).await.unwrap().requests.is_empty(), "gail's request from dana is gone");
    // The notice of it stays in gail's log, showing dana's id alone.
    let requests: Vec<_> = gail
        .client
        .sync_all(0)
        .await
        .unwrap()
        .iter()
        .filter_map(|u| match u.decode() {
            Ok(Some(UpdateBody::FriendRequest(request))) => Some(request),
            _ => None,
        })
        .collect();
    let [request] = &requests[..] else { panic!("gail's friend request notices: {requests:?}") };
    let from = &request.from;
    assert_eq!((from.user_id, &*from.username, &*from.nickname, from.avatar), (dana.user_id, "", "", 0));
    assert_eq!((request.to.user_id, &*request.to.username, &*request.message), (gail.user_id, "gail", ""));
    let blocked = hank.client.call(&ListBlockedRequest { after: 0, limit: 10 }).await.unwrap();
    assert!(blocked.users.is_empty(), "hank's block of an account that is gone is gone");

    let group = ivy.client.call(&GetGroupRequest { group_id: owned }).await.unwrap();
    assert_eq!((group.owner, group.member_count), (ivy.user_id, 2), "the admin inherits the group");
    let news: Vec<GroupEvent> = ivy
        .client
        .sync_all(cursor)
        .await
        .unwrap()
        .iter()
        .filter_map(|u| match u.decode() {
            Ok(Some(UpdateBody::Message(m))) if m.to == Target::Group(owned) => event(&m),
            _ => None,
        })
        .collect();
    assert_eq!(
        news,
        vec![
            GroupEvent::OwnershipTransferred { from: dana.user_id, to: ivy.user_id },
            GroupEvent::Left { user_id: dana.user_id }
        ]
    );
    assert_eq!(code(fred.client.call(&GetGroupRequest { group_id: alone }).await), Some(ErrorCode::NotFound));
    let roster = ListMembersRequest { group_id: freds, after: 0, limit: 10, online_only: false };
    let members = fred.client.call(&roster).await.unwrap();
    assert_eq!(members.members.iter().map(|m| m.user.user_id).collect::<Vec<_>>(), vec![fred.user_id]);
    // Her moment is gone, and with it fred's like and comment; her like and
    // comment on his are gone, his reply stays, answering nothing he sees.
    assert_eq!(code(fred.client.call(&GetMomentRequest { moment_id: hers }).await), Some(ErrorCode::NotFound));
    assert_eq!(code(fred.client.download(lake).await), Some(ErrorCode::NotFound));
    let his_now = fred.client.call(&GetMomentRequest { moment_id: his }).await.unwrap();
    assert_eq!((his_now.like_count, his_now.comment_count), (0, 1));
    assert_eq!((his_now.comments[0].reply_to, his_now.comments[0].reply_to_user), (None, 0));

    let stats = stats(&server.data_dir());
    assert_eq!((stats["users"].clone(), stats["deleted_users"].clone()), (5.into(), 1.into()));
    let moments = (stats["moments"].clone(), stats["moment_likes"].clone(), stats["moment_comments"].clone());
    assert_eq!(moments, (1.into(), 0.into(), 1.into()), "fred's moment and his reply");
    let kept = [Conversation::of(dana.user_id, Target::User(fred.user_id))];
    let needles = [NICKNAME, "dana quill", "Quillhaven", "dana-phone", "hi gail"];
    nothing_left(&server.data_dir(), dana.user_id, &kept, &needles);
}

/// The operator's `kith user delete` does the same on a running server,
/// and returns once the account is erased; a name nobody has is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_deletes_an_account() {
    let server = TestServer::start_with(|c| c.registration.deleted_name_hold_days = 0).await;
    let mut dana = server.user(Kind::Tcp, "dana").await;
    let mut fred = server.user(Kind::Tcp, "fred").await;
    befriend(&fred, &dana).await;
    let kith = |args: &[&str]| {
        std::process::Command::new(common::process::KITH)
            .args(args)
            .arg("--data-dir")
            .arg(server.data_dir())
            .output()
            .unwrap()
    };
    let out = kith(&["user", "delete", "dana"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("user dana (id"), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(disconnect_reason(&mut dana.client, SOON).await, DisconnectReason::AccountDeleted);
    pushed(&mut fred.client, UpdateKind::FriendRemoved).await;
    assert_eq!(stats(&server.data_dir())["users_being_erased"], 0, "erased before the command returned");
    let out = kith(&["user", "delete", "dana"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named"), "{}", String::from_utf8_lossy(&out.stderr));
    // With no hold, the name is free again at once, for a new account.
    let newcomer = server.connect(Kind::Tcp).await;
    let id = newcomer.register("dana", PASSWORD).await.expect("the name is free");
    assert_ne!(id, dana.user_id, "an id is never given twice");
    nothing_left(&server.data_dir(), dana.user_id, &[], &["dana-phone"]);
}

/// The groups forget a deleted account in jobs of `storage.erase_batch`
/// groups: banned from five groups and asking to join a sixth, with
/// two groups looked at per job, nothing of it is left in any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_forget_a_deleted_account_a_few_groups_per_job() {
    let server = TestServer::start_with(|c| c.storage.erase_batch = 2).await;
    let owner = server.user(Kind::Tcp, "olga").await;
    let dana = server.user(Kind::Tcp, "dana").await;
    for _ in 0..5 {
        let group = open_group(&owner, &[&dana]).await;
        owner.client.call(&BanRequest { group_id: group, user_id: dana.user_id, banned: true }).await.unwrap();
    }
    let fields = common::talk::group_fields(JoinPolicy::Approval);
    let asked = owner.client.call(&CreateGroupRequest { fields, members: vec![] }).await.unwrap().group.group_id;
    dana.client.call(&JoinGroupRequest { group_id: asked, message: "let me in".into() }).await.unwrap();

    delete(&dana.client, PASSWORD).await.unwrap();
    erased(&server.data_dir()).await;
    nothing_left(&server.data_dir(), dana.user_id, &[], &["let me in"]);
}

/// Killed with SIGKILL while erasing an account with a long update log, the
/// server finishes the erasure when it starts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_cut_by_a_kill_finishes_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let few = ["--set", "storage.erase_batch=10"];
    let args: Vec<&str> = UNTHROTTLED.iter().chain(few.iter()).copied().collect();
    let server = start(dir.path(), &args);
    let connect = |running: &Running| {
        let (addr, fingerprint) = (running.tls, running.fingerprint);
        async move { Client::connect(addr, &Transport::Tls { fingerprint }).await.unwrap() }
    };
    let dana = connect(&server).await;
    let dana_id = dana.register("dana", PASSWORD).await.unwrap();
    dana.login("dana", PASSWORD, common::device("dana-phone", DeviceType::Mobile)).await.unwrap();
    let fred = connect(&server).await;
    fred.register("fred", PASSWORD).await.unwrap();
    fred.login("fred", PASSWORD, common::device("fred-phone", DeviceType::Mobile)).await.unwrap();
    // 2,000 messages from fred: 2,000 rows in dana's update log, 200 jobs.
    for i in 0..2_000 {
        fred.send_text(dana_id, &format!("message {i}")).await.unwrap();
    }
    let mut server = server;
    delete(&dana, PASSWORD).await.unwrap();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let data = dir.path().join("data");
    assert_eq!(stats(&data)["users_being_erased"], 1, "the kill landed before the erasure ended");

    let restarted = start(dir.path(), &args);
    erased(&data).await;
    let fred_again = connect(&restarted).await;
    fred_again.login("fred", PASSWORD, common::device("fred-phone", DeviceType::Mobile)).await.unwrap();
    let kept = fred_again.history(Target::User(dana_id), Direction::Before, 0, 10).await.unwrap();
    assert_eq!(kept.messages.len(), 10, "fred keeps the conversation");
    drop(restarted);
    let fred_id = dana_id + 1;
    nothing_left(&data, dana_id, &[Conversation::of(dana_id, Target::User(fred_id))], &["dana-phone"]);
}

/// A password change on one device and the account's deletion on another,
/// sent at once, round after round: exactly one of them is answered with
/// success, and the account is what that one made it — gone, or there
/// under the new password. Each job re-reads the credential generation
/// its password was checked with, so the one that commits second finds
/// the other's change and is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_and_a_deletion_at_once_end_one_way() {
    use kith::protocol::{ChangePasswordRequest, FindUserRequest};
    const NEW: &str = "a new password for dana";
    let server = TestServer::start().await;
    let watcher = server.user(Kind::Tcp, "watcher").await;
    let (mut deleted, mut changed) = (0, 0);
    for round in 0..12 {
        let name = format!("dana{round}");
        let phone = server.user(Kind::Tcp, &name).await;
        let (laptop, _) = server.device(Kind::Quic, &name, "dana-laptop", DeviceType::Desktop).await;
        let change = ChangePasswordRequest { old_password: PASSWORD.into(), new_password: NEW.into() };
        // The deletion sets out later and later, so either may commit first.
        let late = Duration::from_millis(3 * round);
        let deleting = async {
            tokio::time::sleep(late).await;
            delete(&laptop, PASSWORD).await
        };
        let (changing, deleting) = tokio::join!(phone.client.call(&change), deleting);
        let probe = server.connect(Kind::Tcp).await;
        let device = common::device("probe", DeviceType::Web);
        match (changing, deleting) {
            (Err(_), Ok(())) => {
                deleted += 1;
                let find = FindUserRequest { username: name.clone() };
                assert_eq!(code(watcher.client.call(&find).await), Some(ErrorCode::NotFound), "the account is gone");
            }
            (Ok(_), Err(e)) => {
                changed += 1;
                assert!(matches!(e.code(), Some(ErrorCode::BadCredentials) | None), "the deletion's refusal: {e}");
                probe.login(&name, NEW, device).await.expect("the account stays, under the new password");
            }
            (changing, deleting) => panic!("round {round}: both or neither answered: {changing:?}, {deleting:?}"),
        }
    }
    eprintln!("{deleted} deletions and {changed} password changes won");
}
