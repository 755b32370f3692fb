//! `POST /api/jobs/{job_id}/quote-chat/`: saves a message; an identical retry answers 200.

use lambda_http::{Body, Request, Response};
use shared::store::ChatStore;
use shared::{http, validate, writes, Deps};

pub async fn handler<S: ChatStore>(deps: &Deps<S>, req: Request) -> Response<Body> {
    http::serve(&req, async {
        let caller = http::caller(&req)?;
        let job_id = http::job_id(&req)?;
        let new = validate::new_message(http::json_body(&req)?)?;
        let created = writes::create(deps, &caller, &job_id, new).await?;
        let status = if created.replayed { 200 } else { 201 };
        Ok(http::success(status, &created))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Method;
    use shared::testing::{memory_deps, message_body, parts, Call};

    #[tokio::test]
    async fn creates_then_replays_then_conflicts() {
        let (deps, job) = memory_deps();
        let post = |body: String| Call::new(Method::POST, &job).json(body).build();
        let (status, first) = parts(&handler(&deps, post(message_body("m1", "hello"))).await);
        assert_eq!(status, 201, "{first}");
        assert_eq!(first["data"]["message_id"], "m1");
        assert!(first["data"]["timestamp"].as_str().unwrap().ends_with('Z'));
        let (status, replay) = parts(&handler(&deps, post(message_body("m1", "hello"))).await);
        assert_eq!(status, 200);
        assert_eq!(replay["data"], first["data"]);
        let (status, conflict) = parts(&handler(&deps, post(message_body("m1", "other"))).await);
        assert_eq!(
            (status, conflict["code"].as_str()),
            (409, Some("MESSAGE_ID_CONFLICT"))
        );
    }

    #[tokio::test]
    async fn bad_bodies_get_the_documented_codes() {
        let (deps, job) = memory_deps();
        let call = || Call::new(Method::POST, &job);
        let cases = [
            (call().json("{not json"), 400, "INVALID_JSON"),
            (call().json(""), 400, "INVALID_JSON"),
            (
                call().json(r#"{"message_id":"a b","role":"user","content":""}"#),
                400,
                "VALIDATION_ERROR",
            ),
            (
                call()
                    .header("content-type", "text/plain")
                    .raw_body(message_body("m", "x")),
                415,
                "UNSUPPORTED_MEDIA_TYPE",
            ),
            (
                call().raw_body(message_body("m", "x")),
                415,
                "UNSUPPORTED_MEDIA_TYPE",
            ),
            (
                call().json(message_body("m", &"x".repeat(600 * 1024))),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
        ];
        for (req, status, code) in cases {
            let (got, body) = parts(&handler(&deps, req.build()).await);
            assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
            assert_eq!(body["success"], false);
        }
        assert_eq!(
            listed(&deps, &job).await,
            0,
            "nothing may be written by a refused request"
        );
    }

    #[tokio::test]
    async fn invalid_utf8_is_invalid_json() {
        let (deps, job) = memory_deps();
        let req = lambda_http::http::Request::builder()
            .method(Method::POST)
            .uri("/")
            .header("content-type", "application/json")
            .body(Body::Binary(vec![b'{', 0xff, 0xfe, b'}']))
            .unwrap();
        let req = shared::apigw::deliver(
            req,
            [("job_id".to_owned(), job.clone())].into(),
            Some(shared::apigw::claims(shared::testing::OWNER, &[])),
            "r".into(),
        );
        let (status, body) = parts(&handler(&deps, req).await);
        assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_JSON")));
    }

    async fn listed<S: ChatStore>(deps: &Deps<S>, job: &str) -> usize {
        let owner = shared::testing::owner();
        let job = shared::ids::JobId::parse(job).unwrap();
        match shared::reads::list(deps, &owner, &job, Default::default(), None).await {
            Ok(shared::reads::Read::Fresh { body, .. }) => body.messages.len(),
            other => panic!("a plain list: {other:?}"),
        }
    }
}
