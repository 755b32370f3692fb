//! Faults DynamoDB Local cannot produce — throttling, unprocessed batch items, cancelled
//! transactions, timeouts — injected with aws-smithy-mocks into the real adapter.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, PutRequest, Select, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use super::dynamo::{classify, DynamoStore};
use super::{Chat, ChatStore, CreateOutcome};
use crate::error::StoreError;
use crate::model::{Job, Message, Role};

type Item = HashMap<String, AttributeValue>;

fn client(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, rules, |config| {
        config.retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
    })
}

fn store(client: Client) -> DynamoStore {
    DynamoStore::new(client, "messages".into(), "jobs".into())
}

fn chat() -> Chat {
    Chat {
        job: Job {
            job_id: "job".into(),
            owner_id: "owner".into(),
            member_ids: None,
            archived: None,
        },
        generation: 0,
        last_timestamp: None,
    }
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn throttled() -> aws_smithy_runtime_api::http::Response {
    aws_smithy_runtime_api::http::Response::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#,
        ),
    )
}

#[tokio::test]
async fn throttling_that_outlasts_the_sdk_retries_is_unavailable() {
    let rule = mock!(Client::get_item)
        .sequence()
        .http_response(throttled)
        .times(3)
        .build();
    let result = store(client(&[&rule])).find(&chat(), "m").await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert_eq!(rule.num_calls(), 3, "the SDK retried before giving up");
}

#[tokio::test]
async fn throttling_that_passes_is_invisible() {
    let get = mock!(Client::get_item)
        .sequence()
        .http_response(throttled)
        .output(|| GetItemOutput::builder().build())
        .build();
    let found = store(client(&[&get])).find(&chat(), "m").await.unwrap();
    assert!(found.is_none());
    assert_eq!(get.num_calls(), 2);
}

#[tokio::test]
async fn unprocessed_keys_of_batch_get_are_fetched_again() {
    let job: Item = HashMap::from([("job_id".into(), s("job")), ("owner_id".into(), s("owner"))]);
    let first = mock!(Client::batch_get_item).then_output(|| {
        let keys = KeysAndAttributes::builder()
            .keys(HashMap::from([(
                "job_id".to_owned(),
                AttributeValue::S("job".into()),
            )]))
            .build()
            .unwrap();
        BatchGetItemOutput::builder()
            .unprocessed_keys("jobs", keys)
            .build()
    });
    let second = mock!(Client::batch_get_item).then_output(move || {
        BatchGetItemOutput::builder()
            .responses("jobs", vec![job.clone()])
            .build()
    });
    let chat = store(client(&[&first, &second])).open("job").await.unwrap();
    assert_eq!(chat.map(|c| c.job.owner_id), Some("owner".to_owned()));
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_clear_retries_unprocessed_items_until_every_item_is_stamped() {
    let item =
        |sk: &str| -> Item { HashMap::from([("job_id".into(), s("job")), ("sk".into(), s(sk))]) };
    let bump = mock!(Client::update_item).then_output(|| {
        UpdateItemOutput::builder()
            .attributes("generation", AttributeValue::N("1".into()))
            .build()
    });
    let (m1, g1) = (item("0000000000#M#t#a"), item("0000000000#I#a"));
    let (m1c, g1c) = (m1.clone(), g1.clone());
    let query = mock!(Client::query).then_output(move || {
        QueryOutput::builder()
            .items(m1c.clone())
            .items(g1c.clone())
            .build()
    });
    let left = m1.clone();
    let partial = mock!(Client::batch_write_item).then_output(move || {
        let put = PutRequest::builder()
            .set_item(Some(left.clone()))
            .build()
            .unwrap();
        BatchWriteItemOutput::builder()
            .unprocessed_items(
                "messages",
                vec![WriteRequest::builder().put_request(put).build()],
            )
            .build()
    });
    let rest = mock!(Client::batch_write_item)
        .match_requests(|req| {
            let writes = req
                .request_items()
                .and_then(|r| r.get("messages"))
                .map_or(0, Vec::len);
            writes == 1
        })
        .then_output(|| BatchWriteItemOutput::builder().build());
    let mark = mock!(Client::update_item).then_output(|| UpdateItemOutput::builder().build());
    let count = mock!(Client::query)
        .match_requests(|req| req.select() == Some(&Select::Count))
        .then_output(|| QueryOutput::builder().count(1).build());
    let cleared = store(client(&[&bump, &count, &query, &partial, &rest, &mark]))
        .clear(&chat(), 1_900_000_000)
        .await
        .unwrap();
    assert_eq!(cleared, 1, "one message (the guard is not a message)");
    assert_eq!(
        (partial.num_calls(), rest.num_calls(), mark.num_calls()),
        (1, 1, 1)
    );
}

fn cancelled(codes: &'static [&'static str]) -> impl Fn() -> TransactWriteItemsError + Send + Sync {
    move || {
        let mut ex = TransactionCanceledException::builder().message("cancelled");
        for code in codes {
            ex = ex.cancellation_reasons(CancellationReason::builder().code(*code).build());
        }
        TransactWriteItemsError::TransactionCanceledException(ex.build())
    }
}

fn message() -> Message {
    Message {
        message_id: "m".into(),
        role: Role::User,
        content: "c".into(),
        timestamp: "2024-01-01T00:00:00.000000Z".into(),
        metadata: Default::default(),
        version: 1,
    }
}

#[tokio::test]
async fn a_taken_id_is_read_back_to_tell_a_retry_from_a_conflict() {
    let transact = mock!(Client::transact_write_items).then_error(cancelled(&[
        "None",
        "ConditionalCheckFailed",
        "ConditionalCheckFailed",
    ]));
    let guard = mock!(Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(HashMap::from([
                ("job_id".into(), AttributeValue::S("job".into())),
                ("sk".into(), AttributeValue::S("0000000000#I#m".into())),
                (
                    "message_sk".into(),
                    AttributeValue::S("0000000000#M#t#m".into()),
                ),
                (
                    "timestamp".into(),
                    AttributeValue::S("2023-12-31T00:00:00.000000Z".into()),
                ),
                ("fingerprint".into(), AttributeValue::S("same".into())),
            ])))
            .build()
    });
    let outcome = store(client(&[&transact, &guard]))
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
}

#[tokio::test]
async fn cancelled_transactions_map_to_retry_or_unavailable() {
    for (codes, expect_moved) in [
        (&["ConditionalCheckFailed", "None", "None"][..], true),
        (&["None", "TransactionConflict", "None"][..], true),
        (&["ThrottlingError", "None", "None"][..], false),
    ] {
        let codes: &'static [&'static str] = Box::leak(codes.to_vec().into_boxed_slice());
        let rule = mock!(Client::transact_write_items).then_error(cancelled(codes));
        let result = store(client(&[&rule]))
            .create(&chat(), &message(), "f")
            .await;
        match result {
            Ok(CreateOutcome::ChatMoved) => assert!(expect_moved, "{codes:?}"),
            Err(StoreError::Unavailable(_)) => assert!(!expect_moved, "{codes:?}"),
            other => panic!("{codes:?}: {other:?}"),
        }
    }
    let ok = mock!(Client::transact_write_items)
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let created = store(client(&[&ok]))
        .create(&chat(), &message(), "f")
        .await
        .unwrap();
    assert_eq!(created, CreateOutcome::Created);
}

#[test]
fn timeouts_are_unavailable_and_other_errors_internal() {
    let timeout: SdkError<GetItemError, ()> = SdkError::timeout_error("operation timed out");
    assert!(matches!(classify(timeout), StoreError::Unavailable(_)));
    let missing: SdkError<GetItemError, ()> = SdkError::construction_failure("bad input");
    assert!(matches!(classify(missing), StoreError::Internal(_)));
}

fn conflict() -> aws_smithy_runtime_api::http::Response {
    aws_smithy_runtime_api::http::Response::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}"#,
        ),
    )
}

#[tokio::test]
async fn a_clear_that_meets_a_transaction_on_the_head_retries_the_bump() {
    let bump = mock!(Client::update_item)
        .sequence()
        .http_response(conflict)
        .times(2)
        .output(|| {
            UpdateItemOutput::builder()
                .attributes("generation", AttributeValue::N("1".into()))
                .build()
        })
        .build();
    let count = mock!(Client::query).then_output(|| QueryOutput::builder().count(0).build());
    let query = mock!(Client::query).then_output(|| QueryOutput::builder().build());
    let mark = mock!(Client::update_item).then_output(|| UpdateItemOutput::builder().build());
    let cleared = store(client(&[&bump, &count, &query, &mark]))
        .clear(&chat(), 1_900_000_000)
        .await
        .unwrap();
    assert_eq!(cleared, 0);
    assert_eq!((bump.num_calls(), mark.num_calls()), (3, 1));
}

#[tokio::test]
async fn once_the_chat_is_hidden_a_failed_stamp_still_answers_the_count() {
    let bump = mock!(Client::update_item).then_output(|| {
        UpdateItemOutput::builder()
            .attributes("generation", AttributeValue::N("1".into()))
            .build()
    });
    let query = mock!(Client::query).then_output(|| {
        QueryOutput::builder()
            .items(HashMap::from([
                ("job_id".to_owned(), AttributeValue::S("job".into())),
                (
                    "sk".to_owned(),
                    AttributeValue::S("0000000000#M#t#a".into()),
                ),
            ]))
            .build()
    });
    let write = mock!(Client::batch_write_item)
        .sequence()
        .http_response(throttled)
        .times(3)
        .build();
    let mark = mock!(Client::update_item).then_output(|| UpdateItemOutput::builder().build());
    let count = mock!(Client::query).then_output(|| QueryOutput::builder().count(1).build());
    let cleared = store(client(&[&bump, &count, &query, &write, &mark]))
        .clear(&chat(), 1_900_000_000)
        .await
        .unwrap();
    assert_eq!(cleared, 1);
    assert_eq!(write.num_calls(), 3);
    assert_eq!(
        mark.num_calls(),
        0,
        "the generation stays pending for the next clear to stamp"
    );
}

#[tokio::test]
async fn every_read_is_strongly_consistent() {
    let batch = mock!(Client::batch_get_item)
        .match_requests(|req| {
            let tables = req.request_items().map_or(0, HashMap::len);
            tables == 2
                && req
                    .request_items()
                    .into_iter()
                    .flat_map(HashMap::values)
                    .all(|keys| keys.consistent_read() == Some(true))
        })
        .then_output(|| BatchGetItemOutput::builder().build());
    let get = mock!(Client::get_item)
        .match_requests(|req| req.consistent_read() == Some(true))
        .then_output(|| GetItemOutput::builder().build());
    let query = mock!(Client::query)
        .match_requests(|req| req.consistent_read() == Some(true))
        .then_output(|| QueryOutput::builder().build());
    let store = store(client(&[&batch, &get, &query]));
    assert!(store.open("job").await.unwrap().is_none());
    assert!(store.find(&chat(), "m").await.unwrap().is_none());
    assert!(store
        .page(&chat(), None, false, 10)
        .await
        .unwrap()
        .messages
        .is_empty());
    assert_eq!(
        (batch.num_calls(), get.num_calls(), query.num_calls()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn an_unreadable_job_item_is_not_found_not_an_error() {
    let batch = mock!(Client::batch_get_item).then_output(|| {
        BatchGetItemOutput::builder()
            .responses(
                "jobs",
                vec![HashMap::from([(
                    "job_id".to_owned(),
                    AttributeValue::S("job".into()),
                )])],
            )
            .build()
    });
    let opened = store(client(&[&batch])).open("job").await.unwrap();
    assert!(
        opened.is_none(),
        "a job without owner_id grants nobody access"
    );
}
