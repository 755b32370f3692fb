//! Turns untrusted request text into validated domain values, naming every bad field.

use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::limits::{
    MAX_CONTENT_BYTES, MAX_MESSAGE_ID_CHARS, MAX_METADATA_BYTES, MAX_METADATA_DEPTH,
};
use crate::model::{metadata_to_string, Echoed, MessagePatch, Metadata, NewMessage, Role, Status};

const MESSAGE_ID_RULE: &str = "must be 1 to 100 characters of A-Z a-z 0-9 . _ : -";

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

/// Collects the problems of one body so the client hears about all of them at once.
#[derive(Default)]
struct Problems(Map<String, Value>);

impl Problems {
    fn add(&mut self, field: &str, problem: &str) {
        self.0.insert(field.to_owned(), Value::from(problem));
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation { details: self.0 })
        }
    }
}

/// A JSON object read in order that remembers repeated keys instead of letting the last win, so
/// the client hears about `{"role":"user","role":"assistant"}` rather than one being dropped.
struct Object<V> {
    fields: IndexMap<String, V>,
    repeated: Vec<String>,
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Object<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for ObjectVisitor<V> {
            type Value = Object<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut object = Object {
                    fields: IndexMap::new(),
                    repeated: Vec::new(),
                };
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    if object.fields.contains_key(&key) {
                        object.repeated.push(key);
                    } else {
                        object.fields.insert(key, value);
                    }
                }
                Ok(object)
            }
        }

        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

type Fields<'a> = IndexMap<String, &'a RawValue>;

/// Parses a body into its top-level fields: malformed JSON is `INVALID_JSON`, a body that is
/// valid JSON but not an object is a `VALIDATION_ERROR`. Every field's value, ignored ones
/// included, must be [`sound`]; those that are not are named, whatever else is wrong.
fn object_fields(body: &str) -> Result<Fields<'_>, ApiError> {
    if body.trim().is_empty() {
        return Err(ApiError::InvalidJson {
            message: "request body is required".into(),
            details: None,
        });
    }
    // One pass: a body that is JSON but not an object fails as a data error, not a syntax one.
    let object: Object<&RawValue> = serde_json::from_str(body).map_err(|err| {
        if err.is_data() {
            return ApiError::field("body", "must be a JSON object");
        }
        let mut details = Map::new();
        details.insert("line".into(), Value::from(err.line()));
        details.insert("column".into(), Value::from(err.column()));
        ApiError::InvalidJson {
            message: "request body is not valid JSON".into(),
            details: Some(details),
        }
    })?;
    let mut problems = Problems::default();
    for key in &object.repeated {
        problems.add(key, "appears more than once");
    }
    for (key, raw) in &object.fields {
        if let Err(problem) = sound(raw) {
            problems.add(key, problem);
        }
    }
    problems.finish()?;
    Ok(object.fields)
}

fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// A JSON string's text; `None` for anything else, and for a string with a lone surrogate,
/// which no Rust or JavaScript string can hold faithfully.
fn string_field(raw: &RawValue) -> Option<String> {
    if raw.get().starts_with('"') {
        serde_json::from_str(raw.get()).ok()
    } else {
        None
    }
}

fn role_field(raw: &RawValue) -> Option<Role> {
    match string_field(raw)?.as_str() {
        "user" => Some(Role::User),
        "assistant" => Some(Role::Assistant),
        _ => None,
    }
}

const STATUS_RULE: &str = "must be \"streaming\", \"complete\" or \"error\"";

/// `status`, when present: one of the three of docs/api.md.
fn status_field(fields: &Fields<'_>, problems: &mut Problems) -> Option<Status> {
    let raw = fields.get("status").copied()?;
    let status = string_field(raw).and_then(|text| Status::parse(&text));
    if status.is_none() {
        problems.add("status", STATUS_RULE);
    }
    status
}

fn check_content_size(content: &str) -> Result<(), ApiError> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::PayloadTooLarge {
            field: "content",
            limit: MAX_CONTENT_BYTES,
        });
    }
    Ok(())
}

/// Fails with 413 when serialized metadata is over its limit.
pub fn check_metadata_size(metadata: &Metadata) -> Result<(), ApiError> {
    if metadata_to_string(metadata).len() > MAX_METADATA_BYTES {
        return Err(ApiError::PayloadTooLarge {
            field: "metadata",
            limit: MAX_METADATA_BYTES,
        });
    }
    Ok(())
}

/// Validates a POST body. `timestamp`, `job_id`, `version` and unknown fields are ignored.
pub fn new_message(body: &str) -> Result<NewMessage, ApiError> {
    let fields = object_fields(body)?;
    let mut problems = Problems::default();

    let message_id = match fields.get("message_id").copied() {
        None => {
            problems.add("message_id", "is required");
            None
        }
        Some(raw) => match string_field(raw) {
            Some(id) if is_valid_message_id(&id) => Some(id),
            _ => {
                problems.add("message_id", MESSAGE_ID_RULE);
                None
            }
        },
    };
    let role = match fields.get("role").copied() {
        None => {
            problems.add("role", "is required");
            None
        }
        Some(raw) => {
            let role = role_field(raw);
            if role.is_none() {
                problems.add("role", "must be \"user\" or \"assistant\"");
            }
            role
        }
    };
    let content = match fields.get("content").copied() {
        None => {
            problems.add("content", "is required (it may be an empty string)");
            None
        }
        Some(raw) => {
            let content = string_field(raw);
            if content.is_none() {
                problems.add("content", "must be a string");
            }
            content
        }
    };
    let metadata = match fields.get("metadata").copied() {
        None => Some(Metadata::new()),
        Some(raw) if is_null(raw) => Some(Metadata::new()),
        Some(raw) => match metadata_object(raw) {
            Ok(metadata) => Some(metadata),
            Err(problem) => {
                problems.add("metadata", problem);
                None
            }
        },
    };
    let status = status_field(&fields, &mut problems).unwrap_or_default();
    problems.finish()?;

    match (message_id, role, content, metadata) {
        (Some(message_id), Some(role), Some(content), Some(metadata)) => {
            check_content_size(&content)?;
            check_metadata_size(&metadata)?;
            Ok(NewMessage {
                message_id,
                role,
                content,
                metadata,
                status,
            })
        }
        // Every None above recorded a problem, so finish() has already returned.
        _ => Err(ApiError::Internal),
    }
}

/// A field's value is sound when every JSON client can read it back: no repeated key in any
/// object, nested at most [`MAX_METADATA_DEPTH`] deep (the value itself is level 1), finite
/// numbers, valid Unicode strings.
fn sound(raw: &RawValue) -> Result<(), &'static str> {
    // The hot path (a streamed reply's `content`): a string without escapes is text already
    // read as UTF-8, so it is sound without decoding it a second time.
    let text = raw.get();
    if text.starts_with('"') && !text.contains('\\') {
        return Ok(());
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(Sound { depth: 1 }, &mut deserializer)
        .map_err(|err| readable(&err))
}

/// Metadata: a JSON object, [`sound`] as every field is (checked by [`object_fields`]). Nested
/// values are kept as sent, minus insignificant whitespace, so a retry that only differs in
/// spacing is still identical.
fn metadata_object(raw: &RawValue) -> Result<Metadata, &'static str> {
    if !raw.get().starts_with('{') {
        return Err("must be a JSON object");
    }
    let object: Object<&RawValue> =
        serde_json::from_str(raw.get()).map_err(|_| "must be a JSON object")?;
    object
        .fields
        .into_iter()
        .map(|(key, value)| Ok((key, minify(value).ok_or("must be a JSON object")?)))
        .collect()
}

const TOO_DEEP: &str = "must not nest objects and arrays more than 32 deep";
const REPEATED_KEY: &str = "must not repeat a key in any object";
const OUT_OF_RANGE: &str = "must hold only finite numbers (within ±1.7976931348623157e308)";
const BAD_UNICODE: &str = "must hold only valid Unicode strings (no lone surrogates)";

/// The problem to name for a metadata value that failed [`Sound`].
fn readable(err: &serde_json::Error) -> &'static str {
    let text = err.to_string();
    if text.starts_with(TOO_DEEP) || text.starts_with("recursion limit") {
        TOO_DEEP
    } else if text.starts_with(REPEATED_KEY) {
        REPEATED_KEY
    } else if text.starts_with("number out of range") || text.starts_with(OUT_OF_RANGE) {
        OUT_OF_RANGE
    } else if ["surrogate", "unicode", "escape"]
        .iter()
        .any(|w| text.contains(w))
    {
        BAD_UNICODE
    } else {
        "must be a JSON object"
    }
}

/// Walks a JSON value to check what a client must be able to read back; builds nothing.
#[derive(Clone, Copy)]
struct Sound {
    depth: usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for Sound {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Sound {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(E::custom(OUT_OF_RANGE))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.nested::<A::Error>()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.nested::<A::Error>()?;
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key) {
                return Err(serde::de::Error::custom(REPEATED_KEY));
            }
            map.next_value_seed(inner)?;
        }
        Ok(())
    }
}

impl Sound {
    /// The walker one level further in, or the error when that is too deep.
    fn nested<E: serde::de::Error>(self) -> Result<Self, E> {
        if self.depth > MAX_METADATA_DEPTH {
            return Err(E::custom(TOO_DEEP));
        }
        Ok(Self {
            depth: self.depth + 1,
        })
    }
}

/// Drops whitespace outside strings; numbers and strings keep their exact text.
fn minify(raw: &RawValue) -> Option<Box<RawValue>> {
    let text = raw.get();
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    RawValue::from_string(out).ok()
}

/// Validates a PATCH body: `content` and/or `metadata`; `null` metadata values remove keys.
pub fn message_patch(body: &str) -> Result<MessagePatch, ApiError> {
    let fields = object_fields(body)?;
    let mut problems = Problems::default();
    let mut patch = MessagePatch::default();

    if let Some(raw) = fields.get("content").copied() {
        match string_field(raw) {
            Some(content) => patch.content = Some(content),
            None => problems.add("content", "must be a string"),
        }
    }
    if let Some(raw) = fields.get("metadata").copied() {
        match metadata_object(raw) {
            Ok(object) => {
                let changes = object
                    .into_iter()
                    .map(|(key, value)| {
                        let value = (!is_null(&value)).then_some(value);
                        (key, value)
                    })
                    .collect();
                patch.metadata = Some(changes);
            }
            Err(problem) => problems.add("metadata", problem),
        }
    }
    patch.status = status_field(&fields, &mut problems);
    patch.echoed = Echoed {
        message_id: fields.get("message_id").and_then(|raw| string_field(raw)),
        role: fields.get("role").and_then(|raw| role_field(raw)),
        timestamp: fields.get("timestamp").and_then(|raw| string_field(raw)),
    };
    for field in ["message_id", "role", "timestamp"] {
        if let Some(raw) = fields.get(field) {
            let understood = match field {
                "role" => role_field(raw).is_some(),
                _ => string_field(raw).is_some(),
            };
            if !understood {
                problems.add(field, "is read-only and cannot be changed");
            }
        }
    }
    if !["content", "metadata", "status"]
        .iter()
        .any(|field| fields.contains_key(*field))
    {
        problems.add(
            "body",
            "must contain \"content\", \"metadata\" and/or \"status\"",
        );
    }
    problems.finish()?;

    if let Some(content) = &patch.content {
        check_content_size(content)?;
    }
    if let Some(changes) = &patch.metadata {
        let as_sent: Metadata = changes
            .iter()
            .filter_map(|(key, value)| Some((key.clone(), value.clone()?)))
            .collect();
        check_metadata_size(&as_sent)?;
    }
    Ok(patch)
}

/// Reads an `If-Match` header (RFC 9110 §13.1.1): `None` when absent or `*` (the message
/// exists, or the PATCH answers 404 anyway), else the versions it names. Comparison is strong:
/// a weak tag (`W/"3"`) never matches, so a header of only weak tags matches no version.
/// Several tags match if any does. A bare number (`3`) is read as `"3"` for clients that
/// forget the quotes.
pub fn if_match(header: Option<&str>) -> Result<Option<Vec<u64>>, ApiError> {
    let Some(raw) = header else { return Ok(None) };
    let raw = raw.trim();
    if raw == "*" {
        return Ok(None);
    }
    let refuse = || ApiError::field("If-Match", "must be message versions such as \"3\"");
    let mut versions = Vec::new();
    for tag in raw.split(',').map(str::trim) {
        if let Some(weak) = tag.strip_prefix("W/") {
            entity_tag(weak).ok_or_else(refuse)?;
            continue;
        }
        let opaque =
            entity_tag(tag).or_else(|| tag.bytes().all(|b| b.is_ascii_digit()).then_some(tag));
        let version = opaque
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(refuse)?;
        versions.push(version);
    }
    Ok(Some(versions))
}

/// The opaque part of `"..."`.
fn entity_tag(tag: &str) -> Option<&str> {
    tag.strip_prefix('"')?.strip_suffix('"')
}

/// The validated query of a GET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Only the messages after this one (ascending, without a cursor).
    pub after: Option<String>,
    /// `None` when the client did not say: ascending, or the order of the cursor.
    pub descending: Option<bool>,
}

pub fn list_query(
    limit: Option<&str>,
    cursor: Option<&str>,
    order: Option<&str>,
    after: Option<&str>,
) -> Result<ListQuery, ApiError> {
    let mut problems = Problems::default();
    let limit = match limit {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(n)
                if text.bytes().all(|b| b.is_ascii_digit())
                    && (1..=crate::limits::MAX_PAGE_MESSAGES).contains(&n) =>
            {
                Some(n)
            }
            _ => {
                problems.add("limit", "must be an integer from 1 to 1000");
                None
            }
        },
    };
    let descending = match order {
        None => None,
        Some("asc") => Some(false),
        Some("desc") => Some(true),
        Some(_) => {
            problems.add("order", "must be \"asc\" or \"desc\"");
            None
        }
    };
    let cursor = cursor.filter(|c| !c.is_empty()).map(str::to_owned);
    let after = match after {
        None => None,
        Some(id) if !is_valid_message_id(id) => {
            problems.add("after", MESSAGE_ID_RULE);
            None
        }
        Some(_) if cursor.is_some() => {
            problems.add(
                "after",
                "cannot be used with cursor (a cursor goes on by itself)",
            );
            None
        }
        Some(_) if descending == Some(true) => {
            problems.add("after", "lists in ascending order only");
            None
        }
        Some(id) => Some(id.to_owned()),
    };
    problems.finish()?;
    Ok(ListQuery {
        limit,
        cursor,
        after,
        descending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(err: ApiError) -> Map<String, Value> {
        match err {
            ApiError::Validation { details } => details,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

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

    #[test]
    fn new_message_names_every_bad_field() {
        let err =
            new_message(r#"{"message_id": "", "role": "system", "content": 5, "metadata": []}"#)
                .unwrap_err();
        let d = details(err);
        for field in ["message_id", "role", "content", "metadata"] {
            assert!(d.contains_key(field), "{field} missing from {d:?}");
        }
    }

    #[test]
    fn new_message_requires_fields_and_ignores_server_owned_ones() {
        let d = details(new_message("{}").unwrap_err());
        assert_eq!(d.len(), 3, "{d:?}");
        let m = new_message(
            r#"{"message_id":"m1","role":"user","content":"","timestamp":"x","job_id":1,"version":9,"extra":true}"#,
        )
        .unwrap();
        assert_eq!(m.content, "");
        assert!(m.metadata.is_empty());
    }

    #[test]
    fn malformed_json_and_non_objects() {
        assert!(matches!(
            new_message("{\"a\":"),
            Err(ApiError::InvalidJson { .. })
        ));
        assert!(matches!(new_message(""), Err(ApiError::InvalidJson { .. })));
        assert!(matches!(
            new_message("{} trailing"),
            Err(ApiError::InvalidJson { .. })
        ));
        for not_an_object in ["[1,2]", "\"text\"", "42", "null"] {
            let d = details(new_message(not_an_object).unwrap_err());
            assert!(d.contains_key("body"), "{not_an_object}");
        }
    }

    #[test]
    fn metadata_keeps_exact_number_text_and_order() {
        let m = new_message(
            r#"{"message_id":"m","role":"user","content":"c","metadata":{"z":2.5,"a":{"n":[1,1e2,12345678901234567890123]},"f":1.0}}"#,
        )
        .unwrap();
        assert_eq!(
            metadata_to_string(&m.metadata),
            r#"{"z":2.5,"a":{"n":[1,1e2,12345678901234567890123]},"f":1.0}"#
        );
    }

    #[test]
    fn limits_answer_413_naming_the_field() {
        let big = "x".repeat(MAX_CONTENT_BYTES + 1);
        let body = format!(r#"{{"message_id":"m","role":"user","content":"{big}"}}"#);
        assert!(matches!(
            new_message(&body),
            Err(ApiError::PayloadTooLarge {
                field: "content",
                ..
            })
        ));
        let exact = "x".repeat(MAX_CONTENT_BYTES);
        let body = format!(r#"{{"message_id":"m","role":"user","content":"{exact}"}}"#);
        assert!(new_message(&body).is_ok());
        let meta = "y".repeat(MAX_METADATA_BYTES);
        let body = format!(
            r#"{{"message_id":"m","role":"user","content":"","metadata":{{"k":"{meta}"}}}}"#
        );
        assert!(matches!(
            new_message(&body),
            Err(ApiError::PayloadTooLarge {
                field: "metadata",
                ..
            })
        ));
    }

    #[test]
    fn patch_needs_content_or_metadata_and_marks_null_removals() {
        assert!(details(message_patch("{}").unwrap_err()).contains_key("body"));
        let p = message_patch(r#"{"metadata":{"a":null,"b":1}}"#).unwrap();
        let m = p.metadata.unwrap();
        assert!(m["a"].is_none());
        assert_eq!(m["b"].as_ref().unwrap().get(), "1");
        assert!(details(message_patch(r#"{"content":null}"#).unwrap_err()).contains_key("content"));
        assert!(details(message_patch(r#"{"metadata":"x"}"#).unwrap_err()).contains_key("metadata"));
        let p = message_patch(r#"{"content":"x","role":"user","message_id":"m1"}"#).unwrap();
        assert_eq!(p.echoed.role, Some(Role::User));
        assert_eq!(p.echoed.message_id.as_deref(), Some("m1"));
    }

    fn metadata_problem(metadata: &str) -> Option<String> {
        let body =
            format!(r#"{{"message_id":"m","role":"user","content":"","metadata":{metadata}}}"#);
        match new_message(&body) {
            Ok(_) => None,
            Err(ApiError::Validation { details }) => {
                Some(details["metadata"].as_str().unwrap_or_default().to_owned())
            }
            Err(other) => Some(format!("{other:?}")),
        }
    }

    #[test]
    fn metadata_nests_at_most_32_deep() {
        // The refusal's text spells the limit out, so it must follow the constant.
        assert!(TOO_DEEP.contains(&format!(" {MAX_METADATA_DEPTH} deep")));
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(metadata_problem(&format!(r#"{{"a":{}}}"#, nest(31))), None);
        assert_eq!(
            metadata_problem(&format!(r#"{{"a":{}}}"#, nest(32))).as_deref(),
            Some(TOO_DEEP)
        );
        assert_eq!(
            metadata_problem(&format!(r#"{{"a":{}}}"#, nest(100))).as_deref(),
            Some(TOO_DEEP)
        );
    }

    #[test]
    fn metadata_refuses_repeated_keys_at_any_depth_huge_numbers_and_lone_surrogates() {
        assert_eq!(
            metadata_problem(r#"{"a":{"b":[{"c":1,"c":2}]}}"#).as_deref(),
            Some(REPEATED_KEY)
        );
        assert_eq!(
            metadata_problem(r#"{"a":1,"a":2}"#).as_deref(),
            Some(REPEATED_KEY)
        );
        assert_eq!(
            metadata_problem(r#"{"n":1e400}"#).as_deref(),
            Some(OUT_OF_RANGE)
        );
        assert_eq!(
            metadata_problem(r#"{"n":[-1e309]}"#).as_deref(),
            Some(OUT_OF_RANGE)
        );
        assert_eq!(metadata_problem(r#"{"n":1e308}"#), None);
        assert_eq!(
            metadata_problem(r#"{"s":"\ud800"}"#).as_deref(),
            Some(BAD_UNICODE)
        );
        assert_eq!(
            metadata_problem(r#"{"s":{"\udc00":1}}"#).as_deref(),
            Some(BAD_UNICODE)
        );
        assert_eq!(
            metadata_problem(r#"{"s":"\ud83d\ude00 \u0000 \u202e"}"#),
            None
        );
    }

    #[test]
    fn lone_surrogates_nul_rtl_and_emoji_are_handled_alike_in_every_string_field() {
        let body =
            |content: &str| format!(r#"{{"message_id":"m","role":"user","content":"{content}"}}"#);
        let ok = new_message(&body(r#"\u0000 \u202e \ud83d\ude00 😀"#)).unwrap();
        assert_eq!(ok.content, "\u{0} \u{202e} 😀 😀");
        let lone = new_message(&body(r#"\ud800"#)).unwrap_err();
        assert!(details(lone).contains_key("content"));
        let patch = message_patch(r#"{"content":"\udfff"}"#).unwrap_err();
        assert!(details(patch).contains_key("content"));
    }

    #[test]
    fn every_field_ignored_ones_included_is_held_to_the_same_rules() {
        let post = |extra: &str| {
            details(
                new_message(&format!(
                    r#"{{"message_id":"m","role":"user","content":"",{extra}}}"#
                ))
                .unwrap_err(),
            )
        };
        let deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
        assert_eq!(post(r#""extra":{"a":1,"a":2}"#)["extra"], REPEATED_KEY);
        assert_eq!(post(r#""timestamp":1e400"#)["timestamp"], OUT_OF_RANGE);
        assert_eq!(post(r#""version":"\ud800""#)["version"], BAD_UNICODE);
        assert_eq!(post(&format!(r#""x":{deep}"#))["x"], TOO_DEEP);
        // In a top-level name it is not a field at all: the body is not JSON we can read.
        let nameless = r#"{"message_id":"m","role":"user","content":"","\udc00":1}"#;
        assert!(matches!(
            new_message(nameless),
            Err(ApiError::InvalidJson { .. })
        ));
        let patch = |body: &str| details(message_patch(body).unwrap_err());
        assert_eq!(patch(r#"{"content":"\ud800"}"#)["content"], BAD_UNICODE);
        assert_eq!(
            patch(&format!(r#"{{"content":"x","x":{deep}}}"#))["x"],
            TOO_DEEP
        );
        // The same value one level less deep is accepted, as an ignored field.
        let shallower = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert!(message_patch(&format!(r#"{{"content":"x","x":{shallower}}}"#)).is_ok());
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(if_match(None).unwrap(), None);
        assert_eq!(if_match(Some("\"3\"")).unwrap(), Some(vec![3]));
        assert_eq!(if_match(Some("5")).unwrap(), Some(vec![5]));
        assert_eq!(if_match(Some("*")).unwrap(), None);
        // Strong comparison: a weak tag never matches.
        assert_eq!(if_match(Some("W/\"4\"")).unwrap(), Some(vec![]));
        assert_eq!(
            if_match(Some("\"3\", W/\"4\" ,\"7\"")).unwrap(),
            Some(vec![3, 7])
        );
        assert!(if_match(Some("\"abc\"")).is_err());
        assert!(if_match(Some("\"3\",")).is_err());
    }

    #[test]
    fn list_query_bounds() {
        assert_eq!(
            list_query(Some("1000"), None, Some("desc"), None)
                .unwrap()
                .limit,
            Some(1000)
        );
        assert!(list_query(Some("0"), None, None, None).is_err());
        assert!(list_query(Some("1001"), None, None, None).is_err());
        assert!(list_query(Some("ten"), None, None, None).is_err());
        assert!(list_query(None, None, Some("sideways"), None).is_err());
        assert!(list_query(None, None, None, None).unwrap().limit.is_none());
        assert!(list_query(Some("+5"), None, None, None).is_err());
        assert_eq!(list_query(None, None, None, None).unwrap().descending, None);
    }

    #[test]
    fn after_takes_a_message_id_in_ascending_order_without_a_cursor() {
        let after = |cursor, order, id| list_query(None, cursor, order, Some(id));
        assert_eq!(
            after(None, Some("asc"), "m-1").unwrap().after.as_deref(),
            Some("m-1")
        );
        for (cursor, order, id) in [
            (None, None, "bad id"),
            (Some("c"), None, "m-1"),
            (None, Some("desc"), "m-1"),
        ] {
            let details = details(after(cursor, order, id).unwrap_err());
            assert!(details.contains_key("after"), "{details:?}");
        }
    }

    #[test]
    fn repeated_keys_are_named_not_dropped() {
        let d = details(
            new_message(r#"{"message_id":"m","role":"user","role":"assistant","content":""}"#)
                .unwrap_err(),
        );
        assert!(d.contains_key("role"), "{d:?}");
        let d = details(
            new_message(
                r#"{"message_id":"m","role":"user","content":"","metadata":{"a":1,"a":2}}"#,
            )
            .unwrap_err(),
        );
        assert!(d.contains_key("metadata"), "{d:?}");
    }

    #[test]
    fn metadata_whitespace_is_insignificant_but_text_is_kept() {
        let spaced = new_message(
            "{\"message_id\":\"m\",\"role\":\"user\",\"content\":\"\",\"metadata\":{\"n\": { \"x\" : [1.0, \"a b\\\" c\"] }}}",
        )
        .unwrap();
        assert_eq!(
            metadata_to_string(&spaced.metadata),
            r#"{"n":{"x":[1.0,"a b\" c"]}}"#
        );
    }
}
