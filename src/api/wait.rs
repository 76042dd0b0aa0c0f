//! Waiting for asynchronous operations: poll E15 (a job) or E4 (a task's row)
//! with a growing interval until the wanted state or a deadline, as the
//! lifecycle section of the API reference describes.
//!
//! E4 has no filter by task name: it lists an instance's tasks 100 rows a
//! page. Reading every page per poll made an apply of N creates cost O(N²/100)
//! requests. A poll therefore reads first the page where the row is likely to
//! be ([`RowHints`]: where it was last seen, or for a task never seen, where
//! new rows have been turning up), then the rest of the list around from there,
//! so one poll usually costs one request and a row that moved is still found.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio::time::Instant;

use super::client::Client;
use super::endpoints::PAGE_SIZE;
use super::error::{ApiError, ApiErrorKind};
use super::wire::{Job, ReplicationInfo};

/// First poll interval; doubles after every poll.
const FIRST_INTERVAL: Duration = Duration::from_millis(100);
/// Longest poll interval.
const MAX_INTERVAL: Duration = Duration::from_secs(5);

/// The cadence of a wait for a stage, a job or another operation: a growing
/// interval (`backon`, without jitter) that never sleeps past the deadline.
/// Unlike a retry, a poll repeats a call that succeeded; the deadline, not a
/// count, bounds it. A poll that fails transiently ([`ApiError::is_transient`])
/// is a poll without news.
pub(crate) struct Poll {
    intervals: ExponentialBackoff,
    deadline: Instant,
}

impl Poll {
    pub(crate) fn new(deadline: Duration) -> Poll {
        Poll {
            intervals: ExponentialBuilder::default()
                .with_min_delay(FIRST_INTERVAL)
                .with_max_delay(MAX_INTERVAL)
                .without_max_times()
                .build(),
            deadline: Instant::now() + deadline,
        }
    }

    /// Sleeps until the next poll; `false` once the deadline has passed.
    pub(crate) async fn next(&mut self) -> bool {
        let now = Instant::now();
        let Some(interval) = self.intervals.next().filter(|_| now < self.deadline) else {
            return false;
        };
        tokio::time::sleep(interval.min(self.deadline - now)).await;
        true
    }
}

/// Where task rows were last seen in each instance's task list. Only a
/// guess about where to look first: a wrong one costs requests, never a
/// wrong answer, since a poll that misses reads the whole list.
#[derive(Debug, Default)]
pub(crate) struct RowHints(Mutex<HashMap<String, InstanceRows>>);

#[derive(Debug, Default)]
struct InstanceRows {
    /// Row index of each task where a poll last found it.
    index: HashMap<String, usize>,
    /// `total_count` of the last page read.
    total: usize,
    /// Whether a task without a hint was last found past the first page:
    /// rows are appended at the end (oldest first, as the emulator lists
    /// them) rather than inserted at the front (newest first).
    new_at_end: bool,
}

impl RowHints {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, InstanceRows>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The offset to read the first page from, and whether the task had a
    /// hint. Offsets are item offsets, so the page is centred on the guess:
    /// rows move both ways as other tasks are created and deleted.
    fn first_page(&self, instance_id: &str, task_name: &str) -> (usize, bool) {
        let hints = self.lock();
        let Some(rows) = hints.get(instance_id) else {
            return (0, false);
        };
        match rows.index.get(task_name) {
            Some(&i) => (around(i), true),
            // A new row lands near `total`: after rows that were listed, or
            // among those registered since the last page was read.
            None if rows.new_at_end => (around(rows.total), false),
            None => (0, false),
        }
    }

    fn saw_total(&self, instance_id: &str, total: u64) {
        let mut hints = self.lock();
        let rows = hints.entry(instance_id.to_string()).or_default();
        rows.total = usize::try_from(total).unwrap_or(usize::MAX);
    }

    fn found(&self, instance_id: &str, task_name: &str, index: usize, had_hint: bool) {
        let mut hints = self.lock();
        let rows = hints.entry(instance_id.to_string()).or_default();
        if !had_hint {
            rows.new_at_end = index >= PAGE_SIZE;
        }
        rows.index.insert(task_name.to_string(), index);
    }

    fn not_listed(&self, instance_id: &str, task_name: &str) {
        if let Some(rows) = self.lock().get_mut(instance_id) {
            rows.index.remove(task_name);
        }
    }
}

/// The offset of a page with `index` in its middle.
fn around(index: usize) -> usize {
    index.saturating_sub(PAGE_SIZE / 2)
}

impl Client {
    /// E4, for one task: its row, or `None` once the whole list was read
    /// without it. Reads the likely page first (see [`RowHints`]), then on to
    /// the end of the list and around from its start, stopping at the row.
    pub async fn find_task(
        &self,
        instance_id: &str,
        task_name: &str,
    ) -> Result<Option<ReplicationInfo>, ApiError> {
        let hints = &self.inner.rows;
        let (start, had_hint) = hints.first_page(instance_id, task_name);
        let mut offset = start;
        let mut wrapped = start == 0;
        loop {
            // Back at the start, read only up to where the first leg began.
            let limit = if wrapped && start > 0 {
                PAGE_SIZE.min(start - offset)
            } else {
                PAGE_SIZE
            };
            let page = self.list_page(instance_id, offset, limit).await?;
            hints.saw_total(instance_id, page.total_count);
            let received = page.replications.len();
            if let Some((i, row)) = page
                .replications
                .into_iter()
                .enumerate()
                .find(|(_, t)| t.task_name == task_name)
            {
                hints.found(instance_id, task_name, offset + i, had_hint);
                return Ok(Some(row));
            }
            offset += received;
            let at_end = received == 0 || offset as u64 >= page.total_count;
            if at_end && !wrapped {
                // Read from the hint to the end; now the part before it.
                wrapped = true;
                offset = 0;
            } else if at_end || (wrapped && start > 0 && offset >= start) {
                hints.not_listed(instance_id, task_name);
                return Ok(None);
            }
        }
    }

    /// Polls a job until `Completed` (returned), `Failed` (an error carrying
    /// `fail_reason`) or the deadline.
    pub async fn wait_job(&self, job_id: &str, deadline: Duration) -> Result<Job, ApiError> {
        let mut poll = Poll::new(deadline);
        loop {
            // A poll that fails transiently is just a poll without news.
            let job = match self.job(job_id).await {
                Ok(job) => job,
                Err(e) if e.is_transient() && poll.next().await => continue,
                Err(e) => return Err(e),
            };
            if job.status.eq_ignore_ascii_case("completed") {
                return Ok(job);
            }
            if job.status.eq_ignore_ascii_case("failed") {
                let mut err = ApiError::new(ApiErrorKind::JobFailed, "wait-job")
                    .with_detail(format!("job {job_id}"));
                err.error_msg = Some(job.fail_reason);
                return Err(err);
            }
            if !poll.next().await {
                let detail = format!(
                    "job {job_id} still {} after {}s",
                    job.status,
                    deadline.as_secs_f32()
                );
                return Err(ApiError::new(ApiErrorKind::Deadline, "wait-job").with_detail(detail));
            }
        }
    }

    /// Polls the task list until `done` accepts the task's row (`None` = the
    /// task is not listed, which is what waiting for a delete wants). Returns
    /// that row. Each poll is one [`Client::find_task`]: a row it returns was
    /// read after the poll began, and `None` means a whole pass missed it.
    pub async fn wait_task<F: Fn(Option<&ReplicationInfo>) -> bool>(
        &self,
        instance_id: &str,
        task_name: &str,
        done: F,
        deadline: Duration,
    ) -> Result<Option<ReplicationInfo>, ApiError> {
        let mut poll = Poll::new(deadline);
        loop {
            let row = match self.find_task(instance_id, task_name).await {
                Ok(row) => row,
                Err(e) if e.is_transient() && poll.next().await => continue,
                Err(e) => return Err(e),
            };
            if done(row.as_ref()) {
                return Ok(row);
            }
            if !poll.next().await {
                let state = row.map_or("not listed".to_string(), |r| {
                    format!("stage {:?}, status {:?}", r.stage, r.status)
                });
                let detail = format!(
                    "task {task_name} not in the wanted state after {}s ({state})",
                    deadline.as_secs_f32()
                );
                return Err(ApiError::new(ApiErrorKind::Deadline, "wait-task").with_detail(detail));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn poll_interval_doubles_and_stops_at_the_deadline() {
        let start = Instant::now();
        let mut poll = Poll::new(Duration::from_millis(1000));
        let mut sleeps = Vec::new();
        let mut last = start;
        while poll.next().await {
            sleeps.push(Instant::now() - last);
            last = Instant::now();
        }
        // 100 + 200 + 400 ms, then the remaining ~300 ms up to the deadline.
        assert_eq!(sleeps.len(), 4, "{sleeps:?}");
        assert!(sleeps[0] >= Duration::from_millis(100) && sleeps[0] < Duration::from_millis(190));
        assert!(sleeps[2] >= Duration::from_millis(400) && sleeps[2] < Duration::from_millis(490));
        let total = Instant::now() - start;
        assert!(total >= Duration::from_millis(1000) && total < Duration::from_millis(1300));
    }
}
