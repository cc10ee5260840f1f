"""Conversations (revision 7, docs/PROTOCOL.md section 5, ListConversations to MessageReaders and
update kinds 9-10 of section 8.2), what happens after sending (revision 8,
sections Ack, Recall-DeleteForMe and update kinds 11-13) and retention (revision 9,
section 5, Retention and update kind 14) between users of this independent client,
over plain TCP:

    python3 conversations.py --tcp HOST:PORT --name NAME --peer PEER

Registers NAME (the reader, logged in on a phone and a tablet: two
connections with different device ids), PEER (who writes to her), and
NAME + "carol" and NAME + "dave" (a group's owner and one more member). PEER
sends NAME messages; her list shows the unread counts and the badge; her
phone marks them read and her tablet hears of it by a live ReadPosition
update, PEER by a live ReadReceipt update and `peer_read_up_to` in his
list; a `changed_since` refresh returns only the changed entry; read
receipts turned off (by either side) stop the receipt. In an Open group
that carol creates and the others join, MessageReaders counts the readers.
Errors: MarkRead of a conversation that does not exist (NotFound),
ListConversations with limit 0 or 101 (InvalidArgument), MarkRead and
MessageReaders by a non-member (NotPermitted), MessageReaders with receipts
off (NotPermitted) or of a message from before one's window (NotFound).
Revision 8: she recalls her own message within the window; the peer and her
tablet get a MessageRecalled update (kind 11), the lists' `last` becomes a
kind 9 tombstone with an empty preview, the peer's unread count drops, and
History and Sync hold the tombstone; recalling the peer's message is
NotPermitted, a System message NotPermitted, another conversation's NotFound;
carol, the owner, recalls dave's group message (a System message,
GroupEvent MessageRecalled). She hides a message with DeleteForMe (her
tablet gets kind 12, her History drops it, the peer's keeps it) and clears
the conversation up to a message; the peer's Ack past her message sends her
a Delivered update (kind 13).
Revision 9: Retention above 100 years is InvalidArgument (limit 100 years,
checked first), of a 1:1 conversation without a message or a group that
does not exist NotFound, set by an ordinary member NotPermitted, asked by a
former member NotPermitted; the group's owner sets a day, then a second
(GroupEvent RetentionChanged System messages); she and the peer exchange
messages, she sets one second (kind 14 to the peer and her tablet); once
the newest is more than a second old, History, Sync and the list no longer
return them (`last` kind 10 Expired, empty preview, nothing unread, the
badge down), Recall and DeleteForMe of them NotFound, MessageReaders of an
expired group message NotFound; setting 0 brings nothing back, a message
sent afterwards is there and unread; across a block it may be asked but not
set. Nothing is purged during the run (the server purges every 60 s by
default), and expiry is immediate.
Needs a server with `social.direct_messages = "anyone"` and open
registration (4 accounts), whose own retention (`conversation.retention_secs`)
is 0 (the default), on this machine (the wait for expiry compares the
messages' server_time with this clock). Prints "all checks passed"; exits
non-zero on a failed check.
"""

import sys
import time

import kith_client as k
from scenario_main import CHECKS, CheckFailed, expect, expect_refused, ok, run_scenario

PASSWORD = "conversations password"
PUSH_TIMEOUT = 10.0  # a live push arrives well within this
QUIET_PERIOD = 1.0  # how long a connection is watched for a push that must not come
LONG_TEXT = "\u00fc" * 70  # 70 characters, 140 bytes: the preview keeps the first 64 characters


class Device:
    """One logged-in connection, with the Update pushes it received and
    nobody has looked at yet (so that waiting for one kind drops no other)."""

    def __init__(self, client: k.KithClient, user_id: int, label: str):
        self.client, self.user_id, self.label = client, user_id, label
        self.backlog: list = []

    def _pull(self, timeout: float) -> bool:
        try:
            action, value = self.client.next_push(timeout)
        except TimeoutError:
            return False
        if action == k.PUSH_DISCONNECT:
            raise CheckFailed(f"{self.label} was disconnected: {value}")
        if action == k.PUSH_UPDATE:
            self.backlog.append(value)
        return True

    def wait(self, match, what: str, timeout: float = PUSH_TIMEOUT) -> k.Update:
        """The first Update push (received or to come) that `match` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            for i, u in enumerate(self.backlog):
                if match(u):
                    return self.backlog.pop(i)
            left = deadline - time.monotonic()
            if left <= 0 or not self._pull(left):
                raise CheckFailed(f"{self.label}: no {what} within {timeout} s")

    def none(self, match, what: str, seconds: float = QUIET_PERIOD) -> None:
        """No Update push that `match` accepts arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._pull(max(0.0, deadline - time.monotonic()))
        bad = [u for u in self.backlog if match(u)]
        expect(not bad, f"{self.label} received {what}: {bad}")

    def take(self, kinds: tuple, seconds: float = QUIET_PERIOD) -> list:
        """Every Update push of `kinds` received within `seconds` (removed from the backlog)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._pull(max(0.0, deadline - time.monotonic()))
        out = [u for u in self.backlog if u.kind in kinds]
        self.backlog = [u for u in self.backlog if u.kind not in kinds]
        return out

    def message(self, message_id: int) -> k.Message:
        """The live Message push of `message_id`."""
        return self.wait(lambda u: u.kind == k.UPDATE_MESSAGE and u.id == message_id,
                         f"Message push {message_id}").value


def is_position(with_: k.Target):
    return lambda u: u.kind == k.UPDATE_READ_POSITION and u.value.with_ == with_


def is_receipt(reader: int):
    return lambda u: u.kind == k.UPDATE_READ_RECEIPT and u.value.reader == reader


def is_recall(message_id: int):
    return lambda u: u.kind == k.UPDATE_MESSAGE_RECALLED and u.value.message_id == message_id


def is_kind(kind: int):
    return lambda u: u.kind == kind


def is_retention_event(group: k.Target, seconds: int):
    """A group's System message GroupEvent RetentionChanged of `seconds` (revision 9)."""
    return lambda u: (u.kind == k.UPDATE_MESSAGE and u.value.to == group and u.value.kind == k.KIND_SYSTEM
                      and u.value.group_event().variant == k.EVENT_RETENTION_CHANGED
                      and u.value.group_event().seconds == seconds)


def is_retention_change(by: int):
    return lambda u: u.kind == k.UPDATE_RETENTION_CHANGED and u.value.by == by


def conversation_of(me: int, m: k.Message) -> k.Target:
    """The conversation a message belongs to, seen from `me` (section 4.2, Message)."""
    if m.to.group_id is not None:
        return m.to
    return k.Target.user(m.to.id if m.sender == me else m.sender)


def history_ids(dev: Device, with_: k.Target) -> dict:
    """The conversation's whole History (newest page first, paged back), by message id."""
    out, anchor = {}, 0
    for _ in range(100):
        page = dev.client.history(with_, k.DIRECTION_BEFORE, anchor, 100)
        out.update((m.id, m) for m in page.messages)
        if not page.more or not page.messages:
            return out
        anchor = page.messages[0].id
    raise CheckFailed(f"{dev.label}: History of {with_} does not end")


def open_device(host: str, port: int, username: str, label: str, device_type: int,
                register: bool) -> Device:
    client = k.KithClient.connect_tcp(host, port, label=label)
    if register:
        client.register(username, PASSWORD)
    login = client.login(username, PASSWORD, f"conversations-{label}", device_type, k.CLIENT_OTHER)
    return Device(client, login.session.user_id, label)


def entries(dev: Device, **kwargs) -> tuple:
    """The whole list (every page) and the last page's badge, checked for the
    rules every list follows (section 5, ListConversations)."""
    items, badge = dev.client.list_all_conversations(**kwargs)
    updated = [c.updated for c in items]
    expect(updated == sorted(set(updated), reverse=True), f"{dev.label}'s list is not `updated` descending: {updated}")
    for c in items:
        if c.last is not None:
            expect(c.last.server_time == k.snowflake_time(c.last.id), f"last.server_time of {c} (section 8.7)")
            expect(c.read_up_to <= c.last.id and c.peer_read_up_to <= c.last.id,
                   f"a read position past the newest message: {c}")
        if c.with_.group_id is not None:
            expect(c.peer_read_up_to == 0, f"peer_read_up_to in a group: {c}")
    return items, badge


def entry(dev: Device, with_: k.Target) -> k.ConversationInfo:
    items, _ = entries(dev)
    found = [c for c in items if c.with_ == with_]
    expect(len(found) == 1, f"{dev.label}'s list has {len(found)} entries for {with_}: {items}")
    return found[0]


def run(host: str, port: int, name: str, peer_name: str) -> None:
    # a. her phone and tablet, the peer, and the two group members (carol also
    #    writes to her, so that her list has an entry that does not change)
    phone = open_device(host, port, name, "phone", k.DEVICE_MOBILE, register=True)
    tablet = open_device(host, port, name, "tablet", k.DEVICE_TABLET, register=False)
    peer = open_device(host, port, peer_name, "peer", k.DEVICE_DESKTOP, register=True)
    carol = open_device(host, port, name + "carol", "carol", k.DEVICE_DESKTOP, register=True)
    dave = open_device(host, port, name + "dave", "dave", k.DEVICE_DESKTOP, register=True)
    me, bob = phone.user_id, peer.user_id
    expect(tablet.user_id == me, "the tablet logged in as another user")
    with_bob, with_me, with_carol = k.Target.user(bob), k.Target.user(me), k.Target.user(carol.user_id)
    print(f"{name} ({me}) on a phone and a tablet, {peer_name} ({bob}), carol ({carol.user_id}), "
          f"dave ({dave.user_id})", flush=True)

    # b. a new user's list is empty; the errors of sections ListConversations and MarkRead
    page = phone.client.list_conversations(0, 0, 20)
    expect(page.conversations == [] and not page.more and page.total_unread == 0, f"a new user's list: {page}")
    for bad in (0, 101):
        e = expect_refused(k.INVALID_ARGUMENT, f"ListConversations with limit {bad}",
                           phone.client.list_conversations, 0, 0, bad)
        expect(e.limit == 100, f"ListConversations limit {bad}: the error's limit is {e.limit}, expected 100")
    expect_refused(k.NOT_FOUND, "MarkRead of a 1:1 conversation without a message", phone.client.mark_read, with_bob)
    expect_refused(k.NOT_FOUND, "MarkRead with a user who does not exist", phone.client.mark_read,
                   k.Target.user(0x7FFF_FFFF_FFFF), 1)
    expect_refused(k.NOT_FOUND, "MarkRead of a group that does not exist", phone.client.mark_read,
                   k.Target.group(0x7FFF_FFFF_FFFF), 1)
    expect(phone.client.read_receipts().enabled and peer.client.read_receipts(None).enabled,
           "read receipts are not on by default (section 5, ReadReceipts)")
    ok("empty list, ListConversations limit 0 and 101 -> InvalidArgument (limit 100), "
       "MarkRead without a conversation -> NotFound, receipts on by default")

    # c. carol's note to her: an entry that will not change
    c1 = carol.client.send(me, "hello from carol").message_id
    phone.message(c1)

    # d. the peer's first message, an image: the conversation appears in both lists
    photo = peer.client.upload(b"\x89PNG\r\n\x1a\n", "image/png")
    m1 = peer.client.send_media(me, k.KIND_IMAGE, k.MediaContent(media_id=photo.media_id)).message_id
    phone.message(m1)
    mine = entry(phone, with_bob)
    expect(mine.last is not None and (mine.last.id, mine.last.sender, mine.last.kind, mine.last.preview)
           == (m1, bob, k.KIND_IMAGE, ""), f"her entry after an image: {mine}")
    expect((mine.unread, mine.read_up_to, mine.peer_read_up_to) == (1, 0, m1),
           f"her entry after one message: unread 1, read_up_to 0, peer_read_up_to {m1} (his sending moved his "
           f"position): {mine}")
    his = entry(peer, with_me)
    expect((his.last.id, his.unread, his.read_up_to, his.peer_read_up_to) == (m1, 0, m1, 0),
           f"the peer's entry: his own message is never unread, his position at it, she read nothing: {his}")
    ok("a 1:1 conversation appears in both lists with its first message; an image has no preview")

    # e. two more: the list shows the unread counts and the badge, the same on both her devices
    m2 = peer.client.send(me, "two").message_id
    m3 = peer.client.send(me, LONG_TEXT).message_id
    for m in (m2, m3):
        phone.message(m)
        tablet.message(m)
    items, badge = entries(phone)
    expect([c.with_ for c in items] == [with_bob, with_carol], f"her list, newest first: {items}")
    mine, from_carol = items
    expect(mine.last is not None and (mine.last.id, mine.last.sender, mine.last.kind) == (m3, bob, k.KIND_TEXT),
           f"her entry's last message: {mine}")
    expect(mine.last.preview == LONG_TEXT[:k.PREVIEW_CHARS],
           f"the preview is not the first 64 characters of the text: {mine.last.preview!r}")
    expect((mine.unread, mine.read_up_to, mine.peer_read_up_to) == (3, 0, m3), f"her entry: {mine}")
    expect(from_carol.last.id == c1 and from_carol.unread == 1 and from_carol.last.preview == "hello from carol",
           f"carol's entry: {from_carol}")
    expect(badge == 4, f"the badge is {badge}, expected 4 (3 from the peer, 1 from carol)")
    expect(entries(tablet) == (items, badge), "her tablet sees other numbers than her phone")
    # paging: one entry a page, on with `before` = the last `updated`
    first = phone.client.list_conversations(0, 0, 1)
    second = phone.client.list_conversations(first.conversations[-1].updated, 0, 1)
    expect(first.more and first.conversations == [mine] and not second.more and second.conversations == [from_carol]
           and first.total_unread == second.total_unread == 4, f"paging by one: {first} then {second}")
    known = max(c.updated for c in items)
    ok("unread counts 3 and 1, badge 4, preview of 64 characters, same list on both devices, paging by `before`")

    # f. her phone reads up to the second message: her tablet and the peer hear of it live
    position = phone.client.mark_read(with_bob, m2)
    expect(position == k.ReadPosition(with_bob, m2, 1), f"MarkRead up to the second message: {position}")
    pushed = tablet.wait(is_position(with_bob), "ReadPosition update")
    expect(pushed.value == position, f"the tablet's ReadPosition {pushed.value} is not MarkRead's answer {position}")
    receipt = peer.wait(is_receipt(me), "ReadReceipt update")
    expect(receipt.value == k.ReadReceipt(me, m2), f"the peer's ReadReceipt: {receipt.value}")
    phone.none(is_position(with_bob), "a ReadPosition push for its own MarkRead (section 8.2: it gets the answer)")
    his = entry(peer, with_me)
    expect(his.peer_read_up_to == m2, f"the peer's peer_read_up_to is {his.peer_read_up_to}, expected {m2}")
    mine = entry(tablet, with_bob)
    expect((mine.unread, mine.read_up_to) == (1, m2), f"her entry on the tablet after the read: {mine}")
    ok("MarkRead -> ReadPosition(unread 1); live kind 9 to the tablet, kind 10 to the peer; "
       "peer_read_up_to in the peer's list")

    # g. a refresh with changed_since returns only the changed entry
    fresh, badge = entries(tablet, changed_since=known)
    expect([c.with_ for c in fresh] == [with_bob] and fresh[0] == mine and fresh[0].updated > known,
           f"changed_since {known}: {fresh}")
    expect(badge == 2, f"the badge after the read is {badge}, expected 2")
    expect(entries(tablet, changed_since=fresh[0].updated)[0] == [], "changed_since the newest `updated` is not empty")
    known = fresh[0].updated
    ok("changed_since returns only the entry the read changed; the badge follows")

    # h. backwards changes nothing; u64::MAX reads everything, never past the newest message
    same = phone.client.mark_read(with_bob, m1)
    expect(same == position, f"MarkRead backwards answers {same}, expected the current {position}")
    tablet.none(is_position(with_bob), "a ReadPosition update for a MarkRead that moved nothing")
    peer.none(is_receipt(me), "a ReadReceipt for a MarkRead that moved nothing")
    expect(entries(phone, changed_since=known)[0] == [], "a MarkRead that moved nothing changed the list")
    everything = phone.client.mark_read(with_bob, k.READ_EVERYTHING)
    expect(everything == k.ReadPosition(with_bob, m3, 0), f"MarkRead of everything: {everything}")
    expect(tablet.wait(is_position(with_bob), "ReadPosition update").value == everything,
           "the tablet's second ReadPosition")
    expect(peer.wait(is_receipt(me), "ReadReceipt update").value == k.ReadReceipt(me, m3), "the peer's second receipt")
    ok("MarkRead backwards changes nothing and tells nobody; u64::MAX stops at the newest message")

    # i. sending moves the sender's position to her message: her reply, sent
    #    without a MarkRead, also reads the peer's message before it
    see = peer.client.send(me, "see you").message_id
    phone.message(see)
    tablet.message(see)
    expect(entry(tablet, with_bob).unread == 1, "the peer's new message is not unread")
    reply = phone.client.send(bob, "thanks").message_id
    peer.message(reply)
    tablet.message(reply)
    mine, his = entry(tablet, with_bob), entry(peer, with_me)
    expect((mine.last.id, mine.last.sender, mine.unread, mine.read_up_to) == (reply, me, 0, reply),
           f"her entry after her reply (her own message is never unread, her sending moved her position): {mine}")
    expect((his.unread, his.read_up_to, his.peer_read_up_to) == (1, see, reply),
           f"the peer's entry after her reply: {his}")
    side = [(d.label, u) for d in (tablet, peer) for u in d.take((k.UPDATE_READ_POSITION, k.UPDATE_READ_RECEIPT), 0.5)]
    print("note: updates of kinds 9-10 caused by her Send (section 5, ListConversations does not say): "
          f"{[(label, u.kind_name) for label, u in side] or 'none'}", flush=True)
    ok("sending moves the sender's position: her reply reads what came before it and is not unread to her")

    # j. her receipts off: her reads send no receipt, and neither side sees the other's position
    expect(phone.client.read_receipts(False) == k.ReadReceiptsSetting(False), "turning her receipts off")
    expect(not tablet.client.read_receipts().enabled, "the setting is the account's, not the device's")
    m4 = peer.client.send(me, "are you there?").message_id
    phone.message(m4)
    expect(phone.client.mark_read(with_bob) == k.ReadPosition(with_bob, m4, 0), "MarkRead with her receipts off")
    expect(tablet.wait(is_position(with_bob), "ReadPosition update").value.read_up_to == m4,
           "her own devices still share her position with her receipts off")
    peer.none(is_receipt(me), "a ReadReceipt from a reader whose receipts are off")
    his, mine = entry(peer, with_me), entry(phone, with_bob)
    expect(his.peer_read_up_to == 0 and mine.peer_read_up_to == 0,
           f"peer_read_up_to with her receipts off: his {his.peer_read_up_to}, hers {mine.peer_read_up_to}")
    expect(phone.client.read_receipts(True).enabled, "turning her receipts back on")
    his = entry(peer, with_me)
    expect(his.peer_read_up_to == m4, f"with both on again the peer sees her position: {his.peer_read_up_to}")
    # and the peer's receipts off: hers are not sent either ("unless either of the two")
    expect(not peer.client.read_receipts(False).enabled, "turning the peer's receipts off")
    m5 = peer.client.send(me, "still there?").message_id
    phone.message(m5)
    expect(phone.client.mark_read(with_bob, m5).read_up_to == m5, "MarkRead with the peer's receipts off")
    peer.none(is_receipt(me), "a ReadReceipt while the peer's own receipts are off")
    expect(entry(phone, with_bob).peer_read_up_to == 0, "she sees the position of a peer whose receipts are off")
    expect(peer.client.read_receipts(True).enabled, "turning the peer's receipts back on")
    ok("read receipts off (either side): no ReadReceipt, peer_read_up_to 0 both ways; on again: positions shown")

    # k. the receipts are in the update logs too, under the ids they were pushed with
    logged = {u.id: u for u in peer.client.sync_all(0) if u.kind == k.UPDATE_READ_RECEIPT}
    expect(logged.get(receipt.id) is not None and logged[receipt.id].value == receipt.value,
           f"the peer's first ReadReceipt {receipt.id} is not in his update log: {sorted(logged)}")
    by_send = sum(1 for label, u in side if label == "peer")
    expect(all(u.value.reader == me for u in logged.values()) and len(logged) == 2 + by_send,
           f"the peer's log holds {len(logged)} receipts, expected the {2 + by_send} pushed with receipts on: {logged}")
    positions = [u for u in tablet.client.sync_all(0) if u.kind == k.UPDATE_READ_POSITION]
    expect(pushed.id in [u.id for u in positions], "the tablet's first ReadPosition is not in her update log")
    ok("ReadReceipt and ReadPosition updates are in the update logs under their pushed ids")

    # l. a group: carol creates it (Open), she, dave and (later) the peer join
    created = carol.client.create_group(k.GroupFields(name=f"{name} walkers", join_policy=k.JOIN_OPEN))
    group_id = created.group.group_id
    group = k.Target.group(group_id)
    joined = phone.client.join_group(group_id)
    expect(joined.joined is not None, f"JoinGroup of an Open group: {joined}")
    g = entry(phone, group)
    expect(g.unread == 0 and g.last is not None and g.last.kind == k.KIND_SYSTEM and g.last.preview == "",
           f"a group enters her list when she joins, nothing unread, its last a System message without "
           f"preview: {g}")
    expect(dave.client.join_group(group_id).joined is not None, "dave joins")
    g1 = carol.client.send(group, "walk moved to Sunday").message_id
    phone.message(g1)
    dave.message(g1)
    g = entry(phone, group)
    expect((g.last.id, g.last.sender, g.unread, g.peer_read_up_to) == (g1, carol.user_id, 1, 0),
           f"her group entry after carol's message (System messages are never unread): {g}")
    readers = carol.client.message_readers(group_id, g1)
    expect(readers == k.MessageReaders(0, 2, [], True), f"MessageReaders before anyone read: {readers}")
    # the errors: a non-member, a message that is not there, a group that is not there
    expect_refused(k.NOT_PERMITTED, "MarkRead in a group by a non-member", peer.client.mark_read, group, g1)
    expect_refused(k.NOT_PERMITTED, "MessageReaders by a non-member", peer.client.message_readers, group_id, g1)
    expect_refused(k.NOT_FOUND, "MessageReaders of a message not in the group", carol.client.message_readers,
                   group_id, m1)
    expect_refused(k.NOT_FOUND, "MessageReaders of a group that does not exist", carol.client.message_readers,
                   0x7FFF_FFFF_FFFF, g1)
    ok("Open group: in her list from joining with nothing unread; MessageReaders 0 of 2; "
       "non-member -> NotPermitted, no such message or group -> NotFound")

    # m. she reads it: her tablet hears of it, MessageReaders counts her; dave too
    read = phone.client.mark_read(group, g1)
    expect(read == k.ReadPosition(group, g1, 0), f"MarkRead in the group: {read}")
    expect(tablet.wait(is_position(group), "ReadPosition update of the group").value == read,
           "the tablet's ReadPosition of the group")
    readers = carol.client.message_readers(group_id, g1)
    expect(readers == k.MessageReaders(1, 2, [me], True), f"MessageReaders after she read: {readers}")
    dave.client.mark_read(group, k.READ_EVERYTHING)
    readers = carol.client.message_readers(group_id, g1)
    expect(readers == k.MessageReaders(2, 2, sorted([me, dave.user_id]), True), f"after dave read: {readers}")
    # the peer joins after the message: it counts as read by him, and he may not ask about it
    expect(peer.client.join_group(group_id).joined is not None, "the peer joins")
    readers = carol.client.message_readers(group_id, g1)
    expect(readers == k.MessageReaders(3, 3, sorted([me, dave.user_id, bob]), True),
           f"a member who joined after the message counts as having read it: {readers}")
    expect_refused(k.NOT_FOUND, "MessageReaders of a message from before the peer's window",
                   peer.client.message_readers, group_id, g1)
    # dave turns his receipts off: not counted, and may not ask
    expect(not dave.client.read_receipts(False).enabled, "dave turns his receipts off")
    readers = carol.client.message_readers(group_id, g1)
    expect(readers == k.MessageReaders(2, 2, sorted([me, bob]), True), f"dave's receipts off: {readers}")
    expect_refused(k.NOT_PERMITTED, "MessageReaders with one's own receipts off", dave.client.message_readers,
                   group_id, g1)
    ok("MessageReaders counts 1, then 2 readers, a later member as a reader, not one whose receipts are off; "
       "a member with receipts off -> NotPermitted, a message before one's window -> NotFound")

    # n. the badge over everything: carol's 1:1 note is still unread
    _, badge = entries(phone)
    expect(badge == 1, f"the badge at the end is {badge}, expected 1 (carol's note)")
    phone.client.mark_read(with_carol)
    _, badge = entries(tablet)
    expect(badge == 0, f"the badge after reading carol's note is {badge}")
    ok("the badge counts what is left unread over all conversations")

    # o. revision 8: she recalls her own message within the window (section 5, Recall)
    expect_refused(k.INVALID_ARGUMENT, "Send of kind 9 Recalled (section 4.1)",
                   lambda: phone.client.send(bob, b"", kind=k.KIND_RECALLED))
    his_before, (_, his_badge) = entry(peer, with_me), entries(peer)
    oops = phone.client.send(bob, "oops, wrong chat", extra='{"v":1}')
    peer.message(oops.message_id)
    tablet.message(oops.message_id)
    his = entry(peer, with_me)
    expect((his.last.id, his.last.kind, his.last.preview, his.unread) == (oops.message_id, k.KIND_TEXT,
                                                                         "oops, wrong chat", his_before.unread + 1),
           f"the peer's entry with her message unread: {his}")
    recalled = phone.client.recall(with_bob, oops.message_id)
    expect(recalled == k.Recalled(oops.message_id, me, with_bob, me), f"Recall of her own message: {recalled}")
    pushed = peer.wait(is_recall(oops.message_id), "MessageRecalled update")
    expect(pushed.value == recalled, f"the peer's MessageRecalled {pushed.value} is not Recall's answer {recalled}")
    expect(tablet.wait(is_recall(oops.message_id), "MessageRecalled update").value == recalled,
           "her tablet's MessageRecalled (the caller's other devices get it too)")
    phone.none(is_recall(oops.message_id), "a MessageRecalled push for its own Recall (it gets the answer)")
    his, (_, badge) = entry(peer, with_me), entries(peer)
    expect(his.last is not None and (his.last.id, his.last.sender, his.last.kind, his.last.preview)
           == (oops.message_id, me, k.KIND_RECALLED, ""),
           f"the peer's list's last after the recall: kind 9 Recalled, empty preview: {his}")
    expect(his.unread == his_before.unread and badge == his_badge,
           f"the recalled message stopped counting as unread: unread {his.unread} (was {his_before.unread} before "
           f"it came), badge {badge} (was {his_badge})")
    expect(his.updated > his_before.updated, f"the recall did not move the conversation up the peer's list: {his}")
    mine = entry(phone, with_bob)
    expect((mine.last.id, mine.last.kind, mine.last.preview, mine.unread) == (oops.message_id, k.KIND_RECALLED, "", 0),
           f"her own list's last after the recall: {mine}")
    tomb = history_ids(peer, with_me).get(oops.message_id)
    expect(tomb is not None and (tomb.kind, tomb.content, tomb.extra, tomb.sender, tomb.to, tomb.server_time)
           == (k.KIND_RECALLED, b"", None, me, with_bob, oops.server_time),
           f"the peer's History shows the tombstone, id, sender and time kept, no content, no extra: {tomb}")
    synced = peer.client.sync(oops.message_id - 1, 1).updates
    expect(len(synced) == 1 and synced[0].id == oops.message_id and synced[0].kind == k.UPDATE_MESSAGE
           and synced[0].value == tomb, f"Sync's Message update now carries the tombstone: {synced}")
    expect(phone.client.recall(bob, oops.message_id) == recalled, "a second Recall answers the first one's body")
    peer.none(is_recall(oops.message_id), "a MessageRecalled update for a second Recall that changed nothing")
    ok("Recall of her own message: kind 11 to the peer and her tablet, tombstone (kind 9, no content) in the "
       "list, History and Sync, unread count back down; asking again changes nothing")

    # p. recalls she may not make, and a group's recall (a System message, section 4.2 GroupEvent 11)
    e = expect_refused(k.NOT_PERMITTED, "Recall of the peer's message", phone.client.recall, with_bob, m5)
    expect(e.limit is None and e.retry_after_ms is None,
           f"the refusal of a recall of someone else's message carries a limit or a wait (section 4.2): {e}")
    expect_refused(k.NOT_FOUND, "Recall of a message of another conversation", phone.client.recall, with_bob, c1)
    expect_refused(k.NOT_PERMITTED, "Recall of a System message, by the group's owner", carol.client.recall, group,
                   group_id)
    g2 = dave.client.send(group, "a message carol takes back").message_id
    phone.message(g2)
    expect(entry(phone, group).unread == 1, "dave's group message is not unread to her")
    by_owner = carol.client.recall(group, g2)
    expect(by_owner == k.Recalled(g2, dave.user_id, group, carol.user_id),
           f"the owner recalls a member's message at any time: {by_owner}")
    notice = phone.wait(lambda u: u.kind == k.UPDATE_MESSAGE and u.value.kind == k.KIND_SYSTEM
                        and u.value.group_event().variant == k.EVENT_MESSAGE_RECALLED, "System MessageRecalled")
    event = notice.value.group_event()
    expect((notice.value.to, notice.value.sender, event.message_id, event.sender, event.by)
           == (group, carol.user_id, g2, dave.user_id, carol.user_id),
           f"the System message: GroupEvent MessageRecalled of dave's message by carol: {notice.value} {event}")
    g = entry(phone, group)
    expect(g.unread == 0, f"the recalled group message stopped counting as unread: {g}")
    phone.none(is_recall(g2), "a MessageRecalled update for a group's recall (section 8.2: a System message instead)")
    gone = history_ids(phone, group).get(g2)
    expect(gone is not None and gone.kind == k.KIND_RECALLED and gone.content == b"",
           f"the group's History shows dave's message as a tombstone: {gone}")
    ok("Recall of the peer's message -> NotPermitted, of another conversation's -> NotFound, of a System "
       "message -> NotPermitted; the owner recalls a member's group message: System GroupEvent MessageRecalled")

    # q. DeleteForMe (section 5, DeleteForMe): she hides one of the peer's messages on her phone
    expect_refused(k.INVALID_ARGUMENT, "DeleteForMe with no ids and no clear_up_to", phone.client.delete_for_me,
                   with_bob, [], 0)
    e = expect_refused(k.INVALID_ARGUMENT, "DeleteForMe of 101 ids", phone.client.delete_for_me, with_bob,
                       [m1 + i for i in range(101)], 0)
    expect(e.limit == k.MAX_DELETE_IDS, f"DeleteForMe of 101 ids: the error's limit is {e.limit}, expected 100")
    expect_refused(k.NOT_FOUND, "DeleteForMe of a message of another conversation", phone.client.delete_for_me,
                   with_bob, [m4, c1], 0)
    expect(m4 in history_ids(tablet, with_bob), "the refused DeleteForMe hid a message")
    mine = entry(phone, with_bob)
    hid = phone.client.delete_for_me(with_bob, [m4, m4])
    expect(hid == k.DeletedForMe(with_bob, [m4], 0, mine.read_up_to, mine.unread),
           f"DeleteForMe of one message (repeated): {hid}")
    expect(tablet.wait(is_kind(k.UPDATE_DELETED_FOR_ME), "DeletedForMe update").value == hid,
           "her tablet's DeletedForMe is not DeleteForMe's answer")
    phone.none(is_kind(k.UPDATE_DELETED_FOR_ME), "a DeletedForMe push for its own DeleteForMe")
    peer.none(is_kind(k.UPDATE_DELETED_FOR_ME), "a DeletedForMe update (nobody else's view changes)")
    expect(m4 not in history_ids(tablet, with_bob) and m4 not in history_ids(phone, with_bob),
           "her History still shows the hidden message")
    expect(m4 in history_ids(peer, with_me), "the peer's History lost the message she hid for herself")
    expect(phone.client.delete_for_me(with_bob, [m4]).message_ids == [],
           "hiding it again lists it (those hidden before are left out)")
    synced = tablet.client.sync(m4 - 1, 100).updates
    expect(all(u.id != m4 for u in synced),
           f"Sync still returns the Message update of a message she hid (section 5, DeleteForMe): {synced}")
    expect(any(u.kind == k.UPDATE_DELETED_FOR_ME and u.value == hid for u in synced),
           f"Sync lacks the DeletedForMe update of her phone's DeleteForMe: {synced}")
    # clearing up to m2 hides m1 and m2 too
    cleared = phone.client.delete_for_me(with_bob, [], m2)
    expect((cleared.message_ids, cleared.cleared_up_to) == ([], m2), f"clearing up to the second message: {cleared}")
    expect(tablet.wait(is_kind(k.UPDATE_DELETED_FOR_ME), "DeletedForMe update").value == cleared,
           "her tablet's DeletedForMe of the clearing")
    left = history_ids(tablet, with_bob)
    expect(all(i > m2 for i in left) and m3 in left and m4 not in left,
           f"after clearing up to {m2}, her History holds {sorted(left)}")
    ok("DeleteForMe: no ids -> InvalidArgument, 101 ids -> InvalidArgument (limit 100), another conversation's "
       "message -> NotFound; kind 12 to her tablet only; her History drops it, the peer's keeps it; clearing")

    # r. delivery receipts (section 5, Ack): the peer's device acknowledges her message
    sent = phone.client.send(bob, "did this reach you?").message_id
    peer.message(sent)
    tablet.message(sent)
    phone.none(is_kind(k.UPDATE_DELIVERED), "a Delivered update before the peer acknowledged", 0.3)
    cursor = peer.client.ack(sent)
    expect(cursor == sent, f"the peer's Ack up to {sent} answers cursor {cursor}")
    delivered = phone.wait(is_kind(k.UPDATE_DELIVERED), "Delivered update")
    expect(delivered.value == k.Delivered(bob, sent),
           f"Delivered names the peer and her newest message that reached him: {delivered.value}")
    expect(delivered.id > sent, "the Delivered update is older than the message it covers")
    expect(tablet.wait(is_kind(k.UPDATE_DELIVERED), "Delivered update").value == delivered.value,
           "her tablet's Delivered")
    peer.none(is_kind(k.UPDATE_DELIVERED), "a Delivered update to the one who acknowledged")
    expect(peer.client.ack(sent) == sent, "acknowledging again")
    phone.none(is_kind(k.UPDATE_DELIVERED), "a second Delivered for an Ack that moved nothing")
    ok("the peer's Ack past her message -> a kind 13 Delivered to her devices naming it; "
       "an Ack that moves nothing sends none")

    # s. revision 9: retention (section 5, Retention). The errors, in the documented order of the checks
    e = expect_refused(k.INVALID_ARGUMENT, "Retention set above 100 years", phone.client.retention, with_bob,
                       k.MAX_RETENTION_SECONDS + 1)
    expect(e.limit == k.MAX_RETENTION_SECONDS,
           f"Retention above 100 years: the error's limit is {e.limit}, expected {k.MAX_RETENTION_SECONDS}")
    expect_refused(k.INVALID_ARGUMENT, "Retention above 100 years of a conversation without a message (the size "
                   "is checked first)", dave.client.retention, with_bob, k.MAX_RETENTION_SECONDS + 1)
    expect_refused(k.NOT_FOUND, "Retention of a 1:1 conversation without a message", dave.client.retention, with_bob)
    expect_refused(k.NOT_FOUND, "Retention set in a 1:1 conversation without a message", dave.client.retention,
                   with_bob, 60)
    expect_refused(k.NOT_FOUND, "Retention of a group that does not exist", phone.client.retention,
                   k.Target.group(0x7FFF_FFFF_FFFF))
    expect_refused(k.INVALID_ARGUMENT, "Send of kind 10 Expired (section 4.1)",
                   lambda: phone.client.send(bob, b"", kind=k.KIND_EXPIRED))
    expect(phone.client.retention(with_bob) == k.RetentionSetting(with_bob, 0, 0, 0)
           and peer.client.retention(me) == k.RetentionSetting(with_me, 0, 0, 0),
           "a 1:1 conversation's retention is not 0 / 0 / 0 on a server without retention")
    ok("Retention above 100 years -> InvalidArgument (limit 100 years, checked first), without a 1:1 "
       "conversation or group -> NotFound, Send of kind Expired -> InvalidArgument; none by default")

    # t. a group's retention: its owner sets a day; the members hear of it by a System message
    day = 86_400
    expect(carol.client.retention(group) == k.RetentionSetting(group, 0, 0, 0), "the group's retention by default")
    gset = carol.client.retention(group, day)
    expect(gset == k.RetentionSetting(group, day, 0, day), f"the owner sets a day on the group: {gset}")
    for d in (phone, dave, peer):
        notice = d.wait(is_retention_event(group, day), "System message RetentionChanged")
        event = notice.value.group_event()
        expect((notice.value.sender, event.by, notice.value.client_msg_id, notice.value.extra)
               == (carol.user_id, carol.user_id, bytes(16), None),
               f"{d.label}'s System message GroupEvent RetentionChanged: sent by carol, by carol, client_msg_id "
               f"zero, no extra: {notice.value} {event}")
    own = [u for u in carol.take((k.UPDATE_MESSAGE,), 0.5) if is_retention_event(group, day)(u)]
    print("note: the System message of a Retention set reaches the connection that set it (section 5, Retention says "
          f"only \"like every group message\"): {'yes' if own else 'no'}", flush=True)
    expect(phone.client.retention(group) == gset, "a member asks the group's retention")
    expect_refused(k.NOT_PERMITTED, "Retention set by an ordinary member", phone.client.retention, group, 60)
    expect(carol.client.retention(group, day) == gset, "setting the value it already has")
    phone.none(is_retention_event(group, day), "a System message for a retention set to the value it had")
    expect(phone.client.retention(group) == gset, "a refused or repeated setting changed the group's retention")
    ok("the group's owner sets a day: System GroupEvent RetentionChanged (seconds, by) to the members; an ordinary "
       "member asks, may not set it (NotPermitted); the same value again tells nobody")

    # u. she and the peer exchange a few messages, then she keeps their conversation for one second
    x1 = phone.client.send(bob, "this will not last").message_id
    x2 = peer.client.send(me, "nothing does").message_id
    x3 = phone.client.send(bob, "see?")
    x4 = phone.client.send(bob, "gone in a second")
    for d, m in ((peer, x1), (phone, x2), (peer, x3.message_id), (peer, x4.message_id)):
        d.message(m)
    his_before, (peer_items, his_badge) = entry(peer, with_me), entries(peer)
    his_group = [c for c in peer_items if c.with_ == group][0]
    expect(his_before.unread == 2 and his_before.last.id == x4.message_id,
           f"the peer's entry before: her two newest messages unread: {his_before}")
    g_last = carol.client.send(group, "a group message that will not last").message_id
    for d in (phone, dave, peer):
        d.message(g_last)
    setting = phone.client.retention(with_bob, 1)
    expect(setting == k.RetentionSetting(with_bob, 1, 0, 1), f"she sets one second: {setting}")
    gset = carol.client.retention(group, 1)
    expect(gset == k.RetentionSetting(group, 1, 0, 1), f"the owner sets one second on the group: {gset}")
    changed = peer.wait(is_retention_change(me), "RetentionChanged update")
    expect(changed.value == k.RetentionChanged(me, with_bob, 1),
           f"the peer's RetentionChanged: by her, the conversation as she names it, 1 s: {changed.value}")
    mirrored = tablet.wait(is_retention_change(me), "RetentionChanged update")
    expect(mirrored.value == changed.value, f"her tablet's RetentionChanged: {mirrored.value}")
    g_notice = phone.wait(is_retention_event(group, 1), "System message RetentionChanged of one second").value
    phone.none(is_retention_change(me), "a RetentionChanged push for its own Retention (it gets the answer)")
    expect(peer.client.retention(me) == k.RetentionSetting(with_me, 1, 0, 1), "the peer asks: the same setting")
    his_set = entry(peer, with_me)
    expect(his_set.updated > his_before.updated,
           f"the change did not move the conversation up the peer's list: {his_set.updated} <= {his_before.updated}")
    ok("she sets 1 s: RetentionSetting(1, 0, 1); kind 14 (by, to, seconds) to the peer and her tablet, not to "
       "the calling connection; the peer asks the same; the owner sets 1 s on the group")

    # v. once the newest of them is more than a second old (by its server_time), they have expired
    newest = max(x4.server_time, k.snowflake_time(g_notice.id))
    time.sleep(max(0.0, (newest + 1000 + 100) / 1000 - time.time()))
    for d, with_ in ((phone, with_bob), (tablet, with_bob), (peer, with_me), (phone, group), (dave, group)):
        left = history_ids(d, with_)
        expect(left == {}, f"{d.label}'s History of {with_} still returns expired messages: {sorted(left)}")
    mine, his = entry(phone, with_bob), entry(peer, with_me)
    for label, c in (("her", mine), ("the peer's", his)):
        expect(c.last is not None and (c.last.id, c.last.sender, c.last.kind, c.last.server_time, c.last.preview)
               == (x4.message_id, me, k.KIND_EXPIRED, x4.server_time, "") and c.unread == 0,
               f"{label} entry: last kind 10 Expired with the original id, sender and time, no preview, nothing "
               f"unread: {c}")
    expect(his.updated == his_set.updated, f"the expired conversation moved in the peer's list: {his} / {his_set}")
    items, badge = entries(peer)
    expect(badge == his_badge - his_before.unread - his_group.unread and badge == sum(c.unread for c in items),
           f"the peer's badge after expiry is {badge}, expected {his_badge - his_before.unread - his_group.unread}")
    g = entry(phone, group)
    expect(g.last is not None and (g.last.id, g.last.sender, g.last.kind, g.last.preview, g.unread)
           == (g_notice.id, carol.user_id, k.KIND_EXPIRED, "", 0),
           f"her group entry: the System message of 1 s expired like the others: {g}")
    expect_refused(k.NOT_FOUND, "Recall of her expired message (within the recall window)", phone.client.recall,
                   with_bob, x4.message_id)
    expect_refused(k.NOT_FOUND, "DeleteForMe of an expired message", phone.client.delete_for_me, with_bob, [x2])
    expect_refused(k.NOT_FOUND, "MessageReaders of an expired group message", carol.client.message_readers,
                   group_id, g_last)
    log = tablet.client.sync_all(0)
    stale = [u.id for u in log if u.kind == k.UPDATE_MESSAGE and conversation_of(me, u.value) in (with_bob, group)]
    expect(stale == [], f"Sync still returns Message updates of expired messages: {stale}")
    expect(c1 in [u.id for u in log if u.kind == k.UPDATE_MESSAGE], "Sync lost carol's note (no retention there)")
    expect(mirrored.id in [u.id for u in log if u.kind == k.UPDATE_RETENTION_CHANGED]
           and any(u.kind == k.UPDATE_READ_POSITION for u in log),
           "Sync lost the other updates (RetentionChanged, ReadPosition) of the expired conversation")
    ok("after 1 s: History and Sync return none of them; the lists show last kind 10 Expired (original id, sender, "
       "time), empty preview, unread 0, in place; the badge drops; Recall, DeleteForMe and MessageReaders -> NotFound")

    # w. removing the retention brings nothing back; what comes afterwards stays
    cleared = peer.client.retention(with_me, 0)
    expect(cleared == k.RetentionSetting(with_me, 0, 0, 0), f"the peer sets 0: {cleared}")
    for d in (phone, tablet):
        told = d.wait(is_retention_change(bob), "RetentionChanged update of 0")
        expect(told.value == k.RetentionChanged(bob, with_me, 0), f"{d.label}'s RetentionChanged of 0: {told.value}")
    peer.none(is_retention_change(bob), "a RetentionChanged push for its own Retention")
    expect(carol.client.retention(group, 0) == k.RetentionSetting(group, 0, 0, 0), "the owner sets 0 on the group")
    back = phone.wait(is_retention_event(group, 0), "System message RetentionChanged of 0").value
    expect(history_ids(phone, with_bob) == {} and list(history_ids(phone, group)) == [back.id],
           "setting 0 brought expired messages back (or lost the new System message)")
    expect(entry(phone, with_bob).last.kind == k.KIND_EXPIRED, "setting 0 brought the expired last message back")
    fresh = peer.client.send(me, "a fresh start")
    phone.message(fresh.message_id)
    mine = entry(phone, with_bob)
    expect(mine.last is not None and (mine.last.id, mine.last.sender, mine.last.kind, mine.last.preview, mine.unread)
           == (fresh.message_id, bob, k.KIND_TEXT, "a fresh start", 1),
           f"her entry after a message sent with no retention: there, previewed, unread 1: {mine}")
    expect(list(history_ids(phone, with_bob)) == [fresh.message_id], "History after the fresh message")
    expect(peer.client.retention(with_me, 0) == cleared, "setting 0 again")
    phone.none(is_retention_change(bob), "a RetentionChanged update for a retention set to the value it had")
    ok("setting 0 (kind 14 of 0 to her devices) brings back nothing; a message sent afterwards stays, unread 1; "
       "the same value again tells nobody")

    # x. across a block the retention may be asked, not set; a former member may not ask
    peer.client.block(me)
    expect(phone.client.retention(with_bob) == k.RetentionSetting(with_bob, 0, 0, 0),
           "a participant asks across a block (the rule for asking is being a participant)")
    expect_refused(k.NOT_PERMITTED, "Retention set towards a peer who blocked her", phone.client.retention,
                   with_bob, 60)
    expect_refused(k.NOT_PERMITTED, "Retention set by the blocker towards the one he blocked",
                   peer.client.retention, with_me, 60)
    peer.client.unblock(me)
    expect(phone.client.retention(with_bob, 60) == k.RetentionSetting(with_bob, 60, 0, 60), "after the unblock")
    expect(phone.client.retention(with_bob, 0).effective == 0, "and back to none")
    dave.client.leave_group(group_id)
    expect_refused(k.NOT_PERMITTED, "Retention asked by a former member", dave.client.retention, group)
    ok("across a block: asked, not set (NotPermitted) either way, set again after the unblock; "
       "a former member may not ask (NotPermitted)")
    for d in (phone, tablet, peer, carol, dave):
        d.client.close()


if __name__ == "__main__":
    sys.exit(run_scenario(
        __doc__, run,
        name_help="the reader's username; the group's are NAME + 'carol', 'dave'",
        peer_help="username of the one who writes to her (registered here)",
        what="conversation check",
        passed=lambda: f"all checks passed ({CHECKS[0]} checks)",
    ))
