//! The error a service returns, and the one place that turns it into a wire
//! error code.

use crate::protocol::{ErrorBody, ErrorCode};
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
        ServiceError::Rejected { code, message: message.into() }
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
        let message = match self {
            ServiceError::Rejected { message, .. } => message.clone(),
            _ => "internal server error".into(),
        };
        ErrorBody { code: self.code().into(), message }
    }
}

/// Result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;
