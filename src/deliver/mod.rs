//! Sending an issue: a test send to a few addresses, the durable list send,
//! and the file outbox that shows the per-reader pipeline without a server.
//!
//! | file | owns |
//! |---|---|
//! | `plan.rs` | who gets the issue (validity, duplicates, suppression, ledger) |
//! | `ledger.rs` | the per-issue append-only record, and the lock |
//! | `smtp.rs` | one SMTP connection, driven command by command |
//! | `tls.rs` | implicit TLS over our own `TCP_NODELAY` socket |
//! | `engine.rs` | the send loop: connections, retries, rate |
//! | `queue.rs` | the readers the workers share, and the tally |
//! | `progress.rs` | a bar on a terminal, log lines otherwise |

pub mod engine;
pub mod ledger;
pub mod plan;
mod progress;
mod queue;
pub mod smtp;
mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use self::engine::{Engine, Tally};
use self::ledger::{History, Ledger};
use self::plan::{Counts, Disposition, Sorter, Widen};
use self::progress::Progress;
use self::smtp::Connector;
use crate::clock::Clock;
use crate::config::Smtp;
use crate::log::{self, Level};
use crate::message::{Purpose, Reader, Template};
use crate::subscribers::{Subscribers, Suppressed};

/// The files a list send reads and writes.
#[derive(Debug, Clone)]
pub struct ListFiles {
    pub subscribers: PathBuf,
    pub suppressed: PathBuf,
    /// The state folder; the issue's ledger and lock live under it.
    pub state: PathBuf,
}

/// What a list send found and did.
#[derive(Debug)]
pub struct ListReport {
    pub counts: Counts,
    /// `None` when there was nothing to send.
    pub tally: Option<Tally>,
    /// Readers left uncertain by earlier runs.
    pub uncertain_earlier: Vec<String>,
    /// Messages per second over the run.
    pub rate: f64,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Sends the issue to `to` only: `[TEST]` subject, nothing recorded.
///
/// # Errors
/// The SMTP settings cannot be used (a missing password variable, say).
pub fn test_send(
    template: Arc<Template>,
    smtp: &Smtp,
    to: Vec<Reader>,
    clock: Clock,
) -> anyhow::Result<Tally> {
    let mut smtp = smtp.clone();
    smtp.connections = 1;
    let connector = Connector::new(&smtp, template.envelope_from().domain())?;
    let engine = Engine {
        progress: Arc::new(Progress::silent(template.issue())),
        template,
        connector: Arc::new(connector),
        ledger: None,
        purpose: Purpose::Test,
        clock,
    };
    Ok(runtime()?.block_on(engine::run(engine, Box::new(to.into_iter()))))
}

/// Sends the issue to every subscriber not yet sent to, recording each
/// outcome in the issue's ledger before moving on.
///
/// # Errors
/// Unusable settings or lists, or another run holding the issue's lock.
pub fn list_send(
    template: Arc<Template>,
    smtp: &Smtp,
    files: &ListFiles,
    widen: Widen,
    clock: Clock,
) -> anyhow::Result<ListReport> {
    let issue = template.issue().to_string();
    // Settings and list problems first, before taking the lock or writing
    // any state.
    let connector = Connector::new(smtp, template.envelope_from().domain())?;
    let suppressed = Arc::new(load_suppressed(&files.suppressed)?);
    Subscribers::open(&files.subscribers)?;
    let paths = ledger::Paths::new(&files.state, &issue);
    let (ledger, history) = Ledger::open(&paths, &issue)?;
    if history.torn_tail {
        log::event(
            Level::Warn,
            "ledger.repaired",
            &[
                ("issue", &issue),
                (
                    "why",
                    &"the last record was cut short by a crash; it never counted",
                ),
            ],
        );
    }
    let history = Arc::new(history);
    let counts = survey(files, &history, &suppressed, widen, |line, disposition| {
        report_row(&files.subscribers, line, disposition);
    })?;
    let uncertain_earlier: Vec<String> = history.uncertain().map(str::to_string).collect();
    if counts.to_send == 0 {
        mark_complete(&paths, &counts, None)?;
        return Ok(ListReport {
            counts,
            tally: None,
            uncertain_earlier,
            rate: 0.0,
        });
    }

    log::event(
        Level::Info,
        "send.start",
        &[
            ("issue", &issue),
            ("to_send", &counts.to_send),
            ("already_sent", &counts.already_sent),
            ("server", &smtp.describe()),
            ("connections", &smtp.connections),
        ],
    );
    let progress = Arc::new(Progress::new(&issue, counts.to_send));
    let mut sorter = Sorter::new(Arc::clone(&history), Arc::clone(&suppressed), widen);
    let pending =
        Subscribers::open(&files.subscribers)?.filter_map(move |row| match sorter.sort(row) {
            Disposition::Send(reader) => Some(reader),
            _ => None,
        });
    let engine = Engine {
        template,
        connector: Arc::new(connector),
        ledger: Some(Arc::new(ledger)),
        purpose: Purpose::List,
        clock,
        progress: Arc::clone(&progress),
    };
    let tally = runtime()?.block_on(engine::run(engine, Box::new(pending)));
    let rate = progress.overall_rate(&tally);
    if tally.stopped.is_none() && tally.deferred == 0 && tally.not_tried == 0 {
        mark_complete(&paths, &counts, Some(&tally))?;
    }
    log::event(
        if tally.stopped.is_some() {
            Level::Error
        } else {
            Level::Info
        },
        "send.done",
        &[
            ("issue", &issue),
            ("sent", &tally.sent),
            ("failed", &tally.failed),
            ("uncertain", &tally.uncertain),
            ("deferred", &tally.deferred),
            ("not_tried", &tally.not_tried),
            (
                "seconds",
                &format!("{:.1}", progress.elapsed().as_secs_f64()),
            ),
            ("rate", &format!("{rate:.0}/s")),
        ],
    );
    Ok(ListReport {
        counts,
        tally: Some(tally),
        uncertain_earlier,
        rate,
    })
}

/// Sorts every subscriber row without sending or changing anything; `each`
/// sees every row's line and disposition (for `--dry-run`).
///
/// # Errors
/// The ledger or a list cannot be read.
pub fn dry_run(
    issue: &str,
    files: &ListFiles,
    widen: Widen,
    each: impl FnMut(u64, &Disposition),
) -> anyhow::Result<(Counts, Vec<String>)> {
    let history = Arc::new(ledger::read_history(&ledger::Paths::new(
        &files.state,
        issue,
    ))?);
    let suppressed = Arc::new(load_suppressed(&files.suppressed)?);
    let counts = survey(files, &history, &suppressed, widen, each)?;
    Ok((counts, history.uncertain().map(str::to_string).collect()))
}

/// Writes one `.eml` per reader into `dir` instead of sending: every
/// subscriber who would be sent to (ignoring the ledger, which is neither
/// read nor written), or the `--to` readers.
///
/// # Errors
/// A list or a file cannot be read or written.
pub fn write_outbox(
    template: &Template,
    dir: &Path,
    to: Option<Vec<Reader>>,
    files: &ListFiles,
    clock: Clock,
) -> anyhow::Result<Vec<PathBuf>> {
    let (readers, purpose): (Vec<Reader>, Purpose) = match to {
        Some(to) => (to, Purpose::Test),
        None => {
            let suppressed = Arc::new(load_suppressed(&files.suppressed)?);
            let mut sorter =
                Sorter::new(Arc::new(History::default()), suppressed, Widen::default());
            let mut readers = Vec::new();
            for row in Subscribers::open(&files.subscribers)? {
                let line = row.line;
                match sorter.sort(row) {
                    Disposition::Send(reader) => readers.push(reader),
                    other => report_row(&files.subscribers, line, &other),
                }
            }
            (readers, Purpose::List)
        }
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut written = Vec::new();
    for (n, reader) in readers.iter().enumerate() {
        let safe: String = reader
            .email
            .to_string()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "@.-_+".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{:05}-{safe}.eml", n + 1));
        crate::preview::write_atomic(&path, &template.message(reader, purpose, clock.now()))?;
        written.push(path);
    }
    Ok(written)
}

/// Marks the issue completely sent, unless the list had nobody on it (then a
/// later run, with readers added, still has work).
fn mark_complete(
    paths: &ledger::Paths,
    counts: &Counts,
    tally: Option<&Tally>,
) -> anyhow::Result<()> {
    let accounted = counts.to_send + counts.already_sent + counts.already_failed + counts.uncertain;
    if accounted == 0 {
        return Ok(());
    }
    let (sent, failed, uncertain) = tally.map_or((0, 0, 0), |t| (t.sent, t.failed, t.uncertain));
    paths.mark_complete(&format!(
        "sent={} failed={} uncertain={}",
        counts.already_sent + sent,
        counts.already_failed + failed,
        counts.uncertain + uncertain
    ))
}

fn load_suppressed(path: &Path) -> anyhow::Result<Suppressed> {
    let suppressed = Suppressed::load(path)?;
    for warning in &suppressed.warnings {
        log::event(Level::Warn, "suppressed.bad_row", &[("where", warning)]);
    }
    Ok(suppressed)
}

/// Pass one over the list: counts every disposition.
fn survey(
    files: &ListFiles,
    history: &Arc<History>,
    suppressed: &Arc<Suppressed>,
    widen: Widen,
    mut each: impl FnMut(u64, &Disposition),
) -> anyhow::Result<Counts> {
    let mut sorter = Sorter::new(Arc::clone(history), Arc::clone(suppressed), widen);
    let mut counts = Counts::default();
    for row in Subscribers::open(&files.subscribers)? {
        let line = row.line;
        let disposition = sorter.sort(row);
        counts.add(&disposition);
        each(line, &disposition);
    }
    Ok(counts)
}

/// Logs a row that will not be sent for a reason a person should fix.
fn report_row(list: &Path, line: u64, disposition: &Disposition) {
    let at = format!("{}:{line}", list.display());
    match disposition {
        Disposition::Invalid(why) => {
            log::event(
                Level::Warn,
                "subscribers.skipped",
                &[("at", &at), ("why", why)],
            );
        }
        Disposition::Duplicate { first_line } => log::event(
            Level::Warn,
            "subscribers.duplicate",
            &[("at", &at), ("first", &format!("line {first_line}"))],
        ),
        _ => {}
    }
}
