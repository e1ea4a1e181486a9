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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        .filter_map(|entry| {
            let name = IssueName::new(entry.file_name().to_str()?).ok()?;
            let bytes = crate::files::read_input(&entry.path().join(SENT), 1024 * 1024).ok()?;
            Some((name, serde_json::from_slice(&bytes).ok()?))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// An issue already sent under another name with the same subject and
/// stories as `issue`, if there is one.
pub fn sent_as_another(state: &Path, name: &IssueName, issue: &SentIssue) -> Option<IssueName> {
    all(state)
        .into_iter()
        .find(|(other, sent)| {
            other != name
                && crate::issue::clash::same_content(
                    &sent.subject,
                    &sent.stories,
                    &issue.subject,
                    &issue.stories,
                )
        })
        .map(|(other, _)| other)
}
