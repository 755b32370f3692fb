//! Runs an operation of ours and its bare twin side by side, both straight to DynamoDB Local.
//! Requests and capacity units are counted by the production client's own meter
//! (`shared::metrics::DynamoMeter`, which every response's `ConsumedCapacity` passes through):
//! ours always carries it, as deployed; the twin's timed client is a plain one, and one extra
//! run of the twin goes through a client that carries the meter too. Timed runs alternate
//! which side goes first, so whatever the machine does meanwhile hits both alike.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use setup::{deps_on_own_tables, put_job, DEMO_OWNER};
use shared::config::Config;
use shared::metrics;
use shared::store::dynamo::DynamoStore;
use shared::Deps;

use crate::bare::Bare;

/// Time a row may take for timed runs beyond [`Harness::runs`], up to this many times them.
pub const ROW_BUDGET: Duration = Duration::from_millis(1500);
pub const MAX_RUNS_FACTOR: usize = 4;

/// Which client the bare twin uses (ours always has the production one, meter included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A plain SDK client: timed.
    Direct,
    /// A client carrying the meter: requests and capacity units.
    Counted,
}

/// One measured call: how long its timed part took and what it asked of DynamoDB.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub time: Duration,
    pub requests: usize,
    pub units: f64,
}

/// A side of a row: the median of the timed runs, the counts of the counted run.
#[derive(Clone, Debug, Default)]
pub struct Side {
    pub median: Duration,
    pub requests: usize,
    pub units: f64,
}

pub struct Row {
    pub name: String,
    pub ours: Side,
    pub bare: Option<Side>,
    /// What the row's target is and whether it is met, when it has one beyond the ratio.
    pub note: String,
}

pub struct Harness {
    pub runs: usize,
    ours: Deps<DynamoStore>,
    bare_direct: Bare,
    bare_counted: Bare,
    last: Mutex<Option<Sample>>,
}

/// The DynamoDB Local that `scripts/dynamodb-local.sh with` started.
pub fn endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT")
        .expect("DYNAMODB_ENDPOINT is not set: run `make bench`, which starts DynamoDB Local")
}

/// The production configuration on tables of this process's own.
async fn own_tables() -> Deps<DynamoStore> {
    let pid = std::process::id();
    let mut config = Config::from_lookup(|_| None).expect("defaults are valid");
    config.messages_table = format!("bench-messages-{pid}");
    config.jobs_table = format!("bench-jobs-{pid}");
    config.dynamodb_endpoint = Some(endpoint());
    deps_on_own_tables(&config)
        .await
        .expect("tables on DynamoDB Local")
}

impl Harness {
    pub async fn start(runs: usize) -> Harness {
        let ours = own_tables().await;
        let bare_direct = Bare::new(&endpoint(), &ours.store, false).await;
        let bare_counted = Bare::new(&endpoint(), &ours.store, true).await;
        Harness {
            runs,
            ours,
            bare_direct,
            bare_counted,
            last: Mutex::new(None),
        }
    }

    /// Our operations' dependencies: the production configuration and client.
    pub fn ours(&self) -> &Deps<DynamoStore> {
        &self.ours
    }

    /// A new job owned by the caller of our operations ([`crate::ops::owner`]).
    pub async fn new_job(&self) -> String {
        let job_id = uuid::Uuid::new_v4().to_string();
        let store = &self.ours.store;
        put_job(store.client(), store.jobs_table(), &job_id, DEMO_OWNER, &[])
            .await
            .expect("job written");
        job_id
    }

    pub fn bare(&self, via: Via) -> &Bare {
        match via {
            Via::Direct => &self.bare_direct,
            Via::Counted => &self.bare_counted,
        }
    }

    /// Times `work` (the part of a run that counts; set-up stays outside) and takes the
    /// meter's counts of it (none for the twin's plain client).
    pub async fn time<T>(&self, work: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let (out, cost) = metrics::measured(work).await;
        let sample = Sample {
            time: started.elapsed(),
            requests: (cost.dynamodb_calls + cost.dynamodb_retries) as usize,
            units: cost.capacity_units,
        };
        *self.last.lock().expect("sample lock") = Some(sample);
        out
    }

    fn take(&self, what: &str) -> Sample {
        self.last
            .lock()
            .expect("sample lock")
            .take()
            .unwrap_or_else(|| panic!("{what} never called Harness::time"))
    }

    /// Runs `side` once, counted: what it asks of DynamoDB.
    pub async fn count(&self, what: &str, mut side: impl AsyncFnMut()) -> Sample {
        side().await;
        self.take(what)
    }

    /// Timed runs of a row whose pair of runs takes `pair`: `runs`, or more for a fast
    /// operation, whose median is steadier over more runs that cost little.
    fn runs_for(&self, pair: Duration) -> usize {
        let fit = ROW_BUDGET.as_secs_f64() / pair.as_secs_f64().max(1e-6);
        (fit as usize).clamp(self.runs, self.runs * MAX_RUNS_FACTOR)
    }

    /// Our operation next to its bare twin.
    pub async fn compare(
        &self,
        name: &str,
        mut ours: impl AsyncFnMut(),
        mut bare: impl AsyncFnMut(Via),
    ) -> Row {
        eprintln!("  {name}");
        let counted_ours = self.count(name, &mut ours).await;
        let counted_bare = self.count(name, async || bare(Via::Counted).await).await;
        // A first direct run of each, untimed: connections and caches warm for both.
        ours().await;
        let pair = self.take(name).time;
        bare(Via::Direct).await;
        let runs = self.runs_for(pair + self.take(name).time);
        let (mut ours_times, mut bare_times) = (Vec::new(), Vec::new());
        for run in 0..runs {
            if run % 2 == 0 {
                ours().await;
                ours_times.push(self.take(name).time);
                bare(Via::Direct).await;
                bare_times.push(self.take(name).time);
            } else {
                bare(Via::Direct).await;
                bare_times.push(self.take(name).time);
                ours().await;
                ours_times.push(self.take(name).time);
            }
        }
        Row {
            name: name.to_owned(),
            ours: side(counted_ours, ours_times),
            bare: Some(side(counted_bare, bare_times)),
            note: String::new(),
        }
    }

    /// An operation with no bare twin (the background sweep), run `runs` times.
    pub async fn alone(&self, name: &str, runs: usize, mut ours: impl AsyncFnMut()) -> Row {
        eprintln!("  {name}");
        let mut times = Vec::new();
        let mut counted = Sample::default();
        for _ in 0..runs {
            ours().await;
            counted = self.take(name);
            times.push(counted.time);
        }
        Row {
            name: name.to_owned(),
            ours: side(counted, times),
            bare: None,
            note: String::new(),
        }
    }
}

fn side(counted: Sample, mut times: Vec<Duration>) -> Side {
    times.sort();
    Side {
        median: times.get(times.len() / 2).copied().unwrap_or_default(),
        requests: counted.requests,
        units: counted.units,
    }
}
