//! Section 10.5 Renewing a token, and errors with a wait or a limit.

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // Auth response with a renewed token (bob's tablet, whose token expires 2026-01-31T12:00:00Z, connects on 2026-01-25T08:00:00Z)
        response::<AuthRequest>(
            1,
            &AuthReply {
                user_id: 2,
                username: "bob".into(),
                device_id: "bob-tablet".into(),
                cursor: 132271594759258113,
                latest: 132271594759258113,
                renewed: Some(TokenReply {
                    token: hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7"),
                    expires_at: 1771920000000,
                }),
            },
        ),
        // RenewToken request (sequence 2, empty body: on another connection, bob's phone asks for a fresh token on its own schedule)
        request(2, &RenewToken),
        // RenewToken response (token bytes made up; valid for a full lifetime from now)
        response::<RenewToken>(
            2,
            &TokenReply {
                token: hex("101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"),
                expires_at: 1771920001000,
            },
        ),
        // A throttled login: the Error answer to a Login (sequence 2) made 120 ms after a third wrong password
        error(
            Action::Login,
            2,
            &ErrorBody {
                code: 10,
                message: "too many failed logins; retry in 130 ms".into(),
                retry_after_ms: Some(130),
                limit: None,
                reason: Some(2),
                used: None,
            },
        )
        .note("reason", " (Failures)"),
        // An oversize frame before authentication: the Error answer to a Register (sequence 1) whose header announced 8 192 bytes
        error(
            Action::Register,
            1,
            &ErrorBody {
                code: 4,
                message: "body of 8192 bytes exceeds the limit of 4096".into(),
                retry_after_ms: None,
                limit: Some(4096),
                reason: None,
                used: None,
            },
        ),
    ]
}
