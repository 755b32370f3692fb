//! Reading a chat's history: the list (paged by signed cursors, or only what follows a message
//! the client holds), one message, and the summary a job overview shows; the pages the export
//! ([`crate::export`]) fills. All read the visible messages only, after the access rule
//! ([`crate::access`]).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;
use tracing::instrument;

use crate::access::open_chat;
use crate::auth::Caller;
use crate::cursor::Cursor;
use crate::deps::Deps;
use crate::error::ApiError;
use crate::etag::{self, IfNoneMatch};
use crate::ids::{JobId, MessageId};
use crate::limits::{MAX_PAGE_BYTES, MAX_PAGE_MESSAGES};
use crate::model::Message;
use crate::store::{Chat, ChatStore};
use crate::validate::ListQuery;

/// Characters of the last message a summary shows.
const PREVIEW_CHARS: usize = 200;
/// Messages asked of the store at once while filling a page.
const BATCH: usize = 1000;

#[derive(Debug, Serialize)]
pub struct ListPage {
    pub job_id: JobId,
    pub messages: Vec<Box<RawValue>>,
    pub next_cursor: Option<String>,
    /// Visible messages in the whole chat, from the head's counters: a follower that holds
    /// fewer after applying a page knows it missed some (a restore) and reads the list again.
    pub message_count: u64,
    /// The timestamp of the chat's newest message (null when it has none), from the head: a
    /// follower whose newest message has another knows it holds a chat that is gone (cleared,
    /// and its ids used again) and reads the list again.
    pub last_timestamp: Option<String>,
}

/// A read for a client that may hold a current copy already.
#[derive(Debug)]
pub enum Read<T> {
    /// The client's copy, tagged `etag`, is current: nothing more was read.
    Unchanged { etag: String },
    /// The answer, with its tag when it is known before the body is (else the body's hash).
    Fresh { body: T, etag: Option<String> },
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub job_id: JobId,
    pub message_count: u64,
    pub first_timestamp: Option<String>,
    pub last_timestamp: Option<String>,
    pub by_role: BTreeMap<&'static str, u64>,
    pub last_message_preview: Option<String>,
}

/// Where a page starts and which way it goes.
pub(crate) struct Start {
    pub(crate) after: Option<String>,
    pub(crate) descending: bool,
}

/// Messages rendered until a count or a size is reached, and the key to continue after.
pub(crate) struct Collected<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next: Option<String>,
}

/// Reads visible messages from `start` and renders each, stopping before `max_items` or
/// `max_bytes` (as `render` measures them) would be passed; never returns an empty page
/// while messages remain.
pub(crate) async fn collect<S: ChatStore, T>(
    deps: &Deps<S>,
    chat: &Chat,
    start: &Start,
    max_items: usize,
    max_bytes: usize,
    mut render: impl FnMut(&Message) -> Result<(T, usize), ApiError>,
) -> Result<Collected<T>, ApiError> {
    let mut items = Vec::new();
    let mut bytes = 0usize;
    let mut after = start.after.clone();
    let mut last_key: Option<String> = None;
    loop {
        let want = (max_items + 1 - items.len()).min(BATCH.max(max_items + 1));
        let page = deps
            .store
            .page(chat, after.as_deref(), start.descending, want)
            .await?;
        for stored in page.messages {
            // Created after the head was read: left for the next read, so that a page, its
            // counts and its tag all describe the chat as the head did.
            if newer_than_head(chat, &stored.message) {
                continue;
            }
            if items.len() == max_items {
                return Ok(Collected {
                    items,
                    next: last_key,
                });
            }
            let (item, size) = render(&stored.message)?;
            if !items.is_empty() && bytes + size > max_bytes {
                return Ok(Collected {
                    items,
                    next: last_key,
                });
            }
            bytes += size;
            items.push(item);
            last_key = Some(stored.sort_key);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(Collected { items, next: None }),
        }
    }
}

fn newer_than_head(chat: &Chat, message: &Message) -> bool {
    chat.head
        .last_timestamp
        .as_deref()
        .is_some_and(|last| message.timestamp.as_str() > last)
}

pub(crate) fn start<S>(
    deps: &Deps<S>,
    chat: &Chat,
    job_id: &JobId,
    cursor: Option<&str>,
    descending: Option<bool>,
) -> Result<Start, ApiError> {
    Ok(match cursor {
        Some(text) => {
            let generation = chat.head.generation;
            let cursor = deps
                .settings
                .cursors
                .decode(text, job_id, generation, descending)?;
            Start {
                after: Some(cursor.after),
                descending: cursor.descending,
            }
        }
        None => Start {
            after: None,
            descending: descending.unwrap_or(false),
        },
    })
}

pub(crate) fn cursor<S>(
    deps: &Deps<S>,
    chat: &Chat,
    start: &Start,
    next: Option<String>,
) -> Option<String> {
    next.map(|after| {
        deps.settings.cursors.encode(&Cursor {
            job_id: chat.job.job_id.clone(),
            generation: chat.head.generation,
            descending: start.descending,
            after,
        })
    })
}

#[instrument(skip_all, fields(job_id = %job_id, limit = query.limit, descending = ?query.descending))]
pub async fn list<S: ChatStore>(
    deps: &Deps<S>,
    caller: &Caller,
    job_id: &JobId,
    query: ListQuery,
    known: Option<IfNoneMatch<'_>>,
) -> Result<Read<ListPage>, ApiError> {
    let (chat, after) = open_chat(deps, caller, job_id, query.after.as_ref()).await?;
    let (start, etag) = match (&query.after, after) {
        (None, _) => {
            let start = start(
                deps,
                &chat,
                job_id,
                query.cursor.as_deref(),
                query.descending,
            )?;
            (start, None)
        }
        (Some(after_id), Some(after)) if chat.head.is_visible(after.generation) => {
            let etag = etag::of_messages_after(&chat.head, after_id.as_str(), query.limit);
            if known.is_some_and(|known| known.names(&etag)) {
                return Ok(Read::Unchanged { etag });
            }
            let start = Start {
                after: Some(after.sort_key),
                descending: false,
            };
            (start, Some(etag))
        }
        // The client holds a message that is gone (a clear): it must read the list again.
        (Some(_), _) => return Err(ApiError::MessageNotFound),
    };
    let want = query.limit.unwrap_or(MAX_PAGE_MESSAGES);
    let page = if chat.head.counts.total == 0 {
        // The head says the chat is empty: no message to read.
        Collected {
            items: Vec::new(),
            next: None,
        }
    } else {
        collect(deps, &chat, &start, want, MAX_PAGE_BYTES, |message| {
            let raw = serde_json::value::to_raw_value(message).map_err(|_| ApiError::Internal)?;
            let size = escaped_size(raw.get());
            Ok((raw, size))
        })
        .await?
    };
    let body = ListPage {
        job_id: job_id.clone(),
        messages: page.items,
        next_cursor: cursor(deps, &chat, &start, page.next),
        message_count: chat.head.counts.total,
        last_timestamp: chat
            .head
            .last_timestamp
            .clone()
            .filter(|_| chat.head.counts.total > 0),
    };
    Ok(Read::Fresh { body, etag })
}

/// One visible message; its tag is its version.
#[instrument(skip_all, fields(job_id = %job_id, message_id = %message_id))]
pub async fn message<S: ChatStore>(
    deps: &Deps<S>,
    caller: &Caller,
    job_id: &JobId,
    message_id: &MessageId,
    known: Option<IfNoneMatch<'_>>,
) -> Result<Read<Message>, ApiError> {
    let (chat, target) = open_chat(deps, caller, job_id, Some(message_id)).await?;
    let target = target
        .filter(|t| chat.head.is_visible(t.generation))
        .ok_or(ApiError::MessageNotFound)?;
    let message = deps
        .store
        .message(&chat, &target)
        .await?
        .ok_or(ApiError::MessageNotFound)?;
    let etag = etag::of_version(message.version);
    if known.is_some_and(|known| known.names(&etag)) {
        return Ok(Read::Unchanged { etag });
    }
    Ok(Read::Fresh {
        body: message,
        etag: Some(etag),
    })
}

/// Counts from the head's counters, the preview from the last message: two requests however
/// long the chat.
#[instrument(skip_all, fields(job_id = %job_id))]
pub async fn summary<S: ChatStore>(
    deps: &Deps<S>,
    caller: &Caller,
    job_id: &JobId,
) -> Result<Summary, ApiError> {
    let (chat, _) = open_chat(deps, caller, job_id, None).await?;
    let counts = chat.head.counts;
    let last = if counts.total > 0 {
        deps.store.page(&chat, None, true, 1).await?.messages.pop()
    } else {
        None
    };
    let mut by_role = BTreeMap::new();
    for (role, count) in [("user", counts.user), ("assistant", counts.assistant)] {
        if count > 0 {
            by_role.insert(role, count);
        }
    }
    Ok(Summary {
        job_id: job_id.clone(),
        message_count: counts.total,
        first_timestamp: chat.head.first_timestamp.clone().filter(|_| last.is_some()),
        last_timestamp: last.as_ref().map(|m| m.message.timestamp.clone()),
        by_role,
        last_message_preview: last.map(|m| m.message.content.chars().take(PREVIEW_CHARS).collect()),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_size_counts_what_json_escaping_adds() {
        assert_eq!(escaped_size("ab"), 2);
        assert_eq!(escaped_size("\"\\\n"), 6);
        assert_eq!(escaped_size("\u{1}"), 6);
        assert_eq!(escaped_size("é"), 2);
    }
}
