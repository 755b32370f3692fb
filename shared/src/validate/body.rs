//! The POST and PATCH bodies: which fields each takes, and their size limits.

use super::json::{is_null, metadata_object, object_fields, role_field, string_field, Fields};
use super::Problems;
use crate::error::ApiError;
use crate::ids::MessageId;
use crate::limits::{MAX_CONTENT_BYTES, MAX_METADATA_BYTES};
use crate::model::{metadata_to_string, Echoed, MessagePatch, Metadata, NewMessage, Status};
use serde_json::value::RawValue;

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

/// A field the body must hold, read by `parse`; `None` with its problem noted when it is missing
/// (`rule.1`) or `parse` refuses it (`rule.2`).
fn required<T>(
    fields: &Fields<'_>,
    problems: &mut Problems,
    rule: (&str, &str, &str),
    parse: impl Fn(&RawValue) -> Option<T>,
) -> Option<T> {
    let (name, missing, wrong) = rule;
    let Some(raw) = fields.get(name).copied() else {
        problems.add(name, missing);
        return None;
    };
    let value = parse(raw);
    if value.is_none() {
        problems.add(name, wrong);
    }
    value
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

    let message_id = required(
        &fields,
        &mut problems,
        ("message_id", "is required", MessageId::RULE),
        |raw| string_field(raw).as_deref().and_then(MessageId::parse),
    );
    let role = required(
        &fields,
        &mut problems,
        ("role", "is required", "must be \"user\" or \"assistant\""),
        role_field,
    );
    let content = required(
        &fields,
        &mut problems,
        (
            "content",
            "is required (it may be an empty string)",
            "must be a string",
        ),
        string_field,
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;
    use crate::validate::details;

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
}
