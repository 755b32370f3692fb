//! The ids of the API, made only by parsing: a [`JobId`] or a [`MessageId`] that exists is
//! valid, so nothing past the request's edge checks one again.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ApiError;
use crate::limits::MAX_MESSAGE_ID_CHARS;

/// A job id: a UUID in its usual hyphenated form, read in any case (RFC 9562 reads UUIDs
/// case-insensitively) and held in its lowercase form, the form the jobs table holds, so both
/// cases get the same answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if raw.len() != 36 || uuid::Uuid::try_parse(raw).is_err() {
            return Err(ApiError::InvalidJobId);
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message id, chosen by the client: 1 to 100 characters of `A-Z a-z 0-9 . _ : -`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    /// What a refused message id is told.
    pub const RULE: &str = "must be 1 to 100 characters of A-Z a-z 0-9 . _ : -";

    /// The id, or `None` when `raw` breaks [`Self::RULE`].
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = !raw.is_empty()
            && raw.len() <= MAX_MESSAGE_ID_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! text {
    ($id:ty) => {
        impl fmt::Display for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $id {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$id> for String {
            fn from(id: $id) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $id {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

text!(JobId);
text!(MessageId);

// Ids come back from storage and from cursors we signed: read through the same parse, so a
// stored or signed text that is not an id is an error there, never an id. The error names the
// rule, not the text, which may have been anything.
impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(|_| D::Error::custom("a job id must be a UUID"))
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw)
            .ok_or_else(|| D::Error::custom(format_args!("a message id {}", Self::RULE)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_id_accepts_hyphenated_uuids_in_any_case_and_lowercases_them() {
        let upper = "0E8C5D3A-1B2C-4D5E-8F90-123456789ABC";
        assert_eq!(
            JobId::parse(upper).unwrap().as_str(),
            "0e8c5d3a-1b2c-4d5e-8f90-123456789abc",
            "read in the form the jobs table holds"
        );
        for bad in [
            "",
            "abc",
            "0e8c5d3a1b2c4d5e8f90123456789abc",
            "../../etc/passwd",
        ] {
            assert!(
                matches!(JobId::parse(bad), Err(ApiError::InvalidJobId)),
                "{bad}"
            );
        }
    }

    #[test]
    fn message_id_charset_and_length() {
        let valid = |id: &str| MessageId::parse(id).is_some();
        assert!(valid("user-1234567890"));
        assert!(valid("a.b_c:d-E9"));
        assert!(valid(&"x".repeat(100)));
        assert!(!valid(&"x".repeat(101)));
        assert!(!valid(""));
        assert!(!valid("has space"));
        assert!(!valid("slash/"));
        assert!(!valid("é"));
    }

    #[test]
    fn ids_serialize_as_their_text() {
        let id = MessageId::parse("m-1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"m-1\"");
        assert_eq!(id.to_string(), "m-1");
    }

    #[test]
    fn ids_deserialize_only_through_their_parse() {
        let job: JobId = serde_json::from_str("\"0E8C5D3A-1B2C-4D5E-8F90-123456789ABC\"").unwrap();
        assert_eq!(job.as_str(), "0e8c5d3a-1b2c-4d5e-8f90-123456789abc");
        let message: MessageId = serde_json::from_str("\"m-1\"").unwrap();
        assert_eq!(message.as_str(), "m-1");

        let err = serde_json::from_str::<JobId>("\"job-secret\"").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        for bad in ["\"\"", "\"has space\"", "5", "null"] {
            assert!(serde_json::from_str::<MessageId>(bad).is_err(), "{bad}");
        }
        let err = serde_json::from_str::<MessageId>("\"secret/text\"").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
