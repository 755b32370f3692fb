//! A body's top-level fields, each held to what every JSON client can read back ("sound"): no
//! repeated key in any object, nesting within its limit, finite numbers, valid Unicode.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::Problems;
use crate::error::ApiError;
use crate::limits::MAX_METADATA_DEPTH;
use crate::model::{Metadata, Role};

/// A JSON object read in order that remembers repeated keys instead of letting the last win, so
/// the client hears about `{"role":"user","role":"assistant"}` rather than one being dropped.
pub(crate) struct Object<V> {
    pub(crate) fields: IndexMap<String, V>,
    pub(crate) repeated: Vec<String>,
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

pub(crate) type Fields<'a> = IndexMap<String, &'a RawValue>;

/// Parses a body into its top-level fields: malformed JSON is `INVALID_JSON`, a body that is
/// valid JSON but not an object is a `VALIDATION_ERROR`. Every field's value, ignored ones
/// included, must be [`sound`]; those that are not are named, whatever else is wrong.
pub(crate) fn object_fields(body: &str) -> Result<Fields<'_>, ApiError> {
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

pub(crate) fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// A JSON string's text; `None` for anything else, and for a string with a lone surrogate,
/// which no Rust or JavaScript string can hold faithfully.
pub(crate) fn string_field(raw: &RawValue) -> Option<String> {
    if raw.get().starts_with('"') {
        serde_json::from_str(raw.get()).ok()
    } else {
        None
    }
}

pub(crate) fn role_field(raw: &RawValue) -> Option<Role> {
    match string_field(raw)?.as_str() {
        "user" => Some(Role::User),
        "assistant" => Some(Role::Assistant),
        _ => None,
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
    let found = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let walker = Sound {
        depth: 1,
        found: &found,
    };
    match serde::de::DeserializeSeed::deserialize(walker, &mut deserializer) {
        Ok(()) => Ok(()),
        Err(err) => Err(found.get().unwrap_or_else(|| refused_by_parser(text, &err))),
    }
}

/// Metadata: a JSON object, [`sound`] as every field is (checked by [`object_fields`]). Nested
/// values are kept as sent, minus insignificant whitespace, so a retry that only differs in
/// spacing is still identical.
pub(crate) fn metadata_object(raw: &RawValue) -> Result<Metadata, &'static str> {
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

pub(crate) const TOO_DEEP: &str = "must not nest objects and arrays more than 32 deep";
pub(crate) const REPEATED_KEY: &str = "must not repeat a key in any object";
pub(crate) const OUT_OF_RANGE: &str =
    "must hold only finite numbers (within ±1.7976931348623157e308)";
pub(crate) const BAD_UNICODE: &str = "must hold only valid Unicode strings (no lone surrogates)";
const NOT_AN_OBJECT: &str = "must be a JSON object";

/// The problem to name when serde_json itself refused a value that it had already read once
/// as a field (so its shape is valid JSON): a number out of range, a string escape that is no
/// Unicode text, or nesting past its own limit. Told apart by the byte it stopped at, as its
/// line and column give it — not by the text of its message, which is not a stable interface.
fn refused_by_parser(text: &str, err: &serde_json::Error) -> &'static str {
    if err.classify() != serde_json::error::Category::Syntax {
        return NOT_AN_OBJECT;
    }
    let line_start: usize = text
        .split_inclusive('\n')
        .take(err.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let Some(read) = text.get(..line_start + err.column()) else {
        return NOT_AN_OBJECT;
    };
    // Whether the last byte read is inside a string (its closing quote included).
    let mut in_string = false;
    let mut escaped = false;
    let mut last_in_string = false;
    for b in read.bytes() {
        last_in_string = in_string || b == b'"';
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        }
    }
    match read.bytes().next_back() {
        _ if last_in_string => BAD_UNICODE,
        Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') => OUT_OF_RANGE,
        Some(b'[' | b'{') => TOO_DEEP,
        _ => NOT_AN_OBJECT,
    }
}

/// Walks a JSON value to check what a client must be able to read back; builds nothing. The
/// problem it refuses a value for is kept in `found`.
#[derive(Clone, Copy)]
struct Sound<'a> {
    depth: usize,
    found: &'a Cell<Option<&'static str>>,
}

impl Sound<'_> {
    fn refuse<E: serde::de::Error>(self, problem: &'static str) -> E {
        self.found.set(Some(problem));
        E::custom(problem)
    }

    /// The walker one level further in, or the error when that is too deep.
    fn nested<E: serde::de::Error>(self) -> Result<Self, E> {
        if self.depth > MAX_METADATA_DEPTH {
            return Err(self.refuse(TOO_DEEP));
        }
        Ok(Self {
            depth: self.depth + 1,
            ..self
        })
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Sound<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Sound<'_> {
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
            Err(self.refuse(OUT_OF_RANGE))
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
                return Err(self.refuse(REPEATED_KEY));
            }
            map.next_value_seed(inner)?;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::body::{message_patch, new_message};
    use crate::validate::details;

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
}
