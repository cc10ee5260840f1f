//! Error responses: the action byte they travel under, the codes and the body.

use serde::{Deserialize, Serialize};

use super::wire_enum;

/// The action byte of every failed request's response (its sequence id is
/// the request's).
pub const ERROR_ACTION: u8 = 0x7F;

wire_enum! {
    /// Why a request failed. The numbers are part of the protocol and never
    /// change meaning. Clients should treat an unknown code like `Internal`.
    pub enum ErrorCode: u16 {
        /// The header's version is not one this server speaks. The connection closes.
        UnsupportedVersion = 1,
        /// The action byte names no request.
        UnknownAction = 2,
        /// The body does not decode as the action's request type.
        MalformedBody = 3,
        /// The header announces a body above the server's limit. The connection closes.
        FrameTooLarge = 4,
        /// The action needs an authenticated connection.
        NotAuthenticated = 5,
        /// Wrong username or password (the two are never told apart).
        BadCredentials = 6,
        /// The user may not do this to that object.
        NotPermitted = 7,
        /// The named object does not exist, or is not visible to this user.
        NotFound = 8,
        /// The request conflicts with existing state, e.g. the username is taken.
        Conflict = 9,
        /// Too many requests; retry later.
        RateLimited = 10,
        /// The server failed; the request may be retried.
        Internal = 11,
        /// A field breaks a documented rule (length, charset, range).
        InvalidArgument = 12,
        /// The connection is already authenticated.
        AlreadyAuthenticated = 13,
        /// The token is unknown, revoked or expired: log in with the password again.
        InvalidToken = 14,
        /// The account is disabled by the operator.
        AccountDisabled = 15,
        /// The sequence id is 0, which is reserved for pushes.
        BadSequence = 16,
        /// The server admits only invited users and the Register carried no invitation.
        InvitationRequired = 17,
        /// The invitation is unknown, used up, expired or revoked.
        InvalidInvitation = 18,
        /// The server takes no registrations; the operator creates accounts.
        RegistrationClosed = 19,
        /// The sender is muted in this group, or the group is muted and the
        /// sender is neither its owner nor an admin.
        Muted = 20,
        /// The user is banned from this group.
        Banned = 21,
        /// The file is larger than the server stores (revision 15); `limit`
        /// is the largest size, in bytes.
        FileTooLarge = 22,
        /// The user's stored files would exceed their quota (revision 15);
        /// `limit` is the quota and `used` what they store now, in bytes.
        QuotaExceeded = 23,
        /// The server's disk is nearly full and takes no uploads (revision
        /// 15); messages still go through. `limit` is the free space the
        /// server keeps and `used` the free space left, in bytes.
        StorageFull = 24,
    }
}

wire_enum! {
    /// Why a request was refused with `RateLimited` (`ErrorBody.reason`,
    /// revision 14): it tells a client whether to retry by itself or to
    /// tell its user, without parsing the message.
    pub enum RateLimitReason: u8 {
        /// This connection sends requests faster than its allowance: slow
        /// down (section 7.4).
        Requests = 1,
        /// Too many failed attempts at a secret from this account or
        /// address (passwords, invitations): the user waits.
        Failures = 2,
        /// A quota over a period is used up (registrations per address,
        /// searches, friend requests, group invitations, profile lookups);
        /// `limit` is the quota: the user waits.
        Quota = 3,
        /// Too many such requests are being processed right now: retry
        /// after the wait, without troubling the user.
        Busy = 4,
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// An [`ErrorCode`] number; kept raw so a client can survive codes newer
    /// than itself.
    pub code: u16,
    /// A human-readable explanation, for logs — not for program logic.
    pub message: String,
    /// With `RateLimited`: milliseconds to wait before retrying.
    pub retry_after_ms: Option<u64>,
    /// With an error about a limit (`FrameTooLarge`, `InvalidArgument` for a
    /// size or a page limit): the limit, in the unit of the rule (bytes, items).
    pub limit: Option<u64>,
    /// With `RateLimited`: a [`RateLimitReason`] number, kept raw so a
    /// client survives reasons newer than itself (revision 14).
    pub reason: Option<u8>,
    /// With `QuotaExceeded` and `StorageFull`: the current use beside
    /// `limit`, in the same unit (revision 15).
    pub used: Option<u64>,
}

impl ErrorBody {
    /// The code as a known value, if it is one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::try_from(self.code).ok()
    }

    /// The reason of a `RateLimited` refusal, if it is a known one.
    pub fn rate_limit_reason(&self) -> Option<RateLimitReason> {
        self.reason.and_then(|r| RateLimitReason::try_from(r).ok())
    }
}
