//! Logging as Lambda expects it: JSON lines when the function's `LogFormat` is JSON (Lambda
//! then sets `AWS_LAMBDA_LOG_FORMAT=JSON`), readable text elsewhere; the level from Lambda's
//! `AWS_LAMBDA_LOG_LEVEL` (the function's `ApplicationLogLevel`), else `RUST_LOG`, else info.
//! Never content, metadata or tokens: only ids, codes and counts are logged.

use tracing_subscriber::EnvFilter;

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if settings.json {
        // Span fields (raw job ids among them) stay out: the request line carries a hash.
        builder
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    } else {
        builder.compact().try_init()
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
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
}
