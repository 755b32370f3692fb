//! The fallback Lambda: wiring only. It needs no configuration and no AWS client.

use std::convert::Infallible;

use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    run(service_fn(|req| async move {
        Ok::<_, Infallible>(fallback::handler(&req))
    }))
    .await
}
