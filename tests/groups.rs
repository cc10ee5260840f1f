//! Groups through the real server: lifecycle, roles and every refusal,
//! join requests and invitations with auto-accept and blocks, bans on every
//! path in, mutes, membership windows, and one result from write and read
//! diffusion — over TLS, plain TCP and QUIC where the transport could matter.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::talk::{event, named_group_fields as fields, pushed_so_far};
use common::{Calls, Kind, TestServer, TestUser, SOON};
use kith::client::{Client, ClientError};
use kith::codec::decode_wire;
use kith::protocol::{
    AnswerInvitationRequest, AnswerJoinRequest, BanRequest, BlockRequest, CreateGroupReply, CreateGroupRequest,
    Direction, DissolveGroupRequest, ErrorCode, FriendPolicy, GetGroupRequest, GroupEvent, GroupRole,
    InviteToGroupRequest, JoinGroupRequest, JoinOutcome, JoinPolicy, KickMemberRequest, LeaveGroupRequest,
    ListBansRequest, ListGroupsRequest, ListInvitationsRequest, ListJoinRequestsRequest, ListMembersRequest, Message,
    MessageKind, MuteGroupRequest, MuteMemberRequest, PrivacyRequest, RequestState, SendRequest, SetAdminRequest,
    SetAliasRequest, Target, TransferGroupRequest, UpdateBody, UpdateGroupRequest, UpdateKind,
};

fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

async fn create(owner: &Client, policy: JoinPolicy, members: &[u64]) -> CreateGroupReply {
    let request = CreateGroupRequest { fields: fields("hikers", policy, false), members: members.to_vec() };
    owner.call(&request).await.expect("creates the group")
}

async fn accept_all(user: &TestUser) {
    user.client
        .call(&PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::AcceptAll), presence: None })
        .await
        .unwrap();
}

async fn join(user: &TestUser, group: u64) -> Result<JoinOutcome, ClientError> {
    user.client.call(&JoinGroupRequest { group_id: group, message: "let me in".into() }).await
}

async fn say(client: &Client, group: u64, text: &str) -> Result<u64, ClientError> {
    Ok(client.send_text_to(Target::Group(group), text).await?.message_id)
}

fn text(m: &Message) -> String {
    match event(m) {
        Some(e) => format!("{e:?}"),
        None => String::from_utf8(m.content.clone()).unwrap(),
    }
}

/// The group's log as `client` may read it, after `anchor`.
async fn pull(client: &Client, group: u64, anchor: u64) -> Result<Vec<Message>, ClientError> {
    let mut out: Vec<Message> = Vec::new();
    let mut anchor = anchor;
    loop {
        let page = client.history(Target::Group(group), Direction::After, anchor, 100).await?;
        if let Some(last) = page.messages.last() {
            anchor = last.id;
        }
        out.extend(page.messages);
        if !page.more {
            return Ok(out);
        }
    }
}

/// What a device catching up from cursor `after` ends with, as
/// docs/PROTOCOL.md §8.3 tells a client to do: every update by `Sync`, then
/// each group `Sync` names pulled by `History` after the same cursor,
/// de-duplicated by id. Returns the group messages by id.
async fn catch_up(client: &Client, after: u64) -> BTreeMap<u64, Message> {
    let mut messages = BTreeMap::new();
    let mut news = BTreeSet::new();
    let mut cursor = after;
    loop {
        let page = client.sync_page(cursor, 100).await.unwrap();
        news.extend(page.groups.iter().map(|g| g.group_id));
        for update in &page.updates {
            if let Some(UpdateBody::Message(m)) = update.decode().unwrap() {
                if matches!(m.to, Target::Group(_)) {
                    messages.insert(m.id, m);
                }
            }
        }
        if let Some(last) = page.updates.last() {
            cursor = last.id;
        }
        if !page.more {
            break;
        }
    }
    for group in news {
        for m in pull(client, group, after).await.unwrap() {
            messages.insert(m.id, m);
        }
    }
    messages
}

/// The newest id a device has seen: its last update, or the newest group
/// message it could pull (a large group's messages are in no update log).
async fn newest_known(client: &Client, group: u64) -> u64 {
    let synced = client.sync_all(0).await.unwrap().last().map_or(0, |u| u.id);
    let pulled = pull(client, group, 0).await.unwrap().last().map_or(0, |m| m.id);
    synced.max(pulled)
}

/// The group messages pushed to `user`'s `client` for what was committed so far.
async fn group_messages_so_far(server: &TestServer, user: &str, client: &mut Client) -> Vec<Message> {
    let pushed = pushed_so_far(server, user, client).await;
    pushed
        .iter()
        .filter_map(|u| match u.decode().unwrap() {
            Some(UpdateBody::Message(m)) if matches!(m.to, Target::Group(_)) => Some(m),
            _ => None,
        })
        .collect()
}

async fn lifecycle_and_roles(kind: Kind) {
    let server = TestServer::start().await;
    let owner = server.user(kind, "olga").await;
    let admin = server.user(kind, "adam").await;
    let member = server.user(kind, "mia").await;
    let other = server.user(kind, "max").await;
    for u in [&admin, &member, &other] {
        accept_all(u).await;
    }
    let created = create(&owner.client, JoinPolicy::Approval, &[admin.user_id, member.user_id, other.user_id]).await;
    let group = created.group.group_id;
    assert_eq!(created.joined, [admin.user_id, member.user_id, other.user_id]);
    assert_eq!(created.group.member_count, 4);
    assert_eq!(created.group.my_role, Some(GroupRole::Owner));
    let gu = |user_id| (group, user_id);

    // Only the owner appoints admins.
    let appoint = |user_id, admin| SetAdminRequest { group_id: group, user_id, admin };
    assert_eq!(code(member.client.call(&appoint(admin.user_id, true)).await), Some(ErrorCode::NotPermitted));
    owner.client.call(&appoint(admin.user_id, true)).await.unwrap();
    owner.client.call(&appoint(other.user_id, true)).await.unwrap();
    assert_eq!(code(admin.client.call(&appoint(member.user_id, true)).await), Some(ErrorCode::NotPermitted));

    let kick = |(group_id, user_id)| KickMemberRequest { group_id, user_id };
    // Admin kicks admin, member kicks member, anyone kicks the owner: refused.
    assert_eq!(code(admin.client.call(&kick(gu(other.user_id))).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(member.client.call(&kick(gu(admin.user_id))).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(admin.client.call(&kick(gu(owner.user_id))).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(other.client.call(&kick(gu(owner.user_id))).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(owner.client.call(&kick(gu(owner.user_id))).await), Some(ErrorCode::InvalidArgument));
    // An admin kicks an ordinary member.
    admin.client.call(&kick(gu(member.user_id))).await.unwrap();
    assert_eq!(code(admin.client.call(&kick(gu(member.user_id))).await), Some(ErrorCode::NotFound));
    // The owner kicks an admin.
    owner.client.call(&kick(gu(other.user_id))).await.unwrap();

    // Only owners and admins change the information; everyone sees it.
    let update = UpdateGroupRequest { group_id: group, fields: fields("hikers of the north", JoinPolicy::Open, true) };
    assert_eq!(code(other.client.call(&update).await), Some(ErrorCode::NotPermitted));
    let info = admin.client.call(&update).await.unwrap();
    assert_eq!((info.name.as_str(), info.join_policy, info.member_count), ("hikers of the north", JoinPolicy::Open, 2));

    // The owner cannot leave; others can; a non-owner cannot dissolve or transfer.
    let leave = LeaveGroupRequest { group_id: group };
    assert_eq!(code(owner.client.call(&leave).await), Some(ErrorCode::Conflict));
    assert_eq!(code(admin.client.call(&DissolveGroupRequest { group_id: group }).await), Some(ErrorCode::NotPermitted));
    let transfer = |user_id| TransferGroupRequest { group_id: group, user_id };
    assert_eq!(code(admin.client.call(&transfer(admin.user_id)).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(owner.client.call(&transfer(member.user_id)).await), Some(ErrorCode::NotFound), "not a member");
    owner.client.call(&transfer(admin.user_id)).await.unwrap();
    let info = owner.client.call(&GetGroupRequest { group_id: group }).await.unwrap();
    assert_eq!((info.owner, info.my_role), (admin.user_id, Some(GroupRole::Member)));
    owner.client.call(&leave).await.unwrap();
    let mine = owner.client.call(&ListGroupsRequest { after: 0, limit: 10 }).await.unwrap();
    assert!(mine.groups.is_empty());

    // The new owner's list, aliases, members and the end of the group.
    admin.client.call(&SetAliasRequest { group_id: group, alias: "chief".into() }).await.unwrap();
    let members = admin
        .client
        .call(&ListMembersRequest { group_id: group, after: 0, limit: 10, online_only: false })
        .await
        .unwrap();
    assert_eq!(members.member_count, 1);
    assert_eq!(members.members[0].alias, "chief");
    assert_eq!(members.members[0].role, GroupRole::Owner);
    assert!(members.members[0].online);
    assert_eq!(code(owner.client.call(&DissolveGroupRequest { group_id: group }).await), Some(ErrorCode::NotPermitted));
    admin.client.call(&DissolveGroupRequest { group_id: group }).await.unwrap();
    assert_eq!(code(admin.client.call(&GetGroupRequest { group_id: group }).await), Some(ErrorCode::NotFound));
    assert_eq!(code(say(&admin.client, group, "anyone?").await), Some(ErrorCode::NotFound));
}
per_transport!(lifecycle_and_roles);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_and_invitations_follow_policies_and_blocks() {
    let server = TestServer::start().await;
    let mut owner = server.user(Kind::Tls, "olga").await;
    let mut asker = server.user(Kind::Tls, "ann").await;
    let mut invitee = server.user(Kind::Tls, "ivan").await;
    let eager = server.user(Kind::Tls, "eve").await;
    let blocker = server.user(Kind::Tls, "bob").await;
    accept_all(&eager).await;
    let group = create(&owner.client, JoinPolicy::Approval, &[]).await.group.group_id;

    // A join request reaches the owner as an update; asking twice files one.
    let JoinOutcome::Requested(request) = join(&asker, group).await.unwrap() else { panic!("needs approval") };
    let JoinOutcome::Requested(again) = join(&asker, group).await.unwrap() else { panic!("still pending") };
    assert_eq!(request.id, again.id, "requests do not pile up");
    let pushed = loop {
        let update = owner.client.update_within(SOON).await.unwrap();
        if update.kind != UpdateKind::Message as u8 {
            break update;
        }
    };
    assert_eq!(pushed.id, request.id);
    assert_eq!(pushed.decode().unwrap(), Some(UpdateBody::GroupJoinRequest(request.clone())));
    let listed = owner.client.call(&ListJoinRequestsRequest { group_id: group, after: 0, limit: 10 }).await.unwrap();
    assert_eq!(listed.requests, std::slice::from_ref(&request));
    let answer = |accept| AnswerJoinRequest { group_id: group, user_id: asker.user_id, accept };
    assert_eq!(code(asker.client.call(&answer(true)).await), Some(ErrorCode::NotPermitted), "not a decider");
    let answered = owner.client.call(&answer(true)).await.unwrap();
    assert_eq!(answered.state, RequestState::Accepted);
    let heard = loop {
        match asker.client.update_within(SOON).await.unwrap().decode().unwrap() {
            Some(UpdateBody::GroupJoinRequest(info)) => break info,
            _ => continue,
        }
    };
    assert_eq!(heard, answered);
    assert_eq!(code(owner.client.call(&answer(true)).await), Some(ErrorCode::NotFound), "answered already");

    // An invitation waits for the invitee, who accepts it.
    let invite = |user_id| InviteToGroupRequest { group_id: group, user_id };
    assert_eq!(code(asker.client.call(&invite(invitee.user_id)).await), Some(ErrorCode::NotPermitted));
    let invitation = owner.client.call(&invite(invitee.user_id)).await.unwrap();
    assert_eq!(invitation.state, RequestState::Pending);
    let pending = invitee.client.call(&ListInvitationsRequest { after: 0, limit: 10 }).await.unwrap();
    assert_eq!(pending.invitations, std::slice::from_ref(&invitation));
    let accepted = invitee.client.call(&AnswerInvitationRequest { group_id: group, accept: true }).await.unwrap();
    assert_eq!(accepted.state, RequestState::Accepted);
    let invited_update = loop {
        match invitee.client.update_within(SOON).await.unwrap().decode().unwrap() {
            Some(UpdateBody::GroupInvitation(info)) => break info,
            _ => continue,
        }
    };
    assert_eq!(invited_update.id, invitation.id);

    // Someone whose policy accepts everyone is in at once.
    let auto = owner.client.call(&invite(eager.user_id)).await.unwrap();
    assert_eq!(auto.state, RequestState::Accepted);
    // A block either way stops an invitation.
    blocker.client.call(&BlockRequest { user_id: owner.user_id }).await.unwrap();
    assert_eq!(code(owner.client.call(&invite(blocker.user_id)).await), Some(ErrorCode::NotPermitted));
    let info = owner.client.call(&GetGroupRequest { group_id: group }).await.unwrap();
    assert_eq!(info.member_count, 4);

    // Invite-only groups take no joins, only invitations.
    let closed = create(&owner.client, JoinPolicy::InviteOnly, &[]).await.group.group_id;
    assert_eq!(code(join(&asker, closed).await), Some(ErrorCode::NotPermitted));
    // It shows itself only to members and invitees.
    let look = GetGroupRequest { group_id: closed };
    assert_eq!(code(asker.client.call(&look).await), Some(ErrorCode::NotFound));
    owner.client.call(&InviteToGroupRequest { group_id: closed, user_id: asker.user_id }).await.unwrap();
    assert_eq!(asker.client.call(&look).await.unwrap().my_role, None);
    let created = create(&owner.client, JoinPolicy::Open, &[blocker.user_id, eager.user_id, invitee.user_id]).await;
    assert_eq!(created.refused, [blocker.user_id]);
    assert_eq!(created.joined, [eager.user_id]);
    assert_eq!(created.invited, [invitee.user_id]);
    let JoinOutcome::Joined(open) = join(&asker, created.group.group_id).await.unwrap() else { panic!("open group") };
    assert_eq!(open.my_role, Some(GroupRole::Member));
    assert_eq!(code(join(&asker, created.group.group_id).await), Some(ErrorCode::Conflict));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_user_is_refused_on_every_path_in() {
    let server = TestServer::start().await;
    let owner = server.user(Kind::Tcp, "olga").await;
    let banned = server.user(Kind::Tcp, "bart").await;
    let member = server.user(Kind::Tcp, "mia").await;
    accept_all(&member).await;
    let open = create(&owner.client, JoinPolicy::Open, &[member.user_id]).await.group.group_id;
    let approval = create(&owner.client, JoinPolicy::Approval, &[]).await.group.group_id;
    let invite = |group_id, user_id| InviteToGroupRequest { group_id, user_id };
    let ban = |group_id, user_id, banned| BanRequest { group_id, user_id, banned };

    // An old invitation, then the ban.
    let old = owner.client.call(&invite(approval, banned.user_id)).await.unwrap();
    assert_eq!(old.state, RequestState::Pending);
    assert_eq!(code(member.client.call(&ban(open, banned.user_id, true)).await), Some(ErrorCode::NotPermitted));
    owner.client.call(&ban(open, banned.user_id, true)).await.unwrap();
    owner.client.call(&ban(approval, banned.user_id, true)).await.unwrap();

    assert_eq!(code(join(&banned, open).await), Some(ErrorCode::Banned), "join");
    assert_eq!(code(join(&banned, approval).await), Some(ErrorCode::Banned), "join request");
    assert_eq!(code(owner.client.call(&invite(open, banned.user_id)).await), Some(ErrorCode::Banned), "invitation");
    let accept = AnswerInvitationRequest { group_id: approval, accept: true };
    assert_eq!(code(banned.client.call(&accept).await), Some(ErrorCode::Banned), "an old invitation");
    assert_eq!(code(banned.client.call(&GetGroupRequest { group_id: open }).await), Some(ErrorCode::Banned));

    let bans = owner.client.call(&ListBansRequest { group_id: open, after: 0, limit: 10 }).await.unwrap();
    assert_eq!(bans.bans.len(), 1);
    assert_eq!((bans.bans[0].user.user_id, bans.bans[0].by), (banned.user_id, owner.user_id));

    // Banning a member removes them; unbanning lets a user back in.
    owner.client.call(&ban(open, member.user_id, true)).await.unwrap();
    assert_eq!(code(say(&member.client, open, "still here?").await), Some(ErrorCode::NotPermitted));
    owner.client.call(&ban(open, banned.user_id, false)).await.unwrap();
    assert_eq!(code(owner.client.call(&ban(open, banned.user_id, false)).await), Some(ErrorCode::NotFound));
    assert!(matches!(join(&banned, open).await.unwrap(), JoinOutcome::Joined(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutes_expire_and_a_muted_group_hears_only_its_leaders() {
    let server = TestServer::start().await;
    let owner = server.user(Kind::Quic, "olga").await;
    let admin = server.user(Kind::Quic, "adam").await;
    let member = server.user(Kind::Quic, "mia").await;
    accept_all(&admin).await;
    accept_all(&member).await;
    let group = create(&owner.client, JoinPolicy::Open, &[admin.user_id, member.user_id]).await.group.group_id;
    owner.client.call(&SetAdminRequest { group_id: group, user_id: admin.user_id, admin: true }).await.unwrap();

    let now = kith::id::now_ms();
    let mute = |user_id, until| MuteMemberRequest { group_id: group, user_id, until };
    assert_eq!(code(member.client.call(&mute(admin.user_id, now + 60_000)).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(admin.client.call(&mute(owner.user_id, now + 60_000)).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(admin.client.call(&mute(member.user_id, now - 1)).await), Some(ErrorCode::InvalidArgument));
    admin.client.call(&mute(member.user_id, now + 1_500)).await.unwrap();
    let refused = say(&member.client, group, "hello?").await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Muted));
    assert!(refused.retry_after().is_some_and(|wait| wait <= Duration::from_millis(1_500)));
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    say(&member.client, group, "the mute has expired").await.unwrap();

    let mute_all = |muted| MuteGroupRequest { group_id: group, muted };
    assert_eq!(code(member.client.call(&mute_all(true)).await), Some(ErrorCode::NotPermitted));
    admin.client.call(&mute_all(true)).await.unwrap();
    assert_eq!(code(say(&member.client, group, "hello?").await), Some(ErrorCode::Muted));
    say(&admin.client, group, "admins speak").await.unwrap();
    say(&owner.client, group, "and the owner").await.unwrap();
    owner.client.call(&mute_all(false)).await.unwrap();
    say(&member.client, group, "free again").await.unwrap();
}

/// A mute is not lifted by leaving (or being kicked) and joining again:
/// it comes back with the member until it runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mute_outlasts_leaving_and_coming_back() {
    let server = TestServer::start().await;
    let owner = server.user(Kind::Tcp, "olga").await;
    let member = server.user(Kind::Tcp, "mia").await;
    let group = create(&owner.client, JoinPolicy::Open, &[]).await.group.group_id;
    let join = JoinGroupRequest { group_id: group, message: String::new() };
    member.client.call(&join).await.unwrap();
    let until = kith::id::now_ms() + 2_500;
    owner.client.call(&MuteMemberRequest { group_id: group, user_id: member.user_id, until }).await.unwrap();
    assert_eq!(code(say(&member.client, group, "hello?").await), Some(ErrorCode::Muted));

    member.client.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
    member.client.call(&join).await.unwrap();
    let refused = say(&member.client, group, "back again").await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Muted), "leaving did not lift the mute");
    owner.client.call(&KickMemberRequest { group_id: group, user_id: member.user_id }).await.unwrap();
    member.client.call(&join).await.unwrap();
    assert_eq!(code(say(&member.client, group, "and again").await), Some(ErrorCode::Muted), "nor did a kick");
    let list = ListMembersRequest { group_id: group, after: 0, limit: 10, online_only: false };
    let members = owner.client.call(&list).await.unwrap().members;
    let listed = members.into_iter().find(|m| m.user.user_id == member.user_id).unwrap();
    assert_eq!(listed.muted_until, until);

    let wait = until.saturating_sub(kith::id::now_ms()) + 100;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    member.client.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
    member.client.call(&join).await.unwrap();
    say(&member.client, group, "the mute ran out").await.unwrap();
}

/// Invitations one user sends are limited per hour, a new group's initial
/// members included, so no one can flood others' update logs with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_limited_per_hour() {
    let server = TestServer::start_with(|c| c.group.invitations_per_hour = 3).await;
    let owner = server.user(Kind::Tcp, "olga").await;
    let mut others = Vec::new();
    for name in ["ann", "ben", "cat", "dan"] {
        others.push(server.user(Kind::Tcp, name).await.user_id);
    }
    let group = create(&owner.client, JoinPolicy::Approval, &others[..2]).await.group.group_id;
    let invite = |user_id| InviteToGroupRequest { group_id: group, user_id };
    owner.client.call(&invite(others[2])).await.unwrap();
    let refused = owner.client.call(&invite(others[3])).await.unwrap_err();
    assert_eq!((refused.code(), refused.limit()), (Some(ErrorCode::RateLimited), Some(3)));
    assert_eq!(refused.rate_limit_reason(), Some(kith::protocol::RateLimitReason::Quota));
    assert!(refused.retry_after().is_some_and(|wait| wait <= Duration::from_secs(3600)));
    let with_member = CreateGroupRequest { fields: fields("more", JoinPolicy::Open, false), members: vec![others[3]] };
    assert_eq!(code(owner.client.call(&with_member).await), Some(ErrorCode::RateLimited));
    create(&owner.client, JoinPolicy::Open, &[]).await;
    // Someone else's quota is their own.
    let ann = server.device(Kind::Tcp, "ann", "ann-phone", kith::protocol::DeviceType::Mobile).await.0;
    let own = CreateGroupRequest { fields: fields("ann's", JoinPolicy::Open, false), members: vec![others[3]] };
    ann.call(&own).await.unwrap();
}

/// An invitation stands only while its inviter may still invite; one that
/// no longer stands is listed and answered as `Expired`, and answering
/// clears it. Dissolving the group clears its invitations at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_expire_with_their_group_or_their_inviters_right() {
    let server = TestServer::start().await;
    let owner = server.user(Kind::Tls, "olga").await;
    let admin = server.user(Kind::Tls, "adam").await;
    let invitee = server.user(Kind::Tls, "ivy").await;
    accept_all(&admin).await;
    let approval = create(&owner.client, JoinPolicy::Approval, &[admin.user_id]).await.group.group_id;
    let ended = create(&owner.client, JoinPolicy::Approval, &[]).await.group.group_id;
    owner.client.call(&SetAdminRequest { group_id: approval, user_id: admin.user_id, admin: true }).await.unwrap();
    let by_admin = admin.client.call(&InviteToGroupRequest { group_id: approval, user_id: invitee.user_id }).await;
    let by_owner = owner.client.call(&InviteToGroupRequest { group_id: ended, user_id: invitee.user_id }).await;
    assert_eq!((by_admin.unwrap().state, by_owner.unwrap().state), (RequestState::Pending, RequestState::Pending));

    // The admin becomes an ordinary member; the other group ends.
    owner.client.call(&SetAdminRequest { group_id: approval, user_id: admin.user_id, admin: false }).await.unwrap();
    owner.client.call(&DissolveGroupRequest { group_id: ended }).await.unwrap();
    let list = invitee.client.call(&ListInvitationsRequest { after: 0, limit: 10 }).await.unwrap();
    let states: BTreeMap<u64, (RequestState, String)> =
        list.invitations.iter().map(|i| (i.group_id, (i.state, i.group_name.clone()))).collect();
    assert_eq!(states[&approval], (RequestState::Expired, "hikers".to_string()));
    assert!(!states.contains_key(&ended), "dissolving its group cleared the other (revision 11)");

    let accept = |group_id| AnswerInvitationRequest { group_id, accept: true };
    let answered = invitee.client.call(&accept(approval)).await.unwrap();
    assert_eq!(answered.state, RequestState::Expired);
    let info = invitee.client.call(&GetGroupRequest { group_id: approval }).await.unwrap();
    assert_eq!((info.my_role, info.member_count), (None, 2), "not let in");
    assert_eq!(code(invitee.client.call(&accept(ended)).await), Some(ErrorCode::NotFound));
    let list = invitee.client.call(&ListInvitationsRequest { after: 0, limit: 10 }).await.unwrap();
    assert!(list.invitations.is_empty(), "answering cleared it: {list:?}");
    assert_eq!(code(invitee.client.call(&accept(approval)).await), Some(ErrorCode::NotFound));

    // An invitation from someone who may invite still stands.
    let again = owner.client.call(&InviteToGroupRequest { group_id: approval, user_id: invitee.user_id }).await;
    assert_eq!(again.unwrap().state, RequestState::Pending);
    assert_eq!(invitee.client.call(&accept(approval)).await.unwrap().state, RequestState::Accepted);
}

/// Three members; one goes offline, the group talks and changes, and the
/// returning member's catch-up holds every message and event the others
/// saw, under the same ids — with the group below or above the diffusion
/// threshold.
async fn offline_member_catches_up(kind: Kind, threshold: u32) {
    let server = TestServer::start_with(|c| c.group.write_diffusion_max = threshold).await;
    let owner = server.user(kind, "olga").await;
    let mut online = server.user(kind, "otto").await;
    let away = server.user(kind, "anna").await;
    let late = server.user(kind, "lars").await;
    accept_all(&online).await;
    accept_all(&away).await;
    accept_all(&late).await;
    let group = create(&owner.client, JoinPolicy::Open, &[online.user_id, away.user_id]).await.group.group_id;
    group_messages_so_far(&server, &online.name, &mut online.client).await;
    let cursor = newest_known(&away.client, group).await;
    drop(away);

    let mut sent = vec![say(&owner.client, group, "one").await.unwrap()];
    let own = say(&online.client, group, "two").await.unwrap();
    sent.push(own);
    assert!(matches!(join(&late, group).await.unwrap(), JoinOutcome::Joined(_)));
    sent.push(say(&late.client, group, "three").await.unwrap());
    owner.client.call(&KickMemberRequest { group_id: group, user_id: late.user_id }).await.unwrap();
    sent.push(say(&owner.client, group, "four").await.unwrap());

    let seen_live = group_messages_so_far(&server, &online.name, &mut online.client).await;
    let back = server.device(kind, "anna", "anna-phone", kith::protocol::DeviceType::Mobile).await.0;
    let caught: Vec<Message> = catch_up(&back, cursor).await.into_values().collect();
    // Live pushes skip the sending device; otherwise the same messages under
    // the same ids, live and by catching up.
    let others: Vec<Message> = caught.iter().filter(|m| m.id != own).cloned().collect();
    assert_eq!(others, seen_live);
    let texts: Vec<String> = caught.iter().map(text).collect();
    let expected = [
        "one".to_string(),
        "two".into(),
        format!("{:?}", GroupEvent::Joined { user_id: late.user_id, by: late.user_id }),
        "three".into(),
        format!("{:?}", GroupEvent::Kicked { user_id: late.user_id, by: owner.user_id }),
        "four".into(),
    ];
    assert_eq!(texts, expected);
    for id in sent {
        assert!(caught.iter().any(|m| m.id == id), "acknowledged message {id} is there");
    }
    // The log holds each message once, whichever way it reached members.
    assert_eq!(pull(&owner.client, group, cursor).await.unwrap(), caught);
}

async fn offline_catch_up_by_write_diffusion(kind: Kind) {
    offline_member_catches_up(kind, 500).await;
}
per_transport!(offline_catch_up_by_write_diffusion);

async fn offline_catch_up_by_read_diffusion(kind: Kind) {
    offline_member_catches_up(kind, 1).await;
}
per_transport!(offline_catch_up_by_read_diffusion);

/// How a membership ends in [`departed_members_phone_catches_up_to_the_exit`].
#[derive(Debug, Clone, Copy)]
enum Exit {
    /// The member leaves, from another of their devices.
    Leave,
    /// The owner kicks them.
    Kick,
    /// The owner bans them.
    Ban,
    /// The owner dissolves the group.
    Dissolve,
}

/// A member's phone is off while the group talks and the membership ends;
/// back on, the phone's catch-up (docs/PROTOCOL.md §8.3) holds every
/// message up to the exit and nothing newer, under the ids the owner reads.
async fn departed_members_phone_catches_up_to_the_exit(server: &TestServer, kind: Kind, exit: Exit) {
    let tag = format!("{exit:?}").to_lowercase();
    let owner = server.user(kind, &format!("olga{tag}")).await;
    let stays = server.user(kind, &format!("otto{tag}")).await;
    let name = format!("anna{tag}");
    let phone = server.user(kind, &name).await;
    accept_all(&stays).await;
    accept_all(&phone).await;
    let anna = phone.user_id;
    let group = create(&owner.client, JoinPolicy::Open, &[stays.user_id, anna]).await.group.group_id;
    let cursor = newest_known(&phone.client, group).await;
    drop(phone);

    say(&owner.client, group, "one").await.unwrap();
    say(&stays.client, group, "two").await.unwrap();
    let (by, event) = match exit {
        Exit::Leave => {
            let tablet = server.device(kind, &name, "anna-tablet", kith::protocol::DeviceType::Tablet).await.0;
            tablet.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
            (anna, GroupEvent::Left { user_id: anna })
        }
        Exit::Kick => {
            owner.client.call(&KickMemberRequest { group_id: group, user_id: anna }).await.unwrap();
            (owner.user_id, GroupEvent::Kicked { user_id: anna, by: owner.user_id })
        }
        Exit::Ban => {
            owner.client.call(&BanRequest { group_id: group, user_id: anna, banned: true }).await.unwrap();
            (owner.user_id, GroupEvent::Banned { user_id: anna, by: owner.user_id })
        }
        Exit::Dissolve => {
            owner.client.call(&DissolveGroupRequest { group_id: group }).await.unwrap();
            (owner.user_id, GroupEvent::Dissolved { by: owner.user_id })
        }
    };
    let later = match exit {
        Exit::Dissolve => None,
        _ => Some(say(&stays.client, group, "after the exit").await.unwrap()),
    };

    let back = server.device(kind, &name, &format!("{name}-phone"), kith::protocol::DeviceType::Mobile).await.0;
    let caught: Vec<Message> = catch_up(&back, cursor).await.into_values().collect();
    let texts: Vec<String> = caught.iter().map(text).collect();
    assert_eq!(texts, ["one".to_string(), "two".into(), format!("{event:?}")], "{exit:?}");
    let last = caught.last().unwrap();
    assert_eq!(last.sender, by);
    // The owner reads the same messages under the same ids (after a
    // dissolution, as a former member too); the phone reads nothing newer.
    let log = pull(&owner.client, group, cursor).await.unwrap();
    assert_eq!(log.iter().filter(|m| m.id <= last.id).cloned().collect::<Vec<_>>(), caught, "{exit:?}");
    assert_eq!(log.last().map(|m| m.id), later.or(Some(last.id)));
    assert_eq!(pull(&back, group, 0).await.unwrap().last(), Some(last), "History stops at the exit");
    let newest = back.history(Target::Group(group), Direction::Before, 0, 1).await.unwrap();
    assert_eq!((newest.messages.last(), newest.more), (Some(last), true));
    // Still no way back in by writing.
    assert_eq!(
        code(say(&back, group, "still here?").await),
        Some(if matches!(exit, Exit::Dissolve) { ErrorCode::NotFound } else { ErrorCode::NotPermitted })
    );
}

async fn departed_members_catch_up(kind: Kind, threshold: u32) {
    let server = TestServer::start_with(|c| c.group.write_diffusion_max = threshold).await;
    for exit in [Exit::Leave, Exit::Kick, Exit::Ban, Exit::Dissolve] {
        departed_members_phone_catches_up_to_the_exit(&server, kind, exit).await;
    }
}

async fn departed_members_catch_up_by_read_diffusion(kind: Kind) {
    departed_members_catch_up(kind, 1).await;
}
per_transport!(departed_members_catch_up_by_read_diffusion);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departed_members_catch_up_by_write_diffusion() {
    departed_members_catch_up(Kind::Tcp, 500).await;
}

/// A member leaves a large group and joins again while their phone is off:
/// the phone catches up on both memberships and on nothing said between
/// them; a device that was never a member reads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_away_across_a_leave_and_a_return_skips_the_time_between() {
    let server = TestServer::start_with(|c| c.group.write_diffusion_max = 1).await;
    let owner = server.user(Kind::Tls, "olga").await;
    let phone = server.user(Kind::Tls, "anna").await;
    let stranger = server.user(Kind::Tls, "sam").await;
    accept_all(&phone).await;
    let anna = phone.user_id;
    let group = create(&owner.client, JoinPolicy::Open, &[anna]).await.group.group_id;
    let cursor = newest_known(&phone.client, group).await;
    drop(phone);
    let tablet = server.device(Kind::Tls, "anna", "anna-tablet", kith::protocol::DeviceType::Tablet).await.0;

    let first = say(&owner.client, group, "first membership").await.unwrap();
    tablet.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
    let between = say(&owner.client, group, "while she is out").await.unwrap();
    assert!(matches!(
        tablet.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.unwrap(),
        JoinOutcome::Joined(_)
    ));
    let second = say(&owner.client, group, "second membership").await.unwrap();

    let back = server.device(Kind::Tls, "anna", "anna-phone", kith::protocol::DeviceType::Mobile).await.0;
    let caught = catch_up(&back, cursor).await;
    assert!(caught.contains_key(&first) && caught.contains_key(&second));
    assert!(!caught.contains_key(&between), "nothing from between the two memberships");
    let texts: Vec<String> = caught.values().map(text).collect();
    assert_eq!(
        texts,
        [
            "first membership".to_string(),
            format!("{:?}", GroupEvent::Left { user_id: anna }),
            format!("{:?}", GroupEvent::Joined { user_id: anna, by: anna }),
            "second membership".into(),
        ]
    );
    // Paging back from the newest crosses the gap the same way.
    let mut older = Vec::new();
    let mut anchor = 0;
    loop {
        let page = back.history(Target::Group(group), Direction::Before, anchor, 1).await.unwrap();
        older.splice(0..0, page.messages.iter().map(|m| m.id));
        anchor = page.messages.first().map_or(anchor, |m| m.id);
        if !page.more {
            break;
        }
    }
    assert!(older.ends_with(&caught.keys().copied().collect::<Vec<_>>()));
    assert!(!older.contains(&between));
    assert_eq!(code(pull(&stranger.client, group, 0).await), Some(ErrorCode::NotPermitted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_crossing_the_threshold_loses_and_repeats_nothing() {
    let server = TestServer::start_with(|c| c.group.write_diffusion_max = 3).await;
    let owner = server.user(Kind::Tls, "olga").await;
    let member = server.user(Kind::Tls, "otto").await;
    let away = server.user(Kind::Tls, "anna").await;
    let extra = server.user(Kind::Tls, "emil").await;
    for u in [&member, &away, &extra] {
        accept_all(u).await;
    }
    let group = create(&owner.client, JoinPolicy::Open, &[member.user_id, away.user_id]).await.group.group_id;
    let cursor = newest_known(&away.client, group).await;
    let mut away = away;

    let mut expected = Vec::new();
    expected.push(say(&owner.client, group, "small 1").await.unwrap());
    // A fourth member: above the threshold, messages go unlogged.
    assert!(matches!(join(&extra, group).await.unwrap(), JoinOutcome::Joined(_)));
    expected.push(say(&member.client, group, "large 1").await.unwrap());
    expected.push(say(&owner.client, group, "large 2").await.unwrap());
    extra.client.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
    // Back to three: logged again.
    expected.push(say(&member.client, group, "small 2").await.unwrap());

    // Live, the member online the whole time saw every message once.
    let live: Vec<Message> = group_messages_so_far(&server, &away.name, &mut away.client)
        .await
        .into_iter()
        .filter(|m| m.id > cursor)
        .collect();
    let caught: Vec<Message> = catch_up(&away.client, cursor).await.into_values().collect();
    assert_eq!(caught, live);
    let ids: Vec<u64> = caught.iter().filter(|m| m.kind == MessageKind::Text).map(|m| m.id).collect();
    assert_eq!(ids, expected);
    assert_eq!(caught.len(), 6, "four messages, the join and the leave");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsiders_and_the_kicked_get_nothing() {
    let server = TestServer::start().await;
    let owner = server.user(Kind::Tls, "olga").await;
    let mut kicked = server.user(Kind::Tls, "kurt").await;
    let stranger = server.user(Kind::Tls, "sam").await;
    accept_all(&kicked).await;
    let group = create(&owner.client, JoinPolicy::InviteOnly, &[kicked.user_id]).await.group.group_id;

    assert_eq!(code(say(&stranger.client, group, "hi").await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(pull(&stranger.client, group, 0).await), Some(ErrorCode::NotPermitted));
    let members = ListMembersRequest { group_id: group, after: 0, limit: 10, online_only: false };
    assert_eq!(code(stranger.client.call(&members).await), Some(ErrorCode::NotPermitted));
    assert_eq!(code(say(&stranger.client, 424_242, "hi").await), Some(ErrorCode::NotFound));
    let system = SendRequest {
        to: Target::Group(group),
        client_msg_id: kith::client::new_client_msg_id(),
        kind: MessageKind::System,
        content: vec![],
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    };
    assert_eq!(code(owner.client.call(&system).await), Some(ErrorCode::InvalidArgument));

    // A retried group message is answered with the original, stored once;
    // any kind a 1:1 message may carry works in a group.
    let image = SendRequest {
        to: Target::Group(group),
        client_msg_id: kith::client::new_client_msg_id(),
        kind: MessageKind::Custom,
        content: vec![0xff, 0xd8, 0xff],
        extra: Some("{\"w\":1}".into()),
        reply_to: 0,
        mentions: Vec::new(),
    };
    let first = owner.client.call(&image).await.unwrap();
    let retry = owner.client.call(&image).await.unwrap();
    assert!(!first.duplicate && retry.duplicate);
    assert_eq!(retry.message_id, first.message_id);
    let stored = pull(&owner.client, group, 0).await.unwrap();
    assert_eq!(stored.iter().filter(|m| m.kind == MessageKind::Custom).count(), 1);
    let pushed = group_messages_so_far(&server, &kicked.name, &mut kicked.client).await;
    let image_push = pushed.iter().find(|m| m.id == first.message_id).expect("pushed once");
    assert_eq!(
        (image_push.content.as_slice(), image_push.extra.as_deref()),
        (&[0xff, 0xd8, 0xff][..], Some("{\"w\":1}"))
    );
    assert_eq!(pushed.iter().filter(|m| m.id == first.message_id).count(), 1);

    let before = say(&owner.client, group, "before the kick").await.unwrap();
    owner.client.call(&KickMemberRequest { group_id: group, user_id: kicked.user_id }).await.unwrap();
    let after = say(&owner.client, group, "after the kick").await.unwrap();
    let live = group_messages_so_far(&server, &kicked.name, &mut kicked.client).await;
    let last = live.last().expect("the kick itself reaches the kicked member");
    assert_eq!(event(last), Some(GroupEvent::Kicked { user_id: kicked.user_id, by: owner.user_id }));
    assert!(live.iter().any(|m| m.id == before));
    let synced = kicked.client.sync_messages(0).await.unwrap();
    assert!(synced.iter().all(|m| m.id < after), "nothing newer than the kick");
    // Their History ends with the kick; writing is refused.
    let readable = pull(&kicked.client, group, 0).await.unwrap();
    assert!(readable.iter().any(|m| m.id == before));
    assert_eq!(readable.last().map(|m| m.id), live.last().map(|m| m.id), "nothing newer than the kick");
    assert_eq!(code(say(&kicked.client, group, "let me back").await), Some(ErrorCode::NotPermitted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_members_see_history_only_when_the_group_shows_it() {
    let server = TestServer::start().await;
    let owner = server.user(Kind::Tcp, "olga").await;
    let newcomer = server.user(Kind::Tcp, "nina").await;
    for history_visible in [false, true] {
        let request =
            CreateGroupRequest { fields: fields("book club", JoinPolicy::Open, history_visible), members: vec![] };
        let group = owner.client.call(&request).await.unwrap().group.group_id;
        let old = say(&owner.client, group, "before you came").await.unwrap();
        join(&newcomer, group).await.unwrap();
        let new = say(&owner.client, group, "welcome").await.unwrap();
        let seen: Vec<u64> = pull(&newcomer.client, group, 0).await.unwrap().iter().map(|m| m.id).collect();
        assert!(seen.contains(&new));
        assert_eq!(seen.contains(&old), history_visible, "history_visible = {history_visible}");
        let before = newcomer.client.history(Target::Group(group), Direction::Before, 0, 100).await.unwrap();
        assert_eq!(before.messages.iter().any(|m| m.id == old), history_visible);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_limits_and_bad_fields_are_refused() {
    let server = TestServer::start_with(|c| {
        c.group.max_members = 2;
        c.group.max_groups_per_user = 2;
    })
    .await;
    let owner = server.user(Kind::Tls, "olga").await;
    let first = server.user(Kind::Tls, "fred").await;
    let second = server.user(Kind::Tls, "sara").await;

    let bad = CreateGroupRequest { fields: fields(" ", JoinPolicy::Open, false), members: vec![] };
    let err = owner.client.call(&bad).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidArgument));
    assert!(err.to_string().contains("name"), "{err}");
    let mut long = fields("ok", JoinPolicy::Open, false);
    long.announcement = "x".repeat(2049);
    let err = owner.client.call(&CreateGroupRequest { fields: long, members: vec![] }).await.unwrap_err();
    assert_eq!((err.code(), err.limit()), (Some(ErrorCode::InvalidArgument), Some(2048)));
    let too_many = CreateGroupRequest { fields: fields("ok", JoinPolicy::Open, false), members: vec![7, 8] };
    assert_eq!(code(owner.client.call(&too_many).await), Some(ErrorCode::InvalidArgument));

    let group = create(&owner.client, JoinPolicy::Open, &[]).await.group.group_id;
    join(&first, group).await.unwrap();
    let full = join(&second, group).await.unwrap_err();
    assert_eq!((full.code(), full.limit()), (Some(ErrorCode::NotPermitted), Some(2)));

    // The caller and repeats do not count towards the initial members.
    let repeats = vec![owner.user_id, first.user_id, first.user_id];
    let second_group = CreateGroupRequest { fields: fields("second", JoinPolicy::Open, false), members: repeats };
    let made = owner.client.call(&second_group).await.unwrap();
    assert_eq!(made.joined.len() + made.invited.len() + made.refused.len(), 1, "{made:?}");
    let third = CreateGroupRequest { fields: fields("third", JoinPolicy::Open, false), members: vec![] };
    let err = owner.client.call(&third).await.unwrap_err();
    assert_eq!((err.code(), err.limit()), (Some(ErrorCode::NotPermitted), Some(2)));

    let alias = SetAliasRequest { group_id: group, alias: "x".repeat(33) };
    assert_eq!(code(first.client.call(&alias).await), Some(ErrorCode::InvalidArgument));
    let page = ListMembersRequest { group_id: group, after: 0, limit: 0, online_only: false };
    assert_eq!(code(first.client.call(&page).await), Some(ErrorCode::InvalidArgument));
    assert_eq!(code(first.client.call(&GetGroupRequest { group_id: 1 }).await), Some(ErrorCode::NotFound));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_group_bodies_are_refused_and_the_connection_stays() {
    use kith::codec::encode_wire;
    use kith::protocol::{ErrorBody, GetGroupRequest, ERROR_ACTION};
    let server = TestServer::start().await;
    let owner = server.user(Kind::Tcp, "olga").await;
    let error = |reply: kith::client::RawReply| {
        assert_eq!(reply.action, ERROR_ACTION);
        decode_wire::<ErrorBody>(&reply.body).unwrap().error_code()
    };
    // An unknown join policy (the last byte but one of the fields).
    let mut body = encode_wire(&CreateGroupRequest { fields: fields("ok", JoinPolicy::Open, false), members: vec![] });
    let policy = body.len() - 8 - 2;
    assert_eq!(body[policy], JoinPolicy::Open as u8);
    body[policy] = 9;
    let reply = owner.client.request_raw(kith::protocol::Action::CreateGroup as u8, body).await.unwrap();
    assert_eq!(error(reply), Some(ErrorCode::MalformedBody));
    // A Target variant the protocol does not have.
    let mut send = encode_wire(&SendRequest {
        to: Target::Group(1),
        client_msg_id: [0; 16],
        kind: MessageKind::Text,
        content: b"x".to_vec(),
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    });
    send[3] = 2;
    let reply = owner.client.request_raw(kith::protocol::Action::Send as u8, send).await.unwrap();
    assert_eq!(error(reply), Some(ErrorCode::MalformedBody));
    // A truncated body.
    let short = encode_wire(&GetGroupRequest { group_id: 7 })[..5].to_vec();
    let reply = owner.client.request_raw(kith::protocol::Action::GetGroup as u8, short).await.unwrap();
    assert_eq!(error(reply), Some(ErrorCode::MalformedBody));
    // The connection still works.
    create(&owner.client, JoinPolicy::Open, &[]).await;
}

/// Dissolving a group leaves its log and what its readers keep of it —
/// their windows, their own marks in it, the pointers in their update logs —
/// and nothing else: a backup read key by key holds the group's id only in
/// those keyspaces. A per-group keyspace the dissolve forgets fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dissolved_group_leaves_its_log_and_nothing_else() {
    use kith::protocol::{DeleteForMeRequest, MarkReadRequest, RetentionRequest};
    use kith::storage::schema;
    // Above two members the group's messages are unlogged: its marker is used.
    let server = TestServer::start_with(|c| c.group.write_diffusion_max = 2).await;
    let owner = server.user(Kind::Tcp, "olga").await;
    let admin = server.user(Kind::Tcp, "adam").await;
    let member = server.user(Kind::Tcp, "mia").await;
    let muted = server.user(Kind::Tcp, "max").await;
    let leaver = server.user(Kind::Tcp, "lea").await;
    let banned = server.user(Kind::Tcp, "ben").await;
    let asking = server.user(Kind::Tcp, "ann").await;
    let invited = server.user(Kind::Tcp, "ida").await;
    for u in [&admin, &member, &muted, &leaver] {
        accept_all(u).await;
    }
    let members = [admin.user_id, member.user_id, muted.user_id, leaver.user_id];
    let g = create(&owner.client, JoinPolicy::Approval, &members).await.group.group_id;
    let (gc, to_g) = (&owner.client, Target::Group(g));
    gc.call(&SetAdminRequest { group_id: g, user_id: admin.user_id, admin: true }).await.unwrap();
    let first = say(gc, g, "one").await.unwrap();
    say(&member.client, g, "two").await.unwrap();
    member.client.call(&MarkReadRequest { with: to_g, up_to: first }).await.unwrap();
    member.client.call(&SetAliasRequest { group_id: g, alias: "mimi".into() }).await.unwrap();
    member.client.call(&DeleteForMeRequest { with: to_g, message_ids: vec![first], clear_up_to: 0 }).await.unwrap();
    let until = kith::id::now_ms() + 3_600_000;
    gc.call(&MuteMemberRequest { group_id: g, user_id: muted.user_id, until }).await.unwrap();
    gc.call(&BanRequest { group_id: g, user_id: banned.user_id, banned: true }).await.unwrap();
    assert!(matches!(join(&asking, g).await.unwrap(), JoinOutcome::Requested(_)));
    gc.call(&InviteToGroupRequest { group_id: g, user_id: invited.user_id }).await.unwrap();
    gc.call(&RetentionRequest { with: to_g, set: Some(86_400) }).await.unwrap();
    leaver.client.call(&LeaveGroupRequest { group_id: g }).await.unwrap();
    gc.call(&DissolveGroupRequest { group_id: g }).await.unwrap();

    let entries = common::process::backup(&server.data_dir(), &server.dir.path().join("dissolved.backup"));
    // The log and its records, which former members read through their
    // windows; each reader's own marks in it; pointers in update logs.
    let kept = [
        "convmessage_message",
        "conv_head",
        "convmessage_counted",
        "userconvmessage_hidden",
        "usergroup_windows",
        "userupdate_update",
    ];
    let id = g.to_be_bytes();
    let mut seen = BTreeSet::new();
    for key in entries.keys() {
        if !key.windows(id.len()).any(|w| w == id) {
            continue;
        }
        let keyspace = schema::ALL.iter().find(|k| k.prefix == key[0]).expect("a registered keyspace").name;
        assert!(kept.contains(&keyspace), "{keyspace} keeps an entry of the dissolved group");
        seen.insert(keyspace);
    }
    for keyspace in ["convmessage_message", "usergroup_windows", "userconvmessage_hidden"] {
        assert!(seen.contains(keyspace), "the group left no {keyspace}: {seen:?}");
    }
}
