//! Section 10.18 Presence (revision 22).

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // Presence request (bob's phone watches alice and carol, sequence 30)
        request(30, &PresenceRequest { users: vec![1, 3], watch: true })
            .note("users[0]", " (alice)")
            .note("users[1]", " (carol)"),
        // Presence response: alice is online; carol, a stranger, is hidden
        response::<PresenceRequest>(
            30,
            &PresenceList {
                users: vec![
                    PresenceInfo { user_id: 1, online: true, last_seen: 0 },
                    PresenceInfo { user_id: 3, online: false, last_seen: 0 },
                ],
            },
        )
        .note("users[0].last_seen", " (online)")
        .note("users[1].last_seen", " (hidden)"),
        // Presence push to bob's phone: alice's last device went offline
        push(&Push::Presence(PresenceInfo { user_id: 1, online: false, last_seen: 1772452800000 })),
        // Privacy request (alice shows her presence to everyone, sequence 40)
        request(40, &PrivacyRequest { discoverable: None, friend_policy: None, presence: Some(Audience::Everyone) }),
        // Privacy response
        response::<PrivacyRequest>(
            40,
            &PrivacySettings {
                discoverable: Discoverable::Everyone,
                friend_policy: FriendPolicy::RequireApproval,
                presence: Audience::Everyone,
            },
        ),
        // GroupOnline request (bob, group 153754325401600000, sequence 31)
        request(31, &GroupOnlineRequest { group_id: 153754325401600000 }),
        // GroupOnline response: 3 of the 5 members are online and shown to bob
        response::<GroupOnlineRequest>(31, &GroupOnline { member_count: 5, online: 3 }),
    ]
}
