//! Restoring the last clear: one conditional `UpdateItem` of the head makes the generations it
//! hid visible again (they sort before every message created since, so the history stays in
//! time order) and adds their counts back; the sweep takes the expiry off their items.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::errors::{update_failed, UpdateFailed};
use super::items::{from_item, n, s, HeadItem, Item};
use super::DynamoStore;
use crate::error::StoreError;
use crate::store::{keys, Chat, RestoreOutcome};

/// Conditioned on the chat as read (no clear, create-over-a-cleared-id or restore since), so
/// a retry of an applied restore fails, and the head it then shows carries this restore's id.
const UNCHANGED: &str = "generation = :generation AND visible_from = :visible_from \
     AND clear_id = :clear_id AND restore_blocked = :false \
     AND (attribute_not_exists(restored_clear) OR restored_clear <> :clear_id)";

pub(super) async fn apply(
    store: &DynamoStore,
    chat: &Chat,
    restore_id: &str,
) -> Result<RestoreOutcome, StoreError> {
    let Some(clear) = &chat.head.last_clear else {
        return Ok(RestoreOutcome::ChatMoved);
    };
    let mut set = String::from(
        "SET visible_from = :first, restored_clear = :clear_id, restore_id = :restore_id, \
         sweep_due = :due",
    );
    let mut values = Item::from([
        (":generation".to_owned(), n(chat.head.generation)),
        (":visible_from".to_owned(), n(chat.head.visible_from)),
        (":clear_id".to_owned(), s(&clear.clear_id)),
        (":false".to_owned(), AttributeValue::Bool(false)),
        (":first".to_owned(), n(clear.first)),
        (":restore_id".to_owned(), s(restore_id)),
        (":due".to_owned(), s(keys::SWEEP_DUE)),
        (":total".to_owned(), n(clear.counts.total)),
        (":user".to_owned(), n(clear.counts.user)),
        (":assistant".to_owned(), n(clear.counts.assistant)),
        (":one".to_owned(), n(1)),
    ]);
    // The restored messages are older than any created since the clear.
    if let Some(first) = &clear.first_timestamp {
        set.push_str(", first_timestamp = :first_timestamp");
        values.insert(":first_timestamp".to_owned(), s(first));
    }
    let result = store
        .client
        .update_item()
        .table_name(&store.messages_table)
        .set_key(Some(store.key(chat.job.job_id.as_str(), keys::HEAD)))
        .update_expression(format!(
            "{set} ADD message_count :total, user_count :user, \
             assistant_count :assistant, sweep_seq :one"
        ))
        .condition_expression(UNCHANGED)
        .set_expression_attribute_values(Some(values))
        .return_values(ReturnValue::None)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match result {
        Ok(_) => Ok(RestoreOutcome::Restored(clear.counts.total)),
        Err(err) => match update_failed(err) {
            UpdateFailed::Condition(Some(item)) => {
                let head: HeadItem = from_item(item)?;
                if head.restore_id.as_deref() == Some(restore_id) {
                    // Applied; only its answer was lost.
                    Ok(RestoreOutcome::Restored(head.cleared_count))
                } else {
                    Ok(RestoreOutcome::ChatMoved)
                }
            }
            UpdateFailed::Condition(None) | UpdateFailed::Conflict => Ok(RestoreOutcome::ChatMoved),
            UpdateFailed::Other(err) => Err(err),
        },
    }
}
