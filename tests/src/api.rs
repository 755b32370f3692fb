//! [`TestApi`]: the API as the tests call it, through the handlers the Lambdas run, over
//! DynamoDB Local (or the in-memory store where a test wants speed). One method per route,
//! one request builder, one [`Reply`]:
//!
//! ```ignore
//! let api = TestApi::start().await;                 // a new job owned by OWNER
//! api.create(message_body("a1", "")).await;
//! let reply = api.patch("a1").if_match(1).json(json!({"content": "x"})).await;
//! assert_eq!((reply.status, reply.code()), (412, Some("PRECONDITION_FAILED")));
//! let stranger = api.as_user("mallory", &[]);
//! ```
//!
//! This file and `lib.rs` are the only places the API tests reach into `shared` beyond its
//! public entry points (`Deps`, the store, the handlers).

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::ids::JobId;
use shared::model::Job;
use shared::routes::{self, Function, Route};
use shared::store::dynamo::DynamoStore;
use shared::store::memory::MemoryStore;
use shared::store::{Chat, ChatStore};
use shared::testing::{Call, OWNER};
use shared::Deps;

use crate::proxy::Proxy;

/// The API of one job, called as one user (at first [`OWNER`]). Cheap to clone: a clone shares
/// the store; [`TestApi::on_job`] and [`TestApi::as_user`] give a view on another job or user.
pub struct TestApi<S = DynamoStore> {
    deps: Arc<Deps<S>>,
    /// The job the requests go to.
    pub job: String,
    caller: Caller,
}

#[derive(Clone)]
enum Caller {
    User(String, Vec<String>),
    Anonymous,
}

impl<S> Clone for TestApi<S> {
    fn clone(&self) -> Self {
        Self {
            deps: self.deps.clone(),
            job: self.job.clone(),
            caller: self.caller.clone(),
        }
    }
}

/// A store the tests can write jobs into: the one way to make a job.
pub trait Jobs {
    fn put_job(&self, job_id: &str, owner: &str, members: &[&str]) -> impl Future<Output = ()>;
}

impl Jobs for DynamoStore {
    async fn put_job(&self, job_id: &str, owner: &str, members: &[&str]) {
        let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
        setup::put_job(self.client(), self.jobs_table(), job_id, owner, &members)
            .await
            .expect("job written");
    }
}

impl Jobs for MemoryStore {
    async fn put_job(&self, job_id: &str, owner: &str, members: &[&str]) {
        MemoryStore::put_job(
            self,
            Job {
                job_id: JobId::parse(job_id).expect("a job id"),
                owner_id: owner.to_owned(),
                member_ids: (!members.is_empty())
                    .then(|| members.iter().map(|m| m.to_string()).collect()),
            },
        );
    }
}

impl TestApi<DynamoStore> {
    /// This process's tables on DynamoDB Local, and a new job owned by [`OWNER`].
    pub async fn start() -> Self {
        Self::over(crate::dynamo_deps().await).await
    }

    /// As [`TestApi::start`], with `retention_days` for what a clear keeps restorable.
    pub async fn with_retention_days(days: u32) -> Self {
        let mut deps = crate::dynamo_deps().await;
        deps.settings.retention_days = days;
        Self::over(deps).await
    }

    /// This process's tables through a new fault-injecting proxy ([`crate::proxy`]): the
    /// production client (timeouts, retries) with every DynamoDB request seen. The first job
    /// is written directly, and the proxy's counts start at zero.
    pub async fn through_proxy() -> (Proxy, Self) {
        let (proxy, deps) = crate::through_proxy().await;
        let job = new_job_on(&crate::dynamo_deps().await.store, OWNER, &[]).await;
        proxy.reset_counts();
        (proxy, Self::on(deps, job))
    }

    /// Tables of their own, named after `name`, through `proxy` if given (see
    /// [`crate::own_tables`]: a test that sweeps must not share its table), and a new job.
    pub async fn on_own_tables(name: &str, proxy: Option<&Proxy>) -> Self {
        let direct = crate::own_tables(name, None).await;
        let job = new_job_on(&direct.store, OWNER, &[]).await;
        let deps = match proxy {
            Some(proxy) => crate::own_tables(name, Some(proxy)).await,
            None => direct,
        };
        Self::on(deps, job)
    }

    /// Over `deps` (DynamoDB Local), with a new job owned by [`OWNER`].
    pub async fn over(deps: Deps<DynamoStore>) -> Self {
        let job = new_job_on(&deps.store, OWNER, &[]).await;
        Self::on(deps, job)
    }
}

impl TestApi<MemoryStore> {
    /// The in-memory store (`shared`'s, behind its `testing` feature), with a job owned by
    /// [`OWNER`]: no DynamoDB, for speed.
    pub fn in_memory() -> Self {
        let (deps, job) = shared::testing::memory_deps();
        Self::on(deps, job)
    }
}

/// A new job with a fresh id in `store`'s jobs table.
async fn new_job_on<S: Jobs>(store: &S, owner: &str, members: &[&str]) -> String {
    let job_id = uuid::Uuid::new_v4().to_string();
    store.put_job(&job_id, owner, members).await;
    job_id
}

impl<S> TestApi<S> {
    fn on(deps: Deps<S>, job: String) -> Self {
        Self {
            deps: Arc::new(deps),
            job,
            caller: Caller::User(OWNER.to_owned(), Vec::new()),
        }
    }

    /// The same API on the job `job_id` (which may not exist).
    pub fn on_job(&self, job_id: &str) -> Self {
        Self {
            job: job_id.to_owned(),
            ..self.clone()
        }
    }

    /// The same API called by `sub` in `groups` (e.g. `&["staff"]`).
    pub fn as_user(&self, sub: &str, groups: &[&str]) -> Self {
        Self {
            caller: Caller::User(
                sub.to_owned(),
                groups.iter().map(|g| g.to_string()).collect(),
            ),
            ..self.clone()
        }
    }

    /// The same API called with no authenticated caller.
    pub fn anonymous(&self) -> Self {
        Self {
            caller: Caller::Anonymous,
            ..self.clone()
        }
    }

    pub fn deps(&self) -> &Deps<S> {
        &self.deps
    }

    pub fn store(&self) -> &S {
        &self.deps.store
    }
}

impl<S: ChatStore + Jobs> TestApi<S> {
    /// A new job (fresh id) owned by `owner` with `members`, in this API's jobs table; the one
    /// way the API tests make a job. Returns its id; [`TestApi::on_job`] aims at it.
    pub async fn new_job(&self, owner: &str, members: &[&str]) -> String {
        new_job_on(self.store(), owner, members).await
    }

    /// Writes (or overwrites) the job `job_id` owned by `owner` with `members`.
    pub async fn put_job(&self, job_id: &str, owner: &str, members: &[&str]) {
        self.store().put_job(job_id, owner, members).await;
    }

    /// `POST .../quote-chat/` with a JSON body.
    pub fn create(&self, body: impl ToString) -> ApiRequest<'_, S> {
        self.post().json(body)
    }

    /// `POST .../quote-chat/` with no body yet (for bodies that are not JSON).
    pub fn post(&self) -> ApiRequest<'_, S> {
        self.request(Method::POST)
    }

    /// `GET .../quote-chat/`: the history (`.query(..)` for limit, order, cursor, after).
    pub fn list(&self) -> ApiRequest<'_, S> {
        self.request(Method::GET)
    }

    /// `GET .../quote-chat/{message_id}/`.
    pub fn get(&self, message_id: &str) -> ApiRequest<'_, S> {
        self.request(Method::GET).message(message_id)
    }

    /// `PATCH .../quote-chat/{message_id}/` (then `.if_match(..)`, `.json(..)`).
    pub fn patch(&self, message_id: &str) -> ApiRequest<'_, S> {
        self.request(Method::PATCH).message(message_id)
    }

    /// `DELETE .../quote-chat/`.
    pub fn clear(&self) -> ApiRequest<'_, S> {
        self.request(Method::DELETE)
    }

    /// `POST .../quote-chat/restore/`.
    pub fn restore(&self) -> ApiRequest<'_, S> {
        self.request(Method::POST).segment("restore")
    }

    /// `GET .../quote-chat/summary/`.
    pub fn summary(&self) -> ApiRequest<'_, S> {
        self.request(Method::GET).segment("summary")
    }

    /// `GET .../quote-chat/export/` (`.query("format=jsonl")`, ...).
    pub fn export(&self) -> ApiRequest<'_, S> {
        self.request(Method::GET).segment("export")
    }

    /// The messages a `GET .../quote-chat/` lists (asserting 200).
    pub async fn messages(&self) -> Vec<Value> {
        self.list().await.messages()
    }

    /// Sends a request built elsewhere (e.g. a sample event) to the function that serves its
    /// route, as API Gateway does.
    pub async fn send(&self, req: Request) -> Reply {
        let function = match routes::route(req.method(), req.uri().path()) {
            Route::Found { target, .. } => target.function(),
            _ => panic!("no route serves {} {}", req.method(), req.uri().path()),
        };
        let deps = &*self.deps;
        Reply::of(&match function {
            Function::List => list::handler(deps, req).await,
            Function::Create => create::handler(deps, req).await,
            Function::Clear => clear::handler(deps, req).await,
            Function::Patch => patch::handler(deps, req).await,
        })
    }

    /// Creates `count` user messages `m00000`, `m00001`, … with `content`, as the owner.
    pub async fn fill(&self, count: usize, content: &str) {
        shared::testing::fill(&self.deps, &self.job, count, content).await;
    }

    /// The job's chat as an operation opens it (the job and its head together).
    pub async fn chat(&self) -> Chat {
        crate::open_chat(self.store(), &self.job).await
    }

    fn request(&self, method: Method) -> ApiRequest<'_, S> {
        let call = Call::new(method, &self.job);
        let call = match &self.caller {
            Caller::User(sub, groups) => {
                let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
                call.by(sub, &groups)
            }
            Caller::Anonymous => call.anonymous(),
        };
        ApiRequest { api: self, call }
    }
}

/// One request to a [`TestApi`], sent by `.await` (or [`ApiRequest::send`]).
pub struct ApiRequest<'a, S> {
    api: &'a TestApi<S>,
    call: Call,
}

impl<'a, S: ChatStore + Jobs> ApiRequest<'a, S> {
    fn message(self, message_id: &str) -> Self {
        self.map(|call| call.message(message_id))
    }

    fn segment(self, segment: &str) -> Self {
        self.map(|call| call.on(segment))
    }

    fn map(self, f: impl FnOnce(Call) -> Call) -> Self {
        Self {
            api: self.api,
            call: f(self.call),
        }
    }

    /// A JSON body with `Content-Type: application/json` (any text: it need not be valid).
    pub fn json(self, body: impl ToString) -> Self {
        self.map(|call| call.json(body))
    }

    /// A body with no content type of its own (set one with [`ApiRequest::header`]).
    pub fn raw_body(self, body: impl ToString) -> Self {
        self.map(|call| call.raw_body(body))
    }

    pub fn header(self, name: &str, value: &str) -> Self {
        self.map(|call| call.header(name, value))
    }

    /// `If-Match: "<version>"`; odd forms (`*`, weak, lists) go by [`ApiRequest::header`].
    pub fn if_match(self, version: u64) -> Self {
        self.header("if-match", &format!("\"{version}\""))
    }

    /// The query string, without `?`.
    pub fn query(self, query: &str) -> Self {
        self.map(|call| call.query(query))
    }

    /// This request only, by `sub` in `groups`.
    pub fn by(self, sub: &str, groups: &[&str]) -> Self {
        self.map(|call| call.by(sub, groups))
    }

    /// This request only, with no authenticated caller.
    pub fn anonymous(self) -> Self {
        self.map(Call::anonymous)
    }

    pub async fn send(self) -> Reply {
        self.api.send(self.call.build()).await
    }
}

impl<'a, S: ChatStore + Jobs> IntoFuture for ApiRequest<'a, S> {
    type Output = Reply;
    type IntoFuture = Pin<Box<dyn Future<Output = Reply> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// An answer of the API, through the handlers or over HTTP: status, headers (names in lower
/// case), the body's text and the body parsed as JSON (`Null` when it is not JSON).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub fn new(status: u16, headers: Vec<(String, String)>, text: String) -> Self {
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            body,
        }
    }

    /// A handler's response.
    pub fn of(response: &Response<Body>) -> Self {
        let text = match response.body() {
            Body::Text(text) => text.clone(),
            Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        };
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_ascii_lowercase(), value)
            })
            .collect();
        Self::new(response.status().as_u16(), headers, text)
    }

    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The error envelope's `code`.
    pub fn code(&self) -> Option<&str> {
        self.body["code"].as_str()
    }

    /// The envelope's `data`, asserting the status is 200.
    pub fn ok_data(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.body);
        &self.body["data"]
    }

    /// The listed messages, asserting the status is 200.
    pub fn messages(&self) -> Vec<Value> {
        self.ok_data()["messages"]
            .as_array()
            .expect("data.messages")
            .clone()
    }

    /// A clear's `deleted_count`, asserting the status is 200.
    pub fn deleted_count(&self) -> u64 {
        self.ok_data()["deleted_count"]
            .as_u64()
            .expect("data.deleted_count")
    }
}

/// What the handlers read off a request before anything else.
#[derive(Debug)]
pub struct Seen {
    /// The caller's `sub` and groups, when the claims name one.
    pub caller: Option<(String, Vec<String>)>,
    pub job_id: Option<String>,
    pub request_id: Option<String>,
}

/// What the handlers read off `req`: its caller, job id and request id.
pub fn seen_by_handlers(req: &Request) -> Seen {
    Seen {
        caller: shared::http::caller(req)
            .ok()
            .map(|caller| (caller.sub, caller.groups)),
        job_id: shared::http::job_id(req).ok().map(|id| id.to_string()),
        request_id: shared::http::request_id(req),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::message_body;

    use super::TestApi;

    /// The kit itself, on the memory store: each method reaches its route, as its caller.
    #[tokio::test]
    async fn each_method_reaches_its_route_as_its_caller() {
        let api = TestApi::in_memory();
        assert_eq!(api.create(message_body("m1", "x")).await.status, 201);
        assert_eq!(api.get("m1").await.body["data"]["message_id"], "m1");
        let patched = api
            .patch("m1")
            .if_match(1)
            .json(json!({"content": "y"}))
            .await;
        assert_eq!(patched.header("etag"), Some("\"2\""), "{}", patched.body);
        assert_eq!(api.patch("m1").if_match(1).json("{}").await.status, 400);
        assert_eq!(api.messages().await[0]["content"], "y");
        assert_eq!(api.summary().await.ok_data()["message_count"], 1);
        let export = api.export().query("format=jsonl").await;
        assert_eq!(export.header("content-type"), Some("application/x-ndjson"));
        assert_eq!(api.clear().await.deleted_count(), 1);
        assert_eq!(api.restore().await.ok_data()["restored_count"], 1);
        assert_eq!(api.anonymous().list().await.code(), Some("UNAUTHENTICATED"));
        assert_eq!(api.list().by("mallory", &[]).await.status, 404);
        let shared_job = api.on_job(&api.new_job("someone", &["member-1"]).await);
        assert_eq!(shared_job.list().await.code(), Some("JOB_NOT_FOUND"));
        assert_eq!(shared_job.as_user("member-1", &[]).list().await.status, 200);
        assert_eq!(shared_job.as_user("x", &["staff"]).list().await.status, 200);
    }
}
