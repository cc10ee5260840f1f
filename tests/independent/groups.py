"""A group shared by this independent client and another one (revision 6,
docs/PROTOCOL.md section 5, CreateGroup to ListMembers), over plain TCP:

    python3 groups.py --tcp HOST:PORT --name NAME --peer PEER

PEER is an existing, logged-in user of the other client whose friend policy
is AcceptAll, so that an invitation makes it a member at once. This script
registers NAME (the owner) and NAME + "kid" (friend policy AcceptAll too),
creates an Open group with PEER and the kid, says "hello group from python"
and waits for PEER's "hello group from rust"; then the owner kicks the kid,
says "after the kick", and checks that nothing of it reaches the kid, that
the kid's History of the group ends with the kick (revision 10) and that
the kid may no longer write to it. Prints "received the
reply" and then "group checks passed"; exits non-zero on a failed check.
"""

import sys
import time

import kith_client as k
from scenario_main import CheckFailed, expect, expect_refused, open_account, run_scenario

PASSWORD = "groups password"
HELLO = "hello group from python"
REPLY = "hello group from rust"
AFTER_KICK = "after the kick"
REPLY_TIMEOUT = 30.0  # the other client replies once it has our hello
PUSH_TIMEOUT = 10.0
QUIET_PERIOD = 1.5  # how long a removed member is watched for a message


def wait_group_message(client: k.KithClient, timeout: float, match, what: str) -> k.Message:
    """The first message of an Update push that `match` accepts, skipping
    every other push."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            update = client.next_update(max(0.0, deadline - time.monotonic()), k.UPDATE_MESSAGE)
        except TimeoutError:
            raise CheckFailed(f"no {what} within {timeout} s") from None
        message = update.value
        expect(update.id == message.id, f"update id {update.id} is not the message id {message.id} (section 8.2)")
        if match(message):
            return message


def expect_no_group_message(client: k.KithClient, group: k.Target, seconds: float) -> None:
    """No message of `group` is pushed to `client` within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            update = client.next_update(max(0.0, deadline - time.monotonic()), k.UPDATE_MESSAGE)
        except TimeoutError:
            return
        expect(update.value.to != group, f"{client.label} received a message of the group: {update.value}")


def run(host: str, port: int, name: str, peer_name: str) -> None:
    # a. the owner, and the kid who accepts every invitation
    owner, owner_id = open_account(host, port, name, PASSWORD, "groups-owner", k.DEVICE_DESKTOP)
    kid, kid_id = open_account(host, port, name + "kid", PASSWORD, "groups-kid", k.DEVICE_DESKTOP)
    settings = kid.privacy(friend_policy=k.POLICY_ACCEPT_ALL)
    expect(settings.friend_policy == k.POLICY_ACCEPT_ALL, f"the kid's friend policy is {settings.friend_policy}")

    # b. the peer
    peer_id = owner.find_user(peer_name).user_id

    # c. an Open group with both; their AcceptAll policies make them members at once
    created = owner.create_group(k.GroupFields(name=f"{name} group", join_policy=k.JOIN_OPEN), [peer_id, kid_id])
    group_id = created.group.group_id
    group = k.Target.group(group_id)
    expect(sorted(created.joined) == sorted([peer_id, kid_id]),
           f"joined {created.joined}, invited {created.invited}, refused {created.refused}; "
           f"expected the peer {peer_id} and the kid {kid_id} to have joined")
    expect(created.group.my_role == k.ROLE_OWNER and created.group.owner == owner_id,
           f"the creator is not the owner: {created.group}")
    print(f"group {group_id} created with {peer_name} ({peer_id}) and the kid ({kid_id})", flush=True)

    # d, e. hello, and the peer's reply, pushed to the owner
    owner.send(group, HELLO)
    wait_group_message(owner, REPLY_TIMEOUT, lambda m: m.to == group and m.sender == peer_id
                       and m.kind == k.KIND_TEXT and m.content == REPLY.encode(), f"{REPLY!r} from {peer_name}")
    print("received the reply", flush=True)

    # f. the kick, which the kid learns from a Kicked system message
    owner.kick_member(group_id, kid_id)
    kicked = wait_group_message(kid, PUSH_TIMEOUT, lambda m: m.to == group and m.kind == k.KIND_SYSTEM
                                and m.group_event().variant == k.EVENT_KICKED, "Kicked system message for the kid")
    event = kicked.group_event()
    expect(event.user_id == kid_id and event.by == owner_id and kicked.sender == owner_id,
           f"Kicked event {event} sent by {kicked.sender}: expected user_id {kid_id}, by and sender {owner_id}")

    # g. nothing newer reaches the kid, who may no longer write to the group
    after = owner.send(group, AFTER_KICK)
    expect_no_group_message(kid, group, QUIET_PERIOD)
    kid_log = [u.value for u in kid.sync_all(0) if u.kind == k.UPDATE_MESSAGE]
    expect(any(m.id == kicked.id for m in kid_log), "the Kicked message is not in the kid's own update log")
    newer = [m for m in kid_log if m.id >= after.message_id]
    expect(not newer, f"the kid's update log holds messages from after the kick: {newer}")
    # revision 10: a removed member still reads their window, up to the kick
    window = kid.history(group, k.DIRECTION_BEFORE, 0, 100)
    expect(window.messages and window.messages[-1].id == kicked.id,
           f"the kid's History of the group does not end with the Kicked message {kicked.id}: "
           f"{[m.id for m in window.messages]}")
    expect_refused(k.NOT_PERMITTED, "Send to the group by the kicked kid", kid.send, group, "still here?")
    owner.close()
    kid.close()


if __name__ == "__main__":
    sys.exit(run_scenario(
        __doc__, run,
        name_help="the owner's username; the kid is NAME + 'kid'",
        peer_help="username of the other client's user (policy AcceptAll)",
        what="group check",
        passed=lambda: "group checks passed",
    ))
