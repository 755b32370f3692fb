//! `quote-chat-local`: the local API (`serve`), and helpers for developers (`token`, `job`).

use std::sync::Arc;

use local::cors::{Cors, DEFAULT_ORIGINS};
use local::jwt::{LocalJwt, DEFAULT_SECRET};
use local::server::{serve, LocalApi};
use local::setup::{ensure_tables, put_job, DEMO_JOB_ID, DEMO_OWNER};
use shared::store::dynamo::sweep::SweepReport;
use shared::store::dynamo::DynamoStore;
use shared::Config;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str =
    "usage: quote-chat-local [serve] | token USER [GROUP,...] | job OWNER [MEMBER...]";
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

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    shared::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let jwt = LocalJwt::new(&env_or("LOCAL_JWT_SECRET", DEFAULT_SECRET));
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => run_server(jwt).await,
        ["token", user] if !user.trim().is_empty() => print_token(&jwt, user, ""),
        ["token", user, groups] if !user.trim().is_empty() => print_token(&jwt, user, groups),
        ["job", owner, members @ ..] if !owner.trim().is_empty() => {
            let config = config()?;
            let client = config.dynamodb_client().await;
            ensure_tables(&client, &config.messages_table, &config.jobs_table).await?;
            let job_id = uuid::Uuid::new_v4().to_string();
            let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
            put_job(&client, &config.jobs_table, &job_id, owner, &members).await?;
            println!("{job_id}");
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}

fn print_token(jwt: &LocalJwt, user: &str, groups: &str) -> Result<(), BoxError> {
    let groups: Vec<String> = groups
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    println!("{}", jwt.token(user, &groups, TOKEN_TTL_SECONDS));
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

async fn run_server(jwt: LocalJwt) -> Result<(), BoxError> {
    let config = config()?;
    let deps = config.deps().await;
    ensure_tables(
        deps.store.client(),
        &config.messages_table,
        &config.jobs_table,
    )
    .await
    .map_err(|e| {
        format!(
            "cannot reach DynamoDB Local at {:?}: {e}",
            config.dynamodb_endpoint
        )
    })?;
    put_job(
        deps.store.client(),
        &config.jobs_table,
        DEMO_JOB_ID,
        DEMO_OWNER,
        &[],
    )
    .await?;

    let host = env_or("HOST", "127.0.0.1");
    let port = env_or("PORT", "3000");
    let listener = tokio::net::TcpListener::bind(format!("{host}:{port}")).await?;
    let address = listener.local_addr()?;
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
