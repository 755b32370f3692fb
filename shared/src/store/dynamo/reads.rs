//! Reading a chat: the job, the chat's head and an id lookup in one `BatchGetItem` over both
//! tables (no message item: the access rule is checked on that answer before any is read); one
//! message by `GetItem`; pages of messages by one `Query` over the visible generations.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::errors::classify;
use super::items::{from_item, s, HeadItem, Item, LookupItem, MessageItem};
use super::DynamoStore;
use crate::error::StoreError;
use crate::ids::{JobId, MessageId};
use crate::model::{Job, Message};
use crate::store::retry::{backoff, CONTENTION_ATTEMPTS};
use crate::store::{keys, Chat, ChatRead, MessageRef, StorePage};

fn keys_and_attributes(keys: Vec<Item>) -> Result<KeysAndAttributes, StoreError> {
    KeysAndAttributes::builder()
        .set_keys(Some(keys))
        .consistent_read(true)
        .build()
        .map_err(|e| StoreError::Internal(e.to_string()))
}

/// A job item nobody can be shown to own is answered as missing; operators are told.
fn readable_job(job_id: &str, item: Item) -> Option<Job> {
    match from_item(item) {
        Ok(job) => Some(job),
        Err(err) => {
            tracing::error!(job = %crate::telemetry::job_hash(job_id), error = %err, "job item is unreadable; answering not found");
            None
        }
    }
}

fn sort_key(item: &Item) -> Option<&str> {
    match item.get("sk") {
        Some(AttributeValue::S(sk)) => Some(sk),
        _ => None,
    }
}

/// The job, the head of its chat and, with `message_id`, that message's lookup: one
/// `BatchGetItem` over both tables. Of the job only what the access rule needs is read, so
/// other attributes of the existing jobs table, whatever their shape, cannot break a request.
pub(super) async fn chat(
    store: &DynamoStore,
    job_id: &JobId,
    message_id: Option<&MessageId>,
) -> Result<ChatRead, StoreError> {
    let job_id = job_id.as_str();
    let mut chat_keys = vec![store.key(job_id, keys::HEAD)];
    let lookup_sk = message_id.map(|id| keys::lookup(id.as_str()));
    if let Some(sk) = &lookup_sk {
        chat_keys.push(store.key(job_id, sk));
    }
    let job_keys = KeysAndAttributes::builder()
        .keys(Item::from([("job_id".to_owned(), s(job_id))]))
        .projection_expression("job_id, owner_id, member_ids")
        .consistent_read(true)
        .build()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let mut request = HashMap::from([
        (
            store.messages_table.clone(),
            keys_and_attributes(chat_keys)?,
        ),
        (store.jobs_table.clone(), job_keys),
    ]);
    let mut job: Option<Item> = None;
    let mut head: Option<Item> = None;
    let mut lookup: Option<Item> = None;
    for attempt in 0..CONTENTION_ATTEMPTS {
        let out = store
            .client
            .batch_get_item()
            .set_request_items(Some(request))
            .send()
            .await
            .map_err(classify)?;
        for (table, items) in out.responses.unwrap_or_default() {
            for item in items {
                if table == store.jobs_table {
                    job = Some(item);
                } else if sort_key(&item) == Some(keys::HEAD) {
                    head = Some(item);
                } else if sort_key(&item).is_some() && sort_key(&item) == lookup_sk.as_deref() {
                    lookup = Some(item);
                }
            }
        }
        request = out.unprocessed_keys.unwrap_or_default();
        if request.is_empty() {
            let head = head
                .map(from_item::<HeadItem>)
                .transpose()
                .map(|item| item.unwrap_or_default().head());
            let target = match (lookup, message_id) {
                (Some(item), Some(id)) => {
                    from_item::<LookupItem>(item).map(|lookup| Some(lookup.into_ref(id)))
                }
                _ => Ok(None),
            };
            return Ok(ChatRead {
                job: job.and_then(|item| readable_job(job_id, item)),
                head,
                target,
            });
        }
        backoff(attempt).await;
    }
    Err(StoreError::Unavailable(
        "BatchGetItem left keys unprocessed after every retry".into(),
    ))
}

/// The visible message `target` as it is now (`None` if it vanished under its lookup).
pub(super) async fn message(
    store: &DynamoStore,
    chat: &Chat,
    target: &MessageRef,
) -> Result<Option<Message>, StoreError> {
    match message_item(store, chat, target).await? {
        Some(item) => Ok(Some(from_item::<MessageItem>(item)?.into_stored()?.message)),
        None => Ok(None),
    }
}

/// The message item `target` points at, read strongly consistent.
pub(super) async fn message_item(
    store: &DynamoStore,
    chat: &Chat,
    target: &MessageRef,
) -> Result<Option<Item>, StoreError> {
    let out = store
        .client
        .get_item()
        .table_name(&store.messages_table)
        .set_key(Some(store.key(chat.job.job_id.as_str(), &target.sort_key)))
        .consistent_read(true)
        .send()
        .await
        .map_err(classify)?;
    Ok(out.item)
}

pub(super) async fn page(
    store: &DynamoStore,
    chat: &Chat,
    after: Option<&str>,
    descending: bool,
    limit: usize,
) -> Result<StorePage, StoreError> {
    let job_id = chat.job.job_id.as_str();
    let start = after.map(|sk| store.key(job_id, sk));
    let out = store
        .query_messages(job_id, chat.head.visible_from, chat.head.generation)
        .scan_index_forward(!descending)
        .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(classify)?;
    let messages = out
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|item| from_item::<MessageItem>(item)?.into_stored())
        .collect::<Result<Vec<_>, _>>()?;
    let next = out
        .last_evaluated_key
        .as_ref()
        .and_then(sort_key)
        .map(str::to_owned);
    Ok(StorePage { messages, next })
}
