//! The list Lambda: wiring only, once per cold start.

use std::convert::Infallible;

use lambda_http::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = shared::Config::from_env()?;
    config.require_cursor_secret()?;
    let deps = config.deps().await;
    shared::lambda::run_http(service_fn(|req| async {
        Ok::<_, Infallible>(list::handler(&deps, req).await)
    }))
    .await
}
