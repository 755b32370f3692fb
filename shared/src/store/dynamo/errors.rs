//! What a failed DynamoDB call means for the operation that made it. Only logs see the detail.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use super::items::Item;
use crate::error::StoreError;
use crate::store::retry::is_throttling;

/// Classifies an SDK error that the SDK's own retries did not cure.
pub fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or_default();
            if code == "ValidationException"
                && context
                    .err()
                    .message()
                    .is_some_and(|m| m.contains("Item size"))
            {
                return StoreError::ItemTooLarge;
            }
            is_throttling(code)
                || matches!(
                    code,
                    "InternalServerError"
                        | "ServiceUnavailable"
                        | "LimitExceededException"
                        | "TransactionConflictException"
                        | "TransactionCanceledException"
                )
        }
        _ => false,
    };
    let detail = DisplayErrorContext(&err).to_string();
    if transient {
        StoreError::Unavailable(detail.into())
    } else {
        StoreError::Internal(detail)
    }
}

/// Why DynamoDB refused a transaction, when the operation can act on it.
#[derive(Debug)]
pub enum Cancelled {
    /// The condition of the action at this index failed; the item as it is, if it exists.
    Condition { index: usize, item: Option<Item> },
    /// Another transaction or write held one of the items: a lost race.
    Conflict,
    /// Throttled, and the SDK's retries of that are spent.
    Throttled(StoreError),
}

/// Reads a failed `TransactWriteItems`. Throttled cancellations only get here once the SDK's
/// retries of them ran out (see `retry::ThrottledCancellation`).
pub fn cancellation(
    err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Option<Cancelled> {
    let SdkError::ServiceError(context) = err else {
        return None;
    };
    match context.err() {
        TransactWriteItemsError::TransactionCanceledException(ex) => {
            let reasons = ex.cancellation_reasons();
            if let Some(index) = reasons
                .iter()
                .position(|r| r.code() == Some("ConditionalCheckFailed"))
            {
                let item = reasons[index].item().cloned();
                return Some(Cancelled::Condition { index, item });
            }
            let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
            if codes.iter().any(|c| is_throttling(c)) {
                let detail = DisplayErrorContext(err).to_string();
                Some(Cancelled::Throttled(StoreError::Unavailable(detail.into())))
            } else if codes.contains(&"TransactionConflict") {
                Some(Cancelled::Conflict)
            } else {
                None
            }
        }
        TransactWriteItemsError::TransactionInProgressException(_) => Some(Cancelled::Conflict),
        _ => None,
    }
}

/// What a failed conditional `UpdateItem` tells the operation.
pub enum UpdateFailed {
    /// The condition failed; the item as it is now (`ReturnValuesOnConditionCheckFailure`).
    Condition(Option<Item>),
    /// A transaction held the item: a lost race.
    Conflict,
    Other(StoreError),
}

pub fn update_failed(err: SdkError<UpdateItemError, impl std::fmt::Debug>) -> UpdateFailed {
    if let SdkError::ServiceError(context) = &err {
        match context.err() {
            UpdateItemError::ConditionalCheckFailedException(ex) => {
                return UpdateFailed::Condition(ex.item().cloned());
            }
            UpdateItemError::TransactionConflictException(_) => return UpdateFailed::Conflict,
            _ => {}
        }
    }
    UpdateFailed::Other(classify(err))
}
