//! Progress on stderr: the [`Progress`] of operations drawn as one bar (or
//! spinner) per phase, only on a terminal and only for human output, so
//! piped, `--json` and Markdown output stays clean.

use super::output::Style;
use crate::ops::{Phase, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;
use std::time::Duration;

/// The progress of an operation on stderr: one bar (or spinner) per phase,
/// hidden unless [`Style::progress`] and the format is human.
pub struct Bars {
    style: Style,
    machine_output: bool,
    current: Mutex<ProgressBar>,
}

impl Bars {
    pub fn new(style: Style, machine_output: bool) -> Bars {
        Bars {
            style,
            machine_output,
            current: Mutex::new(ProgressBar::hidden()),
        }
    }

    fn current(&self) -> ProgressBar {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Runs `f` (which prints) with the bar out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.current().suspend(f)
    }
}

impl Progress for Bars {
    fn start(&self, phase: Phase, len: Option<usize>) {
        let machine = self.machine_output;
        let bar = match phase {
            Phase::Refreshing => self.style.spinner("refreshing", machine),
            Phase::Checking => self
                .style
                .progress(len.unwrap_or(0), "table-config-check", machine),
            Phase::Applying => self.style.progress(len.unwrap_or(0), "applying", machine),
        };
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = bar;
    }

    fn step(&self) {
        self.current().inc(1);
    }

    fn finish(&self) {
        self.current().finish_and_clear();
    }

    fn waiting(&self, line: &str) {
        let message = if line.is_empty() {
            "applying".to_string()
        } else {
            format!("applying ({line})")
        };
        self.current().set_message(message);
    }
}

impl Style {
    /// A progress bar of `len` steps on stderr, hidden when stderr is not a
    /// terminal or machine output was asked for.
    pub fn progress(&self, len: usize, message: &str, machine_output: bool) -> ProgressBar {
        if !self.progress || machine_output || len == 0 {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed}){throttled}",
            )
            .map(with_throttle)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        // Redrawn while no task finishes, so a slowdown shows when it starts.
        bar.enable_steady_tick(Duration::from_millis(500));
        bar.set_message(message.to_string());
        bar
    }

    /// A spinner on stderr for work of unknown length (refresh), hidden like
    /// [`Style::progress`].
    pub fn spinner(&self, message: &str, machine_output: bool) -> ProgressBar {
        if !self.progress || machine_output {
            return ProgressBar::hidden();
        }
        let spinner = ProgressBar::new_spinner();
        spinner.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed}){throttled}")
                .map(with_throttle)
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        spinner.set_message(message.to_string());
        spinner.enable_steady_tick(Duration::from_millis(120));
        spinner
    }
}

/// Fills `{throttled}` with [`throttle_note`] at every redraw.
fn with_throttle(style: ProgressStyle) -> ProgressStyle {
    style.with_key(
        "throttled",
        |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&throttle_note(crate::api::rate::throttled()));
        },
    )
}

/// ` · throttled: 6 req/s` while htapsync slows its requests down because the
/// API throttled them, else nothing.
fn throttle_note(rate: Option<f64>) -> String {
    rate.map_or_else(String::new, |r| format!(" · throttled: {r:.0} req/s"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_shows_the_rate_only_while_slowed_down() {
        assert_eq!(throttle_note(Some(6.4)), " · throttled: 6 req/s");
        assert_eq!(throttle_note(None), "");
    }
}
