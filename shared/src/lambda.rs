//! How the HTTP functions run on Lambda: lambda_http's own adapter, after one repair of the
//! event. lambda_http builds each request's URI from API Gateway's `rawPath` and
//! `rawQueryString` and panics when they hold a character a URI may not (a raw `"`, `<`, `>`,
//! space: curl sends them unencoded), before any handler could answer — and a panic aborts the
//! process. Such characters are percent-encoded first, as a browser would have sent them, so the
//! request reaches its handler and gets an answer in the API's envelope.
//!
//! Each invocation runs in a [`telemetry::request_span`] (its request id and job hash on every
//! log line).

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, IntoResponse, LambdaEvent, Request, Service};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use tracing::Instrument;

use crate::telemetry;

/// What may not stand raw in a URI's path or query (RFC 3986), besides non-ASCII, which
/// percent-encoding always encodes; `%` stays, so existing escapes are kept.
const NOT_IN_URI: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'#');

/// `text` with every character a URI may not hold percent-encoded.
pub fn uri_safe(text: &str) -> String {
    utf8_percent_encode(text, NOT_IN_URI).to_string()
}

fn repair(event: &mut LambdaRequest) {
    if let LambdaRequest::ApiGatewayV2(request) = event {
        for part in [&mut request.raw_path, &mut request.raw_query_string]
            .into_iter()
            .flatten()
        {
            *part = uri_safe(part);
        }
    }
}

/// The job a request names, as API Gateway matched it (`None` on unrouted requests).
fn job_id(event: &LambdaRequest) -> Option<&str> {
    match event {
        LambdaRequest::ApiGatewayV2(request) => {
            request.path_parameters.get("job_id").map(String::as_str)
        }
        _ => None,
    }
}

/// `lambda_http::run`, with the event repaired first and run in its request span.
pub async fn run_http<'a, S, R, E>(handler: S) -> Result<(), lambda_http::Error>
where
    S: Service<Request, Response = R, Error = E> + Clone + 'a,
    S::Future: Send + 'a,
    R: IntoResponse + 'a,
    E: std::fmt::Debug + Into<lambda_runtime::Diagnostic> + 'a,
{
    let adapter: Adapter<'a, R, S> = Adapter::from(handler);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |mut event: LambdaEvent<LambdaRequest>| {
            repair(&mut event.payload);
            let span = telemetry::request_span(&event.context.request_id, job_id(&event.payload));
            let mut adapter = adapter.clone();
            async move { adapter.call(event).await }.instrument(span)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_a_uri_may_not_hold_are_encoded_and_escapes_kept() {
        assert_eq!(uri_safe(r#"a="b c"&d=<e>"#), "a=%22b%20c%22&d=%3Ce%3E");
        assert_eq!(
            uri_safe("cursor=ab.cd&x=%22&y=é"),
            "cursor=ab.cd&x=%22&y=%C3%A9"
        );
        assert_eq!(
            uri_safe("/api/jobs/j/quote-chat/"),
            "/api/jobs/j/quote-chat/"
        );
    }
}
