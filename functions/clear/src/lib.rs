//! `DELETE /api/jobs/{job_id}/quote-chat/`: hides the whole chat at once (soft delete);
//! `POST .../restore/`: brings back what the last clear hid, while its retention lasts.

use lambda_http::{Body, Request, Response};
use shared::routes::{self, Target};
use shared::store::ChatStore;
use shared::{http, writes, Deps};

pub async fn handler<S: ChatStore>(deps: &Deps<S>, req: Request) -> Response<Body> {
    http::serve(&req, async {
        let caller = http::caller(&req)?;
        let job_id = http::job_id(&req)?;
        if routes::target(req.method(), req.uri().path()) == Some(Target::Restore) {
            let restored = writes::restore(deps, &caller, &job_id).await?;
            return Ok(http::success(200, &restored));
        }
        let cleared = writes::clear(deps, &caller, &job_id).await?;
        Ok(http::success(200, &cleared))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Method;
    use shared::testing::{memory_deps, message_body, parts, Call};

    #[tokio::test]
    async fn counts_hides_and_retains_then_a_new_chat_starts() {
        let (deps, job) = memory_deps();
        let post = |id: &str| {
            Call::new(Method::POST, &job)
                .json(message_body(id, "x"))
                .build()
        };
        for id in ["a", "b", "c"] {
            assert_eq!(parts(&create::handler(&deps, post(id)).await).0, 201);
        }
        let (status, body) = parts(&handler(&deps, Call::new(Method::DELETE, &job).build()).await);
        assert_eq!(
            (status, body["data"]["deleted_count"].as_u64()),
            (200, Some(3))
        );
        let (_, listed) = parts(&list::handler(&deps, Call::new(Method::GET, &job).build()).await);
        assert_eq!(listed["data"]["messages"].as_array().unwrap().len(), 0);
        assert_eq!(
            deps.store.cleared(&job).len(),
            3,
            "soft delete keeps them for retention"
        );
        let (_, again) = parts(&handler(&deps, Call::new(Method::DELETE, &job).build()).await);
        assert_eq!(again["data"]["deleted_count"], 0);
        assert_eq!(
            parts(&create::handler(&deps, post("a")).await).0,
            201,
            "ids are free again"
        );
    }

    #[tokio::test]
    async fn strangers_cannot_clear() {
        let (deps, job) = memory_deps();
        let req = Call::new(Method::POST, &job)
            .json(message_body("a", "x"))
            .build();
        create::handler(&deps, req).await;
        let (status, _) = parts(
            &handler(
                &deps,
                Call::new(Method::DELETE, &job).by("eve", &[]).build(),
            )
            .await,
        );
        assert_eq!(status, 404);
        assert!(deps.store.cleared(&job).is_empty());
    }

    #[tokio::test]
    async fn restore_brings_back_the_last_clear_once() {
        let (deps, job) = memory_deps();
        let post = |id: &str| {
            Call::new(Method::POST, &job)
                .json(message_body(id, "x"))
                .build()
        };
        let restore = || Call::new(Method::POST, &job).on("restore").build();
        let (status, body) = parts(&handler(&deps, restore()).await);
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("NOTHING_TO_RESTORE"))
        );
        for id in ["a", "b"] {
            create::handler(&deps, post(id)).await;
        }
        handler(&deps, Call::new(Method::DELETE, &job).build()).await;
        let (status, body) = parts(&handler(&deps, restore()).await);
        assert_eq!((status, &body["data"]["restored_count"]), (200, &2.into()));
        assert!(
            deps.store.cleared(&job).is_empty(),
            "restored items lose their expiry"
        );
        let (_, listed) = parts(&list::handler(&deps, Call::new(Method::GET, &job).build()).await);
        assert_eq!(listed["data"]["messages"].as_array().unwrap().len(), 2);
        let (status, _) = parts(&handler(&deps, restore()).await);
        assert_eq!(status, 404, "only once");
    }
}
