//! `catchup send --due`: every issue whose send moment has come, list-sent
//! through the same path as `send --all`. Built to be run by cron every few
//! minutes: it takes a lock, logs one line per event, and does nothing (one
//! quiet line) when nothing is due.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::cli::SendArgs;
use crate::clock::Clock;
use crate::compose::{compose, newsletter};
use crate::deliver;
use crate::deliver::state::Paths;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::fs::lock::take_lock;
use crate::issue::{self, IssueName, Outline};
use crate::log::{self, Level};
use crate::schedule::{Due, Schedule};

use super::{list_options, smtp_settings};

pub(crate) fn run(config: &Path, args: &SendArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    let Some(schedule) = newsletter.schedule.clone() else {
        return Err(Error::config(format!(
            "send --due needs a schedule: add to {}\n[schedule]\nweekday = \"Mon\"\ntime = \"07:00\"\ntimezone = \"Europe/London\"",
            newsletter.source.path.display()
        )));
    };
    let state = list_options(&newsletter, args).0.state;
    // Overlapping cron runs: the second one leaves at once and says why.
    let _lock = take_lock(&state.join("due.lock"), "due issues (send --due)")?;

    let clock = args.now.map_or(Clock::System, Clock::Fixed);
    let now = clock.now();
    let mut notices = Notices::read(&state);
    let mut exit = Exit::Ok;
    let mut acted = false;
    let mut next: Option<(DateTime<Utc>, IssueName)> = None;
    let mut moments = Vec::new();

    for path in issue::files(&newsletter.paths.issues)? {
        let outline = match Outline::read(&path) {
            Ok(outline) => outline,
            Err(e) => {
                log::event(
                    Level::Error,
                    "due.unreadable",
                    &[("file", &path.display()), ("error", &e)],
                );
                exit = exit.worst(e.code());
                continue;
            }
        };
        let name = outline.name.clone();
        let moment = outline.moment(Some(&schedule));
        moments.push(moment);
        if Paths::new(&state, &name).is_complete() {
            continue;
        }
        let late = match schedule.status(moment, now) {
            Due::NotYet => {
                if next.as_ref().is_none_or(|(m, _)| moment < *m) {
                    next = Some((moment, name));
                }
                continue;
            }
            Due::Overdue { late } if !args.late_ok => {
                // Said once (exit 6, so that cron or systemd tells the
                // operator), then only counted: an issue nobody will send
                // must not fail every tick for years.
                if notices.first(Notice::Overdue(name.to_string())) {
                    report_overdue(&schedule, &name, moment, late);
                    exit = exit.worst(Exit::Overdue);
                }
                continue;
            }
            Due::Now { late } | Due::Overdue { late } => late,
        };
        acted = true;
        log::event(
            Level::Info,
            "due.sending",
            &[
                ("issue", &name),
                ("moment", &schedule.local(moment)),
                ("late_by", &hours(late)),
            ],
        );
        let outcome = send_one(config, &path, args, clock);
        exit = exit.worst(match outcome {
            Ok(code) => code,
            Err(e) => {
                log::event(
                    Level::Error,
                    "due.failed",
                    &[("issue", &name), ("error", &one_line(&e))],
                );
                e.code()
            }
        });
    }
    warn_of_a_missing_issue(&schedule, now, &moments, &mut notices);

    if !acted && exit == Exit::Ok {
        let (when, which) = next.map_or_else(
            || ("none".to_string(), "none".to_string()),
            |(moment, name)| (schedule.local(moment), name.to_string()),
        );
        let known = notices.overdue().collect::<Vec<_>>().join(",");
        let mut fields: Vec<(&str, &dyn std::fmt::Display)> =
            vec![("next_issue", &which), ("next_moment", &when)];
        if !known.is_empty() {
            fields.push(("overdue_reported", &known));
        }
        log::event(Level::Info, "due.nothing", &fields);
    }
    if !args.dry_run {
        notices.save(&state);
    }
    Ok(exit)
}

/// How long before a slot on the schedule a missing issue is worth a word.
const MISSING_WARNING: chrono::Duration = chrono::Duration::hours(24);

/// Warns, once, when the next slot on the schedule is near and no issue
/// file goes out on its day.
fn warn_of_a_missing_issue(
    schedule: &Schedule,
    now: DateTime<Utc>,
    moments: &[DateTime<Utc>],
    notices: &mut Notices,
) {
    let day = schedule.next_date(now);
    let slot = schedule.moment(day, None);
    let written = moments
        .iter()
        .any(|moment| schedule.zone.local(*moment).date() == day);
    if written || slot - now > MISSING_WARNING || !notices.first(Notice::Missing(day)) {
        return;
    }
    log::event(
        Level::Warn,
        "due.missing",
        &[
            ("slot", &schedule.local(slot)),
            ("in", &hours(slot - now)),
            (
                "hint",
                &"no issue file goes out that day; catchup new writes one",
            ),
        ],
    );
}

/// Something `send --due` has told the operator once and will not repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Notice {
    /// An issue past its grace period.
    Overdue(String),
    /// A slot on the schedule with no issue written for it.
    Missing(chrono::NaiveDate),
}

impl Notice {
    fn parse(line: &str) -> Option<Notice> {
        match line.split_once(' ')? {
            ("overdue", name) => Some(Notice::Overdue(name.to_string())),
            ("missing", day) => day.parse().ok().map(Notice::Missing),
            _ => None,
        }
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::Overdue(name) => write!(f, "overdue {name}"),
            Notice::Missing(day) => write!(f, "missing {day}"),
        }
    }
}

/// `state/due.notices`: what earlier runs have already said. Only what
/// this run found true again is kept, so the file stays small and a
/// notice comes back if its cause goes away and returns.
#[derive(Debug)]
struct Notices {
    earlier: Vec<Notice>,
    now: Vec<Notice>,
}

impl Notices {
    const FILE: &str = "due.notices";

    /// The notices given so far; none if the file is missing or unreadable
    /// (a notice said twice is better than one never said).
    fn read(state: &Path) -> Notices {
        let earlier = crate::fs::read_kept(&state.join(Self::FILE), 64 * 1024)
            .ok()
            .flatten()
            .map(|bytes| {
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .filter_map(Notice::parse)
                    .collect()
            })
            .unwrap_or_default();
        Notices {
            earlier,
            now: Vec::new(),
        }
    }

    /// Notes that `notice` holds now; true if no earlier run said it.
    fn first(&mut self, notice: Notice) -> bool {
        let first = !self.earlier.contains(&notice);
        if !self.now.contains(&notice) {
            self.now.push(notice);
        }
        first
    }

    /// The overdue issues already reported.
    fn overdue(&self) -> impl Iterator<Item = &str> {
        self.now
            .iter()
            .filter(|n| self.earlier.contains(n))
            .filter_map(|n| match n {
                Notice::Overdue(name) => Some(name.as_str()),
                Notice::Missing(_) => None,
            })
    }

    /// Writes what holds now, if it changed. A failure is logged, not
    /// fatal: the worst it does is repeat a notice.
    fn save(&self, state: &Path) {
        if self.now == self.earlier {
            return;
        }
        let text: String = self.now.iter().map(|n| format!("{n}\n")).collect();
        let written = crate::fs::create_folder(state)
            .and_then(|()| crate::fs::write_atomic(&state.join(Self::FILE), text.as_bytes()));
        if let Err(e) = written {
            log::event(Level::Warn, "due.notices", &[("error", &e)]);
        }
    }
}

fn report_overdue(
    schedule: &Schedule,
    name: &IssueName,
    moment: DateTime<Utc>,
    late: chrono::Duration,
) {
    log::event(
        Level::Warn,
        "due.overdue",
        &[
            ("issue", name),
            ("moment", &schedule.local(moment)),
            ("late_by", &hours(late)),
            (
                "hint",
                &"not sent: past the grace period; send --due --late-ok sends it",
            ),
        ],
    );
}

/// One due issue: composed and checked (a clash with another issue file
/// refuses it here), then list-sent (or, with `--dry-run`, surveyed).
fn send_one(config: &Path, path: &Path, args: &SendArgs, clock: Clock) -> Result<Exit> {
    let composed = compose(
        config,
        Some(path),
        super::signing(args),
        super::repeats(args),
    )?;
    for warning in &composed.warnings {
        log::event(
            Level::Warn,
            "due.check",
            &[
                ("issue", &composed.issue.name),
                ("warning", &warning.message),
            ],
        );
    }
    let newsletter = &composed.newsletter;
    let (files, options) = list_options(newsletter, args);
    if args.dry_run {
        let (counts, _) = deliver::dry_run(&composed.issue.name, &files, options.widen, |_, _| {})?;
        log::event(
            Level::Info,
            "due.dry_run",
            &[
                ("issue", &composed.issue.name),
                ("would_send", &counts.to_send),
                ("already_sent", &counts.already_sent),
            ],
        );
        return Ok(Exit::Ok);
    }
    let smtp = smtp_settings(newsletter, args)?;
    let env = newsletter.env.clone();
    let report = deliver::list_send(composed.outgoing(), &smtp, &env, &files, options, clock)?;
    Ok(report.exit())
}

/// An error as one log field: diagnostics render over several lines.
fn one_line(e: &Error) -> String {
    match e.downcast_ref::<crate::diagnostic::Diagnostics>() {
        Some(d) => d
            .errors()
            .map(|d| match d.position() {
                Some(at) => format!("{at}: {}", d.message),
                None => d.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        None => e.to_string(),
    }
}

fn hours(late: chrono::Duration) -> String {
    let minutes = late.num_minutes();
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}
