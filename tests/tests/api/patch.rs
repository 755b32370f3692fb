use futures::future::join_all;
use serde_json::json;
use testkit::{Reply, TestApi};

async fn create_assistant(api: &TestApi, id: &str) {
    let body = json!({"message_id": id, "role": "assistant", "content": "", "metadata": {"streaming": true, "model": "m-1", "cost": 0.25}});
    assert_eq!(api.create(body).await.status, 201);
}

#[tokio::test]
async fn patch_replaces_content_merges_metadata_and_bumps_version() {
    let api = TestApi::start().await;
    create_assistant(&api, "a1").await;
    let Reply { status, body, .. } = api.patch("a1").if_match(1).json(json!({"content": "I understand", "metadata": {"streaming": null, "processing_time": 2.5}}))
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

    let listed = api.list().await.body;
    assert_eq!(
        listed["data"]["messages"][0], *m,
        "GET shows the patched message"
    );
    assert_eq!(
        listed["data"]["messages"][0]["timestamp"], m["timestamp"],
        "timestamp never changes"
    );

    let Reply { status, body, .. } = api
        .patch("a1")
        .if_match(1)
        .json(json!({"content": "stale"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (412, Some("PRECONDITION_FAILED"))
    );
    assert_eq!(body["details"]["current_version"], 2);
}

#[tokio::test]
async fn patch_never_creates() {
    let api = TestApi::start().await;
    let Reply { status, body, .. } = api.patch("ghost").json(json!({"content": "boo"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("MESSAGE_NOT_FOUND"))
    );
    let listed = api.list().await.body;
    assert_eq!(listed["data"]["messages"], json!([]));
    let body = json!({"message_id": "ghost", "role": "user", "content": "real"});
    assert_eq!(api.create(body).await.status, 201, "the id was never taken");
}

#[tokio::test]
async fn a_patch_right_after_its_post_always_finds_it() {
    let api = TestApi::start().await;
    for i in 0..20 {
        let id = format!("a{i}");
        create_assistant(&api, &id).await;
        let Reply { status, body, .. } = api
            .patch(&id)
            .header("if-match", "1")
            .json(json!({"content": "chunk"}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_lose_no_update_and_if_match_lets_one_win() {
    let api = TestApi::start().await;
    create_assistant(&api, "a1").await;
    let patches = (0..10).map(|i| {
        api.patch("a1")
            .json(json!({"metadata": {format!("k{i}"): i}}))
            .send()
    });
    let results = join_all(patches).await;
    assert!(results.iter().all(|r| r.status == 200), "{results:?}");
    let listed = api.list().await.body;
    let m = &listed["data"]["messages"][0];
    assert_eq!(m["version"], 11);
    for i in 0..10 {
        assert_eq!(m["metadata"][format!("k{i}")], i, "update k{i} lost: {m}");
    }

    let guarded = (0..6).map(|i| {
        api.patch("a1")
            .if_match(11)
            .json(json!({"content": format!("v{i}")}))
            .send()
    });
    let results = join_all(guarded).await;
    let winners = results.iter().filter(|r| r.status == 200).count();
    let stale = results
        .iter()
        .filter(|r| r.status == 412 && r.body["details"]["current_version"] == 12)
        .count();
    assert_eq!((winners, stale), (1, 5), "{results:?}");
}

#[tokio::test]
async fn read_only_fields_and_bad_patches_are_refused_without_a_write() {
    let api = TestApi::start().await;
    create_assistant(&api, "a1").await;
    for body in [
        json!({"role": "user", "content": "x"}),
        json!({"timestamp": "2020-01-01T00:00:00Z", "content": "x"}),
        json!({"message_id": "other", "content": "x"}),
        json!({"content": 5}),
        json!({"metadata": [1]}),
        json!({}),
    ] {
        let Reply {
            status,
            body: reply,
            ..
        } = api.patch("a1").json(body.clone()).await;
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
        let reply = api.patch("a1").json(raw).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, Some("VALIDATION_ERROR")),
            "{raw}"
        );
    }
    let status = api
        .patch("a1")
        .if_match(1)
        .json(json!({"content": "ok"}))
        .await
        .status;
    assert_eq!(status, 200, "still at version 1");
}

#[tokio::test]
async fn if_match_star_matches_any_version_of_an_existing_message_only() {
    let api = TestApi::start().await;
    create_assistant(&api, "a1").await;
    for (version, star) in [(2, "*"), (3, " * ")] {
        let Reply { status, body, .. } = api
            .patch("a1")
            .header("if-match", star)
            .json(json!({"content": "x"}))
            .await;
        assert_eq!(
            (status, &body["data"]["version"]),
            (200, &json!(version)),
            "{star:?}"
        );
    }
    // RFC 9110 13.2.1: a request that would fail without its precondition (404) ignores it.
    let Reply { status, body, .. } = api
        .patch("nope")
        .header("if-match", "*")
        .json(json!({"content": "x"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("MESSAGE_NOT_FOUND"))
    );
    let Reply { status, body, .. } = api
        .patch("a1")
        .header("if-match", "*, \"1\"")
        .json(json!({"content": "x"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "* stands alone"
    );
}

#[tokio::test]
async fn if_match_compares_strongly_and_accepts_any_of_several_versions_and_other_tags_never_match()
{
    let api = TestApi::start().await;
    create_assistant(&api, "a1").await;
    let Reply { status, body, .. } = api
        .patch("a1")
        .header("if-match", "W/\"1\"")
        .json(json!({"content": "x"}))
        .await;
    assert_eq!(
        (status, &body["details"]["current_version"]),
        (412, &json!(1)),
        "weak never matches"
    );
    let Reply { status, body, .. } = api
        .patch("a1")
        .header("if-match", "\"7\", \"1\"")
        .json(json!({"content": "y"}))
        .await;
    assert_eq!(
        (status, &body["data"]["version"]),
        (200, &json!(2)),
        "{body}"
    );
    let status = api
        .patch("a1")
        .header("if-match", "\"1\", \"3\"")
        .json(json!({"content": "z"}))
        .await
        .status;
    assert_eq!(status, 412);
    // A tag that is no version (a list's ETag sent by mistake) is a mismatch like any other.
    let list_tag = api
        .list()
        .await
        .header("etag")
        .unwrap_or_default()
        .to_owned();
    let Reply { status, body, .. } = api
        .patch("a1")
        .header("if-match", &list_tag)
        .json(json!({"content": "z"}))
        .await;
    assert_eq!(
        (status, &body["details"]["current_version"]),
        (412, &json!(2)),
        "{list_tag}: {body}"
    );
    // An empty list element is skipped (RFC 9110 §5.6.1.2).
    let status = api
        .patch("a1")
        .header("if-match", "\"2\",")
        .json(json!({"content": "z"}))
        .await
        .status;
    assert_eq!(status, 200);
    let Reply { status, body, .. } = api
        .patch("a1")
        .header("if-match", "v3")
        .json(json!({"content": "z"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "not an entity tag at all"
    );
}
