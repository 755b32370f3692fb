//! Reading a chat: the job by one `GetItem` on the jobs table, then (for a caller who may use
//! it) the head and an id lookup in one `BatchGetItem`; pages of messages by one `Query` over
//! the visible generations.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::errors::classify;
use super::items::{from_item, s, HeadItem, Item, LookupItem, MessageItem};
use super::DynamoStore;
use crate::error::StoreError;
use crate::model::Job;
use crate::store::retry::{backoff, CONTENTION_ATTEMPTS};
use crate::store::{keys, Chat, MessageRef, StorePage};

fn keys_and_attributes(keys: Vec<Item>) -> Result<KeysAndAttributes, StoreError> {
    KeysAndAttributes::builder()
        .set_keys(Some(keys))
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
    /// The job's item: only what the access rule needs, so that other attributes of the
    /// existing jobs table, whatever their shape, cannot break a request.
    pub(super) async fn read_job(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.jobs_table)
            .key("job_id", s(job_id))
            .projection_expression("job_id, owner_id, member_ids")
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        match from_item(item) {
            Ok(job) => Ok(Some(job)),
            Err(err) => {
                // Nobody can be shown to own it; say so to operators, not to callers.
                tracing::error!(job_id, error = %err, "job item is unreadable; answering not found");
                Ok(None)
            }
        }
    }

    /// The head of the job's chat and, with `message_id`, that message's lookup: one
    /// `BatchGetItem` on the messages table.
    pub(super) async fn read_chat(
        &self,
        job: Job,
        message_id: Option<&str>,
    ) -> Result<(Chat, Option<MessageRef>), StoreError> {
        let mut wanted = vec![self.key(&job.job_id, keys::HEAD)];
        let lookup_sk = message_id.map(keys::lookup);
        if let Some(sk) = &lookup_sk {
            wanted.push(self.key(&job.job_id, sk));
        }
        let mut request =
            HashMap::from([(self.messages_table.clone(), keys_and_attributes(wanted)?)]);
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
            for item in out.responses.unwrap_or_default().into_values().flatten() {
                if sort_key(&item) == Some(keys::HEAD) {
                    head = Some(item);
                } else if sort_key(&item).is_some() && sort_key(&item) == lookup_sk.as_deref() {
                    lookup = Some(item);
                }
            }
            request = out.unprocessed_keys.unwrap_or_default();
            if request.is_empty() {
                let head: HeadItem = head.map(from_item).transpose()?.unwrap_or_default();
                let target = match (lookup, message_id) {
                    (Some(item), Some(id)) => Some(from_item::<LookupItem>(item)?.into_ref(id)),
                    _ => None,
                };
                let head = head.head();
                return Ok((Chat { job, head }, target));
            }
            backoff(attempt).await;
        }
        Err(StoreError::Unavailable(
            "BatchGetItem left keys unprocessed after every retry".into(),
        ))
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
