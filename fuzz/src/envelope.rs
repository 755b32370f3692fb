//! What every answer of the API must look like (docs/api.md, openapi.yaml): a documented status, the
//! JSON envelope with `success` and, on errors, a documented `code` that fits the status.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use lambda_http::http::header::{ALLOW, CONTENT_DISPOSITION, CONTENT_TYPE, ETAG, RETRY_AFTER};
use lambda_http::{Body, Response};
use serde_json::Value;
use serde_norway::Value as Yaml;

/// What openapi.yaml documents, which every answer is held to: read from the document, not
/// from the code, so that the code drifting from it fails here.
pub struct Documented {
    /// Every status of a documented response but 500: no input may cause one.
    pub statuses: BTreeSet<u16>,
    /// Every error code with its status (the `Error<status>` schemas).
    pub codes: BTreeMap<String, u16>,
}

/// openapi.yaml's statuses and error codes, read once.
pub fn documented() -> &'static Documented {
    static DOCUMENTED: OnceLock<Documented> = OnceLock::new();
    DOCUMENTED.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let spec: Yaml =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("openapi.yaml: {e}"));
        let status = |key: &Yaml| -> Option<u16> {
            match key {
                Yaml::String(text) => text.parse().ok(),
                Yaml::Number(number) => number.as_u64().and_then(|n| u16::try_from(n).ok()),
                _ => None,
            }
        };
        let mut statuses = BTreeSet::new();
        for operations in spec["paths"]
            .as_mapping()
            .into_iter()
            .flat_map(|m| m.values())
        {
            for operation in operations.as_mapping().into_iter().flat_map(|m| m.values()) {
                let responses = operation["responses"].as_mapping();
                statuses.extend(
                    responses
                        .into_iter()
                        .flat_map(|m| m.keys())
                        .filter_map(status),
                );
            }
        }
        statuses.remove(&500);
        let mut codes = BTreeMap::new();
        let schemas = spec["components"]["schemas"].as_mapping();
        for (name, schema) in schemas.into_iter().flatten() {
            let Some(status) = name.as_str().and_then(|n| n.strip_prefix("Error")) else {
                continue;
            };
            let Ok(status) = status.parse::<u16>() else {
                continue;
            };
            let parts = schema["allOf"].as_sequence().into_iter().flatten();
            for code in parts.filter_map(|part| part["properties"]["code"]["enum"].as_sequence()) {
                for code in code.iter().filter_map(Yaml::as_str) {
                    codes.insert(code.to_owned(), status);
                }
            }
        }
        assert!(
            statuses.contains(&200) && codes.contains_key("VALIDATION_ERROR"),
            "openapi.yaml no longer has the shape this reads"
        );
        Documented { statuses, codes }
    })
}

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
    if !documented().statuses.contains(&status) {
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
    match documented().codes.get(code) {
        None => return Err(format!("undocumented code {code}: {body}")),
        Some(expected) if *expected != status => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_yaml_gives_every_status_and_code_with_its_status() {
        let documented = documented();
        assert_eq!(documented.codes.get("PAYLOAD_TOO_LARGE"), Some(&413));
        assert_eq!(documented.codes.get("SERVICE_UNAVAILABLE"), Some(&503));
        assert!(documented.statuses.contains(&304));
        assert!(!documented.statuses.contains(&500));
    }
}
