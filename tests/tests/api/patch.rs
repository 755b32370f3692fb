use futures::future::join_all;
use lambda_http::http::Method;
use serde_json::{json, Value};
use testkit::{dynamo_deps, new_job, parts, Call};

async fn send_patch(
    deps: &shared::Deps<impl shared::store::ChatStore>,
    job: &str,
    id: &str,
    if_match: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut call = Call::new(Method::PATCH, job).message(id);
    if let Some(version) = if_match {
        call = call.header("if-match", version);
    }
    parts(&patch::handler(deps, call.json(body).build()).await)
}

async fn create_assistant(deps: &shared::Deps<impl shared::store::ChatStore>, job: &str, id: &str) {
    let body = json!({"message_id": id, "role": "assistant", "content": "", "metadata": {"streaming": true, "model": "m-1", "cost": 0.25}});
    let (status, _) =
        parts(&create::handler(deps, Call::new(Method::POST, job).json(body).build()).await);
    assert_eq!(status, 201);
}

#[tokio::test]
async fn patch_replaces_content_merges_metadata_and_bumps_version() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    create_assistant(&deps, &job, "a1").await;
    let (status, body) = send_patch(
        &deps,
        &job,
        "a1",
        Some("\"1\""),
        json!({"content": "I understand", "metadata": {"streaming": null, "processing_time": 2.5}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let m = &body["data"];
    assert_eq!(m["content"], "I understand");
    assert_eq!(m["version"], 2);
    assert_eq!(
        m["metadata"],
        json!({"model": "m-1", "cost": 0.25, "processing_time": 2.5})
    );
    assert_eq!(m["role"], "assistant");

    let (_, listed) = parts(&list::handler(&deps, Call::new(Method::GET, &job).build()).await);
    assert_eq!(
        listed["data"]["messages"][0], *m,
        "GET shows the patched message"
    );
    assert_eq!(
        listed["data"]["messages"][0]["timestamp"], m["timestamp"],
        "timestamp never changes"
    );

    let (status, body) = send_patch(
        &deps,
        &job,
        "a1",
        Some("\"1\""),
        json!({"content": "stale"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (412, Some("PRECONDITION_FAILED"))
    );
    assert_eq!(body["details"]["current_version"], 2);
}

#[tokio::test]
async fn patch_never_creates() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    let (status, body) = send_patch(&deps, &job, "ghost", None, json!({"content": "boo"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("MESSAGE_NOT_FOUND"))
    );
    let (_, listed) = parts(&list::handler(&deps, Call::new(Method::GET, &job).build()).await);
    assert_eq!(listed["data"]["messages"], json!([]));
    let body = json!({"message_id": "ghost", "role": "user", "content": "real"});
    let (status, _) =
        parts(&create::handler(&deps, Call::new(Method::POST, &job).json(body).build()).await);
    assert_eq!(status, 201, "the id was never taken");
}

#[tokio::test]
async fn a_patch_right_after_its_post_always_finds_it() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    for i in 0..20 {
        let id = format!("a{i}");
        create_assistant(&deps, &job, &id).await;
        let (status, body) =
            send_patch(&deps, &job, &id, Some("1"), json!({"content": "chunk"})).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_lose_no_update_and_if_match_lets_one_win() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    create_assistant(&deps, &job, "a1").await;
    let patches = (0..10).map(|i| {
        send_patch(
            &deps,
            &job,
            "a1",
            None,
            json!({"metadata": {format!("k{i}"): i}}),
        )
    });
    let results = join_all(patches).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    let (_, listed) = parts(&list::handler(&deps, Call::new(Method::GET, &job).build()).await);
    let m = &listed["data"]["messages"][0];
    assert_eq!(m["version"], 11);
    for i in 0..10 {
        assert_eq!(m["metadata"][format!("k{i}")], i, "update k{i} lost: {m}");
    }

    let guarded = (0..6).map(|i| {
        send_patch(
            &deps,
            &job,
            "a1",
            Some("\"11\""),
            json!({"content": format!("v{i}")}),
        )
    });
    let results = join_all(guarded).await;
    let winners = results.iter().filter(|(s, _)| *s == 200).count();
    let stale = results
        .iter()
        .filter(|(s, b)| *s == 412 && b["details"]["current_version"] == 12)
        .count();
    assert_eq!((winners, stale), (1, 5), "{results:?}");
}

#[tokio::test]
async fn read_only_fields_and_bad_patches_are_refused_without_a_write() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    create_assistant(&deps, &job, "a1").await;
    for body in [
        json!({"role": "user", "content": "x"}),
        json!({"timestamp": "2020-01-01T00:00:00Z", "content": "x"}),
        json!({"message_id": "other", "content": "x"}),
        json!({"content": 5}),
        json!({"metadata": [1]}),
        json!({}),
    ] {
        let (status, reply) = send_patch(&deps, &job, "a1", None, body.clone()).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{body}"
        );
    }
    // What `json!` cannot build: hostile metadata and strings, refused before any write.
    let deep = format!(
        r#"{{"metadata":{{"a":{}0{}}}}}"#,
        "[".repeat(32),
        "]".repeat(32)
    );
    for raw in [
        deep.as_str(),
        r#"{"metadata":{"n":-1e400}}"#,
        r#"{"metadata":{"a":{"b":{"c":1,"c":1}}}}"#,
        r#"{"metadata":{"s":"\udfff"}}"#,
        r#"{"content":"\ud800x"}"#,
        r#"{"content":"a","content":"b"}"#,
    ] {
        let call = Call::new(Method::PATCH, &job).message("a1").json(raw);
        let (status, reply) = parts(&patch::handler(&deps, call.build()).await);
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{raw}"
        );
    }
    let (status, _) = send_patch(&deps, &job, "a1", Some("\"1\""), json!({"content": "ok"})).await;
    assert_eq!(status, 200, "still at version 1");
}

#[tokio::test]
async fn if_match_star_matches_any_version_of_an_existing_message_only() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    create_assistant(&deps, &job, "a1").await;
    for (version, star) in [(2, "*"), (3, " * ")] {
        let (status, body) =
            send_patch(&deps, &job, "a1", Some(star), json!({"content": "x"})).await;
        assert_eq!(
            (status, &body["data"]["version"]),
            (200, &json!(version)),
            "{star:?}"
        );
    }
    // RFC 9110 13.2.1: a request that would fail without its precondition (404) ignores it.
    let (status, body) = send_patch(&deps, &job, "nope", Some("*"), json!({"content": "x"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("MESSAGE_NOT_FOUND"))
    );
    let (status, body) =
        send_patch(&deps, &job, "a1", Some("*, \"1\""), json!({"content": "x"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "* stands alone"
    );
}

#[tokio::test]
async fn if_match_compares_strongly_and_accepts_any_of_several_versions() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    create_assistant(&deps, &job, "a1").await;
    let (status, body) =
        send_patch(&deps, &job, "a1", Some("W/\"1\""), json!({"content": "x"})).await;
    assert_eq!(
        (status, &body["details"]["current_version"]),
        (412, &json!(1)),
        "weak never matches"
    );
    let (status, body) = send_patch(
        &deps,
        &job,
        "a1",
        Some("\"7\", \"1\""),
        json!({"content": "y"}),
    )
    .await;
    assert_eq!(
        (status, &body["data"]["version"]),
        (200, &json!(2)),
        "{body}"
    );
    let (status, _) = send_patch(
        &deps,
        &job,
        "a1",
        Some("\"1\", \"3\""),
        json!({"content": "z"}),
    )
    .await;
    assert_eq!(status, 412);
    let (status, body) =
        send_patch(&deps, &job, "a1", Some("\"1\","), json!({"content": "z"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
}
