//! Serialises state updates from concurrent operations: each update is applied
//! to the in-memory state and persisted before the operation goes on.

use crate::state::{Backend, State, StateError};
use std::sync::{Arc, Mutex};

/// The state of a run and the backend it is persisted to.
pub struct Recorder {
    backend: Arc<dyn Backend>,
    state: Mutex<State>,
}

impl Recorder {
    pub fn new(backend: Arc<dyn Backend>, state: State) -> Recorder {
        Recorder {
            backend,
            state: Mutex::new(state),
        }
    }

    /// Applies `change` and persists the result durably before returning.
    /// Writes are serialised: at most one is in flight.
    pub fn update(&self, change: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut state);
        self.backend.write(&mut state)
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> State {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
