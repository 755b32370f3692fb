//! What one request cost and how it went, for its log line and for CloudWatch metrics in the
//! Embedded Metric Format (EMF): one JSON line on stdout that CloudWatch turns into metrics,
//! so measuring costs no API call.
//!
//! The DynamoDB client carries [`DynamoMeter`], which asks every call for its consumed capacity
//! and counts calls, attempts and throttles into the [`Meter`] of the request being served
//! (a task-local set by [`measured`]); calls outside a request are not counted. The EMF lines
//! are written in [`emf`].

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::{
    batch_get_item, batch_write_item, get_item, put_item, query, transact_write_items, update_item,
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

mod emf;

pub use emf::{
    emf, emf_enabled, emf_values, is_cold_start, publish, publish_values, RequestRecord,
    DEFAULT_NAMESPACE,
};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn measures_belong_to_their_own_request() {
        let ((), first) = measured(async { record("ClearedMessages", 3.0) }).await;
        let ((), second) = measured(async {}).await;
        record("outside", 1.0);
        assert_eq!(first.extra, vec![("ClearedMessages", 3.0)]);
        assert!(second.extra.is_empty());
    }
}
