//! Progress of a list send: a bar on a terminal, and plain event lines
//! otherwise (cron, CI, a log file), at most one every few seconds.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::tally::Tally;
use crate::log::{self, Level};

/// How often a progress line is logged when there is no terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct Progress {
    issue: String,
    total: u64,
    started: Instant,
    bar: Option<ProgressBar>,
    last_line: Mutex<Instant>,
}

impl Progress {
    /// A bar if stderr is a terminal, log lines if not.
    pub(crate) fn new(issue: &str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                    .expect("the template is valid"),
            );
            bar
        });
        Progress {
            issue: issue.to_string(),
            total,
            started: Instant::now(),
            bar,
            last_line: Mutex::new(Instant::now()),
        }
    }

    /// A quiet reporter, for test sends.
    pub(crate) fn silent(issue: &str) -> Progress {
        Progress {
            issue: issue.to_string(),
            total: 0,
            started: Instant::now(),
            bar: None,
            last_line: Mutex::new(Instant::now() + Duration::from_secs(u64::from(u32::MAX))),
        }
    }

    fn rate(&self, done: u64) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let done = done as f64;
        done / self.started.elapsed().as_secs_f64().max(1e-3)
    }

    pub(crate) fn tick(&self, tally: &Tally) {
        let done = tally.done();
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!(
                "sent {} · failed {} · remaining {} · {:.0}/s",
                tally.sent,
                tally.failed,
                self.total.saturating_sub(done),
                self.rate(done)
            ));
            return;
        }
        let mut last = self
            .last_line
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.elapsed() >= LOG_EVERY {
            *last = Instant::now();
            log::event(
                Level::Info,
                "send.progress",
                &[
                    ("issue", &self.issue),
                    ("sent", &tally.sent),
                    ("failed", &tally.failed),
                    ("remaining", &self.total.saturating_sub(done)),
                    ("rate", &format!("{:.0}/s", self.rate(done))),
                ],
            );
        }
    }

    pub(crate) fn finish(&self, tally: &Tally) {
        if let Some(bar) = &self.bar {
            bar.set_position(tally.done());
            bar.finish_and_clear();
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
