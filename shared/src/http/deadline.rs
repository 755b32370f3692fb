//! Answering before Lambda's deadline: a request that runs out of time answers 503 in the
//! envelope instead of being killed mid-way (API Gateway would answer its own 500).

use std::future::Future;
use std::time::{Duration, SystemTime};

use lambda_http::{Body, Request, RequestExt, Response};

use crate::error::ApiError;

/// Kept back from Lambda's deadline so a slow request still answers 503 in the envelope,
/// instead of Lambda killing it and API Gateway answering its own 500.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Runs a handler's work within the time Lambda gives this invocation (no limit off Lambda, nor
/// under a deadline already past: see [`crate::lambda::time_left`]).
pub async fn before_deadline<F>(req: &Request, work: F) -> Result<Response<Body>, ApiError>
where
    F: Future<Output = Result<Response<Body>, ApiError>>,
{
    let Some(left) = req
        .lambda_context_ref()
        .and_then(|context| crate::lambda::time_left(context.deadline, SystemTime::now()))
    else {
        return work.await;
    };
    let budget = left.saturating_sub(DEADLINE_MARGIN);
    match tokio::time::timeout(budget, work).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                budget_ms = budget.as_millis() as u64,
                "request ran out of time"
            );
            Err(ApiError::ServiceUnavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use lambda_http::http::header::RETRY_AFTER;

    use super::*;
    use crate::http::{serve, success, REQUEST_ID};

    #[tokio::test]
    async fn work_that_outlives_the_lambda_deadline_answers_503_in_time() {
        let mut context = lambda_http::Context::default();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        context.deadline = now_ms + 600;
        let req = crate::apigw::deliver(
            Request::default(),
            Default::default(),
            None,
            "req-slow".into(),
        )
        .with_lambda_context(context);
        let never = std::future::pending::<Result<Response<Body>, ApiError>>();
        let response = serve(&req, never).await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        assert_eq!(response.headers()[REQUEST_ID], "req-slow");
    }

    #[tokio::test]
    async fn off_lambda_there_is_no_deadline() {
        let req = Request::default();
        let done = async { Ok(success(200, &"ok")) };
        assert_eq!(serve(&req, done).await.status(), 200);
    }

    #[tokio::test]
    async fn a_deadline_already_past_as_cargo_lambda_sends_it_is_no_deadline() {
        let mut context = lambda_http::Context::default();
        context.deadline = 600_000;
        let req = Request::default().with_lambda_context(context);
        let done = async { Ok(success(200, &"ok")) };
        assert_eq!(serve(&req, done).await.status(), 200);
    }
}
