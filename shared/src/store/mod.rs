//! The storage port: what the chat operations need from a database, and two adapters
//! (DynamoDB for real, memory for fast handler tests).
//!
//! Vocabulary (docs/schema.md has the layout):
//! - **generation**: every clear starts a new one; messages are stored under the generation
//!   they were written in, and readers see only the *visible* generations, so one write to the
//!   chat's head item hides a whole chat at once.
//! - **head**: the chat's one item that records generations, counters and the last clear.
//! - **id lookup**: a small item keyed by `message_id` alone that says where the message lives
//!   (its generation and sort key) and holds the fingerprint that tells a retry from a conflict.
//! - **expiry**: cleared items get `expires_at` (DynamoDB TTL) in the background ([`dynamo::sweep`]).

use std::future::Future;

use crate::error::StoreError;
use crate::ids::{JobId, MessageId};
use crate::model::{IfMatch, Job, Message, MessagePatch, Role};

pub mod dynamo;
pub mod keys;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod retry;

/// Message counts of a chat, kept exact by every write that adds or hides messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub user: u64,
    pub assistant: u64,
}

impl Counts {
    pub fn add(&mut self, role: Role) {
        self.total += 1;
        match role {
            Role::User => self.user += 1,
            Role::Assistant => self.assistant += 1,
        }
    }
}

/// What the head item says about a chat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// The generation new messages are written in.
    pub generation: u64,
    /// The oldest visible generation; `visible_from..=generation` are visible.
    pub visible_from: u64,
    /// Timestamp of the newest message ever created in this chat, so timestamps only grow.
    pub last_timestamp: Option<String>,
    /// Timestamp of the oldest visible message.
    pub first_timestamp: Option<String>,
    /// The visible messages.
    pub counts: Counts,
    /// The last clear, while it can still be restored.
    pub last_clear: Option<LastClear>,
}

/// What the last clear hid, kept on the head so a restore can bring it back at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastClear {
    pub clear_id: String,
    /// The generations it hid, `first..=last`.
    pub first: u64,
    pub last: u64,
    pub counts: Counts,
    pub first_timestamp: Option<String>,
    /// When its items expire (epoch seconds).
    pub expires_at: i64,
    /// One of its message ids was given to a new message since: restoring would duplicate it.
    pub id_reused: bool,
}

impl LastClear {
    pub fn covers(&self, generation: u64) -> bool {
        (self.first..=self.last).contains(&generation)
    }
}

impl Head {
    pub fn is_visible(&self, generation: u64) -> bool {
        (self.visible_from..=self.generation).contains(&generation)
    }
}

/// A job together with the state of its chat, for a caller who may use the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chat {
    pub job: Job,
    pub head: Head,
}

/// What one read of a job and its chat found. The head and the lookup are read with the job,
/// whoever asks, so owners and strangers cost the same one round trip; they must not reach a
/// caller who may not use the job (`access::open_chat` checks that before anything else).
/// Neither does a failure to read them: an unreadable head or lookup is an error only for a
/// caller who may use the job; anyone else gets the answer of an unknown job.
#[derive(Debug)]
pub struct ChatRead {
    /// `None` when the job does not exist.
    pub job: Option<Job>,
    pub head: Result<Head, StoreError>,
    /// Where the asked message lives, if it ever existed.
    pub target: Result<Option<MessageRef>, StoreError>,
}

/// Where a message lives, from its id lookup item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRef {
    pub message_id: MessageId,
    pub generation: u64,
    pub sort_key: String,
    pub timestamp: String,
    pub role: Role,
    pub fingerprint: String,
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// The id is taken by a visible message; `same` says whether by an identical one.
    Existing {
        timestamp: String,
        same: bool,
    },
    /// The chat moved on since it was opened (a clear, a restore, a create with a later
    /// timestamp, a transaction holding the head): open it again.
    ChatMoved,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClearOutcome {
    /// The chat is hidden; this many messages were visible.
    Cleared(u64),
    /// Another clear or a restore came first: open the chat again.
    ChatMoved,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// The last clear's messages are visible again; this many.
    Restored(u64),
    /// The chat moved on since it was opened (a clear, a create, another restore): open it
    /// again.
    ChatMoved,
}

/// A validated PATCH with what the server adds to it.
#[derive(Clone, Debug)]
pub struct Change<'a> {
    pub patch: &'a MessagePatch,
    /// The versions the change may apply to.
    pub if_match: IfMatch,
    /// Server time of this write (`updated_at`).
    pub now: String,
    /// Unique per request, stored with the write, so a retry whose first answer was lost
    /// recognises its own write.
    pub write_id: String,
}

#[derive(Clone, Debug)]
pub enum PatchOutcome {
    Patched(Message),
    /// The message is gone (only if an item vanished under a live lookup).
    NotFound,
    /// `If-Match` named another version; this is the current one.
    VersionMismatch(u64),
    /// The merged metadata would exceed its limit; nothing was written.
    MetadataTooLarge,
    /// Lost races with concurrent writers too often: try again later.
    Contended,
}

/// What the chat operations need from storage. Every method is atomic on its own.
pub trait ChatStore: Send + Sync {
    /// The job, its chat's head and, with `message_id`, where that message lives: one round
    /// trip that reads no message item.
    fn read_chat(
        &self,
        job_id: &JobId,
        message_id: Option<&MessageId>,
    ) -> impl Future<Output = Result<ChatRead, StoreError>> + Send;

    /// The visible message `target` as it is now (`None` if it vanished under its lookup).
    fn message(
        &self,
        chat: &Chat,
        target: &MessageRef,
    ) -> impl Future<Output = Result<Option<Message>, StoreError>> + Send;

    /// Visible messages after the sort key `after` (exclusive), in the given order.
    fn page(
        &self,
        chat: &Chat,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> impl Future<Output = Result<StorePage, StoreError>> + Send;

    /// Stores a new message unless its id is taken by a visible message. `fingerprint`
    /// identifies role, content and metadata, so a retry can be told from a conflict.
    fn create(
        &self,
        chat: &Chat,
        message: &Message,
        fingerprint: &str,
    ) -> impl Future<Output = Result<CreateOutcome, StoreError>> + Send;

    /// Hides every visible message at once; their expiry at `expires_at` (epoch seconds) is
    /// stamped in the background. `clear_id` is unique per request (see [`Change::write_id`]).
    fn clear(
        &self,
        chat: &Chat,
        expires_at: i64,
        clear_id: &str,
    ) -> impl Future<Output = Result<ClearOutcome, StoreError>> + Send;

    /// Makes the generations of `chat.head.last_clear` visible again, with their counts.
    /// `restore_id` is unique per request (see [`Change::write_id`]).
    fn restore(
        &self,
        chat: &Chat,
        restore_id: &str,
    ) -> impl Future<Output = Result<RestoreOutcome, StoreError>> + Send;

    /// Applies a change to the visible message `target`.
    fn patch(
        &self,
        chat: &Chat,
        target: &MessageRef,
        change: &Change<'_>,
    ) -> impl Future<Output = Result<PatchOutcome, StoreError>> + Send;
}
