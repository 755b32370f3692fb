//! What every answer of the API must look like (API.md, openapi.yaml): a documented status, the
//! JSON envelope with `success` and, on errors, a documented `code` that fits the status.

use lambda_http::http::header::{ALLOW, CONTENT_DISPOSITION, CONTENT_TYPE, ETAG, RETRY_AFTER};
use lambda_http::{Body, Response};
use serde_json::Value;

/// Every status the API documents.
pub const STATUSES: [u16; 12] = [200, 201, 304, 400, 401, 404, 405, 409, 412, 413, 415, 503];

/// Every documented error code with its status.
pub const CODES: [(&str, u16); 15] = [
    ("INVALID_JSON", 400),
    ("VALIDATION_ERROR", 400),
    ("INVALID_JOB_ID", 400),
    ("INVALID_CURSOR", 400),
    ("UNAUTHENTICATED", 401),
    ("JOB_NOT_FOUND", 404),
    ("MESSAGE_NOT_FOUND", 404),
    ("NOT_FOUND", 404),
    ("NOTHING_TO_RESTORE", 404),
    ("METHOD_NOT_ALLOWED", 405),
    ("MESSAGE_ID_CONFLICT", 409),
    ("PRECONDITION_FAILED", 412),
    ("PAYLOAD_TOO_LARGE", 413),
    ("UNSUPPORTED_MEDIA_TYPE", 415),
    ("SERVICE_UNAVAILABLE", 503),
];

/// Content types of the export downloads (`format=jsonl|markdown`), the only answers that are
/// not the JSON envelope.
const DOWNLOADS: [&str; 2] = ["application/x-ndjson", "text/markdown; charset=utf-8"];

/// What a response turned out to be, for the properties' own checks.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The parsed envelope (`Value::Null` for a 304 or a download).
    pub body: Value,
    pub code: Option<String>,
}

fn header(
    response: &Response<Body>,
    name: impl lambda_http::http::header::AsHeaderName,
) -> Option<&str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Checks a response against the envelope; `Err` says what is wrong.
pub fn check(response: &Response<Body>, request_id: Option<&str>) -> Result<Answer, String> {
    let status = response.status().as_u16();
    if !STATUSES.contains(&status) {
        return Err(format!(
            "undocumented status {status}, body {:?}",
            text(response)
        ));
    }
    if let Some(id) = request_id {
        if header(response, "x-request-id") != Some(id) {
            return Err(format!(
                "x-request-id is {:?}, the request's id is {id:?}",
                header(response, "x-request-id")
            ));
        }
    }
    if status == 304 {
        if !matches!(response.body(), Body::Empty) {
            return Err("a 304 has a body".into());
        }
        if header(response, ETAG).is_none() {
            return Err("a 304 without ETag".into());
        }
        return Ok(Answer {
            status,
            body: Value::Null,
            code: None,
        });
    }
    let content_type = header(response, CONTENT_TYPE).unwrap_or_default();
    let Some(body) = text(response) else {
        return Err(format!(
            "status {status} with a body that is not UTF-8 text"
        ));
    };
    if content_type != "application/json" {
        if status == 200 && DOWNLOADS.contains(&content_type) {
            if !header(response, CONTENT_DISPOSITION).is_some_and(|d| d.starts_with("attachment;"))
            {
                return Err("a download without Content-Disposition: attachment".into());
            }
            return Ok(Answer {
                status,
                body: Value::Null,
                code: None,
            });
        }
        return Err(format!(
            "status {status} with Content-Type {content_type:?}, body {body:?}"
        ));
    }
    let value: Value = serde_json::from_str(&body)
        .map_err(|err| format!("status {status}: body is not JSON ({err}): {body:?}"))?;
    let Some(success) = value.get("success").and_then(Value::as_bool) else {
        return Err(format!("status {status}: no boolean `success` in {body}"));
    };
    if success != (status < 400) {
        return Err(format!("status {status} with success {success}: {body}"));
    }
    if success {
        if value.get("data").is_none() {
            return Err(format!("status {status}: success without `data`: {body}"));
        }
        return Ok(Answer {
            status,
            body: value,
            code: None,
        });
    }
    let Some(code) = value.get("code").and_then(Value::as_str) else {
        return Err(format!(
            "status {status}: error without a string `code`: {body}"
        ));
    };
    match CODES.iter().find(|(c, _)| *c == code) {
        None => return Err(format!("undocumented code {code}: {body}")),
        Some((_, expected)) if *expected != status => {
            return Err(format!(
                "code {code} with status {status} (documented: {expected})"
            ))
        }
        Some(_) => {}
    }
    if !value.get("error").is_some_and(Value::is_string) {
        return Err(format!("error without a string `error`: {body}"));
    }
    if value.get("details").is_some_and(|d| !d.is_object()) {
        return Err(format!("`details` is not an object: {body}"));
    }
    if let Some(id) = request_id {
        if value.get("request_id").and_then(Value::as_str) != Some(id) {
            return Err(format!("error body without request_id {id:?}: {body}"));
        }
    }
    let needs = match status {
        405 => Some(ALLOW),
        412 => Some(ETAG),
        503 => Some(RETRY_AFTER),
        _ => None,
    };
    if let Some(name) = needs {
        if header(response, &name).is_none_or(str::is_empty) {
            return Err(format!("{status} without its {name} header"));
        }
    }
    Ok(Answer {
        status,
        code: Some(code.to_owned()),
        body: value,
    })
}

fn text(response: &Response<Body>) -> Option<String> {
    match response.body() {
        Body::Text(text) => Some(text.clone()),
        Body::Binary(bytes) => String::from_utf8(bytes.clone()).ok(),
        Body::Empty => Some(String::new()),
        _ => None,
    }
}
