//! Summary, export and restore (docs/api.md, "Summary, export, restore") on DynamoDB Local.

use std::time::{Duration, Instant};

use futures::future::join_all;
use lambda_http::http::Method;
use lambda_http::{Body, Response};
use serde_json::{json, Value};
use shared::store::dynamo::DynamoStore;
use shared::testing::fill;
use shared::Deps;
use testkit::{dynamo_deps, message_body, new_job, new_job_owned_by, parts, Call};

async fn post(deps: &Deps<DynamoStore>, job: &str, body: Value) -> u16 {
    parts(&create::handler(deps, Call::new(Method::POST, job).json(body).build()).await).0
}

async fn summary(deps: &Deps<DynamoStore>, job: &str) -> Value {
    let call = Call::new(Method::GET, job).on("summary");
    let (status, body) = parts(&list::handler(deps, call.build()).await);
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn clear(deps: &Deps<DynamoStore>, job: &str) -> u64 {
    let (status, body) = parts(&clear::handler(deps, Call::new(Method::DELETE, job).build()).await);
    assert_eq!(status, 200, "{body}");
    body["data"]["deleted_count"].as_u64().unwrap()
}

async fn restore(deps: &Deps<DynamoStore>, job: &str) -> (u16, Value) {
    let call = Call::new(Method::POST, job).on("restore");
    parts(&clear::handler(deps, call.build()).await)
}

async fn listed(deps: &Deps<DynamoStore>, job: &str) -> Vec<Value> {
    let (status, body) = parts(&list::handler(deps, Call::new(Method::GET, job).build()).await);
    assert_eq!(status, 200, "{body}");
    body["data"]["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn text(response: &Response<Body>) -> String {
    match response.body() {
        Body::Text(text) => text.clone(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn the_summary_follows_every_kind_of_write() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    let empty = summary(&deps, &job).await;
    assert_eq!(
        empty,
        json!({"job_id": job, "message_count": 0, "first_timestamp": null,
               "last_timestamp": null, "by_role": {}, "last_message_preview": null})
    );
    post(
        &deps,
        &job,
        json!({"message_id": "u1", "role": "user", "content": "hello"}),
    )
    .await;
    let long = "é".repeat(300);
    post(
        &deps,
        &job,
        json!({"message_id": "a1", "role": "assistant", "content": "",
                             "status": "streaming"}),
    )
    .await;
    let s = summary(&deps, &job).await;
    assert_eq!(
        (&s["message_count"], &s["by_role"]),
        (&json!(2), &json!({"user": 1, "assistant": 1}))
    );
    assert_eq!(s["last_message_preview"], "");
    let first = listed(&deps, &job).await[0]["timestamp"].clone();
    assert_eq!(s["first_timestamp"], first);

    let patch = Call::new(Method::PATCH, &job)
        .message("a1")
        .json(json!({"content": long}));
    assert_eq!(parts(&patch::handler(&deps, patch.build()).await).0, 200);
    let s = summary(&deps, &job).await;
    let preview = s["last_message_preview"].as_str().unwrap();
    assert_eq!(preview.chars().count(), 200, "200 characters, not bytes");
    assert_eq!(
        s["last_timestamp"],
        listed(&deps, &job).await[1]["timestamp"]
    );

    assert_eq!(clear(&deps, &job).await, 2);
    assert_eq!(summary(&deps, &job).await["message_count"], 0);
    post(
        &deps,
        &job,
        json!({"message_id": "u2", "role": "user", "content": "again"}),
    )
    .await;
    let s = summary(&deps, &job).await;
    assert_eq!(
        (&s["message_count"], &s["by_role"]),
        (&json!(1), &json!({"user": 1}))
    );

    assert_eq!(restore(&deps, &job).await.0, 200);
    let s = summary(&deps, &job).await;
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
    let deps = dynamo_deps().await;
    let job = new_job(&["member-1"]).await;
    fill(&deps, &job, 2, "x").await;
    for (who, groups, allowed) in [
        (testkit::OWNER, &[][..], true),
        ("member-1", &[][..], true),
        ("someone", &["staff"][..], true),
        ("stranger", &[][..], false),
    ] {
        let summary = Call::new(Method::GET, &job).on("summary").by(who, groups);
        let export = Call::new(Method::GET, &job).on("export").by(who, groups);
        let (s1, b1) = parts(&list::handler(&deps, summary.build()).await);
        let (s2, b2) = parts(&list::handler(&deps, export.build()).await);
        if allowed {
            assert_eq!((s1, s2), (200, 200), "{who}: {b1} {b2}");
        } else {
            assert_eq!((s1, b1["code"].as_str()), (404, Some("JOB_NOT_FOUND")));
            assert_eq!((s2, b2["code"].as_str()), (404, Some("JOB_NOT_FOUND")));
            let restore = Call::new(Method::POST, &job).on("restore").by(who, groups);
            let (s3, b3) = parts(&clear::handler(&deps, restore.build()).await);
            assert_eq!((s3, b3["code"].as_str()), (404, Some("JOB_NOT_FOUND")));
        }
    }
    let other = new_job_owned_by("someone-else").await;
    let (status, _) = restore(&deps, &other).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn messages_named_summary_export_or_restore_are_created_and_patched_as_usual() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    for name in ["summary", "export", "restore"] {
        assert_eq!(
            post(
                &deps,
                &job,
                json!({"message_id": name, "role": "user", "content": ""})
            )
            .await,
            201
        );
        let patch = Call::new(Method::PATCH, &job)
            .message(name)
            .json(json!({"content": name}));
        assert_eq!(parts(&patch::handler(&deps, patch.build()).await).0, 200);
    }
    let contents: Vec<Value> = listed(&deps, &job)
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
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    let content = format!("{}\n<b>\"quoted\"</b> ``` `", "x".repeat(20_000));
    fill(&deps, &job, 60, &content).await;
    let ids: Vec<String> = (0..60).map(|i| format!("m{i:05}")).collect();

    let call = Call::new(Method::GET, &job).on("export");
    let response = list::handler(&deps, call.build()).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"quote-chat-{job}.json\"")
    );
    let (status, body) = parts(&response);
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

    let call = Call::new(Method::GET, &job)
        .on("export")
        .query("format=jsonl");
    let response = list::handler(&deps, call.build()).await;
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = text(&response)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 60);
    assert_eq!(lines[0]["content"], content);

    let call = Call::new(Method::GET, &job)
        .on("export")
        .query("format=markdown");
    let response = list::handler(&deps, call.build()).await;
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with(".md\""));
    let markdown = text(&response);
    assert_eq!(markdown.matches("## user · ").count(), 60);
    assert!(
        markdown.contains(&format!("````text\n{content}\n````")),
        "content kept as text"
    );

    let call = Call::new(Method::GET, &job)
        .on("export")
        .query("format=csv");
    let (status, body) = parts(&list::handler(&deps, call.build()).await);
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    assert!(body["details"]["format"].is_string());
}

#[tokio::test]
async fn an_export_past_one_response_pages_with_a_cursor_and_a_link() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    // 30 × 250 KB: past the ~5 MB of one response.
    let content = "y".repeat(250_000);
    fill(&deps, &job, 30, &content).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("format=jsonl&cursor={c}"),
            None => "format=jsonl".to_owned(),
        };
        let call = Call::new(Method::GET, &job).on("export").query(&query);
        let response = list::handler(&deps, call.build()).await;
        assert_eq!(response.status(), 200);
        assert!(text(&response).len() < 5_500_000);
        for line in text(&response).lines() {
            let message: Value = serde_json::from_str(line).unwrap();
            seen.push(message["message_id"].as_str().unwrap().to_owned());
        }
        let Some(link) = response.headers().get("link") else {
            break;
        };
        let link = link.to_str().unwrap();
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
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    let (status, body) = restore(&deps, &job).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOTHING_TO_RESTORE"))
    );
    post(
        &deps,
        &job,
        json!({"message_id": "a", "role": "assistant", "content": "first",
                             "metadata": {"n": 1.50, "deep": {"x": [1, 2]}}}),
    )
    .await;
    let patch = Call::new(Method::PATCH, &job)
        .message("a")
        .json(json!({"content": "edited"}));
    assert_eq!(parts(&patch::handler(&deps, patch.build()).await).0, 200);
    post(
        &deps,
        &job,
        json!({"message_id": "b", "role": "user", "content": "second"}),
    )
    .await;
    let before = listed(&deps, &job).await;
    assert_eq!(clear(&deps, &job).await, 2);
    post(
        &deps,
        &job,
        json!({"message_id": "c", "role": "user", "content": "after the clear"}),
    )
    .await;

    let (status, body) = restore(&deps, &job).await;
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({"restored_count": 2})),
        "{body}"
    );
    let after = listed(&deps, &job).await;
    assert_eq!(after.len(), 3);
    assert_eq!(
        after[..2],
        before[..],
        "exactly as they were, before the newer message"
    );
    assert_eq!(after[2]["message_id"], "c");
    let patch = Call::new(Method::PATCH, &job)
        .message("a")
        .header("if-match", "\"2\"")
        .json(json!({"content": "patchable again"}));
    assert_eq!(parts(&patch::handler(&deps, patch.build()).await).0, 200);

    let (status, body) = restore(&deps, &job).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOTHING_TO_RESTORE")),
        "only once"
    );
    assert_eq!(clear(&deps, &job).await, 3, "a restored chat clears whole");
    assert_eq!(restore(&deps, &job).await.0, 200);
    assert_eq!(listed(&deps, &job).await.len(), 3);
}

#[tokio::test]
async fn a_reused_id_makes_restore_409_with_nothing_restored() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    fill(&deps, &job, 3, "old").await;
    assert_eq!(clear(&deps, &job).await, 3);
    assert_eq!(
        post(
            &deps,
            &job,
            json!({"message_id": "m00001", "role": "user", "content": "new"})
        )
        .await,
        201
    );
    let (status, body) = restore(&deps, &job).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("MESSAGE_ID_CONFLICT"))
    );
    let now = listed(&deps, &job).await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["content"], "new");
}

#[tokio::test]
async fn nothing_comes_back_once_retention_ran_out() {
    let mut deps = dynamo_deps().await;
    deps.settings.retention_days = 0;
    let job = new_job(&[]).await;
    fill(&deps, &job, 2, "x").await;
    assert_eq!(clear(&deps, &job).await, 2);
    let (status, body) = restore(&deps, &job).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOTHING_TO_RESTORE"))
    );
    assert!(listed(&deps, &job).await.is_empty());
}

#[tokio::test]
async fn restored_items_lose_their_expiry_once_the_sweep_ran() {
    let deps = testkit::own_tables("restore-expiry", None).await;
    let job = testkit::new_job_for(&deps).await;
    fill(&deps, &job, 5, "x").await;
    assert_eq!(clear(&deps, &job).await, 5);
    let in_a_minute = || Instant::now() + Duration::from_secs(60);
    deps.store.sweep(in_a_minute()).await.unwrap();
    let expiring = |deps: &Deps<DynamoStore>, job: String| {
        let client = deps.store.client().clone();
        let table = deps.store.messages_table().to_owned();
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
        expiring(&deps, job.clone()).await,
        10,
        "5 messages and their lookups"
    );
    assert_eq!(restore(&deps, &job).await.0, 200);
    deps.store.sweep(in_a_minute()).await.unwrap();
    assert_eq!(expiring(&deps, job.clone()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_racing_creates_clears_and_restores_leave_the_chat_consistent() {
    let deps = dynamo_deps().await;
    for round in 0..3 {
        let job = new_job(&[]).await;
        fill(&deps, &job, 10, "x").await;
        assert_eq!(clear(&deps, &job).await, 10);
        let creates = join_all((0..5).map(|i| {
            let deps = &deps;
            let job = &job;
            async move {
                let body = message_body(&format!("new{round}-{i}"), "y");
                parts(&create::handler(deps, Call::new(Method::POST, job).json(body).build()).await)
                    .0
            }
        }));
        let restores = join_all((0..3).map(|_| restore(&deps, &job)));
        let (created, restored, racing_cleared) =
            tokio::join!(creates, restores, clear_after_yield(&deps, &job));
        assert!(created.iter().all(|s| *s == 201), "{created:?}");
        // Each restore that wins brings back a different clear (the one before the racing
        // clear, or the racing clear itself); the others find nothing left to restore. A
        // racing clear that came before every create hid nothing: once it is the last clear,
        // there is nothing to restore, so no restore may win after it.
        let wins = restored.iter().filter(|(s, _)| *s == 200).count();
        let possible = if racing_cleared == 0 { 0..=1 } else { 1..=2 };
        assert!(
            possible.contains(&wins),
            "{racing_cleared} cleared: {restored:?}"
        );
        for (status, body) in &restored {
            assert!(
                *status == 200 || body["code"] == "NOTHING_TO_RESTORE",
                "{body}"
            );
        }
        // Whatever the order, the counters agree with what a reader sees.
        let visible = listed(&deps, &job).await;
        let s = summary(&deps, &job).await;
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

async fn clear_after_yield(deps: &Deps<DynamoStore>, job: &str) -> u64 {
    tokio::task::yield_now().await;
    clear(deps, job).await
}
