//! The size limits of docs/api.md, in bytes. They keep every item well under DynamoDB's 400 KB.

/// `content`: 256 KiB of UTF-8.
pub const MAX_CONTENT_BYTES: usize = 256 * 1024;
/// `metadata`: 16 KiB serialized.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// `metadata` may nest objects and arrays this deep (the metadata object itself is level 1):
/// deeper documents break clients with nesting limits (Python's json, serde_json's 128).
pub const MAX_METADATA_DEPTH: usize = 32;
/// A whole request body.
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// `message_id`: 1 to 100 characters.
pub const MAX_MESSAGE_ID_CHARS: usize = 100;
/// Messages in one GET response.
pub const MAX_PAGE_MESSAGES: usize = 1000;
/// Bytes of one GET response as Lambda sees it (the body is JSON-escaped once more inside the
/// Lambda response payload, whose cap is 6 MB).
pub const MAX_PAGE_BYTES: usize = 5_000_000;
/// DynamoDB's item size limit; the limits above keep every item well below it.
pub const DYNAMODB_ITEM_BYTES: usize = 400 * 1024;

/// Different versions one `If-Match` may name: each becomes a value of the PATCH's
/// `version IN (...)` condition, which DynamoDB caps at 100.
pub const MAX_IF_MATCH_VERSIONS: usize = 20;
