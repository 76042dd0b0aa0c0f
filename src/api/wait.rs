//! Waiting for asynchronous operations: poll E15 (a job) or E4 (a task's row)
//! with a growing interval until the wanted state or a deadline, as the
//! lifecycle section of the API reference describes.

use std::time::Duration;

use tokio::time::Instant;

use super::client::Client;
use super::error::{ApiError, ApiErrorKind};
use super::wire::{Job, ReplicationInfo};

/// First poll interval; doubles after every poll.
const FIRST_INTERVAL: Duration = Duration::from_millis(100);
/// Longest poll interval.
const MAX_INTERVAL: Duration = Duration::from_secs(5);

/// The growing interval between polls, never sleeping past the deadline.
struct Poll {
    interval: Duration,
    deadline: Instant,
}

impl Poll {
    fn new(deadline: Duration) -> Poll {
        Poll {
            interval: FIRST_INTERVAL,
            deadline: Instant::now() + deadline,
        }
    }

    /// Sleeps until the next poll; `false` once the deadline has passed.
    async fn next(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.interval.min(self.deadline - now)).await;
        self.interval = (self.interval * 2).min(MAX_INTERVAL);
        true
    }
}

impl Client {
    /// Polls a job until `Completed` (returned), `Failed` (an error carrying
    /// `fail_reason`) or the deadline.
    pub async fn wait_job(&self, job_id: &str, deadline: Duration) -> Result<Job, ApiError> {
        let mut poll = Poll::new(deadline);
        loop {
            let job = self.job(job_id).await?;
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
    /// that row. Each poll reads pages only until the row is found.
    pub async fn wait_task<F: Fn(Option<&ReplicationInfo>) -> bool>(
        &self,
        instance_id: &str,
        task_name: &str,
        done: F,
        deadline: Duration,
    ) -> Result<Option<ReplicationInfo>, ApiError> {
        let mut poll = Poll::new(deadline);
        loop {
            let row = self.find_task(instance_id, task_name).await?;
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
