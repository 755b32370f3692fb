//! Logging as Lambda expects it: JSON lines when the function's `LogFormat` is JSON (Lambda
//! then sets `AWS_LAMBDA_LOG_FORMAT=JSON`), readable text elsewhere; the level from Lambda's
//! `AWS_LAMBDA_LOG_LEVEL` (the function's `ApplicationLogLevel`), else `RUST_LOG`, else info.
//! Never content, metadata or tokens: only ids, codes and counts are logged.
//!
//! Every request runs in a [`request_span`], so each line it writes carries its request id
//! and the hash of its job ([`json`] says how, and keeps every other span field out).

use std::io::IsTerminal;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Registry};

#[cfg(test)]
pub(crate) mod capture;
pub mod json;

/// The log settings, read from the environment once per cold start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    pub json: bool,
    pub filter: String,
}

impl LogSettings {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let json = get("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
        let filter = get("AWS_LAMBDA_LOG_LEVEL")
            .and_then(|level| lambda_level(&level))
            .or_else(|| get("RUST_LOG"))
            .unwrap_or_else(|| "info".to_owned());
        Self { json, filter }
    }
}

/// Lambda's levels in tracing's words (`FATAL` has none: error is the closest).
fn lambda_level(level: &str) -> Option<String> {
    let level = match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => return None,
    };
    Some(level.to_owned())
}

pub fn init() {
    let settings = LogSettings::from_lookup(|name| std::env::var(name).ok());
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(json::Carry);
    let result = if settings.json {
        registry
            .with(fmt::layer().event_format(json::JsonLine))
            .try_init()
    } else {
        // Colours only for a person at a terminal: a file or a pipe gets plain text.
        let text = fmt::layer()
            .compact()
            .with_target(false)
            .with_ansi(std::io::stdout().is_terminal());
        registry.with(text).try_init()
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}

/// The span one request runs in: its id (Lambda's, or the local server's), the X-Ray trace it
/// was sampled into and its job's hash reach every line logged under it. At ERROR level so
/// that whatever level the filter lets through, the span is enabled too (a disabled span
/// carries nothing).
pub fn request_span(
    request_id: &str,
    trace_header: Option<&str>,
    job_id: Option<&str>,
) -> tracing::Span {
    let span = tracing::error_span!(
        "request",
        requestId = request_id,
        traceId = tracing::field::Empty,
        job = tracing::field::Empty
    );
    if let Some(trace_id) = trace_header.and_then(sampled_trace_id) {
        span.record("traceId", trace_id);
    }
    if let Some(job_id) = job_id {
        span.record("job", job_hash(job_id).as_str());
    }
    span
}

/// The trace id of an X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`) when the request was
/// sampled: only then does X-Ray keep a trace to look the id up in.
pub fn sampled_trace_id(header: &str) -> Option<&str> {
    let mut root = None;
    let mut sampled = false;
    for part in header.split(';') {
        match part.trim().split_once('=') {
            Some(("Root", id)) if !id.is_empty() => root = Some(id),
            Some(("Sampled", flag)) => sampled = flag == "1",
            _ => {}
        }
    }
    root.filter(|_| sampled)
}

/// A stable, non-reversible name for a job in logs: whom it belongs to stays out of them. Of
/// the id's lowercase form, the form the API reads it in, so both cases log the same job.
pub fn job_hash(job_id: &str) -> String {
    let digest = Sha256::digest(job_id.to_ascii_lowercase().as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// The request fields of the current span (request id, job hash), for JSON lines written
/// outside tracing (the EMF metrics line). Empty outside a request.
pub fn request_fields() -> Map<String, Value> {
    tracing::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<Registry>();
        let current = dispatch.current_span();
        registry
            .zip(current.id())
            .and_then(|(registry, id)| registry.span(id))
            .map(json::carried)
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> LogSettings {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        LogSettings::from_lookup(|name| map.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn lambda_settings_win_and_text_is_the_default() {
        assert_eq!(
            settings(&[]),
            LogSettings {
                json: false,
                filter: "info".into()
            }
        );
        let lambda = settings(&[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("RUST_LOG", "debug"),
        ]);
        assert_eq!(
            lambda,
            LogSettings {
                json: true,
                filter: "warn".into()
            }
        );
        assert_eq!(settings(&[("RUST_LOG", "debug")]).filter, "debug");
        assert_eq!(
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).filter,
            "error"
        );
        assert!(!settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).json);
    }

    #[test]
    fn a_trace_id_only_of_a_sampled_request() {
        let root = "1-65a50928-0123456789abcdef01234567";
        assert_eq!(
            sampled_trace_id(&format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1")),
            Some(root)
        );
        assert_eq!(
            sampled_trace_id(&format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=0")),
            None
        );
        assert_eq!(sampled_trace_id(&format!("Root={root}")), None);
        assert_eq!(sampled_trace_id("Sampled=1"), None);
        assert_eq!(sampled_trace_id(""), None);
    }

    #[test]
    fn request_fields_are_those_of_the_request_being_served() {
        let job = "5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42";
        capture::json(|| {
            assert!(request_fields().is_empty(), "outside a request");
            let _request = request_span("req-9", None, Some(job)).entered();
            let _inner = tracing::info_span!("patch", job_id = job).entered();
            let fields = request_fields();
            assert_eq!(fields["requestId"], "req-9");
            assert_eq!(fields["job"], job_hash(job));
            assert_eq!(fields.len(), 2, "{fields:?}");
        });
    }
}
