//! What one request cost and how it went, for its log line and for CloudWatch metrics in the
//! Embedded Metric Format (EMF): one JSON line on stdout that CloudWatch turns into metrics,
//! so measuring costs no API call.
//!
//! The DynamoDB client carries [`DynamoMeter`], which asks every call for its consumed capacity
//! and counts calls, attempts and throttles into the [`Meter`] of the request being served
//! (a task-local set by [`measured`]); calls outside a request are not counted.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::{
    batch_get_item, batch_write_item, get_item, put_item, query, transact_write_items, update_item,
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use serde_json::{json, Map, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The metrics' CloudWatch namespace unless `METRICS_NAMESPACE` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "QuoteChat";

tokio::task_local! {
    static CURRENT: Arc<Meter>;
}

/// Counters of one request.
#[derive(Debug, Default)]
pub struct Meter {
    calls: AtomicU64,
    attempts: AtomicU64,
    throttles: AtomicU64,
    /// Capacity units × 1000 (atomics hold integers).
    capacity_milli: AtomicU64,
    /// Measures an operation adds (a clear's size, a sweep's backlog).
    extra: Mutex<Vec<(&'static str, f64)>>,
}

/// A request's counters once it is done.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub dynamodb_calls: u64,
    /// Attempts beyond the first of each call (the SDK's retries).
    pub dynamodb_retries: u64,
    pub dynamodb_throttles: u64,
    pub capacity_units: f64,
    pub extra: Vec<(&'static str, f64)>,
}

impl Meter {
    fn snapshot(&self) -> Snapshot {
        let calls = self.calls.load(Ordering::Relaxed);
        Snapshot {
            dynamodb_calls: calls,
            dynamodb_retries: self.attempts.load(Ordering::Relaxed).saturating_sub(calls),
            dynamodb_throttles: self.throttles.load(Ordering::Relaxed),
            capacity_units: self.capacity_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            extra: self.extra.lock().map(|e| e.clone()).unwrap_or_default(),
        }
    }
}

/// Runs `work` with a fresh meter and returns what it measured.
pub async fn measured<F: Future>(work: F) -> (F::Output, Snapshot) {
    let meter = Arc::new(Meter::default());
    let output = CURRENT.scope(meter.clone(), work).await;
    (output, meter.snapshot())
}

/// Adds a measure to the current request's metrics (ignored outside a request).
pub fn record(name: &'static str, value: f64) {
    let _ = CURRENT.try_with(|meter| {
        if let Ok(mut extra) = meter.extra.lock() {
            extra.push((name, value));
        }
    });
}

fn count(field: impl Fn(&Meter) -> &AtomicU64, by: u64) {
    let _ = CURRENT.try_with(|meter| field(meter).fetch_add(by, Ordering::Relaxed));
}

/// Asks each call for its consumed capacity, and counts calls, attempts, throttles, units.
#[derive(Debug, Default)]
pub struct DynamoMeter;

macro_rules! each_operation {
    ($input_or_output:ident, $action:expr, $($op:ident::$type:ident),+) => {
        $(if let Some(value) = $input_or_output.downcast_ref::<$op::$type>() {
            return $action(value.consumed_capacity_list());
        })+
    };
}

/// One list of consumed capacities from any output type.
trait Consumed {
    fn consumed_capacity_list(&self) -> Vec<ConsumedCapacity>;
}

macro_rules! single {
    ($($op:ident::$type:ident),+) => {
        $(impl Consumed for $op::$type {
            fn consumed_capacity_list(&self) -> Vec<ConsumedCapacity> {
                self.consumed_capacity().cloned().into_iter().collect()
            }
        })+
    };
}

macro_rules! many {
    ($($op:ident::$type:ident),+) => {
        $(impl Consumed for $op::$type {
            fn consumed_capacity_list(&self) -> Vec<ConsumedCapacity> {
                self.consumed_capacity().to_vec()
            }
        })+
    };
}

single!(
    get_item::GetItemOutput,
    put_item::PutItemOutput,
    update_item::UpdateItemOutput,
    query::QueryOutput
);
many!(
    batch_get_item::BatchGetItemOutput,
    batch_write_item::BatchWriteItemOutput,
    transact_write_items::TransactWriteItemsOutput
);

fn units(output: &aws_sdk_dynamodb::config::interceptors::InterceptorContext) -> Option<f64> {
    let Some(Ok(output)) = output.output_or_error() else {
        return None;
    };
    let sum = |list: Vec<ConsumedCapacity>| -> Option<f64> {
        Some(list.iter().filter_map(|c| c.capacity_units()).sum())
    };
    each_operation!(
        output,
        sum,
        get_item::GetItemOutput,
        put_item::PutItemOutput,
        update_item::UpdateItemOutput,
        query::QueryOutput,
        batch_get_item::BatchGetItemOutput,
        batch_write_item::BatchWriteItemOutput,
        transact_write_items::TransactWriteItemsOutput
    );
    None
}

macro_rules! ask_capacity {
    ($input:ident, $($op:ident::$type:ident),+) => {
        $(if let Some(input) = $input.downcast_mut::<$op::$type>() {
            input.return_consumed_capacity.get_or_insert(ReturnConsumedCapacity::Total);
            return;
        })+
    };
}

fn ask_for_capacity(input: &mut aws_sdk_dynamodb::config::interceptors::InterceptorContext) {
    let Some(input) = input.input_mut() else {
        return;
    };
    ask_capacity!(
        input,
        get_item::GetItemInput,
        put_item::PutItemInput,
        update_item::UpdateItemInput,
        query::QueryInput,
        batch_get_item::BatchGetItemInput,
        batch_write_item::BatchWriteItemInput,
        transact_write_items::TransactWriteItemsInput
    );
}

impl Intercept for DynamoMeter {
    fn name(&self) -> &'static str {
        "quote-chat DynamoDB meter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        count(|m| &m.calls, 1);
        ask_for_capacity(context.inner_mut());
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        count(|m| &m.attempts, 1);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let context = context.inner();
        if let Some(units) = units(context) {
            count(|m| &m.capacity_milli, (units * 1000.0).round() as u64);
        }
        if let Some(Err(err)) = context.output_or_error() {
            // Throttling answers (and cancellations for throttling) name it; errors are rare,
            // so reading their text costs nothing on the hot path.
            let text = format!("{err:?}");
            if crate::store::retry::THROTTLING
                .iter()
                .any(|name| text.contains(name))
            {
                count(|m| &m.throttles, 1);
            }
        }
        Ok(())
    }
}

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

    #[tokio::test]
    async fn measures_belong_to_their_own_request() {
        let ((), first) = measured(async { record("ClearedMessages", 3.0) }).await;
        let ((), second) = measured(async {}).await;
        record("outside", 1.0);
        assert_eq!(first.extra, vec![("ClearedMessages", 3.0)]);
        assert!(second.extra.is_empty());
    }
}
