//! Property tests of the decoders: every body type survives an encode/decode
//! round trip, and arbitrary bytes never make a frame or body decoder panic
//! (they are refused with an error instead).

use bytes::BytesMut;
use kith::codec::{decode_wire, encode_wire};
use kith::protocol::*;
use proptest::prelude::*;
use serde::{de::DeserializeOwned, Serialize};
use tokio_util::codec::Decoder;

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,40}"
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..300)
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![any::<u64>().prop_map(Target::User), any::<u64>().prop_map(Target::Group)]
}

fn device() -> impl Strategy<Value = DeviceInfo> {
    (text(), prop::sample::select(DeviceType::ALL), prop::sample::select(ClientType::ALL))
        .prop_map(|(device_id, device_type, client_type)| DeviceInfo { device_id, device_type, client_type })
}

fn message() -> impl Strategy<Value = Message> {
    (any::<u64>(), any::<u64>(), target(), any::<[u8; 16]>(), prop::sample::select(MessageKind::ALL), bytes())
        .prop_flat_map(|(id, sender, to, client_msg_id, kind, content)| {
            let ids = prop::collection::vec(any::<u64>(), 0..4);
            (prop::option::of(text()), any::<u64>(), any::<u64>(), any::<u64>(), ids).prop_map(
                move |(extra, server_time, reply_to, edited, mentions)| Message {
                    id,
                    sender,
                    to,
                    client_msg_id,
                    kind,
                    content: content.clone(),
                    extra,
                    server_time,
                    reply_to,
                    edited,
                    mentions,
                },
            )
        })
}

fn auth_reply() -> impl Strategy<Value = AuthReply> {
    (any::<u64>(), text(), text(), any::<u64>(), any::<u64>(), prop::option::of((bytes(), any::<u64>()))).prop_map(
        |(user_id, username, device_id, cursor, latest, renewed)| AuthReply {
            user_id,
            username,
            device_id,
            cursor,
            latest,
            renewed: renewed.map(|(token, expires_at)| TokenReply { token, expires_at }),
        },
    )
}

fn update() -> impl Strategy<Value = Update> {
    prop_oneof![
        message().prop_map(|m| Update::new(m.id, &UpdateBody::Message(m))),
        (any::<u64>(), text(), prop::sample::select(DeviceType::ALL), prop::sample::select(ClientType::ALL), text())
            .prop_map(|(id, device_id, device_type, client_type, address)| {
                Update::new(id, &UpdateBody::NewLogin(NewLogin { device_id, device_type, client_type, address }))
            }),
        (any::<u64>(), any::<u8>(), bytes()).prop_map(|(id, kind, body)| Update { id, kind, body }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::Heartbeat(Heartbeat)),
        Just(Request::Logout(Logout)),
        Just(Request::RenewToken(RenewToken)),
        Just(Request::PushKey(PushKey)),
        prop::option::of((text(), bytes(), any::<[u8; 16]>(), any::<bool>())).prop_map(|endpoint| {
            Request::SetPushEndpoint(SetPushEndpointRequest {
                endpoint: endpoint.map(|(url, p256dh, auth, vapid)| PushEndpoint { url, p256dh, auth, vapid }),
            })
        }),
        (text(), text(), prop::option::of(bytes())).prop_map(|(username, password, invitation)| {
            Request::Register(RegisterRequest { username, password, invitation })
        }),
        (text(), text(), device()).prop_map(|(username, password, device)| Request::Login(LoginRequest {
            username,
            password,
            device
        })),
        bytes().prop_map(|token| Request::Auth(AuthRequest { token })),
        (text(), text()).prop_map(|(old_password, new_password)| {
            Request::ChangePassword(ChangePasswordRequest { old_password, new_password })
        }),
        text().prop_map(|username| Request::FindUser(FindUserRequest { username })),
        text().prop_map(|password| Request::DeleteAccount(DeleteAccountRequest { password })),
        (
            target(),
            any::<[u8; 16]>(),
            prop::sample::select(MessageKind::ALL),
            bytes(),
            prop::option::of(text()),
            any::<u64>(),
            prop::collection::vec(any::<u64>(), 0..4)
        )
            .prop_map(|(to, client_msg_id, kind, content, extra, reply_to, mentions)| {
                Request::Send(SendRequest { to, client_msg_id, kind, content, extra, reply_to, mentions })
            }),
        (target(), any::<u64>(), bytes()).prop_map(|(with, message_id, content)| Request::Edit(EditRequest {
            with,
            message_id,
            content
        })),
        any::<u64>().prop_map(|up_to| Request::Ack(AckRequest { up_to })),
        (any::<u64>(), any::<u16>()).prop_map(|(after, limit)| Request::Sync(SyncRequest { after, limit })),
        (target(), prop::sample::select(Direction::ALL), any::<u64>(), any::<u16>()).prop_map(
            |(with, direction, anchor, limit)| Request::History(HistoryRequest { with, direction, anchor, limit })
        ),
        social_request(),
        group_request(),
        conversation_request(),
        media_request(),
        moment_request(),
    ]
}

fn moment_media() -> impl Strategy<Value = MomentMedia> {
    prop_oneof![
        Just(MomentMedia::None),
        prop::collection::vec(any::<u64>(), 0..11).prop_map(MomentMedia::Images),
        any::<(u64, u64)>().prop_map(|(video, cover)| MomentMedia::Video { video, cover }),
    ]
}

fn moment_request() -> impl Strategy<Value = Request> {
    let location = (text(), any::<i32>(), any::<i32>()).prop_map(|(name, latitude_e7, longitude_e7)| Location {
        name,
        latitude_e7,
        longitude_e7,
    });
    let visibility = (prop::sample::select(MomentAudience::ALL), prop::collection::vec(any::<u64>(), 0..4))
        .prop_map(|(audience, users)| MomentVisibility { audience, users });
    prop_oneof![
        (any::<[u8; 16]>(), text(), moment_media(), prop::option::of(location), visibility).prop_map(
            |(client_id, text, media, location, visibility)| {
                Request::PublishMoment(PublishMomentRequest { client_id, text, media, location, visibility })
            }
        ),
        any::<u64>().prop_map(|moment_id| Request::DeleteMoment(DeleteMomentRequest { moment_id })),
        (any::<u64>(), any::<u16>()).prop_map(|(before, limit)| Request::Feed(FeedRequest { before, limit })),
        (any::<u64>(), any::<u64>(), any::<u16>()).prop_map(|(user_id, before, limit)| {
            Request::UserMoments(UserMomentsRequest { user_id, before, limit })
        }),
        any::<u64>().prop_map(|moment_id| Request::GetMoment(GetMomentRequest { moment_id })),
        (any::<u64>(), any::<bool>())
            .prop_map(|(moment_id, like)| Request::LikeMoment(LikeMomentRequest { moment_id, like })),
        (any::<u64>(), text(), prop::option::of(any::<u64>())).prop_map(|(moment_id, text, reply_to)| {
            Request::CommentMoment(CommentMomentRequest { moment_id, text, reply_to })
        }),
        (any::<u64>(), any::<u64>()).prop_map(|(moment_id, comment_id)| {
            Request::DeleteComment(DeleteCommentRequest { moment_id, comment_id })
        }),
        (any::<u64>(), any::<u64>(), any::<u16>()).prop_map(|(moment_id, after, limit)| {
            Request::MomentComments(MomentCommentsRequest { moment_id, after, limit })
        }),
        prop::option::of(prop::sample::select(MomentWindow::ALL))
            .prop_map(|window| Request::MomentSettings(MomentSettingsRequest { window })),
        (any::<u64>(), prop::option::of(any::<bool>()), prop::option::of(any::<bool>())).prop_map(
            |(user_id, hide_mine, hide_theirs)| {
                Request::MomentFilter(MomentFilterRequest { user_id, hide_mine, hide_theirs })
            }
        ),
    ]
}

fn media_request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (any::<u64>(), text(), any::<[u8; 32]>(), prop::sample::select(MediaPurpose::ALL), any::<(u32, u32, u32)>())
            .prop_map(|(size, mime, sha256, purpose, (width, height, duration_ms))| {
                Request::StartUpload(StartUploadRequest { size, mime, sha256, purpose, width, height, duration_ms })
            }),
        (any::<u64>(), any::<u64>(), bytes()).prop_map(|(upload_id, offset, data)| {
            Request::UploadChunk(UploadChunkRequest { upload_id, offset, data })
        }),
        any::<u64>().prop_map(|upload_id| Request::UploadStatus(UploadStatusRequest { upload_id })),
        any::<u64>().prop_map(|upload_id| Request::FinishUpload(FinishUploadRequest { upload_id })),
        (any::<u64>(), any::<u64>(), any::<u32>())
            .prop_map(|(media_id, offset, length)| { Request::GetMedia(GetMediaRequest { media_id, offset, length }) }),
        any::<u64>().prop_map(|media_id| Request::MediaUrl(MediaUrlRequest { media_id })),
    ]
}

fn conversation_request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (any::<u64>(), any::<u64>(), any::<u16>()).prop_map(|(before, changed_since, limit)| {
            Request::ListConversations(ListConversationsRequest { before, changed_since, limit })
        }),
        (target(), any::<u64>()).prop_map(|(with, up_to)| Request::MarkRead(MarkReadRequest { with, up_to })),
        prop::option::of(any::<bool>()).prop_map(|set| Request::ReadReceipts(ReadReceiptsRequest { set })),
        (any::<u64>(), any::<u64>()).prop_map(|(group_id, message_id)| {
            Request::MessageReaders(MessageReadersRequest { group_id, message_id })
        }),
        (target(), any::<u64>()).prop_map(|(with, message_id)| Request::Recall(RecallRequest { with, message_id })),
        (target(), prop::collection::vec(any::<u64>(), 0..120), any::<u64>()).prop_map(
            |(with, message_ids, clear_up_to)| Request::DeleteForMe(DeleteForMeRequest {
                with,
                message_ids,
                clear_up_to
            })
        ),
        (target(), prop::option::of(any::<u64>()))
            .prop_map(|(with, set)| Request::Retention(RetentionRequest { with, set })),
        (target(), any::<bool>()).prop_map(|(with, typing)| Request::Typing(TypingRequest { with, typing })),
        (target(), prop::option::of(any::<bool>()), prop::option::of(text()), prop::option::of(any::<bool>()))
            .prop_map(|(with, pinned, draft, muted)| {
                Request::ConversationState(ConversationStateRequest { with, pinned, draft, muted })
            }),
        Just(Request::ConversationStates(ConversationStatesRequest)),
        (target(), any::<u64>(), text(), any::<bool>()).prop_map(|(with, message_id, emoji, add)| {
            Request::React(ReactRequest { with, message_id, emoji, add })
        }),
        (target(), any::<u64>())
            .prop_map(|(with, message_id)| Request::Reactions(ReactionsRequest { with, message_id })),
    ]
}

fn group_fields() -> impl Strategy<Value = GroupFields> {
    (text(), any::<u64>(), text(), text(), prop::sample::select(JoinPolicy::ALL), any::<bool>()).prop_map(
        |(name, avatar, introduction, announcement, join_policy, history_visible)| GroupFields {
            name,
            avatar,
            introduction,
            announcement,
            join_policy,
            history_visible,
        },
    )
}

fn group_request() -> impl Strategy<Value = Request> {
    let ids = || (any::<u64>(), any::<u64>());
    prop_oneof![
        (group_fields(), prop::collection::vec(any::<u64>(), 0..4))
            .prop_map(|(fields, members)| Request::CreateGroup(CreateGroupRequest { fields, members })),
        any::<u64>().prop_map(|group_id| Request::GetGroup(GetGroupRequest { group_id })),
        (any::<u64>(), group_fields())
            .prop_map(|(group_id, fields)| Request::UpdateGroup(UpdateGroupRequest { group_id, fields })),
        any::<u64>().prop_map(|group_id| Request::DissolveGroup(DissolveGroupRequest { group_id })),
        ids().prop_map(|(group_id, user_id)| Request::TransferGroup(TransferGroupRequest { group_id, user_id })),
        any::<u64>().prop_map(|group_id| Request::LeaveGroup(LeaveGroupRequest { group_id })),
        (any::<u64>(), any::<u16>()).prop_map(|(after, limit)| Request::ListGroups(ListGroupsRequest { after, limit })),
        (any::<u64>(), text())
            .prop_map(|(group_id, message)| Request::JoinGroup(JoinGroupRequest { group_id, message })),
        (ids(), any::<bool>()).prop_map(|((group_id, user_id), accept)| {
            Request::AnswerJoinRequest(AnswerJoinRequest { group_id, user_id, accept })
        }),
        (ids(), any::<u16>()).prop_map(|((group_id, after), limit)| {
            Request::ListJoinRequests(ListJoinRequestsRequest { group_id, after, limit })
        }),
        ids().prop_map(|(group_id, user_id)| Request::InviteToGroup(InviteToGroupRequest { group_id, user_id })),
        (any::<u64>(), any::<bool>())
            .prop_map(|(group_id, accept)| Request::AnswerInvitation(AnswerInvitationRequest { group_id, accept })),
        (any::<u64>(), any::<u16>())
            .prop_map(|(after, limit)| Request::ListInvitations(ListInvitationsRequest { after, limit })),
        ids().prop_map(|(group_id, user_id)| Request::KickMember(KickMemberRequest { group_id, user_id })),
        (ids(), any::<bool>()).prop_map(|((group_id, user_id), admin)| Request::SetAdmin(SetAdminRequest {
            group_id,
            user_id,
            admin
        })),
        (ids(), any::<bool>()).prop_map(|((group_id, user_id), banned)| Request::BanUser(BanRequest {
            group_id,
            user_id,
            banned
        })),
        (ids(), any::<u16>()).prop_map(|((group_id, after), limit)| Request::ListBans(ListBansRequest {
            group_id,
            after,
            limit
        })),
        (ids(), any::<u64>()).prop_map(|((group_id, user_id), until)| {
            Request::MuteMember(MuteMemberRequest { group_id, user_id, until })
        }),
        (any::<u64>(), any::<bool>())
            .prop_map(|(group_id, muted)| Request::MuteGroup(MuteGroupRequest { group_id, muted })),
        (any::<u64>(), text()).prop_map(|(group_id, alias)| Request::SetAlias(SetAliasRequest { group_id, alias })),
        (ids(), any::<u16>(), any::<bool>()).prop_map(|((group_id, after), limit, online_only)| {
            Request::ListMembers(ListMembersRequest { group_id, after, limit, online_only })
        }),
        any::<u64>().prop_map(|group_id| Request::GroupOnline(GroupOnlineRequest { group_id })),
    ]
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        text(),
        any::<u64>(),
        prop::sample::select(Gender::ALL),
        prop::option::of((any::<u16>(), any::<u8>(), any::<u8>())),
        text(),
    )
        .prop_map(|(nickname, avatar, gender, date, signature)| Profile {
            nickname,
            avatar,
            gender,
            birth_date: date.map(|(year, month, day)| BirthDate { year, month, day }),
            signature: signature.clone(),
            city: signature.clone(),
            province: signature.clone(),
            extra: signature,
        })
}

fn social_request() -> impl Strategy<Value = Request> {
    prop_oneof![
        any::<u64>().prop_map(|user_id| Request::GetProfile(GetProfileRequest { user_id })),
        profile().prop_map(|profile| Request::SetProfile(SetProfileRequest { profile })),
        (
            prop::option::of(prop::sample::select(Discoverable::ALL)),
            prop::option::of(prop::sample::select(FriendPolicy::ALL)),
            prop::option::of(prop::sample::select(Audience::ALL))
        )
            .prop_map(|(discoverable, friend_policy, presence)| Request::Privacy(PrivacyRequest {
                discoverable,
                friend_policy,
                presence
            })),
        (text(), bytes(), any::<u16>()).prop_map(|(query, cursor, limit)| Request::SearchUsers(SearchUsersRequest {
            query,
            cursor,
            limit
        })),
        (any::<u64>(), text()).prop_map(|(user_id, message)| Request::AddFriend(AddFriendRequest { user_id, message })),
        (any::<u64>(), any::<bool>())
            .prop_map(|(request_id, accept)| Request::AnswerFriend(AnswerFriendRequest { request_id, accept })),
        (prop::sample::select(RequestBox::ALL), any::<u64>(), any::<u16>()).prop_map(|(direction, before, limit)| {
            Request::ListFriendRequests(ListFriendRequestsRequest { direction, before, limit })
        }),
        (any::<u64>(), any::<u16>())
            .prop_map(|(after, limit)| Request::ListFriends(ListFriendsRequest { after, limit })),
        any::<u64>().prop_map(|user_id| Request::RemoveFriend(RemoveFriendRequest { user_id })),
        (any::<u64>(), text()).prop_map(|(user_id, remark)| Request::SetRemark(SetRemarkRequest { user_id, remark })),
        any::<u64>().prop_map(|user_id| Request::Block(BlockRequest { user_id })),
        any::<u64>().prop_map(|user_id| Request::Unblock(UnblockRequest { user_id })),
        (any::<u64>(), any::<u16>())
            .prop_map(|(after, limit)| Request::ListBlocked(ListBlockedRequest { after, limit })),
        prop::option::of(
            (
                prop::sample::select(Audience::ALL),
                prop::sample::select(Audience::ALL),
                prop::sample::select(Audience::ALL)
            )
                .prop_map(|(birth_date, city, province)| FieldVisibility { birth_date, city, province })
        )
        .prop_map(|set| Request::ProfileVisibility(ProfileVisibilityRequest { set })),
        (prop::collection::vec(any::<u64>(), 0..8), any::<bool>())
            .prop_map(|(users, watch)| Request::Presence(PresenceRequest { users, watch })),
    ]
}

fn round_trips<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = encode_wire(value);
    assert_eq!(&decode_wire::<T>(&bytes).unwrap(), value);
    // Any strict prefix is refused, never misread.
    if !bytes.is_empty() {
        assert!(decode_wire::<T>(&bytes[..bytes.len() - 1]).is_err());
    }
}

/// Every body type a peer may send us, decoded from the same bytes.
fn decode_everything(body: &[u8]) {
    for action in Action::ALL {
        let _ = Request::decode(*action, body);
        let _ = action.decode_reply(body);
    }
    for push in PushAction::ALL {
        if let Ok(Some(Push::Update(update))) = Push::decode(*push as u8, body) {
            let _ = update.decode();
        }
    }
    for kind in UpdateKind::ALL {
        let _ = UpdateBody::decode(*kind as u8, body);
    }
    let _ = decode_wire::<ErrorBody>(body);
}

/// Every action of the table is among the requests these properties draw:
/// an action left out of `request()` fails here.
#[test]
fn the_request_strategy_draws_every_action() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = request();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20_000 {
        seen.insert(strategy.new_tree(&mut runner).unwrap().current().action());
    }
    for action in Action::ALL {
        assert!(seen.contains(action), "request() never draws {}", action.name());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_round_trip(req in request()) {
        let body = req.encode();
        prop_assert_eq!(Request::decode(req.action(), &body).unwrap(), req);
    }

    #[test]
    fn replies_and_pushes_round_trip(m in message(), u in update(), more in any::<bool>(), a in auth_reply(), token in bytes(), expires_at in any::<u64>()) {
        round_trips(&m);
        round_trips(&Page { messages: vec![m.clone(), m], more });
        round_trips(&SyncPage { updates: vec![u.clone(), u.clone()], more, groups: vec![GroupNews { group_id: expires_at, latest: 7 }], limited: vec![Limited { with: Target::User(expires_at), older_than: 9 }], notices_dropped: expires_at });
        prop_assert_eq!(Push::decode(PushAction::Update as u8, &Push::Update(u.clone()).encode_body()).unwrap(), Some(Push::Update(u.clone())));
        if let Ok(Some(body)) = u.decode() {
            prop_assert_eq!(Update::new(u.id, &body), u);
        }
        round_trips(&LoginReply { token: token.clone(), expires_at, session: a.clone() });
        round_trips(&a);
        round_trips(&TokenReply { token, expires_at });
    }

    #[test]
    fn small_replies_round_trip(code in any::<u16>(), message in text(), id in any::<u64>(), t in any::<u64>(), dup in any::<bool>(), reason in prop::sample::select(DisconnectReason::ALL)) {
        round_trips(&ErrorBody { code, message: message.clone(), retry_after_ms: Some(t), limit: None, reason: Some(t as u8), used: None });
        round_trips(&ErrorBody { code, message: message.clone(), retry_after_ms: None, limit: Some(id), reason: None, used: Some(t) });
        round_trips(&DisconnectPush { reason, message: message.clone() });
        round_trips(&SendReply { message_id: id, server_time: t, duplicate: dup });
        round_trips(&UserInfo { user_id: id, username: message.clone() });
        round_trips(&HeartbeatReply { server_time: t });
        round_trips(&RegisterReply { user_id: id });
        round_trips(&AckReply { cursor: id });
        let info = ConversationInfo {
            with: Target::Group(id),
            last: Some(LastMessage { id, sender: t, kind: MessageKind::Text, server_time: t, preview: message.clone() }),
            unread: code.into(),
            read_up_to: t,
            peer_read_up_to: id,
            updated: t,
            mentioned: id,
        };
        round_trips(&ConversationPage { conversations: vec![info.clone(), ConversationInfo { last: None, ..info }], more: dup, total_unread: t });
        round_trips(&ReadPosition { with: Target::User(id), read_up_to: t, unread: code.into() });
        round_trips(&ReadReceipt { reader: id, up_to: t });
        round_trips(&MessageReaders { read: code.into(), of: code.into(), readers: vec![id, t], listed: dup });
        round_trips(&Recalled { message_id: id, sender: t, to: Target::Group(id), by: t });
        round_trips(&DeletedForMe { with: Target::User(t), message_ids: vec![id, t], cleared_up_to: t, read_up_to: id, unread: code.into() });
        round_trips(&Delivered { recipient: id, up_to: t });
        round_trips(&Edited { message_id: id, sender: t, to: Target::User(t), edited_at: id });
        let state = ConversationState { with: Target::Group(id), pinned_at: t, draft: code.to_string(), changed_at: id, muted: false };
        round_trips(&ConversationStates { states: vec![state.clone(), ConversationState { pinned_at: 0, ..state }] });
        let emoji = ReactionCount { emoji: code.to_string(), count: code.into(), users: vec![id, t], mine: dup };
        round_trips(&MessageReactions { message_id: id, reactions: vec![emoji.clone(), ReactionCount { users: vec![], ..emoji }] });
        round_trips(&ReactionChanged { message_id: id, sender: t, to: Target::Group(t), user_id: id, emoji: code.to_string(), added: dup });
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&body);
    }

    #[test]
    fn mutated_bodies_never_panic(req in request(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut body = req.encode();
        if !body.is_empty() {
            let i = at.index(body.len());
            body[i] = byte;
        }
        decode_everything(&body);
    }

    #[test]
    fn arbitrary_streams_never_panic_the_frame_decoder(stream in prop::collection::vec(any::<u8>(), 0..2048), max in 0usize..1024) {
        let mut decoder = FrameDecoder::new(max);
        let mut buf = BytesMut::from(&stream[..]);
        while let Ok(Some(frame)) = decoder.decode(&mut buf) {
            prop_assert!(frame.body.len() <= max);
            prop_assert_eq!(frame.body.len(), frame.header.body_len as usize);
            decode_everything(&frame.body);
        }
    }
}
