//! Section 10.16 A pinned conversation and a draft on two devices (revision 19).

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // ConversationState request (alice's phone, sequence 52)
        request(
            52,
            &ConversationStateRequest {
                with: Target::User(2),
                pinned: Some(true),
                draft: Some("at 8, then".into()),
                muted: None,
            },
        ),
        // ConversationState response
        response::<ConversationStateRequest>(
            52,
            &ConversationState {
                with: Target::User(2),
                pinned_at: 1772445600000,
                draft: "at 8, then".into(),
                changed_at: 1772445600000,
                muted: false,
            },
        ),
        // Update push, kind ConversationStateChanged, to alice's tablet
        push(&Push::Update(Update::new(
            154165837824000001,
            &UpdateBody::ConversationStateChanged(ConversationState {
                with: Target::User(2),
                pinned_at: 1772445600000,
                draft: "at 8, then".into(),
                changed_at: 1772445600000,
                muted: false,
            }),
        ))),
        // ConversationStates request (alice's tablet, sequence 9)
        request(9, &ConversationStatesRequest),
        // ConversationStates response
        response::<ConversationStatesRequest>(
            9,
            &ConversationStates {
                states: vec![
                    ConversationState {
                        with: Target::User(2),
                        pinned_at: 1772445600000,
                        draft: "at 8, then".into(),
                        changed_at: 1772445600000,
                        muted: false,
                    },
                    ConversationState {
                        with: Target::Group(152296855961600000),
                        pinned_at: 0,
                        draft: "bring the maps".into(),
                        changed_at: 1772445612345,
                        muted: false,
                    },
                ],
            },
        ),
    ]
}
