//! The routes of API.md, matched the way API Gateway matches them (trailing slash optional).
//! The local server routes with it; on AWS, API Gateway routes and the fallback Lambda uses it
//! to answer unknown paths and wrong methods in the API's envelope.

use lambda_http::http::Method;

use crate::error::ApiError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    List,
    Create,
    Clear,
    Patch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Found {
        target: Target,
        job_id: String,
        message_id: Option<String>,
    },
    /// A known path with a method it does not serve; `allow` lists those it does.
    WrongMethod {
        allow: &'static str,
    },
    /// A CORS preflight (any path).
    Preflight,
    NotFound,
}

pub const COLLECTION_METHODS: &str = "GET, POST, DELETE";
pub const ITEM_METHODS: &str = "PATCH";

pub fn route(method: &Method, path: &str) -> Route {
    // API Gateway answers preflights on every path, so a browser can read even a 404.
    if method == Method::OPTIONS {
        return Route::Preflight;
    }
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = trimmed.split('/').collect();
    match segments.as_slice() {
        ["", "api", "jobs", job_id, "quote-chat"] if !job_id.is_empty() => {
            let target = match *method {
                Method::GET => Target::List,
                Method::POST => Target::Create,
                Method::DELETE => Target::Clear,
                _ => {
                    return Route::WrongMethod {
                        allow: COLLECTION_METHODS,
                    }
                }
            };
            Route::Found {
                target,
                job_id: decode(job_id),
                message_id: None,
            }
        }
        ["", "api", "jobs", job_id, "quote-chat", message_id]
            if !job_id.is_empty() && !message_id.is_empty() =>
        {
            match *method {
                Method::PATCH => Route::Found {
                    target: Target::Patch,
                    job_id: decode(job_id),
                    message_id: Some(decode(message_id)),
                },
                _ => Route::WrongMethod {
                    allow: ITEM_METHODS,
                },
            }
        }
        _ => Route::NotFound,
    }
}

/// The error for a request no route serves (API Gateway's `$default` route lands here).
pub fn unrouted(method: &Method, path: &str) -> ApiError {
    match route(method, path) {
        Route::WrongMethod { allow } => ApiError::MethodNotAllowed { allow },
        // API Gateway routes these to their functions, never to `$default`; should one arrive
        // anyway (a route left out of the template), say which methods the path serves.
        Route::Found { target, .. } => ApiError::MethodNotAllowed {
            allow: match target {
                Target::Patch => ITEM_METHODS,
                _ => COLLECTION_METHODS,
            },
        },
        Route::Preflight | Route::NotFound => ApiError::NotFound,
    }
}

/// Path parameters arrive percent-decoded, as API Gateway passes them.
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_and_without_trailing_slash() {
        let found = |target, message_id: Option<&str>| Route::Found {
            target,
            job_id: "j".into(),
            message_id: message_id.map(str::to_owned),
        };
        assert_eq!(
            route(&Method::GET, "/api/jobs/j/quote-chat/"),
            found(Target::List, None)
        );
        assert_eq!(
            route(&Method::GET, "/api/jobs/j/quote-chat"),
            found(Target::List, None)
        );
        assert_eq!(
            route(&Method::POST, "/api/jobs/j/quote-chat"),
            found(Target::Create, None)
        );
        assert_eq!(
            route(&Method::DELETE, "/api/jobs/j/quote-chat/"),
            found(Target::Clear, None)
        );
        assert_eq!(
            route(&Method::PATCH, "/api/jobs/j/quote-chat/m%3A1/"),
            found(Target::Patch, Some("m:1"))
        );
        assert_eq!(
            route(&Method::PATCH, "/api/jobs/j/quote-chat/m"),
            found(Target::Patch, Some("m"))
        );
    }

    #[test]
    fn wrong_methods_preflights_and_unknown_paths() {
        assert_eq!(
            route(&Method::PUT, "/api/jobs/j/quote-chat/"),
            Route::WrongMethod {
                allow: COLLECTION_METHODS
            }
        );
        assert_eq!(
            route(&Method::GET, "/api/jobs/j/quote-chat/m"),
            Route::WrongMethod {
                allow: ITEM_METHODS
            }
        );
        assert_eq!(
            route(&Method::OPTIONS, "/api/jobs/j/quote-chat/"),
            Route::Preflight
        );
        assert_eq!(
            route(&Method::GET, "/api/jobs//quote-chat/"),
            Route::NotFound
        );
        assert_eq!(
            route(&Method::GET, "/api/jobs/j/quote-chat/m/x"),
            Route::NotFound
        );
        assert_eq!(route(&Method::GET, "/"), Route::NotFound);
    }
}
