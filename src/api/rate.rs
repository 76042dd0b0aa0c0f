//! The request rate htapsync allows itself per endpoint, adapted to the API
//! gateway's throttling like the cloud SDKs' adaptive retry mode: unlimited
//! (parallelism is the only cap) until the gateway first answers 429; then
//! each throttling lowers the rate multiplicatively, to a fraction of what
//! actually passed in the last second (once per second at most: the gateway
//! counts per second, so the answers of one second are one signal), and each
//! successful call raises it additively. Requests wait their turn in order,
//! each at least `1 / rate` after the previous one.
//!
//! One limiter per endpoint in the process ([`for_endpoint`]), so every
//! client of a command paces together and progress can show it ([`throttled`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Share of the rate that passed which a throttling leaves (AWS uses 0.7).
const DECREASE: f64 = 0.8;
/// Requests per second added by each successful call.
const INCREASE: f64 = 0.05;
/// Lowest rate: a request every two seconds still makes progress.
const MIN_RATE: f64 = 0.5;
/// Above this the limiter is lifted again: parallelism caps long before.
const MAX_RATE: f64 = 2000.0;
/// The gateway's window, over which answers are counted and one decrease happens.
const WINDOW: Duration = Duration::from_secs(1);
/// Throttled answers within a [`WINDOW`] that lower the rate: a single one is
/// as likely a gateway shared with others as our own pace.
const REFUSALS: usize = 2;
/// Answers to requests sent after a decrease that tell whether it helped.
const TRIAL_ANSWERS: u32 = 30;
/// How long after a request last waited progress still says "throttled".
const SHOWN_FOR: Duration = Duration::from_secs(2);

/// The adaptive rate of one endpoint.
#[derive(Debug, Default)]
pub struct AdaptiveRate {
    state: Mutex<State>,
    /// Held by the request whose turn is next, while it waits: FIFO.
    turn: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    /// Requests per second; `None`: unlimited (no throttling seen, or it did
    /// not follow the rate).
    rate: Option<f64>,
    /// When the last request was let through.
    last_sent: Option<Instant>,
    last_decrease: Option<Instant>,
    /// Answers other than throttling in the last [`WINDOW`].
    passed: VecDeque<Instant>,
    /// Throttled answers in the last [`WINDOW`].
    refused: VecDeque<Instant>,
    /// Whether the last decrease helped, being found out.
    trial: Option<Trial>,
    /// When a request last had to wait for its turn.
    last_wait: Option<Instant>,
}

/// The answers after a decrease: if requests sent at the lower rate are
/// throttled as often as before, the throttling does not follow the rate (a
/// gateway shared with others, or random), and the decrease is undone, so a
/// gateway that throttles a share of all calls does not drive the rate to its floor.
#[derive(Debug)]
struct Trial {
    at: Instant,
    /// Share of throttled answers in the window before the decrease.
    share_before: f64,
    /// The rate before the decrease.
    before: Option<f64>,
    passed: u32,
    refused: u32,
}

impl AdaptiveRate {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent; keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a request may be sent; returns when it is sent, to be
    /// given back with its answer.
    pub async fn acquire(&self) -> Instant {
        if self.lock().rate.is_none() {
            return Instant::now();
        }
        let _turn = self.turn.lock().await;
        // Re-read after every wait: a throttling meanwhile lengthens it.
        loop {
            let wait = self.lock().reserve(Instant::now());
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Instant::now(),
            }
        }
    }

    /// The gateway answered the request sent at `sent` (anything but throttling).
    pub fn passed(&self, sent: Instant) {
        let now = Instant::now();
        let mut state = self.lock();
        state.passed.push_back(now);
        state.forget_before(now);
        if let Some(trial) = state.trial.as_mut().filter(|t| t.covers(sent)) {
            trial.passed += 1;
        }
        state.judge_trial(now);
        if let Some(rate) = state.rate {
            let raised = rate + INCREASE;
            state.rate = (raised < MAX_RATE).then_some(raised);
        }
    }

    /// The gateway throttled the request sent at `sent`.
    pub fn throttled(&self, sent: Instant) {
        let now = Instant::now();
        let mut state = self.lock();
        state.refused.push_back(now);
        state.forget_before(now);
        if let Some(trial) = state.trial.as_mut().filter(|t| t.covers(sent)) {
            trial.refused += 1;
        }
        if state.judge_trial(now) || state.trial.is_some() {
            return;
        }
        let recent = state
            .last_decrease
            .is_some_and(|at| sent < at || now.duration_since(at) < WINDOW);
        if recent || state.refused.len() < REFUSALS {
            return;
        }
        let (passed, refused) = (state.passed.len() as f64, state.refused.len() as f64);
        let rate = state.rate.map_or(passed, |r| r.min(passed));
        let lowered = (rate * DECREASE).max(MIN_RATE);
        state.trial = Some(Trial {
            at: now,
            share_before: refused / (passed + refused),
            before: state.rate,
            passed: 0,
            refused: 0,
        });
        state.rate = Some(lowered);
        state.last_decrease = Some(now);
        tracing::info!(
            rate = lowered,
            "throttled by the API: lowering the request rate"
        );
    }

    /// The rate when it made a request wait lately, else `None`.
    pub fn slowed_to(&self) -> Option<f64> {
        let state = self.lock();
        let waited = state.last_wait?;
        (waited.elapsed() < SHOWN_FOR).then_some(state.rate?)
    }
}

impl Trial {
    /// Whether the answer to a request sent at `sent` tells how the lower
    /// rate fares: sent after the decrease.
    fn covers(&self, sent: Instant) -> bool {
        sent >= self.at
    }

    /// Throttled at least half as often as before the decrease (twice at least).
    fn failed(&self) -> bool {
        let answers = f64::from(self.passed + self.refused);
        self.refused >= 2 && f64::from(self.refused) / answers >= self.share_before / 2.0
    }
}

impl State {
    /// Ends the trial once it has its answers; undoes its decrease if it did
    /// not help (then returns `true`).
    fn judge_trial(&mut self, now: Instant) -> bool {
        let Some(trial) = self
            .trial
            .take_if(|t| t.passed + t.refused >= TRIAL_ANSWERS)
        else {
            return false;
        };
        if !trial.failed() {
            return false;
        }
        self.rate = trial.before;
        self.last_decrease = Some(now);
        tracing::debug!("throttling does not follow the request rate: keeping the rate");
        true
    }

    /// Lets a request through now (`None`), or says how long until its turn.
    fn reserve(&mut self, now: Instant) -> Option<Duration> {
        let rate = self.rate?;
        let interval = Duration::from_secs_f64(1.0 / rate);
        let Some(last) = self.last_sent else {
            self.last_sent = Some(now);
            return None;
        };
        let slot = last + interval;
        if now < slot {
            self.last_wait = Some(now);
            return Some(slot - now);
        }
        // A wake-up late by less than an interval keeps the schedule, so
        // timer lateness does not lower the rate; after a pause it restarts.
        self.last_sent = Some(if now - slot < interval { slot } else { now });
        None
    }

    /// Drops the answers older than [`WINDOW`].
    fn forget_before(&mut self, now: Instant) {
        for answers in [&mut self.passed, &mut self.refused] {
            while answers
                .front()
                .is_some_and(|t| now.duration_since(*t) > WINDOW)
            {
                answers.pop_front();
            }
        }
    }
}

static LIMITERS: LazyLock<Mutex<HashMap<String, Arc<AdaptiveRate>>>> =
    LazyLock::new(Mutex::default);

fn limiters() -> MutexGuard<'static, HashMap<String, Arc<AdaptiveRate>>> {
    LIMITERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The limiter of `endpoint`, shared by every client of it in this process.
pub fn for_endpoint(endpoint: &str) -> Arc<AdaptiveRate> {
    limiters().entry(endpoint.to_string()).or_default().clone()
}

/// The lowest rate any endpoint slowed requests to lately: what progress shows.
pub fn throttled() -> Option<f64> {
    limiters()
        .values()
        .filter_map(|l| l.slowed_to())
        .min_by(f64::total_cmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` answers to requests sent at `sent`, the `refused` last of them throttled.
    fn answers(limiter: &AdaptiveRate, sent: Instant, n: u32, refused: u32) {
        for i in 0..n {
            if i >= n - refused {
                limiter.throttled(sent);
            } else {
                limiter.passed(sent);
            }
        }
    }

    #[test]
    fn unlimited_until_throttled_twice_then_lowered_to_a_share_of_what_passed() {
        let limiter = AdaptiveRate::default();
        assert_eq!(limiter.lock().reserve(Instant::now()), None);
        let sent = Instant::now();
        answers(&limiter, sent, 20, 0);
        limiter.throttled(sent);
        assert_eq!(
            limiter.lock().rate,
            None,
            "one throttling may be someone else's"
        );
        limiter.throttled(sent);
        let rate = limiter.lock().rate.unwrap();
        assert!((rate - 20.0 * DECREASE).abs() < 1e-9, "{rate}");
        // Answers to requests sent before the decrease do not lower it again.
        limiter.throttled(sent);
        assert_eq!(limiter.lock().rate, Some(rate));
        limiter.passed(sent);
        assert_eq!(limiter.lock().rate, Some(rate + INCREASE));
    }

    #[test]
    fn a_decrease_that_does_not_lower_the_throttling_is_undone() {
        let limiter = AdaptiveRate::default();
        answers(&limiter, Instant::now(), 20, 2);
        assert!(limiter.lock().rate.is_some());
        // At the lower rate, a tenth of the calls are still throttled.
        answers(&limiter, Instant::now(), TRIAL_ANSWERS, 3);
        assert_eq!(limiter.lock().rate, None, "back to what it was");
    }

    #[test]
    fn a_decrease_that_stops_the_throttling_stays() {
        let limiter = AdaptiveRate::default();
        answers(&limiter, Instant::now(), 22, 2);
        let lowered = limiter.lock().rate.unwrap();
        answers(&limiter, Instant::now(), TRIAL_ANSWERS, 0);
        let rate = limiter.lock().rate.unwrap();
        let climbed = lowered + f64::from(TRIAL_ANSWERS) * INCREASE;
        assert!(
            (rate - climbed).abs() < 1e-9,
            "{lowered} then {rate}: kept, and climbing"
        );
        assert!(limiter.lock().trial.is_none());
    }

    #[test]
    fn requests_are_spaced_by_the_rate() {
        let mut state = State {
            rate: Some(10.0),
            ..State::default()
        };
        let t0 = Instant::now();
        assert_eq!(state.reserve(t0), None);
        assert_eq!(state.reserve(t0), Some(Duration::from_millis(100)));
        let late = t0 + Duration::from_millis(101);
        assert_eq!(state.reserve(late), None);
        assert_eq!(state.last_sent, Some(t0 + Duration::from_millis(100)));
        assert!(state.last_wait.is_some());
    }

    #[test]
    fn the_rate_never_falls_below_the_floor() {
        let limiter = AdaptiveRate::default();
        for _ in 0..40 {
            let mut state = limiter.lock();
            state.last_decrease = None;
            state.trial = None;
            drop(state);
            limiter.throttled(Instant::now());
        }
        assert_eq!(limiter.lock().rate, Some(MIN_RATE));
    }
}
