//! The ids of a request's path, parsed into [`JobId`] and [`MessageId`] or refused naming the
//! field.

use crate::error::ApiError;
use crate::ids::{JobId, MessageId};

/// The job id of the path.
pub fn job_id(raw: &str) -> Result<JobId, ApiError> {
    JobId::parse(raw)
}

/// The message id of the path.
pub fn path_message_id(raw: &str) -> Result<MessageId, ApiError> {
    MessageId::parse(raw).ok_or_else(|| ApiError::field("message_id", MessageId::RULE))
}
