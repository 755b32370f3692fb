//! `PATCH /api/jobs/{job_id}/quote-chat/{message_id}/`: replaces content, merges metadata,
//! bumps `version`; `If-Match` guards against stale streaming updates.

use lambda_http::{Body, Request, Response};
use shared::store::ChatStore;
use shared::{http, validate, writes, Deps};

pub async fn handler<S: ChatStore>(deps: &Deps<S>, req: Request) -> Response<Body> {
    http::serve(&req, async {
        let caller = http::caller(&req)?;
        let job_id = http::job_id(&req)?;
        let message_id = http::message_id(&req)?;
        let if_match = validate::if_match(http::header(&req, "if-match"))?;
        let patch = validate::message_patch(http::json_body(&req)?)?;
        let updated = writes::patch(deps, &caller, &job_id, &message_id, &patch, if_match).await?;
        Ok(http::with_etag(
            http::success(200, &updated),
            updated.version,
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Method;
    use serde_json::json;
    use shared::testing::{memory_deps, parts, Call};

    #[tokio::test]
    async fn patch_replaces_merges_and_versions() {
        let (deps, job) = memory_deps();
        let body = json!({"message_id": "a1", "role": "assistant", "content": "", "metadata": {"keep": 2.5, "drop": true}});
        create::handler(&deps, Call::new(Method::POST, &job).json(body).build()).await;
        let req = Call::new(Method::PATCH, &job)
            .message("a1")
            .header("if-match", "\"1\"")
            .json(json!({"content": "streamed", "metadata": {"drop": null, "final": true}}))
            .build();
        let response = handler(&deps, req).await;
        let (status, body) = parts(&response);
        assert_eq!(status, 200, "{body}");
        assert_eq!(response.headers()["etag"], "\"2\"");
        let m = &body["data"];
        assert_eq!(m["content"], "streamed");
        assert_eq!(m["version"], 2);
        assert_eq!(m["metadata"], json!({"keep": 2.5, "final": true}));
        assert_eq!(m["role"], "assistant");
    }

    #[tokio::test]
    async fn stale_if_match_unknown_ids_and_read_only_fields() {
        let (deps, job) = memory_deps();
        let body = json!({"message_id": "a1", "role": "assistant", "content": ""});
        create::handler(&deps, Call::new(Method::POST, &job).json(body).build()).await;
        let patch = |id: &str| Call::new(Method::PATCH, &job).message(id);
        let (status, body) = parts(
            &handler(
                &deps,
                patch("a1")
                    .header("if-match", "\"7\"")
                    .json(json!({"content": "x"}))
                    .build(),
            )
            .await,
        );
        assert_eq!(
            (status, body["code"].as_str()),
            (412, Some("PRECONDITION_FAILED"))
        );
        assert_eq!(body["details"]["current_version"], 1);
        let (status, body) =
            parts(&handler(&deps, patch("nope").json(json!({"content": "x"})).build()).await);
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("MESSAGE_NOT_FOUND"))
        );
        let (status, body) = parts(
            &handler(
                &deps,
                patch("a1")
                    .json(json!({"role": "user", "content": "x"}))
                    .build(),
            )
            .await,
        );
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR"))
        );
        let (status, _) = parts(
            &handler(
                &deps,
                patch("a1")
                    .json(json!({"role": "assistant", "content": "x"}))
                    .build(),
            )
            .await,
        );
        assert_eq!(status, 200, "echoing unchanged read-only fields is fine");
        let (status, body) = parts(&handler(&deps, patch("a1").json(json!({})).build()).await);
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR"))
        );
    }

    #[tokio::test]
    async fn merged_metadata_over_the_limit_is_413_and_nothing_changes() {
        let (deps, job) = memory_deps();
        let half = "x".repeat(9 * 1024);
        let body =
            json!({"message_id": "a1", "role": "user", "content": "c", "metadata": {"a": half}});
        create::handler(&deps, Call::new(Method::POST, &job).json(body).build()).await;
        let req = Call::new(Method::PATCH, &job)
            .message("a1")
            .json(json!({"metadata": {"b": half}}))
            .build();
        let (status, body) = parts(&handler(&deps, req).await);
        assert_eq!(
            (status, body["details"]["field"].as_str()),
            (413, Some("metadata"))
        );
        let req = Call::new(Method::PATCH, &job)
            .message("a1")
            .header("if-match", "1")
            .json(json!({"content": "ok"}))
            .build();
        assert_eq!(
            parts(&handler(&deps, req).await).0,
            200,
            "version unchanged by the refused patch"
        );
    }
}
