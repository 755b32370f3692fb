//! openapi.yaml, read as YAML data, against the code it describes: the `code` and the status of
//! every `shared::error::ApiError` (components.schemas.ErrorCode and the `Error<status>`
//! schemas) and the CORS lists of `local::cors` (`x-cors`). The routes are held to the route
//! table in routes.rs, its size limits to `shared::limits`. The file's own rules (valid
//! OpenAPI, examples valid against their schemas, every component used) are Redocly's, in
//! `make lint`.
//!
//! There is no list of ApiError's variants in the code, so this file makes one: `every()` and
//! `covered()` come from one table, and `covered` matches exhaustively, so a new variant fails
//! to compile here until it has a line in the table (and so a value in `every()`), and then
//! fails the tests until openapi.yaml documents its code under its status.

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value;
use shared::error::ApiError;

/// `$pattern => $value`: one line per variant, the value being one of that variant.
macro_rules! variants {
    ($($pattern:pat => $value:expr),+ $(,)?) => {
        /// One value of every variant of ApiError, in the table's order.
        fn every() -> Vec<ApiError> {
            vec![$($value),+]
        }

        /// The table line (its pattern, as text) whose variant `e` is. Exhaustive, without a
        /// wildcard: a variant the table lacks does not compile.
        fn covered(e: &ApiError) -> &'static str {
            match e {
                $($pattern => stringify!($pattern)),+
            }
        }

        /// The table's patterns, in its order.
        const PATTERNS: &[&str] = &[$(stringify!($pattern)),+];
    };
}

variants! {
    ApiError::InvalidJson { .. } => ApiError::InvalidJson {
        message: "request body is not valid JSON".into(),
        details: None,
    },
    ApiError::Validation { .. } => ApiError::field("body", "must be a JSON object"),
    ApiError::InvalidJobId => ApiError::InvalidJobId,
    ApiError::InvalidCursor { .. } => ApiError::InvalidCursor { reason: "malformed" },
    ApiError::Unauthenticated => ApiError::Unauthenticated,
    ApiError::JobNotFound => ApiError::JobNotFound,
    ApiError::MessageNotFound => ApiError::MessageNotFound,
    ApiError::NotFound => ApiError::NotFound,
    ApiError::MethodNotAllowed { .. } => ApiError::MethodNotAllowed { allow: "PATCH".into() },
    ApiError::MessageIdConflict => ApiError::MessageIdConflict,
    ApiError::NothingToRestore => ApiError::NothingToRestore,
    ApiError::PreconditionFailed { .. } => ApiError::PreconditionFailed { current_version: 2 },
    ApiError::PayloadTooLarge { .. } => ApiError::PayloadTooLarge {
        field: "content",
        limit: shared::limits::MAX_CONTENT_BYTES,
    },
    ApiError::UnsupportedMediaType => ApiError::UnsupportedMediaType,
    ApiError::ServiceUnavailable => ApiError::ServiceUnavailable,
    ApiError::Internal => ApiError::Internal,
}

fn spec() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("openapi.yaml: {e}"))
}

/// The node at `path` (keys from `from`), or a panic naming the missing key.
fn at<'a>(from: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(from, |node, key| {
        node.get(*key)
            .unwrap_or_else(|| panic!("openapi.yaml: no `{key}` in {}", path.join(".")))
    })
}

/// `node`, or what its `$ref` (a `#/...` pointer into `spec`) names.
fn resolve<'a>(spec: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(pointer) => {
            let keys: Vec<&str> = pointer
                .strip_prefix("#/")
                .unwrap_or_else(|| panic!("openapi.yaml: $ref {pointer} is not local"))
                .split('/')
                .collect();
            resolve(spec, at(spec, &keys))
        }
        None => node,
    }
}

fn strings(node: &Value) -> Vec<String> {
    node.as_sequence()
        .unwrap_or_else(|| panic!("openapi.yaml: expected a list, found {node:?}"))
        .iter()
        .map(|item| match item {
            Value::String(s) => s.clone(),
            other => panic!("openapi.yaml: expected a string, found {other:?}"),
        })
        .collect()
}

fn mapping(node: &Value) -> impl Iterator<Item = (&str, &Value)> {
    node.as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.as_str()?, value)))
}

/// code -> status, from `every()`; a code answered with two statuses fails.
fn codes() -> BTreeMap<&'static str, u16> {
    let mut codes = BTreeMap::new();
    for e in every() {
        if let Some(status) = codes.insert(e.code(), e.status()) {
            assert_eq!(status, e.status(), "{} has two statuses", e.code());
        }
    }
    codes
}

/// status -> the `Error<status>` schema's own part (the `allOf` member that is not the `$ref`
/// to `Error`): where openapi.yaml narrows `code` to that status's codes.
fn status_schemas(spec: &Value) -> BTreeMap<u16, &Value> {
    mapping(at(spec, &["components", "schemas"]))
        .filter_map(|(name, schema)| {
            let status = name.strip_prefix("Error")?.parse::<u16>().ok()?;
            let parts = schema.get("allOf").and_then(Value::as_sequence);
            let own: Vec<&Value> = parts
                .unwrap_or_else(|| panic!("openapi.yaml: {name} is not an allOf"))
                .iter()
                .filter(|part| part.get("$ref").is_none())
                .collect();
            assert_eq!(
                own.len(),
                1,
                "{name}: one allOf member besides the $ref to Error"
            );
            Some((status, own[0]))
        })
        .collect()
}

#[test]
fn every_lists_each_variant_once_under_its_own_line() {
    let lines: Vec<&str> = every().iter().map(covered).collect();
    assert_eq!(
        lines, PATTERNS,
        "each value of every() is the variant of its line"
    );
}

#[test]
fn error_code_enum_is_exactly_the_codes_of_api_error() {
    let spec = spec();
    let listed = strings(at(&spec, &["components", "schemas", "ErrorCode", "enum"]));
    let unique: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "ErrorCode repeats a code: {listed:?}"
    );
    let answered: BTreeSet<&str> = codes().into_keys().collect();
    assert_eq!(unique, answered, "ErrorCode.enum vs the codes of ApiError");
}

#[test]
fn each_status_schema_lists_exactly_the_codes_of_its_status() {
    let spec = spec();
    let mut by_status: BTreeMap<u16, BTreeSet<&str>> = BTreeMap::new();
    for (code, status) in codes() {
        by_status.entry(status).or_default().insert(code);
    }
    let schemas = status_schemas(&spec);
    let documented: BTreeMap<u16, BTreeSet<String>> = schemas
        .iter()
        .map(|(status, own)| {
            let codes = strings(at(own, &["properties", "code", "enum"]));
            (*status, codes.into_iter().collect())
        })
        .collect();
    let answered: BTreeMap<u16, BTreeSet<String>> = by_status
        .into_iter()
        .map(|(status, codes)| (status, codes.into_iter().map(String::from).collect()))
        .collect();
    assert_eq!(documented, answered, "Error<status> schemas vs ApiError");
}

#[test]
fn details_have_the_keys_their_status_schema_requires() {
    let spec = spec();
    let schemas = status_schemas(&spec);
    for e in every() {
        let own = schemas[&e.status()];
        let required = own.get("required").map(strings).unwrap_or_default();
        if !required.iter().any(|r| r == "details") {
            continue;
        }
        let schema = resolve(&spec, at(own, &["properties", "details"]));
        let keys: BTreeSet<String> = e
            .details()
            .unwrap_or_else(|| {
                panic!(
                    "{} has no details; Error{} requires them",
                    e.code(),
                    e.status()
                )
            })
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        let properties: BTreeSet<String> = mapping(at(schema, &["properties"]))
            .map(|(name, _)| name.to_owned())
            .collect();
        let required: BTreeSet<String> = strings(at(schema, &["required"])).into_iter().collect();
        assert!(
            required.is_subset(&keys) && keys.is_subset(&properties),
            "{}: details {keys:?}; openapi.yaml requires {required:?} of {properties:?}",
            e.code()
        );
    }
}

#[test]
fn every_status_the_code_answers_is_a_response_of_some_operation() {
    let spec = spec();
    let mut documented = BTreeSet::new();
    for (_, item) in mapping(at(&spec, &["paths"])) {
        for (method, operation) in mapping(item) {
            if ["get", "post", "put", "delete", "patch"].contains(&method) {
                for (status, _) in mapping(at(operation, &["responses"])) {
                    documented.insert(status.to_owned());
                }
            }
        }
    }
    for (code, status) in codes() {
        assert!(
            documented.contains(&status.to_string()),
            "{code} is answered with {status}, which no operation lists"
        );
    }
}

fn cors_list(list: &str) -> BTreeSet<String> {
    list.split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

#[test]
fn x_cors_lists_what_the_local_server_answers() {
    let spec = spec();
    for (key, constant) in [
        ("allowMethods", local::cors::ALLOW_METHODS),
        ("allowHeaders", local::cors::ALLOW_HEADERS),
        ("exposeHeaders", local::cors::EXPOSE_HEADERS),
    ] {
        let listed: BTreeSet<String> = strings(at(&spec, &["x-cors", key]))
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        assert_eq!(
            listed,
            cors_list(constant),
            "x-cors.{key} vs local/src/cors.rs"
        );
    }
}

#[test]
fn every_exposed_header_is_documented_on_a_response() {
    let spec = spec();
    let mut responses: Vec<&Value> = Vec::new();
    for (_, item) in mapping(at(&spec, &["paths"])) {
        for (_, operation) in mapping(item) {
            if let Some(list) = operation.get("responses") {
                responses.extend(mapping(list).map(|(_, r)| resolve(&spec, r)));
            }
        }
    }
    responses.extend(mapping(at(&spec, &["components", "responses"])).map(|(_, r)| r));
    let documented: BTreeSet<String> = responses
        .iter()
        .filter_map(|response| response.get("headers"))
        .flat_map(|headers| mapping(headers).map(|(name, _)| name.to_ascii_lowercase()))
        .collect();
    for header in cors_list(local::cors::EXPOSE_HEADERS) {
        assert!(
            documented.contains(&header),
            "{header} is exposed to scripts but no response documents it"
        );
    }
}

/// Every node under `node` (itself included) that has `key`, as (path, value).
fn with_key<'a>(node: &'a Value, key: &str, path: String, found: &mut Vec<(String, &'a Value)>) {
    if let Some(value) = node.get(key) {
        found.push((path.clone(), value));
    }
    match node {
        Value::Mapping(_) => {
            for (name, child) in mapping(node) {
                with_key(child, key, format!("{path}.{name}"), found);
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                with_key(child, key, format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// The numbers given to `key` anywhere in the file, by path; at least one, or the limit is not
/// documented at all.
fn limits(spec: &Value, key: &str) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    with_key(spec, key, String::new(), &mut found);
    let numbers: Vec<(String, u64)> = found
        .into_iter()
        .filter_map(|(path, value)| Some((path, value.as_u64()?)))
        .collect();
    assert!(!numbers.is_empty(), "openapi.yaml: no numeric `{key}`");
    numbers
}

/// A bound on the keys of a JSON object of `bytes` serialized compactly: it is at least `{"":0}`
/// and each further key adds at least `,"a":0` (keys are distinct, so only one can be empty).
fn most_keys_in(bytes: usize) -> usize {
    (bytes - r#"{"":0}"#.len()) / r#","a":0"#.len() + 1
}

#[test]
fn size_limits_are_schema_keywords_with_the_code_s_values() {
    use shared::limits::*;
    let spec = spec();
    let content = MAX_CONTENT_BYTES as u64;
    for (path, limit) in limits(&spec, "x-max-utf8-bytes") {
        assert_eq!(limit, content, "{path}: x-max-utf8-bytes");
    }
    // Every `content` a client sends or reads is bounded by a keyword validators enforce.
    let mut contents = Vec::new();
    with_key(&spec, "content", String::new(), &mut contents);
    let strings: Vec<_> = contents
        .iter()
        .filter(|(_, node)| node.get("type").and_then(Value::as_str) == Some("string"))
        .collect();
    assert!(
        strings.len() >= 3,
        "content of Message, NewMessage and MessagePatch"
    );
    for (path, node) in strings {
        assert_eq!(
            node.get("maxLength").and_then(Value::as_u64),
            Some(content),
            "{path}"
        );
        assert!(
            node.get("x-max-utf8-bytes").is_some(),
            "{path}: the byte limit"
        );
    }
    for (path, limit) in limits(&spec, "x-max-serialized-bytes") {
        assert_eq!(
            limit, MAX_METADATA_BYTES as u64,
            "{path}: x-max-serialized-bytes"
        );
    }
    for (path, limit) in limits(&spec, "maxProperties") {
        assert_eq!(
            limit,
            most_keys_in(MAX_METADATA_BYTES) as u64,
            "{path}: maxProperties"
        );
    }
    for (path, limit) in limits(&spec, "x-max-depth") {
        assert_eq!(limit, MAX_METADATA_DEPTH as u64, "{path}: x-max-depth");
    }
    for (path, limit) in limits(&spec, "maxItems") {
        assert_eq!(limit, MAX_PAGE_MESSAGES as u64, "{path}: maxItems");
    }
    let limit = at(&spec, &["components", "parameters", "Limit", "schema"]);
    assert_eq!(
        limit.get("maximum").and_then(Value::as_u64),
        Some(MAX_PAGE_MESSAGES as u64)
    );
    let id = at(&spec, &["components", "schemas", "MessageId"]);
    assert_eq!(
        id.get("maxLength").and_then(Value::as_u64),
        Some(MAX_MESSAGE_ID_CHARS as u64)
    );
}

/// The `If-Match` pattern a schema-driven client holds its headers to admits exactly what the
/// server reads as entity tags (a match or a 412) and none that it refuses with 400.
#[test]
fn the_if_match_pattern_admits_what_the_server_reads_and_nothing_it_refuses() {
    let spec = spec();
    let pattern = at(
        &spec,
        &["components", "parameters", "IfMatch", "schema", "pattern"],
    )
    .as_str()
    .expect("a pattern");
    let pattern = regex_lite::Regex::new(pattern).expect("the pattern compiles");
    let headers = [
        "\"3\"",
        "3",
        "*",
        " \"3\" ",
        "\"3\", \"4\"",
        "\"3\",",
        ", \"3\"",
        "\"3\" ,, \"4\"",
        "W/\"3\"",
        "\"abc\"",
        "\"03\"",
        "\"+3\"",
        "\"99999999999999999999\"",
        "\"x7f-A_b\"",
        "W/\"\"",
        "\"\"",
        "",
        ",",
        " , ",
        "abc",
        "v3",
        "\"3",
        "3\"",
        "W/3",
        "3 4",
        "\"3\" \"4\"",
        "*, \"3\"",
        "\"a b\"",
        "\"a\\tb\"",
        "W/ \"3\"",
        "\"é\"",
        "\"3\";",
    ];
    for header in headers {
        assert_eq!(
            pattern.is_match(header),
            shared::validate::if_match(Some(header)).is_ok(),
            "If-Match: {header:?}"
        );
    }
}
