//! Section 10.14 Typing (revision 17).

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // Typing request (sequence 71)
        request(71, &TypingRequest { with: Target::User(2), typing: true }),
        // Typing response
        response::<TypingRequest>(71, &()),
        // Typing push to bob's phone
        push(&Push::Typing(TypingPush { user_id: 1, with: Target::User(1), typing: true, for_ms: 6000 }))
            .note("with", " (alice: the conversation as bob names it)"),
    ]
}
