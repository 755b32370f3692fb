//! Cold start, warm latency, peak memory and size of each function next to the bare one
//! (src/bin/bare.rs), by scripts/cold-start.py: the binaries built beside this one, each a
//! real process on an emulated Lambda Runtime API, serving events/ on DynamoDB Local.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::Harness;

/// The functions, in the order the script interleaves them: `bare`, the floor, then the
/// workspace's default members — Cargo.toml's `default-members`, the one list of the functions
/// (scripts/functions.sh reads it too) — each binary named like its directory.
fn functions() -> Vec<&'static str> {
    const CARGO_TOML: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"));
    let members = CARGO_TOML
        .split_once("\ndefault-members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(members, _)| members)
        .expect("Cargo.toml has default-members = [...]");
    let names = members.lines().filter_map(|line| {
        let path = line.split('#').next()?.trim().trim_end_matches(',');
        let path = path.trim_matches('"');
        (!path.is_empty()).then(|| path.rsplit('/').next().unwrap_or(path))
    });
    std::iter::once("bare").chain(names).collect()
}

/// What scripts/cold-start.py measured, and whether the arm64 sizes it read are of this code.
pub struct ColdStarts {
    pub functions: Vec<Function>,
    /// "current", "stale" or "missing": `make build`'s bootstraps against this code.
    pub arm64: String,
}

pub struct Function {
    pub name: String,
    pub cold_ms: f64,
    pub first_answer_ms: Option<f64>,
    pub warm_ms: Option<f64>,
    pub rss_kib: Option<u64>,
    pub bytes: u64,
    pub arm64_bytes: Option<u64>,
}

/// The demo job of events/, with 40 messages, and a job for the clear function's event; both
/// owned by the events' caller, as the bench's other jobs are.
async fn event_jobs(h: &Harness) -> String {
    let deps = h.ours();
    let (client, jobs) = (deps.store.client(), deps.store.jobs_table());
    let demo = setup::DEMO_JOB_ID;
    setup::put_job(client, jobs, demo, setup::DEMO_OWNER, &[])
        .await
        .expect("demo job");
    crate::seed::fill(deps, demo, 40, crate::seed::LISTED_BYTES).await;
    h.new_job().await
}

/// The binaries are the ones built beside this one; those missing are left out.
/// `BENCH_BINARIES` names others: a directory to take them from, or paths separated by `:`, e.g.
/// one function built with several release profiles, next to `bare`.
pub async fn run(h: &Harness) -> Result<ColdStarts, String> {
    let from_dir =
        |dir: &Path| -> Vec<PathBuf> { functions().iter().map(|name| dir.join(name)).collect() };
    let binaries: Vec<PathBuf> = match std::env::var_os("BENCH_BINARIES") {
        Some(named) if Path::new(&named).is_dir() => from_dir(Path::new(&named)),
        Some(named) => std::env::split_paths(&named).collect(),
        None => {
            let exe = std::env::current_exe().map_err(|err| format!("no current exe: {err}"))?;
            from_dir(exe.parent().ok_or("cannot tell where the binaries are")?)
        }
    };
    let binaries: Vec<PathBuf> = binaries.into_iter().filter(|p| p.is_file()).collect();
    if binaries.len() < 2 {
        return Err("the functions are not built".into());
    }
    let clear_job = event_jobs(h).await;
    let store = &h.ours().store;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cold-start.py");
    let output = Command::new("python3")
        .arg(script)
        .arg("--json")
        .args(["--endpoint", &crate::harness::endpoint()])
        .args(["--messages-table", store.messages_table()])
        .args(["--jobs-table", store.jobs_table()])
        .args(["--job", setup::DEMO_JOB_ID])
        .args(["--clear-job", &clear_job])
        .args(&binaries)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| format!("cannot run scripts/cold-start.py: {err}"))?;
    if !output.status.success() {
        return Err(format!("scripts/cold-start.py failed ({})", output.status));
    }
    let answer: Value = serde_json::from_slice(&output.stdout)
        .map_err(|err| format!("scripts/cold-start.py printed no JSON: {err}"))?;
    let functions = answer["functions"].as_array().cloned().unwrap_or_default();
    let functions = functions
        .iter()
        .map(|f| Function {
            name: f["name"].as_str().unwrap_or("?").to_owned(),
            cold_ms: f["cold_ms"].as_f64().unwrap_or(f64::NAN),
            first_answer_ms: f["first_answer_ms"].as_f64(),
            warm_ms: f["warm_ms"].as_f64(),
            rss_kib: f["rss_kib"].as_u64(),
            bytes: f["bytes"].as_u64().unwrap_or(0),
            arm64_bytes: f["arm64_bytes"].as_u64(),
        })
        .collect();
    Ok(ColdStarts {
        functions,
        arm64: answer["arm64"].as_str().unwrap_or("missing").to_owned(),
    })
}
