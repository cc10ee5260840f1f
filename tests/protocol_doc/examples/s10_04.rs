//! Section 10.4 A Disconnect push, and an error with sequence 0.

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // Disconnect push (reason Kicked): what alice's phone receives when she logs in on another phone
        push(&Push::Disconnect(DisconnectPush {
            reason: DisconnectReason::Kicked,
            message: "another device of the same type logged in".into(),
        })),
        // Disconnect push (reason AccountDeleted): what bob's laptop receives when he deletes his account on his phone
        push(&Push::Disconnect(DisconnectPush {
            reason: DisconnectReason::AccountDeleted,
            message: "account deleted".into(),
        })),
        // Error response with sequence 0: answer to a (buggy) Heartbeat request sent with sequence 0
        error(
            Action::Heartbeat,
            0,
            &ErrorBody {
                code: 16,
                message: "sequence id 0 is reserved for pushes".into(),
                retry_after_ms: None,
                limit: None,
                reason: None,
                used: None,
            },
        ),
    ]
}
