//! Property: whatever sequence of changes a run makes, every write leaves a
//! file that is exactly `encode(state)` and decodes to the state written.
//! Guards the incremental encoder of the local backend.

mod support;

use htapsync::state::{Backend, LocalBackend, State, TaskRecord, decode, encode};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Upsert {
        task: u8,
        tables: u8,
    },
    Remove {
        task: u8,
    },
    Pause {
        task: u8,
    },
    /// The next command starts: a new backend over the same file.
    NewRun,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 0u8..4).prop_map(|(task, tables)| Op::Upsert { task, tables }),
        (0u8..6).prop_map(|task| Op::Remove { task }),
        (0u8..6).prop_map(|task| Op::Pause { task }),
        Just(Op::NewRun),
    ]
}

fn record(task: u8, tables: u8) -> TaskRecord {
    TaskRecord {
        spec: support::spec(&format!("task_{task}"))
            .tables((0..=tables).map(|t| format!("t{t}")))
            .build(),
        prevent_destroy: false,
        updated_at: String::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn every_write_is_the_full_encoding(ops in prop::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut backend = LocalBackend::new(path.clone());
        let mut state = State::new();
        for op in ops {
            match op {
                Op::NewRun => {
                    backend = LocalBackend::new(path.clone());
                    if let Some(read) = backend.read().unwrap() {
                        prop_assert_eq!(&read, &state);
                        state = read;
                    }
                    continue;
                }
                Op::Upsert { task, tables } => {
                    state.tasks.insert(format!("task_{task}"), record(task, tables));
                }
                Op::Remove { task } => {
                    state.tasks.remove(&format!("task_{task}"));
                }
                Op::Pause { task } => {
                    if let Some(r) = state.tasks.get_mut(&format!("task_{task}")) {
                        r.spec.paused = !r.spec.paused;
                    }
                }
            }
            backend.write(&mut state).unwrap();
            if let Ok(bytes) = std::fs::read(&path) {
                prop_assert_eq!(&bytes, &encode(&state));
                prop_assert_eq!(decode(&bytes, &path).unwrap(), state.clone());
            }
        }
        // A fresh backend (the next run) reads exactly what was written.
        if path.exists() {
            prop_assert_eq!(LocalBackend::new(path.clone()).read().unwrap(), Some(state));
        }
    }
}
