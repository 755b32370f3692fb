//! Test kit for the integration tests: [`TestApi`] (the API through the handlers, one method
//! per route, one [`Reply`]), DynamoDB Local tables, jobs, the fault-injecting [`proxy`] (the
//! one way to count or fail DynamoDB requests), and a tiny HTTP client for the local server.

use std::sync::Arc;

use shared::config::Config;
use shared::ids::JobId;
use shared::store::dynamo::DynamoStore;
use shared::store::{Chat, ChatStore};
use shared::Deps;

mod api;
pub mod proxy;

pub use api::{seen_by_handlers, ApiRequest, Jobs, Reply, Seen, TestApi};
pub use shared::testing::{message_body, message_ids, OWNER};

/// The DynamoDB Local that `make test` started. Without it the tests fail rather than skip:
/// a passing run must have exercised the real database.
pub fn endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("DYNAMODB_ENDPOINT is not set: run the tests with `make test`, which starts DynamoDB Local")
    })
}

/// Configuration for this test process: its own tables on DynamoDB Local.
pub fn config() -> Config {
    let pid = std::process::id();
    let mut config = Config::from_lookup(|_| None).expect("defaults are valid");
    config.messages_table = format!("test-messages-{pid}");
    config.jobs_table = format!("test-jobs-{pid}");
    config.dynamodb_endpoint = Some(endpoint());
    config
}

/// Deps on DynamoDB Local, tables created if needed.
pub async fn dynamo_deps() -> Deps<DynamoStore> {
    setup::deps_on_own_tables(&config())
        .await
        .expect("tables on DynamoDB Local")
}

/// Deps whose production DynamoDB client (its timeouts and retry policy) goes through `proxy`;
/// the tables are this process's, as for [`dynamo_deps`].
pub async fn proxied_deps(proxy: &proxy::Proxy) -> Deps<DynamoStore> {
    dynamo_deps().await;
    let mut config = config();
    config.dynamodb_endpoint = Some(proxy.url());
    config.deps().await
}

/// A proxy in front of this process's DynamoDB Local and deps that use it.
pub async fn through_proxy() -> (proxy::Proxy, Deps<DynamoStore>) {
    let proxy = proxy::Proxy::start(&endpoint()).await;
    let deps = proxied_deps(&proxy).await;
    (proxy, deps)
}

/// Deps on tables of their own, named after `name`, through `proxy` if given. A sweep visits
/// every marked chat of its table and the sweep runs one at a time (as deployed), so a test
/// that sweeps must not share its table with other tests that clear and sweep meanwhile.
pub async fn own_tables(name: &str, proxy: Option<&proxy::Proxy>) -> Deps<DynamoStore> {
    let mut config = config();
    config.messages_table = format!("{}-{name}", config.messages_table);
    config.jobs_table = format!("{}-{name}", config.jobs_table);
    let direct = setup::deps_on_own_tables(&config)
        .await
        .expect("tables on DynamoDB Local");
    match proxy {
        Some(proxy) => {
            config.dynamodb_endpoint = Some(proxy.url());
            config.deps().await
        }
        None => direct,
    }
}

/// A new job (fresh id) owned by `owner` with `members` in this process's jobs table, for tests
/// without a [`TestApi`] (whose `new_job` is the same write on its own tables); returns its id.
pub async fn new_job(owner: &str, members: &[&str]) -> String {
    let config = config();
    let client = config.dynamodb_client().await;
    let job_id = uuid::Uuid::new_v4().to_string();
    let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    setup::put_job(&client, &config.jobs_table, &job_id, owner, &members)
        .await
        .expect("job written");
    job_id
}

/// A raw HTTP/1.1 exchange with the local server.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to local server");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    // The server may answer (413) before reading a large body and close; that is fine.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply::new(status, headers, body.to_owned())
}

/// Starts the local server on a free port over DynamoDB Local.
pub async fn start_local_server(
    allowed_origins: &str,
) -> (
    std::net::SocketAddr,
    Arc<local::server::LocalApi<DynamoStore>>,
) {
    start_local_server_with(dynamo_deps().await, allowed_origins).await
}

/// Starts the local server on a free port over the given deps (e.g. through a proxy).
pub async fn start_local_server_with(
    deps: Deps<DynamoStore>,
    allowed_origins: &str,
) -> (
    std::net::SocketAddr,
    Arc<local::server::LocalApi<DynamoStore>>,
) {
    let api = Arc::new(local::server::LocalApi {
        deps,
        jwt: local::jwt::LocalJwt::new("test-jwt-secret"),
        cors: local::cors::Cors::new(allowed_origins),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(local::server::serve(listener, api.clone()));
    (addr, api)
}

/// The repository's `events/` folder: API Gateway HTTP API (payload 2.0) sample events.
pub fn events_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("events")
}

/// The text of `events/<name>.json`, as `sam local invoke -e` would send it.
pub fn event_text(name: &str) -> String {
    let path = events_dir().join(format!("{name}.json"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// The sample event `name` with the demo job id replaced by `job_id`, so a test can aim it
/// at a job of its own.
pub fn event_for_job(name: &str, job_id: &str) -> String {
    let text = event_text(name);
    assert!(
        text.contains(setup::DEMO_JOB_ID),
        "events/{name}.json is expected to use the demo job {}",
        setup::DEMO_JOB_ID
    );
    text.replace(setup::DEMO_JOB_ID, job_id)
}

/// The chat of an existing job, as an operation opens it (the job and its head together).
pub async fn open_chat<S: ChatStore>(store: &S, job_id: &str) -> Chat {
    let job_id = JobId::parse(job_id).expect("a job id");
    let opened = store.read_chat(&job_id, None).await.expect("chat read");
    Chat {
        job: opened.job.expect("job exists"),
        head: opened.head.expect("a readable head"),
    }
}
