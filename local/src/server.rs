//! The local HTTP server: routes like API Gateway, authenticates like its JWT authorizer, then
//! calls the very handler functions the Lambdas run.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use http::header::{HeaderValue, AUTHORIZATION, ORIGIN};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use shared::error::ApiError;
use shared::limits::MAX_BODY_BYTES;
use shared::routes::{route, Function, Route, Target};
use shared::store::ChatStore;
use shared::{apigw, http as api_http, telemetry, Deps};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::cors::Cors;
use crate::jwt::{LocalJwt, Refusal};

pub struct LocalApi<S> {
    pub deps: Deps<S>,
    pub jwt: LocalJwt,
    pub cors: Cors,
}

type Reply = Response<Full<Bytes>>;

/// An answer, and who gave it: a handler writes the line of the request it served (as on
/// Lambda); the server writes one for what never reached a handler. One line per request.
enum Answer {
    Handler(Reply),
    Server(Reply),
}

impl<S: ChatStore + 'static> LocalApi<S> {
    /// Answers one request; every line it logs carries its id and job hash, as on Lambda.
    pub async fn handle(&self, req: Request<Incoming>) -> Reply {
        let request_id = uuid::Uuid::new_v4().to_string();
        let found = route(req.method(), req.uri().path());
        let job_id = match &found {
            Route::Found { job_id, .. } => Some(job_id.as_str()),
            _ => None,
        };
        let span = telemetry::request_span(&request_id, None, job_id);
        self.answer(req, found, &request_id).instrument(span).await
    }

    async fn answer(&self, req: Request<Incoming>, found: Route, request_id: &str) -> Reply {
        let started = Instant::now();
        let origin = req
            .headers()
            .get(ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let method = req.method().clone();
        let (answer, route_name, preflight) = match found {
            Route::Preflight => (
                Answer::Server(empty(StatusCode::NO_CONTENT)),
                "preflight",
                true,
            ),
            Route::NotFound => (
                Answer::Server(failure(&ApiError::NotFound, request_id)),
                "unrouted",
                false,
            ),
            Route::WrongMethod { allow } => (
                Answer::Server(failure(&ApiError::MethodNotAllowed { allow }, request_id)),
                "unrouted",
                false,
            ),
            Route::Found {
                target,
                job_id,
                message_id,
            } => (
                self.dispatch(req, target, job_id, message_id, request_id)
                    .await,
                target.name(),
                false,
            ),
        };
        let mut reply = match answer {
            Answer::Handler(reply) => reply,
            Answer::Server(reply) => {
                tracing::info!(
                    %method,
                    route = route_name,
                    status = reply.status().as_u16(),
                    latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "request"
                );
                reply
            }
        };
        let headers = reply.headers_mut();
        self.cors.decorate(origin.as_deref(), headers, preflight);
        if let Ok(value) = HeaderValue::from_str(request_id) {
            headers.insert(api_http::REQUEST_ID, value);
        }
        reply
    }

    async fn dispatch(
        &self,
        req: Request<Incoming>,
        target: Target,
        job_id: String,
        message_id: Option<String>,
        request_id: &str,
    ) -> Answer {
        let (parts, body) = req.into_parts();
        let bytes = match Limited::new(body, MAX_BODY_BYTES + 1).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                let too_large = ApiError::PayloadTooLarge {
                    field: "body",
                    limit: MAX_BODY_BYTES,
                };
                return Answer::Server(failure(&too_large, request_id));
            }
        };
        let authorization = parts.headers.get(AUTHORIZATION).map(|v| v.to_str());
        let verified = match authorization {
            // A header that is not visible ASCII is no token either.
            Some(Err(_)) => Err(Refusal::Malformed),
            Some(Ok(header)) => self.jwt.verify(Some(header)),
            None => self.jwt.verify(None),
        };
        // Every refused token gets the same 401 as on API Gateway; the log says why (never
        // the token).
        let claims = verified
            .map_err(|reason| {
                tracing::info!(%reason, "token refused: the answer is 401");
            })
            .ok();
        let body = if bytes.is_empty() {
            lambda_http::Body::Empty
        } else {
            match String::from_utf8(bytes.to_vec()) {
                Ok(text) => lambda_http::Body::Text(text),
                Err(err) => lambda_http::Body::Binary(err.into_bytes()),
            }
        };
        let mut params = HashMap::from([("job_id".to_owned(), job_id)]);
        if let Some(message_id) = message_id {
            params.insert("message_id".to_owned(), message_id);
        }
        let lambda_req = apigw::deliver(
            Request::from_parts(parts, body),
            params,
            claims,
            request_id.to_owned(),
        );
        // As API Gateway does: the function that serves the route gets the request.
        let response = match target.function() {
            Function::List => list::handler(&self.deps, lambda_req).await,
            Function::Create => create::handler(&self.deps, lambda_req).await,
            Function::Clear => clear::handler(&self.deps, lambda_req).await,
            Function::Patch => patch::handler(&self.deps, lambda_req).await,
        };
        let (parts, body) = response.into_parts();
        let bytes = match body {
            lambda_http::Body::Text(text) => Bytes::from(text),
            lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
            _ => Bytes::new(),
        };
        Answer::Handler(Response::from_parts(parts, Full::new(bytes)))
    }
}

fn empty(status: StatusCode) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = status;
    reply
}

fn failure(err: &ApiError, request_id: &str) -> Reply {
    let (parts, body) = api_http::failure(err, Some(request_id.to_owned())).into_parts();
    let bytes = match body {
        lambda_http::Body::Text(text) => Bytes::from(text),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Full::new(bytes))
}

/// Serves until the listener fails; each connection on its own task.
pub async fn serve<S: ChatStore + 'static>(
    listener: TcpListener,
    api: Arc<LocalApi<S>>,
) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let api = api.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(req).await) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "connection closed with an error");
            }
        });
    }
}
