use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::join_all;
use serde_json::json;
use testkit::{message_body, TestApi};

#[tokio::test]
async fn clear_counts_what_was_visible_and_a_new_chat_starts_at_once() {
    let api = TestApi::start().await;
    assert_eq!(
        api.clear().await.deleted_count(),
        0,
        "an empty chat clears to 0"
    );
    for i in 0..15 {
        let id = format!("m{i}");
        assert_eq!(api.create(message_body(&id, "x")).await.status, 201);
    }
    assert_eq!(api.clear().await.deleted_count(), 15);
    assert_eq!(api.messages().await.len(), 0);
    assert_eq!(api.clear().await.deleted_count(), 0);
    assert_eq!(
        api.create(message_body("m0", "x")).await.status,
        201,
        "a cleared id can be used again"
    );
    assert_eq!(api.messages().await.len(), 1);

    let reply = api.patch("m1").json(json!({"content": "zombie"})).await;
    assert_eq!(
        (reply.status, reply.code()),
        (404, Some("MESSAGE_NOT_FOUND")),
        "cleared messages cannot be patched"
    );
    assert_eq!(
        api.messages().await.len(),
        1,
        "and the patch resurrected nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_during_a_clear_sees_all_messages_or_none() {
    let api = TestApi::start().await;
    for i in 0..60 {
        api.create(message_body(&format!("m{i}"), "x")).await;
    }
    let done = AtomicBool::new(false);
    let reader = async {
        let mut counts = Vec::new();
        while !done.load(Ordering::SeqCst) && counts.len() < 500 {
            counts.push(api.messages().await.len());
        }
        counts.push(api.messages().await.len());
        counts
    };
    let clearer = async {
        let count = api.clear().await.deleted_count();
        done.store(true, Ordering::SeqCst);
        count
    };
    let (counts, deleted) = tokio::join!(reader, clearer);
    assert_eq!(deleted, 60);
    assert!(
        counts.iter().all(|c| *c == 60 || *c == 0),
        "a reader saw part of a chat: {counts:?}"
    );
    assert_eq!(counts.last(), Some(&0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_racing_a_clear_are_either_cleared_or_visible_never_lost() {
    let api = TestApi::start().await;
    for i in 0..10 {
        api.create(message_body(&format!("before{i}"), "x")).await;
    }
    let creates = join_all((0..30).map(|i| {
        let api = &api;
        async move {
            api.create(message_body(&format!("racer{i}"), "x"))
                .await
                .status
        }
    }));
    let clear = async { api.clear().await.deleted_count() };
    let (statuses, deleted) = tokio::join!(creates, clear);
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(created, 30, "{statuses:?}");
    let after = api.messages().await.len();
    assert_eq!(
        10 + created,
        deleted as usize + after,
        "every 201 is either counted by the clear or still visible"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_racing_a_clear_may_land_before_it_but_never_show_after_it() {
    let api = TestApi::start().await;
    api.create(message_body("a1", "x")).await;
    let patch = |i: usize| {
        let api = &api;
        async move {
            let body = json!({"content": format!("v{i}")});
            api.patch("a1").json(body).await.status
        }
    };
    let clear = async { api.clear().await.deleted_count() };
    let (statuses, deleted) = tokio::join!(join_all((0..10).map(patch)), clear);
    assert_eq!(deleted, 1);
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 404),
        "{statuses:?}"
    );
    assert_eq!(api.messages().await.len(), 0, "no PATCH brings it back");
    assert_eq!(patch(99).await, 404, "after the clear the message is gone");
    // The id is free again, and a PATCH finds the new message, not the cleared one.
    assert_eq!(api.create(message_body("a1", "x")).await.status, 201);
    assert_eq!(patch(100).await, 200);
    let reply = api.list().await;
    assert_eq!(reply.body["data"]["messages"][0]["content"], "v100");
    assert_eq!(reply.body["data"]["messages"][0]["version"], 2);
}
