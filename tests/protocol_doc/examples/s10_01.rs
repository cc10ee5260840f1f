//! Section 10.1 First connection: Register, Login, Heartbeat, FindUser, Send.

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // Register request (sequence 1)
        request(
            1,
            &RegisterRequest {
                username: "alice".into(),
                password: "correct horse battery".into(),
                invitation: Some(hex("00000000000000015f2c8a91d03b47e6a1c9e2f4b6d8a0c3")),
            },
        )
        .note("invitation", " (invite code id 1, then its 16-byte secret: alice's join link)"),
        // Register response
        response::<RegisterRequest>(1, &RegisterReply { user_id: 1 }),
        // Login request (sequence 2)
        request(
            2,
            &LoginRequest {
                username: "alice".into(),
                password: "correct horse battery".into(),
                device: DeviceInfo {
                    device_id: "alice-phone".into(),
                    device_type: DeviceType::Mobile,
                    client_type: ClientType::Android,
                },
            },
        ),
        // Login response (token bytes made up; `latest` is the `NewLogin` update of this login)
        response::<LoginRequest>(
            2,
            &LoginReply {
                token: hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7"),
                expires_at: 1769817600000,
                session: AuthReply {
                    user_id: 1,
                    username: "alice".into(),
                    device_id: "alice-phone".into(),
                    cursor: 0,
                    latest: 132271574718873600,
                    renewed: None,
                },
            },
        )
        .note("session.latest", ": the update announcing this very login")
        .note("session.renewed", " (always, in a Login reply)"),
        // Login failure: the Error answer to sequence 2 had the password been wrong (code 6 BadCredentials)
        error(
            Action::Login,
            2,
            &ErrorBody {
                code: 6,
                message: "wrong username or password".into(),
                retry_after_ms: None,
                limit: None,
                reason: None,
                used: None,
            },
        ),
        // Heartbeat request (sequence 3, empty body)
        request(3, &Heartbeat),
        // Heartbeat response
        response::<Heartbeat>(3, &HeartbeatReply { server_time: 1767225600000 }),
        // FindUser request (sequence 4)
        request(4, &FindUserRequest { username: "bob".into() }),
        // FindUser response
        response::<FindUserRequest>(4, &UserInfo { user_id: 2, username: "bob".into() }),
        // Send request (sequence 5)
        request(
            5,
            &SendRequest {
                to: Target::User(2),
                client_msg_id: hex16("000102030405060708090a0b0c0d0e0f"),
                kind: MessageKind::Text,
                content: b"hi".to_vec(),
                extra: None,
                reply_to: 0,
                mentions: vec![],
            },
        ),
        // Send response
        response::<SendRequest>(
            5,
            &SendReply { message_id: 132271576119771136, server_time: 1767225601234, duplicate: false },
        ),
    ]
}
