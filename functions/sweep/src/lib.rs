//! The sweep function: run on a schedule, it finishes what clears (and restores) leave to the
//! background — see `shared::store::dynamo::sweep`. An invocation fails when a chat could not be
//! swept, so the function's `Errors` metric (alarmed in template.yaml) shows a sweep in trouble;
//! the chat stays marked and the next run retries it.

use std::time::{Duration, Instant, SystemTime};

use shared::store::dynamo::sweep::SweepReport;
use shared::store::dynamo::DynamoStore;

/// Time kept back from the invocation's deadline to answer and log.
const MARGIN: Duration = Duration::from_secs(5);

/// How long a run lasts when the deadline is unknown (cargo lambda's emulator hands out one
/// already past): within the one-minute schedule.
const UNKNOWN_DEADLINE_RUN: Duration = Duration::from_secs(55);

/// When the sweep must stop, from the invocation's deadline (epoch milliseconds), read as every
/// function reads it ([`shared::lambda::time_left`]).
pub fn stop_at(deadline_ms: u64, now: SystemTime, started: Instant) -> Instant {
    let left = shared::lambda::time_left(deadline_ms, now).unwrap_or(UNKNOWN_DEADLINE_RUN + MARGIN);
    started + left.saturating_sub(MARGIN)
}

pub async fn handler(store: &DynamoStore, stop: Instant) -> Result<SweepReport, String> {
    let report = store.sweep(stop).await.map_err(|err| {
        tracing::error!(error = %err, "sweep could not list the chats to visit");
        "sweep failed".to_owned()
    })?;
    tracing::info!(
        chats_finished = report.chats_finished,
        chats_left = report.chats_left,
        items_stamped = report.items_stamped,
        items_unstamped = report.items_unstamped,
        failures = report.failures,
        "sweep run"
    );
    shared::metrics::publish_values(&[
        ("SweepBacklog", report.chats_left as f64),
        ("SweepChatsFinished", report.chats_finished as f64),
        ("SweepItemsStamped", report.items_stamped as f64),
        ("SweepItemsUnstamped", report.items_unstamped as f64),
        ("SweepFailures", report.failures as f64),
    ]);
    if report.failures > 0 {
        return Err(format!("{} chats could not be swept", report.failures));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_stops_before_lambda_would_cut_it_off() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_000);
        let started = Instant::now();
        let stop = stop_at(1_000_000 + 60_000, now, started);
        assert_eq!(stop - started, Duration::from_secs(55));
        assert_eq!(stop_at(1_000_000 + 1_000, now, started), started);
        // A deadline already past (cargo lambda's) is unknown: a run within the schedule.
        assert_eq!(
            stop_at(600_000, now, started) - started,
            UNKNOWN_DEADLINE_RUN
        );
    }
}
