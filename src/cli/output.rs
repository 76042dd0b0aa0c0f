//! Terminal concerns of the CLI: the writers of stdout and stderr, colour
//! detection, progress bars and the JSON message stream. Progress goes to
//! stderr and only on a terminal, so piped, `--json` and Markdown output
//! stays clean.
//!
//! Everything the CLI prints goes through [`write_stdout`] / [`write_stderr`]
//! (the [`Stdout`] and [`Stderr`] sinks the views write to, and the
//! [`outln!`] and [`errln!`] macros), never `println!`, which panics
//! when the reader of a pipe has gone (`htapsync plan | head -1`). Both
//! writers pass the text through [`crate::render::terminal_safe`], so control
//! sequences in names and messages that came from the server or the
//! configuration cannot drive the terminal.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout failed with a broken pipe: its reader has gone.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Writes to stdout. Errors are returned, not panicked on; after a broken
/// pipe nothing more is written and every later call fails the same way.
pub fn write_stdout(args: fmt::Arguments<'_>) -> io::Result<()> {
    if stdout_gone() {
        return Err(io::ErrorKind::BrokenPipe.into());
    }
    let text = fmt::format(args);
    let mut out = io::stdout().lock();
    let written = out
        .write_all(crate::render::terminal_safe(&text).as_bytes())
        .and_then(|()| out.flush());
    if let Err(e) = &written
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        STDOUT_GONE.store(true, Ordering::SeqCst);
    }
    written
}

/// Whether stdout's reader has gone (a broken pipe was seen).
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(Ordering::SeqCst)
}

/// Whether `error` is the broken pipe of a closed stdout, which ends a
/// read-only command quietly and successfully, as ripgrep does.
pub fn is_closed_stdout(error: &anyhow::Error) -> bool {
    stdout_gone()
        && error
            .chain()
            .filter_map(|e| e.downcast_ref::<io::Error>())
            .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// Writes to stderr. A failure is ignored: there is nowhere left to report it.
pub fn write_stderr(args: fmt::Arguments<'_>) {
    let text = fmt::format(args);
    let mut err = io::stderr().lock();
    let _ = err
        .write_all(crate::render::terminal_safe(&text).as_bytes())
        .and_then(|()| err.flush());
}

/// `println!` through [`write_stdout`]: evaluates to `io::Result<()>`.
macro_rules! outln {
    () => {
        $crate::cli::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// `print!` through [`write_stdout`]: evaluates to `io::Result<()>`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!($($arg)*))
    };
}
pub(crate) use out;

/// `eprintln!` through [`write_stderr`], which never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use errln;

/// Stdout as a sink of views: [`write_stdout`] behind `io::Write`.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_stdout(format_args!("{}", String::from_utf8_lossy(buf)))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Stderr as a sink of views: [`write_stderr`], which never fails.
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_stderr(format_args!("{}", String::from_utf8_lossy(buf)));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What colour and progress depend on, read from the process or given by a test.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal {
    /// `--no-color`.
    pub no_color_flag: bool,
    /// `NO_COLOR` is set to a non-empty value.
    pub no_color_env: bool,
    /// `TERM=dumb`: a terminal that understands no escape sequences.
    pub term_dumb: bool,
    pub stdout_tty: bool,
    pub stderr_tty: bool,
}

impl Terminal {
    fn detect(no_color_flag: bool) -> Terminal {
        Terminal {
            no_color_flag,
            no_color_env: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            term_dumb: std::env::var_os("TERM").is_some_and(|v| v == "dumb"),
            stdout_tty: io::stdout().is_terminal(),
            stderr_tty: io::stderr().is_terminal(),
        }
    }
}

/// Whether to colour each stream, and whether to draw progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Colour on stdout.
    pub color: bool,
    /// Colour on stderr (error prefixes, logs).
    pub stderr_color: bool,
    /// Progress bars and spinners on stderr.
    pub progress: bool,
}

impl Style {
    /// The style of this process's streams.
    pub fn detect(no_color: bool) -> Style {
        Style::for_terminal(Terminal::detect(no_color))
    }

    /// Each stream is coloured only when it is a terminal, never with
    /// `--no-color`, `NO_COLOR` or `TERM=dumb`; progress is drawn only when
    /// stderr is a terminal that understands escape sequences.
    pub fn for_terminal(t: Terminal) -> Style {
        let colour_allowed = !t.no_color_flag && !t.no_color_env && !t.term_dumb;
        Style {
            color: colour_allowed && t.stdout_tty,
            stderr_color: colour_allowed && t.stderr_tty,
            progress: t.stderr_tty && !t.term_dumb,
        }
    }

    pub fn render(&self) -> crate::render::Style {
        crate::render::Style { color: self.color }
    }

    /// The streams of a view: this process's stdout and stderr, each
    /// coloured as detected.
    pub fn streams(&self) -> crate::render::view::Streams {
        crate::render::view::Streams {
            out: Box::new(Stdout),
            err: Box::new(Stderr),
            style: self.render(),
            err_style: crate::render::Style {
                color: self.stderr_color,
            },
        }
    }

    pub fn error_prefix(&self) -> String {
        let stderr = crate::render::Style {
            color: self.stderr_color,
        };
        stderr.paint(crate::render::Paint::BoldRed, "error:")
    }
}

#[cfg(test)]
mod tests {
    use super::{Style, Terminal};

    fn tty() -> Terminal {
        Terminal {
            stdout_tty: true,
            stderr_tty: true,
            ..Terminal::default()
        }
    }

    #[test]
    fn each_stream_is_coloured_only_when_it_is_a_terminal() {
        let style = Style::for_terminal(Terminal {
            stderr_tty: false,
            ..tty()
        });
        assert!(style.color && !style.stderr_color && !style.progress);
        let style = Style::for_terminal(Terminal {
            stdout_tty: false,
            ..tty()
        });
        assert!(!style.color && style.stderr_color && style.progress);
    }

    #[test]
    fn dumb_terminal_gets_no_colour_and_no_progress() {
        let style = Style::for_terminal(Terminal {
            term_dumb: true,
            ..tty()
        });
        assert_eq!(
            style,
            Style {
                color: false,
                stderr_color: false,
                progress: false
            }
        );
        assert_eq!(style.error_prefix(), "error:");
    }

    #[test]
    fn no_color_keeps_progress_but_drops_colour() {
        for t in [
            Terminal {
                no_color_env: true,
                ..tty()
            },
            Terminal {
                no_color_flag: true,
                ..tty()
            },
        ] {
            let style = Style::for_terminal(t);
            assert!(!style.color && !style.stderr_color && style.progress);
        }
        assert!(Style::for_terminal(tty()).error_prefix().contains('\x1b'));
    }
}
