//! When a failed request is sent again, and after how long.
//!
//! Transient failures (connection errors, timeouts, 5xx, 429 and the gateway's
//! throttling codes) are retried with exponential backoff and jitter (`backon`),
//! honouring `Retry-After`; other 4xx never are. Calls that may create a task
//! are retried only when the request provably did not reach the backend, see
//! [`should_retry`].

use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};

/// Error codes of the API gateway's rate limiter (normally with HTTP 429).
const THROTTLE_CODES: &[&str] = &["APIGW.0308", "APIG.0308"];

/// Whether sending a request twice can have a different effect than sending it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, checks, PUT, DELETE, pause and resume: a repeat converges on the same state.
    Safe,
    /// E2 with `is_create_task = "true"` and E3 start: a repeat may register or
    /// start a second task, and the API has no idempotency key to prevent it.
    CreatesTask,
}

/// How an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'a> {
    /// The connection could not be established; nothing was sent.
    Connect,
    /// The attempt timed out, possibly after the server received it.
    Timeout,
    /// The connection broke after it was established.
    Transport,
    /// The server answered with this status and, if the body had one, this `error_code`.
    Status {
        /// HTTP status.
        status: u16,
        /// `error_code` of the body.
        code: Option<&'a str>,
    },
}

/// Whether the gateway rejected the request for rate limiting.
pub fn is_throttled(status: u16, code: Option<&str>) -> bool {
    status == 429 || code.is_some_and(|c| THROTTLE_CODES.contains(&c))
}

/// Decides whether an attempt that failed this way is worth repeating.
pub fn should_retry(idempotency: Idempotency, failure: Failure<'_>) -> bool {
    match (idempotency, failure) {
        (Idempotency::Safe, Failure::Connect | Failure::Timeout | Failure::Transport) => true,
        (Idempotency::Safe, Failure::Status { status, code }) => {
            status >= 500 || is_throttled(status, code)
        }
        // A call that may create a task is repeated only when the first attempt
        // cannot have reached the backend: a connect error means no byte of the
        // request was sent, and a throttling answer (429 / APIGW.0308) comes from
        // the API gateway, which rejects the request before forwarding it. After a
        // timeout, a broken connection or a 5xx the backend may already have
        // registered or started the task, so a second attempt could create a
        // duplicate; the error goes to the caller, which can list tasks to find out.
        (Idempotency::CreatesTask, Failure::Connect) => true,
        (Idempotency::CreatesTask, Failure::Status { status, code }) => is_throttled(status, code),
        (Idempotency::CreatesTask, Failure::Timeout | Failure::Transport) => false,
    }
}

/// Parses `Retry-After`: delay seconds or an HTTP-date (a date in the past means now).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Backoff settings of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First delay.
    pub base: Duration,
    /// Longest delay, also the cap on `Retry-After`.
    pub cap: Duration,
}

impl RetryPolicy {
    /// The delays between attempts: exponential from `base` with jitter, never
    /// above `cap` (backon's jitter may add up to one more delay, so cap after it),
    /// `max_retries` of them.
    pub fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        let cap = self.cap;
        ExponentialBuilder::default()
            .with_min_delay(self.base)
            .with_max_delay(self.cap)
            .with_max_times(usize::try_from(self.max_retries).unwrap_or(usize::MAX))
            .with_jitter()
            .build()
            .map(move |d| d.min(cap))
    }

    /// The wait before the next attempt: the server's `Retry-After` when it gave
    /// one (capped), else the backoff delay.
    pub fn delay(&self, backoff: Duration, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wanted) => wanted.min(self.cap),
            None => backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_bounded_in_number_and_size() {
        let policy = RetryPolicy {
            max_retries: 4,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(10),
        };
        let delays: Vec<_> = policy.delays().collect();
        assert_eq!(delays.len(), 4);
        assert!(delays.iter().all(|d| *d >= Duration::from_millis(250)));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(10)));
        let tight = RetryPolicy {
            cap: Duration::from_millis(300),
            ..policy
        };
        assert!(tight.delays().all(|d| d <= Duration::from_millis(300)));
    }

    #[test]
    fn retry_after_is_capped() {
        let policy = RetryPolicy {
            max_retries: 1,
            base: Duration::from_millis(1),
            cap: Duration::from_secs(10),
        };
        let backoff = Duration::from_millis(7);
        assert_eq!(policy.delay(backoff, None), backoff);
        assert_eq!(
            policy.delay(backoff, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            policy.delay(backoff, Some(Duration::from_secs(99))),
            Duration::from_secs(10)
        );
    }
}
