//! What each list-sent issue carried, kept beside its ledger
//! (`state/<issue>/issue.json`): its date, subject and stories. With it a
//! copy of an issue under another name is caught before it goes out, and
//! `check` can warn about a story an earlier issue already carried.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::state::{Paths, SENT};
use crate::files::{FileError, write_atomic};
use crate::issue::IssueName;

/// The record of one list-sent issue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SentIssue {
    pub date: NaiveDate,
    /// When it went out, by the schedule.
    pub moment: DateTime<Utc>,
    pub subject: String,
    pub preheader: String,
    pub stories: Vec<String>,
}

/// Records what `paths`' issue carries and its web version (the public
/// archive's page), before its first reader is sent.
///
/// # Errors
/// A record cannot be written.
pub fn record(paths: &Paths, issue: &SentIssue, web_html: &str) -> Result<(), FileError> {
    let json = serde_json::to_vec_pretty(issue).unwrap_or_default();
    write_atomic(&paths.web, web_html.as_bytes())?;
    write_atomic(&paths.sent, &json)
}

/// Every issue in the state folder that a list send has started, in name
/// order. A record that cannot be read is left out: it only ever adds
/// warnings and refusals, never a send.
pub fn all(state: &Path) -> Vec<(IssueName, SentIssue)> {
    let Ok(entries) = std::fs::read_dir(state) else {
        return Vec::new();
    };
    let mut found: Vec<(IssueName, SentIssue)> = entries
        .flatten()
        // A link among the issue folders is someone else's folder.
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| {
            let name = IssueName::new(entry.file_name().to_str()?).ok()?;
            let bytes = crate::files::read_kept(&entry.path().join(SENT), 1024 * 1024).ok()??;
            Some((name, serde_json::from_slice(&bytes).ok()?))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// An earlier list send that carried an issue again: the same subject and
/// stories, or most of its stories. Either way every reader would get what
/// they already had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// The earlier issue, and the day it went out.
    pub issue: IssueName,
    pub date: NaiveDate,
    /// How many of this issue's stories (own items aside) it carried.
    pub carried: usize,
    pub of: usize,
}

impl std::fmt::Display for Repeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of its {} stories went out in issue `{}`, list-sent for {}",
            self.carried, self.of, self.issue, self.date
        )
    }
}

/// The earlier list send, under another name than `name`, that `issue`
/// would repeat: one with the same subject and stories, or one that
/// carried more than half of its stories (an editor's own items, new
/// each time, aside). A renamed file with a comma dropped from its subject
/// is still the same issue. The send that carried the most is named.
/// `sent` is [`all`] of the state folder.
pub fn repeat_of(
    sent: &[(IssueName, SentIssue)],
    name: &IssueName,
    issue: &SentIssue,
) -> Option<Repeat> {
    let picked: Vec<&String> = issue
        .stories
        .iter()
        .filter(|id| !crate::story::is_own(id))
        .collect();
    sent.iter()
        .filter(|(other, _)| other != name)
        .filter_map(|(other, sent)| {
            let carried = picked.iter().filter(|id| sent.stories.contains(id)).count();
            let same = crate::issue::clash::same_content(
                &sent.subject,
                &sent.stories,
                &issue.subject,
                &issue.stories,
            );
            (same || carried * 2 > picked.len()).then(|| Repeat {
                issue: other.clone(),
                date: sent.date,
                carried,
                of: picked.len(),
            })
        })
        .max_by_key(|repeat| repeat.carried)
}
