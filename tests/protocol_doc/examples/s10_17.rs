//! Section 10.17 A reaction (revision 20).

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // React request (bob's phone, sequence 17)
        request(
            17,
            &ReactRequest { with: Target::User(1), message_id: 154180937318400000, emoji: "👍".into(), add: true },
        ),
        // React response: the reactions as bob sees them
        response::<ReactRequest>(
            17,
            &MessageReactions {
                message_id: 154180937318400000,
                reactions: vec![ReactionCount { emoji: "👍".into(), count: 1, users: vec![2], mine: true }],
            },
        ),
        // Update push, kind ReactionChanged, to alice's phone
        push(&Push::Update(Update::new(
            154180966678528002,
            &UpdateBody::ReactionChanged(ReactionChanged {
                message_id: 154180937318400000,
                sender: 1,
                to: Target::User(2),
                user_id: 2,
                emoji: "👍".into(),
                added: true,
            }),
        )))
        .note("body.to", " (bob: as alice addressed it)"),
        // Reactions request (alice's phone, sequence 23)
        request(23, &ReactionsRequest { with: Target::User(2), message_id: 154180937318400000 }),
        // Reactions response: the reactions as alice sees them
        response::<ReactionsRequest>(
            23,
            &MessageReactions {
                message_id: 154180937318400000,
                reactions: vec![ReactionCount { emoji: "👍".into(), count: 1, users: vec![2], mine: false }],
            },
        ),
    ]
}
