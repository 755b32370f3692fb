//! Helpers for handler tests: an in-memory chat store with jobs, and requests shaped as API
//! Gateway delivers them.

use std::collections::HashMap;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::apigw;
use crate::auth::Caller;
use crate::cursor::CursorCodec;
use crate::deps::{Deps, Settings};
use crate::ids::{JobId, MessageId};
use crate::model::{Job, NewMessage, Role};
use crate::store::memory::MemoryStore;
use crate::store::ChatStore;
use crate::writes;

pub const OWNER: &str = "owner-1";

/// The caller who owns the jobs these helpers make.
pub fn owner() -> Caller {
    Caller {
        sub: OWNER.into(),
        groups: Vec::new(),
    }
}

/// Creates `count` user messages `m00000`, `m00001`, … with the given content, in that order.
pub async fn fill<S: ChatStore>(deps: &Deps<S>, job_id: &str, count: usize, content: &str) {
    let job_id = JobId::parse(job_id).expect("a job id");
    for i in 0..count {
        let new = NewMessage {
            message_id: MessageId::parse(&format!("m{i:05}")).expect("a message id"),
            role: Role::User,
            content: content.to_owned(),
            metadata: Default::default(),
            status: Default::default(),
        };
        if let Err(err) = writes::create(deps, &owner(), &job_id, new).await {
            panic!("filling the chat failed: {err}");
        }
    }
}

pub fn settings() -> Settings {
    Settings {
        staff_group: "staff".into(),
        retention_days: 30,
        cursors: CursorCodec::new(b"test-cursor-secret"),
    }
}

/// An in-memory store holding one job owned by [`OWNER`]; returns the job id.
pub fn memory_deps() -> (Deps<MemoryStore>, String) {
    let store = MemoryStore::new();
    let job_id = uuid::Uuid::new_v4().to_string();
    store.put_job(Job {
        job_id: JobId::parse(&job_id).expect("a job id"),
        owner_id: OWNER.into(),
        member_ids: None,
    });
    (
        Deps {
            store,
            settings: settings(),
        },
        job_id,
    )
}

/// A request builder for the API's routes.
pub struct Call {
    method: Method,
    job_id: String,
    message_id: Option<String>,
    /// A literal last segment (`summary`, `export`, `restore`): no path parameter.
    segment: Option<String>,
    query: String,
    caller: Option<(String, Vec<String>)>,
    body: Option<String>,
    headers: Vec<(String, String)>,
}

impl Call {
    pub fn new(method: Method, job_id: &str) -> Self {
        Self {
            method,
            job_id: job_id.to_owned(),
            message_id: None,
            segment: None,
            query: String::new(),
            caller: Some((OWNER.to_owned(), Vec::new())),
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn message(mut self, message_id: &str) -> Self {
        self.message_id = Some(message_id.to_owned());
        self
    }

    /// The route `.../quote-chat/<segment>/` (summary, export, restore).
    pub fn on(mut self, segment: &str) -> Self {
        self.segment = Some(segment.to_owned());
        self
    }

    pub fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    pub fn by(mut self, sub: &str, groups: &[&str]) -> Self {
        self.caller = Some((
            sub.to_owned(),
            groups.iter().map(|g| g.to_string()).collect(),
        ));
        self
    }

    pub fn anonymous(mut self) -> Self {
        self.caller = None;
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, body: impl ToString) -> Self {
        self.header("content-type", "application/json")
            .raw_body(body)
    }

    pub fn raw_body(mut self, body: impl ToString) -> Self {
        self.body = Some(body.to_string());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn build(self) -> Request {
        let mut path = format!("/api/jobs/{}/quote-chat/", self.job_id);
        let mut params = HashMap::from([("job_id".to_owned(), self.job_id.clone())]);
        if let Some(id) = &self.message_id {
            path.push_str(&format!("{id}/"));
            params.insert("message_id".to_owned(), id.clone());
        }
        if let Some(segment) = &self.segment {
            path.push_str(&format!("{segment}/"));
        }
        if !self.query.is_empty() {
            path.push('?');
            path.push_str(&self.query);
        }
        let body = self.body.map_or(Body::Empty, Body::Text);
        let mut builder = lambda_http::http::Request::builder()
            .method(self.method)
            .uri(path);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let req = builder.body(body).unwrap_or_default();
        let claims = self.caller.map(|(sub, groups)| {
            let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
            apigw::claims(&sub, &groups)
        });
        apigw::deliver(req, params, claims, "test-request".into())
    }
}

/// Status and parsed JSON body of a response.
pub fn parts(response: &Response<Body>) -> (u16, Value) {
    let text = match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (response.status().as_u16(), value)
}

/// The ids of the messages of a list answer's body, in order; panics when it has none.
pub fn message_ids(body: &Value) -> Vec<String> {
    let messages = body["data"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("a list answer: {body}"));
    messages
        .iter()
        .map(|m| m["message_id"].as_str().expect("a message_id").to_owned())
        .collect()
}

pub fn message_body(message_id: &str, content: &str) -> String {
    serde_json::json!({"message_id": message_id, "role": "user", "content": content}).to_string()
}
