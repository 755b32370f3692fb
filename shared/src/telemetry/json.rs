//! The JSON line of every log event, and the request fields it carries.
//!
//! tracing-subscriber's own JSON format either drops span fields or writes all of them, and the
//! spans of `writes.rs`, `reads.rs` and `export.rs` carry raw job and message ids. Here a layer
//! ([`Carry`]) keeps only the span fields in [`CARRIED`] — the request id, the X-Ray trace id of
//! a sampled request and the hashed job — and the format ([`JsonLine`]) writes them at the top
//! of each line under the spans, as Lambda's own JSON logs and Powertools put `requestId`:
//! `{"timestamp", "level", "requestId", "traceId", "job", "fields": {"message", …}}`. An event
//! field named `job_id` is written as its hash, so a raw job id logged by mistake never reaches
//! a line either.

use std::fmt;

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use tracing_subscriber::Layer;

use super::job_hash;

/// The span fields every line under the span carries; any other span field stays out.
pub const CARRIED: [&str; 3] = ["requestId", "traceId", "job"];

/// The carried fields of one span, in its extensions.
struct Carried(Map<String, Value>);

impl Visit for Carried {
    fn record_str(&mut self, field: &Field, value: &str) {
        if CARRIED.contains(&field.name()) {
            self.0.insert(field.name().to_owned(), value.into());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if CARRIED.contains(&field.name()) {
            self.0
                .insert(field.name().to_owned(), format!("{value:?}").into());
        }
    }
}

/// Keeps the [`CARRIED`] fields of every span that declares one.
pub struct Carry;

impl<S> Layer<S> for Carry
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let declares = attrs
            .metadata()
            .fields()
            .iter()
            .any(|field| CARRIED.contains(&field.name()));
        let Some(span) = ctx.span(id).filter(|_| declares) else {
            return;
        };
        let mut carried = Carried(Map::new());
        attrs.record(&mut carried);
        span.extensions_mut().insert(carried);
    }

    // A field declared empty and recorded later (`Span::record`).
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(carried) = span.extensions_mut().get_mut::<Carried>() {
                values.record(carried);
            }
        }
    }
}

/// The carried fields of `span` and its parents (the innermost wins).
pub fn carried<'a, R: LookupSpan<'a>>(span: SpanRef<'a, R>) -> Map<String, Value> {
    let mut fields = Map::new();
    for span in span.scope().from_root() {
        if let Some(carried) = span.extensions().get::<Carried>() {
            fields.extend(carried.0.clone());
        }
    }
    fields
}

/// An event's own fields as JSON values.
struct EventFields(Map<String, Value>);

impl EventFields {
    fn insert(&mut self, field: &Field, value: Value) {
        match field.name() {
            "job_id" => {
                let hash = value.as_str().map_or_else(String::new, job_hash);
                self.0.insert("job".to_owned(), hash.into());
            }
            name => {
                self.0.insert(name.to_owned(), value);
            }
        }
    }
}

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}

/// One JSON object per line: time, level, the carried fields, then the event's own under
/// `fields` (where Logs Insights queries and the runbook look for them).
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        line.insert(
            "timestamp".to_owned(),
            Utc::now()
                .to_rfc3339_opts(SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".to_owned(), event.metadata().level().as_str().into());
        if let Some(span) = ctx.parent_span() {
            line.extend(carried(span));
        }
        let mut fields = EventFields(Map::new());
        event.record(&mut fields);
        line.insert("fields".to_owned(), Value::Object(fields.0));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::{capture, request_span};
    use super::*;

    #[test]
    fn every_line_under_a_request_carries_its_id_and_job_hash_and_no_other_span_field() {
        let job = "5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42";
        let lines = capture::json(|| {
            tracing::info!("before any request");
            let _request = request_span("req-1", None, Some(job)).entered();
            let _inner = tracing::info_span!("list", job_id = %job, message_id = "m1").entered();
            tracing::info!(job_id = job, "caller may not use this job");
            tracing::warn!(
                code = "NOT_FOUND",
                status = 404_u64,
                ok = false,
                "request refused"
            );
        });
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].get("requestId").is_none(), "{}", lines[0]);
        for line in &lines[1..] {
            assert_eq!(line["requestId"], "req-1", "{line}");
            assert_eq!(line["job"], job_hash(job), "{line}");
            assert!(!line.to_string().contains(job), "a raw job id: {line}");
            assert!(line.get("job_id").is_none() && line.get("message_id").is_none());
        }
        assert_eq!(
            lines[1]["fields"]["job"],
            job_hash(job),
            "event field hashed"
        );
        let refused = &lines[2];
        assert_eq!(refused["level"], "WARN");
        assert_eq!(
            refused["fields"],
            serde_json::json!({"message": "request refused", "code": "NOT_FOUND", "status": 404, "ok": false})
        );
        let keys: Vec<&str> = refused
            .as_object()
            .map(|line| line.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["timestamp", "level", "requestId", "job", "fields"]);
    }

    #[test]
    fn a_field_recorded_later_is_carried_and_the_innermost_value_wins() {
        let lines = capture::json(|| {
            let outer = tracing::info_span!("Lambda runtime invoke", requestId = "outer");
            let _outer = outer.enter();
            let span = request_span("inner", None, None);
            let _inner = span.enter();
            tracing::info!("no job yet");
            span.record("job", "abc");
            tracing::info!("with a job");
        });
        assert_eq!(lines[0]["requestId"], "inner");
        assert!(lines[0].get("job").is_none(), "{}", lines[0]);
        assert_eq!(lines[1]["job"], "abc");
    }
}
