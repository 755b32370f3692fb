//! A fault-injecting, counting HTTP proxy in front of DynamoDB Local.
//!
//! Tests point the production DynamoDB client (its real timeouts and retry settings) at
//! [`Proxy::url`], so they can inject what DynamoDB Local never produces (throttling, lost
//! answers, internal errors, slowness) and measure how many requests and how much capacity an
//! operation really costs.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING,
};
use hyper::http::request;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Operations that report consumed capacity when asked to.
const METERED: [&str; 10] = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
];

const ERROR_PREFIX: &str = "com.amazonaws.dynamodb.v20120810#";

/// What DynamoDB says when a transaction item is throttled.
const THROTTLING_REASON: &str = "Throughput exceeds the current capacity of your table or index. \
    DynamoDB is automatically scaling your table or index so please try again shortly. \
    If exceptions persist, check if you have a hot key: \
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html";

/// A proxy on 127.0.0.1; it stops accepting connections when dropped.
pub struct Proxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: AbortHandle,
}

/// A misbehaviour of DynamoDB, injected into one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward the request (DynamoDB applies it), then drop the connection without answering:
    /// the client sees a lost answer and retries.
    LoseAnswer,
    /// Answer HTTP 400 ThrottlingException without forwarding.
    Throttle,
    /// Answer HTTP 400 TransactionCanceledException with one `ThrottlingError` reason per
    /// entry of the request's `TransactItems`, without forwarding: DynamoDB's answer to a
    /// throttled transaction.
    ThrottledCancellation,
    /// Answer HTTP 500 InternalServerError without forwarding.
    InternalError,
    /// Answer HTTP 400 TransactionConflictException without forwarding: a transaction held the
    /// item, a race lost.
    Conflict,
    /// Forward after waiting this long (slowness).
    Delay(Duration),
}

struct Shared {
    /// `host:port` of DynamoDB Local.
    upstream: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    faults: HashMap<String, VecDeque<Fault>>,
    requests: HashMap<String, usize>,
    operations: Vec<String>,
    /// Each request's operation and what it asked of which table, in order.
    calls: Vec<(String, Vec<Access>)>,
    /// Every sort key a request named by key (`Key`, a batch's `Keys`), in order.
    sort_keys: Vec<String>,
    capacity_units: f64,
}

impl Shared {
    /// A panicking test thread must not take the counters of the others down with it.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Proxy {
    /// Starts on 127.0.0.1:0 forwarding to `upstream` (e.g. `testkit::endpoint()`); runs on a
    /// tokio task.
    pub async fn start(upstream: &str) -> Proxy {
        let authority = upstream
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("the proxy forwards plain http only, not {upstream}"))
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream: authority,
            state: Mutex::new(State::default()),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone())).abort_handle();
        Proxy {
            shared,
            addr,
            accept,
        }
    }

    /// The endpoint to give the client: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Injects `fault` into the next `times` requests whose operation is `operation`
    /// ("UpdateItem", "TransactWriteItems", ...; from the X-Amz-Target header
    /// "DynamoDB_20120810.<Op>"). Rules queue per operation in the order added.
    pub fn inject(&self, operation: &str, fault: Fault, times: usize) {
        self.shared
            .lock()
            .faults
            .entry(operation.to_owned())
            .or_default()
            .extend(std::iter::repeat_n(fault, times));
    }

    /// Requests seen (forwarded or answered by a fault) for `operation` since the last reset.
    pub fn requests(&self, operation: &str) -> usize {
        self.shared
            .lock()
            .requests
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Requests seen for every operation since the last reset.
    pub fn total_requests(&self) -> usize {
        self.shared.lock().operations.len()
    }

    /// Sum of ConsumedCapacity.CapacityUnits reported by DynamoDB Local since the last reset,
    /// answers lost on purpose included (DynamoDB did the work).
    pub fn capacity_units(&self) -> f64 {
        self.shared.lock().capacity_units
    }

    /// The operations seen, in order (to assert e.g. `["BatchGetItem", "UpdateItem"]`).
    pub fn operations(&self) -> Vec<String> {
        self.shared.lock().operations.clone()
    }

    /// The tables the requests named (`TableName`, `RequestItems`, `TransactItems`), to assert
    /// e.g. that a request never reached the messages table.
    pub fn tables(&self) -> BTreeSet<String> {
        let calls = self.calls();
        calls
            .into_iter()
            .flat_map(|(_, accesses)| accesses.into_iter().map(|access| access.table))
            .collect()
    }

    /// Each request since the last reset: its operation and what it asked of which table.
    pub fn calls(&self) -> Vec<(String, Vec<Access>)> {
        self.shared.lock().calls.clone()
    }

    /// The sort keys that requests since the last reset named by key (a `Query` names none).
    pub fn sort_keys(&self) -> Vec<String> {
        self.shared.lock().sort_keys.clone()
    }

    /// Zeroes the counters (not the queued faults), so a test measures only what follows its
    /// setup.
    pub fn reset_counts(&self) {
        let mut state = self.shared.lock();
        state.requests.clear();
        state.operations.clear();
        state.calls.clear();
        state.sort_keys.clear();
        state.capacity_units = 0.0;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| handle(shared.clone(), request));
            // Keep-alive, so the SDK's connection pool behaves as it does against DynamoDB.
            // The connection's error is the client hanging up or a lost answer: nothing to do.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let operation = operation_of(&request);
    let fault = {
        let mut state = shared.lock();
        *state.requests.entry(operation.clone()).or_default() += 1;
        state.operations.push(operation.clone());
        state
            .faults
            .get_mut(&operation)
            .and_then(VecDeque::pop_front)
    };
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    {
        let mut state = shared.lock();
        state
            .calls
            .push((operation.clone(), accesses(&operation, &body)));
        state.sort_keys.extend(sort_keys(&body));
    }
    match fault {
        Some(Fault::Throttle) => {
            return Ok(error_answer(
                StatusCode::BAD_REQUEST,
                json!({
                    "__type": format!("{ERROR_PREFIX}ThrottlingException"),
                    "message": "Rate of requests exceeds the allowed throughput.",
                }),
            ))
        }
        Some(Fault::ThrottledCancellation) => return Ok(throttled_cancellation(&body)),
        Some(Fault::Conflict) => {
            return Ok(error_answer(
                StatusCode::BAD_REQUEST,
                json!({
                    "__type": format!("{ERROR_PREFIX}TransactionConflictException"),
                    "message": "Transaction is ongoing for the item",
                }),
            ))
        }
        Some(Fault::InternalError) => {
            return Ok(error_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({
                    "__type": format!("{ERROR_PREFIX}InternalServerError"),
                    "message": "The server encountered an internal error trying to fulfill the request.",
                }),
            ))
        }
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::LoseAnswer) | None => {}
    }
    let body = if METERED.contains(&operation.as_str()) {
        ask_for_capacity(body)
    } else {
        body
    };
    let response = match forward(&shared.upstream, parts, body).await {
        Ok(response) => response,
        Err(err) => {
            return Ok(error_answer(
                StatusCode::BAD_GATEWAY,
                json!({ "message": format!("proxy cannot reach DynamoDB Local: {err}") }),
            ))
        }
    };
    shared.lock().capacity_units += consumed_capacity(response.body());
    if fault == Some(Fault::LoseAnswer) {
        // A service error makes hyper close the connection without writing a response.
        return Err("answer lost on purpose".into());
    }
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// "DynamoDB_20120810.PutItem" → "PutItem"; empty when the header is missing.
fn operation_of(request: &Request<Incoming>) -> String {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    target
        .rsplit_once('.')
        .map_or(target, |(_, operation)| operation)
        .to_owned()
}

/// What one request asks of one table, as IAM authorizes it: the operation itself, or for a
/// transaction each of its entries (`Put` is `PutItem`, `ConditionCheck` is
/// `ConditionCheckItem`, ...).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    pub action: String,
    pub table: String,
}

/// The accesses of a request: its `TableName`, the tables of `RequestItems` (batches), each
/// entry of `TransactItems`.
fn accesses(operation: &str, body: &Bytes) -> Vec<Access> {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let access = |action: &str, table: &str| Access {
        action: action.to_owned(),
        table: table.to_owned(),
    };
    let mut found: Vec<Access> = request["TableName"]
        .as_str()
        .map(|table| access(operation, table))
        .into_iter()
        .collect();
    if let Some(items) = request["RequestItems"].as_object() {
        found.extend(items.keys().map(|table| access(operation, table)));
    }
    for entry in request["TransactItems"].as_array().into_iter().flatten() {
        for (kind, action) in entry.as_object().into_iter().flatten() {
            let name = match kind.as_str() {
                "ConditionCheck" => "ConditionCheckItem".to_owned(),
                other => format!("{other}Item"),
            };
            if let Some(table) = action["TableName"].as_str() {
                found.push(access(&name, table));
            }
        }
    }
    found
}

/// The `sk` of every key a request names: its `Key`, or each `Keys` entry of its
/// `RequestItems`.
fn sort_keys(body: &Bytes) -> Vec<String> {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let batch = request["RequestItems"]
        .as_object()
        .into_iter()
        .flat_map(|tables| tables.values())
        .flat_map(|table| table["Keys"].as_array().into_iter().flatten());
    std::iter::once(&request["Key"])
        .chain(batch)
        .filter_map(|key| key["sk"]["S"].as_str().map(str::to_owned))
        .collect()
}

/// Adds `"ReturnConsumedCapacity":"TOTAL"` unless the request chose otherwise. Changing the
/// signed body is fine: DynamoDB Local does not check signatures.
fn ask_for_capacity(body: Bytes) -> Bytes {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    if fields.contains_key("ReturnConsumedCapacity") {
        return body;
    }
    fields.insert("ReturnConsumedCapacity".into(), "TOTAL".into());
    serde_json::to_vec(&fields).map_or(body, Bytes::from)
}

/// The `CapacityUnits` of an answer's `ConsumedCapacity`: one object, or one per table.
fn consumed_capacity(body: &Bytes) -> f64 {
    let units = |consumed: &Value| consumed["CapacityUnits"].as_f64().unwrap_or(0.0);
    match serde_json::from_slice::<Value>(body) {
        Ok(answer) => match &answer["ConsumedCapacity"] {
            Value::Array(each) => each.iter().map(units).sum(),
            consumed => units(consumed),
        },
        Err(_) => 0.0,
    }
}

/// Sends the request over a fresh connection and reads the whole answer.
async fn forward(
    upstream: &str,
    mut parts: request::Parts,
    body: Bytes,
) -> Result<Response<Bytes>, BoxError> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // Ends once the exchange is over and `sender` is dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // The body may have grown; framing headers are this hop's business.
    parts.headers.remove(CONNECTION);
    parts.headers.remove(TRANSFER_ENCODING);
    parts.headers.insert(HOST, HeaderValue::from_str(upstream)?);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    let response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (mut parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    // Answered whole, so the length is known; the upstream connection's framing is not ours.
    parts.headers.remove(CONNECTION);
    parts.headers.remove(TRANSFER_ENCODING);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    Ok(Response::from_parts(parts, body))
}

fn throttled_cancellation(request_body: &Bytes) -> Response<Full<Bytes>> {
    let items = serde_json::from_slice::<Value>(request_body)
        .ok()
        .and_then(|request| request["TransactItems"].as_array().map(Vec::len))
        .unwrap_or(0);
    let reasons = vec![json!({ "Code": "ThrottlingError", "Message": THROTTLING_REASON }); items];
    let codes = vec!["ThrottlingError"; items].join(", ");
    error_answer(
        StatusCode::BAD_REQUEST,
        json!({
            "__type": format!("{ERROR_PREFIX}TransactionCanceledException"),
            "Message": format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
            ),
            "CancellationReasons": reasons,
        }),
    )
}

fn error_answer(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}
