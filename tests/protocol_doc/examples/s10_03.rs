//! Section 10.3 Second connection: Auth, Sync, Ack, History, ChangePassword, Logout.

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // Auth request (new connection, sequence 1)
        request(
            1,
            &AuthRequest {
                token: hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7"),
            },
        ),
        // Auth response (updates missed while offline: latest > cursor)
        response::<AuthRequest>(
            1,
            &AuthReply {
                user_id: 1,
                username: "alice".into(),
                device_id: "alice-phone".into(),
                cursor: 132271576119771136,
                latest: 132271594759258113,
                renewed: None,
            },
        )
        .note("renewed", " (the token is far from its expiry)"),
        // Sync request (sequence 2, after = the last update id the phone has)
        request(2, &SyncRequest { after: 132271576119771136, limit: 100 }),
        // Sync response: a SyncPage with two updates — the laptop's login and bob's reply (with `extra` set) — and no more
        response::<SyncRequest>(
            2,
            &SyncPage {
                updates: vec![
                    Update::new(
                        132271583526912000,
                        &UpdateBody::NewLogin(NewLogin {
                            device_id: "alice-laptop".into(),
                            device_type: DeviceType::Desktop,
                            client_type: ClientType::Linux,
                            address: "198.51.100.4".into(),
                        }),
                    ),
                    Update::new(
                        132271594759258113,
                        &UpdateBody::Message(Message {
                            id: 132271594759258113,
                            sender: 2,
                            to: Target::User(1),
                            client_msg_id: hex16("9f3c1ab2e4d54c7f8e0a6b1d2c3f4e5a"),
                            kind: MessageKind::Text,
                            content: b"hello alice".to_vec(),
                            extra: Some("{\"v\":1}".into()),
                            server_time: 1767225605678,
                            reply_to: 0,
                            edited: 0,
                            mentions: vec![],
                        }),
                    ),
                ],
                more: false,
                groups: vec![],
                limited: vec![],
                notices_dropped: 0,
            },
        )
        .note("groups", " (no group above the write diffusion threshold has news)"),
        // Ack request (sequence 3)
        request(3, &AckRequest { up_to: 132271594759258113 }),
        // Ack response
        response::<AckRequest>(3, &AckReply { cursor: 132271594759258113 }),
        // History request (sequence 4): newest page of the conversation with user 2
        request(4, &HistoryRequest { with: Target::User(2), direction: Direction::Before, anchor: 0, limit: 20 }),
        // History response: two messages, ascending ids, no older ones
        response::<HistoryRequest>(
            4,
            &Page {
                messages: vec![
                    Message {
                        id: 132271576119771136,
                        sender: 1,
                        to: Target::User(2),
                        client_msg_id: hex16("000102030405060708090a0b0c0d0e0f"),
                        kind: MessageKind::Text,
                        content: b"hi".to_vec(),
                        extra: None,
                        server_time: 1767225601234,
                        reply_to: 0,
                        edited: 0,
                        mentions: vec![],
                    },
                    Message {
                        id: 132271594759258113,
                        sender: 2,
                        to: Target::User(1),
                        client_msg_id: hex16("9f3c1ab2e4d54c7f8e0a6b1d2c3f4e5a"),
                        kind: MessageKind::Text,
                        content: b"hello alice".to_vec(),
                        extra: Some("{\"v\":1}".into()),
                        server_time: 1767225605678,
                        reply_to: 0,
                        edited: 0,
                        mentions: vec![],
                    },
                ],
                more: false,
            },
        ),
        // ChangePassword request (sequence 5)
        request(
            5,
            &ChangePasswordRequest {
                old_password: "correct horse battery".into(),
                new_password: "battery staple horse".into(),
            },
        ),
        // ChangePassword response (new token, bytes made up)
        response::<ChangePasswordRequest>(
            5,
            &TokenReply { token: b"PQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvw".to_vec(), expires_at: 1769817660000 },
        ),
        // Logout request (sequence 6, empty body)
        request(6, &Logout),
        // Logout response (empty body; the server then sends a Disconnect(LoggedOut) push and closes)
        response::<Logout>(6, &()),
        // DeleteAccount request (sequence 7): bob deletes his account
        request(7, &DeleteAccountRequest { password: "correct horse battery".into() }),
        // DeleteAccount response (empty body; the server then sends a Disconnect(AccountDeleted) push and closes)
        response::<DeleteAccountRequest>(7, &()),
    ]
}
