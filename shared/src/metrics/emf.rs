//! The Embedded Metric Format (EMF): one JSON line on stdout per request (and one for the
//! sweep's report) that CloudWatch turns into metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::Snapshot;

/// The metrics' CloudWatch namespace unless `METRICS_NAMESPACE` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "QuoteChat";

/// The log line and metrics of one answered request.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord<'a> {
    pub route: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub cold_start: bool,
    pub cost: &'a Snapshot,
}

/// True exactly once per process: the first request after a cold start.
pub fn is_cold_start() -> bool {
    static SERVED: AtomicBool = AtomicBool::new(false);
    !SERVED.swap(true, Ordering::Relaxed)
}

fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| {
        std::env::var("METRICS_NAMESPACE")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
    })
}

/// EMF is for CloudWatch: only on Lambda.
pub fn emf_enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some())
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The EMF document of one request: dimensions route and status class.
pub fn emf(record: &RequestRecord<'_>, namespace: &str, now_ms: u64) -> Value {
    let status = record.status;
    let mut values: Vec<(&str, &str, f64)> = vec![
        ("Requests", "Count", 1.0),
        ("Latency", "Milliseconds", record.latency_ms),
        (
            "DynamoDBRequests",
            "Count",
            record.cost.dynamodb_calls as f64,
        ),
        (
            "DynamoDBRetries",
            "Count",
            record.cost.dynamodb_retries as f64,
        ),
        (
            "DynamoDBThrottles",
            "Count",
            record.cost.dynamodb_throttles as f64,
        ),
        ("ConsumedCapacity", "Count", record.cost.capacity_units),
        (
            "Conflicts",
            "Count",
            f64::from(u8::from(matches!(status, 409 | 412))),
        ),
        (
            "PayloadTooLarge",
            "Count",
            f64::from(u8::from(status == 413)),
        ),
        ("ColdStart", "Count", f64::from(u8::from(record.cold_start))),
    ];
    for (name, value) in &record.cost.extra {
        values.push((name, "Count", *value));
    }
    let dimensions = [
        ("Route", record.route),
        ("StatusClass", status_class(status)),
    ];
    document(namespace, &dimensions, &values, now_ms)
}

/// One EMF document: `values` (name, unit, value) under one metric set with `dimensions`.
fn document(
    namespace: &str,
    dimensions: &[(&str, &str)],
    values: &[(&str, &str, f64)],
    now_ms: u64,
) -> Value {
    let metrics: Vec<Value> = values
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
        .collect();
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [names], "Metrics": metrics}],
        }),
    );
    for (name, value) in dimensions {
        document.insert((*name).into(), (*value).into());
    }
    for (name, _, value) in values {
        document.insert((*name).into(), json!(value));
    }
    Value::Object(document)
}

/// An EMF document of plain values under one dimension-less metric set (the sweep's report).
pub fn emf_values(values: &[(&str, f64)], namespace: &str, now_ms: u64) -> Value {
    let values: Vec<(&str, &str, f64)> = values
        .iter()
        .map(|(name, value)| (*name, "Count", *value))
        .collect();
    document(namespace, &[], &values, now_ms)
}

/// Writes an EMF line of plain values (on Lambda).
pub fn publish_values(values: &[(&str, f64)]) {
    if emf_enabled() {
        println!("{}", of_request(emf_values(values, namespace(), now_ms())));
    }
}

/// The EMF document with the request id and job hash of the request being served, as every
/// log line of a request carries them (CloudWatch keeps them as searchable properties).
fn of_request(mut document: Value) -> Value {
    if let Value::Object(fields) = &mut document {
        fields.extend(crate::telemetry::request_fields());
    }
    document
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Writes the request's EMF line (on Lambda).
pub fn publish(record: &RequestRecord<'_>) {
    if emf_enabled() {
        println!("{}", of_request(emf(record, namespace(), now_ms())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_names_every_metric_it_carries_under_route_and_status_class() {
        let cost = Snapshot {
            dynamodb_calls: 2,
            dynamodb_retries: 1,
            dynamodb_throttles: 1,
            capacity_units: 4.5,
            extra: vec![("ClearedMessages", 15.0)],
        };
        let record = RequestRecord {
            route: "patch",
            status: 412,
            latency_ms: 12.5,
            cold_start: true,
            cost: &cost,
        };
        let doc = emf(&record, "QuoteChat/test", 1_700_000_000_000);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(directive["Namespace"], "QuoteChat/test");
        assert_eq!(directive["Dimensions"], json!([["Route", "StatusClass"]]));
        for dimension in ["Route", "StatusClass"] {
            assert!(doc[dimension].is_string(), "{dimension}");
        }
        assert_eq!(
            (&doc["Route"], &doc["StatusClass"]),
            (&json!("patch"), &json!("4xx"))
        );
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for name in &names {
            assert!(doc[*name].is_number(), "{name} has a value");
        }
        assert_eq!(doc["Conflicts"], 1.0);
        assert_eq!(doc["PayloadTooLarge"], 0.0);
        assert_eq!(doc["ConsumedCapacity"], 4.5);
        assert_eq!(doc["DynamoDBRetries"], 1.0);
        assert_eq!(doc["ClearedMessages"], 15.0);
        assert!(names.contains(&"ClearedMessages"));
    }

    #[test]
    fn plain_values_are_one_dimensionless_metric_set() {
        let doc = emf_values(&[("SweepBacklog", 2.0)], "N", 5);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "SweepBacklog"
        );
        assert_eq!(doc["SweepBacklog"], 2.0);
    }
}
