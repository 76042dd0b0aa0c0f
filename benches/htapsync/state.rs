//! Figure 4: the atomic, fsynced write of a 10k-task state, through the local
//! backend (as `apply` does it) and through `write_atomic` alone.

use htapsync::model::DesiredTask;
use htapsync::state::{Backend, LocalBackend, State, TaskRecord, decode, encode, write_atomic};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the figure-4 writes measured.
#[derive(Debug, Clone, Copy)]
pub struct StateRun {
    pub tasks: usize,
    /// `LocalBackend::write` when the file does not exist yet.
    pub first_write: Duration,
    /// `LocalBackend::write` replacing the state it wrote itself (stat,
    /// encode, round-trip decode, write): what every apply step pays.
    pub overwrite: Duration,
    /// `LocalBackend::write` of a new run over an existing file (read and
    /// decode it, keep it as the backup, write): once per command.
    pub first_overwrite: Duration,
    /// `encode` alone and `decode` alone.
    pub encode: Duration,
    pub decode: Duration,
    /// `encode` + `write_atomic` (temp, fsync, rename, dir fsync) alone.
    pub atomic_only: Duration,
    pub bytes: u64,
}

pub fn measure(desired: &BTreeMap<String, DesiredTask>) -> Result<StateRun, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("htapsync.state.json");
    let mut state = State::new();
    for (name, task) in desired {
        let record = TaskRecord {
            spec: task.spec.clone(),
            prevent_destroy: false,
            updated_at: "2026-01-01T00:00:00+00:00".to_string(),
        };
        state.tasks.insert(name.clone(), record);
    }
    let backend = LocalBackend::new(path.clone());
    let t0 = Instant::now();
    backend.write(&mut state).map_err(|e| e.to_string())?;
    let first_write = t0.elapsed();
    // One task changes, as after one apply operation.
    if let Some(record) = state.tasks.values_mut().next() {
        record.spec.paused = !record.spec.paused;
    }
    let t1 = Instant::now();
    backend.write(&mut state).map_err(|e| e.to_string())?;
    let overwrite = t1.elapsed();
    let t2 = Instant::now();
    let bytes = encode(&state);
    write_atomic(&dir.path().join("plain.json"), &bytes).map_err(|e| e.to_string())?;
    let atomic_only = t2.elapsed();
    let t3 = Instant::now();
    decode(&bytes, &path).map_err(|e| e.to_string())?;
    let decode_time = t3.elapsed();
    let t4 = Instant::now();
    let bytes = encode(&state);
    let encode_time = t4.elapsed();
    drop(bytes);
    if let Some(record) = state.tasks.values_mut().next() {
        record.spec.paused = !record.spec.paused;
    }
    let t5 = Instant::now();
    LocalBackend::new(path.clone())
        .write(&mut state)
        .map_err(|e| e.to_string())?;
    let first_overwrite = t5.elapsed();
    let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
    Ok(StateRun {
        tasks: state.tasks.len(),
        first_write,
        overwrite,
        first_overwrite,
        encode: encode_time,
        decode: decode_time,
        atomic_only,
        bytes: size,
    })
}
