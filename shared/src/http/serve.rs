//! A handler's whole answer, the one entry point of every handler: its work within the Lambda
//! deadline, in the envelope, then one request log line and one metrics line.

use std::future::Future;

use lambda_http::{Body, Request, RequestExt, Response};

use super::deadline::before_deadline;
use super::envelope::respond;
use super::request::path_parameter;
use crate::error::ApiError;
use crate::metrics;
use crate::routes::{self, Target};
use crate::telemetry;

/// A handler's whole answer: its work, bounded by the Lambda deadline, in the envelope; then
/// one log line and one metrics line for it (ids, status, timing and cost — never content,
/// metadata or tokens).
pub async fn serve<F>(req: &Request, work: F) -> Response<Body>
where
    F: Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = std::time::Instant::now();
    let (result, cost) = metrics::measured(before_deadline(req, work)).await;
    let response = respond(req, result);
    let route = routes::target(req.method(), req.uri().path()).map_or("unrouted", Target::name);
    let record = metrics::RequestRecord {
        route,
        status: response.status().as_u16(),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        cold_start: metrics::is_cold_start(),
        cost: &cost,
    };
    tracing::info!(
        lambda_request_id = req.lambda_context_ref().map(|c| c.request_id.as_str()),
        route,
        status = record.status,
        latency_ms = record.latency_ms,
        cold_start = record.cold_start,
        dynamodb_requests = cost.dynamodb_calls,
        dynamodb_retries = cost.dynamodb_retries,
        capacity_units = cost.capacity_units,
        job = path_parameter(req, "job_id")
            .map(|id| telemetry::job_hash(&id))
            .as_deref(),
        "request"
    );
    metrics::publish(&record);
    response
}
