//! The one retry policy of the store, in two layers:
//!
//! - **The SDK** retries what is transient for one request: throttling, timeouts, dropped
//!   connections, 5xx — and, taught by [`ThrottledCancellation`], a transaction that DynamoDB
//!   cancelled because it was throttled (the SDK does not know that one by itself).
//! - **The operations** retry a lost race (another writer changed the chat head or the message
//!   first): [`contended`] reads the chat again and retries, [`CONTENTION_ATTEMPTS`] times at
//!   most, the one loop of this kind (the adapter's writes make one attempt each and report a
//!   lost race instead of looping). DynamoDB's partial answers (`UnprocessedKeys`) are sent
//!   again with the same [`backoff`] and bound.

use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::InterceptorContext;
use aws_sdk_dynamodb::config::retry::{ClassifyRetry, RetryAction, RetryConfig};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

/// Attempts the SDK makes at one request (the first included).
pub const SDK_ATTEMPTS: u32 = 3;
/// The SDK's first backoff; DynamoDB recovers from throttling within tens of milliseconds.
const SDK_INITIAL_BACKOFF: Duration = Duration::from_millis(25);
const SDK_MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Attempts of an operation that keeps losing races with concurrent writers of one chat.
pub const CONTENTION_ATTEMPTS: u32 = 10;
const CONTENTION_BASE: Duration = Duration::from_millis(10);
const CONTENTION_CAP: Duration = Duration::from_millis(250);

/// The SDK's retry settings.
pub fn sdk_retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(SDK_ATTEMPTS)
        .with_initial_backoff(SDK_INITIAL_BACKOFF)
        .with_max_backoff(SDK_MAX_BACKOFF)
}

/// What one attempt of an operation came to.
pub enum Attempt<T> {
    Done(T),
    /// Another writer came first: read again and retry.
    Lost,
}

/// Runs `attempt` until it is done, at most [`CONTENTION_ATTEMPTS`] times with [`backoff`]
/// between; `None` when every attempt lost its race.
pub async fn contended<T, E, F: Future<Output = Result<Attempt<T>, E>>>(
    mut attempt: impl FnMut() -> F,
) -> Result<Option<T>, E> {
    for n in 0..CONTENTION_ATTEMPTS {
        if n > 0 {
            backoff(n - 1).await;
        }
        // Boxed: the attempt holds a whole operation's future, and nesting it unboxed makes
        // each function's future type deep enough to overflow rustc's layout query.
        if let Attempt::Done(done) = Box::pin(attempt()).await? {
            return Ok(Some(done));
        }
    }
    Ok(None)
}

/// Waits before attempt `attempt + 1` of a lost race: exponential with full jitter, so writers
/// that collided do not collide again in lockstep.
pub async fn backoff(attempt: u32) {
    tokio::time::sleep(contention_delay(attempt, rand_u64())).await;
}

fn contention_delay(attempt: u32, random: u64) -> Duration {
    let base = u64::try_from(CONTENTION_BASE.as_millis()).unwrap_or(10);
    let cap = u64::try_from(CONTENTION_CAP.as_millis()).unwrap_or(250);
    let ceiling = base.saturating_mul(1 << attempt.min(16)).min(cap);
    Duration::from_millis(1 + random % ceiling)
}

fn rand_u64() -> u64 {
    // The low half of a v4 UUID is random; no extra crate for a jitter.
    uuid::Uuid::new_v4().as_u64_pair().1
}

/// How DynamoDB names throttling, the one list: every exception code
/// (`ThrottlingException`, `ProvisionedThroughputExceededException`, `RequestLimitExceeded`) and
/// every cancellation reason of a transaction (`ThrottlingError`,
/// `ProvisionedThroughputExceeded`, `RequestLimitExceeded`) starts with one of these.
pub const THROTTLING: &[&str] = &[
    "Throttling",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

/// An exception code or a cancellation reason that means throttling.
pub fn is_throttling(code: &str) -> bool {
    THROTTLING.iter().any(|name| code.starts_with(name))
}

/// Teaches the SDK that a `TransactionCanceledException` whose reasons are throttling (and no
/// failed condition) is throttling, to be retried with the same backoff as any throttling.
#[derive(Debug, Default)]
pub struct ThrottledCancellation;

impl ClassifyRetry for ThrottledCancellation {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(err)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err
            .as_operation_error()
            .and_then(|e| e.downcast_ref::<TransactWriteItemsError>())
        else {
            return RetryAction::NoActionIndicated;
        };
        let codes = cancelled
            .cancellation_reasons()
            .iter()
            .map(|reason| reason.code().unwrap_or("None"));
        let mut throttled = false;
        for code in codes {
            if code == "ConditionalCheckFailed" {
                return RetryAction::NoActionIndicated;
            }
            throttled |= is_throttling(code);
        }
        if throttled {
            RetryAction::throttling_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "DynamoDB throttled transaction cancellation"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contention_backoff_grows_to_its_cap_and_never_waits_zero() {
        assert_eq!(contention_delay(0, 0), Duration::from_millis(1));
        assert_eq!(contention_delay(0, 9), Duration::from_millis(10));
        assert_eq!(contention_delay(0, 10), Duration::from_millis(1));
        assert_eq!(contention_delay(2, 39), Duration::from_millis(40));
        assert_eq!(contention_delay(30, 249), Duration::from_millis(250));
        assert!(contention_delay(30, u64::MAX) <= CONTENTION_CAP);
    }
}
