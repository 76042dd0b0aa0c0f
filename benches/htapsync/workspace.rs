//! Generated workspaces: a configuration directory of N tasks × 10 tables and
//! the emulator's cloud file (one source database whose tables every task replicates).

use std::fmt::Write as _;
use std::io;
use std::path::Path;

pub const PROJECT_ID: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
pub const HTAP_ID: &str = "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17";
pub const SOURCE_ID: &str = "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07";
pub const TABLES_PER_TASK: usize = 10;
/// Tasks per generated `*.toml` file (a realistic split; one file would do too).
const TASKS_PER_FILE: usize = 100;

/// Writes `htapsync.toml` (provider, defaults), `tasks_NNNN.toml` files with
/// `tasks` tasks, and `cloud/` (cloud file + DDL) into `dir`.
pub fn generate(dir: &Path, tasks: usize) -> io::Result<()> {
    let cloud = dir.join("cloud");
    std::fs::create_dir_all(cloud.join("ddl"))?;
    std::fs::write(cloud.join("cloud.toml"), cloud_file())?;
    std::fs::write(cloud.join("ddl").join("bench.sql"), ddl())?;
    std::fs::write(dir.join("htapsync.toml"), header())?;
    for (file, start) in (0..tasks).step_by(TASKS_PER_FILE).enumerate() {
        let mut text = String::new();
        for i in start..(start + TASKS_PER_FILE).min(tasks) {
            task_block(&mut text, i);
        }
        std::fs::write(dir.join(format!("tasks_{file:04}.toml")), text)?;
    }
    Ok(())
}

/// Points the workspace in `dir` at the emulator listening at `url` instead
/// of the embedded one (the whole-process figure runs it as its own process).
pub fn point_at(dir: &Path, url: &str) -> io::Result<()> {
    let path = dir.join("htapsync.toml");
    let text = std::fs::read_to_string(&path)?;
    // `emulator_cloud` is allowed only with the embedded emulator.
    let pointed: String = text
        .lines()
        .filter(|l| !l.starts_with("emulator_cloud"))
        .map(|l| match l {
            "endpoint = \"embedded\"" => format!("endpoint = \"{url}\"\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(path, pointed)
}

fn header() -> String {
    format!(
        "[provider]\nproject_id = \"{PROJECT_ID}\"\nendpoint = \"embedded\"\n\
         region = \"ap-southeast-1\"\nemulator_cloud = \"cloud/cloud.toml\"\n\n\
         [state]\npath = \".htapsync/htapsync.state.json\"\n\n\
         [defaults]\ninstance_id = \"{HTAP_ID}\"\nsource_instance_id = \"{SOURCE_ID}\"\n\
         source_database_name = \"bench\"\n\n\
         [defaults.db_configs]\nsync_commit_interval_ms = 5000\n"
    )
}

fn task_block(out: &mut String, i: usize) {
    let tables: Vec<String> = (0..TABLES_PER_TASK).map(|t| format!("\"t{t}\"")).collect();
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "\n[task.task_{i:06}]\ntarget_database_name = \"olap_{i:06}\"\nrepl_scope = \"part\"\n\
         tables = [{}]\n\n[task.task_{i:06}.table_configs]\n",
        tables.join(", ")
    );
    for t in 0..TABLES_PER_TASK {
        let _ = writeln!(out, "t{t} = \"order by id\"");
    }
}

fn cloud_file() -> String {
    format!(
        "project_id = \"{PROJECT_ID}\"\n\n[[htap_instance]]\nid = \"{HTAP_ID}\"\nname = \"htap-bench\"\n\n\
         [[source_instance]]\nid = \"{SOURCE_ID}\"\nname = \"taurus-bench\"\nddl = [\"ddl/bench.sql\"]\n"
    )
}

fn ddl() -> String {
    let mut sql = String::from("CREATE DATABASE bench;\nUSE bench;\n");
    for t in 0..TABLES_PER_TASK {
        let _ = writeln!(
            sql,
            "CREATE TABLE t{t} (\n  id BIGINT NOT NULL,\n  v VARCHAR(64) NOT NULL,\n  PRIMARY KEY (id)\n);"
        );
    }
    sql
}
