//! Terminal concerns of the CLI: colour detection, progress bars and the JSON
//! message stream. Progress goes to stderr and only on a terminal, so piped,
//! `--json` and Markdown output stays clean.

use crate::render::json::Message;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Prints one message of the `--json` stream, stamped with the current time.
pub fn emit(message: &Message) {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    println!("{}", message.line(&now));
}

/// Whether to colour, and whether stderr is a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub stderr_tty: bool,
}

impl Style {
    /// Colour only on a terminal, never with `--no-color` or `NO_COLOR`.
    pub fn detect(no_color: bool) -> Style {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && !no_color_env && std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn render(&self) -> crate::render::Style {
        crate::render::Style { color: self.color }
    }

    pub fn error_prefix(&self) -> &'static str {
        if self.color && self.stderr_tty {
            "\x1b[1;31merror:\x1b[0m"
        } else {
            "error:"
        }
    }

    /// A progress bar of `len` steps on stderr, hidden when stderr is not a
    /// terminal or machine output was asked for.
    pub fn progress(&self, len: usize, message: &str, machine_output: bool) -> ProgressBar {
        if !self.stderr_tty || machine_output || len == 0 {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(message.to_string());
        bar
    }

    /// A spinner on stderr for work of unknown length (refresh), hidden like
    /// [`Style::progress`].
    pub fn spinner(&self, message: &str, machine_output: bool) -> ProgressBar {
        if !self.stderr_tty || machine_output {
            return ProgressBar::hidden();
        }
        let spinner = ProgressBar::new_spinner();
        spinner.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        spinner.set_message(message.to_string());
        spinner.enable_steady_tick(Duration::from_millis(120));
        spinner
    }
}
