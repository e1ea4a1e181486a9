//! An append-only file of lines, written durably: the send ledger and the
//! suppression list are both journals.
//!
//! A writer thread appends and group-commits: lines that arrive together
//! share one write and one fsync, so many writers (a send's connections,
//! a burst of unsubscribes) cost one disk flush between them. A line is
//! whole or absent: if a write fails (a full disk), the file is cut back to
//! its last whole line and every later line is refused, so a failed write
//! never leaves a torn line for later lines to follow. A journal shared
//! with other processes takes an `flock` around each append.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use crate::files::{self, Action, FileError};

/// A line that could not be made durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct WriteError(pub String);

/// An open journal.
#[derive(Debug)]
pub struct Journal {
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<std::thread::JoinHandle<()>>,
    appender: Arc<Mutex<Appender>>,
}

#[derive(Debug)]
struct Request {
    line: Vec<u8>,
    durable: bool,
    done: tokio::sync::oneshot::Sender<Result<(), WriteError>>,
}

/// Appends whole lines, or none.
#[derive(Debug)]
struct Appender {
    file: File,
    path: PathBuf,
    /// Other processes append too: take an flock around each append.
    shared: bool,
    /// The length of the file up to its last whole line.
    good_len: u64,
    failed: Option<WriteError>,
}

impl Appender {
    fn append(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.shared {
            self.file.lock().map_err(|e| self.fail(&e))?;
            // Another process may have appended since.
            self.good_len = self.file.metadata().map_err(|e| self.fail(&e))?.len();
        }
        let written = self.file.write_all(bytes);
        let result = match written {
            Ok(()) => {
                self.good_len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.fail(&e)),
        };
        if self.shared {
            let _ = self.file.unlock();
        }
        result
    }

    /// Cuts the file back to its last whole line and refuses the rest.
    fn fail(&mut self, e: &io::Error) -> WriteError {
        let _ = self
            .file
            .set_len(self.good_len)
            .and_then(|()| self.file.sync_data());
        let error = WriteError(format!(
            "cannot write `{}`: {}",
            self.path.display(),
            files::describe(e)
        ));
        self.failed = Some(error.clone());
        error
    }
}

fn lock(appender: &Mutex<Appender>) -> std::sync::MutexGuard<'_, Appender> {
    appender
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Journal {
    /// Opens `path` for appending, creating it (and making its name
    /// durable) if need be. `shared`: other processes append to it too.
    ///
    /// # Errors
    /// The file cannot be opened or created.
    pub fn open(path: &Path, shared: bool) -> Result<Journal, FileError> {
        let fail = |e| FileError::io(Action::Write, path, e);
        let created = !path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(fail)?;
        if created && let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            files::sync_folder(dir).map_err(fail)?;
        }
        let syncer = file.try_clone().map_err(fail)?;
        let appender = Arc::new(Mutex::new(Appender {
            good_len: file.metadata().map_err(fail)?.len(),
            file,
            path: path.to_path_buf(),
            shared,
            failed: None,
        }));
        let (requests, receiver) = mpsc::channel::<Request>();
        let writer_side = Arc::clone(&appender);
        let writer = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_loop(&writer_side, &syncer, &receiver))
            .map_err(fail)?;
        Ok(Journal {
            requests: Some(requests),
            writer: Some(writer),
            appender,
        })
    }

    /// Appends a line and waits until it is written; with `durable`, until
    /// it is on disk (fsynced).
    ///
    /// # Errors
    /// The write or fsync failed (or an earlier one did).
    pub async fn append(&self, line: Vec<u8>, durable: bool) -> Result<(), WriteError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        let stopped = || WriteError("the journal's writer stopped".into());
        self.requests
            .as_ref()
            .ok_or_else(stopped)?
            .send(Request {
                line,
                durable,
                done,
            })
            .map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }

    /// Appends a line at once, on the caller's thread, without an fsync: for
    /// a mark that must be written before the caller's very next step.
    ///
    /// # Errors
    /// The write failed, or an earlier one did.
    pub fn append_now(&self, line: &[u8]) -> Result<(), WriteError> {
        lock(&self.appender).append(line)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Closing the channel ends the writer after it drains what is queued.
        self.requests.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The writer thread: takes every request waiting, appends them in one go,
/// fsyncs once if any needs it (outside the lock, so that [`Journal::append_now`]
/// never waits for a disk), then answers them all.
fn write_loop(appender: &Mutex<Appender>, syncer: &File, requests: &mpsc::Receiver<Request>) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        batch.extend(requests.try_iter());
        let bytes: Vec<u8> = batch.iter().flat_map(|r| r.line.iter().copied()).collect();
        let mut outcome = lock(appender).append(&bytes);
        if outcome.is_ok()
            && batch.iter().any(|r| r.durable)
            && let Err(e) = syncer.sync_data()
        {
            outcome = Err(lock(appender).fail(&e));
        }
        for request in batch {
            let _ = request.done.send(outcome.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    #[test]
    fn lines_from_many_writers_all_arrive_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.log");
        let journal = Arc::new(Journal::open(&path, true).expect("open"));
        let rt = runtime();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for i in 0..200 {
                let journal = Arc::clone(&journal);
                tasks.push(tokio::spawn(async move {
                    journal
                        .append(format!("line {i}\n").into_bytes(), i % 2 == 0)
                        .await
                }));
            }
            for task in tasks {
                task.await.expect("task").expect("append");
            }
        });
        drop(journal);
        let text = std::fs::read_to_string(&path).expect("read");
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), 200);
    }

    /// See: issue 9, item 3. A write that fails leaves no torn line, and
    /// nothing is written after it.
    #[test]
    fn after_a_failed_write_every_line_is_refused() {
        // /dev/full answers every write with ENOSPC, as a full disk does.
        let full = OpenOptions::new()
            .append(true)
            .open("/dev/full")
            .expect("/dev/full");
        let appender = Mutex::new(Appender {
            file: full,
            path: PathBuf::from("ledger"),
            shared: false,
            good_len: 0,
            failed: None,
        });
        let first = lock(&appender).append(b"a\n").expect_err("disk full");
        assert!(first.0.contains("the disk is full"), "{first}");
        assert!(lock(&appender).append(b"b\n").is_err(), "refused after");
    }
}
