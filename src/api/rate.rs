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
const INCREASE: f64 = 0.5;
/// Lowest rate: a request every two seconds still makes progress.
const MIN_RATE: f64 = 0.5;
/// Above this the limiter is lifted again: parallelism caps long before.
const MAX_RATE: f64 = 2000.0;
/// The gateway's window, over which successes are counted and one decrease happens.
const WINDOW: Duration = Duration::from_secs(1);
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
    /// Requests per second; `None` until the first throttling.
    rate: Option<f64>,
    /// When the last request was let through.
    last_sent: Option<Instant>,
    last_decrease: Option<Instant>,
    /// Answers other than throttling in the last [`WINDOW`].
    passed: VecDeque<Instant>,
    /// When a request last had to wait for its turn.
    last_wait: Option<Instant>,
}

impl AdaptiveRate {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent; keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a request may be sent.
    pub async fn acquire(&self) {
        if self.lock().rate.is_none() {
            return;
        }
        let _turn = self.turn.lock().await;
        // Re-read after every wait: a throttling meanwhile lengthens it.
        loop {
            let wait = self.lock().reserve(Instant::now());
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return,
            }
        }
    }

    /// The gateway answered (anything but throttling).
    pub fn passed(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        state.count_passed(now);
        if let Some(rate) = state.rate {
            let raised = rate + INCREASE;
            state.rate = (raised < MAX_RATE).then_some(raised);
        }
    }

    /// The gateway throttled a request.
    pub fn throttled(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        if state
            .last_decrease
            .is_some_and(|at| now.duration_since(at) < WINDOW)
        {
            return;
        }
        state.forget_before(now);
        let passed = state.passed.len() as f64;
        let rate = state.rate.map_or(passed, |r| r.min(passed));
        let lowered = (rate * DECREASE).max(MIN_RATE);
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

impl State {
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

    fn count_passed(&mut self, now: Instant) {
        self.passed.push_back(now);
        self.forget_before(now);
    }

    /// Drops the answers older than [`WINDOW`].
    fn forget_before(&mut self, now: Instant) {
        while self
            .passed
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            self.passed.pop_front();
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

    #[test]
    fn unlimited_until_throttled_then_lowered_to_a_share_of_what_passed() {
        let limiter = AdaptiveRate::default();
        assert_eq!(limiter.lock().reserve(Instant::now()), None);
        for _ in 0..20 {
            limiter.passed();
        }
        assert_eq!(limiter.lock().rate, None, "no throttling yet");
        limiter.throttled();
        let rate = limiter.lock().rate.unwrap();
        assert!((rate - 20.0 * DECREASE).abs() < 1e-9, "{rate}");
        // The other answers of the same second do not lower it again.
        limiter.throttled();
        assert_eq!(limiter.lock().rate, Some(rate));
        limiter.passed();
        assert_eq!(limiter.lock().rate, Some(rate + INCREASE));
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
        for _ in 0..20 {
            limiter.lock().last_decrease = None;
            limiter.throttled();
        }
        assert_eq!(limiter.lock().rate, Some(MIN_RATE));
    }
}
