//! `make bench`: one table of our operations next to the bare DynamoDB work they stand on,
//! the functions' cold starts next to a bare function's, and what replies and chats cost.
//! Runs on the DynamoDB Local that `scripts/dynamodb-local.sh with` started
//! (`DYNAMODB_ENDPOINT`); `BENCH_RUNS` timed runs per side (default 15). Progress goes to
//! stderr, the table to stdout. `BENCH_ONLY=functions` runs the functions' rows alone
//! (`BENCH_BINARIES` names other binaries, a directory or paths: see cold.rs).
//! docs/PERFORMANCE.md says what the numbers mean.

mod bare;
mod cold;
mod cost;
mod harness;
mod ops;
mod report;
mod rows;
mod seed;

use harness::Harness;

#[tokio::main]
async fn main() {
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(15);
    let started = std::time::Instant::now();
    let h = Harness::start(runs).await;
    if std::env::var("BENCH_ONLY").as_deref() == Ok("functions") {
        // Comparing release profiles: the functions' rows alone.
        report::print(&[], &cold::run(&h).await, runs);
        return;
    }
    let chats = seed::chats(&h).await;
    eprintln!("operations, ours and bare alternating, {runs} timed runs each:");
    let mut rows = rows::reads(&h, &chats).await;
    rows.extend(rows::writes(&h, &chats).await);
    rows.extend(rows::clears(&h, &chats).await);
    rows.push(rows::sweep(&h).await);
    eprintln!("costs…");
    let replies = cost::replies(&h, &chats.writes, &chats.twin_writes).await;
    let chat = cost::chat(&h, &chats.twin_writes).await;
    eprintln!("cold starts…");
    let functions = cold::run(&h).await;
    report::print(&rows, &functions, runs);
    report::print_costs(&replies, &chat);
    eprintln!("bench done in {:.0?}", started.elapsed());
}
