//! Self-tests of `testkit::proxy` on DynamoDB Local: the production client, with its real
//! retry settings, behaves against each injected fault as it would against DynamoDB, and the
//! proxy's counters are right. Other tests rely on both.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use aws_smithy_types::retry::ErrorKind;
use testkit::proxy::{Fault, Proxy};

struct Setup {
    proxy: Proxy,
    /// The production client, through the proxy.
    client: Client,
    /// Straight to DynamoDB Local, to check what was written without being counted.
    direct: Client,
    table: String,
}

async fn setup() -> Setup {
    let mut config = testkit::config();
    let direct = config.dynamodb_client().await;
    setup::ensure_tables(&direct, &config.messages_table, &config.jobs_table)
        .await
        .expect("tables on DynamoDB Local");
    let proxy = Proxy::start(&testkit::endpoint()).await;
    config.dynamodb_endpoint = Some(proxy.url());
    let client = config.dynamodb_client().await;
    Setup {
        proxy,
        client,
        direct,
        table: config.messages_table,
    }
}

/// For a call whose single attempt the test inspects.
fn no_retries() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder().retry_config(RetryConfig::disabled())
}

/// A key of its own, so tests running in parallel on one table do not meet.
fn new_key() -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "job_id".to_owned(),
            AttributeValue::S(uuid::Uuid::new_v4().to_string()),
        ),
        ("sk".to_owned(), AttributeValue::S("proxy-selftest".into())),
    ])
}

async fn put(s: &Setup, key: &HashMap<String, AttributeValue>) -> Result<(), String> {
    s.client
        .put_item()
        .table_name(&s.table)
        .set_item(Some(key.clone()))
        .send()
        .await
        .map(drop)
        .map_err(|err| DisplayErrorContext(&err).to_string())
}

async fn exists(s: &Setup, key: &HashMap<String, AttributeValue>) -> bool {
    s.direct
        .get_item()
        .table_name(&s.table)
        .set_key(Some(key.clone()))
        .consistent_read(true)
        .send()
        .await
        .expect("direct read")
        .item
        .is_some()
}

#[tokio::test]
async fn a_lost_answer_is_retried_and_the_write_lands_once_applied() {
    let s = setup().await;
    let key = new_key();
    s.proxy.inject("PutItem", Fault::LoseAnswer, 1);

    put(&s, &key).await.expect("the retry succeeds");

    assert_eq!(s.proxy.requests("PutItem"), 2);
    assert_eq!(s.proxy.operations(), ["PutItem", "PutItem"]);
    assert!(exists(&s, &key).await);
}

#[tokio::test]
async fn a_lost_answer_is_a_transient_dispatch_failure_after_the_write_was_applied() {
    let s = setup().await;
    let key = new_key();
    s.proxy.inject("PutItem", Fault::LoseAnswer, 1);

    // Without retries, to see the failure the retry strategy classifies.
    let err = s
        .client
        .put_item()
        .table_name(&s.table)
        .set_item(Some(key.clone()))
        .customize()
        .config_override(no_retries())
        .send()
        .await
        .expect_err("the answer was lost");

    match &err {
        // hyper's IncompleteMessage ("connection closed before message completed"), which the
        // SDK marks transient: the standard retry strategy retries it, idempotent or not.
        SdkError::DispatchFailure(failure) => {
            assert_eq!(
                failure.as_other(),
                Some(ErrorKind::TransientError),
                "{err:?}"
            )
        }
        other => panic!("expected a dispatch failure, got {other:?}"),
    }
    assert_eq!(s.proxy.requests("PutItem"), 1);
    assert!(exists(&s, &key).await, "DynamoDB applied the write");
}

#[tokio::test]
async fn two_throttles_are_retried_away() {
    let s = setup().await;
    let key = new_key();
    put(&s, &key).await.expect("item written");
    s.proxy.reset_counts();
    s.proxy.inject("GetItem", Fault::Throttle, 2);

    let item = s
        .client
        .get_item()
        .table_name(&s.table)
        .set_key(Some(key))
        .send()
        .await
        .expect("the third attempt succeeds")
        .item;

    assert!(item.is_some());
    assert_eq!(s.proxy.requests("GetItem"), 3);
    assert_eq!(s.proxy.total_requests(), 3);
}

#[tokio::test]
async fn three_throttles_exhaust_the_attempts() {
    let s = setup().await;
    s.proxy.inject("GetItem", Fault::Throttle, 3);

    let err = s
        .client
        .get_item()
        .table_name(&s.table)
        .set_key(Some(new_key()))
        .send()
        .await
        .expect_err("every attempt is throttled");

    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_throttling_exception()),
        "{err:?}"
    );
    assert_eq!(s.proxy.requests("GetItem"), 3);
}

#[tokio::test]
async fn a_throttled_transaction_is_cancelled_with_a_throttling_reason_per_item() {
    let s = setup().await;
    let keys = [new_key(), new_key()];
    s.proxy
        .inject("TransactWriteItems", Fault::ThrottledCancellation, 1);

    let puts = keys.iter().map(|key| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&s.table)
                    .set_item(Some(key.clone()))
                    .build()
                    .expect("put is complete"),
            )
            .build()
    });
    // One attempt: whether to retry a throttled cancellation is the client's retry policy,
    // not something the proxy decides.
    let err = s
        .client
        .transact_write_items()
        .set_transact_items(Some(puts.collect()))
        .customize()
        .config_override(no_retries())
        .send()
        .await
        .expect_err("the transaction is cancelled");

    match err.into_service_error() {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            let codes: Vec<_> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|reason| reason.code().unwrap_or_default())
                .collect();
            assert_eq!(codes, ["ThrottlingError", "ThrottlingError"]);
        }
        other => panic!("expected TransactionCanceledException, got {other:?}"),
    }
    // Answered by the proxy: nothing reached DynamoDB.
    assert_eq!(s.proxy.requests("TransactWriteItems"), 1);
    for key in &keys {
        assert!(!exists(&s, key).await);
    }
}

#[tokio::test]
async fn an_internal_error_is_retried_away() {
    let s = setup().await;
    let key = new_key();
    s.proxy.inject("PutItem", Fault::InternalError, 1);

    put(&s, &key).await.expect("the retry succeeds");

    assert_eq!(s.proxy.requests("PutItem"), 2);
    assert!(exists(&s, &key).await);
}

#[tokio::test]
async fn a_delay_beyond_the_attempt_timeout_is_retried() {
    let s = setup().await;
    // Longer than the default attempt timeout (1.5 s), shorter than the operation's (4 s).
    s.proxy
        .inject("GetItem", Fault::Delay(Duration::from_secs(2)), 1);

    s.client
        .get_item()
        .table_name(&s.table)
        .set_key(Some(new_key()))
        .send()
        .await
        .expect("the second attempt is on time");

    assert_eq!(s.proxy.requests("GetItem"), 2);
}

#[tokio::test]
async fn consumed_capacity_is_requested_and_summed() {
    let s = setup().await;
    let key = new_key();

    let output = s
        .client
        .put_item()
        .table_name(&s.table)
        .set_item(Some(key.clone()))
        .send()
        .await
        .expect("item written");

    // The proxy changed the signed body; DynamoDB Local accepted it and reported capacity.
    assert!(output.consumed_capacity.is_some());
    assert!(s.proxy.capacity_units() > 0.0);
    assert_eq!(s.proxy.requests("PutItem"), 1);
    assert_eq!(s.proxy.total_requests(), 1);

    s.proxy.reset_counts();
    assert_eq!(s.proxy.capacity_units(), 0.0);
    assert_eq!(s.proxy.total_requests(), 0);
    assert!(s.proxy.operations().is_empty());
}
