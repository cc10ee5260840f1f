"""Independent Python client for the kith wire protocol, version 1,
revision 9 (the update log of revision 2; token renewal with RenewToken and
AuthReply.renewed, ErrorBody.retry_after_ms and ErrorBody.limit of revision
3; the social graph of revision 4: profiles, privacy settings, user search,
friend requests, friends with remarks, blocking — actions 0x20-0x2c — and
update kinds 3-6; the invitation of RegisterRequest of revision 5; the
groups of revision 6: actions 0x30-0x44, Target variant 1 Group, MessageKind
8 System with its GroupEvent content, update kinds 7-8, error codes 20-21
and SyncPage.groups; the conversations of revision 7: ListConversations,
MarkRead, ReadReceipts and MessageReaders — actions 0x48-0x4b — and update
kinds 9 ReadPosition and 10 ReadReceipt; what happens after sending, of
revision 8: Recall and DeleteForMe — actions 0x4c-0x4d — MessageKind 9
Recalled, GroupEvent 11 MessageRecalled, update kinds 11 MessageRecalled, 12
DeletedForMe and 13 Delivered, and SyncPage.limited, the offline cap; the
retention of revision 9: Retention — action 0x4e — MessageKind 10 Expired,
GroupEvent 12 RetentionChanged and update kind 14 RetentionChanged; replies
and edits of revision 18: SendRequest.reply_to, Message.reply_to and
Message.edited, Edit — action 0x14 — GroupEvent 13 MessageEdited and update
kind 20 MessageEdited; pinned conversations and drafts of revision 19:
ConversationState and ConversationStates — actions 0x50-0x51 — and update
kind 21 ConversationStateChanged; reactions of revision 20: React and
Reactions — actions 0x52-0x53 — and update kind 22 ReactionChanged; moments
of revision 24: PublishMoment to MomentFilter — actions 0x60-0x6a — with
MomentMedia (an enum with data), Location (two i32 coordinates), the wire
enums MomentAudience and MomentWindow, and update kinds 23 MomentLiked, 24
MomentCommented and 25 MomentPosted).

Written only from docs/PROTOCOL.md (section numbers below refer to it).
Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import selectors
import socket
import ssl
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional

# The scenarios check with `assert`, which `python3 -O` (or PYTHONOPTIMIZE)
# strips: refuse to run rather than pass without checking anything.
if not __debug__:
    raise SystemExit("the independent client's checks are asserts: run it without -O and PYTHONOPTIMIZE")

# ---------------------------------------------------------------------------
# Constants (sections 2, 4.1, 5.1, 6)
# ---------------------------------------------------------------------------

PROTOCOL_VERSION = 1
HEADER_LEN = 13
ALPN = "kith/1"
MAX_SERVER_BODY = 16 * 1024 * 1024  # section 2.2: accept server bodies up to 16 MiB

# Actions (section 5.1)
HEARTBEAT = 0x01
REGISTER = 0x02
LOGIN = 0x03
AUTH = 0x04
LOGOUT = 0x05
CHANGE_PASSWORD = 0x06
FIND_USER = 0x07
RENEW_TOKEN = 0x08  # revision 3 (section 5, RenewToken)
DELETE_ACCOUNT = 0x09  # revision 13 (section 5, DeleteAccount)
PUSH_KEY = 0x0a  # revision 23 (section 5, PushKey)
SET_PUSH_ENDPOINT = 0x0b  # revision 23 (section 5, SetPushEndpoint)
SEND = 0x10
EDIT = 0x14  # revision 18
HISTORY = 0x13
SYNC = 0x18
ACK = 0x19
# Revision 4: the social graph (section 5, GetProfile to ListBlocked)
GET_PROFILE = 0x20
SET_PROFILE = 0x21
PRIVACY = 0x22
SEARCH_USERS = 0x23
ADD_FRIEND = 0x24
ANSWER_FRIEND = 0x25
LIST_FRIEND_REQUESTS = 0x26
LIST_FRIENDS = 0x27
REMOVE_FRIEND = 0x28
SET_REMARK = 0x29
BLOCK = 0x2A
UNBLOCK = 0x2B
LIST_BLOCKED = 0x2C
# Revision 11 (section 5, ProfileVisibility)
PROFILE_VISIBILITY = 0x2D
PRESENCE = 0x2E  # revision 22 (section 5, Presence)
# Revision 6: groups (section 5, CreateGroup to ListMembers)
CREATE_GROUP = 0x30
GET_GROUP = 0x31
UPDATE_GROUP = 0x32
DISSOLVE_GROUP = 0x33
TRANSFER_GROUP = 0x34
LEAVE_GROUP = 0x35
LIST_GROUPS = 0x36
JOIN_GROUP = 0x37
ANSWER_JOIN_REQUEST = 0x38
LIST_JOIN_REQUESTS = 0x39
INVITE_TO_GROUP = 0x3A
ANSWER_INVITATION = 0x3B
LIST_INVITATIONS = 0x3C
KICK_MEMBER = 0x3D
SET_ADMIN = 0x3E
BAN_USER = 0x3F
LIST_BANS = 0x40
MUTE_MEMBER = 0x41
MUTE_GROUP = 0x42
SET_ALIAS = 0x43
LIST_MEMBERS = 0x44
GROUP_ONLINE = 0x45  # revision 22 (section 5, GroupOnline)
# Revision 7: conversations (section 5, ListConversations to MessageReaders)
LIST_CONVERSATIONS = 0x48
MARK_READ = 0x49
READ_RECEIPTS = 0x4A
MESSAGE_READERS = 0x4B
# Revision 8: after sending (section 5, Recall to DeleteForMe)
RECALL = 0x4C
DELETE_FOR_ME = 0x4D
# Revision 9: retention (section 5, Retention)
RETENTION = 0x4E
# Revision 17: typing (section 5, Typing; the Typing push)
TYPING = 0x4F
CONVERSATION_STATE, CONVERSATION_STATES = 0x50, 0x51  # revision 19
REACT, REACTIONS = 0x52, 0x53  # revision 20
# Revision 15: media (StartUpload to MediaUrl)
START_UPLOAD = 0x58
UPLOAD_CHUNK = 0x59
UPLOAD_STATUS = 0x5A
FINISH_UPLOAD = 0x5B
GET_MEDIA = 0x5C
MEDIA_URL = 0x5D
# Revision 24: moments (section 5, PublishMoment to MomentFilter)
PUBLISH_MOMENT = 0x60
DELETE_MOMENT = 0x61
FEED = 0x62
USER_MOMENTS = 0x63
GET_MOMENT = 0x64
LIKE_MOMENT = 0x65
COMMENT_MOMENT = 0x66
DELETE_COMMENT = 0x67
MOMENT_COMMENTS = 0x68
MOMENT_SETTINGS = 0x69
MOMENT_FILTER = 0x6A
ERROR = 0x7F
PUSH_DISCONNECT = 0x81
PUSH_UPDATE = 0x82
PUSH_TYPING = 0x83
PUSH_PRESENCE = 0x84  # revision 22 (section 5, the Presence push)

# Retired by revision 2 (answered UnknownAction, section 5.1; this client only
# sends them to check that).
RETIRED_ACK = 0x11
RETIRED_SYNC_INBOX = 0x12
RETIRED_PUSH_MESSAGE = 0x80

# Error codes (section 6)
UNSUPPORTED_VERSION = 1
UNKNOWN_ACTION = 2
MALFORMED_BODY = 3
FRAME_TOO_LARGE = 4
NOT_AUTHENTICATED = 5
BAD_CREDENTIALS = 6
NOT_PERMITTED = 7
NOT_FOUND = 8
CONFLICT = 9
RATE_LIMITED = 10
INTERNAL = 11
INVALID_ARGUMENT = 12
ALREADY_AUTHENTICATED = 13
INVALID_TOKEN = 14
ACCOUNT_DISABLED = 15
BAD_SEQUENCE = 16
INVITATION_REQUIRED = 17  # revision 5 (section 5, Register)
INVALID_INVITATION = 18
REGISTRATION_CLOSED = 19
MUTED = 20  # revision 6 (section 5, CreateGroup's preamble)
BANNED = 21
FILE_TOO_LARGE = 22  # revision 15 (media): `limit` is the largest file, in bytes
QUOTA_EXCEEDED = 23  # `limit` the user's quota, `used` what they store now, in bytes
STORAGE_FULL = 24  # `limit` the free space the server keeps, `used` the free space left, in bytes

ERROR_NAMES = {
    1: "UnsupportedVersion", 2: "UnknownAction", 3: "MalformedBody", 4: "FrameTooLarge",
    5: "NotAuthenticated", 6: "BadCredentials", 7: "NotPermitted", 8: "NotFound",
    9: "Conflict", 10: "RateLimited", 11: "Internal", 12: "InvalidArgument",
    13: "AlreadyAuthenticated", 14: "InvalidToken", 15: "AccountDisabled", 16: "BadSequence",
    17: "InvitationRequired", 18: "InvalidInvitation", 19: "RegistrationClosed", 20: "Muted", 21: "Banned",
    22: "FileTooLarge", 23: "QuotaExceeded", 24: "StorageFull",
}

# Why a request was RateLimited: ErrorBody.reason (revision 14, section 4.2).
RATE_LIMIT_REQUESTS, RATE_LIMIT_FAILURES, RATE_LIMIT_QUOTA, RATE_LIMIT_BUSY = 1, 2, 3, 4
RATE_LIMIT_REASONS = {1: "Requests", 2: "Failures", 3: "Quota", 4: "Busy"}

# Wire enumerations (section 4.1). Values the server sends are kept as plain
# numbers even when unknown (section 3); only requests are checked strictly.
DEVICE_MOBILE, DEVICE_DESKTOP, DEVICE_WEB, DEVICE_TABLET = 1, 2, 3, 4
DEVICE_TYPE_NAMES = {1: "Mobile", 2: "Desktop", 3: "Web", 4: "Tablet"}
DEVICE_TYPES = set(DEVICE_TYPE_NAMES)
CLIENT_ANDROID, CLIENT_IOS, CLIENT_LINUX, CLIENT_WINDOWS, CLIENT_MACOS, CLIENT_WEB, CLIENT_OTHER = range(1, 8)
CLIENT_TYPE_NAMES = {1: "Android", 2: "Ios", 3: "Linux", 4: "Windows", 5: "Macos", 6: "Web", 7: "Other"}
CLIENT_TYPES = set(CLIENT_TYPE_NAMES)
KIND_TEXT, KIND_IMAGE, KIND_VOICE, KIND_VIDEO, KIND_FILE, KIND_LOCATION, KIND_CUSTOM, KIND_SYSTEM, \
    KIND_RECALLED, KIND_EXPIRED = range(1, 11)
MESSAGE_KIND_NAMES = {1: "Text", 2: "Image", 3: "Voice", 4: "Video", 5: "File", 6: "Location", 7: "Custom",
                      8: "System",  # System: revision 6, written by the server only
                      9: "Recalled",  # Recalled: revision 8, the tombstone of a recalled message (section 5, Recall)
                      10: "Expired"}  # Expired: revision 9, a list's `last` after it expired (section 5, Retention)
MESSAGE_KINDS = set(MESSAGE_KIND_NAMES)
DIRECTION_AFTER, DIRECTION_BEFORE = 0, 1
DIRECTION_NAMES = {0: "After", 1: "Before"}
DIRECTIONS = set(DIRECTION_NAMES)
DISCONNECT_REASONS = {
    1: "Kicked", 2: "LoggedOut", 3: "PasswordChanged", 4: "AccountDisabled",
    5: "ServerShutdown", 6: "SlowConsumer", 7: "IdleTimeout", 8: "AuthTimeout",
    9: "ProtocolError", 10: "AccountDeleted",  # AccountDeleted: revision 13
}
KICKED, LOGGED_OUT, PASSWORD_CHANGED, ACCOUNT_DISABLED_REASON, SERVER_SHUTDOWN, \
    SLOW_CONSUMER, IDLE_TIMEOUT, AUTH_TIMEOUT, PROTOCOL_ERROR, ACCOUNT_DELETED = range(1, 11)
# Revision 4 (section 4.1). Gender starts at 0; the others at 1.
GENDER_UNSPECIFIED, GENDER_FEMALE, GENDER_MALE, GENDER_OTHER = range(0, 4)
GENDER_NAMES = {0: "Unspecified", 1: "Female", 2: "Male", 3: "Other"}
GENDERS = set(GENDER_NAMES)
DISCOVERABLE_EVERYONE, DISCOVERABLE_EXACT_USERNAME = 1, 2
DISCOVERABLE_NAMES = {1: "Everyone", 2: "ExactUsername"}
DISCOVERABLES = set(DISCOVERABLE_NAMES)
AUDIENCE_EVERYONE, AUDIENCE_FRIENDS, AUDIENCE_NOBODY = 1, 2, 3
AUDIENCE_NAMES = {1: "Everyone", 2: "Friends", 3: "Nobody"}
AUDIENCES = set(AUDIENCE_NAMES)
POLICY_REQUIRE_APPROVAL, POLICY_ACCEPT_ALL, POLICY_REFUSE_ALL = 1, 2, 3
FRIEND_POLICY_NAMES = {1: "RequireApproval", 2: "AcceptAll", 3: "RefuseAll"}
FRIEND_POLICIES = set(FRIEND_POLICY_NAMES)
REQUEST_PENDING, REQUEST_ACCEPTED, REQUEST_REJECTED, REQUEST_EXPIRED = 1, 2, 3, 4
REQUEST_STATE_NAMES = {1: "Pending", 2: "Accepted", 3: "Rejected", 4: "Expired"}
REQUEST_STATES = set(REQUEST_STATE_NAMES)
BOX_INCOMING, BOX_OUTGOING = 1, 2
REQUEST_BOX_NAMES = {1: "Incoming", 2: "Outgoing"}
REQUEST_BOXES = set(REQUEST_BOX_NAMES)
# Revision 6 (section 4.1).
JOIN_OPEN, JOIN_APPROVAL, JOIN_INVITE_ONLY = 1, 2, 3
JOIN_POLICY_NAMES = {1: "Open", 2: "Approval", 3: "InviteOnly"}
JOIN_POLICIES = set(JOIN_POLICY_NAMES)
ROLE_MEMBER, ROLE_ADMIN, ROLE_OWNER = 1, 2, 3
GROUP_ROLE_NAMES = {1: "Member", 2: "Admin", 3: "Owner"}
# Revision 15: what an upload is for (StartUpload's `purpose`).
PURPOSE_MESSAGE, PURPOSE_AVATAR, PURPOSE_GROUP_AVATAR, PURPOSE_MOMENT = 1, 2, 3, 4
MEDIA_PURPOSE_NAMES = {1: "Message", 2: "Avatar", 3: "GroupAvatar", 4: "Moment"}
MEDIA_PURPOSES = set(MEDIA_PURPOSE_NAMES)
# The kinds whose content is a MediaContent (revision 15).
MEDIA_KINDS = {KIND_IMAGE, KIND_VOICE, KIND_VIDEO, KIND_FILE}
# Revision 24 (section 5, Moments): who sees a moment besides its author, and
# how far back others see one's moments.
MOMENT_PUBLIC, MOMENT_FRIENDS, MOMENT_ONLY, MOMENT_EXCEPT = 1, 2, 3, 4
MOMENT_AUDIENCE_NAMES = {1: "Public", 2: "Friends", 3: "Only", 4: "Except"}
MOMENT_AUDIENCES = set(MOMENT_AUDIENCE_NAMES)
WINDOW_ALL, WINDOW_THREE_DAYS, WINDOW_MONTH, WINDOW_HALF_YEAR = 1, 2, 3, 4
MOMENT_WINDOW_NAMES = {1: "All", 2: "ThreeDays", 3: "Month", 4: "HalfYear"}
MOMENT_WINDOWS = set(MOMENT_WINDOW_NAMES)

# Enums with data (section 3: u32 variant index, then the variant's data).
TARGET_USER, TARGET_GROUP = 0, 1  # Target (section 4.2); Group is revision 6
TARGET_NAMES = {0: "User", 1: "Group"}
JOINED, REQUESTED = 0, 1  # JoinOutcome (section 5, JoinGroup)
JOIN_OUTCOME_NAMES = {0: "Joined", 1: "Requested"}
# MomentMedia (revision 24, section 5, Moments): a moment's files.
MOMENT_MEDIA_NONE, MOMENT_MEDIA_IMAGES, MOMENT_MEDIA_VIDEO = 0, 1, 2
MOMENT_MEDIA_NAMES = {0: "None", 1: "Images", 2: "Video"}
# GroupEvent, the content of a System message (section 4.2): the variants and
# their fields, in wire order (`from` is `from_` here, a Python keyword).
# MessageRecalled is revision 8 (section 5, Recall), RetentionChanged revision 9 (section 5, Retention).
EVENT_CREATED, EVENT_JOINED, EVENT_LEFT, EVENT_KICKED, EVENT_BANNED, EVENT_ROLE_CHANGED, EVENT_INFO_CHANGED, \
    EVENT_OWNERSHIP_TRANSFERRED, EVENT_MUTED, EVENT_GROUP_MUTED, EVENT_DISSOLVED, \
    EVENT_MESSAGE_RECALLED, EVENT_RETENTION_CHANGED, EVENT_MESSAGE_EDITED = range(14)
GROUP_EVENT_NAMES = {
    0: "Created", 1: "Joined", 2: "Left", 3: "Kicked", 4: "Banned", 5: "RoleChanged", 6: "InfoChanged",
    7: "OwnershipTransferred", 8: "Muted", 9: "GroupMuted", 10: "Dissolved", 11: "MessageRecalled",
    12: "RetentionChanged", 13: "MessageEdited",
}
GROUP_EVENT_FIELDS = {
    EVENT_CREATED: ("by",), EVENT_JOINED: ("user_id", "by"), EVENT_LEFT: ("user_id",),
    EVENT_KICKED: ("user_id", "by"), EVENT_BANNED: ("user_id", "by"), EVENT_ROLE_CHANGED: ("user_id", "role", "by"),
    EVENT_INFO_CHANGED: ("by", "fields"), EVENT_OWNERSHIP_TRANSFERRED: ("from_", "to"),
    EVENT_MUTED: ("user_id", "until", "by"), EVENT_GROUP_MUTED: ("muted", "by"), EVENT_DISSOLVED: ("by",),
    EVENT_MESSAGE_RECALLED: ("message_id", "sender", "by"), EVENT_RETENTION_CHANGED: ("seconds", "by"),
    EVENT_MESSAGE_EDITED: ("message_id", "sender", "edited_at"),
}

# Update kinds (section 8.2). A kind not listed here is skipped (section 8.5).
UPDATE_MESSAGE, UPDATE_NEW_LOGIN = 1, 2
# Revision 4: the social graph.
UPDATE_FRIEND_REQUEST, UPDATE_FRIEND_ANSWERED, UPDATE_FRIEND_REMOVED, UPDATE_BLOCK_CHANGED = 3, 4, 5, 6
# Revision 6: groups.
UPDATE_GROUP_JOIN_REQUEST, UPDATE_GROUP_INVITATION = 7, 8
# Revision 7: conversations.
UPDATE_READ_POSITION, UPDATE_READ_RECEIPT = 9, 10
# Revision 8: after sending.
UPDATE_MESSAGE_RECALLED, UPDATE_DELETED_FOR_ME, UPDATE_DELIVERED = 11, 12, 13
# Revision 9: retention, and read receipts changed on another device.
UPDATE_RETENTION_CHANGED, UPDATE_READ_RECEIPTS_CHANGED = 14, 15
# Revision 12: settings changed on another device.
UPDATE_PROFILE_CHANGED, UPDATE_PRIVACY_CHANGED, UPDATE_PROFILE_VISIBILITY_CHANGED, UPDATE_REMARK_CHANGED = 16, 17, 18, 19
# Revision 18: edits; revision 19: pins and drafts on another device.
UPDATE_MESSAGE_EDITED, UPDATE_CONVERSATION_STATE_CHANGED = 20, 21
UPDATE_REACTION_CHANGED = 22  # revision 20
# Revision 24: moments; 25 MomentPosted is pushed live only, never in the log.
UPDATE_MOMENT_LIKED, UPDATE_MOMENT_COMMENTED, UPDATE_MOMENT_POSTED = 23, 24, 25
UPDATE_KIND_NAMES = {
    UPDATE_MESSAGE: "Message", UPDATE_NEW_LOGIN: "NewLogin", UPDATE_FRIEND_REQUEST: "FriendRequest",
    UPDATE_FRIEND_ANSWERED: "FriendAnswered", UPDATE_FRIEND_REMOVED: "FriendRemoved",
    UPDATE_BLOCK_CHANGED: "BlockChanged", UPDATE_GROUP_JOIN_REQUEST: "GroupJoinRequest",
    UPDATE_GROUP_INVITATION: "GroupInvitation", UPDATE_READ_POSITION: "ReadPosition",
    UPDATE_READ_RECEIPT: "ReadReceipt", UPDATE_MESSAGE_RECALLED: "MessageRecalled",
    UPDATE_DELETED_FOR_ME: "DeletedForMe", UPDATE_DELIVERED: "Delivered",
    UPDATE_RETENTION_CHANGED: "RetentionChanged", UPDATE_READ_RECEIPTS_CHANGED: "ReadReceiptsChanged",
    UPDATE_PROFILE_CHANGED: "ProfileChanged", UPDATE_PRIVACY_CHANGED: "PrivacyChanged",
    UPDATE_PROFILE_VISIBILITY_CHANGED: "ProfileVisibilityChanged", UPDATE_REMARK_CHANGED: "RemarkChanged",
    UPDATE_MESSAGE_EDITED: "MessageEdited", UPDATE_CONVERSATION_STATE_CHANGED: "ConversationStateChanged",
    UPDATE_REACTION_CHANGED: "ReactionChanged", UPDATE_MOMENT_LIKED: "MomentLiked",
    UPDATE_MOMENT_COMMENTED: "MomentCommented", UPDATE_MOMENT_POSTED: "MomentPosted",
}

SNOWFLAKE_EPOCH_MS = 1_735_689_600_000  # section 8.7
DEFAULT_FRIEND_REQUEST_TTL_MS = 7 * 86_400_000  # section 4.1 RequestState Expired: 7 days by default
READ_EVERYTHING = 2**64 - 1  # MarkRead's up_to u64::MAX: "everything" (section 5, MarkRead)
PREVIEW_CHARS = 64  # LastMessage.preview: the first 64 characters of a Text message (section 5, ListConversations)
MAX_DELETE_IDS = 100  # DeleteForMe: at most 100 message_ids (section 5, DeleteForMe)
# Recall windows by default, in seconds (section 5, Recall, conversation.recall_seconds): 120 s for Text,
# Image, Voice, Location and Custom; 3 hours for Video and File. System messages cannot be recalled.
DEFAULT_RECALL_SECONDS = {KIND_TEXT: 120, KIND_IMAGE: 120, KIND_VOICE: 120, KIND_LOCATION: 120, KIND_CUSTOM: 120,
                          KIND_VIDEO: 10_800, KIND_FILE: 10_800}
# Retention (section 5, Retention): a conversation's own retention is at most 100 years, in seconds (a larger
# `set` is InvalidArgument, its `limit` this value); 0 means none of its own.
MAX_RETENTION_SECONDS = 3_153_600_000
# Media (revision 15): most bytes of one UploadChunk and one GetMedia by default (media.chunk_bytes); StartUpload
# answers the server's own, and a larger GetMedia `length` is InvalidArgument with `limit` the server's.
DEFAULT_CHUNK_BYTES = 64 * 1024
# Moments (revision 24, section 5, Moments), by default: at most 9 images, text of 2,000 characters, comments
# of 500, 500 users listed in an audience; a Moment carries the first 20 likes and comments; pages of 1-100.
MOMENT_IMAGES_MAX = 9
MOMENT_TEXT_MAX_CHARS = 2_000
MOMENT_COMMENT_MAX_CHARS = 500
MOMENT_LISTED_MAX = 500
MOMENT_FIRST_LISTED = 20
LATITUDE_E7_MAX, LONGITUDE_E7_MAX = 900_000_000, 1_800_000_000


# ---------------------------------------------------------------------------
# Exceptions
# ---------------------------------------------------------------------------

class KithError(Exception):
    """An Error (0x7f) response from the server (ErrorBody, section 4.2).

    `retry_after_ms`: with RateLimited, how long to wait before retrying (None
    when the server sent none; section 11 suggests 1 s then). `limit`: the
    configured limit the request ran into (bytes, items or registrations per
    hour), or None. `reason`: with RateLimited, a RATE_LIMIT_* number
    (revision 14), or None. `used`: with QuotaExceeded and StorageFull, the
    current use beside `limit`, in the same unit (revision 15), or None.
    """

    def __init__(self, code: int, message: str, action: Optional[int] = None, *,
                 retry_after_ms: Optional[int] = None, limit: Optional[int] = None,
                 reason: Optional[int] = None, used: Optional[int] = None):
        self.code = code
        self.message = message
        self.action = action
        self.retry_after_ms = retry_after_ms
        self.limit = limit
        self.reason = reason
        self.used = used
        extra = ""
        if retry_after_ms is not None:
            extra += f", retry after {retry_after_ms} ms"
        if limit is not None:
            extra += f", limit {limit}"
        if reason is not None:
            extra += f", reason {RATE_LIMIT_REASONS.get(reason, reason)}"
        if used is not None:
            extra += f", used {used}"
        super().__init__(f"kith error {code} ({ERROR_NAMES.get(code, 'Unknown')}): {message}{extra}")

    @classmethod
    def from_body(cls, e: "ErrorBody", action: Optional[int] = None) -> "KithError":
        return cls(e.code, e.message, action, retry_after_ms=e.retry_after_ms, limit=e.limit, reason=e.reason,
                   used=e.used)

    @property
    def name(self) -> str:
        return ERROR_NAMES.get(self.code, "Unknown")


class DecodeError(Exception):
    """A body or frame from the server could not be decoded strictly."""


class ConnectionClosed(Exception):
    """The connection ended before a response arrived."""


class PinMismatch(ssl.SSLError):
    """The server's leaf certificate does not match the pinned fingerprint."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "certificate pin mismatch"


# ---------------------------------------------------------------------------
# Frames (section 2)
# ---------------------------------------------------------------------------

_HEADER = struct.Struct(">IBII")


@dataclass
class Frame:
    action: int
    seq: int
    body: bytes
    version: int = PROTOCOL_VERSION

    def encode(self) -> bytes:
        return _HEADER.pack(self.version, self.action, self.seq, len(self.body)) + self.body


def encode_frame(action: int, seq: int, body: bytes = b"", version: int = PROTOCOL_VERSION) -> bytes:
    return _HEADER.pack(version, action, seq, len(body)) + body


def decode_header(header: bytes) -> tuple[int, int, int, int]:
    if len(header) != HEADER_LEN:
        raise DecodeError("header must be 13 bytes")
    return _HEADER.unpack(header)  # version, action, seq, body_length


def decode_frame(data: bytes) -> tuple[Frame, bytes]:
    """Decode one frame from the start of `data`; returns (frame, rest)."""
    if len(data) < HEADER_LEN:
        raise DecodeError("short header")
    version, action, seq, n = decode_header(data[:HEADER_LEN])
    if len(data) < HEADER_LEN + n:
        raise DecodeError("short body")
    return Frame(action, seq, bytes(data[HEADER_LEN:HEADER_LEN + n]), version), data[HEADER_LEN + n:]


# ---------------------------------------------------------------------------
# Body encoding (section 3)
# ---------------------------------------------------------------------------

class Writer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, v: int) -> "Writer":
        self._parts.append(struct.pack(">B", v)); return self

    def u16(self, v: int) -> "Writer":
        self._parts.append(struct.pack(">H", v)); return self

    def u32(self, v: int) -> "Writer":
        self._parts.append(struct.pack(">I", v)); return self

    def u64(self, v: int) -> "Writer":
        self._parts.append(struct.pack(">Q", v)); return self

    def i32(self, v: int) -> "Writer":
        # revision 24: 4 bytes, big-endian two's complement (section 5, Moments, Location)
        self._parts.append(struct.pack(">i", v)); return self

    def bool(self, v: bool) -> "Writer":
        return self.u8(1 if v else 0)

    def bytes(self, v: bytes) -> "Writer":
        self.u64(len(v)); self._parts.append(bytes(v)); return self

    def string(self, v: str) -> "Writer":
        return self.bytes(v.encode("utf-8"))

    def id16(self, v: bytes) -> "Writer":
        if len(v) != 16:
            raise ValueError("Id16 must be exactly 16 bytes")
        self._parts.append(bytes(v)); return self

    def sha256(self, v: bytes) -> "Writer":
        if len(v) != 32:
            raise ValueError("a SHA-256 must be exactly 32 bytes")
        self._parts.append(bytes(v)); return self

    def option(self, v, item: Callable[["Writer", object], object]) -> "Writer":
        if v is None:
            return self.u8(0)
        self.u8(1); item(self, v); return self

    def opt_string(self, v: Optional[str]) -> "Writer":
        return self.option(v, lambda w, x: w.string(x))

    def vec(self, items, item: Callable[["Writer", object], object]) -> "Writer":
        self.u64(len(items))
        for x in items:
            item(self, x)
        return self

    def target(self, t: "Target") -> "Writer":
        return self.u32(t.variant).u64(t.id)

    def build(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Strict decoder: lengths checked, trailing bytes rejected, strict UTF-8."""

    def __init__(self, body: bytes):
        self._b = memoryview(bytes(body))
        self._i = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or n > len(self._b) - self._i:
            raise DecodeError(f"need {n} bytes, {len(self._b) - self._i} left")
        out = bytes(self._b[self._i:self._i + n])
        self._i += n
        return out

    def remaining(self) -> int:
        return len(self._b) - self._i

    def u8(self) -> int:
        return self._take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self._take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self._take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self._take(8))[0]

    def i32(self) -> int:
        return struct.unpack(">i", self._take(4))[0]

    def bool(self) -> bool:
        v = self.u8()
        if v not in (0, 1):
            raise DecodeError(f"bool byte {v}")
        return v == 1

    def _length(self) -> int:
        n = self.u64()
        if n > self.remaining():
            raise DecodeError(f"length {n} past end of body ({self.remaining()} left)")
        return n

    def bytes(self) -> bytes:
        return self._take(self._length())

    def string(self) -> str:
        raw = self.bytes()
        try:
            return raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            raise DecodeError(f"invalid UTF-8: {e}") from None

    def id16(self) -> bytes:
        return self._take(16)

    def sha256(self) -> bytes:
        return self._take(32)

    def option(self, item: Callable[["Reader"], object]):
        tag = self.u8()
        if tag == 0:
            return None
        if tag == 1:
            return item(self)
        raise DecodeError(f"option tag {tag}")

    def vec(self, item: Callable[["Reader"], object]) -> list:
        n = self._length()  # a count is never larger than the bytes left
        return [item(self) for _ in range(n)]

    def target(self) -> "Target":
        # An unknown variant cannot be skipped (its data has no length), so it
        # fails the whole body, as it does on the server.
        variant = self.u32()
        if variant not in TARGET_NAMES:
            raise DecodeError(f"Target variant {variant}")
        return Target(variant, self.u64())

    def enum(self, allowed, what: str) -> int:
        v = self.u8()
        if v not in allowed:
            raise DecodeError(f"unknown {what} value {v}")
        return v

    def end(self) -> None:
        if self.remaining():
            raise DecodeError(f"{self.remaining()} trailing bytes")


# ---------------------------------------------------------------------------
# Shared structures (section 4.2) and per-action bodies (section 5)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """Where a message goes, or which conversation (section 4.2): variant 0
    User, the one-to-one conversation with a user; variant 1 Group, a
    group's conversation (revision 6)."""
    variant: int  # TARGET_USER or TARGET_GROUP
    id: int  # the user id or the group id

    @classmethod
    def user(cls, user_id: int) -> "Target":
        return cls(TARGET_USER, user_id)

    @classmethod
    def group(cls, group_id: int) -> "Target":
        return cls(TARGET_GROUP, group_id)

    @property
    def user_id(self) -> Optional[int]:
        return self.id if self.variant == TARGET_USER else None

    @property
    def group_id(self) -> Optional[int]:
        return self.id if self.variant == TARGET_GROUP else None

    def __repr__(self) -> str:
        return f"{TARGET_NAMES.get(self.variant, self.variant)}({self.id})"


def as_target(to: "Target | int") -> Target:
    """`to` as a Target; a plain int is a user id (Target User)."""
    return to if isinstance(to, Target) else Target.user(to)


@dataclass
class DeviceInfo:
    device_id: str
    device_type: int = DEVICE_DESKTOP
    client_type: int = CLIENT_OTHER


@dataclass
class TokenReply:
    token: bytes
    expires_at: int  # ms since the Unix epoch


@dataclass
class AuthReply:
    user_id: int
    username: str
    device_id: str
    cursor: int  # highest update id this device acknowledged (0 if none)
    latest: int  # highest update id in the user's update log (0 if none)
    # Revision 3: with Auth only, a fresh token when the one used is near its
    # expiry (section 5, Auth); always None in a LoginReply's session.
    renewed: Optional[TokenReply] = None


@dataclass
class LoginReply:
    token: bytes
    expires_at: int
    session: AuthReply


@dataclass
class UserInfo:
    user_id: int
    username: str


@dataclass
class SendReply:
    message_id: int
    server_time: int
    duplicate: bool


@dataclass
class Message:
    id: int
    sender: int
    to: Target  # User(recipient) as the sender addressed it, or Group(group id)
    client_msg_id: bytes
    kind: int  # MessageKind; unknown values are kept as numbers
    content: bytes
    extra: Optional[str]
    server_time: int
    reply_to: int = 0  # revision 18: the message this one answers, 0 for none
    edited: int = 0  # revision 18: when its sender last edited it (ms), 0 if never
    mentions: list = field(default_factory=list)  # revision 21: members mentioned; 0 = everyone

    def group_event(self) -> "Optional[GroupEvent]":
        """The GroupEvent a System message holds (section 4.2), None for
        any other kind."""
        return decode_group_event(self.content) if self.kind == KIND_SYSTEM else None

    def media_content(self) -> "Optional[MediaContent]":
        """The MediaContent an Image, Voice, Video or File message holds
        (revision 15), None for any other kind."""
        return decode_media_content(self.content) if self.kind in MEDIA_KINDS else None

    @property
    def recalled(self) -> bool:
        """A tombstone of a recalled message (revision 8, section 4.1 MessageKind
        9): no content, no extra; show "message recalled"."""
        return self.kind == KIND_RECALLED


@dataclass
class Page:
    messages: list
    more: bool


@dataclass
class NewLogin:
    """Body of an update of kind 2 (section 8.2)."""
    device_id: str
    device_type: int  # DeviceType, kept as a number
    client_type: int  # ClientType, kept as a number
    address: str


@dataclass
class Update:
    """One entry of the user's update log (sections 4.2, 8).

    `body` is the kind's encoded body as sent; `value` is that body decoded
    (a Message for kind 1, a NewLogin for kind 2, a FriendRequestInfo for
    kinds 3 FriendRequest and 4 FriendAnswered, a FriendRemoved for kind 5, a
    BlockChanged for kind 6, a JoinRequestInfo for kind 7 GroupJoinRequest,
    an InvitationInfo for kind 8 GroupInvitation, a ReadPosition for kind 9,
    a ReadReceipt for kind 10, a Recalled for kind 11 MessageRecalled, a
    DeletedForMe for kind 12, a Delivered for kind 13, a RetentionChanged for
    kind 14; revision 24: a MomentLiked for kind 23, a MomentCommented for
    kind 24, a MomentPosted for kind 25), or None for a kind this client does
    not know: such an update is skipped, but its id still counts (section 8.5).
    """
    id: int
    kind: int
    body: bytes = field(repr=False)
    value: object = None

    @property
    def known(self) -> bool:
        return self.kind in UPDATE_KIND_NAMES

    @property
    def kind_name(self) -> str:
        return UPDATE_KIND_NAMES.get(self.kind, f"Unknown({self.kind})")


@dataclass
class SyncPage:
    updates: list  # of Update, ascending ids
    more: bool
    # Revision 6: groups above the write diffusion threshold with messages
    # newer than the request's `after`, to pull with History (section 8.3).
    groups: list  # of GroupNews
    # Revision 8: conversations with more messages after `after` than the
    # server's offline cap; their older messages wait in History below
    # `older_than` (section 8.3, "The offline cap").
    limited: list = field(default_factory=list)  # of Limited
    # Revision 11: 0, or the newest notice removed past the server's horizon
    # above `after`: re-read friends, requests, groups, invitations and the
    # conversation list (section 8.3, "The horizon").
    notices_dropped: int = 0


@dataclass
class TypingPush:
    """Someone is typing in a conversation of ours, or stopped (never stored)."""
    user_id: int  # who types
    with_: Target  # the conversation as we name it (`with` in the document)
    typing: bool  # True: show "typing…"; False: stop
    for_ms: int  # show it at most this long unless renewed


@dataclass
class DisconnectPush:
    reason: int
    message: str

    @property
    def reason_name(self) -> str:
        return DISCONNECT_REASONS.get(self.reason, f"Unknown({self.reason})")


@dataclass
class ErrorBody:
    code: int
    message: str
    retry_after_ms: Optional[int] = None  # revision 3: with RateLimited, the wait
    limit: Optional[int] = None  # revision 3: the configured limit that was hit
    reason: Optional[int] = None  # revision 14: with RateLimited, a RATE_LIMIT_* number
    used: Optional[int] = None  # revision 15: with QuotaExceeded and StorageFull, the current use beside `limit`


# --- Revision 4: the social graph (sections 4.2, GetProfile-ListBlocked, 8.2) ---
# Enumerated values the server sends (gender, state, privacy settings) are
# kept as plain numbers even when unknown (section 3); requests are checked.

@dataclass
class BirthDate:
    year: int
    month: int
    day: int


@dataclass
class Profile:
    """What a user tells about themselves (section 4.2). The default is the
    empty profile of a user who never set one."""
    nickname: str = ""
    avatar: int = 0  # media id of an image the user uploaded, 0 for none
    gender: int = GENDER_UNSPECIFIED
    birth_date: Optional[BirthDate] = None
    signature: str = ""
    city: str = ""
    province: str = ""
    extra: str = ""


@dataclass
class UserProfile:
    """The GetProfile and SetProfile response (sections GetProfile, SetProfile)."""
    user_id: int
    username: str
    profile: Profile


@dataclass
class PrivacySettings:
    """The Privacy response (section 5, Privacy)."""
    discoverable: int
    friend_policy: int
    presence: int = AUDIENCE_FRIENDS  # revision 22: who sees us online and our last seen


@dataclass
class PresenceInfo:
    """One user's presence as we may see it (section 5, Presence); hidden
    reads as offline with last_seen 0."""
    user_id: int
    online: bool
    last_seen: int  # ms since the Unix epoch; 0 when online or hidden


@dataclass
class PresenceList:
    """The Presence response: one entry per requested user, in order."""
    users: list  # of PresenceInfo


@dataclass
class GroupOnline:
    """The GroupOnline response (section 5, GroupOnline)."""
    member_count: int
    online: int  # members online now whose presence we may see, us included


@dataclass
class FieldVisibility:
    """The ProfileVisibility response (section 5, ProfileVisibility): who sees each personal field."""
    birth_date: int
    city: int
    province: int


@dataclass
class UserCard:
    """A user as lists show them (section 4.2)."""
    user_id: int
    username: str
    nickname: str
    avatar: int  # media id, 0 for none


@dataclass
class UserPage:
    """The SearchUsers response (section 5, SearchUsers); `cursor` is opaque."""
    users: list  # of UserCard
    cursor: bytes
    more: bool


@dataclass
class FriendRequestInfo:
    """A friend request (section 4.2): the AddFriend and AnswerFriend
    responses, an entry of a FriendRequestPage, and the body of updates of
    kinds 3 FriendRequest and 4 FriendAnswered. `from` is `from_` here (a
    Python keyword)."""
    id: int  # a snowflake: its time is when the request was sent
    from_: UserCard
    to: UserCard
    message: str
    state: int  # RequestState, kept as a number
    expires_at: int  # ms since the Unix epoch
    answered_at: int  # ms since the Unix epoch; 0 if not answered

    @property
    def state_name(self) -> str:
        return REQUEST_STATE_NAMES.get(self.state, f"Unknown({self.state})")


@dataclass
class FriendRequestPage:
    """The ListFriendRequests response (section 5, ListFriendRequests)."""
    requests: list  # of FriendRequestInfo, newest first
    more: bool
    pending_incoming: int  # the badge: incoming requests still answerable


@dataclass
class Friend:
    user: UserCard
    remark: str  # your private name for them, may be empty
    since: int  # ms since the Unix epoch


@dataclass
class FriendPage:
    """The ListFriends response (section 5, ListFriends)."""
    friends: list  # of Friend, ascending user ids
    more: bool


@dataclass
class BlockedUser:
    user: UserCard
    since: int  # ms since the Unix epoch


@dataclass
class BlockedPage:
    """The ListBlocked response (section 5, ListBlocked)."""
    users: list  # of BlockedUser, ascending user ids
    more: bool


@dataclass
class FriendRemoved:
    """Body of an update of kind 5 (section 8.2)."""
    by: int  # who ended the friendship
    user_id: int  # the other one


@dataclass
class BlockChanged:
    """Body of an update of kind 6 (section 8.2)."""
    user_id: int
    blocked: bool


@dataclass
class RemarkChanged:
    """Body of an update of kind 19 (section 8.2, revision 12)."""
    user_id: int
    remark: str


# --- Revision 6: groups (sections 4.2, CreateGroup-ListMembers, 8.2, 8.3) ---
# As for the social graph, enumerated values the server sends (join policy,
# role, state) are kept as plain numbers; requests are checked.

@dataclass
class GroupFields:
    """A group's editable information (section 4.2): CreateGroup,
    UpdateGroup, and the InfoChanged event."""
    name: str
    avatar: int = 0  # media id of an image the setter uploaded, 0 for none
    introduction: str = ""
    announcement: str = ""
    join_policy: int = JOIN_OPEN
    history_visible: bool = False


@dataclass
class GroupInfo:
    """A group as a user sees it (section 4.2)."""
    group_id: int  # a snowflake: its time is the creation time
    name: str
    avatar: int  # media id, 0 for none
    introduction: str
    announcement: str
    join_policy: int  # JoinPolicy, kept as a number
    history_visible: bool
    muted: bool  # only the owner and admins may speak
    owner: int
    member_count: int
    my_role: Optional[int]  # GroupRole of the caller, None if not a member


@dataclass
class CreateGroupReply:
    """The CreateGroup response (section 5, CreateGroup)."""
    group: GroupInfo
    joined: list  # of user ids: members now
    invited: list  # of user ids: sent an invitation
    refused: list  # of user ids: could not be invited


@dataclass
class GroupPage:
    """The ListGroups response (section 5, ListGroups)."""
    groups: list  # of GroupInfo, ascending ids
    more: bool


@dataclass
class JoinRequestInfo:
    """A request to join a group (section 4.2): the body of an update of
    kind 7 GroupJoinRequest, JoinOutcome Requested, the AnswerJoinRequest
    response, an entry of a JoinRequestPage."""
    id: int  # its update id when filed
    group_id: int
    group_name: str
    user: UserCard  # who asked
    message: str
    state: int  # RequestState, kept as a number
    answered_by: int  # 0 while pending

    @property
    def state_name(self) -> str:
        return REQUEST_STATE_NAMES.get(self.state, f"Unknown({self.state})")


@dataclass
class JoinOutcome:
    """The JoinGroup response (section 5, JoinGroup), an enum: variant 0 Joined with
    the GroupInfo, or 1 Requested with the JoinRequestInfo that waits."""
    variant: int  # JOINED or REQUESTED
    value: "GroupInfo | JoinRequestInfo"

    @property
    def joined(self) -> Optional[GroupInfo]:
        return self.value if self.variant == JOINED else None

    @property
    def requested(self) -> Optional[JoinRequestInfo]:
        return self.value if self.variant == REQUESTED else None


@dataclass
class JoinRequestPage:
    """The ListJoinRequests response (section 5, ListJoinRequests)."""
    requests: list  # of JoinRequestInfo, by requester id
    more: bool


@dataclass
class InvitationInfo:
    """An invitation into a group (section 4.2): the body of an update of
    kind 8 GroupInvitation, the InviteToGroup and AnswerInvitation
    responses, an entry of an InvitationPage."""
    id: int  # its update id when sent
    group_id: int
    group_name: str
    inviter: UserCard
    invitee: UserCard
    state: int  # RequestState, kept as a number

    @property
    def state_name(self) -> str:
        return REQUEST_STATE_NAMES.get(self.state, f"Unknown({self.state})")


@dataclass
class InvitationPage:
    """The ListInvitations response (section 5, ListInvitations)."""
    invitations: list  # of InvitationInfo, by group id
    more: bool


@dataclass
class Ban:
    user: UserCard
    by: int  # who banned
    since: int  # ms since the Unix epoch


@dataclass
class BanPage:
    """The ListBans response (section 5, ListBans)."""
    bans: list  # of Ban, by user id
    more: bool


@dataclass
class Member:
    """One member of a group (section 4.2)."""
    user: UserCard
    role: int  # GroupRole, kept as a number
    alias: str  # their name inside the group, may be empty
    joined_at: int  # ms since the Unix epoch
    muted_until: int  # ms; 0 or past: not muted
    online: bool


@dataclass
class MemberPage:
    """The ListMembers response (section 5, ListMembers)."""
    members: list  # of Member, by user id
    more: bool
    member_count: int


@dataclass
class GroupNews:
    """A group to pull (SyncPage.groups, sections Sync, 8.3)."""
    group_id: int
    latest: int  # its newest message id that is in no update log


@dataclass
class GroupEvent:
    """The content of a System message (section 4.2). `variant` says which
    event; the fields it has (GROUP_EVENT_FIELDS) are set, the others None.
    An unknown variant decodes to its index alone (to be shown as a generic
    "the group changed")."""
    variant: int
    user_id: Optional[int] = None
    by: Optional[int] = None
    role: Optional[int] = None  # GroupRole
    fields: Optional[GroupFields] = None
    from_: Optional[int] = None  # `from` in the document
    to: Optional[int] = None
    until: Optional[int] = None  # ms; 0 = lifted
    muted: Optional[bool] = None
    message_id: Optional[int] = None  # MessageRecalled (revision 8): the recalled message
    sender: Optional[int] = None  # MessageRecalled: who had sent it
    seconds: Optional[int] = None  # RetentionChanged (revision 9): the group's own retention now; 0 = none
    edited_at: Optional[int] = None  # MessageEdited (revision 18): when, ms

    @property
    def name(self) -> str:
        return GROUP_EVENT_NAMES.get(self.variant, f"Unknown({self.variant})")


# --- Revision 7: conversations (section 5, ListConversations to MessageReaders, 8.2) ---

@dataclass
class LastMessage:
    """The newest message of a conversation, as its list entry shows it
    (section 5, ListConversations)."""
    id: int
    sender: int
    kind: int  # MessageKind, kept as a number (a group's may be System)
    server_time: int  # ms since the Unix epoch
    preview: str  # the first 64 characters of a Text message; empty for other kinds

    @property
    def expired(self) -> bool:
        """The conversation's newest message has expired (revision 9, section
        4.1 MessageKind 10): id, sender and server_time are the original's,
        the preview is empty."""
        return self.kind == KIND_EXPIRED


@dataclass
class ConversationInfo:
    """One entry of the conversations list (section 5, ListConversations). `with` is `with_`
    here (a Python keyword)."""
    with_: Target  # the peer (User) or the group (Group)
    last: Optional[LastMessage]
    unread: int  # unread messages in it
    read_up_to: int  # the caller's read position (0: none)
    peer_read_up_to: int  # 1:1 only, when both send read receipts; else 0
    updated: int  # a snowflake that grows whenever the entry changes for the caller
    mentioned: int = 0  # revision 21: the newest unread message mentioning the caller; 0 for none


@dataclass
class ConversationPage:
    """The ListConversations response (section 5, ListConversations)."""
    conversations: list  # of ConversationInfo, `updated` descending
    more: bool  # ask again with before = the last entry's `updated`
    total_unread: int  # the badge: unread messages over all the caller's conversations


@dataclass
class ReadPosition:
    """The MarkRead response (section 5, MarkRead), and the body of an update of
    kind 9 ReadPosition (section 8.2)."""
    with_: Target  # the conversation (`with` in the document)
    read_up_to: int  # the position after the call
    unread: int  # unread messages left


@dataclass
class ReadReceipt:
    """Body of an update of kind 10 (section 8.2): the peer of a 1:1
    conversation read it up to `up_to`."""
    reader: int  # the peer who read
    up_to: int  # every message of the conversation up to this id is read


@dataclass
class ReadReceiptsSetting:
    """The ReadReceipts response (section 5, ReadReceipts)."""
    enabled: bool


@dataclass
class MessageReaders:
    """The MessageReaders response (section 5, MessageReaders)."""
    read: int  # members other than the sender, sending receipts, at or past the message
    of: int  # members other than the sender who send read receipts
    readers: list  # of user ids, ascending, when `listed`; else empty
    listed: bool  # the group is small enough (conversation.who_read_max_members) to name them


# --- Revision 8: after sending (sections Sync, Recall-DeleteForMe, 8.2) ---

@dataclass
class Recalled:
    """The Recall response (section 5, Recall), and the body of an update of kind
    11 MessageRecalled (section 8.2)."""
    message_id: int  # the recalled message
    sender: int  # who sent it
    to: Target  # where it was sent, as in Message: with `sender`, names the conversation
    by: int  # who recalled it


@dataclass
class Edited:
    """The body of an update of kind 20 MessageEdited (revision 18, section 8.2):
    read the message again (History) for its new text."""
    message_id: int
    sender: int
    to: Target  # as in Message: with `sender`, names the conversation
    edited_at: int  # ms since the Unix epoch


@dataclass
class DeletedForMe:
    """The DeleteForMe response (section 5, DeleteForMe), and the body of an update of
    kind 12 DeletedForMe (section 8.2)."""
    with_: Target  # the conversation (`with` in the document)
    message_ids: list  # the messages this call hid, ascending (not those hidden before or cleared)
    cleared_up_to: int  # everything up to this id is hidden (0: never cleared)
    read_up_to: int  # the caller's read position after the call
    unread: int  # unread messages left


@dataclass
class Delivered:
    """Body of an update of kind 13 (section 8.2): the user's 1:1 messages up
    to `up_to` reached at least one device of `recipient`."""
    recipient: int  # the peer of the conversation
    up_to: int  # every message of the conversation up to this id has reached them


@dataclass
class Limited:
    """A conversation the offline cap cut short in a Sync page (SyncPage.limited,
    sections Sync, 8.3)."""
    with_: Target  # the conversation, as you address it (`with` in the document)
    older_than: int  # the older messages after `after` wait in History below this id


# --- Revision 9: retention (sections Retention, 8.2) ---

@dataclass
class RetentionSetting:
    """The Retention response (section 5, Retention). A message expires when it is
    older than `effective` seconds, counted from its server_time."""
    with_: Target  # the conversation (`with` in the document)
    seconds: int  # the conversation's own retention, 0 for none
    server_seconds: int  # the server's retention for every conversation (conversation.retention_secs), 0 for none
    effective: int  # the shorter of the two that are not 0; 0 when both are (kept until deleted)


@dataclass
class RetentionChanged:
    """Body of an update of kind 14 (section 8.2): a participant of a 1:1
    conversation (possibly the user on another device) changed how long it
    keeps messages. A group's changes come as System messages
    (GroupEvent RetentionChanged) instead."""
    by: int  # who changed it
    to: Target  # the conversation as `by` names it, as in Message: with `by`, names the conversation
    seconds: int  # the conversation's own retention now, 0 for none


# --- Revision 15: media (StartUpload to MediaUrl) ---

@dataclass
class UploadStarted:
    """The StartUpload response."""
    upload_id: int  # for the upload's chunks, its status and its finish
    chunk_bytes: int  # most bytes one chunk may carry (and one GetMedia may ask for)
    expires_ms: int  # ms since the Unix epoch after which an unfinished upload is discarded


@dataclass
class UploadOffset:
    """The UploadChunk and UploadStatus response."""
    offset: int  # bytes the server holds of the file, from its start: the next chunk starts here


@dataclass
class MediaInfo:
    """The FinishUpload response: the stored file."""
    media_id: int  # for messages, GetMedia and MediaUrl
    size: int  # bytes
    mime: str  # as declared
    sha256: bytes  # 32 bytes, as the server computed them


@dataclass
class MediaChunk:
    """The GetMedia response."""
    size: int  # the whole file's size
    mime: str  # the file's MIME type
    data: bytes  # from the requested offset; fewer than asked at the file's end


@dataclass
class MediaUrl:
    """The MediaUrl response: where to fetch the file over HTTPS."""
    path: str  # path and query, starting with /media/; put https://<server host>:<TLS port> in front
    expires_ms: int  # ms since the Unix epoch after which the URL is refused


@dataclass
class MediaContent:
    """The content of an Image, Voice, Video or File message (revision 15).
    On Send the server checks the sender may read `media_id` and
    `thumbnail`, and puts what it stored of the file (`size`, `mime`,
    `width`, `height`, `duration_ms`) in place of the client's values."""
    media_id: int
    thumbnail: Optional[int] = None  # a small image's media id to show first, if any
    name: str = ""  # the file's name on the sender's device, at most 255 bytes
    size: int = 0  # bytes (set by the server)
    mime: str = ""  # (set by the server)
    width: int = 0  # pixels, 0 if none (set by the server)
    height: int = 0  # pixels, 0 if none (set by the server)
    duration_ms: int = 0  # 0 if none (set by the server)
    caption: str = ""  # at most 1,024 bytes


# Request bodies, as decoded by the request decoders below (used to check the
# document's examples; the client itself encodes requests from arguments).

@dataclass
class RegisterRequest:
    username: str
    password: str
    invitation: Optional[bytes] = None  # revision 5: the 24-byte code of a join link


@dataclass
class LoginRequest:
    username: str
    password: str
    device: DeviceInfo


@dataclass
class AuthRequest:
    token: bytes


@dataclass
class ChangePasswordRequest:
    old_password: str
    new_password: str


@dataclass
class DeleteAccountRequest:
    password: str


@dataclass
class PushKeyReply:
    enabled: bool
    vapid_key: bytes  # an uncompressed P-256 point, 65 bytes
    interval_secs: int
    registered: bool


@dataclass
class PushEndpoint:
    url: str
    p256dh: bytes  # 65 bytes
    auth: bytes  # 16 bytes
    vapid: bool


@dataclass
class SetPushEndpointRequest:
    endpoint: Optional[PushEndpoint]


@dataclass
class FindUserRequest:
    username: str


@dataclass
class SendRequest:
    to: Target
    client_msg_id: bytes
    kind: int
    content: bytes
    extra: Optional[str]
    reply_to: int = 0  # revision 18
    mentions: list = field(default_factory=list)  # revision 21


@dataclass
class EditRequest:
    """Revision 18 (section 5, Edit)."""
    with_: Target  # the conversation (`with` in the document)
    message_id: int  # a Text message the caller sent
    content: bytes  # the new text


@dataclass
class HistoryRequest:
    with_: Target  # `with` in the document
    direction: int
    anchor: int
    limit: int


@dataclass
class SyncRequest:
    after: int
    limit: int


@dataclass
class AckRequest:
    up_to: int


# Revision 4 requests (section 5, GetProfile to ListBlocked).

@dataclass
class GetProfileRequest:
    user_id: int


@dataclass
class SetProfileRequest:
    profile: Profile


@dataclass
class PrivacyRequest:
    discoverable: Optional[int]  # None: leave as it is
    friend_policy: Optional[int]
    presence: Optional[int] = None  # revision 22


@dataclass
class PresenceRequest:
    users: list  # user ids, at most social.presence_users_max
    watch: bool  # True: these become the users this connection watches


@dataclass
class GroupOnlineRequest:
    group_id: int


@dataclass
class ProfileVisibilityRequest:
    set: Optional[FieldVisibility]  # None: only ask


@dataclass
class SearchUsersRequest:
    query: str
    cursor: bytes
    limit: int


@dataclass
class AddFriendRequest:
    user_id: int
    message: str


@dataclass
class AnswerFriendRequest:
    request_id: int
    accept: bool


@dataclass
class ListFriendRequestsRequest:
    direction: int  # RequestBox
    before: int
    limit: int


@dataclass
class ListFriendsRequest:
    after: int
    limit: int


@dataclass
class RemoveFriendRequest:
    user_id: int


@dataclass
class SetRemarkRequest:
    user_id: int
    remark: str


@dataclass
class BlockRequest:
    user_id: int


@dataclass
class UnblockRequest:
    user_id: int


@dataclass
class ListBlockedRequest:
    after: int
    limit: int


# Revision 6 requests (section 5, CreateGroup to ListMembers).

@dataclass
class CreateGroupRequest:
    fields: GroupFields
    members: list  # of user ids to invite at once


@dataclass
class GetGroupRequest:
    group_id: int


@dataclass
class UpdateGroupRequest:
    group_id: int
    fields: GroupFields


@dataclass
class DissolveGroupRequest:
    group_id: int


@dataclass
class TransferGroupRequest:
    group_id: int
    user_id: int  # the new owner


@dataclass
class LeaveGroupRequest:
    group_id: int


@dataclass
class ListGroupsRequest:
    after: int
    limit: int


@dataclass
class JoinGroupRequest:
    group_id: int
    message: str


@dataclass
class AnswerJoinRequest:
    """The AnswerJoinRequest request (the document names it like the action)."""
    group_id: int
    user_id: int  # who asked
    accept: bool


@dataclass
class ListJoinRequestsRequest:
    group_id: int
    after: int
    limit: int


@dataclass
class InviteToGroupRequest:
    group_id: int
    user_id: int


@dataclass
class AnswerInvitationRequest:
    group_id: int
    accept: bool


@dataclass
class ListInvitationsRequest:
    after: int
    limit: int


@dataclass
class KickMemberRequest:
    group_id: int
    user_id: int


@dataclass
class SetAdminRequest:
    group_id: int
    user_id: int
    admin: bool


@dataclass
class BanRequest:
    group_id: int
    user_id: int
    banned: bool


@dataclass
class ListBansRequest:
    group_id: int
    after: int
    limit: int


@dataclass
class MuteMemberRequest:
    group_id: int
    user_id: int
    until: int  # ms since the Unix epoch; 0 lifts the mute


@dataclass
class MuteGroupRequest:
    group_id: int
    muted: bool


@dataclass
class SetAliasRequest:
    group_id: int
    alias: str


@dataclass
class ListMembersRequest:
    group_id: int
    after: int
    limit: int
    online_only: bool


# Revision 7 requests (section 5, ListConversations to MessageReaders).

@dataclass
class ListConversationsRequest:
    before: int  # only entries with `updated` below it; 0 for the first page
    changed_since: int  # only entries with `updated` above it; 0 for all
    limit: int  # 1-100


@dataclass
class MarkReadRequest:
    with_: Target  # the conversation, as in Send (`with` in the document)
    up_to: int  # a message id; READ_EVERYTHING (u64::MAX) means everything


@dataclass
class ReadReceiptsRequest:
    set: Optional[bool]  # the new setting; None only asks


@dataclass
class MessageReadersRequest:
    group_id: int
    message_id: int


# Revision 8 requests (section 5, Recall to DeleteForMe).

@dataclass
class RecallRequest:
    with_: Target  # the conversation, as in Send (`with` in the document)
    message_id: int


@dataclass
class DeleteForMeRequest:
    with_: Target  # the conversation
    message_ids: list  # messages to hide, at most 100; repeats are ignored
    clear_up_to: int  # also hide every message up to and including this id (0: none)


# Revision 9 request (section 5, Retention).

@dataclass
class RetentionRequest:
    with_: Target  # the conversation (`with` in the document)
    set: Optional[int]  # the new retention in seconds (0: none of its own, at most 100 years); None only asks


# Revision 17 request (section 5, Typing).

@dataclass
class ConversationStateRequest:
    """Revision 19 (section 5, ConversationState)."""
    with_: Target  # `with` in the document
    pinned: Optional[bool]  # None: leave it
    draft: Optional[str]  # None: leave it; "" clears it
    muted: Optional[bool] = None  # revision 21; None: leave it


@dataclass
class ConversationState:
    """The ConversationState response, an entry of ConversationStates and the
    body of update kind 21 ConversationStateChanged (revision 19)."""
    with_: Target
    pinned_at: int  # ms; 0 = not pinned
    draft: str  # "" = none
    changed_at: int  # ms; 0 = never set
    muted: bool = False  # revision 21: its notifications muted (mentions still alert)


@dataclass
class ConversationStates:
    states: list  # of ConversationState, in no particular order


@dataclass
class ReactRequest:
    """Revision 20 (section 5, React)."""
    with_: Target
    message_id: int
    emoji: str
    add: bool


@dataclass
class ReactionsRequest:
    """Revision 20 (section 5, Reactions)."""
    with_: Target
    message_id: int


@dataclass
class ReactionCount:
    emoji: str
    count: int
    users: list  # user ids ascending, at most conversation.reaction_users_listed
    mine: bool


@dataclass
class MessageReactions:
    """React's and Reactions' response (revision 20)."""
    message_id: int
    reactions: list  # of ReactionCount, the most used first


@dataclass
class ReactionChanged:
    """The body of update kind 22 ReactionChanged (revision 20)."""
    message_id: int
    sender: int
    to: Target  # as in Message: with `sender`, names the conversation
    user_id: int  # who reacted
    emoji: str
    added: bool


@dataclass
class TypingRequest:
    with_: Target  # the conversation (`with` in the document)
    typing: bool  # True while typing (repeat every 3 s), False once stopped


# Revision 15 requests (StartUpload to MediaUrl).

@dataclass
class StartUploadRequest:
    size: int  # of the whole file, 1 to the server's file limit
    mime: str
    sha256: bytes  # of the whole file, 32 bytes
    purpose: int  # MediaPurpose
    width: int  # pixels, 0 if none
    height: int
    duration_ms: int  # 0 if none


@dataclass
class UploadChunkRequest:
    upload_id: int
    offset: int  # where in the file `data` starts; at most the offset the server holds
    data: bytes  # 1 to chunk_bytes bytes, not past the declared size


@dataclass
class UploadStatusRequest:
    upload_id: int


@dataclass
class FinishUploadRequest:
    upload_id: int


@dataclass
class GetMediaRequest:
    media_id: int
    offset: int  # the first byte wanted, below the file's size
    length: int  # bytes wanted, 1 to chunk_bytes


@dataclass
class MediaUrlRequest:
    media_id: int


# --- Revision 24: moments (section 5, PublishMoment to MomentFilter; 8.2 kinds 23-25) ---
# As elsewhere, enumerated values the server sends (audience, window) are kept
# as plain numbers; requests are checked.

@dataclass
class MomentMedia:
    """A moment's files, an enum with data (u32 variant, then its fields):
    0 None (text alone), 1 Images (1 to 9 image ids, in the order shown), 2
    Video (a video id, then its cover's). An unknown variant cannot be
    skipped (its data has no length): it fails the whole body."""
    variant: int  # MOMENT_MEDIA_NONE, MOMENT_MEDIA_IMAGES or MOMENT_MEDIA_VIDEO
    images: list = field(default_factory=list)  # Images: media ids
    video: int = 0  # Video: the video's media id
    cover: int = 0  # Video: the image shown before it plays

    @classmethod
    def none(cls) -> "MomentMedia":
        return cls(MOMENT_MEDIA_NONE)

    @classmethod
    def of_images(cls, media_ids) -> "MomentMedia":
        return cls(MOMENT_MEDIA_IMAGES, images=list(media_ids))

    @classmethod
    def of_video(cls, video: int, cover: int) -> "MomentMedia":
        return cls(MOMENT_MEDIA_VIDEO, video=video, cover=cover)

    @property
    def name(self) -> str:
        return MOMENT_MEDIA_NAMES.get(self.variant, f"Unknown({self.variant})")

    @property
    def media_ids(self) -> list:
        """The files it names, in the order of `Moment.files`."""
        if self.variant == MOMENT_MEDIA_IMAGES:
            return list(self.images)
        if self.variant == MOMENT_MEDIA_VIDEO:
            return [self.video, self.cover]
        return []

    def __repr__(self) -> str:
        if self.variant == MOMENT_MEDIA_IMAGES:
            return f"Images({self.images})"
        if self.variant == MOMENT_MEDIA_VIDEO:
            return f"Video(video={self.video}, cover={self.cover})"
        return f"MomentMedia({self.name})"


@dataclass
class Location:
    """Where a moment was posted from: coordinates in degrees x 10^7, as i32."""
    name: str  # 1-64 characters, one line
    latitude_e7: int  # -900,000,000 to 900,000,000
    longitude_e7: int  # -1,800,000,000 to 1,800,000,000

    @classmethod
    def of_degrees(cls, name: str, latitude: float, longitude: float) -> "Location":
        return cls(name, round(latitude * 1e7), round(longitude * 1e7))


@dataclass
class MomentVisibility:
    """A moment's audience: `users` is empty for Public and Friends, the
    friends listed (1 to 500, distinct) for Only and Except."""
    audience: int  # MomentAudience
    users: list = field(default_factory=list)  # user ids

    @property
    def audience_name(self) -> str:
        return MOMENT_AUDIENCE_NAMES.get(self.audience, f"Unknown({self.audience})")


@dataclass
class MomentFile:
    """What the server stored of one file a moment shows."""
    media_id: int
    mime: str
    size: int  # bytes
    width: int  # pixels, 0 if none
    height: int
    duration_ms: int  # 0 if none


@dataclass
class MomentComment:
    """A comment as one viewer sees it: the CommentMoment response, an entry
    of Moment.comments and of a CommentPage, and in the body of update kind
    24 MomentCommented."""
    comment_id: int  # a snowflake: its time is when it was written
    moment_id: int
    author: int
    text: str
    reply_to: Optional[int]  # the comment it answers
    reply_to_user: int  # who wrote that one, when the viewer sees their comments; else 0


@dataclass
class Moment:
    """A moment as one viewer sees it (Feed, UserMoments, GetMoment)."""
    moment_id: int  # a snowflake: its time is when it was posted
    author: int
    text: str
    media: MomentMedia
    files: list  # of MomentFile, in the order of `media`
    location: Optional[Location]
    visibility: Optional[MomentVisibility]  # to its author only; None for everyone else
    like_count: int  # the likes the viewer sees
    likes: list  # user ids, the first 20 by user id
    liked: bool  # whether the viewer likes it
    comment_count: int  # the comments the viewer sees
    comments: list  # of MomentComment, the first 20, oldest first


@dataclass
class MomentPage:
    """The Feed and UserMoments response: newest first; page on with
    `before` the last moment id while `more`."""
    moments: list  # of Moment
    more: bool


@dataclass
class CommentPage:
    """The MomentComments response: oldest first; page on with `after` the
    last comment id while `more`."""
    comments: list  # of MomentComment
    more: bool


@dataclass
class MomentPublished:
    """The PublishMoment response."""
    moment_id: int
    duplicate: bool  # the client_id was used before: this is that moment, nothing new was posted


@dataclass
class MomentSettings:
    """The MomentSettings response: how far back others see the caller's moments."""
    window: int  # MomentWindow, kept as a number

    @property
    def window_name(self) -> str:
        return MOMENT_WINDOW_NAMES.get(self.window, f"Unknown({self.window})")


@dataclass
class MomentFilter:
    """The MomentFilter response: the caller's two settings about one person."""
    user_id: int
    hide_mine: bool  # "don't show my moments to them"
    hide_theirs: bool  # "hide their moments from my feed"


@dataclass
class MomentLiked:
    """The body of update kind 23 MomentLiked: someone liked one of the user's moments."""
    moment_id: int
    user_id: int  # who liked it


@dataclass
class MomentCommented:
    """The body of update kind 24 MomentCommented: a comment on one of the
    user's moments, or a reply to one of the user's comments. Its update id
    is the comment's."""
    moment_author: int  # who posted the moment
    comment: MomentComment


@dataclass
class MomentPosted:
    """The body of update kind 25 MomentPosted (pushed live only, never in the
    log): the feed's badge. Its update id is the moment's."""
    moment_id: int
    author: int


@dataclass
class PublishMomentRequest:
    client_id: bytes  # 16 raw bytes, new for each moment; a retry sends the same
    text: str
    media: MomentMedia
    location: Optional[Location]
    visibility: MomentVisibility


@dataclass
class DeleteMomentRequest:
    moment_id: int


@dataclass
class FeedRequest:
    before: int  # 0 for the newest, then the last moment id of the previous page
    limit: int  # 1-100


@dataclass
class UserMomentsRequest:
    user_id: int
    before: int
    limit: int


@dataclass
class GetMomentRequest:
    moment_id: int


@dataclass
class LikeMomentRequest:
    moment_id: int
    like: bool  # False takes the like back


@dataclass
class CommentMomentRequest:
    moment_id: int
    text: str  # 1 to 500 characters
    reply_to: Optional[int]  # a comment on this moment, or None


@dataclass
class DeleteCommentRequest:
    moment_id: int
    comment_id: int


@dataclass
class MomentCommentsRequest:
    moment_id: int
    after: int  # 0 for the first page, then the last comment id
    limit: int  # 1-100


@dataclass
class MomentSettingsRequest:
    window: Optional[int]  # MomentWindow; None only reads


@dataclass
class MomentFilterRequest:
    user_id: int
    hide_mine: Optional[bool]  # None keeps it
    hide_theirs: Optional[bool]  # None keeps it; both None only reads


def _decode_exact(body: bytes, fn):
    r = Reader(body)
    out = fn(r)
    r.end()
    return out


# --- encoders for every request ---

def encode_heartbeat() -> bytes:
    return b""


def encode_register(username: str, password: str, invitation: Optional[bytes] = None) -> bytes:
    return Writer().string(username).string(password).option(invitation, lambda w, v: w.bytes(v)).build()


def encode_device_info(w: Writer, d: DeviceInfo) -> Writer:
    return w.string(d.device_id).u8(d.device_type).u8(d.client_type)


def encode_login(username: str, password: str, device: DeviceInfo) -> bytes:
    w = Writer().string(username).string(password)
    return encode_device_info(w, device).build()


def encode_auth(token: bytes) -> bytes:
    return Writer().bytes(token).build()


def encode_logout() -> bytes:
    return b""


def encode_change_password(old_password: str, new_password: str) -> bytes:
    return Writer().string(old_password).string(new_password).build()


def encode_delete_account(password: str) -> bytes:
    return Writer().string(password).build()


def encode_push_endpoint_into(w: Writer, e: PushEndpoint) -> Writer:
    return w.string(e.url).bytes(e.p256dh).id16(e.auth).bool(e.vapid)


def encode_set_push_endpoint(endpoint: Optional[PushEndpoint]) -> bytes:
    return Writer().option(endpoint, encode_push_endpoint_into).build()


def encode_push_key_reply(r: PushKeyReply) -> bytes:
    return Writer().bool(r.enabled).bytes(r.vapid_key).u32(r.interval_secs).bool(r.registered).build()


def encode_find_user(username: str) -> bytes:
    return Writer().string(username).build()


def encode_renew_token() -> bytes:
    return b""


def encode_send(to: "Target | int", client_msg_id: bytes, kind: int, content: bytes,
                extra: Optional[str] = None, reply_to: int = 0, mentions=()) -> bytes:
    """A SendRequest; `to` is a Target, or a user id; `reply_to` (revision 18)
    the message of the same conversation it answers, 0 for none; `mentions`
    (revision 21) the group members it mentions, 0 for everyone."""
    return (Writer().target(as_target(to)).id16(client_msg_id).u8(kind)
            .bytes(content).opt_string(extra).u64(reply_to).vec(list(mentions), Writer.u64).build())


def encode_edit(with_: "Target | int", message_id: int, content: bytes) -> bytes:
    """An EditRequest (revision 18); `with_` is a Target, or a user id."""
    return Writer().target(as_target(with_)).u64(message_id).bytes(content).build()


def encode_history(with_: "Target | int", direction: int, anchor: int, limit: int) -> bytes:
    """A HistoryRequest; `with_` is a Target, or a user id."""
    return Writer().target(as_target(with_)).u8(direction).u64(anchor).u16(limit).build()


def encode_sync(after: int, limit: int) -> bytes:
    return Writer().u64(after).u16(limit).build()


def encode_ack(up_to: int) -> bytes:
    return Writer().u64(up_to).build()


# Revision 4 (section 5, GetProfile to ListBlocked)

def encode_birth_date(w: Writer, d: BirthDate) -> Writer:
    return w.u16(d.year).u8(d.month).u8(d.day)


def encode_profile(w: Writer, p: Profile) -> Writer:
    return (w.string(p.nickname).u64(p.avatar).u8(p.gender).option(p.birth_date, encode_birth_date)
            .string(p.signature).string(p.city).string(p.province).string(p.extra))


def encode_get_profile(user_id: int) -> bytes:
    return Writer().u64(user_id).build()


def encode_set_profile(profile: Profile) -> bytes:
    return encode_profile(Writer(), profile).build()


def encode_privacy(discoverable: Optional[int] = None, friend_policy: Optional[int] = None,
                   presence: Optional[int] = None) -> bytes:
    return (Writer().option(discoverable, lambda w, v: w.u8(v))
            .option(friend_policy, lambda w, v: w.u8(v))
            .option(presence, lambda w, v: w.u8(v)).build())


def encode_presence(users: list, watch: bool) -> bytes:
    return Writer().vec(users, lambda w, u: w.u64(u)).bool(watch).build()


def encode_presence_info_into(w: "Writer", p: PresenceInfo) -> "Writer":
    return w.u64(p.user_id).bool(p.online).u64(p.last_seen)


def encode_group_online(group_id: int) -> bytes:
    return Writer().u64(group_id).build()


def encode_field_visibility(w: "Writer", f: FieldVisibility) -> "Writer":
    return w.u8(f.birth_date).u8(f.city).u8(f.province)


def encode_profile_visibility(fields: Optional[FieldVisibility] = None) -> bytes:
    return Writer().option(fields, encode_field_visibility).build()


def encode_search_users(query: str, cursor: bytes = b"", limit: int = 20) -> bytes:
    return Writer().string(query).bytes(cursor).u16(limit).build()


def encode_add_friend(user_id: int, message: str = "") -> bytes:
    return Writer().u64(user_id).string(message).build()


def encode_answer_friend(request_id: int, accept: bool) -> bytes:
    return Writer().u64(request_id).bool(accept).build()


def encode_list_friend_requests(direction: int, before: int, limit: int) -> bytes:
    return Writer().u8(direction).u64(before).u16(limit).build()


def encode_list_friends(after: int, limit: int) -> bytes:
    return Writer().u64(after).u16(limit).build()


def encode_remove_friend(user_id: int) -> bytes:
    return Writer().u64(user_id).build()


def encode_set_remark(user_id: int, remark: str) -> bytes:
    return Writer().u64(user_id).string(remark).build()


def encode_block(user_id: int) -> bytes:
    return Writer().u64(user_id).build()


def encode_unblock(user_id: int) -> bytes:
    return Writer().u64(user_id).build()


def encode_list_blocked(after: int, limit: int) -> bytes:
    return Writer().u64(after).u16(limit).build()


# Revision 6 (section 5, CreateGroup to ListMembers)

def encode_group_fields(w: Writer, f: GroupFields) -> Writer:
    return (w.string(f.name).u64(f.avatar).string(f.introduction).string(f.announcement)
            .u8(f.join_policy).bool(f.history_visible))


def encode_create_group(fields: GroupFields, members: list) -> bytes:
    return encode_group_fields(Writer(), fields).vec(members, Writer.u64).build()


def encode_get_group(group_id: int) -> bytes:
    return Writer().u64(group_id).build()


def encode_update_group(group_id: int, fields: GroupFields) -> bytes:
    return encode_group_fields(Writer().u64(group_id), fields).build()


def encode_dissolve_group(group_id: int) -> bytes:
    return Writer().u64(group_id).build()


def encode_transfer_group(group_id: int, user_id: int) -> bytes:
    return Writer().u64(group_id).u64(user_id).build()


def encode_leave_group(group_id: int) -> bytes:
    return Writer().u64(group_id).build()


def encode_list_groups(after: int, limit: int) -> bytes:
    return Writer().u64(after).u16(limit).build()


def encode_join_group(group_id: int, message: str = "") -> bytes:
    return Writer().u64(group_id).string(message).build()


def encode_answer_join_request(group_id: int, user_id: int, accept: bool) -> bytes:
    return Writer().u64(group_id).u64(user_id).bool(accept).build()


def encode_list_join_requests(group_id: int, after: int, limit: int) -> bytes:
    return Writer().u64(group_id).u64(after).u16(limit).build()


def encode_invite_to_group(group_id: int, user_id: int) -> bytes:
    return Writer().u64(group_id).u64(user_id).build()


def encode_answer_invitation(group_id: int, accept: bool) -> bytes:
    return Writer().u64(group_id).bool(accept).build()


def encode_list_invitations(after: int, limit: int) -> bytes:
    return Writer().u64(after).u16(limit).build()


def encode_kick_member(group_id: int, user_id: int) -> bytes:
    return Writer().u64(group_id).u64(user_id).build()


def encode_set_admin(group_id: int, user_id: int, admin: bool) -> bytes:
    return Writer().u64(group_id).u64(user_id).bool(admin).build()


def encode_ban_user(group_id: int, user_id: int, banned: bool) -> bytes:
    return Writer().u64(group_id).u64(user_id).bool(banned).build()


def encode_list_bans(group_id: int, after: int, limit: int) -> bytes:
    return Writer().u64(group_id).u64(after).u16(limit).build()


def encode_mute_member(group_id: int, user_id: int, until: int) -> bytes:
    return Writer().u64(group_id).u64(user_id).u64(until).build()


def encode_mute_group(group_id: int, muted: bool) -> bytes:
    return Writer().u64(group_id).bool(muted).build()


def encode_set_alias(group_id: int, alias: str) -> bytes:
    return Writer().u64(group_id).string(alias).build()


def encode_list_members(group_id: int, after: int, limit: int, online_only: bool) -> bytes:
    return Writer().u64(group_id).u64(after).u16(limit).bool(online_only).build()


# Revision 7 (section 5, ListConversations to MessageReaders)

def encode_list_conversations(before: int, changed_since: int, limit: int) -> bytes:
    return Writer().u64(before).u64(changed_since).u16(limit).build()


def encode_mark_read(with_: "Target | int", up_to: int) -> bytes:
    """A MarkReadRequest; `with_` is a Target, or a user id."""
    return Writer().target(as_target(with_)).u64(up_to).build()


def encode_read_receipts(set_: Optional[bool] = None) -> bytes:
    return Writer().option(set_, Writer.bool).build()


def encode_message_readers(group_id: int, message_id: int) -> bytes:
    return Writer().u64(group_id).u64(message_id).build()


# Revision 8 (section 5, Recall to DeleteForMe)

def encode_recall(with_: "Target | int", message_id: int) -> bytes:
    """A RecallRequest; `with_` is a Target, or a user id."""
    return Writer().target(as_target(with_)).u64(message_id).build()


def encode_delete_for_me(with_: "Target | int", message_ids, clear_up_to: int = 0) -> bytes:
    """A DeleteForMeRequest; `with_` is a Target, or a user id."""
    return Writer().target(as_target(with_)).vec(list(message_ids), Writer.u64).u64(clear_up_to).build()


# Revision 9 (section 5, Retention)

def encode_retention(with_: "Target | int", set_: Optional[int] = None) -> bytes:
    """A RetentionRequest; `with_` is a Target, or a user id; `set_` None only asks."""
    return Writer().target(as_target(with_)).option(set_, Writer.u64).build()


def encode_typing(with_: "Target | int", typing: bool) -> bytes:
    """A TypingRequest; `with_` is a Target, or a user id."""
    return Writer().target(as_target(with_)).bool(typing).build()


def encode_typing_push(p: TypingPush) -> bytes:
    return Writer().u64(p.user_id).target(p.with_).bool(p.typing).u32(p.for_ms).build()


# Revision 15 (StartUpload to MediaUrl)

def encode_start_upload(size: int, mime: str, sha256: bytes, purpose: int = PURPOSE_MESSAGE, width: int = 0,
                        height: int = 0, duration_ms: int = 0) -> bytes:
    return (Writer().u64(size).string(mime).sha256(sha256).u8(purpose).u32(width).u32(height)
            .u32(duration_ms).build())


def encode_upload_chunk(upload_id: int, offset: int, data: bytes) -> bytes:
    return Writer().u64(upload_id).u64(offset).bytes(data).build()


def encode_upload_status(upload_id: int) -> bytes:
    return Writer().u64(upload_id).build()


def encode_finish_upload(upload_id: int) -> bytes:
    return Writer().u64(upload_id).build()


def encode_get_media(media_id: int, offset: int, length: int) -> bytes:
    return Writer().u64(media_id).u64(offset).u32(length).build()


def encode_media_url(media_id: int) -> bytes:
    return Writer().u64(media_id).build()


# --- encoders for server-side bodies (for tests / round-trips) ---

def encode_message(w: Writer, m: Message) -> Writer:
    return (w.u64(m.id).u64(m.sender).target(m.to).id16(m.client_msg_id).u8(m.kind)
            .bytes(m.content).opt_string(m.extra).u64(m.server_time).u64(m.reply_to).u64(m.edited)
            .vec(m.mentions, Writer.u64))


def encode_new_login(w: Writer, n: NewLogin) -> Writer:
    return w.string(n.device_id).u8(n.device_type).u8(n.client_type).string(n.address)


def encode_user_card(w: Writer, c: UserCard) -> Writer:
    return w.u64(c.user_id).string(c.username).string(c.nickname).u64(c.avatar)


def encode_friend_request_info(w: Writer, f: FriendRequestInfo) -> Writer:
    w.u64(f.id)
    encode_user_card(w, f.from_)
    encode_user_card(w, f.to)
    return w.string(f.message).u8(f.state).u64(f.expires_at).u64(f.answered_at)


def encode_friend_removed(w: Writer, f: FriendRemoved) -> Writer:
    return w.u64(f.by).u64(f.user_id)


def encode_block_changed(w: Writer, b: BlockChanged) -> Writer:
    return w.u64(b.user_id).bool(b.blocked)


def encode_join_request_info(w: Writer, j: JoinRequestInfo) -> Writer:
    w.u64(j.id).u64(j.group_id).string(j.group_name)
    return encode_user_card(w, j.user).string(j.message).u8(j.state).u64(j.answered_by)


def encode_invitation_info(w: Writer, i: InvitationInfo) -> Writer:
    w.u64(i.id).u64(i.group_id).string(i.group_name)
    return encode_user_card(encode_user_card(w, i.inviter), i.invitee).u8(i.state)


def encode_read_position_into(w: Writer, p: ReadPosition) -> Writer:
    return w.target(p.with_).u64(p.read_up_to).u32(p.unread)


def encode_read_receipt(w: Writer, r: ReadReceipt) -> Writer:
    return w.u64(r.reader).u64(r.up_to)


def encode_recalled_into(w: Writer, r: Recalled) -> Writer:
    return w.u64(r.message_id).u64(r.sender).target(r.to).u64(r.by)


def encode_deleted_for_me_into(w: Writer, d: DeletedForMe) -> Writer:
    return (w.target(d.with_).vec(d.message_ids, Writer.u64).u64(d.cleared_up_to).u64(d.read_up_to)
            .u32(d.unread))


def encode_delivered(w: Writer, d: Delivered) -> Writer:
    return w.u64(d.recipient).u64(d.up_to)


def encode_retention_changed(w: Writer, r: RetentionChanged) -> Writer:
    return w.u64(r.by).target(r.to).u64(r.seconds)


def encode_read_receipts_changed(w: Writer, s: "ReadReceiptsSetting") -> Writer:
    return w.bool(s.enabled)


# How each known update kind's value is written into Update.body.
UPDATE_BODY_ENCODERS = {
    UPDATE_MESSAGE: encode_message, UPDATE_NEW_LOGIN: encode_new_login,
    UPDATE_FRIEND_REQUEST: encode_friend_request_info, UPDATE_FRIEND_ANSWERED: encode_friend_request_info,
    UPDATE_FRIEND_REMOVED: encode_friend_removed, UPDATE_BLOCK_CHANGED: encode_block_changed,
    UPDATE_GROUP_JOIN_REQUEST: encode_join_request_info, UPDATE_GROUP_INVITATION: encode_invitation_info,
    UPDATE_READ_POSITION: encode_read_position_into, UPDATE_READ_RECEIPT: encode_read_receipt,
    UPDATE_MESSAGE_RECALLED: encode_recalled_into, UPDATE_DELETED_FOR_ME: encode_deleted_for_me_into,
    UPDATE_DELIVERED: encode_delivered, UPDATE_RETENTION_CHANGED: encode_retention_changed,
    UPDATE_READ_RECEIPTS_CHANGED: encode_read_receipts_changed,
    UPDATE_PROFILE_CHANGED: lambda w, u: encode_profile(w.u64(u.user_id).string(u.username), u.profile),
    UPDATE_PRIVACY_CHANGED: lambda w, p: w.u8(p.discoverable).u8(p.friend_policy).u8(p.presence),
    UPDATE_PROFILE_VISIBILITY_CHANGED: lambda w, f: encode_field_visibility(w, f),
    UPDATE_REMARK_CHANGED: lambda w, r: w.u64(r.user_id).string(r.remark),
    UPDATE_MESSAGE_EDITED: lambda w, e: w.u64(e.message_id).u64(e.sender).target(e.to).u64(e.edited_at),
    UPDATE_CONVERSATION_STATE_CHANGED: lambda w, s: encode_conversation_state_into(w, s),
    UPDATE_REACTION_CHANGED: lambda w, c: encode_reaction_changed_into(w, c),
    UPDATE_MOMENT_LIKED: lambda w, x: encode_moment_liked_into(w, x),
    UPDATE_MOMENT_COMMENTED: lambda w, x: encode_moment_commented_into(w, x),
    UPDATE_MOMENT_POSTED: lambda w, x: encode_moment_posted_into(w, x),
}


def make_update(update_id: int, kind: int, value) -> Update:
    """An Update of a known kind, its body encoded from `value`."""
    return Update(update_id, kind, UPDATE_BODY_ENCODERS[kind](Writer(), value).build(), value)


def encode_update_into(w: Writer, u: Update) -> Writer:
    # A known kind is re-encoded from its decoded value (so a round trip also
    # checks the body codec); an unknown kind is written back as it came.
    body = UPDATE_BODY_ENCODERS[u.kind](Writer(), u.value).build() if u.value is not None else u.body
    return w.u64(u.id).u8(u.kind).bytes(body)


def encode_update(u: Update) -> bytes:
    return encode_update_into(Writer(), u).build()


def encode_token_reply_into(w: Writer, r: TokenReply) -> Writer:
    return w.bytes(r.token).u64(r.expires_at)


def encode_auth_reply_into(w: Writer, a: AuthReply) -> Writer:
    return (w.u64(a.user_id).string(a.username).string(a.device_id).u64(a.cursor).u64(a.latest)
            .option(a.renewed, encode_token_reply_into))


def encode_login_reply(r: LoginReply) -> bytes:
    return encode_auth_reply_into(Writer().bytes(r.token).u64(r.expires_at), r.session).build()


def encode_token_reply(r: TokenReply) -> bytes:
    return encode_token_reply_into(Writer(), r).build()


def encode_user_info(u: UserInfo) -> bytes:
    return Writer().u64(u.user_id).string(u.username).build()


def encode_send_reply(r: SendReply) -> bytes:
    return Writer().u64(r.message_id).u64(r.server_time).bool(r.duplicate).build()


def encode_page(p: Page) -> bytes:
    return Writer().vec(p.messages, encode_message).bool(p.more).build()


def encode_group_news(w: Writer, g: GroupNews) -> Writer:
    return w.u64(g.group_id).u64(g.latest)


def encode_limited(w: Writer, x: Limited) -> Writer:
    return w.target(x.with_).u64(x.older_than)


def encode_sync_page(p: SyncPage) -> bytes:
    return (Writer().vec(p.updates, encode_update_into).bool(p.more).vec(p.groups, encode_group_news)
            .vec(p.limited, encode_limited).u64(p.notices_dropped).build())


def encode_u64(v: int) -> bytes:
    return Writer().u64(v).build()


def encode_error_body(code: int, message: str, retry_after_ms: Optional[int] = None,
                      limit: Optional[int] = None, reason: Optional[int] = None, used: Optional[int] = None) -> bytes:
    return (Writer().u16(code).string(message).option(retry_after_ms, lambda w, v: w.u64(v))
            .option(limit, lambda w, v: w.u64(v)).option(reason, lambda w, v: w.u8(v))
            .option(used, lambda w, v: w.u64(v)).build())


def encode_disconnect(reason: int, message: str) -> bytes:
    return Writer().u8(reason).string(message).build()


def encode_user_profile(u: UserProfile) -> bytes:
    return encode_profile(Writer().u64(u.user_id).string(u.username), u.profile).build()


def encode_privacy_settings(p: PrivacySettings) -> bytes:
    return Writer().u8(p.discoverable).u8(p.friend_policy).u8(p.presence).build()


def encode_user_page(p: UserPage) -> bytes:
    return Writer().vec(p.users, encode_user_card).bytes(p.cursor).bool(p.more).build()


def encode_friend_request(f: FriendRequestInfo) -> bytes:
    return encode_friend_request_info(Writer(), f).build()


def encode_friend_request_page(p: FriendRequestPage) -> bytes:
    return (Writer().vec(p.requests, encode_friend_request_info).bool(p.more)
            .u32(p.pending_incoming).build())


def encode_friend(w: Writer, f: Friend) -> Writer:
    return encode_user_card(w, f.user).string(f.remark).u64(f.since)


def encode_blocked_user(w: Writer, b: BlockedUser) -> Writer:
    return encode_user_card(w, b.user).u64(b.since)


def encode_friend_page(p: FriendPage) -> bytes:
    return Writer().vec(p.friends, encode_friend).bool(p.more).build()


def encode_blocked_page(p: BlockedPage) -> bytes:
    return Writer().vec(p.users, encode_blocked_user).bool(p.more).build()


def encode_group_info_into(w: Writer, g: GroupInfo) -> Writer:
    return (w.u64(g.group_id).string(g.name).u64(g.avatar).string(g.introduction).string(g.announcement)
            .u8(g.join_policy).bool(g.history_visible).bool(g.muted).u64(g.owner).u32(g.member_count)
            .option(g.my_role, lambda ww, v: ww.u8(v)))


def encode_group_info(g: GroupInfo) -> bytes:
    return encode_group_info_into(Writer(), g).build()


def encode_create_group_reply(r: CreateGroupReply) -> bytes:
    return (encode_group_info_into(Writer(), r.group).vec(r.joined, Writer.u64).vec(r.invited, Writer.u64)
            .vec(r.refused, Writer.u64).build())


def encode_group_page(p: GroupPage) -> bytes:
    return Writer().vec(p.groups, encode_group_info_into).bool(p.more).build()


def encode_join_outcome(o: JoinOutcome) -> bytes:
    encode_value = encode_group_info_into if o.variant == JOINED else encode_join_request_info
    return encode_value(Writer().u32(o.variant), o.value).build()


def encode_join_request(j: JoinRequestInfo) -> bytes:
    return encode_join_request_info(Writer(), j).build()


def encode_join_request_page(p: JoinRequestPage) -> bytes:
    return Writer().vec(p.requests, encode_join_request_info).bool(p.more).build()


def encode_invitation(i: InvitationInfo) -> bytes:
    return encode_invitation_info(Writer(), i).build()


def encode_invitation_page(p: InvitationPage) -> bytes:
    return Writer().vec(p.invitations, encode_invitation_info).bool(p.more).build()


def encode_ban(w: Writer, b: Ban) -> Writer:
    return encode_user_card(w, b.user).u64(b.by).u64(b.since)


def encode_ban_page(p: BanPage) -> bytes:
    return Writer().vec(p.bans, encode_ban).bool(p.more).build()


def encode_member(w: Writer, m: Member) -> Writer:
    return encode_user_card(w, m.user).u8(m.role).string(m.alias).u64(m.joined_at).u64(m.muted_until).bool(m.online)


def encode_member_page(p: MemberPage) -> bytes:
    return Writer().vec(p.members, encode_member).bool(p.more).u32(p.member_count).build()


def encode_last_message(w: Writer, m: LastMessage) -> Writer:
    return w.u64(m.id).u64(m.sender).u8(m.kind).u64(m.server_time).string(m.preview)


def encode_conversation_info(w: Writer, c: ConversationInfo) -> Writer:
    return (w.target(c.with_).option(c.last, encode_last_message).u32(c.unread).u64(c.read_up_to)
            .u64(c.peer_read_up_to).u64(c.updated).u64(c.mentioned))


def encode_conversation_page(p: ConversationPage) -> bytes:
    return Writer().vec(p.conversations, encode_conversation_info).bool(p.more).u64(p.total_unread).build()


def encode_read_position(p: ReadPosition) -> bytes:
    return encode_read_position_into(Writer(), p).build()


def encode_read_receipts_setting(s: ReadReceiptsSetting) -> bytes:
    return Writer().bool(s.enabled).build()


def encode_message_readers_reply(m: MessageReaders) -> bytes:
    return Writer().u32(m.read).u32(m.of).vec(m.readers, Writer.u64).bool(m.listed).build()


def encode_recalled(r: Recalled) -> bytes:
    return encode_recalled_into(Writer(), r).build()


def encode_deleted_for_me(d: DeletedForMe) -> bytes:
    return encode_deleted_for_me_into(Writer(), d).build()


def encode_retention_setting(s: RetentionSetting) -> bytes:
    return Writer().target(s.with_).u64(s.seconds).u64(s.server_seconds).u64(s.effective).build()


def encode_upload_started(s: UploadStarted) -> bytes:
    return Writer().u64(s.upload_id).u32(s.chunk_bytes).u64(s.expires_ms).build()


def encode_upload_offset(o: UploadOffset) -> bytes:
    return Writer().u64(o.offset).build()


def encode_media_info(m: MediaInfo) -> bytes:
    return Writer().u64(m.media_id).u64(m.size).string(m.mime).sha256(m.sha256).build()


def encode_media_chunk(c: MediaChunk) -> bytes:
    return Writer().u64(c.size).string(c.mime).bytes(c.data).build()


def encode_media_url_reply(u: MediaUrl) -> bytes:
    return Writer().string(u.path).u64(u.expires_ms).build()


# How each GroupEvent field is written and read (section 4.2: ids, times and
# `seconds` are u64, `role` a GroupRole u8, `muted` a bool, `fields` GroupFields).
_EVENT_FIELD_WRITERS = {
    "user_id": Writer.u64, "by": Writer.u64, "from_": Writer.u64, "to": Writer.u64, "until": Writer.u64,
    "role": Writer.u8, "muted": Writer.bool, "fields": encode_group_fields,
    "message_id": Writer.u64, "sender": Writer.u64, "seconds": Writer.u64, "edited_at": Writer.u64,
}


def encode_group_event(e: GroupEvent) -> bytes:
    """A System message's content; only a known variant can be encoded."""
    w = Writer().u32(e.variant)
    for name in GROUP_EVENT_FIELDS[e.variant]:
        _EVENT_FIELD_WRITERS[name](w, getattr(e, name))
    return w.build()


def encode_media_content(c: MediaContent) -> bytes:
    """An Image, Voice, Video or File message's content (revision 15)."""
    return (Writer().u64(c.media_id).option(c.thumbnail, Writer.u64).string(c.name).u64(c.size).string(c.mime)
            .u32(c.width).u32(c.height).u32(c.duration_ms).string(c.caption).build())


# --- decoders for every response and push ---

def read_token_reply(r: Reader) -> TokenReply:
    return TokenReply(r.bytes(), r.u64())


def read_auth_reply(r: Reader) -> AuthReply:
    return AuthReply(r.u64(), r.string(), r.string(), r.u64(), r.u64(), r.option(read_token_reply))


def read_message(r: Reader) -> Message:
    # The kind is kept as a number even if unknown (sections 3, 11).
    return Message(
        id=r.u64(), sender=r.u64(), to=r.target(), client_msg_id=r.id16(),
        kind=r.u8(), content=r.bytes(),
        extra=r.option(lambda rr: rr.string()), server_time=r.u64(), reply_to=r.u64(), edited=r.u64(),
        mentions=r.vec(Reader.u64),
    )


def read_new_login(r: Reader) -> NewLogin:
    return NewLogin(device_id=r.string(), device_type=r.u8(), client_type=r.u8(), address=r.string())


def read_birth_date(r: Reader) -> BirthDate:
    return BirthDate(year=r.u16(), month=r.u8(), day=r.u8())


def read_profile(r: Reader, strict: bool = False) -> Profile:
    """A Profile; `strict` (a request) rejects an unknown gender as the
    server does, otherwise (a response) it is kept as a number."""
    return Profile(
        nickname=r.string(), avatar=r.u64(),
        gender=r.enum(GENDERS, "Gender") if strict else r.u8(),
        birth_date=r.option(read_birth_date), signature=r.string(), city=r.string(),
        province=r.string(), extra=r.string(),
    )


def read_user_card(r: Reader) -> UserCard:
    return UserCard(user_id=r.u64(), username=r.string(), nickname=r.string(), avatar=r.u64())


def read_friend_request_info(r: Reader) -> FriendRequestInfo:
    return FriendRequestInfo(
        id=r.u64(), from_=read_user_card(r), to=read_user_card(r), message=r.string(),
        state=r.u8(), expires_at=r.u64(), answered_at=r.u64(),
    )


def read_friend(r: Reader) -> Friend:
    return Friend(user=read_user_card(r), remark=r.string(), since=r.u64())


def read_blocked_user(r: Reader) -> BlockedUser:
    return BlockedUser(user=read_user_card(r), since=r.u64())


def read_group_fields(r: Reader, strict: bool = False) -> GroupFields:
    """GroupFields; `strict` (a request) rejects an unknown join policy as
    the server does, otherwise it is kept as a number."""
    return GroupFields(
        name=r.string(), avatar=r.u64(), introduction=r.string(), announcement=r.string(),
        join_policy=r.enum(JOIN_POLICIES, "JoinPolicy") if strict else r.u8(), history_visible=r.bool(),
    )


def read_group_info(r: Reader) -> GroupInfo:
    return GroupInfo(
        group_id=r.u64(), name=r.string(), avatar=r.u64(), introduction=r.string(),
        announcement=r.string(), join_policy=r.u8(), history_visible=r.bool(), muted=r.bool(),
        owner=r.u64(), member_count=r.u32(), my_role=r.option(Reader.u8),
    )


def read_join_request_info(r: Reader) -> JoinRequestInfo:
    return JoinRequestInfo(
        id=r.u64(), group_id=r.u64(), group_name=r.string(), user=read_user_card(r), message=r.string(),
        state=r.u8(), answered_by=r.u64(),
    )


def read_invitation_info(r: Reader) -> InvitationInfo:
    return InvitationInfo(
        id=r.u64(), group_id=r.u64(), group_name=r.string(), inviter=read_user_card(r),
        invitee=read_user_card(r), state=r.u8(),
    )


def read_join_outcome(r: Reader) -> JoinOutcome:
    variant = r.u32()
    if variant == JOINED:
        return JoinOutcome(variant, read_group_info(r))
    if variant == REQUESTED:
        return JoinOutcome(variant, read_join_request_info(r))
    raise DecodeError(f"JoinOutcome variant {variant}")


def read_ban(r: Reader) -> Ban:
    return Ban(user=read_user_card(r), by=r.u64(), since=r.u64())


def read_member(r: Reader) -> Member:
    return Member(user=read_user_card(r), role=r.u8(), alias=r.string(), joined_at=r.u64(),
                  muted_until=r.u64(), online=r.bool())


def read_group_news(r: Reader) -> GroupNews:
    return GroupNews(group_id=r.u64(), latest=r.u64())


def read_last_message(r: Reader) -> LastMessage:
    # The kind is kept as a number even if unknown (sections 3, 11).
    return LastMessage(id=r.u64(), sender=r.u64(), kind=r.u8(), server_time=r.u64(), preview=r.string())


def read_conversation_info(r: Reader) -> ConversationInfo:
    return ConversationInfo(
        with_=r.target(), last=r.option(read_last_message), unread=r.u32(), read_up_to=r.u64(),
        peer_read_up_to=r.u64(), updated=r.u64(), mentioned=r.u64(),
    )


def read_read_position(r: Reader) -> ReadPosition:
    return ReadPosition(with_=r.target(), read_up_to=r.u64(), unread=r.u32())


def read_recalled(r: Reader) -> Recalled:
    return Recalled(message_id=r.u64(), sender=r.u64(), to=r.target(), by=r.u64())


def read_deleted_for_me(r: Reader) -> DeletedForMe:
    return DeletedForMe(with_=r.target(), message_ids=r.vec(Reader.u64), cleared_up_to=r.u64(),
                        read_up_to=r.u64(), unread=r.u32())


def read_limited(r: Reader) -> Limited:
    return Limited(with_=r.target(), older_than=r.u64())


def read_update(r: Reader) -> Update:
    """An Update; the body of a known kind must decode exactly, an unknown
    kind's body is passed over by its length prefix (section 8.5)."""
    update_id, kind, body = r.u64(), r.u8(), r.bytes()
    decoder = UPDATE_BODY_DECODERS.get(kind)
    return Update(update_id, kind, body, decoder(body) if decoder else None)


def decode_heartbeat_reply(body: bytes) -> int:
    return _decode_exact(body, lambda r: r.u64())


def decode_register_reply(body: bytes) -> int:
    return _decode_exact(body, lambda r: r.u64())


def decode_login_reply(body: bytes) -> LoginReply:
    return _decode_exact(body, lambda r: LoginReply(r.bytes(), r.u64(), read_auth_reply(r)))


def decode_auth_reply(body: bytes) -> AuthReply:
    return _decode_exact(body, read_auth_reply)


def decode_empty(body: bytes) -> None:
    if body:
        raise DecodeError(f"expected empty body, got {len(body)} bytes")


def decode_token_reply(body: bytes) -> TokenReply:
    return _decode_exact(body, read_token_reply)


def decode_user_info(body: bytes) -> UserInfo:
    return _decode_exact(body, lambda r: UserInfo(r.u64(), r.string()))


def decode_send_reply(body: bytes) -> SendReply:
    return _decode_exact(body, lambda r: SendReply(r.u64(), r.u64(), r.bool()))


def decode_ack_reply(body: bytes) -> int:
    return _decode_exact(body, lambda r: r.u64())


def decode_page(body: bytes) -> Page:
    return _decode_exact(body, lambda r: Page(r.vec(read_message), r.bool()))


def decode_sync_page(body: bytes) -> SyncPage:
    # Revision 8: a fourth field, `limited`; revision 11: a fifth,
    # `notices_dropped` (section 5, Sync), read to the end.
    return _decode_exact(body, lambda r: SyncPage(r.vec(read_update), r.bool(), r.vec(read_group_news),
                                                  r.vec(read_limited), r.u64()))


def decode_message(body: bytes) -> Message:
    return _decode_exact(body, read_message)


def decode_new_login(body: bytes) -> NewLogin:
    return _decode_exact(body, read_new_login)


def decode_friend_request_info(body: bytes) -> FriendRequestInfo:
    return _decode_exact(body, read_friend_request_info)


def decode_friend_removed(body: bytes) -> FriendRemoved:
    return _decode_exact(body, lambda r: FriendRemoved(by=r.u64(), user_id=r.u64()))


def decode_block_changed(body: bytes) -> BlockChanged:
    return _decode_exact(body, lambda r: BlockChanged(user_id=r.u64(), blocked=r.bool()))


def decode_user_profile(body: bytes) -> UserProfile:
    return _decode_exact(body, lambda r: UserProfile(r.u64(), r.string(), read_profile(r)))


def decode_privacy_settings(body: bytes) -> PrivacySettings:
    return _decode_exact(body, lambda r: PrivacySettings(r.u8(), r.u8(), r.enum(AUDIENCES, "Audience")))


def read_presence_info(r: Reader) -> PresenceInfo:
    return PresenceInfo(r.u64(), r.bool(), r.u64())


def decode_presence_info(body: bytes) -> PresenceInfo:
    return _decode_exact(body, read_presence_info)


def decode_presence_list(body: bytes) -> PresenceList:
    return _decode_exact(body, lambda r: PresenceList(r.vec(read_presence_info)))


def decode_group_online(body: bytes) -> GroupOnline:
    return _decode_exact(body, lambda r: GroupOnline(r.u32(), r.u32()))


def decode_user_page(body: bytes) -> UserPage:
    return _decode_exact(body, lambda r: UserPage(r.vec(read_user_card), r.bytes(), r.bool()))


def decode_friend_request_page(body: bytes) -> FriendRequestPage:
    return _decode_exact(body, lambda r: FriendRequestPage(r.vec(read_friend_request_info), r.bool(), r.u32()))


def decode_friend_page(body: bytes) -> FriendPage:
    return _decode_exact(body, lambda r: FriendPage(r.vec(read_friend), r.bool()))


def decode_blocked_page(body: bytes) -> BlockedPage:
    return _decode_exact(body, lambda r: BlockedPage(r.vec(read_blocked_user), r.bool()))


def decode_create_group_reply(body: bytes) -> CreateGroupReply:
    return _decode_exact(body, lambda r: CreateGroupReply(
        read_group_info(r), r.vec(Reader.u64), r.vec(Reader.u64), r.vec(Reader.u64)))


def decode_group_info(body: bytes) -> GroupInfo:
    return _decode_exact(body, read_group_info)


def decode_group_page(body: bytes) -> GroupPage:
    return _decode_exact(body, lambda r: GroupPage(r.vec(read_group_info), r.bool()))


def decode_join_outcome(body: bytes) -> JoinOutcome:
    return _decode_exact(body, read_join_outcome)


def decode_join_request_info(body: bytes) -> JoinRequestInfo:
    return _decode_exact(body, read_join_request_info)


def decode_join_request_page(body: bytes) -> JoinRequestPage:
    return _decode_exact(body, lambda r: JoinRequestPage(r.vec(read_join_request_info), r.bool()))


def decode_invitation_info(body: bytes) -> InvitationInfo:
    return _decode_exact(body, read_invitation_info)


def decode_invitation_page(body: bytes) -> InvitationPage:
    return _decode_exact(body, lambda r: InvitationPage(r.vec(read_invitation_info), r.bool()))


def decode_ban_page(body: bytes) -> BanPage:
    return _decode_exact(body, lambda r: BanPage(r.vec(read_ban), r.bool()))


def decode_member_page(body: bytes) -> MemberPage:
    return _decode_exact(body, lambda r: MemberPage(r.vec(read_member), r.bool(), r.u32()))


def decode_conversation_page(body: bytes) -> ConversationPage:
    return _decode_exact(body, lambda r: ConversationPage(r.vec(read_conversation_info), r.bool(), r.u64()))


def decode_read_position(body: bytes) -> ReadPosition:
    return _decode_exact(body, read_read_position)


def decode_read_receipt(body: bytes) -> ReadReceipt:
    return _decode_exact(body, lambda r: ReadReceipt(reader=r.u64(), up_to=r.u64()))


def decode_read_receipts_setting(body: bytes) -> ReadReceiptsSetting:
    return _decode_exact(body, lambda r: ReadReceiptsSetting(r.bool()))


def decode_message_readers(body: bytes) -> MessageReaders:
    return _decode_exact(body, lambda r: MessageReaders(r.u32(), r.u32(), r.vec(Reader.u64), r.bool()))


def decode_recalled(body: bytes) -> Recalled:
    return _decode_exact(body, read_recalled)


def decode_deleted_for_me(body: bytes) -> DeletedForMe:
    return _decode_exact(body, read_deleted_for_me)


def decode_delivered(body: bytes) -> Delivered:
    return _decode_exact(body, lambda r: Delivered(recipient=r.u64(), up_to=r.u64()))


def decode_retention_setting(body: bytes) -> RetentionSetting:
    return _decode_exact(body, lambda r: RetentionSetting(with_=r.target(), seconds=r.u64(), server_seconds=r.u64(),
                                                          effective=r.u64()))


def decode_retention_changed(body: bytes) -> RetentionChanged:
    return _decode_exact(body, lambda r: RetentionChanged(by=r.u64(), to=r.target(), seconds=r.u64()))


def decode_upload_started(body: bytes) -> UploadStarted:
    return _decode_exact(body, lambda r: UploadStarted(upload_id=r.u64(), chunk_bytes=r.u32(), expires_ms=r.u64()))


def decode_upload_offset(body: bytes) -> UploadOffset:
    return _decode_exact(body, lambda r: UploadOffset(r.u64()))


def decode_media_info(body: bytes) -> MediaInfo:
    return _decode_exact(body, lambda r: MediaInfo(media_id=r.u64(), size=r.u64(), mime=r.string(), sha256=r.sha256()))


def decode_media_chunk(body: bytes) -> MediaChunk:
    return _decode_exact(body, lambda r: MediaChunk(size=r.u64(), mime=r.string(), data=r.bytes()))


def decode_media_url(body: bytes) -> MediaUrl:
    return _decode_exact(body, lambda r: MediaUrl(path=r.string(), expires_ms=r.u64()))


def decode_media_content(content: bytes) -> MediaContent:
    """An Image, Voice, Video or File message's content (revision 15)."""
    return _decode_exact(content, lambda r: MediaContent(
        media_id=r.u64(), thumbnail=r.option(Reader.u64), name=r.string(), size=r.u64(), mime=r.string(),
        width=r.u32(), height=r.u32(), duration_ms=r.u32(), caption=r.string()))


_EVENT_FIELD_READERS = {
    "user_id": Reader.u64, "by": Reader.u64, "from_": Reader.u64, "to": Reader.u64, "until": Reader.u64,
    "role": Reader.u8, "muted": Reader.bool, "fields": read_group_fields,
    "message_id": Reader.u64, "sender": Reader.u64, "seconds": Reader.u64, "edited_at": Reader.u64,
}


def decode_group_event(content: bytes) -> GroupEvent:
    """A System message's content (section 4.2). A known variant must decode
    exactly; an unknown one yields its index alone, without failing."""
    r = Reader(content)
    variant = r.u32()
    names = GROUP_EVENT_FIELDS.get(variant)
    if names is None:
        return GroupEvent(variant)
    event = GroupEvent(variant, **{name: _EVENT_FIELD_READERS[name](r) for name in names})
    r.end()
    return event


# How each known update kind's body is decoded (section 8.2).
UPDATE_BODY_DECODERS = {
    UPDATE_MESSAGE: decode_message, UPDATE_NEW_LOGIN: decode_new_login,
    UPDATE_FRIEND_REQUEST: decode_friend_request_info, UPDATE_FRIEND_ANSWERED: decode_friend_request_info,
    UPDATE_FRIEND_REMOVED: decode_friend_removed, UPDATE_BLOCK_CHANGED: decode_block_changed,
    UPDATE_GROUP_JOIN_REQUEST: decode_join_request_info, UPDATE_GROUP_INVITATION: decode_invitation_info,
    UPDATE_READ_POSITION: decode_read_position, UPDATE_READ_RECEIPT: decode_read_receipt,
    UPDATE_MESSAGE_RECALLED: decode_recalled, UPDATE_DELETED_FOR_ME: decode_deleted_for_me,
    UPDATE_DELIVERED: decode_delivered, UPDATE_RETENTION_CHANGED: decode_retention_changed,
    UPDATE_READ_RECEIPTS_CHANGED: decode_read_receipts_setting,
    UPDATE_PROFILE_CHANGED: lambda body: decode_user_profile(body),
    UPDATE_PRIVACY_CHANGED: lambda body: decode_privacy_settings(body),
    UPDATE_PROFILE_VISIBILITY_CHANGED: lambda body: decode_field_visibility(body),
    UPDATE_REMARK_CHANGED: lambda body: _decode_exact(body, lambda r: RemarkChanged(r.u64(), r.string())),
    UPDATE_MESSAGE_EDITED: lambda body: _decode_exact(body, lambda r: Edited(r.u64(), r.u64(), r.target(), r.u64())),
    UPDATE_CONVERSATION_STATE_CHANGED: lambda body: decode_conversation_state(body),
    UPDATE_REACTION_CHANGED: lambda body: decode_reaction_changed(body),
    UPDATE_MOMENT_LIKED: lambda body: decode_moment_liked(body),
    UPDATE_MOMENT_COMMENTED: lambda body: decode_moment_commented(body),
    UPDATE_MOMENT_POSTED: lambda body: decode_moment_posted(body),
}


def decode_update(body: bytes) -> Update:
    return _decode_exact(body, read_update)


def decode_typing_push(body: bytes) -> TypingPush:
    return _decode_exact(body, lambda r: TypingPush(r.u64(), r.target(), r.bool(), r.u32()))


def decode_disconnect(body: bytes) -> DisconnectPush:
    # The reason is decoded leniently (unknown reasons are kept as numbers).
    return _decode_exact(body, lambda r: DisconnectPush(r.u8(), r.string()))


def decode_error_body(body: bytes) -> ErrorBody:
    # Revision 3: two trailing Option<u64> fields, always present as tags;
    # revision 14: an Option<u8> reason after them (section 4.2); revision
    # 15: an Option<u64> used after it. The code and the reason are kept as
    # numbers even if unknown.
    return _decode_exact(body, lambda r: ErrorBody(
        r.u16(), r.string(), r.option(lambda rr: rr.u64()), r.option(lambda rr: rr.u64()),
        r.option(lambda rr: rr.u8()), r.option(lambda rr: rr.u64())))


# Decoders for requests (symmetry; used to check the document's examples).
# Requests are decoded as strictly as the server does: unknown enum values fail.
def decode_register_request(body: bytes) -> RegisterRequest:
    return _decode_exact(body, lambda r: RegisterRequest(r.string(), r.string(), r.option(lambda rr: rr.bytes())))


def decode_login_request(body: bytes) -> LoginRequest:
    return _decode_exact(body, lambda r: LoginRequest(r.string(), r.string(), DeviceInfo(
        r.string(), r.enum(DEVICE_TYPES, "DeviceType"), r.enum(CLIENT_TYPES, "ClientType"))))


def decode_auth_request(body: bytes) -> AuthRequest:
    return _decode_exact(body, lambda r: AuthRequest(r.bytes()))


def decode_change_password_request(body: bytes) -> ChangePasswordRequest:
    return _decode_exact(body, lambda r: ChangePasswordRequest(r.string(), r.string()))


def decode_delete_account_request(body: bytes) -> DeleteAccountRequest:
    return _decode_exact(body, lambda r: DeleteAccountRequest(r.string()))


def decode_set_push_endpoint_request(body: bytes) -> SetPushEndpointRequest:
    return _decode_exact(body, lambda r: SetPushEndpointRequest(
        r.option(lambda r: PushEndpoint(r.string(), r.bytes(), r.id16(), r.bool()))))


def decode_push_key_reply(body: bytes) -> PushKeyReply:
    return _decode_exact(body, lambda r: PushKeyReply(r.bool(), r.bytes(), r.u32(), r.bool()))


def decode_find_user_request(body: bytes) -> FindUserRequest:
    return _decode_exact(body, lambda r: FindUserRequest(r.string()))


def decode_send_request(body: bytes) -> SendRequest:
    return _decode_exact(body, lambda r: SendRequest(
        r.target(), r.id16(), r.enum(MESSAGE_KINDS, "MessageKind"), r.bytes(),
        r.option(lambda rr: rr.string()), r.u64(), r.vec(Reader.u64)))


def decode_edit_request(body: bytes) -> EditRequest:
    return _decode_exact(body, lambda r: EditRequest(r.target(), r.u64(), r.bytes()))


def decode_history_request(body: bytes) -> HistoryRequest:
    return _decode_exact(body, lambda r: HistoryRequest(
        r.target(), r.enum(DIRECTIONS, "Direction"), r.u64(), r.u16()))


def decode_sync_request(body: bytes) -> SyncRequest:
    return _decode_exact(body, lambda r: SyncRequest(r.u64(), r.u16()))


def decode_ack_request(body: bytes) -> AckRequest:
    return _decode_exact(body, lambda r: AckRequest(r.u64()))


def decode_get_profile_request(body: bytes) -> GetProfileRequest:
    return _decode_exact(body, lambda r: GetProfileRequest(r.u64()))


def decode_field_visibility(body: bytes) -> FieldVisibility:
    return _decode_exact(body, read_field_visibility)


def read_field_visibility(r) -> FieldVisibility:
    return FieldVisibility(*(r.enum(AUDIENCES, "Audience") for _ in range(3)))


def decode_profile_visibility_request(body: bytes) -> ProfileVisibilityRequest:
    return _decode_exact(body, lambda r: ProfileVisibilityRequest(r.option(read_field_visibility)))


def decode_set_profile_request(body: bytes) -> SetProfileRequest:
    return _decode_exact(body, lambda r: SetProfileRequest(read_profile(r, strict=True)))


def decode_privacy_request(body: bytes) -> PrivacyRequest:
    return _decode_exact(body, lambda r: PrivacyRequest(
        r.option(lambda rr: rr.enum(DISCOVERABLES, "Discoverable")),
        r.option(lambda rr: rr.enum(FRIEND_POLICIES, "FriendPolicy")),
        r.option(lambda rr: rr.enum(AUDIENCES, "Audience"))))


def decode_search_users_request(body: bytes) -> SearchUsersRequest:
    return _decode_exact(body, lambda r: SearchUsersRequest(r.string(), r.bytes(), r.u16()))


def decode_add_friend_request(body: bytes) -> AddFriendRequest:
    return _decode_exact(body, lambda r: AddFriendRequest(r.u64(), r.string()))


def decode_answer_friend_request(body: bytes) -> AnswerFriendRequest:
    return _decode_exact(body, lambda r: AnswerFriendRequest(r.u64(), r.bool()))


def decode_list_friend_requests_request(body: bytes) -> ListFriendRequestsRequest:
    return _decode_exact(body, lambda r: ListFriendRequestsRequest(
        r.enum(REQUEST_BOXES, "RequestBox"), r.u64(), r.u16()))


def decode_list_friends_request(body: bytes) -> ListFriendsRequest:
    return _decode_exact(body, lambda r: ListFriendsRequest(r.u64(), r.u16()))


def decode_remove_friend_request(body: bytes) -> RemoveFriendRequest:
    return _decode_exact(body, lambda r: RemoveFriendRequest(r.u64()))


def decode_set_remark_request(body: bytes) -> SetRemarkRequest:
    return _decode_exact(body, lambda r: SetRemarkRequest(r.u64(), r.string()))


def decode_block_request(body: bytes) -> BlockRequest:
    return _decode_exact(body, lambda r: BlockRequest(r.u64()))


def decode_unblock_request(body: bytes) -> UnblockRequest:
    return _decode_exact(body, lambda r: UnblockRequest(r.u64()))


def decode_list_blocked_request(body: bytes) -> ListBlockedRequest:
    return _decode_exact(body, lambda r: ListBlockedRequest(r.u64(), r.u16()))


def decode_create_group_request(body: bytes) -> CreateGroupRequest:
    return _decode_exact(body, lambda r: CreateGroupRequest(read_group_fields(r, strict=True), r.vec(Reader.u64)))


def decode_get_group_request(body: bytes) -> GetGroupRequest:
    return _decode_exact(body, lambda r: GetGroupRequest(r.u64()))


def decode_update_group_request(body: bytes) -> UpdateGroupRequest:
    return _decode_exact(body, lambda r: UpdateGroupRequest(r.u64(), read_group_fields(r, strict=True)))


def decode_dissolve_group_request(body: bytes) -> DissolveGroupRequest:
    return _decode_exact(body, lambda r: DissolveGroupRequest(r.u64()))


def decode_transfer_group_request(body: bytes) -> TransferGroupRequest:
    return _decode_exact(body, lambda r: TransferGroupRequest(r.u64(), r.u64()))


def decode_leave_group_request(body: bytes) -> LeaveGroupRequest:
    return _decode_exact(body, lambda r: LeaveGroupRequest(r.u64()))


def decode_list_groups_request(body: bytes) -> ListGroupsRequest:
    return _decode_exact(body, lambda r: ListGroupsRequest(r.u64(), r.u16()))


def decode_join_group_request(body: bytes) -> JoinGroupRequest:
    return _decode_exact(body, lambda r: JoinGroupRequest(r.u64(), r.string()))


def decode_answer_join_request(body: bytes) -> AnswerJoinRequest:
    return _decode_exact(body, lambda r: AnswerJoinRequest(r.u64(), r.u64(), r.bool()))


def decode_list_join_requests_request(body: bytes) -> ListJoinRequestsRequest:
    return _decode_exact(body, lambda r: ListJoinRequestsRequest(r.u64(), r.u64(), r.u16()))


def decode_invite_to_group_request(body: bytes) -> InviteToGroupRequest:
    return _decode_exact(body, lambda r: InviteToGroupRequest(r.u64(), r.u64()))


def decode_answer_invitation_request(body: bytes) -> AnswerInvitationRequest:
    return _decode_exact(body, lambda r: AnswerInvitationRequest(r.u64(), r.bool()))


def decode_list_invitations_request(body: bytes) -> ListInvitationsRequest:
    return _decode_exact(body, lambda r: ListInvitationsRequest(r.u64(), r.u16()))


def decode_kick_member_request(body: bytes) -> KickMemberRequest:
    return _decode_exact(body, lambda r: KickMemberRequest(r.u64(), r.u64()))


def decode_set_admin_request(body: bytes) -> SetAdminRequest:
    return _decode_exact(body, lambda r: SetAdminRequest(r.u64(), r.u64(), r.bool()))


def decode_ban_request(body: bytes) -> BanRequest:
    return _decode_exact(body, lambda r: BanRequest(r.u64(), r.u64(), r.bool()))


def decode_list_bans_request(body: bytes) -> ListBansRequest:
    return _decode_exact(body, lambda r: ListBansRequest(r.u64(), r.u64(), r.u16()))


def decode_mute_member_request(body: bytes) -> MuteMemberRequest:
    return _decode_exact(body, lambda r: MuteMemberRequest(r.u64(), r.u64(), r.u64()))


def decode_mute_group_request(body: bytes) -> MuteGroupRequest:
    return _decode_exact(body, lambda r: MuteGroupRequest(r.u64(), r.bool()))


def decode_set_alias_request(body: bytes) -> SetAliasRequest:
    return _decode_exact(body, lambda r: SetAliasRequest(r.u64(), r.string()))


def decode_list_members_request(body: bytes) -> ListMembersRequest:
    return _decode_exact(body, lambda r: ListMembersRequest(r.u64(), r.u64(), r.u16(), r.bool()))


def decode_list_conversations_request(body: bytes) -> ListConversationsRequest:
    return _decode_exact(body, lambda r: ListConversationsRequest(r.u64(), r.u64(), r.u16()))


def decode_mark_read_request(body: bytes) -> MarkReadRequest:
    return _decode_exact(body, lambda r: MarkReadRequest(r.target(), r.u64()))


def decode_read_receipts_request(body: bytes) -> ReadReceiptsRequest:
    return _decode_exact(body, lambda r: ReadReceiptsRequest(r.option(Reader.bool)))


def decode_message_readers_request(body: bytes) -> MessageReadersRequest:
    return _decode_exact(body, lambda r: MessageReadersRequest(r.u64(), r.u64()))


def decode_recall_request(body: bytes) -> RecallRequest:
    return _decode_exact(body, lambda r: RecallRequest(r.target(), r.u64()))


def decode_delete_for_me_request(body: bytes) -> DeleteForMeRequest:
    return _decode_exact(body, lambda r: DeleteForMeRequest(r.target(), r.vec(Reader.u64), r.u64()))


def decode_retention_request(body: bytes) -> RetentionRequest:
    return _decode_exact(body, lambda r: RetentionRequest(r.target(), r.option(Reader.u64)))


def encode_conversation_state_request(with_: "Target | int", pinned: Optional[bool] = None,
                                     draft: Optional[str] = None, muted: Optional[bool] = None) -> bytes:
    """A ConversationStateRequest (revision 19; `muted` revision 21); `with_` is a Target, or a user id."""
    return (Writer().target(as_target(with_)).option(pinned, Writer.bool)
            .option(draft, Writer.string).option(muted, Writer.bool).build())


def encode_conversation_state_into(w: Writer, s: ConversationState) -> Writer:
    return w.target(s.with_).u64(s.pinned_at).string(s.draft).u64(s.changed_at).bool(s.muted)


def read_conversation_state(r: Reader) -> ConversationState:
    return ConversationState(r.target(), r.u64(), r.string(), r.u64(), r.bool())


def decode_conversation_state(body: bytes) -> ConversationState:
    return _decode_exact(body, read_conversation_state)


def decode_conversation_states(body: bytes) -> ConversationStates:
    return _decode_exact(body, lambda r: ConversationStates(r.vec(read_conversation_state)))


def decode_conversation_state_request(body: bytes) -> ConversationStateRequest:
    return _decode_exact(body, lambda r: ConversationStateRequest(
        r.target(), r.option(lambda rr: rr.bool()), r.option(lambda rr: rr.string()),
        r.option(lambda rr: rr.bool())))


def encode_react(with_: "Target | int", message_id: int, emoji: str, add: bool) -> bytes:
    """A ReactRequest (revision 20); `with_` is a Target, or a user id."""
    return Writer().target(as_target(with_)).u64(message_id).string(emoji).bool(add).build()


def encode_reactions(with_: "Target | int", message_id: int) -> bytes:
    """A ReactionsRequest (revision 20)."""
    return Writer().target(as_target(with_)).u64(message_id).build()


def encode_message_reactions(m: MessageReactions) -> bytes:
    return (Writer().u64(m.message_id).vec(m.reactions, lambda w, c: w.string(c.emoji).u32(c.count)
                                                 .vec(c.users, Writer.u64).bool(c.mine)).build())


def decode_message_reactions(body: bytes) -> MessageReactions:
    return _decode_exact(body, lambda r: MessageReactions(r.u64(), r.vec(
        lambda rr: ReactionCount(rr.string(), rr.u32(), rr.vec(Reader.u64), rr.bool()))))


def encode_reaction_changed_into(w: Writer, c: ReactionChanged) -> Writer:
    return w.u64(c.message_id).u64(c.sender).target(c.to).u64(c.user_id).string(c.emoji).bool(c.added)


def decode_reaction_changed(body: bytes) -> ReactionChanged:
    return _decode_exact(body, lambda r: ReactionChanged(r.u64(), r.u64(), r.target(), r.u64(), r.string(),
                                                         r.bool()))


def decode_typing_request(body: bytes) -> TypingRequest:
    return _decode_exact(body, lambda r: TypingRequest(r.target(), r.bool()))


def decode_start_upload_request(body: bytes) -> StartUploadRequest:
    return _decode_exact(body, lambda r: StartUploadRequest(
        r.u64(), r.string(), r.sha256(), r.enum(MEDIA_PURPOSES, "MediaPurpose"), r.u32(), r.u32(), r.u32()))


def decode_upload_chunk_request(body: bytes) -> UploadChunkRequest:
    return _decode_exact(body, lambda r: UploadChunkRequest(r.u64(), r.u64(), r.bytes()))


def decode_upload_status_request(body: bytes) -> UploadStatusRequest:
    return _decode_exact(body, lambda r: UploadStatusRequest(r.u64()))


def decode_finish_upload_request(body: bytes) -> FinishUploadRequest:
    return _decode_exact(body, lambda r: FinishUploadRequest(r.u64()))


def decode_get_media_request(body: bytes) -> GetMediaRequest:
    return _decode_exact(body, lambda r: GetMediaRequest(r.u64(), r.u64(), r.u32()))


def decode_media_url_request(body: bytes) -> MediaUrlRequest:
    return _decode_exact(body, lambda r: MediaUrlRequest(r.u64()))


# Revision 24: moments (section 5, PublishMoment to MomentFilter; section 8.2, kinds 23-25)

def encode_moment_media_into(w: Writer, m: MomentMedia) -> Writer:
    w.u32(m.variant)
    if m.variant == MOMENT_MEDIA_IMAGES:
        return w.vec(list(m.images), Writer.u64)
    if m.variant == MOMENT_MEDIA_VIDEO:
        return w.u64(m.video).u64(m.cover)
    if m.variant != MOMENT_MEDIA_NONE:
        raise ValueError(f"MomentMedia variant {m.variant}")
    return w


def read_moment_media(r: Reader) -> MomentMedia:
    # As with Target, an unknown variant cannot be skipped: it fails the body.
    variant = r.u32()
    if variant == MOMENT_MEDIA_NONE:
        return MomentMedia.none()
    if variant == MOMENT_MEDIA_IMAGES:
        return MomentMedia.of_images(r.vec(Reader.u64))
    if variant == MOMENT_MEDIA_VIDEO:
        return MomentMedia.of_video(r.u64(), r.u64())
    raise DecodeError(f"MomentMedia variant {variant}")


def encode_location_into(w: Writer, x: Location) -> Writer:
    return w.string(x.name).i32(x.latitude_e7).i32(x.longitude_e7)


def read_location(r: Reader) -> Location:
    return Location(r.string(), r.i32(), r.i32())


def encode_moment_visibility_into(w: Writer, v: MomentVisibility) -> Writer:
    return w.u8(v.audience).vec(list(v.users), Writer.u64)


def read_moment_visibility(r: Reader, strict: bool = False) -> MomentVisibility:
    """A MomentVisibility; `strict` (a request) rejects an unknown audience as
    the server does, otherwise (a response) it is kept as a number."""
    return MomentVisibility(r.enum(MOMENT_AUDIENCES, "MomentAudience") if strict else r.u8(), r.vec(Reader.u64))


def encode_moment_file_into(w: Writer, f: MomentFile) -> Writer:
    return w.u64(f.media_id).string(f.mime).u64(f.size).u32(f.width).u32(f.height).u32(f.duration_ms)


def read_moment_file(r: Reader) -> MomentFile:
    return MomentFile(r.u64(), r.string(), r.u64(), r.u32(), r.u32(), r.u32())


def encode_moment_comment_into(w: Writer, c: MomentComment) -> Writer:
    return (w.u64(c.comment_id).u64(c.moment_id).u64(c.author).string(c.text).option(c.reply_to, Writer.u64)
            .u64(c.reply_to_user))


def read_moment_comment(r: Reader) -> MomentComment:
    return MomentComment(r.u64(), r.u64(), r.u64(), r.string(), r.option(Reader.u64), r.u64())


def encode_moment_into(w: Writer, m: Moment) -> Writer:
    w.u64(m.moment_id).u64(m.author).string(m.text)
    encode_moment_media_into(w, m.media)
    return (w.vec(m.files, encode_moment_file_into).option(m.location, encode_location_into)
            .option(m.visibility, encode_moment_visibility_into).u32(m.like_count).vec(m.likes, Writer.u64)
            .bool(m.liked).u32(m.comment_count).vec(m.comments, encode_moment_comment_into))


def read_moment(r: Reader) -> Moment:
    return Moment(
        moment_id=r.u64(), author=r.u64(), text=r.string(), media=read_moment_media(r),
        files=r.vec(read_moment_file), location=r.option(read_location),
        visibility=r.option(read_moment_visibility), like_count=r.u32(), likes=r.vec(Reader.u64),
        liked=r.bool(), comment_count=r.u32(), comments=r.vec(read_moment_comment),
    )


def encode_publish_moment(client_id: bytes, text: str, media: Optional[MomentMedia] = None,
                          location: Optional[Location] = None,
                          visibility: Optional[MomentVisibility] = None) -> bytes:
    """A PublishMomentRequest; by default no files and the Friends audience."""
    w = Writer().id16(client_id).string(text)
    encode_moment_media_into(w, media if media is not None else MomentMedia.none())
    w.option(location, encode_location_into)
    return encode_moment_visibility_into(
        w, visibility if visibility is not None else MomentVisibility(MOMENT_FRIENDS)).build()


def decode_publish_moment_request(body: bytes) -> PublishMomentRequest:
    return _decode_exact(body, lambda r: PublishMomentRequest(
        r.id16(), r.string(), read_moment_media(r), r.option(read_location), read_moment_visibility(r, strict=True)))


def encode_moment_published(p: MomentPublished) -> bytes:
    return Writer().u64(p.moment_id).bool(p.duplicate).build()


def decode_moment_published(body: bytes) -> MomentPublished:
    return _decode_exact(body, lambda r: MomentPublished(r.u64(), r.bool()))


def encode_delete_moment(moment_id: int) -> bytes:
    return Writer().u64(moment_id).build()


def encode_feed(before: int, limit: int) -> bytes:
    return Writer().u64(before).u16(limit).build()


def encode_user_moments(user_id: int, before: int, limit: int) -> bytes:
    return Writer().u64(user_id).u64(before).u16(limit).build()


def encode_get_moment(moment_id: int) -> bytes:
    return Writer().u64(moment_id).build()


def encode_like_moment(moment_id: int, like: bool) -> bytes:
    return Writer().u64(moment_id).bool(like).build()


def encode_comment_moment(moment_id: int, text: str, reply_to: Optional[int] = None) -> bytes:
    return Writer().u64(moment_id).string(text).option(reply_to, Writer.u64).build()


def encode_delete_comment(moment_id: int, comment_id: int) -> bytes:
    return Writer().u64(moment_id).u64(comment_id).build()


def encode_moment_comments(moment_id: int, after: int, limit: int) -> bytes:
    return Writer().u64(moment_id).u64(after).u16(limit).build()


def encode_moment_settings_request(window: Optional[int] = None) -> bytes:
    return Writer().option(window, Writer.u8).build()


def encode_moment_filter_request(user_id: int, hide_mine: Optional[bool] = None,
                                 hide_theirs: Optional[bool] = None) -> bytes:
    return Writer().u64(user_id).option(hide_mine, Writer.bool).option(hide_theirs, Writer.bool).build()


def encode_moment(m: Moment) -> bytes:
    return encode_moment_into(Writer(), m).build()


def decode_moment(body: bytes) -> Moment:
    return _decode_exact(body, read_moment)


def encode_moment_page(p: MomentPage) -> bytes:
    return Writer().vec(p.moments, encode_moment_into).bool(p.more).build()


def decode_moment_page(body: bytes) -> MomentPage:
    return _decode_exact(body, lambda r: MomentPage(r.vec(read_moment), r.bool()))


def encode_moment_comment(c: MomentComment) -> bytes:
    return encode_moment_comment_into(Writer(), c).build()


def decode_moment_comment(body: bytes) -> MomentComment:
    return _decode_exact(body, read_moment_comment)


def encode_comment_page(p: CommentPage) -> bytes:
    return Writer().vec(p.comments, encode_moment_comment_into).bool(p.more).build()


def decode_comment_page(body: bytes) -> CommentPage:
    return _decode_exact(body, lambda r: CommentPage(r.vec(read_moment_comment), r.bool()))


def encode_moment_settings(s: MomentSettings) -> bytes:
    return Writer().u8(s.window).build()


def decode_moment_settings(body: bytes) -> MomentSettings:
    return _decode_exact(body, lambda r: MomentSettings(r.u8()))


def encode_moment_filter(f: MomentFilter) -> bytes:
    return Writer().u64(f.user_id).bool(f.hide_mine).bool(f.hide_theirs).build()


def decode_moment_filter(body: bytes) -> MomentFilter:
    return _decode_exact(body, lambda r: MomentFilter(r.u64(), r.bool(), r.bool()))


def encode_moment_liked_into(w: Writer, x: MomentLiked) -> Writer:
    return w.u64(x.moment_id).u64(x.user_id)


def decode_moment_liked(body: bytes) -> MomentLiked:
    return _decode_exact(body, lambda r: MomentLiked(r.u64(), r.u64()))


def encode_moment_commented_into(w: Writer, x: MomentCommented) -> Writer:
    return encode_moment_comment_into(w.u64(x.moment_author), x.comment)


def decode_moment_commented(body: bytes) -> MomentCommented:
    return _decode_exact(body, lambda r: MomentCommented(r.u64(), read_moment_comment(r)))


def encode_moment_posted_into(w: Writer, x: MomentPosted) -> Writer:
    return w.u64(x.moment_id).u64(x.author)


def decode_moment_posted(body: bytes) -> MomentPosted:
    return _decode_exact(body, lambda r: MomentPosted(r.u64(), r.u64()))


# One row per action (section 5.1): its byte, its name, and the codecs of
# its request and of its success response (encoder(decoder(body)) == body).
# Every per-action table of this client is built from these rows, so a new
# action is one row here.
class Action(NamedTuple):
    byte: int
    name: str
    encode_request: Callable
    decode_request: Callable
    encode_response: Callable
    decode_response: Callable


ACTIONS = [
    Action(HEARTBEAT, "Heartbeat", lambda _: encode_heartbeat(), decode_empty,
           encode_u64, decode_heartbeat_reply),
    Action(REGISTER, "Register", lambda q: encode_register(q.username, q.password, q.invitation), decode_register_request,
           encode_u64, decode_register_reply),
    Action(LOGIN, "Login", lambda q: encode_login(q.username, q.password, q.device), decode_login_request,
           encode_login_reply, decode_login_reply),
    Action(AUTH, "Auth", lambda q: encode_auth(q.token), decode_auth_request,
           lambda a: encode_auth_reply_into(Writer(), a).build(), decode_auth_reply),
    Action(LOGOUT, "Logout", lambda _: encode_logout(), decode_empty,
           lambda _: b"", decode_empty),
    Action(CHANGE_PASSWORD, "ChangePassword", lambda q: encode_change_password(q.old_password, q.new_password), decode_change_password_request,
           encode_token_reply, decode_token_reply),
    Action(FIND_USER, "FindUser", lambda q: encode_find_user(q.username), decode_find_user_request,
           encode_user_info, decode_user_info),
    Action(RENEW_TOKEN, "RenewToken", lambda _: encode_renew_token(), decode_empty,
           encode_token_reply, decode_token_reply),
    Action(DELETE_ACCOUNT, "DeleteAccount", lambda q: encode_delete_account(q.password), decode_delete_account_request,
           lambda _: b"", decode_empty),
    Action(PUSH_KEY, "PushKey", lambda _: b"", decode_empty,
           encode_push_key_reply, decode_push_key_reply),
    Action(SET_PUSH_ENDPOINT, "SetPushEndpoint", lambda q: encode_set_push_endpoint(q.endpoint),
           decode_set_push_endpoint_request, lambda _: b"", decode_empty),
    Action(SEND, "Send", lambda q: encode_send(q.to, q.client_msg_id, q.kind, q.content, q.extra, q.reply_to,
                                               q.mentions),
           decode_send_request, encode_send_reply, decode_send_reply),
    Action(EDIT, "Edit", lambda q: encode_edit(q.with_, q.message_id, q.content), decode_edit_request,
           lambda m: encode_message(Writer(), m).build(), decode_message),
    Action(HISTORY, "History", lambda q: encode_history(q.with_, q.direction, q.anchor, q.limit), decode_history_request,
           encode_page, decode_page),
    Action(SYNC, "Sync", lambda q: encode_sync(q.after, q.limit), decode_sync_request,
           encode_sync_page, decode_sync_page),
    Action(ACK, "Ack", lambda q: encode_ack(q.up_to), decode_ack_request,
           encode_u64, decode_ack_reply),
    Action(GET_PROFILE, "GetProfile", lambda q: encode_get_profile(q.user_id), decode_get_profile_request,
           encode_user_profile, decode_user_profile),
    Action(SET_PROFILE, "SetProfile", lambda q: encode_set_profile(q.profile), decode_set_profile_request,
           encode_user_profile, decode_user_profile),
    Action(PRIVACY, "Privacy", lambda q: encode_privacy(q.discoverable, q.friend_policy, q.presence),
           decode_privacy_request, encode_privacy_settings, decode_privacy_settings),
    Action(PRESENCE, "Presence", lambda q: encode_presence(q.users, q.watch),
           lambda b: _decode_exact(b, lambda r: PresenceRequest(r.vec(lambda rr: rr.u64()), r.bool())),
           lambda p: Writer().vec(p.users, encode_presence_info_into).build(), decode_presence_list),
    Action(SEARCH_USERS, "SearchUsers", lambda q: encode_search_users(q.query, q.cursor, q.limit), decode_search_users_request,
           encode_user_page, decode_user_page),
    Action(ADD_FRIEND, "AddFriend", lambda q: encode_add_friend(q.user_id, q.message), decode_add_friend_request,
           encode_friend_request, decode_friend_request_info),
    Action(ANSWER_FRIEND, "AnswerFriend", lambda q: encode_answer_friend(q.request_id, q.accept), decode_answer_friend_request,
           encode_friend_request, decode_friend_request_info),
    Action(LIST_FRIEND_REQUESTS, "ListFriendRequests", lambda q: encode_list_friend_requests(q.direction, q.before, q.limit), decode_list_friend_requests_request,
           encode_friend_request_page, decode_friend_request_page),
    Action(LIST_FRIENDS, "ListFriends", lambda q: encode_list_friends(q.after, q.limit), decode_list_friends_request,
           encode_friend_page, decode_friend_page),
    Action(REMOVE_FRIEND, "RemoveFriend", lambda q: encode_remove_friend(q.user_id), decode_remove_friend_request,
           lambda _: b"", decode_empty),
    Action(SET_REMARK, "SetRemark", lambda q: encode_set_remark(q.user_id, q.remark), decode_set_remark_request,
           lambda _: b"", decode_empty),
    Action(BLOCK, "Block", lambda q: encode_block(q.user_id), decode_block_request,
           lambda _: b"", decode_empty),
    Action(UNBLOCK, "Unblock", lambda q: encode_unblock(q.user_id), decode_unblock_request,
           lambda _: b"", decode_empty),
    Action(LIST_BLOCKED, "ListBlocked", lambda q: encode_list_blocked(q.after, q.limit), decode_list_blocked_request,
           encode_blocked_page, decode_blocked_page),
    Action(PROFILE_VISIBILITY, "ProfileVisibility", lambda q: encode_profile_visibility(q.set), decode_profile_visibility_request,
           lambda f: encode_field_visibility(Writer(), f).build(), decode_field_visibility),
    Action(CREATE_GROUP, "CreateGroup", lambda q: encode_create_group(q.fields, q.members), decode_create_group_request,
           encode_create_group_reply, decode_create_group_reply),
    Action(GET_GROUP, "GetGroup", lambda q: encode_get_group(q.group_id), decode_get_group_request,
           encode_group_info, decode_group_info),
    Action(UPDATE_GROUP, "UpdateGroup", lambda q: encode_update_group(q.group_id, q.fields), decode_update_group_request,
           encode_group_info, decode_group_info),
    Action(DISSOLVE_GROUP, "DissolveGroup", lambda q: encode_dissolve_group(q.group_id), decode_dissolve_group_request,
           lambda _: b"", decode_empty),
    Action(TRANSFER_GROUP, "TransferGroup", lambda q: encode_transfer_group(q.group_id, q.user_id), decode_transfer_group_request,
           lambda _: b"", decode_empty),
    Action(LEAVE_GROUP, "LeaveGroup", lambda q: encode_leave_group(q.group_id), decode_leave_group_request,
           lambda _: b"", decode_empty),
    Action(LIST_GROUPS, "ListGroups", lambda q: encode_list_groups(q.after, q.limit), decode_list_groups_request,
           encode_group_page, decode_group_page),
    Action(JOIN_GROUP, "JoinGroup", lambda q: encode_join_group(q.group_id, q.message), decode_join_group_request,
           encode_join_outcome, decode_join_outcome),
    Action(ANSWER_JOIN_REQUEST, "AnswerJoinRequest", lambda q: encode_answer_join_request(q.group_id, q.user_id, q.accept), decode_answer_join_request,
           encode_join_request, decode_join_request_info),
    Action(LIST_JOIN_REQUESTS, "ListJoinRequests", lambda q: encode_list_join_requests(q.group_id, q.after, q.limit), decode_list_join_requests_request,
           encode_join_request_page, decode_join_request_page),
    Action(INVITE_TO_GROUP, "InviteToGroup", lambda q: encode_invite_to_group(q.group_id, q.user_id), decode_invite_to_group_request,
           encode_invitation, decode_invitation_info),
    Action(ANSWER_INVITATION, "AnswerInvitation", lambda q: encode_answer_invitation(q.group_id, q.accept), decode_answer_invitation_request,
           encode_invitation, decode_invitation_info),
    Action(LIST_INVITATIONS, "ListInvitations", lambda q: encode_list_invitations(q.after, q.limit), decode_list_invitations_request,
           encode_invitation_page, decode_invitation_page),
    Action(KICK_MEMBER, "KickMember", lambda q: encode_kick_member(q.group_id, q.user_id), decode_kick_member_request,
           lambda _: b"", decode_empty),
    Action(SET_ADMIN, "SetAdmin", lambda q: encode_set_admin(q.group_id, q.user_id, q.admin), decode_set_admin_request,
           lambda _: b"", decode_empty),
    Action(BAN_USER, "BanUser", lambda q: encode_ban_user(q.group_id, q.user_id, q.banned), decode_ban_request,
           lambda _: b"", decode_empty),
    Action(LIST_BANS, "ListBans", lambda q: encode_list_bans(q.group_id, q.after, q.limit), decode_list_bans_request,
           encode_ban_page, decode_ban_page),
    Action(MUTE_MEMBER, "MuteMember", lambda q: encode_mute_member(q.group_id, q.user_id, q.until), decode_mute_member_request,
           lambda _: b"", decode_empty),
    Action(MUTE_GROUP, "MuteGroup", lambda q: encode_mute_group(q.group_id, q.muted), decode_mute_group_request,
           lambda _: b"", decode_empty),
    Action(SET_ALIAS, "SetAlias", lambda q: encode_set_alias(q.group_id, q.alias), decode_set_alias_request,
           lambda _: b"", decode_empty),
    Action(GROUP_ONLINE, "GroupOnline", lambda q: encode_group_online(q.group_id),
           lambda b: _decode_exact(b, lambda r: GroupOnlineRequest(r.u64())),
           lambda g: Writer().u32(g.member_count).u32(g.online).build(), decode_group_online),
    Action(LIST_MEMBERS, "ListMembers", lambda q: encode_list_members(q.group_id, q.after, q.limit, q.online_only), decode_list_members_request,
           encode_member_page, decode_member_page),
    Action(LIST_CONVERSATIONS, "ListConversations", lambda q: encode_list_conversations(q.before, q.changed_since, q.limit), decode_list_conversations_request,
           encode_conversation_page, decode_conversation_page),
    Action(MARK_READ, "MarkRead", lambda q: encode_mark_read(q.with_, q.up_to), decode_mark_read_request,
           encode_read_position, decode_read_position),
    Action(READ_RECEIPTS, "ReadReceipts", lambda q: encode_read_receipts(q.set), decode_read_receipts_request,
           encode_read_receipts_setting, decode_read_receipts_setting),
    Action(MESSAGE_READERS, "MessageReaders", lambda q: encode_message_readers(q.group_id, q.message_id), decode_message_readers_request,
           encode_message_readers_reply, decode_message_readers),
    Action(RECALL, "Recall", lambda q: encode_recall(q.with_, q.message_id), decode_recall_request,
           encode_recalled, decode_recalled),
    Action(DELETE_FOR_ME, "DeleteForMe", lambda q: encode_delete_for_me(q.with_, q.message_ids, q.clear_up_to), decode_delete_for_me_request,
           encode_deleted_for_me, decode_deleted_for_me),
    Action(RETENTION, "Retention", lambda q: encode_retention(q.with_, q.set), decode_retention_request,
           encode_retention_setting, decode_retention_setting),
    Action(TYPING, "Typing", lambda q: encode_typing(q.with_, q.typing), decode_typing_request,
           lambda _: b"", decode_empty),
    Action(CONVERSATION_STATE, "ConversationState",
           lambda q: encode_conversation_state_request(q.with_, q.pinned, q.draft, q.muted),
           decode_conversation_state_request,
           lambda s: encode_conversation_state_into(Writer(), s).build(), decode_conversation_state),
    Action(CONVERSATION_STATES, "ConversationStates", lambda _: b"", decode_empty,
           lambda s: Writer().vec(s.states, encode_conversation_state_into).build(), decode_conversation_states),
    Action(REACT, "React", lambda q: encode_react(q.with_, q.message_id, q.emoji, q.add),
           lambda b: _decode_exact(b, lambda r: ReactRequest(r.target(), r.u64(), r.string(), r.bool())),
           encode_message_reactions, decode_message_reactions),
    Action(REACTIONS, "Reactions", lambda q: encode_reactions(q.with_, q.message_id),
           lambda b: _decode_exact(b, lambda r: ReactionsRequest(r.target(), r.u64())),
           encode_message_reactions, decode_message_reactions),
    Action(START_UPLOAD, "StartUpload", lambda q: encode_start_upload(q.size, q.mime, q.sha256, q.purpose, q.width, q.height, q.duration_ms), decode_start_upload_request,
           encode_upload_started, decode_upload_started),
    Action(UPLOAD_CHUNK, "UploadChunk", lambda q: encode_upload_chunk(q.upload_id, q.offset, q.data), decode_upload_chunk_request,
           encode_upload_offset, decode_upload_offset),
    Action(UPLOAD_STATUS, "UploadStatus", lambda q: encode_upload_status(q.upload_id), decode_upload_status_request,
           encode_upload_offset, decode_upload_offset),
    Action(FINISH_UPLOAD, "FinishUpload", lambda q: encode_finish_upload(q.upload_id), decode_finish_upload_request,
           encode_media_info, decode_media_info),
    Action(GET_MEDIA, "GetMedia", lambda q: encode_get_media(q.media_id, q.offset, q.length), decode_get_media_request,
           encode_media_chunk, decode_media_chunk),
    Action(MEDIA_URL, "MediaUrl", lambda q: encode_media_url(q.media_id), decode_media_url_request,
           encode_media_url_reply, decode_media_url),
    Action(PUBLISH_MOMENT, "PublishMoment",
           lambda q: encode_publish_moment(q.client_id, q.text, q.media, q.location, q.visibility),
           decode_publish_moment_request, encode_moment_published, decode_moment_published),
    Action(DELETE_MOMENT, "DeleteMoment", lambda q: encode_delete_moment(q.moment_id),
           lambda b: _decode_exact(b, lambda r: DeleteMomentRequest(r.u64())),
           lambda _: b"", decode_empty),
    Action(FEED, "Feed", lambda q: encode_feed(q.before, q.limit),
           lambda b: _decode_exact(b, lambda r: FeedRequest(r.u64(), r.u16())),
           encode_moment_page, decode_moment_page),
    Action(USER_MOMENTS, "UserMoments", lambda q: encode_user_moments(q.user_id, q.before, q.limit),
           lambda b: _decode_exact(b, lambda r: UserMomentsRequest(r.u64(), r.u64(), r.u16())),
           encode_moment_page, decode_moment_page),
    Action(GET_MOMENT, "GetMoment", lambda q: encode_get_moment(q.moment_id),
           lambda b: _decode_exact(b, lambda r: GetMomentRequest(r.u64())),
           encode_moment, decode_moment),
    Action(LIKE_MOMENT, "LikeMoment", lambda q: encode_like_moment(q.moment_id, q.like),
           lambda b: _decode_exact(b, lambda r: LikeMomentRequest(r.u64(), r.bool())),
           lambda _: b"", decode_empty),
    Action(COMMENT_MOMENT, "CommentMoment", lambda q: encode_comment_moment(q.moment_id, q.text, q.reply_to),
           lambda b: _decode_exact(b, lambda r: CommentMomentRequest(r.u64(), r.string(), r.option(Reader.u64))),
           encode_moment_comment, decode_moment_comment),
    Action(DELETE_COMMENT, "DeleteComment", lambda q: encode_delete_comment(q.moment_id, q.comment_id),
           lambda b: _decode_exact(b, lambda r: DeleteCommentRequest(r.u64(), r.u64())),
           lambda _: b"", decode_empty),
    Action(MOMENT_COMMENTS, "MomentComments", lambda q: encode_moment_comments(q.moment_id, q.after, q.limit),
           lambda b: _decode_exact(b, lambda r: MomentCommentsRequest(r.u64(), r.u64(), r.u16())),
           encode_comment_page, decode_comment_page),
    Action(MOMENT_SETTINGS, "MomentSettings", lambda q: encode_moment_settings_request(q.window),
           lambda b: _decode_exact(b, lambda r: MomentSettingsRequest(
               r.option(lambda rr: rr.enum(MOMENT_WINDOWS, "MomentWindow")))),
           encode_moment_settings, decode_moment_settings),
    Action(MOMENT_FILTER, "MomentFilter", lambda q: encode_moment_filter_request(q.user_id, q.hide_mine, q.hide_theirs),
           lambda b: _decode_exact(b, lambda r: MomentFilterRequest(r.u64(), r.option(Reader.bool),
                                                                    r.option(Reader.bool))),
           encode_moment_filter, decode_moment_filter),
]

ACTION_NAMES = {a.byte: a.name for a in ACTIONS} | {
    ERROR: "Error", PUSH_DISCONNECT: "Disconnect", PUSH_UPDATE: "Update", PUSH_TYPING: "Typing",
    PUSH_PRESENCE: "Presence"}
REQUEST_ENCODERS = {a.byte: a.encode_request for a in ACTIONS}
REQUEST_DECODERS = {a.byte: a.decode_request for a in ACTIONS}
# Success responses, and the error body and pushes (keyed by their action byte).
RESPONSE_ENCODERS = {a.byte: a.encode_response for a in ACTIONS} | {
    ERROR: lambda e: encode_error_body(e.code, e.message, e.retry_after_ms, e.limit, e.reason, e.used),
    PUSH_DISCONNECT: lambda d: encode_disconnect(d.reason, d.message), PUSH_UPDATE: encode_update,
    PUSH_TYPING: encode_typing_push,
    PUSH_PRESENCE: lambda p: encode_presence_info_into(Writer(), p).build(),
}
RESPONSE_DECODERS = {a.byte: a.decode_response for a in ACTIONS} | {
    ERROR: decode_error_body, PUSH_DISCONNECT: decode_disconnect, PUSH_UPDATE: decode_update,
    PUSH_TYPING: decode_typing_push,
    PUSH_PRESENCE: decode_presence_info,
}


def snowflake_time(snowflake_id: int) -> int:
    """Time in ms since the Unix epoch of a message or update id (section 8.7):
    a message's server_time, or when any other update was committed."""
    return (snowflake_id >> 22) + SNOWFLAKE_EPOCH_MS


def new_client_msg_id() -> bytes:
    return uuid.uuid4().bytes


# ---------------------------------------------------------------------------
# TLS pinning (section 1.1)
# ---------------------------------------------------------------------------

def parse_fingerprint(text: str) -> bytes:
    s = text.strip()
    if s.upper().startswith("SHA256:"):
        s = s[7:]
    s = s.replace(":", "").replace(" ", "")
    if len(s) != 64:
        raise ValueError(f"fingerprint must be 32 bytes (64 hex digits), got {len(s)} digits")
    return bytes.fromhex(s)


def _der(data: bytes) -> "tuple[int, bytes, bytes, bytes]":
    """One DER element: (tag, whole element, contents, what follows)."""
    tag, first = data[0], data[1]
    if first < 0x80:
        length, header = first, 2
    else:
        n = first & 0x7F
        length, header = int.from_bytes(data[2:2 + n], "big"), 2 + n
    return tag, data[:header + length], data[header:header + length], data[header + length:]


def public_key_pin(der: bytes) -> bytes:
    """SHA-256 of a certificate's SubjectPublicKeyInfo (section 1.1): the
    seventh element of the TBSCertificate when it starts with a [0] version
    (serial, algorithm, issuer, validity, subject, then the key)."""
    _, _, tbs, _ = _der(_der(der)[2])
    fields = []
    while tbs:
        tag, element, _, tbs = _der(tbs)
        fields.append((tag, element))
    if fields and fields[0][0] == 0xA0:
        fields = fields[1:]
    return hashlib.sha256(fields[5][1]).digest()


def _pinned_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False          # the pin replaces hostname verification
    ctx.verify_mode = ssl.CERT_NONE     # and CA-chain validation
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols([ALPN])
    return ctx


# ---------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------

class _Pending:
    __slots__ = ("event", "frame")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.frame: Optional[Frame] = None


class KithClient:
    """One connection to a kith server.

    A single background I/O thread owns the socket (non-blocking, driven by a
    selector): it writes queued frames and reads continuously (section 7.4),
    routes responses to waiting callers by sequence id and queues pushes on
    `self.pushes` (items are (action, decoded) tuples: an Update for the
    Update push, whatever its kind — an unknown kind has `value` None and is
    for the application to skip —, a DisconnectPush for the Disconnect push,
    raw bytes for unknown push actions). One thread doing both directions
    keeps a TLS connection safe (an OpenSSL connection must not be read and
    written concurrently).
    """

    DEFAULT_TIMEOUT = 20.0
    SLOW_TIMEOUT = 30.0

    def __init__(self, sock: socket.socket, *, alpn: Optional[str] = None, label: str = ""):
        self._sock = sock
        try:  # our address as the server sees it (e.g. in a NewLogin update)
            self.local_address: Optional[str] = sock.getsockname()[0] if sock.family != socket.AF_UNIX else None
        except OSError:
            self.local_address = None
        self.alpn = alpn
        self.label = label
        self._out = bytearray()
        self._out_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._closing = False
        self._seq_lock = threading.Lock()
        self._next_seq = 1
        self._pending: dict[int, _Pending] = {}
        self._pending_lock = threading.Lock()
        self.pushes: "queue.Queue[tuple[int, object]]" = queue.Queue()
        self.seq0_errors: "queue.Queue[ErrorBody]" = queue.Queue()  # Error frames with sequence 0
        self.disconnect: Optional[DisconnectPush] = None
        self.closed = threading.Event()
        self.close_reason: Optional[str] = None
        self._io = threading.Thread(target=self._io_loop, daemon=True, name=f"kith-io-{label}")
        self._io.start()

    # -- construction ------------------------------------------------------

    @classmethod
    def connect_tcp(cls, host: str, port: int, *, timeout: float = 10.0, label: str = "") -> "KithClient":
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, label=label)

    @classmethod
    def connect_tls(cls, host: str, port: int, fingerprint: "str | bytes", *, timeout: float = 10.0,
                    label: str = "") -> "KithClient":
        pin = fingerprint if isinstance(fingerprint, bytes) else parse_fingerprint(fingerprint)
        if len(pin) != 32:
            raise ValueError("pin must be 32 bytes")
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = _pinned_context().wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise
        try:
            der = tls.getpeercert(binary_form=True)
            if der is None:
                raise PinMismatch("server presented no certificate")
            got = hashlib.sha256(der).digest()
            # The pin is the certificate's hash or its public key's.
            if not (hmac.compare_digest(got, pin) or hmac.compare_digest(public_key_pin(der), pin)):
                raise PinMismatch(
                    f"certificate pin mismatch: server {fmt_fingerprint(got)}, pinned {fmt_fingerprint(pin)}")
            alpn = tls.selected_alpn_protocol()
        except BaseException:
            tls.close()
            raise
        return cls(tls, alpn=alpn, label=label)

    @classmethod
    def connect(cls, host: str, port: int, *, tls: bool = False, fingerprint=None,
                timeout: float = 10.0, label: str = "") -> "KithClient":
        if tls:
            if fingerprint is None:
                raise ValueError("TLS needs a pinned fingerprint")
            return cls.connect_tls(host, port, fingerprint, timeout=timeout, label=label)
        return cls.connect_tcp(host, port, timeout=timeout, label=label)

    # -- I/O thread ---------------------------------------------------------

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _io_loop(self) -> None:
        sock = self._sock
        sock.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        inbuf = bytearray()
        reason = "eof"
        want_write_event = False
        try:
            while not self._closing:
                with self._out_lock:
                    pending_out = bool(self._out)
                events = selectors.EVENT_READ | (selectors.EVENT_WRITE if (pending_out or want_write_event) else 0)
                sel.modify(sock, events)
                for key, _ in sel.select(timeout=1.0):
                    if key.fileobj is self._wake_r:
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except (BlockingIOError, InterruptedError):
                            pass
                if self._closing:
                    reason = "closed by client"
                    break
                want_write_event = False
                # write what is queued
                while True:
                    with self._out_lock:
                        chunk = bytes(self._out[:65536])
                    if not chunk:
                        break
                    try:
                        n = sock.send(chunk)
                    except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
                        want_write_event = True
                        break
                    except ssl.SSLWantReadError:
                        break
                    with self._out_lock:
                        del self._out[:n]
                # read everything available
                eof = False
                while True:
                    try:
                        data = sock.recv(65536)
                    except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                        break
                    except ssl.SSLWantWriteError:
                        want_write_event = True
                        break
                    if not data:
                        eof = True
                        break
                    inbuf += data
                # parse complete frames
                while len(inbuf) >= HEADER_LEN:
                    version, action, seq, n = decode_header(bytes(inbuf[:HEADER_LEN]))
                    if version != PROTOCOL_VERSION:
                        raise DecodeError(f"server sent version {version}")
                    if n > MAX_SERVER_BODY:
                        raise DecodeError(f"server body of {n} bytes")
                    if len(inbuf) < HEADER_LEN + n:
                        break
                    body = bytes(inbuf[HEADER_LEN:HEADER_LEN + n])
                    del inbuf[:HEADER_LEN + n]
                    self._dispatch(Frame(action, seq, body, version))
                if eof:
                    reason = "eof" if not inbuf else f"eof with {len(inbuf)} bytes of a partial frame"
                    break
        except (OSError, ssl.SSLError) as e:
            reason = f"{type(e).__name__}: {e}"
        except Exception as e:  # decode failures of pushes etc.
            reason = f"I/O thread failed: {type(e).__name__}: {e}"
        finally:
            sel.close()
            try:
                sock.close()
            except OSError:
                pass
            self._wake_r.close()
            self._wake_w.close()
            self.close_reason = reason
            self.closed.set()
            with self._pending_lock:
                pend = list(self._pending.values())
                self._pending.clear()
            for p in pend:
                p.event.set()  # frame stays None -> ConnectionClosed

    def _dispatch(self, f: Frame) -> None:
        if f.seq == 0 and f.action >= 0x80:
            if f.action == PUSH_UPDATE:
                self.pushes.put((f.action, decode_update(f.body)))
            elif f.action == PUSH_DISCONNECT:
                d = decode_disconnect(f.body)
                self.disconnect = d
                self.pushes.put((f.action, d))
            elif f.action == PUSH_TYPING:
                self.pushes.put((f.action, decode_typing_push(f.body)))
            elif f.action == PUSH_PRESENCE:
                self.pushes.put((f.action, decode_presence_info(f.body)))
            else:
                self.pushes.put((f.action, f.body))  # unknown push: keep but ignore
            return
        with self._pending_lock:
            p = self._pending.pop(f.seq, None)
        if p is not None:
            p.frame = f
            p.event.set()
        elif f.seq == 0 and f.action == ERROR:
            self.seq0_errors.put(decode_error_body(f.body))
        # else: a response nobody waits for (timed-out call); drop it.

    def _alloc_seq(self) -> int:
        with self._seq_lock:
            s = self._next_seq
            self._next_seq = 1 if self._next_seq == 0xFFFFFFFF else self._next_seq + 1
            return s

    def write_raw(self, data: bytes) -> None:
        """Queue bytes for the I/O thread (whole frames are queued atomically)."""
        if self.closed.is_set():
            raise ConnectionClosed(self.close_reason or "closed")
        with self._out_lock:
            self._out += data
        self._wake()

    def call_raw(self, action: int, body: bytes = b"", *, seq: Optional[int] = None,
                 version: int = PROTOCOL_VERSION, timeout: Optional[float] = None,
                 raw: Optional[bytes] = None) -> Frame:
        """Send one frame and wait for the frame with the same sequence id.

        With `raw`, those exact bytes are written instead of an encoded frame
        (for protocol tests); `seq` must then be the sequence id they carry.
        """
        if seq is None:
            seq = self._alloc_seq()
        p = _Pending()
        with self._pending_lock:
            if self.closed.is_set():
                raise ConnectionClosed(self.close_reason or "closed")
            self._pending[seq] = p
        self.write_raw(raw if raw is not None else encode_frame(action, seq, body, version))
        if not p.event.wait(self.DEFAULT_TIMEOUT if timeout is None else timeout):
            with self._pending_lock:
                self._pending.pop(seq, None)
            raise TimeoutError(f"no response to {ACTION_NAMES.get(action, hex(action))} seq {seq}")
        if p.frame is None:
            raise ConnectionClosed(self.close_reason or "closed")
        return p.frame

    def call_many(self, requests: list, *, timeout: Optional[float] = None) -> list:
        """Pipeline: write every (action, body) request in one go, each with its
        own sequence id, then wait for all the answers (matched by sequence id,
        section 2.1). Returns the frames in request order. Keep the number of
        writes among them within the server's in-flight window (section 7.4)."""
        entries = []
        data = bytearray()
        with self._pending_lock:
            if self.closed.is_set():
                raise ConnectionClosed(self.close_reason or "closed")
            for action, body in requests:
                seq = self._alloc_seq()
                p = _Pending()
                self._pending[seq] = p
                entries.append((seq, action, p))
                data += encode_frame(action, seq, body)
        self.write_raw(bytes(data))
        deadline = time.monotonic() + (self.DEFAULT_TIMEOUT if timeout is None else timeout)
        out = []
        for seq, action, p in entries:
            if not p.event.wait(max(0.0, deadline - time.monotonic())):
                with self._pending_lock:
                    for s, _, _ in entries:
                        self._pending.pop(s, None)
                raise TimeoutError(f"no response to {ACTION_NAMES.get(action, hex(action))} seq {seq}")
            if p.frame is None:
                raise ConnectionClosed(self.close_reason or "closed")
            out.append(p.frame)
        return out

    def request(self, action: int, body: bytes = b"", *, timeout: Optional[float] = None) -> bytes:
        """Send a request; return the success body or raise KithError."""
        f = self.call_raw(action, body, timeout=timeout)
        if f.action == ERROR:
            raise KithError.from_body(decode_error_body(f.body), action)
        if f.action != action:
            raise DecodeError(f"response action {f.action:#04x} to request {action:#04x}")
        return f.body

    # -- pushes ------------------------------------------------------------

    def next_push(self, timeout: float = 5.0, action: Optional[int] = None):
        """Return the next queued push (of `action`, if given), skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no push arrived")
            try:
                a, value = self.pushes.get(timeout=left)
            except queue.Empty:
                raise TimeoutError("no push arrived") from None
            if action is None or a == action:
                return a, value

    def next_update(self, timeout: float = 5.0, kind: Optional[int] = None) -> Update:
        """Return the next Update push (of `kind`, if given), skipping other pushes."""
        deadline = time.monotonic() + timeout
        while True:
            u = self.next_push(max(0.0, deadline - time.monotonic()), PUSH_UPDATE)[1]
            if kind is None or u.kind == kind:
                return u

    def next_message(self, timeout: float = 5.0) -> Message:
        """The Message of the next Update push of kind Message (section 8.2)."""
        return self.next_update(timeout, UPDATE_MESSAGE).value

    def wait_disconnect(self, timeout: float = 5.0) -> DisconnectPush:
        return self.next_push(timeout, PUSH_DISCONNECT)[1]

    def wait_closed(self, timeout: float = 5.0) -> bool:
        return self.closed.wait(timeout)

    # -- typed methods (section 5) -----------------------------------------

    def heartbeat(self) -> int:
        return decode_heartbeat_reply(self.request(HEARTBEAT, encode_heartbeat()))

    def register(self, username: str, password: str, invitation: Optional[bytes] = None) -> int:
        """Register (section 5, Register); `invitation` is the code of a join link (section 12)."""
        return decode_register_reply(self.request(REGISTER, encode_register(username, password, invitation),
                                                  timeout=self.SLOW_TIMEOUT))

    def login(self, username: str, password: str, device_id: Optional[str] = None,
              device_type: int = DEVICE_DESKTOP, client_type: int = CLIENT_OTHER) -> LoginReply:
        dev = DeviceInfo(str(uuid.uuid4()) if device_id is None else device_id, device_type, client_type)
        return decode_login_reply(self.request(LOGIN, encode_login(username, password, dev),
                                               timeout=self.SLOW_TIMEOUT))

    def auth(self, token: bytes) -> AuthReply:
        return decode_auth_reply(self.request(AUTH, encode_auth(token)))

    def logout(self) -> None:
        decode_empty(self.request(LOGOUT, encode_logout()))

    def change_password(self, old_password: str, new_password: str) -> TokenReply:
        return decode_token_reply(self.request(
            CHANGE_PASSWORD, encode_change_password(old_password, new_password), timeout=self.SLOW_TIMEOUT))

    def delete_account(self, password: str) -> None:
        """DeleteAccount (0x09, section 5, DeleteAccount): ends this account for good; the
        server answers, then closes with Disconnect(AccountDeleted)."""
        decode_empty(self.request(DELETE_ACCOUNT, encode_delete_account(password), timeout=self.SLOW_TIMEOUT))

    def push_key(self) -> PushKeyReply:
        """PushKey (0x0a, section 5, PushKey): the server's VAPID key and wake-up
        interval, and whether this device has an endpoint."""
        return decode_push_key_reply(self.request(PUSH_KEY, b""))

    def set_push_endpoint(self, endpoint: Optional[PushEndpoint]) -> None:
        """SetPushEndpoint (0x0b, section 5, SetPushEndpoint): where this device is
        woken while it has no connection; None clears it."""
        decode_empty(self.request(SET_PUSH_ENDPOINT, encode_set_push_endpoint(endpoint)))

    def find_user(self, username: str) -> UserInfo:
        return decode_user_info(self.request(FIND_USER, encode_find_user(username)))

    def renew_token(self) -> TokenReply:
        """RenewToken (0x08, section 5, RenewToken): a fresh token for this device. Until
        it is first used with Auth, the old token keeps working too."""
        return decode_token_reply(self.request(RENEW_TOKEN, encode_renew_token()))

    def send(self, to: "Target | int", content: bytes | str, *, kind: int = KIND_TEXT,
             client_msg_id: Optional[bytes] = None, extra: Optional[str] = None, reply_to: int = 0,
             mentions=()) -> SendReply:
        """Send (0x10, section 5, Send) to a Target: a user (a plain int is a
        user id) or a group (Target.group(id)); `reply_to` (revision 18) names
        the message of that conversation it answers."""
        if isinstance(content, str):
            content = content.encode("utf-8")
        cmid = client_msg_id if client_msg_id is not None else new_client_msg_id()
        return decode_send_reply(self.request(SEND, encode_send(to, cmid, kind, content, extra, reply_to, mentions)))

    def edit(self, with_: "Target | int", message_id: int, content: bytes | str) -> Message:
        """Edit (0x14, revision 18): the sender replaces the text of a Text
        message within the server's edit window; returns the message as it
        now reads, `edited` set."""
        if isinstance(content, str):
            content = content.encode("utf-8")
        return decode_message(self.request(EDIT, encode_edit(with_, message_id, content)))

    def message(self, with_: "Target | int", message_id: int) -> Optional[Message]:
        """One message of a conversation, if the caller may read it (revision 18,
        section 5, Edit): History before `message_id + 1`, one message. None
        means "original unavailable" for a reply."""
        page = self.history(with_, DIRECTION_BEFORE, message_id + 1, 1)
        return next((m for m in page.messages if m.id == message_id), None)

    def history(self, with_: "Target | int", direction: int = DIRECTION_BEFORE, anchor: int = 0,
                limit: int = 100) -> Page:
        """History (0x13, section 5, History) of a conversation: with a user (a
        plain int is a user id) or a group's (Target.group(id))."""
        return decode_page(self.request(HISTORY, encode_history(with_, direction, anchor, limit)))

    def sync(self, after: int = 0, limit: int = 100) -> SyncPage:
        return decode_sync_page(self.request(SYNC, encode_sync(after, limit)))

    def ack(self, up_to: int) -> int:
        return decode_ack_reply(self.request(ACK, encode_ack(up_to)))

    # -- the social graph (revision 4, section 5, GetProfile to ListBlocked) ------------------

    def get_profile(self, user_id: int) -> UserProfile:
        """GetProfile (0x20): NotFound for no such user, a disabled account or
        a block between the two (either way)."""
        return decode_user_profile(self.request(GET_PROFILE, encode_get_profile(user_id)))

    def set_profile(self, profile: Profile) -> UserProfile:
        """SetProfile (0x21): replaces the whole profile; returns it as stored."""
        return decode_user_profile(self.request(SET_PROFILE, encode_set_profile(profile)))

    def privacy(self, discoverable: Optional[int] = None, friend_policy: Optional[int] = None,
                presence: Optional[int] = None) -> PrivacySettings:
        """Privacy (0x22): changes the settings given; with none, only reads."""
        return decode_privacy_settings(self.request(PRIVACY, encode_privacy(discoverable, friend_policy, presence)))

    def presence(self, users: list, watch: bool = False) -> list:
        """Presence (0x2e, revision 22): the users' presence as we may see it
        (a list of PresenceInfo); with watch, this connection is pushed their
        comings and goings (0x84) from now on, instead of those watched before."""
        return decode_presence_list(self.request(PRESENCE, encode_presence(users, watch))).users

    def group_online(self, group_id: int) -> GroupOnline:
        """GroupOnline (0x45, revision 22): how many members are online."""
        return decode_group_online(self.request(GROUP_ONLINE, encode_group_online(group_id)))

    def profile_visibility(self, fields: Optional[FieldVisibility] = None) -> FieldVisibility:
        """ProfileVisibility (0x2D): sets who sees each personal field, or only reads it."""
        return decode_field_visibility(self.request(PROFILE_VISIBILITY, encode_profile_visibility(fields)))

    def search_users(self, query: str, cursor: bytes = b"", limit: int = 20) -> UserPage:
        """SearchUsers (0x23): exact username first (first page), then nickname
        prefix matches; page on with the returned cursor, unchanged."""
        return decode_user_page(self.request(SEARCH_USERS, encode_search_users(query, cursor, limit)))

    def add_friend(self, user_id: int, message: str = "") -> FriendRequestInfo:
        return decode_friend_request_info(self.request(ADD_FRIEND, encode_add_friend(user_id, message)))

    def answer_friend(self, request_id: int, accept: bool) -> FriendRequestInfo:
        return decode_friend_request_info(self.request(ANSWER_FRIEND, encode_answer_friend(request_id, accept)))

    def list_friend_requests(self, direction: int = BOX_INCOMING, before: int = 0,
                             limit: int = 100) -> FriendRequestPage:
        return decode_friend_request_page(self.request(
            LIST_FRIEND_REQUESTS, encode_list_friend_requests(direction, before, limit)))

    def list_friends(self, after: int = 0, limit: int = 100) -> FriendPage:
        return decode_friend_page(self.request(LIST_FRIENDS, encode_list_friends(after, limit)))

    def remove_friend(self, user_id: int) -> None:
        decode_empty(self.request(REMOVE_FRIEND, encode_remove_friend(user_id)))

    def set_remark(self, user_id: int, remark: str) -> None:
        decode_empty(self.request(SET_REMARK, encode_set_remark(user_id, remark)))

    def block(self, user_id: int) -> None:
        decode_empty(self.request(BLOCK, encode_block(user_id)))

    def unblock(self, user_id: int) -> None:
        decode_empty(self.request(UNBLOCK, encode_unblock(user_id)))

    def list_blocked(self, after: int = 0, limit: int = 100) -> BlockedPage:
        return decode_blocked_page(self.request(LIST_BLOCKED, encode_list_blocked(after, limit)))

    # -- groups (revision 6, section 5, CreateGroup to ListMembers) -----------------------------

    def create_group(self, fields: GroupFields, members: "list | tuple" = ()) -> CreateGroupReply:
        """CreateGroup (0x30): the caller owns the new group; `members` are
        invited at once, each as their friend policy decides."""
        return decode_create_group_reply(self.request(CREATE_GROUP, encode_create_group(fields, list(members))))

    def get_group(self, group_id: int) -> GroupInfo:
        """GetGroup (0x31): anyone not banned may read a group."""
        return decode_group_info(self.request(GET_GROUP, encode_get_group(group_id)))

    def update_group(self, group_id: int, fields: GroupFields) -> GroupInfo:
        """UpdateGroup (0x32): replaces all the fields (owner, admins)."""
        return decode_group_info(self.request(UPDATE_GROUP, encode_update_group(group_id, fields)))

    def dissolve_group(self, group_id: int) -> None:
        decode_empty(self.request(DISSOLVE_GROUP, encode_dissolve_group(group_id)))

    def transfer_group(self, group_id: int, user_id: int) -> None:
        decode_empty(self.request(TRANSFER_GROUP, encode_transfer_group(group_id, user_id)))

    def leave_group(self, group_id: int) -> None:
        decode_empty(self.request(LEAVE_GROUP, encode_leave_group(group_id)))

    def list_groups(self, after: int = 0, limit: int = 100) -> GroupPage:
        return decode_group_page(self.request(LIST_GROUPS, encode_list_groups(after, limit)))

    def join_group(self, group_id: int, message: str = "") -> JoinOutcome:
        """JoinGroup (0x37): Joined in an Open group, Requested in an
        Approval group (`message` is for the deciders)."""
        return decode_join_outcome(self.request(JOIN_GROUP, encode_join_group(group_id, message)))

    def answer_join_request(self, group_id: int, user_id: int, accept: bool) -> JoinRequestInfo:
        return decode_join_request_info(self.request(
            ANSWER_JOIN_REQUEST, encode_answer_join_request(group_id, user_id, accept)))

    def list_join_requests(self, group_id: int, after: int = 0, limit: int = 100) -> JoinRequestPage:
        return decode_join_request_page(self.request(
            LIST_JOIN_REQUESTS, encode_list_join_requests(group_id, after, limit)))

    def invite_to_group(self, group_id: int, user_id: int) -> InvitationInfo:
        """InviteToGroup (0x3a): Pending, or Accepted when the invitee's
        friend policy accepts everyone."""
        return decode_invitation_info(self.request(INVITE_TO_GROUP, encode_invite_to_group(group_id, user_id)))

    def answer_invitation(self, group_id: int, accept: bool) -> InvitationInfo:
        return decode_invitation_info(self.request(ANSWER_INVITATION, encode_answer_invitation(group_id, accept)))

    def list_invitations(self, after: int = 0, limit: int = 100) -> InvitationPage:
        return decode_invitation_page(self.request(LIST_INVITATIONS, encode_list_invitations(after, limit)))

    def kick_member(self, group_id: int, user_id: int) -> None:
        decode_empty(self.request(KICK_MEMBER, encode_kick_member(group_id, user_id)))

    def set_admin(self, group_id: int, user_id: int, admin: bool) -> None:
        decode_empty(self.request(SET_ADMIN, encode_set_admin(group_id, user_id, admin)))

    def ban_user(self, group_id: int, user_id: int, banned: bool = True) -> None:
        """BanUser (0x3f): bans (removing a member), or lifts the ban."""
        decode_empty(self.request(BAN_USER, encode_ban_user(group_id, user_id, banned)))

    def list_bans(self, group_id: int, after: int = 0, limit: int = 100) -> BanPage:
        return decode_ban_page(self.request(LIST_BANS, encode_list_bans(group_id, after, limit)))

    def mute_member(self, group_id: int, user_id: int, until: int) -> None:
        """MuteMember (0x41): until `until` (ms since the Unix epoch); 0 lifts the mute."""
        decode_empty(self.request(MUTE_MEMBER, encode_mute_member(group_id, user_id, until)))

    def mute_group(self, group_id: int, muted: bool) -> None:
        decode_empty(self.request(MUTE_GROUP, encode_mute_group(group_id, muted)))

    def set_alias(self, group_id: int, alias: str) -> None:
        decode_empty(self.request(SET_ALIAS, encode_set_alias(group_id, alias)))

    def list_members(self, group_id: int, after: int = 0, limit: int = 100,
                     online_only: bool = False) -> MemberPage:
        return decode_member_page(self.request(
            LIST_MEMBERS, encode_list_members(group_id, after, limit, online_only)))

    # -- conversations (revision 7, section 5, ListConversations to MessageReaders) ---------------------

    def list_conversations(self, before: int = 0, changed_since: int = 0, limit: int = 100) -> ConversationPage:
        """ListConversations (0x48): the caller's conversations, most recently
        changed (`updated`) first; `before` pages on, `changed_since` asks
        only for the entries changed since a known `updated`."""
        return decode_conversation_page(self.request(
            LIST_CONVERSATIONS, encode_list_conversations(before, changed_since, limit)))

    def mark_read(self, with_: "Target | int", up_to: int = READ_EVERYTHING) -> ReadPosition:
        """MarkRead (0x49) in a conversation (a plain int is a user id): the
        read position moves to `up_to` (by default everything), never past
        the newest message and never backwards."""
        return decode_read_position(self.request(MARK_READ, encode_mark_read(with_, up_to)))

    def read_receipts(self, set_: Optional[bool] = None) -> ReadReceiptsSetting:
        """ReadReceipts (0x4a): turns sending read receipts on or off, or
        with None only asks; returns the setting now."""
        return decode_read_receipts_setting(self.request(READ_RECEIPTS, encode_read_receipts(set_)))

    def message_readers(self, group_id: int, message_id: int) -> MessageReaders:
        """MessageReaders (0x4b): how many members read a group message (and
        who, in a group of at most conversation.who_read_max_members)."""
        return decode_message_readers(self.request(MESSAGE_READERS, encode_message_readers(group_id, message_id)))

    # -- after sending (revision 8, section 5, Recall to DeleteForMe) ----------------------

    def recall(self, with_: "Target | int", message_id: int) -> Recalled:
        """Recall (0x4c) a message of a conversation (a plain int is a user
        id): the sender within the window of the message's kind, or in a
        group its owner and admins at any time. The message becomes a
        tombstone of kind 9 Recalled; asking again answers the first recall."""
        return decode_recalled(self.request(RECALL, encode_recall(with_, message_id)))

    def delete_for_me(self, with_: "Target | int", message_ids: "list | tuple" = (),
                      clear_up_to: int = 0) -> DeletedForMe:
        """DeleteForMe (0x4d): hides `message_ids` (at most 100) of a
        conversation, and with `clear_up_to` every message up to that id,
        for the caller's devices only."""
        return decode_deleted_for_me(self.request(DELETE_FOR_ME, encode_delete_for_me(with_, message_ids,
                                                                                      clear_up_to)))

    # -- retention (revision 9, section 5, Retention) -------------------------------

    def conversation_state(self, with_: "Target | int", pinned: Optional[bool] = None,
                           draft: Optional[str] = None, muted: Optional[bool] = None) -> ConversationState:
        """ConversationState (0x50, revision 19): pins or unpins a conversation,
        keeps a draft in it or (revision 21) mutes it, for all the caller's
        devices; all None only asks."""
        return decode_conversation_state(self.request(
            CONVERSATION_STATE, encode_conversation_state_request(with_, pinned, draft, muted)))

    def conversation_states(self) -> ConversationStates:
        """ConversationStates (0x51, revision 19): every conversation pinned or with a draft."""
        return decode_conversation_states(self.request(CONVERSATION_STATES, b""))

    def react(self, with_: "Target | int", message_id: int, emoji: str, add: bool = True) -> MessageReactions:
        """React (0x52, revision 20): adds (or removes) one of the caller's emoji on a message."""
        return decode_message_reactions(self.request(REACT, encode_react(with_, message_id, emoji, add)))

    def reactions(self, with_: "Target | int", message_id: int) -> MessageReactions:
        """Reactions (0x53, revision 20): the reactions on a message."""
        return decode_message_reactions(self.request(REACTIONS, encode_reactions(with_, message_id)))

    def typing(self, with_: "Target | int", typing: bool) -> None:
        """Typing (0x4f, revision 17): tells the conversation's other online
        devices that the caller is typing (repeat every 3 s), or stopped."""
        decode_empty(self.request(TYPING, encode_typing(with_, typing)))

    def retention(self, with_: "Target | int", set_: Optional[int] = None) -> RetentionSetting:
        """Retention (0x4e) of a conversation (a plain int is a user id):
        with `set_` (seconds, 0 for none of its own, at most 100 years) sets
        how long it keeps messages — either participant of a 1:1
        conversation, a group's owner and admins — or with None only asks;
        returns the conversation's, the server's and the effective retention."""
        return decode_retention_setting(self.request(RETENTION, encode_retention(with_, set_)))

    # -- media (revision 15, StartUpload to MediaUrl) -------------------------------

    def start_upload(self, size: int, mime: str, sha256: bytes, purpose: int = PURPOSE_MESSAGE, width: int = 0,
                     height: int = 0, duration_ms: int = 0) -> UploadStarted:
        """StartUpload (0x58): declares a file of `size` bytes, its MIME type
        and its SHA-256; FileTooLarge, QuotaExceeded or StorageFull refuse it."""
        return decode_upload_started(self.request(START_UPLOAD, encode_start_upload(
            size, mime, sha256, purpose, width, height, duration_ms)))

    def upload_chunk(self, upload_id: int, offset: int, data: bytes) -> UploadOffset:
        """UploadChunk (0x59): `data` (1 to chunk_bytes bytes) from `offset`,
        at most the offset the server holds; bytes it already holds are skipped."""
        return decode_upload_offset(self.request(UPLOAD_CHUNK, encode_upload_chunk(upload_id, offset, data)))

    def upload_status(self, upload_id: int) -> UploadOffset:
        """UploadStatus (0x5a): how many bytes of an upload the server holds, to resume it."""
        return decode_upload_offset(self.request(UPLOAD_STATUS, encode_upload_status(upload_id)))

    def finish_upload(self, upload_id: int) -> MediaInfo:
        """FinishUpload (0x5b): the server compares the hash of what it received
        with the declared one and stores the file."""
        return decode_media_info(self.request(FINISH_UPLOAD, encode_finish_upload(upload_id)))

    def get_media(self, media_id: int, offset: int = 0, length: int = DEFAULT_CHUNK_BYTES) -> MediaChunk:
        """GetMedia (0x5c): `length` bytes (1 to chunk_bytes) of a file the
        caller may read, from `offset`; fewer at the file's end."""
        return decode_media_chunk(self.request(GET_MEDIA, encode_get_media(media_id, offset, length)))

    def media_url(self, media_id: int) -> MediaUrl:
        """MediaUrl (0x5d): a short-lived signed HTTPS URL's path of a file the caller may read."""
        return decode_media_url(self.request(MEDIA_URL, encode_media_url(media_id)))

    def send_media(self, to: "Target | int", kind: int, content: MediaContent) -> SendReply:
        """Send a file as a message of `kind` (Image, Voice, Video or File),
        its content a MediaContent."""
        return self.send(to, encode_media_content(content), kind=kind)

    # -- moments (revision 24, section 5, PublishMoment to MomentFilter) ----------------------

    def publish_moment(self, text: str = "", media: Optional[MomentMedia] = None,
                       location: Optional[Location] = None, visibility: Optional[MomentVisibility] = None,
                       client_id: Optional[bytes] = None) -> MomentPublished:
        """PublishMoment (0x60): posts a moment of text and/or files (each the
        caller's own upload with purpose Moment), by default to the Friends
        audience. A retry with the same `client_id` answers the moment already
        posted (`duplicate` true)."""
        cid = client_id if client_id is not None else new_client_msg_id()
        return decode_moment_published(self.request(PUBLISH_MOMENT, encode_publish_moment(
            cid, text, media, location, visibility)))

    def delete_moment(self, moment_id: int) -> None:
        """DeleteMoment (0x61): takes down one of the caller's moments, with its likes and comments."""
        decode_empty(self.request(DELETE_MOMENT, encode_delete_moment(moment_id)))

    def feed(self, before: int = 0, limit: int = 20) -> MomentPage:
        """Feed (0x62): the caller's and friends' moments, newest first; page on
        with `before` = the last moment id."""
        return decode_moment_page(self.request(FEED, encode_feed(before, limit)))

    def user_moments(self, user_id: int, before: int = 0, limit: int = 20) -> MomentPage:
        """UserMoments (0x63): one user's moments the caller sees (their page), newest first."""
        return decode_moment_page(self.request(USER_MOMENTS, encode_user_moments(user_id, before, limit)))

    def get_moment(self, moment_id: int) -> Moment:
        """GetMoment (0x64): one moment the caller sees; NotFound otherwise."""
        return decode_moment(self.request(GET_MOMENT, encode_get_moment(moment_id)))

    def like_moment(self, moment_id: int, like: bool = True) -> None:
        """LikeMoment (0x65): likes a moment, or with like=False takes the like back."""
        decode_empty(self.request(LIKE_MOMENT, encode_like_moment(moment_id, like)))

    def comment_moment(self, moment_id: int, text: str, reply_to: Optional[int] = None) -> MomentComment:
        """CommentMoment (0x66): comments on a moment, or replies to one of its
        comments; returns the comment as the caller sees it."""
        return decode_moment_comment(self.request(COMMENT_MOMENT, encode_comment_moment(moment_id, text, reply_to)))

    def delete_comment(self, moment_id: int, comment_id: int) -> None:
        """DeleteComment (0x67): the caller's comment, or any on the caller's moment."""
        decode_empty(self.request(DELETE_COMMENT, encode_delete_comment(moment_id, comment_id)))

    def moment_comments(self, moment_id: int, after: int = 0, limit: int = 20) -> CommentPage:
        """MomentComments (0x68): the comments on a moment the caller sees, oldest
        first; page on with `after` = the last comment id."""
        return decode_comment_page(self.request(MOMENT_COMMENTS, encode_moment_comments(moment_id, after, limit)))

    def moment_settings(self, window: Optional[int] = None) -> MomentSettings:
        """MomentSettings (0x69): sets how far back others see the caller's
        moments (a MomentWindow), or with None only reads it."""
        return decode_moment_settings(self.request(MOMENT_SETTINGS, encode_moment_settings_request(window)))

    def moment_filter(self, user_id: int, hide_mine: Optional[bool] = None,
                      hide_theirs: Optional[bool] = None) -> MomentFilter:
        """MomentFilter (0x6a): the caller's two settings about one person
        (None keeps a setting; both None only reads)."""
        return decode_moment_filter(self.request(MOMENT_FILTER, encode_moment_filter_request(
            user_id, hide_mine, hide_theirs)))

    def list_all_conversations(self, changed_since: int = 0, limit: int = 100) -> tuple:
        """The paging loop of section 5, ListConversations's "Keeping a list on the phone":
        pages with `before` = the last entry's `updated` until `more` is
        false. Returns (entries, total_unread of the last page)."""
        out, before = [], 0
        for _ in range(1000):
            page = self.list_conversations(before, changed_since, limit)
            out.extend(page.conversations)
            if not page.more:
                return out, page.total_unread
            if not page.conversations:
                raise DecodeError("a conversation page with more = true but no entries")
            before = page.conversations[-1].updated
        raise DecodeError("conversation paging does not end")

    def search_all(self, query: str, limit: int = 20) -> list:
        """Every UserCard SearchUsers finds for `query`, paging with the opaque
        cursor until a page says more = false."""
        out, cursor = [], b""
        for _ in range(1000):
            page = self.search_users(query, cursor, limit)
            out.extend(page.users)
            cursor = page.cursor
            if not page.more:
                return out
        raise DecodeError("search paging does not end")

    def sync_all(self, after: int = 0, limit: int = 100) -> list:
        """The paging loop of section 8.3: every update after `after`, in
        ascending id order, until a page says more = false. Updates of unknown
        kinds are included (value None): skip them, but their ids count. The
        pages' `groups` (large groups to pull with History) and `limited`
        (conversations cut by the offline cap) are not kept: use `sync` where
        they matter."""
        out = []
        while True:
            page = self.sync(after, limit)
            out.extend(page.updates)
            if page.updates:
                after = page.updates[-1].id
            if not page.more:
                return out

    def upload(self, data: bytes, mime: str, purpose: int = PURPOSE_MESSAGE, width: int = 0, height: int = 0,
               duration_ms: int = 0) -> MediaInfo:
        """A whole upload: StartUpload with the SHA-256 of `data`, UploadChunk
        of at most the server's chunk_bytes from each offset it answers, then
        FinishUpload."""
        started = self.start_upload(len(data), mime, hashlib.sha256(data).digest(), purpose, width, height,
                                    duration_ms)
        offset = 0
        while offset < len(data):
            held = self.upload_chunk(started.upload_id, offset, data[offset:offset + started.chunk_bytes]).offset
            if held <= offset:
                raise DecodeError(f"upload offset {held} after a chunk at {offset}")
            offset = held
        return self.finish_upload(started.upload_id)

    def download(self, media_id: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> bytes:
        """A whole file, with GetMedia of `chunk_bytes` from each offset until
        the file's size."""
        out = bytearray()
        while True:
            chunk = self.get_media(media_id, len(out), chunk_bytes)
            out += chunk.data
            if len(out) >= chunk.size:
                return bytes(out)
            if not chunk.data:
                raise DecodeError(f"an empty media chunk at {len(out)} of {chunk.size} bytes")

    # -- closing -----------------------------------------------------------

    def close(self) -> None:
        self._closing = True
        self._wake()
        self.closed.wait(2.0)

    def __enter__(self) -> "KithClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fmt_fingerprint(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)
