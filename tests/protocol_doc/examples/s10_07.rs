//! Section 10.7 Groups: creating, joining by request and invitation, messages, roles, mutes, bans, the end.

use super::*;

/// The choir as a user with this role in it sees it, before carol joins.
fn choir(my_role: Option<GroupRole>) -> GroupInfo {
    GroupInfo {
        group_id: 133494630409830400,
        name: "choir".into(),
        avatar: 0,
        introduction: "Tuesday rehearsals".into(),
        announcement: "".into(),
        join_policy: JoinPolicy::Approval,
        history_visible: false,
        muted: false,
        owner: 1,
        member_count: 2,
        my_role,
    }
}

/// Carol's request to join the choir, while it waits.
fn carols_request() -> JoinRequestInfo {
    JoinRequestInfo {
        id: 133494881648640000,
        group_id: 133494630409830400,
        group_name: "choir".into(),
        user: UserCard { user_id: 3, username: "carol".into(), nickname: "Carol".into(), avatar: 0 },
        message: "I sing alto".into(),
        state: RequestState::Pending,
        answered_by: 0,
    }
}

/// The same request once alice admitted her.
fn carols_request_accepted() -> JoinRequestInfo {
    JoinRequestInfo { state: RequestState::Accepted, answered_by: 1, ..carols_request() }
}

/// Alice's invitation of dave into the choir, while it waits.
fn daves_invitation() -> InvitationInfo {
    InvitationInfo {
        id: 133495636623360000,
        group_id: 133494630409830400,
        group_name: "choir".into(),
        inviter: UserCard {
            user_id: 1,
            username: "alice".into(),
            nickname: "Alice".into(),
            avatar: 133902316347588609,
        },
        invitee: UserCard { user_id: 4, username: "dave".into(), nickname: "Dave".into(), avatar: 0 },
        state: RequestState::Pending,
    }
}

/// The System message announcing carol, in the group's log.
fn carol_joined() -> Message {
    Message {
        id: 133495133306880000,
        sender: 1,
        to: Target::Group(133494630409830400),
        client_msg_id: hex16("00000000000000000000000000000000"),
        kind: MessageKind::System,
        content: encode_wire(&GroupEvent::Joined { user_id: 3, by: 1 }),
        extra: None,
        server_time: 1767517320000,
        reply_to: 0,
        edited: 0,
        mentions: vec![],
    }
}

pub(super) fn examples() -> Vec<Example> {
    vec![
        // CreateGroup request (alice, sequence 30, at 2026-01-04T09:00:00.100Z)
        request(
            30,
            &CreateGroupRequest {
                fields: GroupFields {
                    name: "choir".into(),
                    avatar: 0,
                    introduction: "Tuesday rehearsals".into(),
                    announcement: "".into(),
                    join_policy: JoinPolicy::Approval,
                    history_visible: false,
                },
                members: vec![2],
            },
        ),
        // CreateGroup response (bob accepts everyone, so he is in at once)
        response::<CreateGroupRequest>(
            30,
            &CreateGroupReply {
                group: choir(Some(GroupRole::Owner)),
                joined: vec![2],
                invited: vec![],
                refused: vec![],
            },
        ),
        // GetGroup request (carol, not a member, sequence 40)
        request(40, &GetGroupRequest { group_id: 133494630409830400 }),
        // GetGroup response
        response::<GetGroupRequest>(40, &choir(None)),
        // JoinGroup request (carol, sequence 41, at 2026-01-04T09:01:00.000Z)
        request(41, &JoinGroupRequest { group_id: 133494630409830400, message: "I sing alto".into() }),
        // JoinGroup response (an approval group: the request waits)
        response::<JoinGroupRequest>(41, &JoinOutcome::Requested(carols_request())),
        // Update push of kind 7 GroupJoinRequest to alice's devices (the update id is the request id)
        push(&Push::Update(Update::new(133494881648640000, &UpdateBody::GroupJoinRequest(carols_request())))),
        // ListJoinRequests request (alice, sequence 31)
        request(31, &ListJoinRequestsRequest { group_id: 133494630409830400, after: 0, limit: 20 })
            .note("after", " (from the start)"),
        // ListJoinRequests response
        response::<ListJoinRequestsRequest>(31, &JoinRequestPage { requests: vec![carols_request()], more: false }),
        // AnswerJoinRequest request (alice admits carol, sequence 32, at 2026-01-04T09:02:00.000Z)
        request(32, &AnswerJoinRequest { group_id: 133494630409830400, user_id: 3, accept: true }),
        // AnswerJoinRequest response
        response::<AnswerJoinRequest>(32, &carols_request_accepted()),
        // Update push of kind 1 Message to the members: the system message announcing carol
        push(&Push::Update(Update::new(133495133306880000, &UpdateBody::Message(carol_joined())))),
        // Send request to the group (carol, sequence 42, at 2026-01-04T09:03:00.000Z)
        request(
            42,
            &SendRequest {
                to: Target::Group(133494630409830400),
                client_msg_id: hex16("4a1c9e0b7d2f4e6a8b3c5d7e9f0a1b2c"),
                kind: MessageKind::Text,
                content: b"hello choir".to_vec(),
                extra: None,
                reply_to: 0,
                mentions: vec![],
            },
        ),
        // Send response
        response::<SendRequest>(
            42,
            &SendReply { message_id: 133495384965120000, server_time: 1767517380000, duplicate: false },
        ),
        // History request (carol reads the group from the start of her window, sequence 43)
        request(
            43,
            &HistoryRequest {
                with: Target::Group(133494630409830400),
                direction: Direction::After,
                anchor: 0,
                limit: 50,
            },
        )
        .note("anchor", " (from the oldest)"),
        // History response (the group does not show history to new members: carol's window opens with her join)
        response::<HistoryRequest>(
            43,
            &Page {
                messages: vec![
                    carol_joined(),
                    Message {
                        id: 133495384965120000,
                        sender: 3,
                        to: Target::Group(133494630409830400),
                        client_msg_id: hex16("4a1c9e0b7d2f4e6a8b3c5d7e9f0a1b2c"),
                        kind: MessageKind::Text,
                        content: b"hello choir".to_vec(),
                        extra: None,
                        server_time: 1767517380000,
                        reply_to: 0,
                        edited: 0,
                        mentions: vec![],
                    },
                ],
                more: false,
            },
        ),
        // InviteToGroup request (alice invites dave, sequence 33, at 2026-01-04T09:04:00.000Z)
        request(33, &InviteToGroupRequest { group_id: 133494630409830400, user_id: 4 }),
        // InviteToGroup response (dave approves invitations himself)
        response::<InviteToGroupRequest>(33, &daves_invitation()),
        // Update push of kind 8 GroupInvitation to dave's devices (the update id is the invitation id)
        push(&Push::Update(Update::new(133495636623360000, &UpdateBody::GroupInvitation(daves_invitation())))),
        // ListInvitations request (dave, sequence 50)
        request(50, &ListInvitationsRequest { after: 0, limit: 20 }).note("after", " (from the start)"),
        // ListInvitations response
        response::<ListInvitationsRequest>(50, &InvitationPage { invitations: vec![daves_invitation()], more: false }),
        // AnswerInvitation request (dave accepts, sequence 51)
        request(51, &AnswerInvitationRequest { group_id: 133494630409830400, accept: true }),
        // AnswerInvitation response
        response::<AnswerInvitationRequest>(
            51,
            &InvitationInfo { state: RequestState::Accepted, ..daves_invitation() },
        ),
        // SetAdmin request (alice makes bob an admin, sequence 34)
        request(34, &SetAdminRequest { group_id: 133494630409830400, user_id: 2, admin: true }),
        // SetAdmin response (empty body)
        response::<SetAdminRequest>(34, &()),
        // MuteMember request (bob mutes carol for an hour, sequence 20)
        request(20, &MuteMemberRequest { group_id: 133494630409830400, user_id: 3, until: 1767520800000 }),
        // MuteMember response (empty body)
        response::<MuteMemberRequest>(20, &()),
        // Error response to a Send of carol's while she is muted (sequence 46)
        error(
            Action::Send,
            46,
            &ErrorBody {
                code: 20,
                message: "you are muted in this group".into(),
                retry_after_ms: Some(3300000),
                limit: None,
                reason: None,
                used: None,
            },
        )
        .note("retry_after_ms", " (55 minutes)"),
        // MuteGroup request (alice, sequence 35)
        request(35, &MuteGroupRequest { group_id: 133494630409830400, muted: true }),
        // MuteGroup response (empty body)
        response::<MuteGroupRequest>(35, &()),
        // SetAlias request (carol, sequence 44)
        request(44, &SetAliasRequest { group_id: 133494630409830400, alias: "alto 1".into() }),
        // SetAlias response (empty body)
        response::<SetAliasRequest>(44, &()),
        // ListMembers request (carol, two per page, sequence 45)
        request(45, &ListMembersRequest { group_id: 133494630409830400, after: 0, limit: 2, online_only: false })
            .note("after", " (from the start)"),
        // ListMembers response (page on with after = 2)
        response::<ListMembersRequest>(
            45,
            &MemberPage {
                members: vec![
                    Member {
                        user: UserCard {
                            user_id: 1,
                            username: "alice".into(),
                            nickname: "Alice".into(),
                            avatar: 133902316347588609,
                        },
                        role: GroupRole::Owner,
                        alias: "".into(),
                        joined_at: 1767517200100,
                        muted_until: 0,
                        online: true,
                    },
                    Member {
                        user: UserCard { user_id: 2, username: "bob".into(), nickname: "小波".into(), avatar: 0 },
                        role: GroupRole::Admin,
                        alias: "".into(),
                        joined_at: 1767517200100,
                        muted_until: 0,
                        online: false,
                    },
                ],
                more: true,
                member_count: 4,
            },
        ),
        // UpdateGroup request (alice sets an announcement, sequence 36)
        request(
            36,
            &UpdateGroupRequest {
                group_id: 133494630409830400,
                fields: GroupFields {
                    name: "choir".into(),
                    avatar: 0,
                    introduction: "Tuesday rehearsals".into(),
                    announcement: "Concert on Friday".into(),
                    join_policy: JoinPolicy::Approval,
                    history_visible: false,
                },
            },
        ),
        // UpdateGroup response
        response::<UpdateGroupRequest>(
            36,
            &GroupInfo {
                group_id: 133494630409830400,
                name: "choir".into(),
                avatar: 0,
                introduction: "Tuesday rehearsals".into(),
                announcement: "Concert on Friday".into(),
                join_policy: JoinPolicy::Approval,
                history_visible: false,
                muted: true,
                owner: 1,
                member_count: 4,
                my_role: Some(GroupRole::Owner),
            },
        ),
        // KickMember request (alice removes dave, sequence 37)
        request(37, &KickMemberRequest { group_id: 133494630409830400, user_id: 4 }),
        // KickMember response (empty body)
        response::<KickMemberRequest>(37, &()),
        // BanUser request (alice bans dave, no longer a member, sequence 38, at 2026-01-04T09:10:00.000Z)
        request(38, &BanRequest { group_id: 133494630409830400, user_id: 4, banned: true }),
        // BanUser response (empty body)
        response::<BanRequest>(38, &()),
        // ListBans request (alice, sequence 39)
        request(39, &ListBansRequest { group_id: 133494630409830400, after: 0, limit: 20 })
            .note("after", " (from the start)"),
        // ListBans response
        response::<ListBansRequest>(
            39,
            &BanPage {
                bans: vec![Ban {
                    user: UserCard { user_id: 4, username: "dave".into(), nickname: "Dave".into(), avatar: 0 },
                    by: 1,
                    since: 1767517800000,
                }],
                more: false,
            },
        ),
        // LeaveGroup request (carol, sequence 47)
        request(47, &LeaveGroupRequest { group_id: 133494630409830400 }),
        // LeaveGroup response (empty body)
        response::<LeaveGroupRequest>(47, &()),
        // TransferGroup request (alice hands the group to bob, sequence 60)
        request(60, &TransferGroupRequest { group_id: 133494630409830400, user_id: 2 }),
        // TransferGroup response (empty body)
        response::<TransferGroupRequest>(60, &()),
        // ListGroups request (bob, sequence 21)
        request(21, &ListGroupsRequest { after: 0, limit: 20 }).note("after", " (from the start)"),
        // ListGroups response (bob owns it now; alice and bob are left)
        response::<ListGroupsRequest>(
            21,
            &GroupPage {
                groups: vec![GroupInfo {
                    group_id: 133494630409830400,
                    name: "choir".into(),
                    avatar: 0,
                    introduction: "Tuesday rehearsals".into(),
                    announcement: "Concert on Friday".into(),
                    join_policy: JoinPolicy::Approval,
                    history_visible: false,
                    muted: true,
                    owner: 2,
                    member_count: 2,
                    my_role: Some(GroupRole::Owner),
                }],
                more: false,
            },
        ),
        // DissolveGroup request (bob, sequence 22)
        request(22, &DissolveGroupRequest { group_id: 133494630409830400 }),
        // DissolveGroup response (empty body)
        response::<DissolveGroupRequest>(22, &()),
        // Sync request (erin, a member of a 3,000-member group, back after an hour, sequence 2)
        request(2, &SyncRequest { after: 133479530496000000, limit: 100 }),
        // Sync response: nothing in erin's own log, but her large group has news — she pulls it with History(Group, After, anchor = the `after` above)
        response::<SyncRequest>(
            2,
            &SyncPage {
                updates: vec![],
                more: false,
                groups: vec![GroupNews { group_id: 133132242124800000, latest: 133495888281600000 }],
                limited: vec![],
                notices_dropped: 0,
            },
        ),
    ]
}
