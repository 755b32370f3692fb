//! The storage port: what the chat operations need from a database, and two adapters
//! (DynamoDB for real, memory for fast handler tests).

use std::future::Future;
use std::time::Duration;

use crate::error::StoreError;
use crate::model::{Job, Message};

pub mod dynamo;
pub mod keys;
pub mod memory;

#[cfg(test)]
mod faults;

/// A job together with the state of its chat, read in one round trip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chat {
    pub job: Job,
    /// Bumped by every clear; only messages of the current generation are visible.
    pub generation: u64,
    /// Timestamp of the newest message ever created in this chat, so timestamps only grow.
    pub last_timestamp: Option<String>,
}

/// A message with the key it is stored under.
#[derive(Clone, Debug)]
pub struct StoredMessage {
    pub sort_key: String,
    pub message: Message,
}

/// Up to `limit` messages in order, and where the next page starts if more may follow.
#[derive(Debug, Default)]
pub struct StorePage {
    pub messages: Vec<StoredMessage>,
    /// The sort key to continue after (DynamoDB's `LastEvaluatedKey`), `None` at the end.
    pub next: Option<String>,
}

/// Exponential backoff with full jitter for the retries this adapter and the operations run
/// themselves, so writers that collided do not collide again in lockstep.
pub async fn backoff(attempt: u32) {
    let ceiling = 10u64.saturating_mul(1 << attempt.min(5)).min(250);
    let jittered = 1 + (uuid::Uuid::new_v4().as_u128() % u128::from(ceiling)) as u64;
    tokio::time::sleep(Duration::from_millis(jittered)).await;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// The id is taken in this chat; `same` says whether by an identical message.
    Existing {
        timestamp: String,
        same: bool,
    },
    /// The chat moved on (a clear, or a create with a later timestamp) since it was opened.
    ChatMoved,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplaceOutcome {
    Replaced,
    /// The message or its chat changed since it was read: read again.
    Moved,
}

/// What the chat operations need from storage. Every method is atomic on its own.
pub trait ChatStore: Send + Sync {
    /// The job and its chat state, or `None` when the job does not exist.
    fn open(&self, job_id: &str) -> impl Future<Output = Result<Option<Chat>, StoreError>> + Send;

    /// Visible messages after the sort key `after` (exclusive), in the given order.
    fn page(
        &self,
        chat: &Chat,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> impl Future<Output = Result<StorePage, StoreError>> + Send;

    /// Stores a new message unless its id is taken in the current generation. `fingerprint`
    /// identifies role, content and metadata, so a retry can be told from a conflict.
    fn create(
        &self,
        chat: &Chat,
        message: &Message,
        fingerprint: &str,
    ) -> impl Future<Output = Result<CreateOutcome, StoreError>> + Send;

    /// Hides every visible message at once and marks them to expire at `expires_at` (epoch
    /// seconds). Returns how many messages were visible.
    fn clear(
        &self,
        chat: &Chat,
        expires_at: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// A visible message by id.
    fn find(
        &self,
        chat: &Chat,
        message_id: &str,
    ) -> impl Future<Output = Result<Option<StoredMessage>, StoreError>> + Send;

    /// Replaces `current` by `updated` if neither it nor its chat changed since they were read.
    fn replace(
        &self,
        chat: &Chat,
        current: &StoredMessage,
        updated: &Message,
    ) -> impl Future<Output = Result<ReplaceOutcome, StoreError>> + Send;
}
