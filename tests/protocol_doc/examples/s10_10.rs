//! Section 10.10 Retention: a week for a 1:1 conversation, a month for a group.

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // Retention request (alice keeps her conversation with bob for a week, sequence 70)
        request(70, &RetentionRequest { with: Target::User(2), set: Some(604800) }).note("set", " (7 days)"),
        // Retention response
        response::<RetentionRequest>(
            70,
            &RetentionSetting { with: Target::User(2), seconds: 604800, server_seconds: 7776000, effective: 604800 },
        )
        .note("server_seconds", " (90 days)"),
        // RetentionChanged update (bob's phone)
        push(&Push::Update(Update::new(
            134264708399104000,
            &UpdateBody::RetentionChanged(RetentionChanged { by: 1, to: Target::User(2), seconds: 604800 }),
        ))),
        // Retention request: carol asks what her group keeps (sequence 12)
        request(12, &RetentionRequest { with: Target::Group(133902316339200000), set: None }),
        // Retention response: the group has 30 days, the server 90
        response::<RetentionRequest>(
            12,
            &RetentionSetting {
                with: Target::Group(133902316339200000),
                seconds: 2592000,
                server_seconds: 7776000,
                effective: 2592000,
            },
        )
        .note("seconds", " (30 days)")
        .note("server_seconds", " (90 days)"),
        // Retention refused: carol is an ordinary member (sequence 13)
        error(
            Action::Retention,
            13,
            &ErrorBody {
                code: 7,
                message: "only the owner and admins may do this".into(),
                retry_after_ms: None,
                limit: None,
                reason: None,
                used: None,
            },
        ),
        // The group's RetentionChanged event (a member's phone)
        push(&Push::Update(Update::new(
            134264712593408000,
            &UpdateBody::Message(Message {
                id: 134264712593408000,
                sender: 1,
                to: Target::Group(133902316339200000),
                client_msg_id: hex16("00000000000000000000000000000000"),
                kind: MessageKind::System,
                content: encode_wire(&GroupEvent::RetentionChanged { seconds: 2592000, by: 1 }),
                extra: None,
                server_time: 1767700802000,
                reply_to: 0,
                edited: 0,
                mentions: vec![],
            }),
        ))),
    ]
}
