//! Answers DynamoDB Local cannot give — throttling, unprocessed keys, cancellations, a head
//! that shows a clear's own lost write — injected with aws-smithy-mocks into the adapter, on
//! a client with the production retry policy (`retry.rs`). The same faults over real HTTP, in
//! front of DynamoDB Local, are in tests/tests/api/faults.rs.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::error::{
    ConditionalCheckFailedException, TransactionCanceledException,
};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use super::{classify, DynamoStore};
use crate::error::StoreError;
use crate::model::{Job, Message, Role, Status};
use crate::store::retry::{sdk_retry_config, ThrottledCancellation, SDK_ATTEMPTS};
use crate::store::{Chat, ChatStore, ClearOutcome, CreateOutcome, Head};

type Item = HashMap<String, AttributeValue>;

fn client(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, rules, |config| {
        config
            .retry_config(sdk_retry_config().with_initial_backoff(Duration::from_millis(1)))
            .retry_classifier(ThrottledCancellation)
    })
}

fn store(client: Client) -> DynamoStore {
    DynamoStore::new(client, "messages".into(), "jobs".into())
}

/// A job id for the reads (what the mocks answer does not depend on it).
fn a_job_id() -> crate::ids::JobId {
    crate::ids::JobId::parse("0e8c5d3a-1b2c-4d5e-8f90-123456789abc").unwrap()
}

fn chat() -> Chat {
    Chat {
        job: Job {
            job_id: a_job_id(),
            owner_id: "owner".into(),
            member_ids: None,
        },
        head: Head::default(),
    }
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(number: u64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn message() -> Message {
    Message {
        message_id: crate::ids::MessageId::parse("m").unwrap(),
        role: Role::User,
        content: "c".into(),
        timestamp: "2024-01-01T00:00:00.000000Z".into(),
        metadata: Default::default(),
        version: 1,
        status: Status::Complete,
        updated_at: "2024-01-01T00:00:00.000000Z".into(),
    }
}

fn throttled() -> aws_smithy_runtime_api::http::Response {
    aws_smithy_runtime_api::http::Response::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#,
        ),
    )
}

fn cancelled(reasons: Vec<CancellationReason>) -> TransactWriteItemsError {
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .message("cancelled")
            .set_cancellation_reasons(Some(reasons))
            .build(),
    )
}

fn reason(code: &str) -> CancellationReason {
    CancellationReason::builder().code(code).build()
}

#[tokio::test]
async fn throttling_that_outlasts_the_sdk_retries_is_unavailable() {
    let rule = mock!(Client::batch_get_item)
        .sequence()
        .http_response(throttled)
        .times(SDK_ATTEMPTS as usize)
        .build();
    let result = store(client(&[&rule])).read_chat(&a_job_id(), None).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert_eq!(rule.num_calls(), SDK_ATTEMPTS as usize);
}

#[tokio::test]
async fn unprocessed_keys_of_batch_get_are_fetched_again() {
    let head: Item = HashMap::from([
        ("job_id".into(), s("job")),
        ("sk".into(), s(crate::store::keys::HEAD)),
        ("generation".into(), n(7)),
    ]);
    let job: Item = HashMap::from([
        ("job_id".into(), s(a_job_id().as_str())),
        ("owner_id".into(), s("owner")),
    ]);
    let first = mock!(Client::batch_get_item).then_output(move || {
        let keys = KeysAndAttributes::builder()
            .keys(HashMap::from([
                ("job_id".to_owned(), s("job")),
                ("sk".to_owned(), s(crate::store::keys::HEAD)),
            ]))
            .build()
            .unwrap();
        BatchGetItemOutput::builder()
            .responses("jobs", vec![job.clone()])
            .unprocessed_keys("messages", keys)
            .build()
    });
    let second = mock!(Client::batch_get_item).then_output(move || {
        BatchGetItemOutput::builder()
            .responses("messages", vec![head.clone()])
            .build()
    });
    let opened = store(client(&[&first, &second]))
        .read_chat(&a_job_id(), None)
        .await
        .unwrap();
    assert_eq!(opened.head.unwrap().generation, 7);
    assert_eq!(opened.job.map(|job| job.owner_id).as_deref(), Some("owner"));
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_throttled_cancellation_is_retried_like_throttling() {
    let rule = mock!(Client::transact_write_items)
        .sequence()
        .error(|| {
            cancelled(vec![
                reason("ThrottlingError"),
                reason("None"),
                reason("None"),
            ])
        })
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let outcome = store(client(&[&rule]))
        .create(&chat(), &message(), "f")
        .await
        .unwrap();
    assert_eq!(outcome, CreateOutcome::Created);
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn a_throttled_cancellation_past_the_retries_is_unavailable() {
    let rule = mock!(Client::transact_write_items)
        .sequence()
        .error(|| {
            cancelled(vec![
                reason("None"),
                reason("ThrottlingError"),
                reason("None"),
            ])
        })
        .times(SDK_ATTEMPTS as usize)
        .build();
    let result = store(client(&[&rule]))
        .create(&chat(), &message(), "f")
        .await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert_eq!(rule.num_calls(), SDK_ATTEMPTS as usize);
}

#[tokio::test]
async fn a_failed_condition_is_not_retried_by_the_sdk_and_a_taken_id_needs_no_read() {
    let lookup: Item = HashMap::from([
        ("job_id".into(), s("job")),
        ("sk".into(), s("I#m")),
        ("message_sk".into(), s("M#0000000000#t#m")),
        ("generation".into(), n(0)),
        ("timestamp".into(), s("2023-12-31T00:00:00.000000Z")),
        ("role".into(), s("user")),
        ("fingerprint".into(), s("same")),
    ]);
    let rule = mock!(Client::transact_write_items).then_error(move || {
        cancelled(vec![
            reason("None"),
            CancellationReason::builder()
                .code("ConditionalCheckFailed")
                .set_item(Some(lookup.clone()))
                .build(),
            reason("ThrottlingError"),
        ])
    });
    let outcome = store(client(&[&rule]))
        .create(&chat(), &message(), "same")
        .await
        .unwrap();
    assert_eq!(
        outcome,
        CreateOutcome::Existing {
            timestamp: "2023-12-31T00:00:00.000000Z".into(),
            same: true
        }
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_conflicting_transaction_is_a_lost_race_for_the_operation_to_retry() {
    let rule = mock!(Client::transact_write_items).then_error(|| {
        cancelled(vec![
            reason("TransactionConflict"),
            reason("None"),
            reason("None"),
        ])
    });
    let outcome = store(client(&[&rule]))
        .create(&chat(), &message(), "f")
        .await
        .unwrap();
    assert_eq!(outcome, CreateOutcome::ChatMoved);
}

#[tokio::test]
async fn a_clear_that_finds_its_own_write_answers_its_count() {
    let head = |clear_id: &'static str| {
        move || {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .message("failed")
                    .set_item(Some(HashMap::from([
                        ("job_id".into(), s("job")),
                        ("sk".into(), s("#CHAT")),
                        ("generation".into(), n(1)),
                        ("clear_id".into(), s(clear_id)),
                        ("cleared_count".into(), n(5)),
                    ])))
                    .build(),
            )
        }
    };
    let ours = mock!(Client::update_item).then_error(head("ours"));
    let outcome = store(client(&[&ours]))
        .clear(&chat(), 0, "ours")
        .await
        .unwrap();
    assert_eq!(outcome, ClearOutcome::Cleared(5));
    let theirs = mock!(Client::update_item).then_error(head("theirs"));
    let outcome = store(client(&[&theirs]))
        .clear(&chat(), 0, "ours")
        .await
        .unwrap();
    assert_eq!(outcome, ClearOutcome::ChatMoved);
}

#[test]
fn timeouts_are_unavailable_and_other_errors_internal() {
    let timeout: SdkError<GetItemError, ()> = SdkError::timeout_error("operation timed out");
    assert!(matches!(classify(timeout), StoreError::Unavailable(_)));
    let missing: SdkError<GetItemError, ()> = SdkError::construction_failure("bad input");
    assert!(matches!(classify(missing), StoreError::Internal(_)));
}
