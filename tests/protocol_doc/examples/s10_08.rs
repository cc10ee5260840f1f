//! Section 10.8 Conversations: the list, reading, receipts.

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // ListConversations request (alice's phone, sequence 60)
        request(60, &ListConversationsRequest { before: 0, changed_since: 0, limit: 20 })
            .note("before", " (the first page)")
            .note("changed_since", " (everything)"),
        // ListConversations response (the group has carol's newest message; bob's two are unread; bob has read everything, his own sending moved his position)
        response::<ListConversationsRequest>(
            60,
            &ConversationPage {
                conversations: vec![
                    ConversationInfo {
                        with: Target::Group(133479530496000000),
                        last: Some(LastMessage {
                            id: 133841930944512000,
                            sender: 3,
                            kind: MessageKind::Text,
                            server_time: 1767600003000,
                            preview: "walk moved to Sunday".into(),
                        }),
                        unread: 1,
                        read_up_to: 133826818867200000,
                        peer_read_up_to: 0,
                        updated: 133841930944512000,
                        mentioned: 0,
                    },
                    ConversationInfo {
                        with: Target::User(2),
                        last: Some(LastMessage {
                            id: 133841926750208000,
                            sender: 2,
                            kind: MessageKind::Text,
                            server_time: 1767600002000,
                            preview: "bring the map".into(),
                        }),
                        unread: 2,
                        read_up_to: 133841920458752000,
                        peer_read_up_to: 133841926750208000,
                        updated: 133841926750208000,
                        mentioned: 0,
                    },
                ],
                more: false,
                total_unread: 3,
            },
        )
        .note("conversations[0].peer_read_up_to", " (a group)")
        .note("conversations[0].mentioned", " (none)")
        .note("conversations[1].mentioned", " (none)"),
        // MarkRead request (alice reads bob's messages, sequence 61, at 2026-01-05T08:01:00.000Z)
        request(61, &MarkReadRequest { with: Target::User(2), up_to: 133841926750208000 }),
        // MarkRead response
        response::<MarkReadRequest>(
            61,
            &ReadPosition { with: Target::User(2), read_up_to: 133841926750208000, unread: 0 },
        ),
        // Update push of kind 9 ReadPosition to alice's tablet
        push(&Push::Update(Update::new(
            133842170019840000,
            &UpdateBody::ReadPosition(ReadPosition {
                with: Target::User(2),
                read_up_to: 133841926750208000,
                unread: 0,
            }),
        ))),
        // Update push of kind 10 ReadReceipt to bob's devices
        push(&Push::Update(Update::new(
            133842170019840001,
            &UpdateBody::ReadReceipt(ReadReceipt { reader: 1, up_to: 133841926750208000 }),
        ))),
        // ReadReceipts request (bob stops sending read receipts, sequence 30)
        request(30, &ReadReceiptsRequest { set: Some(false) }),
        // ReadReceipts response
        response::<ReadReceiptsRequest>(30, &ReadReceiptsSetting { enabled: false }),
        // MessageReaders request (carol asks who read her message, sequence 12)
        request(12, &MessageReadersRequest { group_id: 133479530496000000, message_id: 133841930944512000 }),
        // MessageReaders response (of the three other members who send receipts, users 4 and 5 read it)
        response::<MessageReadersRequest>(12, &MessageReaders { read: 2, of: 3, readers: vec![4, 5], listed: true }),
        // ReadReceiptsChanged update (alice's tablet, after her phone turned receipts off)
        push(&Push::Update(Update::new(
            134264716787712000,
            &UpdateBody::ReadReceiptsChanged(ReadReceiptsSetting { enabled: false }),
        ))),
    ]
}
