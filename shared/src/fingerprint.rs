//! The fingerprint that tells a retried POST (identical role, content, metadata: 200) from a
//! reused id (409). It hashes a canonical form of the metadata, so what JSON does not mean —
//! key order at any depth, whitespace, how a string is escaped — does not make a retry a
//! conflict. Numbers keep their text: `1.0` and `1` are different values to store.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::model::NewMessage;

pub fn fingerprint(message: &NewMessage) -> String {
    let mut metadata = String::new();
    let sorted: BTreeMap<&String, &Box<RawValue>> = message.metadata.iter().collect();
    metadata.push('{');
    for (i, (key, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            metadata.push(',');
        }
        push_string(key, &mut metadata);
        metadata.push(':');
        canonical(value, &mut metadata);
    }
    metadata.push('}');
    let mut hash = Sha256::new();
    for part in [message.role.as_str(), &message.content, &metadata] {
        hash.update(part.len().to_le_bytes());
        hash.update(part);
    }
    STANDARD_NO_PAD.encode(hash.finalize())
}

fn push_string(text: &str, out: &mut String) {
    // Serializing a str cannot fail.
    out.push_str(&serde_json::to_string(text).unwrap_or_default());
}

/// Appends the canonical text of one JSON value (validated before it gets here; anything
/// unparsable is kept as it is, which can only make a retry look different, never equal).
fn canonical(raw: &RawValue, out: &mut String) {
    let text = raw.get().trim();
    let parsed = match text.as_bytes().first() {
        Some(b'{') => serde_json::from_str::<BTreeMap<String, &RawValue>>(text)
            .map(|object| {
                out.push('{');
                for (i, (key, value)) in object.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_string(&key, out);
                    out.push(':');
                    canonical(value, out);
                }
                out.push('}');
            })
            .is_ok(),
        Some(b'[') => serde_json::from_str::<Vec<&RawValue>>(text)
            .map(|items| {
                out.push('[');
                for (i, value) in items.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(value, out);
                }
                out.push(']');
            })
            .is_ok(),
        Some(b'"') => serde_json::from_str::<String>(text)
            .map(|s| push_string(&s, out))
            .is_ok(),
        _ => {
            out.push_str(text);
            true
        }
    };
    if !parsed {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Role, Status};

    fn new(content: &str, metadata: &str) -> NewMessage {
        NewMessage {
            message_id: crate::ids::MessageId::parse("m").unwrap(),
            role: Role::User,
            content: content.into(),
            metadata: serde_json::from_str(metadata).unwrap(),
            status: Status::Complete,
        }
    }

    #[test]
    fn key_order_whitespace_and_escapes_do_not_matter_at_any_depth() {
        let a = fingerprint(&new(
            "a",
            r#"{"x":1,"y":{"b":[1,{"d":"é","c":2}],"a":null}}"#,
        ));
        let b = fingerprint(&new(
            "a",
            r#"{ "y" : { "a":null , "b":[ 1, {"c":2,"d":"\u00e9"} ] }, "x":1 }"#,
        ));
        assert_eq!(a, b);
    }

    #[test]
    fn values_role_content_and_number_text_do_matter() {
        let base = fingerprint(&new("a", r#"{"x":{"n":1}}"#));
        assert_ne!(base, fingerprint(&new("b", r#"{"x":{"n":1}}"#)));
        assert_ne!(base, fingerprint(&new("a", r#"{"x":{"n":2}}"#)));
        assert_ne!(base, fingerprint(&new("a", r#"{"x":{"n":1.0}}"#)));
        assert_ne!(base, fingerprint(&new("a", r#"{"x":[{"n":1}]}"#)));
        let mut assistant = new("a", r#"{"x":{"n":1}}"#);
        assistant.role = Role::Assistant;
        assert_ne!(base, fingerprint(&assistant));
        // Parts are length-prefixed: moving text between content and metadata changes it.
        assert_ne!(
            fingerprint(&new("ab", "{}")),
            fingerprint(&new("a", r#"{"b":1}"#))
        );
    }
}
