#!/usr/bin/env python3
"""End-to-end scenario against a live kith server, using only kith_client.py
(itself written only from docs/PROTOCOL.md).

    python3 scenario.py --tcp 127.0.0.1:17421 --tls 127.0.0.1:17420 --fingerprint AB:CD:...

Exits non-zero on the first failed check. Written for revision 4 of the
protocol (revision 2's update log: Sync, Ack on update ids, Update pushes;
revision 3: RenewToken and AuthReply.renewed, ErrorBody.retry_after_ms and
ErrorBody.limit, the login throttle from the 4th attempt, one order of checks;
revision 4: the social graph — profiles, privacy, search, friend requests,
friends, remarks, blocking, update kinds 3-6). It runs as well against a
server of revision 6, whose groups it leaves to groups.py: the Target
variant it sends as unknown is 2, since revision 6 made 1 Group; and of
revision 8: the MessageKind it sends as unknown is 10, since revision 8 made
9 Recalled.
Needs no operator access: checks that need a disabled account are not made.

The server is expected to run with `social.direct_messages = "anyone"` (the
earlier sections have strangers message each other); the social section
asserts nothing about strangers' messages, only the block's refusals.
Registrations per run: 9 accounts (13 attempts with the 4 refused ones),
below the default 20 per address per hour (section 5, Register).

The login throttle (section 5, Login) counts failures per username and per client
address, and a success clears only the username's count. So the throttle is
checked first, with a fresh username, while this address has no failures yet;
every later password login waits out the address's throttle (`patiently`).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
import threading
import time
import traceback
import uuid
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kith_client as k  # noqa: E402
from kith_client import KithClient, KithError  # noqa: E402


def hostport(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


CHECKS = [0]


def check(label: str) -> None:
    CHECKS[0] += 1
    print(f"ok   {label}", flush=True)


def expect_error(code: int, fn, *args, **kwargs) -> KithError:
    try:
        fn(*args, **kwargs)
    except KithError as e:
        assert e.code == code, f"expected error {code} ({k.ERROR_NAMES.get(code)}), got {e.code}: {e.message}"
        return e
    raise AssertionError(f"expected error {code} ({k.ERROR_NAMES.get(code)}), got success")


def patiently(fn, *args, **kwargs):
    """Calls fn, waiting `retry_after_ms` and retrying while the server answers
    RateLimited (section 5, Login: failed logins are throttled per account and
    address, waits doubling up to 60 s; this also applies to ChangePassword).
    Compose with expect_error to wait out the throttle before an expected
    failure: expect_error(code, patiently, fn, ...)."""
    deadline = time.monotonic() + 150
    while True:
        try:
            return fn(*args, **kwargs)
        except KithError as e:
            if e.code != k.RATE_LIMITED or time.monotonic() > deadline:
                raise
            # section 11: wait retry_after_ms, 1 s if absent
            time.sleep((e.retry_after_ms if e.retry_after_ms is not None else 1000) / 1000)


def no_extras(e) -> None:
    """An error that carries neither retry_after_ms nor limit (section 4.2)."""
    assert e.retry_after_ms is None and e.limit is None, \
        f"error {e.code} carries retry_after_ms={e.retry_after_ms}, limit={e.limit}"


def expect_error_frame(frame: k.Frame, code: int) -> k.ErrorBody:
    """`frame` is what call_raw returned, i.e. already matched by sequence id."""
    assert frame.action == k.ERROR, f"expected an Error frame, got action {frame.action:#04x}"
    e = k.decode_error_body(frame.body)  # exactly, with the two fields of revision 3
    assert e.code == code, f"expected error {code} ({k.ERROR_NAMES.get(code)}), got {e.code}: {e.message}"
    return e


def no_push(c: KithClient, wait: float = 1.0) -> None:
    """No push reaches `c` within `wait`. A push is queued after the reply to
    the request that caused it, so this can only ever pass wrongly, never
    fail wrongly: `wait` is generous rather than quick."""
    try:
        a, v = c.next_push(wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected push {k.ACTION_NAMES.get(a, hex(a))}: {v!r}")


def assert_message(m: k.Message, *, id=None, sender=None, to=None, cmid=None, content=None,
                   kind=k.KIND_TEXT, extra=None) -> None:
    if id is not None:
        assert m.id == id, f"id {m.id} != {id}"
    if sender is not None:
        assert m.sender == sender, f"sender {m.sender} != {sender}"
    if to is not None:
        assert m.to == k.as_target(to), f"to {m.to} != {to}"
    if cmid is not None:
        assert m.client_msg_id == cmid, "client_msg_id differs"
    if content is not None:
        assert m.content == content, f"content {m.content!r} != {content!r}"
    assert m.kind == kind, f"kind {m.kind} != {kind}"
    assert m.extra == extra, f"extra {m.extra!r} != {extra!r}"
    assert m.server_time == k.snowflake_time(m.id), "server_time is not derived from the id (section 8.7)"


def assert_message_update(u: k.Update, **expected) -> None:
    """An update of kind Message whose update id is the message id (section 8.2)."""
    assert u.kind == k.UPDATE_MESSAGE, f"update {u.id} is of kind {u.kind_name}, expected Message"
    assert u.id == u.value.id, f"update id {u.id} != message id {u.value.id}"
    assert_message(u.value, **expected)


def same_ip(a: str, b: str) -> bool:
    """Equal IP addresses, an IPv4-mapped IPv6 address being equal to its IPv4 one."""
    x, y = ipaddress.ip_address(a), ipaddress.ip_address(b)
    x = getattr(x, "ipv4_mapped", None) or x
    y = getattr(y, "ipv4_mapped", None) or y
    return x == y


def assert_new_login(u: k.Update, *, conn: KithClient, device_id: str, device_type: int, client_type: int,
                     id=None) -> None:
    """An update of kind NewLogin (section 8.2) for the login made on `conn`."""
    assert u.kind == k.UPDATE_NEW_LOGIN, f"update {u.id} is of kind {u.kind_name}, expected NewLogin"
    n = u.value
    if id is not None:
        assert u.id == id, f"update id {u.id} != {id}"
    assert (n.device_id, n.device_type, n.client_type) == (device_id, device_type, client_type), n
    assert same_ip(n.address, conn.local_address), f"address {n.address!r}, connected from {conn.local_address!r}"


def sync_pages(c: KithClient, after: int, limit: int) -> list:
    """The paging loop of section 8.3, keeping the pages. Checks that each
    page holds at most `limit` updates, all after the previous page, ascending."""
    pages = []
    while True:
        p = c.sync(after, limit)
        pages.append(p)
        ids = [u.id for u in p.updates]
        assert len(ids) <= limit, f"{len(ids)} updates in a page of limit {limit}"
        assert all(i > after for i in ids) and ids == sorted(set(ids)), f"page {ids} after {after}"
        if p.updates:
            after = ids[-1]
        if not p.more:
            return pages
        assert len(pages) < 100, "paging does not end"


def next_kind(c: KithClient, kind: int, timeout: float = 5.0) -> k.Update:
    """The next push, which must be an Update of `kind` (nothing skipped)."""
    a, u = c.next_push(timeout)
    assert a == k.PUSH_UPDATE, f"{c.label}: push {k.ACTION_NAMES.get(a, hex(a))} {u!r}, expected an Update"
    assert u.kind == kind, f"{c.label}: update of kind {u.kind_name}, expected {k.UPDATE_KIND_NAMES[kind]}: {u!r}"
    return u


def card(p: k.UserProfile) -> k.UserCard:
    """A user's card as lists show it (section 4.2), from their profile."""
    return k.UserCard(p.user_id, p.username, p.profile.nickname, p.profile.avatar)


def assert_request(f: k.FriendRequestInfo, *, frm: k.UserCard, to: k.UserCard, message: str, state: int,
                   sent_near: Optional[int] = None) -> None:
    """A FriendRequestInfo (section 4.2): its id's time is when it was sent, it
    expires 7 days (the default) later, answered_at is set exactly when it was
    accepted or rejected."""
    assert (f.from_, f.to, f.message) == (frm, to, message), f
    assert f.state == state, f"state {f.state_name}, expected {k.REQUEST_STATE_NAMES[state]}"
    sent = k.snowflake_time(f.id)
    if sent_near is not None:
        assert abs(sent - sent_near) < 60_000, f"request id time {sent}, server clock {sent_near}"
    assert f.expires_at == sent + k.DEFAULT_FRIEND_REQUEST_TTL_MS, \
        f"expires_at {f.expires_at} = id time + {f.expires_at - sent} ms, expected + 7 days"
    if state in (k.REQUEST_ACCEPTED, k.REQUEST_REJECTED):
        assert sent <= f.answered_at < f.expires_at, f"answered_at {f.answered_at}, sent {sent}"
    else:
        assert f.answered_at == 0, f"answered_at {f.answered_at} on a {f.state_name} request"


def social_section(suffix: str, tcp_conn, tls_conn) -> None:
    """Revision 4 (section 5, GetProfile to ListBlocked, 8.2), as an app would use it: fay asks
    gus (a phone and a desktop) to be friends, gus accepts, fay names him,
    removes him and asks again, gus blocks her and unblocks her; hal tries the
    friend policies and the search privacy. Three registrations."""
    fay_name, gus_name, hal_name = f"fay_{suffix}", f"gus_{suffix}", f"hal_{suffix}"
    pw = f"social pw {suffix}"
    reg = tcp_conn("register-social")
    expect_error(k.NOT_AUTHENTICATED, reg.get_profile, 1)
    expect_error(k.NOT_AUTHENTICATED, reg.add_friend, 1, "hi")
    expect_error(k.NOT_AUTHENTICATED, reg.list_friends)
    expect_error_frame(reg.call_raw(k.BLOCK, b"\x00"), k.NOT_AUTHENTICATED)
    check("social actions before authentication give NotAuthenticated (5), even with a malformed body")
    fay_id, gus_id, hal_id = (reg.register(n, pw) for n in (fay_name, gus_name, hal_name))
    reg.close()
    fay = tcp_conn("fay")
    lf = patiently(fay.login, fay_name, pw, f"fay-phone-{suffix}", k.DEVICE_MOBILE, k.CLIENT_ANDROID)
    gus_desk = tls_conn("gus-desktop")
    patiently(gus_desk.login, gus_name, pw, f"gus-desktop-{suffix}", k.DEVICE_DESKTOP, k.CLIENT_LINUX)
    gus = tcp_conn("gus-phone")
    patiently(gus.login, gus_name, pw, f"gus-phone-{suffix}", k.DEVICE_MOBILE, k.CLIENT_ANDROID)
    next_kind(gus_desk, k.UPDATE_NEW_LOGIN)
    hal = tcp_conn("hal")
    patiently(hal.login, hal_name, pw, f"hal-phone-{suffix}", k.DEVICE_MOBILE, k.CLIENT_ANDROID)

    # --- Profiles (sections 4.2, GetProfile, SetProfile) ---
    fay_profile = fay.get_profile(fay_id)
    assert fay_profile == k.UserProfile(fay_id, fay_name, k.Profile()), fay_profile
    fay_card = card(fay_profile)
    check("a fresh user's own GetProfile (0x20) is the empty profile: strings empty, gender 0, no birth date")
    e = expect_error(k.INVALID_ARGUMENT, gus.set_profile, k.Profile(nickname="\u5b57" * 33))
    assert e.message.startswith("nickname") and e.limit == 32, e
    e2 = expect_error(k.INVALID_ARGUMENT, gus.set_profile, k.Profile(birth_date=k.BirthDate(2001, 2, 29)))
    assert e2.message.startswith("birth_date"), e2
    e3 = expect_error(k.INVALID_ARGUMENT, gus.set_profile, k.Profile(city="Hang\nzhou"))
    assert e3.message.startswith("city"), e3
    bad_gender = k.encode_set_profile(k.Profile(gender=4))
    expect_error_frame(gus.call_raw(k.SET_PROFILE, bad_gender), k.MALFORMED_BODY)
    assert gus.get_profile(gus_id).profile == k.Profile(), "a refused SetProfile changed the profile"
    check(f"SetProfile refusals: a 33-character nickname gives InvalidArgument (12) {e.message!r} with limit "
          f"{e.limit}; 2001-02-29 gives {e2.message!r}; a control character in city gives {e3.message!r} "
          "(each message starts with the field's name); gender 4 is MalformedBody (3); nothing changed")
    nickname = f"\u5c0f\u660eKit{suffix}"  # 小明Kit…
    wide = k.Profile(nickname="\u5b57" * 32)  # 32 characters, 96 bytes: the rule counts characters
    assert gus.set_profile(wide).profile == wide
    # An avatar is an image gus uploaded (section 5, Media, "Avatars").
    face_bytes = b"\x89PNG\r\n\x1a\n" + f"gus's face {suffix}".encode() * 64
    face = gus.upload(face_bytes, "image/png", k.PURPOSE_AVATAR, 64, 64).media_id
    notes = gus.upload(b"not a picture " + suffix.encode(), "text/plain", k.PURPOSE_AVATAR).media_id
    e4 = expect_error(k.INVALID_ARGUMENT, gus.set_profile, k.Profile(avatar=notes))
    e5 = expect_error(k.NOT_FOUND, fay.set_profile, k.Profile(avatar=face))
    assert e4.message.startswith("avatar") and e5.message.startswith("avatar"), (e4, e5)
    check(f"an avatar must be an image (a text/plain upload gives InvalidArgument (12) {e4.message!r}) that "
          f"the user uploaded (fay naming gus's image gives NotFound (8) {e5.message!r})")
    profile = k.Profile(nickname=nickname, avatar=face, gender=k.GENDER_MALE,
                        birth_date=k.BirthDate(1994, 7, 15), signature="\u53bb\u9493\u9c7c gone fishing",
                        city="\u676d\u5dde", province="\u6d59\u6c5f", extra='{"theme":"dark"}')
    stored = gus.set_profile(profile)
    assert stored == k.UserProfile(gus_id, gus_name, profile), stored
    got = fay.get_profile(gus_id)
    assert got == stored, got
    assert fay.download(got.profile.avatar) == face_bytes
    check(f"fay, who may read gus's profile, downloads his avatar ({len(face_bytes)} bytes) by its media id")
    gus_card = card(stored)
    assert next_kind(gus_desk, k.UPDATE_PROFILE_CHANGED).value == k.UserProfile(gus_id, gus_name, wide)
    assert next_kind(gus_desk, k.UPDATE_PROFILE_CHANGED).value == stored
    check("gus's desktop hears of each profile his phone stored, and of no refused one: two ProfileChanged "
          "(16) updates with the profiles as stored (revision 12)")
    check(f"gus sets a 32-character Chinese nickname (96 bytes: lengths count characters), then his profile "
          f"(nickname {nickname!r}, city 杭州, province 浙江, birth date 1994-07-15); SetProfile returns it as "
          "stored and fay's GetProfile reads the same")
    expect_error(k.NOT_FOUND, fay.get_profile, 0xFFFFFFF0)
    check("GetProfile of a user that does not exist gives NotFound (8)")

    # --- Privacy (section 5, Privacy) ---
    assert gus.privacy() == k.PrivacySettings(k.DISCOVERABLE_EVERYONE, k.POLICY_REQUIRE_APPROVAL)
    assert gus.privacy(None, k.POLICY_REQUIRE_APPROVAL) == k.PrivacySettings(1, 1)
    assert next_kind(gus_desk, k.UPDATE_PRIVACY_CHANGED).value == k.PrivacySettings(1, 1)
    check("Privacy (0x22) with both fields absent reads the defaults: discoverable Everyone, "
          "friend_policy RequireApproval; setting a field tells gus's desktop (PrivacyChanged, 17), reading does not")

    # --- Search (section 5, SearchUsers) ---
    page = fay.search_users(nickname[:6])
    assert gus_card in page.users, page
    assert len(page.cursor) <= 140, f"cursor of {len(page.cursor)} bytes"
    assert fay.search_all(nickname[:6], limit=1) == [c for c in page.users], "paging with the cursor differs"
    upper = fay.search_users(nickname.upper())
    assert upper.users == [gus_card], upper
    exact = fay.search_users(gus_name.upper())
    assert exact.users[:1] == [gus_card], exact
    check(f"SearchUsers (0x23) by nickname prefix {nickname[:6]!r} finds gus's card (id, username, nickname, "
          f"avatar); paging with the opaque cursor ({len(page.cursor)} bytes) finds the same; the upper-case "
          "nickname and the exact username (upper-case) find him too")
    e = expect_error(k.INVALID_ARGUMENT, fay.search_users, "x", b"", 0)
    assert e.limit == 100, e
    expect_error(k.INVALID_ARGUMENT, fay.search_users, "   ")
    check("SearchUsers with limit 0 gives InvalidArgument (12), limit 100; a query of only spaces too")

    # --- AddFriend, the FriendRequest update (sections AddFriend, 8.2) ---
    e = expect_error(k.INVALID_ARGUMENT, fay.add_friend, fay_id, "me")
    no_extras(e)
    check(f"AddFriend to yourself gives InvalidArgument (12): {e.message!r}")
    expect_error(k.NOT_FOUND, fay.add_friend, 0xFFFFFFF0, "hi")
    expect_error(k.INVALID_ARGUMENT, fay.add_friend, gus_id, "m" * 257)
    check("AddFriend to a user that does not exist gives NotFound (8); a 257-character message InvalidArgument (12)")
    now = fay.heartbeat()
    hello = "\u4f60\u597d gus, it's fay from the choir"
    req = fay.add_friend(gus_id, hello)
    assert_request(req, frm=fay_card, to=gus_card, message=hello, state=k.REQUEST_PENDING, sent_near=now)
    check(f"fay's AddFriend (0x24) to gus files a Pending request (id {req.id}) from her card to his, "
          "expires_at = the id's time + 7 days, answered_at 0")
    for conn in (gus, gus_desk):
        u = next_kind(conn, k.UPDATE_FRIEND_REQUEST)
        assert u.id == req.id and u.value == req, u
    no_push(fay)
    check("gus's phone and desktop get an Update push of kind FriendRequest (3) whose update id is the "
          "request id and whose body is the AddFriend response; fay's connection gets none")
    mine = fay.sync(lf.session.latest).updates
    assert [(x.id, x.kind, x.value) for x in mine] == [(req.id, k.UPDATE_FRIEND_REQUEST, req)], mine
    check("fay's own update log holds the same FriendRequest update (Sync after her login)")
    inbox = gus.list_friend_requests(k.BOX_INCOMING)
    assert inbox == k.FriendRequestPage([req], False, 1), inbox
    outbox = fay.list_friend_requests(k.BOX_OUTGOING)
    assert outbox == k.FriendRequestPage([req], False, 0), outbox
    check("ListFriendRequests (0x26): gus's Incoming box shows the request with pending_incoming 1; "
          "fay's Outgoing box shows it with pending_incoming 0 (she has nothing to answer)")
    expect_error(k.NOT_FOUND, gus.answer_friend, req.id + 1, True)
    e = expect_error(k.NOT_FOUND, fay.answer_friend, req.id, True)
    check(f"AnswerFriend of an unknown id gives NotFound (8), and so does the requester answering her own "
          f"request: {e.message!r}")

    # --- AnswerFriend, the FriendAnswered update (sections AnswerFriend, 8.2) ---
    before = gus.heartbeat()
    ans = gus.answer_friend(req.id, True)
    after = gus.heartbeat()
    assert_request(ans, frm=fay_card, to=gus_card, message=hello, state=k.REQUEST_ACCEPTED)
    assert ans.id == req.id and ans.expires_at == req.expires_at, ans
    assert before <= ans.answered_at <= after, (before, ans.answered_at, after)
    check("gus's phone accepts (AnswerFriend 0x25): the same request, Accepted, answered_at = the server's "
          "time of the answer")
    answered = {}
    for conn in (fay, gus_desk):
        answered[conn.label] = u = next_kind(conn, k.UPDATE_FRIEND_ANSWERED)
        assert u.value == ans and u.id > req.id, u
    u4 = answered["fay"]
    assert answered["gus-desktop"].id == u4.id
    assert k.snowflake_time(u4.id) == ans.answered_at, (k.snowflake_time(u4.id), ans.answered_at)
    no_push(gus)
    check("fay and gus's desktop get an Update push of kind FriendAnswered (4) with the answer as body, "
          "under an update id of its own whose time is answered_at; gus's phone, which answered, gets none")
    e = expect_error(k.CONFLICT, gus.answer_friend, req.id, False)
    inbox = gus.list_friend_requests(k.BOX_INCOMING)
    assert inbox.pending_incoming == 0 and inbox.requests == [ans], inbox
    check(f"answering again gives Conflict (9) {e.message!r}; the Incoming box shows the request Accepted, "
          "pending_incoming 0")

    # --- ListFriends, SetRemark (sections ListFriends, SetRemark) ---
    assert fay.list_friends() == k.FriendPage([k.Friend(gus_card, "", ans.answered_at)], False)
    assert gus.list_friends() == k.FriendPage([k.Friend(fay_card, "", ans.answered_at)], False)
    check("ListFriends (0x27) on both sides lists the other one's card, no remark, friends since answered_at")
    e = expect_error(k.CONFLICT, fay.add_friend, gus_id, "again?")
    check(f"AddFriend to a friend gives Conflict (9): {e.message!r}")
    e = expect_error(k.INVALID_ARGUMENT, fay.list_friends, 0, 0)
    assert e.limit in (None, 100), e
    e2 = expect_error(k.INVALID_ARGUMENT, fay.list_friend_requests, k.BOX_INCOMING, 0, 101)
    assert e2.limit == 100, e2
    check(f"ListFriends limit 0 gives InvalidArgument (12) (limit {e.limit}); ListFriendRequests limit 101 too, "
          "limit 100")
    sent = fay.send(gus_id, "\u5468\u516d\u89c1")  # 周六见
    for conn in (gus, gus_desk):
        assert_message_update(next_kind(conn, k.UPDATE_MESSAGE), id=sent.message_id, sender=fay_id, to=gus_id)
    remark = "\u5c0f\u660e (choir)"
    e = expect_error(k.INVALID_ARGUMENT, fay.set_remark, gus_id, "r" * 33)
    assert e.message.startswith("remark"), e
    fay.set_remark(gus_id, remark)
    assert fay.list_friends().friends == [k.Friend(gus_card, remark, ans.answered_at)]
    assert gus.list_friends().friends == [k.Friend(fay_card, "", ans.answered_at)]
    no_push(gus)
    expect_error(k.NOT_FOUND, fay.set_remark, hal_id, "not a friend")
    check(f"fay messages her friend; SetRemark (0x29) {remark!r} shows in her ListFriends only, gus is told "
          f"nothing; a 33-character remark gives {e.message!r} (InvalidArgument 12); a remark for a non-friend "
          "gives NotFound (8)")

    # --- RemoveFriend, the FriendRemoved update (sections RemoveFriend, 8.2) ---
    fay.remove_friend(gus_id)
    for conn in (gus, gus_desk):
        u = next_kind(conn, k.UPDATE_FRIEND_REMOVED)
        assert u.value == k.FriendRemoved(by=fay_id, user_id=gus_id), u
    no_push(fay)
    assert fay.list_friends() == k.FriendPage([], False) and gus.list_friends() == k.FriendPage([], False)
    expect_error(k.NOT_FOUND, fay.remove_friend, gus_id)
    assert [m.id for m in fay.history(gus_id).messages] == [sent.message_id]
    check("RemoveFriend (0x28): gus's devices get an Update push of kind FriendRemoved (5) by fay; both "
          "friend lists are empty; removing again gives NotFound (8); their history stays")

    # --- Block (the rules of "Social graph (section 5, GetProfile to ListBlocked)", Block-ListBlocked) ---
    again = "\u518d\u505a\u670b\u53cb?"  # 再做朋友?
    req2 = fay.add_friend(gus_id, again)
    assert_request(req2, frm=fay_card, to=gus_card, message=again, state=k.REQUEST_PENDING)
    for conn in (gus, gus_desk):
        assert next_kind(conn, k.UPDATE_FRIEND_REQUEST).value == req2
    gus.block(fay_id)
    u6 = next_kind(gus_desk, k.UPDATE_BLOCK_CHANGED)
    assert u6.value == k.BlockChanged(fay_id, True), u6
    no_push(gus)
    no_push(fay)
    check("fay asks again (Pending); gus blocks her (Block 0x2a) from his phone: his desktop gets an Update "
          "push of kind BlockChanged (6) {fay, blocked}; the phone and fay get nothing")
    blocked = gus.list_blocked()
    assert blocked == k.BlockedPage([k.BlockedUser(fay_card, k.snowflake_time(u6.id))], False), blocked
    check("ListBlocked (0x2c) lists fay's card, since = the time of the BlockChanged update")
    e_send = expect_error(k.NOT_PERMITTED, fay.send, gus_id, "hello?")
    e_add = expect_error(k.NOT_PERMITTED, fay.add_friend, gus_id, "please")
    check(f"the blocked fay: Send gives NotPermitted (7) {e_send.message!r}, AddFriend NotPermitted (7) "
          f"{e_add.message!r}")
    e_prof = expect_error(k.NOT_FOUND, fay.get_profile, gus_id)
    e_find = expect_error(k.NOT_FOUND, fay.find_user, gus_name)
    no_extras(e_prof)
    check(f"the blocked fay: GetProfile gives NotFound (8) {e_prof.message!r}, FindUser NotFound (8) "
          f"{e_find.message!r}, as for a user who does not exist")
    assert gus_card not in fay.search_all(nickname[:6]), "search lists the blocker"
    assert gus_card not in fay.search_users(gus_name).users, "exact search lists the blocker"
    check("the blocked fay's SearchUsers leaves gus out, by nickname prefix and by exact username")
    expect_error(k.NOT_PERMITTED, gus.send, fay_id, "hm")
    expect_error(k.NOT_PERMITTED, gus.add_friend, fay_id, "")
    expect_error(k.NOT_FOUND, gus.get_profile, fay_id)
    check("the block stands both ways: gus's Send and AddFriend to fay give NotPermitted (7), "
          "his GetProfile of her NotFound (8)")
    inbox = gus.list_friend_requests(k.BOX_INCOMING)
    assert inbox == k.FriendRequestPage([], False, 0), inbox  # her answered request is hers too
    expect_error(k.NOT_FOUND, gus.answer_friend, req2.id, True)
    assert fay.list_friend_requests(k.BOX_OUTGOING).requests[0] == req2
    no_push(gus_desk)
    check("fay's requests are gone from gus's Incoming box (pending_incoming 0); the pending one cannot be "
          "answered (NotFound 8); fay still sees it Pending in her Outgoing box; nothing reached gus's devices")
    gus.block(fay_id)
    no_push(gus_desk)
    e = expect_error(k.INVALID_ARGUMENT, gus.block, gus_id)
    expect_error(k.NOT_FOUND, gus.block, 0xFFFFFFF0)
    check(f"blocking her again succeeds and changes nothing (no update); blocking yourself gives InvalidArgument "
          f"(12) {e.message!r}, an unknown user NotFound (8)")

    # --- Unblock (section 5, Unblock) ---
    gus.unblock(fay_id)
    assert next_kind(gus_desk, k.UPDATE_BLOCK_CHANGED).value == k.BlockChanged(fay_id, False)
    no_push(fay)
    assert fay.get_profile(gus_id) == stored
    assert fay.find_user(gus_name) == k.UserInfo(gus_id, gus_name)
    assert gus_card in fay.search_users(nickname[:6]).users
    assert gus.list_blocked() == k.BlockedPage([], False)
    assert gus.list_friend_requests(k.BOX_INCOMING) == k.FriendRequestPage([req2, ans], False, 1)
    check("Unblock (0x2b): gus's desktop gets BlockChanged (6) {fay, not blocked}; fay's GetProfile, FindUser "
          "and search find gus again; his block list is empty and fay's request is back, answerable "
          "(pending_incoming 1)")
    gus.unblock(fay_id)
    no_push(gus_desk)
    check("unblocking someone not blocked succeeds, with no update")
    rej = gus.answer_friend(req2.id, False)
    assert_request(rej, frm=fay_card, to=gus_card, message=again, state=k.REQUEST_REJECTED)
    assert next_kind(fay, k.UPDATE_FRIEND_ANSWERED).value == rej
    assert next_kind(gus_desk, k.UPDATE_FRIEND_ANSWERED).value == rej
    assert gus.list_friend_requests(k.BOX_INCOMING).pending_incoming == 0
    check("gus rejects it: Rejected with answered_at set, pushed to fay as FriendAnswered (4)")

    # --- Asking back (section 5, AddFriend, step 1) ---
    req3 = gus.add_friend(fay_id, "sorry")
    assert next_kind(fay, k.UPDATE_FRIEND_REQUEST).value == req3
    next_kind(gus_desk, k.UPDATE_FRIEND_REQUEST)
    back = fay.add_friend(gus_id, "ok")
    assert back.id == req3.id and back.message == "sorry" and back.state == k.REQUEST_ACCEPTED, back
    for conn in (gus, gus_desk):
        assert next_kind(conn, k.UPDATE_FRIEND_ANSWERED).value == back
    assert [f.user.user_id for f in fay.list_friends().friends] == [gus_id]
    check("gus asks fay; fay's AddFriend back accepts his pending request: the response is his request, "
          "Accepted, and his devices get FriendAnswered (4); they are friends again")

    # --- Friend policies and search privacy (sections 4.1, Privacy-AddFriend) ---
    assert hal.privacy(None, k.POLICY_ACCEPT_ALL) == k.PrivacySettings(k.DISCOVERABLE_EVERYONE, k.POLICY_ACCEPT_ALL)
    hal_card = card(hal.set_profile(k.Profile(nickname=f"Hal{suffix}")))
    auto = fay.add_friend(hal_id, "hi hal")
    assert_request(auto, frm=fay_card, to=hal_card, message="hi hal", state=k.REQUEST_ACCEPTED)
    u = next_kind(hal, k.UPDATE_FRIEND_REQUEST)
    assert u.id == auto.id and u.value == auto, u
    assert hal_id in [f.user.user_id for f in fay.list_friends().friends]
    check("hal accepts everyone (AcceptAll): fay's AddFriend is Accepted at once, and hal gets a FriendRequest "
          "update (3) with that state; they are friends")
    settings = hal.privacy(k.DISCOVERABLE_EXACT_USERNAME, k.POLICY_REFUSE_ALL)
    assert settings == k.PrivacySettings(k.DISCOVERABLE_EXACT_USERNAME, k.POLICY_REFUSE_ALL), settings
    e = expect_error(k.NOT_PERMITTED, gus.add_friend, hal_id, "hi")
    assert all(r.to.user_id != hal_id for r in gus.list_friend_requests(k.BOX_OUTGOING).requests)
    no_push(hal)
    check(f"hal refuses all requests: gus's AddFriend gives NotPermitted (7) {e.message!r}, nothing stored")
    assert hal_card not in gus.search_all(f"hal{suffix}"), "ExactUsername user found by nickname"
    assert gus.search_users(hal_name).users[:1] == [hal_card]
    check("hal is discoverable by exact username only: gus's nickname search leaves him out, "
          "his username finds him")
    for conn in (fay, gus, gus_desk, hal):
        conn.close()


def run(args) -> None:
    tcp = hostport(args.tcp)
    tls = hostport(args.tls)
    pin = args.fingerprint
    suffix = uuid.uuid4().hex[:8]
    alice_name, bob_name = f"alice_{suffix}", f"bob_{suffix}"
    alice_pw, bob_pw = f"alice pw {suffix}", f"bob pw {suffix}"
    opened: list[KithClient] = []

    def tcp_conn(label: str) -> KithClient:
        c = KithClient.connect_tcp(*tcp, label=label)
        opened.append(c)
        return c

    def tls_conn(label: str, fingerprint=pin) -> KithClient:
        c = KithClient.connect_tls(*tls, fingerprint, label=label)
        opened.append(c)
        return c

    try:
        # A connection that never authenticates: must get a Disconnect push
        # (AuthTimeout) 10 s after connecting even though it sends Heartbeats
        # (sections Heartbeat, 7.2). A thread keeps it beating while the rest runs.
        idle = tcp_conn("idle")
        idle_started = time.monotonic()
        idle.heartbeat()
        idle_result: dict = {}

        # It beats every second until the server cuts it off: were
        # heartbeats to extend the deadline, no cut would come at all (the
        # watch gives up after 30 s), so no upper bound on the time is needed.
        def watch_idle() -> None:
            try:
                while time.monotonic() - idle_started < 30 and not idle.closed.is_set():
                    try:
                        idle.heartbeat()
                    except Exception:  # noqa: BLE001 - the cut may land mid-heartbeat
                        break
                    time.sleep(1)
                idle_result["disconnect"] = idle.wait_disconnect(5)
                idle_result["elapsed"] = time.monotonic() - idle_started
            except Exception as ex:  # noqa: BLE001
                idle_result["error"] = ex

        idle_watcher = threading.Thread(target=watch_idle, daemon=True)
        idle_watcher.start()

        # --- Register ------------------------------------------------------
        reg = tcp_conn("register")
        alice_id = reg.register(alice_name, alice_pw)
        bob_id = reg.register(bob_name, bob_pw)
        assert alice_id >= 1 and bob_id >= 1 and alice_id != bob_id
        check(f"register {alice_name} (id {alice_id}) and {bob_name} (id {bob_id})")
        expect_error(k.CONFLICT, reg.register, alice_name, "another password")
        check("re-registering alice gives Conflict (9)")
        expect_error(k.CONFLICT, reg.register, bob_name.upper(), "another password")
        check("re-registering BOB_... (upper case, folded) gives Conflict (9)")
        expect_error(k.INVALID_ARGUMENT, reg.register, f"x_{suffix}", "short")
        check("register with a 5-byte password gives InvalidArgument (12)")
        e = expect_error(k.INVALID_ARGUMENT, reg.register, alice_name, "short")
        no_extras(e)
        check("a taken name with a too-short password gives InvalidArgument (12), not Conflict: "
              "the password is checked before the name is taken (section 5, Register)")
        throttle_name, throttle_pw = f"throttle_{suffix}", f"throttle pw {suffix}"
        throttle_id = reg.register(throttle_name, throttle_pw)
        reg.close()

        # --- Login throttle (revision 3, section 5, Login) -----------------------
        # First of all password logins, so that this address has no failures
        # yet (see the module docstring): 3 failures cost nothing, the 4th
        # attempt waits 250 ms from the 3rd failure, whatever its password.
        thr = tcp_conn("throttle")
        thr_dev = f"throttle-dev-{suffix}"
        e = expect_error(k.INVALID_ARGUMENT, thr.login, throttle_name, "wrong password", "")
        no_extras(e)
        check("Login with an empty device_id and a wrong password gives InvalidArgument (12): the device id "
              "is checked before the throttle and the password (section 2.2)")
        address_throttled = False  # this address already failed before (an earlier run within 15 min)
        for i in range(3):
            try:
                thr.login(throttle_name, f"wrong password {i}", thr_dev)
            except KithError as e:
                if e.code == k.RATE_LIMITED and not address_throttled and i == 0:
                    address_throttled = True
                    e = expect_error(k.BAD_CREDENTIALS, patiently, thr.login, throttle_name,
                                     f"wrong password {i}", thr_dev)
                assert e.code == k.BAD_CREDENTIALS, f"wrong password {i}: {e}"
                no_extras(e)
            else:
                raise AssertionError("login with a wrong password succeeded")
        third_failure = time.monotonic()
        check("three wrong passwords give BadCredentials (6) without a wait"
              + (" (after waiting out failures of an earlier run from this address)" if address_throttled else ""))
        e = expect_error(k.RATE_LIMITED, thr.login, throttle_name, throttle_pw, thr_dev)
        elapsed_ms = (time.monotonic() - third_failure) * 1000
        top = 60_000 if address_throttled else 250
        assert e.retry_after_ms is not None and 1 <= e.retry_after_ms <= top, \
            f"retry_after_ms {e.retry_after_ms}, expected 1..={top} ({elapsed_ms:.0f} ms after the 3rd failure)"
        assert e.limit is None, f"limit {e.limit} on a throttled login"
        assert e.reason == k.RATE_LIMIT_FAILURES, f"reason {e.reason} on a throttled login (section 4.2)"
        wait_ms = e.retry_after_ms
        check(f"the 4th attempt, with the right password, {elapsed_ms:.0f} ms after the 3rd failure, gives "
              f"RateLimited (10) with retry_after_ms {wait_ms} (1..={top}), no limit: {e.message!r}")
        e2 = expect_error(k.RATE_LIMITED, thr.login, throttle_name, throttle_pw, thr_dev)
        assert e2.retry_after_ms is not None and 1 <= e2.retry_after_ms <= wait_ms, (e2.retry_after_ms, wait_ms)
        check(f"asking again at once is refused again, retry_after_ms {e2.retry_after_ms} <= {wait_ms}")
        time.sleep(e2.retry_after_ms / 1000)
        lthr = thr.login(throttle_name, throttle_pw, thr_dev)
        assert lthr.session.user_id == throttle_id and lthr.session.renewed is None, lthr.session
        check(f"after sleeping retry_after_ms ({e2.retry_after_ms} ms) the right password logs in "
              "(the refused attempts did not count as failures); LoginReply.session.renewed is absent")
        thr.close()

        # --- Login ---------------------------------------------------------
        bad = tcp_conn("badlogin")
        e = expect_error(k.BAD_CREDENTIALS, patiently, bad.login, alice_name, "wrong password!", "dev-x")
        no_extras(e)
        check(f"login with a wrong password gives BadCredentials (6): {e.message!r}, "
              "retry_after_ms and limit absent")
        expect_error(k.BAD_CREDENTIALS, patiently, bad.login, f"nobody_{suffix}", "whatever123", "dev-x")
        check("login with an unknown username gives BadCredentials (6)")
        bad.heartbeat()
        check("the connection stays usable after a failed login")
        bad.close()

        alice = tls_conn("alice")
        assert alice.alpn == k.ALPN, f"ALPN {alice.alpn!r}"
        alice_dev = f"alice-desktop-{suffix}"
        la = patiently(alice.login, alice_name.upper(), alice_pw, alice_dev, k.DEVICE_DESKTOP, k.CLIENT_LINUX)
        assert len(la.token) == 40, f"token of {len(la.token)} bytes"
        assert la.session.user_id == alice_id and la.session.username == alice_name
        assert la.session.device_id == alice_dev
        assert la.session.renewed is None, "renewed must be absent in a Login reply (section 4.2)"
        # A password login adds a NewLogin update to the log (section 8.2):
        # latest is its id, the cursor of a new device_id is 0.
        assert la.session.cursor == 0 and la.session.latest > 0, la.session
        assert la.expires_at > time.time() * 1000
        check(f"alice logs in over TLS (pinned, ALPN {alice.alpn}), username case-folded; "
              "cursor 0, latest = the update of this login")

        bob = tcp_conn("bob")
        bob_dev = f"bob-phone-{suffix}"
        lb = patiently(bob.login, bob_name, bob_pw, bob_dev, k.DEVICE_MOBILE, k.CLIENT_ANDROID)
        assert lb.session.user_id == bob_id and lb.session.username == bob_name
        assert lb.session.cursor == 0 and lb.session.latest > 0, lb.session
        check("bob logs in over plain TCP")
        no_push(bob)
        check("a connection gets no Update push of its own login")

        expect_error(k.ALREADY_AUTHENTICATED, bob.login, bob_name, bob_pw, bob_dev)
        check("Login on an authenticated connection gives AlreadyAuthenticated (13)")
        expect_error(k.ALREADY_AUTHENTICATED, bob.login, bob_name, "wrong password", "")
        check("... also with an empty device_id and a wrong password: already authenticated is checked "
              "first (section 5, Login)")
        expect_error_frame(bob.call_raw(k.LOGIN, b"\x00"), k.MALFORMED_BODY)
        check("... but a Login body that does not decode gives MalformedBody (3): the body is decoded "
              "before the action's rules (section 2.2)")

        # --- FindUser --------------------------------------------------------
        u = alice.find_user(bob_name)
        assert u.user_id == bob_id and u.username == bob_name, u
        u2 = alice.find_user(bob_name.upper())
        assert u2.user_id == bob_id and u2.username == bob_name
        check(f"alice finds bob by username (id {u.user_id}, also case-insensitively)")
        no_extras(expect_error(k.NOT_FOUND, alice.find_user, f"nobody_{suffix}"))
        expect_error(k.NOT_FOUND, alice.find_user, "!!")
        check("FindUser of an unknown or impossible name gives NotFound (8), no retry_after_ms or limit")

        # --- Send / Update push -------------------------------------------------
        now_ms = alice.heartbeat()
        assert abs(now_ms - time.time() * 1000) < 60_000, "heartbeat server_time far from local clock"
        cmid1 = k.new_client_msg_id()
        text1 = f"hi bob {suffix} \u00e9\u2603".encode()
        r1 = alice.send(bob_id, text1, client_msg_id=cmid1)
        assert not r1.duplicate and r1.message_id > la.session.latest
        assert r1.server_time == k.snowflake_time(r1.message_id)
        check(f"alice sends a text to bob, acked with id {r1.message_id}")
        push1 = bob.next_update(5)
        assert_message_update(push1, id=r1.message_id, sender=alice_id, to=bob_id, cmid=cmid1, content=text1)
        check("bob receives an Update push (0x82) of kind Message (1): update id = message id, "
              "same sender, to, client_msg_id and content")
        no_push(alice)
        check("the sending connection gets no push of its own message")

        cmid2 = k.new_client_msg_id()
        text2 = f"hello alice {suffix}".encode()
        r2 = bob.send(alice_id, text2, client_msg_id=cmid2, extra='{"v":1}')
        assert not r2.duplicate and r2.message_id > r1.message_id
        push2 = alice.next_update(5)
        assert_message_update(push2, id=r2.message_id, sender=bob_id, to=alice_id, cmid=cmid2, content=text2,
                              extra='{"v":1}')
        check("bob replies (with extra); alice receives it as an Update push, to = User(alice)")

        r1b = alice.send(bob_id, b"retry with other content", client_msg_id=cmid1)
        assert r1b.duplicate, "retry not flagged duplicate"
        assert r1b.message_id == r1.message_id and r1b.server_time == r1.server_time
        no_push(bob)
        check("retried Send with the same client_msg_id: same id, duplicate = true, no new push")
        r1c = alice.send(alice_id, b"retry to another recipient", kind=k.KIND_IMAGE, client_msg_id=cmid1,
                         extra="x")
        assert r1c.duplicate and (r1c.message_id, r1c.server_time) == (r1.message_id, r1.server_time), r1c
        r1d = alice.send(0xFFFFFFFF, b"retry to nobody", client_msg_id=cmid1)
        assert r1d.duplicate and (r1d.message_id, r1d.server_time) == (r1.message_id, r1.server_time), r1d
        no_push(bob)
        no_push(alice)
        check("retried Send with the same client_msg_id to another recipient (herself), and to a user that "
              "does not exist: the original id and time, duplicate = true, nothing pushed (section 5, Send; "
              "that nothing was stored is checked with Sync below)")
        e = expect_error(k.INVALID_ARGUMENT, alice.send, bob_id, "x", client_msg_id=cmid1, extra="e" * 1025)
        assert e.limit == 1024, e
        check("... but a retry with a 1025-byte extra gives InvalidArgument (12): sizes are checked before "
              "the client_msg_id (section 5, Send)")

        cmid3 = k.new_client_msg_id()
        r3 = alice.send(bob_id, b"", kind=k.KIND_CUSTOM, client_msg_id=cmid3)
        push3 = bob.next_update(5)
        assert_message_update(push3, id=r3.message_id, sender=alice_id, to=bob_id, content=b"",
                              kind=k.KIND_CUSTOM)
        check("an empty Custom message is stored and pushed")
        ids = [r1.message_id, r2.message_id, r3.message_id]
        assert ids == sorted(ids)

        no_extras(expect_error(k.NOT_FOUND, alice.send, 0xFFFFFFFF, "to nobody"))
        check("Send to a non-existent user gives NotFound (8)")
        e = expect_error(k.INVALID_ARGUMENT, alice.send, bob_id, "x", extra="e" * 1025)
        assert e.limit == 1024 and e.retry_after_ms is None, e
        check("Send with a 1025-byte extra gives InvalidArgument (12) with limit 1024")
        # 65 537 content bytes make a body of 65 577 bytes, within the frame limit of 131 072.
        e = expect_error(k.INVALID_ARGUMENT, alice.send, bob_id, b"c" * 65537)
        assert e.limit == 65536 and e.retry_after_ms is None, e
        check(f"Send with 65537 content bytes gives InvalidArgument (12) with limit 65536: {e.message!r}")
        e = expect_error(k.INVALID_ARGUMENT, alice.send, 0xFFFFFFFF, b"c" * 65537)
        assert e.limit == 65536, e
        check("... also to a user that does not exist: the size is checked before the recipient (section 5, Send)")
        no_push(bob)

        # --- Second connection for bob: Auth kicks the first ------------------
        bob2 = tcp_conn("bob2")
        ar = bob2.auth(lb.token)
        assert ar.user_id == bob_id and ar.username == bob_name and ar.device_id == bob_dev, ar
        assert ar.cursor == 0 and ar.latest == r3.message_id, ar
        check(f"bob authenticates a second connection with his token (cursor {ar.cursor}, "
              "latest = the newest update, his last message)")
        d = bob.wait_disconnect(5)
        assert d.reason == k.KICKED, f"reason {d.reason} ({d.reason_name})"
        assert bob.wait_closed(5), "kicked connection not closed"
        check(f"bob's first connection got a Disconnect push, reason Kicked (1): {d.message!r}, then closed")
        no_push(alice)
        check("alice (another user) was not affected")

        # --- Sync paging with limit 1 ----------------------------------------
        # bob's log: his own login, then the three messages (section 8.1).
        pages = sync_pages(bob2, 0, 1)
        synced = [x for p in pages for x in p.updates]
        got = [x.id for x in synced]
        mores = [p.more for p in pages]
        expected = [lb.session.latest] + ids
        assert got == expected, f"synced {got}, expected {expected}"
        assert mores == [True, True, True, False], f"more flags {mores}"
        assert_new_login(synced[0], id=lb.session.latest, device_id=bob_dev, device_type=k.DEVICE_MOBILE,
                         client_type=k.CLIENT_ANDROID, conn=bob)
        assert_message_update(synced[1], id=r1.message_id, sender=alice_id, to=bob_id, cmid=cmid1, content=text1)
        assert_message_update(synced[2], id=r2.message_id, sender=bob_id, to=alice_id, cmid=cmid2,
                              content=text2, extra='{"v":1}')
        assert_message_update(synced[3], id=r3.message_id, sender=alice_id, to=bob_id, content=b"",
                              kind=k.KIND_CUSTOM)
        check(f"Sync limit 1 pages: {len(got)} updates ascending (bob's NewLogin, then 3 messages), "
              f"more flags {mores}")
        assert (synced[1], synced[3]) == (push1, push3), "pushed and synced updates differ"
        check("the Update pushes bob received carry the same ids and bodies that Sync returns")
        p = bob2.sync(r3.message_id, 1)
        assert p.updates == [] and not p.more
        p = bob2.sync(r1.message_id, 100)
        assert [x.id for x in p.updates] == ids[1:] and not p.more
        check("Sync after the last id is empty with more = false; after is exclusive")
        e0 = expect_error(k.INVALID_ARGUMENT, bob2.sync, 0, 0)
        e = expect_error(k.INVALID_ARGUMENT, bob2.sync, 0, 101)
        assert e.limit == 100 and e.retry_after_ms is None, e
        assert e0.limit in (None, 100), e0
        check(f"Sync limit 0 / 101 gives InvalidArgument (12); for 101 with limit 100 "
              f"(for 0: limit {e0.limit})")
        alice_log = alice.sync_all(0)
        assert [x.id for x in alice_log] == [la.session.latest] + ids, [x.id for x in alice_log]
        assert_new_login(alice_log[0], device_id=alice_dev, device_type=k.DEVICE_DESKTOP,
                         client_type=k.CLIENT_LINUX, conn=alice)
        assert alice_log[2] == push2
        check("alice's log holds her own login and the messages she sent from this very device")

        # --- History ---------------------------------------------------------
        h = bob2.history(alice_id, k.DIRECTION_BEFORE, 0, 2)
        assert [x.id for x in h.messages] == ids[1:], [x.id for x in h.messages]
        assert h.more, "older messages exist: more must be true"
        check("History Before anchor 0 limit 2 returns the 2 newest messages ascending, more = true")
        h2 = bob2.history(alice_id, k.DIRECTION_BEFORE, h.messages[0].id, 2)
        assert [x.id for x in h2.messages] == ids[:1] and not h2.more
        check("History Before anchor = first id returns the older page, more = false")
        h3 = bob2.history(alice_id, k.DIRECTION_AFTER, 0, 2)
        assert [x.id for x in h3.messages] == ids[:2] and h3.more
        h4 = bob2.history(alice_id, k.DIRECTION_AFTER, h3.messages[-1].id, 2)
        assert [x.id for x in h4.messages] == ids[2:] and not h4.more
        check("History After pages oldest-first with correct more flags")
        h5 = alice.history(bob_id, k.DIRECTION_BEFORE, 0, 100)
        assert [x.id for x in h5.messages] == ids and not h5.more
        assert h5.messages == [x.value for x in synced[1:]]
        check("alice sees the same conversation from her side, the same messages Sync returned")
        h6 = bob2.history(0xFFFFFFF0, k.DIRECTION_BEFORE, 0, 10)
        assert h6.messages == [] and not h6.more
        check("History with a non-existent user is an empty page")
        e = expect_error(k.INVALID_ARGUMENT, bob2.history, alice_id, k.DIRECTION_BEFORE, 0, 101)
        assert e.limit == 100 and e.retry_after_ms is None, e
        e0 = expect_error(k.INVALID_ARGUMENT, bob2.history, alice_id, k.DIRECTION_AFTER, 0, 0)
        assert e0.limit in (None, 100), e0
        check(f"History limit 101 / 0 gives InvalidArgument (12); for 101 with limit 100 "
              f"(for 0: limit {e0.limit})")

        # --- Ack on update ids -------------------------------------------------
        assert bob2.ack(lb.session.latest) == lb.session.latest, "Ack of a NewLogin update id"
        assert bob2.ack(r1.message_id) == r1.message_id
        assert bob2.ack(0) == r1.message_id, "cursor moved backwards"
        assert bob2.ack(r2.message_id) == r2.message_id
        assert bob2.ack(2**63 - 1) == r3.message_id, "cursor not clamped to latest"
        check("Ack moves the cursor on update ids (a NewLogin's, then messages'), never back, "
              "clamped to the newest update")
        # Revision 8 (section 5, Ack): each Ack that moved bob's cursor past a message from alice sends her a
        # Delivered update (kind 13) naming it; the Ack past his own message r2 covers none of hers.
        delivered = [alice.next_update(5) for _ in range(2)]
        assert [(x.kind, x.value) for x in delivered] == [
            (k.UPDATE_DELIVERED, k.Delivered(bob_id, r1.message_id)),
            (k.UPDATE_DELIVERED, k.Delivered(bob_id, r3.message_id))], delivered
        assert r3.message_id < delivered[0].id < delivered[1].id, delivered
        no_push(alice)
        check("alice gets a Delivered update (kind 13) for bob's Ack past r1 and one for his Ack past r3, "
              "none for the Acks that covered no message of hers (revision 8)")

        # --- Frame-level errors --------------------------------------------
        f = alice.call_raw(0x55, b"\x01\x02\x03")
        e = expect_error_frame(f, k.UNKNOWN_ACTION)
        alice.heartbeat()
        check(f"unknown action 0x55 gives UnknownAction (2) {e.message!r}; Heartbeat still answered")
        for act in (k.ERROR, k.RETIRED_PUSH_MESSAGE, k.PUSH_DISCONNECT, k.PUSH_UPDATE, 0x7E, 0xFF):
            expect_error_frame(alice.call_raw(act), k.UNKNOWN_ACTION)
        check("actions 0x7f, 0x80 (retired), 0x81, 0x82, 0x7e, 0xff give UnknownAction (2)")
        expect_error_frame(alice.call_raw(k.RETIRED_ACK, k.encode_ack(r3.message_id)), k.UNKNOWN_ACTION)
        expect_error_frame(alice.call_raw(k.RETIRED_SYNC_INBOX, k.encode_sync(0, 10)), k.UNKNOWN_ACTION)
        assert alice.ack(0) == 0, "the retired Ack moved the cursor"  # Ack(0) reads the cursor
        check("the retired 0x11 (Ack) and 0x12 (SyncInbox) of revision 1, with their old bodies, "
              "give UnknownAction (2) and change nothing")

        expect_error_frame(alice.call_raw(k.SYNC, b"\x00\x00\x00"), k.MALFORMED_BODY)
        check("a truncated Sync body gives MalformedBody (3)")
        expect_error_frame(alice.call_raw(k.HEARTBEAT, b"\x00"), k.MALFORMED_BODY)
        check("a Heartbeat with a 1-byte body gives MalformedBody (3)")
        expect_error_frame(alice.call_raw(k.ACK, k.encode_ack(1) + b"\x00"), k.MALFORMED_BODY)
        check("trailing bytes after an Ack body give MalformedBody (3)")
        # 10: the first MessageKind no revision defines (revision 8 made 9 Recalled, which a client may not
        # send: InvalidArgument, section 4.1)
        bad_kind = k.encode_send(bob_id, k.new_client_msg_id(), max(k.MESSAGE_KINDS) + 1, b"x")
        expect_error_frame(alice.call_raw(k.SEND, bad_kind), k.MALFORMED_BODY)
        bad_target = k.Writer().u32(2).u64(bob_id).id16(k.new_client_msg_id()).u8(1).bytes(b"x").u8(0).build()
        expect_error_frame(alice.call_raw(k.SEND, bad_target), k.MALFORMED_BODY)
        # The `extra` tag (before the 8-byte reply_to and the empty mentions) made 2.
        bad_opt = k.encode_send(bob_id, k.new_client_msg_id(), 1, b"x")[:-17] + b"\x02" + bytes(16)
        expect_error_frame(alice.call_raw(k.SEND, bad_opt), k.MALFORMED_BODY)
        bad_utf8 = (2).to_bytes(8, "big") + b"\xff\xfe"
        expect_error_frame(alice.call_raw(k.FIND_USER, bad_utf8), k.MALFORMED_BODY)
        long_len = b"\x00\x00\x00\x00\x00\x00\x01\x00" + b"ab"
        expect_error_frame(alice.call_raw(k.FIND_USER, long_len), k.MALFORMED_BODY)
        bad_dir = k.Writer().target(k.Target.user(bob_id)).u8(2).u64(0).u16(1).build()
        expect_error_frame(alice.call_raw(k.HISTORY, bad_dir), k.MALFORMED_BODY)
        check("unknown kind, Target variant 2, Option tag 2, invalid UTF-8, length past end, "
              "Direction 2 all give MalformedBody (3)")
        assert alice.heartbeat() > 0
        no_push(bob2)
        check("the connection still works after malformed bodies; nothing was delivered")

        f = alice.call_raw(k.HEARTBEAT, seq=0)
        assert f.seq == 0
        expect_error_frame(f, k.BAD_SEQUENCE)
        alice.heartbeat()
        check("a request with sequence id 0 gives BadSequence (16) with sequence 0")
        f = alice.call_raw(0x55, b"\x01", seq=0)
        assert f.seq == 0
        expect_error_frame(f, k.UNKNOWN_ACTION)
        check("an unknown action with sequence id 0 gives UnknownAction (2) with sequence 0: the action "
              "byte is checked before the sequence id (section 2.2)")

        # --- Before authentication ----------------------------------------
        fresh = tcp_conn("fresh")
        expect_error(k.NOT_AUTHENTICATED, fresh.find_user, bob_name)
        expect_error(k.NOT_AUTHENTICATED, fresh.sync, 0, 10)
        expect_error(k.NOT_AUTHENTICATED, fresh.ack, 0)
        expect_error(k.NOT_AUTHENTICATED, fresh.logout)
        expect_error(k.NOT_AUTHENTICATED, fresh.renew_token)
        f = fresh.call_raw(k.SYNC, b"\x00")  # auth is checked before the body
        expect_error_frame(f, k.NOT_AUTHENTICATED)
        fresh.heartbeat()
        check("requests before authentication (RenewToken included) give NotAuthenticated (5), "
              "even with a malformed body")
        f = fresh.call_raw(k.HEARTBEAT, b"\x00" * 4096)
        no_extras(expect_error_frame(f, k.MALFORMED_BODY))
        fresh.heartbeat()
        check("before authentication a 4096-byte body is read (a Heartbeat with one is MalformedBody (3))")
        for act in (k.RETIRED_ACK, k.RETIRED_SYNC_INBOX):
            expect_error_frame(fresh.call_raw(act, k.encode_sync(0, 10)[:8]), k.UNKNOWN_ACTION)
        check("before authentication too, 0x11 and 0x12 give UnknownAction (2), not NotAuthenticated")
        expect_error(k.INVALID_TOKEN, fresh.auth, b"\x00" * 40)
        expect_error(k.INVALID_TOKEN, fresh.auth, b"short")
        check("Auth with an unknown or short token gives InvalidToken (14)")
        fresh.close()

        # --- TLS pinning -----------------------------------------------------
        wrong = bytearray(k.parse_fingerprint(pin))
        wrong[0] ^= 0xFF
        try:
            c = tls_conn("wrongpin", bytes(wrong))
        except k.PinMismatch as ex:
            check(f"TLS with a wrong fingerprint is refused: {ex}")
        else:
            c.close()
            raise AssertionError("TLS connection with a wrong pin was accepted")
        raw = k.parse_fingerprint(pin)
        for form in ("SHA256:" + k.fmt_fingerprint(raw), raw.hex(), raw.hex().upper()):
            c = tls_conn("pinform", form)
            assert c.heartbeat() > 0
            c.close()
        check("pin accepted with SHA256: prefix, without colons, in either case")

        # --- Offline catch-up across kinds (sections 8.1-8.4) -------------------
        # carol's phone logs in, acks its log and goes offline. Meanwhile dave
        # writes to her, she logs in with her password on her laptop (a NewLogin
        # update), dave writes again and the laptop writes too. The phone comes
        # back with its token and pages through everything with Sync.
        carol_name, dave_name = f"carol_{suffix}", f"dave_{suffix}"
        carol_pw, dave_pw = f"carol pw {suffix}", f"dave pw {suffix}"
        reg = tcp_conn("register2")
        carol_id = reg.register(carol_name, carol_pw)
        dave_id = reg.register(dave_name, dave_pw)
        reg.close()
        phone = tcp_conn("carol-phone")
        phone_dev = f"carol-phone-{suffix}"
        lp = patiently(phone.login, carol_name, carol_pw, phone_dev, k.DEVICE_MOBILE, k.CLIENT_ANDROID)
        first = phone.sync_all(0)
        assert [x.id for x in first] == [lp.session.latest], [x.id for x in first]
        assert_new_login(first[0], id=lp.session.latest, device_id=phone_dev, device_type=k.DEVICE_MOBILE,
                         client_type=k.CLIENT_ANDROID, conn=phone)
        assert phone.ack(lp.session.latest) == lp.session.latest
        phone.close()
        check("carol's phone: Sync returns its own login as the only update (id = Login's latest); "
              "it acks it and goes offline")

        dave = tcp_conn("dave")
        patiently(dave.login, dave_name, dave_pw, f"dave-pc-{suffix}", k.DEVICE_DESKTOP, k.CLIENT_WINDOWS)
        before = [dave.send(carol_id, f"before {i}") for i in range(3)]
        laptop = tls_conn("carol-laptop")
        laptop_dev = f"carol-laptop-{suffix}"
        ll = patiently(laptop.login, carol_name, carol_pw, laptop_dev, k.DEVICE_DESKTOP, k.CLIENT_LINUX)
        assert ll.session.cursor == 0 and ll.session.latest > before[-1].message_id, ll.session
        later = [dave.send(carol_id, f"after {i}") for i in range(2)]
        laptop_pushes = [laptop.next_update(5) for _ in later]
        own = laptop.send(dave_id, "from the laptop")
        note = laptop.send(carol_id, "note to self")
        no_push(laptop)
        assert [x.id for x in laptop_pushes] == [x.message_id for x in later]
        check("while the phone is offline: 3 messages from dave, a password login on carol's laptop, "
              "2 more messages (pushed to the laptop), a message and a note to self from the laptop")

        phone2 = tcp_conn("carol-phone-back")
        ap = phone2.auth(lp.token)
        assert ap.cursor == lp.session.latest and ap.latest == note.message_id, ap
        no_push(laptop)
        check("the phone is back with Auth: cursor = its Ack, latest = the newest update; "
              "the laptop gets no push (Auth makes no NewLogin)")

        expected = ([x.message_id for x in before] + [ll.session.latest] + [x.message_id for x in later]
                    + [own.message_id, note.message_id])
        pages = sync_pages(phone2, ap.cursor, 3)
        caught_up = [x for p in pages for x in p.updates]
        got = [x.id for x in caught_up]
        sizes, mores = [len(p.updates) for p in pages], [p.more for p in pages]
        assert got == expected, f"synced {got}, expected {expected}"
        assert len(set(got)) == len(got), "duplicate update"
        assert sizes == [3, 3, 2] and mores == [True, True, False], f"page sizes {sizes}, more flags {mores}"
        for x, r in zip(caught_up[:3], before):
            assert_message_update(x, id=r.message_id, sender=dave_id, to=carol_id)
        assert_new_login(caught_up[3], id=ll.session.latest, device_id=laptop_dev,
                         device_type=k.DEVICE_DESKTOP, client_type=k.CLIENT_LINUX, conn=laptop)
        for x, r, i in zip(caught_up[4:6], later, range(2)):
            assert_message_update(x, id=r.message_id, sender=dave_id, to=carol_id, content=f"after {i}".encode())
        assert_message_update(caught_up[6], id=own.message_id, sender=carol_id, to=dave_id,
                              content=b"from the laptop")
        assert_message_update(caught_up[7], id=note.message_id, sender=carol_id, to=carol_id,
                              content=b"note to self")
        check(f"the phone pages through {len(got)} updates with Sync limit 3 (page sizes {sizes}, more "
              f"flags {mores}): messages interleaved with the laptop's NewLogin, no gap, no duplicate")
        assert caught_up[4:6] == laptop_pushes, "pushed and synced updates differ"
        check("the Message pushes the laptop received have the same ids and bodies in the phone's Sync")
        assert phone2.ack(got[-1]) == got[-1]
        check("the phone acks the last update of its last page")

        tablet = tcp_conn("carol-tablet")
        tablet_dev = f"carol-tablet-{suffix}"
        lct = patiently(tablet.login, carol_name, carol_pw, tablet_dev, k.DEVICE_TABLET, k.CLIENT_OTHER)
        assert lct.session.latest > note.message_id
        pushed = {}
        for name, conn in (("phone", phone2), ("laptop", laptop)):
            pushed[name] = conn.next_update(5)
            assert_new_login(pushed[name], id=lct.session.latest, device_id=tablet_dev,
                             device_type=k.DEVICE_TABLET, client_type=k.CLIENT_OTHER, conn=tablet)
        no_push(tablet)
        laptop_ids = [x.id for x in laptop_pushes] + [pushed["laptop"].id]
        assert laptop_ids == sorted(laptop_ids)
        check("carol logs in on a tablet: her phone and laptop get an Update push of kind NewLogin (2) "
              "with the id of the tablet's latest (the laptop's pushes ascending across kinds); "
              "the tablet gets none")
        p = phone2.sync(got[-1], 100)
        assert p.updates == [pushed["phone"]] and not p.more, p
        check("Sync then returns that NewLogin update with the same id and body")
        assert phone2.ack(2**63 - 1) == lct.session.latest, "cursor not clamped to the newest update"
        assert phone2.ack(before[0].message_id) == lct.session.latest, "cursor moved backwards"
        check("Ack past the end is clamped to the newest update (a NewLogin), and never moves back")
        mine = laptop.send(dave_id, "seen on all my devices")
        for conn in (phone2, tablet):
            assert_message_update(conn.next_update(5), id=mine.message_id, sender=carol_id, to=dave_id,
                                  content=b"seen on all my devices")
        no_push(laptop)
        check("a message carol sends from her laptop is pushed to her phone and tablet as well, "
              "not to the laptop")
        for conn in (phone2, laptop, tablet, dave):
            conn.close()

        # --- Kinds from the future (section 8.5) ------------------------------
        msg_id = lct.session.latest + 2
        msg = k.Message(id=msg_id, sender=dave_id, to=k.Target.user(carol_id), client_msg_id=k.new_client_msg_id(),
                        kind=k.KIND_TEXT, content=b"from the future", extra=None,
                        server_time=k.snowflake_time(msg_id))
        future = k.Update(lct.session.latest + 1, 200, body=b"\x00\x07whatever a newer server puts here")
        msg_update = k.make_update(msg.id, k.UPDATE_MESSAGE, msg)
        page = k.decode_sync_page(k.encode_sync_page(k.SyncPage([future, msg_update], False, [])))
        assert [(x.id, x.kind) for x in page.updates] == [(future.id, 200), (msg.id, k.UPDATE_MESSAGE)]
        assert not page.updates[0].known and page.updates[0].value is None
        assert page.updates[0].body == future.body and page.updates[1].value == msg
        assert [x.value for x in page.updates if x.known] == [msg]
        check("a Sync page holding an Update of unknown kind 200 decodes: that update is skipped "
              "(no value; its id still counts), the Message after it is decoded")
        ours, theirs = socket.socketpair()
        try:
            c = KithClient(ours, label="future")
            theirs.sendall(k.encode_frame(k.PUSH_UPDATE, 0, k.encode_update(future))
                           + k.encode_frame(0x9F, 0, b"some future push")
                           + k.encode_frame(k.PUSH_UPDATE, 0, k.encode_update(msg_update)))
            a, v = c.next_push(5)
            assert a == k.PUSH_UPDATE and v.kind == 200 and v.value is None and v.id == future.id, (a, v)
            a, v = c.next_push(5)
            assert (a, v) == (0x9F, b"some future push"), (a, v)
            assert c.next_message(5) == msg
            assert not c.closed.is_set(), c.close_reason
            c.close()
        finally:
            theirs.close()
        check("an Update push of unknown kind 200 and an unknown push action are passed over; "
              "the connection keeps decoding the Message push after them")

        # --- ChangePassword ------------------------------------------------
        alice_tab = tls_conn("alice-tablet")
        tab_dev = f"alice-tablet-{suffix}"
        lt = patiently(alice_tab.login, alice_name, alice_pw, tab_dev, k.DEVICE_TABLET, k.CLIENT_ANDROID)
        u = alice.next_update(5)
        assert_new_login(u, id=lt.session.latest, device_id=tab_dev, device_type=k.DEVICE_TABLET,
                         client_type=k.CLIENT_ANDROID, conn=alice_tab)
        assert alice.disconnect is None
        no_push(alice_tab)
        check("a second device type of alice logs in without kicking the first, which gets an Update push "
              "of kind NewLogin (2) carrying the new login's latest")
        p = alice.sync(delivered[-1].id)
        assert p.updates == [u] and not p.more, p
        check("Sync later returns that NewLogin update with the same id and body")
        e = expect_error(k.BAD_CREDENTIALS, patiently, alice.change_password, "not the password",
                         "new password 123")
        no_extras(e)
        expect_error(k.INVALID_ARGUMENT, alice.change_password, alice_pw, "short")
        check("ChangePassword with a wrong old password / short new one: BadCredentials (6) / InvalidArgument (12)")
        e = expect_error(k.INVALID_ARGUMENT, alice.change_password, alice_pw, alice_pw)
        check(f"ChangePassword to the current password gives InvalidArgument (12): {e.message!r}")
        expect_error(k.INVALID_ARGUMENT, alice.change_password, "not the password", "short")
        expect_error(k.INVALID_ARGUMENT, alice.change_password, "not the password", "not the password")
        check("with a wrong old password, a short new one or new = old is still InvalidArgument (12): "
              "the new password's rules and new = old are checked before the old password (section 5, ChangePassword)")
        no_push(alice_tab)
        assert alice.disconnect is None and alice_tab.disconnect is None
        alice_tab.heartbeat()
        check("the refused changes changed nothing: alice's other session stays connected")
        new_pw = f"new alice pw {suffix}"
        tr = patiently(alice.change_password, alice_pw, new_pw)  # the login throttle applies (section 5, ChangePassword)
        assert len(tr.token) == 40 and tr.token != la.token
        d = alice_tab.wait_disconnect(5)
        assert d.reason == k.PASSWORD_CHANGED, d
        assert alice_tab.wait_closed(5)
        alice.heartbeat()
        check("ChangePassword returns a new token; alice's other session gets PasswordChanged (3); "
              "this one stays")
        c = tcp_conn("alice-old-token")
        expect_error(k.INVALID_TOKEN, c.auth, la.token)
        expect_error(k.BAD_CREDENTIALS, patiently, c.login, alice_name, alice_pw, "x")
        c.close()
        check("after ChangePassword the old token and old password are refused")

        # --- Auth reports the cursor; Logout ---------------------------------
        bob3 = tcp_conn("bob3")
        ar3 = bob3.auth(lb.token)
        assert ar3.cursor == r3.message_id and ar3.latest == r3.message_id, ar3
        d = bob2.wait_disconnect(5)
        assert d.reason == k.KICKED
        check("Auth on a third connection reports the acked cursor; the second is kicked")
        bob3.logout()
        d = bob3.wait_disconnect(5)
        assert d.reason == k.LOGGED_OUT, d
        assert bob3.wait_closed(5)
        check("Logout: empty response, then a Disconnect push LoggedOut (2) and close")
        c = tcp_conn("bob-after-logout")
        expect_error(k.INVALID_TOKEN, c.auth, lb.token)
        lb2 = patiently(c.login, bob_name, bob_pw, bob_dev, k.DEVICE_MOBILE, k.CLIENT_ANDROID)
        assert lb2.session.cursor == r3.message_id, "cursor should survive re-login with the same device_id"
        assert lb2.session.latest > r3.message_id, "the new login is a new update"
        check("after Logout the token is refused; re-login with the same device_id keeps the cursor")
        # An authenticated connection may send bodies of up to 131 072 bytes.
        header = k.encode_frame(k.HEARTBEAT, 9, b"")[:9] + (131073).to_bytes(4, "big")
        f = c.call_raw(k.HEARTBEAT, seq=9, raw=header)
        e = expect_error_frame(f, k.FRAME_TOO_LARGE)
        assert e.limit == 131072 and e.retry_after_ms is None, e
        d = c.wait_disconnect(5)
        assert d.reason == k.PROTOCOL_ERROR and c.wait_closed(5)
        check(f"on an authenticated connection a header announcing 131073 body bytes gives FrameTooLarge (4) "
              f"with limit 131072, then Disconnect ProtocolError (9): {e.message!r}")

        # --- The social graph (revision 4) --------------------------------------
        social_section(suffix, tcp_conn, tls_conn)

        # --- The connection's rate limit (section 7.4) ------------------------
        # 1 000 requests of burst, 500 per second: 1 500 Heartbeats and then 300
        # unknown actions written at once outrun it. A refused frame waits for
        # one token (2 ms). The rate limit is checked before the action byte.
        c = tcp_conn("ratelimit")
        frames = c.call_many([(k.HEARTBEAT, b"")] * 1500 + [(0x55, b"")] * 300, timeout=60)
        beats, unknown = frames[:1500], frames[1500:]
        ok = sum(1 for f in beats if f.action == k.HEARTBEAT)
        refused = [k.decode_error_body(f.body) for f in frames if f.action == k.ERROR
                   and k.decode_error_body(f.body).code == k.RATE_LIMITED]
        assert ok >= 1000, f"only {ok} of 1500 Heartbeats answered"
        assert refused, "no RateLimited after 1800 frames written at once"
        for f in beats:
            if f.action != k.HEARTBEAT:
                expect_error_frame(f, k.RATE_LIMITED)
        for f in unknown:
            assert f.action == k.ERROR and k.decode_error_body(f.body).code in (k.RATE_LIMITED, k.UNKNOWN_ACTION)
        waits = sorted({x.retry_after_ms for x in refused})
        assert all(x.retry_after_ms is not None and 1 <= x.retry_after_ms <= 2 and x.limit is None
                   and x.reason == k.RATE_LIMIT_REQUESTS for x in refused), waits
        unknown_refused = sum(1 for f in unknown if k.decode_error_body(f.body).code == k.RATE_LIMITED)
        assert unknown_refused > 0, "no unknown action was refused by the rate limit"
        time.sleep(0.01)
        c.heartbeat()
        c.close()
        check(f"1800 frames at once: {ok} Heartbeats answered, {len(refused)} frames RateLimited (10) with "
              f"retry_after_ms in {waits} (one token at 500/s), no limit; {unknown_refused} of the 300 unknown "
              "actions got RateLimited, not UnknownAction (rate limit first, section 2.2); the connection "
              "stays usable")

        # --- Token renewal: RenewToken (revision 3, sections Auth, RenewToken) --------
        erin_name, erin_pw = f"erin_{suffix}", f"erin pw {suffix}"
        reg = tcp_conn("register3")
        erin_id = reg.register(erin_name, erin_pw)
        reg.close()
        erin_dev = f"erin-phone-{suffix}"
        e1 = tcp_conn("erin-1")
        le = patiently(e1.login, erin_name, erin_pw, erin_dev, k.DEVICE_MOBILE, k.CLIENT_ANDROID)
        assert le.session.renewed is None
        t0 = le.token
        now_ms = e1.heartbeat()
        t1 = e1.renew_token()
        assert len(t1.token) == 40 and t1.token != t0, t1
        assert t1.expires_at >= le.expires_at, (t1.expires_at, le.expires_at)
        assert abs(t1.expires_at - (now_ms + 30 * 86_400_000)) < 60_000, \
            f"expires_at {t1.expires_at}, {t1.expires_at - now_ms} ms from the server's now"
        e1.heartbeat()
        no_push(e1)
        check("RenewToken (0x08) returns a new 40-byte token valid 30 days from now; the connection stays "
              "authenticated and gets no push")
        expect_error_frame(e1.call_raw(k.RENEW_TOKEN, b"\x00"), k.MALFORMED_BODY)
        check("RenewToken with a 1-byte body gives MalformedBody (3)")
        e2 = tcp_conn("erin-2")
        a2 = e2.auth(t0)
        assert (a2.user_id, a2.device_id, a2.renewed) == (erin_id, erin_dev, None), a2
        assert e1.wait_disconnect(5).reason == k.KICKED
        check("before the new token is used the old one still works (Auth; renewed absent: the token is far "
              "from its expiry); the first connection is kicked as usual")
        e3 = tcp_conn("erin-3")
        a3 = e3.auth(t1.token)
        assert (a3.user_id, a3.device_id, a3.renewed) == (erin_id, erin_dev, None), a3
        assert a3.latest == le.session.latest and a3.cursor == 0, a3
        assert e2.wait_disconnect(5).reason == k.KICKED
        check("... and so does the new one, even after the old one was used again (both work until the "
              "new one is first used); latest unchanged: renewing adds no update")
        c = tcp_conn("erin-old")
        e = expect_error(k.INVALID_TOKEN, c.auth, t0)
        no_extras(e)
        c.close()
        e3.heartbeat()
        check("after the first Auth with the new token, the old one gives InvalidToken (14)")
        t2 = e3.renew_token()
        t3 = e3.renew_token()
        assert len({t1.token, t2.token, t3.token}) == 3
        c = tcp_conn("erin-t2")
        expect_error(k.INVALID_TOKEN, c.auth, t2.token)
        c.close()
        e3.heartbeat()
        check("a second renewal discards the first, never-used renewed token (InvalidToken (14))")
        e4 = tcp_conn("erin-4")
        a4 = e4.auth(t3.token)
        assert a4.device_id == erin_dev and a4.renewed is None, a4
        assert e3.wait_disconnect(5).reason == k.KICKED
        c = tcp_conn("erin-t1")
        expect_error(k.INVALID_TOKEN, c.auth, t1.token)
        c.close()
        check("Auth with the latest renewed token works and retires the token it replaced")
        assert [x.id for x in e4.sync_all(0)] == [le.session.latest]
        check("erin's log holds only her password login: RenewToken and Auth add no update")
        t4 = e4.renew_token()
        e4.logout()
        assert e4.wait_disconnect(5).reason == k.LOGGED_OUT
        for t in (t3.token, t4.token):
            c = tcp_conn("erin-after-logout")
            expect_error(k.INVALID_TOKEN, c.auth, t)
            c.close()
        check("Logout revokes both the token in use and a renewed one never used (InvalidToken (14))")

        # --- Authentication deadline ---------------------------------------
        idle_watcher.join(40)
        assert "error" not in idle_result, f"idle connection: {idle_result.get('error')!r}"
        d, elapsed = idle_result["disconnect"], idle_result["elapsed"]
        assert d.reason == k.AUTH_TIMEOUT, d
        assert elapsed >= 9, f"AuthTimeout after {elapsed:.1f} s, before the 10 s deadline"
        assert idle.wait_closed(5)
        check(f"an unauthenticated connection gets AuthTimeout (8) after {elapsed:.1f} s despite Heartbeats")

        # --- Unsupported version closes the connection ----------------------
        c = tcp_conn("badversion")
        f = c.call_raw(k.HEARTBEAT, version=2)
        no_extras(expect_error_frame(f, k.UNSUPPORTED_VERSION))
        d = c.wait_disconnect(5)
        assert d.reason == k.PROTOCOL_ERROR and c.wait_closed(5)
        check("version 2 gives UnsupportedVersion (1), then a Disconnect push ProtocolError (9) and close")
        c = tcp_conn("toolarge")
        header = k.encode_frame(k.HEARTBEAT, 7, b"")[:9] + (131073).to_bytes(4, "big")
        f = c.call_raw(k.HEARTBEAT, seq=7, raw=header)
        e = expect_error_frame(f, k.FRAME_TOO_LARGE)
        assert e.limit == 4096 and e.retry_after_ms is None, e
        d = c.wait_disconnect(5)
        assert d.reason == k.PROTOCOL_ERROR and c.wait_closed(5)
        check("before authentication a header announcing 131073 body bytes gives FrameTooLarge (4) with "
              "limit 4096, a Disconnect push ProtocolError (9), close")
        c = tcp_conn("toolarge-4097")
        header = k.encode_frame(k.REGISTER, 3, b"")[:9] + (4097).to_bytes(4, "big")
        e = expect_error_frame(c.call_raw(k.REGISTER, seq=3, raw=header), k.FRAME_TOO_LARGE)
        assert e.limit == 4096 and c.wait_disconnect(5).reason == k.PROTOCOL_ERROR and c.wait_closed(5), e
        check(f"... and 4097 bytes too: FrameTooLarge (4), limit 4096: {e.message!r}")

        alice.close()
        print(f"{CHECKS[0]} checks", flush=True)
        print("all checks passed")
    finally:
        for c in opened:
            c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tcp", required=True, help="plain TCP HOST:PORT")
    ap.add_argument("--tls", required=True, help="TCP+TLS HOST:PORT")
    ap.add_argument("--fingerprint", required=True, help="SHA-256 pin of the server certificate (hex)")
    args = ap.parse_args()
    try:
        run(args)
    except Exception:  # noqa: BLE001
        print("FAIL", flush=True)
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
