//! JSON as a tree that remembers its exact text: valid documents (whose every string's value
//! and every value's compact text are known, for round-trip properties) and "JSON-ish" ones
//! with repeated keys, lone surrogates, raw control characters, out-of-range numbers, garbage
//! tokens and deep nesting.

use proptest::prelude::*;
use proptest::sample::Index;

/// A JSON string: its text between the quotes, and its value when the text is valid JSON with
/// no lone surrogate (what a Rust string can hold).
#[derive(Clone, Debug, PartialEq)]
pub struct JStr {
    pub text: String,
    pub value: Option<String>,
}

impl JStr {
    /// The string as valid JSON, escaping only what must be escaped.
    pub fn plain(value: &str) -> Self {
        let quoted = serde_json::to_string(value).unwrap_or_default();
        Self {
            text: quoted[1..quoted.len() - 1].to_owned(),
            value: Some(value.to_owned()),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number's text (maybe not a valid JSON number in JSON-ish documents).
    Number(String),
    Str(JStr),
    Array(Vec<Json>),
    Object(Vec<(JStr, Json)>),
    /// Anything at all in place of a value (JSON-ish documents only).
    Garbage(String),
}

/// Whitespace between tokens, picked in turn from a generated list.
#[derive(Clone, Debug)]
pub struct Spacing(pub Vec<&'static str>);

impl Spacing {
    pub fn none() -> Self {
        Self(vec![""])
    }
}

/// Insignificant JSON whitespace.
pub fn spacing() -> impl Strategy<Value = Spacing> {
    prop::collection::vec(
        prop::sample::select(vec!["", "", "", " ", "  ", "\n", "\t", "\r\n", " \n  "]),
        1..8,
    )
    .prop_map(Spacing)
}

/// Whitespace JSON does not allow (NBSP, form feed, BOM, ideographic space), now and then.
pub fn wild_spacing() -> impl Strategy<Value = Spacing> {
    prop::collection::vec(
        prop::sample::select(vec![
            "", "", " ", "\n", "\t", "\u{a0}", "\u{c}", "\u{feff}", "\u{3000}", "\u{b}",
        ]),
        1..8,
    )
    .prop_map(Spacing)
}

struct Writer<'a> {
    out: String,
    spacing: &'a [&'static str],
    turn: usize,
}

impl Writer<'_> {
    fn space(&mut self) {
        if !self.spacing.is_empty() {
            self.out
                .push_str(self.spacing[self.turn % self.spacing.len()]);
            self.turn += 1;
        }
    }

    fn string(&mut self, s: &JStr) {
        self.out.push('"');
        self.out.push_str(&s.text);
        self.out.push('"');
    }

    fn value(&mut self, json: &Json) {
        match json {
            Json::Null => self.out.push_str("null"),
            Json::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Json::Number(text) | Json::Garbage(text) => self.out.push_str(text),
            Json::Str(s) => self.string(s),
            Json::Array(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.space();
                        self.out.push(',');
                    }
                    self.space();
                    self.value(item);
                }
                self.space();
                self.out.push(']');
            }
            Json::Object(fields) => {
                self.out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.space();
                        self.out.push(',');
                    }
                    self.space();
                    self.string(key);
                    self.space();
                    self.out.push(':');
                    self.space();
                    self.value(value);
                }
                self.space();
                self.out.push('}');
            }
        }
    }
}

impl Json {
    /// The text, with the given whitespace between tokens and around the document.
    pub fn render(&self, spacing: &Spacing) -> String {
        let mut writer = Writer {
            out: String::new(),
            spacing: &spacing.0,
            turn: 0,
        };
        writer.space();
        writer.value(self);
        writer.space();
        writer.out
    }

    /// The text with no whitespace outside strings.
    pub fn compact(&self) -> String {
        self.render(&Spacing::none())
    }

    /// How deeply arrays and objects nest (a scalar is 0, `[]` is 1).
    pub fn depth(&self) -> usize {
        match self {
            Json::Array(items) => 1 + items.iter().map(Json::depth).max().unwrap_or(0),
            Json::Object(fields) => 1 + fields.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }
}

/// One piece of a string: its JSON text and, when valid and not a lone surrogate, its value.
fn piece(valid_only: bool) -> BoxedStrategy<(String, Option<String>)> {
    let plain = any::<char>().prop_map(|c| {
        let s = JStr::plain(&c.to_string());
        (s.text, s.value)
    });
    let special = prop::sample::select(vec![
        '\u{202e}', '\u{200f}', '\u{200b}', '\u{feff}', '\u{2028}', '\u{fffd}', '😀', '👩',
        '\u{200d}', '\u{301}', 'é', 'ß', '中', '#', '.', '%', '/', ' ', '<', '&',
    ])
    .prop_map(|c| {
        let s = JStr::plain(&c.to_string());
        (s.text, s.value)
    });
    // Every char as a \u escape (a surrogate pair beyond the BMP), in either case of hex.
    let escaped = (any::<char>(), any::<bool>()).prop_map(|(c, upper)| {
        let mut text = String::new();
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            if upper {
                text.push_str(&format!("\\u{unit:04X}"));
            } else {
                text.push_str(&format!("\\u{unit:04x}"));
            }
        }
        (text, Some(c.to_string()))
    });
    let short = prop::sample::select(vec![
        ("\\n", "\n"),
        ("\\t", "\t"),
        ("\\r", "\r"),
        ("\\b", "\u{8}"),
        ("\\f", "\u{c}"),
        ("\\/", "/"),
        ("\\\\", "\\"),
        ("\\\"", "\""),
        ("\\u0000", "\0"),
        ("\\u202e", "\u{202e}"),
        ("\\ud83d\\ude00", "😀"),
    ])
    .prop_map(|(text, value)| (text.to_owned(), Some(value.to_owned())));
    if valid_only {
        return prop_oneof![6 => plain, 2 => special, 1 => escaped, 1 => short].boxed();
    }
    let lone = prop::sample::select(vec![
        "\\ud800",
        "\\udfff",
        "\\udc00\\ud800",
        "\\uD83D",
        "\\ud800\\u0041",
        "\\ud83d\\ud83d",
    ])
    .prop_map(|text| (text.to_owned(), None));
    let broken = prop::sample::select(vec![
        "\\x41", "\\u12", "\\uZZZZ", "\\", "\\U0041", "\u{0}", "\u{1}", "\n", "\t", "\u{1f}",
    ])
    .prop_map(|text| (text.to_owned(), None));
    prop_oneof![
        6 => plain,
        2 => special,
        1 => escaped,
        1 => short,
        1 => lone,
        1 => broken,
    ]
    .boxed()
}

/// A JSON string of up to `max` pieces; with `valid_only`, always a valid one.
pub fn jstr(valid_only: bool, max: usize) -> BoxedStrategy<JStr> {
    prop::collection::vec(piece(valid_only), 0..=max)
        .prop_map(|pieces| {
            let mut text = String::new();
            let mut value = Some(String::new());
            for (t, v) in pieces {
                text.push_str(&t);
                value = match (value, v) {
                    (Some(mut acc), Some(v)) => {
                        acc.push_str(&v);
                        Some(acc)
                    }
                    _ => None,
                };
            }
            JStr { text, value }
        })
        .boxed()
}

/// A valid JSON number whose value is a finite f64 (or an integer), in varied spellings.
pub fn finite_number() -> BoxedStrategy<String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::to_string(&f).unwrap_or_else(|_| "0".into())),
        "-?(0|[1-9][0-9]{0,19})(\\.[0-9]{1,12})?([eE][+-]?(0|[1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]))?",
        prop::sample::select(vec![
            "-0",
            "0.0",
            "1E+2",
            "2.50",
            "12345678901234567890",
            "123456789012345678901234567890",
            "9007199254740993",
            "18446744073709551616",
            "-9223372036854775809",
            "1e-400",
            "1.7976931348623157e308",
            "5e-324",
        ])
        .prop_map(str::to_owned),
    ]
    .boxed()
}

/// Numbers no client can read back (out of f64 range) and texts that are not numbers.
fn wild_number() -> BoxedStrategy<String> {
    prop_oneof![
        finite_number(),
        prop::sample::select(vec![
            "1e400",
            "-1e400",
            "1.8e308",
            "1e999999999999",
            "01",
            "1.",
            ".5",
            "+1",
            "NaN",
            "Infinity",
            "-Infinity",
            "0x10",
            "1e",
            "-",
            "1_000",
            "١٢",
        ])
        .prop_map(str::to_owned),
        "[0-9]{300,400}(\\.[0-9]{1,3})?(e[0-9]{3})?",
    ]
    .boxed()
}

fn garbage() -> BoxedStrategy<String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "nul",
            "True",
            "undefined",
            "'x'",
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"",
            "\"open",
            "//c",
            "/*c*/",
            "\u{0}",
            "{,}",
            "[,]",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\"}",
            "\u{feff}{}",
        ])
        .prop_map(str::to_owned),
        ".{0,8}",
    ]
    .boxed()
}

/// Keys an API body has, and others.
fn key(valid_only: bool) -> BoxedStrategy<JStr> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "message_id", "role", "content", "metadata", "status", "timestamp", "job_id",
            "version", "updated_at", "", "__proto__", "a", "b",
        ])
        .prop_map(JStr::plain),
        2 => jstr(valid_only, 6),
    ]
    .boxed()
}

/// A valid JSON value with finite numbers, valid strings and no repeated keys, up to `depth`
/// levels of arrays and objects.
pub fn valid_value(depth: u32) -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        finite_number().prop_map(Json::Number),
        jstr(true, 12).prop_map(Json::Str),
    ];
    leaf.prop_recursive(depth, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
            prop::collection::vec((key(true), inner), 0..5)
                .prop_map(|fields| { Json::Object(unique_keys(fields)) }),
        ]
    })
    .boxed()
}

/// Keeps the first field of each key (by value).
pub fn unique_keys(fields: Vec<(JStr, Json)>) -> Vec<(JStr, Json)> {
    let mut seen = std::collections::HashSet::new();
    fields
        .into_iter()
        .filter(|(k, _)| seen.insert(k.value.clone()))
        .collect()
}

/// Any JSON-ish value: mostly JSON, with repeated keys, invalid strings and numbers, garbage.
pub fn wild_value(depth: u32) -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        2 => Just(Json::Null),
        2 => any::<bool>().prop_map(Json::Bool),
        3 => wild_number().prop_map(Json::Number),
        4 => jstr(false, 12).prop_map(Json::Str),
        1 => garbage().prop_map(Json::Garbage),
    ];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::vec((key(false), inner), 0..6).prop_map(Json::Object),
        ]
    })
    .boxed()
}

/// A top-level object with the fields of a message, each valid or not, repeated or not, in any
/// order: the bodies that get furthest into validation.
pub fn message_like() -> BoxedStrategy<Json> {
    let field = prop_oneof![
        (
            Just("message_id"),
            prop_oneof![
                "[A-Za-z0-9._:-]{1,100}".prop_map(|s| Json::Str(JStr::plain(&s))),
                wild_value(1),
                "[A-Za-z0-9._:-]{101,110}".prop_map(|s| Json::Str(JStr::plain(&s))),
            ]
            .boxed()
        ),
        (
            Just("role"),
            prop_oneof![
                prop::sample::select(vec!["user", "assistant", "system", "User", ""])
                    .prop_map(|s| Json::Str(JStr::plain(s))),
                wild_value(1),
            ]
            .boxed()
        ),
        (
            Just("content"),
            prop_oneof![jstr(false, 24).prop_map(Json::Str), wild_value(1),].boxed()
        ),
        (
            Just("metadata"),
            prop_oneof![wild_value(4), valid_value(4), Just(Json::Null),].boxed()
        ),
        (
            Just("status"),
            prop_oneof![
                prop::sample::select(vec!["streaming", "complete", "error", "done", ""])
                    .prop_map(|s| Json::Str(JStr::plain(s))),
                wild_value(1),
            ]
            .boxed()
        ),
        (
            prop::sample::select(vec![
                "timestamp",
                "job_id",
                "version",
                "updated_at",
                "extra"
            ]),
            wild_value(2)
        ),
    ];
    prop::collection::vec(field, 0..8)
        .prop_map(|fields| {
            Json::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (JStr::plain(k), v))
                    .collect(),
            )
        })
        .boxed()
}

/// A change to a document's text: cut it, insert into it, delete from it.
#[derive(Clone, Debug)]
pub enum Mutation {
    Keep,
    Truncate(Index),
    Insert(Index, String),
    Delete(Index, usize),
    Replace(Index, char),
    Append(String),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => Just(Mutation::Keep),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), prop_oneof![
            prop::sample::select(vec!["{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\u{0}", "\u{202e}", "1e400", "null"]).prop_map(str::to_owned),
            ".{1,3}",
        ]).prop_map(|(i, s)| Mutation::Insert(i, s)),
        1 => (any::<Index>(), 1usize..4).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), any::<char>()).prop_map(|(i, c)| Mutation::Replace(i, c)),
    ]
}

impl Mutation {
    /// Applies the change at a char boundary.
    pub fn apply(&self, text: &str) -> String {
        let bounds: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(text.len()))
            .collect();
        let at = |index: &Index| bounds[index.index(bounds.len())];
        match self {
            Mutation::Keep => text.to_owned(),
            Mutation::Truncate(i) => text[..at(i)].to_owned(),
            Mutation::Insert(i, s) => {
                let at = at(i);
                format!("{}{s}{}", &text[..at], &text[at..])
            }
            Mutation::Delete(i, n) => {
                let k = i.index(bounds.len());
                let end = bounds[(k + n).min(bounds.len() - 1)];
                format!("{}{}", &text[..bounds[k]], &text[end..])
            }
            Mutation::Replace(i, c) => {
                let k = i.index(bounds.len());
                let end = bounds[(k + 1).min(bounds.len() - 1)];
                format!("{}{c}{}", &text[..bounds[k]], &text[end..])
            }
            Mutation::Append(s) => format!("{text}{s}"),
        }
    }
}

/// Arrays and objects nested `depth` deep around a value, as text.
pub fn nested(depth: usize, objects: bool) -> String {
    let (open, close) = if objects {
        ("{\"k\":", "}")
    } else {
        ("[", "]")
    };
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

/// JSON-ish body text of every kind: message-like objects, any value, deep nesting, garbage,
/// each with some whitespace (valid or not) and maybe a mutation.
pub fn body_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (message_like(), spacing(), mutation())
            .prop_map(|(json, spacing, m)| m.apply(&json.render(&spacing))),
        2 => (wild_value(5), wild_spacing(), mutation())
            .prop_map(|(json, spacing, m)| m.apply(&json.render(&spacing))),
        1 => (1usize..300, any::<bool>(), any::<bool>()).prop_map(|(depth, objects, in_metadata)| {
            let inner = nested(depth, objects);
            if in_metadata {
                format!(
                    r#"{{"message_id":"m1","role":"user","content":"","metadata":{{"k":{inner}}}}}"#
                )
            } else {
                inner
            }
        }),
        1 => ".{0,40}",
        1 => garbage(),
    ]
    .boxed()
}
