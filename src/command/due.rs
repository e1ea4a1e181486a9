//! `catchup send --due`: every issue whose send moment has come, list-sent
//! through the same path as `send --all`. Built to be run by cron every few
//! minutes: it takes a lock, logs one line per event, and does nothing (one
//! quiet line) when nothing is due.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::cli::SendArgs;
use crate::clock::Clock;
use crate::deliver::{self, ledger};
use crate::exit::{self, ConfigError, Exit};
use crate::issue;
use crate::log::{self, Level};
use crate::schedule::Due;

use super::compose::{compose, newsletter};
use super::send::{exit_for, list_options, smtp_settings};

pub fn run(config: &Path, args: &SendArgs) -> anyhow::Result<Exit> {
    let newsletter = newsletter(config)?;
    let Some(schedule) = newsletter.schedule else {
        return Err(ConfigError(format!(
            "send --due needs a schedule: add to {}\n[schedule]\nweekday = \"Mon\"\ntime = \"07:00\"\ntimezone = \"Europe/London\"",
            newsletter.source.path.display()
        ))
        .into());
    };
    let state = list_options(&newsletter, args).0.state;
    // Overlapping cron runs: the second one leaves at once and says why.
    let _lock = ledger::take_lock(&state.join("due.lock"), "due issues (send --due)")?;

    let clock = args.now.map_or(Clock::System, Clock::Fixed);
    let now = clock.now();
    let mut exit = Exit::Ok;
    let mut acted = false;
    let mut next: Option<(DateTime<Utc>, String)> = None;

    for path in issue::files(&newsletter.paths.issues)? {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let timing = match issue::read_timing(&path) {
            Ok(timing) => timing,
            Err(e) => {
                log::event(
                    Level::Error,
                    "due.unreadable",
                    &[("file", &path.display()), ("error", &format!("{e:#}"))],
                );
                exit = exit.worst(Exit::Config);
                continue;
            }
        };
        let moment = schedule.moment(timing.date, timing.send_at);
        if ledger::Paths::new(&state, &name).is_complete() {
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
                log::event(
                    Level::Warn,
                    "due.overdue",
                    &[
                        ("issue", &name),
                        ("moment", &schedule.local(moment)),
                        ("late_by", &hours(late)),
                        (
                            "hint",
                            &"not sent: past the grace period; send --due --late-ok sends it",
                        ),
                    ],
                );
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
                    &[("issue", &name), ("error", &format!("{e:#}"))],
                );
                exit::code_for(&e)
            }
        });
    }

    if !acted && exit == Exit::Ok {
        let (when, which) = next.map_or_else(
            || ("none".to_string(), "none".to_string()),
            |(moment, name)| (schedule.local(moment), name),
        );
        log::event(
            Level::Info,
            "due.nothing",
            &[("next_issue", &which), ("next_moment", &when)],
        );
    }
    Ok(exit)
}

/// One due issue: composed and checked, then list-sent (or, with
/// `--dry-run`, surveyed).
fn send_one(config: &Path, path: &Path, args: &SendArgs, clock: Clock) -> anyhow::Result<Exit> {
    let composed = compose(config, Some(path))?;
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
    let (files, widen) = list_options(newsletter, args);
    if args.dry_run {
        let (counts, _) = deliver::dry_run(&composed.issue.name, &files, widen, |_, _| {})?;
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
    let report = deliver::list_send(Arc::new(composed.template), &smtp, &files, widen, clock)?;
    Ok(report.tally.as_ref().map_or(Exit::Ok, exit_for))
}

fn hours(late: chrono::Duration) -> String {
    let minutes = late.num_minutes();
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}
