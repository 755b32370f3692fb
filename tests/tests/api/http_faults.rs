//! Faults at the HTTP level, route by route, over real HTTP on the local server whose
//! production DynamoDB client talks to DynamoDB Local through the fault-injecting proxy:
//! throttling answers 503 with `Retry-After` and writes nothing; a slow DynamoDB is cut off by
//! the configured timeouts, which sit below every function's Lambda timeout in template.yaml;
//! a stranger's request makes no request beyond the one that reads the job: none reaches the
//! messages table.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use local::jwt::LocalJwt;
use serde_json::{json, Value};
use shared::routes::ROUTES;
use shared::Config;
use testkit::proxy::{Fault, Proxy};
use testkit::{http, new_job, proxied_deps, start_local_server_with, Reply, OWNER};

struct Api {
    addr: SocketAddr,
    proxy: Proxy,
    job: String,
}

impl Api {
    async fn start() -> Self {
        let proxy = Proxy::start(&testkit::endpoint()).await;
        let deps = proxied_deps(&proxy).await;
        let (addr, _) = start_local_server_with(deps, "*").await;
        let job = new_job(OWNER, &[]).await;
        let api = Self { addr, proxy, job };
        let created = api
            .call(
                OWNER,
                "POST",
                "",
                Some(json!({"message_id": "m1", "role": "user", "content": "x"})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        api.proxy.reset_counts();
        api
    }

    async fn call(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let token = format!(
            "Bearer {}",
            LocalJwt::new("test-jwt-secret").token(who, &[], 60)
        );
        let mut headers = vec![("authorization", token.as_str())];
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        if !text.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        let path = format!("/api/jobs/{}/quote-chat/{path}", self.job);
        http(self.addr, method, &path, &headers, text.as_bytes()).await
    }

    async fn visible(&self) -> Vec<Value> {
        let listed = self.call(OWNER, "GET", "", None).await;
        listed.body["data"]["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Every route: method, path after `quote-chat/`, body.
fn routes() -> Vec<(&'static str, &'static str, &'static str, Option<Value>)> {
    vec![
        ("list", "GET", "", None),
        ("summary", "GET", "summary/", None),
        ("export", "GET", "export/", None),
        ("message", "GET", "m1/", None),
        (
            "create",
            "POST",
            "",
            Some(json!({"message_id": "m2", "role": "user", "content": "y"})),
        ),
        ("patch", "PATCH", "m1/", Some(json!({"content": "changed"}))),
        ("clear", "DELETE", "", None),
        ("restore", "POST", "restore/", None),
    ]
}

#[tokio::test]
async fn throttling_past_the_retries_answers_503_with_retry_after_on_every_route_and_writes_nothing(
) {
    let api = Api::start().await;
    let before = api.visible().await;
    // Every route reads the job and the chat's head first, in one BatchGetItem.
    for read in ["BatchGetItem"] {
        for (name, method, path, body) in routes() {
            api.proxy.inject(read, Fault::Throttle, 3);
            let reply = api.call(OWNER, method, path, body.clone()).await;
            assert_eq!(reply.status, 503, "{name} ({read}): {}", reply.text);
            assert_eq!(reply.body["code"], "SERVICE_UNAVAILABLE", "{name}");
            assert_eq!(reply.header("retry-after"), Some("1"), "{name}");
        }
    }
    for (name, op, method, path, body) in [
        (
            "create",
            "TransactWriteItems",
            "POST",
            "",
            json!({"message_id": "m3", "role": "user", "content": "z"}),
        ),
        (
            "patch",
            "UpdateItem",
            "PATCH",
            "m1/",
            json!({"content": "changed"}),
        ),
    ] {
        api.proxy.inject(op, Fault::Throttle, 3);
        let reply = api.call(OWNER, method, path, Some(body)).await;
        assert_eq!(reply.status, 503, "{name}: {}", reply.text);
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
    api.proxy.inject("UpdateItem", Fault::Throttle, 3);
    let reply = api.call(OWNER, "DELETE", "", None).await;
    assert_eq!(reply.status, 503, "clear: {}", reply.text);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(
        api.visible().await,
        before,
        "nothing half-written by any refused request"
    );
    // A restore needs a clear to undo; its write throttled, the chat stays cleared.
    assert_eq!(api.call(OWNER, "DELETE", "", None).await.status, 200);
    api.proxy.inject("UpdateItem", Fault::Throttle, 3);
    let reply = api.call(OWNER, "POST", "restore/", None).await;
    assert_eq!(reply.status, 503, "restore: {}", reply.text);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(
        api.visible().await,
        Vec::<Value>::new(),
        "restore wrote nothing"
    );
    assert_eq!(api.call(OWNER, "POST", "restore/", None).await.status, 200);
    assert_eq!(
        api.visible().await,
        before,
        "the clear is still whole to restore"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_dynamodb_is_cut_off_by_the_operation_timeout_on_every_route() {
    // The production client with an attempt timeout close to the operation's: a slow first
    // read is cut after 3 s, retried, and the operation timeout (4 s) ends the retry. Without
    // it, three 3 s attempts would take 9 s. Each route is timed from the client's side.
    let proxy = Proxy::start(&testkit::endpoint()).await;
    testkit::dynamo_deps().await;
    let mut config = testkit::config();
    config.dynamodb_endpoint = Some(proxy.url());
    config.attempt_timeout = Duration::from_secs(3);
    config.operation_timeout = Duration::from_secs(4);
    let (addr, _) = start_local_server_with(config.deps().await, "*").await;
    let api = Api {
        addr,
        proxy,
        job: new_job(OWNER, &[]).await,
    };
    let routes = routes();
    api.proxy.inject(
        "BatchGetItem",
        Fault::Delay(Duration::from_secs(30)),
        3 * routes.len(),
    );
    let timed = futures::future::join_all(routes.into_iter().map(|(name, method, path, body)| {
        let api = &api;
        async move {
            let started = std::time::Instant::now();
            let reply = api.call(OWNER, method, path, body).await;
            (name, reply, started.elapsed())
        }
    }))
    .await;
    for (name, reply, took) in timed {
        assert_eq!(reply.status, 503, "{name}: {}", reply.text);
        assert_eq!(reply.header("retry-after"), Some("1"), "{name}");
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_secs(7),
            "{name}: answered after {took:?}, not when the 4 s operation timeout fired"
        );
    }
    assert!(
        api.proxy.requests("BatchGetItem") >= 2 * 7,
        "the SDK retried each slow attempt"
    );
}

/// What template.yaml says about time: the global and each function's `Timeout` (seconds), and
/// the DynamoDB timeouts it gives the functions.
struct TemplateTimeouts {
    global: u64,
    functions: Vec<(String, u64)>,
    env: Vec<(String, String)>,
}

fn template_timeouts() -> TemplateTimeouts {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    let mut global_timeout = 0;
    let mut functions = Vec::new();
    let mut env = Vec::new();
    let mut resource = String::new();
    let mut in_globals = false;
    for line in text.lines() {
        if line.starts_with("Globals:") {
            in_globals = true;
        } else if !line.starts_with(' ') && !line.is_empty() {
            in_globals = false;
        }
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
            if !name.starts_with(' ') {
                resource = name.to_owned();
            }
        }
        let trimmed = line.trim();
        if let Some(seconds) = trimmed
            .strip_prefix("Timeout: ")
            .and_then(|t| t.parse().ok())
        {
            if in_globals {
                global_timeout = seconds;
            } else {
                functions.push((resource.clone(), seconds));
            }
        }
        for name in [
            "DYNAMODB_OPERATION_TIMEOUT_MS",
            "DYNAMODB_ATTEMPT_TIMEOUT_MS",
        ] {
            if let Some(value) = trimmed.strip_prefix(&format!("{name}: ")) {
                env.push((name.to_owned(), value.trim_matches('"').to_owned()));
            }
        }
    }
    TemplateTimeouts {
        global: global_timeout,
        functions,
        env,
    }
}

/// The DynamoDB calls an API request makes in a row before it can answer (one page).
const SEQUENTIAL_CALLS: u32 = 3;

#[test]
fn the_production_timeouts_fit_under_every_function_timeout_of_template_yaml() {
    let TemplateTimeouts {
        global,
        functions,
        env,
    } = template_timeouts();
    assert!(global > 0, "Globals sets a Timeout");
    let config =
        Config::from_lookup(|name| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
            .expect("the template's settings are valid");
    assert_eq!(
        env.len(),
        2,
        "the template sets both DynamoDB timeouts: {env:?}"
    );
    assert!(config.attempt_timeout < config.operation_timeout);
    // A request makes its calls one after the other: the job, the chat, then a write (list,
    // summary and export: a Query). Three that each take the whole operation timeout must still
    // beat the deadline; pages beyond the first are the deadline guard's (the handler answers
    // 503 half a second before it). The fallback function calls no database.
    let shortest = functions
        .iter()
        .filter(|(name, _)| name != "FallbackFunction")
        .map(|(_, s)| *s)
        .chain([global])
        .min()
        .unwrap_or(global);
    assert!(
        config.operation_timeout * SEQUENTIAL_CALLS < Duration::from_secs(shortest),
        "{:?} per call vs a {shortest} s function timeout ({functions:?})",
        config.operation_timeout
    );
}

#[tokio::test]
async fn a_strangers_request_makes_the_owners_first_read_and_touches_no_message() {
    let api = Api::start().await;
    let is_message = |sk: &String| sk.starts_with("M#");
    for (name, method, path, body) in routes() {
        api.proxy.reset_counts();
        let reply = api.call("stranger", method, path, body.clone()).await;
        assert_eq!(
            (reply.status, &reply.body["code"]),
            (404, &json!("JOB_NOT_FOUND")),
            "{name}"
        );
        assert_eq!(api.proxy.operations(), ["BatchGetItem"], "{name}");
        let stranger_keys = api.proxy.sort_keys();
        assert!(
            !stranger_keys.iter().any(is_message),
            "{name}: no message item is read ({stranger_keys:?})"
        );
        // The owner's request starts with the very same read, then does its work.
        api.proxy.reset_counts();
        let reply = api.call(OWNER, method, path, body).await;
        assert!(reply.status < 300, "{name}: {}", reply.text);
        assert_eq!(
            api.proxy.sort_keys()[..stranger_keys.len()],
            stranger_keys[..],
            "{name}: owner and stranger ask the same first read"
        );
        let then = match name {
            "list" | "summary" | "export" => "Query",
            "message" => "GetItem",
            "create" => "TransactWriteItems",
            _ => "UpdateItem",
        };
        assert_eq!(api.proxy.operations(), ["BatchGetItem", then], "{name}");
    }
}

/// Per template.yaml resource, the DynamoDB actions its policy allows on each table, read line
/// by line as `template_timeouts` does: a statement starts at `- Sid:`, lists its actions after
/// `Action:`, and names its table in `Resource` (`${JobsTableName}`, or the messages table).
fn template_permissions() -> BTreeMap<String, BTreeSet<(String, &'static str)>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    let mut allowed: BTreeMap<String, BTreeSet<(String, &'static str)>> = BTreeMap::new();
    let mut resource = String::new();
    let mut statement: (Vec<String>, Option<&'static str>) = (Vec::new(), None);
    let mut flush = |resource: &str, statement: &mut (Vec<String>, Option<&'static str>)| {
        if let (actions, Some(table)) = std::mem::take(statement) {
            let entry = allowed.entry(resource.to_owned()).or_default();
            entry.extend(actions.into_iter().map(|action| (action, table)));
        }
    };
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
            if !name.starts_with(' ') {
                flush(&resource, &mut statement);
                resource = name.to_owned();
            }
        }
        let trimmed = line.trim();
        if trimmed.starts_with("- Sid:") {
            flush(&resource, &mut statement);
        }
        let action = trimmed
            .strip_prefix("Action: dynamodb:")
            .or_else(|| trimmed.strip_prefix("- dynamodb:"));
        if let Some(action) = action {
            statement.0.push(action.to_owned());
        }
        if trimmed.contains("${JobsTableName}") {
            statement.1 = Some("jobs");
        } else if trimmed.contains("MessagesTable") {
            statement.1 = Some("messages");
        }
    }
    flush(&resource, &mut statement);
    allowed
}

/// The calls since the last reset as (IAM action, "jobs" | "messages").
fn made(proxy: &Proxy) -> BTreeSet<(String, &'static str)> {
    let config = testkit::config();
    let mut made = BTreeSet::new();
    for (operation, accesses) in proxy.calls() {
        for access in accesses {
            let kind = if access.table == config.jobs_table {
                "jobs"
            } else if access.table == config.messages_table {
                "messages"
            } else {
                panic!("{operation} on an unknown table {}", access.table)
            };
            made.insert((access.action, kind));
        }
    }
    made
}

#[tokio::test]
async fn every_dynamodb_call_of_a_route_is_one_its_function_may_make_in_template_yaml() {
    let allowed = template_permissions();
    let api = Api::start().await;
    let mut checked = BTreeSet::new();
    for (name, method, path, body) in routes() {
        let target = ROUTES
            .iter()
            .find(|route| route.target.name() == name)
            .unwrap_or_else(|| panic!("{name} is in the route table"))
            .target;
        let function = target.function().name();
        let resource = format!("{}{}Function", function[..1].to_uppercase(), &function[1..]);
        api.proxy.reset_counts();
        let reply = api.call(OWNER, method, path, body).await;
        assert!(reply.status < 300, "{name}: {}", reply.text);
        let calls = made(&api.proxy);
        assert!(!calls.is_empty(), "{name} calls DynamoDB");
        let policy = allowed.get(&resource).cloned().unwrap_or_default();
        let missing: Vec<_> = calls.difference(&policy).collect();
        assert!(
            missing.is_empty(),
            "{resource} may not make {missing:?} ({name})"
        );
        checked.insert(resource);
    }
    assert_eq!(
        checked.len(),
        4,
        "list, create, patch and clear: {checked:?}"
    );
    // The sweep stamps what the clear above hid.
    let deps = testkit::proxied_deps(&api.proxy).await;
    api.proxy.reset_counts();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    deps.store.sweep(deadline).await.expect("sweep");
    let calls = made(&api.proxy);
    assert!(
        calls.iter().any(|(action, _)| action == "UpdateItem"),
        "{calls:?}"
    );
    let policy = allowed.get("SweepFunction").cloned().unwrap_or_default();
    let missing: Vec<_> = calls.difference(&policy).collect();
    assert!(missing.is_empty(), "SweepFunction may not make {missing:?}");
}
