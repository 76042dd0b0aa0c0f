//! The one retry policy: which failures are transient, which of them may be
//! sent again for which kind of call, and after how long.
//!
//! Every retry decision of the crate comes from [`transience`]: the client's
//! request loop ([`should_retry`]), the lookup-then-retry of calls that may
//! create a task (`apply::ops`), the polls of `wait.rs` (a transient failure
//! is a poll without news) and the IAM token fetch (a transient IAM answer is
//! retried like any call, a refusal never). Transient failures are connection
//! errors, timeouts, broken connections, 5xx, 429 and the gateway's throttling
//! code (`APIGW.0308`, also with HTTP 400); certificate errors, oversized
//! responses and every other 4xx are not. Loops run through `backon` with
//! full-jitter exponential backoff (`RetryPolicy::run`), honouring
//! `Retry-After`, until the call's time budget (`max_elapsed`) is spent: a
//! budget in time, not a count, so a run of thousands of calls through a
//! flaky or throttling gateway does not fail on the one call in a few hundred
//! that meets five faults in a row. Calls that may create a task are retried only when the
//! request provably did not reach the backend, see [`should_retry`].

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use backon::Retryable;

use super::error::{ApiError, ApiErrorKind};
use super::rate;

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

impl Failure<'_> {
    /// How `error` failed, or `None` for failures that are no answer about
    /// the service's health (certificate, response too large, undecodable
    /// body, refused credentials, setup): those never change on a repeat.
    pub fn of(error: &ApiError) -> Option<Failure<'_>> {
        match error.kind {
            ApiErrorKind::Connect => Some(Failure::Connect),
            ApiErrorKind::Timeout => Some(Failure::Timeout),
            ApiErrorKind::Transport => Some(Failure::Transport),
            ApiErrorKind::Api => error.status.map(|status| Failure::Status {
                status,
                code: error.code(),
            }),
            ApiErrorKind::Decode
            | ApiErrorKind::Auth
            | ApiErrorKind::Deadline
            | ApiErrorKind::JobFailed
            | ApiErrorKind::InvalidEndpoint
            | ApiErrorKind::Setup
            | ApiErrorKind::Certificate
            | ApiErrorKind::ResponseTooLarge => None,
        }
    }
}

/// Whether a failure may go away on its own, and what the failed request may
/// have done: the one predicate every retry and poll of the crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transience {
    /// The answer is about the request itself, or will not change (4xx other
    /// than throttling, certificate, response too large, …): never repeated.
    Permanent,
    /// Transient, and the request provably did not reach the backend: no byte
    /// was sent (connect error), or the gateway's rate limiter rejected it
    /// before forwarding it (429 / `APIGW.0308`).
    NotDelivered,
    /// Transient, but the backend may have acted on the request: a timeout, a
    /// connection broken after sending, or a 5xx.
    MaybeDelivered,
}

/// Whether the gateway rejected the request for rate limiting.
pub fn is_throttled(status: u16, code: Option<&str>) -> bool {
    status == 429 || code.is_some_and(|c| THROTTLE_CODES.contains(&c))
}

/// Classifies a failed attempt (see [`Transience`]).
pub fn transience(failure: Failure<'_>) -> Transience {
    match failure {
        Failure::Connect => Transience::NotDelivered,
        Failure::Timeout | Failure::Transport => Transience::MaybeDelivered,
        Failure::Status { status, code } if is_throttled(status, code) => Transience::NotDelivered,
        Failure::Status { status, .. } if status >= 500 => Transience::MaybeDelivered,
        Failure::Status { .. } => Transience::Permanent,
    }
}

/// Decides whether an attempt that failed this way is worth repeating.
///
/// A call that may create a task is repeated only when the first attempt
/// cannot have reached the backend. After a timeout, a broken connection or a
/// 5xx the backend may already have registered or started the task, so a
/// second attempt could create a duplicate; the error goes to the caller,
/// which looks the task up before sending again (`apply::ops`).
pub fn should_retry(idempotency: Idempotency, failure: Failure<'_>) -> bool {
    match (idempotency, transience(failure)) {
        (_, Transience::Permanent) => false,
        (Idempotency::Safe, _) => true,
        (Idempotency::CreatesTask, Transience::NotDelivered) => true,
        (Idempotency::CreatesTask, Transience::MaybeDelivered) => false,
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

/// How long a call keeps retrying by default: long enough to ride out a
/// throttled or flaky minute, short enough that a real outage is reported.
pub const DEFAULT_MAX_ELAPSED: Duration = Duration::from_secs(120);

/// Backoff settings of a client, shared by every retry loop that uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// At most this many retries after the first attempt, within `max_elapsed`
    /// (`u32::MAX`: the time budget alone decides).
    pub max_retries: u32,
    /// Ceiling of the first delay; each retry doubles it.
    pub base: Duration,
    /// Longest delay, also the cap on `Retry-After`.
    pub cap: Duration,
    /// The retry budget of a call: no attempt starts later than this after the first.
    pub max_elapsed: Duration,
}

impl RetryPolicy {
    /// The delays between attempts of a call that started at `started`: full
    /// jitter (uniform between zero and `base` doubled per retry, at most
    /// `cap`), which spreads the retries of many calls failing together; they
    /// end when the next attempt would start past `max_elapsed`, or after
    /// `max_retries`.
    pub fn delays(
        &self,
        started: Instant,
    ) -> impl Iterator<Item = Duration> + Send + Sync + Unpin + use<> {
        self.delays_on(BudgetClock::since(started))
    }

    fn delays_on(
        &self,
        clock: BudgetClock,
    ) -> impl Iterator<Item = Duration> + Send + Sync + Unpin + use<> {
        let policy = *self;
        let mut waited = Duration::ZERO;
        (0..policy.max_retries).map_while(move |retry| {
            let ceiling = policy
                .base
                .saturating_mul(1 << retry.min(20))
                .min(policy.cap);
            let delay = ceiling.mul_f64(rand::random::<f64>());
            // The delays alone count too, for a caller that has not slept them yet.
            let spent = clock.spent().max(waited);
            waited += delay;
            (spent + delay <= policy.max_elapsed).then_some(delay)
        })
    }

    /// `delay`, unless waiting it would start the next attempt past the budget.
    fn within_budget(&self, clock: BudgetClock, delay: Duration) -> Option<Duration> {
        (clock.spent() + delay <= self.max_elapsed).then_some(delay)
    }

    /// The wait before the next attempt: the server's `Retry-After` when it gave
    /// one (capped), else the backoff delay.
    pub fn delay(&self, backoff: Duration, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wanted) => wanted.min(self.cap),
            None => backoff,
        }
    }

    /// Runs `attempt` (given its number, from 1) through `backon` until it
    /// succeeds, `retry` refuses its error, or the budget is spent; waits
    /// [`RetryPolicy::delay`] in between, after calling `notify`. The budget
    /// leaves out the attempts' waits for a turn under the adaptive rate: a
    /// call queued behind many others under throttling is slowed down, not
    /// given up.
    pub(crate) async fn run<T, E, Fut>(
        &self,
        mut attempt: impl FnMut(u32) -> Fut,
        retry: impl FnMut(&E) -> bool,
        mut notify: impl FnMut(&E, Duration),
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: std::borrow::Borrow<ApiError>,
    {
        rate::counting_turn_waits(async {
            let clock = BudgetClock::since(Instant::now());
            let mut number = 0;
            let next = || {
                number += 1;
                attempt(number)
            };
            next.retry(self.delays_on(clock))
                .when(retry)
                .adjust(|e: &E, backoff| {
                    let wait = self.delay(backoff?, e.borrow().retry_after);
                    self.within_budget(clock, wait)
                })
                .notify(|e: &E, wait| notify(e, wait))
                .await
        })
        .await
    }
}

/// The clock of a retry budget: the time since the first attempt, less the
/// time the task has waited for its turn under the adaptive rate since.
#[derive(Debug, Clone, Copy)]
struct BudgetClock {
    started: Instant,
    turn_waits_before: Duration,
}

impl BudgetClock {
    fn since(started: Instant) -> BudgetClock {
        BudgetClock {
            started,
            turn_waits_before: rate::turn_waits(),
        }
    }

    fn spent(&self) -> Duration {
        let paced = rate::turn_waits().saturating_sub(self.turn_waits_before);
        self.started.elapsed().saturating_sub(paced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, code: Option<&str>) -> ApiError {
        let mut e = ApiError::new(ApiErrorKind::Api, "op");
        e.status = Some(status);
        e.error_code = code.map(str::to_string);
        e
    }

    #[test]
    fn every_error_kind_has_one_transience() {
        use ApiErrorKind::*;
        let of = |kind| ApiError::new(kind, "op").transience();
        assert_eq!(of(Connect), Transience::NotDelivered);
        assert_eq!(of(Timeout), Transience::MaybeDelivered);
        assert_eq!(of(Transport), Transience::MaybeDelivered);
        for kind in [
            Decode,
            Auth,
            Deadline,
            JobFailed,
            InvalidEndpoint,
            Setup,
            Certificate,
            ResponseTooLarge,
        ] {
            assert_eq!(of(kind), Transience::Permanent, "{kind:?}");
            assert!(!ApiError::new(kind, "op").is_transient(), "{kind:?}");
        }
        // A status does not make them transient: a certificate stays
        // untrusted and an oversized 503 body stays oversized.
        for kind in [Certificate, ResponseTooLarge, Auth, Decode] {
            let mut e = answered(503, Some("APIGW.0308"));
            e.kind = kind;
            assert_eq!(e.transience(), Transience::Permanent, "{kind:?}");
        }
    }

    #[test]
    fn answers_are_transient_by_status_and_throttling_code() {
        for status in [500, 501, 502, 503, 504, 599] {
            for code in [None, Some("DBS.200001")] {
                let e = answered(status, code);
                assert_eq!(e.transience(), Transience::MaybeDelivered, "{status}");
                assert!(e.is_transient());
            }
        }
        for (status, code) in [
            (429, None),
            (429, Some("APIGW.0308")),
            (400, Some("APIGW.0308")),
            (400, Some("APIG.0308")),
            (403, Some("APIGW.0308")),
        ] {
            let e = answered(status, code);
            assert_eq!(
                e.transience(),
                Transience::NotDelivered,
                "{status} {code:?}"
            );
            assert!(e.is_transient());
        }
        for (status, code) in [
            (400, Some("DBS.200022")),
            (400, None),
            (401, Some("APIGW.0301")),
            (403, Some("APIGW.0302")),
            (404, None),
            (409, Some("DBS.200019")),
            (413, Some("APIGW.0201")),
            (422, None),
            (302, None),
        ] {
            let e = answered(status, code);
            assert_eq!(e.transience(), Transience::Permanent, "{status} {code:?}");
            assert!(!e.is_transient());
        }
    }

    #[test]
    fn task_creating_calls_repeat_only_what_was_not_delivered() {
        let failures = [
            Failure::Connect,
            Failure::Timeout,
            Failure::Transport,
            Failure::Status {
                status: 503,
                code: None,
            },
            Failure::Status {
                status: 400,
                code: Some("APIGW.0308"),
            },
            Failure::Status {
                status: 400,
                code: Some("DBS.200022"),
            },
        ];
        for f in failures {
            let t = transience(f);
            assert_eq!(
                should_retry(Idempotency::Safe, f),
                t != Transience::Permanent
            );
            assert_eq!(
                should_retry(Idempotency::CreatesTask, f),
                t == Transience::NotDelivered
            );
        }
    }

    fn quick(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_elapsed: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn run_repeats_while_allowed_and_stops_at_the_limit() {
        let calls = std::cell::Cell::new(0);
        let flaky = |attempt: u32| {
            calls.set(calls.get() + 1);
            async move {
                if attempt < 3 {
                    Err(answered(503, None))
                } else {
                    Ok(attempt)
                }
            }
        };
        let transient = |e: &ApiError| e.is_transient();
        assert_eq!(quick(4).run(flaky, transient, |_, _| {}).await.unwrap(), 3);
        assert_eq!(calls.replace(0), 3);

        let err = quick(1).run(flaky, transient, |_, _| {}).await.unwrap_err();
        assert_eq!(err.status, Some(503));
        assert_eq!(calls.replace(0), 2, "the first attempt and one retry");

        let refused = |_: u32| {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(answered(400, Some("DBS.200022"))) }
        };
        quick(4)
            .run(refused, transient, |_, _| {})
            .await
            .unwrap_err();
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test]
    async fn run_waits_what_retry_after_asks_up_to_the_cap() {
        let mut waits = Vec::new();
        let throttled = |_: u32| async {
            let mut e = answered(429, Some("APIGW.0308"));
            e.retry_after = Some(Duration::from_secs(60));
            Err::<(), _>(e)
        };
        quick(2)
            .run(
                throttled,
                |e: &ApiError| e.is_transient(),
                |_, wait| waits.push(wait),
            )
            .await
            .unwrap_err();
        assert_eq!(waits, [Duration::from_millis(5); 2]);
    }

    #[test]
    fn delays_are_full_jitter_below_a_doubling_ceiling() {
        let policy = RetryPolicy {
            max_retries: 8,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(3600),
        };
        for _ in 0..50 {
            let delays: Vec<_> = policy.delays(Instant::now()).collect();
            assert_eq!(delays.len(), 8);
            for (retry, delay) in delays.iter().enumerate() {
                let ceiling = (Duration::from_millis(250) * (1 << retry)).min(policy.cap);
                assert!(*delay <= ceiling, "retry {retry}: {delay:?} > {ceiling:?}");
            }
        }
        // Full jitter: short waits happen, not only the ceiling.
        let firsts: Vec<_> = (0..50)
            .filter_map(|_| policy.delays(Instant::now()).nth(3))
            .collect();
        assert!(
            firsts.iter().any(|d| *d < Duration::from_secs(1)),
            "{firsts:?}"
        );
    }

    #[test]
    fn the_budget_is_time_not_a_count() {
        let policy = RetryPolicy {
            max_retries: u32::MAX,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(90),
        };
        let delays: Vec<_> = policy.delays(Instant::now()).take(10_000).collect();
        assert!(delays.len() < 10_000, "the delays end");
        assert!(delays.iter().sum::<Duration>() <= Duration::from_secs(90));
        // A call that has already used its budget gets no retry at all.
        let spent = Instant::now() - Duration::from_secs(91);
        assert_eq!(policy.delays(spent).next(), None);
    }

    #[tokio::test]
    async fn waits_for_a_turn_under_the_adaptive_rate_do_not_spend_the_budget() {
        let limiter = rate::AdaptiveRate::default();
        let now = Instant::now();
        for _ in 0..4 {
            limiter.passed(now);
        }
        limiter.throttled(now);
        limiter.throttled(now);
        // 3.2 requests per second: every turn after the first waits ~310 ms,
        // twice the whole budget.
        let policy = RetryPolicy {
            max_retries: u32::MAX,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
            max_elapsed: Duration::from_millis(150),
        };
        let answer = policy
            .run(
                |n| {
                    let limiter = &limiter;
                    async move {
                        limiter.acquire().await;
                        if n < 3 {
                            Err(answered(503, None))
                        } else {
                            Ok(n)
                        }
                    }
                },
                |e: &ApiError| e.is_transient(),
                |_, _| {},
            )
            .await;
        assert_eq!(answer.ok(), Some(3), "slowed down, not given up");
        // Without the waits the budget still ends a call that keeps failing.
        let started = Instant::now();
        let err = policy
            .run(
                |_| async { Err::<(), _>(answered(503, None)) },
                |e: &ApiError| e.is_transient(),
                |_, _| {},
            )
            .await
            .unwrap_err();
        assert_eq!(err.status, Some(503));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn run_stops_when_the_time_budget_is_spent() {
        let policy = RetryPolicy {
            max_retries: u32::MAX,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
            max_elapsed: Duration::from_millis(150),
        };
        let attempts = std::cell::Cell::new(0);
        let err = policy
            .run(
                |n| {
                    attempts.set(n);
                    async { Err::<(), _>(answered(503, None)) }
                },
                |e: &ApiError| e.is_transient(),
                |_, _| {},
            )
            .await
            .unwrap_err();
        assert_eq!(err.status, Some(503));
        // Delays of at most 4 ms in 150 ms: far more than the old five attempts.
        assert!(attempts.get() > 5, "{} attempts", attempts.get());
        // A Retry-After longer than what is left ends the call at once.
        let mut waits = Vec::new();
        let throttled = |_: u32| async {
            let mut e = answered(429, Some("APIGW.0308"));
            e.retry_after = Some(Duration::from_secs(1));
            Err::<(), _>(e)
        };
        let patient = RetryPolicy {
            cap: Duration::from_secs(10),
            ..policy
        };
        patient
            .run(
                throttled,
                |e: &ApiError| e.is_transient(),
                |_, w| waits.push(w),
            )
            .await
            .unwrap_err();
        assert!(waits.is_empty(), "{waits:?}");
    }

    #[test]
    fn retry_after_is_capped() {
        let policy = RetryPolicy {
            max_retries: 1,
            base: Duration::from_millis(1),
            cap: Duration::from_secs(10),
            max_elapsed: DEFAULT_MAX_ELAPSED,
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
