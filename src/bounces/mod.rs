//! Returned mail read back into the suppression list. [`mailbox`] finds the
//! messages, [`classify`] says what each one means, and this module decides
//! which reader it is about and what to do: suppress at once for a hard
//! bounce or a complaint, count a soft bounce and suppress after
//! `[bounces] soft_limit` distinct issues, or leave it be. [`log`] keeps
//! what was read, so that reading a mailbox again changes nothing.
//!
//! A reader is found from catchup's own marks in the message (the
//! Message-ID made from the issue and the reader, a VERP return path or an
//! unsubscribe link carrying their token): these cannot be forged without
//! the link secret, so a forged report suppresses no one. A report that
//! names a listed address without such a mark is trusted only if the
//! operator opts in (`[bounces] trust_unmarked`).

pub(crate) mod classify;
pub(crate) mod log;
pub(crate) mod mailbox;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::Newsletter;
use crate::list::index::{By, Readers};
use crate::list::reader::ReaderKey;
use crate::list::subscribers::ListError;
use crate::list::suppression::{self, Event};
use crate::list::token::{Keys, Token};
use classify::{Failure, Finding, Ours, Report, Verdict};
use log::{Log, Outcome, Row};

/// Why a reading of returned mail could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The suppression list.
    #[error(transparent)]
    List(#[from] ListError),
    /// The log of what was read (`state/bounces.csv`).
    #[error(transparent)]
    Log(#[from] crate::fs::FileError),
}

/// What decides how returned mail is read.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub ours: Ours,
    pub soft_limit: u32,
    /// Act only on reports that carry catchup's mark for the reader.
    pub require_mark: bool,
}

impl Settings {
    pub(crate) fn new(newsletter: &Newsletter) -> Settings {
        let return_path = newsletter
            .bounces
            .return_path
            .clone()
            .unwrap_or_else(|| newsletter.from.email.clone());
        let verp = newsletter.bounces.verp;
        Settings {
            ours: Ours {
                message_id_domain: newsletter.from.email.domain().to_ascii_lowercase(),
                verp: verp.then(|| {
                    (
                        return_path.user().to_ascii_lowercase(),
                        return_path.domain().to_ascii_lowercase(),
                    )
                }),
                unsubscribe_prefix: newsletter.web.unsubscribe_url("").to_ascii_lowercase(),
            },
            soft_limit: newsletter.bounces.soft_limit,
            require_mark: !newsletter.bounces.trust_unmarked,
        }
    }
}

/// The subscriber list, and how to find a reader from catchup's marks.
#[derive(Debug)]
pub(crate) struct Lookup {
    keys: Keys,
    by_token: Readers,
    by_id: Readers,
    listed: HashSet<ReaderKey>,
}

impl Lookup {
    /// Indexes the subscriber list.
    ///
    /// # Errors
    /// The list cannot be read.
    pub(crate) fn build(subscribers: &Path, keys: Keys) -> Result<Lookup, ListError> {
        // A missing list is an error here, not an empty one: every report
        // would be read as about no one, and never read again.
        if !subscribers.exists() {
            return Err(ListError::from(crate::fs::FileError::io(
                crate::fs::Action::Read,
                subscribers,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )));
        }
        // Every index from one pass over the list.
        let mut listed = HashSet::new();
        let [by_token, by_id] =
            Readers::build_many(subscribers, &keys, [By::Token, By::MessageId], |reader| {
                listed.insert(reader.key());
            })?;
        Ok(Lookup {
            by_token,
            by_id,
            keys,
            listed,
        })
    }

    /// The readers catchup's marks in a message name, each with the issue
    /// its Message-ID gives.
    fn marked(&self, evidence: &classify::Evidence) -> Result<Vec<Marked>, ListError> {
        let mut marked: Vec<Marked> = Vec::new();
        let mut add = |email: String, issue: Option<&str>| match marked
            .iter_mut()
            .find(|m| m.email.eq_ignore_ascii_case(&email))
        {
            Some(m) => {
                if m.issue.is_none() {
                    m.issue = issue.map(str::to_string);
                }
            }
            None => marked.push(Marked {
                email,
                issue: issue.map(str::to_string),
            }),
        };
        for token in evidence.tokens.iter().filter_map(|t| Token::parse(t)) {
            if let Some(email) = self.by_token.find(&token, &self.keys)? {
                add(email, None);
            }
        }
        for id in &evidence.message_ids {
            if let Some(email) = self.by_id.find_message_id(id.reader, &self.keys)? {
                let issue = crate::issue::IssueName::new(&id.issue).ok();
                add(email, issue.as_ref().map(|i| i.as_str()));
            }
        }
        Ok(marked)
    }
}

/// A reader named by catchup's marks.
#[derive(Debug, Clone)]
struct Marked {
    email: String,
    issue: Option<String>,
}

/// What reading one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Suppressed {
        email: String,
        reason: String,
        issue: Option<String>,
    },
    AlreadySuppressed {
        email: String,
    },
    /// A soft bounce counted: the reader has now bounced on `issues`
    /// distinct issues.
    Counted {
        email: String,
        status: String,
        issues: usize,
        limit: u32,
    },
    /// Read, and nothing to do; why.
    Ignored(String),
    /// Not understood, left alone (read again next time); why.
    NotUnderstood(String),
    /// Read on an earlier run.
    ReadBefore,
}

/// One reading of returned mail: the suppression list and the log as they
/// stand, and what this reading adds to them.
#[derive(Debug)]
pub(crate) struct Run {
    settings: Settings,
    lookup: Lookup,
    log: Log,
    suppressed: HashSet<ReaderKey>,
    /// When each address's suppression was last lifted.
    lifted: HashMap<ReaderKey, DateTime<Utc>>,
    events: Vec<Event>,
    now: DateTime<Utc>,
    /// Rows of the suppression list and the log that could not be read.
    pub warnings: Vec<String>,
}

impl Run {
    /// Reads the suppression list and the log.
    ///
    /// # Errors
    /// Either cannot be read.
    pub(crate) fn start(
        settings: Settings,
        lookup: Lookup,
        suppressed: &Path,
        log: &Path,
        now: DateTime<Utc>,
    ) -> Result<Run, StartError> {
        let (events, mut warnings) = suppression::events(suppressed)?;
        let mut lifted = HashMap::new();
        for event in events.iter().filter(|e| e.lifts()) {
            lifted.insert(ReaderKey::of(&event.email), event.at);
        }
        let suppressed = suppression::current(&events)
            .into_iter()
            .map(|e| ReaderKey::of(&e.email))
            .collect();
        let log = Log::load(log)?;
        warnings.extend(log.warnings.iter().cloned());
        Ok(Run {
            settings,
            lookup,
            log,
            suppressed,
            lifted,
            events: Vec::new(),
            now,
            warnings,
        })
    }

    /// Reads one message and decides what it means for the list.
    ///
    /// # Errors
    /// The subscriber list cannot be read back.
    pub(crate) fn read(&mut self, raw: &[u8]) -> Result<Vec<Action>, ListError> {
        // Parsed once, for its key and for what it says.
        let message = match classify::parse(raw) {
            Ok(message) => message,
            Err(Verdict::NotUnderstood(why)) => return Ok(vec![Action::NotUnderstood(why)]),
            Err(_) => return Ok(vec![Action::NotUnderstood("it cannot be read".into())]),
        };
        let key = log::message_key(raw, &message);
        if self.log.has_seen(&key) {
            return Ok(vec![Action::ReadBefore]);
        }
        match classify::classify(&message, &self.settings.ours) {
            Verdict::NotUnderstood(why) => Ok(vec![Action::NotUnderstood(why)]),
            Verdict::NotABounce(why) => {
                self.log_row(&key, "", Outcome::Ignored, "", String::new());
                Ok(vec![Action::Ignored(format!("not a bounce: {why}"))])
            }
            Verdict::Report(report) => self.report(&key, &report),
        }
    }

    fn report(&mut self, key: &str, report: &Report) -> Result<Vec<Action>, ListError> {
        let marked = self.lookup.marked(&report.evidence)?;
        let mut actions = Vec::new();
        for finding in &report.findings {
            actions.push(
                match self.reader_for(finding, &marked, report.findings.len()) {
                    Ok(reader) => {
                        let issue = reader.issue.clone().or_else(|| only_issue(report));
                        self.act(key, &reader.email, &finding.failure, issue, report.date)
                    }
                    Err(why) => Action::Ignored(why),
                },
            );
        }
        actions.extend(
            report
                .unclear
                .iter()
                .map(|u| Action::NotUnderstood(format!("a recipient without a status: {u}"))),
        );
        let acted = actions
            .iter()
            .any(|a| !matches!(a, Action::NotUnderstood(_)));
        if acted && !self.log.has_seen(key) {
            self.log_row(key, "", Outcome::Ignored, "", String::new());
        }
        Ok(actions)
    }

    /// Which reader a finding is about, or why none.
    fn reader_for(
        &self,
        finding: &Finding,
        marked: &[Marked],
        findings: usize,
    ) -> Result<Marked, String> {
        let named = finding
            .recipient
            .as_deref()
            .and_then(|n| crate::list::address::parse(n).ok())
            .map(|a| a.to_string());
        if let Some(address) = &named
            && let Some(m) = marked
                .iter()
                .find(|m| m.email.eq_ignore_ascii_case(address))
        {
            return Ok(m.clone());
        }
        // A report about one recipient that names another address (where
        // the mail was forwarded to, or a redacted one), or none: catchup's
        // mark says which reader it was sent to.
        if let ([one], 1) = (marked, findings) {
            return Ok(one.clone());
        }
        let Some(address) = named else {
            return Err(match marked.len() {
                0 => {
                    "it names no reader: no address, and no Message-ID or link of catchup's".into()
                }
                n => format!(
                    "it carries marks of {n} readers and does not say which failed; left alone"
                ),
            });
        };
        let listed = self.lookup.listed.contains(&ReaderKey::of(&address));
        match (listed, self.settings.require_mark) {
            (true, false) => Ok(Marked {
                email: address,
                issue: None,
            }),
            (true, true) => Err(format!(
                "it names {address}, but carries no mark of catchup's for them, so it could be forged"
            )),
            (false, _) => Err(format!("it names {address}, who is not on the list")),
        }
    }

    fn act(
        &mut self,
        key: &str,
        email: &str,
        failure: &Failure,
        issue: Option<String>,
        date: Option<DateTime<Utc>>,
    ) -> Action {
        // Mail dated before the address was last taken off the list cannot
        // put it back: reading an old mailbox again, or losing the log,
        // cannot undo a correction.
        let lifted = self.lifted.get(&ReaderKey::of(email)).copied();
        if let (Some(lifted), Some(date)) = (lifted, date)
            && date < lifted
        {
            self.log_row(key, email, Outcome::Ignored, "", String::new());
            return Action::Ignored(format!(
                "it is dated before {email} was taken off the suppression list ({})",
                lifted.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        let issue_key = issue.clone().unwrap_or_default();
        match failure {
            Failure::Hard(code) => {
                self.log_row(key, email, Outcome::Hard, code, issue_key);
                self.suppress(email, format!("hard-bounce {code}"), issue, false)
            }
            // The reader's own act: recorded even if already suppressed, so
            // that no later correction can undo it unawares.
            Failure::Complaint => {
                self.log_row(key, email, Outcome::Complaint, "", issue_key);
                self.suppress(email, "complaint".into(), issue, true)
            }
            Failure::Soft(code) => {
                // Without an issue, the day it bounced stands in for one.
                let day = date.unwrap_or(self.now).format("day:%Y-%m-%d").to_string();
                self.log_row(
                    key,
                    email,
                    Outcome::Soft,
                    code,
                    issue.clone().unwrap_or(day),
                );
                let since = lifted.unwrap_or(DateTime::UNIX_EPOCH);
                let issues = self.log.soft_issues_since(email, since).len();
                let limit = self.settings.soft_limit;
                if issues >= limit as usize {
                    self.suppress(email, format!("soft-bounces {issues}"), issue, false)
                } else {
                    Action::Counted {
                        email: email.to_string(),
                        status: code.clone(),
                        issues,
                        limit,
                    }
                }
            }
        }
    }

    fn suppress(
        &mut self,
        email: &str,
        reason: String,
        issue: Option<String>,
        always: bool,
    ) -> Action {
        if !self.suppressed.insert(ReaderKey::of(email)) && !always {
            return Action::AlreadySuppressed {
                email: email.to_string(),
            };
        }
        self.events.push(Event {
            email: email.to_string(),
            reason: reason.clone(),
            at: self.now,
            issue: issue.clone(),
        });
        Action::Suppressed {
            email: email.to_string(),
            reason,
            issue,
        }
    }

    fn log_row(&mut self, key: &str, email: &str, outcome: Outcome, status: &str, issue: String) {
        self.log.add(Row {
            message: key.to_string(),
            email: email.to_string(),
            outcome,
            status: status.to_string(),
            issue,
            at: self.now,
        });
    }

    /// Writes the suppressions, then the log, each durably: a run stopped
    /// between the two reads the same messages again next time, and finds
    /// their readers already suppressed.
    ///
    /// # Errors
    /// Either cannot be written.
    pub(crate) fn commit(&self, suppressed: &Path) -> Result<(), crate::fs::FileError> {
        if !self.events.is_empty() {
            suppression::append(suppressed, &self.events)?;
        }
        self.log.write()
    }
}

/// The one issue a report's Message-IDs name, if they name exactly one.
fn only_issue(report: &Report) -> Option<String> {
    let mut issues = report.evidence.message_ids.iter().map(|id| &id.issue);
    let first = issues.next()?;
    issues
        .all(|i| i == first)
        .then(|| crate::issue::IssueName::new(first).ok())
        .flatten()
        .map(|i| i.as_str().to_string())
}

/// Untrusted text from a message, fit for a terminal: see
/// [`crate::log::printable`]; at most 80 characters.
pub(crate) fn printable(text: &str) -> String {
    let short: String = text.chars().take(80).collect();
    crate::log::printable(&short)
}

impl From<StartError> for crate::error::Error {
    fn from(error: StartError) -> crate::error::Error {
        match error {
            StartError::List(list) => list.into(),
            StartError::Log(file) => file.into(),
        }
    }
}
