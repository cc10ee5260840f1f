#!/usr/bin/env python3
"""End-to-end scenario against a live kith server, using only kith_client.py
(itself written only from docs/PROTOCOL.md).

    python3 scenario.py --tcp 127.0.0.1:17421 --tls 127.0.0.1:17420 --fingerprint AB:CD:...

Exits non-zero on the first failed check.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kith_client as k  # noqa: E402
from kith_client import KithClient, KithError  # noqa: E402


def hostport(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def check(label: str) -> None:
    print(f"ok   {label}", flush=True)


def expect_error(code: int, fn, *args, **kwargs) -> KithError:
    try:
        fn(*args, **kwargs)
    except KithError as e:
        assert e.code == code, f"expected error {code} ({k.ERROR_NAMES.get(code)}), got {e.code}: {e.message}"
        return e
    raise AssertionError(f"expected error {code} ({k.ERROR_NAMES.get(code)}), got success")


def patiently(fn, *args, **kwargs):
    """Calls fn, waiting and retrying while the server answers RateLimited
    (section 7.4: failed logins are throttled per account and address)."""
    for _ in range(20):
        try:
            return fn(*args, **kwargs)
        except KithError as e:
            if e.code != k.RATE_LIMITED:
                raise
            time.sleep(0.5)
    return fn(*args, **kwargs)


def expect_error_frame(frame: k.Frame, code: int) -> k.ErrorBody:
    """`frame` is what call_raw returned, i.e. already matched by sequence id."""
    assert frame.action == k.ERROR, f"expected an Error frame, got action {frame.action:#04x}"
    e = k.decode_error_body(frame.body)
    assert e.code == code, f"expected error {code} ({k.ERROR_NAMES.get(code)}), got {e.code}: {e.message}"
    return e


def no_push(c: KithClient, wait: float = 0.5) -> None:
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
        assert m.to == to, f"to {m.to} != {to}"
    if cmid is not None:
        assert m.client_msg_id == cmid, "client_msg_id differs"
    if content is not None:
        assert m.content == content, f"content {m.content!r} != {content!r}"
    assert m.kind == kind, f"kind {m.kind} != {kind}"
    assert m.extra == extra, f"extra {m.extra!r} != {extra!r}"
    assert m.server_time == k.snowflake_time(m.id), "server_time is not derived from the id (section 8.5)"


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
        # A connection that never authenticates: must get PushDisconnect(AuthTimeout)
        # within 10 s even though it sends Heartbeats (sections 5.2, 7.2).
        idle = tcp_conn("idle")
        idle_started = time.monotonic()
        idle.heartbeat()

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
        reg.close()

        # --- Login ---------------------------------------------------------
        bad = tcp_conn("badlogin")
        e = expect_error(k.BAD_CREDENTIALS, bad.login, alice_name, "wrong password!", "dev-x")
        check(f"login with a wrong password gives BadCredentials (6): {e.message!r}")
        expect_error(k.BAD_CREDENTIALS, bad.login, f"nobody_{suffix}", "whatever123", "dev-x")
        check("login with an unknown username gives BadCredentials (6)")
        bad.heartbeat()
        check("the connection stays usable after a failed login")
        bad.close()

        alice = tls_conn("alice")
        assert alice.alpn == k.ALPN, f"ALPN {alice.alpn!r}"
        alice_dev = f"alice-desktop-{suffix}"
        la = alice.login(alice_name.upper(), alice_pw, alice_dev, k.DEVICE_DESKTOP, k.CLIENT_LINUX)
        assert len(la.token) == 40, f"token of {len(la.token)} bytes"
        assert la.session.user_id == alice_id and la.session.username == alice_name
        assert la.session.device_id == alice_dev
        assert la.session.cursor == 0 and la.session.latest == 0
        assert la.expires_at > time.time() * 1000
        check(f"alice logs in over TLS (pinned, ALPN {alice.alpn}), username case-folded")

        bob = tcp_conn("bob")
        bob_dev = f"bob-phone-{suffix}"
        lb = bob.login(bob_name, bob_pw, bob_dev, k.DEVICE_MOBILE, k.CLIENT_ANDROID)
        assert lb.session.user_id == bob_id and lb.session.username == bob_name
        check("bob logs in over plain TCP")

        expect_error(k.ALREADY_AUTHENTICATED, bob.login, bob_name, bob_pw, bob_dev)
        check("Login on an authenticated connection gives AlreadyAuthenticated (13)")

        # --- FindUser --------------------------------------------------------
        u = alice.find_user(bob_name)
        assert u.user_id == bob_id and u.username == bob_name, u
        u2 = alice.find_user(bob_name.upper())
        assert u2.user_id == bob_id and u2.username == bob_name
        check(f"alice finds bob by username (id {u.user_id}, also case-insensitively)")
        expect_error(k.NOT_FOUND, alice.find_user, f"nobody_{suffix}")
        expect_error(k.NOT_FOUND, alice.find_user, "!!")
        check("FindUser of an unknown or impossible name gives NotFound (8)")

        # --- Send / push ---------------------------------------------------
        now_ms = alice.heartbeat()
        assert abs(now_ms - time.time() * 1000) < 60_000, "heartbeat server_time far from local clock"
        cmid1 = k.new_client_msg_id()
        text1 = f"hi bob {suffix} \u00e9\u2603".encode()
        r1 = alice.send(bob_id, text1, client_msg_id=cmid1)
        assert not r1.duplicate and r1.message_id > 0
        assert r1.server_time == k.snowflake_time(r1.message_id)
        check(f"alice sends a text to bob, acked with id {r1.message_id}")
        m = bob.next_message(5)
        assert_message(m, id=r1.message_id, sender=alice_id, to=bob_id, cmid=cmid1, content=text1)
        check("bob receives PushMessage with the same id, sender, to, client_msg_id and content")
        no_push(alice, 0.3)
        check("the sending connection gets no push of its own message")

        cmid2 = k.new_client_msg_id()
        text2 = f"hello alice {suffix}".encode()
        r2 = bob.send(alice_id, text2, client_msg_id=cmid2, extra='{"v":1}')
        assert not r2.duplicate and r2.message_id > r1.message_id
        m = alice.next_message(5)
        assert_message(m, id=r2.message_id, sender=bob_id, to=alice_id, cmid=cmid2, content=text2,
                       extra='{"v":1}')
        check("bob replies (with extra); alice receives it as a push, to = User(alice)")

        r1b = alice.send(bob_id, b"retry with other content", client_msg_id=cmid1)
        assert r1b.duplicate, "retry not flagged duplicate"
        assert r1b.message_id == r1.message_id and r1b.server_time == r1.server_time
        no_push(bob, 0.5)
        check("retried Send with the same client_msg_id: same id, duplicate = true, no new push")

        cmid3 = k.new_client_msg_id()
        r3 = alice.send(bob_id, b"", kind=k.KIND_CUSTOM, client_msg_id=cmid3)
        m = bob.next_message(5)
        assert_message(m, id=r3.message_id, sender=alice_id, to=bob_id, content=b"", kind=k.KIND_CUSTOM)
        check("an empty Custom message is stored and pushed")
        ids = [r1.message_id, r2.message_id, r3.message_id]
        assert ids == sorted(ids)

        expect_error(k.NOT_FOUND, alice.send, 0xFFFFFFFF, "to nobody")
        check("Send to a non-existent user gives NotFound (8)")
        expect_error(k.INVALID_ARGUMENT, alice.send, bob_id, "x", extra="e" * 1025)
        check("Send with a 1025-byte extra gives InvalidArgument (12)")

        # --- Second connection for bob: Auth kicks the first ------------------
        bob2 = tcp_conn("bob2")
        ar = bob2.auth(lb.token)
        assert ar.user_id == bob_id and ar.username == bob_name and ar.device_id == bob_dev, ar
        assert ar.cursor == 0 and ar.latest == r3.message_id, ar
        check(f"bob authenticates a second connection with his token (cursor {ar.cursor}, latest = last id)")
        d = bob.wait_disconnect(5)
        assert d.reason == k.KICKED, f"reason {d.reason} ({d.reason_name})"
        assert bob.wait_closed(5), "kicked connection not closed"
        check(f"bob's first connection got PushDisconnect reason Kicked (1): {d.message!r}, then closed")
        no_push(alice, 0.3)
        check("alice (another user) was not affected")

        # --- SyncInbox paging with limit 1 -----------------------------------
        pages = []
        after = 0
        while True:
            p = bob2.sync_inbox(after, 1)
            pages.append(p)
            assert len(p.messages) <= 1
            if p.messages:
                after = p.messages[-1].id
            if not p.more:
                break
            assert len(pages) < 50, "paging does not end"
        got = [msg.id for p in pages for msg in p.messages]
        mores = [p.more for p in pages]
        assert got == ids, f"synced {got}, expected {ids}"
        assert mores == [True, True, False], f"more flags {mores}"
        all_msgs = [msg for p in pages for msg in p.messages]
        assert_message(all_msgs[0], id=r1.message_id, sender=alice_id, to=bob_id, cmid=cmid1, content=text1)
        assert_message(all_msgs[1], id=r2.message_id, sender=bob_id, to=alice_id, cmid=cmid2, content=text2,
                       extra='{"v":1}')
        check(f"SyncInbox limit 1 pages: ids ascending {len(got)} messages, more flags {mores}")
        p = bob2.sync_inbox(r3.message_id, 1)
        assert p.messages == [] and not p.more
        p = bob2.sync_inbox(r1.message_id, 100)
        assert [x.id for x in p.messages] == ids[1:] and not p.more
        check("SyncInbox after the last id is empty with more = false; after is exclusive")
        expect_error(k.INVALID_ARGUMENT, bob2.sync_inbox, 0, 0)
        expect_error(k.INVALID_ARGUMENT, bob2.sync_inbox, 0, 101)
        check("SyncInbox limit 0 / 101 gives InvalidArgument (12)")

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
        check("alice sees the same conversation from her side")
        h6 = bob2.history(0xFFFFFFF0, k.DIRECTION_BEFORE, 0, 10)
        assert h6.messages == [] and not h6.more
        check("History with a non-existent user is an empty page")

        # --- Ack ---------------------------------------------------------------
        assert bob2.ack(r1.message_id) == r1.message_id
        assert bob2.ack(0) == r1.message_id, "cursor moved backwards"
        assert bob2.ack(r2.message_id) == r2.message_id
        assert bob2.ack(2**63 - 1) == r3.message_id, "cursor not clamped to latest"
        check("Ack moves the cursor forward, never back, clamped to the newest message")

        # --- Frame-level errors --------------------------------------------
        f = alice.call_raw(0x55, b"\x01\x02\x03")
        e = expect_error_frame(f, k.UNKNOWN_ACTION)
        alice.heartbeat()
        check(f"unknown action 0x55 gives UnknownAction (2) {e.message!r}; Heartbeat still answered")
        for act in (k.ERROR, k.PUSH_MESSAGE, k.PUSH_DISCONNECT, 0x7E, 0xFF):
            expect_error_frame(alice.call_raw(act), k.UNKNOWN_ACTION)
        check("actions 0x7f, 0x80, 0x81, 0x7e, 0xff give UnknownAction (2)")

        expect_error_frame(alice.call_raw(k.SYNC_INBOX, b"\x00\x00\x00"), k.MALFORMED_BODY)
        check("a truncated SyncInbox body gives MalformedBody (3)")
        expect_error_frame(alice.call_raw(k.HEARTBEAT, b"\x00"), k.MALFORMED_BODY)
        check("a Heartbeat with a 1-byte body gives MalformedBody (3)")
        expect_error_frame(alice.call_raw(k.ACK, k.encode_ack(1) + b"\x00"), k.MALFORMED_BODY)
        check("trailing bytes after an Ack body give MalformedBody (3)")
        bad_kind = k.encode_send(bob_id, k.new_client_msg_id(), 9, b"x")
        expect_error_frame(alice.call_raw(k.SEND, bad_kind), k.MALFORMED_BODY)
        bad_target = k.Writer().u32(1).u64(bob_id).id16(k.new_client_msg_id()).u8(1).bytes(b"x").u8(0).build()
        expect_error_frame(alice.call_raw(k.SEND, bad_target), k.MALFORMED_BODY)
        bad_opt = k.encode_send(bob_id, k.new_client_msg_id(), 1, b"x")[:-1] + b"\x02"
        expect_error_frame(alice.call_raw(k.SEND, bad_opt), k.MALFORMED_BODY)
        bad_utf8 = (2).to_bytes(8, "big") + b"\xff\xfe"
        expect_error_frame(alice.call_raw(k.FIND_USER, bad_utf8), k.MALFORMED_BODY)
        long_len = b"\x00\x00\x00\x00\x00\x00\x01\x00" + b"ab"
        expect_error_frame(alice.call_raw(k.FIND_USER, long_len), k.MALFORMED_BODY)
        bad_dir = k.Writer().target_user(bob_id).u8(2).u64(0).u16(1).build()
        expect_error_frame(alice.call_raw(k.HISTORY, bad_dir), k.MALFORMED_BODY)
        check("unknown kind, Target variant 1, Option tag 2, invalid UTF-8, length past end, "
              "Direction 2 all give MalformedBody (3)")
        assert alice.heartbeat() > 0
        no_push(bob2, 0.3)
        check("the connection still works after malformed bodies; nothing was delivered")

        f = alice.call_raw(k.HEARTBEAT, seq=0)
        assert f.seq == 0
        expect_error_frame(f, k.BAD_SEQUENCE)
        alice.heartbeat()
        check("a request with sequence id 0 gives BadSequence (16) with sequence 0")

        # --- Before authentication ----------------------------------------
        fresh = tcp_conn("fresh")
        expect_error(k.NOT_AUTHENTICATED, fresh.find_user, bob_name)
        expect_error(k.NOT_AUTHENTICATED, fresh.sync_inbox, 0, 10)
        expect_error(k.NOT_AUTHENTICATED, fresh.logout)
        f = fresh.call_raw(k.SYNC_INBOX, b"\x00")  # auth is checked before the body
        expect_error_frame(f, k.NOT_AUTHENTICATED)
        fresh.heartbeat()
        check("requests before authentication give NotAuthenticated (5), even with a malformed body")
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

        # --- ChangePassword ------------------------------------------------
        alice_tab = tls_conn("alice-tablet")
        patiently(alice_tab.login, alice_name, alice_pw, f"alice-tablet-{suffix}", k.DEVICE_TABLET, k.CLIENT_ANDROID)
        no_push(alice, 0.3)
        check("a second device type of alice logs in without kicking the first")
        expect_error(k.BAD_CREDENTIALS, alice.change_password, "not the password", "new password 123")
        expect_error(k.INVALID_ARGUMENT, alice.change_password, alice_pw, "short")
        check("ChangePassword with a wrong old password / short new one: BadCredentials (6) / InvalidArgument (12)")
        new_pw = f"new alice pw {suffix}"
        tr = alice.change_password(alice_pw, new_pw)
        assert len(tr.token) == 40 and tr.token != la.token
        d = alice_tab.wait_disconnect(5)
        assert d.reason == k.PASSWORD_CHANGED, d
        assert alice_tab.wait_closed(5)
        alice.heartbeat()
        check("ChangePassword returns a new token; alice's other session gets PasswordChanged (3); "
              "this one stays")
        c = tcp_conn("alice-old-token")
        expect_error(k.INVALID_TOKEN, c.auth, la.token)
        expect_error(k.BAD_CREDENTIALS, c.login, alice_name, alice_pw, "x")
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
        check("Logout: empty response, then PushDisconnect LoggedOut (2) and close")
        c = tcp_conn("bob-after-logout")
        expect_error(k.INVALID_TOKEN, c.auth, lb.token)
        lb2 = patiently(c.login, bob_name, bob_pw, bob_dev, k.DEVICE_MOBILE, k.CLIENT_ANDROID)
        assert lb2.session.cursor == r3.message_id, "cursor should survive re-login with the same device_id"
        c.close()
        check("after Logout the token is refused; re-login with the same device_id keeps the cursor")

        # --- Authentication deadline ---------------------------------------
        while time.monotonic() - idle_started < 8:
            idle.heartbeat()
            time.sleep(1)
        d = idle.wait_disconnect(max(1.0, 14 - (time.monotonic() - idle_started)))
        elapsed = time.monotonic() - idle_started
        assert d.reason == k.AUTH_TIMEOUT, d
        assert idle.wait_closed(5)
        check(f"an unauthenticated connection gets AuthTimeout (8) after {elapsed:.1f} s despite Heartbeats")

        # --- Unsupported version closes the connection ----------------------
        c = tcp_conn("badversion")
        f = c.call_raw(k.HEARTBEAT, version=2)
        expect_error_frame(f, k.UNSUPPORTED_VERSION)
        d = c.wait_disconnect(5)
        assert d.reason == k.PROTOCOL_ERROR and c.wait_closed(5)
        check("version 2 gives UnsupportedVersion (1), then PushDisconnect ProtocolError (9) and close")
        c = tcp_conn("toolarge")
        header = k.encode_frame(k.HEARTBEAT, 7, b"")[:9] + (131073).to_bytes(4, "big")
        f = c.call_raw(k.HEARTBEAT, seq=7, raw=header)
        expect_error_frame(f, k.FRAME_TOO_LARGE)
        d = c.wait_disconnect(5)
        assert d.reason == k.PROTOCOL_ERROR and c.wait_closed(5)
        check("a header announcing 131073 body bytes gives FrameTooLarge (4), PushDisconnect ProtocolError (9), close")

        alice.close()
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
