//! Figure 6: `plan` as a whole process, as a user or CI runs it: the real
//! release binary from spawn to exit (process start, configuration load,
//! state read, the gate, render) against `htapsync emulator --latency-ms 20`
//! running as a separate process, `--parallelism 32`, refresh left at its
//! default. The floor is ceil(N / 32) × L: one latency per task and wave.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The release binary cargo built beside this bench.
const BIN: &str = env!("CARGO_BIN_EXE_htapsync");
/// `--parallelism` of the measured plan.
pub const PARALLELISM: usize = 32;
/// Measured runs after one warm-up run; the median is the figure.
const RUNS: usize = 7;

/// What the whole-process runs measured.
#[derive(Debug, Clone)]
pub struct ProcessRun {
    pub tasks: usize,
    /// Wall time of each `plan` run, sorted.
    pub walls: Vec<Duration>,
    /// Median wall time of `validate` (process start + load + validation).
    pub validate: Duration,
    /// Requests the emulator received per `plan` run.
    pub requests: u64,
}

impl ProcessRun {
    pub fn median(&self) -> Duration {
        self.walls[self.walls.len() / 2]
    }

    pub fn floor(&self, latency: Duration) -> Duration {
        let waves = self.tasks.div_ceil(PARALLELISM);
        latency * u32::try_from(waves).unwrap_or(u32::MAX)
    }

    pub fn ratio(&self, latency: Duration) -> f64 {
        self.median().as_secs_f64() / self.floor(latency).as_secs_f64()
    }
}

/// `htapsync emulator` as a child process; killed when dropped.
struct EmulatorProcess {
    child: Child,
    addr: String,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_emulator(cloud: &Path, latency: Duration) -> Result<EmulatorProcess, String> {
    let mut child = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0", "--cloud"])
        .arg(cloud)
        .args(["--latency-ms", &latency.as_millis().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the emulator: {e}"))?;
    let stdout = child.stdout.take().ok_or("no emulator stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .rsplit_once("http://")
        .map(|(_, a)| a.to_string())
        .ok_or_else(|| format!("unexpected emulator announcement {line:?}"))?;
    Ok(EmulatorProcess { child, addr })
}

/// The emulator's request counter (`GET /_emulator/stats`, no latency).
fn requests_served(addr: &str) -> Result<u64, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /_emulator/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .ok_or("no stats body")?;
    let stats: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    stats["requests"]
        .as_u64()
        .ok_or_else(|| format!("no request count in {body}"))
}

/// Runs `htapsync -C dir ARGS` to its exit; its wall time.
fn timed(dir: &Path, args: &[&str]) -> Result<Duration, String> {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("HTAPSYNC_TOKEN", "bench-token")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    let wall = started.elapsed();
    if !out.status.success() {
        return Err(format!(
            "htapsync {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(wall)
}

fn median(mut walls: Vec<Duration>) -> Duration {
    walls.sort();
    walls[walls.len() / 2]
}

/// Measures `plan --parallelism 32` of the `tasks`-task workspace in `dir`.
pub fn measure(dir: &Path, tasks: usize, latency: Duration) -> Result<ProcessRun, String> {
    let emulator = start_emulator(&dir.join("cloud/cloud.toml"), latency)?;
    crate::workspace::point_at(dir, &format!("http://{}", emulator.addr))
        .map_err(|e| e.to_string())?;
    let parallelism = PARALLELISM.to_string();
    let plan = ["plan", "--parallelism", parallelism.as_str()];
    timed(dir, &plan)?; // warm-up: page cache, emulator connections
    let before = requests_served(&emulator.addr)?;
    let mut walls = (0..RUNS)
        .map(|_| timed(dir, &plan))
        .collect::<Result<Vec<_>, _>>()?;
    let requests = (requests_served(&emulator.addr)? - before) / RUNS as u64;
    walls.sort();
    let validate = median(
        (0..RUNS)
            .map(|_| timed(dir, &["validate"]))
            .collect::<Result<Vec<_>, _>>()?,
    );
    Ok(ProcessRun {
        tasks,
        walls,
        validate,
        requests,
    })
}
