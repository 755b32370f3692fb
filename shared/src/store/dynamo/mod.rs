//! The DynamoDB adapter. Layout and reasons: `keys.rs` and docs/schema.md; retries:
//! `retry.rs`. One file per operation, each written as free functions over the store that the
//! [`ChatStore`] impl below calls: `reads.rs` (the chat, a message, a page), `create.rs`,
//! `patch.rs`, `clear.rs`, `restore.rs`; the background sweep in `sweep.rs`.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::Client;

use self::items::{s, Item};
use super::{
    Change, Chat, ChatRead, ChatStore, ClearOutcome, CreateOutcome, MessageRef, PatchOutcome,
    RestoreOutcome, StorePage,
};
use crate::error::StoreError;
use crate::ids::{JobId, MessageId};
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

/// Each operation is written in its own file; this says which.
impl ChatStore for DynamoStore {
    async fn read_chat(
        &self,
        job_id: &JobId,
        message_id: Option<&MessageId>,
    ) -> Result<ChatRead, StoreError> {
        reads::chat(self, job_id, message_id).await
    }

    async fn message(
        &self,
        chat: &Chat,
        target: &MessageRef,
    ) -> Result<Option<Message>, StoreError> {
        reads::message(self, chat, target).await
    }

    async fn page(
        &self,
        chat: &Chat,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        reads::page(self, chat, after, descending, limit).await
    }

    async fn create(
        &self,
        chat: &Chat,
        message: &Message,
        fingerprint: &str,
    ) -> Result<CreateOutcome, StoreError> {
        create::apply(self, chat, message, fingerprint).await
    }

    async fn clear(
        &self,
        chat: &Chat,
        expires_at: i64,
        clear_id: &str,
    ) -> Result<ClearOutcome, StoreError> {
        clear::apply(self, chat, expires_at, clear_id).await
    }

    async fn restore(&self, chat: &Chat, restore_id: &str) -> Result<RestoreOutcome, StoreError> {
        restore::apply(self, chat, restore_id).await
    }

    async fn patch(
        &self,
        chat: &Chat,
        target: &MessageRef,
        change: &Change<'_>,
    ) -> Result<PatchOutcome, StoreError> {
        patch::apply(self, chat, target, change).await
    }
}
