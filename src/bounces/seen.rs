//! `state/bounces.csv`: every returned message catchup has read and acted
//! on, one row per reader it named, so that reading a mailbox again changes
//! nothing; the soft bounces that count towards suppression; and the
//! refusals and blocks of each provider (see [`super::block`]).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest as _, Sha256};

use super::block::{self, Refusal};
use super::reason::Reason;
use crate::fs::{self, FileError};
use crate::list::reader::ReaderKey;

/// The log's name in the state folder.
pub(crate) const FILE: &str = "bounces.csv";

/// The columns; logs written before `reason` and `provider` were kept have
/// the first six, and their rows read with both empty.
pub(crate) const HEADER: &str = "message,email,outcome,status,issue,at,reason,provider\n";

/// The log is rows of a few dozen bytes; this is millions of them.
const LOG_LIMIT: u64 = 1024 * 1024 * 1024;

/// What catchup did with one reader a message named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Hard,
    Soft,
    Complaint,
    /// The reader's own request to leave, by mail.
    Unsubscribe,
    /// A refusal of the sender, not the reader (a block, spam, policy):
    /// neither counted nor suppressed.
    Refused,
    /// A provider's block, found in this row's run: `email` is empty, and
    /// the provider's soft bounces for `reason` around `at` do not count.
    Block,
    /// Read, and nothing to do: an auto-reply, a report about no reader.
    Ignored,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Hard => "hard",
            Outcome::Soft => "soft",
            Outcome::Complaint => "complaint",
            Outcome::Unsubscribe => "unsubscribe",
            Outcome::Refused => "refused",
            Outcome::Block => "block",
            Outcome::Ignored => "ignored",
        }
    }

    fn parse(name: &str) -> Option<Outcome> {
        [
            Outcome::Hard,
            Outcome::Soft,
            Outcome::Complaint,
            Outcome::Unsubscribe,
            Outcome::Refused,
            Outcome::Block,
            Outcome::Ignored,
        ]
        .into_iter()
        .find(|o| o.name() == name)
    }
}

/// One row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// [`message_key`] of the message.
    pub message: String,
    /// Empty for an ignored message.
    pub email: String,
    pub outcome: Outcome,
    /// The status code (`5.1.1`), if there was one.
    pub status: String,
    /// The issue, or `day:YYYY-MM-DD` when the message did not say.
    pub issue: String,
    pub at: DateTime<Utc>,
    /// Why it failed (`user-unknown`), empty for an ignored message.
    pub reason: String,
    /// The provider that refused (`google.com`), for refusals, soft
    /// bounces and blocks.
    pub provider: String,
}

impl Row {
    fn csv(&self) -> Vec<u8> {
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        let at = self.at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let _ = writer.write_record([
            self.message.as_str(),
            self.email.as_str(),
            self.outcome.name(),
            self.status.as_str(),
            self.issue.as_str(),
            at.as_str(),
            self.reason.as_str(),
            self.provider.as_str(),
        ]);
        writer.into_inner().unwrap_or_default()
    }
}

/// A message's identity: the first 128 bits of SHA-256 over its
/// Message-ID (or, without one, its Date, From and Subject) and its body
/// (carriage returns dropped, trailing blank lines trimmed). The other
/// headers are left out: a mailbox adds its own (`Delivered-To`,
/// `Status: RO`, `Return-Path`), and an mbox ends each message with a
/// blank line, so the same message read from a Maildir and from an mbox is
/// recognised.
pub(crate) fn message_key(bytes: &[u8], message: &mail_parser::Message<'_>) -> String {
    let split = memchr::memmem::find(bytes, b"\n\n")
        .map(|i| i + 2)
        .or_else(|| memchr::memmem::find(bytes, b"\r\n\r\n").map(|i| i + 4))
        .unwrap_or(bytes.len());
    let name = match message.message_id() {
        Some(id) => Some(id.to_string()),
        None => {
            let (date, from, subject) = (
                message.date().map(|d| d.to_timestamp()),
                message
                    .from()
                    .and_then(|f| f.first())
                    .and_then(|a| a.address()),
                message.subject(),
            );
            (date.is_some() || from.is_some() || subject.is_some())
                .then(|| format!("{date:?}\n{from:?}\n{subject:?}"))
        }
    };
    let (name, body) = match name {
        Some(name) => (name, &bytes[split..]),
        // Nothing that names the message: the whole of it does.
        None => (String::new(), bytes),
    };
    let mut body: Vec<u8> = body.iter().copied().filter(|&b| b != b'\r').collect();
    while body.last().is_some_and(u8::is_ascii_whitespace) {
        body.pop();
    }
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update(&body);
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A provider's notification's identity, from its own id (SNS's
/// `MessageId`, Postmark's `ID`): a retry or a replay has the same one.
pub(crate) fn notification_key(provider: &str, id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"notification\n");
    hasher.update(provider.as_bytes());
    hasher.update(b"\n");
    hasher.update(id.as_bytes());
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One soft bounce of a reader.
#[derive(Debug)]
struct Soft {
    issue: String,
    at: DateTime<Utc>,
    provider: String,
    reason: Reason,
}

/// The log as it stands, and the rows added in this run.
#[derive(Debug)]
pub(crate) struct Seen {
    path: PathBuf,
    seen: HashSet<String>,
    /// Per reader, each soft bounce: its issue, when it was logged, and
    /// who refused why.
    soft: HashMap<ReaderKey, Vec<Soft>>,
    /// Refusals and soft bounces that could be part of a block.
    refusals: Vec<Refusal>,
    /// Blocks found: provider, reason, when.
    blocks: Vec<(String, Reason, DateTime<Utc>)>,
    added: Vec<Row>,
    /// Rows that could not be read, as `file:line: why`.
    pub warnings: Vec<String>,
}

impl Seen {
    /// Reads the log; a missing one is empty.
    ///
    /// # Errors
    /// The file exists but cannot be read.
    pub(crate) fn load(path: &Path) -> Result<Seen, FileError> {
        let mut log = Seen {
            path: path.to_path_buf(),
            seen: HashSet::new(),
            soft: HashMap::new(),
            refusals: Vec::new(),
            blocks: Vec::new(),
            added: Vec::new(),
            warnings: Vec::new(),
        };
        let (rows, warnings) = rows(path)?;
        for row in &rows {
            log.remember(row);
        }
        log.warnings = warnings;
        Ok(log)
    }

    /// True if the message was read before.
    pub(crate) fn has_seen(&self, message: &str) -> bool {
        self.seen.contains(message)
    }

    /// The distinct issues `email` soft-bounced on after `since`, but for
    /// bounces that were part of a provider's block.
    pub(crate) fn soft_issues_since(&self, email: &str, since: DateTime<Utc>) -> HashSet<&str> {
        self.soft
            .get(&ReaderKey::of(email))
            .into_iter()
            .flatten()
            .filter(|soft| soft.at > since && !self.in_a_block(soft))
            .map(|soft| soft.issue.as_str())
            .collect()
    }

    fn in_a_block(&self, soft: &Soft) -> bool {
        self.blocks.iter().any(|(provider, reason, at)| {
            *provider == soft.provider
                && *reason == soft.reason
                && (*at - soft.at).abs() < block::window()
        })
    }

    /// The refusals logged that could be part of a block.
    pub(crate) fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }

    /// Adds a row, to be written by [`Seen::write`].
    pub(crate) fn add(&mut self, row: Row) {
        self.remember(&row);
        self.added.push(row);
    }

    fn remember(&mut self, row: &Row) {
        self.seen.insert(row.message.clone());
        let reason = Reason::parse(&row.reason);
        match (row.outcome, reason) {
            (Outcome::Block, Some(reason)) => {
                self.blocks.push((row.provider.clone(), reason, row.at));
            }
            (Outcome::Soft | Outcome::Refused, reason) => {
                let reason = reason.unwrap_or(Reason::Unknown);
                if row.outcome == Outcome::Soft {
                    self.soft
                        .entry(ReaderKey::of(&row.email))
                        .or_default()
                        .push(Soft {
                            issue: row.issue.clone(),
                            at: row.at,
                            provider: row.provider.clone(),
                            reason,
                        });
                }
                if !row.provider.is_empty() && block::can_be_a_block(reason) {
                    self.refusals.push(Refusal {
                        provider: row.provider.clone(),
                        reason,
                        email: row.email.clone(),
                        at: row.at,
                    });
                }
            }
            _ => {}
        }
    }

    /// Appends this run's rows durably.
    ///
    /// # Errors
    /// The log cannot be written; none of this run's rows are.
    pub(crate) fn write(&self) -> Result<(), FileError> {
        if self.added.is_empty() {
            return Ok(());
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_folder(dir)?;
        }
        let rows: Vec<u8> = self.added.iter().flat_map(Row::csv).collect();
        fs::append_rows(&self.path, HEADER.as_bytes(), &rows)
    }
}

/// Every row of the log, and the rows that could not be read, as
/// `file:line: why`; a missing log has none.
///
/// # Errors
/// The file exists but cannot be read.
pub(crate) fn rows(path: &Path) -> Result<(Vec<Row>, Vec<String>), FileError> {
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    let Some(bytes) = fs::read_kept(path, LOG_LIMIT)? else {
        return Ok((rows, warnings));
    };
    // Row by row, so that one damaged row (a stray quote added by hand)
    // spoils only itself.
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) || line.starts_with(b"message,") {
            continue;
        }
        let record = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(line)
            .records()
            .next();
        let row = match record {
            Some(Ok(record)) => parse(&record),
            Some(Err(e)) => Err(e.to_string()),
            None => continue,
        };
        match row {
            Ok(row) => rows.push(row),
            Err(why) => warnings.push(format!("{}:{}: {why}", path.display(), i + 1)),
        }
    }
    Ok((rows, warnings))
}

fn parse(record: &csv::StringRecord) -> Result<Row, String> {
    let field = |i: usize| record.get(i).unwrap_or("").trim();
    if field(0).len() != 32 {
        return Err("the first field is not a message key".into());
    }
    Ok(Row {
        message: field(0).to_string(),
        email: field(1).to_string(),
        outcome: Outcome::parse(field(2))
            .ok_or_else(|| format!("unknown outcome `{}`", field(2)))?,
        status: field(3).to_string(),
        issue: field(4).to_string(),
        at: field(5)
            .parse()
            .map_err(|_| format!("`{}` is not a time", field(5)))?,
        reason: field(6).to_string(),
        provider: field(7).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message's key, parsed as `Run::read` parses it.
    fn key_of(bytes: &[u8]) -> String {
        let message = mail_parser::MessageParser::default()
            .parse(bytes)
            .unwrap_or_default();
        message_key(bytes, &message)
    }

    #[test]
    fn one_message_has_one_key_whichever_mailbox_it_came_from() {
        let maildir = b"Delivered-To: b@x\r\nMessage-ID: <m1@x>\r\nSubject: s\r\n\r\nbody\r\n";
        let mbox = b"Status: RO\nMessage-ID: <m1@x>\nSubject: s\n\nbody\n\n";
        assert_eq!(key_of(maildir), key_of(mbox));
        // See: issue 18, item 17. Without a Message-ID, the headers a
        // mailbox adds made the same complaint two.
        let bare = b"Return-Path: <fbl@x>\nDelivered-To: fbl@hsj.example\nFrom: fbl@x\nDate: Fri, 20 Nov 2026 09:12:43 +0000\nSubject: FW: x\n\nreport\n";
        let boxed = b"Status: RO\nFrom: fbl@x\nDate: Fri, 20 Nov 2026 09:12:43 +0000\nSubject: FW: x\n\nreport\n\n";
        assert_eq!(key_of(bare), key_of(boxed));
        assert_ne!(key_of(b"one"), key_of(b"two"));
        assert_ne!(key_of(maildir), key_of(b"Message-ID: <m2@x>\n\nbody\n"));
    }

    #[test]
    fn a_damaged_row_spoils_only_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bounces.csv");
        let key = key_of(b"one");
        std::fs::write(
            &path,
            format!("{key},ann@x.example,hard,5.1.1,i,2026-11-20T00:00:00Z\n\"note: ann checked by phone\n{key2},bob@x.example,soft,4.2.2,i,2026-11-20T00:00:00Z\n", key2 = key_of(b"two")),
        )
        .expect("write");
        let log = Seen::load(&path).expect("load");
        assert!(
            log.has_seen(&key) && log.has_seen(&key_of(b"two")),
            "the header is optional"
        );
        assert_eq!(log.warnings.len(), 1, "{:?}", log.warnings);
    }

    #[test]
    fn rows_survive_a_round_trip_and_count_soft_bounces_after_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/bounces.csv");
        let mut log = Seen::load(&path).expect("empty");
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        for (n, issue, when) in [
            (1, "2026-11-06", "2026-11-07T00:00:00Z"),
            (2, "2026-11-13", "2026-11-14T00:00:00Z"),
        ] {
            log.add(Row {
                message: key_of(format!("message {n}").as_bytes()),
                email: "Ann@NHS.example".into(),
                outcome: Outcome::Soft,
                status: "4.2.2".into(),
                issue: issue.into(),
                at: at(when),
                reason: "mailbox-full".into(),
                provider: String::new(),
            });
        }
        log.write().expect("write");
        let again = Seen::load(&path).expect("load");
        assert!(again.has_seen(&key_of(b"message 1")));
        assert!(again.has_seen(&key_of(b"message\r 1")), "CR ignored");
        assert!(!again.has_seen(&key_of(b"message 3")));
        assert_eq!(
            again
                .soft_issues_since("ann@nhs.example", at("2026-11-01T00:00:00Z"))
                .len(),
            2
        );
        assert_eq!(
            again
                .soft_issues_since("ann@nhs.example", at("2026-11-10T00:00:00Z"))
                .len(),
            1
        );
        assert!(again.warnings.is_empty());
    }
}
