//! Section 10.9 After sending: recall, delete for me, delivery, the offline cap.

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // Recall request (bob takes back his message to alice, sequence 40)
        request(40, &RecallRequest { with: Target::User(1), message_id: 134264725176320000 }),
        // Recall response
        response::<RecallRequest>(
            40,
            &Recalled { message_id: 134264725176320000, sender: 2, to: Target::User(1), by: 2 },
        ),
        // MessageRecalled update (alice's phone)
        push(&Push::Update(Update::new(
            134264830033920000,
            &UpdateBody::MessageRecalled(Recalled {
                message_id: 134264725176320000,
                sender: 2,
                to: Target::User(1),
                by: 2,
            }),
        ))),
        // Recall refused: the window has passed (bob tries an older text, sequence 41)
        error(
            Action::Recall,
            41,
            &ErrorBody {
                code: 7,
                message: "Text messages can be recalled for 120 s after sending".into(),
                retry_after_ms: None,
                limit: Some(120),
                reason: None,
                used: None,
            },
        ),
        // DeleteForMe request (alice's phone hides bob's first message and clears up to his third, sequence 61)
        request(
            61,
            &DeleteForMeRequest {
                with: Target::User(2),
                message_ids: vec![134264704204800000],
                clear_up_to: 134264741953536000,
            },
        ),
        // DeleteForMe response
        response::<DeleteForMeRequest>(
            61,
            &DeletedForMe {
                with: Target::User(2),
                message_ids: vec![],
                cleared_up_to: 134264741953536000,
                read_up_to: 134264741953536000,
                unread: 0,
            },
        ),
        // DeletedForMe update (alice's tablet)
        push(&Push::Update(Update::new(
            134264955863040000,
            &UpdateBody::DeletedForMe(DeletedForMe {
                with: Target::User(2),
                message_ids: vec![],
                cleared_up_to: 134264741953536000,
                read_up_to: 134264741953536000,
                unread: 0,
            }),
        ))),
        // Delivered update (bob's phone, after alice's phone acknowledged)
        push(&Push::Update(Update::new(
            134264746147840000,
            &UpdateBody::Delivered(Delivered { recipient: 1, up_to: 134264741953536000 }),
        ))),
        // Sync response with the offline cap (carol's tablet, back after a long time, sequence 5)
        response::<SyncRequest>(
            5,
            &SyncPage {
                updates: vec![Update::new(
                    134265207521280000,
                    &UpdateBody::Message(Message {
                        id: 134265207521280000,
                        sender: 1,
                        to: Target::User(3),
                        client_msg_id: hex16("101112131415161718191a1b1c1d1e1f"),
                        kind: MessageKind::Recalled,
                        content: Vec::new(),
                        extra: None,
                        server_time: 1767700920000,
                        reply_to: 0,
                        edited: 0,
                        mentions: vec![],
                    }),
                )],
                more: true,
                groups: vec![],
                limited: vec![Limited { with: Target::User(1), older_than: 134265207521280000 }],
                notices_dropped: 0,
            },
        ),
    ]
}
