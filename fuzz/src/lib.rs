//! Property-based fuzzing of quote-chat (team issue 13, item 2): generators for JSON-ish
//! bodies, cursors and whole API Gateway HTTP API events, the check of the API's envelope, and
//! a runner that scales from the quick run of `make test` to the bounded long run of
//! `make fuzz`. The properties themselves are in `tests/properties.rs`; fuzz/README.md says
//! what they cover and how to run them.

pub mod envelope;
pub mod event;
pub mod json;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseResult, TestError, TestRunner};

/// How long a property may run, from `FUZZ_SECONDS` (the whole run's budget, shared out over
/// [`PROPERTIES`] properties run `RUST_TEST_THREADS` — or as many cores — at a time). Unset:
/// no time limit, only the case count.
fn budget() -> Option<Duration> {
    let total: f64 = std::env::var("FUZZ_SECONDS").ok()?.trim().parse().ok()?;
    let threads = std::env::var("RUST_TEST_THREADS")
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .clamp(1, PROPERTIES);
    let rounds = PROPERTIES.div_ceil(threads);
    Some(Duration::from_secs_f64((total / rounds as f64).max(1.0)))
}

/// The number of properties in `tests/properties.rs` that run under [`check`], for sharing
/// out `FUZZ_SECONDS`.
pub const PROPERTIES: usize = 14;

/// Cases of one batch in a timed run: small enough to stop near the deadline.
const BATCH: u32 = 128;

thread_local! {
    /// What the cases of the property running on this thread hit (see [`tally`]).
    static TALLY: RefCell<BTreeMap<String, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// Counts an outcome of a case (a status, a code) so that `FUZZ_VERBOSE=1` shows what the
/// generators reach.
pub fn tally(outcome: impl Into<String>) {
    TALLY.with(|t| *t.borrow_mut().entry(outcome.into()).or_default() += 1);
}

/// A seed for this run: `PROPTEST_RNG_SEED` when set (to replay a failure), else a fresh one.
fn first_seed(config: &Config) -> u64 {
    match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => {
            use std::hash::{BuildHasher, Hasher};
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            hasher.finish()
        }
    }
}

/// Runs `test` on values of `strategy`: `PROPTEST_CASES` cases (proptest's 256 by default),
/// divided by `cost` for properties whose cases are expensive; under `FUZZ_SECONDS` in
/// batches until the property's share of the budget is spent or the cases are done. A
/// failure panics with the shrunk input and the seed and case count that replay it.
pub fn check<S>(name: &str, cost: u32, strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S: Strategy,
    S::Value: Debug,
{
    TALLY.with(|t| t.borrow_mut().clear());
    let base = Config {
        failure_persistence: None,
        // Shrinking a large input can take long; a minute finds a small enough one.
        max_shrink_time: if Config::default().max_shrink_time == 0 {
            60_000
        } else {
            Config::default().max_shrink_time
        },
        ..Config::default()
    };
    let total = (base.cases / cost.max(1)).max(1);
    let budget = budget();
    let started = Instant::now();
    let mut seed = first_seed(&base);
    let mut done: u32 = 0;
    let mut batches = 0u32;
    while done < total {
        let cases = match budget {
            Some(_) => BATCH.min(total - done),
            None => total,
        };
        let config = Config {
            cases,
            rng_seed: RngSeed::Fixed(seed),
            ..base.clone()
        };
        let mut runner = TestRunner::new(config);
        match runner.run(&strategy, &test) {
            Ok(()) => {}
            Err(TestError::Fail(reason, value)) => panic!(
                "property `{name}` failed: {reason}\n\
                 minimal failing input: {value:#?}\n\
                 replay with: PROPTEST_RNG_SEED={seed} PROPTEST_CASES={} cargo test -p quote-chat-fuzz -- --include-ignored {name}",
                cases * cost.max(1)
            ),
            Err(TestError::Abort(reason)) => {
                panic!("property `{name}` aborted (seed {seed}): {reason}")
            }
        }
        done += cases;
        batches += 1;
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        if budget.is_some_and(|budget| started.elapsed() >= budget) {
            break;
        }
    }
    if budget.is_some() || std::env::var_os("FUZZ_VERBOSE").is_some() {
        eprintln!(
            "fuzz: {name}: {done} cases in {batches} batch(es), {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if std::env::var_os("FUZZ_VERBOSE").is_some() {
        TALLY.with(|t| {
            for (outcome, count) in t.borrow().iter() {
                eprintln!("fuzz: {name}:   {count:>7}  {outcome}");
            }
        });
    }
}
