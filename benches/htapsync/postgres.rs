//! Figure 7 (issue 12): state in PostgreSQL. The apply of figure 2 with the
//! state in a throwaway PostgreSQL server on this machine, and the cost a
//! no-change run pays for shared state: connect, lock, read and an unchanged
//! write of a 1,000-task state, then release.

#[path = "../../tests/support/postgres.rs"]
#[allow(dead_code)]
mod server;

use htapsync::state::{PgStore, State, Store};
use std::time::{Duration, Instant};

pub use server::PgServer;

/// A server and a fresh database in it; `None` without PostgreSQL binaries.
pub fn start() -> Option<(PgServer, String)> {
    let server = PgServer::start("bench figure 7")?;
    let db = server.database("bench");
    Some((server, db))
}

/// The store of `db`.
pub fn connect(server: &PgServer, db: &str) -> Result<PgStore, String> {
    PgStore::connect_with(&server.settings(db), "htapsync", 20).map_err(|e| e.to_string())
}

/// Medians of what a no-change run pays with `state` in the workspace:
/// (connect + lock + read + unchanged write + release, the same without connect).
pub fn overhead(
    server: &PgServer,
    db: &str,
    state: &State,
) -> Result<(Duration, Duration), String> {
    let store = connect(server, db)?;
    let backend = store.open("overhead").map_err(|e| e.to_string())?;
    let mut seeded = state.clone();
    backend.write(&mut seeded).map_err(|e| e.to_string())?;
    drop((backend, store));
    let (mut whole, mut without_connect) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let started = Instant::now();
        let store = connect(server, db)?;
        let backend = store.open("overhead").map_err(|e| e.to_string())?;
        let connected = started.elapsed();
        let lock = backend
            .lock("plan", Duration::ZERO)
            .map_err(|e| e.to_string())?;
        let mut read = backend
            .read()
            .map_err(|e| e.to_string())?
            .ok_or("no state")?;
        backend.write(&mut read).map_err(|e| e.to_string())?;
        drop(lock);
        let total = started.elapsed();
        whole.push(total);
        without_connect.push(total - connected);
    }
    Ok((median(whole), median(without_connect)))
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}
