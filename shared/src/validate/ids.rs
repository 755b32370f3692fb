//! The ids of the path: a job's and a message's.

use crate::error::ApiError;
use crate::limits::MAX_MESSAGE_ID_CHARS;

pub(crate) const MESSAGE_ID_RULE: &str = "must be 1 to 100 characters of A-Z a-z 0-9 . _ : -";

/// A job id must be a UUID in its usual hyphenated form, in any case (RFC 9562 reads UUIDs
/// case-insensitively); it is used in its lowercase form everywhere, the form the jobs table
/// holds, so both cases get the same answers.
pub fn job_id(raw: &str) -> Result<String, ApiError> {
    if raw.len() != 36 || uuid::Uuid::try_parse(raw).is_err() {
        return Err(ApiError::InvalidJobId);
    }
    Ok(raw.to_ascii_lowercase())
}

pub fn is_valid_message_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_MESSAGE_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A message id taken from the path.
pub fn path_message_id(raw: &str) -> Result<String, ApiError> {
    if is_valid_message_id(raw) {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::field("message_id", MESSAGE_ID_RULE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_id_accepts_hyphenated_uuids_in_any_case_and_lowercases_them() {
        let upper = "0E8C5D3A-1B2C-4D5E-8F90-123456789ABC";
        assert_eq!(
            job_id(upper).unwrap(),
            "0e8c5d3a-1b2c-4d5e-8f90-123456789abc",
            "read in the form the jobs table holds"
        );
        for bad in [
            "",
            "abc",
            "0e8c5d3a1b2c4d5e8f90123456789abc",
            "../../etc/passwd",
        ] {
            assert!(matches!(job_id(bad), Err(ApiError::InvalidJobId)), "{bad}");
        }
    }

    #[test]
    fn message_id_charset_and_length() {
        assert!(is_valid_message_id("user-1234567890"));
        assert!(is_valid_message_id("a.b_c:d-E9"));
        assert!(is_valid_message_id(&"x".repeat(100)));
        assert!(!is_valid_message_id(&"x".repeat(101)));
        assert!(!is_valid_message_id(""));
        assert!(!is_valid_message_id("has space"));
        assert!(!is_valid_message_id("slash/"));
        assert!(!is_valid_message_id("é"));
    }
}
