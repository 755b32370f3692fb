//! The one table `make bench` prints (markdown, so docs/PERFORMANCE.md can hold it as is),
//! with a column saying which targets are met, then the cost of replies and chats.

use std::time::Duration;

use crate::cold::{ColdStarts, Function};
use crate::cost::{Cost, CHAT_SHAPE, READ_PRICE, WRITE_PRICE};
use crate::harness::{Row, Side, MAX_RUNS_FACTOR, ROW_BUDGET};

/// Every operation within this factor of its bare twin; every cold start of the bare function.
const TARGET_RATIO: f64 = 1.2;

fn ms(time: Duration) -> String {
    let ms = time.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "✅"
    } else {
        "❌ missed"
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("—".into(), |kib| {
        format!("{:.1} MiB", kib as f64 / 1024.0)
    })
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

/// What a row must meet beyond the ratio, from the rows around it.
fn extra_target(row: &Row, rows: &[Row]) -> Option<String> {
    let bare = row.bare.as_ref()?;
    if row.name.starts_with("list") {
        // The twin reads the job and the head together, then one Query per 1 MB page.
        let pages = bare.requests.saturating_sub(1);
        let ok = row.ours.requests == 1 + pages;
        let why = if ok {
            String::new()
        } else {
            format!(" (ours {})", row.ours.requests)
        };
        return Some(format!("1 + {pages} pages: {}{why}", met(ok)));
    }
    if row.name.starts_with("follow: idle") {
        // A poll that finds nothing new: one request, no message read.
        let ok = row.ours.requests == 1;
        return Some(format!("1 request: {}", met(ok)));
    }
    if row.name == "clear 10,000 messages" {
        // DynamoDB Local's writes slow down as a partition grows (DynamoDB's do not), so the
        // growth that counts is ours beyond the twin's, on chats of the same sizes.
        let small = rows.iter().find(|r| r.name == "clear 100 messages")?;
        let small_bare = small.bare.as_ref()?;
        let growth = row.ours.median.as_secs_f64() / small.ours.median.as_secs_f64();
        let floor = bare.median.as_secs_f64() / small_bare.median.as_secs_f64();
        let same_work =
            row.ours.requests == small.ours.requests && row.ours.units == small.ours.units;
        return Some(format!(
            "constant: {} requests, {} units, as for 100; time {growth:.2}× the 100-message \
             clear's, bare {floor:.2}×: {}",
            row.ours.requests,
            row.ours.units,
            met(same_work && growth <= floor * TARGET_RATIO)
        ));
    }
    None
}

fn counts(side: &Side) -> (String, String) {
    (side.requests.to_string(), format!("{:.1}", side.units))
}

pub fn print(rows: &[Row], cold: &Result<ColdStarts, String>, runs: usize) {
    println!();
    println!(
        "| measure | ours | bare | ours / bare | requests ours (bare) | capacity units ours (bare) | targets |"
    );
    println!("|---|---|---|---|---|---|---|");
    let (mut met_count, mut total) = (0, 0);
    let mut tally = |ok: bool| {
        total += 1;
        if ok {
            met_count += 1;
        }
        met(ok)
    };
    for row in rows {
        let (requests, units) = counts(&row.ours);
        let Some(bare) = &row.bare else {
            println!(
                "| {} | {} | — | — | {requests} | {units} | {} |",
                row.name,
                ms(row.ours.median),
                row.note
            );
            continue;
        };
        let (bare_requests, bare_units) = counts(bare);
        let ratio = row.ours.median.as_secs_f64() / bare.median.as_secs_f64();
        let mut targets = format!("≤ {TARGET_RATIO}×: {}", tally(ratio <= TARGET_RATIO));
        if let Some(extra) = extra_target(row, rows) {
            let ok = extra.ends_with('✅');
            tally(ok);
            targets.push_str("; ");
            targets.push_str(&extra);
        }
        println!(
            "| {} | {} | {} | {ratio:.2} | {requests} ({bare_requests}) | {units} ({bare_units}) | {targets} |",
            row.name,
            ms(row.ours.median),
            ms(bare.median),
        );
    }
    match cold {
        Err(why) => println!("| cold starts | {why} | | | | | |"),
        Ok(ColdStarts { functions, .. }) => {
            let bare = functions.iter().find(|f| f.name == "bare");
            for f in functions.iter().filter(|f| f.name != "bare") {
                let Some(bare) = bare else { break };
                let ratio = f.cold_ms / bare.cold_ms;
                let first = |f: &Function| {
                    f.first_answer_ms
                        .map_or("—".into(), |m| format!("{m:.1} ms"))
                };
                println!(
                    "| **{}** cold start (spawn → first /next; first answer) | {:.1} ms; {} | {:.1} ms; {} | {ratio:.2} | | | ≤ {TARGET_RATIO}×: {} |",
                    f.name,
                    f.cold_ms,
                    first(f),
                    bare.cold_ms,
                    first(bare),
                    tally(ratio <= TARGET_RATIO)
                );
                let warm = |f: &Function| f.warm_ms.map_or("—".into(), |m| format!("{m:.2} ms"));
                let warm_ratio = match (f.warm_ms, bare.warm_ms) {
                    (Some(ours), Some(floor)) if f.name.ends_with("list") => {
                        format!("{:.2}", ours / floor)
                    }
                    _ => "—".into(),
                };
                println!(
                    "| {} warm (its events/ event; bare: list) | {} | {} | {warm_ratio} | | | |",
                    f.name,
                    warm(f),
                    warm(bare)
                );
                println!(
                    "| {} peak RSS · stripped size x86_64 · arm64 | {} · {} · {} | {} · {} · — | {} | | | |",
                    f.name,
                    mib(f.rss_kib),
                    mb(f.bytes),
                    f.arm64_bytes.map_or("—".into(), mb),
                    mib(bare.rss_kib),
                    mb(bare.bytes),
                    match (f.rss_kib, bare.rss_kib) {
                        (Some(ours), Some(floor)) => format!("{:.2}", ours as f64 / floor as f64),
                        _ => "—".into(),
                    }
                );
            }
        }
    }
    println!();
    println!(
        "Targets met: {met_count} of {total}. Medians of {runs} timed runs per side, ours and bare \
         alternating (of more for fast operations: as many as fit in {:.1} s, up to {}); requests \
         and units from one more run, counted by the production client's meter.",
        ROW_BUDGET.as_secs_f64(),
        runs * MAX_RUNS_FACTOR
    );
    if let Ok(cold) = cold {
        println!();
        println!("{}", arm64_note(&cold.arm64));
    }
}

/// Where the arm64 sizes come from: building them here would be a second release build of the
/// six functions for another target, longer than this whole command.
fn arm64_note(state: &str) -> &'static str {
    match state {
        "current" => "arm64: the bootstraps `make build` made of this very code (.aws-sam/build).",
        "stale" => {
            "arm64: not shown: `make build`'s bootstraps are of other code; `make build bench` \
             builds them anew first (7 to 11 minutes more here)."
        }
        _ => {
            "arm64: not built; `make build bench` builds them first (7 to 11 minutes more \
             here)."
        }
    }
}

pub fn print_costs(replies: &[Cost], chat: &Cost) {
    println!();
    println!(
        "Cost at on-demand prices (us-east-1: ${WRITE_PRICE} per million write request units, \
         ${READ_PRICE} per million read request units; transactional writes counted twice as AWS does)"
    );
    println!();
    println!("| work | requests | units (DynamoDB Local) | AWS read units | AWS write units | $ per million |");
    println!("|---|---|---|---|---|---|");
    for cost in replies.iter().chain(std::iter::once(chat)) {
        let (read, write) = cost.aws_units();
        println!(
            "| {} | {} | {:.1} | {read:.1} | {write:.1} | {:.2} |",
            cost.name,
            cost.requests,
            cost.local_units,
            cost.dollars_per_million()
        );
    }
    println!();
    println!("One chat: {CHAT_SHAPE}.");
}
