//! The request rate htapsync allows itself per endpoint, adapted to the API
//! gateway's throttling like the cloud SDKs' adaptive retry mode: unlimited
//! (parallelism is the only cap) until the gateway first answers 429; then
//! each throttling lowers the rate multiplicatively, to a fraction of what
//! actually passed in the last second (once per second at most: the gateway
//! counts per second, so the answers of one second are one signal), and each
//! successful call raises it additively, ten times slower near the rate that
//! passed when it was last lowered (it creeps up to the limit rather than
//! running past it). Requests wait their turn in order, each at least
//! `1 / rate` after the previous one.
//!
//! A gateway shared with others throttles a share of the calls whatever our
//! rate. So each decrease is a trial: when the calls sent after it are
//! throttled about as often as before, it is undone, and that share becomes
//! the background that later windows must clearly exceed to lower the rate
//! again. Shares are taken over the last hundred answers, and the first
//! fifty answers lower nothing unless a quarter of a window is throttled: a
//! run's first answers all come back within one second, and two throttled
//! among them tell nothing. Time spent waiting for a turn does not count
//! against a call's retry budget ([`turn_waits`]).
//!
//! One limiter per endpoint in the process ([`for_endpoint`]), so every
//! client of a command paces together and progress can show it ([`throttled`]).

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Share of the rate that passed which a throttling leaves (AWS uses 0.7).
const DECREASE: f64 = 0.8;
/// Requests per second added by each successful call.
const INCREASE: f64 = 0.05;
/// Near the rate at which the last kept decrease was throttled, a passed
/// call adds this much less: the rate creeps up to the limit instead of
/// running past it, which costs a few throttlings a minute instead of a few
/// every ten seconds.
const PROBE_SLOWDOWN: f64 = 10.0;
/// Where "near" starts, as a share of that rate...
const NEAR_CEILING: f64 = 0.9;
/// ... and ends: a rate this far past it without a throttling means the limit
/// moved, and the full [`INCREASE`] comes back.
const PAST_CEILING: f64 = 1.25;
/// Lowest rate: a request every two seconds still makes progress.
const MIN_RATE: f64 = 0.5;
/// Above this the limiter is lifted again: parallelism caps long before.
const MAX_RATE: f64 = 2000.0;
/// The gateway's window, over which answers are counted and one decrease happens.
const WINDOW: Duration = Duration::from_secs(1);
/// Throttled answers within a [`WINDOW`] that lower the rate: a single one is
/// as likely a gateway shared with others as our own pace. Near the
/// [`State::ceiling`], one is enough: the rate creeps there because it was
/// throttled there, and waiting for a second while it creeps past the limit
/// costs a throttling every few seconds.
const REFUSALS: usize = 2;
/// Answers to requests sent after a decrease that tell whether it helped.
const TRIAL_ANSWERS: u32 = 30;
/// The last answers whose throttled share a trial compares with: far more
/// than one window holds when calls are few, so that a window that met two
/// throttlings by chance does not pass for a share the trial cannot reach.
const SHARE_SAMPLE: usize = 100;
/// Answers needed before a first decrease: the first answers of a run all
/// come back within one window, and a few throttled among them tell nothing.
const FIRST_SAMPLE: usize = 50;
/// Throttled share of a window that lowers the rate even before the
/// [`FIRST_SAMPLE`]: a limit the run's first burst met, not chance.
const FIRST_BURST_SHARE: f64 = 0.25;
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
    /// The last [`SHARE_SAMPLE`] answers, `true` for throttled.
    sample: VecDeque<bool>,
    /// The share of answers throttled whatever the rate, as the last trial
    /// that failed measured it: a window lowers the rate only when its
    /// throttled share is well above this.
    background: f64,
    /// What passed in the window of the last decrease made while paced, while
    /// no trial undid it: the limit as last seen, which the rate nears slowly.
    ceiling: Option<f64>,
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
    /// Share of throttled answers in the [`SHARE_SAMPLE`] before the decrease.
    share_before: f64,
    /// The rate and the ceiling before the decrease.
    before: Option<f64>,
    ceiling_before: Option<f64>,
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
        let asked = Instant::now();
        let _turn = self.turn.lock().await;
        // Re-read after every wait: a throttling meanwhile lengthens it.
        loop {
            let wait = self.lock().reserve(Instant::now());
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    let sent = Instant::now();
                    let _ = TURN_WAITS.try_with(|w| w.set(w.get() + (sent - asked)));
                    return sent;
                }
            }
        }
    }

    /// The gateway answered the request sent at `sent` (anything but throttling).
    pub fn passed(&self, sent: Instant) {
        let now = Instant::now();
        let mut state = self.lock();
        state.passed.push_back(now);
        state.forget_before(now);
        state.sampled(false);
        if let Some(trial) = state.trial.as_mut().filter(|t| t.covers(sent)) {
            trial.passed += 1;
        }
        state.judge_trial(now);
        if let Some(rate) = state.rate {
            let raised = rate + state.increase(rate);
            state.rate = (raised < MAX_RATE).then_some(raised);
        }
    }

    /// The gateway throttled the request sent at `sent`.
    pub fn throttled(&self, sent: Instant) {
        let now = Instant::now();
        let mut state = self.lock();
        state.refused.push_back(now);
        state.forget_before(now);
        state.sampled(true);
        if let Some(trial) = state.trial.as_mut().filter(|t| t.covers(sent)) {
            trial.refused += 1;
        }
        if state.judge_trial(now) || state.trial.is_some() {
            return;
        }
        let recent = state
            .last_decrease
            .is_some_and(|at| sent < at || same_window(at, now));
        if recent || !state.above_background() {
            return;
        }
        let passed = state.passed.len() as f64;
        let rate = state.rate.map_or(passed, |r| r.min(passed));
        let lowered = (rate * DECREASE).max(MIN_RATE);
        let throttled = state.sample.iter().filter(|t| **t).count() as f64;
        state.trial = Some(Trial {
            at: now,
            share_before: throttled / state.sample.len() as f64,
            before: state.rate,
            ceiling_before: state.ceiling,
            passed: 0,
            refused: 0,
        });
        // What passed while paced is the limit as seen; a first burst waiting
        // out its `Retry-After`s tells nothing of it.
        state.ceiling = state.rate.is_some().then_some(rate);
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

    /// The share of its answers that were throttled.
    fn share(&self) -> f64 {
        f64::from(self.refused) / f64::from(self.passed + self.refused)
    }

    /// Throttled at least half as often as before the decrease (twice at least).
    fn failed(&self) -> bool {
        self.refused >= 2 && self.share() >= self.share_before / 2.0
    }

    /// Fails whatever its remaining answers say: enough throttled answers
    /// already, so a trial at a low rate is not waited out.
    fn failed_already(&self) -> bool {
        let needed = (self.share_before / 2.0 * f64::from(TRIAL_ANSWERS)).ceil();
        self.refused >= 2 && f64::from(self.refused) >= needed
    }
}

impl State {
    /// Ends the trial once it has its answers; undoes its decrease if it did
    /// not help (then returns `true`).
    fn judge_trial(&mut self, now: Instant) -> bool {
        let Some(trial) = self
            .trial
            .take_if(|t| t.passed + t.refused >= TRIAL_ANSWERS || t.failed_already())
        else {
            return false;
        };
        tracing::debug!(
            passed = trial.passed,
            throttled = trial.refused,
            share_before = trial.share_before,
            background = self.background,
            kept = !trial.failed(),
            "judged a decrease of the request rate"
        );
        if !trial.failed() {
            return false;
        }
        self.rate = trial.before;
        self.ceiling = trial.ceiling_before;
        self.last_decrease = Some(now);
        self.background = trial.share();
        tracing::debug!("throttling does not follow the request rate: keeping the rate");
        true
    }

    /// What a passed call adds to `rate`: [`INCREASE`], but a
    /// [`PROBE_SLOWDOWN`]th of it near the [`State::ceiling`]; far past it the
    /// ceiling is forgotten.
    fn increase(&mut self, rate: f64) -> f64 {
        match self.ceiling {
            Some(ceiling) if rate >= ceiling * PAST_CEILING => {
                self.ceiling = None;
                INCREASE
            }
            _ if self.near_ceiling(rate) => INCREASE / PROBE_SLOWDOWN,
            _ => INCREASE,
        }
    }

    /// Whether `rate` is near the [`State::ceiling`] (from [`NEAR_CEILING`] of it up).
    fn near_ceiling(&self, rate: f64) -> bool {
        self.ceiling.is_some_and(|c| rate >= c * NEAR_CEILING)
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

    /// Whether the throttled answers of the window call for a lower rate: at
    /// least [`REFUSALS`] (one near the ceiling), after the [`FIRST_SAMPLE`]
    /// (or a quarter of the window), and more than the
    /// background share would throttle of the window's answers but once in
    /// about fifty windows (mean plus two standard deviations, plus one).
    fn above_background(&self) -> bool {
        let (passed, refused) = (self.passed.len() as f64, self.refused.len() as f64);
        let answers = passed + refused;
        let b = self.background;
        let by_chance = answers * b + 2.0 * (answers * b * (1.0 - b)).sqrt() + 1.0;
        // A limit met by the first burst throttles a large share at once.
        let first_burst_limited = refused >= answers * FIRST_BURST_SHARE;
        let near_ceiling = self.rate.is_some_and(|r| self.near_ceiling(r));
        let needed = if near_ceiling { 1 } else { REFUSALS };
        self.refused.len() >= needed
            && (self.sample.len() >= FIRST_SAMPLE || first_burst_limited)
            && (b == 0.0 || refused > by_chance)
    }

    /// Keeps an answer in the [`SHARE_SAMPLE`].
    fn sampled(&mut self, throttled: bool) {
        if self.sample.len() == SHARE_SAMPLE {
            self.sample.pop_front();
        }
        self.sample.push_back(throttled);
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

/// Whether `now` is within a [`WINDOW`] of `at`. (Exactly one window later,
/// `<` against `<=`, cannot be timed by a test: that mutant is excluded.)
fn same_window(at: Instant, now: Instant) -> bool {
    now.duration_since(at) < WINDOW
}

tokio::task_local! {
    /// How long the current task has waited in [`AdaptiveRate::acquire`].
    static TURN_WAITS: Cell<Duration>;
}

/// How long the current task has waited for its turn inside
/// [`counting_turn_waits`]. Pacing is htapsync's own choice, not the
/// service failing, so retry budgets leave it out (`retry::RetryPolicy::run`).
pub(crate) fn turn_waits() -> Duration {
    TURN_WAITS.try_with(Cell::get).unwrap_or_default()
}

/// Runs `work` counting its waits for a turn, unless the task counts them already.
pub(crate) async fn counting_turn_waits<F: Future>(work: F) -> F::Output {
    if TURN_WAITS.try_with(|_| ()).is_ok() {
        work.await
    } else {
        TURN_WAITS.scope(Cell::new(Duration::ZERO), work).await
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

    /// Forgets the window and the last decrease, as a second without answers would.
    fn next_window(limiter: &AdaptiveRate) {
        let mut state = limiter.lock();
        state.passed.clear();
        state.refused.clear();
        state.last_decrease = None;
    }

    const FIRST: u32 = FIRST_SAMPLE as u32;

    #[test]
    fn unlimited_until_throttled_twice_then_lowered_to_a_share_of_what_passed() {
        let limiter = AdaptiveRate::default();
        assert_eq!(limiter.lock().reserve(Instant::now()), None);
        let sent = Instant::now();
        answers(&limiter, sent, FIRST - 2, 0);
        limiter.throttled(sent);
        assert_eq!(
            limiter.lock().rate,
            None,
            "one throttling may be someone else's"
        );
        limiter.throttled(sent);
        let rate = limiter.lock().rate.unwrap();
        assert!(
            (rate - f64::from(FIRST - 2) * DECREASE).abs() < 1e-9,
            "{rate}"
        );
        // Answers to requests sent before the decrease do not lower it again.
        limiter.throttled(sent);
        assert_eq!(limiter.lock().rate, Some(rate));
        limiter.passed(sent);
        assert_eq!(limiter.lock().rate, Some(rate + INCREASE));
    }

    #[test]
    fn throttlings_among_the_first_answers_do_not_lower_the_rate() {
        let limiter = AdaptiveRate::default();
        answers(&limiter, Instant::now(), FIRST - 1, 5);
        assert_eq!(limiter.lock().rate, None);
        limiter.throttled(Instant::now());
        assert!(
            limiter.lock().rate.is_some(),
            "the first sample is complete"
        );
        // A limit that the first burst meets throttles a quarter at once.
        let limiter = AdaptiveRate::default();
        answers(&limiter, Instant::now(), 12, 4);
        assert_eq!(limiter.lock().rate, Some(8.0 * DECREASE));
    }

    #[test]
    fn a_decrease_that_does_not_lower_the_throttling_is_undone_as_soon_as_that_is_sure() {
        let limiter = AdaptiveRate::default();
        answers(&limiter, Instant::now(), FIRST, 5);
        let share_before = limiter.lock().trial.as_ref().unwrap().share_before;
        assert!(
            (share_before - 5.0 / f64::from(FIRST)).abs() < 1e-9,
            "{share_before}"
        );
        // At the lower rate, calls are still throttled: the second throttling
        // makes the trial fail whatever its other answers would say.
        answers(&limiter, Instant::now(), 18, 2);
        assert_eq!(limiter.lock().rate, None, "back to what it was");
        assert_eq!(limiter.lock().ceiling, None, "and so is the ceiling");
        assert!(limiter.lock().trial.is_none(), "after 18 answers, not 30");
        let background = limiter.lock().background;
        assert!((background - 2.0 / 18.0).abs() < 1e-9, "{background}");

        // Throttling at the background share is not the rate's doing...
        next_window(&limiter);
        answers(&limiter, Instant::now(), 30, 3);
        assert_eq!(limiter.lock().rate, None);
        // ... throttling well above it is.
        answers(&limiter, Instant::now(), 10, 10);
        assert!(limiter.lock().rate.is_some());
    }

    #[test]
    fn a_decrease_that_stops_the_throttling_stays() {
        let limiter = AdaptiveRate::default();
        answers(&limiter, Instant::now(), FIRST + 2, 2);
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
    fn the_rate_creeps_near_what_passed_when_it_was_last_lowered() {
        let limiter = AdaptiveRate::default();
        answers(&limiter, Instant::now(), FIRST + 2, 2);
        assert_eq!(limiter.lock().ceiling, None, "not from a first burst");
        answers(&limiter, Instant::now(), TRIAL_ANSWERS, 0); // kept
        next_window(&limiter);
        answers(&limiter, Instant::now(), 12, 2);
        let ceiling = limiter.lock().ceiling;
        assert_eq!(ceiling, Some(10.0), "what passed in the window, paced");

        let mut state = State {
            ceiling: Some(20.0),
            ..State::default()
        };
        let (near, past) = (20.0 * NEAR_CEILING, 20.0 * PAST_CEILING);
        assert_eq!(state.increase(near - 0.01), INCREASE);
        assert_eq!(state.increase(near), INCREASE / PROBE_SLOWDOWN);
        assert_eq!(state.increase(past - 0.01), INCREASE / PROBE_SLOWDOWN);
        assert_eq!(state.ceiling, Some(20.0));
        // Far past it without a throttling: the limit moved.
        assert_eq!(state.increase(past), INCREASE);
        assert_eq!(state.ceiling, None);
        assert_eq!(state.increase(near), INCREASE);
    }

    fn trial(passed: u32, refused: u32, share_before: f64) -> Trial {
        Trial {
            at: Instant::now(),
            share_before,
            before: None,
            ceiling_before: None,
            passed,
            refused,
        }
    }

    #[test]
    fn a_trial_fails_on_two_throttlings_at_half_the_share_before() {
        // Two throttlings at least, whatever the shares.
        assert!(!trial(29, 1, 0.02).failed());
        assert!(!trial(29, 1, 0.02).failed_already());
        // Half the share before: 0.3 of the answers against 0.5 fails...
        assert!(trial(7, 3, 0.5).failed());
        // ... 2 of 12 against 0.9 does not, and is not sure to yet (14 needed).
        assert!(!trial(10, 2, 0.9).failed());
        assert!(!trial(10, 2, 0.9).failed_already());
        assert!(trial(10, 14, 0.9).failed_already());
        // Against 0.5, 8 throttlings of the 30 make it sure.
        assert!(!trial(0, 7, 0.5).failed_already());
        assert!(trial(0, 8, 0.5).failed_already());
    }

    #[test]
    fn a_trial_is_judged_after_its_answers() {
        let mut state = State {
            trial: Some(trial(TRIAL_ANSWERS - 2, 1, 0.5)),
            ..State::default()
        };
        assert!(!state.judge_trial(Instant::now()));
        assert!(state.trial.is_some(), "29 answers");
        state.trial.as_mut().unwrap().passed += 1;
        assert!(!state.judge_trial(Instant::now()), "kept");
        assert!(state.trial.is_none(), "30 answers: judged");
    }

    /// A window of `passed` and `refused` answers after a full first sample.
    fn window(passed: usize, refused: usize, background: f64) -> State {
        let now = Instant::now();
        State {
            passed: std::iter::repeat_n(now, passed).collect(),
            refused: std::iter::repeat_n(now, refused).collect(),
            sample: std::iter::repeat_n(false, SHARE_SAMPLE).collect(),
            background,
            ..State::default()
        }
    }

    #[test]
    fn a_window_lowers_the_rate_only_clearly_above_the_background() {
        // A tenth in the background: of 100 answers, 10 expected, 3 the
        // standard deviation, so up to 10 + 2 * 3 + 1 = 17 is chance.
        assert!(!window(83, 17, 0.1).above_background());
        assert!(window(82, 18, 0.1).above_background());
        // Half in the background: 50 expected, 5 the standard deviation.
        assert!(!window(39, 61, 0.5).above_background());
        assert!(window(38, 62, 0.5).above_background());
        // Without a background, two throttlings lower it...
        assert!(!window(98, 1, 0.0).above_background());
        assert!(window(98, 2, 0.0).above_background());
        // ... and one near the rate last throttled, but not below it.
        let creeping = |rate: f64| State {
            rate: Some(rate),
            ceiling: Some(20.0),
            ..window(98, 1, 0.0)
        };
        assert!(creeping(20.0 * NEAR_CEILING).above_background());
        assert!(!creeping(20.0 * NEAR_CEILING - 0.01).above_background());
        assert!(
            !State {
                ceiling: None,
                ..creeping(20.0)
            }
            .above_background()
        );
    }

    /// A limiter whose rate (10/s) was lowered at the instant returned, `ago`;
    /// its trial over and one throttling in the window.
    fn lowered(ago: Duration) -> (AdaptiveRate, Instant) {
        let limiter = AdaptiveRate::default();
        answers(&limiter, Instant::now(), FIRST, 1);
        let at = Instant::now().checked_sub(ago).unwrap();
        let mut state = limiter.lock();
        (state.rate, state.last_decrease, state.trial) = (Some(10.0), Some(at), None);
        drop(state);
        (limiter, at)
    }

    #[test]
    fn one_decrease_per_window_and_none_for_requests_sent_before_the_last() {
        let second = Duration::from_secs(2);
        let rate = |limiter: &AdaptiveRate| limiter.lock().rate.unwrap();
        // Sent before the last decrease, even a while ago: already answered by it.
        let (limiter, at) = lowered(second);
        limiter.throttled(at - Duration::from_millis(1));
        assert_eq!(rate(&limiter), 10.0);
        // Sent after it, within a window of it: the same second.
        let (limiter, _) = lowered(Duration::ZERO);
        limiter.throttled(Instant::now());
        assert_eq!(rate(&limiter), 10.0);
        // Sent at it or after, a window later: lowered again.
        let (limiter, at) = lowered(second);
        limiter.throttled(at);
        assert!(rate(&limiter) < 10.0);
        let (limiter, _) = lowered(second);
        limiter.throttled(Instant::now());
        assert!(rate(&limiter) < 10.0);
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
        answers(&limiter, Instant::now(), FIRST, 0);
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
