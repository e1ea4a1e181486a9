//! What each list-sent issue carried, kept beside its ledger
//! (`state/<issue>/issue.json`): its date, subject and stories. With it a
//! copy of an issue under another name is caught before it goes out, and
//! `check` can warn about a story an earlier issue already carried.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::state::{Paths, SENT};
use crate::fs::{FileError, write_atomic};
use crate::issue::IssueName;

/// The record of one list-sent issue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct SentIssue {
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
pub(crate) fn record(paths: &Paths, issue: &SentIssue, web_html: &str) -> Result<(), FileError> {
    let json = serde_json::to_vec_pretty(issue).unwrap_or_default();
    write_atomic(&paths.web, web_html.as_bytes())?;
    write_atomic(&paths.sent, &json)
}

/// Every issue in the state folder that a list send has started, in name
/// order. A record that cannot be read is left out: it only ever adds
/// warnings and refusals, never a send.
pub(crate) fn all(state: &Path) -> Vec<(IssueName, SentIssue)> {
    let Ok(entries) = std::fs::read_dir(state) else {
        return Vec::new();
    };
    let mut found: Vec<(IssueName, SentIssue)> = entries
        .flatten()
        // A link among the issue folders is someone else's folder.
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| {
            let name = IssueName::new(entry.file_name().to_str()?).ok()?;
            let bytes = crate::fs::read_kept(&entry.path().join(SENT), 1024 * 1024).ok()??;
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
pub(crate) struct Repeat {
    /// The earlier issue, and the day it went out.
    pub issue: IssueName,
    pub date: NaiveDate,
    /// How many of this issue's stories (own items aside) it carried, of
    /// how many; and how many stories the earlier one carried.
    pub carried: usize,
    pub of: usize,
    pub earlier: usize,
}

impl std::fmt::Display for Repeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.carried * 2 > self.of {
            write!(
                f,
                "{} of its {} stories went out in issue `{}`, list-sent for {}",
                self.carried, self.of, self.issue, self.date
            )
        } else {
            write!(
                f,
                "{} of the {} stories issue `{}` carried (list-sent for {}) are in it again",
                self.carried, self.earlier, self.issue, self.date
            )
        }
    }
}

/// An earlier send counts as repeated when at least this many of its
/// stories come back and they are most of it (one story of a special
/// bulletin in Friday's round-up is not a repeat).
const MIN_REPEATED: usize = 3;

/// The earlier list send, under another name than `name`, that `issue`
/// would repeat: one with the same subject and stories, or one whose
/// stories and `issue`'s mostly overlap: more than half of `issue`'s, or
/// more than half of the earlier one's (an editor's own items, new each
/// time, aside). A renamed file with a comma dropped from its subject is
/// still the same issue, and so is an earlier issue sent again inside a
/// bigger one. The send that carried the most is named.
/// `sent` is [`all`] of the state folder.
pub(crate) fn repeat_of(
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
            let earlier = sent
                .stories
                .iter()
                .filter(|id| !crate::story::is_own(id))
                .count();
            let same = crate::issue::clash::same_content(
                &sent.subject,
                &sent.stories,
                &issue.subject,
                &issue.stories,
            );
            let most_of_this = carried * 2 > picked.len();
            let most_of_that = carried >= MIN_REPEATED && carried * 2 > earlier;
            (same || most_of_this || most_of_that).then(|| Repeat {
                issue: other.clone(),
                date: sent.date,
                carried,
                of: picked.len(),
                earlier,
            })
        })
        .max_by_key(|repeat| repeat.carried)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(name: &str, subject: &str, stories: &[&str]) -> (IssueName, SentIssue) {
        (
            IssueName::new(name).expect("name"),
            SentIssue {
                subject: subject.into(),
                stories: stories.iter().map(|s| s.to_string()).collect(),
                ..SentIssue::default()
            },
        )
    }

    fn ids(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}/story-{i}")).collect()
    }

    /// See: issue 18, item 2 and the adversarial re-run (N6). A renamed
    /// issue, and an earlier one sent again inside a bigger one.
    #[test]
    fn an_issue_that_mostly_repeats_an_earlier_send_is_found() {
        let old = ids("002", 10);
        let old_refs: Vec<&str> = old.iter().map(String::as_str).collect();
        let earlier = [sent("2018-07-27", "Bold ambition, and more", &old_refs)];
        let name = IssueName::new("2018-08-03").expect("name");
        let repeat = |subject: &str, stories: Vec<String>| {
            let issue = SentIssue {
                subject: subject.into(),
                stories,
                ..SentIssue::default()
            };
            repeat_of(&earlier, &name, &issue).map(|r| r.to_string())
        };
        let mut reordered = old.clone();
        reordered.reverse();
        assert_eq!(
            repeat("Bold ambition and more", reordered).as_deref(),
            Some("10 of its 10 stories went out in issue `2018-07-27`, list-sent for 1970-01-01")
        );
        let six_of_ten = [&old[..6], &ids("003", 4)[..]].concat();
        assert!(repeat("New", six_of_ten).is_some());
        let all_old_and_ten_new = [&old[..], &ids("003", 10)[..]].concat();
        assert_eq!(
            repeat("New", all_old_and_ten_new).as_deref(),
            Some(
                "10 of the 10 stories issue `2018-07-27` carried (list-sent for 1970-01-01) are in it again"
            )
        );
        let five_and_five = [&old[..5], &ids("003", 5)[..]].concat();
        assert_eq!(repeat("New", five_and_five), None, "half is not most");
        // The one story of a special bulletin, in Friday's round-up.
        let special = [sent("2018-07-25-special", "Breaking", &["004/merger"])];
        let friday = SentIssue {
            subject: "Friday".into(),
            stories: [&ids("003", 9)[..], &["004/merger".to_string()][..]].concat(),
            ..SentIssue::default()
        };
        assert_eq!(repeat_of(&special, &name, &friday), None);
        // An editor's own items are new each time.
        let own = [sent(
            "2018-07-20",
            "Own",
            &["item/podcast", "item/events", "002/x"],
        )];
        let again = SentIssue {
            subject: "Own again".into(),
            stories: vec!["item/podcast".into(), "item/events".into(), "003/y".into()],
            ..SentIssue::default()
        };
        assert_eq!(repeat_of(&own, &name, &again), None);
    }
}
