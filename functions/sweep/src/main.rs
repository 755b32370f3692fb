//! The sweep Lambda: wiring only, once per cold start.

use std::time::{Instant, SystemTime};

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let deps = shared::Config::from_env()?.deps().await;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let stop = sweep::stop_at(event.context.deadline, SystemTime::now(), Instant::now());
        let span = shared::telemetry::request_span(
            &event.context.request_id,
            event.context.xray_trace_id.as_deref(),
            None,
        );
        let store = &deps.store;
        async move { sweep::handler(store, stop).await.map_err(Error::from) }.instrument(span)
    }))
    .await
}
