use futures::future::join_all;
use serde_json::json;
use testkit::{message_body, Reply, TestApi};

#[tokio::test]
async fn create_answers_201_with_the_seed_shape_and_lists_it_back() {
    let api = TestApi::start().await;
    let body = json!({"message_id": "user-1", "role": "user", "content": "3 stainless steel boxes", "metadata": {}});
    let Reply {
        status,
        body: created,
        ..
    } = api.create(body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["success"], true);
    assert_eq!(created["data"]["message_id"], "user-1");
    let timestamp = created["data"]["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == "2024-01-15T10:30:00.123456Z".len(),
        "{timestamp}"
    );

    let listed = api.list().await.body;
    let message = &listed["data"]["messages"][0];
    assert_eq!(
        *message,
        json!({"message_id": "user-1", "role": "user", "content": "3 stainless steel boxes",
               "timestamp": timestamp, "metadata": {}, "version": 1,
               "status": "complete", "updated_at": timestamp})
    );
}

#[tokio::test]
async fn metadata_round_trips_exactly() {
    let api = TestApi::start().await;
    let metadata = r#"{"processing_time":2.5,"ratio":1.0,"sci":1e2,"big":12345678901234567890123,"nested":{"a":[1,{"b":null}],"s":"é\n"},"empty":{}}"#;
    let body =
        format!(r#"{{"message_id":"m","role":"assistant","content":"","metadata":{metadata}}}"#);
    assert_eq!(api.create(body).await.status, 201);
    let text = api.list().await.text;
    // Values come back byte for byte; top-level keys sorted (a DynamoDB map keeps no order).
    let sorted = r#"{"big":12345678901234567890123,"empty":{},"nested":{"a":[1,{"b":null}],"s":"é\n"},"processing_time":2.5,"ratio":1.0,"sci":1e2}"#;
    assert!(
        text.contains(&format!(r#""metadata":{sorted}"#)),
        "metadata changed on the way: {text}"
    );
}

#[tokio::test]
async fn replay_is_200_with_the_original_timestamp_and_reuse_is_409() {
    let api = TestApi::start().await;
    let first = api.create(message_body("m1", "hello")).await.body;
    let replay = api.create(message_body("m1", "hello")).await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.body["data"], first["data"]);
    let conflict = api.create(message_body("m1", "changed")).await;
    assert_eq!(
        (conflict.status, conflict.code()),
        (409, Some("MESSAGE_ID_CONFLICT"))
    );
    let listed = api.list().await.body;
    assert_eq!(listed["data"]["messages"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"]["messages"][0]["content"], "hello");
}

#[tokio::test]
async fn twenty_concurrent_posts_of_one_id_store_exactly_one_message() {
    let api = TestApi::start().await;
    // Half send the same body (retries), half a different one (conflicts).
    let requests = (0..20).map(|i| {
        let content = if i % 2 == 0 { "same" } else { "other" };
        api.create(message_body("racer", content)).send()
    });
    let results: Vec<(u16, serde_json::Value)> = join_all(requests)
        .await
        .into_iter()
        .map(|reply| (reply.status, reply.body))
        .collect();
    let created: Vec<_> = results.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(created.len(), 1, "exactly one creates: {results:?}");
    let winner_timestamp = &created[0].1["data"]["timestamp"];
    for (status, body) in &results {
        match status {
            201 => {}
            200 => assert_eq!(
                &body["data"]["timestamp"], winner_timestamp,
                "a replay returns the original"
            ),
            409 => assert_eq!(body["code"], "MESSAGE_ID_CONFLICT"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let listed = api.list().await.body;
    assert_eq!(listed["data"]["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_creates_of_different_ids_are_all_kept_in_one_order() {
    let api = TestApi::start().await;
    let requests = (0..12).map(|i| api.create(message_body(&format!("m{i:02}"), "x")).send());
    let statuses: Vec<u16> = join_all(requests).await.iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let listed = api.list().await.body;
    let messages = listed["data"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 12);
    let stamps: Vec<&str> = messages
        .iter()
        .map(|m| m["timestamp"].as_str().unwrap())
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "timestamps strictly increase within a chat: {stamps:?}"
    );
}

/// A create of `m` whose body also holds `field` (raw JSON text: what `json!` cannot build).
fn hostile(field: &str) -> String {
    format!(r#"{{"message_id":"m","role":"user","content":"",{field}}}"#)
}

#[tokio::test]
async fn refused_bodies_write_nothing() {
    let api = TestApi::start().await;
    let call = || api.post();
    let cases = [
        (call().json("{\"message_id\": \"m\""), 400, "INVALID_JSON"),
        (call().json(json!({"message_id": "m", "role": "robot", "content": 1})), 400, "VALIDATION_ERROR"),
        (call().json(json!({"message_id": "m", "role": "user", "content": "x".repeat(256 * 1024 + 1)})), 413, "PAYLOAD_TOO_LARGE"),
        (call().json(json!({"message_id": "m", "role": "user", "content": "", "metadata": {"k": "v".repeat(16 * 1024)}})), 413, "PAYLOAD_TOO_LARGE"),
        (call().header("content-type", "text/plain").raw_body(message_body("m", "x")), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (call().header("content-type", "text/plain").raw_body(""), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (call().raw_body(message_body("m", "x")), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (call().raw_body(""), 400, "INVALID_JSON"),
        // Hostile metadata and strings: each named, none stored.
        (call().json(hostile(&format!(r#""metadata":{{"a":{}0{}}}"#, "[".repeat(32), "]".repeat(32)))), 400, "VALIDATION_ERROR"),
        (call().json(hostile(r#""metadata":{"n":1e400}"#)), 400, "VALIDATION_ERROR"),
        (call().json(hostile(r#""metadata":{"a":[{"b":1,"b":2}]}"#)), 400, "VALIDATION_ERROR"),
        (call().json(hostile(r#""metadata":{"s":"\ud800"}"#)), 400, "VALIDATION_ERROR"),
        (call().json(r#"{"message_id":"m","role":"user","content":"\udc00"}"#), 400, "VALIDATION_ERROR"),
        (call().json(r#"{"message_id":"m","message_id":"n","role":"user","content":""}"#), 400, "VALIDATION_ERROR"),
    ];
    for (req, status, code) in cases {
        let reply = req.await;
        let body = &reply.body;
        assert_eq!((reply.status, reply.code()), (status, Some(code)), "{body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let Reply { status, body, .. } = api.create(message_body("m", &"é".repeat(128 * 1024))).await;
    assert_eq!(status, 201, "256 KiB of UTF-8 exactly is allowed: {body}");
    let listed = api.list().await.body;
    assert_eq!(listed["data"]["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_replay_is_recognised_whatever_its_key_order_spacing_and_escapes() {
    let api = TestApi::start().await;
    let post = |body: &str| api.create(body.to_owned());
    let first = r#"{"message_id":"m1","role":"user","content":"é","metadata":{"a":{"x":1,"y":[{"p":"é","q":2}]},"b":true}}"#;
    let again = r#"{ "metadata": { "b": true, "a": { "y": [ { "q": 2, "p": "\u00e9" } ], "x": 1 } },
                     "content": "\u00e9", "role": "user", "message_id": "m1" }"#;
    let created = post(first).await;
    assert_eq!(created.status, 201);
    let replay = post(again).await;
    assert_eq!(
        (replay.status, &replay.body["data"]),
        (200, &created.body["data"])
    );
    let different = first.replace(r#""q":2"#, r#""q":3"#);
    assert_eq!(post(&different).await.status, 409, "a nested value differs");
}
