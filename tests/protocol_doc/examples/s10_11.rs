//! Section 10.11 Catching up after leaving a large group (revision 10).

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // History request (erin's phone pulls the group she left from the cursor it synced from, sequence 3)
        request(
            3,
            &HistoryRequest {
                with: Target::Group(133872117350400000),
                direction: Direction::After,
                anchor: 134959280947200000,
                limit: 100,
            },
        ),
        // History response: frank's message, then erin's own Left, where her window ends (more = false)
        response::<HistoryRequest>(
            3,
            &Page {
                messages: vec![
                    Message {
                        id: 134959532605440000,
                        sender: 6,
                        to: Target::Group(133872117350400000),
                        client_msg_id: hex16("5b2d8e1f0c3a4b6d9e7f1a2b3c4d5e6f"),
                        kind: MessageKind::Text,
                        content: b"see you at six".to_vec(),
                        extra: None,
                        server_time: 1767866460000,
                        reply_to: 0,
                        edited: 0,
                        mentions: vec![],
                    },
                    Message {
                        id: 134959784263680000,
                        sender: 5,
                        to: Target::Group(133872117350400000),
                        client_msg_id: hex16("00000000000000000000000000000000"),
                        kind: MessageKind::System,
                        content: encode_wire(&GroupEvent::Left { user_id: 5 }),
                        extra: None,
                        server_time: 1767866520000,
                        reply_to: 0,
                        edited: 0,
                        mentions: vec![],
                    },
                ],
                more: false,
            },
        ),
    ]
}
