//! The envelope of docs/api.md around every answer: `{"success": true, "data": ...}`, or the
//! error with its code, details and request id (never internals).

use lambda_http::http::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, RETRY_AFTER,
};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use super::request::request_id;
use crate::error::{ApiError, RETRY_AFTER_SECONDS};

/// The header that carries API Gateway's request id on every answer (exposed to browsers).
pub const REQUEST_ID: &str = "x-request-id";

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

pub(crate) fn json_response(status: u16, body: String) -> Response<Body> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
