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
use crate::deliver::state::{Paths, take_lock};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::issue::{self, IssueName, Outline};
use crate::log::{self, Level};
use crate::schedule::{Due, Schedule};

use super::send::{list_options, smtp_settings};

pub fn run(config: &Path, args: &SendArgs) -> Result<Exit> {
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
    let mut exit = Exit::Ok;
    let mut acted = false;
    let mut next: Option<(DateTime<Utc>, IssueName)> = None;

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
                report_overdue(&schedule, &name, moment, late);
                exit = exit.worst(Exit::Overdue);
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

    if !acted && exit == Exit::Ok {
        let (when, which) = next.map_or_else(
            || ("none".to_string(), "none".to_string()),
            |(moment, name)| (schedule.local(moment), name.to_string()),
        );
        log::event(
            Level::Info,
            "due.nothing",
            &[("next_issue", &which), ("next_moment", &when)],
        );
    }
    Ok(exit)
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
    let composed = compose(config, Some(path), super::send::signing(args))?;
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
    let report = deliver::list_send(composed.outgoing(), &smtp, &files, options, clock)?;
    Ok(report.exit())
}

/// An error as one log field: diagnostics render over several lines.
fn one_line(e: &Error) -> String {
    match e.diagnostics() {
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
