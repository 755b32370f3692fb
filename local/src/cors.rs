//! CORS for the local server, as API Gateway's CORS configuration answers it when deployed:
//! allowed origins get the headers on every response, errors included, and preflights succeed.

use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, VARY,
};
use http::HeaderMap;

pub const ALLOW_METHODS: &str = "GET, POST, DELETE, PATCH, OPTIONS";
pub const ALLOW_HEADERS: &str = "authorization, content-type, if-match, if-none-match";
/// Headers a browser script may read: versions for If-Match, back-off for 503, the export's
/// file name and next page.
pub const EXPOSE_HEADERS: &str =
    "etag, retry-after, x-request-id, allow, content-disposition, link";
pub const DEFAULT_ORIGINS: &str = "http://localhost:5173,http://127.0.0.1:5173";

#[derive(Clone, Debug)]
pub struct Cors {
    any: bool,
    origins: Vec<String>,
}

impl Cors {
    /// `ALLOWED_ORIGINS`: comma-separated origins, or `*` for any.
    pub fn new(allowed: &str) -> Self {
        let origins: Vec<String> = allowed
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        Self {
            any: origins.iter().any(|o| o == "*"),
            origins,
        }
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.any || self.origins.iter().any(|o| o == origin)
    }

    /// Adds the headers for `origin` (when allowed) to any response.
    pub fn decorate(&self, origin: Option<&str>, headers: &mut HeaderMap, preflight: bool) {
        headers.append(VARY, HeaderValue::from_static("origin"));
        let Some(origin) = origin.filter(|o| self.allows(o)) else {
            return;
        };
        let Ok(value) = HeaderValue::from_str(origin) else {
            return;
        };
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
        if preflight {
            headers.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            headers.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_get_headers() {
        let cors = Cors::new("http://localhost:5173, https://app.example.com/");
        let mut headers = HeaderMap::new();
        cors.decorate(Some("https://app.example.com"), &mut headers, true);
        assert_eq!(
            headers[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert!(headers.contains_key(ACCESS_CONTROL_ALLOW_METHODS));
        let mut headers = HeaderMap::new();
        cors.decorate(Some("https://evil.example"), &mut headers, false);
        assert!(!headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        assert!(Cors::new("*").allows("http://anything"));
    }
}
