//! Shared waits: one [`Watcher`] serves every task and job an apply waits
//! for. Waiting costs no `--parallelism` slot: a waiter is a channel, and the
//! watcher polls for all of them at once.
//!
//! - Per HTAP instance, one loop reads the task list (E4, every page) once a
//!   round and wakes each waiter whose row reached its goal, so the reads of a
//!   round are the number of pages, however many tasks wait.
//! - One loop polls the jobs (E15), oldest first in growing batches, stopping
//!   at a batch with a job still running: jobs end roughly in the order they
//!   were started, so a round costs about one read per finished job. A job
//!   passed over that long ([`PollSettings::ceiling`]) is polled anyway.
//!
//! Rounds come every [`PollSettings::interval`] while something changes (a
//! waiter arrives, a stage or a job status moves); a round without news
//! stretches the interval by half, up to the ceiling, as the API reference
//! asks (§5: status reads spend the account's query quota). Each waiter has
//! its own deadline ([`PollSettings::timeout`]) and gets a
//! [`ApiErrorKind::Deadline`] error naming what it last saw.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::time::Instant;

use super::client::Client;
use super::endpoints::PAGE_SIZE;
use super::error::{ApiError, ApiErrorKind};
use super::wire::{Job, ReplicationInfo};

/// `poll_interval` when the configuration does not set it, against the cloud:
/// the cadence of the reference provider (API reference §5: every 10 s).
pub const CLOUD_POLL_INTERVAL: Duration = Duration::from_secs(10);
/// `poll_interval` when the configuration does not set it, against the
/// emulator, whose stages take milliseconds and whose reads spend no quota.
pub const EMULATOR_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// `wait_timeout` when the configuration does not set it: the cloud's
/// documented timeout for create, update and delete (API reference §5).
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The longest interval between rounds, whatever `poll_interval` says: status
/// reads should come less than once a minute (API reference §5).
const MAX_CEILING: Duration = Duration::from_secs(60);
/// How far rounds without news stretch the interval: this many times `interval`.
const CEILING_FACTOR: u32 = 10;

/// How waits poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSettings {
    /// Between rounds while something changes; the first round comes this
    /// long after the first waiter.
    pub interval: Duration,
    /// How long one wait may take before it fails.
    pub timeout: Duration,
}

/// The cloud's: what a provider gets when nothing says otherwise.
impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            interval: CLOUD_POLL_INTERVAL,
            timeout: DEFAULT_WAIT_TIMEOUT,
        }
    }
}

impl PollSettings {
    /// The longest interval rounds without news stretch to.
    pub fn ceiling(&self) -> Duration {
        (self.interval * CEILING_FACTOR)
            .min(MAX_CEILING)
            .max(self.interval)
    }

    /// The interval after a round: back to `interval` after news, else half again.
    fn next(&self, current: Duration, news: bool) -> Duration {
        if news {
            self.interval
        } else {
            (current + current / 2).clamp(self.interval, self.ceiling())
        }
    }
}

/// What a waiter saw change: a task's stage, or a job's status (`job Running`).
pub type OnStage = Box<dyn Fn(&str) + Send + Sync>;
/// Whether a task's row (`None`: not listed) is what its waiter wants.
type Goal = Box<dyn Fn(Option<&ReplicationInfo>) -> bool + Send + Sync>;

/// The shared waits of one apply. See the module documentation.
pub struct Watcher {
    client: Client,
    settings: PollSettings,
    /// The apply's `--parallelism` slots: each read of a round holds one, so
    /// the bound on calls in flight covers the watcher's reads too.
    slots: Arc<Semaphore>,
    hub: Mutex<Hub>,
}

#[derive(Default)]
struct Hub {
    instances: HashMap<String, Loop<TaskWaiter>>,
    jobs: Option<Loop<JobWaiter>>,
}

/// The waiters of one polling loop; the loop runs while there are any.
struct Loop<W> {
    waiters: Vec<W>,
    /// A waiter arrived since the last round began.
    arrived: bool,
    /// Cuts a long interval short when a waiter arrives.
    wake: Arc<Notify>,
}

impl<W> Loop<W> {
    fn new() -> Loop<W> {
        Loop {
            waiters: Vec::new(),
            arrived: false,
            wake: Arc::new(Notify::new()),
        }
    }
}

struct TaskWaiter {
    task_name: String,
    goal: Goal,
    on_stage: OnStage,
    deadline: Instant,
    /// Served only by rounds that began after it arrived: an older read may
    /// predate the call it waits on.
    eligible: bool,
    /// `(stage, status)` of the row last seen; `None` before the first sight.
    seen: Option<(String, String)>,
    reply: oneshot::Sender<Result<Option<ReplicationInfo>, ApiError>>,
}

struct JobWaiter {
    job_id: String,
    on_stage: OnStage,
    deadline: Instant,
    eligible: bool,
    status: Option<String>,
    last_polled: Option<Instant>,
    reply: oneshot::Sender<Result<Job, ApiError>>,
}

/// One round's read of an instance's task list.
struct Listing {
    rows: HashMap<String, ReplicationInfo>,
    /// Every page gave the same total and every row was read: a task missing
    /// from `rows` is really not listed (rows move between pages while
    /// others are deleted).
    complete: bool,
}

impl Watcher {
    pub fn new(client: Client, settings: PollSettings, slots: Arc<Semaphore>) -> Arc<Watcher> {
        Arc::new(Watcher {
            client,
            settings,
            slots,
            hub: Mutex::new(Hub::default()),
        })
    }

    fn hub(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits, holding no slot, until `goal` accepts the task's row (`None` =
    /// not listed) and returns that row. `on_stage` hears every stage the row
    /// is seen in. Fails at the deadline, or when the list cannot be read for
    /// a reason other than a transient one.
    pub async fn task(
        self: &Arc<Self>,
        instance_id: &str,
        task_name: &str,
        goal: impl Fn(Option<&ReplicationInfo>) -> bool + Send + Sync + 'static,
        on_stage: OnStage,
    ) -> Result<Option<ReplicationInfo>, ApiError> {
        let (reply, answer) = oneshot::channel();
        let waiter = TaskWaiter {
            task_name: task_name.to_string(),
            goal: Box::new(goal),
            on_stage,
            deadline: Instant::now() + self.settings.timeout,
            eligible: false,
            seen: None,
            reply,
        };
        let start = {
            let mut hub = self.hub();
            let (watch, start) = match hub.instances.get_mut(instance_id) {
                Some(watch) => (watch, false),
                None => (
                    hub.instances
                        .entry(instance_id.to_string())
                        .or_insert_with(Loop::new),
                    true,
                ),
            };
            watch.waiters.push(waiter);
            watch.arrived = true;
            watch.wake.notify_one();
            start
        };
        if start {
            tokio::spawn(self.clone().watch_instance(instance_id.to_string()));
        }
        answer.await.unwrap_or_else(|_| Err(stopped("wait-task")))
    }

    /// Waits, holding no slot, until the job is `Completed` (returned) or
    /// `Failed` (an error carrying its `fail_reason`), or the deadline.
    pub async fn job(self: &Arc<Self>, job_id: &str, on_stage: OnStage) -> Result<Job, ApiError> {
        let (reply, answer) = oneshot::channel();
        let waiter = JobWaiter {
            job_id: job_id.to_string(),
            on_stage,
            deadline: Instant::now() + self.settings.timeout,
            eligible: false,
            status: None,
            last_polled: None,
            reply,
        };
        let start = {
            let mut hub = self.hub();
            let start = hub.jobs.is_none();
            let watch = hub.jobs.get_or_insert_with(Loop::new);
            watch.waiters.push(waiter);
            watch.arrived = true;
            watch.wake.notify_one();
            start
        };
        if start {
            tokio::spawn(self.clone().watch_jobs());
        }
        answer.await.unwrap_or_else(|_| Err(stopped("wait-job")))
    }

    /// Sleeps until the next round: `interval` after the last one, or one
    /// base interval after a waiter arrived, whichever comes first.
    async fn pause(&self, wake: &Notify, interval: Duration) {
        let mut until = Instant::now() + interval;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return,
                () = wake.notified() => {
                    until = until.min(Instant::now() + self.settings.interval);
                }
            }
        }
    }

    async fn watch_instance(self: Arc<Self>, instance_id: String) {
        let mut interval = self.settings.interval;
        loop {
            let Some(wake) = self
                .hub()
                .instances
                .get(&instance_id)
                .map(|w| w.wake.clone())
            else {
                return;
            };
            self.pause(&wake, interval).await;
            let arrived = {
                let mut hub = self.hub();
                let Some(watch) = hub.instances.get_mut(&instance_id) else {
                    return;
                };
                watch.waiters.iter_mut().for_each(|w| w.eligible = true);
                std::mem::take(&mut watch.arrived)
            };
            let listing = self.read_list(&instance_id).await;
            let mut hub = self.hub();
            let Some(watch) = hub.instances.get_mut(&instance_id) else {
                return;
            };
            let news = settle_tasks(&mut watch.waiters, listing);
            if watch.waiters.is_empty() && !watch.arrived {
                hub.instances.remove(&instance_id);
                return;
            }
            interval = self.settings.next(interval, news || arrived);
        }
    }

    /// Every page of the list: the first, then the rest at once.
    async fn read_list(&self, instance_id: &str) -> Result<Listing, ApiError> {
        let first = self.page(instance_id, 0).await?;
        let total = first.total_count;
        let mut rows: HashMap<String, ReplicationInfo> = HashMap::new();
        let mut complete = true;
        let mut read = first.replications.len();
        rows.extend(
            first
                .replications
                .into_iter()
                .map(|r| (r.task_name.clone(), r)),
        );
        let offsets = (PAGE_SIZE..usize::try_from(total).unwrap_or(usize::MAX)).step_by(PAGE_SIZE);
        let pages =
            futures_util::future::join_all(offsets.map(|o| self.page(instance_id, o))).await;
        for page in pages {
            let page = page?;
            complete &= page.total_count == total;
            read += page.replications.len();
            rows.extend(
                page.replications
                    .into_iter()
                    .map(|r| (r.task_name.clone(), r)),
            );
        }
        complete &= read as u64 == total && rows.len() == read;
        Ok(Listing { rows, complete })
    }

    async fn page(
        &self,
        instance_id: &str,
        offset: usize,
    ) -> Result<super::wire::ListReplicationsResponse, ApiError> {
        let _slot = self.slots.acquire().await;
        self.client.list_page(instance_id, offset, PAGE_SIZE).await
    }

    async fn watch_jobs(self: Arc<Self>) {
        let mut interval = self.settings.interval;
        loop {
            let Some(wake) = self.hub().jobs.as_ref().map(|w| w.wake.clone()) else {
                return;
            };
            self.pause(&wake, interval).await;
            // Oldest first; those passed over for a whole ceiling come along.
            let (order, starved, arrived) = {
                let mut hub = self.hub();
                let Some(watch) = hub.jobs.as_mut() else {
                    return;
                };
                let starving = Instant::now() - self.settings.ceiling();
                watch.waiters.iter_mut().for_each(|w| w.eligible = true);
                let order: Vec<String> = watch.waiters.iter().map(|w| w.job_id.clone()).collect();
                let starved: Vec<String> = watch
                    .waiters
                    .iter()
                    .filter(|w| w.last_polled.is_some_and(|t| t <= starving))
                    .map(|w| w.job_id.clone())
                    .collect();
                (order, starved, std::mem::take(&mut watch.arrived))
            };
            let polled = self.poll_jobs(&order, starved).await;
            let mut hub = self.hub();
            let Some(watch) = hub.jobs.as_mut() else {
                return;
            };
            let news = settle_jobs(&mut watch.waiters, polled);
            if watch.waiters.is_empty() && !watch.arrived {
                hub.jobs = None;
                return;
            }
            interval = self.settings.next(interval, news || arrived);
        }
    }

    /// Polls `order` in batches of 1, 2, 4, … (up to the slots there are),
    /// stopping after a batch with a job still running; then `starved`.
    async fn poll_jobs(
        &self,
        order: &[String],
        mut starved: Vec<String>,
    ) -> Vec<(String, Result<Job, ApiError>)> {
        let most = self.slots.available_permits().max(1);
        let mut polled = Vec::new();
        let mut next = 0;
        let mut size = 1;
        while next < order.len() {
            let batch = &order[next..(next + size).min(order.len())];
            next += batch.len();
            let results =
                futures_util::future::join_all(batch.iter().map(|id| self.poll_job(id))).await;
            let running = results
                .iter()
                .any(|(_, r)| r.as_ref().is_ok_and(|j| !ended(j)));
            polled.extend(results);
            if running {
                break;
            }
            size = (size * 2).min(most);
        }
        starved.retain(|id| !order[..next].contains(id));
        polled.extend(
            futures_util::future::join_all(starved.iter().map(|id| self.poll_job(id))).await,
        );
        polled
    }

    async fn poll_job(&self, job_id: &str) -> (String, Result<Job, ApiError>) {
        let _slot = self.slots.acquire().await;
        (job_id.to_string(), self.client.job(job_id).await)
    }
}

fn ended(job: &Job) -> bool {
    job.status.eq_ignore_ascii_case("completed") || job.status.eq_ignore_ascii_case("failed")
}

/// The error of a wait whose watcher went away (the runtime is shutting down).
fn stopped(operation: &'static str) -> ApiError {
    ApiError::new(ApiErrorKind::Deadline, operation).with_detail("the wait was abandoned")
}

/// Wakes the eligible task waiters a round's listing answers, and those past
/// their deadline. Returns whether anything changed.
fn settle_tasks(waiters: &mut Vec<TaskWaiter>, listing: Result<Listing, ApiError>) -> bool {
    let now = Instant::now();
    let mut news = false;
    let mut kept = Vec::with_capacity(waiters.len());
    for mut w in waiters.drain(..) {
        if !w.eligible {
            kept.push(w);
            continue;
        }
        let answer = match &listing {
            // A poll that fails transiently is a poll without news.
            Err(e) if e.is_transient() => None,
            Err(e) => Some(Err(e.clone())),
            Ok(listing) => {
                let row = listing.rows.get(&w.task_name);
                if let Some(row) = row {
                    let seen = (row.stage.clone(), row.status.clone());
                    if w.seen.as_ref() != Some(&seen) {
                        news = true;
                        if w.seen.as_ref().is_none_or(|(stage, _)| *stage != seen.0) {
                            (w.on_stage)(&seen.0);
                        }
                        w.seen = Some(seen);
                    }
                }
                // Not listed is an answer only from a list read whole.
                (row.is_some() || listing.complete)
                    .then(|| (w.goal)(row))
                    .and_then(|done| done.then(|| Ok(row.cloned())))
            }
        };
        let answer = answer.or_else(|| (now >= w.deadline).then(|| Err(task_deadline(&w))));
        match answer {
            Some(answer) => {
                news = true;
                // The waiter may have been dropped (its apply was cut short).
                let _ = w.reply.send(answer);
            }
            None => kept.push(w),
        }
    }
    *waiters = kept;
    news
}

fn task_deadline(w: &TaskWaiter) -> ApiError {
    let state = w
        .seen
        .as_ref()
        .map_or("not seen".to_string(), |(stage, status)| {
            format!("stage {stage:?}, status {status:?}")
        });
    let detail = format!(
        "task {} did not reach the wanted state within wait_timeout ({state})",
        w.task_name
    );
    ApiError::new(ApiErrorKind::Deadline, "wait-task").with_detail(detail)
}

/// Wakes the job waiters a round answered, and those past their deadline.
/// Returns whether anything changed.
fn settle_jobs(waiters: &mut Vec<JobWaiter>, polled: Vec<(String, Result<Job, ApiError>)>) -> bool {
    let now = Instant::now();
    let mut polled: HashMap<String, Result<Job, ApiError>> = polled.into_iter().collect();
    let mut news = false;
    let mut kept = Vec::with_capacity(waiters.len());
    for mut w in waiters.drain(..) {
        let answer = match polled.remove(&w.job_id).filter(|_| w.eligible) {
            None => None,
            Some(Err(e)) if e.is_transient() => None,
            Some(Err(e)) => Some(Err(e)),
            Some(Ok(job)) => {
                w.last_polled = Some(now);
                if w.status.as_deref() != Some(job.status.as_str()) {
                    news = true;
                    (w.on_stage)(&format!("job {}", job.status));
                    w.status = Some(job.status.clone());
                }
                if job.status.eq_ignore_ascii_case("completed") {
                    Some(Ok(job))
                } else if job.status.eq_ignore_ascii_case("failed") {
                    let mut err = ApiError::new(ApiErrorKind::JobFailed, "wait-job")
                        .with_detail(format!("job {}", w.job_id));
                    err.error_msg = Some(job.fail_reason);
                    Some(Err(err))
                } else {
                    None
                }
            }
        };
        let answer = answer.or_else(|| {
            (now >= w.deadline).then(|| {
                let status = w.status.as_deref().unwrap_or("not seen");
                let detail = format!("job {} still {status} when wait_timeout ran out", w.job_id);
                Err(ApiError::new(ApiErrorKind::Deadline, "wait-job").with_detail(detail))
            })
        });
        match answer {
            Some(answer) => {
                news = true;
                let _ = w.reply.send(answer);
            }
            None => kept.push(w),
        }
    }
    *waiters = kept;
    news
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_without_news_stretch_the_interval_up_to_the_ceiling() {
        let s = PollSettings {
            interval: Duration::from_millis(200),
            timeout: DEFAULT_WAIT_TIMEOUT,
        };
        assert_eq!(s.ceiling(), Duration::from_secs(2));
        let mut i = s.interval;
        let mut seen = Vec::new();
        for _ in 0..8 {
            i = s.next(i, false);
            seen.push(i.as_millis());
        }
        assert_eq!(seen, [300, 450, 675, 1012, 1518, 2000, 2000, 2000]);
        assert_eq!(s.next(i, true), s.interval);
        let cloud = PollSettings {
            interval: CLOUD_POLL_INTERVAL,
            timeout: DEFAULT_WAIT_TIMEOUT,
        };
        assert_eq!(cloud.ceiling(), MAX_CEILING);
    }
}
