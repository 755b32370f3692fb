//! The reads of a chat, one function: `GET /api/jobs/{job_id}/quote-chat/` (the history in
//! order, paged by signed cursors, or only what follows a message: `?after=`), `.../{message_id}/`
//! (one message), `.../summary/` (counts and a preview for a job overview) and `.../export/`
//! (the whole history as a download).

use lambda_http::{Body, Request, Response};
use shared::export::{self, Format};
use shared::routes::{self, Target};
use shared::store::ChatStore;
use shared::{http, reads, Deps};

pub async fn handler<S: ChatStore>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let response = http::serve(&req, async {
        let caller = http::caller(&req)?;
        let job_id = http::job_id(&req)?;
        match routes::target(req.method(), req.uri().path()) {
            Some(Target::Summary) => {
                let summary = reads::summary(deps, &caller, &job_id).await?;
                Ok(http::success(200, &summary))
            }
            Some(Target::Export) => {
                let format = Format::parse(http::query(&req, "format"))?;
                let cursor = http::query(&req, "cursor").filter(|c| !c.is_empty());
                let page = export::read_page(deps, &caller, &job_id, format, cursor).await?;
                export::download(&req, page)
            }
            Some(Target::Message) => {
                let message_id = http::message_id(&req)?;
                let known = http::if_none_match(&req);
                let read = reads::message(deps, &caller, &job_id, &message_id, known).await?;
                Ok(http::read(read))
            }
            _ => {
                let query = http::list_query(&req)?;
                let known = http::if_none_match(&req);
                let read = reads::list(deps, &caller, &job_id, query, known).await?;
                Ok(http::read(read))
            }
        }
    })
    .await;
    http::conditional_get(&req, response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Method;
    use shared::testing::{fill, memory_deps, message_ids, parts, Call};

    #[tokio::test]
    async fn lists_in_order_with_the_seed_envelope() {
        let (deps, job) = memory_deps();
        fill(&deps, &job, 3, "x").await;
        let (status, body) = parts(&handler(&deps, Call::new(Method::GET, &job).build()).await);
        assert_eq!(status, 200);
        assert_eq!(body["success"], true);
        assert_eq!(body["data"]["job_id"], job.as_str());
        assert!(body["data"]["next_cursor"].is_null());
        let ids: Vec<&str> = body["data"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["message_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["m00000", "m00001", "m00002"]);
        let first = &body["data"]["messages"][0];
        for field in ["role", "content", "timestamp", "metadata", "version"] {
            assert!(!first[field].is_null(), "{field}");
        }
    }

    #[tokio::test]
    async fn summary_and_export_are_served_by_this_function() {
        let (deps, job) = memory_deps();
        fill(&deps, &job, 3, "x").await;
        let summary = Call::new(Method::GET, &job).on("summary").build();
        let (status, body) = parts(&handler(&deps, summary).await);
        assert_eq!((status, &body["data"]["message_count"]), (200, &3.into()));
        assert_eq!(body["data"]["by_role"], serde_json::json!({"user": 3}));
        let export = Call::new(Method::GET, &job)
            .on("export")
            .query("format=jsonl")
            .build();
        let response = handler(&deps, export).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        let lambda_http::Body::Text(text) = response.body() else {
            panic!("text body")
        };
        assert_eq!(text.lines().count(), 3);
    }

    #[tokio::test]
    async fn an_unchanged_history_answers_304_to_its_etag() {
        let (deps, job) = memory_deps();
        fill(&deps, &job, 2, "x").await;
        let poll = |tag: Option<&str>| {
            let mut call = Call::new(Method::GET, &job).query("limit=1&order=desc");
            if let Some(tag) = tag {
                call = call.header("if-none-match", tag);
            }
            call.build()
        };
        let first = handler(&deps, poll(None)).await;
        assert_eq!(first.status(), 200);
        let tag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = handler(&deps, poll(Some(&tag))).await;
        assert_eq!(again.status(), 304);
        assert_eq!(again.headers()["etag"], tag.as_str());
        assert!(matches!(again.body(), lambda_http::Body::Empty));
        let weak = format!("W/{tag}");
        assert_eq!(handler(&deps, poll(Some(&weak))).await.status(), 304);
        fill_one_more(&deps, &job).await;
        let changed = handler(&deps, poll(Some(&tag))).await;
        assert_eq!(changed.status(), 200, "a new message, a new tag");
        assert_ne!(changed.headers()["etag"], tag.as_str());
    }

    async fn fill_one_more(deps: &Deps<shared::store::memory::MemoryStore>, job: &str) {
        let body = shared::testing::message_body("later", "y");
        create::handler(deps, Call::new(Method::POST, job).json(body).build()).await;
    }

    #[tokio::test]
    async fn pages_with_limit_and_cursor_in_both_orders() {
        let (deps, job) = memory_deps();
        fill(&deps, &job, 5, "x").await;
        for (order, expected) in [
            ("asc", ["m00000", "m00001", "m00002", "m00003", "m00004"]),
            ("desc", ["m00004", "m00003", "m00002", "m00001", "m00000"]),
        ] {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut query = format!("limit=2&order={order}");
                if let Some(c) = &cursor {
                    query.push_str(&format!("&cursor={c}"));
                }
                let (status, body) = parts(
                    &handler(&deps, Call::new(Method::GET, &job).query(&query).build()).await,
                );
                assert_eq!(status, 200, "{body}");
                for m in body["data"]["messages"].as_array().unwrap() {
                    seen.push(m["message_id"].as_str().unwrap().to_owned());
                }
                match body["data"]["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            assert_eq!(seen, expected);
        }
    }

    #[tokio::test]
    async fn refuses_bad_queries_cursors_and_strangers() {
        let (deps, job) = memory_deps();
        let status = |req| async { parts(&handler(&deps, req).await) };
        assert_eq!(
            status(Call::new(Method::GET, &job).query("limit=0").build())
                .await
                .0,
            400
        );
        let (code, body) =
            status(Call::new(Method::GET, &job).query("cursor=abc.def").build()).await;
        assert_eq!((code, body["code"].as_str()), (400, Some("INVALID_CURSOR")));
        let (code, body) = status(Call::new(Method::GET, "not-a-uuid").build()).await;
        assert_eq!((code, body["code"].as_str()), (400, Some("INVALID_JOB_ID")));
        let (code, body) = status(Call::new(Method::GET, &job).anonymous().build()).await;
        assert_eq!(
            (code, body["code"].as_str()),
            (401, Some("UNAUTHENTICATED"))
        );
        let (code, stranger) =
            status(Call::new(Method::GET, &job).by("mallory", &[]).build()).await;
        let unknown = unknown_job();
        let (code2, missing) = status(Call::new(Method::GET, &unknown).build()).await;
        assert_eq!((code, code2), (404, 404));
        assert_eq!(stranger["code"], missing["code"]);
        assert_eq!(stranger["error"], missing["error"]);
        assert_eq!(
            status(Call::new(Method::GET, &job).by("x", &["staff"]).build())
                .await
                .0,
            200
        );
    }

    /// `GET ?after=<id>` with the tag of the last answer, as a follower polls.
    fn after(job: &str, id: &str, tag: Option<&str>) -> Request {
        let mut call = Call::new(Method::GET, job).query(&format!("after={id}"));
        if let Some(tag) = tag {
            call = call.header("if-none-match", tag);
        }
        call.build()
    }

    #[tokio::test]
    async fn after_answers_only_newer_messages_and_304_until_the_chat_changes() {
        let (deps, job) = memory_deps();
        fill(&deps, &job, 3, "x").await;
        let first = handler(&deps, after(&job, "m00001", None)).await;
        let tag = first.headers()["etag"].to_str().unwrap().to_owned();
        let (status, body) = parts(&first);
        assert_eq!(
            (status, message_ids(&body)),
            (200, vec!["m00002".to_owned()])
        );
        assert_eq!(body["data"]["message_count"], 3);
        assert_eq!(
            body["data"]["last_timestamp"], body["data"]["messages"][0]["timestamp"],
            "the newest message's, so a follower can tell it holds the chat that is"
        );
        let idle = handler(&deps, after(&job, "m00001", Some(&tag))).await;
        assert_eq!(idle.status(), 304);
        assert_eq!(idle.headers()["etag"], tag.as_str());
        assert!(matches!(idle.body(), Body::Empty));
        // A create elsewhere writes the head: the same poll now answers what it added.
        fill_one_more(&deps, &job).await;
        let (status, body) = parts(&handler(&deps, after(&job, "m00001", Some(&tag))).await);
        assert_eq!(
            (status, message_ids(&body)),
            (200, vec!["m00002".into(), "later".into()])
        );
        assert_eq!(body["data"]["message_count"], 4);
    }

    #[tokio::test]
    async fn after_a_message_a_clear_hid_is_404_so_the_follower_reloads() {
        let (deps, job) = memory_deps();
        fill(&deps, &job, 2, "x").await;
        clear::handler(&deps, Call::new(Method::DELETE, &job).build()).await;
        let (status, body) = parts(&handler(&deps, after(&job, "m00001", None)).await);
        assert_eq!((status, &body["code"]), (404, &"MESSAGE_NOT_FOUND".into()));
        let (status, body) = parts(&handler(&deps, Call::new(Method::GET, &job).build()).await);
        assert_eq!(
            (status, &body["data"]["last_timestamp"]),
            (200, &serde_json::Value::Null)
        );
        let (status, body) = parts(&handler(&deps, after(&job, "nobody", None)).await);
        assert_eq!((status, &body["code"]), (404, &"MESSAGE_NOT_FOUND".into()));
        let (status, body) = parts(
            &handler(
                &deps,
                Call::new(Method::GET, &job)
                    .query("after=m00001&order=desc")
                    .build(),
            )
            .await,
        );
        assert_eq!((status, &body["code"]), (400, &"VALIDATION_ERROR".into()));
        assert!(body["details"]["after"].is_string(), "{body}");
    }

    #[tokio::test]
    async fn one_message_is_read_with_its_version_as_tag() {
        let (deps, job) = memory_deps();
        fill(&deps, &job, 2, "x").await;
        let get = |tag: Option<&str>| {
            let mut call = Call::new(Method::GET, &job).message("m00001");
            if let Some(tag) = tag {
                call = call.header("if-none-match", tag);
            }
            call.build()
        };
        let response = handler(&deps, get(None)).await;
        assert_eq!(response.headers()["etag"], "\"1\"");
        let (status, body) = parts(&response);
        assert_eq!(
            (status, &body["data"]["message_id"]),
            (200, &"m00001".into())
        );
        assert_eq!(body["data"]["version"], 1);
        assert_eq!(handler(&deps, get(Some("\"1\""))).await.status(), 304);
        let patched = Call::new(Method::PATCH, &job)
            .message("m00001")
            .json(r#"{"content":"y"}"#)
            .build();
        assert_eq!(patch::handler(&deps, patched).await.status(), 200);
        let (status, body) = parts(&handler(&deps, get(Some("\"1\""))).await);
        assert_eq!((status, &body["data"]["content"]), (200, &"y".into()));
        let missing = Call::new(Method::GET, &job).message("m9").build();
        let (status, body) = parts(&handler(&deps, missing).await);
        assert_eq!((status, &body["code"]), (404, &"MESSAGE_NOT_FOUND".into()));
        let stranger = Call::new(Method::GET, &job)
            .message("m00001")
            .by("mallory", &[])
            .build();
        let (status, body) = parts(&handler(&deps, stranger).await);
        assert_eq!((status, &body["code"]), (404, &"JOB_NOT_FOUND".into()));
    }

    #[tokio::test]
    async fn a_job_id_in_upper_case_is_the_same_job() {
        let (deps, job) = memory_deps();
        fill(&deps, &job, 1, "x").await;
        let upper = job.to_ascii_uppercase();
        let (status, body) = parts(&handler(&deps, Call::new(Method::GET, &upper).build()).await);
        assert_eq!(
            (status, &body["data"]["job_id"]),
            (200, &job.as_str().into())
        );
        assert_eq!(message_ids(&body), ["m00000"]);
    }

    #[tokio::test]
    async fn storage_outage_is_a_503_with_retry_after() {
        let (deps, job) = memory_deps();
        deps.store.set_unavailable(true);
        let response = handler(&deps, Call::new(Method::GET, &job).build()).await;
        let (status, body) = parts(&response);
        assert_eq!(status, 503);
        assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
        assert!(response.headers().contains_key("retry-after"));
    }

    fn unknown_job() -> String {
        "00000000-0000-4000-8000-000000000000".to_owned()
    }
}
