//! Section 10.6 The social graph: profiles, search, a friend request, remarks, removal, a block.

use super::*;

/// Alice, as others see her.
fn alice() -> UserCard {
    UserCard { user_id: 1, username: "alice".into(), nickname: "Alice".into(), avatar: 133902316347588609 }
}

/// Bob, as others see him.
fn bob() -> UserCard {
    UserCard { user_id: 2, username: "bob".into(), nickname: "小波".into(), avatar: 0 }
}

/// Bob's profile as he set it.
fn bobs_profile() -> UserProfile {
    UserProfile {
        user_id: 2,
        username: "bob".into(),
        profile: Profile {
            nickname: "小波".into(),
            avatar: 0,
            gender: Gender::Male,
            birth_date: Some(BirthDate { year: 1994, month: 7, day: 15 }),
            signature: "gone fishing".into(),
            city: "杭州".into(),
            province: "浙江".into(),
            extra: "".into(),
        },
    }
}

/// Alice's friend request to bob, while it waits.
fn pending() -> FriendRequestInfo {
    FriendRequestInfo {
        id: 133147347910656000,
        from: alice(),
        to: bob(),
        message: "hi bob, it's alice from the choir".into(),
        state: RequestState::Pending,
        expires_at: 1768039201500,
        answered_at: 0,
    }
}

/// The same request once bob accepted it.
fn accepted() -> FriendRequestInfo {
    FriendRequestInfo { state: RequestState::Accepted, answered_at: 1767434465000, ..pending() }
}

pub(super) fn examples() -> Vec<Example> {
    vec![
        // SetProfile request (bob, sequence 10)
        request(
            10,
            &SetProfileRequest {
                profile: Profile {
                    nickname: "小波".into(),
                    avatar: 0,
                    gender: Gender::Male,
                    birth_date: Some(BirthDate { year: 1994, month: 7, day: 15 }),
                    signature: "gone fishing".into(),
                    city: "杭州".into(),
                    province: "浙江".into(),
                    extra: "".into(),
                },
            },
        ),
        // SetProfile response
        response::<SetProfileRequest>(10, &bobs_profile()),
        // GetProfile request (alice reads bob's profile, sequence 11)
        request(11, &GetProfileRequest { user_id: 2 }),
        // GetProfile response
        response::<GetProfileRequest>(11, &bobs_profile()),
        // Privacy request (bob sets his friend policy to RequireApproval and leaves discoverable as it is, sequence 12)
        request(
            12,
            &PrivacyRequest { discoverable: None, friend_policy: Some(FriendPolicy::RequireApproval), presence: None },
        ),
        // Privacy response
        response::<PrivacyRequest>(
            12,
            &PrivacySettings {
                discoverable: Discoverable::Everyone,
                friend_policy: FriendPolicy::RequireApproval,
                presence: Audience::Friends,
            },
        ),
        // SearchUsers request (alice searches for nicknames starting with 小, first page, sequence 12)
        request(12, &SearchUsersRequest { query: "小".into(), cursor: Vec::new(), limit: 20 }),
        // SearchUsers response (the cursor is opaque: send it back as it is)
        response::<SearchUsersRequest>(
            12,
            &UserPage {
                users: vec![bob()],
                cursor: hex("3f9a0c71e25b88d416a7c3095e21b4709d026ce8f1473a5d80cb1966e42f0b93d875a14c37be6205fa8e11"),
                more: false,
            },
        )
        .note("cursor", " (sealed; made up here)"),
        // AddFriend request (alice asks bob, sequence 13, at 2026-01-03T10:00:01.500Z)
        request(13, &AddFriendRequest { user_id: 2, message: "hi bob, it's alice from the choir".into() }),
        // AddFriend response (bob approves requests himself, so it is pending)
        response::<AddFriendRequest>(13, &pending()),
        // Update push of kind 3 FriendRequest to bob's devices (the update id is the request id)
        push(&Push::Update(Update::new(133147347910656000, &UpdateBody::FriendRequest(pending())))),
        // ListFriendRequests request (bob's incoming requests, sequence 20)
        request(20, &ListFriendRequestsRequest { direction: RequestBox::Incoming, before: 0, limit: 20 })
            .note("before", " (start at the newest)"),
        // ListFriendRequests response
        response::<ListFriendRequestsRequest>(
            20,
            &FriendRequestPage { requests: vec![pending()], more: false, pending_incoming: 1 },
        ),
        // AnswerFriend request (bob accepts, sequence 21, at 2026-01-03T10:01:05.000Z)
        request(21, &AnswerFriendRequest { request_id: 133147347910656000, accept: true }),
        // AnswerFriend response
        response::<AnswerFriendRequest>(21, &accepted()),
        // Update push of kind 4 FriendAnswered to alice's devices
        push(&Push::Update(Update::new(133147614248960000, &UpdateBody::FriendAnswered(accepted())))),
        // SetRemark request (alice names bob for herself, sequence 14)
        request(14, &SetRemarkRequest { user_id: 2, remark: "Bob (choir)".into() }),
        // SetRemark response (empty body)
        response::<SetRemarkRequest>(14, &()),
        // ListFriends request (alice, sequence 15)
        request(15, &ListFriendsRequest { after: 0, limit: 50 }).note("after", " (from the start)"),
        // ListFriends response
        response::<ListFriendsRequest>(
            15,
            &FriendPage {
                friends: vec![Friend { user: bob(), remark: "Bob (choir)".into(), since: 1767434465000 }],
                more: false,
            },
        ),
        // RemoveFriend request (alice, sequence 16, at 2026-01-03T11:00:00.000Z)
        request(16, &RemoveFriendRequest { user_id: 2 }),
        // RemoveFriend response (empty body)
        response::<RemoveFriendRequest>(16, &()),
        // Update push of kind 5 FriendRemoved to bob's devices
        push(&Push::Update(Update::new(
            133162441113600000,
            &UpdateBody::FriendRemoved(FriendRemoved { by: 1, user_id: 2 }),
        ))),
        // Block request (bob blocks alice from his phone, sequence 22, at 2026-01-03T11:01:40.000Z)
        request(22, &BlockRequest { user_id: 1 }),
        // Block response (empty body)
        response::<BlockRequest>(22, &()),
        // Update push of kind 6 BlockChanged to bob's other devices (alice is told nothing)
        push(&Push::Update(Update::new(
            133162860544000000,
            &UpdateBody::BlockChanged(BlockChanged { user_id: 1, blocked: true }),
        ))),
        // ListBlocked request (bob, sequence 23)
        request(23, &ListBlockedRequest { after: 0, limit: 50 }).note("after", " (from the start)"),
        // ListBlocked response
        response::<ListBlockedRequest>(
            23,
            &BlockedPage { users: vec![BlockedUser { user: alice(), since: 1767438100000 }], more: false },
        ),
        // ProfileVisibility request (bob shows his birth date to friends only, his city to nobody, his province to everyone, sequence 25)
        request(
            25,
            &ProfileVisibilityRequest {
                set: Some(FieldVisibility {
                    birth_date: Audience::Friends,
                    city: Audience::Nobody,
                    province: Audience::Everyone,
                }),
            },
        ),
        // ProfileVisibility response
        response::<ProfileVisibilityRequest>(
            25,
            &FieldVisibility { birth_date: Audience::Friends, city: Audience::Nobody, province: Audience::Everyone },
        ),
        // Unblock request (bob, sequence 24)
        request(24, &UnblockRequest { user_id: 1 }),
        // Unblock response (empty body)
        response::<UnblockRequest>(24, &()),
    ]
}
