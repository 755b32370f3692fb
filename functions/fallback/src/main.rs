//! The fallback Lambda: wiring only. It needs no configuration and no AWS client.

use std::convert::Infallible;

use lambda_http::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    shared::lambda::run_http(service_fn(|req| async move {
        Ok::<_, Infallible>(fallback::handler(&req))
    }))
    .await
}
