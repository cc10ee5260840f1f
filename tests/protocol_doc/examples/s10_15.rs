//! Section 10.15 A reply and an edit (revision 18).

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // Send request with `reply_to` (bob's phone, sequence 31)
        request(
            31,
            &SendRequest {
                to: Target::User(1),
                client_msg_id: hex16("6b1d2c3f4e5a9f3c1ab2e4d54c7f8e0a"),
                kind: MessageKind::Text,
                content: b"at the station?".to_vec(),
                extra: None,
                reply_to: 154150738329600000,
                mentions: vec![],
            },
        )
        .note("reply_to", " (alice's message)"),
        // Send response
        response::<SendRequest>(
            31,
            &SendReply { message_id: 154150911344640000, server_time: 1772442041250, duplicate: false },
        ),
        // Edit request (alice's phone, sequence 44)
        request(
            44,
            &EditRequest {
                with: Target::User(2),
                message_id: 154150738329600000,
                content: b"see you at 8 tomorrow".to_vec(),
            },
        ),
        // Edit response: the message as it now reads
        response::<EditRequest>(
            44,
            &Message {
                id: 154150738329600000,
                sender: 1,
                to: Target::User(2),
                client_msg_id: hex16("3c5d7e9f0a1b2c4a1c9e0b7d2f4e6a8b"),
                kind: MessageKind::Text,
                content: b"see you at 8 tomorrow".to_vec(),
                extra: None,
                server_time: 1772442000000,
                reply_to: 0,
                edited: 1772442095500,
                mentions: vec![],
            },
        ),
        // Update push, kind MessageEdited, to bob's phone
        push(&Push::Update(Update::new(
            154151138885632001,
            &UpdateBody::MessageEdited(Edited {
                message_id: 154150738329600000,
                sender: 1,
                to: Target::User(2),
                edited_at: 1772442095500,
            }),
        )))
        .note("body.to", " (bob: as alice addressed it)"),
    ]
}
