//! The one place the CLI writes to stdout and stderr.
//!
//! - Results: for people, lines on stdout; with `--json`, one JSON object per command (or per
//!   `listen` event) on stdout.
//! - Errors: for people, `error: <sentence>` on stderr; with `--json`,
//!   `{"error": {"code": …, "message": …}}` on **stdout**, so a script reads one stream.
//! - Warnings (`warning: …`) go to stderr in both modes.
//! - Progress bars (`indicatif`) go to stderr, only when it is a terminal and never under
//!   `--json`.
//!
//! Errors, warnings and notes for people pass through [`printable`]: they can hold text the
//! relay chose (its refusal message), which must not rewrite the terminal
//! (docs/threat-model.md). Each command does the same for the peer text in its own lines;
//! JSON is escaped by serde and stays exact.

use std::io::{IsTerminal as _, Write as _};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::commands::printable;
use crate::error::CliError;

/// What a command gives back for printing: its lines for people and its JSON object.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    human: String,
    json: Option<serde_json::Value>,
}

impl Outcome {
    /// A result: `json` (printed under `--json`) and `human`, the lines people see (empty for
    /// none; a missing final newline is added).
    pub fn new(json: &impl Serialize, human: impl Into<String>) -> Result<Self, CliError> {
        let json = serde_json::to_value(json)
            .map_err(|e| CliError::local("output_failed", format!("cannot encode JSON: {e}")))?;
        Ok(Self {
            human: human.into(),
            json: Some(json),
        })
    }

    /// Everything was already written while the command ran (`listen`).
    pub fn streamed() -> Self {
        Self {
            human: String::new(),
            json: None,
        }
    }

    /// The lines for people.
    pub fn human(&self) -> &str {
        &self.human
    }

    /// The JSON object, unless the command streamed its output.
    pub fn json(&self) -> Option<&serde_json::Value> {
        self.json.as_ref()
    }
}

/// How and where the CLI writes.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    json: bool,
    progress: bool,
}

impl Output {
    /// Output for `--json` (or not); progress bars are drawn when stderr is a terminal and
    /// `json` is off.
    pub fn new(json: bool) -> Self {
        Self::with_progress(json, !json && std::io::stderr().is_terminal())
    }

    /// Output that draws progress bars or not, whatever stderr is.
    pub fn with_progress(json: bool, progress: bool) -> Self {
        Self { json, progress }
    }

    /// Whether `--json` is on.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints a command's result: its JSON object under `--json`, else its lines.
    pub fn outcome(&self, outcome: &Outcome) -> Result<(), CliError> {
        match (&outcome.json, self.json) {
            (Some(value), true) => write_stdout(&format!("{value}\n")),
            (_, false) if !outcome.human.is_empty() => {
                let mut text = outcome.human.clone();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                write_stdout(&text)
            }
            _ => Ok(()),
        }
    }

    /// Prints one event of a stream (`listen`): `json` as one line under `--json`, else the
    /// `human` line.
    pub fn event(&self, human: &str, json: &impl Serialize) -> Result<(), CliError> {
        if self.json {
            let line = serde_json::to_string(json).map_err(|e| {
                CliError::local("output_failed", format!("cannot encode JSON: {e}"))
            })?;
            write_stdout(&format!("{line}\n"))
        } else {
            write_stdout(&format!("{human}\n"))
        }
    }

    /// A warning for people, on stderr (both modes), without control characters.
    pub fn warn(&self, text: impl std::fmt::Display) {
        write_stderr(&format!("warning: {}\n", printable(&text.to_string())));
    }

    /// A note for people (`reconnected`), on stderr (both modes), without control characters.
    pub fn note(&self, text: impl std::fmt::Display) {
        write_stderr(&format!("{}\n", printable(&text.to_string())));
    }

    /// Reports a failed command: `{"error": {…}}` on stdout under `--json`, else
    /// `error: <sentence>` on stderr.
    pub fn error(&self, e: &CliError) {
        if self.json {
            let line = serde_json::json!({ "error": e.info() });
            if write_stdout(&format!("{line}\n")).is_ok() {
                return;
            }
        }
        write_stderr(&error_line(e));
    }

    /// A progress bar labelled `label` (e.g. `upload`), hidden unless bars are drawn.
    pub fn progress(&self, label: &'static str) -> Progress {
        let target = if self.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress::to(label, target)
    }
}

/// A byte-count progress bar for an upload or download.
#[derive(Clone, Debug)]
pub struct Progress {
    bar: ProgressBar,
}

/// `upload  42% [=======>      ] 1.2 MiB/2.9 MiB 3.1 MiB/s 1s`
const TEMPLATE: &str = "{msg} {percent:>3}% [{bar:30}] {binary_bytes}/{binary_total_bytes} \
                        {binary_bytes_per_sec} {eta}";

impl Progress {
    /// A bar drawn to `target`.
    pub fn to(label: &'static str, target: ProgressDrawTarget) -> Self {
        let style = ProgressStyle::with_template(TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(None, target)
            .with_style(style)
            .with_message(label);
        Self { bar }
    }

    /// The engine's progress callback: `(bytes done, total)`.
    pub fn callback(&self) -> impl Fn(u64, u64) + Send + Sync + 'static {
        let bar = self.bar.clone();
        move |done, total| {
            if bar.length() != Some(total) {
                bar.set_length(total);
            }
            bar.set_position(done);
        }
    }

    /// Leaves the bar at its end (done) or where it stopped (failed).
    pub fn finish(&self, ok: bool) {
        if ok {
            self.bar.finish();
        } else {
            self.bar.abandon();
        }
    }

    /// Whether nothing is drawn.
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }
}

/// Prints clap's error or help (stderr or stdout, as clap chooses), or under `--json` a usage
/// error as `{"error": {"code": "usage", …}}` on stdout; returns clap's exit code (0 for
/// `--help` and `--version`, 2 for a wrong command line).
pub fn usage_error(e: &clap::Error, json: bool) -> u8 {
    let code = u8::try_from(e.exit_code()).unwrap_or(crate::EXIT_USAGE);
    if json && e.use_stderr() {
        let rendered = e.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        let message = first.strip_prefix("error: ").unwrap_or(first);
        let line = serde_json::json!({ "error": { "code": "usage", "message": message } });
        if write_stdout(&format!("{line}\n")).is_ok() {
            return code;
        }
    }
    // Only fails if stdout or stderr is closed, when there is no one to tell.
    let _ = e.print();
    code
}

/// `error: <sentence>` for people: without control characters, as the sentence can hold the
/// relay's refusal message.
fn error_line(e: &CliError) -> String {
    format!("error: {}\n", printable(&e.to_string()))
}

fn write_stdout(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::local("output_failed", format!("cannot write to stdout: {e}")))
}

fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    // Nowhere left to report a failure to write to stderr.
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A terminal that keeps what is drawn.
    #[derive(Debug, Default, Clone)]
    struct Screen(Arc<Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_bar_shows_its_label_and_percentage_on_a_terminal() {
        let screen = Screen::default();
        let bar = Progress::to(
            "upload",
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
        );
        assert!(!bar.is_hidden());
        let progress = bar.callback();
        progress(512 * 1024, 2 * 1024 * 1024);
        progress(2 * 1024 * 1024, 2 * 1024 * 1024);
        bar.finish(true);
        let drawn = screen.0.lock().unwrap().clone();
        assert!(drawn.contains("upload 100%"), "{drawn:?}");
        assert!(drawn.contains("2.00 MiB/2.00 MiB"), "{drawn:?}");
    }

    #[test]
    fn bars_are_hidden_under_json_and_off_a_terminal() {
        assert!(Output::with_progress(true, false).progress("x").is_hidden());
        assert!(
            Output::with_progress(false, false)
                .progress("x")
                .is_hidden()
        );
        // Under the test harness stderr is captured, not a terminal.
        if !std::io::stderr().is_terminal() {
            assert!(Output::new(false).progress("x").is_hidden());
        }
        assert!(Output::new(true).progress("x").is_hidden());
    }

    /// The relay chooses its refusal message: people see it without terminal escapes or
    /// bidi overrides; `--json` keeps it exact.
    #[test]
    fn a_relay_refusal_is_printed_without_control_characters() {
        let refusal = parley_client::relay::RelayError::refused(
            403,
            parley_proto::ErrorBody::new(
                parley_proto::ErrorCode::Forbidden,
                "no\x1b[2J\u{202e}way\r\n",
            ),
        );
        let e = CliError::from(parley_client::Error::from(refusal));
        let line = error_line(&e);
        assert!(line.starts_with("error: "), "{line:?}");
        assert!(line.contains("no[2Jway"), "{line:?}");
        assert!(
            !line
                .trim_end_matches('\n')
                .contains(|c: char| c.is_control() || c == '\u{202e}'),
            "{line:?}"
        );
        assert!(e.info().message.contains("no\x1b[2J\u{202e}way"));
    }

    #[test]
    fn an_outcome_keeps_its_json() {
        let o = Outcome::new(&serde_json::json!({"user": "bob"}), "bob").unwrap();
        assert_eq!(o.json().unwrap()["user"], "bob");
        assert_eq!(o.human(), "bob");
        assert!(Outcome::streamed().json().is_none());
    }
}
