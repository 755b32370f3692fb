//! The properties of team issue 13, item 2: request parsing, validation, cursors and routing
//! never panic and refuse with documented statuses; valid input round-trips; whole API Gateway
//! events through every handler always get the API's envelope. fuzz/README.md lists them.
//!
//! `cargo test -p quote-chat-fuzz` runs 256 cases a property (`PROPTEST_CASES`); `make fuzz`
//! runs them for a bounded time (`FUZZ_SECONDS`). A failure prints the shrunk input and the
//! `PROPTEST_RNG_SEED` that replays it.

use fuzzkit::event::{self, Event, Handler, Setup};
use fuzzkit::json::{self, JStr, Json, Mutation};
use fuzzkit::{check, envelope};
use lambda_http::http::Method;
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;
use serde::de::IgnoredAny;
use shared::cursor::{Cursor, CursorCodec};
use shared::error::ApiError;
use shared::ids::{JobId, MessageId};
use shared::limits::{
    MAX_CONTENT_BYTES, MAX_METADATA_BYTES, MAX_METADATA_DEPTH, MAX_PAGE_MESSAGES,
};
use shared::model::{metadata_to_string, IfMatch, Role, Status};
use shared::routes::{self, Route, ROUTES};
use shared::validate;

/// Refusals of validation: a bad request, or one too large (415 is the HTTP layer's, for bodies
/// that are not declared JSON, but is allowed here as the brief documents it).
const VALIDATION_STATUSES: [u16; 3] = [400, 413, 415];

fn refused(err: &ApiError, what: &str) -> TestCaseResult {
    fuzzkit::tally(format!("{what} {} {}", err.status(), err.code()));
    prop_assert!(
        VALIDATION_STATUSES.contains(&err.status()),
        "{what}: {err:?} has status {} (code {})",
        err.status(),
        err.code()
    );
    prop_assert!(
        envelope::documented().codes.get(err.code()) == Some(&err.status()),
        "{what}: undocumented code {} / {}",
        err.code(),
        err.status()
    );
    Ok(())
}

/// Whether serde_json calls the text malformed while skipping over it (not merely "not an
/// object"); blank counts as malformed, as the API answers INVALID_JSON "body is required".
fn malformed(body: &str) -> bool {
    body.trim().is_empty()
        || matches!(serde_json::from_str::<IgnoredAny>(body), Err(err) if !err.is_data())
}

/// Whether the text is no JSON at all, even when read strictly (strings decoded: a lone
/// surrogate counts as malformed here).
fn strictly_malformed(body: &str) -> bool {
    body.trim().is_empty()
        || matches!(serde_json::from_str::<serde_json::Value>(body), Err(err) if !err.is_data())
}

/// How a refused body is classified: INVALID_JSON only for text that is not JSON; malformed
/// text that starts as an object always INVALID_JSON. (Malformed text that starts as another
/// value, e.g. `[1,` or `null x`, may be VALIDATION_ERROR "must be a JSON object": the
/// validator stops at the first token. Reported in the fuzz findings, accepted here.)
fn classified(err: &ApiError, body: &str) -> TestCaseResult {
    if err.code() == "INVALID_JSON" {
        prop_assert!(
            strictly_malformed(body),
            "INVALID_JSON for well-formed JSON: {err:?} for {body:?}"
        );
    }
    let starts_as_object = body
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{');
    if malformed(body) && starts_as_object {
        prop_assert_eq!(
            err.code(),
            "INVALID_JSON",
            "malformed object not INVALID_JSON: {:?} for {:?}",
            err,
            body
        );
    }
    Ok(())
}

fn body_strategy() -> BoxedStrategy<String> {
    prop_oneof![
        4 => json::body_text(),
        1 => any::<String>(),
        1 => prop::collection::vec(any::<u8>(), 0..48)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// 1. Validation never panics; it refuses with 400/413 and the documented codes.

#[test]
fn new_message_never_panics_and_refuses_with_documented_codes() {
    check("new_message_never_panics", 1, body_strategy(), |body| {
        match validate::new_message(&body) {
            Ok(message) => {
                fuzzkit::tally("new_message ok");
                prop_assert!(MessageId::parse(message.message_id.as_str()).is_some());
                prop_assert!(message.content.len() <= MAX_CONTENT_BYTES);
                prop_assert!(metadata_to_string(&message.metadata).len() <= MAX_METADATA_BYTES);
                for value in message.metadata.values() {
                    prop_assert!(
                        serde_json::from_str::<serde_json::Value>(value.get()).is_ok(),
                        "metadata value kept as invalid JSON: {}",
                        value.get()
                    );
                }
                prop_assert!(!malformed(&body), "malformed body accepted: {body:?}");
            }
            Err(err) => {
                refused(&err, "new_message")?;
                classified(&err, &body)?;
            }
        }
        Ok(())
    });
}

#[test]
fn message_patch_never_panics_and_refuses_with_documented_codes() {
    check("message_patch_never_panics", 1, body_strategy(), |body| {
        match validate::message_patch(&body) {
            Ok(patch) => {
                fuzzkit::tally("message_patch ok");
                prop_assert!(
                    patch.content.is_some() || patch.metadata.is_some() || patch.status.is_some(),
                    "an empty patch was accepted: {body:?}"
                );
                if let Some(content) = &patch.content {
                    prop_assert!(content.len() <= MAX_CONTENT_BYTES);
                }
                prop_assert!(!malformed(&body), "malformed body accepted: {body:?}");
            }
            Err(err) => {
                refused(&err, "message_patch")?;
                classified(&err, &body)?;
            }
        }
        Ok(())
    });
}

/// An `If-Match` entity tag as a client may write it.
#[derive(Clone, Debug)]
enum Tag {
    Strong(u64),
    Weak(u64),
    Bare(u64),
}

fn header_like() -> BoxedStrategy<Option<String>> {
    prop::option::weighted(
        0.9,
        prop_oneof![
            any::<String>(),
            "[ -~]{0,16}",
            "[0-9\"W/, *-]{0,16}",
            prop::sample::select(vec!["", "*", " * ", "W/\"1\"", "\"1\"", "1", "\"\""])
                .prop_map(str::to_owned),
        ],
    )
    .boxed()
}

#[test]
fn headers_query_and_ids_never_panic() {
    let tags = prop::collection::vec(
        prop_oneof![
            any::<u64>().prop_map(Tag::Strong),
            any::<u64>().prop_map(Tag::Weak),
            any::<u64>().prop_map(Tag::Bare),
        ],
        1..4,
    );
    let strategy = (
        header_like(),
        tags,
        header_like(),
        header_like(),
        header_like(),
        prop_oneof![
            any::<String>(),
            "[0-9a-fA-F-]{36}",
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "\\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\}",
            "[0-9a-f]{32}",
            "urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ],
        prop_oneof![any::<String>(), "[A-Za-z0-9._:-]{0,110}"],
    );
    check(
        "headers_query_and_ids_never_panic",
        1,
        strategy,
        |(if_match, tags, limit, cursor, order, job, message)| {
            // Arbitrary If-Match headers.
            match validate::if_match(if_match.as_deref()) {
                Ok(_) => {}
                Err(err) => {
                    refused(&err, "if_match")?;
                    prop_assert_eq!(err.code(), "VALIDATION_ERROR");
                }
            }
            // Well-formed ones mean exactly the strong and bare versions they name.
            let text = tags
                .iter()
                .map(|t| match t {
                    Tag::Strong(v) => format!("\"{v}\""),
                    Tag::Weak(v) => format!("W/\"{v}\""),
                    Tag::Bare(v) => v.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" , ");
            let expected: Vec<u64> = tags
                .iter()
                .filter_map(|t| match t {
                    Tag::Strong(v) | Tag::Bare(v) => Some(*v),
                    Tag::Weak(_) => None,
                })
                .collect();
            let expected = if expected.is_empty() {
                IfMatch::Never
            } else {
                IfMatch::Versions(expected)
            };
            let got = validate::if_match(Some(&text));
            prop_assert!(
                matches!(&got, Ok(m) if *m == expected),
                "If-Match {text:?}: {got:?}, expected {expected:?}"
            );

            // Arbitrary query parameters.
            match validate::list_query(limit.as_deref(), cursor.as_deref(), order.as_deref(), None)
            {
                Ok(query) => {
                    let digits = limit
                        .as_deref()
                        .map(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
                    prop_assert!(limit.is_none() || digits == Some(true));
                    if let Some(n) = query.limit {
                        prop_assert!((1..=MAX_PAGE_MESSAGES).contains(&n));
                    }
                    prop_assert_eq!(query.limit.is_some(), limit.is_some());
                    prop_assert!(matches!(
                        (order.as_deref(), query.descending),
                        (None, None) | (Some("asc"), Some(false)) | (Some("desc"), Some(true))
                    ));
                    prop_assert_eq!(
                        query.cursor.as_deref(),
                        cursor.as_deref().filter(|c| !c.is_empty())
                    );
                }
                Err(err) => {
                    refused(&err, "list_query")?;
                    prop_assert_eq!(err.code(), "VALIDATION_ERROR");
                }
            }

            // Job ids: exactly the hyphenated UUIDs, kept as written.
            match validate::job_id(&job) {
                Ok(id) => {
                    prop_assert_eq!(id.as_str(), job.as_str());
                    let hyphenated = job.len() == 36
                        && job.char_indices().all(|(i, c)| {
                            if [8, 13, 18, 23].contains(&i) {
                                c == '-'
                            } else {
                                c.is_ascii_hexdigit()
                            }
                        });
                    prop_assert!(hyphenated, "job id {job:?} accepted");
                }
                Err(err) => {
                    refused(&err, "job_id")?;
                    prop_assert_eq!(err.code(), "INVALID_JOB_ID");
                }
            }

            // Message ids from the path.
            match validate::path_message_id(&message) {
                Ok(id) => prop_assert_eq!(id.as_str(), message.as_str()),
                Err(err) => {
                    refused(&err, "path_message_id")?;
                    prop_assert_eq!(err.code(), "VALIDATION_ERROR");
                }
            }
            Ok(())
        },
    );
}

/// Metadata nested to any depth: accepted up to 32 levels (the metadata object is level 1),
/// refused beyond with a 400 — never a panic or a stack overflow, even 200 000 deep; the same
/// nesting in an ignored field or as the whole body never panics either.
#[test]
fn metadata_depth_is_limited_exactly() {
    let strategy = (
        prop_oneof![8 => 1usize..400, 1 => 10_000usize..200_000],
        any::<bool>(),
        0..4u8,
    );
    check(
        "metadata_depth_is_limited_exactly",
        1,
        strategy,
        |(depth, objects, place)| {
            let inner = json::nested(depth, objects);
            let result = match place {
                0 => validate::message_patch(&format!(r#"{{"metadata":{{"k":{inner}}}}}"#))
                    .map(|_| ()),
                1 => validate::new_message(&format!(
                    r#"{{"message_id":"m1","role":"user","content":"","metadata":{{"k":{inner}}}}}"#
                ))
                .map(|_| ()),
                // Elsewhere: anything but a panic.
                2 => {
                    let body =
                        format!(r#"{{"message_id":"m1","role":"user","content":"","x":{inner}}}"#);
                    if let Err(err) = validate::new_message(&body) {
                        refused(&err, "deep ignored field")?;
                    }
                    return Ok(());
                }
                _ => {
                    for result in [
                        validate::new_message(&inner).map(|_| ()),
                        validate::message_patch(&inner).map(|_| ()),
                    ] {
                        let err = result
                            .err()
                            .ok_or_else(|| TestCaseError::fail("accepted"))?;
                        refused(&err, "deep body")?;
                    }
                    return Ok(());
                }
            };
            // Levels: the metadata object, then `depth` arrays or objects.
            let levels = 1 + depth;
            match result {
                Ok(()) => prop_assert!(levels <= MAX_METADATA_DEPTH, "{levels} levels accepted"),
                Err(err) => {
                    prop_assert!(
                        levels > MAX_METADATA_DEPTH,
                        "{levels} levels refused: {err:?}"
                    );
                    refused(&err, "deep metadata")?;
                    prop_assert_eq!(err.status(), 400);
                }
            }
            Ok(())
        },
    );
}

/// Content and metadata just under and just over their limits: accepted, or 413 naming the
/// field — whatever the characters' widths.
#[test]
fn size_limits_are_exact() {
    let strategy = (
        prop::sample::select(vec!["a", "é", "中", "😀", "\\n", "\\u00e9"]),
        0usize..12,
        any::<bool>(),
        any::<bool>(),
    );
    check(
        "size_limits_are_exact",
        8,
        strategy,
        |(unit, over, metadata, patch)| {
            // `unit` as JSON text and its size once decoded.
            let decoded = serde_json::from_str::<String>(&format!("\"{unit}\""))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (field, limit) = if metadata {
                ("metadata", MAX_METADATA_BYTES)
            } else {
                ("content", MAX_CONTENT_BYTES)
            };
            let size_of = |n: usize| {
                if metadata {
                    // {"k":"…"} as stored: the value keeps its escapes.
                    8 + unit.len() * n
                } else {
                    decoded.len() * n
                }
            };
            let per_unit = if metadata { unit.len() } else { decoded.len() };
            let fitting = (limit - size_of(0)) / per_unit;
            let n = (fitting + over).saturating_sub(6);
            let value = format!("\"{}\"", unit.repeat(n));
            let fields = if metadata {
                format!(r#""metadata":{{"k":{value}}}"#)
            } else {
                format!(r#""content":{value}"#)
            };
            let body = if patch {
                format!("{{{fields}}}")
            } else if metadata {
                format!(r#"{{"message_id":"m","role":"user","content":"",{fields}}}"#)
            } else {
                format!(r#"{{"message_id":"m","role":"user",{fields}}}"#)
            };
            let result = if patch {
                validate::message_patch(&body).map(|_| ())
            } else {
                validate::new_message(&body).map(|_| ())
            };
            let size = size_of(n);
            match result {
                Ok(()) => prop_assert!(size <= limit, "{field} of {size} bytes accepted"),
                Err(err) => {
                    prop_assert!(size > limit, "{field} of {size} bytes refused: {err:?}");
                    prop_assert_eq!(err.status(), 413);
                    let details = err.details().unwrap_or_default();
                    prop_assert_eq!(details.get("field").and_then(|f| f.as_str()), Some(field));
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Valid messages and patches round-trip; metadata keeps its exact text.

/// Valid metadata: unique keys, depth and size within the limits.
fn metadata_fields() -> BoxedStrategy<Vec<(JStr, Json)>> {
    prop::collection::vec((json::jstr(true, 8), json::valid_value(4)), 0..6)
        .prop_map(json::unique_keys)
        .prop_filter("within the metadata limit", |fields| {
            fields
                .iter()
                .map(|(k, v)| k.text.len() + v.compact().len() + 4)
                .sum::<usize>()
                < MAX_METADATA_BYTES - 2
        })
        .boxed()
}

#[derive(Clone, Debug)]
struct ValidMessage {
    message_id: String,
    role: Role,
    content: JStr,
    status: Option<Status>,
    metadata: Option<Vec<(JStr, Json)>>,
    /// Ignored fields a client may send along (server-owned or unknown).
    extras: Vec<(&'static str, Json)>,
    /// Field order.
    order: Vec<prop::sample::Index>,
    spacing: json::Spacing,
}

fn status() -> impl Strategy<Value = Status> {
    prop::sample::select(vec![Status::Streaming, Status::Complete, Status::Error])
}

fn valid_message() -> impl Strategy<Value = ValidMessage> {
    (
        "[A-Za-z0-9._:-]{1,100}",
        prop::bool::ANY.prop_map(|a| if a { Role::Assistant } else { Role::User }),
        json::jstr(true, 40),
        prop::option::of(status()),
        prop::option::of(metadata_fields()),
        prop::collection::vec(
            (
                prop::sample::select(vec!["timestamp", "job_id", "version", "updated_at", "x"]),
                json::valid_value(2),
            ),
            0..3,
        ),
        prop::collection::vec(any::<prop::sample::Index>(), 8),
        json::spacing(),
    )
        .prop_map(
            |(message_id, role, content, status, metadata, extras, order, spacing)| {
                let mut seen = std::collections::HashSet::new();
                let extras = extras
                    .into_iter()
                    .filter(|(k, _)| seen.insert(*k))
                    .collect();
                ValidMessage {
                    message_id,
                    role,
                    content,
                    status,
                    metadata,
                    extras,
                    order,
                    spacing,
                }
            },
        )
}

fn shuffle<T>(mut items: Vec<T>, order: &[prop::sample::Index]) -> Vec<T> {
    for (i, index) in order.iter().enumerate().take(items.len()) {
        let j = index.index(items.len());
        items.swap(i, j);
    }
    items
}

#[test]
fn valid_messages_round_trip() {
    check("valid_messages_round_trip", 1, valid_message(), |m| {
        let mut fields = vec![
            (
                JStr::plain("message_id"),
                Json::Str(JStr::plain(&m.message_id)),
            ),
            (JStr::plain("role"), Json::Str(JStr::plain(m.role.as_str()))),
            (JStr::plain("content"), Json::Str(m.content.clone())),
        ];
        if let Some(status) = m.status {
            fields.push((
                JStr::plain("status"),
                Json::Str(JStr::plain(status.as_str())),
            ));
        }
        if let Some(metadata) = &m.metadata {
            fields.push((JStr::plain("metadata"), Json::Object(metadata.clone())));
        }
        for (key, value) in &m.extras {
            fields.push((JStr::plain(key), value.clone()));
        }
        let body = Json::Object(shuffle(fields, &m.order)).render(&m.spacing);
        let message = validate::new_message(&body)
            .map_err(|err| TestCaseError::fail(format!("{err:?} for {body}")))?;
        prop_assert_eq!(message.message_id.as_str(), m.message_id.as_str());
        prop_assert_eq!(message.role, m.role);
        prop_assert_eq!(Some(&message.content), m.content.value.as_ref());
        prop_assert_eq!(message.status, m.status.unwrap_or_default());
        let expected: Vec<(String, String)> = m
            .metadata
            .iter()
            .flatten()
            .map(|(k, v)| (k.value.clone().unwrap_or_default(), v.compact()))
            .collect();
        let got: Vec<(String, String)> = message
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.get().to_owned()))
            .collect();
        prop_assert_eq!(got, expected, "body {}", body);
        Ok(())
    });
}

#[test]
fn valid_patches_round_trip() {
    let strategy = (
        prop::option::of(json::jstr(true, 40)),
        prop::option::of(
            prop::collection::vec(
                (
                    json::jstr(true, 8),
                    prop_oneof![1 => Just(Json::Null), 4 => json::valid_value(4)],
                ),
                0..6,
            )
            .prop_map(json::unique_keys),
        ),
        prop::option::of(status()),
        json::spacing(),
    )
        .prop_filter("a patch changes something", |(c, m, s, _)| {
            c.is_some() || m.is_some() || s.is_some()
        });
    check(
        "valid_patches_round_trip",
        1,
        strategy,
        |(content, metadata, status, spacing)| {
            let mut fields = Vec::new();
            if let Some(content) = &content {
                fields.push((JStr::plain("content"), Json::Str(content.clone())));
            }
            if let Some(metadata) = &metadata {
                fields.push((JStr::plain("metadata"), Json::Object(metadata.clone())));
            }
            if let Some(status) = status {
                fields.push((
                    JStr::plain("status"),
                    Json::Str(JStr::plain(status.as_str())),
                ));
            }
            let body = Json::Object(fields).render(&spacing);
            let patch = validate::message_patch(&body)
                .map_err(|err| TestCaseError::fail(format!("{err:?} for {body}")))?;
            prop_assert_eq!(patch.content, content.and_then(|c| c.value));
            prop_assert_eq!(patch.status, status);
            let expected: Option<Vec<(String, Option<String>)>> = metadata.map(|fields| {
                fields
                    .iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Json::Null => None,
                            v => Some(v.compact()),
                        };
                        (k.value.clone().unwrap_or_default(), text)
                    })
                    .collect()
            });
            let got = patch.metadata.map(|changes| {
                changes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_ref().map(|v| v.get().to_owned())))
                    .collect::<Vec<_>>()
            });
            prop_assert_eq!(got, expected, "body {}", body);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Cursors round-trip; a changed cursor is the same cursor or INVALID_CURSOR.

fn job_id() -> impl Strategy<Value = JobId> {
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
        .prop_map(|raw| JobId::parse(&raw).expect("a job id"))
}

/// A job id that is not `job`: its last digit changed.
fn another(job: &JobId) -> JobId {
    let (rest, last) = job.as_str().split_at(35);
    let last = if last == "0" { "1" } else { "0" };
    JobId::parse(&format!("{rest}{last}")).expect("a job id")
}

fn cursor() -> impl Strategy<Value = Cursor> {
    (job_id(), any::<u64>(), any::<bool>(), ".{0,48}").prop_map(
        |(job_id, generation, descending, after)| Cursor {
            job_id,
            generation,
            descending,
            after,
        },
    )
}

/// Changes to a cursor's text, mostly within its alphabet.
fn cursor_mutation() -> impl Strategy<Value = Mutation> {
    let alphabet_char = prop_oneof![
        4 => prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".chars().collect::<Vec<_>>()
        ),
        1 => prop::sample::select(vec!['.', '=', '+', '/', '%', ' ', '\0', 'é']),
        1 => any::<char>(),
    ];
    prop_oneof![
        3 => (any::<prop::sample::Index>(), alphabet_char.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        1 => (any::<prop::sample::Index>(), alphabet_char.prop_map(String::from)).prop_map(|(i, s)| Mutation::Insert(i, s)),
        1 => prop_oneof!["[A-Za-z0-9_.=-]{1,8}", ".{1,4}"].prop_map(Mutation::Append),
        1 => (any::<prop::sample::Index>(), 1usize..4).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn invalid_cursor(err: &ApiError) -> TestCaseResult {
    prop_assert!(
        matches!(err, ApiError::InvalidCursor { .. }),
        "not INVALID_CURSOR: {err:?}"
    );
    prop_assert_eq!((err.status(), err.code()), (400, "INVALID_CURSOR"));
    Ok(())
}

#[test]
fn cursors_round_trip_and_changed_cursors_are_refused() {
    let strategy = (
        cursor(),
        prop::collection::vec(any::<u8>(), 0..40),
        prop::collection::vec(cursor_mutation(), 1..4),
    );
    check(
        "cursors_round_trip",
        1,
        strategy,
        |(cursor, secret, mutations)| {
            let codec = CursorCodec::new(&secret);
            let text = codec.encode(&cursor);
            let (job, generation) = (&cursor.job_id, cursor.generation);
            prop_assert_eq!(
                codec
                    .decode(&text, job, generation, Some(cursor.descending))
                    .ok(),
                Some(cursor.clone())
            );
            prop_assert_eq!(
                codec.decode(&text, job, generation, None).ok(),
                Some(cursor.clone())
            );
            // Someone else's chat, a cleared one, the other order, another key: refused.
            for result in [
                codec.decode(&text, &another(job), generation, None),
                codec.decode(&text, job, generation.wrapping_add(1), None),
                codec.decode(&text, job, generation, Some(!cursor.descending)),
                CursorCodec::new(b"another key").decode(&text, job, generation, None),
            ] {
                match result {
                    Ok(c) => prop_assert!(false, "accepted: {c:?}"),
                    Err(err) => invalid_cursor(&err)?,
                }
            }
            // During a key rotation both keys are accepted.
            let rotating = CursorCodec::new(b"next key").with_previous(&secret);
            prop_assert_eq!(
                rotating.decode(&text, job, generation, None).ok(),
                Some(cursor.clone())
            );

            let mut changed = text.clone();
            for mutation in &mutations {
                changed = mutation.apply(&changed);
            }
            match codec.decode(&changed, job, generation, None) {
                Ok(decoded) => prop_assert_eq!(
                    decoded,
                    cursor,
                    "changed cursor {:?} (from {:?}) decoded to another cursor",
                    changed,
                    text
                ),
                Err(err) => invalid_cursor(&err)?,
            }
            Ok(())
        },
    );
}

#[test]
fn forged_and_garbage_cursors_are_refused() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let strategy = prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,60}",
        "[A-Za-z0-9_.=+/-]{0,80}",
        // A well-formed payload with a tag of the right length but not the right value.
        (cursor(), prop::collection::vec(any::<u8>(), 32)).prop_map(move |(c, tag)| {
            format!(
                "{}.{}",
                b64(&serde_json::to_vec(&c).unwrap_or_default()),
                b64(&tag)
            )
        }),
        // Any payload, even not JSON, with random tags.
        (
            prop::collection::vec(any::<u8>(), 0..80),
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(move |(payload, tag)| format!("{}.{}", b64(&payload), b64(&tag))),
    ];
    check(
        "forged_and_garbage_cursors_are_refused",
        1,
        (
            strategy,
            job_id(),
            any::<u64>(),
            prop::option::of(any::<bool>()),
        ),
        |(text, job, generation, descending)| {
            let codec = CursorCodec::new(b"test-cursor-secret").with_previous(b"old");
            match codec.decode(&text, &job, generation, descending) {
                Ok(c) => prop_assert!(false, "a forged cursor was accepted: {c:?}"),
                Err(err) => invalid_cursor(&err)?,
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Routing never panics and agrees with ROUTES.

fn any_method() -> BoxedStrategy<Method> {
    prop_oneof![
        prop::sample::select(vec![
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::PUT,
            Method::HEAD,
            Method::OPTIONS,
            Method::TRACE,
            Method::CONNECT,
        ]),
        "[A-Za-z!#$%&'*+.^_`|~0-9-]{1,10}"
            .prop_filter_map("a token", |m| Method::from_bytes(m.as_bytes()).ok()),
    ]
    .boxed()
}

/// Whether `path` (without its trailing slash) fits `template`: same segments, literals equal,
/// parameters non-empty.
fn fits(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            if t.starts_with('{') {
                !p.is_empty()
            } else {
                t == p
            }
        })
}

#[test]
fn routing_never_panics_and_agrees_with_routes() {
    let path = prop_oneof![
        any::<String>(),
        "(/[a-z0-9%{}.-]{0,10}){0,7}/?",
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    "api",
                    "jobs",
                    "quote-chat",
                    "summary",
                    "export",
                    "restore",
                    "",
                    "x"
                ])
                .prop_map(str::to_owned),
                ".{1,6}",
            ],
            0..8
        )
        .prop_map(|segments| format!("/{}", segments.join("/"))),
    ];
    check(
        "routing_never_panics",
        1,
        (any_method(), path),
        |(method, path)| {
            let route = routes::route(&method, &path);
            let trimmed = path.strip_suffix('/').unwrap_or(&path);
            let fitting: Vec<_> = ROUTES.iter().filter(|d| fits(d.path, trimmed)).collect();
            match &route {
                Route::Preflight => prop_assert_eq!(&method, &Method::OPTIONS),
                Route::Found { target, job_id, .. } => {
                    prop_assert!(
                        fitting
                            .iter()
                            .any(|d| d.target == *target && d.method == method.as_str()),
                        "{method} {path:?} routed to {target:?}"
                    );
                    prop_assert!(!job_id.is_empty());
                }
                Route::WrongMethod { allow } => {
                    prop_assert!(!fitting.is_empty());
                    prop_assert!(fitting.iter().all(|d| d.method != method.as_str()));
                    let mut expected: Vec<&str> = Vec::new();
                    for d in &fitting {
                        if !expected.contains(&d.method) {
                            expected.push(d.method);
                        }
                    }
                    prop_assert_eq!(allow, &expected.join(", "));
                }
                Route::NotFound => prop_assert!(fitting.is_empty(), "{path:?} fits {fitting:?}"),
            }
            let unrouted = routes::unrouted(&method, &path);
            prop_assert!(
                matches!(unrouted.status(), 404 | 405),
                "unrouted: {unrouted:?}"
            );
            Ok(())
        },
    );
}

#[test]
fn route_templates_route_to_their_targets() {
    let strategy = (
        prop::sample::select(ROUTES.to_vec()),
        ".{1,16}",
        ".{1,16}",
        any::<bool>(),
        any::<bool>(),
    );
    check(
        "route_templates_route_to_their_targets",
        1,
        strategy,
        |(def, job, message, slash, encoded)| {
            // Raw values only where a path can carry them: no '/', not empty.
            let raw = |v: &str| {
                let v = v.replace('/', "_");
                if v.is_empty() {
                    "_".to_owned()
                } else {
                    v
                }
            };
            let (job_segment, message_segment, job_value, message_value) = if encoded {
                (
                    event::encode_segment(&job),
                    event::encode_segment(&message),
                    job.clone(),
                    message.clone(),
                )
            } else {
                let (j, m) = (raw(&job), raw(&message));
                (
                    j.clone(),
                    m.clone(),
                    event::percent_decode(&j),
                    event::percent_decode(&m),
                )
            };
            let mut path = def
                .path
                .replace("{job_id}", &job_segment)
                .replace("{message_id}", &message_segment);
            if slash {
                path.push('/');
            }
            let method = Method::from_bytes(def.method.as_bytes())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let expected = Route::Found {
                target: def.target,
                job_id: job_value,
                message_id: def.path.contains("{message_id}").then_some(message_value),
            };
            prop_assert_eq!(
                routes::route(&method, &path),
                expected,
                "{} {:?}",
                method,
                path
            );
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Whole API Gateway events through every handler: always the envelope, documented statuses.

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("no tokio runtime: {err}"))
}

fn answer(
    handler: Handler,
    event: &Event,
    response: &lambda_http::Response<lambda_http::Body>,
) -> TestCaseResult {
    let answer = envelope::check(response, event.request_id()).map_err(|problem| {
        TestCaseError::fail(format!(
            "{handler:?} answered badly: {problem}\nevent: {}",
            event.to_json()
        ))
    })?;
    fuzzkit::tally(format!(
        "{handler:?} {} {}",
        answer.status,
        answer.code.as_deref().unwrap_or("")
    ));
    if handler == Handler::Fallback {
        prop_assert!(
            matches!(answer.status, 404 | 405),
            "fallback answered {}: {:?}",
            answer.status,
            answer.body
        );
    }
    Ok(())
}

#[test]
fn every_handler_answers_any_event_in_the_envelope() {
    check(
        "every_handler_answers_any_event",
        2,
        (event::setup(), event::event()),
        |(setup, event)| {
            let rt = runtime();
            for handler in Handler::ALL {
                let deps = rt.block_on(event::deps(setup));
                let req = event.request().map_err(TestCaseError::fail)?;
                let response = rt.block_on(handler.call(&deps, req));
                answer(handler, &event, &response)?;
            }
            Ok(())
        },
    );
}

#[test]
fn sequences_of_events_as_api_gateway_routes_them() {
    check(
        "sequences_of_events",
        4,
        (event::setup(), prop::collection::vec(event::event(), 1..8)),
        |(setup, events)| {
            let rt = runtime();
            let deps = rt.block_on(event::deps(setup));
            for event in &events {
                let handler = event.function();
                let req = event.request().map_err(TestCaseError::fail)?;
                let response = rt.block_on(handler.call(&deps, req));
                answer(handler, event, &response)?;
            }
            Ok(())
        },
    );
}

/// Query parameters by name: the first value, if any.
type Params = Vec<(String, Option<String>)>;

/// The local server (shared::apigw::deliver) reads a query string as Lambda does
/// (lambda_http: form-urlencoded, the first value of a repeated name wins).
fn query_as_local_and_lambda(query: &str) -> Result<(Params, Params), TestCaseError> {
    use lambda_http::RequestExt;
    let local = lambda_http::http::Request::builder()
        .uri(format!("/x?{query}"))
        .body(lambda_http::Body::Empty)
        .map_err(|e| TestCaseError::reject(e.to_string()))?;
    let local = shared::apigw::deliver(local, Default::default(), None, "r".into());
    let event = serde_json::json!({
        "version": "2.0", "rawPath": "/x", "rawQueryString": query,
        "headers": {"host": "h.example.com"},
        "requestContext": {"http": {"method": "GET", "path": "/x"}, "stage": "$default"},
        "isBase64Encoded": false
    });
    let lambda = lambda_http::request::from_str(&event.to_string())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let names = |req: &lambda_http::Request| {
        req.query_string_parameters_ref()
            .map(|q| q.iter().map(|(k, _)| k.to_owned()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let mut all = names(&local);
    all.extend(names(&lambda));
    all.sort();
    all.dedup();
    let firsts = |req: &lambda_http::Request| {
        all.iter()
            .map(|name| {
                let value = req
                    .query_string_parameters_ref()
                    .and_then(|q| q.first(name))
                    .map(str::to_owned);
                (name.clone(), value)
            })
            .collect::<Vec<_>>()
    };
    Ok((firsts(&local), firsts(&lambda)))
}

fn query_text() -> BoxedStrategy<String> {
    prop_oneof![
        event::RAW_QUERY.boxed(),
        "([a-z%+=&]|%[0-9a-fA-F]{2}|%[^&]{0,2}){0,12}".boxed(),
        prop::collection::vec((".{0,6}", ".{0,6}"), 0..4)
            .prop_map(|pairs| {
                pairs
                    .iter()
                    .map(|(k, v)| {
                        format!("{}={}", event::encode_segment(k), event::encode_segment(v))
                    })
                    .collect::<Vec<_>>()
                    .join("&")
            })
            .boxed(),
    ]
    .prop_filter("a query lambda_http can take", |q| {
        !q.contains(['"', '<', '>', ' ', '\u{7f}', '#'])
    })
    .boxed()
}

#[test]
fn local_server_reads_query_strings_as_lambda_does() {
    check(
        "local_server_reads_query_strings_as_lambda_does",
        1,
        query_text(),
        |query| {
            let (local, lambda) = query_as_local_and_lambda(&query)?;
            prop_assert_eq!(local, lambda, "query {:?}", query);
            Ok(())
        },
    );
}

/// Found by this property, fixed in shared/src/apigw.rs: `%+X` was read as the escape of byte
/// 0X (`u8::from_str_radix` accepts a leading `+`); form-urlencoded decoding (what lambda_http
/// does on Lambda) keeps `%` literal and turns `+` into a space.
#[test]
fn local_server_reads_plus_escapes_as_lambda_does() {
    fuzzkit::check(
        "local_server_reads_plus_escapes_as_lambda_does",
        1,
        (query_text(), "[0-9a-fA-F]", query_text())
            .prop_map(|(a, hex, b)| format!("{a}%+{hex}{b}")),
        |query| {
            let (local, lambda) = query_as_local_and_lambda(&query)?;
            prop_assert_eq!(local, lambda, "query {:?}", query);
            Ok(())
        },
    );
}

/// Found by this property: lambda_http 1.3.2 panics ("failed to build request") while turning an
/// API Gateway event into a request when its `rawQueryString` holds a raw `"`, `<` or `>` (also
/// a space or DEL) — characters curl sends unencoded — before any handler runs. The functions
/// therefore run through `shared::lambda::run_http`, which percent-encodes them first; this
/// property applies the same repair and checks that every such request reaches its handler
/// and gets an answer in the envelope.
#[test]
fn raw_query_quotes_and_angle_brackets_reach_the_handlers() {
    fuzzkit::check(
        "raw_query_quotes_and_angle_brackets",
        2,
        (event::plausible_event(), "[A-Za-z0-9=&\"<>]{1,12}"),
        |(mut event, query)| {
            event.raw_query = shared::lambda::uri_safe(&query);
            let request = std::panic::catch_unwind(|| event.request()).map_err(|_| {
                TestCaseError::fail(format!(
                    "lambda_http panicked on rawQueryString {:?}",
                    event.raw_query
                ))
            })?;
            let req = request.map_err(TestCaseError::fail)?;
            let rt = runtime();
            let deps = rt.block_on(event::deps(Setup::Filled));
            let handler = event.function();
            let response = rt.block_on(handler.call(&deps, req));
            answer(handler, &event, &response)
        },
    );
}

#[test]
fn the_property_count_is_up_to_date() {
    let source = include_str!("properties.rs");
    let count = source
        .lines()
        .filter(|line| line.trim_start().starts_with("check("))
        .count();
    assert_eq!(
        count,
        fuzzkit::PROPERTIES,
        "fuzzkit::PROPERTIES shares out FUZZ_SECONDS: set it to the number of properties"
    );
}

#[test]
fn setups_are_what_they_say() {
    let rt = runtime();
    for setup in [
        Setup::Empty,
        Setup::Filled,
        Setup::Cleared,
        Setup::Unavailable,
    ] {
        rt.block_on(event::deps(setup));
    }
}
