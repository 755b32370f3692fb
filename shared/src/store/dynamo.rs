//! The DynamoDB adapter. Layout and reasons: `keys.rs` and docs/schema.md.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, PutRequest, ReturnValue, Select,
    TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::{
    backoff, keys, Chat, ChatStore, CreateOutcome, ReplaceOutcome, StorePage, StoredMessage,
};
use crate::error::StoreError;
use crate::model::{metadata_from_str, metadata_to_string, Job, Message, Role};

type Item = HashMap<String, AttributeValue>;

/// Attempts at a batch call whose unprocessed part DynamoDB hands back (throttling).
const BATCH_ATTEMPTS: u32 = 8;
/// Batch writes of one clear in flight at once.
const STAMP_CONCURRENCY: usize = 4;
/// BatchWriteItem's limit.
const BATCH_WRITE_SIZE: usize = 25;
/// Time a clear spends stamping expiry once it has counted (the answer waits for it); a chat
/// too large to stamp in this time is finished by the next clear (clear's Lambda timeout is
/// 29 s).
const STAMP_BUDGET: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    messages_table: String,
    jobs_table: String,
}

#[derive(Serialize, Deserialize)]
struct MessageItem {
    job_id: String,
    sk: String,
    message_id: String,
    role: Role,
    content: String,
    /// JSON text, so numbers keep their exact digits (DynamoDB numbers would not).
    metadata: String,
    timestamp: String,
    version: u64,
}

#[derive(Serialize, Deserialize)]
struct GuardItem {
    job_id: String,
    sk: String,
    message_sk: String,
    timestamp: String,
    fingerprint: String,
}

#[derive(Deserialize, Default)]
struct HeadItem {
    #[serde(default)]
    generation: u64,
    #[serde(default)]
    last_timestamp: Option<String>,
    #[serde(default)]
    stamped_before: u64,
}

impl MessageItem {
    fn new(job_id: &str, sk: String, message: &Message) -> Self {
        Self {
            job_id: job_id.to_owned(),
            sk,
            message_id: message.message_id.clone(),
            role: message.role,
            content: message.content.clone(),
            metadata: metadata_to_string(&message.metadata),
            timestamp: message.timestamp.clone(),
            version: message.version,
        }
    }

    fn into_stored(self) -> Result<StoredMessage, StoreError> {
        let metadata = metadata_from_str(&self.metadata)
            .map_err(|e| corrupt(&self.sk, &format!("metadata: {e}")))?;
        Ok(StoredMessage {
            sort_key: self.sk,
            message: Message {
                message_id: self.message_id,
                role: self.role,
                content: self.content,
                timestamp: self.timestamp,
                metadata,
                version: self.version,
            },
        })
    }
}

fn corrupt(sk: &str, what: &str) -> StoreError {
    StoreError::Internal(format!("unreadable item {sk}: {what}"))
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Internal(format!("encode item: {e}")))
}

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    let sk = match item.get("sk") {
        Some(AttributeValue::S(sk)) => sk.clone(),
        _ => String::from("?"),
    };
    serde_dynamo::from_item(item).map_err(|e| corrupt(&sk, &e.to_string()))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Classifies an SDK error by what the client can do about it. Only logs see the detail.
pub fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or_default();
            if code == "ValidationException"
                && context
                    .err()
                    .message()
                    .is_some_and(|m| m.contains("Item size"))
            {
                return StoreError::ItemTooLarge;
            }
            matches!(
                code,
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "LimitExceededException"
                    | "TransactionConflictException"
            )
        }
        _ => false,
    };
    let detail = DisplayErrorContext(&err).to_string();
    if transient {
        StoreError::Unavailable(detail.into())
    } else {
        StoreError::Internal(detail)
    }
}

/// Attempts at a plain write that meets an item held by a transaction (creates and patches
/// hold the chat head): DynamoDB answers `TransactionConflictException`, which the SDK does
/// not retry.
const CONFLICT_ATTEMPTS: u32 = 8;

fn is_transaction_conflict<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(c) if c.err().code() == Some("TransactionConflictException"))
}

enum Cancelled {
    /// The condition of the action at this index failed.
    Condition(usize),
    /// Another transaction held one of the items: worth another try.
    Conflict,
    Throttled,
}

fn cancellation(
    err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Option<Cancelled> {
    let SdkError::ServiceError(context) = err else {
        return None;
    };
    match context.err() {
        TransactWriteItemsError::TransactionCanceledException(ex) => {
            let codes: Vec<&str> = ex
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            if let Some(i) = codes.iter().position(|c| *c == "ConditionalCheckFailed") {
                Some(Cancelled::Condition(i))
            } else if codes.contains(&"TransactionConflict") {
                Some(Cancelled::Conflict)
            } else if codes
                .iter()
                .any(|c| matches!(*c, "ThrottlingError" | "ProvisionedThroughputExceeded"))
            {
                Some(Cancelled::Throttled)
            } else {
                None
            }
        }
        TransactWriteItemsError::TransactionInProgressException(_) => Some(Cancelled::Conflict),
        _ => None,
    }
}

impl DynamoStore {
    pub fn new(client: Client, messages_table: String, jobs_table: String) -> Self {
        Self {
            client,
            messages_table,
            jobs_table,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn key(&self, job_id: &str, sk: &str) -> Item {
        HashMap::from([("job_id".to_owned(), s(job_id)), ("sk".to_owned(), s(sk))])
    }

    /// Holds iff the chat is still in the generation it was read in.
    fn same_generation(&self, chat: &Chat) -> (String, HashMap<String, AttributeValue>) {
        (
            "attribute_not_exists(generation) OR generation = :generation".to_owned(),
            HashMap::from([(":generation".to_owned(), n(chat.generation))]),
        )
    }

    /// An UpdateItem of a chat's head item.
    fn update_head(&self, job_id: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.messages_table)
            .set_key(Some(self.key(job_id, keys::HEAD)))
    }

    /// A strongly consistent Query of one chat's items whose sort key starts with `prefix`.
    fn query_prefix(&self, job_id: &str, prefix: String) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.messages_table)
            .key_condition_expression("job_id = :job AND begins_with(sk, :prefix)")
            .expression_attribute_values(":job", s(job_id))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
    }

    async fn get(&self, job_id: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.messages_table)
            .set_key(Some(self.key(job_id, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }

    /// The number of messages of one generation (a `Select=COUNT` Query: no items travel).
    async fn count_messages(&self, job_id: &str, generation: u64) -> Result<u64, StoreError> {
        let mut count = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .query_prefix(job_id, keys::messages_prefix(generation))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            count += u64::try_from(out.count).unwrap_or(0);
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(count),
            }
        }
    }

    /// Rewrites every not yet stamped item of one generation with `expires_at`, so DynamoDB
    /// TTL purges it after the retention period. Returns whether every item was stamped; a
    /// write that failed is left for the next clear to finish.
    async fn stamp_generation(
        &self,
        job_id: &str,
        generation: u64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut complete = true;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .query_prefix(job_id, keys::generation_prefix(generation))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            // Items move into their batches: a page can hold 1 MB of message content.
            let mut items = out
                .items
                .unwrap_or_default()
                .into_iter()
                .filter(|item| !item.contains_key("expires_at"))
                .map(|mut item| {
                    item.insert("expires_at".to_owned(), n(expires_at));
                    item
                })
                .peekable();
            let mut batches: Vec<Vec<Item>> = Vec::new();
            while items.peek().is_some() {
                batches.push(items.by_ref().take(BATCH_WRITE_SIZE).collect());
            }
            let results: Vec<Result<(), StoreError>> = stream::iter(batches)
                .map(|batch| self.put_batch(batch))
                .buffer_unordered(STAMP_CONCURRENCY)
                .collect()
                .await;
            for result in results {
                if let Err(err) = result {
                    tracing::warn!(error = %err, generation, "stamping a cleared generation failed; the next clear finishes it");
                    complete = false;
                }
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(complete),
            }
        }
    }

    /// Stamps the generations from `first` to `last` within [`STAMP_BUDGET`]; returns whether
    /// all of them are done.
    async fn stamp_generations(
        &self,
        job_id: &str,
        first: u64,
        last: u64,
        expires_at: i64,
    ) -> bool {
        let stamping = async {
            let mut complete = true;
            for generation in first..=last {
                complete &= self
                    .stamp_generation(job_id, generation, expires_at)
                    .await?;
            }
            Ok::<_, StoreError>(complete)
        };
        match tokio::time::timeout(STAMP_BUDGET, stamping).await {
            Ok(Ok(complete)) => complete,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "stamping cleared messages failed; the next clear finishes it");
                false
            }
            Err(_) => {
                tracing::warn!(
                    "stamping cleared messages ran out of time; the next clear finishes it"
                );
                false
            }
        }
    }

    /// Records that every generation below `next` is stamped. Losing this write only means a
    /// later clear looks at those generations again, so failures are logged, not returned.
    async fn mark_stamped(&self, job_id: &str, next: u64) {
        for attempt in 0..CONFLICT_ATTEMPTS {
            let result = self
                .update_head(job_id)
                .update_expression("SET stamped_before = :next")
                .condition_expression(
                    "attribute_not_exists(stamped_before) OR stamped_before < :next",
                )
                .expression_attribute_values(":next", n(next))
                .send()
                .await;
            match result {
                Ok(_) => return,
                // A later clear already recorded more.
                Err(SdkError::ServiceError(c))
                    if c.err().is_conditional_check_failed_exception() =>
                {
                    return
                }
                Err(err) if is_transaction_conflict(&err) => backoff(attempt).await,
                Err(err) => {
                    tracing::warn!(error = %DisplayErrorContext(&err), "could not record stamped generations");
                    return;
                }
            }
        }
    }

    async fn put_batch(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let mut requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|e| StoreError::Internal(format!("build put request: {e}")))
            })
            .collect::<Result<_, _>>()?;
        for attempt in 0..BATCH_ATTEMPTS {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.messages_table, requests)
                .send()
                .await
                .map_err(classify)?;
            requests = out
                .unprocessed_items
                .and_then(|mut left| left.remove(&self.messages_table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            backoff(attempt).await;
        }
        Err(StoreError::Unavailable(
            "BatchWriteItem left items unprocessed after every retry".into(),
        ))
    }
}

impl ChatStore for DynamoStore {
    async fn open(&self, job_id: &str) -> Result<Option<Chat>, StoreError> {
        let job_key = HashMap::from([("job_id".to_owned(), s(job_id))]);
        let mut request: HashMap<String, KeysAndAttributes> = HashMap::from([
            (
                self.jobs_table.clone(),
                // Only what the access rule needs: other attributes of the existing jobs table,
                // whatever their shape, cannot break a request.
                KeysAndAttributes::builder()
                    .keys(job_key)
                    .projection_expression("job_id, owner_id, member_ids")
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Internal(e.to_string()))?,
            ),
            (
                self.messages_table.clone(),
                KeysAndAttributes::builder()
                    .keys(self.key(job_id, keys::HEAD))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Internal(e.to_string()))?,
            ),
        ]);
        let mut job: Option<Item> = None;
        let mut head: Option<Item> = None;
        for attempt in 0..BATCH_ATTEMPTS {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(classify)?;
            for (table, mut items) in out.responses.unwrap_or_default() {
                if table == self.jobs_table {
                    job = job.or(items.pop());
                } else if table == self.messages_table {
                    head = head.or(items.pop());
                }
            }
            request = out.unprocessed_keys.unwrap_or_default();
            if request.is_empty() {
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
                return Ok(Some(Chat {
                    job,
                    generation: head.generation,
                    last_timestamp: head.last_timestamp,
                }));
            }
            backoff(attempt).await;
        }
        Err(StoreError::Unavailable(
            "BatchGetItem left keys unprocessed after every retry".into(),
        ))
    }

    async fn page(
        &self,
        chat: &Chat,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        let job_id = &chat.job.job_id;
        let start = after.map(|sk| self.key(job_id, sk));
        let out = self
            .query_prefix(job_id, keys::messages_prefix(chat.generation))
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
        let next = out.last_evaluated_key.and_then(|key| match key.get("sk") {
            Some(AttributeValue::S(sk)) => Some(sk.clone()),
            _ => None,
        });
        Ok(StorePage { messages, next })
    }

    async fn create(
        &self,
        chat: &Chat,
        message: &Message,
        fingerprint: &str,
    ) -> Result<CreateOutcome, StoreError> {
        let job_id = &chat.job.job_id;
        let message_sk = keys::message(chat.generation, &message.timestamp, &message.message_id);
        let guard_sk = keys::guard(chat.generation, &message.message_id);
        let (same_generation, mut values) = self.same_generation(chat);
        values.insert(":ts".into(), s(&message.timestamp));
        values.insert(":zero".into(), n(0));
        let head = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.messages_table)
            .set_key(Some(self.key(job_id, keys::HEAD)))
            .update_expression(
                "SET last_timestamp = :ts, generation = if_not_exists(generation, :zero)",
            )
            .condition_expression(format!(
                "({same_generation}) AND (attribute_not_exists(last_timestamp) OR last_timestamp < :ts)"
            ))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let guard = GuardItem {
            job_id: job_id.clone(),
            sk: guard_sk.clone(),
            message_sk: message_sk.clone(),
            timestamp: message.timestamp.clone(),
            fingerprint: fingerprint.to_owned(),
        };
        let put = |item: Item| {
            Put::builder()
                .table_name(&self.messages_table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(sk)")
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(head).build())
            .transact_items(
                TransactWriteItem::builder()
                    .put(put(to_item(&guard)?)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(put(to_item(&MessageItem::new(
                        job_id, message_sk, message,
                    ))?)?)
                    .build(),
            )
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(CreateOutcome::Created),
            Err(err) => err,
        };
        match cancellation(&err) {
            Some(Cancelled::Condition(0)) | Some(Cancelled::Conflict) => {
                Ok(CreateOutcome::ChatMoved)
            }
            Some(Cancelled::Condition(_)) => match self.get(job_id, &guard_sk).await? {
                Some(item) => {
                    let existing: GuardItem = from_item(item)?;
                    Ok(CreateOutcome::Existing {
                        timestamp: existing.timestamp,
                        same: existing.fingerprint == fingerprint,
                    })
                }
                None => Ok(CreateOutcome::ChatMoved),
            },
            Some(Cancelled::Throttled) => Err(StoreError::Unavailable(
                DisplayErrorContext(&err).to_string().into(),
            )),
            None => Err(classify(err)),
        }
    }

    async fn clear(&self, chat: &Chat, expires_at: i64) -> Result<u64, StoreError> {
        let job_id = &chat.job.job_id;
        // One atomic bump hides the whole chat from readers and freezes the old generation:
        // creates and patches still aimed at it fail their generation condition.
        let mut attempt = 0;
        let out = loop {
            let result = self
                .update_head(job_id)
                .update_expression("ADD generation :one")
                .expression_attribute_values(":one", n(1))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match result {
                Ok(out) => break out,
                Err(err) if is_transaction_conflict(&err) && attempt + 1 < CONFLICT_ATTEMPTS => {
                    backoff(attempt).await;
                    attempt += 1;
                }
                Err(err) => return Err(classify(err)),
            }
        };
        let head: HeadItem = from_item(out.attributes.unwrap_or_default())?;
        let cleared = head.generation.saturating_sub(1);
        // From here the chat is cleared for every reader and the old generation is frozen, so
        // its count is exact. What follows only schedules expiry, best effort: generations an
        // earlier clear did not finish (cut off, or a failed write) are finished here, and what
        // this one cannot finish in time stays pending for the next.
        let visible = self.count_messages(job_id, cleared).await?;
        let first = head.stamped_before.min(cleared);
        if self
            .stamp_generations(job_id, first, cleared, expires_at)
            .await
        {
            self.mark_stamped(job_id, head.generation).await;
        }
        Ok(visible)
    }

    async fn find(
        &self,
        chat: &Chat,
        message_id: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let job_id = &chat.job.job_id;
        let Some(guard) = self
            .get(job_id, &keys::guard(chat.generation, message_id))
            .await?
        else {
            return Ok(None);
        };
        let guard: GuardItem = from_item(guard)?;
        let Some(item) = self.get(job_id, &guard.message_sk).await? else {
            return Ok(None);
        };
        Ok(Some(from_item::<MessageItem>(item)?.into_stored()?))
    }

    async fn replace(
        &self,
        chat: &Chat,
        current: &StoredMessage,
        updated: &Message,
    ) -> Result<ReplaceOutcome, StoreError> {
        let job_id = &chat.job.job_id;
        let (same_generation, values) = self.same_generation(chat);
        let check = ConditionCheck::builder()
            .table_name(&self.messages_table)
            .set_key(Some(self.key(job_id, keys::HEAD)))
            .condition_expression(same_generation)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let item = MessageItem::new(job_id, current.sort_key.clone(), updated);
        let put = Put::builder()
            .table_name(&self.messages_table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("version = :version")
            .expression_attribute_values(":version", n(current.message.version))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(ReplaceOutcome::Replaced),
            Err(err) => match cancellation(&err) {
                Some(Cancelled::Condition(_)) | Some(Cancelled::Conflict) => {
                    Ok(ReplaceOutcome::Moved)
                }
                Some(Cancelled::Throttled) => Err(StoreError::Unavailable(
                    DisplayErrorContext(&err).to_string().into(),
                )),
                None => Err(classify(err)),
            },
        }
    }
}
