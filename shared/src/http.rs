//! HTTP plumbing shared by the handlers: reading requests as API Gateway delivers them and
//! writing every answer in the envelope of docs/api.md.

use lambda_http::http::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    LINK, RETRY_AFTER,
};
use std::future::Future;
use std::time::{Duration, SystemTime};

use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::error::{ApiError, RETRY_AFTER_SECONDS};
use crate::etag::{self, IfNoneMatch};
use crate::export::{self, Format};
use crate::history::{ExportPage, Read};
use crate::limits::MAX_BODY_BYTES;
use crate::metrics;
use crate::routes::{self, Target};
use crate::telemetry;
use crate::validate;

/// The caller, from the claims API Gateway's JWT authorizer put in the request context.
pub fn caller(req: &Request) -> Result<Caller, ApiError> {
    let Some(RequestContext::ApiGatewayV2(context)) = req.request_context_ref() else {
        return Err(ApiError::Unauthenticated);
    };
    context
        .authorizer
        .as_ref()
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .and_then(|jwt| Caller::from_claims(&jwt.claims))
        .ok_or(ApiError::Unauthenticated)
}

/// API Gateway's id for this request, echoed in errors so support can find the logs.
pub fn request_id(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
}

fn path_parameter(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
}

pub fn job_id(req: &Request) -> Result<String, ApiError> {
    let raw = path_parameter(req, "job_id").ok_or(ApiError::InvalidJobId)?;
    validate::job_id(&raw)
}

pub fn message_id(req: &Request) -> Result<String, ApiError> {
    let raw = path_parameter(req, "message_id").unwrap_or_default();
    validate::path_message_id(&raw)
}

pub fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The body as JSON text: within the size limit, declared as JSON, valid UTF-8.
pub fn json_body(req: &Request) -> Result<&str, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            field: "body",
            limit: MAX_BODY_BYTES,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson {
            message: "request body is required".into(),
            details: None,
        });
    }
    if !header(req, CONTENT_TYPE.as_str()).is_some_and(is_json_media_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    std::str::from_utf8(bytes).map_err(|_| ApiError::InvalidJson {
        message: "request body is not valid UTF-8".into(),
        details: None,
    })
}

/// The first value of a query string parameter.
pub fn query<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.query_string_parameters_ref()
        .and_then(|params| params.first(name))
}

pub fn list_query(req: &Request) -> Result<validate::ListQuery, ApiError> {
    validate::list_query(
        query(req, "limit"),
        query(req, "cursor"),
        query(req, "order"),
        query(req, "after"),
    )
}

#[derive(Serialize)]
struct ExportData<'a> {
    job_id: &'a str,
    exported_at: &'a str,
    messages: Vec<Box<RawValue>>,
    next_cursor: &'a Option<String>,
}

/// An export page as a download: JSON in the envelope (its `next_cursor` in the data), JSONL
/// and Markdown as they are, with a `Link: rel="next"` header while more follows.
pub fn export(req: &Request, page: ExportPage) -> Result<Response<Body>, ApiError> {
    let format = page.format;
    let mut response = match format {
        Format::Json => {
            let messages = page
                .items
                .into_iter()
                .map(export::raw)
                .collect::<Result<Vec<_>, _>>()?;
            success(
                200,
                &ExportData {
                    job_id: &page.job_id,
                    exported_at: &page.exported_at,
                    messages,
                    next_cursor: &page.next_cursor,
                },
            )
        }
        Format::Jsonl => text_response(page.items.concat(), format),
        Format::Markdown => {
            let title = export::markdown_title(&page.job_id, &page.exported_at);
            text_response(title + &page.items.concat(), format)
        }
    };
    let headers = response.headers_mut();
    let disposition = format!(
        "attachment; filename=\"quote-chat-{}.{}\"",
        page.job_id,
        format.extension()
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    if let Some(cursor) = &page.next_cursor {
        // The cursor is base64url and '.', safe in a query string as it is.
        let link = format!(
            "<{}?format={}&cursor={cursor}>; rel=\"next\"",
            req.uri().path(),
            format.query_value()
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(LINK, value);
        }
    }
    Ok(response)
}

fn text_response(body: String, format: Format) -> Response<Body> {
    let mut response = json_response(200, body);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

#[derive(Serialize)]
struct Success<'a, T> {
    success: bool,
    data: &'a T,
}

#[derive(Serialize)]
struct Failure<'a> {
    success: bool,
    error: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

fn json_response(status: u16, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `{"success": true, "data": ...}` with the given status.
pub fn success<T: Serialize>(status: u16, data: &T) -> Response<Body> {
    match serde_json::to_string(&Success {
        success: true,
        data,
    }) {
        Ok(body) => json_response(status, body),
        Err(err) => {
            tracing::error!(error = %err, "response did not serialize");
            failure(&ApiError::Internal, None)
        }
    }
}

/// The `If-None-Match` of a request.
pub fn if_none_match(req: &Request) -> Option<IfNoneMatch<'_>> {
    header(req, IF_NONE_MATCH.as_str()).map(IfNoneMatch)
}

/// The answer to a read: 200 with its tag, or 304 with no body when the client's copy is
/// current.
pub fn read<T: Serialize>(read: Read<T>) -> Response<Body> {
    let (mut response, etag) = match read {
        Read::Fresh { body, etag } => (success(200, &body), etag),
        Read::Unchanged { etag } => (not_modified(), Some(etag)),
    };
    if let Some(value) = etag.and_then(|tag| HeaderValue::from_str(&tag).ok()) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

fn not_modified() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    response
}

/// Gives a successful GET an `ETag` (a hash of its body, unless the read tagged it already) and
/// answers `304 Not Modified` with no body when `If-None-Match` names it, so a page polling a
/// chat costs little. Browsers may keep the answer and must revalidate it (`no-cache`), which
/// they do with the same header.
pub fn conditional_get(req: &Request, mut response: Response<Body>) -> Response<Body> {
    let status = response.status();
    if status != StatusCode::OK && status != StatusCode::NOT_MODIFIED {
        return response;
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if status == StatusCode::NOT_MODIFIED || response.headers().contains_key(ETAG) {
        return response;
    }
    let Body::Text(body) = response.body() else {
        return response;
    };
    let tag = etag::of_body(body.as_bytes());
    let Ok(value) = HeaderValue::from_str(&tag) else {
        return response;
    };
    response.headers_mut().insert(ETAG, value);
    if if_none_match(req).is_some_and(|known| known.names(&tag)) {
        *response.body_mut() = Body::Empty;
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response.headers_mut().remove(CONTENT_TYPE);
    }
    response
}

/// Adds `ETag: "<version>"`, the value a later `If-Match` takes.
pub fn with_etag(mut response: Response<Body>, version: u64) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(&etag::of_version(version)) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// The error envelope; never carries internals.
pub fn failure(err: &ApiError, request_id: Option<String>) -> Response<Body> {
    let body = Failure {
        success: false,
        error: err.to_string(),
        code: err.code(),
        details: err.details(),
        request_id,
    };
    let text = serde_json::to_string(&body).unwrap_or_else(|_| {
        String::from(r#"{"success":false,"error":"internal error","code":"INTERNAL_ERROR"}"#)
    });
    let mut response = json_response(err.status(), text);
    let headers = response.headers_mut();
    match err {
        ApiError::ServiceUnavailable => {
            headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        ApiError::MethodNotAllowed { allow } => {
            if let Ok(value) = HeaderValue::from_str(allow) {
                headers.insert(ALLOW, value);
            }
        }
        ApiError::PreconditionFailed { current_version } => {
            if let Ok(value) = HeaderValue::from_str(&format!("\"{current_version}\"")) {
                headers.insert(ETAG, value);
            }
        }
        _ => {}
    }
    response
}

/// Turns a handler's result into its response, logging failures by code (never content).
pub fn respond(req: &Request, result: Result<Response<Body>, ApiError>) -> Response<Body> {
    let id = request_id(req);
    let mut response = match result {
        Ok(response) => response,
        Err(err) => {
            if err.status() >= 500 {
                tracing::warn!(code = err.code(), status = err.status(), "request failed");
            } else {
                tracing::info!(code = err.code(), status = err.status(), "request refused");
            }
            failure(&err, id.clone())
        }
    };
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The header that carries API Gateway's request id on every answer (exposed to browsers).
pub const REQUEST_ID: &str = "x-request-id";

/// Kept back from Lambda's deadline so a slow request still answers 503 in the envelope,
/// instead of Lambda killing it and API Gateway answering its own 500.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Runs a handler's work within the time Lambda gives this invocation (no limit off Lambda, nor
/// under a deadline already past: see [`crate::lambda::time_left`]).
pub async fn before_deadline<F>(req: &Request, work: F) -> Result<Response<Body>, ApiError>
where
    F: Future<Output = Result<Response<Body>, ApiError>>,
{
    let Some(left) = req
        .lambda_context_ref()
        .and_then(|context| crate::lambda::time_left(context.deadline, SystemTime::now()))
    else {
        return work.await;
    };
    let budget = left.saturating_sub(DEADLINE_MARGIN);
    match tokio::time::timeout(budget, work).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                budget_ms = budget.as_millis() as u64,
                "request ran out of time"
            );
            Err(ApiError::ServiceUnavailable)
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/x-www-form-urlencoded"));
        assert!(!is_json_media_type(""));
    }

    #[tokio::test]
    async fn work_that_outlives_the_lambda_deadline_answers_503_in_time() {
        let mut context = lambda_http::Context::default();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        context.deadline = now_ms + 600;
        let req = crate::apigw::deliver(
            Request::default(),
            Default::default(),
            None,
            "req-slow".into(),
        )
        .with_lambda_context(context);
        let never = std::future::pending::<Result<Response<Body>, ApiError>>();
        let response = serve(&req, never).await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        assert_eq!(response.headers()[REQUEST_ID], "req-slow");
    }

    #[tokio::test]
    async fn off_lambda_there_is_no_deadline() {
        let req = Request::default();
        let done = async { Ok(success(200, &"ok")) };
        assert_eq!(serve(&req, done).await.status(), 200);
    }

    #[tokio::test]
    async fn a_deadline_already_past_as_cargo_lambda_sends_it_is_no_deadline() {
        let mut context = lambda_http::Context::default();
        context.deadline = 600_000;
        let req = Request::default().with_lambda_context(context);
        let done = async { Ok(success(200, &"ok")) };
        assert_eq!(serve(&req, done).await.status(), 200);
    }

    #[test]
    fn error_envelope_has_code_details_and_retry_after() {
        let response = failure(&ApiError::ServiceUnavailable, Some("req-1".into()));
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["success"], false);
        assert_eq!(v["code"], "SERVICE_UNAVAILABLE");
        assert_eq!(v["request_id"], "req-1");
    }
}
