//! The DynamoDB adapter's own promises, below the handlers.

use aws_sdk_dynamodb::types::AttributeValue;
use shared::model::{Message, Role};
use shared::store::{ChatStore, CreateOutcome};
use testkit::{config, dynamo_deps, new_job};

fn message(id: &str, timestamp: &str) -> Message {
    Message {
        message_id: id.into(),
        role: Role::User,
        content: format!("content of {id}"),
        timestamp: timestamp.into(),
        metadata: Default::default(),
        version: 1,
    }
}

#[tokio::test]
async fn a_create_at_an_instant_already_taken_never_overwrites() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    let chat = deps.store.open(&job).await.unwrap().unwrap();
    let instant = "2024-01-15T10:30:00.123456Z";
    assert_eq!(
        deps.store
            .create(&chat, &message("b", instant), "f1")
            .await
            .unwrap(),
        CreateOutcome::Created
    );
    // The head records `instant`; a second create at the same instant is told the chat moved
    // (the operation then retries one microsecond later) instead of writing anything.
    assert_eq!(
        deps.store
            .create(&chat, &message("a", instant), "f2")
            .await
            .unwrap(),
        CreateOutcome::ChatMoved
    );
    let chat = deps.store.open(&job).await.unwrap().unwrap();
    let page = deps.store.page(&chat, None, false, 10).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].message.content, "content of b");
    let later = "2024-01-15T10:30:00.123457Z";
    assert_eq!(
        deps.store
            .create(&chat, &message("a", later), "f2")
            .await
            .unwrap(),
        CreateOutcome::Created
    );
    let page = deps.store.page(&chat, None, false, 10).await.unwrap();
    let ids: Vec<&str> = page
        .messages
        .iter()
        .map(|m| m.message.message_id.as_str())
        .collect();
    assert_eq!(ids, ["b", "a"]);
}

#[tokio::test]
async fn unknown_jobs_open_as_none() {
    let deps = dynamo_deps().await;
    assert!(deps
        .store
        .open(&uuid::Uuid::new_v4().to_string())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn cleared_items_carry_a_ttl_and_new_messages_do_not() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    let chat = deps.store.open(&job).await.unwrap().unwrap();
    deps.store
        .create(&chat, &message("old", "2024-01-01T00:00:00.000000Z"), "f")
        .await
        .unwrap();
    let expires_at = 1_900_000_000;
    assert_eq!(deps.store.clear(&chat, expires_at).await.unwrap(), 1);
    let chat = deps.store.open(&job).await.unwrap().unwrap();
    deps.store
        .create(&chat, &message("new", "2024-01-02T00:00:00.000000Z"), "f")
        .await
        .unwrap();

    let out = deps
        .store
        .client()
        .query()
        .table_name(config().messages_table)
        .key_condition_expression("job_id = :j")
        .expression_attribute_values(":j", AttributeValue::S(job.clone()))
        .send()
        .await
        .unwrap();
    let items = out.items.unwrap();
    let mut stamped = 0;
    for item in &items {
        let sk = item["sk"].as_s().unwrap();
        let expiry = item.get("expires_at").map(|v| v.as_n().unwrap().as_str());
        if sk.starts_with("0000000000#") {
            assert_eq!(
                expiry,
                Some("1900000000"),
                "{sk} is cleared and must expire"
            );
            stamped += 1;
        } else {
            assert_eq!(expiry, None, "{sk} is live and must not expire");
        }
    }
    assert_eq!(stamped, 2, "the old message and its id guard");
}

#[tokio::test]
async fn odd_attributes_of_the_existing_jobs_table_do_not_break_requests() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    let put = |item: Vec<(&str, AttributeValue)>| {
        let mut request = deps
            .store
            .client()
            .put_item()
            .table_name(config().jobs_table);
        for (name, value) in item {
            request = request.item(name, value);
        }
        request.send()
    };
    put(vec![
        ("job_id", AttributeValue::S(job.clone())),
        ("owner_id", AttributeValue::S(testkit::OWNER.into())),
        ("archived", AttributeValue::S("yes".into())),
        ("notes", AttributeValue::L(vec![AttributeValue::Null(true)])),
    ])
    .await
    .unwrap();
    let chat = deps
        .store
        .open(&job)
        .await
        .unwrap()
        .expect("job readable despite odd attributes");
    assert_eq!(chat.job.owner_id, testkit::OWNER);

    let orphan = uuid::Uuid::new_v4().to_string();
    put(vec![("job_id", AttributeValue::S(orphan.clone()))])
        .await
        .unwrap();
    assert!(
        deps.store.open(&orphan).await.unwrap().is_none(),
        "no owner: nobody may use it"
    );
}
