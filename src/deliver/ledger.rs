//! The per-issue ledger, `state/<issue>/ledger.jsonl`: an append-only record
//! of what happened to each reader, and the lock that keeps two runs of one
//! issue apart.
//!
//! Before a message's body goes out, an `inflight` record for its reader is
//! written and fsynced. The reply then adds `sent`, `failed`, `deferred` or
//! `uncertain`. A run killed at any moment, even by power loss, therefore
//! leaves each reader in one of three states: no record (never sent),
//! a final record, or a bare `inflight`. A bare `inflight` reads back as
//! uncertain, and it is not sent again unless asked.
//!
//! A writer thread does the I/O and group-commits: records that arrive
//! together share one write and one fsync.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::message::ReaderKey;

/// What happened to a reader, as written to the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// The body is about to go out (written and fsynced first).
    Inflight,
    /// The server accepted the message.
    Sent,
    /// The server refused it for good (5xx).
    Failed,
    /// Not delivered this time (4xx, or the connection dropped before the
    /// body was complete): the next run tries again.
    Deferred,
    /// The body went out but no reply came back: maybe delivered.
    Uncertain,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    at: DateTime<Utc>,
    event: Event,
    email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply: Option<String>,
}

/// Where a reader stands after replaying the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Sent,
    Failed,
    /// Marked in flight with no outcome, or recorded as uncertain.
    Uncertain,
    /// Tried and not delivered; will be tried again.
    Deferred,
}

/// Every reader's state, replayed from the ledger.
#[derive(Debug, Default)]
pub struct History {
    states: HashMap<ReaderKey, State>,
    /// The addresses of uncertain readers, for the report.
    uncertain: Vec<String>,
    /// True if the file ended in a half-written record (a crash mid-write),
    /// which was left out.
    pub torn_tail: bool,
}

impl History {
    pub fn state(&self, key: ReaderKey) -> Option<State> {
        self.states.get(&key).copied()
    }

    /// Addresses whose delivery is uncertain, in the order first seen.
    pub fn uncertain(&self) -> impl Iterator<Item = &str> {
        self.uncertain
            .iter()
            .map(String::as_str)
            .filter(|e| self.state(ReaderKey::of(e)) == Some(State::Uncertain))
    }

    fn apply(&mut self, record: &Record) {
        let key = ReaderKey::of(&record.email);
        let current = self.states.get(&key).copied();
        // Once sent, always sent: nothing later can make a reader unsent.
        if current == Some(State::Sent) {
            return;
        }
        let next = match record.event {
            Event::Inflight | Event::Uncertain => State::Uncertain,
            Event::Sent => State::Sent,
            Event::Failed => State::Failed,
            Event::Deferred => State::Deferred,
        };
        if next == State::Uncertain && current != Some(State::Uncertain) {
            self.uncertain.push(record.email.clone());
        }
        self.states.insert(key, next);
    }
}

/// Why the ledger could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("another run is sending {what} ({holder}); wait for it to finish")]
    Locked { what: String, holder: String },
    #[error("ledger `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("ledger `{}` line {line} is damaged: {message}", path.display())]
    Damaged {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// The files of one issue's state.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
    pub ledger: PathBuf,
    pub lock: PathBuf,
    /// Written when a list send ends with no reader left to try.
    pub complete: PathBuf,
}

impl Paths {
    pub fn new(state_dir: &Path, issue: &str) -> Paths {
        let dir = state_dir.join(issue);
        Paths {
            ledger: dir.join("ledger.jsonl"),
            lock: dir.join("lock"),
            complete: dir.join("complete"),
            dir,
        }
    }

    /// True once a list send of the issue has finished with every reader
    /// sent, refused for good or uncertain.
    pub fn is_complete(&self) -> bool {
        self.complete.exists()
    }

    /// Records that the issue is completely sent (`summary` says how).
    ///
    /// # Errors
    /// The marker cannot be written.
    pub fn mark_complete(&self, summary: &str) -> anyhow::Result<()> {
        let line = format!("{} {summary}\n", clock::wall().format("%Y-%m-%dT%H:%M:%SZ"));
        crate::preview::write_atomic(&self.complete, line.as_bytes())
    }
}

/// Takes an exclusive lock on `path` (created if need be) without waiting,
/// and writes who holds it into it. The OS releases the lock when the file
/// is closed or the process dies, even by `kill -9`.
///
/// # Errors
/// [`LedgerError::Locked`] naming the holder if another process has it.
pub fn take_lock(path: &Path, what: &str) -> Result<File, LedgerError> {
    let io_error = |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    let mut lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_error)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "holder unknown".into());
            return Err(LedgerError::Locked {
                what: what.to_string(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e)),
    }
    let holder = format!(
        "pid {} since {}",
        std::process::id(),
        clock::wall().format("%Y-%m-%dT%H:%M:%SZ")
    );
    lock.set_len(0).map_err(io_error)?;
    lock.write_all(holder.as_bytes()).map_err(io_error)?;
    Ok(lock)
}

/// Replays the ledger without locking or changing anything (for `--dry-run`
/// and for deciding what is due).
///
/// # Errors
/// The file cannot be read, or a complete line is not a record.
pub fn read_history(paths: &Paths) -> Result<History, LedgerError> {
    match File::open(&paths.ledger) {
        Ok(file) => replay(&paths.ledger, file).map(|(history, _)| history),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(History::default()),
        Err(source) => Err(LedgerError::Io {
            path: paths.ledger.clone(),
            source,
        }),
    }
}

/// Reads records up to the last complete line. Returns the history and the
/// length of the complete part.
fn replay(path: &Path, file: File) -> Result<(History, u64), LedgerError> {
    let mut history = History::default();
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let mut complete: u64 = 0;
    let mut number = 0;
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|source| LedgerError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if read == 0 {
            break;
        }
        number += 1;
        if !line.ends_with('\n') {
            // A record cut short by a crash: it never finished, so it never
            // counted.
            history.torn_tail = true;
            break;
        }
        let record: Record =
            serde_json::from_str(line.trim_end()).map_err(|e| LedgerError::Damaged {
                path: path.to_path_buf(),
                line: number,
                message: e.to_string(),
            })?;
        history.apply(&record);
        complete += read as u64;
    }
    Ok((history, complete))
}

/// An open ledger, with the issue's lock held until it is dropped.
#[derive(Debug)]
pub struct Ledger {
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Held for the ledger's lifetime; the OS releases it if we die.
    _lock: File,
}

#[derive(Debug)]
struct Request {
    line: Vec<u8>,
    durable: bool,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

impl Ledger {
    /// Takes the issue's lock, replays the ledger, cuts off a torn last
    /// record, and opens the file for appending.
    ///
    /// # Errors
    /// [`LedgerError::Locked`] if another run holds the lock; I/O errors.
    pub fn open(paths: &Paths, issue: &str) -> Result<(Ledger, History), LedgerError> {
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LedgerError::Io { path, source }
        };
        let lock = take_lock(&paths.lock, &format!("issue `{issue}`"))?;

        let created = !paths.ledger.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&paths.ledger)
            .map_err(io_error(&paths.ledger))?;
        let (history, complete) = replay(
            &paths.ledger,
            file.try_clone().map_err(io_error(&paths.ledger))?,
        )?;
        if history.torn_tail {
            file.set_len(complete).map_err(io_error(&paths.ledger))?;
            file.sync_data().map_err(io_error(&paths.ledger))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(io_error(&paths.ledger))?;
        if created {
            // Make the new file's name durable too.
            File::open(&paths.dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error(&paths.dir))?;
        }

        let (requests, receiver) = mpsc::channel::<Request>();
        let path = paths.ledger.clone();
        let writer = std::thread::Builder::new()
            .name("ledger".into())
            .spawn(move || write_loop(file, &path, &receiver))
            .map_err(io_error(&paths.ledger))?;
        Ok((
            Ledger {
                requests: Some(requests),
                writer: Some(writer),
                _lock: lock,
            },
            history,
        ))
    }

    /// Appends a record and waits until it is written; for `inflight`, until
    /// it is on disk (fsynced).
    ///
    /// # Errors
    /// The write or fsync failed; the message says why.
    pub async fn record(
        &self,
        event: Event,
        email: &str,
        reply: Option<&str>,
    ) -> Result<(), String> {
        let record = Record {
            at: clock::wall(),
            event,
            email: email.to_string(),
            reply: reply.map(str::to_string),
        };
        let mut line = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let (done, wait) = tokio::sync::oneshot::channel();
        self.requests
            .as_ref()
            .ok_or("the ledger is closed")?
            .send(Request {
                line,
                durable: event == Event::Inflight,
                done,
            })
            .map_err(|_| "the ledger writer stopped".to_string())?;
        wait.await
            .map_err(|_| "the ledger writer stopped".to_string())?
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        // Closing the channel ends the writer after it drains what is queued.
        self.requests.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The writer thread: takes every request waiting, writes them in one go,
/// fsyncs once if any needs it, then answers them all.
fn write_loop(mut file: File, path: &Path, requests: &mpsc::Receiver<Request>) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        batch.extend(requests.try_iter());
        let bytes: Vec<u8> = batch.iter().flat_map(|r| r.line.iter().copied()).collect();
        let mut result = file.write_all(&bytes);
        if result.is_ok() && batch.iter().any(|r| r.durable) {
            result = file.sync_data();
        }
        let outcome = result.map_err(|e| format!("cannot write `{}`: {e}", path.display()));
        for request in batch {
            let _ = request.done.send(outcome.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path(), "2018-07-27");
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
                    (Event::Inflight, "d@x.example"),
                    (Event::Deferred, "d@x.example"),
                    (Event::Inflight, "e@x.example"),
                    (Event::Uncertain, "e@x.example"),
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
            "bare inflight"
        );
        assert_eq!(state("d@x.example"), Some(State::Deferred));
        assert_eq!(state("e@x.example"), Some(State::Uncertain));
        assert_eq!(
            history.uncertain().collect::<Vec<_>>(),
            ["c@x.example", "e@x.example"]
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
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], good);
        assert!(lines[1].contains("\"b@x.example\""));
        assert!(!read_history(&paths).expect("read").torn_tail);
    }

    #[test]
    fn a_damaged_complete_line_is_an_error_naming_it() {
        let (_dir, paths) = paths();
        std::fs::create_dir_all(&paths.dir).expect("mkdir");
        std::fs::write(&paths.ledger, "not json\n").expect("write");
        let err = read_history(&paths).expect_err("damaged");
        assert!(
            err.to_string().contains("ledger.jsonl` line 1 is damaged"),
            "{err}"
        );
    }

    #[test]
    fn sent_is_final() {
        let mut history = History::default();
        let record = |event| Record {
            at: DateTime::UNIX_EPOCH,
            event,
            email: "a@x.example".into(),
            reply: None,
        };
        history.apply(&record(Event::Sent));
        history.apply(&record(Event::Inflight));
        assert_eq!(
            history.state(ReaderKey::of("a@x.example")),
            Some(State::Sent)
        );
    }

    #[test]
    fn a_second_opener_is_locked_out_until_the_first_closes() {
        let (_dir, paths) = paths();
        let (first, _) = Ledger::open(&paths, "2018-07-27").expect("first");
        let err = Ledger::open(&paths, "2018-07-27").expect_err("locked");
        let message = err.to_string();
        assert!(
            message.starts_with("another run is sending issue `2018-07-27` (pid "),
            "{message}"
        );
        drop(first);
        assert!(Ledger::open(&paths, "2018-07-27").is_ok());
    }
}
