//! Returned mail read back into the suppression list. [`mailbox`] finds the
//! messages, [`classify`] says what each one means, and this module decides
//! which reader it is about and what to do: suppress at once for a hard
//! bounce or a complaint, count a soft bounce and suppress after
//! `[bounces] soft_limit` distinct issues, or leave it be. [`seen`] keeps
//! what was read, so that reading a mailbox again changes nothing.
//!
//! A reader is found from catchup's own marks in the message (the
//! Message-ID made from the issue and the reader, a VERP return path or an
//! unsubscribe link carrying their token): these cannot be forged without
//! the link secret, so a forged report suppresses no one. A report that
//! names a listed address without such a mark is trusted only if the
//! operator opts in (`[bounces] trust_unmarked`).

pub(crate) mod block;
pub(crate) mod classify;
pub(crate) mod cost;
pub(crate) mod mailbox;
pub(crate) mod mailto;
pub(crate) mod notification;
pub(crate) mod reason;
pub(crate) mod seen;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::Newsletter;
use crate::list::index::{By, Readers};
use crate::list::reader::ReaderKey;
use crate::list::subscribers::ListError;
use crate::list::suppression::{self, Event};
use crate::list::token::{Keys, Token};
use block::{Block, Refusal};
use classify::{Failure, Finding, Ours, Report, Verdict};
use reason::{Meaning, Reason};
use seen::{Outcome, Row, Seen};

/// Why a reading of returned mail could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The suppression list.
    #[error(transparent)]
    List(#[from] ListError),
    /// The log of what was read (`state/bounces.csv`).
    #[error(transparent)]
    Seen(#[from] crate::fs::FileError),
}

/// What decides how returned mail is read.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub ours: Ours,
    pub soft_limit: u32,
    /// Act only on reports that carry catchup's mark for the reader.
    pub require_mark: bool,
    /// The mailto unsubscribe address, whose requests arrive in the same
    /// mailbox.
    pub mailto: Option<mailto::Mailto>,
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
            // Never the return path: the settings refuse that.
            mailto: newsletter
                .unsubscribe
                .mailto
                .as_ref()
                .map(|m| mailto::Mailto {
                    user: m.user().to_ascii_lowercase(),
                    domain: m.domain().to_ascii_lowercase(),
                    authserv_id: newsletter.unsubscribe.authserv_id.clone(),
                }),
        }
    }
}

/// The subscriber list, and how to find a reader from catchup's marks.
#[derive(Debug)]
pub(crate) struct Lookup {
    keys: Keys,
    by_token: Readers,
    by_id: Readers,
    /// Every reader, as the list spells their address.
    listed: HashMap<ReaderKey, String>,
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
        let mut listed = HashMap::new();
        let [by_token, by_id] =
            Readers::build_many(subscribers, &keys, [By::Token, By::MessageId], |reader| {
                listed.insert(reader.key(), reader.email.to_string());
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
    /// Their own request, by mail, recorded.
    Unsubscribed {
        email: String,
        issue: Option<String>,
    },
    /// They had already unsubscribed: nothing recorded.
    AlreadyUnsubscribed {
        email: String,
    },
    /// A soft bounce counted: the reader has now bounced on `issues`
    /// distinct issues.
    Counted {
        email: String,
        status: String,
        reason: Reason,
        issues: usize,
        limit: u32,
    },
    /// A refusal of the sender, not the reader: neither counted nor
    /// suppressed.
    Refused {
        email: String,
        status: String,
        reason: Reason,
    },
    /// Part of a provider's block: neither counted nor suppressed.
    Blocked {
        email: String,
        status: String,
        reason: Reason,
        provider: String,
    },
    /// Read, and nothing to do; why.
    Ignored(String),
    /// Not understood, left alone (read again next time); why.
    NotUnderstood(String),
    /// Read on an earlier run.
    ReadBefore,
}

impl Action {
    /// A line for an action worth a line (all but one read before).
    pub(crate) fn describe(&self) -> Option<String> {
        Some(match self {
            Action::Suppressed {
                email,
                reason,
                issue,
            } => match issue {
                Some(issue) => format!("suppressed {email} ({reason}, issue {issue})"),
                None => format!("suppressed {email} ({reason})"),
            },
            Action::AlreadySuppressed { email } => format!("{email} is already suppressed"),
            Action::Unsubscribed { email, issue } => match issue {
                Some(issue) => {
                    format!("unsubscribed {email} (their request by mail, issue {issue})")
                }
                None => format!("unsubscribed {email} (their request by mail)"),
            },
            Action::AlreadyUnsubscribed { email } => format!("{email} had already unsubscribed"),
            Action::Counted {
                email,
                status,
                reason,
                issues,
                limit,
            } => format!(
                "soft bounce ({reason} {status}) for {email}: {issues} of {limit} issues before suppression"
            ),
            Action::Refused {
                email,
                status,
                reason,
            } => format!(
                "refused ({reason} {status}) for {email}: a refusal of the sender, not the reader; neither counted nor suppressed"
            ),
            Action::Blocked {
                email,
                status,
                reason,
                provider,
            } => format!(
                "refused ({reason} {status}) for {email}: part of {provider}'s block of this sender; neither counted nor suppressed"
            ),
            Action::Ignored(why) => format!("nothing to do: {why}"),
            Action::NotUnderstood(why) => format!("not understood, left alone: {why}"),
            Action::ReadBefore => return None,
        })
    }
}

/// One reading of returned mail: the suppression list and the log as they
/// stand, and what this reading adds to them.
#[derive(Debug)]
pub(crate) struct Run {
    settings: Settings,
    lookup: Lookup,
    seen: Seen,
    suppressed: HashSet<ReaderKey>,
    /// Who has unsubscribed since their suppression was last lifted.
    unsubscribed: HashSet<ReaderKey>,
    /// When each address's suppression was last lifted.
    lifted: HashMap<ReaderKey, DateTime<Utc>>,
    events: Vec<Event>,
    /// Refusals that may be part of a provider's block, decided at
    /// [`Run::finish`] when the whole run has been read.
    held: Vec<Held>,
    now: DateTime<Utc>,
    /// Rows of the suppression list and the log that could not be read.
    pub warnings: Vec<String>,
}

/// A refusal held until the run is read: whether it is part of a block
/// depends on the rest.
#[derive(Debug)]
struct Held {
    origin: String,
    key: String,
    email: String,
    failure: Failure,
    issue: Option<String>,
    date: Option<DateTime<Utc>>,
    provider: String,
}

/// What a run decided at its end: the actions held until then, each with
/// the message it came from, and the blocks found.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    pub actions: Vec<(String, Action)>,
    pub blocks: Vec<Block>,
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
        let mut unsubscribed = HashSet::new();
        for event in &events {
            let key = ReaderKey::of(&event.email);
            if event.lifts() {
                lifted.insert(key, event.at);
                unsubscribed.remove(&key);
            } else if event.is_unsubscribe() {
                unsubscribed.insert(key);
            }
        }
        let suppressed = suppression::current(&events)
            .into_iter()
            .map(|e| ReaderKey::of(&e.email))
            .collect();
        let seen = Seen::load(log)?;
        warnings.extend(seen.warnings.iter().cloned());
        Ok(Run {
            settings,
            lookup,
            seen,
            suppressed,
            unsubscribed,
            lifted,
            events: Vec::new(),
            held: Vec::new(),
            now,
            warnings,
        })
    }

    /// Reads one message (from `origin`) and decides what it means for the
    /// list; what could be part of a provider's block is decided by
    /// [`Run::finish`].
    ///
    /// # Errors
    /// The subscriber list cannot be read back.
    pub(crate) fn read(&mut self, origin: &str, raw: &[u8]) -> Result<Vec<Action>, ListError> {
        // Parsed once, for its key and for what it says.
        let message = match classify::parse(raw) {
            Ok(message) => message,
            Err(Verdict::NotUnderstood(why)) => return Ok(vec![Action::NotUnderstood(why)]),
            Err(_) => return Ok(vec![Action::NotUnderstood("it cannot be read".into())]),
        };
        let key = seen::message_key(raw, &message);
        if self.seen.has_seen(&key) {
            return Ok(vec![Action::ReadBefore]);
        }
        if let Some(request) = self
            .settings
            .mailto
            .as_ref()
            .and_then(|m| mailto::request(&message, m))
        {
            return self
                .unsubscribe_request(&key, &message, request)
                .map(|a| vec![a]);
        }
        match classify::classify(&message, &self.settings.ours) {
            Verdict::NotUnderstood(why) => Ok(vec![Action::NotUnderstood(why)]),
            Verdict::NotABounce(why) => {
                self.log_row(&key, "", Outcome::Ignored, None, String::new(), "");
                Ok(vec![Action::Ignored(format!("not a bounce: {why}"))])
            }
            Verdict::Report(report) => self.report(origin, &key, &report),
        }
    }

    fn report(
        &mut self,
        origin: &str,
        key: &str,
        report: &Report,
    ) -> Result<Vec<Action>, ListError> {
        let marked = self.lookup.marked(&report.evidence)?;
        let mut actions = Vec::new();
        let mut held = false;
        for finding in &report.findings {
            let reader = match self.reader_for(finding, &marked, report.findings.len()) {
                Ok(reader) => reader,
                Err(why) => {
                    actions.push(Action::Ignored(why));
                    continue;
                }
            };
            let issue = reader
                .issue
                .clone()
                .or_else(|| only_issue(&report.evidence));
            let provider = block::provider(finding.remote.as_deref(), &reader.email);
            if block::can_be_a_block(finding.failure.reason)
                && finding.failure.meaning() != Meaning::Hard
            {
                self.held.push(Held {
                    origin: origin.to_string(),
                    key: key.to_string(),
                    email: reader.email,
                    failure: finding.failure.clone(),
                    issue,
                    date: report.date,
                    provider,
                });
                held = true;
                continue;
            }
            actions.push(self.act(
                key,
                &reader.email,
                &finding.failure,
                issue,
                report.date,
                &provider,
            ));
        }
        let acted = held
            || actions
                .iter()
                .any(|a| !matches!(a, Action::NotUnderstood(_)));
        if acted && !self.seen.has_seen(key) {
            self.log_row(key, "", Outcome::Ignored, None, String::new(), "");
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
        // As the list spells it: the report may write it otherwise.
        let listed = self.lookup.listed.get(&ReaderKey::of(&address));
        match (listed, self.settings.require_mark) {
            (Some(email), false) => Ok(Marked {
                email: email.clone(),
                issue: None,
            }),
            (Some(_), true) => Err(format!(
                "it names {address}, but carries no mark of catchup's for them, so it could be forged"
            )),
            (None, _) => Err(format!("it names {address}, who is not on the list")),
        }
    }

    /// Reads a provider's notification, already read into a report, as
    /// one message: once, however often it is delivered.
    ///
    /// # Errors
    /// The subscriber list cannot be read back.
    pub(crate) fn read_notification(
        &mut self,
        origin: &str,
        key: &str,
        report: &Report,
    ) -> Result<Vec<Action>, ListError> {
        if self.seen.has_seen(key) {
            return Ok(vec![Action::ReadBefore]);
        }
        self.report(origin, key, report)
    }

    /// A reader's request to leave, by mail: honoured under the rules of
    /// the one-click link (durable with the run's commit, not undone by
    /// an old request after the reader came back).
    fn unsubscribe_request(
        &mut self,
        key: &str,
        message: &mail_parser::Message<'_>,
        request: mailto::Request,
    ) -> Result<Action, ListError> {
        let email = match request {
            mailto::Request::Token(token) => {
                let found = Token::parse(&token)
                    .map(|t| self.lookup.by_token.find(&t, &self.lookup.keys))
                    .transpose()?
                    .flatten();
                match found {
                    Some(email) => email,
                    None => {
                        self.log_row(key, "", Outcome::Ignored, None, String::new(), "");
                        return Ok(Action::Ignored(
                            "an unsubscribe request whose token names no reader".into(),
                        ));
                    }
                }
            }
            mailto::Request::From {
                from,
                authenticated,
            } => {
                let listed = self.lookup.listed.get(&ReaderKey::of(&from));
                let vouched = match (listed, authenticated) {
                    (None, _) => Err(format!(
                        "an unsubscribe request from {}, who is not on the list",
                        printable(&from)
                    )),
                    (Some(_), Err(why)) => Err(format!(
                        "an unsubscribe request from {} without their token, not honoured: {why}",
                        printable(&from)
                    )),
                    // As the list spells it.
                    (Some(email), Ok(())) => Ok(email.clone()),
                };
                match vouched {
                    Ok(email) => email,
                    Err(why) => {
                        self.log_row(key, "", Outcome::Ignored, None, String::new(), "");
                        return Ok(Action::Ignored(why));
                    }
                }
            }
        };
        let reader = ReaderKey::of(&email);
        let date = message
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0));
        if let (Some(lifted), Some(date)) = (self.lifted.get(&reader).copied(), date)
            && date < lifted
        {
            self.log_row(key, &email, Outcome::Ignored, None, String::new(), "");
            return Ok(Action::Ignored(format!(
                "an unsubscribe request dated before {email} subscribed again ({})",
                lifted.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        let evidence = classify::evidence(message, &self.settings.ours);
        let issue = only_issue(&evidence);
        self.log_row(
            key,
            &email,
            Outcome::Unsubscribe,
            None,
            issue.clone().unwrap_or_default(),
            "",
        );
        if !self.unsubscribed.insert(reader) {
            return Ok(Action::AlreadyUnsubscribed { email });
        }
        self.suppressed.insert(reader);
        self.events.push(Event {
            email: email.clone(),
            reason: "unsubscribe-mailto".into(),
            at: self.now,
            issue: issue.clone(),
        });
        Ok(Action::Unsubscribed { email, issue })
    }

    /// Decides the refusals held for the end of the run: those of a
    /// provider that refused the same way for [`block::READERS`] readers in
    /// the window are its block, and neither counted nor suppressed; the
    /// rest are acted on as any other.
    pub(crate) fn finish(&mut self) -> Finished {
        let held = std::mem::take(&mut self.held);
        let this_run: Vec<Refusal> = held
            .iter()
            .map(|h| Refusal {
                provider: h.provider.clone(),
                reason: h.failure.reason,
                email: h.email.clone(),
                at: self.now,
            })
            .collect();
        let mut readers: HashMap<(String, Reason), usize> = HashMap::new();
        for h in &held {
            let group = (h.provider.clone(), h.failure.reason);
            let refusals = self.seen.refusals();
            readers
                .entry(group)
                .or_insert_with_key(|(provider, reason)| {
                    block::readers_refused(
                        provider,
                        *reason,
                        refusals.iter().chain(&this_run),
                        self.now,
                    )
                });
        }
        let mut finished = Finished::default();
        for h in held {
            let group = (h.provider.clone(), h.failure.reason);
            let action = if readers[&group] >= block::READERS {
                if !finished
                    .blocks
                    .iter()
                    .any(|b| b.provider == h.provider && b.reason == h.failure.reason)
                {
                    finished.blocks.push(Block {
                        provider: h.provider.clone(),
                        reason: h.failure.reason,
                        readers: readers[&group],
                        example: h.failure.text.clone(),
                    });
                    self.log_block(&h.key, &h.provider, h.failure.reason, h.issue.clone());
                }
                self.log_row(
                    &h.key,
                    &h.email,
                    Outcome::Refused,
                    Some(&h.failure),
                    h.issue.clone().unwrap_or_default(),
                    &h.provider,
                );
                Action::Blocked {
                    email: h.email.clone(),
                    status: h.failure.status_or_dash().to_string(),
                    reason: h.failure.reason,
                    provider: h.provider.clone(),
                }
            } else {
                self.act(
                    &h.key,
                    &h.email,
                    &h.failure,
                    h.issue.clone(),
                    h.date,
                    &h.provider,
                )
            };
            finished.actions.push((h.origin, action));
        }
        finished
    }

    fn log_block(&mut self, key: &str, provider: &str, reason: Reason, issue: Option<String>) {
        self.seen.add(Row {
            message: key.to_string(),
            email: String::new(),
            outcome: Outcome::Block,
            status: String::new(),
            issue: issue.unwrap_or_default(),
            at: self.now,
            reason: reason.as_str().to_string(),
            provider: provider.to_string(),
        });
    }

    fn act(
        &mut self,
        key: &str,
        email: &str,
        failure: &Failure,
        issue: Option<String>,
        date: Option<DateTime<Utc>>,
        provider: &str,
    ) -> Action {
        // Mail dated before the address was last taken off the list cannot
        // put it back: reading an old mailbox again, or losing the log,
        // cannot undo a correction.
        let lifted = self.lifted.get(&ReaderKey::of(email)).copied();
        if let (Some(lifted), Some(date)) = (lifted, date)
            && date < lifted
        {
            self.log_row(key, email, Outcome::Ignored, None, String::new(), "");
            return Action::Ignored(format!(
                "it is dated before {email} was taken off the suppression list ({})",
                lifted.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        let issue_key = issue.clone().unwrap_or_default();
        let status = failure.status_or_dash();
        let reason = failure.reason;
        match failure.meaning() {
            Meaning::Hard => {
                self.log_row(
                    key,
                    email,
                    Outcome::Hard,
                    Some(failure),
                    issue_key,
                    provider,
                );
                self.suppress(
                    email,
                    format!("hard-bounce {status} {reason}"),
                    issue,
                    false,
                )
            }
            // The reader's own act: recorded even if already suppressed, so
            // that no later correction can undo it unawares.
            Meaning::Complaint => {
                self.log_row(key, email, Outcome::Complaint, Some(failure), issue_key, "");
                self.suppress(email, "complaint".into(), issue, true)
            }
            Meaning::NotTheReader => {
                self.log_row(
                    key,
                    email,
                    Outcome::Refused,
                    Some(failure),
                    issue_key,
                    provider,
                );
                Action::Refused {
                    email: email.to_string(),
                    status: status.to_string(),
                    reason,
                }
            }
            Meaning::Soft => {
                // Without an issue, the day it bounced stands in for one.
                let day = date.unwrap_or(self.now).format("day:%Y-%m-%d").to_string();
                let counted_as = issue.clone().unwrap_or(day);
                self.log_row(
                    key,
                    email,
                    Outcome::Soft,
                    Some(failure),
                    counted_as,
                    provider,
                );
                let since = lifted.unwrap_or(DateTime::UNIX_EPOCH);
                let issues = self.seen.soft_issues_since(email, since).len();
                let limit = self.settings.soft_limit;
                if issues >= limit as usize {
                    self.suppress(
                        email,
                        format!("soft-bounces {issues} {reason}"),
                        issue,
                        false,
                    )
                } else {
                    Action::Counted {
                        email: email.to_string(),
                        status: status.to_string(),
                        reason,
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

    fn log_row(
        &mut self,
        key: &str,
        email: &str,
        outcome: Outcome,
        failure: Option<&Failure>,
        issue: String,
        provider: &str,
    ) {
        self.seen.add(Row {
            message: key.to_string(),
            email: email.to_string(),
            outcome,
            status: failure.and_then(|f| f.status.clone()).unwrap_or_default(),
            issue,
            at: self.now,
            reason: failure.map_or("", |f| f.reason.as_str()).to_string(),
            provider: provider.to_string(),
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
        self.seen.write()
    }
}

/// Why a provider's notification could not be recorded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotificationError {
    /// `catchup bounces` (or another notification) holds the lock: the
    /// provider should send it again.
    #[error(transparent)]
    Busy(#[from] crate::fs::lock::LockError),
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Write(#[from] crate::fs::FileError),
}

/// Records one provider's notification (SES, Postmark) as `catchup
/// bounces` records a returned message, under the same lock, into the
/// same log and suppression list, durably before it returns. The carrier
/// has proved where it came from (a signature, credentials), so it is
/// trusted for the recipient it names; `headers` (its copy of the mail's
/// headers) gives the issue.
///
/// # Errors
/// The lock is held, or the lists cannot be read or written.
pub(crate) fn record_notification(
    newsletter: &Newsletter,
    keys: Keys,
    provider: &str,
    id: &str,
    mut report: Report,
    headers: &str,
) -> Result<Vec<Action>, NotificationError> {
    let paths = &newsletter.paths;
    let _lock =
        crate::fs::lock::take_lock(&paths.state.join("bounces.lock"), "returned mail (bounces)")?;
    let mut settings = Settings::new(newsletter);
    settings.require_mark = false;
    report.evidence = classify::evidence_in(headers.as_bytes(), &settings.ours);
    let lookup = Lookup::build(&paths.subscribers, keys)?;
    let mut run = Run::start(
        settings,
        lookup,
        &paths.suppressed,
        &paths.state.join(seen::FILE),
        crate::clock::wall(),
    )?;
    let origin = format!("{provider} {id}");
    let key = seen::notification_key(provider, id);
    let mut actions = run.read_notification(&origin, &key, &report)?;
    actions.extend(run.finish().actions.into_iter().map(|(_, action)| action));
    run.commit(&paths.suppressed)?;
    Ok(actions)
}

/// What catchup makes of one message, without the list and without
/// changing anything: for `catchup bounces --explain`.
#[derive(Debug)]
pub(crate) enum Explanation {
    /// A bounce or complaint: each recipient's failure, and whether the
    /// message carries catchup's mark (so a real run would act on it).
    Report {
        findings: Vec<Finding>,
        marked: bool,
    },
    /// A request to leave, sent to the mailto unsubscribe address.
    Unsubscribe(mailto::Request),
    NotABounce(String),
    NotUnderstood(String),
}

/// Reads one message as a run would, and says what it means.
pub(crate) fn explain(raw: &[u8], settings: &Settings) -> Explanation {
    let ours = &settings.ours;
    let message = match classify::parse(raw) {
        Ok(message) => message,
        Err(Verdict::NotUnderstood(why) | Verdict::NotABounce(why)) => {
            return Explanation::NotUnderstood(why);
        }
        Err(Verdict::Report(_)) => return Explanation::NotUnderstood("it cannot be read".into()),
    };
    if let Some(request) = settings
        .mailto
        .as_ref()
        .and_then(|m| mailto::request(&message, m))
    {
        return Explanation::Unsubscribe(request);
    }
    match classify::classify(&message, ours) {
        Verdict::Report(report) => Explanation::Report {
            marked: !report.evidence.message_ids.is_empty() || !report.evidence.tokens.is_empty(),
            findings: report.findings,
        },
        Verdict::NotABounce(why) => Explanation::NotABounce(why),
        Verdict::NotUnderstood(why) => Explanation::NotUnderstood(why),
    }
}

/// The one issue a message's Message-IDs name, if they name exactly one.
fn only_issue(evidence: &classify::Evidence) -> Option<String> {
    let mut issues = evidence.message_ids.iter().map(|id| &id.issue);
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
            StartError::Seen(file) => file.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The decisions, one message at a time: which reader a report is
    //! about, and what it does to them.

    use super::*;
    use crate::list::token::Key;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const NOW: &str = "2026-12-02T08:00:00Z";

    struct Fixture {
        dir: tempfile::TempDir,
        require_mark: bool,
    }

    impl Fixture {
        fn new(require_mark: bool) -> Fixture {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(
                dir.path().join("subscribers.csv"),
                "email\nann@nhs.example\nbob@nhs.example\n",
            )
            .expect("list");
            Fixture { dir, require_mark }
        }

        fn path(&self, name: &str) -> std::path::PathBuf {
            self.dir.path().join(name)
        }

        /// A run as `bounces` starts one: the list indexed, the
        /// suppression list and the log read.
        fn run(&self) -> Run {
            let keys = Keys {
                current: Key::new(SECRET).expect("key"),
                previous: None,
            };
            let settings = Settings {
                ours: Ours {
                    message_id_domain: "hsj.example".into(),
                    verp: None,
                    unsubscribe_prefix: "https://news.hsj.example/u/".into(),
                },
                soft_limit: 2,
                require_mark: self.require_mark,
                mailto: None,
            };
            let lookup = Lookup::build(&self.path("subscribers.csv"), keys).expect("lookup");
            Run::start(
                settings,
                lookup,
                &self.path("suppressed.csv"),
                &self.path("bounces.csv"),
                NOW.parse().expect("now"),
            )
            .expect("run")
        }

        /// Reads messages in one run, finishes and commits it: each
        /// message's actions, those decided at the end included.
        fn read(&self, messages: &[String]) -> Vec<Vec<Action>> {
            let mut run = self.run();
            let mut actions: Vec<Vec<Action>> = messages
                .iter()
                .enumerate()
                .map(|(i, m)| run.read(&i.to_string(), m.as_bytes()).expect("read"))
                .collect();
            for (origin, action) in run.finish().actions {
                actions[origin.parse::<usize>().expect("origin")].push(action);
            }
            run.commit(&self.path("suppressed.csv")).expect("commit");
            actions
        }
    }

    /// A delivery report for `rcpt` with `status`, about the message sent to
    /// `marked` in `issue` (its Message-ID), or about no message of ours.
    fn dsn(rcpt: &str, status: &str, marked: Option<(&str, &str)>, date: &str) -> String {
        let original = match marked {
            Some((email, issue)) => format!(
                "Message-ID: <{issue}.{}@hsj.example>\n",
                Key::new(SECRET).expect("key").message_id(email)
            ),
            None => "Message-ID: <elsewhere@mail.example>\n".into(),
        };
        // A 4.x.x status with `failed` is a soft bounce: the server gave up.
        let action = "failed";
        format!(
            "From: MAILER-DAEMON@mx.example\nTo: catchup@hsj.example\nDate: {date}\nSubject: Delivery Status Notification\nMessage-ID: <{rcpt}.{status}.{date}@mx.example>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: text/plain\n\nIt did not arrive.\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; {rcpt}\nAction: {action}\nStatus: {status}\n\n--b\nContent-Type: text/rfc822-headers\n\n{original}\n--b--\n"
        )
    }

    const FRI: &str = "Fri, 27 Jul 2018 09:00:00 +0000";

    /// A hard bounce for `rcpt` of the message sent to ann in 2018-07-27.
    fn anns_bounce(rcpt: &str) -> String {
        dsn(rcpt, "5.1.1", Some(("ann@nhs.example", "2018-07-27")), FRI)
    }

    /// What a hard bounce of ann's 2018-07-27 message does.
    fn ann_suppressed() -> Action {
        suppressed(
            "ann@nhs.example",
            "hard-bounce 5.1.1 user-unknown",
            Some("2018-07-27"),
        )
    }

    fn suppressed(email: &str, reason: &str, issue: Option<&str>) -> Action {
        Action::Suppressed {
            email: email.into(),
            reason: reason.into(),
            issue: issue.map(str::to_string),
        }
    }

    #[test]
    fn a_marked_hard_bounce_suppresses_its_reader_with_the_issue() {
        let f = Fixture::new(true);
        let got = f.read(&[anns_bounce("ann@nhs.example")]);
        assert_eq!(got, [vec![ann_suppressed()]]);
    }

    #[test]
    fn an_unmarked_report_suppresses_no_one_unless_the_operator_trusts_it() {
        let report = dsn("ann@nhs.example", "5.1.1", None, FRI);
        assert_eq!(
            Fixture::new(true).read(std::slice::from_ref(&report)),
            [vec![Action::Ignored(
                "it names ann@nhs.example, but carries no mark of catchup's for them, so it could be forged".into()
            )]]
        );
        assert_eq!(
            Fixture::new(false).read(&[report]),
            [vec![suppressed(
                "ann@nhs.example",
                "hard-bounce 5.1.1 user-unknown",
                None
            )]]
        );
    }

    #[test]
    fn a_report_about_someone_not_on_the_list_is_left_alone() {
        let got = Fixture::new(false).read(&[dsn("eve@nhs.example", "5.1.1", None, FRI)]);
        assert_eq!(
            got,
            [vec![Action::Ignored(
                "it names eve@nhs.example, who is not on the list".into()
            )]]
        );
    }

    /// The mark names the reader even when the report names another
    /// address (a forward): the mark cannot be forged, the address can.
    #[test]
    fn the_mark_says_which_reader_when_the_report_names_another_address() {
        let got = Fixture::new(true).read(&[anns_bounce("ann.lee@forwarded.example")]);
        assert_eq!(got, [vec![ann_suppressed()]]);
    }

    /// Soft bounces count once per issue: two from one issue are one, the
    /// second issue reaches `soft_limit` (2 here) and suppresses.
    #[test]
    fn soft_bounces_suppress_after_the_limit_of_distinct_issues() {
        let f = Fixture::new(true);
        let soft = |issue, date| {
            dsn(
                "bob@nhs.example",
                "4.2.2",
                Some(("bob@nhs.example", issue)),
                date,
            )
        };
        let got = f.read(&[
            soft("2018-07-27", FRI),
            soft("2018-07-27", "Sat, 28 Jul 2018 09:00:00 +0000"),
            soft("2018-08-03", "Fri, 3 Aug 2018 09:00:00 +0000"),
        ]);
        let counted = Action::Counted {
            email: "bob@nhs.example".into(),
            status: "4.2.2".into(),
            reason: Reason::MailboxFull,
            issues: 1,
            limit: 2,
        };
        assert_eq!(
            got,
            [
                vec![counted.clone()],
                vec![counted],
                vec![suppressed(
                    "bob@nhs.example",
                    "soft-bounces 2 mailbox-full",
                    Some("2018-08-03")
                )],
            ]
        );
    }

    /// A server still trying says so with `Action: delayed`: nothing to
    /// count yet.
    #[test]
    fn a_delay_warning_is_not_a_bounce() {
        let delayed = dsn(
            "bob@nhs.example",
            "4.2.2",
            Some(("bob@nhs.example", "2018-07-27")),
            FRI,
        )
        .replace("Action: failed", "Action: delayed");
        assert_eq!(
            Fixture::new(true).read(&[delayed]),
            [vec![Action::Ignored(
                "not a bounce: a delay warning: the server is still trying, and will report if it gives up".into()
            )]]
        );
    }

    /// A mailbox read again changes nothing.
    #[test]
    fn a_message_read_on_an_earlier_run_is_not_read_again() {
        let f = Fixture::new(true);
        let bounce = anns_bounce("ann@nhs.example");
        f.read(std::slice::from_ref(&bounce));
        assert_eq!(f.read(&[bounce]), [vec![Action::ReadBefore]]);
    }

    /// A correction stands: mail dated before an address was taken off the
    /// suppression list cannot put it back.
    #[test]
    fn mail_dated_before_a_lift_cannot_suppress_again() {
        let f = Fixture::new(true);
        std::fs::write(
            f.path("suppressed.csv"),
            "email,reason,at,issue\nann@nhs.example,hard-bounce 5.1.1,2018-07-28T00:00:00Z,\nann@nhs.example,removed,2018-08-01T00:00:00Z,\n",
        )
        .expect("suppressed");
        let got = f.read(&[anns_bounce("ann@nhs.example")]);
        assert_eq!(
            got,
            [vec![Action::Ignored(
                "it is dated before ann@nhs.example was taken off the suppression list (2018-08-01 00:00 UTC)".into()
            )]]
        );
    }

    #[test]
    fn a_hard_bounce_for_someone_already_suppressed_adds_nothing() {
        let f = Fixture::new(true);
        let bounce = |n: &str| {
            anns_bounce("ann@nhs.example").replace("@mx.example>", &format!(".{n}@mx.example>"))
        };
        let got = f.read(&[bounce("first"), bounce("second")]);
        assert_eq!(
            got,
            [
                vec![ann_suppressed()],
                vec![Action::AlreadySuppressed {
                    email: "ann@nhs.example".into()
                }],
            ]
        );
    }
}
