//! Creating a message: one `TransactWriteItems` of the head (generation unchanged, timestamp
//! later than any before, counters), the id lookup (id not taken) and the message.

use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::errors::{cancellation, classify, Cancelled};
use super::items::{from_item, n, role_count_attribute, s, to_item, Item, LookupItem, MessageItem};
use super::DynamoStore;
use crate::error::StoreError;
use crate::model::Message;
use crate::store::{keys, Chat, CreateOutcome};

/// The head condition every create carries: no clear or restore since the chat was read, and
/// a timestamp later than every earlier message's.
const HEAD_UNCHANGED: &str = "(attribute_not_exists(generation) OR generation = :generation) \
     AND (attribute_not_exists(visible_from) OR visible_from = :visible_from) \
     AND (attribute_not_exists(last_timestamp) OR last_timestamp < :ts)";

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

pub(super) async fn apply(
    store: &DynamoStore,
    chat: &Chat,
    message: &Message,
    fingerprint: &str,
) -> Result<CreateOutcome, StoreError> {
    let mut reused_generation = None;
    // At most twice: the second time over the lookup of a cleared message with this id.
    for _ in 0..2 {
        let result = transaction(store, chat, message, fingerprint, reused_generation)?
            .send()
            .await;
        let Err(err) = result else {
            return Ok(CreateOutcome::Created);
        };
        match cancellation(&err) {
            Some(Cancelled::Condition { index: 1, item }) => {
                let Some(item) = item else {
                    return Ok(CreateOutcome::ChatMoved);
                };
                let taken: LookupItem = from_item(item)?;
                if chat.head.is_visible(taken.generation) {
                    return Ok(CreateOutcome::Existing {
                        same: taken.fingerprint == fingerprint,
                        timestamp: taken.timestamp,
                    });
                }
                if reused_generation == Some(taken.generation) {
                    return Ok(CreateOutcome::ChatMoved);
                }
                // The id belonged to a cleared message: it may be used again.
                reused_generation = Some(taken.generation);
            }
            Some(Cancelled::Throttled(err)) => return Err(err),
            Some(_) => return Ok(CreateOutcome::ChatMoved),
            None => return Err(classify(err)),
        }
    }
    Ok(CreateOutcome::ChatMoved)
}

fn transaction(
    store: &DynamoStore,
    chat: &Chat,
    message: &Message,
    fingerprint: &str,
    reused_generation: Option<u64>,
) -> Result<TransactWriteItemsFluentBuilder, StoreError> {
    let job_id = &chat.job.job_id;
    let message_sk = keys::message(
        chat.head.generation,
        &message.timestamp,
        message.message_id.as_str(),
    );
    // Taking over the id of a message the last clear hid makes that clear unrestorable.
    let blocks_restore = reused_generation.is_some_and(|generation| {
        chat.head
            .last_clear
            .as_ref()
            .is_some_and(|clear| clear.covers(generation))
    });
    let head = head_update(store, chat, message, blocks_restore)?;
    let lookup = LookupItem {
        job_id: job_id.as_str().to_owned(),
        sk: keys::lookup(message.message_id.as_str()),
        message_sk: message_sk.clone(),
        generation: chat.head.generation,
        timestamp: message.timestamp.clone(),
        role: message.role,
        fingerprint: fingerprint.to_owned(),
        expires_at: None,
    };
    let lookup = Put::builder()
        .table_name(&store.messages_table)
        .set_item(Some(to_item(&lookup)?))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    let lookup = match reused_generation {
        None => lookup.condition_expression("attribute_not_exists(sk)"),
        Some(old) => lookup
            .condition_expression("generation = :old")
            .expression_attribute_values(":old", n(old)),
    }
    .build()
    .map_err(build_error)?;
    let item = MessageItem::new(job_id, message_sk, message, "");
    let message = Put::builder()
        .table_name(&store.messages_table)
        .set_item(Some(to_item(&item)?))
        .condition_expression("attribute_not_exists(sk)")
        .build()
        .map_err(build_error)?;
    Ok(store
        .client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().update(head).build())
        .transact_items(TransactWriteItem::builder().put(lookup).build())
        .transact_items(TransactWriteItem::builder().put(message).build()))
}

fn head_update(
    store: &DynamoStore,
    chat: &Chat,
    message: &Message,
    blocks_restore: bool,
) -> Result<Update, StoreError> {
    let mut values = Item::from([
        (":generation".to_owned(), n(chat.head.generation)),
        (":visible_from".to_owned(), n(chat.head.visible_from)),
        (":ts".to_owned(), s(&message.timestamp)),
        (":zero".to_owned(), n(0)),
        (":one".to_owned(), n(1)),
    ]);
    let mut set = String::from(
        "SET last_timestamp = :ts, generation = if_not_exists(generation, :zero), \
         visible_from = if_not_exists(visible_from, :zero), \
         first_timestamp = if_not_exists(first_timestamp, :ts)",
    );
    if blocks_restore {
        set.push_str(", restore_blocked = :true");
        values.insert(":true".to_owned(), AttributeValue::Bool(true));
    }
    Update::builder()
        .table_name(&store.messages_table)
        .set_key(Some(store.key(chat.job.job_id.as_str(), keys::HEAD)))
        .update_expression(format!(
            "{set} ADD message_count :one, {} :one",
            role_count_attribute(message.role)
        ))
        .condition_expression(HEAD_UNCHANGED)
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(build_error)
}
