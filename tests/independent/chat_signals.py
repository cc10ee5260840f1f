"""Typing (revision 17), replies and edits (revision 18) between users of
this independent client on their phones, over plain TCP
(docs/PROTOCOL.md section 5, Send, Edit and Typing; section 8.2, kind 20):

    python3 chat_signals.py --tcp HOST:PORT --name NAME --peer PEER

NAME starts typing to PEER: PEER's phone gets a Typing push naming NAME's
conversation, and then one that she stopped; Sync holds nothing of it.
NAME writes with a typo; PEER answers it (`reply_to`), and his reply reaches
her naming her message. She edits it: the answer is the message with the
new text and `edited`; PEER's phone gets a MessageEdited update (kind 20)
and reads the message again through History ("Reading one message"), and
Sync gives the same update under the same id. Refusals: PEER editing her
message (NotPermitted), an edit of a message of no conversation of hers
(NotFound), a reply to a message that does not exist (NotFound). In a group
NAME creates and PEER joins, her edit reaches him as a System message
(GroupEvent 13 MessageEdited). Revision 21: PEER mutes that group; NAME
mentions him; he receives it naming him, and his list shows `mentioned`
until he reads it; @all from him is NotPermitted. Revision 19: on her phone NAME pins her
conversation with PEER and keeps a draft in it; her tablet gets a
ConversationStateChanged update (kind 21) and finds it in
ConversationStates; cleared, it is gone; a draft past 2,000 characters is
InvalidArgument. Revision 20: PEER puts 👍 on her message; she gets a
ReactionChanged update (kind 22) and reads the reactions; an emoji with a
space is InvalidArgument. Revision 22: PEER watches NAME's presence,
hidden while either shows it to friends only; once both show it to
everyone, PEER's phone is pushed that she is online, and then that she went
offline, with her last seen. Needs open registration and
`social.direct_messages = "anyone"`. Prints "all checks passed"; exits
non-zero on a failed check.
"""

import sys

import kith_client as k
from scenario_main import CHECKS, expect, expect_refused, ok, open_account, run_scenario

PASSWORD = "chat signals password"


def run(host: str, port: int, name: str, peer_name: str) -> None:
    (alice, alice_id), (bob, bob_id) = (
        open_account(host, port, n, PASSWORD, f"signals-{n}", k.DEVICE_MOBILE) for n in (name, peer_name))
    to_bob, to_alice = k.Target.user(bob_id), k.Target.user(alice_id)

    # Typing: a push to the peer's online phone, nothing stored.
    before = bob.sync_all(0)
    alice.typing(to_bob, True)
    _, push = bob.next_push(10, k.PUSH_TYPING)
    expect(push == k.TypingPush(alice_id, to_alice, True, 6000), f"the Typing push: {push}")
    alice.typing(to_bob, False)
    _, push = bob.next_push(10, k.PUSH_TYPING)
    expect(not push.typing, f"the stop: {push}")
    expect(bob.sync_all(0) == before, "Sync holds nothing of typing")
    ok("typing reaches the peer's phone as a Typing push (for_ms 6000), then its stop; Sync holds nothing of it")

    # A reply names the message it answers.
    typo = alice.send(to_bob, "see you at 8 tomorow")
    got = bob.next_message(10)
    expect((got.id, got.reply_to, got.edited) == (typo.message_id, 0, 0), f"her message: {got}")
    reply = bob.send(to_alice, "at the station?", reply_to=typo.message_id)
    answered = alice.next_message(10)
    expect((answered.id, answered.reply_to) == (reply.message_id, typo.message_id), f"his reply: {answered}")
    original = alice.message(to_bob, answered.reply_to)
    expect(original is not None and original.content == b"see you at 8 tomorow", f"the original: {original}")
    ok("a reply (reply_to) reaches her naming her message, which she reads with History")

    # An edit: the new text, `edited`, kind 20 to the peer, who reads it again.
    edited = alice.edit(to_bob, typo.message_id, "see you at 8 tomorrow")
    expect(edited.content == b"see you at 8 tomorrow" and edited.edited >= edited.server_time
           and edited.id == typo.message_id, f"Edit's answer: {edited}")
    update = bob.next_update(10, k.UPDATE_MESSAGE_EDITED)
    expect(update.value == k.Edited(typo.message_id, alice_id, to_bob, edited.edited), f"kind 20: {update.value}")
    again = bob.message(to_alice, update.value.message_id)
    expect(again == edited, f"read again: {again}")
    synced = [u for u in bob.sync_all(0) if u.kind == k.UPDATE_MESSAGE_EDITED]
    expect([u.id for u in synced] == [update.id], f"Sync gives the same update: {synced}")
    ok("Edit answers the new text and `edited`; the peer gets kind 20 MessageEdited, reads the message again, "
       "and Sync gives the same update under the same id")

    expect_refused(k.NOT_PERMITTED, "an edit of someone else's message", bob.edit, to_alice, typo.message_id, "x")
    expect_refused(k.NOT_FOUND, "an edit of a message of no conversation of hers", alice.edit, to_bob, 1, "x")
    expect_refused(k.NOT_FOUND, "a reply to no message", lambda: bob.send(to_alice, "?", reply_to=1))
    ok("refused: someone else's message (NotPermitted), an unknown one (NotFound), a reply to nothing (NotFound)")

    # A group: the edit is a System message, GroupEvent 13 MessageEdited.
    group_id = alice.create_group(k.GroupFields(name="signals")).group.group_id
    group = k.Target.group(group_id)
    bob.join_group(group_id)
    said = alice.send(group, "meet at 9")
    while bob.next_message(10).id != said.message_id:
        pass
    fixed = alice.edit(group, said.message_id, "meet at 9:30")
    while True:
        event = bob.next_message(10).group_event()
        if event is not None and event.variant == k.EVENT_MESSAGE_EDITED:
            break
    expect((event.message_id, event.sender, event.edited_at) == (said.message_id, alice_id, fixed.edited),
           f"GroupEvent MessageEdited: {event}")
    expect(bob.message(group, said.message_id) == fixed, "the member reads the new text")
    ok("in a group the edit reaches members as a System message (GroupEvent 13 MessageEdited)")

    # Revision 21: PEER mutes the group; NAME mentions him; he gets it and his list says so until read.
    expect(bob.conversation_state(group, muted=True).muted, "PEER muted the group")
    called = alice.send(group, "@peer your turn", mentions=[bob_id])
    while True:
        m = bob.next_message(10)
        if m.id == called.message_id:
            break
    expect(m.mentions == [bob_id], f"the mention names him: {m}")
    entry = next(c for c in bob.list_conversations().conversations if c.with_ == group)
    expect(entry.mentioned == called.message_id, f"his list: mentioned you: {entry}")
    bob.mark_read(group, called.message_id)
    entry = next(c for c in bob.list_conversations().conversations if c.with_ == group)
    expect(entry.mentioned == 0, f"read: no longer mentioned: {entry}")
    expect_refused(k.NOT_PERMITTED, "@all from an ordinary member", lambda: bob.send(group, "@all", mentions=[0]))
    ok("in a group he muted, a mention reaches PEER and his list shows it until read; @all is not his to say")

    # Revision 19: a pin and a draft on her phone reach her tablet.
    tablet = k.KithClient.connect_tcp(host, port, label="tablet")
    tablet.login(name, PASSWORD, f"signals-{name}-tablet", k.DEVICE_TABLET, k.CLIENT_OTHER)
    state = alice.conversation_state(to_bob, pinned=True, draft="and after")
    expect(state.with_ == to_bob and state.pinned_at > 0 and state.draft == "and after", f"the state: {state}")
    told = tablet.next_update(10, k.UPDATE_CONVERSATION_STATE_CHANGED)
    expect(told.value == state, f"kind 21 on the tablet: {told.value}")
    expect(tablet.conversation_states().states == [state], "ConversationStates on the tablet")
    cleared = alice.conversation_state(to_bob, pinned=False, draft="")
    expect(cleared.pinned_at == 0 and cleared.draft == "", f"cleared: {cleared}")
    expect(tablet.conversation_states().states == [], "a cleared state is no longer listed")
    expect_refused(k.INVALID_ARGUMENT, "a draft of 2,001 characters",
                   lambda: alice.conversation_state(to_bob, draft="x" * 2001))
    ok("a pin and a draft reach her tablet (kind 21, ConversationStates); cleared, gone; a long draft refused")

    # Revision 20: a reaction reaches the sender, who reads them.
    answer = bob.react(to_alice, typo.message_id, "👍")
    expect(answer == k.MessageReactions(typo.message_id, [k.ReactionCount("👍", 1, [bob_id], True)]),
           f"React's answer: {answer}")
    told = alice.next_update(10, k.UPDATE_REACTION_CHANGED)
    expect(told.value == k.ReactionChanged(typo.message_id, alice_id, to_bob, bob_id, "👍", True),
           f"kind 22: {told.value}")
    seen = alice.reactions(to_bob, typo.message_id)
    expect(seen.reactions == [k.ReactionCount("👍", 1, [bob_id], False)], f"Reactions: {seen}")
    expect_refused(k.INVALID_ARGUMENT, "an emoji with a space", bob.react, to_alice, typo.message_id, "a b")
    ok("a reaction reaches the sender (kind 22), who reads it with Reactions; a bad emoji is refused")

    # Revision 22: presence, shown only where both audiences admit the other.
    hidden = k.PresenceInfo(alice_id, False, 0)
    expect(bob.presence([alice_id], watch=True) == [hidden], "strangers under the default Friends audience")
    expect(alice.privacy(presence=k.AUDIENCE_EVERYONE).presence == k.AUDIENCE_EVERYONE, "alice shows everyone")
    expect(bob.presence([alice_id]) == [hidden], "reciprocal: bob still shows his presence to friends only")
    bob.privacy(presence=k.AUDIENCE_EVERYONE)
    _, shown = bob.next_push(10, k.PUSH_PRESENCE)
    expect(shown == k.PresenceInfo(alice_id, True, 0), f"once both show everyone, a push: {shown}")
    for c in (alice, tablet):
        c.close()
    _, gone = bob.next_push(10, k.PUSH_PRESENCE)
    expect(gone.user_id == alice_id and not gone.online and gone.last_seen > 0, f"she went offline: {gone}")
    expect(bob.presence([alice_id]) == [gone], "read as pushed")
    expect_refused(k.INVALID_ARGUMENT, "201 users", bob.presence, [alice_id] * 201)
    ok("presence: hidden between strangers, shown once both audiences admit the other (a push), "
       "then her going offline with last_seen; 201 users refused")
    bob.close()


if __name__ == "__main__":
    sys.exit(run_scenario(
        __doc__, run,
        name_help="the writer's username",
        peer_help="the peer's username",
        what="chat signals check",
        passed=lambda: f"all checks passed ({CHECKS[0]} checks)",
    ))
