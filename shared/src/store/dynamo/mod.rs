//! The DynamoDB adapter. Layout and reasons: `keys.rs` and docs/schema.md; retries:
//! `retry.rs`. One file per concern: reading a chat, each write, the background sweep.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::Client;

use self::items::{s, Item};
use super::{
    Change, Chat, ChatStore, ClearOutcome, CreateOutcome, MessageRef, Opened, PatchOutcome,
    RestoreOutcome, StorePage,
};
use crate::error::StoreError;
use crate::model::Message;

mod clear;
mod create;
mod errors;
mod items;
mod patch;
mod reads;
mod restore;
pub mod sweep;

#[cfg(test)]
mod faults;

pub use errors::classify;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    messages_table: String,
    jobs_table: String,
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

    pub fn messages_table(&self) -> &str {
        &self.messages_table
    }

    pub fn jobs_table(&self) -> &str {
        &self.jobs_table
    }

    /// A strongly consistent Query of the messages of generations `first..=last`, in time order.
    fn query_messages(&self, job_id: &str, first: u64, last: u64) -> QueryFluentBuilder {
        let (low, high) = super::keys::messages_of(first, last);
        self.client
            .query()
            .table_name(&self.messages_table)
            .key_condition_expression("job_id = :job AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":job", s(job_id))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
            .consistent_read(true)
    }

    fn key(&self, job_id: &str, sk: &str) -> Item {
        Item::from([("job_id".to_owned(), s(job_id)), ("sk".to_owned(), s(sk))])
    }
}

impl ChatStore for DynamoStore {
    async fn open(&self, job_id: &str, message_id: Option<&str>) -> Result<Opened, StoreError> {
        self.read_opened(job_id, message_id).await
    }

    async fn message(
        &self,
        chat: &Chat,
        target: &MessageRef,
    ) -> Result<Option<Message>, StoreError> {
        match self.read_message(chat, target).await? {
            Some(item) => Ok(Some(
                items::from_item::<items::MessageItem>(item)?
                    .into_stored()?
                    .message,
            )),
            None => Ok(None),
        }
    }

    async fn page(
        &self,
        chat: &Chat,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        self.read_page(chat, after, descending, limit).await
    }

    async fn create(
        &self,
        chat: &Chat,
        message: &Message,
        fingerprint: &str,
    ) -> Result<CreateOutcome, StoreError> {
        self.create_message(chat, message, fingerprint).await
    }

    async fn clear(
        &self,
        chat: &Chat,
        expires_at: i64,
        clear_id: &str,
    ) -> Result<ClearOutcome, StoreError> {
        self.clear_chat(chat, expires_at, clear_id).await
    }

    async fn restore(&self, chat: &Chat, restore_id: &str) -> Result<RestoreOutcome, StoreError> {
        self.restore_chat(chat, restore_id).await
    }

    async fn patch(
        &self,
        chat: &Chat,
        target: &MessageRef,
        change: &Change<'_>,
    ) -> Result<PatchOutcome, StoreError> {
        self.patch_message(chat, target, change).await
    }
}
