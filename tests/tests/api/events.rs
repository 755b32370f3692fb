//! The sample events in `events/` (what `sam local invoke <Function> -e events/<name>.json`
//! sends) are real API Gateway HTTP API payload 2.0 events, and the handlers answer them as
//! docs/api.md says: create → list → patch → clear on one job.

use lambda_http::http::Method;
use lambda_http::{Request, Response};
use serde_json::{json, Value};
use testkit::{dynamo_deps, event_for_job, event_text, new_job_owned_by, put_job_owned_by};

const NAMES: [&str; 4] = ["create", "list", "patch", "clear"];

fn parse(name: &str, text: &str) -> Request {
    lambda_http::request::from_str(text)
        .unwrap_or_else(|err| panic!("events/{name}.json is not an API Gateway event: {err}"))
}

fn json_of(name: &str) -> Value {
    serde_json::from_str(&event_text(name))
        .unwrap_or_else(|err| panic!("events/{name}.json is not JSON: {err}"))
}

fn parts(name: &str, response: &Response<lambda_http::Body>) -> (u16, Value) {
    let (status, body) = testkit::parts(response);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{name}: every answer is JSON"
    );
    (status, body)
}

/// What every sample must look like for API Gateway (and `sam local invoke`) to be believable,
/// and what the handlers read from it.
#[test]
fn sample_events_are_api_gateway_http_api_payload_2_0() {
    let create_body: Value = serde_json::from_str(
        json_of("create")["body"]
            .as_str()
            .expect("create has a body"),
    )
    .expect("create body is JSON");
    for name in NAMES {
        let event = json_of(name);
        let context = &event["requestContext"];
        let method = context["http"]["method"].as_str().expect("http.method");
        assert_eq!(event["version"], "2.0", "{name}");
        assert_eq!(event["isBase64Encoded"], false, "{name}");
        assert_eq!(context["stage"], "$default", "{name}");
        assert_eq!(event["routeKey"], context["routeKey"], "{name}");
        assert!(
            event["routeKey"].as_str().is_some_and(
                |r| r.starts_with(&format!("{method} /api/jobs/{{job_id}}/quote-chat/"))
            ),
            "{name}: routeKey {}",
            event["routeKey"]
        );
        assert_eq!(event["rawPath"], context["http"]["path"], "{name}");
        for field in [
            "accountId",
            "apiId",
            "domainName",
            "requestId",
            "time",
            "timeEpoch",
        ] {
            assert!(!context[field].is_null(), "{name}: requestContext.{field}");
        }
        for field in ["protocol", "sourceIp", "userAgent"] {
            assert!(!context["http"][field].is_null(), "{name}: http.{field}");
        }
        let claims = &context["authorizer"]["jwt"]["claims"];
        for claim in ["sub", "iss", "aud", "exp"] {
            assert!(
                claims[claim].is_string(),
                "{name}: claim {claim} is a string"
            );
        }
        assert_eq!(claims["sub"], setup::DEMO_OWNER, "{name}");
        assert_eq!(
            event["pathParameters"]["job_id"],
            setup::DEMO_JOB_ID,
            "{name}"
        );
        if let Some(body) = event["body"].as_str() {
            let headers = &event["headers"];
            assert_eq!(headers["content-type"], "application/json", "{name}");
            assert_eq!(
                headers["content-length"],
                body.len().to_string(),
                "{name}: content-length matches the body"
            );
        }

        // What the handlers see.
        let req = parse(name, &event_text(name));
        assert_eq!(req.method().as_str(), method, "{name}");
        let caller = shared::http::caller(&req).expect("the JWT claims name a caller");
        assert_eq!(caller.sub, setup::DEMO_OWNER, "{name}");
        assert!(
            !caller.groups.iter().any(|g| g == "staff"),
            "{name}: the sample caller is the owner, not staff, so the owner rule is what admits it"
        );
        assert_eq!(
            shared::http::job_id(&req)
                .ok()
                .as_ref()
                .map(|id| id.as_str()),
            Some(setup::DEMO_JOB_ID),
            "{name}"
        );
        assert_eq!(
            shared::http::request_id(&req).as_ref(),
            context["requestId"].as_str().map(str::to_owned).as_ref(),
            "{name}"
        );
    }
    // Groups arrive the way API Gateway renders an array claim.
    let req = parse("list", &event_text("list"));
    let caller = shared::http::caller(&req).expect("caller");
    assert_eq!(caller.groups, ["customers", "beta-testers"]);
    let clear = parse("clear", &event_text("clear"));
    assert!(shared::http::caller(&clear)
        .expect("caller")
        .groups
        .is_empty());

    // The patch sample patches the message the create sample creates.
    let patch = json_of("patch");
    assert_eq!(
        patch["pathParameters"]["message_id"],
        create_body["message_id"]
    );
    assert_eq!(patch["headers"]["if-match"], "\"1\"");
    assert_eq!(json_of("list")["rawQueryString"], "limit=50&order=asc");
}

/// The whole flow in one test: the samples share the demo job id, and nothing else in the
/// suite touches that job (the other event tests rewrite the id).
#[tokio::test]
async fn sample_events_drive_create_list_patch_clear_through_the_handlers() {
    let deps = dynamo_deps().await;
    let job = setup::DEMO_JOB_ID;
    put_job_owned_by(job, setup::DEMO_OWNER).await;
    let event = |name: &str| parse(name, &event_text(name));

    // Start from an empty chat, whatever an earlier run on these tables left.
    let (status, body) = parts("clear", &clear::handler(&deps, event("clear")).await);
    assert_eq!(status, 200, "{body}");

    let create_body: Value =
        serde_json::from_str(json_of("create")["body"].as_str().expect("body")).expect("JSON");
    let message_id = create_body["message_id"].as_str().expect("message_id");

    let (status, created) = parts("create", &create::handler(&deps, event("create")).await);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["success"], true);
    assert_eq!(created["data"]["message_id"], message_id);
    let timestamp = created["data"]["timestamp"]
        .as_str()
        .expect("timestamp")
        .to_owned();
    assert!(timestamp.ends_with('Z'), "{timestamp}");

    let (status, listed) = parts("list", &list::handler(&deps, event("list")).await);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"]["job_id"], job);
    assert_eq!(
        listed["data"]["messages"],
        json!([{
            "message_id": message_id,
            "role": create_body["role"],
            "content": create_body["content"],
            "timestamp": timestamp,
            "metadata": create_body["metadata"],
            "version": 1,
            "status": create_body.get("status").cloned().unwrap_or(json!("complete")),
            "updated_at": timestamp,
        }])
    );
    assert_eq!(listed["data"]["next_cursor"], Value::Null);

    let patch_body: Value =
        serde_json::from_str(json_of("patch")["body"].as_str().expect("body")).expect("JSON");
    let response = patch::handler(&deps, event("patch")).await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let (status, patched) = parts("patch", &response);
    assert_eq!(status, 200, "{patched}");
    let message = &patched["data"];
    assert_eq!(message["message_id"], message_id);
    assert_eq!(message["version"], 2);
    assert_eq!(message["content"], patch_body["content"]);
    assert_eq!(message["timestamp"], timestamp.as_str());
    // `streaming: null` removed the key; `processing_time` was added.
    assert_eq!(
        message["metadata"],
        json!({"model": "quote-llm-1", "processing_time": 2.5})
    );

    // The same patch again carries a stale If-Match now.
    let (status, stale) = parts("patch", &patch::handler(&deps, event("patch")).await);
    assert_eq!(
        (status, stale["code"].as_str()),
        (412, Some("PRECONDITION_FAILED"))
    );

    let (status, cleared) = parts("clear", &clear::handler(&deps, event("clear")).await);
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(cleared["data"]["deleted_count"], 1);

    let (status, listed) = parts("list", &list::handler(&deps, event("list")).await);
    assert_eq!(status, 200);
    assert_eq!(listed["data"]["messages"], json!([]));
}

/// The claims are what admits the caller: aimed at a job owned by someone else, every sample
/// is answered 404 JOB_NOT_FOUND, as for a job that does not exist.
#[tokio::test]
async fn sample_events_on_someone_elses_job_are_not_found() {
    let deps = dynamo_deps().await;
    let job = new_job_owned_by("someone-else").await;
    for name in NAMES {
        let req = parse(name, &event_for_job(name, &job));
        let response = match *req.method() {
            Method::POST => create::handler(&deps, req).await,
            Method::GET => list::handler(&deps, req).await,
            Method::PATCH => patch::handler(&deps, req).await,
            Method::DELETE => clear::handler(&deps, req).await,
            ref other => panic!("{name}: unexpected method {other}"),
        };
        let (status, body) = parts(name, &response);
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("JOB_NOT_FOUND")),
            "{name}: {body}"
        );
        assert_eq!(
            body["request_id"],
            json_of(name)["requestContext"]["requestId"],
            "{name}: the error names API Gateway's request id"
        );
    }
}
