//! `catchup issues`: every issue file with its date, send moment, where it
//! stands (draft, due, sending, sent, overdue) and its counts.

use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::bounces::cost::{Cost, Costs};
use crate::bounces::seen;
use crate::cli::IssuesArgs;
use crate::clock::Clock;
use crate::compose::newsletter;
use crate::deliver::status::{Standing, Status};
use crate::error::Result;
use crate::exit::Exit;
use crate::issue::{self, Outline};

/// One row.
#[derive(Debug, Serialize)]
struct Row {
    issue: String,
    date: Option<String>,
    /// The send moment, on the newsletter's clock.
    moment: Option<String>,
    /// `draft`, `due`, `sending`, `sent`, `overdue`, or `unreadable`.
    state: String,
    file: String,
    #[serde(flatten)]
    status: Option<Status>,
    /// What its returned mail and unsubscribes cost the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<Cost>,
    /// Why the file could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Row {
    /// An issue whose file, or whose record of sending, cannot be read.
    fn unreadable(
        issue: String,
        date: Option<String>,
        file: String,
        e: &dyn std::fmt::Display,
    ) -> Row {
        Row {
            issue,
            date,
            moment: None,
            state: "unreadable".into(),
            file,
            status: None,
            cost: None,
            error: Some(e.to_string()),
        }
    }
}

pub(crate) fn run(config: &Path, args: &IssuesArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    let files = super::list_files(&newsletter);
    let schedule = newsletter.schedule.as_ref();
    let now = Clock::System.now();
    let costs = Costs::read(&files.state.join(seen::FILE), &files.suppressed)?;
    let mut rows = Vec::new();
    for path in issue::files(&newsletter.paths.issues)? {
        let file = path.display().to_string();
        let outline = match Outline::read(&path) {
            Ok(outline) => outline,
            Err(e) => {
                let name = path.file_stem().unwrap_or_default().to_string_lossy();
                rows.push(Row::unreadable(name.into_owned(), None, file, &e));
                continue;
            }
        };
        let moment = outline.moment(schedule);
        let status = match Status::read(&outline.name, &files) {
            Ok(status) => status,
            Err(e) => {
                let date = Some(outline.date.to_string());
                rows.push(Row::unreadable(outline.name.to_string(), date, file, &e));
                continue;
            }
        };
        rows.push(Row {
            issue: outline.name.to_string(),
            date: Some(outline.date.to_string()),
            moment: Some(schedule.map_or_else(
                || moment.format("%Y-%m-%d %H:%M UTC").to_string(),
                |s| s.local(moment),
            )),
            state: Standing::of(&status, moment, schedule, now).name().into(),
            file,
            cost: (status.runs > 0).then(|| costs.of(outline.name.as_str())),
            status: Some(status),
            error: None,
        });
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(Exit::Ok);
    }
    let width = rows.iter().map(|r| r.issue.len()).max().unwrap_or(5).max(5);
    let header = format!(
        "{:width$}  {:10}  {:20}  {:10}  {:34}  file",
        "issue", "date", "send moment", "state", "readers"
    );
    writeln!(out, "{}", header.trim_end())?;
    for row in &rows {
        let counts = row.status.as_ref().map(counts).unwrap_or_default();
        let line = format!(
            "{:width$}  {:10}  {:20}  {:10}  {:34}  {}",
            row.issue,
            row.date.as_deref().unwrap_or(""),
            row.moment.as_deref().unwrap_or(""),
            row.state,
            counts,
            row.file
        );
        writeln!(out, "{}", line.trim_end())?;
        if let Some(cost) = &row.cost {
            writeln!(out, "  cost: {}", cost.brief())?;
        }
        if let Some(error) = &row.error {
            writeln!(out, "  {error}")?;
        }
    }
    Ok(Exit::Ok)
}

/// `18 sent, 1 failed, 2 pending`: the counts that are not zero.
fn counts(status: &Status) -> String {
    let parts = [
        (status.sent, "sent"),
        (status.failed, "failed"),
        (status.deferred, "deferred"),
        (status.uncertain, "uncertain"),
        (status.pending, "pending"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect::<Vec<_>>()
        .join(", ")
}
