//! Clearing a chat: one conditional `UpdateItem` of the head starts a new generation (so every
//! reader stops seeing the old ones at once), moves the counters into the record of this
//! clear, and marks the chat for the sweep, which stamps the hidden items' expiry.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::errors::{update_failed, UpdateFailed};
use super::items::{from_item, n, s, HeadItem, Item};
use super::DynamoStore;
use crate::error::StoreError;
use crate::store::{keys, Chat, ClearOutcome};

/// Conditioned on the generation that was read, so a retry of an applied clear (its answer
/// lost) cannot clear twice: it fails, and the head it then shows carries this clear's id.
const CLEAR: &str = "SET generation = :next, visible_from = :next, \
     cleared_from = if_not_exists(visible_from, :zero), cleared_to = :generation, \
     cleared_count = if_not_exists(message_count, :zero), \
     cleared_user_count = if_not_exists(user_count, :zero), \
     cleared_assistant_count = if_not_exists(assistant_count, :zero), \
     cleared_first_timestamp = if_not_exists(first_timestamp, :null), \
     cleared_expires_at = :expires_at, clear_id = :clear_id, \
     message_count = :zero, user_count = :zero, assistant_count = :zero, \
     sweep_due = :due, restore_blocked = :false \
     REMOVE first_timestamp \
     ADD sweep_seq :one";

pub(super) async fn apply(
    store: &DynamoStore,
    chat: &Chat,
    expires_at: i64,
    clear_id: &str,
) -> Result<ClearOutcome, StoreError> {
    let generation = chat.head.generation;
    let result = store
        .client
        .update_item()
        .table_name(&store.messages_table)
        .set_key(Some(store.key(chat.job.job_id.as_str(), keys::HEAD)))
        .update_expression(CLEAR)
        .condition_expression("attribute_not_exists(generation) OR generation = :generation")
        .set_expression_attribute_values(Some(Item::from([
            (":generation".to_owned(), n(generation)),
            (":next".to_owned(), n(generation + 1)),
            (":zero".to_owned(), n(0)),
            (":one".to_owned(), n(1)),
            (":null".to_owned(), AttributeValue::Null(true)),
            (":expires_at".to_owned(), n(expires_at)),
            (":clear_id".to_owned(), s(clear_id)),
            (":due".to_owned(), s(keys::SWEEP_DUE)),
            (":false".to_owned(), AttributeValue::Bool(false)),
        ])))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match result {
        Ok(out) => {
            let head: HeadItem = from_item(out.attributes.unwrap_or_default())?;
            Ok(ClearOutcome::Cleared(head.cleared_count))
        }
        Err(err) => match update_failed(err) {
            UpdateFailed::Condition(Some(item)) => {
                let head: HeadItem = from_item(item)?;
                if head.clear_id.as_deref() == Some(clear_id) {
                    // Applied; only its answer was lost.
                    Ok(ClearOutcome::Cleared(head.cleared_count))
                } else {
                    Ok(ClearOutcome::ChatMoved)
                }
            }
            UpdateFailed::Condition(None) | UpdateFailed::Conflict => Ok(ClearOutcome::ChatMoved),
            UpdateFailed::Other(err) => Err(err),
        },
    }
}
