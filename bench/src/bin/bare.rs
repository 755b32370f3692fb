//! The floor the functions are held against in `make bench` (scripts/cold-start.py): a Lambda
//! that answers the list route's event with the least DynamoDB work a list of our table needs —
//! the job, the chat head, one strongly consistent `Query` per 1 MB page of the visible
//! generations — and nothing of ours: no validation, access rule, cursor,
//! logging, metrics or retry policy beyond the SDK's defaults. Same SDK, same HTTP stack and
//! the same release profile as the functions, so the difference is our code alone.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

type Item = HashMap<String, AttributeValue>;

struct Tables {
    client: Client,
    messages: String,
    jobs: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::v2026_01_12());
    if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
        loader = loader.endpoint_url(endpoint);
    }
    let tables = Tables {
        client: Client::new(&loader.load().await),
        messages: std::env::var("MESSAGES_TABLE").unwrap_or_else(|_| "quote-chat-messages".into()),
        jobs: std::env::var("JOBS_TABLE").unwrap_or_else(|_| "jobs".into()),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        list(&tables, event.payload)
    }))
    .await
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn number(item: &Item, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

fn text(item: &Item, name: &str) -> Value {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Value::String(text.clone()),
        _ => Value::Null,
    }
}

async fn list(tables: &Tables, event: Value) -> Result<Value, Error> {
    let job = event["pathParameters"]["job_id"]
        .as_str()
        .ok_or("the event has no job_id path parameter")?;
    // The job alone first, as the store reads it (a stranger must cause no read of the
    // messages table), then the head.
    let key = |sk: Option<&str>| {
        let mut key = HashMap::from([("job_id".to_owned(), s(job))]);
        if let Some(sk) = sk {
            key.insert("sk".to_owned(), s(sk));
        }
        key
    };
    let found = tables
        .client
        .get_item()
        .table_name(&tables.jobs)
        .set_key(Some(key(None)))
        .projection_expression("job_id, owner_id, member_ids")
        .consistent_read(true)
        .send()
        .await?;
    if found.item.is_none() {
        return Ok(json!({"statusCode": 404, "body": ""}));
    }
    let head = tables
        .client
        .get_item()
        .table_name(&tables.messages)
        .set_key(Some(key(Some("#CHAT"))))
        .consistent_read(true)
        .send()
        .await?
        .item
        .unwrap_or_default();
    let (first, last) = (number(&head, "visible_from"), number(&head, "generation"));
    let mut messages = Vec::new();
    let mut start = None;
    loop {
        let page = tables
            .client
            .query()
            .table_name(&tables.messages)
            .key_condition_expression("job_id = :job AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":job", s(job))
            .expression_attribute_values(":low", s(&format!("M#{first:010}#")))
            .expression_attribute_values(":high", s(&format!("M#{last:010}#~")))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in page.items.unwrap_or_default() {
            messages.push(json!({
                "message_id": text(&item, "message_id"),
                "role": text(&item, "role"),
                "content": text(&item, "content"),
                "timestamp": text(&item, "timestamp"),
            }));
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    let body = json!({"job_id": job, "messages": messages}).to_string();
    Ok(json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": body,
    }))
}
