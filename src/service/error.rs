//! The error a service returns, and the one place that turns it into a wire
//! error code.

use crate::protocol::{ErrorBody, ErrorCode, RateLimitReason};
use crate::storage::StorageError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The client did something the protocol refuses; the message goes to it.
    #[error("{message}")]
    Rejected {
        /// Wire code.
        code: ErrorCode,
        /// Explanation for the client.
        message: String,
        /// How long to wait before retrying, when that is known.
        retry_after: Option<std::time::Duration>,
        /// The limit the request ran into, when there is one number.
        limit: Option<u64>,
        /// Why, for a `RateLimited` refusal.
        reason: Option<RateLimitReason>,
        /// The current use beside `limit`, for a quota refusal.
        used: Option<u64>,
    },
    /// The server failed; the client sees `Internal` without details.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A blocking task (password hashing) failed.
    #[error("worker task failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
    /// argon2 refused to hash, or no randomness was available.
    #[error("password hashing: {0}")]
    Hashing(String),
    /// A request reached the wrong handler (a wiring mistake).
    #[error("routing: {0}")]
    Routing(String),
}

impl ServiceError {
    /// A client-visible refusal.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ServiceError {
        ServiceError::Rejected {
            code,
            message: message.into(),
            retry_after: None,
            limit: None,
            reason: None,
            used: None,
        }
    }

    /// A `RateLimited` refusal for `reason`, to be retried after `wait`.
    pub fn rate_limited(
        reason: RateLimitReason,
        message: impl Into<String>,
        wait: std::time::Duration,
    ) -> ServiceError {
        ServiceError::Rejected {
            code: ErrorCode::RateLimited,
            message: message.into(),
            retry_after: Some(wait),
            limit: None,
            reason: Some(reason),
            used: None,
        }
    }

    /// The same refusal, saying how long to wait before trying again.
    pub fn with_wait(mut self, wait: std::time::Duration) -> ServiceError {
        if let ServiceError::Rejected { retry_after, .. } = &mut self {
            *retry_after = Some(wait);
        }
        self
    }

    /// The same refusal, naming the limit it ran into.
    pub fn with_limit(mut self, value: u64) -> ServiceError {
        if let ServiceError::Rejected { limit, .. } = &mut self {
            *limit = Some(value);
        }
        self
    }

    /// A refusal at a limit of `code` (a quota, a floor): the limit and the
    /// current use, in the same unit.
    pub fn over_limit(code: ErrorCode, message: impl Into<String>, limit: u64, used: u64) -> ServiceError {
        ServiceError::Rejected {
            code,
            message: message.into(),
            retry_after: None,
            limit: Some(limit),
            reason: None,
            used: Some(used),
        }
    }

    /// Shorthand for [`ErrorCode::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::InvalidArgument, message)
    }

    /// A client-visible `NotFound`.
    pub fn not_found(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::NotFound, message)
    }

    /// Whether the server (not the client) is at fault; such errors are logged.
    pub fn is_internal(&self) -> bool {
        !matches!(self, ServiceError::Rejected { .. })
    }

    /// The wire code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::Rejected { code, .. } => *code,
            ServiceError::Storage(_)
            | ServiceError::Worker(_)
            | ServiceError::Hashing(_)
            | ServiceError::Routing(_) => ErrorCode::Internal,
        }
    }

    /// The body of the error response; internal details stay in the log.
    pub fn to_body(&self) -> ErrorBody {
        match self {
            ServiceError::Rejected { code, message, retry_after, limit, reason, used } => ErrorBody {
                code: (*code).into(),
                message: message.clone(),
                // A wait is rounded up to a whole millisecond, never to 0, so a
                // client that waits it is not early.
                retry_after_ms: retry_after.map(wait_ms),
                limit: *limit,
                reason: reason.map(u8::from),
                used: *used,
            },
            _ => ErrorBody {
                code: ErrorCode::Internal.into(),
                message: "internal server error".into(),
                retry_after_ms: None,
                limit: None,
                reason: None,
                used: None,
            },
        }
    }
}

/// A wait in whole milliseconds, rounded up: even a wait of a few
/// nanoseconds is 1 ms, since retrying at once would be refused again.
fn wait_ms(wait: std::time::Duration) -> u64 {
    wait.as_nanos().div_ceil(1_000_000).clamp(1, u128::from(u64::MAX)) as u64
}

/// Result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::wait_ms;

    #[test]
    fn waits_round_up_and_never_to_zero() {
        assert_eq!(wait_ms(Duration::from_nanos(400)), 1);
        assert_eq!(wait_ms(Duration::from_micros(999)), 1);
        assert_eq!(wait_ms(Duration::from_micros(1001)), 2);
        assert_eq!(wait_ms(Duration::from_millis(250)), 250);
        assert_eq!(wait_ms(Duration::ZERO), 1);
    }
}
