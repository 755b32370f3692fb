//! Reading a chat: the job, the head and an id lookup in one `BatchGetItem`; pages of messages
//! by one `Query` over the visible generations.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::errors::classify;
use super::items::{from_item, s, HeadItem, Item, LookupItem, MessageItem};
use super::DynamoStore;
use crate::error::StoreError;
use crate::model::Job;
use crate::store::retry::{backoff, CONTENTION_ATTEMPTS};
use crate::store::{keys, Chat, MessageRef, StorePage};

fn keys_and_attributes(
    keys: Vec<Item>,
    projection: Option<&str>,
) -> Result<KeysAndAttributes, StoreError> {
    KeysAndAttributes::builder()
        .set_keys(Some(keys))
        .set_projection_expression(projection.map(str::to_owned))
        .consistent_read(true)
        .build()
        .map_err(|e| StoreError::Internal(e.to_string()))
}

fn sort_key(item: &Item) -> Option<&str> {
    match item.get("sk") {
        Some(AttributeValue::S(sk)) => Some(sk),
        _ => None,
    }
}

impl DynamoStore {
    pub(super) async fn read_chat(
        &self,
        job_id: &str,
        message_id: Option<&str>,
    ) -> Result<Option<(Chat, Option<MessageRef>)>, StoreError> {
        let job_key = HashMap::from([("job_id".to_owned(), s(job_id))]);
        let mut message_keys = vec![self.key(job_id, keys::HEAD)];
        let lookup_sk = message_id.map(keys::lookup);
        if let Some(sk) = &lookup_sk {
            message_keys.push(self.key(job_id, sk));
        }
        let mut request = HashMap::from([
            // Only what the access rule needs: other attributes of the existing jobs table,
            // whatever their shape, cannot break a request.
            (
                self.jobs_table.clone(),
                keys_and_attributes(vec![job_key], Some("job_id, owner_id, member_ids"))?,
            ),
            (
                self.messages_table.clone(),
                keys_and_attributes(message_keys, None)?,
            ),
        ]);
        let mut job: Option<Item> = None;
        let mut head: Option<Item> = None;
        let mut lookup: Option<Item> = None;
        for attempt in 0..CONTENTION_ATTEMPTS {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(classify)?;
            for (table, items) in out.responses.unwrap_or_default() {
                for item in items {
                    if table == self.jobs_table {
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
                return self.opened(job_id, message_id, job, head, lookup);
            }
            backoff(attempt).await;
        }
        Err(StoreError::Unavailable(
            "BatchGetItem left keys unprocessed after every retry".into(),
        ))
    }

    fn opened(
        &self,
        job_id: &str,
        message_id: Option<&str>,
        job: Option<Item>,
        head: Option<Item>,
        lookup: Option<Item>,
    ) -> Result<Option<(Chat, Option<MessageRef>)>, StoreError> {
        let Some(job) = job else { return Ok(None) };
        let job: Job = match from_item(job) {
            Ok(job) => job,
            Err(err) => {
                // Nobody can be shown to own it; say so to operators, not to callers.
                tracing::error!(job_id, error = %err, "job item is unreadable; answering not found");
                return Ok(None);
            }
        };
        let head: HeadItem = head.map(from_item).transpose()?.unwrap_or_default();
        let target = match (lookup, message_id) {
            (Some(item), Some(id)) => Some(from_item::<LookupItem>(item)?.into_ref(id)),
            _ => None,
        };
        Ok(Some((
            Chat {
                job,
                head: head.head(),
            },
            target,
        )))
    }

    pub(super) async fn read_page(
        &self,
        chat: &Chat,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        let job_id = &chat.job.job_id;
        let start = after.map(|sk| self.key(job_id, sk));
        let out = self
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
}
