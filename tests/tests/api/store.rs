//! The DynamoDB adapter's own promises, below the handlers.

use aws_sdk_dynamodb::types::AttributeValue;
use shared::ids::{JobId, MessageId};
use shared::model::{Message, Role};
use shared::store::{ChatStore, CreateOutcome};
use testkit::{config, dynamo_deps, new_job, OWNER};

fn message(id: &str, timestamp: &str) -> Message {
    Message {
        message_id: MessageId::parse(id).expect("a message id"),
        role: Role::User,
        content: format!("content of {id}"),
        timestamp: timestamp.into(),
        metadata: Default::default(),
        version: 1,
        status: Default::default(),
        updated_at: timestamp.into(),
    }
}

#[tokio::test]
async fn a_create_at_an_instant_already_taken_never_overwrites() {
    let deps = dynamo_deps().await;
    let job = new_job(OWNER, &[]).await;
    let chat = testkit::open_chat(&deps.store, &job).await;
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
    let chat = testkit::open_chat(&deps.store, &job).await;
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
        .read_chat(
            &JobId::parse(&uuid::Uuid::new_v4().to_string()).unwrap(),
            None
        )
        .await
        .unwrap()
        .job
        .is_none());
}

#[tokio::test]
async fn odd_attributes_of_the_existing_jobs_table_do_not_break_requests() {
    let deps = dynamo_deps().await;
    let job = new_job(OWNER, &[]).await;
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
    let read = deps
        .store
        .read_chat(&JobId::parse(&job).unwrap(), None)
        .await
        .unwrap()
        .job
        .expect("job readable despite odd attributes");
    assert_eq!(read.owner_id, testkit::OWNER);

    let orphan = uuid::Uuid::new_v4().to_string();
    put(vec![("job_id", AttributeValue::S(orphan.clone()))])
        .await
        .unwrap();
    assert!(
        deps.store
            .read_chat(&JobId::parse(&orphan).unwrap(), None)
            .await
            .unwrap()
            .job
            .is_none(),
        "no owner: nobody may use it"
    );
}
