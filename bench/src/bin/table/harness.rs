//! Runs an operation of ours and its bare twin side by side. Latency is timed straight against
//! DynamoDB Local (the proxy would add its own hop to every request); requests and capacity
//! units are counted in one extra run of each through the counting proxy. Timed runs alternate
//! which side goes first, so whatever the machine does meanwhile hits both alike.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared::store::dynamo::DynamoStore;
use shared::Deps;
use testkit::proxy::Proxy;

use crate::bare::Bare;

/// Which path an operation takes to DynamoDB Local.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Straight to DynamoDB Local: timed.
    Direct,
    /// Through the counting proxy: requests and capacity units.
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
    pub proxy: Proxy,
    direct: Deps<DynamoStore>,
    counted: Deps<DynamoStore>,
    bare_direct: Bare,
    bare_counted: Bare,
    last: Mutex<Option<Sample>>,
}

impl Harness {
    pub async fn start(runs: usize) -> Harness {
        let proxy = Proxy::start(&testkit::endpoint()).await;
        let direct = testkit::own_tables("bench", None).await;
        let counted = testkit::own_tables("bench", Some(&proxy)).await;
        let bare_direct = Bare::new(&testkit::endpoint(), &direct.store).await;
        let bare_counted = Bare::new(&proxy.url(), &direct.store).await;
        Harness {
            runs,
            proxy,
            direct,
            counted,
            bare_direct,
            bare_counted,
            last: Mutex::new(None),
        }
    }

    pub fn ours(&self, via: Via) -> &Deps<DynamoStore> {
        match via {
            Via::Direct => &self.direct,
            Via::Counted => &self.counted,
        }
    }

    pub fn bare(&self, via: Via) -> &Bare {
        match via {
            Via::Direct => &self.bare_direct,
            Via::Counted => &self.bare_counted,
        }
    }

    /// Times `work` (the part of a run that counts; set-up stays outside) and takes the
    /// proxy's counts of it.
    pub async fn time<T>(&self, work: impl Future<Output = T>) -> T {
        self.proxy.reset_counts();
        let started = Instant::now();
        let out = work.await;
        let sample = Sample {
            time: started.elapsed(),
            requests: self.proxy.total_requests(),
            units: self.proxy.capacity_units(),
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

    /// Runs `side` once through the proxy: what it asks of DynamoDB.
    pub async fn count(&self, what: &str, mut side: impl AsyncFnMut(Via)) -> Sample {
        side(Via::Counted).await;
        self.take(what)
    }

    /// Our operation next to its bare twin.
    pub async fn compare(
        &self,
        name: &str,
        mut ours: impl AsyncFnMut(Via),
        mut bare: impl AsyncFnMut(Via),
    ) -> Row {
        eprintln!("  {name}");
        let counted_ours = self.count(name, &mut ours).await;
        let counted_bare = self.count(name, &mut bare).await;
        // A first direct run of each, untimed: connections and caches warm for both.
        ours(Via::Direct).await;
        bare(Via::Direct).await;
        let (mut ours_times, mut bare_times) = (Vec::new(), Vec::new());
        for run in 0..self.runs {
            if run % 2 == 0 {
                ours(Via::Direct).await;
                ours_times.push(self.take(name).time);
                bare(Via::Direct).await;
                bare_times.push(self.take(name).time);
            } else {
                bare(Via::Direct).await;
                bare_times.push(self.take(name).time);
                ours(Via::Direct).await;
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
    pub async fn alone(&self, name: &str, runs: usize, mut ours: impl AsyncFnMut(Via)) -> Row {
        eprintln!("  {name}");
        let mut times = Vec::new();
        let mut counted = Sample::default();
        for _ in 0..runs {
            ours(Via::Counted).await;
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
