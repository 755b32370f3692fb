//! An in-memory store with the same semantics as the DynamoDB one, for fast handler tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::{keys, Chat, ChatStore, CreateOutcome, ReplaceOutcome, StorePage, StoredMessage};
use crate::error::StoreError;
use crate::model::{Job, Message};

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    unavailable: AtomicBool,
}

#[derive(Default)]
struct State {
    jobs: HashMap<String, Job>,
    chats: HashMap<String, MemoryChat>,
}

#[derive(Default)]
struct MemoryChat {
    generation: u64,
    last_timestamp: Option<String>,
    /// Visible messages by sort key.
    messages: BTreeMap<String, Message>,
    /// message_id → (sort key, timestamp, fingerprint) for the current generation.
    guards: HashMap<String, (String, String, String)>,
    /// Cleared messages with their expiry, kept as DynamoDB keeps them until TTL.
    cleared: Vec<(Message, i64)>,
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

    /// Cleared messages still retained (for tests of soft delete).
    pub fn cleared(&self, job_id: &str) -> Vec<(Message, i64)> {
        self.lock()
            .chats
            .get(job_id)
            .map(|c| c.cleared.clone())
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
    async fn open(&self, job_id: &str) -> Result<Option<Chat>, StoreError> {
        self.check()?;
        let state = self.lock();
        let Some(job) = state.jobs.get(job_id) else {
            return Ok(None);
        };
        let chat = state.chats.get(job_id);
        Ok(Some(Chat {
            job: job.clone(),
            generation: chat.map_or(0, |c| c.generation),
            last_timestamp: chat.and_then(|c| c.last_timestamp.clone()),
        }))
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
        if stored.generation != chat.generation {
            return Ok(StorePage::default());
        }
        let in_range = |sk: &String| match after {
            None => true,
            Some(after) if descending => sk.as_str() < after,
            Some(after) => sk.as_str() > after,
        };
        let mut iter: Box<dyn Iterator<Item = (&String, &Message)>> = if descending {
            Box::new(stored.messages.iter().rev())
        } else {
            Box::new(stored.messages.iter())
        };
        let mut messages: Vec<StoredMessage> = Vec::new();
        let mut next = None;
        for (sk, message) in iter.by_ref().filter(|(sk, _)| in_range(sk)) {
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
        if stored.generation != chat.generation
            || stored
                .last_timestamp
                .as_deref()
                .is_some_and(|last| last >= message.timestamp.as_str())
        {
            return Ok(CreateOutcome::ChatMoved);
        }
        if let Some((_, timestamp, existing)) = stored.guards.get(&message.message_id) {
            return Ok(CreateOutcome::Existing {
                timestamp: timestamp.clone(),
                same: existing == fingerprint,
            });
        }
        let sk = keys::message(stored.generation, &message.timestamp, &message.message_id);
        stored.guards.insert(
            message.message_id.clone(),
            (
                sk.clone(),
                message.timestamp.clone(),
                fingerprint.to_owned(),
            ),
        );
        stored.messages.insert(sk, message.clone());
        stored.last_timestamp = Some(message.timestamp.clone());
        Ok(CreateOutcome::Created)
    }

    async fn clear(&self, chat: &Chat, expires_at: i64) -> Result<u64, StoreError> {
        self.check()?;
        let mut state = self.lock();
        let stored = state.chats.entry(chat.job.job_id.clone()).or_default();
        stored.generation += 1;
        stored.guards.clear();
        let visible = std::mem::take(&mut stored.messages);
        let count = visible.len() as u64;
        stored
            .cleared
            .extend(visible.into_values().map(|m| (m, expires_at)));
        Ok(count)
    }

    async fn find(
        &self,
        chat: &Chat,
        message_id: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.check()?;
        let state = self.lock();
        let Some(stored) = state.chats.get(&chat.job.job_id) else {
            return Ok(None);
        };
        if stored.generation != chat.generation {
            return Ok(None);
        }
        Ok(stored.guards.get(message_id).and_then(|(sk, _, _)| {
            stored.messages.get(sk).map(|message| StoredMessage {
                sort_key: sk.clone(),
                message: message.clone(),
            })
        }))
    }

    async fn replace(
        &self,
        chat: &Chat,
        current: &StoredMessage,
        updated: &Message,
    ) -> Result<ReplaceOutcome, StoreError> {
        self.check()?;
        let mut state = self.lock();
        let Some(stored) = state.chats.get_mut(&chat.job.job_id) else {
            return Ok(ReplaceOutcome::Moved);
        };
        if stored.generation != chat.generation {
            return Ok(ReplaceOutcome::Moved);
        }
        match stored.messages.get_mut(&current.sort_key) {
            Some(message) if message.version == current.message.version => {
                *message = updated.clone();
                Ok(ReplaceOutcome::Replaced)
            }
            _ => Ok(ReplaceOutcome::Moved),
        }
    }
}
