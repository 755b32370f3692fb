//! Conditional requests (RFC 9110 §13): the `ETag` of every read, `304 Not Modified` when the
//! client's copy is current, and the version tag a PATCH's `If-Match` takes. The tags
//! themselves are made in [`crate::etag`].

use lambda_http::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::envelope::success;
use super::request::if_none_match;
use crate::etag;
use crate::reads::Read;

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
