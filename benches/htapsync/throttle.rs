//! Figure 8: a run under the gateway's rate limit (issue 16). The release
//! binary applies N new tasks, then plans them again (no change), as whole
//! processes against `htapsync emulator --rate-limit 20` with 1 ms lifecycle
//! steps and jobs, `--parallelism 32`. htapsync starts unlimited and paces
//! itself once throttled, so the figures are the share of requests answered
//! 429 (target at most 2 %) and the wall time against requests ÷ limit, the
//! fastest any client can be (target at most 1.2×).
//! `HTAPSYNC_BENCH_ONLY=8` runs it alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_htapsync");
/// The emulator's `--rate-limit`.
pub const LIMIT: u32 = 20;
const PARALLELISM: &str = "32";

/// One measured command.
#[derive(Debug, Clone)]
pub struct Run {
    pub command: &'static str,
    pub wall: Duration,
    /// Requests the emulator received, refused ones included.
    pub requests: u64,
    /// Of them, answered 429 by the rate limit.
    pub limited: u64,
}

impl Run {
    /// requests ÷ limit: the wall time of a client that never exceeds the limit nor idles.
    pub fn floor(&self) -> Duration {
        Duration::from_secs_f64(self.requests as f64 / f64::from(LIMIT))
    }

    pub fn ratio(&self) -> f64 {
        self.wall.as_secs_f64() / self.floor().as_secs_f64()
    }

    pub fn refused_share(&self) -> f64 {
        self.limited as f64 / self.requests.max(1) as f64
    }
}

struct Emulator {
    child: Child,
    addr: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_emulator(cloud: &Path) -> Result<Emulator, String> {
    let mut child = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0", "--cloud"])
        .arg(cloud)
        .args(["--rate-limit", &LIMIT.to_string()])
        .args(["--stage-ms", "1", "--job-ms", "1"])
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
    Ok(Emulator { child, addr })
}

/// (requests, rate_limited) of `GET /_emulator/stats`.
fn counters(addr: &str) -> Result<(u64, u64), String> {
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
    let count = |name: &str| {
        stats[name]
            .as_u64()
            .ok_or_else(|| format!("no {name} in {body}"))
    };
    Ok((count("requests")?, count("rate_limited")?))
}

/// Runs `htapsync -C dir ARGS` once, which must succeed in one go.
fn measured(
    emu: &Emulator,
    dir: &Path,
    command: &'static str,
    args: &[&str],
) -> Result<Run, String> {
    let before = counters(&emu.addr)?;
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
            "htapsync {args:?} did not complete in one run: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let after = counters(&emu.addr)?;
    Ok(Run {
        command,
        wall,
        requests: after.0 - before.0,
        limited: after.1 - before.1,
    })
}

/// Applies the `tasks`-task workspace in `dir` (generated, nothing created
/// yet), then plans it again with no change.
pub fn measure(dir: &Path) -> Result<Vec<Run>, String> {
    let emu = start_emulator(&dir.join("cloud/cloud.toml"))?;
    crate::workspace::point_at(dir, &format!("http://{}", emu.addr)).map_err(|e| e.to_string())?;
    let apply = measured(
        &emu,
        dir,
        "apply",
        &["apply", "--auto-approve", "--parallelism", PARALLELISM],
    )?;
    let plan = measured(
        &emu,
        dir,
        "plan (no change)",
        &["plan", "--detailed-exitcode", "--parallelism", PARALLELISM],
    )?;
    Ok(vec![apply, plan])
}
