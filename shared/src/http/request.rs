//! Reading a request as API Gateway delivers it: the caller, the path's ids, headers, the
//! query and the JSON body.

use lambda_http::http::header::{CONTENT_TYPE, IF_NONE_MATCH};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::etag::IfNoneMatch;
use crate::ids::{JobId, MessageId};
use crate::limits::MAX_BODY_BYTES;
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

pub(crate) fn path_parameter(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
}

pub fn job_id(req: &Request) -> Result<JobId, ApiError> {
    let raw = path_parameter(req, "job_id").ok_or(ApiError::InvalidJobId)?;
    validate::job_id(&raw)
}

pub fn message_id(req: &Request) -> Result<MessageId, ApiError> {
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
    // A declared type that is not JSON is refused whatever the body; no type at all is only
    // refused once there is a body to read (an empty one is simply missing).
    let content_type = header(req, CONTENT_TYPE.as_str());
    if content_type.is_some_and(|declared| !is_json_media_type(declared)) {
        return Err(ApiError::UnsupportedMediaType);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson {
            message: "request body is required".into(),
            details: None,
        });
    }
    if content_type.is_none() {
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

/// The `If-None-Match` of a request.
pub fn if_none_match(req: &Request) -> Option<IfNoneMatch<'_>> {
    header(req, IF_NONE_MATCH.as_str()).map(IfNoneMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/x-www-form-urlencoded"));
        assert!(!is_json_media_type(""));
    }
}
