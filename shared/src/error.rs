//! The one error type of the API and its mapping to status, code and envelope.

use serde_json::{Map, Value};
use thiserror::Error;

/// A failure of the storage layer, already classified by what the caller can do about it.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Throttling, timeouts or a dropped connection after the SDK's own retries: try later.
    #[error("storage temporarily unavailable: {0}")]
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// DynamoDB refused an item as too large (its 400 KB limit).
    #[error("item too large for storage")]
    ItemTooLarge,
    /// Anything else: a bug, a misconfiguration or a corrupt item.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// Every expected failure of a request. Each maps to one status and one `code` of docs/api.md.
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidJson {
        message: String,
        details: Option<Map<String, Value>>,
    },
    #[error("request validation failed")]
    Validation { details: Map<String, Value> },
    #[error("job_id must be a UUID")]
    InvalidJobId,
    #[error("cursor is invalid for this chat")]
    InvalidCursor { reason: &'static str },
    #[error("authentication required")]
    Unauthenticated,
    #[error("Job not found")]
    JobNotFound,
    #[error("Message not found")]
    MessageNotFound,
    #[error("Not found")]
    NotFound,
    #[error("Method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("message_id is already used by a different message")]
    MessageIdConflict,
    #[error("there is no cleared chat to restore")]
    NothingToRestore,
    #[error("the message has changed since the version given in If-Match")]
    PreconditionFailed { current_version: u64 },
    #[error("{field} exceeds the limit of {limit} bytes")]
    PayloadTooLarge { field: &'static str, limit: usize },
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("service temporarily unavailable, retry later")]
    ServiceUnavailable,
    #[error("internal error")]
    Internal,
}

/// Seconds a client should wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidJson { .. }
            | Self::Validation { .. }
            | Self::InvalidJobId
            | Self::InvalidCursor { .. } => 400,
            Self::Unauthenticated => 401,
            Self::JobNotFound | Self::MessageNotFound | Self::NotFound => 404,
            Self::NothingToRestore => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::MessageIdConflict => 409,
            Self::PreconditionFailed { .. } => 412,
            Self::PayloadTooLarge { .. } => 413,
            Self::UnsupportedMediaType => 415,
            Self::Internal => 500,
            Self::ServiceUnavailable => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson { .. } => "INVALID_JSON",
            Self::Validation { .. } => "VALIDATION_ERROR",
            Self::InvalidJobId => "INVALID_JOB_ID",
            Self::InvalidCursor { .. } => "INVALID_CURSOR",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::JobNotFound => "JOB_NOT_FOUND",
            Self::MessageNotFound => "MESSAGE_NOT_FOUND",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Self::MessageIdConflict => "MESSAGE_ID_CONFLICT",
            Self::NothingToRestore => "NOTHING_TO_RESTORE",
            Self::PreconditionFailed { .. } => "PRECONDITION_FAILED",
            Self::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL_ERROR",
        }
    }

    /// Structured details for the client; never contains internals of the failure.
    pub fn details(&self) -> Option<Map<String, Value>> {
        let mut map = Map::new();
        match self {
            Self::InvalidJson { details, .. } => return details.clone(),
            Self::Validation { details } => return Some(details.clone()),
            Self::InvalidCursor { reason } => {
                map.insert("cursor".into(), Value::from(*reason));
            }
            Self::PreconditionFailed { current_version } => {
                map.insert("current_version".into(), Value::from(*current_version));
            }
            Self::PayloadTooLarge { field, limit } => {
                map.insert("field".into(), Value::from(*field));
                map.insert("limit_bytes".into(), Value::from(*limit));
            }
            Self::MethodNotAllowed { allow } => {
                map.insert("allow".into(), Value::from(allow.as_str()));
            }
            _ => return None,
        }
        Some(map)
    }

    /// A validation error naming one field.
    pub fn field(field: &str, problem: impl Into<String>) -> Self {
        let mut details = Map::new();
        details.insert(field.to_owned(), Value::String(problem.into()));
        Self::Validation { details }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(source) => {
                tracing::warn!(error = %source, "storage unavailable");
                Self::ServiceUnavailable
            }
            StoreError::ItemTooLarge => Self::PayloadTooLarge {
                field: "message",
                limit: crate::limits::DYNAMODB_ITEM_BYTES,
            },
            StoreError::Internal(detail) => {
                tracing::error!(error = %detail, "storage failure");
                Self::Internal
            }
        }
    }
}
