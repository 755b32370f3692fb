//! What replies and chats cost at DynamoDB's on-demand prices. Units are counted by the meter
//! on DynamoDB Local; the twin of each operation (same reads, same item sizes) says which of
//! them are reads and which are transactional writes, because the meter only sums them.
//! DynamoDB Local charges a transactional write once; AWS charges it twice, so the dollars
//! double those.

use shared::model::{Role, Status};
use shared::store::keys::HEAD;

use crate::bare::Units;
use crate::harness::{Harness, Via};
use crate::ops;
use crate::rows::PATCHES;

/// On-demand, us-east-1: dollars per million write request units and read request units.
pub const WRITE_PRICE: f64 = 0.625;
pub const READ_PRICE: f64 = 0.125;

/// One priced piece of work.
pub struct Cost {
    pub name: String,
    pub requests: usize,
    /// As DynamoDB Local reports them.
    pub local_units: f64,
    pub split: Units,
}

impl Cost {
    /// Units AWS would charge: reads, plain writes, transactional writes twice.
    pub fn aws_units(&self) -> (f64, f64) {
        (
            self.split.read,
            self.split.write + 2.0 * self.split.transactional,
        )
    }

    /// Dollars per million of this.
    pub fn dollars_per_million(&self) -> f64 {
        let (read, write) = self.aws_units();
        read * READ_PRICE + write * WRITE_PRICE
    }
}

/// Our units split as the twin's: its reads and transactional writes are ours; the rest of our
/// total is plain writes.
fn split(local_units: f64, twin: Units) -> Units {
    Units {
        read: twin.read,
        transactional: twin.transactional,
        write: (local_units - twin.read - twin.transactional).max(0.0),
    }
}

/// A reply of `bytes`: its create and [`PATCHES`] PATCHes, ours counted, the twin's split.
async fn reply(h: &Harness, job: &str, twin_job: &str, bytes: usize) -> (usize, f64, Units) {
    let deps = h.ours();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let sample = h
        .count("reply", async || {
            h.time(async {
                let message = ops::new_message(&id, Role::Assistant, "", Status::Streaming);
                ops::create(deps, job, message).await;
                for (i, content) in ops::stream_chunks(bytes, PATCHES).enumerate() {
                    let version = Some(i as u64 + 1);
                    ops::patch(deps, job, &id, &content, version, i + 1 == PATCHES).await;
                }
            })
            .await
        })
        .await;
    let twin = h.bare(Via::Direct);
    twin.take_units();
    twin.create(twin_job, &id, "").await;
    for (i, content) in ops::stream_chunks(bytes, PATCHES).enumerate() {
        twin.patch(twin_job, &id, &content, Some(i as u64 + 1))
            .await;
    }
    (sample.requests, sample.units, twin.take_units())
}

/// A streamed reply of 1, 4, 16 and 64 KiB.
pub async fn replies(h: &Harness, job: &str, twin_job: &str) -> Vec<Cost> {
    let mut costs = Vec::new();
    for kib in [1, 4, 16, 64] {
        let (requests, local_units, twin) = reply(h, job, twin_job, kib * 1024).await;
        costs.push(Cost {
            name: format!("{kib} KiB reply (create + {PATCHES} PATCHes)"),
            requests,
            local_units,
            split: split(local_units, twin),
        });
    }
    costs
}

/// The chat the per-million figure is for.
pub const CHAT_SHAPE: &str = "10 user messages of 200 B, 10 assistant replies of 4 KiB \
    streamed in 50 PATCHes each, the chat opened (listed) 20 times, one summary, one export, \
    one clear (its background sweep not included)";

/// One chat of [`CHAT_SHAPE`], lived through on a fresh job; each step counted on its own and
/// split by its twin's reads.
pub async fn chat(h: &Harness, twin_job: &str) -> Cost {
    let deps = h.ours();
    let job = h.new_job().await;
    let twin = h.bare(Via::Direct);
    let mut total = Cost {
        name: "one chat".into(),
        requests: 0,
        local_units: 0.0,
        split: Units::default(),
    };
    let mut add = |requests: usize, local_units: f64, twin: Units| {
        let part = split(local_units, twin);
        total.requests += requests;
        total.local_units += local_units;
        total.split.read += part.read;
        total.split.write += part.write;
        total.split.transactional += part.transactional;
    };
    let user = "u".repeat(200);
    for turn in 0..10 {
        let id = format!("user-{turn}");
        let message = ops::new_message(&id, Role::User, &user, Status::Complete);
        let sample = h
            .count("chat", async || {
                h.time(ops::create(deps, &job, message.clone())).await
            })
            .await;
        twin.take_units();
        twin.create(twin_job, &format!("{id}-{}", uuid::Uuid::new_v4()), &user)
            .await;
        add(sample.requests, sample.units, twin.take_units());
        let (requests, units, twin_units) = reply(h, &job, twin_job, 4096).await;
        add(requests, units, twin_units);
    }
    // Reads only: every unit is a read.
    let all_read = |units: f64| Units {
        read: units,
        ..Units::default()
    };
    for _ in 0..20 {
        let sample = h
            .count("chat", async || {
                h.time(ops::list(deps, &job)).await;
            })
            .await;
        add(sample.requests, sample.units, all_read(sample.units));
    }
    let sample = h
        .count("chat", async || {
            h.time(ops::summary(deps, &job)).await;
        })
        .await;
    add(sample.requests, sample.units, all_read(sample.units));
    let sample = h
        .count("chat", async || {
            h.time(ops::export(deps, &job)).await;
        })
        .await;
    add(sample.requests, sample.units, all_read(sample.units));
    let sample = h
        .count("chat", async || {
            h.time(ops::clear(deps, &job)).await;
        })
        .await;
    twin.take_units();
    twin.clear(twin_job, HEAD).await;
    add(sample.requests, sample.units, twin.take_units());
    total
}
