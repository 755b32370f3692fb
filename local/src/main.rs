//! `quote-chat-local`: the local API (`serve`), and helpers for developers (`token`, `job`,
//! and `demo`: the tables and the demo job that `serve` creates, for `make invoke`).

use std::sync::Arc;

use local::cors::{Cors, DEFAULT_ORIGINS};
use local::jwt::{LocalJwt, DEFAULT_SECRET};
use local::server::{serve, LocalApi};
use setup::{check_dynamodb, ensure_tables, names, put_job, Unusable, DEMO_JOB_ID, DEMO_OWNER};
use shared::store::dynamo::sweep::SweepReport;
use shared::store::dynamo::DynamoStore;
use shared::Config;
use std::process::ExitCode;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str =
    "usage: quote-chat-local [serve] | demo | token USER [GROUPS] | job OWNER [MEMBERS]
  (GROUPS and MEMBERS: names separated by commas or spaces)";
/// Tokens printed for developers last a working day.
const TOKEN_TTL_SECONDS: i64 = 12 * 3600;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn config() -> Result<Config, BoxError> {
    let mut config = Config::from_env()?;
    if config.dynamodb_endpoint.is_none() {
        let port = env_or("DYNAMODB_PORT", "8000");
        config.dynamodb_endpoint = Some(format!("http://127.0.0.1:{port}"));
    }
    Ok(config)
}

/// `host:port` of the DynamoDB endpoint, and its port.
fn place(endpoint: &str) -> (String, Option<u16>) {
    let place = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .trim_end_matches('/')
        .to_owned();
    let port = place.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
    (place, port)
}

/// What a developer reads when DynamoDB Local cannot be used: the address, and what to do.
fn unusable(endpoint: &str, problem: &Unusable, command: &str) -> String {
    let (place, port) = place(endpoint);
    let other = port.map_or(8001, |p| p.saturating_add(1));
    // `job` and `demo` use the DynamoDB Local of a running `make run`; `serve` is `make run`.
    let again = match command {
        "demo" => "make invoke FN=… EVENT=…",
        _ => "make job OWNER=…",
    };
    match (problem, command) {
        (Unusable::Unreachable, "job" | "demo") => format!(
            "cannot reach DynamoDB Local on {place} — is `make run` running? (If it runs with \
             another DYNAMODB_PORT, give the same one: DYNAMODB_PORT=… {again})"
        ),
        (Unusable::Unreachable, _) => format!(
            "cannot reach DynamoDB Local on {place}: nothing answers there. `make run` starts it \
             with the server; run alone, the server needs one already running (DYNAMODB_PORT or \
             DYNAMODB_ENDPOINT)."
        ),
        (Unusable::NotDynamoDb { .. }, "job" | "demo") => format!(
            "another server answers on {place}, not DynamoDB Local ({problem}) — is `make run` \
             running on another DYNAMODB_PORT? Give the one it printed: DYNAMODB_PORT=… {again}"
        ),
        (Unusable::NotDynamoDb { .. }, _) => format!(
            "{place} is taken by another server, not DynamoDB Local ({problem}): stop that \
             server, or run DynamoDB Local on another port: DYNAMODB_PORT={other} make run"
        ),
        (Unusable::Failed(_), _) => format!("DynamoDB Local on {place}: {problem}"),
    }
}

/// Fails, saying what to do, unless the endpoint is DynamoDB (Local).
async fn usable(
    config: &Config,
    client: &aws_sdk_dynamodb::Client,
    command: &str,
) -> Result<(), BoxError> {
    let endpoint = config.dynamodb_endpoint.as_deref().unwrap_or("DynamoDB");
    check_dynamodb(client)
        .await
        .map_err(|problem| unusable(endpoint, &problem, command).into())
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let jwt = LocalJwt::new(&env_or("LOCAL_JWT_SECRET", DEFAULT_SECRET));
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => run_server(jwt).await,
        ["demo"] => {
            let config = config()?;
            let client = config.dynamodb_client().await;
            usable(&config, &client, "demo").await?;
            demo_tables(&client, &config).await
        }
        ["token", user] if !user.trim().is_empty() => print_token(&jwt, user, ""),
        ["token", user, groups] if !user.trim().is_empty() => print_token(&jwt, user, groups),
        ["job", owner, members @ ..] if !owner.trim().is_empty() => {
            let config = config()?;
            let client = config.dynamodb_client().await;
            usable(&config, &client, "job").await?;
            ensure_tables(&client, &config.messages_table, &config.jobs_table).await?;
            let job_id = uuid::Uuid::new_v4().to_string();
            let members = names(members.iter().copied());
            put_job(&client, &config.jobs_table, &job_id, owner.trim(), &members).await?;
            println!("{job_id}");
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}

/// The tables, and the demo job owned by the demo user (what the events in `events/` name).
async fn demo_tables(client: &aws_sdk_dynamodb::Client, config: &Config) -> Result<(), BoxError> {
    ensure_tables(client, &config.messages_table, &config.jobs_table).await?;
    put_job(client, &config.jobs_table, DEMO_JOB_ID, DEMO_OWNER, &[]).await
}

fn print_token(jwt: &LocalJwt, user: &str, groups: &str) -> Result<(), BoxError> {
    let groups = names([groups]);
    println!("{}", jwt.token(user.trim(), &groups, TOKEN_TTL_SECONDS));
    Ok(())
}

/// How often the local server runs the background sweep that the sweep function runs every
/// minute on AWS (`SWEEP_INTERVAL_SECONDS`, default 10), so a cleared chat's expiry is
/// finished within a minute here too.
fn sweep_interval() -> Result<Duration, BoxError> {
    let seconds: u64 = env_or("SWEEP_INTERVAL_SECONDS", "10")
        .parse()
        .map_err(|_| "SWEEP_INTERVAL_SECONDS must be a whole number of seconds")?;
    Ok(Duration::from_secs(seconds.max(1)))
}

async fn sweep_forever(store: DynamoStore, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        let stop = Instant::now() + interval;
        match store.sweep(stop).await {
            Ok(report) if report == SweepReport::default() => {}
            Ok(report) => tracing::info!(?report, "sweep run"),
            Err(err) => tracing::warn!(error = %err, "sweep run failed; the next one retries"),
        }
    }
}

/// The API's listener; a port in use is named, with what to do.
async fn listen() -> Result<tokio::net::TcpListener, BoxError> {
    let host = env_or("HOST", "127.0.0.1");
    let text = env_or("PORT", "3000");
    let port: u16 = text
        .parse()
        .map_err(|_| format!("PORT must be a port number, not {text:?}"))?;
    tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|err| {
            let other = port.saturating_add(1);
            match err.kind() {
                std::io::ErrorKind::AddrInUse => format!(
                    "port {port} is already in use on {host} (another `make run`?): stop what \
                     listens there, or choose another port: PORT={other} make run"
                ),
                _ => format!("cannot listen on {host}:{port}: {err}"),
            }
            .into()
        })
}

async fn run_server(jwt: LocalJwt) -> Result<(), BoxError> {
    // The port first: a busy one is said at once, before any table call.
    let listener = listen().await?;
    let address = listener.local_addr()?;
    let config = config()?;
    let deps = config.deps().await;
    usable(&config, deps.store.client(), "serve").await?;
    demo_tables(deps.store.client(), &config).await?;

    let token = jwt.token(DEMO_OWNER, &[], TOKEN_TTL_SECONDS);
    let cors = Cors::new(&env_or("ALLOWED_ORIGINS", DEFAULT_ORIGINS));
    let sweeper = deps.store.clone();
    let api = Arc::new(LocalApi { deps, jwt, cors });
    tokio::spawn(sweep_forever(sweeper, sweep_interval()?));

    println!(
        "quote-chat local API on http://{address} (DynamoDB Local at {})",
        config.dynamodb_endpoint.as_deref().unwrap_or("?")
    );
    println!(
        "demo job {DEMO_JOB_ID}, owned by {DEMO_OWNER}; a token for {DEMO_OWNER}, valid 12 h:"
    );
    println!();
    println!("  export TOKEN={token}");
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" http://{address}/api/jobs/{DEMO_JOB_ID}/quote-chat/"
    );
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n       -d '{{\"message_id\":\"user-1\",\"role\":\"user\",\"content\":\"3 stainless steel boxes\"}}' \\\n       http://{address}/api/jobs/{DEMO_JOB_ID}/quote-chat/"
    );
    println!();
    println!("Ctrl-C stops the server.");

    tokio::select! {
        result = serve(listener, api) => result?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    Ok(())
}
