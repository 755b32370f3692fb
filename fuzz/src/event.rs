//! Whole API Gateway HTTP API (payload 2.0) events: odd methods, paths from the route
//! templates and garbage, headers with content-type and precondition variants, query strings,
//! bodies of any bytes or JSON-ish text, callers or none. They reach the handlers the way
//! Lambda delivers them: the event's JSON through `lambda_http::request::from_str`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::{Body, Request, Response};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use shared::cursor::{Cursor, CursorCodec};
use shared::ids::{JobId, MessageId};
use shared::model::{Job, NewMessage, Role, Status};
use shared::routes::{self, Function, Route, Target, ROUTES};
use shared::store::memory::MemoryStore;
use shared::testing::{self, OWNER};
use shared::{writes, Deps};

use crate::json;

/// The job the store holds, owned by [`OWNER`] with one member.
pub const JOB: &str = "5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42";
/// A job of someone else.
pub const OTHER_JOB: &str = "0b7e3c6a-2f4d-4a51-9a8e-5d1c7f3e2a10";
pub const MEMBER: &str = "member-1";
/// Messages the store may hold (see [`Setup`]).
pub const MESSAGES: [&str; 3] = ["m00000", "m00001", "a1"];

/// What the store holds when a request arrives.
#[derive(Clone, Copy, Debug)]
pub enum Setup {
    /// The job, no chat yet.
    Empty,
    /// `m00000`, `m00001` (user) and `a1` (assistant, streaming, with metadata).
    Filled,
    /// As filled, then cleared: restorable.
    Cleared,
    /// As filled, but every storage call fails as throttled DynamoDB does.
    Unavailable,
}

pub fn setup() -> impl Strategy<Value = Setup> {
    prop_oneof![
        1 => Just(Setup::Empty),
        4 => Just(Setup::Filled),
        1 => Just(Setup::Cleared),
        1 => Just(Setup::Unavailable),
    ]
}

/// An in-memory store as `setup` says, with the test settings (cursor secret, staff group).
pub async fn deps(setup: Setup) -> Deps<MemoryStore> {
    let store = MemoryStore::new();
    store.put_job(Job {
        job_id: JobId::parse(JOB).expect("a job id"),
        owner_id: OWNER.into(),
        member_ids: Some([MEMBER.to_owned()].into()),
    });
    store.put_job(Job {
        job_id: JobId::parse(OTHER_JOB).expect("a job id"),
        owner_id: "someone-else".into(),
        member_ids: None,
    });
    let deps = Deps {
        store,
        settings: testing::settings(),
    };
    if matches!(setup, Setup::Empty) {
        return deps;
    }
    testing::fill(&deps, JOB, 2, "hello").await;
    let metadata = shared::model::metadata_from_str(r#"{"n":2.50,"nested":{"a":[1,"x"]}}"#)
        .unwrap_or_default();
    let reply = NewMessage {
        message_id: MessageId::parse("a1").expect("a message id"),
        role: Role::Assistant,
        content: String::new(),
        metadata,
        status: Status::Streaming,
    };
    let job = JobId::parse(JOB).expect("a job id");
    if let Err(err) = writes::create(&deps, &testing::owner(), &job, reply).await {
        panic!("setting up the store failed: {err}");
    }
    match setup {
        Setup::Cleared => {
            if let Err(err) = writes::clear(&deps, &testing::owner(), &job).await {
                panic!("clearing the store failed: {err}");
            }
        }
        Setup::Unavailable => deps.store.set_unavailable(true),
        _ => {}
    }
    deps
}

#[derive(Clone, Debug)]
pub enum EventBody {
    /// `"body"` as text, `isBase64Encoded: false`.
    Text(String),
    /// `"body"` base64 of these bytes, `isBase64Encoded: true`.
    Binary(Vec<u8>),
}

#[derive(Clone, Debug)]
pub enum Authorizer {
    /// No `authorizer` in the request context.
    Absent,
    /// A Lambda authorizer's context: no JWT claims.
    Lambda,
    /// JWT claims as API Gateway renders them (all strings).
    Jwt(BTreeMap<String, String>),
}

#[derive(Clone, Debug)]
pub struct Event {
    pub method: String,
    pub raw_path: String,
    pub path_parameters: BTreeMap<String, String>,
    pub raw_query: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<EventBody>,
    pub authorizer: Authorizer,
    pub stage: String,
    pub request_id: Option<String>,
}

impl Event {
    /// The event as Lambda receives it.
    pub fn to_json(&self) -> String {
        let mut context = json!({
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": self.method,
                "path": self.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "fuzz"
            },
            "routeKey": "$default",
            "stage": self.stage,
            "time": "15/Jan/2024:10:30:04 +0000",
            "timeEpoch": 1_705_314_604_789u64
        });
        if let Some(id) = &self.request_id {
            context["requestId"] = Value::from(id.as_str());
        }
        match &self.authorizer {
            Authorizer::Absent => {}
            Authorizer::Lambda => {
                context["authorizer"] = json!({"lambda": {"sub": OWNER}});
            }
            Authorizer::Jwt(claims) => {
                context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
            }
        }
        let mut event = Map::new();
        event.insert("version".into(), "2.0".into());
        event.insert("routeKey".into(), "$default".into());
        event.insert("rawPath".into(), self.raw_path.clone().into());
        event.insert("rawQueryString".into(), self.raw_query.clone().into());
        // API Gateway always sends these two; lambda_http builds the request's URI from them.
        let mut headers = self.headers.clone();
        headers
            .entry("host".to_owned())
            .or_insert_with(|| "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com".to_owned());
        headers
            .entry("x-forwarded-proto".to_owned())
            .or_insert_with(|| "https".to_owned());
        event.insert("headers".into(), json!(headers));
        if !self.path_parameters.is_empty() {
            event.insert("pathParameters".into(), json!(self.path_parameters));
        }
        event.insert("requestContext".into(), context);
        match &self.body {
            None => {
                event.insert("isBase64Encoded".into(), false.into());
            }
            Some(EventBody::Text(text)) => {
                event.insert("body".into(), text.clone().into());
                event.insert("isBase64Encoded".into(), false.into());
            }
            Some(EventBody::Binary(bytes)) => {
                event.insert("body".into(), STANDARD.encode(bytes).into());
                event.insert("isBase64Encoded".into(), true.into());
            }
        }
        Value::Object(event).to_string()
    }

    /// The request a handler gets.
    pub fn request(&self) -> Result<Request, String> {
        lambda_http::request::from_str(&self.to_json())
            .map_err(|err| format!("lambda_http refused the event: {err}"))
    }

    /// The request id API Gateway gave, as the answer must echo it.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The function API Gateway invokes for this event: the route's, else `$default`'s.
    pub fn function(&self) -> Handler {
        let Ok(method) = lambda_http::http::Method::from_bytes(self.method.as_bytes()) else {
            return Handler::Fallback;
        };
        match routes::route(&method, &self.raw_path) {
            Route::Found { target, .. } => match target.function() {
                Function::List => Handler::List,
                Function::Create => Handler::Create,
                Function::Clear => Handler::Clear,
                Function::Patch => Handler::Patch,
            },
            _ => Handler::Fallback,
        }
    }
}

/// The five functions that answer API requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    List,
    Create,
    Clear,
    Patch,
    Fallback,
}

impl Handler {
    pub const ALL: [Handler; 5] = [
        Handler::List,
        Handler::Create,
        Handler::Clear,
        Handler::Patch,
        Handler::Fallback,
    ];

    pub async fn call(self, deps: &Deps<MemoryStore>, req: Request) -> Response<Body> {
        match self {
            Handler::List => list::handler(deps, req).await,
            Handler::Create => create::handler(deps, req).await,
            Handler::Clear => clear::handler(deps, req).await,
            Handler::Patch => patch::handler(deps, req).await,
            Handler::Fallback => fallback::handler(&req),
        }
    }
}

/// Percent-encodes all but unreserved characters and the sub-delimiters a path may carry.
pub fn encode_segment(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Form-encodes a query name or value (space as `+`, as browsers send it).
fn encode_query(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else if byte == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn job_value() -> BoxedStrategy<String> {
    prop_oneof![
        20 => Just(JOB.to_owned()),
        3 => Just(OTHER_JOB.to_owned()),
        1 => Just(JOB.to_uppercase()),
        1 => Just(JOB.replace('-', "")),
        1 => Just(format!("{{{JOB}}}")),
        1 => Just(format!("urn:uuid:{JOB}")),
        1 => Just(format!(" {JOB}")),
        2 => "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        2 => ".{1,40}",
    ]
    .boxed()
}

fn message_value() -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::sample::select(MESSAGES.to_vec()).prop_map(str::to_owned),
        2 => "[A-Za-z0-9._:-]{1,100}",
        1 => prop::sample::select(vec!["summary", "export", "restore", "quote-chat", "..", "."])
            .prop_map(str::to_owned),
        1 => "[A-Za-z0-9._:-]{101,105}",
        2 => ".{1,12}",
    ]
    .boxed()
}

/// A path segment: encoded, or raw as a careless client sends it (no `/`, `?` or `#`, which
/// would end it), or with raw `%` garbage.
fn segment(value: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop_oneof![
        6 => value.clone().prop_map(|v| encode_segment(&v)),
        1 => value.clone().prop_map(|v| v.replace(['/', '?', '#'], "")),
        1 => (value, prop::sample::select(vec!["%", "%zz", "%e9", "%C3%28", "%00", "%2F", "%252F"]))
            .prop_map(|(v, junk)| format!("{}{junk}", encode_segment(&v))),
    ]
    .boxed()
}

/// A path and the path parameters API Gateway would give it (mostly; sometimes not).
fn path() -> BoxedStrategy<(String, BTreeMap<String, String>)> {
    let templated = (
        prop::sample::select(ROUTES.iter().map(|r| r.path).collect::<Vec<_>>()),
        segment(job_value()),
        segment(message_value()),
        any::<bool>(),
        0..10u8,
    )
        .prop_map(|(template, job, message, slash, params)| {
            let mut path = template
                .replace("{job_id}", &job)
                .replace("{message_id}", &message);
            if slash {
                path.push('/');
            }
            let mut parameters = BTreeMap::new();
            // API Gateway passes the parameters of the route it matched, decoded; now and then
            // the fuzz gives none, or only the job's.
            if params > 0 {
                parameters.insert("job_id".to_owned(), percent_decode(&job));
            }
            if params > 1 && template.contains("{message_id}") {
                parameters.insert("message_id".to_owned(), percent_decode(&message));
            }
            (path, parameters)
        });
    let garbage = (
        prop::collection::vec(segment(".{0,8}".boxed()), 0..7),
        any::<bool>(),
        prop::collection::btree_map(
            prop::sample::select(vec!["job_id", "message_id", "proxy"]).prop_map(str::to_owned),
            prop_oneof![Just(JOB.to_owned()), ".{0,10}".boxed()],
            0..3,
        ),
    )
        .prop_map(|(segments, slash, parameters)| {
            let mut path = format!("/{}", segments.join("/"));
            if slash {
                path.push('/');
            }
            (path, parameters)
        });
    let near = (
        prop::sample::select(vec![
            "/",
            "//",
            "/api",
            "/api/jobs",
            "/api/jobs/",
            "/api/jobs//quote-chat/",
            "/api/jobs/{job}/quote-chat//",
            "/api/jobs/{job}/quote-chat/a1/x/",
            "/api/jobs/{job}/QUOTE-CHAT/",
            "/api/jobs/{job}/quote-chat/summary/x",
            "/api/jobs/{job}/quote-chat/%61%31/",
            "/api/jobs/{job}/quote-chat/a1%2Fx/",
            "/API/jobs/{job}/quote-chat",
            "/api/jobs/{job}/quote-chat/export//",
        ]),
        any::<bool>(),
    )
        .prop_map(|(path, params)| {
            let mut parameters = BTreeMap::new();
            if params {
                parameters.insert("job_id".to_owned(), JOB.to_owned());
            }
            (path.replace("{job}", JOB), parameters)
        });
    prop_oneof![6 => templated, 2 => garbage, 1 => near].boxed()
}

/// Percent-decoding as API Gateway does for path parameters (invalid UTF-8 made lossy).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Two hex digits exactly (`u8::from_str_radix` would also take "+f").
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn method() -> BoxedStrategy<String> {
    prop_oneof![
        10 => prop::sample::select(vec!["GET", "POST", "PATCH", "DELETE"]).prop_map(str::to_owned),
        3 => prop::sample::select(vec![
            "PUT", "HEAD", "OPTIONS", "TRACE", "CONNECT", "get", "Post", "PROPFIND", "MKCOL",
        ])
        .prop_map(str::to_owned),
        1 => "[A-Za-z!#$%&'*+.^_`|~0-9-]{1,12}",
    ]
    .boxed()
}

/// A cursor signed with the handlers' secret (or not): for this job or not, any generation,
/// any sort key — what a client replays, or forges without the key. Its job is a job id: the
/// handlers sign no other.
fn cursor_value() -> BoxedStrategy<String> {
    let signed = (
        prop_oneof![
            4 => Just(JOB.to_owned()),
            1 => Just(OTHER_JOB.to_owned()),
            1 => "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ],
        0u64..5,
        any::<bool>(),
        prop_oneof![
            "M#000000000[0-4]#2024-01-15T10:30:00\\.00000[0-9]Z#[a-z0-9]{1,6}",
            ".{0,20}",
        ],
        any::<bool>(),
    )
        .prop_map(|(job_id, generation, descending, after, ours)| {
            let secret: &[u8] = if ours {
                b"test-cursor-secret"
            } else {
                b"forged"
            };
            CursorCodec::new(secret).encode(&Cursor {
                job_id: JobId::parse(&job_id).expect("a job id"),
                generation,
                descending,
                after,
            })
        });
    prop_oneof![
        3 => signed.clone(),
        1 => (signed, json::mutation()).prop_map(|(c, m)| m.apply(&c)),
        1 => "[A-Za-z0-9_.=-]{0,40}",
        1 => ".{0,20}",
    ]
    .boxed()
}

fn query_pair() -> BoxedStrategy<(String, String)> {
    let any_text = || ".{0,12}".boxed();
    prop_oneof![
        3 => prop_oneof![
            prop::sample::select(vec!["1", "2", "1000", "1001", "0", "-1", "01", "+5", "1e3", "", " 5",
                "99999999999999999999999", "٣", "0x10"]).prop_map(str::to_owned),
            any_text(),
        ].prop_map(|v| ("limit".to_owned(), v)),
        3 => cursor_value().prop_map(|v| ("cursor".to_owned(), v)),
        2 => prop_oneof![
            prop::sample::select(vec!["asc", "desc", "ASC", "", "random"]).prop_map(str::to_owned),
            any_text(),
        ].prop_map(|v| ("order".to_owned(), v)),
        2 => prop_oneof![
            prop::sample::select(vec!["json", "jsonl", "markdown", "xml", "", "JSON"]).prop_map(str::to_owned),
            any_text(),
        ].prop_map(|v| ("format".to_owned(), v)),
        1 => (any_text(), any_text()),
    ]
    .boxed()
}

/// Raw query text: what a client may send unencoded and lambda_http 1.3 turns into a request.
/// (`"`, `<`, `>` make lambda_http panic before any handler runs: see
/// `raw_query_quotes_and_angle_brackets_reach_the_handlers` in tests/properties.rs.)
pub const RAW_QUERY: &str = "[A-Za-z0-9%&=+._~|^`{}\\[\\]\\\\!$'()*,;:@/?é-]{0,30}";

/// A raw query string: encoded pairs (names maybe repeated), or raw `%`/`&`/`=` garbage.
fn raw_query() -> BoxedStrategy<String> {
    let pairs = prop::collection::vec(query_pair(), 0..5).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode_query(k), encode_query(v)))
            .collect::<Vec<_>>()
            .join("&")
    });
    prop_oneof![
        2 => Just(String::new()),
        6 => pairs,
        1 => RAW_QUERY,
    ]
    .boxed()
}

/// Header values API Gateway passes on: visible ASCII and spaces, and now and then non-ASCII.
fn header_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[ -~]{0,24}",
        1 => "[ -~\u{a0}-\u{3000}]{0,12}",
    ]
    .boxed()
}

fn headers() -> BoxedStrategy<BTreeMap<String, String>> {
    let content_type = prop_oneof![
        6 => prop::sample::select(vec![
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
            "application/vnd.api+json",
            " application/json ",
            "application/json;",
            "application/jsonx",
            "application/+json",
            "application/json, text/plain",
            "text/plain",
            "text/json",
            "multipart/form-data; boundary=x",
            "",
            "application/json\u{202e}",
            "application/ json",
        ])
        .prop_map(str::to_owned),
        1 => header_text(),
    ];
    let if_match = prop_oneof![
        6 => prop::sample::select(vec![
            "\"1\"", "\"2\"", "1", "*", " * ", "W/\"1\"", "\"1\", \"2\"", "\"1\",W/\"2\"", "\"\"", "",
            "\"-1\"", "\"01\"", "\"99999999999999999999\"", "\"18446744073709551615\"", "\"1", "1\"",
            ",", "\"1\",,", "W/", "W/1", "\"1\" \"2\"", "\"0x1\"", "\"١\"",
        ])
        .prop_map(str::to_owned),
        1 => header_text(),
    ];
    let if_none_match = prop_oneof![
        3 => prop::sample::select(vec!["*", "W/\"x\"", "\"x\", *", "", ","]).prop_map(str::to_owned),
        1 => header_text(),
    ];
    let other = prop::collection::btree_map(
        "[a-z][a-z0-9-]{0,12}".prop_filter("set apart", |name| {
            !matches!(
                name.as_str(),
                "host" | "x-forwarded-proto" | "content-type" | "if-match" | "if-none-match"
            )
        }),
        header_text(),
        0..3,
    );
    (
        prop::option::weighted(0.8, content_type),
        prop::option::weighted(0.4, if_match),
        prop::option::weighted(0.2, if_none_match),
        other,
    )
        .prop_map(|(content_type, if_match, if_none_match, mut headers)| {
            for (name, value) in [
                ("content-type", content_type),
                ("if-match", if_match),
                ("if-none-match", if_none_match),
            ] {
                if let Some(value) = value {
                    headers.insert(name.to_owned(), value);
                }
            }
            headers
        })
        .boxed()
}

fn body() -> BoxedStrategy<Option<EventBody>> {
    let valid_message =
        ("[A-Za-z0-9._:-]{1,12}", any::<bool>(), ".{0,20}").prop_map(|(id, assistant, content)| {
            json!({
                "message_id": id,
                "role": if assistant { "assistant" } else { "user" },
                "content": content,
                "metadata": {"k": 1},
            })
            .to_string()
        });
    let valid_patch = (prop::option::of(".{0,20}"), any::<bool>()).prop_map(|(content, meta)| {
        let mut body = Map::new();
        if let Some(content) = content {
            body.insert("content".into(), content.into());
        }
        if meta || body.is_empty() {
            body.insert("metadata".into(), json!({"n": null, "final": true}));
        }
        Value::Object(body).to_string()
    });
    // Bodies around the 512 KiB limit, and contents around the 256 KiB one.
    let large = (0usize..3, 0usize..8).prop_map(|(kind, delta)| match kind {
        0 => "x".repeat(512 * 1024 - 4 + delta),
        1 => format!(
            r#"{{"message_id":"big","role":"user","content":"{}"}}"#,
            "y".repeat(256 * 1024 - 4 + delta)
        ),
        _ => format!(r#"{{"content":"{}"}}"#, "é".repeat(128 * 1024 - 2 + delta)),
    });
    prop_oneof![
        2 => Just(None),
        4 => json::body_text().prop_map(|t| Some(EventBody::Text(t))),
        3 => valid_message.prop_map(|t| Some(EventBody::Text(t))),
        3 => valid_patch.prop_map(|t| Some(EventBody::Text(t))),
        1 => json::body_text().prop_map(|t| Some(EventBody::Binary(t.into_bytes()))),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| Some(EventBody::Binary(b))),
        1 => prop::sample::select(vec!["", " ", "\n\t ", "\u{c}", "\u{a0}", "null", "{}", "[]"])
            .prop_map(|t| Some(EventBody::Text(t.to_owned()))),
        1 => large.prop_map(|t| Some(EventBody::Text(t))),
    ]
    .boxed()
}

fn authorizer() -> BoxedStrategy<Authorizer> {
    let sub = prop_oneof![
        6 => Just(OWNER.to_owned()),
        2 => Just(MEMBER.to_owned()),
        2 => Just("stranger".to_owned()),
        1 => prop::sample::select(vec!["", " ", " owner-1 ", "OWNER-1"]).prop_map(str::to_owned),
        1 => ".{0,12}",
    ];
    let groups = prop::option::weighted(
        0.3,
        prop_oneof![
            prop::sample::select(vec![
                "[staff]",
                "[customers]",
                "[a staff]",
                "[\"staff\"]",
                "[]",
                "staff",
                "[",
                "[\"x\""
            ])
            .prop_map(str::to_owned),
            ".{0,12}",
        ],
    );
    let jwt = (prop::option::weighted(0.98, sub), groups).prop_map(|(sub, groups)| {
        let mut claims = BTreeMap::from([("iss".to_owned(), "https://issuer".to_owned())]);
        if let Some(sub) = sub {
            claims.insert("sub".to_owned(), sub);
        }
        if let Some(groups) = groups {
            claims.insert("cognito:groups".to_owned(), groups);
        }
        Authorizer::Jwt(claims)
    });
    prop_oneof![
        18 => jwt,
        1 => Just(Authorizer::Absent),
        1 => Just(Authorizer::Lambda),
    ]
    .boxed()
}

/// Any event API Gateway could deliver: half of them plausible requests of a client (which get
/// past the checks into the store), half anything at all.
pub fn event() -> BoxedStrategy<Event> {
    prop_oneof![1 => plausible_event(), 1 => wild_event()].boxed()
}

/// A request as a client of the API sends it, mostly right: a route's method and path for the
/// job in the store, the body and headers that route takes, the owner or a member calling.
pub fn plausible_event() -> BoxedStrategy<Event> {
    let message_id = prop_oneof![
        3 => prop::sample::select(MESSAGES.to_vec()).prop_map(str::to_owned),
        2 => "[A-Za-z0-9._:-]{1,12}",
        1 => prop::sample::select(vec!["summary", "export", "restore"]).prop_map(str::to_owned),
    ];
    let new_message = (
        message_id.clone(),
        any::<bool>(),
        prop_oneof![Just("hello".to_owned()), ".{0,12}".boxed()],
        prop::option::weighted(
            0.3,
            prop::sample::select(vec!["streaming", "complete", "error", "done"]),
        ),
        prop::option::weighted(0.3, Just(json!({"k": 1}))),
    )
        .prop_map(|(id, assistant, content, status, metadata)| {
            let mut body = json!({
                "message_id": id,
                "role": if assistant { "assistant" } else { "user" },
                "content": content,
            });
            if let Some(status) = status {
                body["status"] = status.into();
            }
            if let Some(metadata) = metadata {
                body["metadata"] = metadata;
            }
            body.to_string()
        });
    let patch_body = (
        prop::option::weighted(0.7, ".{0,12}"),
        prop::option::weighted(
            0.4,
            prop_oneof![
                Just(json!({"n": null, "final": true})),
                Just(json!({"big": "x".repeat(16 * 1024)})),
                Just(json!({"n": 2.5})),
            ],
        ),
        prop::option::weighted(
            0.3,
            prop::sample::select(vec!["streaming", "complete", "error", "done"]),
        ),
        prop::option::weighted(
            0.1,
            prop::sample::select(vec![
                ("message_id", "a1"),
                ("role", "assistant"),
                ("role", "user"),
                ("timestamp", "2024-01-01T00:00:00Z"),
            ]),
        ),
    )
        .prop_map(|(content, metadata, status, echoed)| {
            let mut body = Map::new();
            if let Some(content) = content {
                body.insert("content".into(), content.into());
            }
            if let Some(metadata) = metadata {
                body.insert("metadata".into(), metadata);
            }
            if let Some(status) = status {
                body.insert("status".into(), status.into());
            }
            if let Some((field, value)) = echoed {
                body.insert(field.into(), value.into());
            }
            Value::Object(body).to_string()
        });
    let other_body = prop_oneof![
        3 => Just(None),
        2 => json::body_text().prop_map(Some),
        1 => (0usize..2).prop_map(|over| Some(format!(
            r#"{{"message_id":"big","role":"user","content":"{}"}}"#,
            "y".repeat(256 * 1024 - 1 + over)
        ))),
    ];
    // The body the route takes, mostly.
    let body = (new_message, patch_body, other_body, 0..10u8);
    let query = prop::collection::vec(
        prop_oneof![
            (
                Just("limit"),
                prop::sample::select(vec!["1", "2", "1000", "0", "x"])
                    .prop_map(str::to_owned)
                    .boxed()
            ),
            (
                Just("order"),
                prop::sample::select(vec!["asc", "desc", "up"])
                    .prop_map(str::to_owned)
                    .boxed()
            ),
            (
                Just("format"),
                prop::sample::select(vec!["json", "jsonl", "markdown", "pdf"])
                    .prop_map(str::to_owned)
                    .boxed()
            ),
            (Just("cursor"), cursor_value()),
        ],
        0..3,
    )
    .prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_query(v)))
            .collect::<Vec<_>>()
            .join("&")
    });
    let caller = prop_oneof![
        8 => Just((OWNER, None)),
        2 => Just((MEMBER, None)),
        1 => Just(("staff-person", Some("[staff]"))),
        1 => Just(("stranger", None)),
    ]
    .prop_map(|(sub, groups)| {
        let mut claims = BTreeMap::from([("sub".to_owned(), sub.to_owned())]);
        if let Some(groups) = groups {
            claims.insert("cognito:groups".to_owned(), groups.to_owned());
        }
        Authorizer::Jwt(claims)
    });
    let route = prop_oneof![
        3 => Just(Target::Patch),
        3 => Just(Target::Create),
        2 => Just(Target::List),
        1 => Just(Target::Clear),
        1 => Just(Target::Summary),
        1 => Just(Target::Export),
        1 => Just(Target::Restore),
    ]
    .prop_filter_map("a route", |target| {
        ROUTES.iter().find(|d| d.target == target).copied()
    });
    (
        route,
        prop_oneof![12 => Just(JOB), 1 => Just(OTHER_JOB), 1 => Just("not-a-job")],
        message_id,
        any::<bool>(),
        query,
        (
            prop::option::weighted(
                0.9,
                prop::sample::select(vec![
                    "application/json",
                    "application/json; charset=utf-8",
                    "text/plain",
                ]),
            ),
            prop::option::weighted(
                0.5,
                prop::sample::select(vec![
                    "\"1\"",
                    "\"2\"",
                    "\"1\", \"2\"",
                    "*",
                    "W/\"1\"",
                    "\"9\"",
                    "1",
                    "nope",
                ]),
            ),
            prop::option::weighted(0.3, prop::sample::select(vec!["*", "\"x\"", "W/\"x\", *"])),
        ),
        body,
        caller,
        prop::option::weighted(0.5, "[A-Za-z0-9]{14}="),
    )
        .prop_map(
            |(
                def,
                job,
                message,
                slash,
                raw_query,
                (content_type, if_match, if_none_match),
                (new_message, patch_body, other_body, pick),
                authorizer,
                request_id,
            )| {
                let body = match def.target {
                    Target::Create if pick < 8 => Some(new_message),
                    Target::Patch if pick < 8 => Some(patch_body),
                    _ => other_body,
                };
                let mut raw_path = def
                    .path
                    .replace("{job_id}", job)
                    .replace("{message_id}", &encode_segment(&message));
                if slash {
                    raw_path.push('/');
                }
                let mut path_parameters = BTreeMap::from([("job_id".to_owned(), job.to_owned())]);
                if def.path.contains("{message_id}") {
                    path_parameters.insert("message_id".to_owned(), message);
                }
                let mut headers = BTreeMap::new();
                for (name, value) in [
                    ("content-type", content_type),
                    ("if-match", if_match),
                    ("if-none-match", if_none_match),
                ] {
                    if let Some(value) = value {
                        headers.insert(name.to_owned(), value.to_owned());
                    }
                }
                Event {
                    method: def.method.to_owned(),
                    raw_path,
                    path_parameters,
                    raw_query,
                    headers,
                    body: body.map(EventBody::Text),
                    authorizer,
                    stage: "$default".to_owned(),
                    request_id,
                }
            },
        )
        .boxed()
}

/// Anything an HTTP client can send and API Gateway passes on.
pub fn wild_event() -> BoxedStrategy<Event> {
    (
        method(),
        path(),
        raw_query(),
        headers(),
        body(),
        authorizer(),
        prop_oneof![9 => Just("$default".to_owned()), 1 => Just("prod".to_owned())],
        prop::option::weighted(0.9, "[A-Za-z0-9]{14}="),
    )
        .prop_map(
            |(
                method,
                (raw_path, path_parameters),
                raw_query,
                headers,
                body,
                authorizer,
                stage,
                request_id,
            )| {
                Event {
                    method,
                    raw_path,
                    path_parameters,
                    raw_query,
                    headers,
                    body,
                    authorizer,
                    stage,
                    request_id,
                }
            },
        )
        .boxed()
}
