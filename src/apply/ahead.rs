//! The intents of a run's creates and deletes, recorded ahead of their calls
//! a batch at a time: the first task of a batch that gets a slot writes the
//! batch (one write for its many intents) and starts writing the next one in
//! the background, so the tasks that follow find their intents already
//! durable and no slot waits on a state write. At most two batches are in
//! state ahead of the calls, which keeps every write of the run small.

use super::Recorder;
use crate::model::Address;
use crate::state::Intent;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::OnceCell;

/// The batches of one run.
pub(super) struct IntentsAhead {
    recorder: Arc<Recorder>,
    batches: Vec<Vec<Intent>>,
    /// Per batch: whether its write succeeded, once it has been tried.
    written: Vec<OnceCell<bool>>,
    /// Set on Ctrl-C: batches not yet written are not written at all.
    interrupted: Arc<AtomicBool>,
}

impl IntentsAhead {
    /// `intents` in the order their tasks take slots, cut into batches of
    /// `size`; returns each address's batch.
    pub fn new(
        recorder: Arc<Recorder>,
        intents: Vec<(Address, Intent)>,
        size: usize,
        interrupted: Arc<AtomicBool>,
    ) -> (Arc<IntentsAhead>, BTreeMap<Address, usize>) {
        let mut batch_of = BTreeMap::new();
        let mut batches: Vec<Vec<Intent>> = Vec::new();
        for (address, intent) in intents {
            // A replace's two intents go to the batch of its first.
            let k = *batch_of
                .entry(address)
                .or_insert_with(|| match batches.last() {
                    Some(last) if last.len() < size.max(1) => batches.len() - 1,
                    _ => batches.len(),
                });
            if k == batches.len() {
                batches.push(Vec::new());
            }
            batches[k].push(intent);
        }
        let written = batches.iter().map(|_| OnceCell::new()).collect();
        let ahead = IntentsAhead {
            recorder,
            batches,
            written,
            interrupted,
        };
        (Arc::new(ahead), batch_of)
    }

    /// Makes batch `k` durable (written by the first caller, awaited by the
    /// others) and starts writing batch `k + 1` (a no-op after a failed write:
    /// the recorder refuses every write after one). `false` when its write
    /// failed or the run was interrupted first: its intents are not in state,
    /// so none of its calls may be sent.
    pub async fn ensure(self: &Arc<Self>, k: usize) -> bool {
        let done = self.write(k).await;
        if k + 1 < self.batches.len() && !self.written[k + 1].initialized() {
            let ahead = self.clone();
            tokio::spawn(async move { ahead.write(k + 1).await });
        }
        done
    }

    async fn write(&self, k: usize) -> bool {
        *self.written[k]
            .get_or_init(|| async {
                if self.interrupted.load(Ordering::SeqCst) || self.recorder.stopped() {
                    return false;
                }
                let batch = self.batches[k].clone();
                self.recorder.update(|s| s.intents.extend(batch)).is_ok()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskSpec;
    use crate::state::{IntentOp, LocalBackend, State};

    fn intent(name: &str, operation: IntentOp) -> (Address, Intent) {
        let spec = TaskSpec::sample(name);
        let intent = Intent {
            id: format!("{name}-{operation:?}"),
            address: spec.address(),
            operation,
            spec,
            started_at: String::new(),
        };
        (intent.address.clone(), intent)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_keep_a_replace_together_and_are_written_once_with_the_next_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(LocalBackend::new(dir.path().join("s.json")));
        let recorder = Arc::new(Recorder::new(backend, State::new()));
        let intents = vec![
            intent("a", IntentOp::Create),
            intent("b", IntentOp::Delete),
            intent("b", IntentOp::Create),
            intent("c", IntentOp::Create),
            intent("d", IntentOp::Create),
        ];
        let interrupted = Arc::new(AtomicBool::new(false));
        let (ahead, batch_of) = IntentsAhead::new(recorder.clone(), intents, 2, interrupted);
        let batches: Vec<usize> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| batch_of[&Address::task(n)])
            .collect();
        assert_eq!(
            batches,
            [0, 0, 1, 1],
            "a replace's two intents share a batch"
        );
        assert!(ahead.ensure(0).await);
        assert!(
            ahead.ensure(0).await,
            "a second call waits for the same write"
        );
        // The next batch is written in the background.
        for _ in 0..200 {
            if recorder.snapshot().intents.len() == 5 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let ids: Vec<String> = recorder
            .snapshot()
            .intents
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(
            ids,
            ["a-Create", "b-Delete", "b-Create", "c-Create", "d-Create"]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_is_written_once_the_run_is_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(LocalBackend::new(dir.path().join("s.json")));
        let recorder = Arc::new(Recorder::new(backend, State::new()));
        let interrupted = Arc::new(AtomicBool::new(true));
        let intents = vec![intent("a", IntentOp::Create)];
        let (ahead, _) = IntentsAhead::new(recorder.clone(), intents, 2, interrupted);
        assert!(!ahead.ensure(0).await, "its calls may not be sent");
        assert!(recorder.snapshot().intents.is_empty());
    }
}
