//! Figure 3: load + validate + diff + render without network. Each size runs
//! in a child process (this binary re-executed) so that its peak RSS (VmHWM)
//! belongs to that size alone.

use htapsync::check::{GateReport, TableVerdict, TaskVerdict};
use htapsync::plan::Plan;
use htapsync::render::{self, Style};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The environment variable that turns this binary into a figure-3 child.
pub const CHILD_ENV: &str = "HTAPSYNC_BENCH_LOCAL_DIR";

/// What one size measured.
#[derive(Debug, Clone, Copy)]
pub struct LocalRun {
    pub load: Duration,
    pub diff: Duration,
    pub render: Duration,
    /// Peak resident set of the child, and its resident set before any work.
    pub peak_kb: u64,
    pub base_kb: u64,
    pub output_bytes: usize,
}

impl LocalRun {
    pub fn total(&self) -> Duration {
        self.load + self.diff + self.render
    }
}

/// Runs in the child: measures one configuration directory and prints one line.
pub fn child(dir: &Path) -> Result<(), String> {
    let base_kb = status_kb("VmHWM").unwrap_or(0);
    let t0 = Instant::now();
    let loaded = htapsync::config::load_dir(dir).map_err(|d| d.to_string())?;
    let load = t0.elapsed();
    let t1 = Instant::now();
    let plan = htapsync::plan::diff(&loaded.desired.tasks, &BTreeMap::new(), &[])
        .map_err(|e| e.to_string())?;
    let diff = t1.elapsed();
    // The verdicts the gate would have returned: built outside the timings.
    let gate = passing_gate(&plan);
    let t2 = Instant::now();
    let text = render::plan_human(&plan, Some(&gate), &[], &Style { color: false });
    let render = t2.elapsed();
    let output_bytes = black_box(text.len());
    let peak_kb = status_kb("VmHWM").unwrap_or(0);
    println!(
        "LOCAL {} {} {} {peak_kb} {base_kb} {output_bytes}",
        load.as_nanos(),
        diff.as_nanos(),
        render.as_nanos()
    );
    Ok(())
}

/// Runs the child for `dir` and parses its line.
pub fn measure(dir: &Path) -> Result<LocalRun, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env(CHILD_ENV, dir)
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("LOCAL "))
        .ok_or_else(|| {
            format!(
                "local child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let n: Vec<u64> = line
        .split_whitespace()
        .map(|f| {
            f.parse()
                .map_err(|e| format!("bad child output {line:?}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let [load, diff, render, peak_kb, base_kb, output_bytes] = n[..] else {
        return Err(format!("bad child output {line:?}"));
    };
    Ok(LocalRun {
        load: Duration::from_nanos(load),
        diff: Duration::from_nanos(diff),
        render: Duration::from_nanos(render),
        peak_kb,
        base_kb,
        output_bytes: output_bytes as usize,
    })
}

fn passing_gate(plan: &Plan) -> GateReport {
    let verdicts = plan
        .actionable()
        .filter_map(|c| {
            let spec = c.after.as_ref()?;
            let tables = spec
                .table_configs
                .iter()
                .map(|(table, config)| TableVerdict {
                    table: table.clone(),
                    config: config.clone(),
                    result: "success".to_string(),
                    passed: true,
                    hint: None,
                })
                .collect();
            let verdict = TaskVerdict {
                address: c.address.clone(),
                tables,
                params: Vec::new(),
                error: None,
            };
            Some((c.address.clone(), verdict))
        })
        .collect();
    GateReport {
        verdicts,
        ..GateReport::default()
    }
}

/// A `kB` field of /proc/self/status (Linux).
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
