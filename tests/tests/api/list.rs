use serde_json::Value;
use testkit::{message_ids, TestApi};

/// The status, body and size of a list with `query`.
async fn get(api: &TestApi, query: &str) -> (u16, Value, usize) {
    let reply = api.list().query(query).await;
    (reply.status, reply.body, reply.text.len())
}

#[tokio::test]
async fn a_history_of_several_dynamodb_pages_comes_back_whole_and_in_order() {
    let api = TestApi::start().await;
    // 3.2 MB: four 1 MB Query pages, under the 5 MB response cap.
    api.fill(32, &"q".repeat(100 * 1024)).await;
    let (status, body, _) = get(&api, "").await;
    assert_eq!(status, 200);
    let expected: Vec<String> = (0..32).map(|i| format!("m{i:05}")).collect();
    assert_eq!(message_ids(&body), expected);
    assert!(body["data"]["next_cursor"].is_null());
}

#[tokio::test]
async fn responses_stay_under_lambdas_cap_and_continue_by_cursor() {
    let api = TestApi::start().await;
    // 25 messages of 250 KiB of quotes: 6.4 MB of content, 12.8 MB once escaped twice.
    api.fill(25, &"\"".repeat(250 * 1024)).await;
    let mut seen = Vec::new();
    let mut query = String::new();
    let mut pages = 0;
    loop {
        let (status, body, size) = get(&api, &query).await;
        assert_eq!(status, 200);
        let escaped = size + body.to_string().matches(['"', '\\']).count();
        assert!(
            escaped < 6 * 1024 * 1024,
            "page of {escaped} bytes would break Lambda's 6 MB cap"
        );
        pages += 1;
        seen.extend(message_ids(&body));
        match body["data"]["next_cursor"].as_str() {
            Some(cursor) => query = format!("cursor={cursor}"),
            None => break,
        }
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(
        seen,
        (0..25).map(|i| format!("m{i:05}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn at_most_1000_messages_per_response_then_a_cursor() {
    let api = TestApi::start().await;
    api.fill(1003, "").await;
    let (_, first, _) = get(&api, "").await;
    assert_eq!(message_ids(&first).len(), 1000);
    let cursor = first["data"]["next_cursor"]
        .as_str()
        .expect("a cursor after 1000");
    let (_, rest, _) = get(&api, &format!("cursor={cursor}")).await;
    assert_eq!(message_ids(&rest), ["m01000", "m01001", "m01002"]);
    assert!(rest["data"]["next_cursor"].is_null());
}

#[tokio::test]
async fn limit_order_and_cursors_walk_both_ways_and_refuse_foreign_or_tampered_cursors() {
    let api = TestApi::start().await;
    let other_job = api.on_job(&api.new_job(testkit::OWNER, &[]).await);
    api.fill(7, "x").await;
    other_job.fill(1, "x").await;

    for (order, mut expected) in [
        ("asc", (0..7).collect::<Vec<_>>()),
        ("desc", (0..7).rev().collect()),
    ] {
        let mut seen = Vec::new();
        let mut query = format!("limit=3&order={order}");
        let mut cursor_seen = None;
        loop {
            let (status, body, _) = get(&api, &query).await;
            assert_eq!(status, 200, "{body}");
            assert!(message_ids(&body).len() <= 3);
            seen.extend(message_ids(&body));
            match body["data"]["next_cursor"].as_str() {
                Some(c) => {
                    cursor_seen = Some(c.to_owned());
                    query = format!("limit=3&order={order}&cursor={c}");
                }
                None => break,
            }
        }
        let expected: Vec<String> = expected.drain(..).map(|i| format!("m{i:05}")).collect();
        assert_eq!(seen, expected);

        let cursor = cursor_seen.unwrap();
        let (status, body, _) = get(&other_job, &format!("cursor={cursor}&order={order}")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("INVALID_CURSOR")),
            "foreign job"
        );
        let mut tampered = cursor.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let (status, _, _) = get(&api, &format!("cursor={tampered}&order={order}")).await;
        assert_eq!(status, 400, "tampered");
    }
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_the_parameter() {
    let api = TestApi::start().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("order=up", "order"),
    ] {
        let (status, body, _) = get(&api, query).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{query}"
        );
        assert!(body["details"][field].is_string(), "{query}: {body}");
    }
}
