//! The patch Lambda: wiring only, once per cold start.

use std::convert::Infallible;

use lambda_http::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let deps = shared::Config::from_env()?.deps().await;
    shared::lambda::run_http(service_fn(|req| async {
        Ok::<_, Infallible>(patch::handler(&deps, req).await)
    }))
    .await
}
