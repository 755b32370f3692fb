//! What DynamoDB Local never does by itself — a lost answer after an applied write, throttling,
//! throttled transaction cancellations — injected by `testkit::proxy` between the production
//! client (its real timeouts and retry policy) and DynamoDB Local; and the requests and
//! capacity units each operation costs, as DynamoDB Local reports them.

use serde_json::json;
use testkit::proxy::{Fault, Proxy};
use testkit::{message_body, Reply, TestApi};

/// The operations since the last reset, and resets.
fn take(proxy: &Proxy) -> Vec<String> {
    let operations = proxy.operations();
    proxy.reset_counts();
    operations
}

#[tokio::test]
async fn a_clear_whose_answer_was_lost_answers_the_true_count_and_clears_once() {
    let (proxy, api) = TestApi::through_proxy().await;
    for i in 0..5 {
        assert_eq!(
            api.create(message_body(&format!("m{i}"), "x")).await.status,
            201
        );
    }
    proxy.inject("UpdateItem", Fault::LoseAnswer, 1);
    let Reply { status, body, .. } = api.clear().await;
    assert_eq!(
        (status, &body["data"]["deleted_count"]),
        (200, &json!(5)),
        "{body}"
    );
    assert_eq!(
        proxy.requests("UpdateItem"),
        2,
        "the SDK retried the lost answer"
    );
    assert_eq!(
        api.chat().await.head.generation,
        1,
        "one clear, one new generation"
    );
    assert!(api.messages().await.is_empty());
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_created_once() {
    let (proxy, api) = TestApi::through_proxy().await;
    proxy.inject("TransactWriteItems", Fault::LoseAnswer, 1);
    let Reply { status, body, .. } = api.create(message_body("m1", "hello")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(proxy.requests("TransactWriteItems"), 2);
    let listed = api.messages().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["timestamp"], body["data"]["timestamp"]);
}

#[tokio::test]
async fn a_patch_whose_answer_was_lost_answers_its_own_write_not_a_412() {
    let (proxy, api) = TestApi::through_proxy().await;
    api.create(message_body("a1", "")).await;
    proxy.inject("UpdateItem", Fault::LoseAnswer, 1);
    let Reply { status, body, .. } = api
        .patch("a1")
        .if_match(1)
        .json(json!({"content": "one"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["data"]["version"], &body["data"]["content"]),
        (&json!(2), &json!("one"))
    );
    // Without If-Match the retried write is not applied twice either.
    proxy.inject("UpdateItem", Fault::LoseAnswer, 1);
    let Reply { status, body, .. } = api.patch("a1").json(json!({"content": "two"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["version"], 3);
    assert_eq!(api.messages().await[0]["version"], 3);
}

#[tokio::test]
async fn throttled_transaction_cancellations_are_retried_then_answer_503_with_nothing_written() {
    let (proxy, api) = TestApi::through_proxy().await;
    proxy.inject("TransactWriteItems", Fault::ThrottledCancellation, 2);
    assert_eq!(api.create(message_body("m1", "x")).await.status, 201);
    assert_eq!(proxy.requests("TransactWriteItems"), 3);

    proxy.inject("TransactWriteItems", Fault::ThrottledCancellation, 3);
    let reply = api.create(message_body("m2", "y")).await;
    assert_eq!(
        (reply.status, reply.code()),
        (503, Some("SERVICE_UNAVAILABLE"))
    );
    assert!(reply.header("retry-after").is_some());
    let listed = api.messages().await;
    assert_eq!(listed.len(), 1, "nothing of m2 written");
    let chat = api.chat().await;
    assert_eq!(chat.head.counts.total, 1, "the counters saw one create");
}

#[tokio::test]
async fn throttling_past_the_retries_leaves_a_patch_unwritten() {
    let (proxy, api) = TestApi::through_proxy().await;
    api.create(message_body("a1", "before")).await;
    proxy.inject("UpdateItem", Fault::Throttle, 3);
    let Reply { status, body, .. } = api.patch("a1").json(json!({"content": "after"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("SERVICE_UNAVAILABLE"))
    );
    proxy.inject("UpdateItem", Fault::Throttle, 2);
    let Reply { status, body, .. } = api
        .patch("a1")
        .if_match(1)
        .json(json!({"content": "after"}))
        .await;
    assert_eq!(
        (status, &body["data"]["version"]),
        (200, &json!(2)),
        "{body}"
    );
}

#[tokio::test]
async fn a_patch_that_keeps_losing_races_gives_up_at_the_one_stated_bound() {
    use shared::store::retry::CONTENTION_ATTEMPTS;
    let attempts = CONTENTION_ATTEMPTS as usize;
    let (proxy, api) = TestApi::through_proxy().await;
    api.create(message_body("a1", "before")).await;
    take(&proxy);
    proxy.inject("UpdateItem", Fault::Conflict, attempts);
    let Reply { status, body, .. } = api.patch("a1").json(json!({"content": "after"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("SERVICE_UNAVAILABLE"))
    );
    assert_eq!(
        (proxy.requests("BatchGetItem"), proxy.requests("UpdateItem")),
        (attempts, attempts),
        "one read and one write per attempt, no retry loop inside another"
    );
    take(&proxy);
    proxy.inject("UpdateItem", Fault::Conflict, attempts - 1);
    let Reply { status, body, .. } = api.patch("a1").json(json!({"content": "after"})).await;
    assert_eq!(
        (status, &body["data"]["version"]),
        (200, &json!(2)),
        "{body}"
    );
    assert_eq!(proxy.requests("UpdateItem"), attempts);
}

#[tokio::test]
async fn a_streamed_reply_costs_two_requests_per_patch_and_stays_under_its_capacity_target() {
    let (proxy, api) = TestApi::through_proxy().await;
    api.create(
        json!({"message_id": "a1", "role": "assistant", "content": "",
                             "status": "streaming"})
        .to_string(),
    )
    .await;
    take(&proxy);
    let reply = "x".repeat(4096);
    let chunk = reply.len() / 50;
    for i in 1..=50 {
        let content = if i == 50 {
            &reply[..]
        } else {
            &reply[..i * chunk]
        };
        let mut body = json!({"content": content});
        if i == 50 {
            body["status"] = json!("complete");
        }
        let Reply {
            status,
            body: answer,
            ..
        } = api.patch("a1").if_match(i as u64).json(body).await;
        assert_eq!(status, 200, "{answer}");
        if i == 1 {
            assert_eq!(proxy.operations(), ["BatchGetItem", "UpdateItem"]);
        }
    }
    let units = proxy.capacity_units();
    println!(
        "a 4 KB reply streamed in 50 PATCHes: {} requests, {units} capacity units",
        proxy.total_requests()
    );
    assert_eq!(proxy.total_requests(), 100);
    assert!(units <= 330.0, "{units} capacity units (target 330)");
    let listed = api.messages().await;
    assert_eq!(
        (&listed[0]["status"], &listed[0]["version"]),
        (&json!("complete"), &json!(51))
    );
}

#[tokio::test]
async fn metadata_patches_need_no_read_until_the_limit_is_near() {
    let (proxy, api) = TestApi::through_proxy().await;
    api.create(message_body("a1", "")).await;
    take(&proxy);
    let status = api
        .patch("a1")
        .json(json!({"metadata": {"tokens": 5}}))
        .await
        .status;
    assert_eq!(status, 200);
    assert_eq!(take(&proxy), ["BatchGetItem", "UpdateItem"]);
    // The item keeps an upper bound of its metadata size; replacing a key counts its new value
    // again, so the third 7 KB write of one key finds the bound too high and the exact size
    // (read from the failed condition's answer, no extra read) decides.
    let big = "x".repeat(7_000);
    for _ in 0..2 {
        let status = api
            .patch("a1")
            .json(json!({"metadata": {"a": big}}))
            .await
            .status;
        assert_eq!(status, 200);
    }
    take(&proxy);
    let Reply { status, body, .. } = api.patch("a1").json(json!({"metadata": {"a": big}})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(take(&proxy), ["BatchGetItem", "UpdateItem", "UpdateItem"]);
    let status = api
        .patch("a1")
        .json(json!({"metadata": {"b": big}}))
        .await
        .status;
    assert_eq!(status, 200);
    let Reply { status, body, .. } = api.patch("a1").json(json!({"metadata": {"c": big}})).await;
    assert_eq!(
        (status, &body["details"]["field"]),
        (413, &json!("metadata"))
    );
    let stored = &api.messages().await[0];
    assert_eq!(stored["metadata"], json!({"a": big, "b": big, "tokens": 5}));
    assert_eq!(
        stored["version"], 6,
        "five PATCHes, the refused one wrote nothing"
    );
}

/// The operations since the last reset and their capacity units, printed for docs/schema.md.
fn cost(proxy: &Proxy, what: &str) -> Vec<String> {
    println!(
        "{what}: {:?}, {} capacity units",
        proxy.operations(),
        proxy.capacity_units()
    );
    take(proxy)
}

#[tokio::test]
async fn each_operation_costs_what_docs_schema_md_says() {
    let (proxy, api) = TestApi::through_proxy().await;
    take(&proxy);
    assert_eq!(api.create(message_body("m1", "x")).await.status, 201);
    assert_eq!(
        cost(&proxy, "create"),
        ["BatchGetItem", "TransactWriteItems"]
    );
    assert_eq!(api.create(message_body("m1", "x")).await.status, 200);
    assert_eq!(
        cost(&proxy, "create replayed"),
        ["BatchGetItem", "TransactWriteItems"],
        "a replay reads nothing more"
    );
    let status = api
        .patch("m1")
        .if_match(1)
        .json(json!({"content": "y"}))
        .await
        .status;
    assert_eq!(status, 200);
    assert_eq!(cost(&proxy, "patch"), ["BatchGetItem", "UpdateItem"]);
    let status = api
        .patch("m1")
        .if_match(1)
        .json(json!({"content": "z"}))
        .await
        .status;
    assert_eq!(status, 412);
    assert_eq!(
        cost(&proxy, "patch, stale If-Match"),
        ["BatchGetItem", "UpdateItem"]
    );
    api.messages().await;
    assert_eq!(cost(&proxy, "list"), ["BatchGetItem", "Query"]);
    assert_eq!(api.clear().await.status, 200);
    assert_eq!(
        cost(&proxy, "clear"),
        ["BatchGetItem", "UpdateItem"],
        "the clear answers once hidden"
    );
    assert_eq!(api.restore().await.status, 200);
    assert_eq!(cost(&proxy, "restore"), ["BatchGetItem", "UpdateItem"]);
    assert_eq!(api.summary().await.status, 200);
    assert_eq!(cost(&proxy, "summary"), ["BatchGetItem", "Query"]);
    assert_eq!(api.export().await.status, 200);
    assert_eq!(cost(&proxy, "export"), ["BatchGetItem", "Query"]);
    assert_eq!(api.clear().await.status, 200);
    take(&proxy);
    api.messages().await;
    assert_eq!(
        cost(&proxy, "list of an empty chat"),
        ["BatchGetItem"],
        "the head's count says there is nothing to read"
    );
}

#[tokio::test]
async fn following_a_chat_reads_no_message_until_something_changes() {
    let (proxy, api) = TestApi::through_proxy().await;
    assert_eq!(api.create(message_body("m1", "x")).await.status, 201);
    let status = api
        .patch("m1")
        .if_match(1)
        .json(json!({"content": "y"}))
        .await
        .status;
    assert_eq!(status, 200);
    take(&proxy);
    let followed = api.list().query("after=m1").await;
    assert_eq!(followed.status, 200);
    assert_eq!(
        cost(&proxy, "list after the newest message"),
        ["BatchGetItem", "Query"]
    );
    let tag = followed.header("etag").unwrap();
    let idle = api
        .list()
        .query("after=m1")
        .header("if-none-match", tag)
        .await;
    assert_eq!(idle.status, 304);
    assert_eq!(
        cost(&proxy, "list after the newest message, nothing new (304)"),
        ["BatchGetItem"],
        "an idle poll reads no message"
    );
    assert_eq!(api.get("m1").await.status, 200);
    assert_eq!(cost(&proxy, "one message"), ["BatchGetItem", "GetItem"]);
    let same = api.get("m1").header("if-none-match", "\"2\"").await;
    assert_eq!(same.status, 304);
    assert_eq!(
        cost(&proxy, "one message, unchanged (304)"),
        ["BatchGetItem", "GetItem"]
    );
}
