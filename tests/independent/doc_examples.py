"""Decode every hex example of docs/PROTOCOL.md section 10 with kith_client's
strict decoders and re-encode it, checking header fields, lengths and the
annotations that can be checked mechanically. Offline: needs no server.

    python3 doc_examples.py [path/to/PROTOCOL.md]

For each example:
  * the frame decodes strictly (header, then the body with the decoder of the
    example's action, no trailing bytes) and re-encodes to the same bytes;
  * the header comment and "Total frame length" agree with the bytes;
  * its annotation table covers the frame exactly (each row starts where the
    previous one ended), each row's Value agrees with the row's bytes
    (integers, enum names, snowflake breakdowns, dates, strings, raw bytes)
    and with the decoded field the row names;
  * semantic rules: ascending ids in pages, server_time derived from ids, an
    update of kind Message carries the message's id, tokens of 40 bytes, a
    Login reply's session.renewed absent, an ErrorBody's retry_after_ms only
    with RateLimited (revision 3, section 4.2); revision 4: profiles within
    their rules, an update of kind FriendRequest carries the request's id,
    answered_at set exactly when a request was answered, friend request pages
    newest first, friend and block lists ascending by user id, a search
    cursor of at most ~140 bytes; revision 6: group fields within their
    rules, the content of a System message a GroupEvent addressed to a
    group (a row may describe it: "GroupEvent variant 1 Joined: user_id 3,
    by 1"), join requests answered_by someone exactly when answered, an
    update of kind 7 or 8 carrying the request's or invitation's id when
    pending, group lists in their documented order, retry_after_ms also
    with Muted; revision 7: conversation lists newest `updated` first with a
    badge no smaller than their unread counts, a last message's time derived
    from its id and its preview only for Text (at most 64 characters), no
    peer_read_up_to in a group, read positions never past the newest message,
    MessageReaders' readers ascending and counted by `read` when listed;
    revision 8: a Recalled message (kind 9) without content or extra, a 1:1
    recall by the sender only and (kind 11) after its message, DeleteForMe
    within 100 ids and not empty, the ids DeletedForMe lists ascending and
    above `cleared_up_to`, the read position at or past it, a Delivered
    update after the messages it covers, a Sync page's `limited` naming each
    conversation once, none of its messages in the page below `older_than`;
    revision 9: a retention `set` of at most 100 years, `effective` the
    shorter of the conversation's and the server's retentions that are not 0,
    a kind 14 RetentionChanged update only for a 1:1 conversation, a group's
    RetentionChanged System message sent by the one it names in `by`, a
    System message's client_msg_id all zero and its extra absent (section
    4.2), MessageKind 10 Expired only as a list's `last` (never in a page of
    messages), with no preview and nothing unread; revision 24: a moment's
    text, files (1 to 9 images without repeats, or a video that is not its
    own cover) and place within their rules, its files in the order of its
    media, an audience listing users only for Only and Except, likes by user
    id and comments oldest first (at most 20 of each, and no more than
    counted), moment pages newest first, a reply answering an older comment,
    an update of kind 24 or 25 carrying the comment's or the moment's id,
    never a kind 25 in a Sync page. An i32 row ("i32 (two's complement)") is
    read signed, and a coordinate's note in degrees ("473769000 (47.3769°)")
    must be its value / 10^7; a MomentMedia's variant row is named like any
    enum with data's.
The examples and their tables are generated from Rust values
(tests/protocol_doc/examples), all in one form: a System message's GroupEvent
is one row ("GroupEvent variant 1 Joined: user_id 3, by 1 (20 bytes)"), a
media message's content one row per MediaContent field (`content.media_id`).
Every `<!-- example: ... -->` tag of section 10 must belong to a decoded
example, and the examples of revisions 3, 4, 7, 8, 9 and 24 (sections 10.5,
10.6, 10.8, 10.9, 10.10, 10.20) must be there; those of revision 6 (section 10.7)
are decoded and checked as above when present, but not required. Then the story the examples tell is checked
across them (same ids, tokens, cursors from one example to the next; the
renewal, throttle and size-limit examples of section 10.5 against their
headings; the friend request of section 10.6 from AddFriend to the push, the
list and AnswerFriend, its expiry and answer times against the headings, the
remark, removal and block after it; the conversations of section 10.8
against its introduction, from the list to MarkRead, the ReadPosition and
ReadReceipt pushes, ReadReceipts and MessageReaders; the recall, the refused
recall, DeleteForMe, the DeletedForMe and Delivered pushes and the capped
Sync page of section 10.9 against its introduction; alice's week on her
conversation with bob, bob's RetentionChanged update, carol's question about
her group, the refusal and the group's System message of section 10.10
against its introduction and headings; alice's moment of section 10.20 from
PublishMoment to the MomentPosted push, bob's feed, like and question,
alice's answer and the MomentLiked and MomentCommented pushes, carol's
refusal and empty page, the settings and the deletions, against its
introduction). The SearchUsers cursor
is opaque (section 5, SearchUsers says so): only its size is checked, never its content.
"""

import datetime
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kith_client as k  # noqa: E402

# Requests by name; pushes by name apart (a push may share a request's
# name: Typing is the request 0x4f and the push 0x83).
NAME_TO_ACTION = {v: a for a, v in k.ACTION_NAMES.items() if a < 0x80}
NAME_TO_PUSH = {v: a for a, v in k.ACTION_NAMES.items() if a >= 0x80}

# Names of enumerated values, by the "Encoding" column of the tables.
ENUM_NAMES = {
    "MessageKind": k.MESSAGE_KIND_NAMES, "DeviceType": k.DEVICE_TYPE_NAMES,
    "ClientType": k.CLIENT_TYPE_NAMES, "Direction": k.DIRECTION_NAMES,
    "DisconnectReason": k.DISCONNECT_REASONS, "Target variant": k.TARGET_NAMES,
    "Gender": k.GENDER_NAMES, "Discoverable": k.DISCOVERABLE_NAMES, "Audience": k.AUDIENCE_NAMES,
    "FriendPolicy": k.FRIEND_POLICY_NAMES,
    "RequestState": k.REQUEST_STATE_NAMES, "RequestBox": k.REQUEST_BOX_NAMES,
    "JoinPolicy": k.JOIN_POLICY_NAMES, "GroupRole": k.GROUP_ROLE_NAMES,
    "MediaPurpose": k.MEDIA_PURPOSE_NAMES,
    "MomentAudience": k.MOMENT_AUDIENCE_NAMES, "MomentWindow": k.MOMENT_WINDOW_NAMES,  # revision 24
}
# Names of the variants of the enums with data, by their decoded type (a
# row's Encoding says "Target variant (u32)", "enum variant (u32)" or, revision
# 24, "MomentMedia variant (u32)").
VARIANT_NAMES = {k.Target: k.TARGET_NAMES, k.JoinOutcome: k.JOIN_OUTCOME_NAMES, k.GroupEvent: k.GROUP_EVENT_NAMES,
                 k.MomentMedia: k.MOMENT_MEDIA_NAMES}
TAG_NAMES = {0: "None", 1: "Some"}  # an Option's tag, whatever the type inside
HEADER_FIELDS = {"version": 0, "action": 1, "sequence_id": 2, "body_length": 3}

# Examples the document must hold, with how many of each (at least). Revision
# 3 added RenewToken, an Auth response with `renewed` present, a throttled
# Login and an oversize frame with its `limit` (section 10.5).
REQUIRED_EXAMPLES = {
    "request Register": 1, "response Register": 1, "request Login": 1, "response Login": 1,
    "error Login": 2, "request Heartbeat": 1, "response Heartbeat": 1, "request FindUser": 1,
    "response FindUser": 1, "request Send": 1, "response Send": 1, "push Update": 2,
    "request Auth": 1, "response Auth": 2, "request Sync": 1, "response Sync": 1,
    "request Ack": 1, "response Ack": 1, "request History": 1, "response History": 1,
    "request ChangePassword": 1, "response ChangePassword": 1, "request Logout": 1,
    "response Logout": 1, "push Disconnect": 1, "error Heartbeat": 1,
    "request RenewToken": 1, "response RenewToken": 1, "error Register": 1,
    # Revision 4 (section 10.6): every social action both ways, and an Update
    # push of each of the kinds 3-6 (2 + 4 pushes in all).
    "request SetProfile": 1, "response SetProfile": 1, "request GetProfile": 1, "response GetProfile": 1,
    "request Privacy": 1, "response Privacy": 1, "request SearchUsers": 1, "response SearchUsers": 1,
    "request AddFriend": 1, "response AddFriend": 1, "request ListFriendRequests": 1,
    "response ListFriendRequests": 1, "request AnswerFriend": 1, "response AnswerFriend": 1,
    "request SetRemark": 1, "response SetRemark": 1, "request ListFriends": 1, "response ListFriends": 1,
    "request RemoveFriend": 1, "response RemoveFriend": 1, "request Block": 1, "response Block": 1,
    "request ListBlocked": 1, "response ListBlocked": 1, "request Unblock": 1, "response Unblock": 1,
}
REVISION_4_PUSH_KINDS = [k.UPDATE_FRIEND_REQUEST, k.UPDATE_FRIEND_ANSWERED, k.UPDATE_FRIEND_REMOVED,
                         k.UPDATE_BLOCK_CHANGED]
# Revision 7 (section 10.8): every conversation action both ways, and an
# Update push of each of the kinds 9 and 10.
REQUIRED_EXAMPLES.update({
    "request ListConversations": 1, "response ListConversations": 1, "request MarkRead": 1,
    "response MarkRead": 1, "request ReadReceipts": 1, "response ReadReceipts": 1,
    "request MessageReaders": 1, "response MessageReaders": 1,
})
REVISION_7_PUSH_KINDS = [k.UPDATE_READ_POSITION, k.UPDATE_READ_RECEIPT]
# Revision 8 (section 10.9): Recall and DeleteForMe both ways, a refused
# Recall, an Update push of each of the kinds 11-13, and a Sync response with
# `limited` (the offline cap) besides the one of section 10.3.
REQUIRED_EXAMPLES.update({
    "request Recall": 1, "response Recall": 1, "error Recall": 1, "request DeleteForMe": 1,
    "response DeleteForMe": 1, "response Sync": 2,
})
REVISION_8_PUSH_KINDS = [k.UPDATE_MESSAGE_RECALLED, k.UPDATE_DELETED_FOR_ME, k.UPDATE_DELIVERED]
# Revision 9 (section 10.10): Retention both ways twice (a 1:1 conversation
# set, a group asked), a refused Retention, an Update push of kind 14 and a
# group's System message with GroupEvent RetentionChanged (kind 1).
REQUIRED_EXAMPLES.update({"request Retention": 2, "response Retention": 2, "error Retention": 1})
# Revision 11 (section 10.6): who sees the personal fields of a profile.
REQUIRED_EXAMPLES.update({"request ProfileVisibility": 1, "response ProfileVisibility": 1})
# Revision 15 (section 10.13): every media action both ways, a refusal at
# the quota (with `limit` and `used`), and a Send of a MediaContent.
REQUIRED_EXAMPLES.update({
    "request StartUpload": 1, "response StartUpload": 1, "error StartUpload": 1, "request UploadChunk": 1,
    "response UploadChunk": 1, "request UploadStatus": 1, "response UploadStatus": 1, "request FinishUpload": 1,
    "response FinishUpload": 1, "request GetMedia": 1, "response GetMedia": 1, "request MediaUrl": 1,
    "response MediaUrl": 1, "request Send": 2,
})
# Revision 17 (section 10.14): Typing both ways, and the Typing push.
REQUIRED_EXAMPLES.update({"request Typing": 1, "response Typing": 1, "push Typing": 1})
# Revision 22 (section 10.18): Presence both ways and its push, a Privacy
# that sets the presence audience, GroupOnline both ways.
REQUIRED_EXAMPLES.update({"request Presence": 1, "response Presence": 1, "push Presence": 1,
                          "request Privacy": 2, "response Privacy": 2, "request GroupOnline": 1,
                          "response GroupOnline": 1})
# Revision 24 (section 10.20): every moment action both ways, a reply besides
# the first comment, a refused GetMoment, and an Update push of each of the
# kinds 23-25 (24 twice: to the author, then to the writer of the comment answered).
REQUIRED_EXAMPLES.update({
    "request PublishMoment": 1, "response PublishMoment": 1, "request DeleteMoment": 1, "response DeleteMoment": 1,
    "request Feed": 1, "response Feed": 1, "request UserMoments": 1, "response UserMoments": 1,
    "request GetMoment": 1, "response GetMoment": 1, "error GetMoment": 1, "request LikeMoment": 1,
    "response LikeMoment": 1, "request CommentMoment": 2, "response CommentMoment": 2, "request DeleteComment": 1,
    "response DeleteComment": 1, "request MomentComments": 1, "response MomentComments": 1,
    "request MomentSettings": 1, "response MomentSettings": 1, "request MomentFilter": 1,
    "response MomentFilter": 1,
})
REVISION_24_PUSH_KINDS = [k.UPDATE_MOMENT_POSTED, k.UPDATE_MOMENT_LIKED, k.UPDATE_MOMENT_COMMENTED,
                          k.UPDATE_MOMENT_COMMENTED]
REVISION_9_PUSHES = 2
REQUIRED_EXAMPLES["push Update"] = (2 + len(REVISION_4_PUSH_KINDS) + len(REVISION_7_PUSH_KINDS)
                                    + len(REVISION_8_PUSH_KINDS) + REVISION_9_PUSHES + len(REVISION_24_PUSH_KINDS))
DAY_MS = 86_400_000
TOKEN_TTL_MS = 30 * DAY_MS          # section 5, Auth: tokens live 30 days
RENEW_WITHIN_MS = 10 * DAY_MS       # section 5, Auth: renewed within 10 days of expiry
FIRST_THROTTLE_WAIT_MS = 250        # section 5, Login: the 4th attempt waits 250 ms
MAX_UNAUTHENTICATED_FRAME = 4096    # section 2.2
FRIEND_REQUEST_TTL_MS = 7 * DAY_MS  # section 4.1 (RequestState Expired), section 10.6's preamble
MAX_SEARCH_CURSOR = 165             # section 5, SearchUsers: the cursor is "at most 165 bytes"
TEXT_RECALL_MS = 120_000            # section 5, Recall: a Text message can be recalled for 120 s by default
DAY_SECONDS = 86_400                # retention is in seconds (section 5, Retention)


def parse_hex_block(text: str) -> bytes:
    out = bytearray()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out += bytes.fromhex(line)
    return bytes(out)


def parse_table(text: str) -> list:
    """The first annotation table in `text`: (offset, size, field, encoding, value) rows."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Offset |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        offset, size, fieldname, encoding = cells[:4]
        value = "|".join(cells[4:])
        rows.append((int(offset), int(size), fieldname.replace("`", ""),
                     encoding.replace("\\<", "<").replace("\\>", ">"), value))
    return rows


def leading_int(value: str) -> int:
    m = re.match(r"(0x[0-9a-fA-F]+|\d+)", value)
    assert m, f"no number at the start of {value!r}"
    return int(m.group(1), 0)


def quoted(value: str) -> str:
    m = re.match(r"""^(["'])(.*)\1""", value)
    assert m, f"no quoted text in {value!r}"
    return m.group(2)


def resolve(decoded, path: str, parent: bool = False):
    """The decoded value a table row names, e.g. `updates[1].body.extra`
    (with `parent`, the object holding that last field). An Update's `body`
    is its decoded value when the path goes on inside it, its raw bytes
    otherwise; `with` and `from` are `with_` and `from_` (Python keywords). A
    JoinOutcome is named `JoinOutcome` (its variant's row) and its data by
    the variant's name (`Requested.id`); so is a MomentMedia's (`media` is
    its variant's row, `media.Images[0]` an image, `media.Video.cover` a
    video's cover). A media message's `content` goes on in its MediaContent
    (`content.media_id`)."""
    if isinstance(decoded, int):
        return decoded  # a body that is a single u64 (HeartbeatReply, RegisterReply, AckReply)
    parts = path.split(".")
    obj = decoded
    for i, part in enumerate(parts[:-1] if parent else parts):
        m = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", part)
        assert m, f"cannot parse field {path!r}"
        name = m.group(1) + "_" if m.group(1) in ("with", "from") else m.group(1)
        if isinstance(obj, k.Update) and name == "body" and i + 1 < len(parts):
            assert obj.value is not None, f"{path}: update of unknown kind {obj.kind}"
            obj = obj.value
        elif name == "content" and i + 1 < len(parts) and getattr(obj, "kind", None) in k.MEDIA_KINDS:
            obj = k.decode_media_content(obj.content)  # a media message's MediaContent (revision 15)
        elif isinstance(obj, k.JoinOutcome) and name != "JoinOutcome":
            assert k.JOIN_OUTCOME_NAMES.get(obj.variant) == name, f"{path}: the outcome is variant {obj.variant}"
            obj = obj.value
        elif isinstance(obj, k.JoinOutcome):
            pass  # the variant's row names the outcome itself
        elif isinstance(obj, k.MomentMedia):  # revision 24: `media.Images[0]`, `media.Video.cover`
            assert k.MOMENT_MEDIA_NAMES.get(obj.variant) == name, f"{path}: the media is variant {obj.variant}"
            obj = obj.images if obj.variant == k.MOMENT_MEDIA_IMAGES else obj
        else:
            assert hasattr(obj, name), f"{type(obj).__name__} has no field {name!r} (row {path!r})"
            obj = getattr(obj, name)
        if m.group(2) is not None:
            obj = obj[int(m.group(2))]
    return obj


def leading_signed_int(value: str) -> int:
    """A signed decimal at the start of a Value ("-12", or with the minus sign "−12")."""
    m = re.match(r"([-\u2212]?\d+)", value)
    assert m, f"no signed number at the start of {value!r}"
    return int(m.group(1).replace("\u2212", "-"))


def check_degrees_note(v: int, value: str) -> None:
    """'(47.3769°)' after a coordinate in degrees x 10^7 (revision 24, Location)."""
    m = re.search(r"\(([-\u2212]?\d+(?:\.\d+)?)°\)", value)
    if m:
        assert round(float(m.group(1).replace("\u2212", "-")) * 10_000_000) == v, f"{m.group(1)}° != {v} / 10^7"


def check_snowflake_note(v: int, value: str) -> None:
    """'(0x1d5ec4c34800000: ms 1767225601234, node 0, seq 0)' after an id."""
    m = re.search(r"\((0x[0-9a-f]+): ms (\d+), node (\d+), seq (\d+)\)", value)
    if m:
        assert int(m.group(1), 16) == v, f"{m.group(1)} != {v:#x}"
        assert int(m.group(2)) == k.snowflake_time(v), f"ms {m.group(2)} != {k.snowflake_time(v)}"
        assert int(m.group(3)) == (v >> 12) & 0x3FF, f"node {m.group(3)}"
        assert int(m.group(4)) == v & 0xFFF, f"seq {m.group(4)}"


def check_date_note(v: int, value: str) -> None:
    """'(2026-01-01T00:00:01.234Z)' after a time in ms."""
    m = re.search(r"\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z\)", value)
    if m:
        t = datetime.datetime.fromtimestamp(v / 1000, datetime.timezone.utc)
        assert t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v % 1000:03d}" == m.group(1), f"{m.group(1)} != {t}"


def check_enum_name(v: int, encoding: str, fieldname: str, value: str, names=None) -> None:
    m = re.match(r"\d+ = (\w+)", value)
    if not m:
        return
    if names is None:  # a whole name: "MomentAudience (u8)" is not an "Audience"
        names = next((n for key, n in ENUM_NAMES.items()
                      if re.search(rf"(?<!\w){re.escape(key)}(?!\w)", encoding)), None)
    if names is None and fieldname.endswith("kind") and encoding == "u8":
        names = k.UPDATE_KIND_NAMES  # an update's kind, a bare u8 kept raw
    assert names is not None, f"no names for {encoding!r}"
    assert names.get(v) == m.group(1), f"{v} is {names.get(v)!r}, table says {m.group(1)!r}"


def check_group_event_note(raw: bytes, value: str) -> None:
    """A row describing a System message's content, e.g. 'GroupEvent variant 1
    Joined: user_id 3, by 1 (20 bytes: ...)': the content decodes as that
    event with those fields (a role by number or name, `muted` as true or
    false), and its size is the one stated."""
    m = re.match(r"GroupEvent (?:variant (\d+) )?(\w+)(?:: ([^(]*))?", value)
    assert m, f"cannot parse the GroupEvent note {value!r}"
    event = k.decode_group_event(raw)
    assert event.name == m.group(2), f"the content is {event.name}, the note says {m.group(2)}"
    assert m.group(1) is None or int(m.group(1)) == event.variant, f"variant {event.variant} / {m.group(1)}"
    for item in filter(None, (x.strip() for x in (m.group(3) or "").split(","))):
        name, _, text = item.partition(" ")
        attr = "from_" if name == "from" else name
        assert attr in k.GROUP_EVENT_FIELDS[event.variant], f"{event.name} has no field {name!r}"
        actual = getattr(event, attr)
        if isinstance(actual, bool):
            assert text == str(actual).lower(), f"{name}: {actual} / {text!r}"
        elif isinstance(actual, int) and not text[:1].isdigit():
            assert k.GROUP_ROLE_NAMES.get(actual) == text, f"{name}: {actual} / {text!r}"
        elif isinstance(actual, int):
            assert leading_int(text) == actual, f"{name}: {actual} / {text!r}"
    size = re.search(r"\((\d+) bytes", value)
    assert size is None or int(size.group(1)) == len(raw), f"{len(raw)} bytes, the note says {size.group(1)}"


def check_table(rows: list, frame: k.Frame, data: bytes, decoded) -> int:
    """Checks every row of an annotation table; returns the number of rows."""
    expected_offset = 0
    header = k.decode_header(data[:k.HEADER_LEN])
    for offset, size, fieldname, encoding, value in rows:
        where = f"row at offset {offset} ({fieldname})"
        assert offset == expected_offset, f"{where}: expected offset {expected_offset}"
        expected_offset = offset + size
        raw = data[offset:offset + size]
        assert len(raw) == size, f"{where}: past the end of the frame"
        if fieldname.startswith("*header*"):
            name = fieldname.split()[-1]
            assert leading_int(value) == header[HEADER_FIELDS[name]], f"{where}: {value!r}"
            if name == "action":
                action_name = value.split("=", 1)[1].strip()
                assert k.ACTION_NAMES[frame.action] == action_name, f"{where}: {action_name!r}"
            continue
        if encoding == "empty":
            assert size == 0 and not frame.body, where
            continue
        target = resolve(decoded, fieldname)
        if encoding == "bool":
            assert size == 1 and raw[0] == (value == "true") and target == (value == "true"), where
        elif encoding.endswith("tag"):
            tag = leading_int(value)  # "1 = Some"
            assert raw[0] == tag == (target is not None), where
            # "Option<Discoverable> tag": the tag's names, not the enum's inside
            check_enum_name(raw[0], encoding, fieldname, value, TAG_NAMES)
        elif re.match(r"i32\b", encoding):  # revision 24: "i32 (two's complement)", maybe with a note
            assert size == 4, f"{where}: {size} bytes for an i32"
            v = int.from_bytes(raw, "big", signed=True)
            assert v == leading_signed_int(value), f"{where}: bytes say {v}, table says {value!r}"
            assert target == v, f"{where}: decoded {target!r}"
            check_degrees_note(v, value)
        elif re.match(r"\[u8; \d+\]", encoding):  # a fixed-size array: no length before it
            assert raw == target and len(raw) == int(re.match(r"\[u8; (\d+)\]", encoding).group(1)), where
            assert raw == bytes.fromhex(value.split(" ")[0]), where
        elif re.search(r"\bu(8|16|32|64)\b", encoding):
            bits = int(re.search(r"\bu(8|16|32|64)\b", encoding).group(1))
            assert size * 8 == bits, f"{where}: {size} bytes for a u{bits}"
            v = int.from_bytes(raw, "big")
            assert v == leading_int(value), f"{where}: bytes say {v}, table says {value!r}"
            names = None
            if "length" in encoding or "count" in encoding:
                n = len(target.encode("utf-8")) if isinstance(target, str) else len(target)
                assert v == n, f"{where}: length {v}, decoded {n}"
            elif "variant" in encoding:  # an enum with data: its variant index
                assert v == target.variant, f"{where}: decoded variant {target.variant}"
                names = VARIANT_NAMES[type(target)]
            elif isinstance(target, k.Target):  # the Target's data: "u64 user id", "u64 group id"
                kind = k.TARGET_NAMES[target.variant].lower()
                assert v == target.id and encoding.endswith(f"{kind} id"), f"{where}: decoded {target!r}"
            else:
                assert target == v, f"{where}: decoded {target!r}"
            check_enum_name(v, encoding, fieldname, value, names)
            check_snowflake_note(v, value)
            check_date_note(v, value)
        elif encoding == "String bytes (UTF-8)":
            assert raw.decode("utf-8") == quoted(value) == target, f"{where}: {raw!r} / {value!r}"
        elif encoding == "bytes":
            assert raw == target, where
            if "(UTF-8 text)" in value or value.startswith(('"', "'")):
                assert raw.decode("utf-8") == quoted(value), f"{where}: {raw!r} / {value!r}"
            elif value.startswith("GroupEvent"):
                check_group_event_note(raw, value)
            elif m := re.fullmatch(r"(\d+) bytes(?: \(.*\))?", value):  # too long to show: its length, maybe noted
                assert int(m.group(1)) == size, f"{where}: {value!r}"
            else:  # the bytes themselves, in hex, maybe with a note
                assert re.match(r"(?:[0-9a-f]{2})+(?: |$)", value), f"{where}: {value!r}"
                assert raw == bytes.fromhex(value.split(" ")[0]), f"{where}: {raw.hex()} / {value!r}"
        else:
            raise AssertionError(f"{where}: unknown encoding {encoding!r}")
    assert expected_offset == len(data), f"table covers {expected_offset} of {len(data)} bytes"
    return len(rows)


def control_free(text: str) -> bool:
    """No Unicode category Cc character (section 4.2)."""
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def check_profile(p: k.Profile) -> None:
    """The rules of section 4.2's Profile (lengths in characters are Unicode
    scalar values, i.e. Python characters)."""
    assert len(p.nickname) <= 32 and (p.nickname == "" or p.nickname.strip(" ")), f"nickname {p.nickname!r}"
    assert p.gender in k.GENDERS, f"gender {p.gender}"
    assert len(p.signature) <= 140 and len(p.city) <= 64 and len(p.province) <= 64, "a text field too long"
    assert len(p.extra.encode()) <= 1024, "extra above 1024 bytes"
    for name in ("nickname", "signature", "city", "province", "extra"):
        assert control_free(getattr(p, name)), f"control character in {name}"
    if p.birth_date is not None:
        d = p.birth_date
        day = datetime.date(d.year, d.month, d.day)  # raises for a day that does not exist
        assert datetime.date(1900, 1, 1) <= day <= datetime.date.today(), f"birth_date {day}"


def check_friend_request(f: k.FriendRequestInfo) -> None:
    """answered_at is set exactly when the request was answered (accepted or
    rejected), and not before it was sent; it expires after it was sent."""
    sent = k.snowflake_time(f.id)
    assert f.state in k.REQUEST_STATES, f"state {f.state}"
    if f.state in (k.REQUEST_ACCEPTED, k.REQUEST_REJECTED):
        assert f.answered_at >= sent, f"{f.state_name} request answered at {f.answered_at}, sent at {sent}"
    else:
        assert f.answered_at == 0, f"{f.state_name} request with answered_at {f.answered_at}"
    assert f.expires_at > sent, "expires before it was sent"
    assert f.from_.user_id != f.to.user_id, "a request to oneself"


def check_group_fields(f) -> None:
    """The rules of section 4.2's GroupFields (also met by a GroupInfo)."""
    assert 1 <= len(f.name) <= 64 and f.name.strip(" ") and control_free(f.name), f"name {f.name!r}"
    assert len(f.introduction) <= 512 and control_free(f.introduction.replace("\n", "")), "introduction"
    assert len(f.announcement) <= 2048 and control_free(f.announcement.replace("\n", "")), "announcement"
    assert f.join_policy in k.JOIN_POLICIES, f"join_policy {f.join_policy}"


def check_group_info(g: k.GroupInfo) -> None:
    check_group_fields(g)
    assert g.my_role is None or g.my_role in k.GROUP_ROLE_NAMES, f"my_role {g.my_role}"
    assert g.member_count >= 1 and g.owner != 0, "a group without members or owner"


def check_join_request(j: k.JoinRequestInfo) -> None:
    """Pending, Accepted or Rejected (section 4.2), answered by someone
    exactly when answered."""
    assert j.state in (k.REQUEST_PENDING, k.REQUEST_ACCEPTED, k.REQUEST_REJECTED), f"state {j.state}"
    assert (j.answered_by == 0) == (j.state == k.REQUEST_PENDING), f"{j.state_name} answered by {j.answered_by}"


def check_invitation(i: k.InvitationInfo) -> None:
    assert i.state in (k.REQUEST_PENDING, k.REQUEST_ACCEPTED, k.REQUEST_REJECTED), f"state {i.state}"
    assert i.inviter.user_id != i.invitee.user_id, "an invitation to oneself"


def check_group_message(m: k.Message) -> None:
    """A System message is a group's, and holds a GroupEvent of a known
    variant that decodes exactly and re-encodes to the same bytes; Created's
    message id is the group id."""
    if m.kind != k.KIND_SYSTEM:
        return
    assert m.to.group_id is not None, f"a System message to {m.to!r}"
    event = m.group_event()
    assert event.variant in k.GROUP_EVENT_FIELDS, f"GroupEvent of unknown variant {event.variant}"
    assert k.encode_group_event(event) == m.content, "the GroupEvent does not re-encode to the content"
    assert m.client_msg_id == bytes(16) and m.extra is None, \
        "a System message's client_msg_id is not 16 zero bytes, or it has extra (section 4.2)"
    if event.variant == k.EVENT_RETENTION_CHANGED:  # revision 9: the owner or an admin, who is the sender
        assert event.seconds <= k.MAX_RETENTION_SECONDS and event.by == m.sender, f"RetentionChanged {event}"
    if event.variant == k.EVENT_CREATED:
        assert m.id == m.to.group_id, "the Created message's id is not the group id (section 5, CreateGroup)"
    if event.fields is not None:
        check_group_fields(event.fields)


def ascending(ids: list, what: str) -> None:
    assert ids == sorted(set(ids)), f"{what} not in ascending order"


def semantic_checks(decoded) -> None:
    msgs = []
    if isinstance(decoded, k.Page):
        msgs = decoded.messages
        ids = [x.id for x in msgs]
        assert ids == sorted(ids), "page not ascending"
    elif isinstance(decoded, k.SyncPage):
        ids = [u.id for u in decoded.updates]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), "sync page not strictly ascending"
        updates = decoded.updates
    elif isinstance(decoded, k.Update):
        updates = [decoded]
    elif isinstance(decoded, k.SendReply):
        assert decoded.server_time == k.snowflake_time(decoded.message_id)
    elif isinstance(decoded, (k.LoginReply, k.TokenReply)):
        assert len(decoded.token) == 40
    if isinstance(decoded, k.LoginReply):
        assert decoded.session.renewed is None, "renewed must be absent in a Login reply (section 4.2)"
    if isinstance(decoded, k.AuthReply) and decoded.renewed is not None:
        assert len(decoded.renewed.token) == 40, "renewed token of another length than 40"
    if isinstance(decoded, k.ErrorBody):
        if decoded.retry_after_ms is not None:
            assert decoded.code in (k.RATE_LIMITED, k.MUTED), "retry_after_ms on an error other than " \
                "RateLimited or (revision 6, section 5, CreateGroup's preamble) Muted"
        if decoded.code == k.FRAME_TOO_LARGE:
            assert decoded.limit is not None, "FrameTooLarge without its limit (section 2.2)"
        assert (decoded.reason is not None) == (decoded.code == k.RATE_LIMITED), \
            "reason with an error other than RateLimited, or RateLimited without one (revision 14, section 4.2)"
    if isinstance(decoded, (k.SyncPage, k.Update)):
        for u in updates:
            assert u.known, f"update {u.id} of unknown kind {u.kind} in the document"
            if u.kind == k.UPDATE_MESSAGE:
                assert u.value.id == u.id, "a Message update's id must be the message id (section 8.2)"
                msgs.append(u.value)
            elif u.kind == k.UPDATE_FRIEND_REQUEST:
                assert u.value.id == u.id, "a FriendRequest update's id must be the request id (section 8.2)"
                assert u.value.state in (k.REQUEST_PENDING, k.REQUEST_ACCEPTED), "kind 3 is Pending or Accepted"
                check_friend_request(u.value)
            elif u.kind == k.UPDATE_FRIEND_ANSWERED:
                assert u.value.state in (k.REQUEST_ACCEPTED, k.REQUEST_REJECTED), "kind 4 is Accepted or Rejected"
                assert u.id > u.value.id, "the answer is committed after the request"
                check_friend_request(u.value)
            elif u.kind == k.UPDATE_FRIEND_REMOVED:
                assert u.value.by != u.value.user_id, "a friendship with oneself"
            elif u.kind == k.UPDATE_READ_RECEIPT:
                assert u.value.reader != 0 and u.value.up_to != 0, f"ReadReceipt {u.value}"
            elif u.kind == k.UPDATE_MESSAGE_RECALLED:
                # section 8.2: kind 11 is for 1:1 conversations (a group's recall is a System message)
                assert u.value.to.user_id is not None, f"a MessageRecalled update of a group: {u.value}"
                assert u.id > u.value.message_id, "a recall committed before its message"
            elif u.kind == k.UPDATE_DELIVERED:
                assert u.value.recipient != 0 and 0 < u.value.up_to < u.id, f"Delivered {u.value} in update {u.id}"
            elif u.kind == k.UPDATE_DELETED_FOR_ME:
                assert u.id > max(u.value.message_ids + [u.value.cleared_up_to]), "hidden after the update"
            elif u.kind == k.UPDATE_RETENTION_CHANGED:
                # section 8.2: kind 14 is for 1:1 conversations (a group's change is a System message)
                assert u.value.to.user_id is not None, f"a RetentionChanged update of a group: {u.value}"
                assert u.value.by != 0 and u.value.seconds <= k.MAX_RETENTION_SECONDS, f"RetentionChanged {u.value}"
            elif u.kind in (k.UPDATE_GROUP_JOIN_REQUEST, k.UPDATE_GROUP_INVITATION):
                # section 8.2: when filed or sent, the update id is the request's or
                # invitation's id; an answer is a later update
                pending = u.value.state == k.REQUEST_PENDING
                assert u.id == u.value.id if pending else u.id >= u.value.id, f"update id {u.id} / {u.value.id}"
                (check_join_request if u.kind == k.UPDATE_GROUP_JOIN_REQUEST else check_invitation)(u.value)
            elif u.kind == k.UPDATE_MOMENT_POSTED:  # revision 24, section 8.2: its id is the moment's
                assert u.id == u.value.moment_id and u.value.author != 0, f"MomentPosted {u.value} in update {u.id}"
            elif u.kind == k.UPDATE_MOMENT_LIKED:  # its id is the like's, given after the moment was posted
                assert u.id > u.value.moment_id and u.value.user_id != 0, f"MomentLiked {u.value} in update {u.id}"
            elif u.kind == k.UPDATE_MOMENT_COMMENTED:  # its id is the comment's
                assert u.id == u.value.comment.comment_id, f"MomentCommented update {u.id} of {u.value.comment}"
                assert u.value.moment_author != 0, f"MomentCommented {u.value}"
                check_moment_comment(u.value.comment)
    for x in msgs:
        assert x.server_time == k.snowflake_time(x.id), "server_time != derived from id"
        check_group_message(x)
        if x.kind == k.KIND_RECALLED:  # revision 8, section 4.1: a tombstone has no content and no extra
            assert x.content == b"" and x.extra is None, f"a Recalled message with content: {x}"
        # revision 9, section 4.1: Expired is what the list's `last` shows; expired messages are never returned
        assert x.kind != k.KIND_EXPIRED, f"an Expired message in a page or an update: {x}"
    # Revision 4
    if isinstance(decoded, (k.UserProfile, k.SetProfileRequest)):
        check_profile(decoded.profile)
    if isinstance(decoded, k.FriendRequestInfo):
        check_friend_request(decoded)
    if isinstance(decoded, k.FriendRequestPage):
        ids = [f.id for f in decoded.requests]
        assert ids == sorted(set(ids), reverse=True), "friend requests not newest first"
        for f in decoded.requests:
            check_friend_request(f)
        answerable = sum(1 for f in decoded.requests if f.state == k.REQUEST_PENDING)
        assert decoded.pending_incoming >= answerable or not decoded.requests, "badge below the pending ones"
    if isinstance(decoded, (k.FriendPage, k.BlockedPage)):
        ids = [x.user.user_id for x in (decoded.friends if isinstance(decoded, k.FriendPage) else decoded.users)]
        assert ids == sorted(set(ids)), "list not in ascending user id order"
    if isinstance(decoded, k.UserPage):
        assert len(decoded.cursor) <= MAX_SEARCH_CURSOR, f"cursor of {len(decoded.cursor)} bytes"
    if isinstance(decoded, k.SearchUsersRequest):
        assert 1 <= len(decoded.query) <= 32 and decoded.query.strip(" ") and control_free(decoded.query)
    for limit_holder in (k.SearchUsersRequest, k.ListFriendRequestsRequest, k.ListFriendsRequest,
                         k.ListBlockedRequest, k.ListGroupsRequest, k.ListJoinRequestsRequest,
                         k.ListInvitationsRequest, k.ListBansRequest, k.ListMembersRequest,
                         k.ListConversationsRequest):
        if isinstance(decoded, limit_holder):
            assert 1 <= decoded.limit <= 100, f"limit {decoded.limit}"
    if isinstance(decoded, k.AddFriendRequest):
        assert len(decoded.message) <= 256 and control_free(decoded.message)
    if isinstance(decoded, k.SetRemarkRequest):
        assert len(decoded.remark) <= 32 and control_free(decoded.remark)
    # Revision 6
    if isinstance(decoded, (k.CreateGroupRequest, k.UpdateGroupRequest)):
        check_group_fields(decoded.fields)
    if isinstance(decoded, k.JoinGroupRequest):
        assert len(decoded.message) <= 256, "join message above 256 characters"
    if isinstance(decoded, k.SetAliasRequest):
        assert len(decoded.alias) <= 32 and control_free(decoded.alias), f"alias {decoded.alias!r}"
    if isinstance(decoded, k.GroupInfo):
        check_group_info(decoded)
    if isinstance(decoded, k.CreateGroupReply):
        check_group_info(decoded.group)
        assert decoded.group.my_role == k.ROLE_OWNER, "the creator is not the owner (section 5, CreateGroup)"
        everyone = decoded.joined + decoded.invited + decoded.refused
        assert len(set(everyone)) == len(everyone), "an initial member in two of joined, invited, refused"
    if isinstance(decoded, k.JoinOutcome):
        (check_group_info if decoded.variant == k.JOINED else check_join_request)(decoded.value)
    if isinstance(decoded, k.JoinRequestInfo):
        check_join_request(decoded)
    if isinstance(decoded, k.InvitationInfo):
        check_invitation(decoded)
    if isinstance(decoded, k.GroupPage):
        ascending([g.group_id for g in decoded.groups], "groups")
        for g in decoded.groups:
            check_group_info(g)
            assert g.my_role is not None, "ListGroups lists the caller's groups, with my_role set"
    if isinstance(decoded, k.JoinRequestPage):
        ascending([j.user.user_id for j in decoded.requests], "join requests (by requester id)")
        for j in decoded.requests:
            check_join_request(j)
    if isinstance(decoded, k.InvitationPage):
        ascending([i.group_id for i in decoded.invitations], "invitations (by group id)")
        for i in decoded.invitations:
            check_invitation(i)
    if isinstance(decoded, k.BanPage):
        ascending([b.user.user_id for b in decoded.bans], "bans (by user id)")
    if isinstance(decoded, k.MemberPage):
        ascending([m.user.user_id for m in decoded.members], "members (by user id)")
        assert len(decoded.members) <= decoded.member_count, "more members listed than the group has"
        assert all(m.role in k.GROUP_ROLE_NAMES for m in decoded.members), "a member of unknown role"
    if isinstance(decoded, k.SyncPage):
        group_ids = [g.group_id for g in decoded.groups]
        assert len(set(group_ids)) == len(group_ids), "a group named twice in a Sync page's groups"
    # Revision 7
    if isinstance(decoded, k.ConversationPage):
        updated = [c.updated for c in decoded.conversations]
        assert updated == sorted(set(updated), reverse=True), "conversations not `updated` descending, or repeated"
        withs = [c.with_ for c in decoded.conversations]
        assert len(set(withs)) == len(withs), "a conversation listed twice"
        for c in decoded.conversations:
            check_conversation(c)
        assert decoded.total_unread >= sum(c.unread for c in decoded.conversations), "badge below the unread counts"
    if isinstance(decoded, k.MarkReadRequest):
        assert decoded.up_to != 0, "MarkRead up to message 0"
    if isinstance(decoded, k.MessageReaders):
        assert decoded.read <= decoded.of, f"{decoded.read} readers of {decoded.of}"
        if decoded.listed:
            ascending(decoded.readers, "readers")
            assert len(decoded.readers) == decoded.read, "`read` does not count the readers listed"
        else:
            assert decoded.readers == [], "readers named although not listed"
    # Revision 8
    if isinstance(decoded, k.Recalled):
        assert decoded.message_id != 0 and decoded.by != 0, f"Recalled {decoded}"
        # section 5, Recall: in a 1:1 conversation only the sender recalls
        assert decoded.to.group_id is not None or decoded.by == decoded.sender, f"a 1:1 recall by another: {decoded}"
    if isinstance(decoded, k.Update) and decoded.kind == k.UPDATE_MESSAGE_RECALLED:
        semantic_checks(decoded.value)
    if isinstance(decoded, k.Update) and decoded.kind == k.UPDATE_DELETED_FOR_ME:
        semantic_checks(decoded.value)
    if isinstance(decoded, k.RecallRequest):
        assert decoded.message_id != 0, "Recall of message 0"
    if isinstance(decoded, k.DeleteForMeRequest):
        assert len(decoded.message_ids) <= k.MAX_DELETE_IDS, f"{len(decoded.message_ids)} ids (at most 100)"
        assert decoded.message_ids or decoded.clear_up_to, "no ids and no clear_up_to (InvalidArgument)"
    if isinstance(decoded, k.DeletedForMe):
        ascending(decoded.message_ids, "hidden message ids")
        assert all(i > decoded.cleared_up_to for i in decoded.message_ids), \
            "an id covered by the clearing listed as hidden by the call (section 5, DeleteForMe)"
        assert decoded.read_up_to >= decoded.cleared_up_to, "clearing did not move the read position (section 5, DeleteForMe)"
    # Revision 9
    if isinstance(decoded, k.RetentionRequest):
        assert decoded.set is None or decoded.set <= k.MAX_RETENTION_SECONDS, f"retention above 100 years: {decoded}"
    if isinstance(decoded, k.RetentionSetting):
        assert decoded.seconds <= k.MAX_RETENTION_SECONDS, f"a conversation's retention above 100 years: {decoded}"
        own = [x for x in (decoded.seconds, decoded.server_seconds) if x]
        assert decoded.effective == (min(own) if own else 0), \
            f"effective is not the shorter of the retentions that are not 0 (section 5, Retention): {decoded}"
    # Revision 24
    if isinstance(decoded, k.PublishMomentRequest):
        check_moment_text(decoded.text, k.MOMENT_TEXT_MAX_CHARS, "moment text")
        check_moment_media(decoded.media)
        assert decoded.text or decoded.media.variant != k.MOMENT_MEDIA_NONE, "neither text nor files"
        if decoded.location is not None:
            check_location(decoded.location)
        check_moment_visibility(decoded.visibility)
    if isinstance(decoded, k.Moment):
        check_moment(decoded)
    if isinstance(decoded, k.MomentPage):
        ids = [m.moment_id for m in decoded.moments]
        assert ids == sorted(set(ids), reverse=True), "moments not newest first"
        for m in decoded.moments:
            check_moment(m)
    if isinstance(decoded, k.MomentComment):
        check_moment_comment(decoded)
    if isinstance(decoded, k.CommentPage):
        ascending([c.comment_id for c in decoded.comments], "comments (oldest first)")
        for c in decoded.comments:
            check_moment_comment(c)
    if isinstance(decoded, k.CommentMomentRequest):
        check_moment_text(decoded.text, k.MOMENT_COMMENT_MAX_CHARS, "comment")
        assert decoded.text.strip(" "), f"an empty comment {decoded.text!r}"
    if isinstance(decoded, (k.FeedRequest, k.UserMomentsRequest, k.MomentCommentsRequest)):
        assert 1 <= decoded.limit <= 100, f"limit {decoded.limit}"
    if isinstance(decoded, k.MomentSettings):
        assert decoded.window in k.MOMENT_WINDOWS, f"window {decoded.window}"
    if isinstance(decoded, k.SyncPage):
        # section 8.2, kind 25: MomentPosted is pushed live only, never in the log
        assert all(u.kind != k.UPDATE_MOMENT_POSTED for u in decoded.updates), "a MomentPosted update in Sync"
    if isinstance(decoded, k.SyncPage):
        withs = [x.with_ for x in decoded.limited]
        assert len(set(withs)) == len(withs), "a conversation named twice in a Sync page's limited"
        for x in decoded.limited:
            assert x.older_than != 0, f"limited {x}"
            # the page's messages of that conversation are the newest ones, none below older_than
            for u in decoded.updates:
                m = u.value if u.kind == k.UPDATE_MESSAGE else None
                if m is not None and (m.to == x.with_ if x.with_.group_id is not None
                                      else m.to.user_id is not None and x.with_.id in (m.sender, m.to.id)):
                    assert m.id >= x.older_than, f"message {m.id} of {x.with_} below older_than {x.older_than}"


def check_moment_text(text: str, most: int, what: str) -> None:
    """New lines and tabs but no other control characters, at most `most` characters (section 5, Moments)."""
    assert len(text) <= most, f"{what} of {len(text)} characters (at most {most})"
    assert control_free(text.replace("\n", "").replace("\t", "")), f"a control character in {what} {text!r}"


def check_moment_media(media: k.MomentMedia) -> None:
    """1 to 9 images, no repeats, or a video that is not its own cover (section 5, PublishMoment)."""
    assert media.variant in k.MOMENT_MEDIA_NAMES, f"MomentMedia variant {media.variant}"
    if media.variant == k.MOMENT_MEDIA_IMAGES:
        assert 1 <= len(media.images) <= k.MOMENT_IMAGES_MAX, f"{len(media.images)} images"
        assert len(set(media.images)) == len(media.images), f"an image twice: {media.images}"
    if media.variant == k.MOMENT_MEDIA_VIDEO:
        assert media.video != media.cover, f"a video that is its own cover: {media}"


def check_location(x: k.Location) -> None:
    """Section 5, Moments, Location: a one-line name of 1-64 characters, coordinates in range."""
    assert 1 <= len(x.name) <= 64 and x.name.strip(" ") and control_free(x.name), f"location name {x.name!r}"
    assert abs(x.latitude_e7) <= k.LATITUDE_E7_MAX and abs(x.longitude_e7) <= k.LONGITUDE_E7_MAX, f"{x}"


def check_moment_visibility(v: k.MomentVisibility) -> None:
    """`users` empty for Public and Friends, 1 to 500 distinct users for Only and Except."""
    assert v.audience in k.MOMENT_AUDIENCES, f"audience {v.audience}"
    if v.audience in (k.MOMENT_PUBLIC, k.MOMENT_FRIENDS):
        assert v.users == [], f"users listed for {v.audience_name}: {v.users}"
    else:
        assert 1 <= len(v.users) <= k.MOMENT_LISTED_MAX and len(set(v.users)) == len(v.users), f"{v}"


def check_moment_comment(c: k.MomentComment) -> None:
    """A comment: 1-500 characters, not only spaces; a reply answers an older comment, and names its
    writer only when it is a reply (reply_to_user 0 otherwise)."""
    check_moment_text(c.text, k.MOMENT_COMMENT_MAX_CHARS, "comment")
    assert c.text.strip(" "), f"an empty comment {c.text!r}"
    assert c.comment_id > c.moment_id, f"a comment older than its moment: {c}"
    if c.reply_to is None:
        assert c.reply_to_user == 0, f"reply_to_user without reply_to: {c}"
    else:
        assert c.moment_id < c.reply_to < c.comment_id, f"a reply to a comment not older than it: {c}"


def check_moment(m: k.Moment) -> None:
    """A moment as one viewer sees it (section 5, Moments)."""
    check_moment_text(m.text, k.MOMENT_TEXT_MAX_CHARS, "moment text")
    check_moment_media(m.media)
    assert m.text or m.media.variant != k.MOMENT_MEDIA_NONE, "neither text nor files"
    assert [f.media_id for f in m.files] == m.media.media_ids, "files not in the order of media"
    if m.location is not None:
        check_location(m.location)
    if m.visibility is not None:
        check_moment_visibility(m.visibility)
    assert len(m.likes) <= min(m.like_count, k.MOMENT_FIRST_LISTED), f"{len(m.likes)} likes of {m.like_count}"
    ascending(m.likes, "likes (by user id)")
    assert len(m.comments) <= min(m.comment_count, k.MOMENT_FIRST_LISTED), \
        f"{len(m.comments)} comments of {m.comment_count}"
    ascending([c.comment_id for c in m.comments], "comments (oldest first)")
    for c in m.comments:
        assert c.moment_id == m.moment_id, f"a comment of another moment: {c}"
        check_moment_comment(c)


def check_conversation(c: k.ConversationInfo) -> None:
    """One entry of a ConversationPage (section 5, ListConversations)."""
    if c.with_.group_id is not None:
        assert c.peer_read_up_to == 0, "peer_read_up_to in a group"
    assert c.updated != 0, "an entry with `updated` 0"
    if c.last is None:
        assert c.unread == 0, "unread messages in a conversation without messages"
        return
    m = c.last
    assert m.server_time == k.snowflake_time(m.id), "last.server_time is not derived from its id (section 8.7)"
    assert len(m.preview) <= k.PREVIEW_CHARS, f"preview of {len(m.preview)} characters"
    assert m.kind == k.KIND_TEXT or m.preview == "", f"a preview for a message of kind {m.kind}"
    assert m.kind != k.KIND_SYSTEM or c.with_.group_id is not None, "a System message in a 1:1 conversation"
    assert c.read_up_to <= m.id and c.peer_read_up_to <= m.id, "a read position past the newest message"
    # revision 9: the newest message expired, so did every older one: nothing is unread (section 5, Retention)
    assert m.kind != k.KIND_EXPIRED or c.unread == 0, "unread messages in a conversation whose newest expired"
    assert c.read_up_to < m.id or c.unread == 0, "unread messages although the newest one is read"


def ms_of(text: str) -> int:
    """'2026-01-31T12:00:00Z' (or '...:00.500Z') as ms since the Unix epoch."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ"
    t = datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
    return round(t.timestamp() * 1000)


def heading_time(headings: dict, label: str, i: int = 0):
    """The time in a heading such as 'AddFriend request (..., at 2026-01-03T10:00:01.500Z)'."""
    m = re.search(r"\bat (\d{4}-\d\d-\d\dT[\d:.]+Z)", headings[label][i])
    return ms_of(m.group(1)) if m else None


def story_checks(ex: dict, headings: dict, frames: dict) -> list:
    """Cross-example consistency of the story of section 10 (`ex` maps labels to
    lists of decoded values, in document order; `headings` and `frames` to the
    headings above them and their frames; headings["intro 10.6"] holds the
    introduction of section 10.6)."""
    def one(label, i=0):
        return ex[label][i]
    checks = []

    def claim(text, ok):
        checks.append((text, ok))

    login, send, push_msg, push_login = (one("response Login"), one("response Send"),
                                         one("push Update", 0), one("push Update", 1))
    auth_req, auth, sync_req, sync = (one("request Auth"), one("response Auth"),
                                      one("request Sync"), one("response Sync"))
    claim("Login latest = id of the NewLogin push of that login",
          login.session.latest == push_login.id and push_login.kind == k.UPDATE_NEW_LOGIN)
    claim("NewLogin push names the device of the Login request",
          push_login.value.device_id == one("request Login").device.device_id == login.session.device_id)
    claim("Message push carries the Send's id, time and content",
          push_msg.id == push_msg.value.id == send.message_id and push_msg.value.server_time == send.server_time
          and push_msg.value.content == one("request Send").content)
    claim("Auth uses the Login token", auth_req.token == login.token)
    claim("Sync starts after the Auth cursor", sync_req.after == auth.cursor)
    claim("Sync page ends at the Auth latest, with more = false",
          sync.updates[-1].id == auth.latest and not sync.more)
    claim("Sync page holds only updates after `after`", all(u.id > sync_req.after for u in sync.updates))
    claim("Ack acknowledges the last synced update", one("request Ack").up_to == sync.updates[-1].id
          == one("response Ack"))
    hist = one("response History").messages
    claim("History holds the sent message and the synced reply",
          [m.id for m in hist] == [send.message_id, sync.updates[-1].id] and hist[1] == sync.updates[-1].value)

    # Revision 3 (section 10.5).
    plain_auth, renewed_auth = one("response Auth", 0), one("response Auth", 1)
    claim("the first Auth response has no renewed token", plain_auth.renewed is None)
    bob_reply = sync.updates[-1].value
    claim("the renewed Auth response is bob's (user 2 as FindUser found him), cursor = latest = his reply",
          renewed_auth.user_id == one("response FindUser").user_id == bob_reply.sender
          and renewed_auth.username == one("response FindUser").username
          and renewed_auth.cursor == renewed_auth.latest == bob_reply.id)
    h = headings["response Auth"][1]
    m = re.search(r"expires (\S+Z), connects on (\S+Z)", h)
    claim(f"renewed Auth heading parsed ({h!r})", m is not None)
    if m:
        old_expiry, now = ms_of(m.group(1)), ms_of(m.group(2))
        claim("the tablet's token is within 10 days of its expiry, so Auth renews it (section 5, Auth)",
              0 < old_expiry - now <= RENEW_WITHIN_MS)
        claim("the renewed token is valid for a full lifetime (30 days) from the connection",
              renewed_auth.renewed is not None and renewed_auth.renewed.expires_at == now + TOKEN_TTL_MS)
        renew = one("response RenewToken")
        claim("RenewToken's token lives a full lifetime from shortly after (within a minute of) that time",
              0 <= renew.expires_at - (now + TOKEN_TTL_MS) < 60_000)
        claim("RenewToken's token is not the renewed one of the tablet",
              renewed_auth.renewed is not None and renew.token != renewed_auth.renewed.token)
    claim("RenewToken request and response share their sequence id",
          frames["request RenewToken"][0].seq == frames["response RenewToken"][0].seq != 0)
    claim("RenewToken request body is empty", frames["request RenewToken"][0].body == b"")

    throttled = one("error Login", 1)
    h = headings["error Login"][1]
    m = re.search(r"made (\d+) ms after a third wrong password", h)
    claim("throttled Login: RateLimited, retry_after_ms = 250 ms - the time since the 3rd failure "
          "(section 5, Login), no limit, the message says the same wait",
          m is not None and throttled.code == k.RATE_LIMITED
          and throttled.retry_after_ms == FIRST_THROTTLE_WAIT_MS - int(m.group(1))
          and throttled.limit is None and f"retry in {throttled.retry_after_ms} ms" in throttled.message
          and throttled.reason == k.RATE_LIMIT_FAILURES)
    claim("throttled Login answers the Login request's sequence id",
          frames["error Login"][1].seq == frames["request Login"][0].seq)
    big = one("error Register")
    h = headings["error Register"][0]
    m = re.search(r"announced ([\d ]+) bytes", h)
    announced = int(m.group(1).replace(" ", "")) if m else None
    claim("oversize Register: FrameTooLarge with limit = 4096 (before authentication, section 2.2), "
          "no retry_after_ms; the heading's size is above it and the message names both",
          announced is not None and big.code == k.FRAME_TOO_LARGE and big.limit == MAX_UNAUTHENTICATED_FRAME
          and big.retry_after_ms is None and announced > big.limit
          and f"{announced} bytes" in big.message and str(big.limit) in big.message)

    # Revision 4 (section 10.6): bob's profile, search, alice's friend request
    # and bob's answer, a remark, removal, a block.
    social_story(ex, headings, frames, claim, one)
    # Revision 7 (section 10.8): alice's list, her read of bob's messages on
    # her phone, the pushes to her tablet and to bob, bob's receipts off,
    # carol's question about her group message.
    conversations_story(ex, headings, frames, claim, one)
    # Revision 8 (section 10.9): bob's recall and the refused one, alice's
    # DeleteForMe and her tablet's update, bob's Delivered, carol's capped Sync.
    after_sending_story(ex, headings, frames, claim, one)
    # Revision 9 (section 10.10): alice's week with bob and bob's update,
    # carol's question about her group, its refusal, the group's System message.
    retention_story(ex, headings, frames, claim, one)
    # Revision 22 (section 10.18): bob watches alice and carol, alice goes
    # offline, alice shows her presence to everyone, a group's online count.
    presence_story(ex, headings, frames, claim, one)
    # Revision 24 (section 10.20): alice's moment for every friend but carol,
    # bob's like and question, alice's answer, carol finding nothing, the
    # settings, the comment and the moment taken down.
    moments_story(ex, headings, frames, claim, one)
    return checks


def social_story(ex: dict, headings: dict, frames: dict, claim, one) -> None:
    alice_id, alice_name = one("response Login").session.user_id, one("response Login").session.username
    bob = one("response FindUser")
    for name in ("SetProfile", "GetProfile", "Privacy", "SearchUsers", "AddFriend", "ListFriendRequests",
                 "AnswerFriend", "SetRemark", "ListFriends", "RemoveFriend", "Block", "ListBlocked", "Unblock"):
        rq, rs = frames[f"request {name}"][0], frames[f"response {name}"][0]
        claim(f"{name} request and response share their sequence id ({rq.seq})", rq.seq == rs.seq != 0)
    for name in ("SetRemark", "RemoveFriend", "Block", "Unblock"):
        claim(f"{name} response body is empty", frames[f"response {name}"][0].body == b"")

    set_rq, set_rs, get_rq, get_rs = (one("request SetProfile"), one("response SetProfile"),
                                      one("request GetProfile"), one("response GetProfile"))
    claim("SetProfile answers bob's own profile (user 2 as FindUser found him) as stored, the one sent",
          (set_rs.user_id, set_rs.username) == (bob.user_id, bob.username) and set_rs.profile == set_rq.profile)
    claim("alice's GetProfile of user 2 returns the profile bob set",
          get_rq.user_id == bob.user_id and get_rs == set_rs)
    priv_rq, priv_rs = one("request Privacy"), one("response Privacy")
    claim("Privacy leaves discoverable alone (still the default Everyone) and sets friend_policy RequireApproval",
          priv_rq.discoverable is None and priv_rq.friend_policy == k.POLICY_REQUIRE_APPROVAL
          and priv_rs == k.PrivacySettings(k.DISCOVERABLE_EVERYONE, k.POLICY_REQUIRE_APPROVAL))

    vis_rq, vis_rs = one("request ProfileVisibility"), one("response ProfileVisibility")
    claim("ProfileVisibility sets birth date to friends, city to nobody, province to everyone, and answers it",
          vis_rq.set == k.FieldVisibility(k.AUDIENCE_FRIENDS, k.AUDIENCE_NOBODY, k.AUDIENCE_EVERYONE)
          and vis_rs == vis_rq.set)
    vq, vs = frames["request ProfileVisibility"][0], frames["response ProfileVisibility"][0]
    claim(f"ProfileVisibility request and response share their sequence id ({vq.seq})", vq.seq == vs.seq != 0)

    search_rq, search_rs = one("request SearchUsers"), one("response SearchUsers")
    bob_card = k.UserCard(bob.user_id, bob.username, set_rs.profile.nickname, set_rs.profile.avatar)
    claim("SearchUsers by a nickname prefix finds bob's card (his id, username, nickname and avatar)",
          search_rs.users == [bob_card] and set_rs.profile.nickname.startswith(search_rq.query)
          and search_rq.cursor == b"" and not search_rs.more)
    claim("every user found has a nickname starting with the query, or is the exact username (section 5, SearchUsers)",
          all(u.nickname.lower().startswith(search_rq.query.lower()) or u.username == search_rq.query.lower()
              for u in search_rs.users))
    claim(f"the search cursor is opaque (section 5, SearchUsers): non-empty and at most ~{MAX_SEARCH_CURSOR} bytes; "
          "its content is not interpreted", 0 < len(search_rs.cursor) <= MAX_SEARCH_CURSOR)

    add_rq, add_rs = one("request AddFriend"), one("response AddFriend")
    social_pushes = [u for u in ex["push Update"] if u.kind in REVISION_4_PUSH_KINDS]
    pushes = {u.kind: u for u in social_pushes}
    claim("section 10.6 has one Update push of each kind 3, 4, 5, 6, in that order",
          [u.kind for u in social_pushes] == REVISION_4_PUSH_KINDS)
    m = re.search(r"request id (\d+), sent at (\S+Z)", headings["intro 10.6"][0])
    claim("AddFriend asks the user the search found, with its message",
          add_rq.user_id == bob.user_id and add_rs.message == add_rq.message)
    claim("AddFriend's request is from alice (as her Login named her) to bob's card as the search showed it",
          (add_rs.from_.user_id, add_rs.from_.username) == (alice_id, alice_name) and add_rs.to == bob_card)
    claim("bob approves requests himself (RequireApproval), so it is Pending, not answered (answered_at 0)",
          add_rs.state == k.REQUEST_PENDING and add_rs.answered_at == 0)
    sent = heading_time(headings, "request AddFriend")
    claim("the request id's time (section 8.7) is when AddFriend was sent, as its heading says",
          sent is not None and k.snowflake_time(add_rs.id) == sent)
    claim("the request id and time are the ones section 10.6's introduction gives",
          m is not None and int(m.group(1)) == add_rs.id and ms_of(m.group(2)) == k.snowflake_time(add_rs.id))
    claim("expires_at = the request id's time + 7 days (friend_request_ttl_secs default, section 4.1)",
          add_rs.expires_at == k.snowflake_time(add_rs.id) + FRIEND_REQUEST_TTL_MS)
    push3 = pushes.get(k.UPDATE_FRIEND_REQUEST)
    claim("the kind 3 FriendRequest push has the request id as its update id, and AddFriend's response as its body",
          push3 is not None and push3.id == add_rs.id == push3.value.id and push3.value == add_rs)
    lrq, lrs = one("request ListFriendRequests"), one("response ListFriendRequests")
    claim("bob's incoming list, from the newest, holds that same request (same id, same body), pending_incoming 1",
          lrq.direction == k.BOX_INCOMING and lrq.before == 0 and lrs.requests == [add_rs]
          and lrs.pending_incoming == 1 and not lrs.more)

    ans_rq, ans_rs = one("request AnswerFriend"), one("response AnswerFriend")
    answered = heading_time(headings, "request AnswerFriend")
    claim("AnswerFriend accepts that request id", ans_rq.request_id == add_rs.id == lrs.requests[0].id
          and ans_rq.accept)
    claim("AnswerFriend's response is the same request, now Accepted, same expiry",
          ans_rs.id == add_rs.id and (ans_rs.from_, ans_rs.to, ans_rs.message, ans_rs.expires_at)
          == (add_rs.from_, add_rs.to, add_rs.message, add_rs.expires_at) and ans_rs.state == k.REQUEST_ACCEPTED)
    claim("answered_at is the time the AnswerFriend heading gives, before expires_at",
          answered is not None and ans_rs.answered_at == answered and answered < ans_rs.expires_at)
    push4 = pushes.get(k.UPDATE_FRIEND_ANSWERED)
    claim("the kind 4 FriendAnswered push carries AnswerFriend's response as its body",
          push4 is not None and push4.value == ans_rs)
    claim("the kind 4 update has an id of its own, committed at answered_at (its time, section 8.7)",
          push4 is not None and push4.id != add_rs.id and k.snowflake_time(push4.id) == ans_rs.answered_at)

    remark_rq, friends_rq, friends_rs = one("request SetRemark"), one("request ListFriends"), one("response ListFriends")
    claim("alice's SetRemark names bob", remark_rq.user_id == bob.user_id)
    claim("alice's ListFriends from the start lists bob's card with her remark, friends since answered_at",
          friends_rq.after == 0 and friends_rs.friends == [k.Friend(bob_card, remark_rq.remark, ans_rs.answered_at)]
          and not friends_rs.more)

    rm_rq, push5 = one("request RemoveFriend"), pushes.get(k.UPDATE_FRIEND_REMOVED)
    removed = heading_time(headings, "request RemoveFriend")
    claim("RemoveFriend removes bob; the kind 5 push says alice (by) ended it with bob (user_id)",
          rm_rq.user_id == bob.user_id and push5 is not None
          and push5.value == k.FriendRemoved(by=alice_id, user_id=bob.user_id))
    claim("the kind 5 update's time is the RemoveFriend heading's",
          push5 is not None and removed is not None and k.snowflake_time(push5.id) == removed)

    blk_rq, push6 = one("request Block"), pushes.get(k.UPDATE_BLOCK_CHANGED)
    blocked = heading_time(headings, "request Block")
    claim("bob blocks alice; the kind 6 push to his other devices says alice is now blocked",
          blk_rq.user_id == alice_id and push6 is not None and push6.value == k.BlockChanged(alice_id, True))
    claim("the kind 6 update's time is the Block heading's",
          push6 is not None and blocked is not None and k.snowflake_time(push6.id) == blocked)
    lb_rq, lb_rs = one("request ListBlocked"), one("response ListBlocked")
    claim("bob's ListBlocked lists alice's card (as in the request's `from`), blocked since the Block's time",
          lb_rq.after == 0 and lb_rs.users == [k.BlockedUser(add_rs.from_, blocked)] and not lb_rs.more)
    claim("bob unblocks alice", one("request Unblock").user_id == alice_id)
    ids = [add_rs.id] + [pushes[x].id for x in REVISION_4_PUSH_KINDS[1:] if x in pushes]
    claim("the update ids of the story ascend: request < answer < removal < block", ids == sorted(set(ids))
          and len(ids) == 4)


def conversations_story(ex: dict, headings: dict, frames: dict, claim, one) -> None:
    alice_id, bob_id = one("response Login").session.user_id, one("response FindUser").user_id
    intro = " ".join(headings["intro 10.8"][0].split())
    m = re.search(r"Alice \((\d+)\).*?Bob \((\d+)\) answered her message (\d+) with two of his own; carol \((\d+)\)"
                  r".*?group id (\d+)\), of which alice, carol and users (\d+) and (\d+) are members", intro)
    claim("section 10.8's introduction names alice, bob, alice's message, carol, the group and its members",
          m is not None)
    if m is None:
        return
    alice_no, bob_no, her_message, carol_id, group_id = (int(m.group(i)) for i in range(1, 6))
    members = {alice_id, carol_id, int(m.group(6)), int(m.group(7))}
    claim("alice and bob are users 1 and 2 as Login and FindUser named them", (alice_no, bob_no) == (alice_id, bob_id))
    for name in ("ListConversations", "MarkRead", "ReadReceipts", "MessageReaders"):
        rq, rs = frames[f"request {name}"][0], frames[f"response {name}"][0]
        claim(f"{name} request and response share their sequence id ({rq.seq})", rq.seq == rs.seq != 0)

    lrq, lrs = one("request ListConversations"), one("response ListConversations")
    claim("the phone loads its list from the start (before 0, changed_since 0), all of it in one page",
          lrq.before == 0 and lrq.changed_since == 0 and len(lrs.conversations) <= lrq.limit and not lrs.more)
    claim("a whole list: the badge (total_unread) is the sum of its unread counts",
          lrs.total_unread == sum(c.unread for c in lrs.conversations))
    entries = {c.with_: c for c in lrs.conversations}
    group, chat = entries.get(k.Target.group(group_id)), entries.get(k.Target.user(bob_id))
    claim("the list holds the group of the introduction and the 1:1 conversation with bob, nothing else",
          group is not None and chat is not None and len(entries) == 2)
    if group is None or chat is None:
        return
    claim("bob's conversation: his newest message last, alice's position at her own message (sending moved it), "
          "his two messages unread",
          chat.last is not None and chat.last.sender == bob_id and chat.read_up_to == her_message < chat.last.id
          and chat.unread == 2)
    claim("bob has read everything (his own sending moved his position): peer_read_up_to = the newest message",
          chat.last is not None and chat.peer_read_up_to == chat.last.id)
    claim("the group: carol's newest message, one unread, alice's position before it, no peer_read_up_to",
          group.last is not None and group.last.sender == carol_id and group.unread == 1
          and group.read_up_to < group.last.id and group.peer_read_up_to == 0)

    mrq, mrs = one("request MarkRead"), one("response MarkRead")
    claim("alice's phone marks bob's conversation read up to its newest message",
          mrq.with_ == k.Target.user(bob_id) and mrq.up_to == chat.last.id)
    claim("MarkRead answers the position moved to up_to, nothing unread left",
          mrs == k.ReadPosition(mrq.with_, mrq.up_to, 0))
    pushes = [u for u in ex["push Update"] if u.kind in REVISION_7_PUSH_KINDS]
    claim("section 10.8 has one Update push of each kind 9 and 10, in that order",
          [u.kind for u in pushes] == REVISION_7_PUSH_KINDS)
    if len(pushes) != 2:
        return
    position, receipt = pushes
    read_at = heading_time(headings, "request MarkRead")
    claim("the tablet's ReadPosition update carries MarkRead's response as its body (section 8.2, kind 9)",
          position.value == mrs)
    claim("bob's ReadReceipt says alice read up to the new position",
          receipt.value == k.ReadReceipt(alice_id, mrs.read_up_to))
    claim("both updates are committed at the MarkRead heading's time (section 8.7), the receipt after the position",
          read_at is not None and k.snowflake_time(position.id) == k.snowflake_time(receipt.id) == read_at
          and position.id < receipt.id)

    rrq, rrs = one("request ReadReceipts"), one("response ReadReceipts")
    claim("bob turns his read receipts off, and the answer says they are off",
          rrq.set is False and rrs == k.ReadReceiptsSetting(False))

    qrq, qrs = one("request MessageReaders"), one("response MessageReaders")
    claim("carol asks about her newest group message, the one alice's list shows",
          qrq.group_id == group_id and qrq.message_id == group.last.id and group.last.sender == carol_id)
    others = members - {carol_id}
    claim("`of` counts the members other than carol (all send receipts), the readers are among them, "
          "listed in this small group",
          qrs.of == len(others) and set(qrs.readers) <= others and qrs.listed and qrs.read == len(qrs.readers))
    claim("alice, whose position is before the message (her list shows it unread), is not a reader",
          alice_id not in qrs.readers and group.read_up_to < qrq.message_id)
    claim("the heading's readers: users 4 and 5 read it",
          qrs.readers == [int(x) for x in re.findall(r"users (\d+) and (\d+) read it",
                                                     headings["response MessageReaders"][0])[0]])


def after_sending_story(ex: dict, headings: dict, frames: dict, claim, one) -> None:
    alice_id, bob_id = one("response Login").session.user_id, one("response FindUser").user_id
    intro = " ".join(headings["intro 10.9"][0].split())
    m = re.search(r"Bob \((\d+)\) sent alice \((\d+)\) three texts on (\d{4}-\d\d-\d\d) at noon.*?Carol \((\d+)\)", intro)
    claim("section 10.9's introduction names bob, alice, the day of bob's three texts and carol", m is not None)
    if m is None:
        return
    claim("bob and alice are users 2 and 1 as FindUser and Login named them",
          (int(m.group(1)), int(m.group(2))) == (bob_id, alice_id))
    noon, carol_id = ms_of(f"{m.group(3)}T12:00:00Z"), int(m.group(4))
    for name in ("Recall", "DeleteForMe"):
        rq, rs = frames[f"request {name}"][0], frames[f"response {name}"][0]
        claim(f"{name} request and response share their sequence id ({rq.seq})", rq.seq == rs.seq != 0)
    pushes = [u for u in ex["push Update"] if u.kind in REVISION_8_PUSH_KINDS]
    claim("section 10.9 has one Update push of each kind 11, 12 and 13, in that order",
          [u.kind for u in pushes] == REVISION_8_PUSH_KINDS)
    if len(pushes) != 3:
        return
    recalled, hidden, delivered = pushes

    rrq, rrs = one("request Recall"), one("response Recall")
    second = rrq.message_id
    claim("bob recalls a message of his conversation with alice",
          rrq.with_ == k.Target.user(alice_id))
    claim("Recall answers that message, sent by bob to alice, recalled by bob",
          rrs == k.Recalled(second, bob_id, k.Target.user(alice_id), bob_id))
    claim("alice's phone's MessageRecalled update carries Recall's response as its body (section 8.2, kind 11)",
          recalled.value == rrs)
    claim("the recall is committed after the message, within the 120 s window of a Text (section 5, Recall)",
          0 < k.snowflake_time(recalled.id) - k.snowflake_time(second) <= TEXT_RECALL_MS)
    err, err_frame = one("error Recall"), frames["error Recall"][0]
    seq = re.search(r"sequence (\d+)", headings["error Recall"][0])
    claim("the refused recall answers the sequence its heading gives, another than the first Recall's",
          seq is not None and err_frame.seq == int(seq.group(1)) != frames["request Recall"][0].seq)
    claim("the refused recall: NotPermitted with `limit` = the window in seconds (120 for a Text), "
          "no retry_after_ms (section 5, Recall), and the message says the same window",
          err.code == k.NOT_PERMITTED and err.limit == TEXT_RECALL_MS // 1000 and err.retry_after_ms is None
          and f"{err.limit} s" in err.message)

    drq, drs = one("request DeleteForMe"), one("response DeleteForMe")
    claim("alice hides one message of her conversation with bob and clears it up to another",
          drq.with_ == k.Target.user(bob_id) and len(drq.message_ids) == 1 and drq.clear_up_to != 0)
    if len(drq.message_ids) != 1:
        return
    first, third = drq.message_ids[0], drq.clear_up_to
    claim("bob's first, second (recalled) and third messages ascend",
          first < second < third)
    claim("the three texts were sent at noon, the first at 12:00:00.000, the others within the minute",
          k.snowflake_time(first) == noon and k.snowflake_time(third) - noon < 60_000)
    claim("DeleteForMe lists no id as hidden by the call: the first message is covered by the clearing "
          "(section 5, DeleteForMe); cleared and read up to the third, nothing unread",
          drs == k.DeletedForMe(drq.with_, [], third, third, 0))
    claim("alice's tablet's DeletedForMe update carries DeleteForMe's response as its body (section 8.2, kind 12)",
          hidden.value == drs)
    claim("bob's Delivered update: his messages to alice up to the third reached her (section 8.2, kind 13)",
          delivered.value == k.Delivered(alice_id, third) and delivered.id > third)

    capped = [p for p in ex["response Sync"] if p.limited]
    claim("one Sync response of section 10 shows the offline cap (a non-empty `limited`)", len(capped) == 1)
    if len(capped) != 1:
        return
    page = capped[0]
    msgs = [u.value for u in page.updates if u.kind == k.UPDATE_MESSAGE]
    claim("carol's page holds one message, alice's to her, a tombstone: kind 9 Recalled, no content, no extra",
          len(page.updates) == len(msgs) == 1 and msgs[0].sender == alice_id
          and msgs[0].to == k.Target.user(carol_id) and msgs[0].kind == k.KIND_RECALLED
          and msgs[0].content == b"" and msgs[0].extra is None)
    claim("`limited` names the conversation with alice as carol addresses it (User(alice)), with older_than = "
          "the oldest message the page gives (section 5, Sync); more pages follow (more = true)",
          len(page.limited) == 1 and page.limited[0].with_ == k.Target.user(alice_id)
          and msgs and page.limited[0].older_than == msgs[0].id and page.more)


def retention_story(ex: dict, headings: dict, frames: dict, claim, one) -> None:
    alice_id, bob_id = one("response Login").session.user_id, one("response FindUser").user_id
    intro = " ".join(headings["intro 10.10"][0].split())
    m = re.search(r"The server keeps messages for (\d+) days .* Alice sets a week on her conversation with bob, and "
                  r"bob's phone hears of it; carol, an ordinary member of a group whose owner \(alice\) set (\d+) days",
                  intro)
    claim("section 10.10's introduction names alice's week with bob, and carol's group's and server's days",
          m is not None)
    if m is None:
        return
    week, server_days, group_days = 7 * DAY_SECONDS, int(m.group(1)) * DAY_SECONDS, int(m.group(2)) * DAY_SECONDS
    for i in range(2):
        rq, rs = frames["request Retention"][i], frames["response Retention"][i]
        claim(f"Retention request and response {i + 1} share their sequence id ({rq.seq})", rq.seq == rs.seq != 0)
    pushes = [u for u in ex["push Update"] if u.kind == k.UPDATE_RETENTION_CHANGED
              or (u.kind == k.UPDATE_MESSAGE and u.value.kind == k.KIND_SYSTEM
                  and u.value.group_event().variant == k.EVENT_RETENTION_CHANGED)]
    claim("section 10.10 has one Update push of kind 14 RetentionChanged, then one of kind 1 with the group's "
          "System message GroupEvent RetentionChanged", [u.kind for u in pushes]
          == [k.UPDATE_RETENTION_CHANGED, k.UPDATE_MESSAGE])
    if len(pushes) != 2:
        return
    changed, system = pushes

    rq, rs = one("request Retention", 0), one("response Retention", 0)
    claim("alice sets a week (604,800 s) on her conversation with bob (user 2 as FindUser named him)",
          rq.with_ == k.Target.user(bob_id) and rq.set == week)
    claim("Retention answers the conversation's week, the server's days, effective the shorter: the week "
          "(section 5, Retention)", rs == k.RetentionSetting(rq.with_, week, server_days, week))
    claim("bob's phone's RetentionChanged update: by alice, the conversation as she names it (User(bob)), "
          "the week (section 8.2, kind 14)", changed.value == k.RetentionChanged(alice_id, rq.with_, week))
    claim("seen from bob, the update names his conversation with alice (`by`, since `to` is himself)",
          changed.value.to.user_id == bob_id and changed.value.by == alice_id)

    grq, grs = one("request Retention", 1), one("response Retention", 1)
    claim("carol only asks (set absent) about a group", grq.with_.group_id is not None and grq.set is None)
    claim("the group's answer: its own retention the introduction's days, the server's its days, effective the "
          "shorter (section 5, Retention)", grs == k.RetentionSetting(grq.with_, group_days, server_days,
                                                              min(group_days, server_days)))
    h = re.search(r"the group has (\d+) days, the server (\d+)", headings["response Retention"][1])
    claim("the group's response heading gives the same days",
          h is not None and (int(h.group(1)) * DAY_SECONDS, int(h.group(2)) * DAY_SECONDS) == (grs.seconds,
                                                                                             grs.server_seconds))
    err, err_frame = one("error Retention"), frames["error Retention"][0]
    seq = re.search(r"sequence (\d+)", headings["error Retention"][0])
    claim("the refusal answers the sequence its heading gives, another than carol's question's",
          seq is not None and err_frame.seq == int(seq.group(1)) != frames["request Retention"][1].seq)
    claim("carol, an ordinary member, may not set it: NotPermitted, no retry_after_ms and no limit (section 5, Retention)",
          err.code == k.NOT_PERMITTED and err.retry_after_ms is None and err.limit is None)

    msg, event = system.value, system.value.group_event()
    owner = re.search(r"Alice, the group's owner, set (\d+) days", " ".join(headings["text 10.10"][0].split()))
    claim("\"Alice, the group's owner, set 30 days\": a System message in carol's group, sent by alice, "
          "GroupEvent RetentionChanged with the group's seconds, by alice",
          owner is not None and int(owner.group(1)) * DAY_SECONDS == event.seconds == grs.seconds
          and msg.to == grq.with_ and msg.sender == alice_id == event.by)
    claim("the System message is newer than the group (its id above the group id, section 8.7)",
          msg.id > grq.with_.group_id)


def presence_story(ex: dict, headings: dict, frames: dict, claim, one) -> None:
    rq, rs, push = one("request Presence"), one("response Presence"), one("push Presence")
    claim("Presence answers one entry per requested user, in request order (section 5, Presence)",
          [p.user_id for p in rs.users] == rq.users)
    alice, carol = rs.users
    claim("bob's friend alice shows online with last_seen 0; carol, a stranger under the default Friends "
          "audience, reads hidden: offline with last_seen 0", alice == k.PresenceInfo(rq.users[0], True, 0)
          and carol == k.PresenceInfo(rq.users[1], False, 0))
    claim("the push tells bob's watching phone that alice went offline, with when (a last_seen after 2026)",
          rq.watch and push.user_id == alice.user_id and not push.online and push.last_seen > ms_of("2026-01-01T00:00:00Z"))
    prq, prs = one("request Privacy", 1), one("response Privacy", 1)
    claim("alice's Privacy changes only her presence audience, to Everyone, and the answer keeps the rest",
          (prq.discoverable, prq.friend_policy, prq.presence) == (None, None, k.AUDIENCE_EVERYONE)
          and prs.presence == k.AUDIENCE_EVERYONE)
    grs = one("response GroupOnline")
    claim("GroupOnline counts at most the group's members", 0 < grs.online <= grs.member_count)


def moments_story(ex: dict, headings: dict, frames: dict, claim, one) -> None:
    intro = " ".join(headings["intro 10.20"][0].split())
    users = dict(re.findall(r"(alice|bob|carol|dave)(?:'s)? \(user (\d+)\)", intro, re.I))
    users = {name.lower(): int(uid) for name, uid in users.items()}
    photos = re.search(r"media ids (\d+) and (\d+)", intro)
    claim("section 10.20's introduction names alice, bob, carol and dave by user id, and alice's two photos",
          set(users) == {"alice", "bob", "carol", "dave"} and photos is not None)
    if set(users) != {"alice", "bob", "carol", "dave"} or photos is None:
        return
    alice, bob, carol, dave = users["alice"], users["bob"], users["carol"], users["dave"]
    for name in ("PublishMoment", "Feed", "LikeMoment", "GetMoment", "UserMoments", "MomentComments",
                 "MomentSettings", "MomentFilter", "DeleteComment", "DeleteMoment"):
        rq, rs = frames[f"request {name}"][0], frames[f"response {name}"][0]
        claim(f"{name} request and response share their sequence id ({rq.seq})", rq.seq == rs.seq != 0)
    for i in range(2):
        rq, rs = frames["request CommentMoment"][i], frames["response CommentMoment"][i]
        claim(f"CommentMoment request and response {i + 1} share their sequence id ({rq.seq})", rq.seq == rs.seq != 0)
    pushes = [u for u in ex["push Update"] if u.kind in REVISION_24_PUSH_KINDS]
    claim("section 10.20 has Update pushes of kinds 25 MomentPosted, 23 MomentLiked, then 24 MomentCommented "
          "twice, in that order", [u.kind for u in pushes] == REVISION_24_PUSH_KINDS)
    if [u.kind for u in pushes] != REVISION_24_PUSH_KINDS:
        return
    posted, liked, commented, answered = pushes

    prq, prs = one("request PublishMoment"), one("response PublishMoment")
    claim("alice posts her two photos, in the introduction's order, for every friend but carol (Except [carol])",
          prq.media == k.MomentMedia.of_images([int(photos.group(1)), int(photos.group(2))])
          and prq.visibility == k.MomentVisibility(k.MOMENT_EXCEPT, [carol]))
    claim("a first post, not a retry (duplicate false)", not prs.duplicate)
    claim("bob's phone's MomentPosted update: the new moment, by alice; its id is the moment's (section 8.2, kind 25)",
          posted.value == k.MomentPosted(prs.moment_id, alice) and posted.id == prs.moment_id)

    frq, feed = one("request Feed"), one("response Feed")
    claim("bob reads his feed's first page (before 0)", frq.before == 0)
    seen = feed.moments[0] if len(feed.moments) == 1 else None
    claim("bob's feed holds the moment alone, and nothing more (more false)", seen is not None and not feed.more)
    if seen is None:
        return
    claim("the feed shows the moment as posted: alice's, its text, photos and place",
          (seen.moment_id, seen.author, seen.text, seen.media, seen.location)
          == (prs.moment_id, alice, prq.text, prq.media, prq.location))
    claim("bob, not its author, reads no audience (visibility None), and no likes or comments yet",
          seen.visibility is None and (seen.like_count, seen.likes, seen.liked, seen.comment_count, seen.comments)
          == (0, [], False, 0, []))
    claim("the files are images, as a moment's photos must be (section 5, PublishMoment)",
          all(f.mime.startswith("image/") for f in seen.files))

    lrq = one("request LikeMoment")
    claim("bob likes the moment", lrq == k.LikeMomentRequest(prs.moment_id, True))
    claim("alice's MomentLiked update: her moment, liked by bob, after it was posted (section 8.2, kind 23)",
          liked.value == k.MomentLiked(prs.moment_id, bob) and liked.id > posted.id)

    crq, crs = one("request CommentMoment", 0), one("response CommentMoment", 0)
    claim("bob comments on the moment, replying to nobody",
          crq.moment_id == prs.moment_id and crq.reply_to is None)
    claim("CommentMoment answers bob's comment as he sees it",
          crs == k.MomentComment(crs.comment_id, prs.moment_id, bob, crq.text, None, 0))
    claim("alice's MomentCommented update: her moment, bob's comment; its id is the comment's (section 8.2, kind 24)",
          commented.value == k.MomentCommented(alice, crs) and commented.id == crs.comment_id)
    arq, ars = one("request CommentMoment", 1), one("response CommentMoment", 1)
    claim("alice answers bob's comment", arq.moment_id == prs.moment_id and arq.reply_to == crs.comment_id)
    claim("the answer is alice's, names bob's comment and bob as its writer (reply_to_user)",
          ars == k.MomentComment(ars.comment_id, prs.moment_id, alice, arq.text, crs.comment_id, bob)
          and ars.comment_id > crs.comment_id)
    claim("bob's MomentCommented update: alice's moment, her answer (section 8.2, kind 24)",
          answered.value == k.MomentCommented(alice, ars) and answered.id == ars.comment_id)

    grq, got = one("request GetMoment"), one("response GetMoment")
    claim("alice reads her moment by id", grq.moment_id == prs.moment_id)
    claim("its author reads its audience as posted, the files as bob's feed showed them",
          got.visibility == prq.visibility and got.files == seen.files
          and (got.text, got.media, got.location) == (seen.text, seen.media, seen.location))
    claim("alice sees bob's like (not hers: liked false) and both comments, oldest first",
          (got.like_count, got.likes, got.liked, got.comment_count, got.comments) == (1, [bob], False, 2, [crs, ars]))

    err = one("error GetMoment")
    seq = re.search(r"sequence (\d+)", headings["error GetMoment"][0])
    claim("carol, left out by the audience, finds nothing: NotFound, without a wait, a limit or a reason, "
          "on the sequence its heading gives", err.code == k.NOT_FOUND and err.retry_after_ms is None
          and err.limit is None and err.reason is None and seq is not None
          and frames["error GetMoment"][0].seq == int(seq.group(1)))
    urq, urs = one("request UserMoments"), one("response UserMoments")
    claim("carol's look at alice's page finds no moment, and no more",
          urq.user_id == alice and urq.before == 0 and urs == k.MomentPage([], False))

    mrq, mrs = one("request MomentComments"), one("response MomentComments")
    claim("bob's MomentComments: the moment's first page holds both comments, oldest first, and no more",
          mrq.moment_id == prs.moment_id and mrq.after == 0 and mrs == k.CommentPage([crs, ars], False))
    srq, srs = one("request MomentSettings"), one("response MomentSettings")
    claim("alice keeps her moments to the last month: window Month, set and answered",
          srq.window == k.WINDOW_MONTH and srs == k.MomentSettings(k.WINDOW_MONTH))
    frq2, frs2 = one("request MomentFilter"), one("response MomentFilter")
    claim("bob hides dave's moments from his feed, keeping the other setting; the answer shows both",
          frq2 == k.MomentFilterRequest(dave, None, True) and frs2 == k.MomentFilter(dave, False, True))
    claim("bob takes his comment down", one("request DeleteComment") == k.DeleteCommentRequest(prs.moment_id,
                                                                                               crs.comment_id))
    claim("alice takes the moment down", one("request DeleteMoment") == k.DeleteMomentRequest(prs.moment_id))


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "PROTOCOL.md")
    doc = open(path, encoding="utf-8").read()
    failures = 0
    count = 0
    rows_checked = 0
    examples: dict = {}
    headings: dict = {}
    frames: dict = {}
    # Every fenced hex/text block in section 10 that starts with a 13-byte header.
    sec10 = doc[doc.index("## 10. Hex examples"):doc.index("## 11.")]
    intro = re.search(r"### 10\.6 [^\n]*\n(.*?)\n####", sec10, re.S)
    headings["intro 10.6"] = [intro.group(1) if intro else ""]  # the story's request id and time
    intro = re.search(r"### 10\.8 [^\n]*\n(.*?)\n####", sec10, re.S)
    headings["intro 10.8"] = [intro.group(1) if intro else ""]  # the conversations' users, message and group
    intro = re.search(r"### 10\.9 [^\n]*\n(.*?)\n####", sec10, re.S)
    headings["intro 10.9"] = [intro.group(1) if intro else ""]  # who sent what to whom, and when
    intro = re.search(r"### 10\.10 [^\n]*\n(.*?)\n####", sec10, re.S)
    headings["intro 10.10"] = [intro.group(1) if intro else ""]  # alice's week, carol's group and server
    headings["text 10.10"] = [sec10[sec10.find("### 10.10 "):]]  # and what the group's owner did
    intro = re.search(r"### 10\.20 [^\n]*\n(.*?)\n####", sec10, re.S)
    headings["intro 10.20"] = [intro.group(1) if intro else ""]  # the moment's users and photos
    blocks = list(re.finditer(r"(?:<!-- example: (\w+) (\w+) -->\n)?```(hex|text)\n(.*?)```", sec10, re.S))
    for i, m in enumerate(blocks):
        kind, name, _, block = m.group(1), m.group(2), m.group(3), m.group(4)
        try:
            data = parse_hex_block(block)
        except ValueError:
            continue
        count += 1
        label = f"{kind or 'untagged'} {name or ''}".strip()
        try:
            frame, rest = k.decode_frame(data)
            assert not rest, f"{len(rest)} bytes after the frame"
            assert frame.version == 1
            # check the "# header: ... body N bytes" comment and "Total frame length"
            hc = re.search(r"action 0x([0-9a-f]{2}) (\w+), sequence (\d+), body (\d+) bytes", block)
            assert hc and int(hc.group(1), 16) == frame.action and int(hc.group(3)) == frame.seq \
                and int(hc.group(4)) == len(frame.body), "header comment disagrees with header bytes"
            assert k.ACTION_NAMES.get(frame.action) == hc.group(2), f"header comment names {hc.group(2)}"
            tail = sec10[m.end():blocks[i + 1].start() if i + 1 < len(blocks) else len(sec10)]
            tl = re.search(r"Total frame length: (\d+) bytes", tail)
            assert tl, "no Total frame length"
            assert int(tl.group(1)) == len(data), f"total {tl.group(1)} != {len(data)}"
            if kind == "request":
                action = NAME_TO_ACTION[name]
                assert frame.action == action and frame.seq != 0
                decoded = k.REQUEST_DECODERS[action](frame.body)
                encoded = k.REQUEST_ENCODERS[action](decoded)
            elif kind == "response":
                action = NAME_TO_ACTION[name]
                assert frame.action == action and frame.seq != 0
                decoded = k.RESPONSE_DECODERS[action](frame.body)
                encoded = k.RESPONSE_ENCODERS[action](decoded)
            elif kind == "error":
                assert frame.action == k.ERROR and name in NAME_TO_ACTION
                decoded = k.decode_error_body(frame.body)
                encoded = k.RESPONSE_ENCODERS[k.ERROR](decoded)
            elif kind == "push":
                assert frame.seq == 0 and frame.action == NAME_TO_PUSH[name]
                decoded = k.RESPONSE_DECODERS[frame.action](frame.body)
                encoded = k.RESPONSE_ENCODERS[frame.action](decoded)
            else:
                decoded = k.RESPONSE_DECODERS[frame.action](frame.body)
                encoded = k.RESPONSE_ENCODERS[frame.action](decoded)
            assert encoded == frame.body, f"re-encoded body differs: {encoded.hex()} != {frame.body.hex()}"
            assert k.encode_frame(frame.action, frame.seq, encoded) == data, "re-encoded frame differs"
            semantic_checks(decoded)
            rows_checked += check_table(parse_table(tail), frame, data, decoded)
            examples.setdefault(label, []).append(decoded)
            head = re.findall(r"^#### (.*)$", sec10[:m.start()], re.M)
            headings.setdefault(label, []).append(head[-1] if head else "")
            frames.setdefault(label, []).append(frame)
            print(f"ok   {label:28} seq={frame.seq:<2} {len(data):>3} bytes  {decoded!r:.90}")
        except Exception as e:  # noqa: BLE001
            failures += 1
            print(f"FAIL {label:28} {type(e).__name__}: {e}")
    # Every tagged example was decoded, and none of the required ones is missing.
    tags = re.findall(r"<!-- example: (\w+) (\w+) -->", sec10)
    all_tags = re.findall(r"<!-- example: ([^>]*?) -->", doc)
    decoded_count = sum(len(v) for key, v in examples.items() if not key.startswith("untagged"))
    ok = len(tags) == len(all_tags) == decoded_count
    print(f"{'ok  ' if ok else 'FAIL'} all {len(all_tags)} example tags are in section 10 and decoded "
          f"({decoded_count} decoded)")
    failures += 0 if ok else 1
    for label, n in REQUIRED_EXAMPLES.items():
        have = len(examples.get(label, []))
        if have < n:
            failures += 1
            print(f"FAIL example {label!r}: {have} in the document, expected at least {n}")
    try:
        for text, ok in story_checks(examples, headings, frames):
            print(f"{'ok  ' if ok else 'FAIL'} story: {text}")
            failures += 0 if ok else 1
    except Exception as e:  # noqa: BLE001
        failures += 1
        print(f"FAIL story: {type(e).__name__}: {e}")
    print(f"{count} examples ({rows_checked} table rows checked), {failures} failures")
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
