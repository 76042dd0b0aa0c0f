//! Figure 8: `plan` of one task whose table pattern expands to 10,000 source
//! tables, as a user runs it: the real release binary from spawn to exit
//! against the embedded emulator (no injected latency). The plan lists the
//! source database once (E14, paged), shows what the pattern matches and
//! runs the gate over every matched table. Target: within 2 s.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The release binary cargo built beside this bench.
const BIN: &str = env!("CARGO_BIN_EXE_htapsync");
/// Source tables the pattern matches.
pub const TABLES: usize = 10_000;
/// Measured runs after one warm-up run; the median is the figure.
const RUNS: usize = 5;
pub const TARGET: Duration = Duration::from_secs(2);

/// What the runs measured.
#[derive(Debug, Clone)]
pub struct PatternRun {
    /// Wall time of each `plan` run, sorted.
    pub walls: Vec<Duration>,
}

impl PatternRun {
    pub fn median(&self) -> Duration {
        self.walls[self.walls.len() / 2]
    }
}

/// Writes a configuration directory with one pattern task over a source
/// database of [`TABLES`] shards, on the embedded emulator.
fn generate(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("cloud"))?;
    let mut ddl = String::from("CREATE DATABASE shop;\nUSE shop;\n");
    for i in 0..TABLES {
        ddl.push_str(&format!(
            "CREATE TABLE orders_{i:05} (id BIGINT NOT NULL, placed_at DATETIME NOT NULL, PRIMARY KEY (id));\n"
        ));
    }
    std::fs::write(dir.join("cloud/shop.sql"), ddl)?;
    std::fs::write(
        dir.join("cloud/cloud.toml"),
        "project_id = \"0f1e2d3c4b5a69788796a5b4c3d2e1f0\"\n\n\
         [[htap_instance]]\nid = \"6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17\"\nname = \"htap\"\n\n\
         [[source_instance]]\nid = \"3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07\"\nname = \"taurus\"\nddl = [\"shop.sql\"]\n",
    )?;
    std::fs::write(
        dir.join("htapsync.toml"),
        "[provider]\nproject_id = \"0f1e2d3c4b5a69788796a5b4c3d2e1f0\"\nendpoint = \"embedded\"\n\
         region = \"ap-southeast-1\"\nemulator_cloud = \"cloud/cloud.toml\"\n\n\
         [task.orders_shards]\ninstance_id = \"6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17\"\n\
         source_instance_id = \"3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07\"\nsource_database_name = \"shop\"\n\
         table_patterns = true\ntables = [\"orders_*\"]\n\n\
         [task.orders_shards.table_configs]\n\"orders_*\" = \"order by id\"\n",
    )
}

fn plan(dir: &Path) -> Result<(Duration, String), String> {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("-C")
        .arg(dir)
        .args(["plan", "--no-color"])
        .env_remove("HTAPSYNC_TOKEN")
        .output()
        .map_err(|e| format!("running plan: {e}"))?;
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "plan failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((wall, stdout))
}

pub fn measure(root: &Path) -> Result<PatternRun, String> {
    let dir = root.join("patterns");
    generate(&dir).map_err(|e| e.to_string())?;
    let (_, warm) = plan(&dir)?;
    let expected = format!("matches {TABLES} tables of shop");
    if !warm.contains(&expected) {
        return Err(format!("the plan does not show the expansion: {warm}"));
    }
    let mut walls = Vec::new();
    for _ in 0..RUNS {
        walls.push(plan(&dir)?.0);
    }
    walls.sort();
    Ok(PatternRun { walls })
}
