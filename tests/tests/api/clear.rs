use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::join_all;
use lambda_http::http::Method;
use serde_json::json;
use testkit::{dynamo_deps, message_body, new_job, parts, Call};

async fn post(deps: &shared::Deps<impl shared::store::ChatStore>, job: &str, id: &str) -> u16 {
    parts(
        &create::handler(
            deps,
            Call::new(Method::POST, job)
                .json(message_body(id, "x"))
                .build(),
        )
        .await,
    )
    .0
}

async fn visible(deps: &shared::Deps<impl shared::store::ChatStore>, job: &str) -> usize {
    let (status, body) = parts(&list::handler(deps, Call::new(Method::GET, job).build()).await);
    assert_eq!(status, 200, "{body}");
    body["data"]["messages"].as_array().unwrap().len()
}

async fn delete(deps: &shared::Deps<impl shared::store::ChatStore>, job: &str) -> u64 {
    let (status, body) = parts(&clear::handler(deps, Call::new(Method::DELETE, job).build()).await);
    assert_eq!(status, 200, "{body}");
    body["data"]["deleted_count"].as_u64().unwrap()
}

#[tokio::test]
async fn clear_counts_what_was_visible_and_a_new_chat_starts_at_once() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    assert_eq!(delete(&deps, &job).await, 0, "an empty chat clears to 0");
    for i in 0..15 {
        assert_eq!(post(&deps, &job, &format!("m{i}")).await, 201);
    }
    assert_eq!(delete(&deps, &job).await, 15);
    assert_eq!(visible(&deps, &job).await, 0);
    assert_eq!(delete(&deps, &job).await, 0);
    assert_eq!(
        post(&deps, &job, "m0").await,
        201,
        "a cleared id can be used again"
    );
    assert_eq!(visible(&deps, &job).await, 1);

    let (status, body) = parts(
        &patch::handler(
            &deps,
            Call::new(Method::PATCH, &job)
                .message("m1")
                .json(json!({"content": "zombie"}))
                .build(),
        )
        .await,
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("MESSAGE_NOT_FOUND")),
        "cleared messages cannot be patched"
    );
    assert_eq!(
        visible(&deps, &job).await,
        1,
        "and the patch resurrected nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_during_a_clear_sees_all_messages_or_none() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    for i in 0..60 {
        post(&deps, &job, &format!("m{i}")).await;
    }
    let done = AtomicBool::new(false);
    let reader = async {
        let mut counts = Vec::new();
        while !done.load(Ordering::SeqCst) && counts.len() < 500 {
            counts.push(visible(&deps, &job).await);
        }
        counts.push(visible(&deps, &job).await);
        counts
    };
    let clearer = async {
        let count = delete(&deps, &job).await;
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
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    for i in 0..10 {
        post(&deps, &job, &format!("before{i}")).await;
    }
    let creates = join_all((0..30).map(|i| {
        let deps = &deps;
        let job = &job;
        async move { post(deps, job, &format!("racer{i}")).await }
    }));
    let (statuses, deleted) = tokio::join!(creates, delete(&deps, &job));
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(created, 30, "{statuses:?}");
    let after = visible(&deps, &job).await;
    assert_eq!(
        10 + created,
        deleted as usize + after,
        "every 201 is either counted by the clear or still visible"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_racing_a_clear_may_land_before_it_but_never_show_after_it() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    post(&deps, &job, "a1").await;
    let patch = |i: usize| {
        let deps = &deps;
        let job = &job;
        async move {
            let call = Call::new(Method::PATCH, job)
                .message("a1")
                .json(json!({"content": format!("v{i}")}));
            parts(&patch::handler(deps, call.build()).await).0
        }
    };
    let (statuses, deleted) = tokio::join!(join_all((0..10).map(patch)), delete(&deps, &job));
    assert_eq!(deleted, 1);
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 404),
        "{statuses:?}"
    );
    assert_eq!(visible(&deps, &job).await, 0, "no PATCH brings it back");
    assert_eq!(patch(99).await, 404, "after the clear the message is gone");
    // The id is free again, and a PATCH finds the new message, not the cleared one.
    assert_eq!(post(&deps, &job, "a1").await, 201);
    assert_eq!(patch(100).await, 200);
    let (_, body) = parts(&list::handler(&deps, Call::new(Method::GET, &job).build()).await);
    assert_eq!(body["data"]["messages"][0]["content"], "v100");
    assert_eq!(body["data"]["messages"][0]["version"], 2);
}
