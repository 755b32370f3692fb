//! The three kinds of item (layout in `keys.rs`) and their conversion to the domain.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::StoreError;
use crate::ids::{JobId, MessageId};
use crate::model::{metadata_to_string, Message, Metadata, Role, Status};
use crate::store::{Counts, Head, LastClear, MessageRef, StoredMessage};

pub type Item = HashMap<String, AttributeValue>;

/// Metadata is stored as a map of top-level key → the value's exact JSON text, so a PATCH
/// merges it with one `SET`/`REMOVE` per key, and numbers keep their digits (DynamoDB numbers
/// would not). Map keys get this prefix because DynamoDB refuses an empty attribute name.
const METADATA_KEY_PREFIX: char = '=';

pub fn metadata_attribute_name(key: &str) -> String {
    format!("{METADATA_KEY_PREFIX}{key}")
}

/// Bytes a metadata key/value pair adds to the serialized object, at most (comma included).
pub fn metadata_entry_bytes(key: &str, value: &RawValue) -> u64 {
    let key = serde_json::to_string(key).map_or(key.len() + 2, |k| k.len());
    (key + 1 + value.get().len() + 1) as u64
}

fn encode_metadata(metadata: &Metadata) -> BTreeMap<String, String> {
    metadata
        .iter()
        .map(|(key, value)| (metadata_attribute_name(key), value.get().to_owned()))
        .collect()
}

/// Top-level keys come back sorted (a DynamoDB map keeps no order); values exactly as sent.
fn decode_metadata(stored: BTreeMap<String, String>) -> Result<Metadata, String> {
    stored
        .into_iter()
        .map(|(key, value)| {
            let key = key
                .strip_prefix(METADATA_KEY_PREFIX)
                .ok_or("a metadata key lacks its prefix")?;
            let value =
                RawValue::from_string(value).map_err(|e| format!("a metadata value: {e}"))?;
            Ok((key.to_owned(), value))
        })
        .collect()
}

#[derive(Serialize, Deserialize)]
pub struct MessageItem {
    pub job_id: String,
    pub sk: String,
    pub message_id: String,
    pub role: Role,
    pub content: String,
    pub metadata: BTreeMap<String, String>,
    /// At least the serialized size of `metadata` (exact at creation; a PATCH adds what its new
    /// values may add), so most PATCHes can respect the size limit without reading the message.
    pub metadata_bytes: u64,
    pub timestamp: String,
    pub updated_at: String,
    #[serde(default)]
    pub status: Status,
    pub version: u64,
    /// The request that wrote this version last (see `Change::write_id`).
    #[serde(default)]
    pub write_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl MessageItem {
    pub fn new(job_id: &JobId, sk: String, message: &Message, write_id: &str) -> Self {
        Self {
            job_id: job_id.as_str().to_owned(),
            sk,
            message_id: message.message_id.as_str().to_owned(),
            role: message.role,
            content: message.content.clone(),
            metadata: encode_metadata(&message.metadata),
            metadata_bytes: metadata_to_string(&message.metadata).len() as u64,
            timestamp: message.timestamp.clone(),
            updated_at: message.updated_at.clone(),
            status: message.status,
            version: message.version,
            write_id: write_id.to_owned(),
            expires_at: None,
        }
    }

    pub fn into_stored(self) -> Result<StoredMessage, StoreError> {
        let metadata = decode_metadata(self.metadata).map_err(|e| corrupt(&self.sk, &e))?;
        let message_id = MessageId::parse(&self.message_id)
            .ok_or_else(|| corrupt(&self.sk, "message_id is not a message id"))?;
        Ok(StoredMessage {
            sort_key: self.sk,
            message: Message {
                message_id,
                role: self.role,
                content: self.content,
                timestamp: self.timestamp,
                metadata,
                version: self.version,
                status: self.status,
                updated_at: self.updated_at,
            },
        })
    }
}

#[derive(Serialize, Deserialize)]
pub struct LookupItem {
    pub job_id: String,
    pub sk: String,
    pub message_sk: String,
    pub generation: u64,
    pub timestamp: String,
    pub role: Role,
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl LookupItem {
    pub fn into_ref(self, message_id: &MessageId) -> MessageRef {
        MessageRef {
            message_id: message_id.clone(),
            generation: self.generation,
            sort_key: self.message_sk,
            timestamp: self.timestamp,
            role: self.role,
            fingerprint: self.fingerprint,
        }
    }
}

/// The chat head. Absent attributes read as a chat that was never written.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct HeadItem {
    pub generation: u64,
    pub visible_from: u64,
    pub last_timestamp: Option<String>,
    pub first_timestamp: Option<String>,
    pub message_count: u64,
    pub user_count: u64,
    pub assistant_count: u64,
    /// The last clear: its request id, what it hid, when that expires; whether a restore
    /// brought it back (`restored_clear` = its id) or an id of it was reused since.
    pub clear_id: Option<String>,
    pub cleared_from: u64,
    pub cleared_to: u64,
    pub cleared_count: u64,
    pub cleared_user_count: u64,
    pub cleared_assistant_count: u64,
    pub cleared_first_timestamp: Option<String>,
    pub cleared_expires_at: Option<i64>,
    pub restored_clear: Option<String>,
    pub restore_id: Option<String>,
    pub restore_blocked: bool,
    /// Sweep state: bumped by every clear (and restore), so the sweep can tell whether the
    /// chat changed while it worked; generations below `expired_below` are fully stamped, and
    /// generations below `stamp_started_to` may carry stamps.
    pub sweep_seq: u64,
    pub expired_below: u64,
    pub stamp_started_to: u64,
    /// Present while the sweep has work here (see `sweep.rs`).
    pub sweep_due: Option<String>,
}

impl HeadItem {
    pub fn head(&self) -> Head {
        Head {
            generation: self.generation,
            visible_from: self.visible_from,
            last_timestamp: self.last_timestamp.clone(),
            first_timestamp: self.first_timestamp.clone(),
            counts: Counts {
                total: self.message_count,
                user: self.user_count,
                assistant: self.assistant_count,
            },
            last_clear: self.last_clear(),
        }
    }

    fn last_clear(&self) -> Option<LastClear> {
        let clear_id = self.clear_id.clone()?;
        if self.restored_clear.as_deref() == Some(clear_id.as_str()) {
            return None;
        }
        Some(LastClear {
            clear_id,
            first: self.cleared_from,
            last: self.cleared_to,
            counts: Counts {
                total: self.cleared_count,
                user: self.cleared_user_count,
                assistant: self.cleared_assistant_count,
            },
            first_timestamp: self.cleared_first_timestamp.clone(),
            expires_at: self.cleared_expires_at.unwrap_or_default(),
            id_reused: self.restore_blocked,
        })
    }
}

/// The attribute that counts a role's visible messages on the head.
pub fn role_count_attribute(role: Role) -> &'static str {
    match role {
        Role::User => "user_count",
        Role::Assistant => "assistant_count",
    }
}

pub fn corrupt(sk: &str, what: &str) -> StoreError {
    StoreError::Internal(format!("unreadable item {sk}: {what}"))
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Internal(format!("encode item: {e}")))
}

pub fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    let sk = match item.get("sk") {
        Some(AttributeValue::S(sk)) => sk.clone(),
        _ => String::from("?"),
    };
    let item: serde_dynamo::Item = item.into();
    let deserializer = serde_dynamo::Deserializer::from_attribute_value(
        serde_dynamo::AttributeValue::M(item.into()),
    );
    serde_path_to_error::deserialize(deserializer).map_err(|e| corrupt(&sk, &undecodable(&e)))
}

/// What operators may read of a decoding error: the attribute it is in, never its value
/// (serde quotes the value it choked on, which may be content or metadata). Only the item's
/// top-level attribute is named: below it, map keys are the client's metadata keys.
fn undecodable(error: &serde_path_to_error::Error<serde_dynamo::Error>) -> String {
    let attribute = error
        .path()
        .iter()
        .next()
        .and_then(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.as_str()),
            _ => None,
        });
    let message = error.inner().to_string();
    match (attribute, message.strip_prefix("missing field ")) {
        (None, Some(missing)) => format!("attribute {missing} is missing"),
        (Some(attribute), _) => format!("attribute `{attribute}` holds a value of another type"),
        (None, None) => "not an item of this kind".to_owned(),
    }
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_errors_name_the_attribute_never_its_value() {
        let message = |role: AttributeValue| {
            let mut item = to_item(&MessageItem::new(
                &JobId::parse("0e8c5d3a-1b2c-4d5e-8f90-123456789abc").unwrap(),
                "M#1".into(),
                &Message {
                    message_id: MessageId::parse("m").unwrap(),
                    role: Role::User,
                    content: "c".into(),
                    timestamp: "2024-01-01T00:00:00.000000Z".into(),
                    metadata: Metadata::new(),
                    version: 1,
                    status: Status::Complete,
                    updated_at: "2024-01-01T00:00:00.000000Z".into(),
                },
                "w",
            ))
            .unwrap();
            item.insert("role".into(), role);
            item
        };
        assert!(from_item::<MessageItem>(message(s("user"))).is_ok());
        // An unknown variant is quoted in backticks by serde, which a stored value may hold too.
        let Err(err) = from_item::<MessageItem>(message(s("a`secret words`"))) else {
            panic!("an unknown role must not decode");
        };
        let err = err.to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(err.contains("`role`"), "{err}");

        let mut without_version = message(s("user"));
        without_version.remove("version");
        let Err(err) = from_item::<MessageItem>(without_version) else {
            panic!("a message without a version must not decode");
        };
        assert!(err.to_string().contains("`version` is missing"), "{err}");

        let mut metadata = message(s("user"));
        metadata.insert(
            "metadata".into(),
            AttributeValue::M([("=secret key".to_owned(), n(5))].into()),
        );
        let Err(err) = from_item::<MessageItem>(metadata) else {
            panic!("a metadata value stored as a number must not decode");
        };
        let err = err.to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(err.contains("`metadata`"), "{err}");
    }

    #[test]
    fn a_stored_message_id_that_is_not_an_id_is_an_unreadable_item() {
        let item = MessageItem {
            job_id: "0e8c5d3a-1b2c-4d5e-8f90-123456789abc".into(),
            sk: "M#0000000000#2024-01-01T00:00:00.000000Z#bad/id".into(),
            message_id: "bad/id".into(),
            role: Role::User,
            content: String::new(),
            metadata: BTreeMap::new(),
            metadata_bytes: 2,
            timestamp: "2024-01-01T00:00:00.000000Z".into(),
            updated_at: "2024-01-01T00:00:00.000000Z".into(),
            status: Status::Complete,
            version: 1,
            write_id: String::new(),
            expires_at: None,
        };
        match item.into_stored() {
            Err(StoreError::Internal(what)) => assert!(what.contains("message_id"), "{what}"),
            other => panic!("not an unreadable item: {other:?}"),
        }
    }

    #[test]
    fn metadata_survives_the_map_with_exact_values_and_an_empty_key() {
        let metadata: Metadata =
            serde_json::from_str(r#"{"z":2.50,"":{"b":[1,1e2]},"a":12345678901234567890123}"#)
                .unwrap();
        let stored = encode_metadata(&metadata);
        assert!(stored.keys().all(|k| !k.is_empty()));
        let back = decode_metadata(stored).unwrap();
        assert_eq!(
            metadata_to_string(&back),
            r#"{"":{"b":[1,1e2]},"a":12345678901234567890123,"z":2.50}"#
        );
    }

    #[test]
    fn entry_bytes_bound_what_a_key_adds_to_the_serialized_object() {
        let value = RawValue::from_string("[1,2]".into()).unwrap();
        let mut metadata = Metadata::new();
        let empty = metadata_to_string(&metadata).len() as u64;
        metadata.insert("k\"".into(), value.clone());
        let one = metadata_to_string(&metadata).len() as u64;
        assert!(one - empty <= metadata_entry_bytes("k\"", &value));
    }
}
