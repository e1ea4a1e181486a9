//! The per-issue ledger, `state/<issue>/ledger.jsonl`: an append-only record
//! of what happened to each reader.
//!
//! Right before a message's final `.` goes out, an `inflight` record for its
//! reader is written and fsynced, then a `dot` record is written (not
//! fsynced), and only then the dot. The reply adds `sent`, `failed`,
//! `deferred` or `uncertain`. A run killed at any moment, even by power
//! loss, leaves each reader with no record (never sent), a final record, or
//! a bare `inflight`. A bare `inflight` reads back as uncertain and is not
//! sent again unless asked, with one exception that keeps the uncertain
//! readers to those whose dot may really have gone: each run records the
//! machine's boot id, and a killed process loses nothing it had written (the
//! page cache survives it; only a crash or power loss, which change the boot
//! id, lose unsynced writes). So an `inflight` without its `dot`, written in
//! the boot that is still running, proves the dot was never written: the
//! server discarded that message, and the reader is sent again.
//!
//! A writer thread does the I/O and group-commits: records that arrive
//! together share one write and one fsync. If a write fails (a full disk),
//! the file is cut back to its last whole record and every later record is
//! refused, so a failed write never leaves a torn line in the middle. A
//! damaged line found on opening (from an older version, or a disk that
//! returned) is moved aside to `ledger.damaged` and the run goes on: a
//! reader's `inflight` is always written before anything else about them,
//! so leaving a damaged record out can make a reader uncertain, never sent
//! twice.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::Paths;
use crate::clock;
use crate::deliver::keymap::KeyMap;
use crate::fs::journal::Journal;
pub(crate) use crate::fs::journal::WriteError;
use crate::fs::lock::{LockError, take_lock};
use crate::fs::{self, Action, FileError, Kept};
use crate::list::reader::ReaderKey;

/// What happened to a reader, as written to the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Event {
    /// The final dot is about to go out (written and fsynced first).
    Inflight,
    /// The server accepted the message.
    Sent,
    /// The server refused it for good (5xx).
    Failed,
    /// Not delivered this time (4xx, or the connection dropped before the
    /// final dot): the next run tries again.
    Deferred,
    /// The final dot went out but no reply came back: maybe delivered.
    Uncertain,
    /// The final dot is about to be written (written, not fsynced).
    Dot,
    /// A run began; `boot` is the machine's boot id.
    Run,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    at: DateTime<Utc>,
    event: Event,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    boot: Option<String>,
    /// The relay that took (or refused) the message: `host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    relay: Option<String>,
}

/// The running kernel's boot id: it changes with every boot, and only a
/// boot (a crash, a power loss) loses writes that were not fsynced.
pub(crate) fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
}

/// Where a reader stands after replaying the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum State {
    #[default]
    Sent,
    Failed,
    /// Marked in flight with no outcome, or recorded as uncertain.
    Uncertain,
    /// Tried and not delivered; will be tried again.
    Deferred,
    /// Marked in flight by a run that was killed before the final dot, in
    /// this boot: not delivered; will be sent again.
    Unfinished,
}

/// Every reader's state, replayed from the ledger.
#[derive(Debug, Default)]
pub(crate) struct History {
    states: KeyMap<State>,
    /// This machine's boot id, and that of the run being replayed.
    this_boot: Option<String>,
    run_boot: Option<String>,
    /// The addresses of readers uncertain now, in the order they became
    /// so (a reader passes through uncertain, after its dot, on the way to
    /// sent: only those still there are kept, so memory does not grow with
    /// the list).
    uncertain: Vec<(ReaderKey, String)>,
    /// True if the file ended in a half-written record (a crash mid-write),
    /// which was left out.
    pub torn_tail: bool,
    /// How many runs the ledger records, and when its first and last
    /// records were written.
    pub runs: usize,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    /// Complete lines that are not records: (1-based line, why).
    pub damaged: Vec<(usize, String)>,
}

impl History {
    pub(crate) fn state(&self, key: ReaderKey) -> Option<State> {
        self.states.get(key)
    }

    /// Addresses whose delivery is uncertain, in the order first seen.
    pub(crate) fn uncertain(&self) -> impl Iterator<Item = &str> {
        self.uncertain.iter().map(|(_, email)| email.as_str())
    }

    /// How many readers are in each state: (sent, failed, uncertain,
    /// deferred); an unfinished reader is in none.
    pub(crate) fn counts(&self) -> (u64, u64, u64, u64) {
        let mut counts = (0, 0, 0, 0);
        for state in self.states.values() {
            match state {
                State::Sent => counts.0 += 1,
                State::Failed => counts.1 += 1,
                State::Uncertain => counts.2 += 1,
                State::Deferred => counts.3 += 1,
                // Killed before its final dot: not tried, for all that
                // counts (a send sends it again).
                State::Unfinished => {}
            }
        }
        counts
    }

    fn apply(&mut self, record: &Record) {
        self.first_at.get_or_insert(record.at);
        self.last_at = Some(record.at);
        if record.event == Event::Run {
            self.runs += 1;
            self.run_boot.clone_from(&record.boot);
            return;
        }
        let key = ReaderKey::of(&record.email);
        let current = self.states.get(key);
        // Once sent, always sent: nothing later can make a reader unsent.
        if current == Some(State::Sent) {
            return;
        }
        let same_boot = self.run_boot.is_some() && self.run_boot == self.this_boot;
        let next = match record.event {
            Event::Inflight if same_boot => State::Unfinished,
            Event::Inflight | Event::Dot | Event::Uncertain => State::Uncertain,
            Event::Sent => State::Sent,
            Event::Failed => State::Failed,
            Event::Deferred => State::Deferred,
            Event::Run => return,
        };
        if next == State::Uncertain && current != Some(State::Uncertain) {
            self.uncertain.push((key, record.email.clone()));
        } else if next != State::Uncertain && current == Some(State::Uncertain) {
            // Most often the last one pushed: the dot, then the reply.
            if let Some(i) = self.uncertain.iter().rposition(|(k, _)| *k == key) {
                self.uncertain.remove(i);
            }
        }
        self.states.insert(key, next);
    }
}

/// Why the ledger could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    File(#[from] FileError),
}

impl LedgerError {
    fn io(path: &Path, action: Action, error: io::Error) -> LedgerError {
        LedgerError::File(FileError::io(action, path, error))
    }
}

/// Replays the ledger without locking or changing anything (for `--dry-run`,
/// `status` and deciding what is due). Damaged lines are left out.
///
/// # Errors
/// The file cannot be read.
pub(crate) fn read_history(paths: &Paths) -> Result<History, LedgerError> {
    match open_existing(paths)? {
        Some(file) => replay(&paths.ledger, file).map(|(history, _)| history),
        None => Ok(History::default()),
    }
}

/// The ledger opened to read (see [`fs::open_kept`]: a FIFO planted
/// there is refused, not waited on for ever); `None` if there is none yet.
fn open_existing(paths: &Paths) -> Result<Option<File>, LedgerError> {
    paths.check_folder()?;
    match fs::open_kept(&paths.ledger, Kept::Read) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == Some(io::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// One record about a reader, for `catchup status --reader`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ReaderRecord {
    pub at: DateTime<Utc>,
    pub event: Event,
    pub reply: Option<String>,
    pub relay: Option<String>,
}

/// Every record about `email` (compared without case), in order; damaged
/// lines are left out.
///
/// # Errors
/// The ledger cannot be read.
pub(crate) fn reader_records(paths: &Paths, email: &str) -> Result<Vec<ReaderRecord>, LedgerError> {
    let Some(file) = open_existing(paths)? else {
        return Ok(Vec::new());
    };
    let mut records = Vec::new();
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| LedgerError::io(&paths.ledger, Action::Read, e))?;
        if let Ok(record) = parse_record(&line)
            && record.email.eq_ignore_ascii_case(email)
        {
            records.push(ReaderRecord {
                at: record.at,
                event: record.event,
                reply: record.reply,
                relay: record.relay,
            });
        }
    }
    Ok(records)
}

/// Reads records up to the last complete line, skipping damaged ones.
/// Returns the history and the length of the complete part.
fn replay(path: &Path, file: File) -> Result<(History, u64), LedgerError> {
    // Sized from the file: a sent reader takes about 320 bytes (inflight,
    // dot, and sent with the relay's reply), so the map rarely grows (which
    // would hold both tables at once).
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut history = History {
        this_boot: boot_id(),
        states: KeyMap::with_capacity(usize::try_from(size / 250).unwrap_or(0)),
        ..History::default()
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut complete: u64 = 0;
    let mut number = 0;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| LedgerError::io(path, Action::Read, e))?;
        if read == 0 {
            break;
        }
        number += 1;
        if !line.ends_with(b"\n") {
            // A record cut short by a crash: it never finished, so it never
            // counted.
            history.torn_tail = true;
            break;
        }
        complete += read as u64;
        match parse_record(&line) {
            Ok(record) => history.apply(&record),
            Err(why) => history.damaged.push((number, why)),
        }
    }
    Ok((history, complete))
}

fn parse_record(line: &[u8]) -> Result<Record, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not valid UTF-8".to_string())?;
    serde_json::from_str(text.trim_end()).map_err(|e| e.to_string())
}

/// An open ledger, with the issue's lock held until it is dropped.
#[derive(Debug)]
pub(crate) struct Ledger {
    journal: Journal,
    /// Held for the ledger's lifetime; the OS releases it if we die.
    _lock: File,
}

impl Ledger {
    /// Takes the issue's lock, replays the ledger, cuts off a torn last
    /// record, moves damaged lines aside, and opens the file for appending.
    ///
    /// # Errors
    /// [`LockError::Held`] if another run holds the lock; I/O errors.
    pub(crate) fn open(paths: &Paths, issue: &str) -> Result<(Ledger, History), LedgerError> {
        paths.check_folder()?;
        let lock = take_lock(&paths.lock, &format!("issue `{issue}`"))?;
        let fail = |e| LedgerError::io(&paths.ledger, Action::Write, e);
        let (history, complete) = match open_existing(paths)? {
            Some(file) => replay(&paths.ledger, file)?,
            None => (History::default(), 0),
        };
        if history.torn_tail {
            let file = fs::open_kept(&paths.ledger, Kept::Write)?;
            file.set_len(complete)
                .and_then(|()| file.sync_data())
                .map_err(fail)?;
        }
        if !history.damaged.is_empty() {
            repair(paths, &history.damaged)?;
        }
        let journal = Journal::open(&paths.ledger)?;
        let run = Record {
            at: clock::wall(),
            event: Event::Run,
            email: String::new(),
            reply: None,
            boot: boot_id(),
            relay: None,
        };
        let mut line = serde_json::to_vec(&run).map_err(|e| fail(io::Error::other(e)))?;
        line.push(b'\n');
        journal
            .append_now(&line)
            .map_err(|e| fail(io::Error::other(e.0)))?;
        Ok((
            Ledger {
                journal,
                _lock: lock,
            },
            history,
        ))
    }

    /// Writes a reader's `dot` record at once, on the caller's thread, so
    /// that nothing runs between it and the final dot on the wire: a kill in
    /// between is the only way left for a reader to be uncertain without the
    /// server having had its dot. Not fsynced: it only matters while this
    /// boot lasts (see the module's notes).
    ///
    /// # Errors
    /// The write failed, or an earlier one did.
    pub(crate) fn mark_dot(&self, email: &str) -> Result<(), WriteError> {
        self.journal
            .append_now(&line(Event::Dot, email, None, None)?)
    }

    /// Appends a record and waits until it is written; for `inflight`, until
    /// it is on disk (fsynced).
    ///
    /// # Errors
    /// The write or fsync failed (or an earlier one did); the message says
    /// why.
    pub(crate) async fn record(
        &self,
        event: Event,
        email: &str,
        reply: Option<&str>,
    ) -> Result<(), WriteError> {
        self.record_via(event, email, reply, None).await
    }

    /// Records an event with the relay it happened at.
    ///
    /// # Errors
    /// See [`Ledger::record`].
    pub(crate) async fn record_via(
        &self,
        event: Event,
        email: &str,
        reply: Option<&str>,
        relay: Option<&str>,
    ) -> Result<(), WriteError> {
        let durable = event == Event::Inflight;
        self.journal
            .append(line(event, email, reply, relay)?, durable)
            .await
    }
}

/// Rewrites the ledger without its damaged lines, keeping them (with their
/// line numbers) in `ledger.damaged`.
fn repair(paths: &Paths, damaged: &[(usize, String)]) -> Result<(), LedgerError> {
    use std::os::unix::fs::PermissionsExt as _;
    let file = fs::open_kept(&paths.ledger, Kept::Read)?;
    let mode = file
        .metadata()
        .map_err(|e| LedgerError::io(&paths.ledger, Action::Read, e))?
        .permissions()
        .mode();
    let text = fs::read_opened(file, &paths.ledger, u64::MAX)?;
    let mut kept = Vec::with_capacity(text.len());
    let mut aside = Vec::new();
    let bad: std::collections::HashSet<usize> = damaged.iter().map(|(n, _)| *n).collect();
    for (index, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
        if bad.contains(&(index + 1)) {
            aside.extend_from_slice(format!("line {}: ", index + 1).as_bytes());
            aside.extend_from_slice(line);
        } else {
            kept.extend_from_slice(line);
        }
    }
    // What is set aside is as private as the ledger it came from.
    let (mut log, _) = fs::open_append(&paths.damaged)?;
    log.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))
        .and_then(|()| log.write_all(&aside))
        .and_then(|()| log.sync_data())
        .map_err(|e| LedgerError::io(&paths.damaged, Action::Write, e))?;
    fs::write_atomic(&paths.ledger, &kept)?;
    Ok(())
}

/// One record as a line of JSON.
fn line(
    event: Event,
    email: &str,
    reply: Option<&str>,
    relay: Option<&str>,
) -> Result<Vec<u8>, WriteError> {
    let record = Record {
        at: clock::wall(),
        event,
        email: email.to_string(),
        reply: reply.map(str::to_string),
        boot: None,
        relay: relay.map(str::to_string),
    };
    let mut line = serde_json::to_vec(&record).map_err(|e| WriteError(e.to_string()))?;
    line.push(b'\n');
    Ok(line)
}

impl From<LedgerError> for crate::error::Error {
    fn from(error: LedgerError) -> crate::error::Error {
        match error {
            LedgerError::Lock(lock) => lock.into(),
            LedgerError::File(file) => file.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::IssueName;

    fn paths() -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path(), &IssueName::new("2018-07-27").expect("name"));
        (dir, paths)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    #[test]
    fn records_replay_into_states() {
        let (_dir, paths) = paths();
        let rt = runtime();
        {
            let (ledger, history) = Ledger::open(&paths, "i").expect("open");
            assert_eq!(history.state(ReaderKey::of("a@x.example")), None);
            rt.block_on(async {
                for (event, email) in [
                    (Event::Inflight, "a@x.example"),
                    (Event::Sent, "a@x.example"),
                    (Event::Inflight, "b@x.example"),
                    (Event::Failed, "b@x.example"),
                    (Event::Inflight, "c@x.example"),
                    (Event::Dot, "c@x.example"),
                    (Event::Inflight, "d@x.example"),
                    (Event::Deferred, "d@x.example"),
                    (Event::Inflight, "e@x.example"),
                    (Event::Uncertain, "e@x.example"),
                    (Event::Inflight, "f@x.example"),
                ] {
                    ledger.record(event, email, None).await.expect("record");
                }
            });
        }
        let history = read_history(&paths).expect("read");
        let state = |e: &str| history.state(ReaderKey::of(e));
        assert_eq!(state("A@X.example"), Some(State::Sent), "keys ignore case");
        assert_eq!(state("b@x.example"), Some(State::Failed));
        assert_eq!(
            state("c@x.example"),
            Some(State::Uncertain),
            "in flight, and the dot may have gone"
        );
        assert_eq!(
            state("f@x.example"),
            Some(State::Unfinished),
            "killed before the dot, in this boot: never delivered"
        );
        assert_eq!(state("d@x.example"), Some(State::Deferred));
        assert_eq!(state("e@x.example"), Some(State::Uncertain));
        assert_eq!(
            history.uncertain().collect::<Vec<_>>(),
            ["c@x.example", "e@x.example"]
        );
        assert_eq!(
            history.counts(),
            (1, 1, 2, 1),
            "the unfinished one is in none"
        );
    }

    /// After a crash or power loss (another boot), unsynced writes may be
    /// lost, so a bare `inflight` could have had its dot: uncertain.
    #[test]
    fn a_bare_inflight_from_another_boot_is_uncertain() {
        let (_dir, paths) = paths();
        std::fs::create_dir_all(&paths.dir).expect("mkdir");
        std::fs::write(
            &paths.ledger,
            concat!(
                r#"{"at":"2026-11-23T07:00:00Z","event":"run","boot":"an-earlier-boot"}"#,
                "\n",
                r#"{"at":"2026-11-23T07:00:01Z","event":"inflight","email":"a@x.example"}"#,
                "\n",
            ),
        )
        .expect("write");
        let history = read_history(&paths).expect("read");
        assert_eq!(
            history.state(ReaderKey::of("a@x.example")),
            Some(State::Uncertain)
        );
    }

    #[test]
    fn a_torn_last_record_is_dropped_and_cut_off() {
        let (_dir, paths) = paths();
        std::fs::create_dir_all(&paths.dir).expect("mkdir");
        let good = r#"{"at":"2026-11-23T07:00:00Z","event":"sent","email":"a@x.example"}"#;
        std::fs::write(
            &paths.ledger,
            format!("{good}\n{{\"at\":\"2026-11-23T07:00:01Z\",\"ev"),
        )
        .expect("write");
        let history = read_history(&paths).expect("read");
        assert!(history.torn_tail);
        assert_eq!(
            history.state(ReaderKey::of("a@x.example")),
            Some(State::Sent)
        );

        let rt = runtime();
        let (ledger, _) = Ledger::open(&paths, "i").expect("open");
        rt.block_on(ledger.record(Event::Sent, "b@x.example", Some("250 ok")))
            .expect("record");
        drop(ledger);
        let text = std::fs::read_to_string(&paths.ledger).expect("read");
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("\"event\":\"run\""))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], good);
        assert!(lines[1].contains("\"b@x.example\""));
        assert!(!read_history(&paths).expect("read").torn_tail);
    }

    /// See: issue 9, items 3 and 12. A damaged line in the middle (a full
    /// disk that came back, or bytes that are not UTF-8) used to stop every
    /// later run at "line N is damaged".
    #[test]
    fn damaged_lines_are_named_moved_aside_and_the_rest_kept() {
        let (_dir, paths) = paths();
        std::fs::create_dir_all(&paths.dir).expect("mkdir");
        let a = r#"{"at":"2026-11-23T07:00:00Z","event":"inflight","email":"a@x.example"}"#;
        let b = r#"{"at":"2026-11-23T07:00:01Z","event":"sent","email":"b@x.example"}"#;
        let mut bytes = format!("{a}\n{{\"at\":\"2026-11-2\n").into_bytes();
        bytes.extend_from_slice(b"\xff\xfe\n");
        bytes.extend_from_slice(format!("{b}\n").as_bytes());
        std::fs::write(&paths.ledger, &bytes).expect("write");

        let history = read_history(&paths).expect("read");
        let lines: Vec<usize> = history.damaged.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [2, 3]);
        assert_eq!(history.damaged[1].1, "not valid UTF-8");
        assert_eq!(
            history.state(ReaderKey::of("b@x.example")),
            Some(State::Sent)
        );
        assert_eq!(
            history.state(ReaderKey::of("a@x.example")),
            Some(State::Uncertain)
        );

        let (ledger, history) = Ledger::open(&paths, "i").expect("repairs");
        assert_eq!(history.damaged.len(), 2);
        drop(ledger);
        let kept = std::fs::read_to_string(&paths.ledger).expect("kept");
        assert!(kept.starts_with(&format!("{a}\n{b}\n")), "{kept}");
        assert!(
            kept.lines()
                .nth(2)
                .is_some_and(|l| l.contains("\"event\":\"run\""))
        );
        let aside = std::fs::read(&paths.damaged).expect("aside");
        assert!(aside.starts_with(b"line 2: {\"at\""), "{aside:?}");
        assert!(read_history(&paths).expect("clean").damaged.is_empty());
    }
}
