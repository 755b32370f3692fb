use aws_sdk_dynamodb::types::AttributeValue;
use testkit::proxy::Proxy;
use testkit::{config, message_body, Reply, TestApi, OWNER};

#[tokio::test]
async fn owner_member_and_staff_may_use_a_chat() {
    let api = TestApi::start().await;
    let api = api.on_job(&api.new_job(OWNER, &["member-1"]).await);
    for (sub, groups) in [
        (testkit::OWNER, &[][..]),
        ("member-1", &[][..]),
        ("support", &["staff"][..]),
    ] {
        let id = format!("by-{sub}");
        let user = api.as_user(sub, groups);
        assert_eq!(
            user.create(message_body(&id, "x")).await.status,
            201,
            "{sub}"
        );
        assert_eq!(user.list().await.status, 200, "{sub}");
    }
}

/// The request since the last reset made the one first read of job, chat head and id lookup
/// (a `BatchGetItem` naming no message item) and nothing after it: no message item was read or
/// written. Resets the counts.
fn only_the_first_read(proxy: &Proxy, what: &str) {
    assert_eq!(
        proxy.operations(),
        ["BatchGetItem"],
        "{what}: no request after the first read"
    );
    let keys = proxy.sort_keys();
    assert!(
        !keys.iter().any(|sk| sk.starts_with("M#")),
        "{what}: no message item is read ({keys:?})"
    );
    proxy.reset_counts();
}

#[tokio::test]
async fn strangers_get_the_same_404_as_for_a_missing_job_and_touch_no_message() {
    let (proxy, api) = TestApi::through_proxy().await;
    let job = api.new_job(OWNER, &["member-1"]).await;
    let missing = uuid::Uuid::new_v4().to_string();
    proxy.reset_counts();

    let mut answers = Vec::new();
    for target in [&job, &missing] {
        let stranger = api.on_job(target).as_user("mallory", &["staffers"]);
        let list = stranger.list().await;
        only_the_first_read(&proxy, "list");
        let create = stranger.create(message_body("m", "x")).await;
        only_the_first_read(&proxy, "create");
        let clear = stranger.clear().await;
        only_the_first_read(&proxy, "clear");
        let patch = stranger.patch("m").json(r#"{"content":"x"}"#).await;
        only_the_first_read(&proxy, "patch");
        let replies: [Reply; 4] = [list, create, clear, patch];
        for reply in &replies {
            assert_eq!(
                (reply.status, reply.code()),
                (404, Some("JOB_NOT_FOUND")),
                "{}",
                reply.body
            );
        }
        answers.push(replies.map(
            |Reply {
                 status, mut body, ..
             }| {
                body.as_object_mut().unwrap().remove("request_id");
                (status, body)
            },
        ));
    }
    assert_eq!(
        answers[0], answers[1],
        "a stranger cannot tell an existing job from a missing one"
    );
}

#[tokio::test]
async fn an_unreadable_chat_is_the_owners_500_and_a_strangers_plain_404() {
    let api = TestApi::start().await;
    let api = api.on_job(&api.new_job(OWNER, &[]).await);
    assert_eq!(api.create(message_body("m", "x")).await.status, 201);
    let corrupt = |sk: &str, attribute: &str| {
        api.store()
            .client()
            .update_item()
            .table_name(config().messages_table)
            .key("job_id", AttributeValue::S(api.job.clone()))
            .key("sk", AttributeValue::S(sk.into()))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":v", AttributeValue::S("private words".into()))
            .send()
    };
    let stranger = api.as_user("mallory", &[]);
    let strangers_see_a_missing_job = || async {
        for reply in [
            stranger.list().await,
            stranger.patch("m").json(r#"{"content":"y"}"#).await,
            stranger.get("m").await,
        ] {
            assert_eq!(
                (reply.status, reply.code()),
                (404, Some("JOB_NOT_FOUND")),
                "what the chat holds never reaches a stranger: {}",
                reply.body
            );
        }
    };
    let owners_500 = |reply: Reply| {
        assert_eq!(
            (reply.status, reply.code()),
            (500, Some("INTERNAL_ERROR")),
            "{}",
            reply.body
        );
        assert!(!reply.text.contains("private"), "{}", reply.text);
    };

    // An unreadable lookup: the requests about that message fail for the owner, nothing else.
    let lookup = shared::store::keys::lookup("m");
    corrupt(&lookup, "generation").await.unwrap();
    strangers_see_a_missing_job().await;
    assert_eq!(api.list().await.status, 200);
    owners_500(api.get("m").await);
    owners_500(api.patch("m").json(r#"{"content":"y"}"#).await);

    // An unreadable head: every request of the owner fails.
    corrupt(shared::store::keys::HEAD, "generation")
        .await
        .unwrap();
    strangers_see_a_missing_job().await;
    owners_500(api.list().await);
}

#[tokio::test]
async fn no_caller_is_401_before_anything_else() {
    let (proxy, api) = TestApi::through_proxy().await;
    let reply = api.anonymous().list().await;
    assert_eq!((reply.status, reply.code()), (401, Some("UNAUTHENTICATED")));
    let reply = api.on_job("bad").anonymous().create("{").await;
    assert_eq!(reply.status, 401);
    assert_eq!(proxy.total_requests(), 0, "no DynamoDB request at all");
}

#[tokio::test]
async fn archiving_a_job_keeps_its_chat_readable_and_writable() {
    let api = TestApi::start().await;
    assert_eq!(api.create(message_body("before", "x")).await.status, 201);
    api.store()
        .client()
        .update_item()
        .table_name(config().jobs_table)
        .key("job_id", AttributeValue::S(api.job.clone()))
        .update_expression("SET archived = :t")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
    let reply = api.list().await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["data"]["messages"][0]["message_id"], "before");
    assert_eq!(api.create(message_body("after", "x")).await.status, 201);
}
