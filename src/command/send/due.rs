//! `catchup send --due`: every issue whose send moment has come, list-sent
//! through the same path as `send --all`. Built to be run by cron every few
//! minutes: it takes a lock, logs one line per event, and does nothing (one
//! quiet line) when nothing is due.

use std::path::{Path, PathBuf};

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
    let mut exit = Exit::Ok;
    let mut slots = Vec::new();
    for path in issue::files(&newsletter.paths.issues)? {
        match Outline::read(&path) {
            Ok(outline) => slots.push(Slot {
                complete: Paths::new(&state, &outline.name).is_complete(),
                moment: outline.moment(Some(&schedule)),
                name: outline.name,
                path,
            }),
            Err(e) => {
                log::event(
                    Level::Error,
                    "due.unreadable",
                    &[("file", &path.display()), ("error", &e)],
                );
                exit = exit.worst(e.code());
            }
        }
    }

    let mut notices = Notices::read(&state);
    let tick = plan(&schedule, now, &slots, args.late_ok, &mut notices);
    for step in &tick.steps {
        exit = exit.worst(match step {
            Step::Overdue { slot, late } => {
                report_overdue(&schedule, &slots[*slot].name, slots[*slot].moment, *late);
                Exit::Overdue
            }
            Step::Send { slot, late } => {
                send_due(config, &slots[*slot], &schedule, *late, args, clock)
            }
        });
    }
    if let Some(slot) = tick.missing {
        warn_of_a_missing_issue(&schedule, now, slot);
    }
    let acted = tick.steps.iter().any(|s| matches!(s, Step::Send { .. }));
    if !acted && exit == Exit::Ok {
        let (when, which) = tick.next.map_or_else(
            || ("none".to_string(), "none".to_string()),
            |slot| {
                (
                    schedule.local(slots[slot].moment),
                    slots[slot].name.to_string(),
                )
            },
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

/// One issue file as a tick sees it.
#[derive(Debug)]
struct Slot {
    name: IssueName,
    path: PathBuf,
    moment: DateTime<Utc>,
    /// Fully sent already.
    complete: bool,
}

/// What a tick does about one issue, by its index among the slots.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Due: send it now, this late.
    Send { slot: usize, late: chrono::Duration },
    /// Past its grace period, and no earlier run said so.
    Overdue { slot: usize, late: chrono::Duration },
}

/// What one tick does, in file order.
#[derive(Debug, PartialEq, Eq)]
struct Tick {
    steps: Vec<Step>,
    /// The issue that goes out next, if any is still to come.
    next: Option<usize>,
    /// The slot on the schedule, less than a day off, that no issue file
    /// goes out in, if no earlier run warned of it.
    missing: Option<DateTime<Utc>>,
}

/// Decides a tick from the clock, the issue files' moments and what
/// earlier ticks said, and nothing else: months of cron ticks can be
/// tested in-process.
fn plan(
    schedule: &Schedule,
    now: DateTime<Utc>,
    slots: &[Slot],
    late_ok: bool,
    notices: &mut Notices,
) -> Tick {
    let mut tick = Tick {
        steps: Vec::new(),
        next: None,
        missing: None,
    };
    for (i, slot) in slots.iter().enumerate().filter(|(_, s)| !s.complete) {
        match schedule.status(slot.moment, now) {
            Due::NotYet => {
                if tick.next.is_none_or(|n| slot.moment < slots[n].moment) {
                    tick.next = Some(i);
                }
            }
            // Said once (exit 6, so that cron or systemd tells the
            // operator), then only counted: an issue nobody will send must
            // not fail every tick for years.
            Due::Overdue { late } if !late_ok => {
                if notices.first(Notice::Overdue(slot.name.to_string())) {
                    tick.steps.push(Step::Overdue { slot: i, late });
                }
            }
            Due::Now { late } | Due::Overdue { late } => {
                tick.steps.push(Step::Send { slot: i, late });
            }
        }
    }
    let day = schedule.next_date(now);
    let next_slot = schedule.moment(day, None);
    let written = slots
        .iter()
        .any(|slot| schedule.zone.local(slot.moment).date() == day);
    if !written && next_slot - now <= MISSING_WARNING && notices.first(Notice::Missing(day)) {
        tick.missing = Some(next_slot);
    }
    tick
}

/// Sends one due issue, logging what happens; its exit code.
fn send_due(
    config: &Path,
    slot: &Slot,
    schedule: &Schedule,
    late: chrono::Duration,
    args: &SendArgs,
    clock: Clock,
) -> Exit {
    log::event(
        Level::Info,
        "due.sending",
        &[
            ("issue", &slot.name),
            ("moment", &schedule.local(slot.moment)),
            ("late_by", &hours(late)),
        ],
    );
    match send_one(config, &slot.path, args, clock) {
        Ok(code) => code,
        Err(e) => {
            log::event(
                Level::Error,
                "due.failed",
                &[("issue", &slot.name), ("error", &one_line(&e))],
            );
            e.code()
        }
    }
}

/// How long before a slot on the schedule a missing issue is worth a word.
const MISSING_WARNING: chrono::Duration = chrono::Duration::hours(24);

/// Warns that the slot at `slot` is near and no issue file goes out on
/// its day.
fn warn_of_a_missing_issue(schedule: &Schedule, now: DateTime<Utc>, slot: DateTime<Utc>) {
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
        let earlier: Vec<Notice> = crate::fs::read_kept(&state.join(Self::FILE), 64 * 1024)
            .ok()
            .flatten()
            .map(|bytes| {
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .filter_map(Notice::parse)
                    .collect()
            })
            .unwrap_or_default();
        Notices::after(earlier)
    }

    /// Notices for a run after one that gave `earlier`.
    fn after(earlier: Vec<Notice>) -> Notices {
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
    let report = deliver::list_send(composed.outgoing()?, &smtp, &env, &files, options, clock)?;
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

#[cfg(test)]
mod tests {
    //! Months of cron ticks every 15 minutes, across both of London's clock
    //! changes, through the same planning a real tick does: each issue goes
    //! out once, at the right local time, and each notice is given once.
    //! (`tests/integration/due.rs` runs real ticks against a real server.)

    use std::collections::BTreeMap;

    use chrono::{Duration, NaiveDate, Weekday};

    use super::*;
    use crate::schedule::{SendAt, Zone};

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("RFC 3339")
    }

    /// Mondays at 07:00 in London, as the integration tests' project.
    fn mondays() -> Schedule {
        Schedule {
            weekday: Weekday::Mon,
            time: chrono::NaiveTime::from_hms_opt(7, 0, 0).expect("time"),
            zone: Zone::named("Europe/London").expect("London"),
            grace: Duration::hours(24),
        }
    }

    /// Issue files named `name` (a date first), with a local `send_at`.
    fn slots(schedule: &Schedule, issues: &[(&str, Option<&str>)]) -> Vec<Slot> {
        issues
            .iter()
            .map(|(name, send_at)| {
                let date: NaiveDate = name[..10].parse().expect("date");
                let send_at = send_at.map(|t| SendAt::Local(t.parse().expect("local time")));
                Slot {
                    name: IssueName::new(name).expect("name"),
                    path: PathBuf::from(format!("config/issues/{name}.toml")),
                    moment: schedule.moment(date, send_at),
                    complete: false,
                }
            })
            .collect()
    }

    /// What a month of ticks did: when each issue was sent, and what each
    /// tick said beyond sending.
    #[derive(Debug, Default)]
    struct Month {
        sent: BTreeMap<String, Vec<DateTime<Utc>>>,
        overdue: Vec<(DateTime<Utc>, String)>,
        missing: Vec<(DateTime<Utc>, DateTime<Utc>)>,
        /// The overdue issues a quiet tick names as already reported.
        reported: Vec<(DateTime<Utc>, String)>,
    }

    /// Ticks every 15 minutes from `start` to `end`; a sent issue is
    /// complete from the next tick on, and each tick reads the notices the
    /// last one kept.
    fn simulate(schedule: &Schedule, slots: &mut [Slot], start: &str, end: &str) -> Month {
        let mut month = Month::default();
        let mut notices = Notices::after(Vec::new());
        let mut now = utc(start);
        while now < utc(end) {
            let tick = plan(schedule, now, slots, false, &mut notices);
            for step in &tick.steps {
                match step {
                    Step::Send { slot, .. } => {
                        slots[*slot].complete = true;
                        let name = slots[*slot].name.to_string();
                        month.sent.entry(name).or_default().push(now);
                    }
                    Step::Overdue { slot, .. } => {
                        month.overdue.push((now, slots[*slot].name.to_string()));
                    }
                }
            }
            month.missing.extend(tick.missing.map(|slot| (now, slot)));
            let reported = notices.overdue().collect::<Vec<_>>().join(",");
            if !reported.is_empty() {
                month.reported.push((now, reported));
            }
            notices = Notices::after(notices.now);
            now += Duration::minutes(15);
        }
        month
    }

    fn sent_once(month: &Month, expected: &[(&str, &str)]) {
        let got: Vec<(String, Vec<DateTime<Utc>>)> = month.sent.clone().into_iter().collect();
        let want: Vec<(String, Vec<DateTime<Utc>>)> = expected
            .iter()
            .map(|(name, at)| (name.to_string(), vec![utc(at)]))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_month_across_the_spring_clock_change() {
        let schedule = mondays();
        let mut slots = slots(
            &schedule,
            &[
                // Its moment is before the simulation starts: overdue, not sent.
                ("2026-03-09", None),
                ("2026-03-16", None),
                ("2026-03-23", None),
                // 01:30 does not exist on 29 March (clocks go 01:00 GMT ->
                // 02:00 BST): read with the offset before the gap.
                ("2026-03-29-gap", Some("2026-03-29T01:30:00")),
                // The first Monday in summer time: 07:00 BST is 06:00 UTC.
                ("2026-03-30", None),
                // A Wednesday special at 12:30 London time.
                ("2026-04-01-special", Some("2026-04-01T12:30:00")),
                ("2026-04-06", None),
                ("2026-04-13", None),
            ],
        );
        let month = simulate(
            &schedule,
            &mut slots,
            "2026-03-15T00:00:00Z",
            "2026-04-15T00:00:00Z",
        );
        sent_once(
            &month,
            &[
                ("2026-03-16", "2026-03-16T07:00:00Z"),
                ("2026-03-23", "2026-03-23T07:00:00Z"),
                ("2026-03-29-gap", "2026-03-29T01:30:00Z"),
                ("2026-03-30", "2026-03-30T06:00:00Z"),
                ("2026-04-01-special", "2026-04-01T11:30:00Z"),
                ("2026-04-06", "2026-04-06T06:00:00Z"),
                ("2026-04-13", "2026-04-13T06:00:00Z"),
            ],
        );
        // The overdue issue is said once, at the first tick; every later
        // tick names it as reported.
        assert_eq!(
            month.overdue,
            [(utc("2026-03-15T00:00:00Z"), "2026-03-09".to_string())]
        );
        assert_eq!(month.reported.len(), 31 * 24 * 4 - 1);
        assert!(month.reported.iter().all(|(_, r)| r == "2026-03-09"));
        assert_eq!(month.missing, []);
    }

    #[test]
    fn a_month_across_the_autumn_clock_change() {
        let schedule = mondays();
        let mut slots = slots(
            &schedule,
            &[
                ("2026-10-19", None),
                // 01:30 happens twice on 25 October (02:00 BST -> 01:00
                // GMT): the first time, 01:30 BST, is 00:30 UTC.
                ("2026-10-25-twice", Some("2026-10-25T01:30:00")),
                // The first Monday in winter time: 07:00 GMT is 07:00 UTC.
                ("2026-10-26", None),
                ("2026-11-02", None),
                ("2026-11-09", None),
            ],
        );
        let month = simulate(
            &schedule,
            &mut slots,
            "2026-10-15T00:00:00Z",
            "2026-11-15T00:00:00Z",
        );
        sent_once(
            &month,
            &[
                ("2026-10-19", "2026-10-19T06:00:00Z"),
                ("2026-10-25-twice", "2026-10-25T00:30:00Z"),
                ("2026-10-26", "2026-10-26T07:00:00Z"),
                ("2026-11-02", "2026-11-02T07:00:00Z"),
                ("2026-11-09", "2026-11-09T07:00:00Z"),
            ],
        );
        assert_eq!(month.overdue, []);
        assert_eq!(month.missing, []);
    }

    /// A Monday with no issue file is warned of once, at the first tick
    /// less than a day before its slot; one written in time is not.
    #[test]
    fn a_slot_with_no_issue_is_warned_of_once_a_day_ahead() {
        let schedule = mondays();
        let mut slots = slots(&schedule, &[("2026-11-02", None)]);
        let month = simulate(
            &schedule,
            &mut slots,
            "2026-10-31T00:00:00Z",
            "2026-11-10T00:00:00Z",
        );
        assert_eq!(
            month.missing,
            [(utc("2026-11-08T07:00:00Z"), utc("2026-11-09T07:00:00Z"))]
        );
    }
}
