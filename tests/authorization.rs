//! Authorization matrix: every action that names an id, tried by the owner,
//! the conversation peer, a stranger, a blocked user, the roles of a group
//! and an unauthenticated connection, plus forged fields; every action of
//! the table has a row or is listed as the caller's own. Only the documented cases succeed, and nothing of a
//! conversation leaks to a stranger through sync, history, cursors, pushes or
//! idempotency keys.

use crate::common;

use common::talk::none_pushed;
use common::{Calls, Kind, TestServer};
use kith::client::{new_client_msg_id, Client, ClientError};
use kith::codec::decode_wire;
use kith::protocol::{
    Action, Direction, ErrorBody, ErrorCode, MessageKind, Request, SendRequest, Target, UpdateKind, ERROR_ACTION,
};

/// The group and conversation actions that name no group: the caller's
/// own list and receipts setting. Every other action of that range is a
/// row of the group matrix.
const OWN_CONVERSATION_ACTIONS: [Action; 2] = [Action::ListConversations, Action::ReadReceipts];

fn in_group_matrix(action: &Action) -> bool {
    (0x30..=0x4e).contains(&(*action as u8)) && !OWN_CONVERSATION_ACTIONS.contains(action)
}

/// A request's answer as sent raw: the error code if it was refused, else
/// the response body.
async fn answer(client: &Client, request: &Request) -> (Option<ErrorCode>, Vec<u8>) {
    let reply = client.request_raw(request.action() as u8, request.encode()).await.unwrap();
    match reply.action {
        ERROR_ACTION => (decode_wire::<ErrorBody>(&reply.body).unwrap().error_code(), Vec::new()),
        _ => (None, reply.body.to_vec()),
    }
}

fn code(r: Result<impl std::fmt::Debug, ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_do_what() {
    let server = TestServer::start().await;
    let mut alice = server.user(Kind::Tcp, "alice").await; // owner
    let mut bob = server.user(Kind::Tcp, "bob").await; // alice's peer
    let mut carol = server.user(Kind::Tcp, "carol").await; // stranger
    let anonymous = server.connect(Kind::Tcp).await;
    let (a, b, c) = (alice.user_id, bob.user_id, carol.user_id);

    let secret = SendRequest {
        to: Target::User(b),
        client_msg_id: new_client_msg_id(),
        kind: MessageKind::Text,
        content: b"between alice and bob".to_vec(),
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    };
    let ack = alice.client.call(&secret).await.unwrap();
    assert_eq!(common::next_message(&mut bob.client).await.id, ack.message_id);
    none_pushed(&server, &carol.name, &mut carol.client, UpdateKind::Message).await;

    // Send: anyone authenticated may write to an existing user (there is no
    // contact list yet); unknown ids are NotFound; anonymous is refused.
    carol.client.send_text(a, "hello stranger").await.unwrap();
    assert_eq!(common::next_message(&mut alice.client).await.sender, c);
    assert_eq!(code(carol.client.send_text(999_999, "nobody").await), Some(ErrorCode::NotFound));
    assert_eq!(code(anonymous.send_text(a, "anon").await), Some(ErrorCode::NotAuthenticated));

    // A forged idempotency key: carol reuses alice's client message id. It is
    // scoped to the sender, so carol gets her own new message, not alice's id.
    let forged = SendRequest { to: Target::User(b), content: b"forged".to_vec(), ..secret.clone() };
    let carol_ack = carol.client.call(&forged).await.unwrap();
    assert!(!carol_ack.duplicate);
    assert_ne!(carol_ack.message_id, ack.message_id);

    // History: each party sees the conversation; the stranger reaching for it
    // only ever gets her own conversation with that user.
    let ab = alice.client.history(Target::User(b), Direction::After, 0, 100).await.unwrap();
    assert!(ab.messages.iter().any(|m| m.id == ack.message_id));
    let ba = bob.client.history(Target::User(a), Direction::After, 0, 100).await.unwrap();
    assert_eq!(ab.messages, ba.messages);
    for peer in [a, b] {
        let seen = carol.client.history(Target::User(peer), Direction::Before, 0, 100).await.unwrap();
        assert!(seen.messages.iter().all(|m| m.sender == c || m.to == Target::User(c)), "{seen:?}");
        assert!(seen.messages.iter().all(|m| m.id != ack.message_id));
    }
    assert_eq!(
        code(anonymous.history(Target::User(b), Direction::After, 0, 10).await),
        Some(ErrorCode::NotAuthenticated)
    );

    // SyncInbox: only the user's own messages, from any starting id.
    let carol_inbox = carol.client.sync_messages(0).await.unwrap();
    assert!(carol_inbox.iter().all(|m| m.sender == c || m.to == Target::User(c)));
    assert!(carol_inbox.iter().all(|m| m.id != ack.message_id));
    let from_alices_id = carol.client.sync_page(ack.message_id - 1, 100).await.unwrap();
    assert!(from_alices_id.updates.iter().all(|u| u.id != ack.message_id));
    assert_eq!(code(anonymous.sync_page(0, 10).await), Some(ErrorCode::NotAuthenticated));

    // Ack: a foreign (or future) id cannot move a cursor past the user's own
    // newest update, so cursors reveal nothing either.
    let carol_log = carol.client.sync_all(0).await.unwrap();
    let carol_latest = carol_log.last().map(|u| u.id).unwrap_or(0);
    assert_eq!(carol.client.ack(u64::MAX).await.unwrap(), carol_latest);
    assert_eq!(code(anonymous.ack(1).await), Some(ErrorCode::NotAuthenticated));

    // The login state of a fresh device of carol reports only her own ids:
    // her newest update is now the notice of this very login.
    let (laptop, carol_again) =
        server.device(Kind::Tcp, "carol", "carol-laptop", kith::protocol::DeviceType::Desktop).await;
    let notice = laptop.sync_page(carol_latest, 100).await.unwrap();
    assert_eq!(notice.updates.len(), 1);
    assert_eq!(notice.updates[0].kind, UpdateKind::NewLogin as u8);
    assert_eq!(carol_again.session.latest, notice.updates[0].id);

    // Tokens: another user's token with its secret altered is refused.
    let mut forged_token = alice.login.token.clone();
    forged_token[39] ^= 1;
    let probe = Client::connect(server.server().tcp_addr.unwrap(), &kith::client::Transport::Tcp).await.unwrap();
    assert_eq!(code(probe.auth(&forged_token).await), Some(ErrorCode::InvalidToken));
    let mut wrong_id = alice.login.token.clone();
    wrong_id[0] ^= 1;
    assert_eq!(code(probe.auth(&wrong_id).await), Some(ErrorCode::InvalidToken));

    // Retention: the stranger can neither read nor change alice and bob's;
    // the conversation she names is her own with that user.
    let set = kith::protocol::RetentionRequest { with: Target::User(b), set: Some(1) };
    carol.client.call(&set).await.unwrap();
    let theirs = alice.client.call(&kith::protocol::RetentionRequest { with: Target::User(b), set: None }).await;
    assert_eq!(theirs.unwrap().seconds, 0);
    assert_eq!(code(anonymous.call(&set).await), Some(ErrorCode::NotAuthenticated));

    // No push of alice and bob's conversation ever reached carol.
    none_pushed(&server, &carol.name, &mut carol.client, UpdateKind::Message).await;
}

/// The social actions: anonymous connections are refused every one; a
/// stranger can neither answer, see nor end what is between two others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_do_what_in_the_social_graph() {
    use kith::protocol::{
        AddFriendRequest, AnswerFriendRequest, BlockRequest, GetProfileRequest, ListBlockedRequest,
        ListFriendRequestsRequest, ListFriendsRequest, PrivacyRequest, Profile, ProfileVisibilityRequest,
        RemoveFriendRequest, RequestBox, SearchUsersRequest, SetProfileRequest, SetRemarkRequest, UnblockRequest,
    };
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await; // stranger
    let anonymous = server.connect(Kind::Tcp).await;
    let (a, b) = (alice.user_id, bob.user_id);

    let none = Some(ErrorCode::NotAuthenticated);
    assert_eq!(code(anonymous.call(&GetProfileRequest { user_id: a }).await), none);
    assert_eq!(code(anonymous.call(&SetProfileRequest { profile: Profile::default() }).await), none);
    assert_eq!(
        code(anonymous.call(&PrivacyRequest { discoverable: None, friend_policy: None, presence: None }).await),
        none
    );
    assert_eq!(code(anonymous.call(&SearchUsersRequest { query: "a".into(), cursor: vec![], limit: 1 }).await), none);
    assert_eq!(code(anonymous.call(&AddFriendRequest { user_id: a, message: String::new() }).await), none);
    assert_eq!(code(anonymous.call(&AnswerFriendRequest { request_id: 1, accept: true }).await), none);
    let list = ListFriendRequestsRequest { direction: RequestBox::Incoming, before: 0, limit: 1 };
    assert_eq!(code(anonymous.call(&list).await), none);
    assert_eq!(code(anonymous.call(&ListFriendsRequest { after: 0, limit: 1 }).await), none);
    assert_eq!(code(anonymous.call(&RemoveFriendRequest { user_id: a }).await), none);
    assert_eq!(code(anonymous.call(&SetRemarkRequest { user_id: a, remark: String::new() }).await), none);
    assert_eq!(code(anonymous.call(&BlockRequest { user_id: a }).await), none);
    assert_eq!(code(anonymous.call(&UnblockRequest { user_id: a }).await), none);
    assert_eq!(code(anonymous.call(&ListBlockedRequest { after: 0, limit: 1 }).await), none);
    assert_eq!(code(anonymous.call(&ProfileVisibilityRequest { set: None }).await), none);

    // Alice asks bob; carol can neither answer nor see it.
    let asked = alice.client.call(&AddFriendRequest { user_id: b, message: "private note".into() }).await.unwrap();
    let answer = AnswerFriendRequest { request_id: asked.id, accept: true };
    assert_eq!(code(carol.client.call(&answer).await), Some(ErrorCode::NotFound));
    assert_eq!(code(alice.client.call(&answer).await), Some(ErrorCode::NotFound), "not even the requester");
    for direction in [RequestBox::Incoming, RequestBox::Outgoing] {
        let page = carol.client.call(&ListFriendRequestsRequest { direction, before: 0, limit: 100 }).await.unwrap();
        assert!(page.requests.is_empty() && page.pending_incoming == 0);
    }
    bob.client.call(&answer).await.unwrap();

    // Carol cannot end their friendship or name alice in it, and sees
    // neither side's list or block list through her own.
    assert_eq!(code(carol.client.call(&RemoveFriendRequest { user_id: a }).await), Some(ErrorCode::NotFound));
    let remark = SetRemarkRequest { user_id: a, remark: "x".into() };
    assert_eq!(code(carol.client.call(&remark).await), Some(ErrorCode::NotFound));
    assert!(carol.client.call(&ListFriendsRequest { after: 0, limit: 100 }).await.unwrap().friends.is_empty());
    bob.client.call(&BlockRequest { user_id: carol.user_id }).await.unwrap();
    assert!(carol.client.call(&ListBlockedRequest { after: 0, limit: 100 }).await.unwrap().users.is_empty());
    let alices_friends = alice.client.call(&ListFriendsRequest { after: 0, limit: 100 }).await.unwrap();
    assert_eq!(alices_friends.friends.iter().map(|f| f.user.user_id).collect::<Vec<_>>(), vec![b]);
    // The update log of the stranger holds nothing of theirs.
    let carol_log = carol.client.sync_all(0).await.unwrap();
    assert!(carol_log.iter().all(|u| u.id != asked.id));
    assert_eq!(carol_log.len(), 1, "only her login notice: {carol_log:?}");
}

/// The group actions, by who tries them: an anonymous connection is refused
/// every one; a stranger does not find an invite-only group and can neither
/// act in it nor read it; a former member neither, but reads up to their
/// exit; an ordinary member cannot do what the owner and admins do; an admin
/// cannot do what only the owner does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_do_what_in_a_group() {
    use kith::protocol::{
        AnswerInvitationRequest, AnswerJoinRequest, BanRequest, CreateGroupRequest, DissolveGroupRequest, FriendPolicy,
        GetGroupRequest, GroupFields, GroupOnlineRequest, InviteToGroupRequest, JoinGroupRequest, JoinPolicy,
        KickMemberRequest, LeaveGroupRequest, ListBansRequest, ListGroupsRequest, ListInvitationsRequest,
        ListJoinRequestsRequest, ListMembersRequest, MuteGroupRequest, MuteMemberRequest, PrivacyRequest,
        SetAdminRequest, SetAliasRequest, TransferGroupRequest, UpdateGroupRequest,
    };
    use kith::protocol::{
        DeleteForMeRequest, EditRequest, MarkReadRequest, MessageReadersRequest, RecallRequest, RetentionRequest,
    };
    let server = TestServer::start().await;
    let owner = server.user(Kind::Tcp, "olga").await;
    let admin = server.user(Kind::Tcp, "adam").await;
    let member = server.user(Kind::Tcp, "mia").await;
    let stranger = server.user(Kind::Tcp, "sam").await;
    let anonymous = server.connect(Kind::Tcp).await;
    for u in [&admin, &member] {
        let policy =
            PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::AcceptAll), presence: None };
        u.client.call(&policy).await.unwrap();
    }
    let fields = GroupFields {
        name: "private".into(),
        avatar: 0,
        introduction: String::new(),
        announcement: String::new(),
        join_policy: JoinPolicy::InviteOnly,
        history_visible: true,
    };
    let create = CreateGroupRequest { fields: fields.clone(), members: vec![admin.user_id, member.user_id] };
    let g = owner.client.call(&create).await.unwrap().group.group_id;
    let admin_role = SetAdminRequest { group_id: g, user_id: admin.user_id, admin: true };
    owner.client.call(&admin_role).await.unwrap();
    let secret = owner.client.send_text_to(Target::Group(g), "members only").await.unwrap();
    let (o, ad, m) = (owner.user_id, admin.user_id, member.user_id);

    let requests: Vec<Request> = vec![
        create.clone().into(),
        GetGroupRequest { group_id: g }.into(),
        UpdateGroupRequest { group_id: g, fields }.into(),
        DissolveGroupRequest { group_id: g }.into(),
        TransferGroupRequest { group_id: g, user_id: m }.into(),
        LeaveGroupRequest { group_id: g }.into(),
        ListGroupsRequest { after: 0, limit: 10 }.into(),
        JoinGroupRequest { group_id: g, message: String::new() }.into(),
        AnswerJoinRequest { group_id: g, user_id: m, accept: true }.into(),
        ListJoinRequestsRequest { group_id: g, after: 0, limit: 10 }.into(),
        InviteToGroupRequest { group_id: g, user_id: 999_999 }.into(),
        AnswerInvitationRequest { group_id: g, accept: true }.into(),
        ListInvitationsRequest { after: 0, limit: 10 }.into(),
        KickMemberRequest { group_id: g, user_id: ad }.into(),
        SetAdminRequest { group_id: g, user_id: m, admin: true }.into(),
        BanRequest { group_id: g, user_id: ad, banned: true }.into(),
        ListBansRequest { group_id: g, after: 0, limit: 10 }.into(),
        MuteMemberRequest { group_id: g, user_id: ad, until: u64::MAX }.into(),
        MuteGroupRequest { group_id: g, muted: true }.into(),
        SetAliasRequest { group_id: g, alias: String::new() }.into(),
        ListMembersRequest { group_id: g, after: 0, limit: 10, online_only: false }.into(),
        GroupOnlineRequest { group_id: g }.into(),
        MarkReadRequest { with: Target::Group(g), up_to: secret.message_id }.into(),
        MessageReadersRequest { group_id: g, message_id: secret.message_id }.into(),
        RecallRequest { with: Target::Group(g), message_id: secret.message_id }.into(),
        EditRequest { with: Target::Group(g), message_id: secret.message_id, content: b"mine now".to_vec() }.into(),
        DeleteForMeRequest { with: Target::Group(g), message_ids: vec![secret.message_id], clear_up_to: 0 }.into(),
        RetentionRequest { with: Target::Group(g), set: None }.into(),
        RetentionRequest { with: Target::Group(g), set: Some(60) }.into(),
    ];
    for request in &requests {
        assert_eq!(answer(&anonymous, request).await.0, Some(ErrorCode::NotAuthenticated), "{request:?}");
    }

    // A stranger: may list her own (empty) lists; the invite-only group is
    // not found, every action inside it is refused, and its log stays closed.
    let not_permitted = Some(ErrorCode::NotPermitted);
    let outsider = |request: &Request| match request {
        Request::CreateGroup(_) | Request::ListGroups(_) | Request::ListInvitations(_) => None,
        Request::AnswerInvitation(_) | Request::GetGroup(_) => Some(ErrorCode::NotFound),
        _ => not_permitted,
    };
    for request in &requests {
        assert_eq!(answer(&stranger.client, request).await.0, outsider(request), "stranger: {request:?}");
    }
    assert_eq!(code(stranger.client.history(Target::Group(g), Direction::After, 0, 10).await), not_permitted);
    assert_eq!(code(stranger.client.send_text_to(Target::Group(g), "hi").await), not_permitted);
    let log = stranger.client.sync_page(0, 100).await.unwrap();
    assert!(log.groups.is_empty() && log.updates.iter().all(|u| u.id != secret.message_id));

    // A former member: refused everything inside like the stranger, but
    // reads the log up to the message announcing the exit.
    let former = server.user(Kind::Tcp, "fred").await;
    let policy = PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::AcceptAll), presence: None };
    former.client.call(&policy).await.unwrap();
    owner.client.call(&InviteToGroupRequest { group_id: g, user_id: former.user_id }).await.unwrap();
    former.client.call(&LeaveGroupRequest { group_id: g }).await.unwrap();
    let later = owner.client.send_text_to(Target::Group(g), "after fred").await.unwrap();
    for request in &requests {
        assert_eq!(answer(&former.client, request).await.0, outsider(request), "former member: {request:?}");
    }
    assert_eq!(code(former.client.send_text_to(Target::Group(g), "hi").await), not_permitted);
    let window = former.client.history(Target::Group(g), Direction::After, 0, 100).await.unwrap();
    assert!(window.messages.iter().any(|m| m.id == secret.message_id), "the group shows history");
    assert_eq!(window.messages.last().map(|m| m.sender), Some(former.user_id), "ends with his leaving");
    assert!(window.messages.iter().all(|m| m.id < later.message_id) && !window.more);

    // An ordinary member: none of the owner's or admins' actions.
    for request in &requests {
        let expected = match request {
            Request::UpdateGroup(_)
            | Request::DissolveGroup(_)
            | Request::TransferGroup(_)
            | Request::AnswerJoinRequest(_)
            | Request::ListJoinRequests(_)
            | Request::InviteToGroup(_)
            | Request::KickMember(_)
            | Request::SetAdmin(_)
            | Request::BanUser(_)
            | Request::ListBans(_)
            | Request::MuteMember(_)
            | Request::MuteGroup(_)
            | Request::Recall(_)
            | Request::Edit(_) => not_permitted,
            Request::Retention(r) if r.set.is_some() => not_permitted,
            Request::GetGroup(_)
            | Request::ListGroups(_)
            | Request::ListInvitations(_)
            | Request::SetAlias(_)
            | Request::ListMembers(_)
            | Request::GroupOnline(_)
            | Request::MarkRead(_)
            | Request::MessageReaders(_)
            | Request::DeleteForMe(_)
            | Request::Retention(_) => None,
            Request::JoinGroup(_) => Some(ErrorCode::Conflict),
            Request::AnswerInvitation(_) => Some(ErrorCode::NotFound),
            // Allowed, and they change the membership the rows below need:
            // tests/groups.rs tries them.
            Request::CreateGroup(_) | Request::LeaveGroup(_) => continue,
            other => panic!("no member row for {other:?}"),
        };
        assert_eq!(answer(&member.client, request).await.0, expected, "member: {request:?}");
    }
    // An admin: none of the owner's, nor anything done to the owner.
    let admin_refused: Vec<Request> = vec![
        DissolveGroupRequest { group_id: g }.into(),
        TransferGroupRequest { group_id: g, user_id: m }.into(),
        SetAdminRequest { group_id: g, user_id: m, admin: true }.into(),
        KickMemberRequest { group_id: g, user_id: o }.into(),
        BanRequest { group_id: g, user_id: o, banned: true }.into(),
        MuteMemberRequest { group_id: g, user_id: o, until: u64::MAX }.into(),
        RecallRequest { with: Target::Group(g), message_id: secret.message_id }.into(),
        EditRequest { with: Target::Group(g), message_id: secret.message_id, content: b"mine now".to_vec() }.into(),
    ];
    for request in &admin_refused {
        assert_eq!(answer(&admin.client, request).await.0, not_permitted, "admin: {request:?}");
    }
    let info = member.client.call(&GetGroupRequest { group_id: g }).await.unwrap();
    assert_eq!((info.owner, info.member_count, info.muted), (o, 3, false), "nothing changed");
    let kept = member.client.call(&RetentionRequest { with: Target::Group(g), set: None }).await.unwrap();
    assert_eq!(kept.seconds, 0, "nothing changed");

    // What an admin may do besides: ban and unban, list the bans, change
    // the group, list and answer join requests, set the retention.
    let s = stranger.user_id;
    admin.client.call(&BanRequest { group_id: g, user_id: s, banned: true }).await.unwrap();
    let bans = admin.client.call(&ListBansRequest { group_id: g, after: 0, limit: 10 }).await.unwrap();
    assert_eq!(bans.bans.iter().map(|b| (b.user.user_id, b.by)).collect::<Vec<_>>(), vec![(s, ad)]);
    admin.client.call(&BanRequest { group_id: g, user_id: s, banned: false }).await.unwrap();
    let approval = GroupFields { join_policy: JoinPolicy::Approval, ..info_fields(&info) };
    admin.client.call(&UpdateGroupRequest { group_id: g, fields: approval }).await.unwrap();
    stranger.client.call(&JoinGroupRequest { group_id: g, message: "may I?".into() }).await.unwrap();
    let asked = admin.client.call(&ListJoinRequestsRequest { group_id: g, after: 0, limit: 10 }).await.unwrap();
    assert_eq!(asked.requests.iter().map(|r| r.user.user_id).collect::<Vec<_>>(), vec![s]);
    admin.client.call(&AnswerJoinRequest { group_id: g, user_id: s, accept: true }).await.unwrap();
    let set = admin.client.call(&RetentionRequest { with: Target::Group(g), set: Some(3600) }).await.unwrap();
    assert_eq!(set.seconds, 3600);
    let info = owner.client.call(&GetGroupRequest { group_id: g }).await.unwrap();
    assert_eq!((info.member_count, info.join_policy), (4, JoinPolicy::Approval), "the admin's changes hold");

    // Every group and conversation action that names a group is a row of
    // this matrix: one added to the table without a row here fails. The
    // list and the receipts setting are the caller's own.
    for action in Action::ALL.iter().filter(|a| in_group_matrix(a)) {
        assert!(requests.iter().any(|r| r.action() == *action), "{} has no row in the matrix", action.name());
    }
}

/// A group's fields as its information shows them.
fn info_fields(info: &kith::protocol::GroupInfo) -> kith::protocol::GroupFields {
    kith::protocol::GroupFields {
        name: info.name.clone(),
        avatar: info.avatar,
        introduction: info.introduction.clone(),
        announcement: info.announcement.clone(),
        join_policy: info.join_policy,
        history_visible: info.history_visible,
    }
}

/// Every action that names another user, tried on alice by a stranger and
/// by someone alice blocked; every other action is the caller's own or a
/// group's (the group matrix above). An action added to the table without
/// a place here fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_do_what_to_a_user() {
    use kith::protocol::{
        AddFriendRequest, AnswerFriendRequest, BlockRequest, ConversationStateRequest, DeleteForMeRequest, EditRequest,
        FindUserRequest, FinishUploadRequest, FriendPolicy, GetMediaRequest, GetProfileRequest, HistoryRequest,
        MarkReadRequest, MediaUrlRequest, PresenceRequest, PrivacyRequest, Profile, ReactRequest, ReactionsRequest,
        RecallRequest, RemoveFriendRequest, RetentionRequest, SearchUsersRequest, SetProfileRequest, SetRemarkRequest,
        TypingRequest, UnblockRequest, UploadChunkRequest, UploadStatusRequest,
    };
    use kith::protocol::{
        CommentMomentRequest, DeleteCommentRequest, DeleteMomentRequest, GetMomentRequest, LikeMomentRequest,
        MomentAudience, MomentCommentsRequest, MomentFilterRequest, MomentMedia, MomentPage, MomentVisibility,
        PublishMomentRequest, UserMomentsRequest,
    };
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await; // alice's friend
    let carol = server.user(Kind::Tcp, "carol").await; // a stranger
    let dave = server.user(Kind::Tcp, "dave").await; // blocked by alice
    let a = alice.user_id;
    bob.client
        .call(&PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::AcceptAll), presence: None })
        .await
        .unwrap();
    let asked = alice.client.call(&AddFriendRequest { user_id: bob.user_id, message: String::new() }).await.unwrap();
    let theirs = alice.client.send_text(bob.user_id, "between friends").await.unwrap().message_id;
    let jpeg = kith::client::FileShape::attachment("image/jpeg");
    let file = alice.client.upload(b"a photo for bob", jpeg).await.unwrap().media_id;
    let photo = kith::client::attachment(file, "photo.jpg");
    alice.client.send_media(Target::User(bob.user_id), MessageKind::Image, &photo).await.unwrap();
    let upload = alice.client.start_upload(b"half sent", jpeg).await.unwrap().upload_id;
    let face = alice.client.upload(b"alice's face", jpeg).await.unwrap().media_id;
    let profile = Profile { avatar: face, ..Profile::default() };
    alice.client.call(&SetProfileRequest { profile }).await.unwrap();
    // A moment for her friends, with a photo, and bob's comment on it.
    let lake = alice.client.upload(b"the lake", jpeg).await.unwrap().media_id;
    let friends = MomentVisibility { audience: MomentAudience::Friends, users: vec![] };
    let publish = PublishMomentRequest {
        client_id: new_client_msg_id(),
        text: "the lake".into(),
        media: MomentMedia::Images(vec![lake]),
        location: None,
        visibility: friends,
    };
    let moment = alice.client.call(&publish).await.unwrap().moment_id;
    let comment = CommentMomentRequest { moment_id: moment, text: "lovely".into(), reply_to: None };
    let remark = bob.client.call(&comment).await.unwrap().comment_id;
    alice.client.call(&BlockRequest { user_id: dave.user_id }).await.unwrap();
    // Both show their presence to everyone: only the block hides it.
    let everyone = PrivacyRequest { presence: Some(kith::protocol::Audience::Everyone), ..PrivacyRequest::default() };
    for user in [&alice, &dave] {
        user.client.call(&everyone).await.unwrap();
    }

    let to_alice = Target::User(a);
    let send = SendRequest {
        to: to_alice,
        client_msg_id: new_client_msg_id(),
        kind: MessageKind::Text,
        content: b"hi".to_vec(),
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    };
    let (not_found, not_permitted) = (Some(ErrorCode::NotFound), Some(ErrorCode::NotPermitted));
    // (request, the stranger's answer, the blocked user's answer); the
    // requests that change a relation come last.
    let rows: Vec<(Request, Option<ErrorCode>, Option<ErrorCode>)> = vec![
        (send.clone().into(), None, not_permitted),
        // A reply to a message of alice and bob's conversation, or an edit
        // of it: none of the caller's conversation.
        (SendRequest { client_msg_id: new_client_msg_id(), reply_to: theirs, ..send }.into(), not_found, not_found),
        (EditRequest { with: to_alice, message_id: theirs, content: b"mine".to_vec() }.into(), not_found, not_found),
        (HistoryRequest { with: to_alice, direction: Direction::Before, anchor: 0, limit: 10 }.into(), None, None),
        (FindUserRequest { username: "alice".into() }.into(), None, not_found),
        (GetProfileRequest { user_id: a }.into(), None, not_found),
        (SearchUsersRequest { query: "alice".into(), cursor: vec![], limit: 10 }.into(), None, None),
        (AnswerFriendRequest { request_id: asked.id, accept: true }.into(), not_found, not_found),
        (RemoveFriendRequest { user_id: a }.into(), not_found, not_found),
        (SetRemarkRequest { user_id: a, remark: "x".into() }.into(), not_found, not_found),
        // The stranger's own conversation with alice (she wrote first, above),
        // where that id is none of hers: nothing moves, nothing is told.
        (MarkReadRequest { with: to_alice, up_to: theirs }.into(), None, not_found),
        (RecallRequest { with: to_alice, message_id: theirs }.into(), not_found, not_found),
        (DeleteForMeRequest { with: to_alice, message_ids: vec![theirs], clear_up_to: 0 }.into(), not_found, not_found),
        (RetentionRequest { with: to_alice, set: None }.into(), None, not_found),
        (TypingRequest { with: to_alice, typing: true }.into(), None, not_permitted),
        // Her presence: answered, and hidden from both (see the body check below).
        (PresenceRequest { users: vec![a], watch: true }.into(), None, None),
        // The caller's own state of their conversation with her: theirs to
        // keep, blocked or not; nothing reaches her.
        (ConversationStateRequest { with: to_alice, pinned: Some(true), draft: None, muted: None }.into(), None, None),
        // A message of alice and bob's conversation: none of the caller's.
        (
            ReactRequest { with: to_alice, message_id: theirs, emoji: "👍".into(), add: true }.into(),
            not_found,
            not_found,
        ),
        (ReactionsRequest { with: to_alice, message_id: theirs }.into(), not_found, not_found),
        // Her file, sent to bob, and her upload: nobody else's to read or touch.
        (GetMediaRequest { media_id: file, offset: 0, length: 10 }.into(), not_found, not_found),
        (MediaUrlRequest { media_id: file }.into(), not_found, not_found),
        (UploadChunkRequest { upload_id: upload, offset: 0, data: b"x".to_vec() }.into(), not_found, not_found),
        (UploadStatusRequest { upload_id: upload }.into(), not_found, not_found),
        (FinishUploadRequest { upload_id: upload }.into(), not_found, not_found),
        // Her avatar: read by whoever may read her profile; nobody's to show but hers.
        (GetMediaRequest { media_id: face, offset: 0, length: 10 }.into(), None, not_found),
        (MediaUrlRequest { media_id: face }.into(), None, not_found),
        (SetProfileRequest { profile: Profile { avatar: face, ..Profile::default() } }.into(), not_found, not_found),
        // Her moment for her friends, its photo and bob's comment: not seen
        // by either, so not found; her page shows the stranger nothing.
        (UserMomentsRequest { user_id: a, before: 0, limit: 10 }.into(), None, not_found),
        (GetMomentRequest { moment_id: moment }.into(), not_found, not_found),
        (GetMediaRequest { media_id: lake, offset: 0, length: 10 }.into(), not_found, not_found),
        (LikeMomentRequest { moment_id: moment, like: true }.into(), not_found, not_found),
        (comment.into(), not_found, not_found),
        (MomentCommentsRequest { moment_id: moment, after: 0, limit: 10 }.into(), not_found, not_found),
        (DeleteCommentRequest { moment_id: moment, comment_id: remark }.into(), not_found, not_found),
        (DeleteMomentRequest { moment_id: moment }.into(), not_found, not_found),
        // Her photo is not the caller's to show.
        (PublishMomentRequest { client_id: new_client_msg_id(), ..publish }.into(), not_found, not_found),
        // The caller's own settings about her: theirs, blocked or not.
        (MomentFilterRequest { user_id: a, hide_mine: Some(true), hide_theirs: Some(true) }.into(), None, None),
        (AddFriendRequest { user_id: a, message: String::new() }.into(), None, not_permitted),
        (BlockRequest { user_id: a }.into(), None, None),
        (UnblockRequest { user_id: a }.into(), None, None),
    ];
    let hidden = kith::protocol::PresenceInfo { user_id: a, online: false, last_seen: 0 };
    for (request, _, blocked) in &rows {
        let (code, body) = answer(&dave.client, request).await;
        assert_eq!(code, *blocked, "blocked: {request:?}");
        if let Request::SearchUsers(_) = request {
            let page: kith::protocol::UserPage = decode_wire(&body).unwrap();
            assert!(page.users.is_empty(), "the blocked user finds her: {page:?}");
        }
        if let Request::Presence(_) = request {
            let seen: kith::protocol::PresenceList = decode_wire(&body).unwrap();
            assert_eq!(seen.users, vec![hidden], "the blocked user sees her presence");
        }
    }
    for (request, stranger, _) in &rows {
        let (code, body) = answer(&carol.client, request).await;
        assert_eq!(code, *stranger, "stranger: {request:?}");
        if let Request::Presence(_) = request {
            let seen: kith::protocol::PresenceList = decode_wire(&body).unwrap();
            assert_eq!(seen.users, vec![hidden], "a stranger sees her presence");
        }
        if let Request::UserMoments(_) = request {
            let page: MomentPage = decode_wire(&body).unwrap();
            assert!(page.moments.is_empty(), "a stranger sees a moment for her friends: {page:?}");
        }
    }
    // Nothing of alice and bob's conversation reached either of them.
    for user in [&carol, &dave] {
        let page = user.client.history(Target::User(bob.user_id), Direction::Before, 0, 100).await.unwrap();
        assert!(page.messages.iter().all(|m| m.id != theirs));
    }

    // The rest are the caller's own (they name no one else) or a group's.
    let own = [
        Action::Heartbeat,
        Action::Register,
        Action::Login,
        Action::Auth,
        Action::Logout,
        Action::ChangePassword,
        Action::RenewToken,
        Action::DeleteAccount,
        Action::PushKey,
        Action::SetPushEndpoint,
        Action::Sync,
        Action::Ack,
        Action::Privacy,
        Action::ListFriendRequests,
        Action::ListFriends,
        Action::ListBlocked,
        Action::ProfileVisibility,
        Action::StartUpload,
        Action::ConversationStates,
        Action::Feed,
        Action::MomentSettings,
    ];
    for action in Action::ALL {
        let placed = rows.iter().any(|(r, _, _)| r.action() == *action)
            || own.contains(action)
            || OWN_CONVERSATION_ACTIONS.contains(action)
            || in_group_matrix(action);
        assert!(placed, "{} has no place in the authorization matrix", action.name());
    }
}
