//! The domain: a chat message and the requests that create or change one.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ids::{JobId, MessageId};

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// Where a message stands: an assistant reply is created `streaming` and PATCHed to `complete`
/// (or `error`) at its end, so a page loaded mid-reply knows more is coming.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Streaming,
    #[default]
    Complete,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Streaming => "streaming",
            Self::Complete => "complete",
            Self::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "streaming" => Some(Self::Streaming),
            "complete" => Some(Self::Complete),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// Metadata is a JSON object whose values are kept as the exact JSON text the client sent, so
/// numbers such as `2.5` or `12345678901234567890` round-trip byte for byte; only the top level
/// is parsed, which is all a shallow merge needs.
pub type Metadata = IndexMap<String, Box<RawValue>>;

/// A stored message, as GET and PATCH return it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Message {
    pub message_id: MessageId,
    pub role: Role,
    pub content: String,
    /// RFC 3339, UTC, microseconds, `Z`. Set once by the server.
    pub timestamp: String,
    pub metadata: Metadata,
    pub version: u64,
    pub status: Status,
    /// Server time of the last write (creation or PATCH), in the form of `timestamp`.
    pub updated_at: String,
}

/// A validated POST body.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub message_id: MessageId,
    pub role: Role,
    pub content: String,
    pub metadata: Metadata,
    pub status: Status,
}

/// A validated PATCH body: at least one of the two is set.
#[derive(Clone, Debug, Default)]
pub struct MessagePatch {
    pub content: Option<String>,
    /// Keys mapped to `None` are removed (they were `null` in the request).
    pub metadata: Option<IndexMap<String, Option<Box<RawValue>>>>,
    pub status: Option<Status>,
    /// Server-owned fields the client echoed; they must equal the stored ones.
    pub echoed: Echoed,
}

impl MessagePatch {
    /// The metadata this PATCH leaves: changed keys replaced or added, `null` ones removed.
    pub fn merge_metadata(&self, mut metadata: Metadata) -> Metadata {
        for (key, value) in self.metadata.iter().flatten() {
            match value {
                Some(value) => {
                    metadata.insert(key.clone(), value.clone());
                }
                None => {
                    metadata.shift_remove(key);
                }
            }
        }
        metadata
    }
}

/// Read-only fields a PATCH body may repeat unchanged (clients often send the whole message).
#[derive(Clone, Debug, Default)]
pub struct Echoed {
    pub message_id: Option<String>,
    pub role: Option<Role>,
    pub timestamp: Option<String>,
}

/// What a PATCH's `If-Match` asks for (RFC 9110 §13.1.1), as [`crate::validate::if_match`]
/// reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IfMatch {
    /// No header, or `*`: any version (the message exists, or the PATCH answers 404 anyway).
    #[default]
    Any,
    /// One of these versions (at least one; several tags match if any does).
    Versions(Vec<u64>),
    /// Only tags no version matches: weak ones (`W/"3"`; the comparison is strong) and ones
    /// that are not versions (`"abc"`).
    Never,
}

impl IfMatch {
    /// Whether a message at `version` may be changed.
    pub fn allows(&self, version: u64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(versions) => versions.contains(&version),
            Self::Never => false,
        }
    }
}

/// A job from the jobs table: who may use its chat (all that is read of it; an archived job
/// keeps its chat as it is).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Job {
    pub job_id: JobId,
    pub owner_id: String,
    #[serde(default)]
    pub member_ids: Option<std::collections::BTreeSet<String>>,
}

/// Serializes metadata compactly (top-level key order kept, nested values as sent).
pub fn metadata_to_string(metadata: &Metadata) -> String {
    // Serializing a map of strings to already-valid JSON cannot fail.
    serde_json::to_string(metadata).unwrap_or_else(|_| String::from("{}"))
}

/// Reads metadata stored by [`metadata_to_string`].
pub fn metadata_from_str(text: &str) -> Result<Metadata, serde_json::Error> {
    serde_json::from_str(text)
}
