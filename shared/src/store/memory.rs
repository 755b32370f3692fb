//! An in-memory store with the same semantics as the DynamoDB one, for fast handler tests.
//! Its sweep is instant: a clear stamps expiry on the spot.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::{
    keys, Change, Chat, ChatRead, ChatStore, ClearOutcome, CreateOutcome, Head, LastClear,
    MessageRef, PatchOutcome, RestoreOutcome, StorePage, StoredMessage,
};
use crate::error::StoreError;
use crate::ids::{JobId, MessageId};
use crate::limits::MAX_METADATA_BYTES;
use crate::model::{metadata_to_string, Job, Message};

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    unavailable: AtomicBool,
}

#[derive(Default)]
struct State {
    jobs: HashMap<JobId, Job>,
    chats: HashMap<JobId, MemoryChat>,
}

#[derive(Default)]
struct MemoryChat {
    head: Head,
    /// Every message of every generation by sort key, with its expiry once hidden.
    messages: BTreeMap<String, (Message, Option<i64>)>,
    lookups: HashMap<MessageId, MessageRef>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put_job(&self, job: Job) {
        self.lock().jobs.insert(job.job_id.clone(), job);
    }

    /// Makes every call fail as throttled storage does after the SDK's retries.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Cleared messages still retained, with their expiry (for tests of soft delete).
    pub fn cleared(&self, job_id: &str) -> Vec<(Message, i64)> {
        let Ok(job_id) = JobId::parse(job_id) else {
            return Vec::new();
        };
        self.lock()
            .chats
            .get(&job_id)
            .map(|c| {
                c.messages
                    .values()
                    .filter_map(|(m, at)| Some((m.clone(), (*at)?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected fault".into()));
        }
        Ok(())
    }
}

impl ChatStore for MemoryStore {
    async fn read_chat(
        &self,
        job_id: &JobId,
        message_id: Option<&MessageId>,
    ) -> Result<ChatRead, StoreError> {
        self.check()?;
        let state = self.lock();
        let chat = state.chats.get(job_id);
        let target = chat
            .zip(message_id)
            .and_then(|(chat, id)| chat.lookups.get(id).cloned());
        Ok(ChatRead {
            job: state.jobs.get(job_id).cloned(),
            head: Ok(chat.map(|c| c.head.clone()).unwrap_or_default()),
            target: Ok(target),
        })
    }

    async fn message(
        &self,
        chat: &Chat,
        target: &MessageRef,
    ) -> Result<Option<Message>, StoreError> {
        self.check()?;
        let state = self.lock();
        Ok(state
            .chats
            .get(&chat.job.job_id)
            .and_then(|c| c.messages.get(&target.sort_key))
            .map(|(message, _)| message.clone()))
    }

    async fn page(
        &self,
        chat: &Chat,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        self.check()?;
        let state = self.lock();
        let Some(stored) = state.chats.get(&chat.job.job_id) else {
            return Ok(StorePage::default());
        };
        let (low, high) = keys::messages_of(chat.head.visible_from, chat.head.generation);
        let in_range = |sk: &String| match after {
            None => true,
            Some(after) if descending => sk.as_str() < after,
            Some(after) => sk.as_str() > after,
        };
        let range = stored.messages.range(low..=high);
        let iter: Box<dyn Iterator<Item = _>> = if descending {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut messages: Vec<StoredMessage> = Vec::new();
        let mut next = None;
        for (sk, (message, _)) in iter.filter(|(sk, _)| in_range(sk)) {
            if messages.len() == limit {
                next = messages.last().map(|m| m.sort_key.clone());
                break;
            }
            messages.push(StoredMessage {
                sort_key: sk.clone(),
                message: message.clone(),
            });
        }
        Ok(StorePage { messages, next })
    }

    async fn create(
        &self,
        chat: &Chat,
        message: &Message,
        fingerprint: &str,
    ) -> Result<CreateOutcome, StoreError> {
        self.check()?;
        let mut state = self.lock();
        let stored = state.chats.entry(chat.job.job_id.clone()).or_default();
        let head = &mut stored.head;
        if head.generation != chat.head.generation
            || head.visible_from != chat.head.visible_from
            || head
                .last_timestamp
                .as_deref()
                .is_some_and(|last| last >= message.timestamp.as_str())
        {
            return Ok(CreateOutcome::ChatMoved);
        }
        if let Some(taken) = stored.lookups.get(&message.message_id) {
            if head.is_visible(taken.generation) {
                return Ok(CreateOutcome::Existing {
                    timestamp: taken.timestamp.clone(),
                    same: taken.fingerprint == fingerprint,
                });
            }
            if let Some(clear) = head.last_clear.as_mut() {
                clear.id_reused |= clear.covers(taken.generation);
            }
        }
        let sk = keys::message(
            head.generation,
            &message.timestamp,
            message.message_id.as_str(),
        );
        stored.lookups.insert(
            message.message_id.clone(),
            MessageRef {
                message_id: message.message_id.clone(),
                generation: head.generation,
                sort_key: sk.clone(),
                timestamp: message.timestamp.clone(),
                role: message.role,
                fingerprint: fingerprint.to_owned(),
            },
        );
        stored.messages.insert(sk, (message.clone(), None));
        head.last_timestamp = Some(message.timestamp.clone());
        head.first_timestamp
            .get_or_insert_with(|| message.timestamp.clone());
        head.counts.add(message.role);
        Ok(CreateOutcome::Created)
    }

    async fn clear(
        &self,
        chat: &Chat,
        expires_at: i64,
        clear_id: &str,
    ) -> Result<ClearOutcome, StoreError> {
        self.check()?;
        let mut state = self.lock();
        let stored = state.chats.entry(chat.job.job_id.clone()).or_default();
        if stored.head.generation != chat.head.generation {
            return Ok(ClearOutcome::ChatMoved);
        }
        let (low, high) = keys::messages_of(stored.head.visible_from, stored.head.generation);
        for (_, expiry) in stored.messages.range_mut(low..=high).map(|(_, v)| v) {
            *expiry = Some(expires_at);
        }
        let head = &mut stored.head;
        let count = head.counts.total;
        head.last_clear = Some(LastClear {
            clear_id: clear_id.to_owned(),
            first: head.visible_from,
            last: head.generation,
            counts: std::mem::take(&mut head.counts),
            first_timestamp: head.first_timestamp.take(),
            expires_at,
            id_reused: false,
        });
        head.generation += 1;
        head.visible_from = head.generation;
        Ok(ClearOutcome::Cleared(count))
    }

    async fn restore(&self, chat: &Chat, _restore_id: &str) -> Result<RestoreOutcome, StoreError> {
        self.check()?;
        let mut state = self.lock();
        let Some(stored) = state.chats.get_mut(&chat.job.job_id) else {
            return Ok(RestoreOutcome::ChatMoved);
        };
        let head = &mut stored.head;
        let unchanged = head.generation == chat.head.generation
            && head.visible_from == chat.head.visible_from
            && head.last_clear == chat.head.last_clear;
        let Some(clear) = head.last_clear.take().filter(|c| unchanged && !c.id_reused) else {
            return Ok(RestoreOutcome::ChatMoved);
        };
        head.visible_from = clear.first;
        head.counts.total += clear.counts.total;
        head.counts.user += clear.counts.user;
        head.counts.assistant += clear.counts.assistant;
        if clear.first_timestamp.is_some() {
            head.first_timestamp.clone_from(&clear.first_timestamp);
        }
        let (low, high) = keys::messages_of(clear.first, clear.last);
        for (_, expiry) in stored.messages.range_mut(low..=high).map(|(_, v)| v) {
            *expiry = None;
        }
        Ok(RestoreOutcome::Restored(clear.counts.total))
    }

    async fn patch(
        &self,
        chat: &Chat,
        target: &MessageRef,
        change: &Change<'_>,
    ) -> Result<PatchOutcome, StoreError> {
        self.check()?;
        let mut state = self.lock();
        let Some((message, _)) = state
            .chats
            .get_mut(&chat.job.job_id)
            .and_then(|c| c.messages.get_mut(&target.sort_key))
        else {
            return Ok(PatchOutcome::NotFound);
        };
        if !change.if_match.allows(message.version) {
            return Ok(PatchOutcome::VersionMismatch(message.version));
        }
        let patch = change.patch;
        let metadata = patch.merge_metadata(message.metadata.clone());
        if metadata_to_string(&metadata).len() > MAX_METADATA_BYTES {
            return Ok(PatchOutcome::MetadataTooLarge);
        }
        message.metadata = metadata;
        if let Some(content) = &patch.content {
            message.content.clone_from(content);
        }
        if let Some(status) = patch.status {
            message.status = status;
        }
        message.version += 1;
        message.updated_at.clone_from(&change.now);
        Ok(PatchOutcome::Patched(message.clone()))
    }
}
