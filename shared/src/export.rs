//! The formats of the export: how one message is written in each, and how many bytes that
//! takes in a Lambda response (which must stay under 6 MB once escaped into its JSON payload).

use serde_json::value::RawValue;

use crate::error::ApiError;
use crate::model::Message;

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
pub fn markdown_title(job_id: &str, exported_at: &str) -> String {
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

/// Bytes `text` takes once escaped as a JSON string (the Lambda response payload).
pub fn escaped_size(text: &str) -> usize {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// A JSON export page: messages already rendered as JSON text.
pub fn raw(json: String) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(json).map_err(|_| ApiError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Role, Status};

    fn message(content: &str) -> Message {
        Message {
            message_id: "m1".into(),
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

    #[test]
    fn escaped_size_counts_what_json_escaping_adds() {
        assert_eq!(escaped_size("ab"), 2);
        assert_eq!(escaped_size("\"\\\n"), 6);
        assert_eq!(escaped_size("\u{1}"), 6);
        assert_eq!(escaped_size("é"), 2);
    }
}
