//! The state folder of one issue, `state/<issue>/`: where its ledger, lock,
//! `complete` marker and sent record live, and the lock that keeps two runs
//! of one issue (or two `send --due` runs) apart.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::clock;
use crate::files::{self, Action, FileError};
use crate::issue::IssueName;

/// The file in an issue's state folder that records what it carried.
pub const SENT: &str = "issue.json";
/// The issue's web version, written when its list send starts.
pub const WEB: &str = "web.html";

/// The files of one issue's state.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
    pub ledger: PathBuf,
    /// Damaged ledger lines, moved aside by a repair.
    pub damaged: PathBuf,
    pub lock: PathBuf,
    /// Written when a list send ends with no reader left to try.
    pub complete: PathBuf,
    /// What the issue carried ([`super::sent`]).
    pub sent: PathBuf,
    /// Its web version, for the public archive.
    pub web: PathBuf,
}

impl Paths {
    pub fn new(state_dir: &Path, issue: &IssueName) -> Paths {
        let dir = state_dir.join(issue.as_str());
        Paths {
            ledger: dir.join("ledger.jsonl"),
            damaged: dir.join("ledger.damaged"),
            lock: dir.join("lock"),
            complete: dir.join("complete"),
            sent: dir.join(SENT),
            web: dir.join(WEB),
            dir,
        }
    }

    /// Refuses an issue folder that is a symbolic link: every file in it
    /// would be another's. (Files in it are opened without following a
    /// link; this covers the folder.)
    ///
    /// # Errors
    /// The folder is a link.
    pub fn check_folder(&self) -> Result<(), FileError> {
        match std::fs::symlink_metadata(&self.dir) {
            Ok(meta) if meta.file_type().is_symlink() => Err(FileError {
                action: Action::Read,
                path: self.dir.clone(),
                problem: files::Problem::Symlink,
            }),
            _ => Ok(()),
        }
    }

    /// True once a list send of the issue has finished with every reader
    /// sent, refused for good or uncertain.
    pub fn is_complete(&self) -> bool {
        // A FIFO or a folder planted there is no marker.
        std::fs::symlink_metadata(&self.complete).is_ok_and(|m| m.is_file())
    }

    /// Records that the issue is completely sent (`summary` says how).
    ///
    /// # Errors
    /// The marker cannot be written.
    pub fn mark_complete(&self, summary: &str) -> Result<(), FileError> {
        let line = format!("{} {summary}\n", clock::wall().format("%Y-%m-%dT%H:%M:%SZ"));
        files::write_atomic(&self.complete, line.as_bytes())
    }
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another run is sending {what} ({holder}); wait for it to finish")]
    Held { what: String, holder: String },
    #[error(transparent)]
    File(#[from] FileError),
}

/// Takes an exclusive lock on `path` (created if need be) without waiting,
/// and writes who holds it into it. The OS releases the lock when the file
/// is closed or the process dies, even by `kill -9`. A symbolic link or a
/// FIFO where the lock belongs is refused, and nothing is ever truncated
/// but our own lock file, after we hold it.
///
/// # Errors
/// [`LockError::Held`] naming the holder if another process has it.
pub fn take_lock(path: &Path, what: &str) -> Result<std::fs::File, LockError> {
    if let Some(dir) = path.parent() {
        files::create_folder(dir)?;
    }
    let mut lock = files::open_lock(path)?;
    let fail = |e| FileError::io(Action::Lock, path, e);
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(path)
                .ok()
                .map(|s| crate::deliver::printable(s.trim()))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "holder unknown".into());
            return Err(LockError::Held {
                what: what.to_string(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(fail(e).into()),
    }
    let holder = format!(
        "pid {} since {}",
        std::process::id(),
        clock::wall().format("%Y-%m-%dT%H:%M:%SZ")
    );
    lock.set_len(0).map_err(fail)?;
    lock.write_all(holder.as_bytes()).map_err(fail)?;
    Ok(lock)
}

/// Waits for the exclusive lock on `path` (created if need be): for a
/// short critical section every run must pass through one at a time.
///
/// # Errors
/// The lock file is a link, not a regular file, or cannot be locked.
pub fn wait_for_lock(path: &Path) -> Result<std::fs::File, LockError> {
    if let Some(dir) = path.parent() {
        files::create_folder(dir)?;
    }
    let lock = files::open_lock(path)?;
    lock.lock()
        .map_err(|e| FileError::io(Action::Lock, path, e))?;
    Ok(lock)
}

/// The lock a list send holds from its check that no earlier send carried
/// the issue until its own record of what it carries is written, so that
/// two copies of one issue started together cannot both pass the check.
pub const CLAIM_LOCK: &str = "sends.lock";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_locked_out_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x/lock");
        let first = take_lock(&path, "issue `x`").expect("first");
        let err = take_lock(&path, "issue `x`").expect_err("held");
        assert!(
            err.to_string()
                .starts_with("another run is sending issue `x` (pid "),
            "{err}"
        );
        drop(first);
        assert!(take_lock(&path, "issue `x`").is_ok());
    }

    /// See: issue 9, item 6. The lock followed a planted link and truncated
    /// its target.
    #[test]
    fn a_link_planted_where_the_lock_belongs_is_refused_and_its_target_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("precious.txt");
        std::fs::write(&victim, "keep me").expect("write");
        let lock = dir.path().join("lock");
        std::os::unix::fs::symlink(&victim, &lock).expect("symlink");
        let err = take_lock(&lock, "issue `x`").expect_err("link");
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep me");
    }
}
