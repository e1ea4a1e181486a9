//! Sending an issue: a test send to a few addresses, the durable list send,
//! and the file outbox that shows the per-reader pipeline without a server.
//!
//! | file | owns |
//! |---|---|
//! | `plan.rs` | who gets the issue (validity, duplicates, suppression, ledger) |
//! | `state.rs` | an issue's state folder, and the locks |
//! | `ledger.rs` | the per-issue append-only record |
//! | `sent.rs` | what each list-sent issue carried |
//! | `smtp_client/` | our SMTP client: the connection and one message at a time |
//! | `engine.rs` | the send loop: connections, retries, rate, clean stops |
//! | `single.rs` | one message outside a list send, relay after relay |
//! | `queue.rs` | the readers the workers share |
//! | `tally.rs` | what a run did, and why it stopped |
//! | `progress.rs` | a bar on a terminal, log lines otherwise |

pub(crate) mod engine;
pub(crate) mod keymap;
pub(crate) mod ledger;
pub(crate) mod plan;
mod progress;
mod queue;
pub(crate) mod relays;
pub(crate) mod sent;
pub(crate) mod single;
mod smtp_client;
pub(crate) mod state;
pub(crate) mod status;
pub(crate) mod tally;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use self::engine::Engine;
use self::ledger::{History, Ledger};
use self::plan::{Counts, Disposition, Duplicates, SharedSuppressed, Sorter, Widen};
use self::progress::Progress;
use self::relays::Relays;
use self::sent::SentIssue;
use self::state::Paths;
use self::tally::{Stop, Tally};
use crate::clock::Clock;
use crate::config::{Env, Smtp};
use crate::error::{Error, Kind, Result};
use crate::exit::Exit;
use crate::fs::{Identity, StableFile, lock};
use crate::issue::IssueName;
use crate::list::reader::Reader;
use crate::list::subscribers::{ListError, Subscribers, taken};
use crate::list::suppression::Suppressed;
use crate::log::{self, Level};
use crate::mail::{Purpose, Template};

/// The files a list send reads and writes.
#[derive(Debug, Clone)]
pub(crate) struct ListFiles {
    pub subscribers: PathBuf,
    pub suppressed: PathBuf,
    /// The state folder; the issue's ledger and lock live under it.
    pub state: PathBuf,
}

/// How a list send may go beyond its defaults.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ListOptions {
    pub widen: Widen,
    /// Send even though the same content already went out under another
    /// issue name.
    pub force: bool,
}

/// An issue ready for a list send.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub template: Arc<Template>,
    /// What it carries, recorded when the send starts.
    pub record: SentIssue,
    /// Its web version, for the public archive.
    pub web_html: String,
}

/// What a list send found and did.
#[derive(Debug)]
pub(crate) struct ListReport {
    pub counts: Counts,
    /// Of `counts.suppressed`, readers who unsubscribed while it ran.
    pub suppressed_while_sending: u64,
    /// `None` when there was nothing to send.
    pub tally: Option<Tally>,
    /// Readers an earlier run left uncertain (and this run did not resend).
    pub uncertain_earlier: Vec<String>,
    pub elapsed: Duration,
    /// The `complete` marker could not be written: why.
    pub marker_error: Option<String>,
}

impl ListReport {
    /// The exit code: the run's, and 3 when readers stay uncertain from an
    /// earlier run, so that monitoring sees them.
    pub(crate) fn exit(&self) -> Exit {
        let run = self.tally.as_ref().map_or(Exit::Ok, Tally::exit);
        if self.uncertain_earlier.is_empty() {
            run
        } else {
            run.worst(Exit::ReadersFailed)
        }
    }

    /// Messages per second over the run.
    pub(crate) fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let done = self.tally.as_ref().map_or(0, Tally::done) as f64;
        done / self.elapsed.as_secs_f64().max(1e-3)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))
}

/// Checks that every relay's settings can be used: its password variable
/// is set in `env`, its CA file reads.
///
/// # Errors
/// The first relay that cannot be used, and why.
pub(crate) fn check_relays(
    smtp: &[Smtp],
    domain: &str,
    env: &Env,
) -> std::result::Result<(), crate::config::smtp::SettingsError> {
    Relays::new(smtp, domain, env).map(drop)
}

/// Sends the issue to `to` only: `[TEST]` subject, nothing recorded. One
/// connection and one retry: a person is waiting.
///
/// # Errors
/// The SMTP settings cannot be used (a missing password variable, say).
pub(crate) fn test_send(
    template: Arc<Template>,
    relays: &[Smtp],
    env: &Env,
    to: Vec<Reader>,
    clock: Clock,
) -> Result<Tally> {
    let relays: Vec<Smtp> = relays
        .iter()
        .map(|smtp| Smtp {
            connections: 1,
            retries: smtp.retries.min(1),
            ..smtp.clone()
        })
        .collect();
    let relays = Relays::new(&relays, template.sending_domain(), env)?;
    let engine = Engine {
        progress: Arc::new(Progress::silent(template.issue())),
        template,
        relays: Arc::new(relays),
        ledger: None,
        suppressed: None,
        purpose: Purpose::Test,
        clock,
    };
    let readers = to.len() as u64;
    Ok(runtime()?.block_on(engine::run(engine, Box::new(to.into_iter()), readers)))
}

/// Sends the issue to every subscriber not yet sent to, recording each
/// outcome in the issue's ledger before moving on.
///
/// # Errors
/// Unusable settings or lists, the same content already sent under another
/// name (without `force`), or another run holding the issue's lock.
pub(crate) fn list_send(
    outgoing: Outgoing,
    smtp: &[Smtp],
    env: &Env,
    files: &ListFiles,
    options: ListOptions,
    clock: Clock,
) -> Result<ListReport> {
    let Outgoing {
        template,
        record,
        web_html,
    } = outgoing;
    let issue = IssueName::new(template.issue()).map_err(Error::config)?;
    // Settings and list problems first, before taking the lock or writing
    // any state.
    let relays = Relays::new(smtp, template.sending_domain(), env)?;
    // Read once, and brought up to date before each reader from then on.
    let suppressed = Arc::new(Mutex::new(load_suppressed(&files.suppressed, true)?));
    open_list(&files.subscribers)?;
    // Held until this send's record of what it carries is written (or it
    // ends): a copy of this issue started beside it waits, then finds it.
    let claim = lock::wait_for_lock(&files.state.join(lock::CLAIM_LOCK))?;
    if !options.force
        && let Some(repeat) = sent::repeat_of(&sent::all(&files.state), &issue, &record)
    {
        return Err(Error::config(format!(
            "issue `{issue}` went out already: {repeat}; every reader would get it twice. Pass --force to send it anyway"
        )));
    }
    let paths = Paths::new(&files.state, &issue);
    let (ledger, history) = Ledger::open(&paths, issue.as_str())?;
    report_repairs(&issue, &paths, &history);
    let history = Arc::new(history);
    let nothing_sent = |e: Error| e.context("nothing was sent");
    let list = ListPass::first(&files.subscribers).map_err(nothing_sent)?;
    let mut counts = survey(
        &list,
        list.sorter(Arc::clone(&history), Arc::clone(&suppressed), options.widen),
        |line, disposition| {
            report_row(&files.subscribers, line, disposition);
        },
    )
    .map_err(nothing_sent)?;
    let uncertain_earlier: Vec<String> = if options.widen.resend_uncertain {
        // Every one of them is in this run, and its outcome in its tally.
        Vec::new()
    } else {
        history.uncertain().map(str::to_string).collect()
    };
    if counts.to_send == 0 {
        let marker_error = mark_complete(&paths, &counts, None);
        return Ok(ListReport {
            counts,
            suppressed_while_sending: 0,
            tally: None,
            uncertain_earlier,
            elapsed: Duration::ZERO,
            marker_error,
        });
    }
    sent::record(&paths, &record, &web_html)?;
    drop(claim);

    log_start(&issue, &counts, smtp);
    let progress = Arc::new(Progress::new(issue.as_str(), counts.to_send));
    let sorter = list.sorter(Arc::clone(&history), Arc::clone(&suppressed), options.widen);
    let pending = Pending::new(&list, sorter).map_err(nothing_sent)?;
    let engine = Engine {
        template,
        relays: Arc::new(relays),
        ledger: Some(Arc::new(ledger)),
        suppressed: Some(suppressed),
        purpose: Purpose::List,
        clock,
        progress: Arc::clone(&progress),
    };
    let mut tally = runtime()?.block_on(engine::run(engine, pending.readers, counts.to_send));
    if let Some(why) = taken(&pending.failure) {
        tally.stop(Stop::ListChanged(why.to_string()));
    }
    let late = pending
        .suppressed
        .load(Ordering::Relaxed)
        .saturating_sub(counts.suppressed)
        + tally.suppressed;
    counts.suppressed += late;
    counts.to_send = counts.to_send.saturating_sub(late);
    let marker_error = if tally.stopped.is_none() && tally.left() == 0 {
        mark_complete(&paths, &counts, Some(&tally))
    } else {
        None
    };
    let report = ListReport {
        counts,
        suppressed_while_sending: late,
        tally: Some(tally),
        uncertain_earlier,
        elapsed: progress.elapsed(),
        marker_error,
    };
    log_done(&issue, &report);
    Ok(report)
}

/// The readers a list send goes to, from a fresh pass over the list.
struct Pending {
    readers: Box<dyn Iterator<Item = Reader> + Send>,
    /// Why the pass stopped early (the list changed under it), if it did.
    failure: Arc<Mutex<Option<ListError>>>,
    /// Rows found suppressed in this pass, counted as they are met, so that
    /// the summary accounts for whoever unsubscribed since the survey.
    suppressed: Arc<AtomicU64>,
}

impl Pending {
    fn new(list: &ListPass, mut sorter: Sorter) -> Result<Pending> {
        let rows = list.rows()?;
        let failure = rows.failure();
        let suppressed = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&suppressed);
        let readers = rows.filter_map(move |row| match sorter.sort(row) {
            Disposition::Send(reader) => Some(reader),
            Disposition::Suppressed => {
                counter.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => None,
        });
        Ok(Pending {
            readers: Box::new(readers),
            failure,
            suppressed,
        })
    }
}

fn log_start(issue: &IssueName, counts: &Counts, smtp: &[Smtp]) {
    let servers: Vec<String> = smtp.iter().map(Smtp::describe).collect();
    log::event(
        Level::Info,
        "send.start",
        &[
            ("issue", issue),
            ("to_send", &counts.to_send),
            ("already_sent", &counts.already_sent),
            ("server", &servers.join(", ")),
            (
                "connections",
                &smtp.iter().map(|s| s.connections).sum::<usize>(),
            ),
        ],
    );
}

fn log_done(issue: &IssueName, report: &ListReport) {
    let Some(tally) = &report.tally else {
        return;
    };
    log::event(
        if tally.stopped.is_some() {
            Level::Error
        } else {
            Level::Info
        },
        "send.done",
        &[
            ("issue", issue),
            ("sent", &tally.sent),
            ("failed", &tally.failed),
            ("uncertain", &tally.uncertain),
            ("deferred", &tally.deferred),
            ("not_tried", &tally.not_tried),
            ("seconds", &format!("{:.1}", report.elapsed.as_secs_f64())),
            ("rate", &format!("{:.1}/s", report.rate())),
        ],
    );
}

fn report_repairs(issue: &IssueName, paths: &Paths, history: &History) {
    if history.torn_tail {
        log::event(
            Level::Warn,
            "ledger.repaired",
            &[
                ("issue", issue),
                (
                    "why",
                    &"the last record was cut short by a crash; it never counted",
                ),
            ],
        );
    }
    for (line, why) in &history.damaged {
        log::event(
            Level::Warn,
            "ledger.repaired",
            &[
                ("issue", issue),
                ("line", line),
                ("why", why),
                ("moved_to", &paths.damaged.display()),
            ],
        );
    }
}

/// Sorts every subscriber row without sending or changing anything; `each`
/// sees every row's line and disposition (for `--dry-run`).
///
/// # Errors
/// The ledger or a list cannot be read.
pub(crate) fn dry_run(
    issue: &IssueName,
    files: &ListFiles,
    widen: Widen,
    each: impl FnMut(u64, &Disposition),
) -> Result<(Counts, Vec<String>)> {
    let history = Arc::new(ledger::read_history(&Paths::new(&files.state, issue))?);
    let suppressed = load_suppressed(&files.suppressed, true)?;
    let list = ListPass::first(&files.subscribers)?;
    let counts = survey(
        &list,
        list.sorter(
            Arc::clone(&history),
            Arc::new(Mutex::new(suppressed)),
            widen,
        ),
        each,
    )?;
    Ok((counts, history.uncertain().map(str::to_string).collect()))
}

/// Writes one `.eml` per reader into `dir` instead of sending: every
/// subscriber who would be sent to (ignoring the ledger, which is neither
/// read nor written), or the `--to` readers.
///
/// # Errors
/// A list or a file cannot be read or written.
pub(crate) fn write_outbox(
    template: &Template,
    dir: &Path,
    to: Option<Vec<Reader>>,
    files: &ListFiles,
    clock: Clock,
) -> Result<Vec<PathBuf>> {
    let (readers, purpose): (Vec<Reader>, Purpose) = match to {
        Some(to) => (to, Purpose::Test),
        None => {
            let suppressed = load_suppressed(&files.suppressed, true)?;
            let list = ListPass::first(&files.subscribers)?;
            let mut sorter = list.sorter(
                Arc::default(),
                Arc::new(Mutex::new(suppressed)),
                Widen::default(),
            );
            let mut readers = Vec::new();
            for row in list.rows()? {
                let line = row.line;
                match sorter.sort(row) {
                    Disposition::Send(reader) => readers.push(reader),
                    other => report_row(&files.subscribers, line, &other),
                }
            }
            (readers, Purpose::List)
        }
    };
    crate::fs::create_folder(dir)?;
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
        let message = template
            .message(reader, purpose, clock.now())
            .map_err(Error::config)?;
        crate::fs::write_atomic(&path, &message)?;
        written.push(path);
    }
    Ok(written)
}

/// Marks the issue completely sent, unless the list had nobody on it (then a
/// later run, with readers added, still has work). A marker that cannot be
/// written is reported, not fatal: the ledger still keeps every reader from
/// a second copy, and a later run writes the marker.
fn mark_complete(paths: &Paths, counts: &Counts, tally: Option<&Tally>) -> Option<String> {
    let accounted = counts.to_send + counts.already_sent + counts.already_failed + counts.uncertain;
    if accounted == 0 {
        return None;
    }
    let (sent, failed, uncertain) = tally.map_or((0, 0, 0), |t| (t.sent, t.failed, t.uncertain));
    let summary = format!(
        "sent={} failed={} uncertain={}",
        counts.already_sent + sent,
        counts.already_failed + failed,
        counts.uncertain + uncertain
    );
    let error = paths.mark_complete(&summary).err()?;
    log::event(
        Level::Warn,
        "send.marker_failed",
        &[
            ("error", &error),
            (
                "hint",
                &"the send is recorded in the ledger; the next run writes the marker",
            ),
        ],
    );
    Some(error.to_string())
}

/// The suppression list; `report`: log its bad rows (once per run).
fn load_suppressed(path: &Path, report: bool) -> Result<Suppressed> {
    let suppressed = Suppressed::load(path)?;
    if report {
        for warning in &suppressed.warnings {
            log::event(Level::Warn, "suppressed.bad_row", &[("where", warning)]);
        }
    }
    Ok(suppressed)
}

/// The subscriber list, read once for its repeated addresses (20 bytes a
/// row, freed at once): every later pass opens it again through
/// [`ListPass::rows`], which refuses a file that has changed since, so that
/// what the first pass found still holds for the rows read.
pub(crate) struct ListPass {
    path: PathBuf,
    duplicates: Arc<Duplicates>,
    identity: Identity,
    /// A shared lock on the list for as long as the send reads it: a
    /// sign-up confirmed meanwhile joins the list when the send is done,
    /// not in the middle of it.
    _held: StableFile,
}

impl ListPass {
    /// The first pass.
    ///
    /// # Errors
    /// The list cannot be read, or changed while it was read.
    pub(crate) fn first(path: &Path) -> Result<ListPass> {
        let held = StableFile::open_shared(path).map_err(ListError::from)?;
        let rows = Subscribers::open(path)?;
        let identity = rows.identity();
        let failure = rows.failure();
        // A row is at least a dozen bytes ("a@b.example\n").
        let hint = std::fs::metadata(path)
            .map(|m| usize::try_from(m.len() / 12).unwrap_or(0))
            .unwrap_or(0);
        let duplicates = Duplicates::find(rows, hint);
        if let Some(why) = taken(&failure) {
            return Err(why.into());
        }
        Ok(ListPass {
            path: path.to_path_buf(),
            duplicates: Arc::new(duplicates),
            identity,
            _held: held,
        })
    }

    /// The rows again, from the same file.
    ///
    /// # Errors
    /// The list cannot be read, or is not the file the first pass read.
    pub(crate) fn rows(&self) -> Result<Subscribers> {
        let rows = Subscribers::open(&self.path)?;
        if rows.identity() != self.identity {
            return Err(Error::new(
                Kind::Again,
                anyhow::anyhow!(
                    "`{}` changed while it was being read; run again once it is saved",
                    self.path.display()
                ),
            ));
        }
        Ok(rows)
    }

    /// A sorter that knows the list's repeats.
    pub(crate) fn sorter(
        &self,
        history: Arc<History>,
        suppressed: SharedSuppressed,
        widen: Widen,
    ) -> Sorter {
        Sorter::new(history, suppressed, widen, Arc::clone(&self.duplicates))
    }
}

/// A pass that counts: every row's fate, counted, and handed to `each`.
fn survey(
    list: &ListPass,
    mut sorter: Sorter,
    mut each: impl FnMut(u64, &Disposition),
) -> Result<Counts> {
    let mut counts = Counts::default();
    let rows = list.rows()?;
    let failure = rows.failure();
    for row in rows {
        let line = row.line;
        let disposition = sorter.sort(row);
        counts.add(&disposition);
        each(line, &disposition);
    }
    if let Some(why) = taken(&failure) {
        return Err(why.into());
    }
    Ok(counts)
}

/// Opens the subscriber list for a send: its errors say nothing was sent.
fn open_list(path: &Path) -> Result<Subscribers> {
    Subscribers::open(path).map_err(|e| Error::from(e).context("nothing was sent"))
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
