use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::http::Method;
use shared::Deps;
use testkit::{config, dynamo_deps, message_body, new_job, parts, Call, Counting};

async fn counting_deps() -> Deps<Counting<shared::store::dynamo::DynamoStore>> {
    let deps = dynamo_deps().await;
    Deps {
        store: Counting::new(deps.store),
        settings: deps.settings,
    }
}

#[tokio::test]
async fn owner_member_and_staff_may_use_a_chat() {
    let deps = dynamo_deps().await;
    let job = new_job(&["member-1"]).await;
    for (sub, groups) in [
        (testkit::OWNER, &[][..]),
        ("member-1", &[][..]),
        ("support", &["staff"][..]),
    ] {
        let id = format!("by-{sub}");
        let req = Call::new(Method::POST, &job)
            .by(sub, groups)
            .json(message_body(&id, "x"))
            .build();
        assert_eq!(parts(&create::handler(&deps, req).await).0, 201, "{sub}");
        let req = Call::new(Method::GET, &job).by(sub, groups).build();
        assert_eq!(parts(&list::handler(&deps, req).await).0, 200, "{sub}");
    }
}

#[tokio::test]
async fn strangers_get_the_same_404_as_for_a_missing_job_and_touch_no_message() {
    let deps = counting_deps().await;
    let job = new_job(&["member-1"]).await;
    let missing = uuid::Uuid::new_v4().to_string();
    let stranger = |method: Method, job: &str| Call::new(method, job).by("mallory", &["staffers"]);

    let mut answers = Vec::new();
    for target in [&job, &missing] {
        let replies = [
            parts(&list::handler(&deps, stranger(Method::GET, target).build()).await),
            parts(
                &create::handler(
                    &deps,
                    stranger(Method::POST, target)
                        .json(message_body("m", "x"))
                        .build(),
                )
                .await,
            ),
            parts(&clear::handler(&deps, stranger(Method::DELETE, target).build()).await),
            parts(
                &patch::handler(
                    &deps,
                    stranger(Method::PATCH, target)
                        .message("m")
                        .json(r#"{"content":"x"}"#)
                        .build(),
                )
                .await,
            ),
        ];
        for (status, body) in &replies {
            assert_eq!(
                (*status, body["code"].as_str()),
                (404, Some("JOB_NOT_FOUND")),
                "{body}"
            );
        }
        answers.push(replies.map(|(s, mut b)| {
            b.as_object_mut().unwrap().remove("request_id");
            (s, b)
        }));
    }
    assert_eq!(
        answers[0], answers[1],
        "a stranger cannot tell an existing job from a missing one"
    );
    assert_eq!(deps.store.calls(), 0, "no message item was read or written");
}

#[tokio::test]
async fn no_caller_is_401_before_anything_else() {
    let deps = counting_deps().await;
    let job = new_job(&[]).await;
    let (status, body) =
        parts(&list::handler(&deps, Call::new(Method::GET, &job).anonymous().build()).await);
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    let (status, _) = parts(
        &create::handler(
            &deps,
            Call::new(Method::POST, "bad").anonymous().json("{").build(),
        )
        .await,
    );
    assert_eq!(status, 401);
    assert_eq!(deps.store.calls(), 0);
}

#[tokio::test]
async fn archiving_a_job_keeps_its_chat_readable_and_writable() {
    let deps = dynamo_deps().await;
    let job = new_job(&[]).await;
    let req = Call::new(Method::POST, &job)
        .json(message_body("before", "x"))
        .build();
    assert_eq!(parts(&create::handler(&deps, req).await).0, 201);
    deps.store
        .client()
        .update_item()
        .table_name(config().jobs_table)
        .key("job_id", AttributeValue::S(job.clone()))
        .update_expression("SET archived = :t")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
    let (status, body) = parts(&list::handler(&deps, Call::new(Method::GET, &job).build()).await);
    assert_eq!(status, 200);
    assert_eq!(body["data"]["messages"][0]["message_id"], "before");
    let req = Call::new(Method::POST, &job)
        .json(message_body("after", "x"))
        .build();
    assert_eq!(parts(&create::handler(&deps, req).await).0, 201);
}
