//! `catchup new`: a skeleton issue file for the next send date, listing the
//! stories no issue has used yet, newest first. Never overwrites a file.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use chrono::NaiveDate;

use crate::cli::NewArgs;
use crate::clock::Clock;
use crate::compose::{library, newsletter};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::story::Story;

pub(crate) fn run(config: &Path, args: &NewArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    let date = match (args.date, &newsletter.schedule) {
        (Some(date), _) => date,
        (None, Some(schedule)) => schedule.next_date(Clock::System.now()),
        (None, None) => {
            return Err(Error::config(format!(
                "there is no [schedule] in {} to give the next send date; pass --date YYYY-MM-DD",
                newsletter.source.path.display()
            )));
        }
    };
    let path = newsletter.paths.issues.join(format!("{date}.toml"));
    let exists = || {
        Error::config(format!(
            "`{}` exists already; edit it, or pass --date for another issue",
            path.display()
        ))
    };
    let library = library(&newsletter, None)?;
    let used = super::used_stories(&newsletter);
    let mut unused: Vec<&Story> = library
        .stories()
        .iter()
        .filter(|s| !used.contains(s.id.as_str()))
        .collect();
    // Newest first; undated stories last, in the library's order.
    unused.sort_by_key(|s| std::cmp::Reverse(s.published));
    crate::fs::write_new(&path, skeleton(date, &unused).as_bytes(), 0o666).map_err(|e| {
        if e.kind() == Some(std::io::ErrorKind::AlreadyExists) {
            exists()
        } else {
            e.into()
        }
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {} ({} unused stories listed in it)",
        path.display(),
        unused.len()
    )?;
    writeln!(
        out,
        "next: pick stories and write the subject, with `catchup preview --watch {}` open",
        path.display()
    )?;
    Ok(Exit::Ok)
}

/// The file: every field an editor fills in, with the unused stories as
/// comments inside the first section's list.
fn skeleton(date: NaiveDate, unused: &[&Story]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# The issue of {}.", date.format("%A %-d %B %Y"));
    out.push_str(
        "# `catchup preview --watch` shows it as you edit; `catchup check` says what is missing.\n\n",
    );
    let _ = writeln!(out, "date = {date}");
    out.push_str("# The subject line: what readers see first in their inbox.\nsubject = \"\"\n");
    out.push_str("# The grey line inboxes show after the subject.\npreheader = \"\"\n");
    out.push_str("# intro = \"\"\"A paragraph of your own above the stories.\"\"\"\n\n");
    out.push_str("[[sections]]\ntitle = \"Top stories\"\nstories = [\n");
    if unused.is_empty() {
        out.push_str("  # Every story in the seeds has been used; write your own:\n");
    } else {
        out.push_str("  # Stories no issue has used yet, newest first. Uncomment to pick:\n");
        let width = unused
            .iter()
            .map(|s| s.id.as_str().len())
            .max()
            .unwrap_or(0)
            + 4;
        for story in unused {
            let id = format!("\"{}\",", story.id);
            let date = story
                .published
                .map(|d| format!(" · {d}"))
                .unwrap_or_default();
            let _ = writeln!(out, "  # {id:width$}# {}{date}", story.headline);
        }
    }
    out.push_str(
        "  # { headline = \"Your own item\", body = \"Markdown: *emphasis*, [links](https://…), - lists\" },\n",
    );
    out.push_str("]\n");
    out
}
