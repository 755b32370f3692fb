//! The background sweep: gives every item a clear hid its expiry (`expires_at`, for DynamoDB
//! TTL) and takes it off items a restore brought back. A clear only marks its chat (`sweep_due`
//! on the head, which puts the head in the sparse index [`keys::SWEEP_INDEX`]); the sweep finds
//! marked chats there (no Scan), works within a deadline, and unmarks a chat only when it is
//! done and nothing changed meanwhile — so a run cut off by a timeout or throttling is simply
//! continued by the next. Every step is idempotent.
//!
//! Runs one at a time: the sweep function has a reserved concurrency of 1 and the local server
//! runs one loop.

use std::time::Instant;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::errors::classify;
use super::items::{from_item, n, s, HeadItem, Item};
use super::DynamoStore;
use crate::error::StoreError;
use crate::store::keys;

/// Item updates of one chat in flight at once.
const CONCURRENCY: usize = 16;

/// What one run did; logged, and the answer of the sweep function.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    /// Chats whose items now all have the expiry they should.
    pub chats_finished: u64,
    /// Marked chats left for the next run (deadline reached, changed meanwhile, or failed).
    pub chats_left: u64,
    pub items_stamped: u64,
    pub items_unstamped: u64,
    /// Chats whose sweep failed (throttling, timeouts); they stay marked.
    pub failures: u64,
}

#[derive(Deserialize)]
struct ItemState {
    sk: String,
    #[serde(default)]
    expires_at: Option<i64>,
}

enum Chat {
    Finished,
    Left,
}

/// What to do to the items of some generations.
#[derive(Clone, Copy)]
enum Expiry {
    Stamp(i64),
    Unstamp,
}

impl DynamoStore {
    /// Visits marked chats until `deadline`.
    pub async fn sweep(&self, deadline: Instant) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        let chats = self.marked_chats().await?;
        for job_id in chats {
            if Instant::now() >= deadline {
                report.chats_left += 1;
                continue;
            }
            match self.sweep_chat(&job_id, deadline, &mut report).await {
                Ok(Chat::Finished) => report.chats_finished += 1,
                Ok(Chat::Left) => report.chats_left += 1,
                Err(err) => {
                    tracing::warn!(job = %crate::telemetry::job_hash(&job_id), error = %err, "sweeping a chat failed; the next run retries it");
                    report.failures += 1;
                    report.chats_left += 1;
                }
            }
        }
        Ok(report)
    }

    async fn marked_chats(&self) -> Result<Vec<String>, StoreError> {
        let mut jobs = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.messages_table)
                .index_name(keys::SWEEP_INDEX)
                .key_condition_expression("sweep_due = :due")
                .expression_attribute_values(":due", s(keys::SWEEP_DUE))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            for item in out.items.unwrap_or_default() {
                if let Some(AttributeValue::S(job_id)) = item.get("job_id") {
                    jobs.push(job_id.clone());
                }
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(jobs),
            }
        }
    }

    async fn sweep_chat(
        &self,
        job_id: &str,
        deadline: Instant,
        report: &mut SweepReport,
    ) -> Result<Chat, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.messages_table)
            .set_key(Some(self.key(job_id, keys::HEAD)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let Some(item) = out.item else {
            return Ok(Chat::Finished);
        };
        let head: HeadItem = from_item(item)?;
        if head.sweep_due.is_none() {
            return Ok(Chat::Finished);
        }
        let visible_from = head.visible_from;
        let stamped_to = head.stamp_started_to.max(head.expired_below);
        if visible_from > stamped_to && !self.record_stamping(job_id, &head).await? {
            return Ok(Chat::Left);
        }
        // Generations a restore brought back lose the stamps an earlier run may have given them.
        if stamped_to > visible_from {
            let done = self
                .apply(
                    job_id,
                    visible_from,
                    stamped_to - 1,
                    Expiry::Unstamp,
                    deadline,
                )
                .await?;
            report.items_unstamped += done.0;
            if !done.1 {
                return Ok(Chat::Left);
            }
        }
        if visible_from > head.expired_below {
            let Some(expires_at) = head.cleared_expires_at else {
                return Err(StoreError::Internal(format!(
                    "chat {}: hidden generations but no expiry recorded",
                    crate::telemetry::job_hash(job_id)
                )));
            };
            let done = self
                .apply(
                    job_id,
                    head.expired_below,
                    visible_from - 1,
                    Expiry::Stamp(expires_at),
                    deadline,
                )
                .await?;
            report.items_stamped += done.0;
            if !done.1 {
                return Ok(Chat::Left);
            }
        }
        Ok(if self.finish(job_id, &head).await? {
            Chat::Finished
        } else {
            Chat::Left
        })
    }

    /// Records, before the first stamp, how far stamps may reach, so a restore that comes
    /// while this run works knows which generations to clean. False if the chat changed.
    async fn record_stamping(&self, job_id: &str, head: &HeadItem) -> Result<bool, StoreError> {
        self.update_head_if_unchanged(job_id, head, "SET stamp_started_to = :visible_from")
            .await
    }

    /// Unmarks the chat unless a clear or restore came while the run worked.
    async fn finish(&self, job_id: &str, head: &HeadItem) -> Result<bool, StoreError> {
        self.update_head_if_unchanged(
            job_id,
            head,
            "SET expired_below = :visible_from, stamp_started_to = :visible_from REMOVE sweep_due",
        )
        .await
    }

    async fn update_head_if_unchanged(
        &self,
        job_id: &str,
        head: &HeadItem,
        update: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.messages_table)
            .set_key(Some(self.key(job_id, keys::HEAD)))
            .update_expression(update)
            .condition_expression("sweep_seq = :seq")
            .expression_attribute_values(":seq", n(head.sweep_seq))
            .expression_attribute_values(":visible_from", n(head.visible_from))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(c))
                if c.err().is_conditional_check_failed_exception()
                    || c.err().is_transaction_conflict_exception() =>
            {
                Ok(false)
            }
            Err(err) => Err(classify(err)),
        }
    }

    /// Stamps or unstamps the messages of generations `first..=last` and their id lookups.
    /// Returns how many messages changed and whether all are done (false at the deadline).
    async fn apply(
        &self,
        job_id: &str,
        first: u64,
        last: u64,
        expiry: Expiry,
        deadline: Instant,
    ) -> Result<(u64, bool), StoreError> {
        let mut changed = 0;
        let mut start: Option<Item> = None;
        loop {
            if Instant::now() >= deadline {
                return Ok((changed, false));
            }
            let out = self
                .query_messages(job_id, first, last)
                .projection_expression("sk, expires_at")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            let pending: Vec<String> = out
                .items
                .unwrap_or_default()
                .into_iter()
                .map(from_item::<ItemState>)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|item| match expiry {
                    Expiry::Stamp(_) => item.expires_at.is_none(),
                    Expiry::Unstamp => item.expires_at.is_some(),
                })
                .map(|item| item.sk)
                .collect();
            let results: Vec<Result<(), StoreError>> = stream::iter(pending)
                .map(|sk| self.apply_to_message(job_id, sk, expiry))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for result in results {
                result?;
                changed += 1;
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok((changed, true)),
            }
        }
    }

    /// The lookup first, then the message: a message is only skipped by a later run once it
    /// carries the change, and by then its lookup does too.
    async fn apply_to_message(
        &self,
        job_id: &str,
        message_sk: String,
        expiry: Expiry,
    ) -> Result<(), StoreError> {
        let Some((generation, message_id)) = keys::parse_message(&message_sk) else {
            return Err(StoreError::Internal(format!(
                "unexpected key {message_sk} in the message range"
            )));
        };
        // Only the lookup of this very message: the id may since belong to a newer one.
        self.set_expiry(
            job_id,
            &keys::lookup(message_id),
            expiry,
            "generation = :generation",
            Some(generation),
        )
        .await?;
        self.set_expiry(job_id, &message_sk, expiry, "attribute_exists(sk)", None)
            .await
    }

    async fn set_expiry(
        &self,
        job_id: &str,
        sk: &str,
        expiry: Expiry,
        condition: &str,
        generation: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.messages_table)
            .set_key(Some(self.key(job_id, sk)))
            .condition_expression(condition);
        update = match expiry {
            Expiry::Stamp(at) => update
                .update_expression("SET expires_at = :at")
                .expression_attribute_values(":at", n(at)),
            Expiry::Unstamp => update.update_expression("REMOVE expires_at"),
        };
        if let Some(generation) = generation {
            update = update.expression_attribute_values(":generation", n(generation));
        }
        match update.send().await {
            Ok(_) => Ok(()),
            // Gone (TTL) or taken over by a newer message: nothing of ours to change.
            Err(SdkError::ServiceError(c)) if c.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(err) => Err(classify(err)),
        }
    }
}
