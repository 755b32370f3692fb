//! The Lambda binaries as real processes, as the Lambda service runs them: each is pointed at a
//! minimal Lambda Runtime API emulated here (`AWS_LAMBDA_RUNTIME_API`), asks it for an event,
//! handles it against DynamoDB Local and posts back its response (the API Gateway response of
//! the API functions, the sweep's report).
//!
//! The binaries are the ones `scripts/test.sh` builds before `cargo test`
//! (`cargo build --workspace --bins`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

use testkit::{dynamo_deps, event_for_job, new_job};

const API_PREFIX: &str = "/2018-06-01/runtime/";
/// A safety net only: every wait below ends on a message or on the process exiting.
const WAIT: Duration = Duration::from_secs(60);
const CURSOR_SECRET: &str = "runtime-test-cursor-secret-0123456789";

/// What the function did on the Runtime API.
#[derive(Debug)]
enum Report {
    /// `GET /runtime/invocation/next`, when it arrived.
    Next {
        at: Instant,
    },
    Response {
        request_id: String,
        body: String,
    },
    Error {
        request_id: String,
        body: String,
    },
    InitError {
        body: String,
    },
}

struct Invocation {
    request_id: String,
    payload: String,
}

struct ServerState {
    function_arn: String,
    queue: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    reports: mpsc::UnboundedSender<Report>,
}

/// A Runtime API for one function: invocations are queued, everything the function sends
/// comes back as a [`Report`].
struct RuntimeApi {
    addr: SocketAddr,
    queue: mpsc::UnboundedSender<Invocation>,
    reports: mpsc::UnboundedReceiver<Report>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    async fn start(function_name: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API");
        let addr = listener.local_addr().expect("Runtime API address");
        let (queue, queued) = mpsc::unbounded_channel();
        let (report, reports) = mpsc::unbounded_channel();
        let state = Arc::new(ServerState {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            queue: Mutex::new(queued),
            reports: report,
        });
        let server = tokio::spawn(async move {
            // Connections live in the set, so aborting the server ends them too.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            queue,
            reports,
            server,
        }
    }

    /// Queues an event; returns its request id.
    fn invoke(&self, payload: String) -> String {
        let request_id = uuid::Uuid::new_v4().to_string();
        self.queue
            .send(Invocation {
                request_id: request_id.clone(),
                payload,
            })
            .expect("Runtime API server is running");
        request_id
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn accepted() -> Response<Full<Bytes>> {
    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

/// The X-Ray trace every invocation is sampled into.
const TRACE_ID: &str = "1-65a50928-0123456789abcdef01234567";

async fn handle(
    state: Arc<ServerState>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let body = match req.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let segments: Vec<&str> = path
        .strip_prefix(API_PREFIX)
        .map(|rest| rest.split('/').collect())
        .unwrap_or_default();
    let report = |report: Report| {
        // The test may have stopped listening; the function's request still gets its answer.
        let _ = state.reports.send(report);
    };
    let response = match (method, segments.as_slice()) {
        (Method::GET, ["invocation", "next"]) => {
            report(Report::Next { at: Instant::now() });
            // Long poll, as the real API does: the answer waits for an invocation.
            let next = state.queue.lock().await.recv().await;
            match next {
                Some(invocation) => {
                    let deadline = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        + WAIT;
                    let mut response = reply(StatusCode::OK, invocation.payload);
                    let headers = response.headers_mut();
                    let mut set = |name: &'static str, value: String| {
                        headers.insert(
                            name,
                            hyper::header::HeaderValue::from_str(&value).expect("header value"),
                        );
                    };
                    set("lambda-runtime-aws-request-id", invocation.request_id);
                    set(
                        "lambda-runtime-deadline-ms",
                        deadline.as_millis().to_string(),
                    );
                    set(
                        "lambda-runtime-invoked-function-arn",
                        state.function_arn.clone(),
                    );
                    set(
                        "lambda-runtime-trace-id",
                        format!("Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1"),
                    );
                    response
                }
                None => reply(StatusCode::GONE, r#"{"errorMessage":"test over"}"#),
            }
        }
        (Method::POST, ["invocation", id, "response"]) => {
            report(Report::Response {
                request_id: (*id).to_owned(),
                body,
            });
            accepted()
        }
        (Method::POST, ["invocation", id, "error"]) => {
            report(Report::Error {
                request_id: (*id).to_owned(),
                body,
            });
            accepted()
        }
        (Method::POST, ["init", "error"]) => {
            report(Report::InitError { body });
            accepted()
        }
        _ => reply(StatusCode::NOT_FOUND, r#"{"errorMessage":"unknown path"}"#),
    };
    Ok(response)
}

/// `target/<profile>/<name>`: next to this test binary's `deps/` folder, or under
/// `CARGO_TARGET_DIR`, or the workspace's `target/debug`.
pub fn binary(name: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(workspace.join(dir).join("debug"));
    }
    dirs.push(workspace.join("target").join("debug"));
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    dirs.iter()
        .map(|dir| dir.join(&file))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the Lambda binary {file} is not built (looked in {dirs:?}): run \
                 `cargo build --workspace --bins` first, as `make test` does"
            )
        })
}

/// The environment the Lambda service gives a function, plus the function's configuration.
fn lambda_env(name: &str, api: &RuntimeApi, cursor_secret: Option<&str>) -> Vec<(String, String)> {
    let config = testkit::config();
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", api.addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/quote-chat-{name}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2024/01/15/[$LATEST]0123456789abcdef0123456789abcdef".into(),
        ),
        // template.yaml gives every function `LogFormat: JSON`; Lambda then sets this.
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "local".into()),
        ("AWS_SECRET_ACCESS_KEY", "local".into()),
        ("DYNAMODB_ENDPOINT", testkit::endpoint()),
        ("MESSAGES_TABLE", config.messages_table),
        ("JOBS_TABLE", config.jobs_table),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(secret) = cursor_secret {
        env.push(("CURSOR_SECRET".into(), secret.into()));
    }
    for name in ["RUST_LOG", "RUST_BACKTRACE"] {
        if let Ok(value) = std::env::var(name) {
            env.push((name.into(), value));
        }
    }
    env
}

/// A function process; its output is collected for failure messages.
struct Lambda {
    name: String,
    child: Child,
    output: [JoinHandle<String>; 2],
}

async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes).await;
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    text
}

#[derive(Debug)]
enum Event {
    Report(Report),
    Exited(ExitStatus),
}

impl Lambda {
    fn spawn(name: &str, env: &[(String, String)]) -> Self {
        let path = binary(name);
        // A clean environment: nothing from the developer's shell (AWS profile, region) leaks in.
        let mut child = Command::new(&path)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", path.display()));
        let output = [
            tokio::spawn(read_all(child.stdout.take())),
            tokio::spawn(read_all(child.stderr.take())),
        ];
        Self {
            name: name.to_owned(),
            child,
            output,
        }
    }

    /// The next thing the function does: a Runtime API call, or exiting. `None` after [`WAIT`].
    async fn next_event(&mut self, api: &mut RuntimeApi) -> Option<Event> {
        tokio::time::timeout(WAIT, async {
            tokio::select! {
                // What it sent before exiting counts first.
                biased;
                report = api.reports.recv() => Event::Report(report.expect("Runtime API server is running")),
                status = self.child.wait() => Event::Exited(status.expect("wait for the function")),
            }
        })
        .await
        .ok()
    }

    /// Kills the process (if still running) and returns what it printed.
    async fn stop(mut self) -> String {
        let _ = self.child.kill().await;
        let [stdout, stderr] = self.output;
        format!(
            "--- {} stdout ---\n{}--- {} stderr ---\n{}",
            self.name,
            stdout.await.unwrap_or_default(),
            self.name,
            stderr.await.unwrap_or_default()
        )
    }
}

/// Starts binary `name` on a fresh Runtime API with `event` queued; returns the cold start
/// (spawn → first `/next`) and the response it posted. The process is killed after.
async fn invoke_binary(name: &str, event: String) -> (Duration, Value) {
    let (cold_start, response, _) = invoke_binary_with(name, event, &[]).await;
    (cold_start, response)
}

/// [`invoke_binary`] with some variables of [`lambda_env`] overridden; also returns what the
/// process printed.
async fn invoke_binary_with(
    name: &str,
    event: String,
    overrides: &[(&str, String)],
) -> (Duration, Value, String) {
    let mut api = RuntimeApi::start(name).await;
    let request_id = api.invoke(event);
    let mut env = lambda_env(name, &api, Some(CURSOR_SECRET));
    env.retain(|(key, _)| !overrides.iter().any(|(name, _)| name == key));
    env.extend(overrides.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let started = Instant::now();
    let mut lambda = Lambda::spawn(name, &env);
    let mut cold_start = None;
    loop {
        match lambda.next_event(&mut api).await {
            Some(Event::Report(Report::Next { at })) => {
                cold_start.get_or_insert(at.duration_since(started));
            }
            Some(Event::Report(Report::Response {
                request_id: id,
                body,
            })) if id == request_id => {
                let logs = lambda.stop().await;
                let cold_start = cold_start.expect("it asked for the event before answering");
                let response = serde_json::from_str(&body).unwrap_or_else(|err| {
                    panic!("{name}: the response is not JSON ({err}): {body}\n{logs}")
                });
                return (cold_start, response, logs);
            }
            Some(Event::Report(Report::Error {
                request_id: id,
                body,
            })) => {
                let logs = lambda.stop().await;
                panic!("{name}: reported an error for {id}: {body}\n{logs}");
            }
            other => {
                let logs = lambda.stop().await;
                let what = match other {
                    Some(Event::Report(report)) => format!("{report:?}"),
                    Some(Event::Exited(status)) => format!("exit with {status}"),
                    None => format!("nothing within {WAIT:?}"),
                };
                panic!("{name}: expected the response to {request_id}, got {what}\n{logs}");
            }
        }
    }
}

/// Status, headers and parsed body of an API Gateway HTTP API (v2) Lambda response.
fn api_gateway_response(name: &str, response: &Value) -> (u64, Value) {
    let status = response["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name}: no statusCode in {response}"));
    assert_eq!(
        response["headers"]["content-type"], "application/json",
        "{name}: {response}"
    );
    assert_ne!(
        response["isBase64Encoded"], true,
        "{name}: a JSON body goes as text"
    );
    let body = response["body"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: body is not a string in {response}"));
    let body = serde_json::from_str(body)
        .unwrap_or_else(|err| panic!("{name}: body is not JSON ({err}): {body}"));
    (status, body)
}

fn event_body(name: &str) -> Value {
    let event: Value = serde_json::from_str(&testkit::event_text(name)).expect("event JSON");
    serde_json::from_str(event["body"].as_str().expect("event body")).expect("body JSON")
}

#[tokio::test]
async fn lambda_binaries_answer_the_sample_events_through_the_runtime_api() {
    dynamo_deps().await; // the tables the binaries are pointed at
    let job = new_job(setup::DEMO_OWNER, &[]).await;
    let mut cold_starts = Vec::new();

    let created = event_body("create");
    let message_id = created["message_id"].as_str().expect("message_id");
    let (cold, response) = invoke_binary("create", event_for_job("create", &job)).await;
    cold_starts.push(("create", cold));
    let (status, body) = api_gateway_response("create", &response);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["message_id"], message_id);
    let timestamp = body["data"]["timestamp"].as_str().expect("timestamp");

    let (cold, response) = invoke_binary("list", event_for_job("list", &job)).await;
    cold_starts.push(("list", cold));
    let (status, body) = api_gateway_response("list", &response);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["job_id"], job);
    assert_eq!(
        body["data"]["messages"],
        json!([{
            "message_id": message_id,
            "role": created["role"],
            "content": created["content"],
            "timestamp": timestamp,
            "metadata": created["metadata"],
            "version": 1,
            "status": "complete",
            "updated_at": timestamp,
        }])
    );

    let patched = event_body("patch");
    let (cold, response) = invoke_binary("patch", event_for_job("patch", &job)).await;
    cold_starts.push(("patch", cold));
    assert_eq!(response["headers"]["etag"], "\"2\"", "{response}");
    let (status, body) = api_gateway_response("patch", &response);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["message_id"], message_id);
    assert_eq!(body["data"]["version"], 2);
    assert_eq!(body["data"]["content"], patched["content"]);

    let (cold, response) = invoke_binary("clear", event_for_job("clear", &job)).await;
    cold_starts.push(("clear", cold));
    let (status, body) = api_gateway_response("clear", &response);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["deleted_count"], 1);

    for (name, cold) in cold_starts {
        eprintln!(
            "cold start of {} (spawn → first /runtime/invocation/next): {:.1} ms",
            binary(name).display(),
            cold.as_secs_f64() * 1000.0
        );
    }
}

#[tokio::test]
async fn the_list_binary_refuses_to_start_without_a_cursor_secret() {
    // The other functions never sign a cursor, so only list needs the secret.
    for name in ["create", "patch", "clear"] {
        let mut api = RuntimeApi::start(name).await;
        let mut lambda = Lambda::spawn(name, &lambda_env(name, &api, None));
        let event = lambda.next_event(&mut api).await;
        let logs = lambda.stop().await;
        assert!(
            matches!(event, Some(Event::Report(Report::Next { .. }))),
            "{name} starts without CURSOR_SECRET\n{logs}"
        );
    }
    for name in ["list"] {
        let mut api = RuntimeApi::start(name).await;
        let mut lambda = Lambda::spawn(name, &lambda_env(name, &api, None));
        let event = lambda.next_event(&mut api).await;
        let reported = match event {
            Some(Event::Report(Report::InitError { body })) => body,
            Some(Event::Exited(status)) if !status.success() => String::new(),
            other => {
                let logs = lambda.stop().await;
                let what = match other {
                    Some(Event::Report(Report::Next { .. })) => {
                        "a request for an event: it started".to_owned()
                    }
                    Some(Event::Report(report)) => format!("{report:?}"),
                    Some(Event::Exited(status)) => format!("exit with {status}"),
                    None => format!("nothing within {WAIT:?}"),
                };
                panic!("{name} without CURSOR_SECRET: expected an init error or a failed exit, got {what}\n{logs}");
            }
        };
        let logs = lambda.stop().await;
        assert!(
            reported.contains("CURSOR_SECRET") || logs.contains("CURSOR_SECRET"),
            "{name}: the refusal names CURSOR_SECRET\n{reported}\n{logs}"
        );
    }
}

#[tokio::test]
async fn the_fallback_binary_answers_unknown_routes_in_the_envelope() {
    // What API Gateway's `$default` route delivers: no route parameters, no authorizer.
    let mut event: Value = serde_json::from_str(&testkit::event_text("list")).expect("event JSON");
    event["rawPath"] = "/api/no-such-route".into();
    event["routeKey"] = "$default".into();
    event["requestContext"]["routeKey"] = "$default".into();
    event["requestContext"]["http"]["path"] = "/api/no-such-route".into();
    event["requestContext"]["authorizer"] = Value::Null;
    if let Some(fields) = event.as_object_mut() {
        fields.remove("pathParameters");
    }
    let (_, response) = invoke_binary("fallback", event.to_string()).await;
    let (status, body) = api_gateway_response("fallback", &response);
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{body}"
    );
    assert_eq!(body["success"], false);
}

/// What EventBridge hands a function on a `rate(1 minute)` rule.
fn scheduled_event() -> String {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2024-01-15T10:30:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/quote-chat-dev-SweepFunctionEveryMinute-0123ABCD"],
        "detail": {}
    })
    .to_string()
}

/// The `fields` of the JSON log line `message` (what template.yaml's metric filter reads).
fn log_fields(logs: &str, message: &str) -> Option<Value> {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == message)
        .map(|line| line["fields"].clone())
}

#[tokio::test]
async fn the_sweep_binary_stamps_a_cleared_chat_on_a_scheduled_event() {
    use aws_sdk_dynamodb::types::AttributeValue;

    // Tables of its own: a sweep visits every marked chat of its table, and other tests of
    // this process clear chats on the shared one (and sweep them) meanwhile.
    let config = testkit::config();
    let messages = format!("{}-sweep", config.messages_table);
    let jobs = format!("{}-sweep", config.jobs_table);
    let client = config.dynamodb_client().await;
    setup::ensure_tables(&client, &messages, &jobs)
        .await
        .expect("tables on DynamoDB Local");
    let job = uuid::Uuid::new_v4().to_string();
    setup::put_job(&client, &jobs, &job, setup::DEMO_OWNER, &[])
        .await
        .expect("job written");
    let tables = [("MESSAGES_TABLE", messages.clone()), ("JOBS_TABLE", jobs)];

    // A chat with one message, cleared: its head is marked for the sweep.
    let (_, response, _) =
        invoke_binary_with("create", event_for_job("create", &job), &tables).await;
    let (status, body) = api_gateway_response("create", &response);
    assert_eq!(status, 201, "{body}");
    let (_, response, _) = invoke_binary_with("clear", event_for_job("clear", &job), &tables).await;
    let (status, body) = api_gateway_response("clear", &response);
    assert_eq!(status, 200, "{body}");

    let (_, report, logs) = invoke_binary_with("sweep", scheduled_event(), &tables).await;
    assert_eq!(
        report,
        json!({
            "chats_finished": 1,
            "chats_left": 0,
            "items_stamped": 1,
            "items_unstamped": 0,
            "failures": 0
        }),
        "{logs}"
    );
    let fields = log_fields(&logs, "sweep run")
        .unwrap_or_else(|| panic!("no JSON \"sweep run\" line with fields\n{logs}"));
    assert_eq!(
        fields["chats_left"], 0,
        "a number, for the metric filter: {fields}"
    );
    assert_eq!(fields["chats_finished"], 1, "{fields}");

    // The message and its id lookup now expire; the head is no longer marked.
    let items = client
        .query()
        .table_name(&messages)
        .key_condition_expression("job_id = :job")
        .expression_attribute_values(":job", AttributeValue::S(job.clone()))
        .consistent_read(true)
        .send()
        .await
        .expect("query the chat")
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 3, "head, id lookup, message: {items:?}");
    for item in &items {
        let Some(AttributeValue::S(sk)) = item.get("sk") else {
            panic!("no sort key: {item:?}");
        };
        if sk == shared::store::keys::HEAD {
            assert!(!item.contains_key("sweep_due"), "still marked: {item:?}");
        } else {
            assert!(item.contains_key("expires_at"), "not stamped: {item:?}");
        }
    }

    // Nothing left to do: the next run reports so (and still logs its line).
    let (_, report, logs) = invoke_binary_with("sweep", scheduled_event(), &tables).await;
    assert_eq!(
        report,
        json!({
            "chats_finished": 0,
            "chats_left": 0,
            "items_stamped": 0,
            "items_unstamped": 0,
            "failures": 0
        }),
        "{logs}"
    );
    assert!(log_fields(&logs, "sweep run").is_some(), "{logs}");
}

#[tokio::test]
async fn started_as_lambda_starts_it_a_function_writes_only_json_lines_without_content_or_tokens() {
    dynamo_deps().await;
    let job = new_job(setup::DEMO_OWNER, &[]).await;
    // The sample create carries metadata {"model": "quote-llm-1", ...}: it must not be logged.
    let created = event_body("create");
    let model = created["metadata"]["model"]
        .as_str()
        .unwrap_or("quote-llm-1")
        .to_owned();
    let json_logs = [
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "DEBUG".to_owned()),
    ];
    let (_, response, logs) =
        invoke_binary_with("create", event_for_job("create", &job), &json_logs).await;
    assert_eq!(response["statusCode"], 201, "{response}");
    let stdout = logs
        .split("--- create stderr ---")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.starts_with("--- "));
    let mut request_lines = 0;
    let mut metric_lines = 0;
    for line in stdout {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("not a JSON line ({err}): {line}"));
        if value["fields"]["message"] == "request" {
            request_lines += 1;
            let fields = &value["fields"];
            assert_eq!(fields["route"], "create");
            assert_eq!(fields["status"], 201);
            assert_eq!(fields["dynamodb_requests"], 2);
            assert!(
                fields["capacity_units"].as_f64().unwrap_or_default() > 0.0,
                "{line}"
            );
            assert!(fields["lambda_request_id"].is_string(), "{line}");
            assert_eq!(fields["cold_start"], true);
            assert!(fields["job"]
                .as_str()
                .is_some_and(|h| h.len() == 12 && !job.contains(h)));
        }
        if value["_aws"]["CloudWatchMetrics"].is_array() {
            metric_lines += 1;
            assert_eq!(value["Route"], "create");
            assert_eq!(value["DynamoDBRequests"], 2.0);
        }
        assert!(!line.contains(&job), "a raw job id in the logs: {line}");
        assert!(
            !line.contains(&model),
            "message metadata in the logs: {line}"
        );
        assert!(
            !line.contains("eyJ"),
            "something like a token in the logs: {line}"
        );
    }
    assert_eq!((request_lines, metric_lines), (1, 1), "{logs}");
}

#[tokio::test]
async fn a_raw_quote_in_the_query_string_still_gets_an_answer_in_the_envelope() {
    // curl sends `?a="` unencoded; lambda_http alone panics building such a request's URI.
    dynamo_deps().await;
    let job = new_job(setup::DEMO_OWNER, &[]).await;
    let mut event: Value = serde_json::from_str(&event_for_job("list", &job)).expect("JSON");
    event["rawQueryString"] = json!(r#"order="desc"&<x>"#);
    let (_, response) = invoke_binary("list", event.to_string()).await;
    let (status, body) = api_gateway_response("list", &response);
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["code"], "VALIDATION_ERROR",
        "the order \"desc\" (quoted) is no order"
    );
}

#[tokio::test]
async fn every_json_line_a_request_writes_carries_its_request_and_trace_ids_and_no_raw_job_id() {
    dynamo_deps().await;
    // A stranger's request: refused, it logs several lines (the refusal, the request line,
    // the metrics line), some from code whose spans and fields hold the raw job id.
    let job = new_job("someone-else", &[]).await;
    let mut api = RuntimeApi::start("list").await;
    let request_id = api.invoke(event_for_job("list", &job));
    let mut lambda = Lambda::spawn("list", &lambda_env("list", &api, Some(CURSOR_SECRET)));
    let response = loop {
        match lambda.next_event(&mut api).await {
            Some(Event::Report(Report::Next { .. })) => continue,
            Some(Event::Report(Report::Response { body, .. })) => break body,
            other => {
                let logs = lambda.stop().await;
                panic!("list: expected a response, got {other:?}\n{logs}");
            }
        }
    };
    let logs = lambda.stop().await;
    let response: Value = serde_json::from_str(&response).expect("response JSON");
    assert_eq!(response["statusCode"], 404, "{response}");

    let hash = shared::telemetry::job_hash(&job);
    let stdout = logs
        .split("--- list stderr ---")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.starts_with("--- "));
    let mut messages = Vec::new();
    for line in stdout {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("not a JSON line ({err}): {line}\n{logs}"));
        assert_eq!(value["requestId"], request_id.as_str(), "{line}");
        assert_eq!(value["traceId"], TRACE_ID, "{line}");
        assert_eq!(value["job"], hash.as_str(), "{line}");
        assert!(!line.contains(&job), "a raw job id in the logs: {line}");
        if value["fields"]["message"] == "request" {
            assert_eq!(value["fields"]["job"], value["job"], "one hash: {line}");
        }
        let message = value["fields"]["message"].as_str().unwrap_or("EMF");
        messages.push(message.to_owned());
    }
    for expected in ["request refused", "request", "EMF"] {
        assert!(
            messages.iter().any(|m| m == expected),
            "a {expected:?} line among {messages:?}\n{logs}"
        );
    }
}
