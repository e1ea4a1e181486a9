//! Durable appends with group commit: the send ledger and the suppression
//! list are both written this way.
//!
//! A [`Batcher`] thread takes every request waiting and commits them in one
//! go (one write, one fsync), then answers them all: many writers (a send's
//! connections, a burst of unsubscribes) share one disk flush. A
//! [`Journal`] is a batcher over one file this process owns: a line is
//! whole or absent, because after a failed write (a full disk) the file is
//! cut back to its last whole line and every later line is refused, so a
//! failed write never leaves a torn line for later lines to follow.

use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use crate::fs::{self, Action, FileError};

/// Something that could not be made durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct WriteError(pub String);

type Answer<R> = tokio::sync::oneshot::Sender<Result<R, WriteError>>;

/// A thread that commits whatever is waiting in one go, and answers each
/// item with what became of it (`R`).
#[derive(Debug)]
pub(crate) struct Batcher<T, R = ()> {
    requests: Option<mpsc::Sender<(T, Answer<R>)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Starts the thread; `commit` makes a batch durable, all or nothing,
    /// and says what became of each item, in order.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub(crate) fn start(
        name: &str,
        mut commit: impl FnMut(&[T]) -> Result<Vec<R>, WriteError> + Send + 'static,
    ) -> io::Result<Batcher<T, R>> {
        let (requests, receiver) = mpsc::channel::<(T, Answer<R>)>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                while let Ok(first) = receiver.recv() {
                    let mut batch = vec![first];
                    batch.extend(receiver.try_iter());
                    let (items, answers): (Vec<T>, Vec<Answer<R>>) = batch.into_iter().unzip();
                    match commit(&items) {
                        Ok(outcomes) => {
                            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                                let _ = answer.send(Ok(outcome));
                            }
                        }
                        Err(e) => {
                            for answer in answers {
                                let _ = answer.send(Err(e.clone()));
                            }
                        }
                    }
                }
            })?;
        Ok(Batcher {
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    /// Hands `item` over and waits until its batch is committed.
    ///
    /// # Errors
    /// The commit failed (the item is not durable).
    pub(crate) async fn submit(&self, item: T) -> Result<R, WriteError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        let stopped = || WriteError("the writer thread stopped".into());
        self.requests
            .as_ref()
            .ok_or_else(stopped)?
            .send((item, done))
            .map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}

impl<T, R> Drop for Batcher<T, R> {
    fn drop(&mut self) {
        // Closing the channel ends the thread after it drains what is queued.
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An append-only file of lines this process owns.
#[derive(Debug)]
pub(crate) struct Journal {
    batcher: Batcher<(Vec<u8>, bool)>,
    appender: Arc<Mutex<Appender>>,
}

/// Appends whole lines, or none.
#[derive(Debug)]
struct Appender {
    file: File,
    path: PathBuf,
    /// The length of the file up to its last whole line.
    good_len: u64,
    failed: Option<WriteError>,
}

impl Appender {
    fn append(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.file.write_all(bytes) {
            Ok(()) => {
                self.good_len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.fail(&e)),
        }
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
            fs::describe(e)
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
    /// Opens `path` for appending, creating it (and making its name durable)
    /// if need be.
    ///
    /// # Errors
    /// The file cannot be opened or created.
    pub(crate) fn open(path: &Path) -> Result<Journal, FileError> {
        let fail = |e| FileError::io(Action::Write, path, e);
        let (file, created) = fs::open_append(path)?;
        if created {
            fs::sync_folder(fs::folder_of(path)).map_err(fail)?;
        }
        let syncer = file.try_clone().map_err(fail)?;
        let appender = Arc::new(Mutex::new(Appender {
            good_len: file.metadata().map_err(fail)?.len(),
            file,
            path: path.to_path_buf(),
            failed: None,
        }));
        let writer_side = Arc::clone(&appender);
        let batcher = Batcher::start("journal", move |lines: &[(Vec<u8>, bool)]| {
            let bytes: Vec<u8> = lines.iter().flat_map(|(l, _)| l.iter().copied()).collect();
            lock(&writer_side).append(&bytes)?;
            // The fsync is outside the lock, so `append_now` never waits
            // for a disk.
            if lines.iter().any(|(_, durable)| *durable)
                && let Err(e) = syncer.sync_data()
            {
                return Err(lock(&writer_side).fail(&e));
            }
            Ok(vec![(); lines.len()])
        })
        .map_err(fail)?;
        Ok(Journal { batcher, appender })
    }

    /// Appends a line and waits until it is written; with `durable`, until
    /// it is on disk (fsynced).
    ///
    /// # Errors
    /// The write or fsync failed (or an earlier one did).
    pub(crate) async fn append(&self, line: Vec<u8>, durable: bool) -> Result<(), WriteError> {
        self.batcher.submit((line, durable)).await
    }

    /// Appends a line at once, on the caller's thread, without an fsync: for
    /// a mark that must be written before the caller's very next step.
    ///
    /// # Errors
    /// The write failed, or an earlier one did.
    pub(crate) fn append_now(&self, line: &[u8]) -> Result<(), WriteError> {
        lock(&self.appender).append(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    #[test]
    fn lines_from_many_writers_all_arrive_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.log");
        let journal = Arc::new(Journal::open(&path).expect("open"));
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
            good_len: 0,
            failed: None,
        });
        let first = lock(&appender).append(b"a\n").expect_err("disk full");
        assert!(first.0.contains("the disk is full"), "{first}");
        assert!(lock(&appender).append(b"b\n").is_err(), "refused after");
    }
}
