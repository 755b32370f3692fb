//! Our operations, called as the handlers call them (`shared`'s writes, reads and export functions,
//! bodies validated as a request's would be), minus the HTTP envelope.

use setup::DEMO_OWNER;
use shared::auth::Caller;
use shared::etag::{self, IfNoneMatch};
use shared::export::{self, Format};
use shared::ids::{JobId, MessageId};
use shared::model::{IfMatch, NewMessage, Role, Status};
use shared::reads::Read;
use shared::store::dynamo::DynamoStore;
use shared::validate::{self, ListQuery};
use shared::{reads, writes, Deps};

type D = Deps<DynamoStore>;

/// A job id, parsed as a handler parses the path's.
fn job_id(job: &str) -> JobId {
    JobId::parse(job).expect("a job id")
}

/// A message id, parsed as a handler parses the path's or the body's.
fn message_id(id: &str) -> MessageId {
    MessageId::parse(id).expect("a message id")
}

/// The caller of every operation: the owner of the bench's jobs, the demo user (the caller of
/// the events/ files too).
pub fn owner() -> Caller {
    Caller {
        sub: DEMO_OWNER.into(),
        groups: Vec::new(),
    }
}

pub async fn list(deps: &D, job: &str) -> usize {
    let read = reads::list(deps, &owner(), &job_id(job), ListQuery::default(), None)
        .await
        .expect("list");
    let reads::Read::Fresh { body: page, .. } = read else {
        panic!("a list asked without a tag is never unchanged");
    };
    // What the function sends back is the page serialized; that is part of the work.
    serde_json::to_string(&page).expect("page serializes");
    page.messages.len()
}

/// The newest message's id and the tag of "what follows it": where a follower starts.
pub async fn follow_start(deps: &D, job: &str) -> (String, String) {
    let newest = ListQuery {
        limit: Some(1),
        descending: Some(true),
        ..ListQuery::default()
    };
    let Read::Fresh { body, .. } = reads::list(deps, &owner(), &job_id(job), newest, None)
        .await
        .expect("newest")
    else {
        panic!("a list asked without a tag is never unchanged");
    };
    let first = body.messages.first().expect("a message to follow from");
    let message: serde_json::Value = serde_json::from_str(first.get()).expect("message JSON");
    let id = message["message_id"]
        .as_str()
        .expect("message_id")
        .to_owned();
    let after = ListQuery {
        after: Some(message_id(&id)),
        ..ListQuery::default()
    };
    match reads::list(deps, &owner(), &job_id(job), after, None).await {
        Ok(Read::Fresh {
            etag: Some(tag), ..
        }) => (id, tag),
        other => panic!("a follow read is tagged: {other:?}"),
    }
}

/// A follower's poll when nothing is new: `?after=<newest>` with its tag, answered 304.
pub async fn poll_idle(deps: &D, job: &str, newest: &str, tag: &str) {
    let after = ListQuery {
        after: Some(message_id(newest)),
        ..ListQuery::default()
    };
    let read = reads::list(deps, &owner(), &job_id(job), after, Some(IfNoneMatch(tag)))
        .await
        .expect("poll");
    assert!(matches!(read, Read::Unchanged { .. }), "nothing new");
}

/// A follower's poll while `id` streams: the message revalidated by its version, then the
/// idle poll (both answered 304 here: the reply did not move meanwhile).
pub async fn poll_streaming(deps: &D, job: &str, id: &str, version: u64, tag: &str) {
    let held = etag::of_version(version);
    let known = Some(IfNoneMatch(held.as_str()));
    let read = reads::message(deps, &owner(), &job_id(job), &message_id(id), known)
        .await
        .expect("message");
    assert!(matches!(read, Read::Unchanged { .. }), "the version held");
    poll_idle(deps, job, id, tag).await;
}

pub async fn summary(deps: &D, job: &str) -> u64 {
    let summary = reads::summary(deps, &owner(), &job_id(job))
        .await
        .expect("summary");
    serde_json::to_string(&summary).expect("summary serializes");
    summary.message_count
}

/// Every page of the export (each ~5 MB at most), as a client fetching all of it would: the
/// messages of each.
pub async fn export(deps: &D, job: &str) -> Vec<usize> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = export::read_page(
            deps,
            &owner(),
            &job_id(job),
            Format::Json,
            cursor.as_deref(),
        )
        .await
        .expect("export");
        pages.push(page.items.len());
        cursor = page.next_cursor;
        if cursor.is_none() {
            return pages;
        }
    }
}

pub fn new_message(id: &str, role: Role, content: &str, status: Status) -> NewMessage {
    NewMessage {
        message_id: message_id(id),
        role,
        content: content.to_owned(),
        metadata: Default::default(),
        status,
    }
}

pub async fn create(deps: &D, job: &str, message: NewMessage) {
    writes::create(deps, &owner(), &job_id(job), message)
        .await
        .expect("create");
}

/// One PATCH of content (and the closing status); returns the new version.
pub async fn patch(
    deps: &D,
    job: &str,
    id: &str,
    content: &str,
    version: Option<u64>,
    last: bool,
) -> u64 {
    let mut body = serde_json::json!({ "content": content });
    if last {
        body["status"] = "complete".into();
    }
    let patch = validate::message_patch(&body.to_string()).expect("valid PATCH body");
    writes::patch(
        deps,
        &owner(),
        &job_id(job),
        &message_id(id),
        &patch,
        version.map_or(IfMatch::Any, |v| IfMatch::Versions(vec![v])),
    )
    .await
    .expect("patch")
    .version
}

pub async fn clear(deps: &D, job: &str) -> u64 {
    writes::clear(deps, &owner(), &job_id(job))
        .await
        .expect("clear")
        .deleted_count
}

pub async fn restore(deps: &D, job: &str) -> u64 {
    writes::restore(deps, &owner(), &job_id(job))
        .await
        .expect("restore")
        .restored_count
}

/// A reply of `bytes` streamed in `patches` PATCHes, each sending the content so far with
/// `If-Match` (as clients/typescript does), the last one marking it complete.
pub fn stream_chunks(bytes: usize, patches: usize) -> impl Iterator<Item = String> {
    let reply = "x".repeat(bytes);
    (1..=patches).map(move |i| reply[..bytes * i / patches].to_owned())
}
