//! The export, all of it: its formats (how one message is written in each), the read that fills
//! one page of at most ~5 MB (a Lambda response must stay under 6 MB once escaped into its JSON
//! payload), and the download that answers it.

use chrono::Utc;
use lambda_http::http::header::{HeaderValue, CONTENT_DISPOSITION, CONTENT_TYPE, LINK};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use tracing::instrument;

use crate::access::open_chat;
use crate::auth::Caller;
use crate::deps::Deps;
use crate::error::ApiError;
use crate::http::envelope::{json_response, success};
use crate::ids::JobId;
use crate::limits::MAX_PAGE_BYTES;
use crate::model::Message;
use crate::reads::{collect, cursor, escaped_size, start};
use crate::store::ChatStore;
use crate::timestamps::format_timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `{"success": true, "data": {"job_id", "exported_at", "messages": [...]}}`, the object a
    /// job export embeds.
    Json,
    /// One message object per line.
    Jsonl,
    /// A section per message, for people.
    Markdown,
}

impl Format {
    pub fn parse(text: Option<&str>) -> Result<Self, ApiError> {
        match text {
            None | Some("json") => Ok(Self::Json),
            Some("jsonl") => Ok(Self::Jsonl),
            Some("markdown") => Ok(Self::Markdown),
            Some(_) => Err(ApiError::field(
                "format",
                "must be \"json\", \"jsonl\" or \"markdown\"",
            )),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Jsonl => "application/x-ndjson",
            Self::Markdown => "text/markdown; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Jsonl => "jsonl",
            Self::Markdown => "md",
        }
    }

    pub fn query_value(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Jsonl => "jsonl",
            Self::Markdown => "markdown",
        }
    }
}

/// One message as the format writes it: JSON text for `json` (an element of `messages`), a
/// line for `jsonl`, a section for `markdown`.
pub fn render(format: Format, message: &Message) -> Result<String, ApiError> {
    let json = || serde_json::to_string(message).map_err(|_| ApiError::Internal);
    match format {
        Format::Json => json(),
        Format::Jsonl => Ok(json()? + "\n"),
        Format::Markdown => Ok(markdown_section(message)),
    }
}

/// The Markdown document's title.
pub fn markdown_title(job_id: &JobId, exported_at: &str) -> String {
    format!("# Quote chat of job {job_id}\n\nExported {exported_at}.\n")
}

/// Role, time and the content in a fenced block, so that Markdown or HTML in a message is
/// shown as the text it is, never rendered.
fn markdown_section(message: &Message) -> String {
    let longest_run = message
        .content
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest_run.max(2) + 1);
    let status = match message.status.as_str() {
        "complete" => String::new(),
        other => format!(" ({other})"),
    };
    format!(
        "\n## {role} · {time}{status}\n\n`{id}`\n\n{fence}text\n{content}\n{fence}\n",
        role = message.role.as_str(),
        time = message.timestamp,
        id = message.message_id,
        content = message.content,
    )
}

/// A JSON export page: messages already rendered as JSON text.
pub fn raw(json: String) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(json).map_err(|_| ApiError::Internal)
}

/// One page of an export: each message rendered in the page's format.
#[derive(Debug)]
pub struct ExportPage {
    pub job_id: JobId,
    pub exported_at: String,
    pub format: Format,
    pub items: Vec<String>,
    pub next_cursor: Option<String>,
}

/// The whole visible history in time order, in pages of at most ~5 MB.
#[instrument(skip_all, fields(job_id = %job_id, format = ?format))]
pub async fn read_page<S: ChatStore>(
    deps: &Deps<S>,
    caller: &Caller,
    job_id: &JobId,
    format: Format,
    cursor_text: Option<&str>,
) -> Result<ExportPage, ApiError> {
    let (chat, _) = open_chat(deps, caller, job_id, None).await?;
    let start = start(deps, &chat, job_id, cursor_text, Some(false))?;
    let page = collect(
        deps,
        &chat,
        &start,
        usize::MAX - 1,
        MAX_PAGE_BYTES,
        |message| {
            let item = render(format, message)?;
            let size = escaped_size(&item);
            Ok((item, size))
        },
    )
    .await?;
    Ok(ExportPage {
        job_id: job_id.clone(),
        exported_at: format_timestamp(Utc::now()),
        format,
        items: page.items,
        next_cursor: cursor(deps, &chat, &start, page.next),
    })
}

#[derive(Serialize)]
struct ExportData<'a> {
    job_id: &'a JobId,
    exported_at: &'a str,
    messages: Vec<Box<RawValue>>,
    next_cursor: &'a Option<String>,
}

/// An export page as a download: JSON in the envelope (its `next_cursor` in the data), JSONL
/// and Markdown as they are, with a `Link: rel="next"` header while more follows.
pub fn download(req: &Request, page: ExportPage) -> Result<Response<Body>, ApiError> {
    let format = page.format;
    let mut response = match format {
        Format::Json => {
            let messages = page
                .items
                .into_iter()
                .map(raw)
                .collect::<Result<Vec<_>, _>>()?;
            success(
                200,
                &ExportData {
                    job_id: &page.job_id,
                    exported_at: &page.exported_at,
                    messages,
                    next_cursor: &page.next_cursor,
                },
            )
        }
        Format::Jsonl => text_response(page.items.concat(), format),
        Format::Markdown => {
            let title = markdown_title(&page.job_id, &page.exported_at);
            text_response(title + &page.items.concat(), format)
        }
    };
    let headers = response.headers_mut();
    let disposition = format!(
        "attachment; filename=\"quote-chat-{}.{}\"",
        page.job_id,
        format.extension()
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    if let Some(cursor) = &page.next_cursor {
        // The cursor is base64url and '.', safe in a query string as it is.
        let link = format!(
            "<{}?format={}&cursor={cursor}>; rel=\"next\"",
            req.uri().path(),
            format.query_value()
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(LINK, value);
        }
    }
    Ok(response)
}

fn text_response(body: String, format: Format) -> Response<Body> {
    let mut response = json_response(200, body);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Role, Status};

    fn message(content: &str) -> Message {
        Message {
            message_id: crate::ids::MessageId::parse("m1").unwrap(),
            role: Role::Assistant,
            content: content.into(),
            timestamp: "2024-01-15T10:30:00.123456Z".into(),
            metadata: Default::default(),
            version: 1,
            status: Status::Complete,
            updated_at: "2024-01-15T10:30:00.123456Z".into(),
        }
    }

    #[test]
    fn markdown_keeps_content_as_text_whatever_it_holds() {
        let tricky = "# not a title\n<script>alert(1)</script>\n```\nfenced``````\n";
        let section = markdown_section(&message(tricky));
        assert!(section.contains("## assistant · 2024-01-15T10:30:00.123456Z"));
        let fence = "`".repeat(7);
        assert!(
            section.contains(&format!("{fence}text\n{tricky}\n{fence}\n")),
            "{section}"
        );
    }

    #[test]
    fn formats_parse_and_refuse_others() {
        assert_eq!(Format::parse(None).unwrap(), Format::Json);
        assert_eq!(Format::parse(Some("markdown")).unwrap(), Format::Markdown);
        assert!(matches!(
            Format::parse(Some("csv")),
            Err(ApiError::Validation { .. })
        ));
        assert_eq!(
            render(Format::Jsonl, &message("a"))
                .unwrap()
                .lines()
                .count(),
            1
        );
    }
}
