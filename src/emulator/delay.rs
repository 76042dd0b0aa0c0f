//! The injected latency, kept to what was asked. tokio's timer rounds every
//! sleep up to its next millisecond tick and its driver wakes up to another
//! tick late, so `--latency-ms 20` answered after ≈ 21.4 ms (7 % more than
//! asked, on every request), which the benchmarks then counted against the
//! client. One thread per emulator waits on a condition variable until the
//! earliest deadline (a futex timeout, late by tens of microseconds) and wakes
//! the requests whose time has come; a request waits for its wake-up on a
//! oneshot channel, so no runtime worker is ever blocked.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::oneshot;

/// The latency clock of one emulator; its thread ends when this is dropped.
pub(crate) struct Delays {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
}

#[derive(Default)]
struct Queue {
    waiting: BinaryHeap<Waiting>,
    /// Set when the emulator is dropped: the thread ends.
    closed: bool,
}

/// A request waiting until `until`; ordered so that the heap's top is the earliest.
struct Waiting {
    until: Instant,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.until == other.until
    }
}

impl Eq for Waiting {}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> Ordering {
        other.until.cmp(&self.until)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent between any two statements; keep serving.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Delays {
    /// Starts the clock's thread.
    pub(crate) fn start() -> std::io::Result<Delays> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        });
        let clock = shared.clone();
        std::thread::Builder::new()
            .name("emulator-latency".into())
            .spawn(move || run(&clock))?;
        Ok(Delays { shared })
    }

    /// Waits `duration` from now: never less, and late by the scheduler's
    /// wake-up time only.
    #[cfg(test)]
    pub(crate) async fn sleep(&self, duration: std::time::Duration) {
        self.sleep_until(Instant::now() + duration).await
    }

    /// Waits until `until` (not at all once it has passed), late by the
    /// scheduler's wake-up time only.
    pub(crate) async fn sleep_until(&self, until: Instant) {
        if until <= Instant::now() {
            return;
        }
        let (wake, woken) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            let earliest = queue.waiting.peek().is_none_or(|first| until < first.until);
            queue.waiting.push(Waiting { until, wake });
            if earliest {
                self.shared.changed.notify_one();
            }
        }
        if woken.await.is_err() {
            // The clock is gone (only while the emulator is dropped): tokio's timer will do.
            tokio::time::sleep_until(until.into()).await;
        }
    }
}

impl Drop for Delays {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_one();
    }
}

/// The clock's thread: wakes every request whose deadline has passed, then
/// sleeps until the next deadline or a new earlier one.
fn run(shared: &Shared) {
    let mut queue = shared.lock();
    while !queue.closed {
        let now = Instant::now();
        while queue.waiting.peek().is_some_and(|first| first.until <= now) {
            if let Some(due) = queue.waiting.pop() {
                // The request may have gone (its client disconnected): nothing to wake.
                let _ = due.wake.send(());
            }
        }
        queue = match queue.waiting.peek().map(|first| first.until - now) {
            Some(left) => {
                shared
                    .changed
                    .wait_timeout(queue, left)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0
            }
            None => shared
                .changed
                .wait(queue)
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn every_sleep_lasts_at_least_its_duration_and_the_earliest_ends_first() {
        let delays = Arc::new(Delays::start().unwrap());
        let started = Instant::now();
        let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
        // Queued latest first, so each new one is the earliest deadline.
        for ms in [40u64, 30, 20, 10] {
            let (delays, done) = (delays.clone(), done.clone());
            tokio::spawn(async move {
                delays.sleep(Duration::from_millis(ms)).await;
                let _ = done.send((ms, started.elapsed()));
            });
        }
        drop(done);
        let mut order = Vec::new();
        while let Some((ms, elapsed)) = finished.recv().await {
            assert!(
                elapsed >= Duration::from_millis(ms),
                "{ms} ms ended after {elapsed:?}"
            );
            order.push(ms);
        }
        assert_eq!(order, [10, 20, 30, 40]);
    }

    #[tokio::test]
    async fn the_clock_thread_ends_with_its_emulator() {
        let delays = Delays::start().unwrap();
        let clock = Arc::downgrade(&delays.shared);
        delays.sleep(Duration::from_millis(1)).await;
        drop(delays);
        let deadline = Instant::now() + Duration::from_secs(10);
        while clock.strong_count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            clock.strong_count(),
            0,
            "the clock thread still holds its queue"
        );
    }
}
