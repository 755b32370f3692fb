//! The routes of docs/api.md: [`ROUTES`] is their one declaration. The local server and the
//! functions route with it, matched the way API Gateway's HTTP API matches (trailing slash
//! optional; a literal segment beats a `{parameter}`); the fallback Lambda uses it to answer
//! unknown paths and wrong methods in the API's envelope; tests hold template.yaml,
//! openapi.yaml and the CORS methods against it.

use lambda_http::http::Method;
use percent_encoding::percent_decode_str;

use crate::error::ApiError;

/// What a route does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    List,
    Create,
    Clear,
    Patch,
    /// GET of one message.
    Message,
    Summary,
    Export,
    Restore,
}

/// The Lambda functions that serve routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    List,
    Create,
    Clear,
    Patch,
}

impl Target {
    /// The route's name in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Create => "create",
            Self::Clear => "clear",
            Self::Patch => "patch",
            Self::Message => "message",
            Self::Summary => "summary",
            Self::Export => "export",
            Self::Restore => "restore",
        }
    }

    pub fn function(self) -> Function {
        match self {
            Self::List | Self::Message | Self::Summary | Self::Export => Function::List,
            Self::Create => Function::Create,
            Self::Clear | Self::Restore => Function::Clear,
            Self::Patch => Function::Patch,
        }
    }
}

impl Function {
    /// The function's name: its crate directory, binary and template resource prefix.
    pub fn name(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Create => "create",
            Self::Clear => "clear",
            Self::Patch => "patch",
        }
    }
}

/// One route: method, path template (without the optional trailing slash), what it does.
#[derive(Clone, Copy, Debug)]
pub struct RouteDef {
    pub method: &'static str,
    pub path: &'static str,
    pub target: Target,
}

const fn def(method: &'static str, path: &'static str, target: Target) -> RouteDef {
    RouteDef {
        method,
        path,
        target,
    }
}

pub const ROUTES: &[RouteDef] = &[
    def("GET", "/api/jobs/{job_id}/quote-chat", Target::List),
    def("POST", "/api/jobs/{job_id}/quote-chat", Target::Create),
    def("DELETE", "/api/jobs/{job_id}/quote-chat", Target::Clear),
    def(
        "PATCH",
        "/api/jobs/{job_id}/quote-chat/{message_id}",
        Target::Patch,
    ),
    // A literal segment beats the parameter: GET of `summary` or `export` is that route, so
    // messages of those two names are read through the list.
    def(
        "GET",
        "/api/jobs/{job_id}/quote-chat/{message_id}",
        Target::Message,
    ),
    def(
        "GET",
        "/api/jobs/{job_id}/quote-chat/summary",
        Target::Summary,
    ),
    def(
        "GET",
        "/api/jobs/{job_id}/quote-chat/export",
        Target::Export,
    ),
    def(
        "POST",
        "/api/jobs/{job_id}/quote-chat/restore",
        Target::Restore,
    ),
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Found {
        target: Target,
        job_id: String,
        message_id: Option<String>,
    },
    /// A known path with a method it does not serve; `allow` lists those it does.
    WrongMethod {
        allow: String,
    },
    /// A CORS preflight (any path).
    Preflight,
    NotFound,
}

/// Path parameters by name.
type Params = Vec<(&'static str, String)>;

/// Path parameters of `path` if it matches `template`, and how specific the match is (its
/// literal segments).
fn matches(template: &'static str, path: &str) -> Option<(usize, Params)> {
    let template_segments = template.split('/');
    let path_segments: Vec<&str> = path.split('/').collect();
    if template.split('/').count() != path_segments.len() {
        return None;
    }
    let mut literals = 0;
    let mut params = Vec::new();
    for (pattern, segment) in template_segments.zip(path_segments) {
        match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(_) if segment.is_empty() => return None,
            Some(name) => params.push((name, decode(segment))),
            None if pattern == segment => literals += 1,
            None => return None,
        }
    }
    Some((literals, params))
}

pub fn route(method: &Method, path: &str) -> Route {
    // API Gateway answers preflights on every path, so a browser can read even a 404.
    if method == Method::OPTIONS {
        return Route::Preflight;
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    let candidates: Vec<(&RouteDef, usize, Params)> = ROUTES
        .iter()
        .filter_map(|def| matches(def.path, path).map(|(rank, params)| (def, rank, params)))
        .collect();
    if candidates.is_empty() {
        return Route::NotFound;
    }
    let best = candidates
        .iter()
        .filter(|(def, _, _)| def.method == method.as_str())
        .max_by_key(|(_, rank, _)| *rank);
    match best {
        Some((def, _, params)) => {
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            };
            Route::Found {
                target: def.target,
                job_id: param("job_id").unwrap_or_default(),
                message_id: param("message_id"),
            }
        }
        None => {
            let mut allow: Vec<&str> = Vec::new();
            for (def, _, _) in &candidates {
                if !allow.contains(&def.method) {
                    allow.push(def.method);
                }
            }
            Route::WrongMethod {
                allow: allow.join(", "),
            }
        }
    }
}

/// What a function's request is for; the function reads its own route off the request, as
/// API Gateway sends several routes to one function.
pub fn target(method: &Method, path: &str) -> Option<Target> {
    match route(method, path) {
        Route::Found { target, .. } => Some(target),
        _ => None,
    }
}

/// The error for a request no route serves (API Gateway's `$default` route lands here).
pub fn unrouted(method: &Method, path: &str) -> ApiError {
    match route(method, path) {
        Route::WrongMethod { allow } => ApiError::MethodNotAllowed { allow },
        // API Gateway routes these to their functions, never to `$default`; should one arrive
        // anyway (a route left out of the template), say which methods the path serves.
        Route::Found { .. } => {
            let path = path.strip_suffix('/').unwrap_or(path);
            let mut allow: Vec<&str> = Vec::new();
            for def in ROUTES.iter().filter(|d| matches(d.path, path).is_some()) {
                if !allow.contains(&def.method) {
                    allow.push(def.method);
                }
            }
            ApiError::MethodNotAllowed {
                allow: allow.join(", "),
            }
        }
        Route::Preflight | Route::NotFound => ApiError::NotFound,
    }
}

/// Every method some route serves (for CORS).
pub fn methods() -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = Vec::new();
    for def in ROUTES {
        if !methods.contains(&def.method) {
            methods.push(def.method);
        }
    }
    methods
}

/// Path parameters arrive percent-decoded, as API Gateway passes them.
fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(target: Target, message_id: Option<&str>) -> Route {
        Route::Found {
            target,
            job_id: "j".into(),
            message_id: message_id.map(str::to_owned),
        }
    }

    #[test]
    fn routes_with_and_without_trailing_slash() {
        for (method, path, target, message_id) in [
            (Method::GET, "/api/jobs/j/quote-chat/", Target::List, None),
            (Method::GET, "/api/jobs/j/quote-chat", Target::List, None),
            (Method::POST, "/api/jobs/j/quote-chat", Target::Create, None),
            (
                Method::DELETE,
                "/api/jobs/j/quote-chat/",
                Target::Clear,
                None,
            ),
            (
                Method::PATCH,
                "/api/jobs/j/quote-chat/m%3A1/",
                Target::Patch,
                Some("m:1"),
            ),
            (
                Method::PATCH,
                "/api/jobs/j/quote-chat/m",
                Target::Patch,
                Some("m"),
            ),
            (
                Method::GET,
                "/api/jobs/j/quote-chat/summary/",
                Target::Summary,
                None,
            ),
            (
                Method::GET,
                "/api/jobs/j/quote-chat/export",
                Target::Export,
                None,
            ),
            (
                Method::POST,
                "/api/jobs/j/quote-chat/restore/",
                Target::Restore,
                None,
            ),
        ] {
            assert_eq!(
                route(&method, path),
                found(target, message_id),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn messages_named_like_the_new_routes_are_still_patched() {
        for name in ["summary", "export", "restore"] {
            let path = format!("/api/jobs/j/quote-chat/{name}/");
            assert_eq!(
                route(&Method::PATCH, &path),
                found(Target::Patch, Some(name))
            );
        }
    }

    #[test]
    fn a_message_is_read_by_get_unless_a_literal_route_has_its_name() {
        assert_eq!(
            route(&Method::GET, "/api/jobs/j/quote-chat/m-1/"),
            found(Target::Message, Some("m-1"))
        );
        assert_eq!(
            route(&Method::GET, "/api/jobs/j/quote-chat/restore"),
            found(Target::Message, Some("restore")),
            "only POST is the restore route"
        );
        assert_eq!(
            route(&Method::GET, "/api/jobs/j/quote-chat/summary"),
            found(Target::Summary, None)
        );
    }

    #[test]
    fn wrong_methods_preflights_and_unknown_paths() {
        let wrong = |allow: &str| Route::WrongMethod {
            allow: allow.to_owned(),
        };
        assert_eq!(
            route(&Method::PUT, "/api/jobs/j/quote-chat/"),
            wrong("GET, POST, DELETE")
        );
        assert_eq!(
            route(&Method::PUT, "/api/jobs/j/quote-chat/m"),
            wrong("PATCH, GET")
        );
        assert_eq!(
            route(&Method::POST, "/api/jobs/j/quote-chat/summary"),
            wrong("PATCH, GET")
        );
        assert_eq!(
            route(&Method::DELETE, "/api/jobs/j/quote-chat/restore"),
            wrong("PATCH, GET, POST")
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

    #[test]
    fn every_target_has_one_route() {
        for target in [
            Target::List,
            Target::Create,
            Target::Clear,
            Target::Patch,
            Target::Message,
            Target::Summary,
            Target::Export,
            Target::Restore,
        ] {
            assert_eq!(ROUTES.iter().filter(|d| d.target == target).count(), 1);
        }
    }
}
