//! Summary, export and restore (docs/api.md, "Summary, export, restore") on DynamoDB Local.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{json, Value};
use testkit::{message_body, Reply, TestApi, OWNER};

#[tokio::test]
async fn the_summary_follows_every_kind_of_write() {
    let api = TestApi::start().await;
    let empty = api.summary().await.ok_data().clone();
    assert_eq!(
        empty,
        json!({"job_id": api.job, "message_count": 0, "first_timestamp": null,
               "last_timestamp": null, "by_role": {}, "last_message_preview": null})
    );
    api.create(json!({"message_id": "u1", "role": "user", "content": "hello"}))
        .await;
    let long = "é".repeat(300);
    api.create(
        json!({"message_id": "a1", "role": "assistant", "content": "",
                             "status": "streaming"}),
    )
    .await;
    let s = api.summary().await.ok_data().clone();
    assert_eq!(
        (&s["message_count"], &s["by_role"]),
        (&json!(2), &json!({"user": 1, "assistant": 1}))
    );
    assert_eq!(s["last_message_preview"], "");
    let first = api.messages().await[0]["timestamp"].clone();
    assert_eq!(s["first_timestamp"], first);

    let patch = api.patch("a1").json(json!({"content": long}));
    assert_eq!(patch.await.status, 200);
    let s = api.summary().await.ok_data().clone();
    let preview = s["last_message_preview"].as_str().unwrap();
    assert_eq!(preview.chars().count(), 200, "200 characters, not bytes");
    assert_eq!(s["last_timestamp"], api.messages().await[1]["timestamp"]);

    assert_eq!(api.clear().await.deleted_count(), 2);
    assert_eq!(api.summary().await.ok_data()["message_count"], 0);
    api.create(json!({"message_id": "u2", "role": "user", "content": "again"}))
        .await;
    let s = api.summary().await.ok_data().clone();
    assert_eq!(
        (&s["message_count"], &s["by_role"]),
        (&json!(1), &json!({"user": 1}))
    );

    assert_eq!(api.restore().await.status, 200);
    let s = api.summary().await.ok_data().clone();
    assert_eq!(
        (&s["message_count"], &s["by_role"]),
        (&json!(3), &json!({"user": 2, "assistant": 1}))
    );
    assert_eq!(
        s["first_timestamp"], first,
        "the restored messages are the oldest"
    );
    assert_eq!(s["last_message_preview"], "again");
}

#[tokio::test]
async fn the_three_routes_answer_owner_member_and_staff_and_a_stranger_gets_404() {
    let api = TestApi::start().await;
    let api = api.on_job(&api.new_job(OWNER, &["member-1"]).await);
    api.fill(2, "x").await;
    for (who, groups, allowed) in [
        (testkit::OWNER, &[][..], true),
        ("member-1", &[][..], true),
        ("someone", &["staff"][..], true),
        ("stranger", &[][..], false),
    ] {
        let user = api.as_user(who, groups);
        let Reply {
            status: s1,
            body: b1,
            ..
        } = user.summary().await;
        let Reply {
            status: s2,
            body: b2,
            ..
        } = user.export().await;
        if allowed {
            assert_eq!((s1, s2), (200, 200), "{who}: {b1} {b2}");
        } else {
            assert_eq!((s1, b1["code"].as_str()), (404, Some("JOB_NOT_FOUND")));
            assert_eq!((s2, b2["code"].as_str()), (404, Some("JOB_NOT_FOUND")));
            let Reply {
                status: s3,
                body: b3,
                ..
            } = user.restore().await;
            assert_eq!((s3, b3["code"].as_str()), (404, Some("JOB_NOT_FOUND")));
        }
    }
    let other = api.on_job(&api.new_job("someone-else", &[]).await);
    let status = other.restore().await.status;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn messages_named_summary_export_or_restore_are_created_and_patched_as_usual() {
    let api = TestApi::start().await;
    for name in ["summary", "export", "restore"] {
        assert_eq!(
            api.create(json!({"message_id": name, "role": "user", "content": ""}))
                .await
                .status,
            201
        );
        let patch = api.patch(name).json(json!({"content": name}));
        assert_eq!(patch.await.status, 200);
    }
    let contents: Vec<Value> = api
        .messages()
        .await
        .iter()
        .map(|m| m["content"].clone())
        .collect();
    assert_eq!(
        contents,
        [json!("summary"), json!("export"), json!("restore")]
    );
}

#[tokio::test]
async fn a_history_over_one_megabyte_exports_whole_in_every_format() {
    let api = TestApi::start().await;
    let content = format!("{}\n<b>\"quoted\"</b> ``` `", "x".repeat(20_000));
    api.fill(60, &content).await;
    let ids: Vec<String> = (0..60).map(|i| format!("m{i:05}")).collect();

    let response = api.export().await;
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.header("content-disposition"),
        Some(format!("attachment; filename=\"quote-chat-{}.json\"", api.job).as_str())
    );
    let Reply { status, body, .. } = response;
    assert_eq!(status, 200);
    assert!(body["data"]["exported_at"].as_str().unwrap().ends_with('Z'));
    assert!(body["data"]["next_cursor"].is_null());
    let exported: Vec<&str> = body["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(exported, ids);
    assert_eq!(body["data"]["messages"][59]["content"], content);

    let response = api.export().query("format=jsonl").await;
    assert_eq!(
        response.header("content-type"),
        Some("application/x-ndjson")
    );
    let lines: Vec<Value> = response
        .text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 60);
    assert_eq!(lines[0]["content"], content);

    let response = api.export().query("format=markdown").await;
    assert!(response
        .header("content-disposition")
        .unwrap()
        .ends_with(".md\""));
    let markdown = response.text;
    assert_eq!(markdown.matches("## user · ").count(), 60);
    assert!(
        markdown.contains(&format!("````text\n{content}\n````")),
        "content kept as text"
    );

    let Reply { status, body, .. } = api.export().query("format=csv").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    assert!(body["details"]["format"].is_string());
}

#[tokio::test]
async fn an_export_past_one_response_pages_with_a_cursor_and_a_link() {
    let api = TestApi::start().await;
    // 30 × 250 KB: past the ~5 MB of one response.
    let content = "y".repeat(250_000);
    api.fill(30, &content).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("format=jsonl&cursor={c}"),
            None => "format=jsonl".to_owned(),
        };
        let response = api.export().query(&query).await;
        assert_eq!(response.status, 200);
        assert!(response.text.len() < 5_500_000);
        for line in response.text.lines() {
            let message: Value = serde_json::from_str(line).unwrap();
            seen.push(message["message_id"].as_str().unwrap().to_owned());
        }
        let Some(link) = response.header("link") else {
            break;
        };
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        let start = link.find("cursor=").unwrap() + "cursor=".len();
        let end = link.find('>').unwrap();
        cursor = Some(link[start..end].to_owned());
    }
    let expected: Vec<String> = (0..30).map(|i| format!("m{i:05}")).collect();
    assert_eq!(
        seen, expected,
        "every message once, in order, over several pages"
    );
}

#[tokio::test]
async fn restore_brings_back_the_last_clear_exactly_and_only_once() {
    let api = TestApi::start().await;
    let Reply { status, body, .. } = api.restore().await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOTHING_TO_RESTORE"))
    );
    api.create(
        json!({"message_id": "a", "role": "assistant", "content": "first",
                             "metadata": {"n": 1.50, "deep": {"x": [1, 2]}}}),
    )
    .await;
    let patch = api.patch("a").json(json!({"content": "edited"}));
    assert_eq!(patch.await.status, 200);
    api.create(json!({"message_id": "b", "role": "user", "content": "second"}))
        .await;
    let before = api.messages().await;
    assert_eq!(api.clear().await.deleted_count(), 2);
    api.create(json!({"message_id": "c", "role": "user", "content": "after the clear"}))
        .await;

    let Reply { status, body, .. } = api.restore().await;
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({"restored_count": 2})),
        "{body}"
    );
    let after = api.messages().await;
    assert_eq!(after.len(), 3);
    assert_eq!(
        after[..2],
        before[..],
        "exactly as they were, before the newer message"
    );
    assert_eq!(after[2]["message_id"], "c");
    let patch = api
        .patch("a")
        .if_match(2)
        .json(json!({"content": "patchable again"}));
    assert_eq!(patch.await.status, 200);

    let Reply { status, body, .. } = api.restore().await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOTHING_TO_RESTORE")),
        "only once"
    );
    assert_eq!(
        api.clear().await.deleted_count(),
        3,
        "a restored chat clears whole"
    );
    assert_eq!(api.restore().await.status, 200);
    assert_eq!(api.messages().await.len(), 3);
}

#[tokio::test]
async fn a_reused_id_makes_restore_409_with_nothing_restored() {
    let api = TestApi::start().await;
    api.fill(3, "old").await;
    assert_eq!(api.clear().await.deleted_count(), 3);
    assert_eq!(
        api.create(json!({"message_id": "m00001", "role": "user", "content": "new"}))
            .await
            .status,
        201
    );
    let Reply { status, body, .. } = api.restore().await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("MESSAGE_ID_CONFLICT"))
    );
    let now = api.messages().await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["content"], "new");
}

#[tokio::test]
async fn nothing_comes_back_once_retention_ran_out() {
    let api = TestApi::with_retention_days(0).await;
    api.fill(2, "x").await;
    assert_eq!(api.clear().await.deleted_count(), 2);
    let Reply { status, body, .. } = api.restore().await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOTHING_TO_RESTORE"))
    );
    assert!(api.messages().await.is_empty());
}

#[tokio::test]
async fn restored_items_lose_their_expiry_once_the_sweep_ran() {
    let api = TestApi::on_own_tables("restore-expiry", None).await;
    api.fill(5, "x").await;
    assert_eq!(api.clear().await.deleted_count(), 5);
    let in_a_minute = || Instant::now() + Duration::from_secs(60);
    api.store().sweep(in_a_minute()).await.unwrap();
    let expiring = |api: &TestApi, job: String| {
        let client = api.store().client().clone();
        let table = api.store().messages_table().to_owned();
        async move {
            let out = client
                .query()
                .table_name(table)
                .key_condition_expression("job_id = :j")
                .filter_expression("attribute_exists(expires_at)")
                .expression_attribute_values(":j", aws_sdk_dynamodb::types::AttributeValue::S(job))
                .consistent_read(true)
                .send()
                .await
                .unwrap();
            out.count
        }
    };
    assert_eq!(
        expiring(&api, api.job.clone()).await,
        10,
        "5 messages and their lookups"
    );
    assert_eq!(api.restore().await.status, 200);
    api.store().sweep(in_a_minute()).await.unwrap();
    assert_eq!(expiring(&api, api.job.clone()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_racing_creates_clears_and_restores_leave_the_chat_consistent() {
    let api = TestApi::start().await;
    for round in 0..3 {
        let api = api.on_job(&api.new_job(OWNER, &[]).await);
        api.fill(10, "x").await;
        assert_eq!(api.clear().await.deleted_count(), 10);
        let creates = join_all((0..5).map(|i| {
            let api = &api;
            async move {
                let body = message_body(&format!("new{round}-{i}"), "y");
                api.create(body).await.status
            }
        }));
        let restores = join_all((0..3).map(|_| api.restore().send()));
        let (created, restored, racing_cleared) =
            tokio::join!(creates, restores, clear_after_yield(&api));
        assert!(created.iter().all(|s| *s == 201), "{created:?}");
        // Each restore that wins brings back a different clear (the one before the racing
        // clear, or the racing clear itself); the others find nothing left to restore. A
        // racing clear that came before every create hid nothing: once it is the last clear,
        // there is nothing to restore, so no restore may win after it.
        let wins = restored.iter().filter(|r| r.status == 200).count();
        let possible = if racing_cleared == 0 { 0..=1 } else { 1..=2 };
        assert!(
            possible.contains(&wins),
            "{racing_cleared} cleared: {restored:?}"
        );
        for Reply { status, body, .. } in &restored {
            assert!(
                *status == 200 || body["code"] == "NOTHING_TO_RESTORE",
                "{body}"
            );
        }
        // Whatever the order, the counters agree with what a reader sees.
        let visible = api.messages().await;
        let s = api.summary().await.ok_data().clone();
        assert_eq!(
            s["message_count"].as_u64().unwrap() as usize,
            visible.len(),
            "round {round}"
        );
        let mut ids: Vec<&str> = visible
            .iter()
            .map(|m| m["message_id"].as_str().unwrap())
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "no id twice");
    }
}

async fn clear_after_yield(api: &TestApi) -> u64 {
    tokio::task::yield_now().await;
    api.clear().await.deleted_count()
}
