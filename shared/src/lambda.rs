//! How the HTTP functions run on Lambda: lambda_http's own adapter, after one repair of the
//! event. lambda_http builds each request's URI from API Gateway's `rawPath` and
//! `rawQueryString` and panics when they hold a character a URI may not (a raw `"`, `<`, `>`,
//! space: curl sends them unencoded), before any handler could answer — and a panic aborts the
//! process. Such characters are percent-encoded first, as a browser would have sent them, so the
//! request reaches its handler and gets an answer in the API's envelope.
//!
//! Each invocation runs in a [`telemetry::request_span`] (its request id and job hash on every
//! log line), within the time its deadline leaves ([`time_left`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// Whether the warning of a deadline already past has been logged (once per process).
static PAST_DEADLINE_SAID: AtomicBool = AtomicBool::new(false);

/// The time left until an invocation's deadline (epoch milliseconds), or `None` when there is
/// no deadline to keep. Lambda never hands out one already past; cargo lambda's emulator sends
/// a fixed `Lambda-Runtime-Deadline-Ms: 600000` (ten minutes into 1970). Taken literally it
/// would refuse every request, so such a deadline counts as unknown, said once in the log.
pub fn time_left(deadline_ms: u64, now: SystemTime) -> Option<Duration> {
    time_left_saying_once(deadline_ms, now, &PAST_DEADLINE_SAID)
}

fn time_left_saying_once(deadline_ms: u64, now: SystemTime, said: &AtomicBool) -> Option<Duration> {
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| u64::try_from(now.as_millis()).unwrap_or(u64::MAX));
    if deadline_ms > now_ms {
        return Some(Duration::from_millis(deadline_ms - now_ms));
    }
    if !said.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            deadline_ms,
            now_ms,
            "the invocation's deadline has already passed (an emulator's?): running without one"
        );
    }
    None
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
            let span = telemetry::request_span(
                &event.context.request_id,
                event.context.xray_trace_id.as_deref(),
                job_id(&event.payload),
            );
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

    #[test]
    fn a_deadline_already_past_is_no_deadline_and_said_once() {
        let now = UNIX_EPOCH + Duration::from_secs(1_705_314_600);
        let said = AtomicBool::new(false);
        let lines = telemetry::capture::json(|| {
            let in_a_minute = 1_705_314_660_000;
            assert_eq!(
                time_left_saying_once(in_a_minute, now, &said),
                Some(Duration::from_secs(60))
            );
            // cargo lambda's emulator's fixed deadline, and one just passed.
            assert_eq!(time_left_saying_once(600_000, now, &said), None);
            assert_eq!(time_left_saying_once(1_705_314_600_000, now, &said), None);
        });
        assert_eq!(lines.len(), 1, "said once: {lines:?}");
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["fields"]["deadline_ms"], 600_000);
    }
}
