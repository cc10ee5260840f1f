//! Section 10.2 Pushes.

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // Update push, kind Message: the message as delivered to bob's devices (and alice's other devices)
        push(&Push::Update(Update::new(
            132271576119771136,
            &UpdateBody::Message(Message {
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
            }),
        ))),
        // Update push, kind NewLogin: what alice's laptop, had it been online, would have received when her phone logged in
        push(&Push::Update(Update::new(
            132271574718873600,
            &UpdateBody::NewLogin(NewLogin {
                device_id: "alice-phone".into(),
                device_type: DeviceType::Mobile,
                client_type: ClientType::Android,
                address: "203.0.113.7".into(),
            }),
        ))),
    ]
}
